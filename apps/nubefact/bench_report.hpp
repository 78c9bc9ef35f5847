// `nubefact bench` helpers: a bounded latency histogram, process CPU/RSS readings and the SVG chart.
#pragma once

#include <sys/types.h>
#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace nubefact::cli::bench {

// Latency histogram in microseconds with ~1.6 % resolution (64 sub-buckets per power of two) and a
// fixed size, so a million-document run needs no more memory than a ten-document one.
class latency_histogram {
  public:
    void add(std::chrono::microseconds d) noexcept;
    // The value at percentile p (0-100), in milliseconds (the bucket's midpoint); 0 when empty.
    double percentile_ms(double p) const noexcept;
    double max_ms() const noexcept { return static_cast<double>(max_us_) / 1000.0; }
    std::uint64_t count() const noexcept { return count_; }

  private:
    static constexpr int linear = 128;  // values below are exact
    static constexpr int sub = 64;
    static constexpr int buckets = linear + 40 * sub;
    static int index(std::uint64_t us) noexcept;
    static double midpoint_us(int idx) noexcept;
    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_us_ = 0;
};

// CPU time of this process (getrusage RUSAGE_SELF: every thread, children excluded), in seconds.
struct cpu_times {
    double user = 0, system = 0;
    double total() const noexcept { return user + system; }
};
cpu_times self_cpu() noexcept;

// utime + stime of another process from /proc/PID/stat, in seconds; nullopt when unreadable.
std::optional<double> process_cpu_seconds(pid_t pid) noexcept;

// Resets this process's peak RSS (VmHWM, via /proc/self/clear_refs) so each run reports its own
// peak. Returns false when the kernel refuses (the peak then spans earlier runs too).
bool reset_peak_rss() noexcept;
// VmHWM of this process in MiB (falls back to getrusage's ru_maxrss).
double peak_rss_mb() noexcept;

// "model name" of the first CPU in /proc/cpuinfo ("" when unknown).
std::string cpu_model();

// One point of the chart.
struct chart_point {
    int concurrency = 0;
    double docs_per_s = 0;
    std::optional<double> bound;  // concurrency / latency, when the latency is fixed
};

// A self-contained SVG: documents/s (y) against concurrency (x, one evenly spaced tick per run,
// log-like when values span decades), the latency bound dashed when known. No dependencies.
std::string svg_chart(const std::vector<chart_point>& points, const std::string& title,
                      const std::string& subtitle);

// JSON text of `v`, indented by 2 spaces, with doubles in their shortest decimal form (5.13, not
// 5.13E0 as boost::json writes them).
std::string pretty_json(const boost::json::value& v);

// Escapes &, <, > and quotes for SVG/XML text.
std::string xml_escape(const std::string& s);

}  // namespace nubefact::cli::bench
