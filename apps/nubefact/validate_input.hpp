// Output helpers shared by `validate` and `complete`: finding lines. (Both read their input
// with input_stream, like `send`.)
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

inline std::string display_name(const std::string& path) {
    return path == "-" ? "<stdin>" : path;
}

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
// `where` names a finding without a path: the document, or "(input)" for text between documents.
inline std::string human(const std::string& file, std::size_t line, const finding& f,
                         const char* where = "(document)") {
    std::string s = file + ":" + std::to_string(line) + " " + (f.path.empty() ? where : f.path) + ": ";
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

}  // namespace nubefact::cli::fiscal_io
