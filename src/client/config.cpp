// Account configuration: duration parsing, TOML (toml++) and NUBEFACT_* environment loading.
#include <nubefact/config.hpp>

#include <toml++/toml.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace nubefact {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool parse_bool(std::string_view text, const std::string& where) {
    auto v = lower(text);
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    throw config_error(where + ": expected true/false, got '" + std::string(text) + "'");
}

long long parse_int(std::string_view text, const std::string& where) {
    long long v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size())
        throw config_error(where + ": expected an integer, got '" + std::string(text) + "'");
    return v;
}

double parse_double(std::string_view text, const std::string& where) {
    std::string s(text);
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0)
        throw config_error(where + ": expected a number, got '" + s + "'");
    return v;
}

auth_scheme parse_auth(std::string_view text, const std::string& where) {
    auto v = lower(text);
    if (v == "bare") return auth_scheme::bare;
    if (v == "token" || v == "token_token") return auth_scheme::token_token;
    throw config_error(where + ": expected 'bare' or 'token', got '" + std::string(text) + "'");
}

// One key of an account table, from TOML. Returns false for an unknown key.
bool apply_toml_key(account_config& c, const std::string& key, const toml::node& n,
                    const std::string& where) {
    auto as_string = [&]() -> std::string {
        if (auto s = n.value<std::string>()) return *s;
        throw config_error(where + ": expected a string");
    };
    auto as_int = [&]() -> long long {
        if (auto v = n.value_exact<int64_t>()) return *v;
        throw config_error(where + ": expected an integer");
    };
    auto as_bool = [&]() -> bool {
        if (auto v = n.value_exact<bool>()) return *v;
        throw config_error(where + ": expected true or false");
    };
    auto as_double = [&]() -> double {
        if (auto v = n.value<double>()) return *v;
        throw config_error(where + ": expected a number");
    };
    auto as_duration = [&]() -> std::chrono::milliseconds {
        if (auto v = n.value_exact<int64_t>()) return std::chrono::milliseconds(*v);
        if (auto s = n.value<std::string>()) {
            try {
                return parse_duration(*s);
            } catch (const config_error& e) {
                throw config_error(where + ": " + e.what());
            }
        }
        throw config_error(where + ": expected a duration (\"500ms\", \"10s\") or milliseconds");
    };
    if (key == "name")
        c.name = as_string();
    else if (key == "ruta")
        c.ruta = as_string();
    else if (key == "token")
        c.token = as_string();
    else if (key == "auth")
        c.auth = parse_auth(as_string(), where);
    else if (key == "rate")
        c.rate.requests_per_second = as_double();
    else if (key == "burst")
        c.rate.burst = static_cast<int>(as_int());
    else if (key == "min_interval")
        c.rate.min_interval = as_duration();
    else if (key == "max_concurrency" || key == "concurrency")
        c.max_concurrency = static_cast<int>(as_int());
    else if (key == "connect_timeout")
        c.connect_timeout = as_duration();
    else if (key == "request_timeout")
        c.request_timeout = as_duration();
    else if (key == "total_timeout")
        c.total_timeout = as_duration();
    else if (key == "idle_timeout")
        c.idle_timeout = as_duration();
    else if (key == "retry_attempts")
        c.retry.max_attempts = static_cast<int>(as_int());
    else if (key == "retry_base")
        c.retry.base = as_duration();
    else if (key == "retry_cap")
        c.retry.cap = as_duration();
    else if (key == "retry_deadline")
        c.retry.total_deadline = as_duration();
    else if (key == "danger_disable_tls_verification")
        c.danger_disable_tls_verification = as_bool();
    else if (key == "ca_file")
        c.ca_file = as_string();
    else if (key == "audit_bodies")
        c.audit_bodies = as_bool();
    else if (key == "validate")
        c.validate = as_bool();
    else if (key == "max_response_bytes")
        c.max_response_bytes = static_cast<std::size_t>(as_int());
    else
        return false;
    return true;
}

void apply_table(account_config& c, const toml::table& t, const std::string& prefix) {
    for (const auto& [k, v] : t) {
        std::string key(k.str());
        std::string where = prefix + "." + key;
        if (!apply_toml_key(c, key, v, where)) throw config_error(where + ": unknown key");
    }
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
    std::string_view t = text;
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    std::size_t i = 0;
    while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
    if (i == 0) throw config_error("bad duration '" + std::string(text) + "'");
    double v = parse_double(t.substr(0, i), "duration");
    auto unit = t.substr(i);
    double ms = 0;
    if (unit.empty() || unit == "ms")
        ms = v;
    else if (unit == "s")
        ms = v * 1000;
    else if (unit == "m" || unit == "min")
        ms = v * 60'000;
    else if (unit == "h")
        ms = v * 3'600'000;
    else
        throw config_error("bad duration unit in '" + std::string(text) + "' (use ms, s, m, h)");
    return std::chrono::milliseconds(static_cast<long long>(ms + 0.5));
}

std::vector<account_config> load_accounts_toml(std::string_view text, std::string_view source) {
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        std::ostringstream os;
        os << source << ":" << e.source().begin.line << ": " << e.description();
        throw config_error(os.str());
    }
    std::string src(source);
    account_config defaults;
    std::vector<account_config> out;
    if (auto* d = root["defaults"].as_table()) apply_table(defaults, *d, src + ": defaults");
    if (auto* accounts = root["accounts"].as_table()) {
        for (const auto& [name, node] : *accounts) {
            auto* t = node.as_table();
            std::string where = src + ": accounts." + std::string(name.str());
            if (!t) throw config_error(where + ": expected a table");
            account_config c = defaults;
            c.name = std::string(name.str());
            apply_table(c, *t, where);
            out.push_back(std::move(c));
        }
    }
    // Top-level keys (besides the two tables) describe one account named "default".
    account_config single = defaults;
    bool has_single = false;
    for (const auto& [k, v] : root) {
        std::string key(k.str());
        if (key == "defaults" || key == "accounts") continue;
        if (!apply_toml_key(single, key, v, src + ": " + key))
            throw config_error(src + ": " + key + ": unknown key");
        has_single = true;
    }
    if (has_single) out.insert(out.begin(), std::move(single));
    return out;
}

std::vector<account_config> load_accounts_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw config_error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return load_accounts_toml(ss.str(), path);
}

env_lookup process_env() {
    return [](const char* name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name)) return std::string(v);
        return std::nullopt;
    };
}

void apply_env(account_config& c, const env_lookup& env) {
    auto get = [&](const char* n) { return env(n); };
    auto dur = [&](const char* n, std::chrono::milliseconds& field) {
        if (auto v = get(n)) {
            try {
                field = parse_duration(*v);
            } catch (const config_error& e) {
                throw config_error(std::string(n) + ": " + e.what());
            }
        }
    };
    if (auto v = get("NUBEFACT_RUTA")) c.ruta = *v;
    if (auto v = get("NUBEFACT_TOKEN")) c.token = *v;
    if (auto v = get("NUBEFACT_AUTH")) c.auth = parse_auth(*v, "NUBEFACT_AUTH");
    if (auto v = get("NUBEFACT_RATE")) c.rate.requests_per_second = parse_double(*v, "NUBEFACT_RATE");
    if (auto v = get("NUBEFACT_BURST")) c.rate.burst = static_cast<int>(parse_int(*v, "NUBEFACT_BURST"));
    dur("NUBEFACT_MIN_INTERVAL", c.rate.min_interval);
    if (auto v = get("NUBEFACT_CONCURRENCY"))
        c.max_concurrency = static_cast<int>(parse_int(*v, "NUBEFACT_CONCURRENCY"));
    dur("NUBEFACT_CONNECT_TIMEOUT", c.connect_timeout);
    dur("NUBEFACT_REQUEST_TIMEOUT", c.request_timeout);
    dur("NUBEFACT_TOTAL_TIMEOUT", c.total_timeout);
    dur("NUBEFACT_IDLE_TIMEOUT", c.idle_timeout);
    if (auto v = get("NUBEFACT_RETRY_ATTEMPTS"))
        c.retry.max_attempts = static_cast<int>(parse_int(*v, "NUBEFACT_RETRY_ATTEMPTS"));
    dur("NUBEFACT_RETRY_BASE", c.retry.base);
    dur("NUBEFACT_RETRY_CAP", c.retry.cap);
    dur("NUBEFACT_RETRY_DEADLINE", c.retry.total_deadline);
    if (auto v = get("NUBEFACT_CA_FILE")) c.ca_file = *v;
    if (auto v = get("NUBEFACT_AUDIT_BODIES")) c.audit_bodies = parse_bool(*v, "NUBEFACT_AUDIT_BODIES");
    if (auto v = get("NUBEFACT_VALIDATE")) c.validate = parse_bool(*v, "NUBEFACT_VALIDATE");
    if (auto v = get("NUBEFACT_DANGER_DISABLE_TLS_VERIFY"))
        c.danger_disable_tls_verification = parse_bool(*v, "NUBEFACT_DANGER_DISABLE_TLS_VERIFY");
}

account_config load_account(const std::string& toml_path, const std::string& account, const env_lookup& env) {
    std::string wanted = account;
    if (wanted.empty())
        if (auto v = env("NUBEFACT_ACCOUNT")) wanted = *v;
    account_config cfg;
    if (!toml_path.empty()) {
        auto all = load_accounts_file(toml_path);
        if (!wanted.empty()) {
            bool found = false;
            for (auto& a : all)
                if (a.name == wanted) {
                    cfg = a;
                    found = true;
                    break;
                }
            if (!found) throw config_error(toml_path + ": no account named '" + wanted + "'");
        } else if (!all.empty()) {
            cfg = all.front();
        }
    } else if (!wanted.empty()) {
        cfg.name = wanted;
    }
    apply_env(cfg, env);
    return cfg;
}

void validate_config(const account_config& c) {
    std::string n = "account '" + c.name + "': ";
    if (c.ruta.empty()) throw config_error(n + "ruta is empty (set it in the file or NUBEFACT_RUTA)");
    if (c.ruta.rfind("http://", 0) != 0 && c.ruta.rfind("https://", 0) != 0)
        throw config_error(n + "ruta must start with http:// or https://");
    if (c.token.empty()) throw config_error(n + "token is empty (set it in the file or NUBEFACT_TOKEN)");
    // It goes verbatim into the Authorization header: a CR, LF or other control byte would split it.
    for (unsigned char ch : c.token)
        if (ch < 0x20 || ch == 0x7f) throw config_error(n + "token contains a control character (not shown)");
    if (c.max_concurrency < 1) throw config_error(n + "max_concurrency must be >= 1");
    if (c.rate.burst < 0) throw config_error(n + "burst must be >= 0");
    if (c.retry.max_attempts < 1) throw config_error(n + "retry_attempts must be >= 1");
    if (c.connect_timeout.count() <= 0 || c.request_timeout.count() <= 0 || c.total_timeout.count() <= 0)
        throw config_error(n + "timeouts must be positive");
}

}  // namespace nubefact
