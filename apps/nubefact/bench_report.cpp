// `nubefact bench` helpers: latency histogram, /proc and getrusage readings, hand-written SVG chart.
#include "bench_report.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace nubefact::cli::bench {

int latency_histogram::index(std::uint64_t us) noexcept {
    if (us < linear) return static_cast<int>(us);
    const int msb = 63 - std::countl_zero(us);  // >= 7
    const int shift = msb - 6;                  // keeps the top 7 bits: 64..127
    const int idx = linear + (msb - 7) * sub + static_cast<int>((us >> shift) - sub);
    return std::min(idx, buckets - 1);
}

double latency_histogram::midpoint_us(int idx) noexcept {
    if (idx < linear) return idx;
    const int msb = (idx - linear) / sub + 7;
    const int shift = msb - 6;
    const std::uint64_t top = static_cast<std::uint64_t>((idx - linear) % sub + sub);
    const double lo = static_cast<double>(top << shift);
    return lo + static_cast<double>(std::uint64_t(1) << shift) / 2.0;
}

void latency_histogram::add(std::chrono::microseconds d) noexcept {
    const std::uint64_t us = d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
    ++counts_[static_cast<std::size_t>(index(us))];
    ++count_;
    max_us_ = std::max(max_us_, us);
}

double latency_histogram::percentile_ms(double p) const noexcept {
    if (count_ == 0) return 0;
    // Nearest rank: the smallest value with at least p % of the samples at or below it.
    auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (int i = 0; i < buckets; ++i) {
        seen += counts_[static_cast<std::size_t>(i)];
        if (seen >= rank) return std::min(midpoint_us(i), static_cast<double>(max_us_)) / 1000.0;
    }
    return max_ms();
}

cpu_times self_cpu() noexcept {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    cpu_times t;
    t.user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
    t.system = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
    return t;
}

std::optional<double> process_cpu_seconds(pid_t pid) noexcept {
    try {
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
        auto close = text.rfind(')');
        if (close == std::string::npos) return std::nullopt;
        std::istringstream rest(text.substr(close + 2));
        std::string field;
        unsigned long long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::stoull(field);
            if (i == 15) stime = std::stoull(field);
        }
        const long hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0) return std::nullopt;
        return static_cast<double>(utime + stime) / static_cast<double>(hz);
    } catch (...) {
        return std::nullopt;
    }
}

bool reset_peak_rss() noexcept {
    std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = std::fputs("5", f) >= 0;
    return std::fclose(f) == 0 && ok;
}

double peak_rss_mb() noexcept {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (std::fgets(line, sizeof line, f)) {
            unsigned long kb = 0;
            if (std::sscanf(line, "VmHWM: %lu kB", &kb) == 1) {
                std::fclose(f);
                return static_cast<double>(kb) / 1024.0;
            }
        }
        std::fclose(f);
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                auto v = line.substr(colon + 1);
                v.erase(0, v.find_first_not_of(' '));
                return v;
            }
        }
    }
    return {};
}

std::string xml_escape(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

namespace {

// A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above v.
double nice_ceiling(double v) {
    if (v <= 0) return 1;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= v) return m * p;
    return 10 * p;
}

std::string number_label(double v) {
    if (v >= 1e6) return fmt::format("{:g}M", v / 1e6);
    if (v >= 1e3) return fmt::format("{:g}k", v / 1e3);
    return fmt::format("{:g}", v);
}

}  // namespace

namespace {

void pretty(const boost::json::value& v, std::string& out, int depth) {
    const std::string pad(static_cast<std::size_t>(depth + 1) * 2, ' ');
    switch (v.kind()) {
        case boost::json::kind::object: {
            const auto& o = v.get_object();
            if (o.empty()) {
                out += "{}";
                return;
            }
            out += "{\n";
            bool first = true;
            for (const auto& kv : o) {
                if (!first) out += ",\n";
                first = false;
                out += pad + boost::json::serialize(boost::json::value(kv.key())) + ": ";
                pretty(kv.value(), out, depth + 1);
            }
            out += "\n" + std::string(static_cast<std::size_t>(depth) * 2, ' ') + "}";
            return;
        }
        case boost::json::kind::array: {
            const auto& a = v.get_array();
            if (a.empty()) {
                out += "[]";
                return;
            }
            out += "[\n";
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (i) out += ",\n";
                out += pad;
                pretty(a[i], out, depth + 1);
            }
            out += "\n" + std::string(static_cast<std::size_t>(depth) * 2, ' ') + "]";
            return;
        }
        case boost::json::kind::double_: {
            const double d = v.get_double();
            out += std::isfinite(d) ? fmt::format("{}", d) : "null";
            return;
        }
        default:
            out += boost::json::serialize(v);
    }
}

}  // namespace

std::string pretty_json(const boost::json::value& v) {
    std::string out;
    pretty(v, out, 0);
    out += "\n";
    return out;
}

std::string svg_chart(const std::vector<chart_point>& points, const std::string& title,
                      const std::string& subtitle) {
    const double w = 720, h = 420, left = 80, right = 30, top = 70, bottom = 60;
    const double pw = w - left - right, ph = h - top - bottom;
    double ymax = 0;
    for (const auto& p : points) {
        ymax = std::max(ymax, p.docs_per_s);
        if (p.bound) ymax = std::max(ymax, *p.bound);
    }
    ymax = nice_ceiling(ymax * 1.05);
    const std::size_t n = points.size();
    auto x_at = [&](std::size_t i) {
        return left + (n <= 1 ? pw / 2 : pw * static_cast<double>(i) / (n - 1.0));
    };
    auto y_at = [&](double v) { return top + ph - ph * v / ymax; };

    std::string s;
    s += fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n",
        w, h);
    s += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", w, h);
    s += fmt::format("<text x=\"{}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{}</text>\n", left,
                     xml_escape(title));
    s += fmt::format("<text x=\"{}\" y=\"48\" fill=\"#555\">{}</text>\n", left, xml_escape(subtitle));
    // Horizontal grid and y labels.
    for (int i = 0; i <= 5; ++i) {
        const double v = ymax * i / 5.0, y = y_at(v);
        s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", left, y,
                         left + pw, y);
        s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 8, y + 4,
                         number_label(v));
    }
    s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", left, top,
                     top + ph);
    s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", left, top + ph,
                     left + pw);
    s += fmt::format(
        "<text x=\"20\" y=\"{:.1f}\" transform=\"rotate(-90 20 {:.1f})\" text-anchor=\"middle\">documents/s"
        "</text>\n",
        top + ph / 2, top + ph / 2);
    s += fmt::format(
        "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">concurrency (documents in flight)</text>\n",
        left + pw / 2, h - 15);
    // X ticks: one per run.
    for (std::size_t i = 0; i < n; ++i)
        s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x_at(i),
                         top + ph + 18, points[i].concurrency);
    // The bound, dashed, where known.
    std::string bound_path;
    for (std::size_t i = 0; i < n; ++i)
        if (points[i].bound)
            bound_path += fmt::format("{}{:.1f},{:.1f} ", bound_path.empty() ? "M" : "L", x_at(i),
                                      y_at(*points[i].bound));
    if (!bound_path.empty())
        s += fmt::format(
            "<path d=\"{}\" fill=\"none\" stroke=\"#999\" stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/>\n",
            bound_path);
    // The measured line and its points.
    std::string path;
    for (std::size_t i = 0; i < n; ++i)
        path += fmt::format("{}{:.1f},{:.1f} ", i == 0 ? "M" : "L", x_at(i), y_at(points[i].docs_per_s));
    if (!path.empty())
        s += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2.5\"/>\n", path);
    for (std::size_t i = 0; i < n; ++i) {
        const double x = x_at(i), y = y_at(points[i].docs_per_s);
        s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"#1f77b4\"/>\n", x, y);
        s +=
            fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#1f77b4\">{}</text>\n",
                        x, y - 10, number_label(std::round(points[i].docs_per_s)));
    }
    // Legend.
    const double lx = left + pw - 210, ly = top + 10;
    s += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#1f77b4\" stroke-width=\"2.5\"/>\n", lx,
        ly, lx + 24);
    s += fmt::format("<text x=\"{}\" y=\"{}\">nubefact (measured)</text>\n", lx + 30, ly + 4);
    if (!bound_path.empty()) {
        s += fmt::format(
            "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#999\" stroke-dasharray=\"6 4\"/>\n",
            lx, ly + 18, lx + 24);
        s += fmt::format("<text x=\"{}\" y=\"{}\">bound: concurrency / latency</text>\n", lx + 30, ly + 22);
    }
    s += "</svg>\n";
    return s;
}

}  // namespace nubefact::cli::bench
