// Input sources of the CLI: splits files, directories and stdin into JSON documents (JSON/JSONL/CSV).
#include "input.hpp"

#include <nubefact/json.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <system_error>

namespace nubefact::cli {
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_csv(const std::string& path) {
    std::string lower = path;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return ends_with(lower, ".csv");
}

source_document error_document(const std::string& source, std::size_t line, std::string code,
                               std::string msg) {
    source_document d;
    d.source = source;
    d.line = line;
    d.document = false;
    d.error = finding{"", std::move(code), severity::error, std::move(msg), "", ""};
    return d;
}

}  // namespace

// ---- CSV -------------------------------------------------------------------------------------

csv_reader::csv_reader(std::FILE* in, std::string source, std::size_t max_document_bytes)
    : in_(in), source_(std::move(source)), max_(max_document_bytes) {}

// The next byte: given-back bytes first, then the file.
int csv_reader::get() {
    if (replay_pos_ < replay_.size()) return static_cast<unsigned char>(replay_[replay_pos_++]);
    if (eof_) return EOF;
    const int c = getc_unlocked(in_);
    if (c == EOF) eof_ = true;
    return c;
}

// RFC 4180: fields separated by ',', optionally quoted with '"' ("" inside quotes is a quote);
// quoted fields may span lines. A quote that is never closed (the input ends, the row outgrows
// max_, or a quoted field that spans lines "closes" before something that is not a separator: the
// quote of a later row) makes the row an error; the bytes after the quote's line are given back,
// so reading resumes there. Returns false at end of input.
bool csv_reader::read_row(row& r) {
    r = row{};
    std::string cell;
    bool quoted = false, was_quoted = false, any = false, spans = false, dropping = false;
    std::size_t quote_line = 0, quote_raw = 0;
    int ahead = -2;  // one byte read after a closing quote, not consumed yet
    raw_.clear();
    r.line = line_;
    auto unterminated = [&] {
        std::string rest;
        const auto nl = raw_.find('\n', quote_raw);
        if (nl != std::string::npos) rest = raw_.substr(nl + 1);
        if (ahead >= 0) rest.push_back(static_cast<char>(ahead));
        rest.append(replay_, replay_pos_, std::string::npos);
        replay_ = std::move(rest);
        replay_pos_ = 0;
        line_ = quote_line + 1;
        r.cells.clear();
        r.bytes = 0;
        r.error = finding{"",
                          "unterminated_quote",
                          severity::error,
                          "the '\"' opened at line " + std::to_string(quote_line) +
                              " is not closed; the row is skipped and reading resumes at line " +
                              std::to_string(quote_line + 1),
                          "",
                          ""};
        return true;
    };
    for (;;) {
        int c;
        if (ahead != -2) {
            c = ahead;
            ahead = -2;
        } else {
            c = get();
            if (c != EOF && !dropping) raw_.push_back(static_cast<char>(c));
        }
        if (c == EOF) {
            if (quoted) return unterminated();
            if (!any && cell.empty() && r.cells.empty()) return false;
            r.cells.push_back(std::move(cell));
            r.bytes = raw_.size();
            return true;
        }
        any = true;
        if (c == '\n') ++line_;
        if (!dropping && raw_.size() > max_) {
            if (quoted) return unterminated();
            // One row longer than a document may be: skip to its line's end, report it there.
            dropping = true;
            raw_.clear();
            cell.clear();
            r.cells.clear();
            r.error = finding{"",
                              "too_large",
                              severity::error,
                              "row longer than " + std::to_string(max_) + " bytes, the limit; skipped",
                              "",
                              ""};
        }
        if (dropping) {
            if (c == '\n') return true;
            continue;
        }
        if (quoted) {
            if (c == '"') {
                const int n = get();
                if (n != EOF) raw_.push_back(static_cast<char>(n));
                if (n == '"') {
                    cell.push_back('"');
                    continue;
                }
                quoted = false;
                if (spans && n != ',' && n != '\n' && n != '\r' && n != EOF) return unterminated();
                ahead = n;
            } else {
                if (c == '\n') spans = true;
                cell.push_back(static_cast<char>(c));
            }
            continue;
        }
        if (c == '"' && cell.empty() && !was_quoted) {
            quoted = was_quoted = true;
            spans = false;
            quote_line = line_;
            quote_raw = raw_.size() - 1;
        } else if (c == ',') {
            r.cells.push_back(std::move(cell));
            cell.clear();
            was_quoted = false;
        } else if (c == '\r') {
            // tolerate CRLF
        } else if (c == '\n') {
            r.cells.push_back(std::move(cell));
            // A blank line (not `""`: a row with one empty value, reported like any other row).
            if (r.cells.size() == 1 && r.cells[0].empty() && !was_quoted) {
                r.cells.clear();
                cell.clear();
                raw_.clear();
                any = was_quoted = false;
                r.line = line_;
                continue;
            }
            r.bytes = raw_.size();
            return true;
        } else {
            cell.push_back(static_cast<char>(c));
        }
    }
}

// Like json::document_reader: past max_reported problems the rest are counted into one last entry.
std::optional<source_document> csv_reader::next() {
    for (;;) {
        auto e = next_entry();
        if (!e) {
            if (suppressed_ == 0) return std::nullopt;
            source_document s;
            s.source = source_;
            s.line = first_suppressed_;
            s.document = false;
            s.error = finding{"",
                              "more_framing_problems",
                              severity::error,
                              std::to_string(suppressed_) + " more problem" + (suppressed_ == 1 ? "" : "s") +
                                  " between lines " + std::to_string(first_suppressed_) + " and " +
                                  std::to_string(last_suppressed_) + " not reported one by one",
                              "",
                              ""};
            suppressed_ = 0;
            return s;
        }
        if (e->error) {
            if (reported_ >= max_reported) {
                if (suppressed_++ == 0) first_suppressed_ = e->line;
                last_suppressed_ = e->line;
                continue;
            }
            ++reported_;
        }
        return e;
    }
}

std::optional<source_document> csv_reader::next_entry() {
    auto entry = [&](std::size_t line, finding f, bool document) {
        source_document d;
        d.source = source_;
        d.line = line;
        d.document = document;
        if (document) d.index = index_++;
        d.error = std::move(f);
        return d;
    };
    auto csv_error = [](std::string msg) {
        return finding{"", "csv", severity::error, std::move(msg), "", ""};
    };
    if (!header_read_) {
        header_read_ = true;
        row h;
        if (!read_row(h)) return std::nullopt;
        if (h.error) {
            // Without a header no row can be read: the rest of this input is skipped.
            eof_ = true;
            replay_.clear();
            replay_pos_ = 0;
            auto f = *h.error;
            f.message = "the header row: " + f.message + "; nothing else of this file is read";
            return entry(h.line, std::move(f), false);
        }
        header_ = std::move(h.cells);
        for (auto& c : header_) {
            // trim spaces and a UTF-8 BOM on the first column
            if (c.rfind("\xEF\xBB\xBF", 0) == 0) c.erase(0, 3);
            while (!c.empty() && c.back() == ' ') c.pop_back();
            while (!c.empty() && c.front() == ' ') c.erase(0, 1);
        }
        // A column name is a field's name: every cell under it repeats it in the document's JSON,
        // so a long or escaped one would make the output many times the input (found by fuzz_input).
        for (std::size_t i = 0; i < header_.size(); ++i) {
            const auto& c = header_[i];
            const bool name_ok =
                c.size() <= max_column_name && std::all_of(c.begin(), c.end(), [](unsigned char x) {
                    return std::isalnum(x) || x == '_' || x == '.' || x == '-';
                });
            if (name_ok) continue;
            eof_ = true;
            replay_.clear();
            replay_pos_ = 0;
            std::string shown;  // its first 24 bytes, printable ASCII as it is, the rest as '?'
            for (unsigned char x : c.substr(0, 24))
                shown += (x >= 0x20 && x < 0x7f) ? static_cast<char>(x) : '?';
            if (c.size() > 24) shown += "...";
            return entry(h.line,
                         finding{"", "csv_header", severity::error,
                                 "the header row: column " + std::to_string(i + 1) + " ('" + shown +
                                     "') is not a field name (letters, digits, '_', '.', '-', at most " +
                                     std::to_string(max_column_name) +
                                     " characters); nothing else of this file is read",
                                 "", ""},
                         false);
        }
    }
    auto key_of = [&](const std::vector<std::string>& cells) {
        std::string k;
        for (std::size_t i = 0; i < header_.size() && i < cells.size(); ++i)
            if (header_[i] == "operacion" || header_[i] == "tipo_de_comprobante" || header_[i] == "serie" ||
                header_[i] == "numero")
                k += cells[i] + '\x1f';
        return k;
    };
    row first;
    if (pending_) {
        first = std::move(*pending_);
        pending_.reset();
    } else if (!read_row(first)) {
        return std::nullopt;
    }
    if (first.error) return entry(first.line, std::move(*first.error), true);

    // Consecutive rows with the same key form the document, converted row by row into JSON text,
    // so memory is bounded by the document's JSON size like a JSON input's. After its first
    // problem the rest of its rows are only skipped.
    const std::string key = key_of(first.cells);
    const std::size_t doc_line = first.line;
    bool first_row = true;
    boost::json::object doc;  // the document's columns, from its first row
    std::string items;        // its items, as JSON text
    std::optional<std::pair<std::size_t, finding>> problem;
    auto add = [&](const row& r) {
        if (problem) return;
        if (r.cells.size() > header_.size()) {
            problem.emplace(r.line, csv_error("row has " + std::to_string(r.cells.size()) +
                                              " cells but the header has " + std::to_string(header_.size())));
            return;
        }
        std::string item;
        for (std::size_t i = 0; !problem && i < r.cells.size(); ++i) {
            if (r.cells[i].empty() || header_[i].empty()) continue;
            if (header_[i].rfind("item.", 0) == 0) {
                item += item.empty() ? "{" : ",";
                json::append_string(item, std::string_view(header_[i]).substr(5));
                item += ':';
                json::append_string(item, r.cells[i]);
            } else if (first_row) {
                doc[header_[i]] = r.cells[i];
            } else if (auto it = doc.find(header_[i]);
                       it == doc.end() || it->value().as_string() != r.cells[i]) {
                problem.emplace(r.line, csv_error("column '" + header_[i] +
                                                  "' differs from the document's first row; document columns "
                                                  "must repeat the same value on every item row"));
            }
        }
        first_row = false;
        if (!problem && !item.empty()) {
            if (!items.empty()) items += ',';
            items += item;
            items += '}';
        }
        if (!problem && items.size() + r.bytes > max_)
            problem.emplace(doc_line, finding{"", "too_large", severity::error,
                                              "document larger than " + std::to_string(max_) +
                                                  " bytes, the limit; skipped",
                                              "", ""});
        if (problem) {
            doc.clear();
            std::string().swap(items);
        }
    };
    add(first);
    for (row r; read_row(r);) {
        if (r.error || key_of(r.cells) != key) {
            pending_ = std::move(r);
            break;
        }
        add(r);
    }
    if (problem) {
        // The document is where its first row is (as a JSON document is where its '{' is); a later
        // row's problem names that row.
        if (problem->first != doc_line)
            problem->second.message =
                "line " + std::to_string(problem->first) + ": " + problem->second.message;
        return entry(doc_line, std::move(problem->second), true);
    }
    if (!doc.contains("operacion")) doc["operacion"] = "generar_comprobante";
    std::string text = boost::json::serialize(doc);
    text.pop_back();  // '}': the items follow
    if (text.size() > 1) text += ',';
    text += "\"items\":[";
    text += items;
    text += "]}";
    source_document d;
    d.source = source_;
    d.line = doc_line;
    d.index = index_++;
    d.text = std::move(text);
    return d;
}

// ---- input_stream --------------------------------------------------------------------------------

struct input_stream::impl {
    std::deque<std::string> pending;  // paths still to open (directories expanded lazily)
    std::size_t max_bytes;
    std::string current;
    std::FILE* file = nullptr;
    bool owns = false;
    std::size_t entries = 0;  // of the current source
    std::unique_ptr<json::document_reader> json_reader;
    std::unique_ptr<csv_reader> csv;

    void close() {
        json_reader.reset();
        csv.reset();
        if (file && owns) std::fclose(file);
        file = nullptr;
    }

    // Opens the next path; returns an input problem for an unreadable path or an empty directory.
    std::optional<source_document> open_next() {
        close();
        current = pending.front();
        pending.pop_front();
        entries = 0;
        if (current == "-") {
            file = stdin;
            owns = false;
        } else {
            std::error_code ec;
            if (fs::is_directory(current, ec)) {
                auto files = directory_inputs(current, true, ec);
                if (ec) return error_document(current, 0, "io", "cannot read the directory: " + ec.message());
                if (files.empty())
                    return error_document(current, 0, "empty",
                                          "no *.json, *.jsonl or *.csv file in the directory");
                pending.insert(pending.begin(), files.begin(), files.end());
                return std::nullopt;
            }
            file = std::fopen(current.c_str(), "rb");
            owns = true;
            if (!file)
                return error_document(current, 0, "io",
                                      "cannot read: " + std::generic_category().message(errno));
        }
        if (is_csv(current))
            csv = std::make_unique<csv_reader>(file, current, max_bytes);
        else
            json_reader = std::make_unique<json::document_reader>(file, max_bytes);
        return std::nullopt;
    }
};

std::vector<std::string> directory_inputs(const std::string& dir, bool with_csv, std::error_code& ec) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (!e.is_regular_file()) continue;
        const auto ext = e.path().extension().string();
        if (ext == ".json" || ext == ".jsonl" || (with_csv && ext == ".csv"))
            files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

input_stream::input_stream(std::vector<std::string> paths, std::size_t max_document_bytes)
    : impl_(std::make_unique<impl>()) {
    impl_->pending.assign(paths.begin(), paths.end());
    impl_->max_bytes = max_document_bytes;
}

input_stream::~input_stream() {
    impl_->close();
}

std::optional<source_document> input_stream::next() {
    auto& m = *impl_;
    for (;;) {
        if (m.csv || m.json_reader) {
            std::optional<source_document> s;
            if (m.csv) {
                s = m.csv->next();
            } else if (auto d = m.json_reader->next()) {
                s.emplace();
                s->source = m.current;
                s->line = d->line;
                s->index = d->index;
                s->text = std::move(d->text);
                s->error = std::move(d->error);
                s->document = d->document;
                s->shape = m.json_reader->shape();
            }
            if (s) {
                ++m.entries;
                return s;
            }
            const bool none = m.entries == 0;
            m.close();
            if (none)
                return error_document(
                    m.current, 0, "empty",
                    m.current == "-" ? "no documents on standard input" : "no documents in the file");
        }
        if (m.pending.empty()) return std::nullopt;
        if (auto err = m.open_next()) return err;
    }
}

}  // namespace nubefact::cli
