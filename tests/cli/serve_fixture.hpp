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
