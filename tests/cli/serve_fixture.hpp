// What the tests of the real `nubefact serve` binary share: an emulator process with two accounts,
// a store holding both (`nubefact accounts add`) and a key for each (`nubefact keys create`), a
// `nubefact serve` process on 127.0.0.1:0, and a plain HTTP/1.1 client.
#pragma once

#include "cli_util.hpp"
#include "documents.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace nubefact::test::cli;
namespace json = boost::json;

struct http_reply {
    int status = 0;  // 0: no answer (connection closed, timeout)
    std::string head, body;
    json::object json() const {
        auto v = json::parse(body);
        return v.is_object() ? v.as_object() : json::object{};
    }
    std::int64_t codigo() const {
        auto o = json();
        return o.contains("codigo") ? o.at("codigo").to_number<std::int64_t>() : -1;
    }
    std::string errors() const {
        auto o = json();
        return o.contains("errors") ? std::string(o.at("errors").as_string()) : std::string();
    }
};

// Sends `raw` to 127.0.0.1:port and reads until the server closes (bounded by `timeout_s`).
inline http_reply http_raw(int port, const std::string& raw, int timeout_s = 10) {
    http_reply r;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return r;
    timeval tv{timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string resp;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        std::size_t sent = 0;
        while (sent < raw.size()) {
            const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<std::size_t>(n);
        }
        char buf[16384];
        for (;;) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            resp.append(buf, static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    const auto h = resp.find("\r\n\r\n");
    if (h == std::string::npos || resp.rfind("HTTP/1.", 0) != 0) return r;
    r.status = std::atoi(resp.c_str() + 9);
    r.head = resp.substr(0, h);
    r.body = resp.substr(h + 4);
    return r;
}

// A POST as a Nubefact client sends it; `authorization` empty: no header.
inline http_reply http_post(int port, const std::string& target, const std::string& body,
                            const std::string& authorization,
                            const std::string& content_type = "application/json") {
    std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
    if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return http_raw(port, req);
}

inline http_reply http_get_reply(int port, const std::string& target) {
    return http_raw(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

// `doc` with another customer name: the same number, other content.
inline std::string other_content(std::string doc) {
    const auto p = doc.find("CLIENTE SAC");
    if (p != std::string::npos) doc.replace(p, 11, "OTRO CLIENTE SAC");
    return doc;
}

inline std::string consulta(int numero, const std::string& serie = "F001") {
    return fmt::format(
        R"({{"operacion":"consultar_comprobante","tipo_de_comprobante":1,"serie":"{}","numero":{}}})", serie,
        numero);
}

struct key {
    std::string ruta, token;
    std::string target() const { return "/api/v1/" + ruta; }
    std::string auth() const { return "Token token=\"" + token + "\""; }
};

class ServeCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* bin = std::getenv("NUBEFACT_BINARY");
        if (!bin || !fs::exists(bin)) GTEST_SKIP() << "NUBEFACT_BINARY not set or missing";
        binary_ = bin;
        dir_ = fresh_scratch_dir("serve");
        store_ = "sqlite:" + (dir_ / "gateway.db").string();
    }
    void TearDown() override {
        if (serve_ && serve_->running()) {
            serve_->signal(SIGTERM);
            serve_->wait(std::chrono::seconds(20));
        }
        remove_scratch_dir(dir_);
    }

    run_result cli(std::vector<std::string> args, const std::string& input = "") {
        return run(binary_, args, dir_, input, spawn_options{dir_, {}});
    }

    // An emulator with accounts acme and beta (separate Nubefact accounts), both in the store,
    // and a key for each. `emulator_args` go to `nubefact emulator` (e.g. --latency).
    void start_upstream(std::vector<std::string> emulator_args = {}) {
        spit(
            dir_ / "accounts.json",
            R"([{"ruta":"acme-ruta","tokens":["acme-token"]},{"ruta":"beta-ruta","tokens":["beta-token"]}])");
        emulator_args.insert(emulator_args.begin(), {"--accounts", (dir_ / "accounts.json").string()});
        emulator_ = std::make_unique<emulator_process>(binary_, dir_, emulator_args);
        ASSERT_GT(emulator_->port, 0) << emulator_->proc->out() << emulator_->proc->err();
        for (std::string name : {"acme", "beta"}) {
            auto r = cli({"accounts", "add", "--store", store_, "--name", name, "--ruta",
                          fmt::format("http://127.0.0.1:{}/api/v1/{}-ruta", emulator_->port, name), "--rate",
                          "0", "--token-stdin"},
                         name + "-token\n");
            ASSERT_EQ(r.rc, 0) << r.out << r.err;
        }
        acme_ = make_key("acme");
        beta_ = make_key("beta");
    }

    key make_key(const std::string& account) {
        auto r = cli({"keys", "create", "--store", store_, "--account", account, "--json"});
        EXPECT_EQ(r.rc, 0) << r.out << r.err;
        auto o = json::parse(r.out).as_object();
        return {std::string(o.at("ruta").as_string()), std::string(o.at("token").as_string())};
    }

    // `nubefact serve --listen 127.0.0.1:0 --store … ARGS…`; the port it printed.
    int start_serve(std::vector<std::string> args = {}) {
        args.insert(args.begin(), {"serve", "--listen", "127.0.0.1:0", "--store", store_});
        serve_ = std::make_unique<background>(binary_, args, dir_, "serve" + std::to_string(++serves_));
        EXPECT_TRUE(serve_->wait_for_output("\n")) << serve_->err();
        const auto url = value_after(serve_->out(), "http://127.0.0.1:");
        port_ = std::atoi(url.c_str());
        EXPECT_GT(port_, 0) << serve_->out() << serve_->err();
        return port_;
    }

    http_reply post(const key& k, const std::string& body) {
        return http_post(port_, k.target(), body, k.auth());
    }

    // What serve wrote (stdout and stderr) holds no token and no ruta of the keys.
    void expect_no_secrets_logged() {
        const auto all = serve_->out() + serve_->err();
        for (const auto* k : {&acme_, &beta_}) {
            if (k->token.empty()) continue;
            EXPECT_EQ(all.find(k->token), std::string::npos) << "token in serve's output:\n" << all;
            EXPECT_EQ(all.find(k->ruta), std::string::npos) << "ruta in serve's output:\n" << all;
        }
    }

    std::string binary_;
    fs::path dir_;
    std::string store_;
    std::unique_ptr<emulator_process> emulator_;
    std::unique_ptr<background> serve_;
    int serves_ = 0;
    int port_ = 0;
    key acme_, beta_;
};

}  // namespace
