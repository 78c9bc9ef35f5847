// json::document_reader: splits a stream into JSON documents (one object, an array, JSONL, or
// objects one after the other), turning every framing problem into one entry and going on.
#include <nubefact/json.hpp>

#include <cerrno>
#include <cstring>
#include <string>

namespace nubefact::json {

namespace {
constexpr std::size_t chunk = 64 * 1024;
constexpr std::size_t max_tracked_depth = 256;  // containers_ beyond this depth count as arrays
constexpr std::size_t max_indent = 4096;        // longer leading white space: not a document start

bool is_ws(int c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
std::string num(std::size_t n) {
    return std::to_string(n);
}
}  // namespace

document_reader::document_reader(std::FILE* in, std::size_t max_document_bytes)
    : in_(in), max_(max_document_bytes) {}

input_shape document_reader::shape() const {
    if (was_array_) return input_shape::array;
    return entries_ > 1 ? input_shape::jsonl : input_shape::object;
}

// Appends up to one chunk to buf_; false at end of input (or on a read error, kept in read_errno_).
bool document_reader::fill() {
    if (eof_) return false;
    // Drop what was consumed, except the pinned document, so memory stays bounded by it.
    const std::size_t keep_from = mark_ == std::string::npos ? pos_ : std::min(mark_, pos_);
    if (keep_from > 0) {
        buf_.erase(0, keep_from);
        pos_ -= keep_from;
        if (mark_ != std::string::npos) mark_ -= keep_from;
    }
    const std::size_t old = buf_.size();
    buf_.resize(old + chunk);
    const std::size_t n = std::fread(buf_.data() + old, 1, chunk, in_);
    buf_.resize(old + n);
    if (n == 0) {
        eof_ = true;
        if (std::ferror(in_)) read_errno_ = errno ? errno : EIO;
    }
    return n > 0;
}

int document_reader::peek(std::size_t k) {
    while (buf_.size() - pos_ <= k)
        if (!fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_ + k]);
}

int document_reader::get() {
    const int c = peek();
    if (c < 0) return c;
    ++pos_;
    if (c == '\n') {
        ++line_;
        col_ = 0;
    } else {
        ++col_;
    }
    return c;
}

void document_reader::skip_line() {
    for (int c = get(); c >= 0 && c != '\n'; c = get()) {
    }
}

input_document document_reader::problem(std::size_t line, const char* code, std::string message,
                                        bool document) {
    input_document d;
    d.line = line;
    d.document = document;
    d.error = finding{"", code, severity::error, std::move(message), "", ""};
    return d;
}

// At a new line inside a document that started in column `start_col`: whether the next line
// starts another document rather than continuing this one. It does when it starts with '{' no
// further right than this document did and this document cannot take a value there (an object
// key is due, or a ',' / '}' is missing): pretty printers indent what is nested, so a '{' that far
// left after a complete member is a new document and this one lacks its closing brace.
bool document_reader::next_line_starts_document(std::size_t start_col, int last_significant) {
    std::size_t k = 1;
    int c;
    while ((c = peek(k)) == ' ' || c == '\t' || c == '\r') {
        if (++k > max_indent) return false;
    }
    if (c != '{' || k - 1 > start_col) return false;
    if (last_significant == ':' || last_significant == '[') return false;
    const bool in_array =
        containers_.empty() || containers_.back() == '[' || containers_.size() >= max_tracked_depth;
    if (last_significant == ',' && in_array) return false;
    return true;
}

std::optional<input_document> document_reader::next() {
    for (;;) {
        auto e = read_entry();
        if (!e) {
            if (suppressed_ == 0) return std::nullopt;
            auto s = problem(first_suppressed_, "more_framing_problems",
                             num(suppressed_) + " more framing problem" + (suppressed_ == 1 ? "" : "s") +
                                 " between lines " + num(first_suppressed_) + " and " +
                                 num(last_suppressed_) + " not reported one by one",
                             false);
            suppressed_ = 0;
            return s;
        }
        if (e->error && e->error->code != "io") {
            if (reported_ >= max_reported) {
                if (suppressed_++ == 0) first_suppressed_ = e->line;
                last_suppressed_ = e->line;
                continue;
            }
            ++reported_;
        }
        ++entries_;
        return e;
    }
}

// One entry; every path through the loop either consumes input or changes mode_ towards one that
// does, so the reader always makes progress.
std::optional<input_document> document_reader::read_entry() {
    for (;;) {
        if (!bom_checked_) {
            // A UTF-8 byte-order mark (Windows editors) before the first document is skipped.
            bom_checked_ = true;
            if (peek(0) == 0xEF && peek(1) == 0xBB && peek(2) == 0xBF) pos_ += 3;
        }
        int c = peek();
        while (is_ws(c)) {
            get();
            c = peek();
        }
        if (c < 0) {
            if (read_errno_ && !io_reported_) {
                io_reported_ = true;
                mode_ = mode::done;
                return problem(line_, "io", std::string("read error: ") + std::strerror(read_errno_), false);
            }
            if (mode_ == mode::array) {
                mode_ = mode::done;
                return problem(line_, "array_not_closed",
                               "the array opened at line " + num(array_line_) +
                                   " is not closed: ']' is missing at the end of the input",
                               false);
            }
            mode_ = mode::done;
            return std::nullopt;
        }
        switch (mode_) {
            case mode::start:
                if (c == '[') {
                    array_line_ = line_;
                    was_array_ = true;
                    mode_ = mode::array;
                    get();
                } else {
                    mode_ = mode::objects;
                }
                continue;
            case mode::after_array: {
                // Reported once: more documents are read as such, anything else is skipped.
                mode_ = mode::start;
                const std::size_t at = line_;
                const std::string what = c == '{' || c == '[' ? "it is read as more documents" : skip_run();
                return problem(at, "text_after_array",
                               "text after the ']' that closes the array opened at line " + num(array_line_) +
                                   " (a file holds one array); " + what,
                               false);
            }
            case mode::array:
                if (c == ',') {
                    get();
                    continue;
                }
                if (c == ']') {
                    get();
                    mode_ = mode::after_array;
                    continue;
                }
                if (c == '{' || c == '[') return scan_value();
                return scan_scalar();
            case mode::objects:
                if (c == ',') {
                    const std::size_t at = line_;
                    get();
                    if (comma_reported_) continue;
                    comma_reported_ = true;
                    return problem(
                        at, "comma_between_objects",
                        "a ',' between top-level objects (a file holds one object, one array [ ... ] of "
                        "objects, or one object per line); the objects are still read",
                        false);
                }
                if (c == '{') return scan_value();
                return skip_junk();
            case mode::done:
                return std::nullopt;
        }
    }
}

// One value from its '{' (or, in an array, '[') by bracket matching, respecting strings. It ends at
// its closing bracket; in JSONL mode at its line's end at the latest; and before a line that starts
// another document (next_line_starts_document). A string still open at a line's end is an error and
// is taken as closed there (JSON strings cannot hold a raw new line), so one missing quote never
// swallows the documents after it. Past max_ bytes the text is dropped and the value is skipped.
std::optional<input_document> document_reader::scan_value() {
    input_document d;
    d.line = line_;
    d.index = index_++;
    const std::size_t start_col = col_;
    const bool first = d.index == 0;
    mark_ = pos_;
    std::size_t size = 0, depth = 0;
    bool discarding = false, in_str = false, esc = false;
    int last_significant = 0;
    containers_.clear();
    auto fail = [&](const char* code, std::string message) {
        if (!d.error) d.error = finding{"", code, severity::error, std::move(message), "", ""};
    };
    for (;;) {
        // Fast path: the buffered bytes up to the next new line, without a call per byte (a third
        // of validate's time on a 27 MB JSONL otherwise). New lines and refills take the slow path.
        bool closed = false;
        {
            const char* data = buf_.data();
            const std::size_t n = buf_.size();
            std::size_t i = pos_;
            while (i < n && !closed) {
                const char c = data[i];
                if (c == '\n') break;
                ++i;
                if (in_str) {
                    if (esc)
                        esc = false;
                    else if (c == '\\')
                        esc = true;
                    else if (c == '"')
                        in_str = false;
                    continue;
                }
                switch (c) {
                    case '"':
                        in_str = true;
                        last_significant = '"';
                        break;
                    case '{':
                    case '[':
                        if (++depth <= max_tracked_depth) containers_.push_back(c);
                        last_significant = static_cast<unsigned char>(c);
                        break;
                    case '}':
                    case ']':
                        if (depth <= max_tracked_depth && !containers_.empty()) containers_.pop_back();
                        last_significant = static_cast<unsigned char>(c);
                        closed = --depth == 0;
                        break;
                    case ' ':
                    case '\t':
                    case '\r':
                        break;
                    default:
                        last_significant = static_cast<unsigned char>(c);
                }
            }
            col_ += i - pos_;
            size += i - pos_;
            pos_ = i;
        }
        if (!discarding && size > max_) {
            discarding = true;
            mark_ = std::string::npos;  // let fill() drop it: memory stays bounded
        }
        if (closed) break;
        const int c = peek();
        if (c < 0) {
            if (!d.error) {
                std::string m = "the input ends inside the document that starts at line " + num(d.line) +
                                " (a closing '}' or ']' is missing)";
                if (mode_ == mode::array) {
                    m += "; the array opened at line " + num(array_line_) + " is not closed either";
                    mode_ = mode::done;
                }
                fail("unclosed", std::move(m));
            }
            break;
        }
        if (c == '\n') {
            if (in_str) {
                fail("unterminated_string", "a string is not closed before the end of line " + num(line_));
                in_str = esc = false;
                last_significant = '"';
                if (line_mode_) break;
            }
            if (line_mode_) {
                fail("unclosed", "the object that starts at line " + num(d.line) +
                                     " is not closed at the end of its line (JSONL: one object per line)");
                break;
            } else if ((first && mode_ == mode::objects && d.line == line_ && peek(1) == '{') ||
                       next_line_starts_document(start_col, last_significant)) {
                // A first document unfinished on its line, before a '{' in column 0: a malformed
                // JSONL line, not a pretty-printed object; the rest is read line by line.
                if (first && mode_ == mode::objects && d.line == line_) line_mode_ = true;
                fail("unclosed", "the document that starts at line " + num(d.line) +
                                     " is not closed before line " + num(line_ + 1) +
                                     ", where another one starts");
                break;
            }
        }
        get();
        ++size;
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
            last_significant = '"';
        } else if (c == '{' || c == '[') {
            if (++depth <= max_tracked_depth) containers_.push_back(static_cast<char>(c));
            last_significant = c;
        } else if (c == '}' || c == ']') {
            if (depth <= max_tracked_depth && !containers_.empty()) containers_.pop_back();
            last_significant = c;
            if (--depth == 0) break;
        } else if (!is_ws(c)) {
            last_significant = c;
        }
        if (!discarding && size > max_) {
            discarding = true;
            mark_ = std::string::npos;  // let fill() drop it: memory stays bounded
        }
    }
    if (discarding) {
        d.error = finding{"",
                          "too_large",
                          severity::error,
                          "document larger than " + num(max_) + " bytes, the limit; skipped",
                          "",
                          ""};
    } else {
        d.text.assign(buf_, mark_, pos_ - mark_);
    }
    mark_ = std::string::npos;
    // A complete one-line first object: the input is JSONL, a line's end ends each document.
    if (first && !d.error && d.line == line_ && mode_ == mode::objects) line_mode_ = true;
    if (d.text.size() > 0 && d.text[0] == '[' && !d.error) {
        d.error = finding{"",
                          "not_an_object",
                          severity::error,
                          "element " + num(d.index + 1) + " of the array is an array, not an object",
                          "",
                          ""};
    }
    return d;
}

// An array element that is not an object or array (a number, a string, a word): up to the next
// ',', ']', '{', '[' or line end.
input_document document_reader::scan_scalar() {
    auto d = problem(line_, "not_an_object", "", true);
    d.index = index_++;
    bool in_str = false, esc = false;
    get();  // the first byte: not a stop byte (read_entry saw it)
    if (buf_[pos_ - 1] == '"') in_str = true;
    for (;;) {
        const int c = peek();
        if (c < 0 || c == '\n') break;
        if (!in_str && (c == ',' || c == ']' || c == '{' || c == '[')) break;
        get();
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        }
    }
    d.error->message = "element " + num(d.index + 1) + " of the array is not an object";
    return d;
}

// Text between documents that is not one (a heading, a stray word or bracket): skipped up to the
// next line that starts with '{', reported once for the whole run.
input_document document_reader::skip_junk() {
    const std::size_t at = line_;
    return problem(at, "not_json", "text that is not a JSON object (" + skip_run() + ")", false);
}

// Skips from here to the next line that starts with '{' (or the end); says what was skipped.
std::string document_reader::skip_run() {
    const std::size_t first_line = line_;
    skip_line();
    for (;;) {
        std::size_t k = 0;
        int c;
        while ((c = peek(k)) == ' ' || c == '\t' || c == '\r') {
            if (++k > max_indent) break;
        }
        if (c < 0 || c == '{') break;
        skip_line();
    }
    const std::size_t last_line = line_ > first_line ? line_ - 1 : first_line;
    return last_line > first_line ? "lines " + num(first_line) + " to " + num(last_line) + " skipped"
                                  : std::string("the rest of the line is skipped");
}

}  // namespace nubefact::json
