// Live progress of a batch: counts, documents/s and ETA, fitted to the terminal; plain periodic
// lines off a tty.
#include "progress.hpp"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

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

std::size_t progress_reporter::width() const {
    winsize ws{};
    if (::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

std::string progress_reporter::render(bool bar, std::size_t width) const {
    const auto done = c_.done.load(std::memory_order_relaxed);
    const auto total = c_.total.load(std::memory_order_relaxed);
    const bool final_total = c_.total_final.load(std::memory_order_relaxed);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    std::string eta = "?";
    if (final_total && rate > 0 && total >= done)
        eta = format_duration(std::chrono::seconds(static_cast<long>((total - done) / rate + 0.5)));

    // Parts in order of importance: what is left out when the terminal is narrow comes last.
    std::string counts = fmt::format("{}/{}{}", done, total, final_total ? "" : "+");
    std::vector<std::string> states;
    for (auto s : report_order)
        if (auto n = c_.count(s); n || s == doc_state::accepted)
            states.push_back(fmt::format("{} {}", to_string(s), n));
    for (auto o : {line_outcome::invalid, line_outcome::not_sent, line_outcome::valid})
        if (auto n = c_.count(o)) states.push_back(fmt::format("{} {}", to_string(o), n));
    const std::string speed = fmt::format(" | {:.0f}/s", rate);
    const std::string eta_text = " | ETA " + eta;

    auto fits = [&](const std::string& s) { return width == 0 || s.size() < width; };
    std::string line = counts;
    for (const auto& s : states) {
        if (!fits(line + " " + s)) break;
        line += " " + s;
    }
    if (fits(line + speed)) line += speed;
    if (fits(line + eta_text)) line += eta_text;
    if (bar) {
        // The bar takes what is left of the line, between 10 and 28 columns.
        const std::size_t room = width == 0 ? 31 : (width > line.size() + 4 ? width - line.size() - 4 : 0);
        const int w = static_cast<int>(std::min<std::size_t>(room, 28));
        if (w >= 10) {
            const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
            const int filled = std::clamp(static_cast<int>(frac * w), 0, w);
            line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                   std::string(static_cast<std::size_t>(w - filled), '.') + "] " + line;
        }
    }
    if (width && line.size() >= width) line.resize(width - 1);
    return line;
}

void progress_reporter::run() {
    std::unique_lock lock(m_);
    const auto period = tty_ ? std::chrono::milliseconds(125) : every_;
    while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
        if (tty_)
            std::fprintf(out_, "\r\x1b[2K%s", render(true, width()).c_str());
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
    // The summary follows on stdout: on a terminal the live line is cleared, not left behind.
    if (tty_)
        std::fprintf(out_, "\r\x1b[2K");
    else
        std::fprintf(out_, "progress: %s\n", render(false).c_str());
    std::fflush(out_);
}

}  // namespace nubefact::cli
