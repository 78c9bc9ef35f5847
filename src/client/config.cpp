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

// ---- The account keys: one row each, for TOML and the environment alike ---------------------

enum class kind { text, integer, number, boolean, duration, auth };

struct value {
    std::string text;
    long long integer = 0;
    double number = 0;
    bool boolean = false;
    std::chrono::milliseconds duration{0};
    auth_scheme auth = auth_scheme::bare;
};

using ms = std::chrono::milliseconds;
constexpr double hour = 3'600'000, day = 24 * hour;

// An account key: its TOML name (and another accepted spelling), its NUBEFACT_* variable (and an
// older one still read), its kind, the range of its value (integers, numbers, durations in ms;
// inclusive) and where it goes.
struct key_spec {
    std::string_view toml, toml_alias, env, env_alias;
    kind k;
    double min, max;
    void (*set)(account_config&, const value&);
    double (*get)(const account_config&) = nullptr;  // integers, numbers, durations (ms)
};

constexpr key_spec keys[] = {
    {"name", "", "", "", kind::text, 0, 0, [](account_config& c, const value& v) { c.name = v.text; }},
    {"ruta", "", "NUBEFACT_RUTA", "", kind::text, 0, 0,
     [](account_config& c, const value& v) { c.ruta = v.text; }},
    {"token", "", "NUBEFACT_TOKEN", "", kind::text, 0, 0,
     [](account_config& c, const value& v) { c.token = v.text; }},
    {"auth", "", "NUBEFACT_AUTH", "", kind::auth, 0, 0,
     [](account_config& c, const value& v) { c.auth = v.auth; }},
    {"rate", "", "NUBEFACT_RATE", "", kind::number, 0, 1e6,
     [](account_config& c, const value& v) { c.rate.requests_per_second = v.number; },
     [](const account_config& c) { return static_cast<double>(c.rate.requests_per_second); }},
    {"burst", "", "NUBEFACT_BURST", "", kind::integer, 0, 1e6,
     [](account_config& c, const value& v) { c.rate.burst = static_cast<int>(v.integer); },
     [](const account_config& c) { return static_cast<double>(c.rate.burst); }},
    {"min_interval", "", "NUBEFACT_MIN_INTERVAL", "", kind::duration, 0, hour,
     [](account_config& c, const value& v) { c.rate.min_interval = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.rate.min_interval.count()); }},
    {"max_concurrency", "concurrency", "NUBEFACT_CONCURRENCY", "", kind::integer, 1, 100000,
     [](account_config& c, const value& v) { c.max_concurrency = static_cast<int>(v.integer); },
     [](const account_config& c) { return static_cast<double>(c.max_concurrency); }},
    {"connect_timeout", "", "NUBEFACT_CONNECT_TIMEOUT", "", kind::duration, 1, hour,
     [](account_config& c, const value& v) { c.connect_timeout = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.connect_timeout.count()); }},
    {"request_timeout", "", "NUBEFACT_REQUEST_TIMEOUT", "", kind::duration, 1, day,
     [](account_config& c, const value& v) { c.request_timeout = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.request_timeout.count()); }},
    {"total_timeout", "", "NUBEFACT_TOTAL_TIMEOUT", "", kind::duration, 1, 7 * day,
     [](account_config& c, const value& v) { c.total_timeout = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.total_timeout.count()); }},
    {"idle_timeout", "", "NUBEFACT_IDLE_TIMEOUT", "", kind::duration, 1, day,
     [](account_config& c, const value& v) { c.idle_timeout = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.idle_timeout.count()); }},
    {"retry_attempts", "", "NUBEFACT_RETRY_ATTEMPTS", "", kind::integer, 1, 100,
     [](account_config& c, const value& v) { c.retry.max_attempts = static_cast<int>(v.integer); },
     [](const account_config& c) { return static_cast<double>(c.retry.max_attempts); }},
    {"retry_base", "", "NUBEFACT_RETRY_BASE", "", kind::duration, 0, hour,
     [](account_config& c, const value& v) { c.retry.base = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.retry.base.count()); }},
    {"retry_cap", "", "NUBEFACT_RETRY_CAP", "", kind::duration, 0, day,
     [](account_config& c, const value& v) { c.retry.cap = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.retry.cap.count()); }},
    {"retry_deadline", "", "NUBEFACT_RETRY_DEADLINE", "", kind::duration, 0, 7 * day,
     [](account_config& c, const value& v) { c.retry.total_deadline = v.duration; },
     [](const account_config& c) { return static_cast<double>(c.retry.total_deadline.count()); }},
    {"danger_disable_tls_verification", "", "NUBEFACT_DANGER_DISABLE_TLS_VERIFICATION",
     "NUBEFACT_DANGER_DISABLE_TLS_VERIFY", kind::boolean, 0, 0,
     [](account_config& c, const value& v) { c.danger_disable_tls_verification = v.boolean; }},
    {"ca_file", "", "NUBEFACT_CA_FILE", "", kind::text, 0, 0,
     [](account_config& c, const value& v) { c.ca_file = v.text; }},
    {"audit_bodies", "", "NUBEFACT_AUDIT_BODIES", "", kind::boolean, 0, 0,
     [](account_config& c, const value& v) { c.audit_bodies = v.boolean; }},
    {"validate", "", "NUBEFACT_VALIDATE", "", kind::boolean, 0, 0,
     [](account_config& c, const value& v) { c.validate = v.boolean; }},
    {"max_response_bytes", "", "NUBEFACT_MAX_RESPONSE_BYTES", "", kind::integer, 1024, double(1u << 30),
     [](account_config& c, const value& v) { c.max_response_bytes = static_cast<std::size_t>(v.integer); },
     [](const account_config& c) { return static_cast<double>(c.max_response_bytes); }},
};

const key_spec* find_key(std::string_view toml_key) {
    for (const auto& k : keys)
        if (k.toml == toml_key || (!k.toml_alias.empty() && k.toml_alias == toml_key)) return &k;
    return nullptr;
}

std::string number_text(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

// A numeric key's value as a number (durations in ms); nullopt for the other kinds.
std::optional<double> numeric(const key_spec& k, const value& v) {
    switch (k.k) {
        case kind::integer:
            return static_cast<double>(v.integer);
        case kind::number:
            return v.number;
        case kind::duration:
            return static_cast<double>(v.duration.count());
        default:
            return std::nullopt;
    }
}

// The range of a numeric key's value `x`, or a config_error naming `where` (text keys have none,
// so a token never appears in a message).
void check_range(const key_spec& k, double x, const std::string& where) {
    if (x >= k.min && x <= k.max) return;  // NaN fails
    const std::string unit = k.k == kind::duration ? " ms" : "";
    throw config_error(where + ": must be between " + number_text(k.min) + " and " + number_text(k.max) +
                       unit + ", got " + number_text(x) + unit);
}
void check_range(const key_spec& k, const value& v, const std::string& where) {
    if (auto x = numeric(k, v)) check_range(k, *x, where);
}

// A key's value from its text (environment variables).
value from_text(const key_spec& k, std::string_view text, const std::string& where) {
    value v;
    switch (k.k) {
        case kind::text:
            v.text = std::string(text);
            break;
        case kind::integer:
            v.integer = parse_int(text, where);
            break;
        case kind::number:
            v.number = parse_double(text, where);
            break;
        case kind::boolean:
            v.boolean = parse_bool(text, where);
            break;
        case kind::auth:
            v.auth = parse_auth(text, where);
            break;
        case kind::duration:
            try {
                v.duration = parse_duration(text);
            } catch (const config_error& e) {
                throw config_error(where + ": " + e.what());
            }
            break;
    }
    return v;
}

// A key's value from a TOML node.
value from_toml(const key_spec& k, const toml::node& n, const std::string& where) {
    value v;
    switch (k.k) {
        case kind::text:
        case kind::auth:
            if (auto s = n.value<std::string>())
                return k.k == kind::text ? value{*s} : from_text(k, *s, where);
            throw config_error(where + ": expected a string");
        case kind::integer:
            if (auto i = n.value_exact<int64_t>()) {
                v.integer = *i;
                return v;
            }
            throw config_error(where + ": expected an integer");
        case kind::number:
            if (auto d = n.value<double>()) {
                v.number = *d;
                return v;
            }
            throw config_error(where + ": expected a number");
        case kind::boolean:
            if (auto b = n.value_exact<bool>()) {
                v.boolean = *b;
                return v;
            }
            throw config_error(where + ": expected true or false");
        case kind::duration:
            if (auto i = n.value_exact<int64_t>()) {
                check_range(k, static_cast<double>(*i), where);
                v.duration = ms(*i);
                return v;
            }
            if (auto s = n.value<std::string>()) return from_text(k, *s, where);
            throw config_error(where + ": expected a duration (\"500ms\", \"10s\") or milliseconds");
    }
    return v;
}

// One key of an account table, from TOML. Returns false for an unknown key.
bool apply_toml_key(account_config& c, const std::string& key, const toml::node& n,
                    const std::string& where) {
    const key_spec* k = find_key(key);
    if (!k) return false;
    const value v = from_toml(*k, n, where);
    check_range(*k, v, where);
    k->set(c, v);
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
    if (!(ms <= 1e15))  // ~31,700 years: beyond, the conversion would overflow
        throw config_error("duration '" + std::string(text) + "' is too long");
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
    for (const auto& k : keys) {
        for (auto name : {k.env, k.env_alias}) {
            if (name.empty()) continue;
            const std::string var(name);
            auto text = env(var.c_str());
            if (!text) continue;
            const value v = from_text(k, *text, var);
            check_range(k, v, var);
            k.set(c, v);
            break;  // the current name wins over the older one
        }
    }
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
    for (const auto& k : keys) {
        if (!k.get) continue;
        check_range(k, k.get(c), n + std::string(k.toml));
    }
}

}  // namespace nubefact
