// Property of the input reader: see properties.hpp.
#include "properties.hpp"

#include "input.hpp"  // apps/nubefact: csv_reader

#include <nubefact/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace nubefact::fuzz {
namespace {

constexpr std::size_t max_document = 4096;  // small, so the fuzzer reaches too_large quickly

struct entry {
    std::string text, code;
    std::size_t line = 0;
    bool document = true;
    bool operator==(const entry&) const = default;
};

struct reading {
    std::vector<entry> entries;
    bool array = false;
    json::input_shape shape = json::input_shape::object;  // as the reader saw it
    bool runaway = false;  // more entries than the input could hold: no progress
};

struct file_closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

file_ptr open_bytes(std::string_view bytes) {
    if (bytes.empty()) return file_ptr(std::fopen("/dev/null", "r"));
    return file_ptr(fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "r"));
}

template <class Reader, class Next>
reading read_all(Reader& r, std::string_view bytes, Next next) {
    reading out;
    const std::size_t cap = bytes.size() + 8;
    while (auto e = next(r)) {
        out.entries.push_back(
            {std::move(e->text), e->error ? e->error->code : std::string(), e->line, e->document});
        if (out.entries.size() > cap) {
            out.runaway = true;
            break;
        }
    }
    return out;
}

reading read_json(std::string_view bytes) {
    auto f = open_bytes(bytes);
    json::document_reader r(f.get(), max_document);
    auto out = read_all(r, bytes, [](json::document_reader& rd) { return rd.next(); });
    out.array = r.shape() == json::input_shape::array;
    out.shape = r.shape();
    return out;
}

reading read_csv(std::string_view bytes) {
    auto f = open_bytes(bytes);
    cli::csv_reader r(f.get(), "fuzz.csv", max_document);
    return read_all(r, bytes, [](cli::csv_reader& rd) { return rd.next(); });
}

bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Invariants every reading has, whatever the format.
verdict common(const reading& rd, std::string_view bytes, std::size_t text_factor, bool header = false) {
    if (rd.runaway)
        return fmt::format("more than {} entries from {} bytes: no progress", bytes.size() + 8, bytes.size());
    const std::size_t lines = static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n')) + 1;
    std::size_t text = 0, last_line = 1;
    for (const auto& e : rd.entries) {
        text += e.text.size();
        if (e.line < 1 || e.line > lines) return fmt::format("entry at line {} of {} lines", e.line, lines);
        // The one summary of the problems past the first 100 ("more_framing_problems", at the
        // end, naming the first line it sums up) is not in line order: it bounds the output.
        if (e.code == "more_framing_problems") continue;
        if (e.line < last_line)
            return fmt::format("entry at line {} after one at line {}", e.line, last_line);
        last_line = e.line;
    }
    if (text > text_factor * bytes.size() + 4096)
        return fmt::format("{} bytes of entries from {} bytes of input", text, bytes.size());
    // The first line with a non-blank byte (after a UTF-8 BOM) is covered by an entry.
    std::string_view body = bytes;
    if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
    std::size_t skipped_lines = 0;
    if (rd.array) {  // an array's entries are its elements: they start after the '['
        const auto open = body.find('[');
        if (open == std::string_view::npos) return std::nullopt;
        skipped_lines = static_cast<std::size_t>(std::count(body.begin(), body.begin() + open, '\n'));
        body = body.substr(open + 1);
        // An empty array ("[]") holds no entry, and a stray ',' is no element (the reader reports
        // the elements, not the separators): what follows them is the first to cover.
        const auto k = std::min(body.find_first_not_of(" \t\r\n,]"), body.size());
        skipped_lines += static_cast<std::size_t>(std::count(body.begin(), body.begin() + k, '\n'));
        body = body.substr(k);
    }
    // A header the reader refuses (csv_header) ends the reading: nothing after it is covered.
    if (header && !rd.entries.empty() && rd.entries.front().code == "csv_header") return std::nullopt;
    if (header) {  // a CSV's first row names the columns (blank lines before it are skipped)
        while (!body.empty()) {
            const auto end = body.find('\n');
            const auto line = body.substr(0, end);
            if (line.find_first_not_of(" \t\r") != std::string_view::npos || end == std::string_view::npos)
                break;
            body.remove_prefix(end + 1);
            ++skipped_lines;
        }
        const auto nl = body.find('\n');
        // A quote in it may make the header span lines, by the reader's quoting rules (a quote
        // opens only at a cell's start): not re-implemented here, the check is left out then.
        if (body.substr(0, nl).find('"') != std::string_view::npos) return std::nullopt;
        body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
        skipped_lines += 1;
    }
    auto first = std::find_if(body.begin(), body.end(), [](char c) { return !blank(c); });
    if (first != body.end()) {
        const std::size_t line =
            static_cast<std::size_t>(std::count(body.begin(), first, '\n')) + 1 + skipped_lines;
        if (rd.entries.empty()) return fmt::format("non-blank input (line {}) gave no entry", line);
        if (rd.entries.front().line > line)
            return fmt::format("line {} is not blank but the first entry is at line {}", line,
                               rd.entries.front().line);
    }
    return std::nullopt;
}

// Byte offset where `line` (1-based) starts.
std::size_t line_offset(std::string_view bytes, std::size_t line) {
    std::size_t off = 0;
    for (std::size_t l = 1; l < line && off != std::string_view::npos; ++l) {
        off = bytes.find('\n', off);
        if (off != std::string_view::npos) ++off;
    }
    return off;
}

// Splitting the input between two documents, at the start of the second one's line, gives the
// same entries: part one's, then part two's (lines shifted).
verdict split(const reading& whole, std::string_view bytes) {
    if (whole.array) return std::nullopt;
    const auto& es = whole.entries;
    for (std::size_t k = 1; k + 1 < es.size(); ++k) {
        const auto& a = es[k];
        const auto& b = es[k + 1];
        if (!a.code.empty() || !a.document) break;  // only past documents read cleanly
        const std::size_t a_end =
            a.line + static_cast<std::size_t>(std::count(a.text.begin(), a.text.end(), '\n'));
        if (a_end >= b.line) continue;
        const std::size_t off = line_offset(bytes, b.line);
        if (off == std::string_view::npos || off == 0 || off >= bytes.size()) continue;
        auto pos = bytes.find_first_not_of(" \t", off);
        if (pos == std::string_view::npos || bytes[pos] != '{') continue;
        // Only blanks between the end of a's line and the split.
        const std::size_t a_line_end = line_offset(bytes, a_end + 1);
        if (a_line_end == std::string_view::npos ||
            bytes.substr(a_line_end, off - a_line_end).find_first_not_of(" \t\r\n") != std::string_view::npos)
            continue;
        auto one = read_json(bytes.substr(0, off));
        auto two = read_json(bytes.substr(off));
        // Each part is framed by the shape its first document shows (JSONL when it is on one
        // line, objects in a row otherwise), and so is each error's recovery: the parts are
        // compared with the whole only when all three were read in the same shape.
        auto one_line = [](const reading& r) {
            return !r.entries.empty() && r.entries.front().text.find('\n') == std::string::npos;
        };
        if (one.shape != whole.shape || two.shape != whole.shape || one_line(two) != one_line(whole))
            return std::nullopt;
        std::vector<entry> joined = one.entries;
        for (auto e : two.entries) {
            e.line += b.line - 1;
            joined.push_back(std::move(e));
        }
        // The same documents up to the first error, which is at the same line with the same code.
        // How far an error's recovery reaches depends on the shape the reader saw first (a file
        // that starts with a one-line object is read as JSONL, where a broken string ends at its
        // line; objects in a row have no lines to stop at), so what follows an error may differ.
        std::size_t i = 0;
        while (i < joined.size() && i < es.size() && joined[i] == es[i] && es[i].code.empty()) ++i;
        const bool same_error = i < joined.size() && i < es.size() && !es[i].code.empty() &&
                                joined[i].line == es[i].line && joined[i].code == es[i].code;
        const bool both_ended = i == joined.size() && i == es.size();
        if (!same_error && !both_ended) {
            return fmt::format(
                "split at line {} (offset {}): {} entries whole, {} + {} split; first difference at "
                "entry {} (whole: line {} code '{}' {} bytes; split: {})",
                b.line, off, es.size(), one.entries.size(), two.entries.size(), i,
                i < es.size() ? es[i].line : 0, i < es.size() ? es[i].code : "-",
                i < es.size() ? es[i].text.size() : 0,
                i < joined.size() ? fmt::format("line {} code '{}' {} bytes", joined[i].line, joined[i].code,
                                                joined[i].text.size())
                                  : std::string("none"));
        }
        return std::nullopt;  // one split per input keeps each run cheap
    }
    return std::nullopt;
}

}  // namespace

verdict input_reader(std::string_view bytes) {
    if (!bytes.empty() && bytes.front() == '\x01') {
        bytes.remove_prefix(1);
        auto rd = read_csv(bytes);
        // Each non-empty cell ("x," at least) repeats its column's name (at most 64 characters of
        // letters, digits, '_', '.', '-': the reader refuses other headers) as a JSON key.
        return common(rd, bytes, 40, true);
    }
    auto rd = read_json(bytes);
    if (auto v = common(rd, bytes, 1)) return v;
    return split(rd, bytes);
}

}  // namespace nubefact::fuzz
