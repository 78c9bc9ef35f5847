// Hostile input over loopback: oversized bodies, slow and endless headers, bad UTF-8, junk, connection churn.
#include "http_helper.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace emutest;
namespace emu = nubefact::emulator;

namespace {

class hostile_test : public ::testing::Test {
  protected:
    emu::manual_clock clock{test_now()};
    std::unique_ptr<emu::server> srv;

    void start(emu::options o = {}) {
        o.clock = clock.fn();
        srv = std::make_unique<emu::server>(o);
        std::string err;
        ASSERT_TRUE(srv->start(&err)) << err;
    }
    void TearDown() override {
        if (srv) srv->stop();
    }
    std::string head(std::size_t content_length, const std::string& extra = "") {
        return "POST /api/v1/demo HTTP/1.1\r\nHost: x\r\nAuthorization: demo-token\r\nContent-Type: "
               "application/json\r\n" +
               extra + "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
    }
    // Waits (bounded) until the server has no open connection left.
    void expect_drained() {
        for (int i = 0; i < 500 && srv->snapshot().open_connections > 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        EXPECT_EQ(srv->snapshot().open_connections, 0u);
    }
    void expect_alive() {
        auto r = post(srv->port(), "/api/v1/demo", consulta("consultar_comprobante", 1, "FFF1", 1),
                      auth_headers("demo-token"));
        EXPECT_EQ(r.codigo(), 24) << r.body;
    }
};

TEST_F(hostile_test, declared_body_over_limit_is_413) {
    emu::options o;
    o.max_body = 4096;
    start(o);
    connection c(srv->port());
    boost::system::error_code ec;
    c.write_raw(head(100000), ec);
    ASSERT_FALSE(ec);
    auto answer = c.read_all(ec);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer;
    EXPECT_NE(answer.find("\"codigo\":20"), std::string::npos);
    EXPECT_EQ(srv->snapshot().requests["none"]["http_413"], 1u);
    expect_alive();
}

TEST_F(hostile_test, chunked_body_over_limit_is_413) {
    emu::options o;
    o.max_body = 4096;
    start(o);
    connection c(srv->port());
    boost::system::error_code ec;
    c.write_raw(
        "POST /api/v1/demo HTTP/1.1\r\nHost: x\r\nAuthorization: demo-token\r\nContent-Type: "
        "application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        ec);
    std::string chunk = "1000\r\n" + std::string(4096, 'a') + "\r\n";
    for (int i = 0; i < 4 && !ec; ++i) c.write_raw(chunk, ec);
    auto answer = c.read_all(ec);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 413")) << answer.substr(0, 100);
    expect_alive();
}

// The last chunk of a chunked body in pieces: Boost 1.74's parser asserted on its 4th byte
// (src/net/chunked_guard.hpp). A clear answer, and the server lives on.
TEST_F(hostile_test, chunked_body_whose_end_trickles_in) {
    start();
    connection c(srv->port());
    boost::system::error_code ec;
    c.write_raw(
        "POST /api/v1/demo HTTP/1.1\r\nHost: x\r\nAuthorization: demo-token\r\nContent-Type: "
        "application/json\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
        ec);
    for (const char* piece : {"\r", "\n"}) {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));  // read apart by the server
        c.write_raw(piece, ec);
    }
    auto r = c.read_response(ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(r.status, 400) << r.body;
    expect_alive();
}

TEST_F(hostile_test, slow_headers_are_cut) {
    emu::options o;
    o.header_timeout = std::chrono::milliseconds(300);
    start(o);
    connection c(srv->port(), std::chrono::seconds(5));
    boost::system::error_code ec;
    c.write_raw("POST /api/v1/demo HTTP/1.1\r\nHost: x\r\n", ec);  // and never the rest
    auto answer = c.read_all(ec);
    EXPECT_TRUE(answer.empty()) << answer;
    EXPECT_EQ(ec, boost::asio::error::eof);  // closed by the server, not our 5 s socket timeout
    expect_alive();
}

TEST_F(hostile_test, slow_body_is_cut) {
    emu::options o;
    o.body_timeout = std::chrono::milliseconds(300);
    start(o);
    connection c(srv->port(), std::chrono::seconds(5));
    boost::system::error_code ec;
    c.write_raw(head(1000) + "{\"operacion\":", ec);
    auto answer = c.read_all(ec);
    EXPECT_TRUE(answer.empty()) << answer;
    EXPECT_EQ(ec, boost::asio::error::eof);
}

TEST_F(hostile_test, idle_keep_alive_connection_is_closed) {
    emu::options o;
    o.idle_timeout = std::chrono::milliseconds(200);
    start(o);
    connection c(srv->port(), std::chrono::seconds(5));
    boost::system::error_code ec;
    auto answer = c.read_all(ec);
    EXPECT_TRUE(answer.empty());
    EXPECT_EQ(ec, boost::asio::error::eof);
    expect_drained();
}

TEST_F(hostile_test, endless_headers_are_431) {
    emu::options o;
    o.max_header = 8192;
    start(o);
    connection c(srv->port(), std::chrono::seconds(5));
    boost::system::error_code ec;
    c.write_raw("POST /api/v1/demo HTTP/1.1\r\nHost: x\r\n", ec);
    std::string line = "X-Filler: " + std::string(1000, 'a') + "\r\n";
    for (int i = 0; i < 64 && !ec; ++i) c.write_raw(line, ec);  // bounded: 64 KB at most
    boost::system::error_code rec;
    auto answer = c.read_all(rec);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 431")) << answer.substr(0, 80);
    expect_alive();
}

TEST_F(hostile_test, invalid_utf8_is_codigo_20) {
    for (bool validate : {true, false}) {
        emu::options o;
        o.validate = validate;
        start(o);
        std::string body = "{\"operacion\":\"generar_comprobante\",\"serie\":\"F\xff\xfe\x31\",\"numero\":1}";
        auto r = post(srv->port(), "/api/v1/demo", body, auth_headers("demo-token"));
        EXPECT_EQ(r.status, 400) << validate;
        EXPECT_EQ(r.codigo(), 20) << validate << " " << r.body;
        // The answer itself is valid JSON (nothing of the bad bytes echoed raw).
        EXPECT_TRUE(r.json().is_object()) << r.body;
        srv->stop();
    }
}

TEST_F(hostile_test, garbage_request_line_is_400) {
    start();
    connection c(srv->port(), std::chrono::seconds(5));
    boost::system::error_code ec;
    c.write_raw("HELLO WORLD\r\n\r\n", ec);
    auto answer = c.read_all(ec);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
    expect_alive();
}

TEST_F(hostile_test, deep_json_is_codigo_20) {
    start();
    std::string body = "{\"operacion\":\"generar_comprobante\",\"x\":" + std::string(5000, '[') +
                       std::string(5000, ']') + "}";
    auto r = post(srv->port(), "/api/v1/demo", body, auth_headers("demo-token"));
    EXPECT_EQ(r.codigo(), 20) << r.body;
}

TEST_F(hostile_test, connection_churn_leaves_nothing_behind) {
    start();
    int total = 100000;
    if (const char* n = std::getenv("NUBEFACT_EMULATOR_CHURN")) total = std::atoi(n);
    asio::io_context io;
    const auto ep = tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv->port());
    const std::string partial = "POST /api/v1/demo HTTP/1.1\r\nHost: x\r\nContent-Le";
    int opened = 0;
    for (int batch = 0; opened < total; ++batch) {
        std::vector<tcp::socket> socks;
        for (int i = 0; i < 200 && opened < total; ++i, ++opened) {
            tcp::socket s(io);
            boost::system::error_code ec;
            s.connect(ep, ec);
            if (ec) continue;
            if (i % 3 == 1) asio::write(s, asio::buffer(partial), ec);
            // Half the sockets are reset (no TIME_WAIT on our side), half closed normally.
            if (i % 2 == 0) s.set_option(asio::socket_base::linger(true, 0), ec);
            socks.push_back(std::move(s));
        }
        for (auto& s : socks) {
            boost::system::error_code ec;
            s.close(ec);
        }
    }
    expect_drained();
    expect_alive();
    EXPECT_GE(srv->snapshot().connections_accepted, static_cast<std::uint64_t>(total) * 9 / 10);
}

}  // namespace
