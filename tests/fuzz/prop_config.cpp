// Property of the account configuration loader: see properties.hpp.
#include "properties.hpp"

#include <nubefact/config.hpp>

#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <map>

namespace nubefact::fuzz {
namespace {

// Sane values whatever was written: the loader checks ranges, so none of these can come through.
verdict sane(const nubefact::account_config& a) {
    if (!(a.rate.requests_per_second >= 0) || !std::isfinite(a.rate.requests_per_second))
        return fmt::format("account {}: rate {}", a.name, a.rate.requests_per_second);
    if (a.retry.max_attempts < 1) return fmt::format("account {}: {} attempts", a.name, a.retry.max_attempts);
    if (a.connect_timeout.count() < 0 || a.request_timeout.count() < 0 || a.total_timeout.count() < 0)
        return fmt::format("account {}: a negative timeout", a.name);
    return std::nullopt;
}

}  // namespace

// Input: a TOML document, then (after a NUL byte) NUBEFACT_* variables as NAME=VALUE lines.
verdict account_config(std::string_view bytes) {
    const auto nul = bytes.find('\0');
    const std::string_view toml = bytes.substr(0, nul);
    std::map<std::string, std::string> env;
    if (nul != std::string_view::npos) {
        std::string_view rest = bytes.substr(nul + 1);
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            const std::string_view line = rest.substr(0, nl);
            rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
            const auto eq = line.find('=');
            if (eq == std::string_view::npos) continue;
            env["NUBEFACT_" + std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
        }
    }
    const env_lookup lookup = [&env](const char* name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
    const auto token = env.count("NUBEFACT_TOKEN") ? env["NUBEFACT_TOKEN"] : std::string();
    try {
        auto accounts = load_accounts_toml(toml, "fuzz.toml");
        for (auto& a : accounts)
            if (auto v = sane(a)) return v;
        nubefact::account_config a = accounts.empty() ? nubefact::account_config{} : accounts.front();
        apply_env(a, lookup);
        if (auto v = sane(a)) return v;
    } catch (const config_error& e) {
        // The token's text may also be part of another value (a bad NUBEFACT_RETRY_CAP=1x<token>),
        // which a message may quote: only the token's own value must never be shown.
        bool elsewhere = toml.find(token) != std::string_view::npos;
        for (const auto& [name, value] : env)
            elsewhere |= name != "NUBEFACT_TOKEN" && value.find(token) != std::string::npos;
        if (token.size() >= 6 && !elsewhere &&
            std::string_view(e.what()).find(token) != std::string_view::npos)
            return "a configuration error shows NUBEFACT_TOKEN's value";
        if (std::string_view(e.what()).empty()) return "a configuration error without a message";
    } catch (const std::exception& e) {
        return std::string("not a config_error: ") + e.what();
    }
    return std::nullopt;
}

}  // namespace nubefact::fuzz
