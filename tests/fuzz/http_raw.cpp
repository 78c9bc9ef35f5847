// Raw HTTP exchanges with a server on loopback: see properties.hpp.
#include "http_raw.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace nubefact::fuzz {
namespace {

namespace http = boost::beast::http;

struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

constexpr auto answer_deadline = std::chrono::seconds(5);

// For each request the input holds whole, in order: whether it is a HEAD (its answer has headers
// only, whatever Content-Length says). Stops at the first request that does not parse.
std::vector<bool> head_requests(std::string_view bytes) {
    std::vector<bool> heads;
    std::size_t at = 0;
    while (at < bytes.size() && heads.size() < 1000) {
        http::request_parser<http::string_body> parser;
        parser.eager(true);
        parser.body_limit(bytes.size());
        boost::system::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(bytes.data() + at, bytes.size() - at), ec);
        if (ec || !parser.is_done() || used == 0) break;
        heads.push_back(parser.get().method() == http::verb::head);
        at += used;
    }
    return heads;
}

}  // namespace

verdict raw_http_exchange(std::uint16_t port, std::string_view bytes, std::string* received) {
    fd_guard s{::socket(AF_INET, SOCK_STREAM, 0)};
    if (s.fd < 0) return std::nullopt;  // out of descriptors: not the server's fault
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        // This side out of ports (tens of thousands of connections a minute leave TIME_WAITs)
        // is not the server's fault; a refusal is.
        if (errno == EADDRNOTAVAIL || errno == EAGAIN || errno == EINTR) return std::nullopt;
        return fmt::format("cannot connect to the server: {}", std::strerror(errno));
    }

    // Write everything (the server may answer and close early: then the rest is not wanted),
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
                wr_closed = true;  // the server closed its side: read what it said
            }
        }
    }

    // What came back: zero or more complete HTTP/1.1 responses, nothing else.
    const auto heads = head_requests(bytes);
    std::size_t at = 0, answers = 0, finals = 0;  // finals: answers that are not 1xx
    while (at < got.size()) {
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        if (finals < heads.size() && heads[finals]) parser.skip(true);
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
        if (status >= 200) ++finals;
    }
    if (received) *received = std::move(got);
    return std::nullopt;
}

}  // namespace nubefact::fuzz
