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

// Appends `s` as one JSON string literal: '"' and '\\' escaped, control characters as \n, \r, \t,
// \b, \f or \u00XX, valid UTF-8 copied as it is and each byte of an invalid sequence replaced by
// U+FFFD, so the output is always valid JSON in valid UTF-8. The one escaper of the project.
void append_string(std::string& out, std::string_view s);

// Responses: a 200 body or an error body ({"errors","codigo"}).
struct response_result {
    std::variant<response, error_body> body;
    std::vector<finding> findings;
};
response_result read_response(std::string_view text);
std::string write(const response& r);
std::string write(const error_body& e);

// One entry of an input: a document's text, or a framing problem found while splitting the input.
// `error` set: the entry could not be delimited as one JSON object (see document_reader); `text`
// then holds what was read of it (empty when it was too large) so a caller may copy it back.
// `document` is false for problems that are not a document (a comma between objects, text that is
// not JSON, a missing ']'); those do not take an `index`.
struct input_document {
    std::string text;
    std::size_t line = 1;   // 1-based line where the document (or the problem) starts
    std::size_t index = 0;  // 0-based position among the documents of the input
    std::optional<finding> error;
    bool document = true;
};

// How an input holds its documents, as far as it has been read.
enum class input_shape { object, array, jsonl };

// Splits an input into documents: a JSON object, a JSON array of objects, JSONL (one object per
// line; blank lines skipped), or several objects one after the other. Streams: memory is bounded by
// max_document_bytes plus one read chunk, whatever the input. Always makes progress and never stops
// before the end of input: each framing problem is one entry with `error` set (codes in
// docs/send.md: too_large, unterminated_string, unclosed, not_an_object, comma_between_objects,
// not_json, array_not_closed, text_after_array, io), then reading resumes at the next line or
// element. After 100 problems the rest are counted and reported as one last entry
// (more_framing_problems), so the output is bounded too. Not thread-safe; `in` must outlive it.
class document_reader {
  public:
    explicit document_reader(std::FILE* in, std::size_t max_document_bytes = 1 << 20);
    // The next entry, or nullopt at the end of input.
    std::optional<input_document> next();
    // array from the first '[' on; jsonl once a second entry or a one-line first object was read.
    input_shape shape() const;

  private:
    static constexpr std::size_t max_reported = 100;
    std::optional<input_document> read_entry();
    std::optional<input_document> scan_value();
    input_document scan_scalar();
    input_document skip_junk();
    std::string skip_run();
    input_document problem(std::size_t line, const char* code, std::string message, bool document);
    bool next_line_starts_document(std::size_t start_col, int last_significant);
    void skip_line();
    int peek(std::size_t k = 0);
    int get();
    bool fill();

    std::FILE* in_;
    std::size_t max_;
    // The read buffer: bytes before pos_ are consumed; mark_ (when set) pins the current document.
    std::string buf_;
    std::size_t pos_ = 0;
    std::size_t mark_ = std::string::npos;
    bool eof_ = false;
    int read_errno_ = 0;
    std::size_t line_ = 1, col_ = 0;
    std::size_t index_ = 0, entries_ = 0;
    enum class mode { start, objects, array, after_array, done } mode_ = mode::start;
    bool line_mode_ = false;  // JSONL: a line's end ends its document
    bool was_array_ = false, comma_reported_ = false, bom_checked_ = false, io_reported_ = false;
    std::size_t array_line_ = 0;
    std::size_t reported_ = 0, suppressed_ = 0, first_suppressed_ = 0, last_suppressed_ = 0;
    std::string containers_;  // '{' / '[' of the open containers of the current document (capped)
};

}  // namespace nubefact::json
