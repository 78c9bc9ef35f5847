// The emulator's network side: HTTP/1.1 over TCP or TLS, C++20 coroutines, one io_context per thread.
#include <nubefact/emulator.hpp>

#include "core.hpp"
#include "net/chunked_guard.hpp"
#include "net/linger.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include <array>
#include <charconv>
#include <cstring>
#include <span>
#include <thread>

namespace nubefact::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Strongly typed executor in the hot path (no any_io_executor copies per operation).
using executor = asio::io_context::executor_type;
using socket_t = asio::basic_stream_socket<tcp, executor>;
using tls_t = asio::ssl::stream<socket_t>;
template <class T = void>
using task = asio::awaitable<T, executor>;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable_t<executor>{});

using coarse_clock = std::chrono::steady_clock;

// Growable byte buffer: [begin_, end_) holds unparsed input.
class read_buffer {
  public:
    const char* data() const noexcept { return data_.get() + begin_; }
    std::size_t size() const noexcept { return end_ - begin_; }
    void consume(std::size_t n) noexcept {
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    // Room for at least `min` more bytes (compacts, then doubles).
    std::span<char> space(std::size_t min) {
        if (cap_ - end_ < min && begin_ > 0) {
            std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (cap_ - end_ < min) {
            std::size_t cap = std::max<std::size_t>(cap_ ? cap_ * 2 : 2048, end_ + min);
            auto d = std::make_unique<char[]>(cap);
            if (end_) std::memcpy(d.get(), data_.get(), end_);
            data_ = std::move(d);
            cap_ = cap;
        }
        return {data_.get() + end_, cap_ - end_};
    }
    void commit(std::size_t n) noexcept { end_ += n; }
    void clear() noexcept { begin_ = end_ = 0; }
    std::size_t capacity() const noexcept { return cap_; }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t cap_ = 0, begin_ = 0, end_ = 0;
};

// Per-request working memory, taken from the worker's pool while a request is in progress and
// returned when the connection goes idle (idle connections hold no buffers).
struct buffers {
    read_buffer in;
    std::string method, target, authorization, content_type, body, head;
    bool has_authorization = false, has_content_type = false, expect_continue = false;
};

// One io thread: its io_context, the buffer pool, and the timeout watchdog over its connections.
struct conn;
struct worker {
    explicit worker(int hint) : ctx(hint) {}
    std::vector<std::unique_ptr<buffers>> pool;  // destroyed after ctx (sessions return buffers)
    conn* head = nullptr;                        // intrusive list of live connections
    coarse_clock::time_point now = coarse_clock::now();
    std::chrono::milliseconds tick{250};
    asio::io_context ctx;
    std::optional<asio::steady_timer> watchdog;  // destroyed before ctx

    std::unique_ptr<buffers> take() {
        if (pool.empty()) return std::make_unique<buffers>();
        auto b = std::move(pool.back());
        pool.pop_back();
        return b;
    }
    void give(std::unique_ptr<buffers> b) {
        if (!b) return;
        if (pool.size() >= 256 || b->in.capacity() > (64u << 10) || b->body.capacity() > (64u << 10)) return;
        b->in.clear();
        pool.push_back(std::move(b));
    }
};

// A connection as the watchdog sees it: a deadline (coarse clock) and the socket to close.
struct conn {
    worker& w;
    socket_t& sock;
    conn* prev = nullptr;
    conn* next = nullptr;
    coarse_clock::time_point deadline = coarse_clock::time_point::max();
    coarse_clock::time_point wait_began{};
    bool fast_wait = false;  // waiting for the next request with a buffer (may be parked)
    bool park = false;       // the watchdog cancelled that wait to free the buffer
    conn(worker& wk, socket_t& s) : w(wk), sock(s) {
        next = w.head;
        if (next) next->prev = this;
        w.head = this;
    }
    ~conn() {
        if (prev)
            prev->next = next;
        else
            w.head = next;
        if (next) next->prev = prev;
    }
    conn(const conn&) = delete;
    conn& operator=(const conn&) = delete;
    // Never earlier than `d` from now: the coarse clock may lag by up to one tick.
    void expires_after(std::chrono::milliseconds d) { deadline = w.now + d + w.tick; }
    void expires_never() { deadline = coarse_clock::time_point::max(); }
};

void watchdog_tick(worker& w) {
    w.watchdog->expires_after(w.tick);
    w.watchdog->async_wait([&w](boost::system::error_code ec) {
        if (ec) return;
        w.now = coarse_clock::now();
        for (conn* c = w.head; c; c = c->next) {
            boost::system::error_code ignore;
            if (c->deadline <= w.now) {
                // Timed out: closing cancels the pending operation; the session then ends.
                c->deadline = coarse_clock::time_point::max();
                c->sock.close(ignore);
            } else if (c->fast_wait && !c->park && w.now - c->wait_began > 2 * w.tick) {
                c->park = true;  // idle: give the buffer back, wait with async_wait
                c->sock.cancel(ignore);
            }
        }
        watchdog_tick(w);
    });
}

struct counter_guard {
    std::atomic<std::uint64_t>& c;
    explicit counter_guard(std::atomic<std::uint64_t>& x) : c(x) {
        c.fetch_add(1, std::memory_order_relaxed);
    }
    ~counter_guard() { c.fetch_sub(1, std::memory_order_relaxed); }
    counter_guard(const counter_guard&) = delete;
    counter_guard& operator=(const counter_guard&) = delete;
};

// HTTP/1.1 request parser keeping only what the emulator reads, in the session's reused buffers.
class request_parser : public http::basic_parser<true> {
  public:
    explicit request_parser(buffers& b) : b_(b) {
        b_.method.clear();
        b_.target.clear();
        b_.authorization.clear();
        b_.content_type.clear();
        b_.body.clear();
        b_.has_authorization = b_.has_content_type = b_.expect_continue = false;
    }
    unsigned version = 11;

  private:
    void on_request_impl(http::verb, beast::string_view method, beast::string_view target, int v,
                         boost::system::error_code&) override {
        b_.method.assign(method.data(), method.size());
        b_.target.assign(target.data(), target.size());
        version = static_cast<unsigned>(v);
    }
    void on_response_impl(int, beast::string_view, int, boost::system::error_code&) override {}
    void on_field_impl(http::field name, beast::string_view, beast::string_view value,
                       boost::system::error_code&) override {
        switch (name) {
            case http::field::authorization:
                if (!b_.has_authorization) b_.authorization.assign(value.data(), value.size());
                b_.has_authorization = true;
                break;
            case http::field::content_type:
                if (!b_.has_content_type) b_.content_type.assign(value.data(), value.size());
                b_.has_content_type = true;
                break;
            case http::field::expect:
                b_.expect_continue = beast::iequals(value, "100-continue");
                break;
            default:
                break;
        }
    }
    void on_header_impl(boost::system::error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                           boost::system::error_code&) override {
        if (length) b_.body.reserve(static_cast<std::size_t>(*length));
    }
    std::size_t on_body_impl(beast::string_view s, boost::system::error_code&) override {
        b_.body.append(s.data(), s.size());
        return s.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, boost::system::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view s, boost::system::error_code&) override {
        b_.body.append(s.data(), s.size());
        return s.size();
    }
    void on_finish_impl(boost::system::error_code&) override {}

    buffers& b_;
};

// The status line and headers of an answer (Beast's wording: "HTTP/1.1 200 OK").
void format_head(std::string& h, unsigned status, unsigned version, std::size_t body_size,
                 unsigned retry_after, bool allow_post, bool keep_alive,
                 std::string_view content_type = "application/json; charset=utf-8") {
    h.clear();
    h += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, status);
    h.append(num, r.ptr);
    h.push_back(' ');
    auto reason = http::obsolete_reason(static_cast<http::status>(status));
    h.append(reason.data(), reason.size());
    h += "\r\nContent-Type: ";
    h += content_type;
    h += "\r\n";
    if (retry_after) {
        h += "Retry-After: ";
        r = std::to_chars(num, num + sizeof num, retry_after);
        h.append(num, r.ptr);
        h += "\r\n";
    }
    if (allow_post) h += "Allow: POST\r\n";
    if (version == 10 && keep_alive) h += "Connection: keep-alive\r\n";
    if (version != 10 && !keep_alive) h += "Connection: close\r\n";
    h += "Content-Length: ";
    r = std::to_chars(num, num + sizeof num, body_size);
    h.append(num, r.ptr);
    h += "\r\n\r\n";
}

// Transport operations. Reads go through Asio's reactor, which skips the speculative read() after a
// read that drained the socket: one recv per request. A plain TCP connection that is not busy waits
// for its next request with async_wait instead, holding no buffer (see serve()). Answers go out with
// one non-blocking sendmsg, falling back to async_write when the socket buffer is full.
struct plain_io {
    static constexpr bool can_park = true;
    socket_t& sock;
    socket_t& lowest() { return sock; }
    task<bool> wait_readable() {
        auto [ec] = co_await sock.async_wait(tcp::socket::wait_read, tuple_awaitable);
        co_return !ec;
    }
    // 0 = closed, failed or cancelled.
    task<std::size_t> read_some(std::span<char> into) {
        auto [ec, n] = co_await sock.async_read_some(asio::buffer(into.data(), into.size()), tuple_awaitable);
        co_return ec ? 0 : n;
    }
    task<bool> write(std::array<asio::const_buffer, 2> bufs) {
        boost::system::error_code ec;
        std::size_t total = bufs[0].size() + bufs[1].size();
        std::size_t n = sock.write_some(bufs, ec);
        if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return false;
        if (ec) n = 0;
        if (n == total) co_return true;
        std::array<asio::const_buffer, 2> rest = bufs;
        if (n < rest[0].size()) {
            rest[0] += n;
        } else {
            rest[1] += n - rest[0].size();
            rest[0] = asio::const_buffer();
        }
        auto [wec, wn] = co_await asio::async_write(sock, rest, tuple_awaitable);
        co_return !wec;
    }
};

struct tls_io {
    static constexpr bool can_park = false;  // an SSL read is not cancelled midway
    tls_t& stream;
    socket_t& lowest() { return stream.next_layer(); }
    task<bool> wait_readable() { co_return true; }
    task<std::size_t> read_some(std::span<char> into) {
        auto [ec, n] =
            co_await stream.async_read_some(asio::buffer(into.data(), into.size()), tuple_awaitable);
        co_return ec ? 0 : n;
    }
    task<bool> write(std::array<asio::const_buffer, 2> bufs) {
        auto [ec, n] = co_await asio::async_write(stream, bufs, tuple_awaitable);
        co_return !ec;
    }
};

void close_socket(socket_t& sock, bool reset) {
    boost::system::error_code ec;
    if (reset) {
        sock.set_option(asio::socket_base::linger(true, 0), ec);  // close() then sends RST
    } else {
        sock.shutdown(tcp::socket::shutdown_both, ec);
    }
    sock.close(ec);
}

}  // namespace

struct server::impl {
    explicit impl(options o) : core(std::move(o)) {}
    detail::core core;
    std::vector<std::unique_ptr<worker>> workers;
    std::vector<std::thread> threads;
    std::unique_ptr<tcp::acceptor> acceptor;
    std::unique_ptr<asio::ssl::context> ssl;
    std::atomic<bool> running{false};
    std::uint16_t port = 0;
    std::mutex life_mu;  // start/stop
};

namespace {

using impl = server::impl;

template <class IO>
task<bool> write_reply(impl& s, IO& io, conn& c, buffers& b, const detail::reply& rep, unsigned version,
                       bool keep_alive) {
    format_head(b.head, rep.status, version, rep.body.size(), rep.retry_after, rep.allow_post, keep_alive,
                rep.content_type);
    c.expires_after(s.core.opts().body_timeout);
    co_return co_await io.write({asio::buffer(b.head), asio::buffer(rep.body)});
}

// The last answer is written: FIN after it, then drop what the client still sends (net/linger.hpp).
template <class IO>
task<void> linger_close(IO& io, conn& c) {
    boost::system::error_code ec;
    io.lowest().shutdown(tcp::socket::shutdown_send, ec);
    c.expires_after(net::linger.time);
    std::array<char, 4096> scratch;
    for (std::size_t dropped = 0; dropped < net::linger.bytes;) {
        const std::size_t n = co_await io.read_some(scratch);
        if (n == 0) break;
        dropped += n;
    }
    io.lowest().close(ec);
}

// An error found while reading a request: answer it and close.
template <class IO>
task<void> reject_and_close(impl& s, IO& io, conn& c, buffers& b, unsigned status, std::string_view msg) {
    auto rep = s.core.http_error(status, msg);
    s.core.record_outcome(rep.op, rep.outcome);
    if (co_await write_reply(s, io, c, b, rep, 11, false))
        co_await linger_close(io, c);
    else
        close_socket(io.lowest(), false);
}

std::string too_large(const options& o) {
    return "El cuerpo excede el límite de " + std::to_string(o.max_body) + " bytes";
}

template <class IO>
task<void> serve(impl& s, worker& w, IO& io, std::uint64_t conn_id) {
    const auto& o = s.core.opts();
    detail::rng_t rng(o.seed ^ (conn_id * 0x9E3779B97F4A7C15ULL));
    conn c(w, io.lowest());
    std::unique_ptr<buffers> b;
    auto release = [&] {
        if (b && b->in.size() == 0) w.give(std::move(b));
    };
    // A busy connection (its last request followed the previous answer within about a watchdog tick)
    // waits for the next one with a buffer and a plain read: one recv per request. Any other waits
    // with async_wait and no buffer; so does a busy one the watchdog finds idle for two ticks.
    std::uint64_t served = 0;
    bool busy_conn = !IO::can_park;
    for (;;) {
        // Keep-alive wait: a long idle timeout until the first byte of the next request.
        if (!b) {
            c.expires_after(o.idle_timeout);
            c.wait_began = w.now;
            if (busy_conn) {
                if constexpr (IO::can_park) {
                    // Let the other ready connections run first: by then the client has usually
                    // sent its next request, and the read finds it at once (no EAGAIN, no epoll round).
                    co_await asio::post(w.ctx.get_executor(), asio::use_awaitable_t<executor>{});
                    if (!io.lowest().is_open()) co_return;
                }
                b = w.take();
                c.fast_wait = IO::can_park;
                std::size_t n = co_await io.read_some(b->in.space(2048));
                const bool parked = c.park;
                c.fast_wait = c.park = false;
                if (n == 0) {
                    if (!parked || !io.lowest().is_open()) co_return;
                    // Cancelled by the watchdog: wait without a buffer.
                    w.give(std::move(b));
                    busy_conn = false;
                    continue;
                }
                b->in.commit(n);
            } else {
                if (!co_await io.wait_readable()) co_return;
                b = w.take();
            }
            busy_conn = !IO::can_park || (served > 0 && w.now - c.wait_began <= w.tick);
        }
        ++served;
        request_parser parser(*b);
        parser.eager(true);
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(o.max_header, UINT32_MAX)));
        parser.body_limit(o.max_body);
        bool started = b->in.size() > 0, header_done = false;
        if (started)
            c.expires_after(o.header_timeout);
        else
            c.expires_after(o.idle_timeout);
        std::optional<counter_guard> busy;
        for (;;) {
            if (b->in.size() > 0 && !net::wait_for_chunk_bytes(parser, b->in.size())) {
                boost::system::error_code ec;
                std::size_t used = parser.put(asio::buffer(b->in.data(), b->in.size()), ec);
                b->in.consume(used);
                if (ec == http::error::header_limit) {
                    co_await reject_and_close(s, io, c, *b, 431, "Cabeceras demasiado grandes");
                    co_return;
                }
                if (ec == http::error::body_limit) {
                    co_await reject_and_close(s, io, c, *b, 413, too_large(o));
                    co_return;
                }
                if (ec && ec != http::error::need_more) {
                    co_await reject_and_close(s, io, c, *b, 400, "Solicitud HTTP inválida");
                    co_return;
                }
                if (!header_done && parser.is_header_done()) {
                    header_done = true;
                    busy.emplace(s.core.in_flight);
                    auto cl = parser.content_length();
                    if (cl && *cl > o.max_body) {
                        co_await reject_and_close(s, io, c, *b, 413, too_large(o));
                        co_return;
                    }
                    if (!parser.is_done()) {
                        if (b->expect_continue) {
                            static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
                            if (!co_await io.write({asio::buffer(cont), asio::const_buffer()})) co_return;
                        }
                        c.expires_after(o.body_timeout);
                    }
                }
                if (parser.is_done()) break;
                if (!ec && used > 0) continue;  // progress: try the rest before reading
            }
            // From the first byte on, the headers must arrive within header_timeout (slowloris).
            std::size_t want = header_done ? 16384 : 2048;
            std::size_t n = co_await io.read_some(b->in.space(want));
            if (n == 0) co_return;  // closed, reset, or cut by the watchdog
            b->in.commit(n);
            if (!started) {
                started = true;
                c.expires_after(o.header_timeout);
            }
        }

        // The sampled latency is the server's response time: it runs from the request's last byte, so the
        // time spent validating and recording the document counts within it (as it does at Nubefact).
        const auto arrived = std::chrono::steady_clock::now();
        detail::request_view rv;
        rv.method = b->method;
        rv.target = b->target;
        if (b->has_authorization) rv.authorization = std::string_view(b->authorization);
        if (b->has_content_type) rv.content_type = std::string_view(b->content_type);
        rv.body = b->body;
        detail::reply rep = s.core.handle(rv, rng);
        const bool keep_alive = parser.keep_alive() && !rep.close;
        const unsigned version = parser.version;

        // A held answer (core::take_hold, for tests): the document is processed, its answer waits
        // for /__emulator/release (or max_stall, so nothing waits forever).
        const bool hold = rep.op < detail::op_count && !rep.fault && s.core.take_hold();
        if (hold || rep.delay.count() > 0 || (rep.fault && *rep.fault == fault_kind::stall)) {
            // Waiting: the connection holds no buffers meanwhile (unless pipelined bytes wait).
            release();
        }
        if (hold) {
            c.expires_never();
            counter_guard held(s.core.held);
            const auto gen = s.core.release_generation();
            const auto until = std::chrono::steady_clock::now() + o.max_stall;
            asio::steady_timer timer(w.ctx.get_executor());
            while (s.core.release_generation() == gen && std::chrono::steady_clock::now() < until) {
                timer.expires_after(std::chrono::milliseconds(5));
                co_await timer.async_wait(tuple_awaitable);
                if (!io.lowest().is_open()) co_return;
            }
        }
        if (rep.delay.count() > 0 && std::chrono::steady_clock::now() < arrived + rep.delay) {
            c.expires_never();
            asio::steady_timer timer(w.ctx.get_executor());
            timer.expires_at(arrived + rep.delay);
            co_await timer.async_wait(tuple_awaitable);
            if (!io.lowest().is_open()) co_return;
        }
        if (rep.fault) {
            auto f = *rep.fault;
            s.core.count_fault(f);
            s.core.record_outcome(rep.op, detail::out_fault0 + static_cast<int>(f));
            switch (f) {
                case fault_kind::reset:
                    close_socket(io.lowest(), true);
                    co_return;
                case fault_kind::commit_drop:
                    close_socket(io.lowest(), false);
                    co_return;
                case fault_kind::stall: {
                    c.expires_never();
                    asio::steady_timer timer(w.ctx.get_executor());
                    timer.expires_after(o.stall_for);
                    co_await timer.async_wait(tuple_awaitable);
                    close_socket(io.lowest(), false);
                    co_return;
                }
                case fault_kind::truncate: {
                    std::string raw =
                        "HTTP/1.1 " + std::to_string(rep.status) +
                        " OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
                        std::to_string(rep.body.size()) + "\r\nConnection: close\r\n\r\n";
                    raw.append(rep.body, 0, rep.body.size() / 2);
                    c.expires_after(o.body_timeout);
                    if (co_await io.write({asio::buffer(raw), asio::const_buffer()}))
                        co_await linger_close(io, c);  // half an answer, then the end: not RST
                    else
                        close_socket(io.lowest(), false);
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
        if (!b) b = w.take();
        if (!co_await write_reply(s, io, c, *b, rep, version, keep_alive)) {
            close_socket(io.lowest(), false);
            co_return;
        }
        if (!keep_alive) {
            busy.reset();
            co_await linger_close(io, c);
            co_return;
        }
        busy.reset();
        release();  // idle connections hold no buffers
    }
}

task<void> session(impl& s, worker& w, socket_t sock, std::uint64_t conn_id) {
    counter_guard open(s.core.open_connections);
    try {
        boost::system::error_code ec;
        sock.set_option(tcp::no_delay(true), ec);
        if (s.ssl) {
            tls_t stream(std::move(sock), *s.ssl);
            {
                conn c(w, stream.next_layer());
                c.expires_after(s.core.opts().header_timeout);
                auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
                if (hec) co_return;
            }
            tls_io io{stream};
            co_await serve(s, w, io, conn_id);
        } else {
            sock.non_blocking(true, ec);
            if (ec) co_return;
            plain_io io{sock};
            co_await serve(s, w, io, conn_id);
        }
    } catch (const std::exception&) {
        // A session never takes the server down; the connection is simply dropped.
    }
}

asio::awaitable<void> accept_loop(impl& s) {
    std::uint64_t next = 0;
    asio::steady_timer backoff(s.acceptor->get_executor());
    for (;;) {
        auto& w = *s.workers[next % s.workers.size()];
        auto [ec, sock] = co_await s.acceptor->async_accept(w.ctx, asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::operation_aborted || !s.acceptor->is_open()) co_return;
        if (ec) {
            // Out of descriptors or similar: wait a little instead of spinning.
            backoff.expires_after(std::chrono::milliseconds(10));
            co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        s.core.connections_accepted.fetch_add(1, std::memory_order_relaxed);
        if (s.core.open_connections.load(std::memory_order_relaxed) >= s.core.opts().max_connections) {
            boost::system::error_code ignore;
            sock.close(ignore);
            continue;
        }
        auto id = next++;
        asio::co_spawn(w.ctx, session(s, w, std::move(sock), id), asio::detached);
    }
}

// Watchdog period: fine enough for the shortest timeout, at most 250 ms.
std::chrono::milliseconds watchdog_period(const options& o) {
    auto m = std::min({o.header_timeout, o.body_timeout, o.idle_timeout});
    return std::clamp(m / 8, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
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
        impl_->workers.clear();
        return ec;
    };
    if (impl_->running) return fail("already running", make_error_code(std::errc::operation_in_progress));
    const auto& o = impl_->core.opts();
    raise_fd_limit();
    int n = std::max(1, o.threads);
    // One thread: the reactor needs no locking (every socket and timer lives on that thread).
    const int hint = n == 1 ? BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO : 1;
    for (int i = 0; i < n; ++i) {
        auto w = std::make_unique<worker>(hint);
        w->tick = watchdog_period(o);
        w->watchdog.emplace(w->ctx);
        impl_->workers.push_back(std::move(w));
    }
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
    auto acc = std::make_unique<tcp::acceptor>(impl_->workers[0]->ctx);
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
    asio::co_spawn(impl_->workers[0]->ctx, accept_loop(*impl_), asio::detached);
    impl_->running = true;
    for (auto& w : impl_->workers) {
        auto* wk = w.get();
        impl_->threads.emplace_back([wk] {
            auto guard = asio::make_work_guard(wk->ctx);
            watchdog_tick(*wk);
            wk->ctx.run();
        });
    }
    return {};
}

void server::stop() {
    std::lock_guard lk(impl_->life_mu);
    if (!impl_->running.exchange(false)) return;
    for (auto& w : impl_->workers) w->ctx.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->acceptor.reset();  // before its io_context
    // Destroying each io_context destroys the suspended sessions (and closes their sockets).
    for (auto& w : impl_->workers) {
        w->watchdog.reset();
        w.reset();
    }
    impl_->workers.clear();
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

void server::hold_answers(std::uint64_t after) {
    impl_->core.hold_answers(after);
}

void server::release_answers() {
    impl_->core.release_answers();
}

std::uint64_t server::held_answers() const {
    return impl_->core.held.load();
}

}  // namespace nubefact::emulator
