// Emulator internals without I/O: the top-level JSON scanner, wire formatting.
#include "protocol.hpp"

#include <openssl/evp.h>
#include <boost/json/basic_parser_impl.hpp>

#include <array>
#include <cctype>
#include <charconv>
#include <cstring>

namespace nubefact::emulator::detail {

std::optional<std::int64_t> parse_cents(std::string_view s) noexcept {
    bool neg = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        neg = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s.empty()) return std::nullopt;
    std::int64_t whole = 0;
    std::size_t i = 0;
    int int_digits = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        if (++int_digits > 15) return std::nullopt;
        whole = whole * 10 + (s[i] - '0');
    }
    std::int64_t frac = 0;
    int frac_digits = 0;
    bool round_up = false;
    if (i < s.size() && s[i] == '.') {
        ++i;
        std::size_t start = i;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
            if (frac_digits < 2) {
                frac = frac * 10 + (s[i] - '0');
                ++frac_digits;
            } else if (i == start + 2) {
                round_up = s[i] >= '5';
            }
        }
        if (i == start && int_digits == 0) return std::nullopt;
    }
    if (int_digits == 0 && frac_digits == 0) return std::nullopt;
    if (i != s.size()) return std::nullopt;  // exponents and junk are not money
    while (frac_digits < 2) {
        frac *= 10;
        ++frac_digits;
    }
    std::int64_t cents = whole * 100 + frac + (round_up ? 1 : 0);
    return neg ? -cents : cents;
}

void append_cents(std::string& o, std::int64_t cents) {
    bool neg = cents < 0;
    std::uint64_t u = neg ? static_cast<std::uint64_t>(-(cents + 1)) + 1 : static_cast<std::uint64_t>(cents);
    if (neg) o.push_back('-');
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, u / 100);
    o.append(num, r.ptr);
    o.push_back('.');
    o.push_back(static_cast<char>('0' + (u % 100) / 10));
    o.push_back(static_cast<char>('0' + u % 10));
}

std::string format_cents(std::int64_t cents) {
    std::string out;
    append_cents(out, cents);
    return out;
}

namespace {
// SHA-1 fetched once and one digest context per thread (EVP_Digest fetches and allocates per call).
struct sha1_ctx {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    sha1_ctx() = default;
    sha1_ctx(const sha1_ctx&) = delete;
    sha1_ctx& operator=(const sha1_ctx&) = delete;
    ~sha1_ctx() {
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
    }
};
}  // namespace

void sha1_base64_to(std::string_view data, char (&out)[28]) {
    thread_local sha1_ctx c;
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (!c.md || !c.ctx || !EVP_DigestInit_ex2(c.ctx, c.md, nullptr) ||
        !EVP_DigestUpdate(c.ctx, data.data(), data.size()) || !EVP_DigestFinal_ex(c.ctx, md.data(), &len))
        EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha1(), nullptr);
    unsigned char b64[32];  // 28 characters and EVP_EncodeBlock's terminating NUL
    EVP_EncodeBlock(b64, md.data(), static_cast<int>(len));
    std::memcpy(out, b64, 28);
}

std::string sha1_base64(std::string_view data) {
    char out[28];
    sha1_base64_to(data, out);
    return std::string(out, 28);
}

namespace {

// SAX handler for boost::json::basic_parser: keeps the top-level scalars the emulator needs.
struct scan_handler {
    static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
    static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

    doc_view* out = nullptr;
    int depth = 0;
    bool root_is_object = false;
    std::string key;      // current top-level key
    std::string key_buf;  // key being assembled
    std::string str;      // string value being assembled
    std::string num;      // number text being assembled

    enum class field {
        other,
        operacion,
        tipo,
        serie,
        numero,
        codigo_unico,
        fecha,
        total,
        igv,
        cliente_tipo,
        cliente_numero,
        motivo,
        moneda
    };
    field current() const {
        if (depth != 1) return field::other;
        if (key == "operacion") return field::operacion;
        if (key == "tipo_de_comprobante") return field::tipo;
        if (key == "serie") return field::serie;
        if (key == "numero") return field::numero;
        if (key == "codigo_unico") return field::codigo_unico;
        if (key == "fecha_de_emision") return field::fecha;
        if (key == "total") return field::total;
        if (key == "total_igv") return field::igv;
        if (key == "cliente_tipo_de_documento") return field::cliente_tipo;
        if (key == "cliente_numero_de_documento") return field::cliente_numero;
        if (key == "motivo") return field::motivo;
        if (key == "moneda") return field::moneda;
        return field::other;
    }
    void bad() {
        if (out->bad_field.empty()) out->bad_field = key;
    }
    static std::optional<std::int64_t> as_int(std::string_view t) {
        if (t.empty() || t.size() > 12) return std::nullopt;
        std::int64_t v = 0;
        for (char c : t) {
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + (c - '0');
        }
        return v;
    }
    // A scalar in text form (strings as read, numbers as written, booleans as true/false).
    void scalar(std::string_view t, bool is_string) {
        auto f = current();
        if (f == field::other) return;
        if (is_string && t.empty() && f != field::operacion) return;  // "" is absent
        switch (f) {
            case field::operacion:
                if (!is_string) return bad();
                out->operacion.assign(t);
                break;
            case field::tipo:
            case field::numero: {
                auto v = as_int(t);
                if (!v) return bad();
                (f == field::tipo ? out->tipo : out->numero) = v;
                break;
            }
            case field::serie:
                if (!is_string) return bad();
                out->serie = std::string(t);
                break;
            case field::codigo_unico:
                out->codigo_unico.assign(t);
                break;
            case field::fecha:
                out->fecha_text.assign(t);
                out->fecha = date::parse(t);
                if (!out->fecha) bad();
                break;
            case field::total:
            case field::igv: {
                auto c = parse_cents(t);
                if (!c) return bad();
                (f == field::total ? out->total_cents : out->igv_cents) = c;
                break;
            }
            case field::cliente_tipo:
                out->cliente_tipo.assign(t);
                break;
            case field::cliente_numero:
                out->cliente_numero.assign(t);
                break;
            case field::motivo:
                out->motivo.assign(t);
                break;
            case field::moneda:
                if (auto v = as_int(t)) out->moneda = *v;
                break;
            case field::other:
                break;
        }
    }

    bool not_object(boost::system::error_code& ec) {
        ec = boost::json::error::syntax;
        return false;
    }
    bool on_document_begin(boost::system::error_code&) { return true; }
    bool on_document_end(boost::system::error_code&) { return true; }
    bool on_array_begin(boost::system::error_code& ec) {
        if (depth == 0) return not_object(ec);
        if (depth == 1 && current() != field::other) bad();
        ++depth;
        return true;
    }
    bool on_array_end(std::size_t, boost::system::error_code&) {
        --depth;
        return true;
    }
    bool on_object_begin(boost::system::error_code&) {
        if (depth == 0) root_is_object = true;
        if (depth == 1 && current() != field::other) bad();
        ++depth;
        return true;
    }
    bool on_object_end(std::size_t, boost::system::error_code&) {
        --depth;
        return true;
    }
    bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        if (depth == 1) str.append(s.data(), s.size());
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
        if (depth == 0) return not_object(ec);
        if (depth == 1) {
            str.append(s.data(), s.size());
            scalar(str, true);
            str.clear();
        }
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        if (depth == 1) key_buf.append(s.data(), s.size());
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code&) {
        if (depth == 1) {
            key_buf.append(s.data(), s.size());
            key.swap(key_buf);
            key_buf.clear();
        }
        return true;
    }
    bool on_number_part(boost::json::string_view s, boost::system::error_code&) {
        if (depth == 1) num.append(s.data(), s.size());
        return true;
    }
    bool number(boost::json::string_view s, boost::system::error_code& ec) {
        if (depth == 0) return not_object(ec);
        if (depth == 1) {
            num.append(s.data(), s.size());
            scalar(num, false);
            num.clear();
        }
        return true;
    }
    bool on_int64(std::int64_t, boost::json::string_view s, boost::system::error_code& ec) {
        return number(s, ec);
    }
    bool on_uint64(std::uint64_t, boost::json::string_view s, boost::system::error_code& ec) {
        return number(s, ec);
    }
    bool on_double(double, boost::json::string_view s, boost::system::error_code& ec) {
        return number(s, ec);
    }
    bool on_bool(bool, boost::system::error_code& ec) {
        if (depth == 0) return not_object(ec);
        if (depth == 1 && current() != field::other) bad();
        return true;
    }
    bool on_null(boost::system::error_code& ec) { return depth != 0 || not_object(ec); }
    bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

bool scan_body(std::string_view body, doc_view& out, std::string& error, int max_depth) {
    boost::json::parse_options po;
    po.max_depth = static_cast<std::size_t>(max_depth);
    boost::json::basic_parser<scan_handler> p(po);
    p.handler().out = &out;
    boost::system::error_code ec;
    auto n = p.write_some(false, body.data(), body.size(), ec);
    if (!ec && n < body.size()) {
        // Only whitespace may follow the document.
        for (auto i = n; i < body.size(); ++i)
            if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t') {
                ec = boost::json::error::extra_data;
                break;
            }
    }
    if (ec || !p.done()) {
        if (!p.handler().root_is_object && !ec) {
            error = "el cuerpo no es un objeto JSON";
        } else if (ec == boost::json::error::extra_data) {
            error = "hay datos después del objeto JSON";
        } else if (ec == boost::json::error::too_deep) {
            error = "JSON anidado demasiado profundo";
        } else if (!p.handler().root_is_object) {
            error = "el cuerpo no es un objeto JSON";
        } else {
            error = "JSON inválido cerca del byte " + std::to_string(n) + " (" + ec.message() + ")";
        }
        return false;
    }
    return true;
}

}  // namespace nubefact::emulator::detail
