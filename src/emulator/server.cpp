// The emulator's network side: Beast HTTP/1.1 over TCP or TLS, C++20 coroutines, one io_context per thread.
#include <nubefact/emulator.hpp>

#include "core.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <thread>

namespace nubefact::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
}

struct server::impl {
    explicit impl(options o) : core(std::move(o)) {}
    detail::core core;
    std::vector<std::unique_ptr<asio::io_context>> ctxs;
    std::vector<std::thread> threads;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::unique_ptr<asio::ssl::context> ssl;
    std::atomic<bool> running{false};
    std::uint16_t port = 0;
    std::mutex life_mu;  // start/stop
};

namespace {

using impl = server::impl;

struct counter_guard {
    std::atomic<std::uint64_t>& c;
    explicit counter_guard(std::atomic<std::uint64_t>& x) : c(x) {
        c.fetch_add(1, std::memory_order_relaxed);
    }
    ~counter_guard() { c.fetch_sub(1, std::memory_order_relaxed); }
    counter_guard(const counter_guard&) = delete;
    counter_guard& operator=(const counter_guard&) = delete;
};

template <class Stream>
void close_stream(Stream& stream, bool reset) {
    auto& sock = beast::get_lowest_layer(stream).socket();
    boost::system::error_code ec;
    if (reset) {
        sock.set_option(asio::socket_base::linger(true, 0), ec);  // close() then sends RST
    } else {
        sock.shutdown(tcp::socket::shutdown_both, ec);
    }
    sock.close(ec);
}

template <class Stream>
asio::awaitable<bool> write_reply(impl& s, Stream& stream, const detail::reply& rep, unsigned version,
                                  bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(rep.status), version};
    res.set(http::field::content_type, "application/json; charset=utf-8");
    if (rep.retry_after) res.set(http::field::retry_after, std::to_string(rep.retry_after));
    if (rep.allow_post) res.set(http::field::allow, "POST");
    res.keep_alive(keep_alive);
    res.body() = std::move(rep.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(s.core.opts().body_timeout);
    auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
    co_return !ec;
}

// An error found while reading a request: answer it and close.
template <class Stream>
asio::awaitable<void> reject_and_close(impl& s, Stream& stream, unsigned status, std::string_view msg) {
    auto rep = s.core.http_error(status, msg);
    s.core.record_outcome(rep.op, rep.outcome);
    co_await write_reply(s, stream, rep, 11, false);
    close_stream(stream, false);
}

template <class Stream>
asio::awaitable<void> serve(impl& s, Stream& stream, std::uint64_t conn_id) {
    const auto& o = s.core.opts();
    beast::flat_buffer buf;
    std::mt19937_64 rng(o.seed ^ (conn_id * 0x9E3779B97F4A7C15ULL));
    asio::steady_timer timer(stream.get_executor());
    auto& low = beast::get_lowest_layer(stream);
    for (;;) {
        if (buf.size() == 0) {
            // Keep-alive wait: a long idle timeout until the first byte of the next request.
            low.expires_after(o.idle_timeout);
            auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), tuple_awaitable);
            if (ec) co_return;
            buf.commit(n);
        }
        // From the first byte on, the headers must arrive within header_timeout (slowloris).
        low.expires_after(o.header_timeout);
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(o.max_header));
        parser.body_limit(o.max_body);
        {
            auto [ec, n] = co_await http::async_read_header(stream, buf, parser, tuple_awaitable);
            if (ec == http::error::header_limit) {
                co_await reject_and_close(s, stream, 431, "Cabeceras demasiado grandes");
                co_return;
            }
            if (ec == http::error::body_limit) {
                co_await reject_and_close(
                    s, stream, 413, "El cuerpo excede el límite de " + std::to_string(o.max_body) + " bytes");
                co_return;
            }
            // beast::error::timeout: tcp_stream has already closed the socket (slow headers are cut).
            if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
                ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
                ec == asio::ssl::error::stream_truncated)
                co_return;
            if (ec) {
                co_await reject_and_close(s, stream, 400, "Solicitud HTTP inválida");
                co_return;
            }
        }
        counter_guard busy(s.core.in_flight);
        auto cl = parser.content_length();
        if (cl && *cl > o.max_body) {
            co_await reject_and_close(
                s, stream, 413, "El cuerpo excede el límite de " + std::to_string(o.max_body) + " bytes");
            co_return;
        }
        if (!parser.is_done()) {
            auto expect = parser.get()[http::field::expect];
            if (beast::iequals(expect, "100-continue")) {
                http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
                auto [ec, n] = co_await http::async_write(stream, cont, tuple_awaitable);
                if (ec) co_return;
            }
            low.expires_after(o.body_timeout);
            auto [ec, n] = co_await http::async_read(stream, buf, parser, tuple_awaitable);
            if (ec == http::error::body_limit) {
                co_await reject_and_close(
                    s, stream, 413, "El cuerpo excede el límite de " + std::to_string(o.max_body) + " bytes");
                co_return;
            }
            if (ec) co_return;  // timeout (socket already closed by tcp_stream), reset, eof
        }
        auto& req = parser.get();
        detail::request_view rv;
        rv.method = req.method_string();
        rv.target = req.target();
        if (auto it = req.find(http::field::authorization); it != req.end()) rv.authorization = it->value();
        if (auto it = req.find(http::field::content_type); it != req.end()) rv.content_type = it->value();
        rv.body = req.body();
        detail::reply rep = s.core.handle(rv, rng);
        const bool keep_alive = req.keep_alive() && !rep.close;
        const unsigned version = req.version();

        if (rep.delay.count() > 0) {
            low.expires_never();
            timer.expires_after(rep.delay);
            co_await timer.async_wait(tuple_awaitable);
        }
        if (rep.fault) {
            auto f = *rep.fault;
            s.core.count_fault(f);
            s.core.record_outcome(rep.op, detail::out_fault0 + static_cast<int>(f));
            switch (f) {
                case fault_kind::reset:
                    close_stream(stream, true);
                    co_return;
                case fault_kind::commit_drop:
                    close_stream(stream, false);
                    co_return;
                case fault_kind::stall:
                    low.expires_never();
                    timer.expires_after(o.stall_for);
                    co_await timer.async_wait(tuple_awaitable);
                    close_stream(stream, false);
                    co_return;
                case fault_kind::truncate: {
                    std::string raw =
                        "HTTP/1.1 " + std::to_string(rep.status) +
                        " OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
                        std::to_string(rep.body.size()) + "\r\nConnection: close\r\n\r\n";
                    raw.append(rep.body, 0, rep.body.size() / 2);
                    low.expires_after(o.body_timeout);
                    co_await asio::async_write(stream, asio::buffer(raw), tuple_awaitable);
                    close_stream(stream, false);
                    co_return;
                }
                case fault_kind::malformed:
                    rep.body.resize(rep.body.size() / 2);
                    rep.body += "\"<<emulator: malformed>>";
                    break;
                default:
                    break;  // 500 / 429 / 503 carry their own body
            }
        } else {
            s.core.record_outcome(rep.op, rep.outcome);
        }
        if (!co_await write_reply(s, stream, rep, version, keep_alive) || !keep_alive) {
            close_stream(stream, false);
            co_return;
        }
    }
}

asio::awaitable<void> session(impl& s, tcp::socket sock, std::uint64_t conn_id) {
    counter_guard open(s.core.open_connections);
    try {
        boost::system::error_code ec;
        sock.set_option(tcp::no_delay(true), ec);
        if (s.ssl) {
            beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *s.ssl);
            beast::get_lowest_layer(stream).expires_after(s.core.opts().header_timeout);
            auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
            if (hec) co_return;
            co_await serve(s, stream, conn_id);
        } else {
            beast::tcp_stream stream(std::move(sock));
            co_await serve(s, stream, conn_id);
        }
    } catch (const std::exception&) {
        // A session never takes the server down; the connection is simply dropped.
    }
}

asio::awaitable<void> accept_loop(impl& s) {
    std::uint64_t next = 0;
    asio::steady_timer backoff(s.acceptor->get_executor());
    for (;;) {
        auto& ctx = *s.ctxs[next % s.ctxs.size()];
        auto [ec, sock] = co_await s.acceptor->async_accept(ctx, tuple_awaitable);
        if (ec == asio::error::operation_aborted || !s.acceptor->is_open()) co_return;
        if (ec) {
            // Out of descriptors or similar: wait a little instead of spinning.
            backoff.expires_after(std::chrono::milliseconds(10));
            co_await backoff.async_wait(tuple_awaitable);
            continue;
        }
        s.core.connections_accepted.fetch_add(1, std::memory_order_relaxed);
        if (s.core.open_connections.load(std::memory_order_relaxed) >= s.core.opts().max_connections) {
            boost::system::error_code ignore;
            sock.close(ignore);
            continue;
        }
        auto id = next++;
        asio::co_spawn(ctx, session(s, std::move(sock), id), asio::detached);
    }
}

}  // namespace

server::server(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}

server::~server() {
    stop();
}

result<void> server::start(std::string* error) {
    std::lock_guard lk(impl_->life_mu);
    auto fail = [&](std::string msg, error_code ec) -> result<void> {
        if (error) *error = std::move(msg);
        impl_->acceptor.reset();
        impl_->ctxs.clear();
        return ec;
    };
    if (impl_->running) return fail("already running", make_error_code(std::errc::operation_in_progress));
    const auto& o = impl_->core.opts();
    raise_fd_limit();
    int n = std::max(1, o.threads);
    for (int i = 0; i < n; ++i) impl_->ctxs.push_back(std::make_unique<asio::io_context>(1));
    if (o.tls) {
        try {
            auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
            ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1);
            ctx->use_certificate_chain_file(o.tls->cert_file);
            ctx->use_private_key_file(o.tls->key_file, asio::ssl::context::pem);
            impl_->ssl = std::move(ctx);
        } catch (const boost::system::system_error& e) {
            return fail("TLS: cannot load certificate/key: " + std::string(e.what()), e.code());
        }
    }
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(o.host, ec);
    if (ec) return fail("bad listen address '" + o.host + "'", ec);
    auto acc = std::make_unique<tcp::acceptor>(*impl_->ctxs[0]);
    tcp::endpoint ep(addr, o.port);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return fail("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + ec.message(), ec);
    impl_->port = acc->local_endpoint().port();
    impl_->acceptor = std::move(acc);
    if (o.link_host.empty())
        impl_->core.set_link_host(o.host + ":" + std::to_string(impl_->port));
    else
        impl_->core.set_link_host(o.link_host);
    std::string serr;
    if (!impl_->core.open_state(serr)) return fail(serr, make_error_code(std::errc::io_error));
    asio::co_spawn(*impl_->ctxs[0], accept_loop(*impl_), asio::detached);
    impl_->running = true;
    for (auto& c : impl_->ctxs) {
        auto* ctx = c.get();
        impl_->threads.emplace_back([ctx] {
            auto guard = asio::make_work_guard(*ctx);
            ctx->run();
        });
    }
    return {};
}

void server::stop() {
    std::lock_guard lk(impl_->life_mu);
    if (!impl_->running.exchange(false)) return;
    for (auto& c : impl_->ctxs) c->stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->acceptor.reset();  // before its io_context
    // Destroying each io_context destroys the suspended sessions (and closes their sockets).
    for (auto& c : impl_->ctxs) c.reset();
    impl_->ctxs.clear();
    impl_->ssl.reset();
}

bool server::running() const noexcept {
    return impl_->running;
}
std::uint16_t server::port() const noexcept {
    return impl_->port;
}

std::string server::base_url() const {
    const auto& o = impl_->core.opts();
    std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
    return (o.tls ? "https://" : "http://") + host + ":" + std::to_string(impl_->port);
}
std::string server::ruta_url(std::string_view ruta_id) const {
    return base_url() + "/api/v1/" + std::string(ruta_id);
}
std::string server::ruta_url() const {
    return ruta_url(first_account().ruta_id);
}
const account& server::first_account() const {
    return impl_->core.first_account();
}

void server::add_account(account a) {
    impl_->core.add_account(std::move(a));
}
bool server::set_account_state(std::string_view ruta_id, account_state s) {
    return impl_->core.set_account_state(ruta_id, s);
}
void server::push_fault(scripted_fault f) {
    impl_->core.push_fault(f);
}
void server::push_fault(fault_kind k, int count, std::optional<operation> only) {
    impl_->core.push_fault(scripted_fault{k, count, only});
}
void server::clear_faults() {
    impl_->core.clear_faults();
}
void server::set_fault_rates(const fault_rates& r) {
    impl_->core.set_fault_rates(r);
}
void server::set_latency(const latency_model& m, std::optional<operation> only) {
    impl_->core.set_latency(m, only);
}
void server::set_sunat_reject(std::vector<reject_rule> rules) {
    impl_->core.set_sunat_reject(std::move(rules));
}
stats server::snapshot() const {
    return impl_->core.snapshot();
}
std::string server::stats_json(bool with_documents) const {
    return impl_->core.stats_json(with_documents);
}
std::optional<document_info> server::find(std::string_view ruta_id, const document_key& k) const {
    return impl_->core.find(ruta_id, k);
}
std::vector<document_info> server::documents(std::string_view ruta_id) const {
    return impl_->core.documents(ruta_id);
}
void server::reset() {
    impl_->core.reset();
}

}  // namespace nubefact::emulator
