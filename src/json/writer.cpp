// Typed documents -> canonical Nubefact JSON, driven by the same field tables as the reader.
#include <nubefact/json.hpp>

#include "schema.hpp"
#include "text.hpp"

#include <charconv>

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

void append_escaped(std::string& out, std::string_view s) {
    out.push_back('"');
    std::size_t run = 0;  // start of the pending run of bytes copied as they are
    std::size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            const std::size_t n = utf8_len(s, i);
            if (n != 0) {
                i += n;
                continue;
            }
            out.append(s.data() + run, i - run);
            out.append("\xEF\xBF\xBD");  // U+FFFD
            run = ++i;
            continue;
        }
        out.append(s.data() + run, i - run);
        switch (c) {
            case '"':
                out.append("\\\"");
                break;
            case '\\':
                out.append("\\\\");
                break;
            case '\n':
                out.append("\\n");
                break;
            case '\r':
                out.append("\\r");
                break;
            case '\t':
                out.append("\\t");
                break;
            case '\b':
                out.append("\\b");
                break;
            case '\f':
                out.append("\\f");
                break;
            default: {
                const char e[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                out.append(e, sizeof e);
            }
        }
        run = ++i;
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
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

namespace {

using namespace detail;

class writer {
  public:
    explicit writer(const write_options& o) : opts_(o) { out_.reserve(4096); }

    std::string take() { return std::move(out_); }

    void object(const schema& sch, const void* obj, std::string_view operacion, int depth) {
        out_.push_back('{');
        bool first = true;
        if (!operacion.empty()) {
            member("operacion", first, depth);
            append_escaped(out_, operacion);
        }
        void* o = const_cast<void*>(obj);  // the tables give mutable access; nothing is modified here
        for (const field& f : sch.fields) {
            if (f.local && !opts_.local_fields) continue;
            const void* m = f.get(o);
            switch (f.k) {
                case kind::str: {
                    const auto& v = *static_cast<const opt_str*>(m);
                    if (!v) break;
                    member(f.name, first, depth);
                    append_escaped(out_, *v);
                    break;
                }
                case kind::integer: {
                    const auto& v = *static_cast<const opt_int*>(m);
                    if (!v) break;
                    member(f.name, first, depth);
                    integer(*v);
                    break;
                }
                case kind::dec: {
                    const auto& v = *static_cast<const opt_dec*>(m);
                    if (!v) break;
                    member(f.name, first, depth);
                    // Money gets 2 decimals but never loses digits: a value with more is written exactly
                    // (and fiscal::check reports it), so writing never changes a document.
                    if (f.fmt == num_fmt::money && v->fractional_digits() <= 2)
                        out_.append(v->to_string(2));
                    else
                        out_.append(v->to_string());
                    break;
                }
                case kind::boolean: {
                    const auto& v = *static_cast<const opt_bool*>(m);
                    if (!v) break;
                    member(f.name, first, depth);
                    out_.append(*v ? "true" : "false");
                    break;
                }
                case kind::date: {
                    const auto& v = *static_cast<const opt_date*>(m);
                    if (!v) break;
                    member(f.name, first, depth);
                    out_.push_back('"');
                    out_.append(v->to_wire());
                    out_.push_back('"');
                    break;
                }
                case kind::array: {
                    const std::size_t n = f.child->size(m);
                    if (n == 0) break;
                    member(f.name, first, depth);
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
        append_escaped(out_, name);
        out_.push_back(':');
        if (opts_.pretty) out_.push_back(' ');
    }

    void integer(std::int64_t v) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, r.ptr);
    }

    void newline(int depth) {
        if (!opts_.pretty) return;
        out_.push_back('\n');
        out_.append(static_cast<std::size_t>(depth) * 2, ' ');
    }

    std::string& raw() { return out_; }

  private:
    const write_options& opts_;
    std::string out_;
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
    std::string& o = w.raw();
    o.append("{\"errors\":");
    append_escaped(o, e.errors);
    o.append(",\"codigo\":");
    w.integer(e.codigo);
    o.push_back('}');
    return w.take();
}

}  // namespace nubefact::json
