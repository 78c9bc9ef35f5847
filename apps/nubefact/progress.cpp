// Live progress of a batch: bar with counts, documents/s and ETA; plain periodic lines off a tty.
#include "progress.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace nubefact::cli {

std::string format_duration(std::chrono::seconds s) {
    auto v = s.count();
    if (v < 0) v = 0;
    if (v >= 3600) return fmt::format("{}h{:02}m", v / 3600, (v / 60) % 60);
    if (v >= 60) return fmt::format("{}m{:02}s", v / 60, v % 60);
    return fmt::format("{}s", v);
}

progress_reporter::progress_reporter(const batch_counters& c, std::FILE* out, bool tty,
                                     std::chrono::milliseconds plain_every)
    : c_(c), out_(out), tty_(tty), every_(plain_every), start_(std::chrono::steady_clock::now()) {}

progress_reporter::~progress_reporter() {
    stop();
}

void progress_reporter::start() {
    start_ = std::chrono::steady_clock::now();
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

std::string progress_reporter::render(bool bar) const {
    const auto done = c_.done.load(std::memory_order_relaxed);
    const auto total = c_.total.load(std::memory_order_relaxed);
    const bool final_total = c_.total_final.load(std::memory_order_relaxed);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    std::string eta = "?";
    if (final_total && rate > 0 && total >= done)
        eta = format_duration(std::chrono::seconds(static_cast<long>((total - done) / rate + 0.5)));
    std::string head;
    if (bar) {
        constexpr int width = 28;
        const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
        // clamped: a negative count would be a huge std::string size (GCC 12 -O3 warns about it)
        const int filled = std::clamp(static_cast<int>(frac * width), 0, width);
        head.reserve(width + 3);
        head.push_back('[');
        head.append(static_cast<std::size_t>(filled), '#');
        head.append(static_cast<std::size_t>(width - filled), '.');
        head.append("] ");
    }
    return fmt::format(
        "{}{}/{}{} accepted {} rejected {} failed {}{}{} | {:.0f} docs/s | ETA {}", head, done, total,
        final_total ? "" : "+", c_.accepted.load(), c_.rejected.load(), c_.failed.load(),
        c_.invalid.load() ? fmt::format(" invalid {}", c_.invalid.load()) : std::string(),
        c_.skipped.load() ? fmt::format(" skipped {}", c_.skipped.load()) : std::string(), rate, eta);
}

void progress_reporter::run() {
    std::unique_lock lock(m_);
    const auto period = tty_ ? std::chrono::milliseconds(125) : every_;
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
        if (tty_)
            std::fprintf(out_, "\r\x1b[2K%s", render(true).c_str());
        else
            std::fprintf(out_, "progress: %s\n", render(false).c_str());
        std::fflush(out_);
    }
}

void progress_reporter::stop() {
    if (!started_) return;
    {
        std::lock_guard lock(m_);
        if (stop_) return;
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (tty_)
        std::fprintf(out_, "\r\x1b[2K%s\n", render(true).c_str());
    else
        std::fprintf(out_, "progress: %s\n", render(false).c_str());
    std::fflush(out_);
}

}  // namespace nubefact::cli
