// Typed documents -> canonical Nubefact JSON, driven by the same field tables as the reader.
#include <nubefact/json.hpp>

#include "schema.hpp"
#include "text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace nubefact::json {

namespace detail {

namespace {

constexpr char hex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid (RFC 3629).
std::size_t utf8_len(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    const std::size_t left = s.size() - i;
    auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
        if (c == 0xED && b(i + 1) > 0x9F) return 0;  // surrogates
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
        if (c == 0xF0 && b(i + 1) < 0x90) return 0;  // overlong
        if (c == 0xF4 && b(i + 1) > 0x8F) return 0;  // > U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace

namespace {

// True when one of the 8 bytes of w needs attention: < 0x20, '"', '\\' or >= 0x80.
inline bool word_needs_care(std::uint64_t w) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const std::uint64_t quote = w ^ (ones * '"');
    const std::uint64_t slash = w ^ (ones * '\\');
    const std::uint64_t ctl = (w - ones * 0x20) & ~w;
    const std::uint64_t q = (quote - ones) & ~quote;
    const std::uint64_t b = (slash - ones) & ~slash;
    return ((ctl | q | b | w) & highs) != 0;
}

}  // namespace

// Writes `s` quoted and escaped at p, which has room for 6 * s.size() + 2 bytes; returns the end.
char* escape_to(char* p, std::string_view s) noexcept {
    *p++ = '"';
    const char* d = s.data();
    const std::size_t n = s.size();
    std::size_t run = 0;  // start of the pending run of bytes copied as they are
    std::size_t i = 0;
    auto flush = [&] {
        std::memcpy(p, d + run, i - run);
        p += i - run;
    };
    while (i < n) {
        while (i + 8 <= n) {  // skip plain ASCII eight bytes at a time
            std::uint64_t w;
            std::memcpy(&w, d + i, 8);
            if (word_needs_care(w)) break;
            i += 8;
        }
        if (i >= n) break;
        const unsigned char c = static_cast<unsigned char>(d[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            const std::size_t len = utf8_len(s, i);
            if (len != 0) {
                i += len;
                continue;
            }
            flush();
            std::memcpy(p, "\xEF\xBF\xBD", 3);  // U+FFFD
            p += 3;
            run = ++i;
            continue;
        }
        flush();
        *p++ = '\\';
        switch (c) {
            case '"':
                *p++ = '"';
                break;
            case '\\':
                *p++ = '\\';
                break;
            case '\n':
                *p++ = 'n';
                break;
            case '\r':
                *p++ = 'r';
                break;
            case '\t':
                *p++ = 't';
                break;
            case '\b':
                *p++ = 'b';
                break;
            case '\f':
                *p++ = 'f';
                break;
            default:
                *p++ = 'u';
                *p++ = '0';
                *p++ = '0';
                *p++ = hex[c >> 4];
                *p++ = hex[c & 15];
        }
        run = ++i;
    }
    flush();
    *p++ = '"';
    return p;
}

std::string truncate_utf8(std::string_view s, std::size_t max) {
    if (s.size() <= max) return std::string(s);
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    std::string r(s.substr(0, cut));
    r.append("\xE2\x80\xA6");  // …
    return r;
}

}  // namespace detail

// The one JSON string escaper (the codec's writer, the emulator's answers, the CLI's outputs).
void append_string(std::string& out, std::string_view s) {
    const std::size_t old = out.size();
    out.resize(old + 6 * s.size() + 2);
    char* end = detail::escape_to(out.data() + old, s);
    out.resize(static_cast<std::size_t>(end - out.data()));
}

namespace {

using namespace detail;

// Output buffer with a cheap append. Writes go to this thread's scratch buffer (grown once, warm in the
// cache, never zero-filled again) and take() copies out exactly the bytes written: a document's string
// holds its size, not a 4 KiB block. A sink opened while another is open on this thread uses its own.
class sink {
  public:
    sink() {
        thread_local std::string scratch;
        thread_local bool busy = false;
        if (!busy) {
            busy = true;
            busy_ = &busy;
            s_ = &scratch;
        }
        if (s_->size() < 4096) s_->resize(4096);
    }
    ~sink() {
        if (!busy_) return;
        if (s_->size() > (std::size_t{1} << 20)) std::string().swap(*s_);  // a huge document: give it back
        *busy_ = false;
    }
    sink(const sink&) = delete;
    sink& operator=(const sink&) = delete;
    char* room(std::size_t k) {
        if (n_ + k > s_->size()) s_->resize(std::max(s_->size() * 2, n_ + k));
        return s_->data() + n_;
    }
    void commit(char* end) { n_ = static_cast<std::size_t>(end - s_->data()); }
    void push_back(char c) {
        *room(1) = c;
        ++n_;
    }
    void append(const char* p, std::size_t k) {
        std::memcpy(room(k), p, k);
        n_ += k;
    }
    void append(std::string_view v) { append(v.data(), v.size()); }
    void append(std::size_t k, char c) {
        std::memset(room(k), c, k);
        n_ += k;
    }
    void escaped(std::string_view v) { commit(escape_to(room(6 * v.size() + 2), v)); }
    std::string take() {
        std::string out(s_->data(), n_);
        n_ = 0;
        return out;
    }

  private:
    std::string own_;
    std::string* s_ = &own_;
    bool* busy_ = nullptr;
    std::size_t n_ = 0;
};

class writer {
  public:
    explicit writer(const write_options& o) : opts_(o) {}

    std::string take() { return out_.take(); }

    void object(const schema& sch, const void* obj, std::string_view operacion, int depth) {
        out_.push_back('{');
        bool first = true;
        if (!operacion.empty()) {
            member("operacion", first, depth);
            out_.escaped(operacion);
        }
        void* o = const_cast<void*>(obj);  // the tables give mutable access; nothing is modified here
        for (const field& f : sch.fields) {
            if (f.local && !opts_.local_fields) continue;
            const void* m = f.at(o);
            switch (f.k) {
                case kind::str: {
                    const auto& v = *static_cast<const opt_str*>(m);
                    if (!v) break;
                    member(f, first, depth);
                    out_.escaped(*v);
                    break;
                }
                case kind::integer: {
                    const auto& v = *static_cast<const opt_int*>(m);
                    if (!v) break;
                    member(f, first, depth);
                    integer(*v);
                    break;
                }
                case kind::dec: {
                    const auto& v = *static_cast<const opt_dec*>(m);
                    if (!v) break;
                    member(f, first, depth);
                    // Money gets 2 decimals but never loses digits: a value with more is written exactly
                    // (and fiscal::check reports it), so writing never changes a document.
                    char buf[decimal::max_chars];
                    const char* end = f.fmt == num_fmt::money && v->fractional_digits() <= 2
                                          ? v->write_to(buf, 2)
                                          : v->write_to(buf);
                    out_.append(buf, static_cast<std::size_t>(end - buf));
                    break;
                }
                case kind::boolean: {
                    const auto& v = *static_cast<const opt_bool*>(m);
                    if (!v) break;
                    member(f, first, depth);
                    out_.append(*v ? "true" : "false");
                    break;
                }
                case kind::date: {
                    const auto& v = *static_cast<const opt_date*>(m);
                    if (!v) break;
                    member(f, first, depth);
                    if (v->valid()) {
                        const int y = v->year;
                        const char d[] = {'"',
                                          static_cast<char>('0' + v->day / 10),
                                          static_cast<char>('0' + v->day % 10),
                                          '-',
                                          static_cast<char>('0' + v->month / 10),
                                          static_cast<char>('0' + v->month % 10),
                                          '-',
                                          static_cast<char>('0' + y / 1000),
                                          static_cast<char>('0' + y / 100 % 10),
                                          static_cast<char>('0' + y / 10 % 10),
                                          static_cast<char>('0' + y % 10),
                                          '"'};
                        out_.append(d, sizeof d);
                    } else {  // not produced by the reader; written as the model holds it
                        out_.push_back('"');
                        out_.append(v->to_wire());
                        out_.push_back('"');
                    }
                    break;
                }
                case kind::array: {
                    const std::size_t n = f.child->size(m);
                    if (n == 0) break;
                    member(f, first, depth);
                    out_.push_back('[');
                    for (std::size_t i = 0; i < n; ++i) {
                        if (i != 0) out_.push_back(',');
                        newline(depth + 2);
                        object(*f.child, f.child->element(m, i), {}, depth + 2);
                    }
                    newline(depth + 1);
                    out_.push_back(']');
                    break;
                }
            }
        }
        for (const auto& [name, raw] : sch.extra(o)) {
            member(name, first, depth);
            out_.append(raw.empty() ? std::string_view("null") : std::string_view(raw));
        }
        if (!first) newline(depth);
        out_.push_back('}');
    }

    void member(std::string_view name, bool& first, int depth) {
        if (!first) out_.push_back(',');
        first = false;
        newline(depth + 1);
        out_.escaped(name);
        out_.push_back(':');
        if (opts_.pretty) out_.push_back(' ');
    }
    // A table field: its quoted key is precomputed.
    void member(const field& f, bool& first, int depth) {
        if (!first) out_.push_back(',');
        first = false;
        newline(depth + 1);
        out_.append(f.key_json);
        if (opts_.pretty) out_.push_back(' ');
    }

    void integer(std::int64_t v) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
    }

    void newline(int depth) {
        if (!opts_.pretty) return;
        out_.push_back('\n');
        out_.append(static_cast<std::size_t>(depth) * 2, ' ');
    }

    sink& raw() { return out_; }

  private:
    const write_options& opts_;
    sink out_;
};

}  // namespace

std::string write(const comprobante& doc, const write_options& opts) {
    writer w(opts);
    w.object(comprobante_schema(), &doc, to_string(operation::generar_comprobante), 0);
    return w.take();
}

std::string write(const request& doc, const write_options& opts) {
    writer w(opts);
    std::visit(
        [&](const auto& d) {
            using T = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<T, comprobante>) {
                w.object(comprobante_schema(), &d, to_string(operation::generar_comprobante), 0);
            } else if constexpr (std::is_same_v<T, anulacion>) {
                w.object(anulacion_schema(), &d, to_string(operation::generar_anulacion), 0);
            } else if constexpr (std::is_same_v<T, consulta>) {
                w.object(consulta_schema(), &d, to_string(d.op), 0);
            } else if constexpr (std::is_same_v<T, guia>) {
                w.object(guia_schema(), &d, to_string(operation::generar_guia), 0);
            } else {
                w.object(
                    d.percepcion ? percepcion_schema() : retencion_schema(), &d,
                    to_string(d.percepcion ? operation::generar_percepcion : operation::generar_retencion),
                    0);
            }
        },
        doc);
    return w.take();
}

std::string write(const response& r) {
    const write_options opts;
    writer w(opts);
    w.object(response_schema(), &r, {}, 0);
    return w.take();
}

std::string write(const error_body& e) {
    const write_options opts;
    writer w(opts);
    sink& o = w.raw();
    o.append("{\"errors\":");
    o.escaped(e.errors);
    o.append(",\"codigo\":");
    w.integer(e.codigo);
    o.push_back('}');
    return w.take();
}

}  // namespace nubefact::json
