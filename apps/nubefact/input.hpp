// Input sources of the CLI: files, directories, stdin; JSON object, array, JSONL or CSV; streamed.
#pragma once

#include <nubefact/finding.hpp>
#include <nubefact/json.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace nubefact::cli {

// One entry of an input as read from its source: a document's JSON text, where it came from (for
// messages such as "ventas.jsonl:37"), or a problem instead of the text:
// - an input problem (input_error(): code "io" for a path that cannot be opened, listed or read,
//   "empty" for a file, standard input or directory without documents): not a document at all;
// - a framing problem (json::document_reader's codes, and CSV's "csv", "unterminated_quote",
//   "too_large"): `document` tells whether it stands for a document (then it has an `index`) or
//   for text between documents (a comma between objects, a missing ']'...).
struct source_document {
    std::string source;  // file name as given, "-" for stdin
    std::size_t line = 1;
    std::size_t index = 0;  // position among the documents of its source
    std::string text;       // one JSON object (CSV rows are converted to one); with `error`, what
                            // was read of it, if anything
    std::optional<finding> error;
    bool document = true;
    json::input_shape shape = json::input_shape::object;  // of its source, as far as read

    bool input_error() const { return error && (error->code == "io" || error->code == "empty"); }
};

// The input files of a directory: its regular *.json and *.jsonl files (and *.csv when `with_csv`),
// sorted by name, not recursive. `ec` is set when the directory cannot be listed.
std::vector<std::string> directory_inputs(const std::string& dir, bool with_csv, std::error_code& ec);

// Streams the documents of every path in order. A path may be a file (JSON object, JSON array,
// JSONL, or CSV when it ends in .csv), a directory (its *.json, *.jsonl and *.csv files, sorted by
// name, not recursive), or "-" for stdin. Memory is bounded by max_document_bytes (plus a read
// chunk), whatever the input; every call makes progress. Not thread-safe.
class input_stream {
  public:
    explicit input_stream(std::vector<std::string> paths, std::size_t max_document_bytes = 1 << 20);
    ~input_stream();
    input_stream(const input_stream&) = delete;
    input_stream& operator=(const input_stream&) = delete;

    // The next entry, or nullopt at the end of all inputs. A path that cannot be read, or holds no
    // document, yields one input_error() entry and the stream goes on with the next path.
    std::optional<source_document> next();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Converts CSV (one row per item, document columns repeated; item columns prefixed "item.") into
// JSON documents; see docs/send.md for the format. A row whose quote is never closed, or that is
// longer than max_document_bytes, is one entry with `error` and reading resumes at the next line;
// after 100 problems the rest are counted into one last entry (more_framing_problems).
// Exposed for tests. Not thread-safe; `in` must outlive it.
class csv_reader {
  public:
    explicit csv_reader(std::FILE* in, std::string source = "-", std::size_t max_document_bytes = 1 << 20);
    std::optional<source_document> next();

  private:
    struct row {
        std::vector<std::string> cells;
        std::size_t line = 0;
        std::size_t bytes = 0;
        std::optional<finding> error;
    };
    static constexpr std::size_t max_reported = 100;
    std::optional<source_document> next_entry();
    bool read_row(row& r);
    int get();
    std::FILE* in_;
    std::string source_;
    std::size_t max_;
    std::string replay_;  // bytes read ahead and given back (after an unterminated quote)
    std::size_t replay_pos_ = 0;
    std::string raw_;  // the current row's bytes as read, while it may have to be given back
    std::vector<std::string> header_;
    static constexpr std::size_t max_column_name = 64;  // longer: the header is refused
    std::size_t line_ = 1;
    std::size_t index_ = 0;
    bool header_read_ = false;
    bool eof_ = false;
    std::optional<row> pending_;
    std::size_t reported_ = 0, suppressed_ = 0, first_suppressed_ = 0, last_suppressed_ = 0;
};

}  // namespace nubefact::cli
