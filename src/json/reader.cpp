// JSON -> typed documents: a Boost.JSON SAX handler driven by the field tables; numbers from text.
#include <nubefact/json.hpp>

#include "schema.hpp"
#include "text.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <charconv>
#include <cstring>

namespace nubefact::json {

namespace {

using namespace detail;

enum class vt : std::uint8_t { string, number, boolean, null };

// What the current key of the innermost object refers to.
enum class pending : std::uint8_t { none, known, unknown, operacion, errors, codigo };

enum class root_mode : std::uint8_t { request, comprobante_only, response };

struct frame {
    enum class type : std::uint8_t { object, array, errors };
    type t = type::object;
    bool element = false;            // an object that is an array element
    void* obj = nullptr;             // object: the struct; array: the std::vector
    const schema* sch = nullptr;     // object: its table; array: the element table
    std::string_view name;           // array: its field name (for paths)
    std::size_t index = 0;           // element object: its position; array: elements seen so far
    std::uint64_t seen[2] = {0, 0};  // object: fields already set (duplicate detection)
    std::size_t prev = SIZE_MAX;     // object: position of the previous known key (lookup hint)
};

constexpr std::size_t max_actual = 64;

const char* describe(kind k) {
    switch (k) {
        case kind::str:
            return "a string";
        case kind::integer:
            return "an integer";
        case kind::dec:
            return "a number";
        case kind::boolean:
            return "true or false";
        case kind::date:
            return "a date DD-MM-YYYY";
        case kind::array:
            return "an array";
    }
    return "a value";
}

enum class conv { ok, absent, type, range };

conv to_int(std::string_view t, std::int64_t& out) {
    std::size_t i = 0;
    const bool neg = !t.empty() && t[0] == '-';
    if (neg) i = 1;
    if (i < t.size()) {
        std::size_t j = i;
        std::int64_t v = 0;
        bool overflow = false;
        for (; j < t.size() && t[j] >= '0' && t[j] <= '9'; ++j) {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_sub_overflow(v, t[j] - '0', &v))
                overflow = true;
        }
        if (j == t.size()) {
            if (overflow) return conv::range;
            if (!neg) {
                if (v == INT64_MIN) return conv::range;
                v = -v;
            }
            out = v;
            return conv::ok;
        }
    }
    // "1.0", "1e2": accepted when the value is an exact integer.
    auto d = decimal::parse_wide(t);
    if (!d) return d.error() == decimal_errc::syntax ? conv::type : conv::range;
    if (d->fractional_digits() != 0) return conv::type;
    const __int128 q = d->raw() / 10'000'000'000;
    if (q > INT64_MAX || q < INT64_MIN) return conv::range;
    out = static_cast<std::int64_t>(q);
    return conv::ok;
}

conv to_date(std::string_view t, date& out) {
    auto d = date::parse_layout(t);
    if (!d) return conv::type;
    out = *d;
    return out.valid() ? conv::ok : conv::range;
}

bool all_digits(std::string_view t) noexcept {
    if (t.empty()) return false;
    for (char c : t)
        if (c < '0' || c > '9') return false;
    return true;
}

// A number with more than 10 fractional digits (plain or with an exponent) rounded half-up to 10;
// nullopt when the text is not such a number (syntax error, too many integer digits, or no excess).
std::optional<decimal> round_noise(std::string_view t) {
    std::size_t i = 0;
    const bool neg = !t.empty() && t[0] == '-';
    if (neg) i = 1;
    std::string digits;
    std::ptrdiff_t point = -1;
    for (; i < t.size() && ((t[i] >= '0' && t[i] <= '9') || t[i] == '.'); ++i) {
        if (t[i] == '.') {
            if (point >= 0) return std::nullopt;
            point = static_cast<std::ptrdiff_t>(digits.size());
        } else {
            digits.push_back(t[i]);
        }
        if (digits.size() > 64) return std::nullopt;
    }
    if (digits.empty()) return std::nullopt;
    if (point < 0) point = static_cast<std::ptrdiff_t>(digits.size());
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        bool eneg = false;
        if (i < t.size() && (t[i] == '-' || t[i] == '+')) eneg = t[i++] == '-';
        int e = 0;
        std::size_t start = i;
        for (; i < t.size() && t[i] >= '0' && t[i] <= '9' && e < 1000; ++i) e = e * 10 + (t[i] - '0');
        if (i == start || e >= 1000) return std::nullopt;
        point += eneg ? -e : e;
    }
    if (i != t.size()) return std::nullopt;
    const auto n = static_cast<std::ptrdiff_t>(digits.size());
    std::string ip, fp;
    if (point <= 0) {
        ip = "0";
        fp.assign(static_cast<std::size_t>(-point), '0');
        fp += digits;
    } else if (point >= n) {
        ip = digits + std::string(static_cast<std::size_t>(point - n), '0');
    } else {
        ip = digits.substr(0, static_cast<std::size_t>(point));
        fp = digits.substr(static_cast<std::size_t>(point));
    }
    while (ip.size() > 1 && ip[0] == '0') ip.erase(0, 1);
    if (fp.size() <= static_cast<std::size_t>(decimal::scale) ||
        ip.size() > static_cast<std::size_t>(decimal::max_integer_digits))
        return std::nullopt;
    const bool up = fp[decimal::scale] >= '5';
    fp.resize(decimal::scale);
    // 999999999999.99999999995 would round past 12 integer digits: a range error, as unrounded.
    if (up && ip.size() == static_cast<std::size_t>(decimal::max_integer_digits) &&
        ip.find_first_not_of('9') == std::string::npos && fp.find_first_not_of('9') == std::string::npos)
        return std::nullopt;
    auto d = decimal::parse((neg ? "-" : "") + ip + "." + fp);
    if (!d) return std::nullopt;
    if (!up) return *d;
    const decimal ulp = decimal::from_raw(1);
    return neg ? *d - ulp : *d + ulp;
}

class handler {
  public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    handler(root_mode mode, void* root, const schema* sch, std::vector<finding>& findings,
            std::size_t max_string, const read_options& opts)
        : mode_(mode),
          root_(root),
          root_sch_(sch),
          findings_(findings),
          max_string_(max_string),
          max_items_(opts.max_array_items),
          max_findings_(opts.max_findings),
          round_excess_(opts.round_excess_decimals) {
        stack_.reserve(8);
    }

    // Results.
    bool saw_root_object = false;
    bool saw_operacion = false;
    std::optional<operation> op;        // from the `operacion` value
    std::optional<std::string> errors;  // response mode
    std::optional<int> codigo;

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_comment_part(boost::json::string_view, error_code&) { return true; }
    bool on_comment(boost::json::string_view, error_code&) { return true; }

    bool on_object_begin(error_code&) {
        begin(true);
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        end();
        return true;
    }
    bool on_array_begin(error_code&) {
        begin(false);
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        end();
        return true;
    }

    bool on_key_part(boost::json::string_view s, std::size_t, error_code&) {
        key_buf_.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, error_code&) {
        if (key_buf_.empty()) {
            key(std::string_view(s.data(), s.size()));
        } else {
            key_buf_.append(s.data(), s.size());
            key(key_buf_);
            key_buf_.clear();
        }
        return true;
    }

    bool on_string_part(boost::json::string_view s, std::size_t, error_code&) {
        if (str_buf_.size() <= max_string_) str_buf_.append(s.data(), s.size());
        str_parts_ = true;
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t total, error_code&) {
        if (!str_parts_) {
            string_value(std::string_view(s.data(), s.size()), total);
        } else {
            if (str_buf_.size() <= max_string_) str_buf_.append(s.data(), s.size());
            string_value(str_buf_, total);
            str_buf_.clear();
            str_parts_ = false;
        }
        return true;
    }

    bool on_number_part(boost::json::string_view s, error_code&) {
        num_buf_.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t, boost::json::string_view s, error_code&) { return number(s); }
    bool on_uint64(std::uint64_t, boost::json::string_view s, error_code&) { return number(s); }
    bool on_double(double, boost::json::string_view s, error_code&) { return number(s); }

    bool on_bool(bool b, error_code&) {
        scalar(vt::boolean, b ? "true" : "false", b);
        return true;
    }
    bool on_null(error_code&) {
        scalar(vt::null, "null", false);
        return true;
    }

  private:
    bool number(boost::json::string_view s) {
        if (num_buf_.empty()) {
            scalar(vt::number, std::string_view(s.data(), s.size()), false);
        } else {
            num_buf_.append(s.data(), s.size());
            scalar(vt::number, num_buf_, false);
            num_buf_.clear();
        }
        return true;
    }

    void string_value(std::string_view s, std::size_t total) {
        if (total > max_string_ && !raw_active_ && skip_ == 0 && !stack_.empty() &&
            stack_.back().t == frame::type::object && pend_ != pending::none) {
            add(severity::error, field_path(), "too_long",
                std::string(cur_name_) + " is " + std::to_string(total) + " bytes long; the limit is " +
                    std::to_string(max_string_),
                "", "");
            pend_ = pending::none;
            return;
        }
        scalar(vt::string, s, false);
    }

    // ---- paths and findings ----

    std::string container_path() const {
        std::string p;
        for (const frame& f : stack_) {
            if (f.t == frame::type::object) {
                if (f.element) {
                    p.push_back('[');
                    p += std::to_string(f.index);
                    p.push_back(']');
                }
            } else {
                if (!p.empty()) p.push_back('.');
                p.append(f.name);
            }
        }
        return p;
    }
    std::string field_path() const {
        std::string p = container_path();
        if (!p.empty()) p.push_back('.');
        p.append(cur_name_);
        return p;
    }
    std::string element_path(const frame& arr) const {
        std::string p = container_path();
        p.push_back('[');
        p += std::to_string(arr.index);
        p.push_back(']');
        return p;
    }

    void add(severity s, std::string path, const char* code, std::string msg, std::string expected,
             std::string actual) {
        // Bounded: a hostile body cannot make the report bigger than the body many times over.
        if (findings_.size() >= max_findings_) {
            if (!findings_capped_) {
                findings_capped_ = true;
                findings_.push_back(finding{
                    "", "too_many_findings", severity::error,
                    "more than " + std::to_string(max_findings_) + " problems; the rest are not listed", "",
                    ""});
            }
            return;
        }
        findings_.push_back(
            finding{std::move(path), code, s, std::move(msg), std::move(expected), std::move(actual)});
    }

    void type_error(const char* expected, std::string_view actual) {
        add(severity::error, field_path(), "type", std::string(cur_name_) + " must be " + expected, "",
            truncate_utf8(actual, max_actual));
    }

    // ---- structure ----

    void begin(bool object) {
        if (raw_active_) {
            raw_begin(object);
            return;
        }
        if (skip_ > 0) {
            ++skip_;
            return;
        }
        if (stack_.empty()) {
            if (!object || saw_root_object) {
                add(severity::error, "", "type", "the document must be a JSON object", "", "");
                skip_ = 1;
                return;
            }
            saw_root_object = true;
            frame f;
            f.obj = root_;
            f.sch = root_sch_;
            stack_.push_back(f);
            return;
        }
        frame& top = stack_.back();
        if (top.t == frame::type::array) {
            if (top.index >= max_items_) {  // memory stays proportional to a sane document
                if (top.index == max_items_)
                    add(severity::error, element_path(top), "too_many",
                        std::string(top.name) + " has more than " + std::to_string(max_items_) +
                            " elements; the rest are ignored",
                        std::to_string(max_items_), "");
                ++top.index;
                skip_ = 1;
                return;
            }
            if (!object) {
                add(severity::error, element_path(top), "type",
                    std::string(top.name) + " elements must be objects", "", "an array");
                ++top.index;
                skip_ = 1;
                return;
            }
            frame f;
            f.element = true;
            f.index = top.index;
            f.sch = top.sch;
            f.obj = top.sch->append(top.obj);
            stack_.push_back(f);
            return;
        }
        if (top.t == frame::type::errors) {
            skip_ = 1;
            return;
        }
        const pending p = pend_;
        pend_ = pending::none;
        switch (p) {
            case pending::known:
                if (!object && fld_->k == kind::array) {
                    frame f;
                    f.t = frame::type::array;
                    f.obj = fld_->at(top.obj);
                    f.sch = fld_->child;
                    f.name = fld_->name;
                    // A repeated array replaces the earlier one (reported as duplicate_field).
                    f.sch->clear(f.obj);
                    stack_.push_back(f);
                    return;
                }
                type_error(describe(fld_->k), object ? "an object" : "an array");
                skip_ = 1;
                return;
            case pending::unknown:
                raw_active_ = true;
                raw_.clear();
                raw_begin(object);
                return;
            case pending::errors:
                if (!object) {
                    frame f;
                    f.t = frame::type::errors;
                    stack_.push_back(f);
                    errors.emplace();
                    return;
                }
                type_error("a string or an array of strings", "an object");
                skip_ = 1;
                return;
            case pending::operacion:
                type_error("a string", object ? "an object" : "an array");
                skip_ = 1;
                return;
            case pending::codigo:
                type_error("an integer", object ? "an object" : "an array");
                skip_ = 1;
                return;
            case pending::none:
                skip_ = 1;  // cannot happen with a well-formed event stream
                return;
        }
    }

    void end() {
        if (raw_active_) {
            raw_end();
            return;
        }
        if (skip_ > 0) {
            --skip_;
            return;
        }
        if (stack_.empty()) return;
        stack_.pop_back();
        if (!stack_.empty() && stack_.back().t == frame::type::array) ++stack_.back().index;
    }

    void key(std::string_view k) {
        if (raw_active_) {
            raw_key(k);
            return;
        }
        if (skip_ > 0 || stack_.empty()) return;
        frame& top = stack_.back();
        if (top.t != frame::type::object) return;
        if (stack_.size() == 1 && (k.size() == 9 || k.size() == 6)) {
            if (mode_ != root_mode::response && k == "operacion") {
                cur_name_ = "operacion";
                if (saw_operacion)
                    add(severity::error, "operacion", "duplicate_field", "operacion appears more than once",
                        "", "");
                saw_operacion = true;
                pend_ = pending::operacion;
                return;
            }
            if (mode_ == root_mode::response && (k == "errors" || k == "codigo")) {
                cur_name_ = k == "errors" ? "errors" : "codigo";
                pend_ = k == "errors" ? pending::errors : pending::codigo;
                return;
            }
        }
        const field* f = top.sch->find_after(top.prev == SIZE_MAX ? top.sch->fields.size() : top.prev, k);
        if (f != nullptr) {
            fld_ = f;
            cur_name_ = f->name;
            pend_ = pending::known;
            const std::size_t pos = top.sch->position(f);
            top.prev = pos;
            if (pos < 128) {
                std::uint64_t& w = top.seen[pos / 64];
                const std::uint64_t bit = std::uint64_t(1) << (pos % 64);
                if (w & bit) {
                    add(severity::error, field_path(), "duplicate_field",
                        std::string(f->name) + " appears more than once; the last value is used", "", "");
                }
                w |= bit;
            }
            return;
        }
        key_.assign(k);
        cur_name_ = key_;
        pend_ = pending::unknown;
        add(severity::warning, field_path(), "unknown_field",
            "unknown field " + truncate_utf8(key_, max_actual) + " is kept as is", "", "");
    }

    // ---- scalar values ----

    void scalar(vt t, std::string_view text, bool b) {
        if (raw_active_) {
            raw_scalar(t, text);
            return;
        }
        if (skip_ > 0) return;
        if (stack_.empty()) {
            add(severity::error, "", "type", "the document must be a JSON object", "",
                truncate_utf8(text, max_actual));
            return;
        }
        frame& top = stack_.back();
        if (top.t == frame::type::array) {
            add(severity::error, element_path(top), "type",
                std::string(top.name) + " elements must be objects", "", truncate_utf8(text, max_actual));
            ++top.index;
            return;
        }
        if (top.t == frame::type::errors) {
            if (t == vt::null) return;
            if (!errors->empty()) errors->append("; ");
            errors->append(text);
            return;
        }
        const pending p = pend_;
        pend_ = pending::none;
        switch (p) {
            case pending::known:
                apply(top, *fld_, t, text, b);
                return;
            case pending::unknown:
                raw_.clear();
                raw_active_ = true;
                raw_scalar(t, text);
                return;
            case pending::operacion:
                operacion_value(t, text);
                return;
            case pending::errors:
                if (t == vt::string || t == vt::number)
                    errors.emplace(text);
                else if (t == vt::null)
                    errors.emplace();
                else
                    type_error("a string or an array of strings", text);
                return;
            case pending::codigo: {
                if (t == vt::null) return;
                std::int64_t v = 0;
                if ((t == vt::string || t == vt::number) && to_int(text, v) == conv::ok && v >= INT32_MIN &&
                    v <= INT32_MAX)
                    codigo = static_cast<int>(v);
                else
                    type_error("an integer", text);
                return;
            }
            case pending::none:
                return;
        }
    }

    void operacion_value(vt t, std::string_view text) {
        if (t != vt::string) {
            type_error("a string naming the operation", text);
            return;
        }
        const auto o = operation_from_string(text);
        if (mode_ == root_mode::comprobante_only) {
            if (o != operation::generar_comprobante) {
                add(severity::error, "operacion", "catalogue",
                    "operacion must be generar_comprobante for this input", "generar_comprobante",
                    truncate_utf8(text, max_actual));
            }
            op = operation::generar_comprobante;
            return;
        }
        if (!o) {
            add(severity::error, "operacion", "catalogue", "operacion names no known operation", "",
                truncate_utf8(text, max_actual));
            return;
        }
        if (op && *op != *o) {
            add(severity::error, "operacion", "duplicate_field", "operacion has two different values", "",
                truncate_utf8(text, max_actual));
            return;
        }
        op = o;
    }

    void apply(const frame& top, const field& f, vt t, std::string_view text, bool b) {
        void* m = f.at(top.obj);
        switch (f.k) {
            case kind::str: {
                auto& v = *static_cast<opt_str*>(m);
                if (t == vt::null || (t == vt::string && text.empty())) {
                    v.reset();
                } else if (t == vt::boolean) {
                    type_error("a string", text);
                } else if (f.q == quirk::ubigeo && text.size() < 6 && all_digits(text)) {
                    // The manual types ubigeos as Integer: 40110 lost the leading zero of 040110.
                    v.emplace(6 - text.size(), '0');
                    v->append(text);
                } else {
                    v.emplace(text);
                }
                return;
            }
            case kind::integer: {
                auto& v = *static_cast<opt_int*>(m);
                if (t == vt::null || (t == vt::string && text.empty())) {
                    v.reset();
                    return;
                }
                std::int64_t x = 0;
                const conv c = t == vt::boolean ? conv::type : to_int(text, x);
                if (c == conv::ok) {
                    if (x == 0 && f.q == quirk::zero_absent)
                        v.reset();  // ERPs store an unset code as 0
                    else
                        v = x;
                } else if (c == conv::range) {
                    add(severity::error, field_path(), "range", std::string(f.name) + " is out of range", "",
                        truncate_utf8(text, max_actual));
                } else {
                    type_error("an integer", text);
                }
                return;
            }
            case kind::dec: {
                auto& v = *static_cast<opt_dec*>(m);
                if (t == vt::null || (t == vt::string && text.empty())) {
                    v.reset();
                    return;
                }
                if (t == vt::boolean) {
                    type_error("a number", text);
                    return;
                }
                auto d = decimal::parse(text);
                if (!d && d.error() != decimal_errc::syntax) {
                    if (auto r = round_noise(text)) {
                        // More than 10 fractional digits: what a double prints (0.12000000000000001).
                        if (round_excess_) {
                            add(severity::warning, field_path(), "rounded",
                                std::string(f.name) +
                                    " has more than 10 fractional digits (floating-point "
                                    "noise?); read as " +
                                    r->to_string(),
                                r->to_string(), truncate_utf8(text, max_actual));
                            d = *r;
                        } else {
                            add(severity::error, field_path(), "range",
                                std::string(f.name) +
                                    " has more than 10 fractional digits, which looks like floating-point "
                                    "noise: round it before sending (" +
                                    (f.fmt == num_fmt::money ? "to 2 decimals, " + r->to_string(2)
                                                             : "to at most 10 decimals, " + r->to_string()) +
                                    ")",
                                "at most 10 fractional digits", truncate_utf8(text, max_actual));
                            return;
                        }
                    }
                }
                if (d) {
                    if (d->is_zero() && f.q == quirk::zero_absent)
                        v.reset();  // ERPs store an unset amount as 0
                    else
                        v = *d;
                } else if (d.error() == decimal_errc::syntax) {
                    type_error("a number", text);
                } else {
                    add(severity::error, field_path(), "range",
                        std::string(f.name) + " has more than 12 integer or 10 fractional digits", "",
                        truncate_utf8(text, max_actual));
                }
                return;
            }
            case kind::boolean: {
                auto& v = *static_cast<opt_bool*>(m);
                if (t == vt::null || (t == vt::string && text.empty())) {
                    v.reset();
                } else if (t == vt::boolean) {
                    v = b;
                } else if (t == vt::string && text == "true") {
                    v = true;
                } else if (t == vt::string && text == "false") {
                    v = false;
                } else {
                    type_error("true or false", text);
                }
                return;
            }
            case kind::date: {
                auto& v = *static_cast<opt_date*>(m);
                if (t == vt::null || (t == vt::string && text.empty())) {
                    v.reset();
                    return;
                }
                date d;
                const conv c = t == vt::string ? to_date(text, d) : conv::type;
                if (c == conv::ok) {
                    v = d;
                } else if (c == conv::range) {
                    add(severity::error, field_path(), "range",
                        std::string(f.name) + " is not a calendar date", "", truncate_utf8(text, max_actual));
                } else {
                    type_error("a date DD-MM-YYYY (or YYYY-MM-DD)", text);
                }
                return;
            }
            case kind::array:
                if (t == vt::null || (t == vt::string && text.empty())) return;  // absent
                type_error("an array", text);
                return;
        }
    }

    // ---- verbatim capture of unknown fields ----

    void raw_before_value() {
        if (raw_levels_.empty()) return;
        std::uint8_t& top = raw_levels_.back();
        if ((top & 1) == 0) {  // inside an array
            if (top & 2) raw_.push_back(',');
            top |= 2;
        }
    }
    void raw_begin(bool object) {
        raw_before_value();
        raw_.push_back(object ? '{' : '[');
        raw_levels_.push_back(object ? 1 : 0);
    }
    void raw_key(std::string_view k) {
        std::uint8_t& top = raw_levels_.back();
        if (top & 2) raw_.push_back(',');
        top |= 2;
        append_string(raw_, k);
        raw_.push_back(':');
    }
    void raw_end() {
        raw_.push_back((raw_levels_.back() & 1) ? '}' : ']');
        raw_levels_.pop_back();
        if (raw_levels_.empty()) raw_commit();
    }
    void raw_scalar(vt t, std::string_view text) {
        raw_before_value();
        if (t == vt::string)
            append_string(raw_, text);
        else
            raw_.append(text);
        if (raw_levels_.empty()) raw_commit();
    }
    void raw_commit() {
        frame& top = stack_.back();
        top.sch->extra(top.obj).emplace_back(key_, raw_);
        raw_active_ = false;
        raw_.clear();
    }

    root_mode mode_;
    void* root_;
    const schema* root_sch_;
    std::vector<finding>& findings_;
    std::size_t max_string_;
    std::size_t max_items_;
    std::size_t max_findings_;
    bool findings_capped_ = false;
    bool round_excess_ = false;

    std::vector<frame> stack_;
    pending pend_ = pending::none;
    const field* fld_ = nullptr;
    std::string_view cur_name_;
    std::string key_;
    std::string key_buf_, str_buf_, num_buf_;
    bool str_parts_ = false;
    int skip_ = 0;
    bool raw_active_ = false;
    std::string raw_;
    std::vector<std::uint8_t> raw_levels_;  // bit 0: object; bit 1: has a member already
};

// Reports a Boost.JSON failure with its line and column.
void parse_failure(std::string_view text, std::size_t at, const error_code& ec, std::vector<finding>& out) {
    std::size_t line = 1, col = 1;
    const std::size_t end = at < text.size() ? at : text.size();
    for (std::size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    const std::string where = "line " + std::to_string(line) + ", column " + std::to_string(col);
    if (ec == boost::json::error::too_deep) {
        out.push_back(finding{"", "depth", severity::error, "JSON nested too deeply at " + where, "", ""});
        return;
    }
    // Boost reports invalid UTF-8 as a syntax error; name it when the offending byte is not ASCII.
    bool non_ascii = false;
    for (std::size_t i = end >= 4 ? end - 4 : 0; i < text.size() && i < end + 4; ++i)
        if (static_cast<unsigned char>(text[i]) >= 0x80) non_ascii = true;
    if (ec == boost::json::error::syntax && non_ascii) {
        out.push_back(finding{"", "encoding", severity::error, "invalid UTF-8 at " + where, "", ""});
        return;
    }
    if (ec == boost::json::error::incomplete) {
        out.push_back(
            finding{"", "parse", severity::error, "JSON ends too early (truncated) at " + where, "", ""});
        return;
    }
    out.push_back(
        finding{"", "parse", severity::error, "invalid JSON at " + where + ": " + ec.message(), "", ""});
}

boost::json::parse_options parse_opts(int max_depth) {
    boost::json::parse_options po;
    po.max_depth = max_depth < 1 ? 1 : static_cast<std::size_t>(max_depth);
    return po;
}

// A UTF-8 byte-order mark (Windows editors add one) is not JSON; it is skipped.
std::string_view strip_bom(std::string_view t) {
    return t.substr(0, 3) == "\xEF\xBB\xBF" ? t.substr(3) : t;
}

bool too_large(std::string_view text, std::size_t max, std::vector<finding>& findings) {
    if (text.size() <= max) return false;
    findings.push_back(
        finding{"", "too_large", severity::error,
                "body is " + std::to_string(text.size()) + " bytes; the limit is " + std::to_string(max),
                std::to_string(max), std::to_string(text.size())});
    return true;
}

// Cheap look-ahead for the top-level `operacion`: it is almost always the first key. Falls back to
// a full SAX pass that only watches the top-level keys.
class op_scanner {
  public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    std::optional<std::string> value;

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) {
        ++depth_;
        want_ = false;
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }
    bool on_array_begin(error_code&) {
        ++depth_;
        want_ = false;
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, error_code&) {
        if (depth_ == 1) key_.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, error_code&) {
        if (depth_ == 1) {
            key_.append(s.data(), s.size());
            want_ = key_ == "operacion" && !value;
            key_.clear();
        }
        return true;
    }
    bool on_string_part(boost::json::string_view s, std::size_t, error_code&) {
        if (want_ && str_.size() < 64) str_.append(s.data(), s.size());
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t, error_code&) {
        if (want_ && depth_ == 1) {
            str_.append(s.data(), s.size());
            value = str_;
        }
        str_.clear();
        want_ = false;
        return true;
    }
    bool on_number_part(boost::json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t, boost::json::string_view, error_code&) { return scalar(); }
    bool on_uint64(std::uint64_t, boost::json::string_view, error_code&) { return scalar(); }
    bool on_double(double, boost::json::string_view, error_code&) { return scalar(); }
    bool on_bool(bool, error_code&) { return scalar(); }
    bool on_null(error_code&) { return scalar(); }
    bool on_comment_part(boost::json::string_view, error_code&) { return true; }
    bool on_comment(boost::json::string_view, error_code&) { return true; }

  private:
    bool scalar() {
        want_ = false;
        return true;
    }
    int depth_ = 0;
    bool want_ = false;
    std::string key_, str_;
};

bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::optional<operation> scan_operacion(std::string_view t, int max_depth) {
    std::size_t i = 0;
    auto skip = [&] {
        while (i < t.size() && is_ws(t[i])) ++i;
    };
    skip();
    if (i < t.size() && t[i] == '{') {
        ++i;
        skip();
        constexpr std::string_view k = "\"operacion\"";
        if (t.substr(i, k.size()) == k) {
            i += k.size();
            skip();
            if (i < t.size() && t[i] == ':') {
                ++i;
                skip();
                if (i < t.size() && t[i] == '"') {
                    const std::size_t b = ++i;
                    while (i < t.size() && t[i] != '"' && t[i] != '\\') ++i;
                    if (i < t.size() && t[i] == '"') return operation_from_string(t.substr(b, i - b));
                }
            }
        }
    }
    boost::json::basic_parser<op_scanner> p(parse_opts(max_depth));
    error_code ec;
    p.write_some(false, t.data(), t.size(), ec);
    if (p.handler().value) return operation_from_string(*p.handler().value);
    return std::nullopt;
}

// Parses `text` into *root with `sch`, reports a JSON failure, then hands the handler to `after`.
template <class F>
void parse_into(std::string_view text, const read_options& opts, root_mode mode, void* root,
                const schema* sch, std::vector<finding>& findings, std::size_t max_string, F&& after) {
    boost::json::basic_parser<handler> p(parse_opts(opts.max_depth), mode, root, sch, findings, max_string,
                                         opts);
    error_code ec;
    const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
    if (ec) parse_failure(text, n, ec, findings);
    after(p.handler(), !ec);
}

}  // namespace

read_result read_request(std::string_view text, const read_options& opts) {
    read_result r;
    text = strip_bom(text);
    if (too_large(text, opts.max_bytes, r.findings)) return r;
    const std::optional<operation> op = scan_operacion(text, opts.max_depth);
    void* root = nullptr;
    const schema* sch = nullptr;
    if (!op || *op == operation::generar_comprobante) {
        root = &r.doc.emplace<comprobante>();
        sch = &comprobante_schema();
    } else {
        switch (*op) {
            case operation::generar_anulacion:
                root = &r.doc.emplace<anulacion>();
                sch = &anulacion_schema();
                break;
            case operation::generar_guia:
                root = &r.doc.emplace<guia>();
                sch = &guia_schema();
                break;
            case operation::generar_retencion:
            case operation::generar_percepcion: {
                auto& d = r.doc.emplace<retencion_percepcion>();
                d.percepcion = *op == operation::generar_percepcion;
                root = &d;
                sch = d.percepcion ? &percepcion_schema() : &retencion_schema();
                break;
            }
            default: {
                auto& d = r.doc.emplace<consulta>();
                d.op = *op;
                root = &d;
                sch = &consulta_schema();
                break;
            }
        }
    }
    parse_into(
        text, opts, root_mode::request, root, sch, r.findings, opts.max_string_bytes,
        [&](handler& h, bool ok) {
            r.op = h.op;
            if (ok && h.saw_root_object && !h.saw_operacion) {
                r.findings.push_back(finding{"operacion", "required", severity::error,
                                             "operacion is missing: the operation cannot be chosen", "", ""});
            }
        });
    if (r.op != op) r.op.reset();  // never claim an operation the document was not read as
    return r;
}

read_result read_comprobante(std::string_view text, const read_options& opts) {
    read_result r;
    r.op = operation::generar_comprobante;
    text = strip_bom(text);
    if (too_large(text, opts.max_bytes, r.findings)) return r;
    auto& doc = r.doc.emplace<comprobante>();
    parse_into(text, opts, root_mode::comprobante_only, &doc, &comprobante_schema(), r.findings,
               opts.max_string_bytes, [](handler&, bool) {});
    return r;
}

response_result read_response(std::string_view text) {
    response_result r;
    text = strip_bom(text);
    read_options opts;
    opts.max_bytes = std::size_t(64) << 20;  // responses may carry base64 PDFs
    if (too_large(text, opts.max_bytes, r.findings)) return r;
    response resp;
    parse_into(text, opts, root_mode::response, &resp, &response_schema(), r.findings, opts.max_bytes,
               [&](handler& h, bool) {
                   if (h.errors || h.codigo) {
                       error_body e;
                       e.errors = h.errors.value_or("");
                       e.codigo = h.codigo.value_or(0);
                       r.body = std::move(e);
                   } else {
                       r.body = std::move(resp);
                   }
               });
    return r;
}

}  // namespace nubefact::json
