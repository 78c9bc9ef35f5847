// Emulator configuration: accounts file, latency / fault / SUNAT-rejection specs, test clock.
#include <nubefact/emulator.hpp>

#include "protocol.hpp"

#include <sys/resource.h>
#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace nubefact::emulator {
namespace {

void set_error(std::string* e, std::string msg) {
    if (e) *e = std::move(msg);
}

error_code bad_arg() {
    return make_error_code(std::errc::invalid_argument);
}

// Milliseconds with an optional fraction -> microseconds.
std::optional<std::chrono::microseconds> parse_ms(std::string_view s) {
    if (s.empty()) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < 0 || v > 3.6e6) return std::nullopt;
    return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(v * 1000)));
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        auto i = s.find(sep);
        out.push_back(s.substr(0, i));
        if (i == std::string_view::npos) break;
        s.remove_prefix(i + 1);
    }
    return out;
}

}  // namespace

manual_clock::manual_clock(std::chrono::system_clock::time_point start)
    : ms_(std::make_shared<std::atomic<std::int64_t>>(
          std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count())) {}

std::chrono::system_clock::time_point manual_clock::now() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_->load()));
}
void manual_clock::advance(std::chrono::milliseconds d) {
    ms_->fetch_add(d.count());
}
void manual_clock::set(std::chrono::system_clock::time_point t) {
    ms_->store(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}
clock_fn manual_clock::fn() const {
    auto p = ms_;  // shared: the clock_fn stays valid even if this object goes away
    return [p] { return std::chrono::system_clock::time_point(std::chrono::milliseconds(p->load())); };
}

account demo_account() {
    account a;
    a.ruta_id = "demo";
    a.tokens = {"demo-token"};
    return a;
}

result<std::vector<account>> load_accounts(const std::string& path, std::string* error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        set_error(error, "cannot open accounts file " + path);
        return make_error_code(std::errc::no_such_file_or_directory);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    auto v = boost::json::parse(ss.str(), ec);
    if (ec || !v.is_array()) {
        set_error(error,
                  path + ": expected a JSON array of accounts" + (ec ? " (" + ec.message() + ")" : ""));
        return bad_arg();
    }
    std::vector<account> out;
    std::size_t i = 0;
    for (auto& e : v.as_array()) {
        std::string where = path + ": [" + std::to_string(i++) + "]";
        if (!e.is_object()) {
            set_error(error, where + " is not an object");
            return bad_arg();
        }
        auto& o = e.as_object();
        account a;
        if (auto* r = o.if_contains("ruta"); r && r->is_string()) a.ruta_id = std::string(r->as_string());
        if (a.ruta_id.empty() || a.ruta_id.find('/') != std::string::npos) {
            set_error(error, where + ".ruta must be a non-empty string without '/'");
            return bad_arg();
        }
        if (auto* t = o.if_contains("tokens"); t && t->is_array()) {
            for (auto& tok : t->as_array())
                if (tok.is_string() && !tok.as_string().empty()) a.tokens.emplace_back(tok.as_string());
        } else if (auto* t1 = o.if_contains("token"); t1 && t1->is_string()) {
            a.tokens.emplace_back(t1->as_string());
        }
        if (a.tokens.empty()) {
            set_error(error, where + ".tokens must hold at least one token");
            return bad_arg();
        }
        if (auto* s = o.if_contains("state"); s && s->is_string()) {
            std::string_view st = s->as_string();
            if (st == "active")
                a.state = account_state::active;
            else if (st == "suspended")
                a.state = account_state::suspended;
            else if (st == "suspended_nonpayment")
                a.state = account_state::suspended_nonpayment;
            else {
                set_error(error, where + ".state must be active, suspended or suspended_nonpayment");
                return bad_arg();
            }
        }
        if (auto* r = o.if_contains("ruc"); r && r->is_string()) a.ruc = std::string(r->as_string());
        out.push_back(std::move(a));
    }
    if (out.empty()) {
        set_error(error, path + ": no accounts");
        return bad_arg();
    }
    return out;
}

result<latency_model> latency_model::parse(std::string_view text, std::string* error) {
    latency_model m;
    auto fail = [&]() -> result<latency_model> {
        set_error(error, "latency must be none, fixed:MS, uniform:A-B or lognormal:MEDIAN,P99 (got '" +
                             std::string(text) + "')");
        return bad_arg();
    };
    if (text == "none" || text == "0" || text.empty()) return m;
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return fail();
    auto k = text.substr(0, colon);
    auto rest = text.substr(colon + 1);
    if (k == "fixed") {
        auto v = parse_ms(rest);
        if (!v) return fail();
        m.k = kind::fixed;
        m.a = *v;
    } else if (k == "uniform") {
        auto parts = split(rest, '-');
        if (parts.size() != 2) return fail();
        auto a = parse_ms(parts[0]), b = parse_ms(parts[1]);
        if (!a || !b || *b < *a) return fail();
        m.k = kind::uniform;
        m.a = *a;
        m.b = *b;
    } else if (k == "lognormal") {
        auto parts = split(rest, ',');
        if (parts.size() != 2) return fail();
        auto a = parse_ms(parts[0]), b = parse_ms(parts[1]);
        if (!a || !b || a->count() <= 0 || *b < *a) return fail();
        m.k = kind::lognormal;
        m.a = *a;
        m.b = *b;
    } else {
        return fail();
    }
    return m;
}

std::string latency_model::to_string() const {
    auto ms = [](std::chrono::microseconds us) {
        auto s = std::to_string(us.count() / 1000);
        if (us.count() % 1000) {
            auto f = std::to_string(1000 + us.count() % 1000).substr(1);
            while (!f.empty() && f.back() == '0') f.pop_back();
            s += "." + f;
        }
        return s;
    };
    switch (k) {
        case kind::none:
            return "none";
        case kind::fixed:
            return "fixed:" + ms(a);
        case kind::uniform:
            return "uniform:" + ms(a) + "-" + ms(b);
        case kind::lognormal:
            return "lognormal:" + ms(a) + "," + ms(b);
    }
    return "none";
}

std::string_view to_string(fault_kind k) noexcept {
    switch (k) {
        case fault_kind::http_500:
            return "500";
        case fault_kind::reset:
            return "reset";
        case fault_kind::commit_drop:
            return "commit_drop";
        case fault_kind::stall:
            return "stall";
        case fault_kind::truncate:
            return "truncate";
        case fault_kind::malformed:
            return "malformed";
        case fault_kind::http_429:
            return "429";
        case fault_kind::http_503:
            return "503";
    }
    return "?";
}

std::optional<fault_kind> fault_kind_from_string(std::string_view s) noexcept {
    for (int i = 0; i < fault_kind_count; ++i)
        if (to_string(static_cast<fault_kind>(i)) == s) return static_cast<fault_kind>(i);
    if (s == "http_500") return fault_kind::http_500;
    if (s == "http_429") return fault_kind::http_429;
    if (s == "http_503") return fault_kind::http_503;
    return std::nullopt;
}

bool fault_rates::any() const noexcept {
    for (double x : p)
        if (x > 0) return true;
    return false;
}

result<fault_rates> fault_rates::parse(std::string_view text, std::string* error) {
    fault_rates r;
    if (text.empty() || text == "none") return r;
    double sum = 0;
    for (auto part : split(text, ',')) {
        auto colon = part.find(':');
        auto kind = fault_kind_from_string(part.substr(0, colon));
        double v = -1;
        if (colon != std::string_view::npos) {
            auto num = part.substr(colon + 1);
            auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
            if (ec != std::errc{} || p != num.data() + num.size()) v = -1;
        }
        if (!kind || v < 0 || v > 1) {
            set_error(error,
                      "fault spec '" + std::string(part) +
                          "' must be KIND:PROBABILITY with KIND one of 500, reset, commit_drop, stall, "
                          "truncate, malformed, 429, 503 and 0 <= PROBABILITY <= 1");
            return bad_arg();
        }
        r.p[static_cast<int>(*kind)] = v;
    }
    for (double x : r.p) sum += x;
    if (sum > 1.0 + 1e-9) {
        set_error(error, "fault probabilities add up to more than 1");
        return bad_arg();
    }
    return r;
}

result<std::vector<reject_rule>> parse_reject_rules(std::string_view text, std::string* error) {
    std::vector<reject_rule> out;
    if (text.empty() || text == "none") return out;
    for (auto part : split(text, ',')) {
        reject_rule r;
        auto fail = [&]() -> result<std::vector<reject_rule>> {
            set_error(error, "SUNAT rejection rule '" + std::string(part) +
                                 "' must be all, serie=XXXX, tipo=N, total>N (>=, <, <=) or numero%N, "
                                 "optionally followed by :CODE");
            return bad_arg();
        };
        auto colon = part.find(':');
        if (colon != std::string_view::npos) {
            r.code = std::string(part.substr(colon + 1));
            part = part.substr(0, colon);
            if (r.code.empty() || r.code.size() > 4 ||
                r.code.find_first_not_of("0123456789") != std::string::npos)
                return fail();
        }
        auto to_int = [](std::string_view s, std::int64_t& v) {
            auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            return ec == std::errc{} && p == s.data() + s.size();
        };
        if (part == "all") {
            r.k = reject_rule::kind::all;
        } else if (part.starts_with("serie=")) {
            r.k = reject_rule::kind::serie;
            r.text = std::string(part.substr(6));
            if (r.text.empty()) return fail();
        } else if (part.starts_with("tipo=")) {
            r.k = reject_rule::kind::tipo;
            if (!to_int(part.substr(5), r.value)) return fail();
        } else if (part.starts_with("numero%")) {
            r.k = reject_rule::kind::numero_mod;
            if (!to_int(part.substr(7), r.value) || r.value <= 0) return fail();
        } else if (part.starts_with("total")) {
            auto op = part.substr(5);
            std::string_view num;
            if (op.starts_with(">=")) {
                r.k = reject_rule::kind::total_ge;
                num = op.substr(2);
            } else if (op.starts_with("<=")) {
                r.k = reject_rule::kind::total_le;
                num = op.substr(2);
            } else if (op.starts_with(">")) {
                r.k = reject_rule::kind::total_gt;
                num = op.substr(1);
            } else if (op.starts_with("<")) {
                r.k = reject_rule::kind::total_lt;
                num = op.substr(1);
            } else {
                return fail();
            }
            auto c = detail::parse_cents(num);
            if (!c) return fail();
            r.value = *c;
        } else {
            return fail();
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::uint64_t raise_fd_limit() noexcept {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

}  // namespace nubefact::emulator
