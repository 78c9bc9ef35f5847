// HTTP/1.1 keep-alive pool over TCP or TLS (Beast, asio::ssl): connect, verify, exchange, reuse.
// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (custom frame allocator).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <nubefact/client_policy.hpp>
#include "client/transport.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <sstream>
#include <unordered_map>
#include <variant>

namespace nubefact::transport {

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) noexcept {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    long long secs = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
    if (ec != std::errc{} || p != v.data() + v.size() || secs < 0) return std::nullopt;
    secs = std::min<long long>(secs, 3600);
    return std::chrono::milliseconds(secs * 1000);
}

result<endpoint> parse_ruta(std::string_view ruta) {
    auto u = boost::urls::parse_absolute_uri(ruta);
    if (!u) return u.error();
    endpoint ep;
    auto scheme = u->scheme();
    if (scheme == "https")
        ep.tls = true;
    else if (scheme == "http")
        ep.tls = false;
    else
        return make_error_code(boost::system::errc::protocol_not_supported);
    ep.host = std::string(u->host_address());
    if (ep.host.empty()) return make_error_code(boost::system::errc::invalid_argument);
    ep.port = u->has_port() ? std::string(u->port()) : (ep.tls ? "443" : "80");
    ep.target = std::string(u->encoded_path());
    if (ep.target.empty()) ep.target = "/";
    if (u->has_query()) ep.target += "?" + std::string(u->encoded_query());
    return ep;
}

void request_head::build() {
    prefix.clear();
    prefix.reserve(target.size() + host.size() + authorization.size() + user_agent.size() + 160);
    prefix.append("POST ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
    prefix.append("\r\nContent-Type: application/json\r\nAccept: application/json\r\nAuthorization: ");
    prefix.append(authorization).append("\r\nUser-Agent: ").append(user_agent);
    prefix.append("\r\nConnection: keep-alive\r\nContent-Length: ");
}

void request_head::serialize(std::string_view body, std::string& out) const {
    char len[24];
    auto [end, ec] = std::to_chars(len, len + sizeof len, body.size());
    (void)ec;
    out.clear();
    out.reserve(prefix.size() + static_cast<std::size_t>(end - len) + 4 + body.size());
    out.append(prefix).append(len, end).append("\r\n\r\n").append(body);
}

std::string_view request_head::length_block(std::size_t n, char (&buf)[32]) noexcept {
    auto [end, ec] = std::to_chars(buf, buf + 24, n);
    (void)ec;
    std::memcpy(end, "\r\n\r\n", 4);
    return {buf, static_cast<std::size_t>(end + 4 - buf)};
}

request request_head::to_request(std::string_view body) const {
    request req{http::verb::post, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json");
    req.set(http::field::authorization, authorization);
    req.set(http::field::user_agent, user_agent);
    req.keep_alive(true);
    req.body() = std::string(body);
    req.prepare_payload();
    return req;
}

namespace {

namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = beast::ssl_stream<tcp::socket>;

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

// One keep-alive connection: its socket (or TLS stream over it), read buffer, request buffer and the
// deadline of the operation in progress (enforced by the transport's single watchdog timer).
struct connection {
    std::variant<tcp::socket, tls_stream> stream;
    beast::flat_buffer buf;
    std::string out;                        // TLS: the serialized request
    std::optional<response_reader> reader;  // the response being read (here, not in a coroutine frame)
    char len[32];                           // plain TCP: this request's Content-Length block
    sansio::time_point deadline = sansio::time_point::max();  // max: nothing in progress
    bool timed_out = false;
    explicit connection(tcp::socket s) : stream(std::move(s)) {}
    connection(tcp::socket s, ssl::context& ctx)
        : stream(std::in_place_type<tls_stream>, std::move(s), ctx) {}
    tcp::socket& socket() {
        if (auto* p = std::get_if<tcp::socket>(&stream)) return *p;
        return std::get<tls_stream>(stream).next_layer();
    }
};

class http_transport final : public transport {
  public:
    http_transport(asio::any_io_executor ex, const account_config& cfg, endpoint ep,
                   std::shared_ptr<const clock_source> clock)
        : ex_(std::move(ex)),
          ep_(std::move(ep)),
          clock_(std::move(clock)),
          body_limit_(cfg.max_response_bytes),
          book_(static_cast<std::size_t>(std::max(1, cfg.max_concurrency)),
                std::chrono::duration_cast<sansio::duration>(cfg.idle_timeout)),
          resolver_(ex_),
          resolve_gate_(ex_),
          watchdog_(ex_),
          alive_(std::make_shared<bool>(true)) {
        error_code aec;
        auto addr = asio::ip::make_address(ep_.host, aec);
        unsigned short port = 0;
        auto [pend, pec] = std::from_chars(ep_.port.data(), ep_.port.data() + ep_.port.size(), port);
        if (!aec && pec == std::errc{} && pend == ep_.port.data() + ep_.port.size())
            literal_ = tcp::endpoint(addr, port);
        if (ep_.tls) {
            ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
            ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                              ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
            error_code ec;
            ctx_->set_default_verify_paths(ec);
            if (!cfg.ca_file.empty()) {
                ctx_->load_verify_file(cfg.ca_file, ec);
                if (ec) throw config_error("ca_file '" + cfg.ca_file + "': cannot load: " + ec.message());
            }
            verify_ = !cfg.danger_disable_tls_verification;
            ctx_->set_verify_mode(verify_ ? ssl::verify_peer : ssl::verify_none);
        }
    }

    ~http_transport() override {
        *alive_ = false;
        close_all();
    }

    std::size_t open_connections() const override { return conns_.size(); }
    std::size_t connections_opened() const override { return book_.opened(); }
    std::size_t peak_connections() const override { return peak_; }
    std::size_t resolutions() const override { return resolutions_; }

    void close_all() override {
        for (auto& [id, c] : conns_) {
            error_code ec;
            c->socket().close(ec);
        }
        conns_.clear();
    }

    asio::awaitable<exchange_result> exchange(const request& req, timeouts t) override {
        std::ostringstream os;
        os << req;
        auto bytes = std::move(os).str();
        auto task = exchange_bytes(nullptr, bytes, t);
        co_return co_await std::move(task);
    }

    asio::awaitable<exchange_result> exchange_wire(const request_head& head, std::string_view body,
                                                   timeouts t) override {
        return exchange_bytes(&head, body, t);  // the caller keeps head and body alive
    }

  private:
    sansio::time_point clock_now() const { return clock_->steady_now(); }

    // head == nullptr: `data` is the whole serialized request; otherwise the body to put after head.
    asio::awaitable<exchange_result> exchange_bytes(const request_head* head, std::string_view data,
                                                    timeouts t) {
        std::uint64_t id = 0;
        connection* c = nullptr;
        {  // no await in this block: the lease stays out of the coroutine frame
            auto now = clock_now();
            auto lease = book_.acquire(now);
            for (auto old : lease.close) close(old);
            for (auto old : book_.expire(now)) close(old);
            id = lease.id;
            if (lease.reuse)
                if (auto it = conns_.find(id); it != conns_.end()) c = it->second.get();
        }
        const bool reused = c != nullptr;
        exchange_result r;
        if (!c) {
            auto task = open_for(id, t.connect, r);
            c = co_await std::move(task);
            if (!c) co_return r;
        }
        watch(*c, clock_now() + t.request);
        // Write and read inline on a plain socket with a head (every call of the client): the only
        // coroutine frame of an exchange on an open connection. TLS and whole serialized requests
        // take a frame of their own (exchange_other): their awaits kept in this one made it ~1.6 KB,
        // past the ~1 KB Asio recycles, so each exchange cost a large allocation.
        auto* plain = std::get_if<tcp::socket>(&c->stream);
        if (plain && head) {
            // Gather write (one sendmsg): the shared head, this request's Content-Length, the body.
            const auto len = head->length_block(data.size(), c->len);
            const std::array<asio::const_buffer, 3> parts{asio::buffer(head->prefix), asio::buffer(len),
                                                          asio::buffer(data.data(), data.size())};
            error_code ec;  // one error_code and count for the write and the reads: a smaller frame
            std::size_t n = 0;
            std::tie(ec, n) = co_await asio::async_write(*plain, parts, asio::as_tuple(asio::deferred));
            if (wrote(r, ec, n)) {
                // The response, as read_response() reads it.
                auto& p = c->reader.emplace(body_limit_);
                p.eager(true);
                while (read_feed(p, c->buf, r) == read_progress::more) {
                    auto room = c->buf.prepare(read_step);
                    std::tie(ec, n) = co_await plain->async_read_some(room, asio::as_tuple(asio::deferred));
                    c->buf.commit(n);
                    if (read_after(p, ec, n, r) != read_progress::more) break;
                }
            }
        } else {
            auto task = exchange_other(*c, head, data, r);
            co_await std::move(task);
        }
        unwatch(*c);
        r.reused = reused;
        if (r.ec && c->timed_out) r.ec = beast::error::timeout;
        r.timed_out = r.ec == beast::error::timeout;
        if (r.ec && r.detail.empty()) r.detail = r.ec.message();
        bool reusable = !r.ec && r.keep_alive && !c->timed_out && c->buf.size() == 0;
        if (!reusable) close(id);
        book_.release(id, reusable, clock_now());
        co_return r;
    }

    // Opens connection `id` for exchange_bytes; nullptr (and `r` says why) when it could not.
    asio::awaitable<connection*> open_for(std::uint64_t id, sansio::duration timeout, exchange_result& r) {
        auto [cr, detail] = co_await open(id, timeout);
        if (cr) co_return *cr;
        book_.release(id, false, clock_now());
        r.ec = cr.error();
        r.detail = std::move(detail);
        r.timed_out = r.ec == beast::error::timeout;
        co_return nullptr;
    }

    // Records a write's outcome in `r`; true when the response is to be read.
    static bool wrote(exchange_result& r, error_code ec, std::size_t n) {
        r.request_bytes = n;
        r.written = n > 0;
        if (ec) r.ec = ec;
        return !ec;
    }

    // exchange_bytes' write and read for TLS, or for a whole serialized request (head == nullptr).
    asio::awaitable<void> exchange_other(connection& c, const request_head* head, std::string_view data,
                                         exchange_result& r) {
        auto* plain = std::get_if<tcp::socket>(&c.stream);
        std::string_view bytes = data;
        if (head) {  // TLS writes record by record: one buffer, one record
            head->serialize(data, c.out);
            bytes = c.out;
        }
        const asio::const_buffer one(bytes.data(), bytes.size());
        error_code wec;
        std::size_t wn = 0;
        if (plain)
            std::tie(wec, wn) = co_await asio::async_write(*plain, one, asio::as_tuple(asio::deferred));
        else
            std::tie(wec, wn) = co_await asio::async_write(std::get<tls_stream>(c.stream), one,
                                                           asio::as_tuple(asio::use_awaitable));
        if (!wrote(r, wec, wn)) co_return;
        if (plain) {
            auto task = read_response(*plain, c.buf, body_limit_, r);
            co_await std::move(task);
        } else {
            auto task = read_response(std::get<tls_stream>(c.stream), c.buf, body_limit_, r);
            co_await std::move(task);
        }
    }

    // Puts the operation on `c` under the watchdog: past `deadline` its socket is closed.
    void watch(connection& c, sansio::time_point deadline) {
        if (c.deadline == sansio::time_point::max()) ++busy_;
        c.deadline = deadline;
        c.timed_out = false;
        if (deadline >= watchdog_at_) return;
        watchdog_at_ = deadline;
        watchdog_.expires_after(deadline -
                                clock_now());  // cancels a pending wait (its handler sees operation_aborted)
        watchdog_.async_wait([this, alive = alive_](error_code ec) {
            if (ec == asio::error::operation_aborted || !*alive) return;
            on_watchdog();
        });
    }

    // The operation on `c` ended. With nothing left in progress the watchdog stops, so that it never
    // keeps an io_context running on its own.
    void unwatch(connection& c) {
        if (c.deadline == sansio::time_point::max()) return;
        c.deadline = sansio::time_point::max();
        if (--busy_ == 0 && watchdog_at_ != sansio::time_point::max()) {
            watchdog_at_ = sansio::time_point::max();
            watchdog_.cancel();
        }
    }

    // Closes every connection whose operation outlived its deadline, then sleeps until the next one.
    void on_watchdog() {
        auto now = clock_now();
        auto next = sansio::time_point::max();
        for (auto& [id, c] : conns_) {
            if (c->deadline <= now) {
                c->timed_out = true;
                c->deadline = sansio::time_point::max();
                --busy_;
                error_code ec;
                c->socket().close(ec);  // the pending read, write, connect or handshake ends now
            } else if (c->deadline < next) {
                next = c->deadline;
            }
        }
        watchdog_at_ = sansio::time_point::max();
        if (next != sansio::time_point::max()) {
            watchdog_at_ = next;
            watchdog_.expires_after(next - now);
            watchdog_.async_wait([this, alive = alive_](error_code ec) {
                if (ec == asio::error::operation_aborted || !*alive) return;
                on_watchdog();
            });
        }
    }

    void close(std::uint64_t id) {
        auto it = conns_.find(id);
        if (it == conns_.end()) return;
        error_code ec;
        it->second->socket().shutdown(tcp::socket::shutdown_both, ec);
        it->second->socket().close(ec);
        conns_.erase(it);
    }

    // Fills resolved_ once for everyone: an IP literal needs no resolver; otherwise the first caller
    // resolves and the others wait for that answer (1,000 connections opening at once make one
    // getaddrinfo, not 1,000 through the resolver thread). Returns the error of the resolution the
    // caller waited for.
    asio::awaitable<error_code> resolve() {
        if (!resolved_.empty()) co_return error_code{};
        if (literal_) {
            resolved_.push_back(*literal_);
            co_return error_code{};
        }
        if (resolving_) {
            const auto gen = resolve_gen_;
            ++resolve_waiters_;
            while (resolving_ && resolve_gen_ == gen)  // cancel() at the end of the resolution wakes us
                co_await resolve_gate_.async_wait(asio::as_tuple(asio::use_awaitable));
            --resolve_waiters_;
            co_return resolved_.empty()
                ? (resolve_error_ ? resolve_error_ : error_code(asio::error::host_not_found))
                : error_code{};
        }
        resolving_ = true;
        ++resolutions_;
        resolve_gate_.expires_at(sansio::time_point::max());  // no waiter is pending on it now
        auto [ec, res] =
            co_await resolver_.async_resolve(ep_.host, ep_.port, asio::as_tuple(asio::use_awaitable));
        resolving_ = false;
        ++resolve_gen_;
        resolve_error_ = ec;
        if (!ec)
            for (const auto& entry : res) resolved_.push_back(entry.endpoint());
        if (!ec && resolved_.empty()) resolve_error_ = ec = asio::error::host_not_found;
        if (resolve_waiters_ > 0) resolve_gate_.cancel();  // wakes every waiter of this generation
        co_return ec;
    }

    // Resolves (once, shared), connects and, for https, handshakes with verification, all before
    // `timeout`.
    asio::awaitable<std::pair<result<connection*>, std::string>> open(std::uint64_t id,
                                                                      sansio::duration timeout) {
        using out_t = std::pair<result<connection*>, std::string>;
        if (resolved_.empty()) {
            auto task = resolve();
            if (auto ec = co_await std::move(task))
                co_return out_t{result<connection*>(ec), "cannot resolve " + ep_.host + ": " + ec.message()};
        }
        auto deadline = clock_now() + timeout;
        auto owned = ep_.tls ? std::make_unique<connection>(tcp::socket(ex_), *ctx_)
                             : std::make_unique<connection>(tcp::socket(ex_));
        auto* c = owned.get();
        conns_[id] = std::move(owned);
        auto fail = [&](error_code ec, std::string detail) {
            bool timed_out = c->timed_out;
            unwatch(*c);
            conns_.erase(id);
            if (timed_out)
                return out_t{result<connection*>(error_code(beast::error::timeout)), std::move(detail)};
            return out_t{result<connection*>(ec), std::move(detail)};
        };
        watch(*c, deadline);
        error_code cec = asio::error::host_not_found;
        const auto targets = resolved_;  // another connection may clear resolved_ meanwhile
        for (const auto& target : targets) {
            error_code ignored;
            c->socket().close(ignored);
            c->socket().open(target.protocol(), cec);
            if (cec) continue;
            std::tie(cec) = co_await c->socket().async_connect(target, asio::as_tuple(asio::use_awaitable));
            if (!cec || c->timed_out) break;
        }
        if (cec || c->timed_out) {
            resolved_ = {};  // resolve again next time
            co_return fail(cec, "cannot connect to " + ep_.host + ":" + ep_.port + ": " +
                                    (c->timed_out ? std::string("timed out") : cec.message()));
        }
        c->socket().set_option(tcp::no_delay(true), cec);
        if (ep_.tls) {
            auto& ts = std::get<tls_stream>(c->stream);
            SSL* ssl = ts.native_handle();
            bool ip = is_ip_literal(ep_.host);
            if (!ip) SSL_set_tlsext_host_name(ssl, ep_.host.c_str());
            if (verify_) {
                X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
                if (ip)
                    X509_VERIFY_PARAM_set1_ip_asc(param, ep_.host.c_str());
                else
                    X509_VERIFY_PARAM_set1_host(param, ep_.host.c_str(), 0);
            }
            auto [hec] =
                co_await ts.async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
            if (hec || c->timed_out) {
                std::string detail = "TLS handshake with " + ep_.host +
                                     " failed: " + (c->timed_out ? std::string("timed out") : hec.message());
                error_code out = hec;
                long vr = SSL_get_verify_result(ssl);
                if (!c->timed_out && verify_ && vr != X509_V_OK) {
                    detail =
                        "TLS certificate verification failed for " + ep_.host + ": " +
                        X509_verify_cert_error_string(vr) +
                        " (check the server certificate, or trust its CA with ca_file / NUBEFACT_CA_FILE)";
                    out = make_error_code(client_errc::tls_verify);
                }
                co_return fail(out, std::move(detail));
            }
        }
        unwatch(*c);
        peak_ = std::max(peak_, conns_.size());
        co_return out_t{result<connection*>(c), std::string{}};
    }

    asio::any_io_executor ex_;
    endpoint ep_;
    std::shared_ptr<const clock_source> clock_;  // deadlines and the pool's idle times
    std::size_t body_limit_;
    sansio::pool_book book_;
    tcp::resolver resolver_;
    std::optional<tcp::endpoint> literal_;  // the host is an IP address: no resolver
    std::vector<tcp::endpoint> resolved_;   // empty: resolve (again) before the next connect
    bool resolving_ = false;
    std::uint64_t resolve_gen_ = 0;
    std::size_t resolutions_ = 0;
    std::size_t resolve_waiters_ = 0;
    error_code resolve_error_;
    asio::steady_timer resolve_gate_;  // waiters of an ongoing resolution sleep on it
    std::unique_ptr<ssl::context> ctx_;
    bool verify_ = true;
    std::unordered_map<std::uint64_t, std::unique_ptr<connection>> conns_;
    std::size_t peak_ = 0;
    asio::steady_timer watchdog_;
    sansio::time_point watchdog_at_ = sansio::time_point::max();  // max: no wait pending
    std::size_t busy_ = 0;                                        // connections with a deadline
    std::shared_ptr<bool> alive_;
};

}  // namespace

std::shared_ptr<transport> make_http_transport(asio::any_io_executor ex, const account_config& cfg,
                                               std::shared_ptr<const clock_source> clock) {
    auto ep = parse_ruta(cfg.ruta);
    if (!ep) throw config_error("account '" + cfg.name + "': ruta is not a valid http(s) URL");
    return std::make_shared<http_transport>(std::move(ex), cfg, std::move(*ep),
                                            clock ? std::move(clock) : real_clock());
}

}  // namespace nubefact::transport
