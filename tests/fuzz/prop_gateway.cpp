// Property of the gateway's request handling (`nubefact serve`), from raw bytes over loopback: see
// properties.hpp.
#include "http_raw.hpp"

#include <nubefact/gateway.hpp>
#include <nubefact/store.hpp>

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace nubefact::fuzz {
namespace {

// One gateway for the whole process over a SQLite store in a fresh temporary directory, with one
// account (sending to the shared emulator) and one API key. Short timeouts and a short upstream
// wait, so that no input holds a connection longer than the exchange's deadline.
struct the_gateway {
    std::string dir, ruta, token;
    std::unique_ptr<store::store> db;
    std::unique_ptr<gateway::server> srv;

    the_gateway() {
        // A log line per request is most of an execution's time (and gigabytes over a campaign);
        // NUBEFACT_FUZZ_SHOW=1 keeps them.
        if (!std::getenv("NUBEFACT_FUZZ_SHOW")) spdlog::set_level(spdlog::level::off);
        const char* tmp = std::getenv("TMPDIR");
        std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/nubefact-fuzz-gw.XXXXXX";
        if (!::mkdtemp(tmpl.data())) std::abort();
        dir = tmpl;
        auto opened = store::open_store("sqlite:" + dir + "/gateway.db");
        if (!opened) std::abort();
        db = std::move(*opened);
        auto& emu = shared_emulator();
        store::account a;
        a.config.name = "fuzz";
        a.config.ruta = emu.ruta_url();
        a.config.token = emu.first_account().tokens.front();
        a.config.rate.requests_per_second = 0;
        a.config.retry.max_attempts = 2;
        if (!db->add_account(a)) std::abort();
        auto k = gateway::make_api_key("fuzz");
        if (!db->add_api_key(k.key)) std::abort();
        ruta = k.key.ruta;
        token = k.token;
        gateway::options o;
        o.limit.max_body = 64 << 10;
        o.limit.read_timeout = std::chrono::milliseconds(1000);
        o.limit.idle_timeout = std::chrono::milliseconds(1000);
        o.limit.write_timeout = std::chrono::milliseconds(1000);
        o.upstream_wait = std::chrono::milliseconds(1500);
        srv = std::make_unique<gateway::server>(*db, o);
        if (!srv->start()) std::abort();
    }
    ~the_gateway() {
        srv.reset();
        db.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
};

the_gateway& shared_gateway() {
    static the_gateway g;
    return g;
}

// The input with the placeholders RUTA_ and TOKEN_ replaced by the key's, so that the fuzzer
// reaches the authenticated paths (a seed: "POST /api/v1/RUTA_ … Authorization: Token TOKEN_").
std::string with_key(std::string_view bytes, const the_gateway& g) {
    std::string out(bytes);
    for (const auto& [mark, value] : {std::pair<std::string_view, const std::string&>{"RUTA_", g.ruta},
                                      std::pair<std::string_view, const std::string&>{"TOKEN_", g.token}}) {
        for (auto at = out.find(mark); at != std::string::npos; at = out.find(mark, at + value.size()))
            out.replace(at, mark.size(), value);
    }
    return out;
}

}  // namespace

verdict gateway_http(std::string_view bytes) {
    auto& g = shared_gateway();
    const std::string request = with_key(bytes, g);
    std::string answers;
    if (auto broken = raw_http_exchange(g.srv->port(), request, &answers)) return broken;
    // The token is a secret: no answer carries it back (the ruta may be named).
    if (answers.find(g.token) != std::string::npos) return "an answer shows the API key's token";
    static const bool show = std::getenv("NUBEFACT_FUZZ_SHOW") != nullptr;  // to read what was answered
    if (show) std::fprintf(stderr, "--- answered:\n%s\n", answers.c_str());
    return std::nullopt;
}

}  // namespace nubefact::fuzz
