// Live progress of a batch: a redrawn line on a terminal (fitted to its width), a plain line every
// few seconds otherwise.
#pragma once

#include <nubefact/engine.hpp>
#include <nubefact/journal.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace nubefact::cli {

// What a batch reports for one of its lines: a document state (doc_state), or one of the outcomes
// of a line that was never journaled (the engine's; valid: --dry-run only).
using engine::line_outcome;
using engine::to_string;
// The order in which the progress line and the summary list the states: the good news first.
inline constexpr doc_state report_order[] = {
    doc_state::accepted, doc_state::pending_sunat, doc_state::rejected,
    doc_state::refused,  doc_state::unknown,       doc_state::conflict,
    doc_state::failed,   doc_state::queued,        doc_state::sending};
static_assert(std::size(report_order) == std::size(all_doc_states));

// Counters updated from any thread (relaxed atomics); a reporter thread reads them and draws.
struct batch_counters {
    std::atomic<std::size_t> total{0};  // known so far (grows while the input is streamed)
    std::atomic<bool> total_final{false};
    std::atomic<std::size_t> done{0};
    std::array<std::atomic<std::size_t>, std::size(all_doc_states)> states{};  // by doc_state
    std::array<std::atomic<std::size_t>, 3> lines{};                           // by line_outcome
    std::atomic<std::size_t> resumed{0};  // final in the store from an earlier run: not sent again

    void add(doc_state s) noexcept { ++states[static_cast<std::size_t>(s)]; }
    void add(line_outcome o) noexcept { ++lines[static_cast<std::size_t>(o)]; }
    std::size_t count(doc_state s) const noexcept { return states[static_cast<std::size_t>(s)].load(); }
    std::size_t count(line_outcome o) const noexcept { return lines[static_cast<std::size_t>(o)].load(); }
};

// Draws to `out` (stderr). tty=true: one line redrawn ~8 times a second, never wider than the
// terminal (its width read at every redraw, so a resize is followed); tty=false: one line every
// `plain_every`. stop() draws the final state and joins the thread. Not copyable.
class progress_reporter {
  public:
    progress_reporter(const batch_counters& c, std::FILE* out, bool tty,
                      std::chrono::milliseconds plain_every = std::chrono::seconds(5));
    ~progress_reporter();
    void start();
    void stop();
    // The line as drawn now, at most `width` columns (0: no limit); `bar` adds the bar when it fits.
    std::string render(bool bar, std::size_t width = 0) const;

  private:
    void run();
    std::size_t width() const;
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
