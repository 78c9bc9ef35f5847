// Client metrics: counters, latency histograms and their Prometheus text rendering.
#include <nubefact/metrics.hpp>

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <tuple>

namespace nubefact {
namespace {

// Label values escaped as the exposition format requires (backslash, quote, newline).
std::string esc(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

using view3 = std::tuple<std::string_view, std::string_view, std::string_view>;
using view2 = std::tuple<std::string_view, std::string_view>;

// The entry for `k`, created on first use (the only time the key's strings are allocated).
template <class Map, class View>
typename Map::mapped_type& entry(Map& m, const View& k) {
    auto it = m.find(k);
    if (it != m.end()) return it->second;
    return std::apply(
        [&](auto... parts) -> typename Map::mapped_type& {
            return m.try_emplace(typename Map::key_type{std::string(parts)...}).first->second;
        },
        k);
}

}  // namespace

// Named (not anonymous): client_metrics::series, of external linkage, holds them.
namespace metrics_detail {

constexpr auto& bucket_bounds = client_metrics::bucket_bounds;

struct histogram {
    std::array<std::uint64_t, bucket_bounds.size() + 1> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
    void observe(std::chrono::microseconds d) {
        double s = static_cast<double>(d.count()) / 1e6;
        std::size_t i = 0;
        while (i < bucket_bounds.size() && s > bucket_bounds[i]) ++i;
        ++buckets[i];
        ++count;
        sum += s;
    }
};
using key3 = std::tuple<std::string, std::string, std::string>;
using key2 = std::tuple<std::string, std::string>;
// Transparent comparison of string or string_view tuples: lookups with string_view keys allocate
// only for a new series (compared as views: clang 14 lacks mixed-type tuple <=>).
struct key_less {
    using is_transparent = void;
    template <class... T>
    static auto views(const std::tuple<T...>& t) {
        return std::apply([](const auto&... p) { return std::make_tuple(std::string_view(p)...); }, t);
    }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
        return views(a) < views(b);
    }
};

}  // namespace metrics_detail

using namespace metrics_detail;

struct client_metrics::series {
    mutable std::mutex mu;
    std::map<key3, std::uint64_t, key_less> exchanges, calls;
    std::map<key2, histogram, key_less> exchange_latency, call_latency;
    std::map<key2, std::uint64_t, key_less> counters;
};

client_metrics::client_metrics() : s_(std::make_unique<series>()) {}
client_metrics::~client_metrics() = default;

void client_metrics::observe_exchange(std::string_view account, std::string_view operation,
                                      std::string_view outcome, std::chrono::microseconds latency) {
    std::lock_guard lock(s_->mu);
    ++entry(s_->exchanges, view3{account, operation, outcome});
    entry(s_->exchange_latency, view2{account, operation}).observe(latency);
}

void client_metrics::observe_call(std::string_view account, std::string_view operation,
                                  std::string_view result, std::chrono::microseconds latency) {
    std::lock_guard lock(s_->mu);
    ++entry(s_->calls, view3{account, operation, result});
    entry(s_->call_latency, view2{account, operation}).observe(latency);
}

void client_metrics::add(std::string_view account, std::string_view counter, std::uint64_t n) {
    std::lock_guard lock(s_->mu);
    entry(s_->counters, view2{account, counter}) += n;
}

std::uint64_t client_metrics::exchanges(std::string_view account, std::string_view operation,
                                        std::string_view outcome) const {
    std::lock_guard lock(s_->mu);
    auto it = s_->exchanges.find(view3{account, operation, outcome});
    return it == s_->exchanges.end() ? 0 : it->second;
}

std::uint64_t client_metrics::calls(std::string_view account, std::string_view operation,
                                    std::string_view result) const {
    std::lock_guard lock(s_->mu);
    auto it = s_->calls.find(view3{account, operation, result});
    return it == s_->calls.end() ? 0 : it->second;
}

std::uint64_t client_metrics::counter(std::string_view account, std::string_view counter) const {
    std::lock_guard lock(s_->mu);
    auto it = s_->counters.find(view2{account, counter});
    return it == s_->counters.end() ? 0 : it->second;
}

std::string client_metrics::prometheus() const {
    std::lock_guard lock(s_->mu);
    std::string out;
    auto counter3 = [&](const char* name, const char* help, const char* third,
                        const std::map<key3, std::uint64_t, key_less>& m) {
        out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
        for (const auto& [k, v] : m)
            out += fmt::format("{}{{account=\"{}\",operation=\"{}\",{}=\"{}\"}} {}\n", name,
                               esc(std::get<0>(k)), esc(std::get<1>(k)), third, esc(std::get<2>(k)), v);
    };
    auto hist = [&](const char* name, const char* help, const std::map<key2, histogram, key_less>& m) {
        out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
        for (const auto& [k, h] : m) {
            auto labels =
                fmt::format("account=\"{}\",operation=\"{}\"", esc(std::get<0>(k)), esc(std::get<1>(k)));
            std::uint64_t cum = 0;
            for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
                cum += h.buckets[i];
                out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, bucket_bounds[i], cum);
            }
            cum += h.buckets.back();
            out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cum);
            out += fmt::format("{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, h.sum, name, labels,
                               h.count);
        }
    };
    counter3("nubefact_client_exchanges_total", "HTTP exchanges with Nubefact by outcome.", "outcome",
             s_->exchanges);
    hist("nubefact_client_exchange_duration_seconds", "Latency of one HTTP exchange.", s_->exchange_latency);
    counter3("nubefact_client_calls_total", "Client calls by final result.", "result", s_->calls);
    hist("nubefact_client_call_duration_seconds",
         "Latency of a whole call (queueing, retries, reconciliation).", s_->call_latency);
    out +=
        "# HELP nubefact_client_events_total Client events (retries, consults, waits).\n"
        "# TYPE nubefact_client_events_total counter\n";
    for (const auto& [k, v] : s_->counters)
        out += fmt::format("nubefact_client_events_total{{account=\"{}\",event=\"{}\"}} {}\n",
                           esc(std::get<0>(k)), esc(std::get<1>(k)), v);
    return out;
}

client_metrics& default_metrics() {
    static client_metrics m;
    return m;
}

}  // namespace nubefact
