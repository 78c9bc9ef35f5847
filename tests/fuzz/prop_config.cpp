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
    // Loads the TOML, then applies `vars`: a verdict on the accounts, or the config_error's text.
    struct loaded {
        verdict broken;
        std::optional<std::string> error;
    };
    auto load = [&toml](const std::map<std::string, std::string>& vars) -> loaded {
        const env_lookup lookup = [&vars](const char* name) -> std::optional<std::string> {
            auto it = vars.find(name);
            if (it == vars.end()) return std::nullopt;
            return it->second;
        };
        try {
            auto accounts = load_accounts_toml(toml, "fuzz.toml");
            for (auto& a : accounts)
                if (auto v = sane(a)) return {v, std::nullopt};
            nubefact::account_config a = accounts.empty() ? nubefact::account_config{} : accounts.front();
            apply_env(a, lookup);
            return {sane(a), std::nullopt};
        } catch (const config_error& e) {
            if (std::string_view(e.what()).empty()) return {"a configuration error without a message", ""};
            return {std::nullopt, std::string(e.what())};
        } catch (const std::exception& e) {
            return {std::string("not a config_error: ") + e.what(), std::nullopt};
        }
    };
    auto first = load(env);
    if (first.broken) return first.broken;
    // The token never shows: with NUBEFACT_TOKEN set to a marker no message of ours contains (the
    // fuzzer's own token text may be a word of a fixed message, or part of another bad value), no
    // error quotes the marker.
    // (The fuzzer learns the marker from this very comparison: an input that holds it elsewhere
    // is not a leak.)
    if (env.count("NUBEFACT_TOKEN") && bytes.find("zq-fuzz-token-marker-zq") == std::string_view::npos) {
        auto marked = env;
        marked["NUBEFACT_TOKEN"] = "zq-fuzz-token-marker-zq";
        auto second = load(marked);
        if (second.broken) return second.broken;
        if (second.error && second.error->find("zq-fuzz-token-marker-zq") != std::string::npos)
            return "a configuration error shows NUBEFACT_TOKEN's value: " + *second.error;
    }
    return std::nullopt;
}

}  // namespace nubefact::fuzz
