// Live progress of a batch: a redrawn bar on a terminal, a plain line every few seconds otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace nubefact::cli {

// Counters updated from any thread (relaxed atomics); a reporter thread reads them and draws.
struct batch_counters {
    std::atomic<std::size_t> total{0};  // known so far (grows while the input is streamed)
    std::atomic<bool> total_final{false};
    std::atomic<std::size_t> done{0};
    std::atomic<std::size_t> accepted{0};
    std::atomic<std::size_t> rejected{0};  // by Nubefact/SUNAT
    std::atomic<std::size_t> invalid{0};   // local findings: not sent
    std::atomic<std::size_t> failed{0};    // could not be sent / outcome unknown
    std::atomic<std::size_t> skipped{0};   // already accepted in the store (resume)
};

// Draws to `out` (stderr). tty=true: one line redrawn ~8 times a second; tty=false: one line every
// `plain_every`. stop() draws the final state and joins the thread. Not copyable.
class progress_reporter {
  public:
    progress_reporter(const batch_counters& c, std::FILE* out, bool tty,
                      std::chrono::milliseconds plain_every = std::chrono::seconds(5));
    ~progress_reporter();
    void start();
    void stop();
    // The line as drawn now (for tests and the final summary).
    std::string render(bool bar) const;

  private:
    void run();
    const batch_counters& c_;
    std::FILE* out_;
    bool tty_;
    std::chrono::milliseconds every_;
    std::chrono::steady_clock::time_point start_;
    std::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool started_ = false;
};

std::string format_duration(std::chrono::seconds s);

}  // namespace nubefact::cli
