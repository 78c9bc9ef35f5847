// json::document_reader: splits a stream into JSON documents (one object, an array, or JSONL).
#include <nubefact/json.hpp>

#include <string>

namespace nubefact::json {

namespace {
constexpr std::size_t chunk = 64 * 1024;
bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
}  // namespace

document_reader::document_reader(std::FILE* in, std::size_t max_document_bytes)
    : in_(in), max_(max_document_bytes) {}

// Appends up to one chunk to buf_; false at end of input.
bool document_reader::fill() {
    if (eof_) return false;
    // Drop what was consumed so memory stays bounded by the current document.
    if (pos_ > 0) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    const std::size_t old = buf_.size();
    buf_.resize(old + chunk);
    const std::size_t n = std::fread(buf_.data() + old, 1, chunk, in_);
    buf_.resize(old + n);
    if (n == 0) eof_ = true;
    return n > 0;
}

std::optional<input_document> document_reader::next() {
    if (error_) return std::nullopt;
    // Skip white space (and, in an array, the separating comma) counting lines.
    for (;;) {
        if (pos_ >= buf_.size() && !fill()) return std::nullopt;
        const char c = buf_[pos_];
        if (is_ws(c)) {
            if (c == '\n') ++line_;
            ++pos_;
            continue;
        }
        if (mode_ == 0) {
            // A UTF-8 byte-order mark (Windows editors) before the first document is skipped.
            if (c == '\xEF' && line_ == 1 && index_ == 0) {
                while (buf_.size() - pos_ < 3 && fill()) {
                }
                if (buf_.compare(pos_, 3, "\xEF\xBB\xBF") == 0) {
                    pos_ += 3;
                    continue;
                }
            }
            if (c == '[') {
                mode_ = 2;
                ++pos_;
                continue;
            }
            mode_ = 1;
        } else if (mode_ == 2 && c == ',') {
            ++pos_;
            continue;
        } else if (mode_ == 2 && c == ']') {
            ++pos_;
            mode_ = 4;  // array closed: only white space may follow
            continue;
        } else if (mode_ == 4) {
            error_ = finding{
                "",
                "framing",
                severity::error,
                "line " + std::to_string(line_) + ": unexpected text after the closing ']' of the array",
                "",
                ""};
            return std::nullopt;
        }
        break;
    }

    // Scan one value by bracket matching, respecting strings. In JSONL mode (a second top-level
    // value was found after a one-line first document) a value ends at its line's end at the latest,
    // so one malformed line never swallows the next.
    input_document doc;
    doc.line = line_;
    doc.index = index_++;
    std::size_t i = pos_;
    int depth = 0;
    bool in_string = false, escape = false;
    std::size_t lines_inside = 0;
    for (;;) {
        if (i >= buf_.size()) {
            const std::size_t rel = i - pos_;
            if (!fill()) {
                // End of input inside the value: hand over what there is; the parser reports it.
                doc.text.assign(buf_, pos_, std::string::npos);
                pos_ = buf_.size();
                line_ += lines_inside;
                return doc;
            }
            i = pos_ + rel;
            continue;
        }
        const char c = buf_[i];
        if (c == '\n') {
            // JSONL: the line ends the document, complete or not; so does a bare top-level scalar.
            if (mode_ == 3 || (depth == 0 && !in_string)) break;
            // An unfinished first document followed by a line that starts with '{' in column 0 is a
            // malformed JSONL line, not a pretty-printed object (those indent nested lines): end it
            // here so the next lines are still read one by one.
            if (mode_ == 1 && lines_inside == 0) {
                if (i + 1 >= buf_.size()) {
                    const std::size_t rel = i - pos_;
                    fill();
                    i = pos_ + rel;
                }
                if (i + 1 < buf_.size() && buf_[i + 1] == '{') {
                    mode_ = 3;
                    break;
                }
            }
            ++lines_inside;
        }
        if (in_string) {
            if (escape)
                escape = false;
            else if (c == '\\')
                escape = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
            if (depth <= 0) {
                ++i;
                break;
            }
        } else if (depth == 0 && (c == ',' || (mode_ == 2 && c == ']'))) {
            break;  // a scalar element of an array
        }
        ++i;
        if (i - pos_ > max_) {
            error_ = finding{
                "",
                "too_large",
                severity::error,
                "line " + std::to_string(line_) + ": document larger than " + std::to_string(max_) + " bytes",
                "",
                ""};
            return std::nullopt;
        }
    }
    doc.text.assign(buf_, pos_, i - pos_);
    pos_ = i;
    line_ += lines_inside;
    if (mode_ == 1 && lines_inside == 0) mode_ = 3;  // a one-line first object: treat the input as JSONL
    return doc;
}

}  // namespace nubefact::json
