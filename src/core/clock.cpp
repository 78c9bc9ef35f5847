// The real clocks and the manual test clock.
#include <nubefact/clock.hpp>

#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace nubefact {

namespace {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;

class system_clocks final : public clock_source {
  public:
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::now();
    }
    std::chrono::system_clock::time_point system_now() const override {
        return std::chrono::system_clock::now();
    }
};

std::int64_t ns_since_epoch(auto t) {
    return duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

const std::shared_ptr<const clock_source>& real_clock() {
    static const std::shared_ptr<const clock_source> clock = std::make_shared<system_clocks>();
    return clock;
}

manual_clock::manual_clock(std::chrono::system_clock::time_point system_start,
                           std::chrono::steady_clock::time_point steady_start)
    : steady_ns_(ns_since_epoch(steady_start)), system_ns_(ns_since_epoch(system_start)) {}

std::chrono::steady_clock::time_point manual_clock::steady_now() const {
    return std::chrono::steady_clock::time_point(
        duration_cast<std::chrono::steady_clock::duration>(nanoseconds(steady_ns_.load())));
}

std::chrono::system_clock::time_point manual_clock::system_now() const {
    return std::chrono::system_clock::time_point(
        duration_cast<std::chrono::system_clock::duration>(nanoseconds(system_ns_.load())));
}

void manual_clock::advance(std::chrono::nanoseconds d) {
    // A steady clock that went back would break every deadline computed from it.
    if (d.count() < 0) throw std::invalid_argument("manual_clock::advance: negative duration");
    steady_ns_.fetch_add(d.count());
    system_ns_.fetch_add(d.count());
}

void manual_clock::set(std::chrono::system_clock::time_point t) {
    system_ns_.store(ns_since_epoch(t));
}

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t).time_since_epoch().count();
    const auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(((ms % 1000) + 1000) % 1000));
    return buf;
}

}  // namespace nubefact
