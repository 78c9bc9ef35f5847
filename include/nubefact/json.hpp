// The wire codec: Nubefact JSON <-> typed documents, exact decimals, field paths in every error.
#pragma once

#include <nubefact/document.hpp>
#include <nubefact/finding.hpp>

#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nubefact::json {

// Any request body, chosen by its `operacion`.
using request = std::variant<comprobante, anulacion, consulta, guia, retencion_percepcion>;

// What read_request gives: the operation (absent when `operacion` is missing or unknown), the
// document, and findings: parse errors (severity error, code "parse"/"type"/…, with the path) and
// unknown fields (severity warning, code "unknown_field"). has_errors(findings) means unusable.
struct read_result {
    std::optional<operation> op;
    request doc;
    std::vector<finding> findings;
};

struct read_options {
    std::size_t max_bytes = 1 << 20;           // larger bodies are refused with one finding
    int max_depth = 32;                        // deeper nesting is refused
    std::size_t max_string_bytes = 64 * 1024;  // longer string values: finding "too_long"
    std::size_t max_array_items = 10'000;      // more elements: finding "too_many", the rest ignored
    std::size_t max_findings = 1'000;          // then one "too_many_findings" and no more
    // A number with more than 10 fractional digits (a double's noise, 0.12000000000000001): false =
    // an error finding naming the field; true = rounded half-up to 10 digits, warning "rounded".
    bool round_excess_decimals = false;
};

// Parses one JSON object. Reads what Nubefact reads: numbers or numeric strings, true/false or
// "true"/"false", "" and null as absent, 0 as absent in the optional percepción / retención /
// detracción fields, integer ubigeos zero-padded to 6 digits, DD-MM-YYYY (and YYYY-MM-DD). Never throws on
// any input (short of std::bad_alloc); reentrant and thread-safe, like every function of this header.
read_result read_request(std::string_view text, const read_options& opts = {});

// Same, for a body known to be a generar_comprobante (no `operacion` needed).
read_result read_comprobante(std::string_view text, const read_options& opts = {});

struct write_options {
    bool local_fields = false;  // also write nubefact_bolsas / nubefact_porcentaje_isc
    bool pretty = false;        // indented, for people
};

// Canonical JSON: `operacion` first, then the fields in fact-sheet order, money with exactly 2
// decimals, unit values / quantities in shortest form, dates DD-MM-YYYY, absent fields omitted,
// unknown fields written back verbatim.
std::string write(const request& doc, const write_options& opts = {});
std::string write(const comprobante& doc, const write_options& opts = {});

// Appends `s` as one JSON string literal ("…" with escapes; bytes >= 0x80 are copied as they are).
void append_string(std::string& out, std::string_view s);

// Responses: a 200 body or an error body ({"errors","codigo"}).
struct response_result {
    std::variant<response, error_body> body;
    std::vector<finding> findings;
};
response_result read_response(std::string_view text);
std::string write(const response& r);
std::string write(const error_body& e);

// One document of an input file: its text and the 1-based line where it starts.
struct input_document {
    std::string text;
    std::size_t line = 1;
    std::size_t index = 0;  // 0-based position in the input
};

// Splits an input into documents: a single JSON object, a JSON array of objects, or JSONL (one
// object per line; blank lines skipped). Streams: memory is bounded by the largest document, not
// the file. A malformed document is still yielded (its text as read) so the caller reports it with
// its line; a framing error the reader cannot recover from is returned as a finding with the line.
// The callback returns false to stop early.
class document_reader {
  public:
    explicit document_reader(std::FILE* in, std::size_t max_document_bytes = 1 << 20);
    // Returns the next document, or nullopt at end of input (then error() tells whether it ended
    // on a framing error).
    std::optional<input_document> next();
    const std::optional<finding>& error() const { return error_; }

  private:
    std::FILE* in_;
    std::size_t max_;
    std::optional<finding> error_;
    std::string buf_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
    std::size_t index_ = 0;
    int mode_ = 0;  // 0 unknown, 1 single object, 2 array, 3 jsonl
    bool eof_ = false;
    bool fill();
};

}  // namespace nubefact::json
