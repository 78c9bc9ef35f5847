// Where the client reads the time: an interface, the real clocks, and a manual clock for tests.
// Timers still sleep on asio::steady_timer; only the readings of "now" come from a clock_source.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace nubefact {

// A source of "now" for deadlines and latencies (steady) and for timestamps (system).
// Implementations must be thread-safe: one clock serves every thread of a client.
class clock_source {
  public:
    virtual ~clock_source() = default;
    // Monotonic time: deadlines, delays, latencies. Never goes back.
    virtual std::chrono::steady_clock::time_point steady_now() const = 0;
    // Wall-clock time: audit and journal timestamps.
    virtual std::chrono::system_clock::time_point system_now() const = 0;
};

// std::chrono::steady_clock and system_clock. The same object for the whole process, never null.
const std::shared_ptr<const clock_source>& real_clock();

// A test clock: starts at the given instants and moves only when told. Thread-safe (each reading
// is atomic on its own).
class manual_clock final : public clock_source {
  public:
    // Defaults: the real clocks' readings at construction.
    explicit manual_clock(
        std::chrono::system_clock::time_point system_start = std::chrono::system_clock::now(),
        std::chrono::steady_clock::time_point steady_start = std::chrono::steady_clock::now());
    std::chrono::steady_clock::time_point steady_now() const override;
    std::chrono::system_clock::time_point system_now() const override;
    // Moves both clocks forward by `d`. Throws std::invalid_argument when d < 0.
    void advance(std::chrono::nanoseconds d);
    // Sets the wall clock (a jump either way, as NTP may make); the steady clock does not move.
    void set(std::chrono::system_clock::time_point t);

  private:
    std::atomic<std::int64_t> steady_ns_;
    std::atomic<std::int64_t> system_ns_;
};

// "2026-11-27T10:00:00.123Z": `t` in UTC, to the millisecond (what every timestamp we print or
// serve looks like: the CLI's --json, the gateway's native API).
std::string utc_timestamp(std::chrono::system_clock::time_point t);

}  // namespace nubefact
