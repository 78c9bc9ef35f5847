// Internal (not installed): the client's HTTP layer: one request/response over any Beast stream,
// and the transport seam (real keep-alive pool over TCP/TLS, or a test double) the engine sends
// through. It carries a Beast parser and read loops, so only the client's sources and the tests
// include it.
#pragma once

#include "net/chunked_guard.hpp"

#include <nubefact/clock.hpp>
#include <nubefact/config.hpp>
#include <nubefact/error.hpp>
#include <nubefact/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
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

// The fixed part of one client's requests, serialized once: request line, Host, Content-Type, Accept,
// Authorization, User-Agent, Connection. Each request then costs one buffer and one write.
struct request_head {
    std::string target, host, authorization, user_agent = "nubefact-cpp/" NUBEFACT_VERSION;
    std::string prefix;  // built by build(): everything before the Content-Length value
    void build();
    // Replaces `out` with the whole request for `body` (its capacity is reused).
    void serialize(std::string_view body, std::string& out) const;
    // What follows `prefix` for a body of `n` bytes ("<n>\r\n\r\n"), written into `buf`: the request
    // is then prefix + this + body (a gather write, no copy of the body).
    static std::string_view length_block(std::size_t n, char (&buf)[32]) noexcept;
    // The same request as a Beast message (test doubles, tools).
    request to_request(std::string_view body) const;
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
    // The engine's call: the request as head + body. Default: builds a Beast request for exchange().
    virtual asio::awaitable<exchange_result> exchange_wire(const request_head& head, std::string_view body,
                                                           timeouts t) {
        const auto req = head.to_request(body);
        auto task = exchange(req, t);
        co_return co_await std::move(task);
    }
    virtual std::size_t open_connections() const { return 0; }
    virtual std::size_t connections_opened() const { return 0; }
    virtual std::size_t peak_connections() const { return 0; }  // most open at once
    virtual std::size_t resolutions() const { return 0; }       // name lookups made (IP literals: none)
    virtual void close_all() {}
};

// "120" (seconds) -> 120 s; HTTP-dates and garbage -> nullopt. Capped at one hour.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) noexcept;

// Reads one HTTP/1.1 response without building a header container: keeps the status, keep-alive,
// Retry-After and the body (bounded by body_limit; chunked bodies are joined). Header limit 8 KiB.
class response_reader final : public http::basic_parser<false> {
  public:
    explicit response_reader(std::size_t body_limit) { this->body_limit(body_limit); }
    int status = 0;
    std::optional<std::chrono::milliseconds> retry_after;
    std::string body;

  private:
    void on_request_impl(http::verb, beast::string_view, beast::string_view, int, error_code&) override {}
    void on_response_impl(int code, beast::string_view, int, error_code& ec) override {
        if (code < 100) ec = http::error::bad_status;  // Beast takes any three digits: "000" is no answer
        status = code;
    }
    void on_field_impl(http::field name, beast::string_view, beast::string_view value, error_code&) override {
        if (name == http::field::retry_after)
            retry_after = parse_retry_after(std::string_view(value.data(), value.size()));
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        if (length) body.reserve(static_cast<std::size_t>(*length));
    }
    std::size_t on_body_impl(beast::string_view s, error_code&) override {
        body.append(s.data(), s.size());
        return s.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, error_code&) override {
        body.append(s.data(), s.size());
        return s.size();
    }
    void on_finish_impl(error_code&) override {}
};

// The reading decisions for one response, without I/O: shared by read_response() and the engine's
// inline reader. read_feed() parses what `buf` holds; read_after() judges a read's outcome (an end
// of stream may complete a response without a length). On `done` the response is in `r`; on
// `failed`, r.ec says why.
enum class read_progress { more, done, failed };

inline void read_finish(response_reader& p, exchange_result& r) {
    r.status = p.status;
    r.keep_alive = p.keep_alive();
    r.retry_after = p.retry_after;
    r.body = std::move(p.body);
}

inline read_progress read_feed(response_reader& p, beast::flat_buffer& buf, exchange_result& r) {
    if (buf.size() == 0 || net::wait_for_chunk_bytes(p, buf.size())) return read_progress::more;
    error_code ec;
    auto used = p.put(buf.data(), ec);
    buf.consume(used);
    r.response_bytes += used;
    if (ec && ec != http::error::need_more) {
        r.ec = ec;
        return read_progress::failed;
    }
    if (!p.is_done()) return read_progress::more;
    read_finish(p, r);
    return read_progress::done;
}

inline read_progress read_after(response_reader& p, error_code rec, std::size_t n, exchange_result& r) {
    if (rec == asio::error::eof || rec == asio::ssl::error::stream_truncated) {
        if (n > 0) return read_progress::more;
        error_code ec;
        if (p.is_header_done() && !p.is_done()) p.put_eof(ec);
        if (!p.is_header_done() || ec || !p.is_done()) {
            r.ec = ec ? ec : error_code(http::error::end_of_stream);
            return read_progress::failed;
        }
        read_finish(p, r);
        return read_progress::done;
    }
    if (rec) {
        r.ec = rec;
        return read_progress::failed;
    }
    return read_progress::more;
}

// Reads one response into `r` (status, body, keep_alive, retry_after, response_bytes; ec on failure)
// through `buf`, which keeps any bytes past the response for the next one. Reads in 4 KiB steps.
// (Asio tries each read at once; waiting for readiness first would cost an epoll_ctl instead of the
// failing read, so there is nothing to gain.)
inline constexpr std::size_t read_step = 4096;

template <class Stream>
asio::awaitable<void> read_response(Stream& stream, beast::flat_buffer& buf, std::size_t body_limit,
                                    exchange_result& r) {
    response_reader p(body_limit);
    p.eager(true);
    for (;;) {
        if (read_feed(p, buf, r) != read_progress::more) co_return;
        auto [rec, n] =
            co_await stream.async_read_some(buf.prepare(read_step), asio::as_tuple(asio::use_awaitable));
        buf.commit(n);
        if (read_after(p, rec, n, r) != read_progress::more) co_return;
    }
}

// What follows a request's write, however it was written: the response, unless the write failed.
template <class Stream>
asio::awaitable<exchange_result> after_write(Stream& stream, beast::flat_buffer& buf, std::size_t body_limit,
                                             error_code wec, std::size_t written) {
    exchange_result r;
    r.request_bytes = written;
    r.written = written > 0;
    if (wec) {
        r.ec = wec;
        co_return r;
    }
    co_await read_response(stream, buf, body_limit, r);
    co_return r;
}

// Writes `req` and reads one response on a connected stream (tcp_stream, ssl_stream, test::stream).
// Timeouts are the stream's business (tcp_stream::expires_after); bodies over body_limit fail.
template <class Stream>
asio::awaitable<exchange_result> run_exchange(Stream& stream, beast::flat_buffer& buf, const request& req,
                                              std::size_t body_limit) {
    auto [wec, wn] = co_await http::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
    co_return co_await after_write(stream, buf, body_limit, wec, wn);
}

// The same with the request already serialized (one buffer, one write): the engine's fast path.
template <class Stream>
asio::awaitable<exchange_result> run_wire_exchange(Stream& stream, beast::flat_buffer& buf,
                                                   std::string_view bytes, std::size_t body_limit) {
    auto [wec, wn] = co_await asio::async_write(stream, asio::const_buffer(bytes.data(), bytes.size()),
                                                asio::as_tuple(asio::use_awaitable));
    co_return co_await after_write(stream, buf, body_limit, wec, wn);
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
// Deadlines and idle times are read from `clock` (null: the real clock). Throws config_error for a
// bad ruta or an unreadable CA file.
std::shared_ptr<transport> make_http_transport(asio::any_io_executor ex, const account_config& cfg,
                                               std::shared_ptr<const clock_source> clock = nullptr);

}  // namespace nubefact::transport
