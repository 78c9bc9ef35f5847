// HTTPS: the emulator with a throw-away self-signed certificate, queried with curl (bounded).
#include "http_helper.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

namespace emu = nubefact::emulator;

namespace {

std::string run(const std::string& cmd) {
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
        pclose(p);
    }
    return out;
}

TEST(emulator_tls, serves_https) {
    if (std::system("command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "openssl or curl missing";
    auto dir = std::filesystem::temp_directory_path() / ("nubefact-emu-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
    run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " + key + " -out " +
        cert + " 2>/dev/null");
    ASSERT_TRUE(std::filesystem::exists(cert));
    emu::options o;
    o.tls = emu::tls_options{cert, key};
    emu::server srv(o);
    std::string err;
    ASSERT_TRUE(srv.start(&err)) << err;
    EXPECT_TRUE(srv.base_url().starts_with("https://"));
    auto body =
        run("curl -sk --max-time 10 -X POST " + srv.ruta_url() +
            " -H 'Authorization: demo-token' -H 'Content-Type: application/json' "
            "-d '{\"operacion\":\"consultar_comprobante\",\"tipo_de_comprobante\":1,\"serie\":\"FFF1\","
            "\"numero\":1}'");
    EXPECT_NE(body.find("\"codigo\":24"), std::string::npos) << body;
    // Plain HTTP on the TLS port gets nothing useful (and does not hurt the server).
    auto plain = run("curl -s --max-time 5 http://127.0.0.1:" + std::to_string(srv.port()) + "/api/v1/demo");
    EXPECT_EQ(plain.find("codigo"), std::string::npos);
    auto again = run("curl -sk --max-time 10 -X POST " + srv.ruta_url() + " -H 'Authorization: demo-token'");
    EXPECT_NE(again.find("\"codigo\":12"), std::string::npos) << again;
    srv.stop();
    std::filesystem::remove_all(dir);
}

TEST(emulator_tls, bad_certificate_fails_start) {
    emu::options o;
    o.tls = emu::tls_options{"/nonexistent/cert.pem", "/nonexistent/key.pem"};
    emu::server srv(o);
    std::string err;
    EXPECT_FALSE(srv.start(&err));
    EXPECT_NE(err.find("TLS"), std::string::npos);
}

}  // namespace
