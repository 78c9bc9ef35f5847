// HTTP/1.1 keep-alive pool over TCP or TLS (Beast, asio::ssl): connect, verify, exchange, reuse.
// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (custom frame allocator).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <nubefact/client_policy.hpp>
#include <nubefact/client_transport.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <charconv>
#include <map>
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

namespace {

namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

struct connection {
    std::variant<beast::tcp_stream, tls_stream> stream;
    beast::flat_buffer buf;
    explicit connection(beast::tcp_stream s) : stream(std::move(s)) {}
    connection(beast::tcp_stream s, ssl::context& ctx)
        : stream(std::in_place_type<tls_stream>, std::move(s), ctx) {}
    beast::tcp_stream& tcp() {
        if (auto* p = std::get_if<beast::tcp_stream>(&stream)) return *p;
        return beast::get_lowest_layer(std::get<tls_stream>(stream));
    }
};

class http_transport final : public transport {
  public:
    http_transport(asio::any_io_executor ex, const account_config& cfg, endpoint ep)
        : ex_(std::move(ex)),
          ep_(std::move(ep)),
          body_limit_(cfg.max_response_bytes),
          book_(static_cast<std::size_t>(std::max(1, cfg.max_concurrency)),
                std::chrono::duration_cast<sansio::duration>(cfg.idle_timeout)),
          resolver_(ex_) {
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

    ~http_transport() override { close_all(); }

    std::size_t open_connections() const override { return conns_.size(); }
    std::size_t connections_opened() const override { return book_.opened(); }

    void close_all() override {
        for (auto& [id, c] : conns_) {
            error_code ec;
            c->tcp().socket().close(ec);
        }
        conns_.clear();
    }

    asio::awaitable<exchange_result> exchange(const request& req, timeouts t) override {
        auto now = sansio::clock::now();
        auto lease = book_.acquire(now);
        for (auto id : lease.close) close(id);
        for (auto id : book_.expire(now)) close(id);
        connection* c = nullptr;
        if (lease.reuse) {
            auto it = conns_.find(lease.id);
            if (it != conns_.end()) c = it->second.get();
        }
        bool reused = c != nullptr;
        if (!c) {
            auto [cr, detail] = co_await open(lease.id, t.connect);
            if (!cr) {
                book_.release(lease.id, false, sansio::clock::now());
                exchange_result r;
                r.ec = cr.error();
                r.detail = std::move(detail);
                r.timed_out = r.ec == beast::error::timeout;
                co_return r;
            }
            c = *cr;
        }
        c->tcp().expires_after(t.request);
        exchange_result r;
        if (auto* p = std::get_if<beast::tcp_stream>(&c->stream))
            r = co_await run_exchange(*p, c->buf, req, body_limit_);
        else
            r = co_await run_exchange(std::get<tls_stream>(c->stream), c->buf, req, body_limit_);
        r.reused = reused;
        r.timed_out = r.ec == beast::error::timeout;
        if (r.ec && r.detail.empty()) r.detail = r.ec.message();
        bool reusable = !r.ec && r.keep_alive;
        if (reusable) {
            c->tcp().expires_never();
        } else {
            close(lease.id);
        }
        book_.release(lease.id, reusable, sansio::clock::now());
        co_return r;
    }

  private:
    void close(std::uint64_t id) {
        auto it = conns_.find(id);
        if (it == conns_.end()) return;
        error_code ec;
        it->second->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
        it->second->tcp().socket().close(ec);
        conns_.erase(it);
    }

    // Resolves (cached), connects and, for https, handshakes with verification.
    asio::awaitable<std::pair<result<connection*>, std::string>> open(std::uint64_t id,
                                                                      sansio::duration timeout) {
        if (resolved_.empty()) {
            auto [ec, res] =
                co_await resolver_.async_resolve(ep_.host, ep_.port, asio::as_tuple(asio::use_awaitable));
            if (ec)
                co_return std::pair{result<connection*>(ec),
                                    "cannot resolve " + ep_.host + ": " + ec.message()};
            resolved_ = res;
        }
        beast::tcp_stream s(ex_);
        s.expires_after(timeout);
        auto [cec, ep] = co_await s.async_connect(resolved_, asio::as_tuple(asio::use_awaitable));
        if (cec) {
            resolved_ = {};  // resolve again next time
            co_return std::pair{result<connection*>(cec),
                                "cannot connect to " + ep_.host + ":" + ep_.port + ": " + cec.message()};
        }
        s.socket().set_option(tcp::no_delay(true));
        std::unique_ptr<connection> c;
        if (!ep_.tls) {
            c = std::make_unique<connection>(std::move(s));
        } else {
            c = std::make_unique<connection>(std::move(s), *ctx_);
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
            if (hec) {
                std::string detail = "TLS handshake with " + ep_.host + " failed: " + hec.message();
                error_code out = hec;
                long vr = SSL_get_verify_result(ssl);
                if (verify_ && vr != X509_V_OK) {
                    detail =
                        "TLS certificate verification failed for " + ep_.host + ": " +
                        X509_verify_cert_error_string(vr) +
                        " (check the server certificate, or trust its CA with ca_file / NUBEFACT_CA_FILE)";
                    out = make_error_code(client_errc::tls_verify);
                }
                co_return std::pair{result<connection*>(out), detail};
            }
        }
        auto* raw = c.get();
        conns_[id] = std::move(c);
        co_return std::pair{result<connection*>(raw), std::string{}};
    }

    asio::any_io_executor ex_;
    endpoint ep_;
    std::size_t body_limit_;
    sansio::pool_book book_;
    tcp::resolver resolver_;
    tcp::resolver::results_type resolved_;
    std::unique_ptr<ssl::context> ctx_;
    bool verify_ = true;
    std::map<std::uint64_t, std::unique_ptr<connection>> conns_;
};

}  // namespace

std::shared_ptr<transport> make_http_transport(asio::any_io_executor ex, const account_config& cfg) {
    auto ep = parse_ruta(cfg.ruta);
    if (!ep) throw config_error("account '" + cfg.name + "': ruta is not a valid http(s) URL");
    return std::make_shared<http_transport>(std::move(ex), cfg, std::move(*ep));
}

}  // namespace nubefact::transport
