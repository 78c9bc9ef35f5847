// The client's own HTTP wire code on Beast's test stream: the serialized request head, the
// allocation-light response reader (split, chunked, close-delimited, oversized, Retry-After) and the
// one-buffer exchange, including a fault at every read and write step.
// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (custom frame allocator).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <nubefact/version.hpp>
#include "client/transport.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/read.hpp>

#include <sstream>

using namespace nubefact;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

namespace {

transport::request_head demo_head() {
    transport::request_head h;
    h.target = "/api/v1/demo";
    h.host = "127.0.0.1:8000";
    h.authorization = "Token token=\"demo\"";
    h.build();
    return h;
}

// Feeds `answer` to the reader `read_size` bytes at a time; returns what it produced.
transport::exchange_result read_answer(const std::string& answer, std::size_t read_size,
                                       std::size_t body_limit = 1 << 20, bool close_after = false) {
    asio::io_context ioc;
    beast::test::stream client(ioc), server(ioc);
    client.connect(server);
    client.append(answer);
    client.read_size(read_size);
    if (close_after) server.close();
    beast::flat_buffer buf;
    transport::exchange_result r;
    bool done = false;
    auto run = [&]() -> asio::awaitable<void> {
        co_await transport::read_response(client, buf, body_limit, r);
        done = true;
    };
    asio::co_spawn(ioc, run, asio::detached);
    ioc.run_for(5s);
    EXPECT_TRUE(done);
    return r;
}

const std::string body = R"({"errors":"Este documento ya existe en NubeFacT","codigo":23})";

std::string plain_answer() {
    return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST(Wire, UserAgentCarriesTheGeneratedVersion) {
    auto h = demo_head();
    EXPECT_EQ(h.user_agent, std::string("nubefact-cpp/") + nubefact::version);
    std::string out;
    h.serialize("{}", out);
    EXPECT_NE(out.find("\r\nUser-Agent: nubefact-cpp/" NUBEFACT_VERSION "\r\n"), std::string::npos) << out;
}

TEST(Wire, HeadSerializesLikeBeast) {
    auto h = demo_head();
    std::string out;
    h.serialize("{\"a\":1}", out);
    EXPECT_EQ(out.rfind("POST /api/v1/demo HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(out.find("\r\nHost: 127.0.0.1:8000\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nAuthorization: Token token=\"demo\"\r\n"), std::string::npos);
    EXPECT_NE(out.find("\r\nContent-Length: 7\r\n\r\n{\"a\":1}"), std::string::npos);

    // A server-side Beast parser reads it back as the same request as to_request() builds.
    http::request_parser<http::string_body> p;
    beast::error_code ec;
    p.eager(true);
    p.put(asio::buffer(out), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(p.is_done());
    auto& req = p.get();
    auto ref = h.to_request("{\"a\":1}");
    EXPECT_EQ(req.method(), ref.method());
    EXPECT_EQ(req.target(), ref.target());
    EXPECT_EQ(req[http::field::authorization], ref[http::field::authorization]);
    EXPECT_EQ(req[http::field::content_type], "application/json");
    EXPECT_TRUE(req.keep_alive());
    EXPECT_EQ(req.body(), "{\"a\":1}");

    // The buffer is reused: a shorter body leaves no trace of the longer one.
    h.serialize("{}", out);
    EXPECT_NE(out.find("Content-Length: 2\r\n\r\n{}"), std::string::npos);
    EXPECT_EQ(out.size(), out.find("{}") + 2);
}

TEST(Wire, ReaderHandlesEverySplit) {
    const auto answer = plain_answer();
    for (std::size_t step : {1u, 2u, 7u, 13u, 64u, 100000u}) {
        auto r = read_answer(answer, step);
        ASSERT_FALSE(r.ec) << step << ": " << r.ec.message();
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(r.body, body);
        EXPECT_TRUE(r.keep_alive);
        EXPECT_EQ(r.response_bytes, answer.size());
        EXPECT_FALSE(r.retry_after);
    }
}

TEST(Wire, ReaderJoinsChunksAndKeepsRetryAfter) {
    std::string answer =
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\n{\"err\r\n" +
        std::string("a\r\nors\":\"x\",\"\r\n") + "b\r\ncodigo\":40}\r\n0\r\n\r\n";
    for (std::size_t step : {1u, 5u, 1000u}) {
        auto r = read_answer(answer, step);
        ASSERT_FALSE(r.ec) << r.ec.message();
        EXPECT_EQ(r.status, 429);
        EXPECT_EQ(r.body, R"({"errors":"x","codigo":40})");
        ASSERT_TRUE(r.retry_after);
        EXPECT_EQ(*r.retry_after, 7s);
    }
}

TEST(Wire, ReaderBodyDelimitedByClose) {
    std::string answer = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body;
    auto r = read_answer(answer, 9, 1 << 20, true);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.body, body);
    EXPECT_FALSE(r.keep_alive);
}

TEST(Wire, ReaderFailsOnTruncationOversizeAndGarbage) {
    // The connection ends inside the body.
    auto answer = plain_answer();
    auto cut = read_answer(answer.substr(0, answer.size() - 5), 16, 1 << 20, true);
    EXPECT_TRUE(cut.ec);
    // Ends before any header.
    auto none = read_answer("", 16, 1 << 20, true);
    EXPECT_TRUE(none.ec);
    // Body over the limit.
    auto big = read_answer(answer, 64, body.size() - 1);
    EXPECT_EQ(big.ec, http::error::body_limit);
    // A header block over 8 KiB.
    std::string huge =
        "HTTP/1.1 200 OK\r\nX-Pad: " + std::string(9000, 'a') + "\r\nContent-Length: 0\r\n\r\n";
    auto hdr = read_answer(huge, 512);
    EXPECT_EQ(hdr.ec, http::error::header_limit);
    // Not HTTP at all.
    auto junk = read_answer("SSH-2.0-OpenSSH_9.2\r\n\r\n", 64);
    EXPECT_TRUE(junk.ec);
}

TEST(Wire, TwoResponsesOnOneConnectionReadInTurn) {
    asio::io_context ioc;
    beast::test::stream client(ioc), server(ioc);
    client.connect(server);
    client.append(plain_answer() + plain_answer());
    beast::flat_buffer buf;
    transport::exchange_result a, b;
    auto run = [&]() -> asio::awaitable<void> {
        co_await transport::read_response(client, buf, 1 << 20, a);
        co_await transport::read_response(client, buf, 1 << 20, b);
    };
    asio::co_spawn(ioc, run, asio::detached);
    ioc.run_for(5s);
    EXPECT_FALSE(a.ec);
    EXPECT_FALSE(b.ec);
    EXPECT_EQ(a.body, body);
    EXPECT_EQ(b.body, body);
    EXPECT_EQ(buf.size(), 0u);
}

// As FaultMatrix.EveryStepOfOneExchangeFailsInTurn, for the one-buffer exchange the engine uses.
TEST(Wire, EveryStepOfAWireExchangeFailsInTurn) {
    asio::io_context ioc;
    std::string bytes;
    demo_head().serialize(R"({"operacion":"generar_comprobante","serie":"FFF1","numero":1})", bytes);
    const auto answer = plain_answer();
    std::size_t write_failures = 0, read_failures = 0;
    bool succeeded = false;
    for (std::size_t n = 0; n < 1000 && !succeeded; ++n) {
        beast::test::fail_count fc(n);
        beast::test::stream client(ioc, fc), server(ioc);
        client.connect(server);
        client.append(answer);
        client.read_size(7);
        client.write_size(11);
        beast::flat_buffer buf;
        std::optional<transport::exchange_result> got;
        auto run = [&]() -> asio::awaitable<void> {
            got = co_await transport::run_wire_exchange(client, buf, bytes, 1 << 20);
        };
        asio::co_spawn(ioc, run, asio::detached);
        ioc.restart();
        ioc.run_for(5s);
        ASSERT_TRUE(got) << "exchange hung at step " << n;
        if (!got->ec) {
            succeeded = true;
            EXPECT_EQ(got->status, 400);
            EXPECT_EQ(got->body, body);
            EXPECT_EQ(got->request_bytes, bytes.size());
            EXPECT_EQ(server.str(), bytes);
            break;
        }
        EXPECT_EQ(got->ec, beast::test::error::test_failure) << n;
        if (got->request_bytes < bytes.size()) {
            ++write_failures;
            EXPECT_EQ(got->written, got->request_bytes > 0) << n;
        } else {
            ++read_failures;
            EXPECT_TRUE(got->written);
        }
    }
    EXPECT_TRUE(succeeded);
    EXPECT_GT(write_failures, 3u);
    EXPECT_GT(read_failures, 3u);
}
