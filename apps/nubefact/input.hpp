// Input sources of the CLI: files, directories, stdin; JSON object, array, JSONL or CSV; streamed.
#pragma once

#include <nubefact/finding.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace nubefact::cli {

// One document as read from its source: the JSON text, where it came from (for messages such as
// "ventas.jsonl:37") and, when the source could not be split, the problem instead of the text.
struct source_document {
    std::string source;  // file name as given, "-" for stdin
    std::size_t line = 1;
    std::size_t index = 0;         // position within its source
    std::string text;              // one JSON object (CSV rows are converted to one)
    std::optional<finding> error;  // framing / CSV problem: the document could not be read
};

// The input files of a directory: its regular *.json and *.jsonl files (and *.csv when `with_csv`),
// sorted by name, not recursive. `ec` is set when the directory cannot be listed.
std::vector<std::string> directory_inputs(const std::string& dir, bool with_csv, std::error_code& ec);

// Streams the documents of every path in order. A path may be a file (JSON object, JSON array,
// JSONL, or CSV when it ends in .csv), a directory (its *.json, *.jsonl and *.csv files, sorted by
// name, not recursive), or "-" for stdin. Memory is bounded by the largest document.
class input_stream {
  public:
    explicit input_stream(std::vector<std::string> paths, std::size_t max_document_bytes = 1 << 20);
    ~input_stream();
    input_stream(const input_stream&) = delete;
    input_stream& operator=(const input_stream&) = delete;

    // The next document, or nullopt at the end of all inputs. Unreadable paths yield one
    // source_document with `error` set and the stream goes on with the next path.
    std::optional<source_document> next();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Converts CSV (one row per item, document columns repeated; item columns prefixed "item.") into
// JSON documents; see docs/send.md for the format. Exposed for tests.
class csv_reader {
  public:
    explicit csv_reader(std::FILE* in, std::string source = "-");
    std::optional<source_document> next();

  private:
    bool read_row(std::vector<std::string>& cells, std::size_t& start_line);
    std::FILE* in_;
    std::string source_;
    std::vector<std::string> header_;
    std::size_t line_ = 1;
    std::size_t index_ = 0;
    bool header_read_ = false;
    bool eof_ = false;
    std::optional<std::pair<std::vector<std::string>, std::size_t>> pending_;
};

}  // namespace nubefact::cli
