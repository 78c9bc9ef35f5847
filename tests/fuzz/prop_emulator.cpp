// Property of the emulator's request handling, from raw bytes over loopback: see properties.hpp.
#include "properties.hpp"

#include <nubefact/emulator.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>

namespace nubefact::fuzz {
namespace {

namespace http = boost::beast::http;

// One emulator for the whole process (admin on, so /__emulator/* is reachable too), with short
// timeouts: a request cut short by the end of the input must not keep the connection open.
emulator::server& the_emulator() {
    static std::unique_ptr<emulator::server> s = [] {
        emulator::options o;
        o.admin = true;
        o.max_age_days = 100000;
        o.max_body = 64 << 10;
        o.max_header = 8 << 10;
        o.header_timeout = std::chrono::milliseconds(1000);
        o.body_timeout = std::chrono::milliseconds(1000);
        o.idle_timeout = std::chrono::milliseconds(1000);
        auto srv = std::make_unique<emulator::server>(o);
        if (!srv->start()) std::abort();
        return srv;
    }();
    return *s;
}

struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

constexpr auto answer_deadline = std::chrono::seconds(5);

}  // namespace

verdict emulator_http(std::string_view bytes) {
    auto& emu = the_emulator();
    static std::atomic<unsigned> runs{0};
    if (++runs % 5000 == 0) emu.reset();  // keep the document store small over a long campaign

    fd_guard s{::socket(AF_INET, SOCK_STREAM, 0)};
    if (s.fd < 0) return std::nullopt;  // out of descriptors: not the emulator's fault
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(emu.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        return "cannot connect to the emulator";

    // Write everything (the emulator may answer and close early: then the rest is not wanted),
    // reading alongside so a large answer cannot block both sides.
    std::string got;
    std::size_t sent = 0;
    bool wr_closed = false, eof = false;
    const auto end = std::chrono::steady_clock::now() + answer_deadline;
    while (!eof) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return fmt::format(
                "no end of the connection {} s after a request of {} bytes ({} sent, {} received)",
                answer_deadline.count(), bytes.size(), sent, got.size());
        if (!wr_closed && sent == bytes.size()) {
            ::shutdown(s.fd, SHUT_WR);
            wr_closed = true;
        }
        pollfd p{s.fd, static_cast<short>(POLLIN | (wr_closed ? 0 : POLLOUT)), 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            char buf[16384];
            const auto n = ::recv(s.fd, buf, sizeof buf, 0);
            if (n <= 0) {
                eof = true;  // closed (or reset): the end
            } else {
                got.append(buf, static_cast<std::size_t>(n));
                if (got.size() > (std::size_t(8) << 20)) return "more than 8 MiB of answers";
            }
        }
        if (!wr_closed && (p.revents & POLLOUT)) {
            const auto n =
                ::send(s.fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                wr_closed = true;  // the emulator closed its side: read what it said
            }
        }
    }

    // What came back: zero or more complete HTTP/1.1 responses, nothing else.
    std::size_t at = 0, answers = 0;
    while (at < got.size()) {
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        parser.body_limit(std::size_t(8) << 20);
        boost::system::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(got.data() + at, got.size() - at), ec);
        if (ec == http::error::need_more || (!ec && !parser.is_done())) {
            if (parser.is_header_done() && !parser.is_done() && parser.get().has_content_length() == false &&
                !parser.chunked()) {
                parser.put_eof(ec);  // a body delimited by the close
                if (!ec && parser.is_done()) break;
            }
            return fmt::format("answer {} cut short after {} of {} bytes", answers + 1, got.size() - at,
                               got.size());
        }
        if (ec) return fmt::format("answer {} is not HTTP: {}", answers + 1, ec.message());
        const int status = parser.get().result_int();
        if (status < 100 || status > 599) return fmt::format("answer {} has status {}", answers + 1, status);
        at += used;
        ++answers;
    }
    return std::nullopt;
}

}  // namespace nubefact::fuzz
