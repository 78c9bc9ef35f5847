// The client's HTTP layer: one request/response over any Beast stream, and the transport seam
// (real keep-alive pool over TCP/TLS, or a test double) the engine sends through.
#pragma once

#include <nubefact/config.hpp>
#include <nubefact/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nubefact::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

using request = http::request<http::string_body>;

// What one exchange produced. `ec` is empty when a complete response arrived (any status).
struct exchange_result {
    error_code ec;
    std::string detail;    // human text for ec (TLS verify reason, …); never the token
    bool written = false;  // at least one byte of the request left: the server may have it
    bool timed_out = false;
    bool reused = false;  // sent on a kept-alive connection
    int status = 0;
    std::string body;
    std::optional<std::chrono::milliseconds> retry_after;
    std::size_t request_bytes = 0, response_bytes = 0;
    bool keep_alive = false;
};

struct timeouts {
    std::chrono::steady_clock::duration connect{std::chrono::seconds(10)};
    std::chrono::steady_clock::duration request{std::chrono::seconds(60)};
};

// Where requests go. Implementations are used from one strand (not thread-safe).
class transport {
  public:
    virtual ~transport() = default;
    virtual asio::awaitable<exchange_result> exchange(const request& req, timeouts t) = 0;
    virtual std::size_t open_connections() const { return 0; }
    virtual std::size_t connections_opened() const { return 0; }
    virtual void close_all() {}
};

// "120" (seconds) -> 120 s; HTTP-dates and garbage -> nullopt. Capped at one hour.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) noexcept;

// Writes `req` and reads one response on a connected stream (tcp_stream, ssl_stream, test::stream).
// Timeouts are the stream's business (tcp_stream::expires_after); bodies over body_limit fail.
template <class Stream>
asio::awaitable<exchange_result> run_exchange(Stream& stream, beast::flat_buffer& buf, const request& req,
                                              std::size_t body_limit) {
    exchange_result r;
    auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    r.request_bytes = wn;
    r.written = wn > 0;
    if (wec) {
        r.ec = wec;
        co_return r;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    auto [rec, rn] = co_await http::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
    r.response_bytes = rn;
    if (rec) {
        r.ec = rec;
        co_return r;
    }
    auto& res = parser.get();
    r.status = static_cast<int>(res.result_int());
    r.keep_alive = res.keep_alive();
    if (auto it = res.find(http::field::retry_after); it != res.end())
        r.retry_after = parse_retry_after(it->value());
    r.body = std::move(res.body());
    co_return r;
}

// The parts of a RUTA URL.
struct endpoint {
    bool tls = true;
    std::string host;    // without brackets
    std::string port;    // "443" / "80" when absent
    std::string target;  // path and query, "/api/v1/<id>"
};
result<endpoint> parse_ruta(std::string_view ruta);

// The real transport: HTTP/1.1 keep-alive pool for the ruta's host, at most cfg.max_concurrency
// connections, TLS with peer verification, SNI and the system CA bundle (+ cfg.ca_file); the
// ssl::context is built once here. `ex` must be a strand (or single-threaded executor).
// Throws config_error for a bad ruta or an unreadable CA file.
std::shared_ptr<transport> make_http_transport(asio::any_io_executor ex, const account_config& cfg);

}  // namespace nubefact::transport
