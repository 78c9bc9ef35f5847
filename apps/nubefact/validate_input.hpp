// Input and output helpers shared by `validate` and `complete`: paths, shapes, finding lines.
#pragma once

#include <nubefact/document.hpp>
#include <nubefact/finding.hpp>
#include <nubefact/json.hpp>

#include "input.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace nubefact::cli::fiscal_io {

// How an input file holds its documents.
enum class shape { object, array, jsonl };

// Expands directories into their *.json / *.jsonl files (sorted, not recursive); other paths stay.
inline std::vector<std::string> expand_paths(const std::vector<std::string>& paths) {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    for (const auto& p : paths) {
        std::error_code ec;
        if (p != "-" && fs::is_directory(p, ec)) {
            const auto files = directory_inputs(p, false, ec);
            out.insert(out.end(), files.begin(), files.end());
        } else {
            out.push_back(p);
        }
    }
    return out;
}

inline std::string display_name(const std::string& path) {
    return path == "-" ? "<stdin>" : path;
}

// One opened input: its documents in order with one document of look-ahead, so the shape (a single
// object or JSONL) is known once the first document has been returned.
class doc_source {
  public:
    // Opens `path` ("-" = stdin). ok() is false when it cannot be read; error_text() says why.
    explicit doc_source(const std::string& path, std::size_t max_document_bytes = 1 << 20) {
        if (path == "-") {
            file_ = stdin;
        } else {
            file_ = std::fopen(path.c_str(), "rb");
            owned_ = file_ != nullptr;
            if (!file_) {
                error_ = std::strerror(errno);
                return;
            }
        }
        // Peek at the first significant byte: '[' is an array, anything else one object or JSONL.
        int ch;
        int bom = 0;
        while ((ch = std::fgetc(file_)) != EOF) {
            if (bom < 3 &&
                ((bom == 0 && ch == 0xEF) || (bom == 1 && ch == 0xBB) || (bom == 2 && ch == 0xBF))) {
                ++bom;
                continue;
            }
            if (ch == ' ' || ch == '\t' || ch == '\r') continue;
            if (ch == '\n') {
                ++skipped_lines_;
                continue;
            }
            std::ungetc(ch, file_);
            break;
        }
        if (ch == '[') shape_ = shape::array;
        reader_.emplace(file_, max_document_bytes);
        pending_ = pull();
        if (shape_ != shape::array) {
            // A second document after the first means JSONL.
            lookahead_ = pull();
            if (lookahead_) shape_ = shape::jsonl;
        }
    }
    ~doc_source() {
        if (owned_) std::fclose(file_);
    }
    doc_source(const doc_source&) = delete;
    doc_source& operator=(const doc_source&) = delete;

    bool ok() const { return file_ != nullptr; }
    const std::string& error_text() const { return error_; }
    shape kind() const { return shape_; }
    bool empty() const { return !pending_; }

    std::optional<json::input_document> next() {
        auto out = std::move(pending_);
        pending_.reset();
        if (!out) return out;
        if (lookahead_) {
            pending_ = std::move(lookahead_);
            lookahead_.reset();
        } else {
            pending_ = pull();
        }
        return out;
    }
    // A framing error that ended the input early (after the last document returned).
    const std::optional<finding>& framing_error() const {
        static const std::optional<finding> none;
        return reader_ ? reader_->error() : none;
    }

  private:
    std::optional<json::input_document> pull() {
        auto d = reader_->next();
        if (d) d->line += skipped_lines_;
        return d;
    }
    std::FILE* file_ = nullptr;
    bool owned_ = false;
    std::string error_;
    std::size_t skipped_lines_ = 0;
    shape shape_ = shape::object;
    std::optional<json::document_reader> reader_;
    std::optional<json::input_document> pending_, lookahead_;
};

// The 1-based line, within a document that starts at `first_line`, where the field named by a finding
// path ("items[1].igv") appears; the document's first line when it cannot be located.
inline std::size_t line_of(std::string_view text, std::size_t first_line, std::string_view path) {
    if (path.empty()) return first_line;
    // Walk the path: for each segment find the key at the current depth, then descend.
    std::size_t pos = 0;
    std::size_t line = first_line;
    auto advance_to = [&](std::size_t target) {
        for (; pos < target && pos < text.size(); ++pos)
            if (text[pos] == '\n') ++line;
    };
    // Finds the position after `"key":` among the direct members of the object starting at `from`.
    auto find_key = [&](std::size_t from, std::string_view key) -> std::optional<std::size_t> {
        int depth = 0;
        bool in_str = false, esc = false;
        std::size_t str_start = 0;
        for (std::size_t i = from; i < text.size(); ++i) {
            const char c = text[i];
            if (in_str) {
                if (esc)
                    esc = false;
                else if (c == '\\')
                    esc = true;
                else if (c == '"') {
                    in_str = false;
                    if (depth == 1 && text.substr(str_start, i - str_start) == key) {
                        std::size_t j = i + 1;
                        while (j < text.size() &&
                               (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n'))
                            ++j;
                        if (j < text.size() && text[j] == ':') return str_start - 1;
                    }
                }
                continue;
            }
            if (c == '"') {
                in_str = true;
                str_start = i + 1;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (--depth <= 0) return std::nullopt;
            }
        }
        return std::nullopt;
    };
    // Finds the start of element `n` of the array starting at `from` ('[').
    auto find_element = [&](std::size_t from, std::size_t n) -> std::optional<std::size_t> {
        int depth = 0;
        bool in_str = false, esc = false;
        std::size_t index = 0;
        for (std::size_t i = from; i < text.size(); ++i) {
            const char c = text[i];
            if (in_str) {
                if (esc)
                    esc = false;
                else if (c == '\\')
                    esc = true;
                else if (c == '"')
                    in_str = false;
                continue;
            }
            if (depth == 1 && index == n && c != ' ' && c != '\n' && c != '\t' && c != '\r' && c != ',')
                return i;
            if (c == '"')
                in_str = true;
            else if (c == '{' || c == '[')
                ++depth;
            else if (c == '}' || c == ']') {
                if (--depth <= 0) return std::nullopt;
            } else if (c == ',' && depth == 1)
                ++index;
        }
        return std::nullopt;
    };
    std::size_t cur = text.find('{');
    if (cur == std::string_view::npos) return first_line;
    std::size_t best = cur;
    while (!path.empty()) {
        const auto dot = path.find('.');
        std::string_view seg = path.substr(0, dot);
        path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
        std::optional<std::size_t> idx;
        const auto br = seg.find('[');
        if (br != std::string_view::npos) {
            idx = std::strtoull(std::string(seg.substr(br + 1)).c_str(), nullptr, 10);
            seg = seg.substr(0, br);
        }
        auto k = find_key(cur, seg);
        if (!k) break;
        best = *k;
        if (idx) {
            const auto open = text.find('[', *k);
            if (open == std::string_view::npos) break;
            auto e = find_element(open, *idx);
            if (!e) break;
            best = *e;
            cur = *e;
        } else {
            const auto colon = text.find(':', *k);
            std::size_t v = colon + 1;
            while (v < text.size() &&
                   (text[v] == ' ' || text[v] == '\n' || text[v] == '\t' || text[v] == '\r'))
                ++v;
            cur = v;
        }
    }
    advance_to(best);
    return line;
}

// "x" with JSON string escaping.
inline void json_string(std::string& out, std::string_view s) {
    json::append_string(out, s);
}

// One finding as a person reads it: "file:line path: message (expected X, got Y)".
inline std::string human(const std::string& file, std::size_t line, const finding& f) {
    std::string s = file + ":" + std::to_string(line) + " " + (f.path.empty() ? "(document)" : f.path) + ": ";
    if (f.level == severity::warning) s += "warning: ";
    s += f.message;
    if (!f.expected.empty() || !f.actual.empty()) {
        s += " (expected " + (f.expected.empty() ? std::string("-") : f.expected) + ", got " +
             (f.actual.empty() ? std::string("nothing") : f.actual) + ")";
    }
    return s;
}

inline std::string finding_json(const finding& f, std::size_t line) {
    std::string s = "{\"path\":";
    json_string(s, f.path);
    s += ",\"line\":" + std::to_string(line) + ",\"code\":";
    json_string(s, f.code);
    s += ",\"severity\":";
    s += f.level == severity::error ? "\"error\"" : "\"warning\"";
    s += ",\"message\":";
    json_string(s, f.message);
    s += ",\"expected\":";
    json_string(s, f.expected);
    s += ",\"actual\":";
    json_string(s, f.actual);
    s += "}";
    return s;
}

// DD-MM-YYYY or YYYY-MM-DD.
inline std::optional<date> parse_date(std::string_view s) {
    auto num = [&](std::size_t at, std::size_t n) -> int {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    if (s.size() != 10) return std::nullopt;
    date d;
    if (s[2] == '-' && s[5] == '-')
        d = date{num(6, 4), num(3, 2), num(0, 2)};
    else if (s[4] == '-' && s[7] == '-')
        d = date{num(0, 4), num(5, 2), num(8, 2)};
    else
        return std::nullopt;
    if (!d.valid()) return std::nullopt;
    return d;
}

// Today in Lima (UTC-5 all year; Peru has no daylight saving time).
inline date today_in_lima() {
    using namespace std::chrono;
    const auto now = system_clock::now() - hours(5);
    return date::from_days(duration_cast<days>(now.time_since_epoch()).count());
}

}  // namespace nubefact::cli::fiscal_io
