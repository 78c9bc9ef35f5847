// Helpers shared by the store subcommands (accounts, log, status): --store, open, time formatting.
#pragma once

#include "command.hpp"

#include <nubefact/clock.hpp>
#include <nubefact/store.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

namespace nubefact::cli::store_cli {

inline constexpr const char* store_option_help =
    "Store: a SQLite file (PATH or sqlite:PATH) or postgresql://user@host/db (default: env "
    "NUBEFACT_STORE, else "
    "sqlite:./nubefact.db)";

// Whether a command may start a new store (send, serve, accounts add, keys create) or needs an
// existing one (everything that reads or changes what is there: a mistyped path is then an error,
// not a new empty file).
enum class opening { may_create, must_exist };

// Opens the store or prints why not (password redacted) and returns null.
inline std::unique_ptr<store::store> open(const std::string& url_arg, const char* cmd,
                                          opening how = opening::must_exist) {
    std::string url = url_arg.empty() ? store::default_store_url() : url_arg;
    std::string why;
    store::store_options o;
    o.create_if_missing = how == opening::may_create;
    auto s = store::open_store(url, o, &why);
    if (!s) {
        // "cannot open the store X: could not open the store: …" says it twice: the reason alone then.
        const bool opening_failed = s.error() == store_errc::open_failed && !why.empty();
        std::cerr << "nubefact " << cmd << ": cannot open the store " << store::redact_url(url) << ": "
                  << (opening_failed ? why : s.error().message() + (why.empty() ? "" : ": ") + why) << "\n";
        if (s.error() == store_errc::missing)
            std::cerr << "  (check --store or NUBEFACT_STORE; `nubefact send` and `nubefact accounts add` "
                         "start a store)\n";
        return nullptr;
    }
    return std::move(*s);
}

// "2026-11-27T18:06:37.123Z" (UTC, milliseconds).
inline std::string iso_utc(std::chrono::system_clock::time_point t) {
    return utc_timestamp(t);
}

// "90s", "15m", "1h", "2d", "1w" ago, or an ISO date/time in UTC ("2026-11-27", "2026-11-27T10:00",
// "2026-11-27T10:00:00Z"). nullopt when unreadable.
inline std::optional<std::chrono::system_clock::time_point> parse_since(
    const std::string& s, std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
    if (s.empty()) return std::nullopt;
    {
        long long n = 0;
        char unit = 0;
        int used = 0;
        if (std::sscanf(s.c_str(), "%lld%c%n", &n, &unit, &used) == 2 && used == static_cast<int>(s.size()) &&
            n >= 0) {
            long long secs = 0;
            switch (unit) {
                case 's':
                    secs = n;
                    break;
                case 'm':
                    secs = n * 60;
                    break;
                case 'h':
                    secs = n * 3600;
                    break;
                case 'd':
                    secs = n * 86400;
                    break;
                case 'w':
                    secs = n * 7 * 86400;
                    break;
                default:
                    return std::nullopt;
            }
            return now - std::chrono::seconds(secs);
        }
    }
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
    std::tm tm{};
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) return std::nullopt;
    std::string rest = s.substr(10);
    if (!rest.empty()) {
        if (rest.back() == 'Z') rest.pop_back();
        int n2 = 0;
        if (std::sscanf(rest.c_str(), "T%2d:%2d%n", &h, &mi, &n2) != 2 &&
            std::sscanf(rest.c_str(), " %2d:%2d%n", &h, &mi, &n2) != 2)
            return std::nullopt;
        std::string tail = rest.substr(static_cast<std::size_t>(n2));
        if (!tail.empty()) {
            int n3 = 0;
            if (std::sscanf(tail.c_str(), ":%2d%n", &sec, &n3) != 1 || n3 != static_cast<int>(tail.size()))
                return std::nullopt;
        }
    }
    // Beyond 2262 a system_clock time_point (nanoseconds in 64 bits) overflows.
    if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return std::nullopt;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace nubefact::cli::store_cli
