// Client metrics: counters and latency histograms per account and operation, Prometheus text output.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace nubefact {

// Thread-safe. One instance is usually shared by every client of a process (see default_metrics()).
class client_metrics {
  public:
    // Upper bounds of the latency buckets, in seconds (a +Inf bucket follows).
    static constexpr std::array<double, 14> bucket_bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                             0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};

    // One HTTP exchange: `outcome` is the audit outcome ("ok", "api_error", "timeout", …).
    void observe_exchange(std::string_view account, std::string_view operation, std::string_view outcome,
                          std::chrono::microseconds latency);
    // One finished call (typed method or send): `result` is "sent", "recovered", "failed", "unknown",
    // "conflict", "validation".
    void observe_call(std::string_view account, std::string_view operation, std::string_view result,
                      std::chrono::microseconds latency);
    // Free-form counters: "retries", "consults", "rate_limit_waits", "back_pressure_waits".
    void add(std::string_view account, std::string_view counter, std::uint64_t n = 1);

    std::uint64_t exchanges(std::string_view account, std::string_view operation,
                            std::string_view outcome) const;
    std::uint64_t calls(std::string_view account, std::string_view operation, std::string_view result) const;
    std::uint64_t counter(std::string_view account, std::string_view counter) const;

    // Prometheus text exposition format (version 0.0.4).
    std::string prometheus() const;

    client_metrics();
    ~client_metrics();
    client_metrics(const client_metrics&) = delete;
    client_metrics& operator=(const client_metrics&) = delete;

  private:
    struct series;  // the maps and their lock (src/client/metrics.cpp)
    std::unique_ptr<series> s_;
};

// The process-wide instance clients use unless told otherwise.
client_metrics& default_metrics();

}  // namespace nubefact
