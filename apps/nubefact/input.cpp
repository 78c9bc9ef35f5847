// Input sources of the CLI: splits files, directories and stdin into JSON documents (JSON/JSONL/CSV).
#include "input.hpp"

#include <nubefact/json.hpp>

#include <boost/json.hpp>

#include <algorithm>
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
    d.error = finding{"", std::move(code), severity::error, std::move(msg), "", ""};
    return d;
}

}  // namespace

// ---- CSV -------------------------------------------------------------------------------------

csv_reader::csv_reader(std::FILE* in, std::string source) : in_(in), source_(std::move(source)) {}

// RFC 4180: fields separated by ',', optionally quoted with '"' ("" inside quotes is a quote);
// quoted fields may span lines. Returns false at end of input.
bool csv_reader::read_row(std::vector<std::string>& cells, std::size_t& start_line) {
    cells.clear();
    if (eof_) return false;
    start_line = line_;
    std::string cell;
    bool quoted = false, any = false, was_quoted = false;
    for (;;) {
        int c = std::fgetc(in_);
        if (c == EOF) {
            eof_ = true;
            if (!any && cell.empty() && cells.empty()) return false;
            cells.push_back(std::move(cell));
            return true;
        }
        any = true;
        if (quoted) {
            if (c == '"') {
                int n = std::fgetc(in_);
                if (n == '"') {
                    cell.push_back('"');
                } else {
                    quoted = false;
                    if (n != EOF) std::ungetc(n, in_);
                }
            } else {
                if (c == '\n') ++line_;
                cell.push_back(static_cast<char>(c));
            }
            continue;
        }
        if (c == '"' && cell.empty() && !was_quoted) {
            quoted = was_quoted = true;
        } else if (c == ',') {
            cells.push_back(std::move(cell));
            cell.clear();
            was_quoted = false;
        } else if (c == '\r') {
            // tolerate CRLF
        } else if (c == '\n') {
            ++line_;
            cells.push_back(std::move(cell));
            bool blank = cells.size() == 1 && cells[0].empty();
            if (blank) {
                cells.clear();
                cell.clear();
                any = false;
                was_quoted = false;
                start_line = line_;
                continue;
            }
            return true;
        } else {
            cell.push_back(static_cast<char>(c));
        }
    }
}

std::optional<source_document> csv_reader::next() {
    std::vector<std::string> cells;
    std::size_t row_line = 0;
    if (!header_read_) {
        header_read_ = true;
        if (!read_row(header_, row_line)) return std::nullopt;
        for (auto& h : header_) {
            // trim spaces and a UTF-8 BOM on the first column
            if (h.rfind("\xEF\xBB\xBF", 0) == 0) h.erase(0, 3);
            while (!h.empty() && h.back() == ' ') h.pop_back();
            while (!h.empty() && h.front() == ' ') h.erase(0, 1);
        }
    }
    auto key_of = [&](const std::vector<std::string>& row) {
        std::string k;
        for (std::size_t i = 0; i < header_.size() && i < row.size(); ++i)
            if (header_[i] == "operacion" || header_[i] == "tipo_de_comprobante" || header_[i] == "serie" ||
                header_[i] == "numero")
                k += row[i] + '\x1f';
        return k;
    };
    std::vector<std::pair<std::vector<std::string>, std::size_t>> rows;
    if (pending_) {
        rows.push_back(std::move(*pending_));
        pending_.reset();
    } else {
        if (!read_row(cells, row_line)) return std::nullopt;
        rows.emplace_back(cells, row_line);
    }
    const std::string key = key_of(rows.front().first);
    while (read_row(cells, row_line)) {
        if (key_of(cells) != key) {
            pending_.emplace(cells, row_line);
            break;
        }
        rows.emplace_back(cells, row_line);
    }

    source_document d;
    d.source = source_;
    d.line = rows.front().second;
    d.index = index_++;
    boost::json::object doc;
    boost::json::array items;
    for (const auto& [row, line] : rows) {
        if (row.size() > header_.size()) {
            return error_document(source_, line, "csv",
                                  "row has " + std::to_string(row.size()) + " cells but the header has " +
                                      std::to_string(header_.size()));
        }
        boost::json::object item;
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (row[i].empty() || header_[i].empty()) continue;
            if (header_[i].rfind("item.", 0) == 0) {
                item[header_[i].substr(5)] = row[i];
            } else if (&row == &rows.front().first) {
                doc[header_[i]] = row[i];
            } else if (auto it = doc.find(header_[i]); it == doc.end() || it->value().as_string() != row[i]) {
                return error_document(
                    source_, line, "csv",
                    "column '" + header_[i] +
                        "' differs from the document's first row; document columns must repeat "
                        "the same value on every item row");
            }
        }
        if (!item.empty()) items.push_back(std::move(item));
    }
    if (!doc.contains("operacion")) doc["operacion"] = "generar_comprobante";
    doc["items"] = std::move(items);
    d.text = boost::json::serialize(doc);
    return d;
}

// ---- input_stream --------------------------------------------------------------------------------

struct input_stream::impl {
    std::deque<std::string> pending;  // paths still to open (directories expanded lazily)
    std::size_t max_bytes;
    std::string current;
    std::FILE* file = nullptr;
    bool owns = false;
    std::unique_ptr<json::document_reader> json_reader;
    std::unique_ptr<csv_reader> csv;

    void close() {
        json_reader.reset();
        csv.reset();
        if (file && owns) std::fclose(file);
        file = nullptr;
    }

    // Opens the next path; returns an error document for an unreadable path, nullopt otherwise.
    std::optional<source_document> open_next() {
        close();
        current = pending.front();
        pending.pop_front();
        if (current == "-") {
            file = stdin;
            owns = false;
        } else {
            std::error_code ec;
            if (fs::is_directory(current, ec)) {
                auto files = directory_inputs(current, true, ec);
                if (ec) return error_document(current, 0, "io", "cannot list directory: " + ec.message());
                pending.insert(pending.begin(), files.begin(), files.end());
                return std::nullopt;
            }
            file = std::fopen(current.c_str(), "rb");
            owns = true;
            if (!file) {
                return error_document(current, 0, "io",
                                      std::string("cannot open: ") + std::generic_category().message(errno));
            }
        }
        if (is_csv(current))
            csv = std::make_unique<csv_reader>(file, current);
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
    for (;;) {
        if (impl_->csv) {
            if (auto d = impl_->csv->next()) return d;
        } else if (impl_->json_reader) {
            if (auto d = impl_->json_reader->next()) {
                source_document s;
                s.source = impl_->current;
                s.line = d->line;
                s.index = d->index;
                s.text = std::move(d->text);
                return s;
            }
            if (const auto& err = impl_->json_reader->error()) {
                source_document s;
                s.source = impl_->current;
                s.error = *err;
                impl_->json_reader.reset();
                impl_->close();
                return s;
            }
        }
        if (impl_->pending.empty()) {
            impl_->close();
            return std::nullopt;
        }
        if (auto err = impl_->open_next()) return err;
    }
}

}  // namespace nubefact::cli
