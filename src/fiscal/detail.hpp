// Internals of fiscal: the one implementation of the line/header arithmetic and the finding collector.
#pragma once

#include <nubefact/fiscal.hpp>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

namespace nubefact::fiscal::detail {

// ---- arithmetic -------------------------------------------------------------------------------------

// Exact a × b truncated toward zero at 10 decimals. Rounding that result half-up to 2 (or any fewer)
// decimals equals rounding the exact product, so there is no double rounding.
decimal mul_exact(decimal a, decimal b) noexcept;
// Half-up (away from zero) to 2 decimals; 64-bit fast path for the usual magnitudes.
inline decimal round2(decimal v) noexcept {
    constexpr std::int64_t cent = 100'000'000;  // 0.01 in raw units
    constexpr std::int64_t lim = std::int64_t{1} << 62;
    if (v.raw() > -lim && v.raw() < lim) {
        const auto x = static_cast<std::int64_t>(v.raw());
        std::int64_t q = x / cent;
        const std::int64_t rem = x % cent;
        if (rem >= cent / 2) ++q;
        if (rem <= -cent / 2) --q;
        return decimal::from_raw(q * cent);
    }
    return v.round(2);
}
// At most 12 integer and 2 fractional digits (the API's "12.2" money shape).
inline bool money_digits_ok(decimal v) noexcept {
    constexpr std::int64_t cent = 100'000'000;
    constexpr std::int64_t lim = std::int64_t{1} << 62;
    if (v.raw() > -lim && v.raw() < lim) return static_cast<std::int64_t>(v.raw()) % cent == 0;
    return v.fractional_digits() <= 2 && v.integer_digits() <= 12;
}
// round2(a × b / 100) exactly: the usual "amount × percent".
decimal percent_of(decimal amount, decimal percent) noexcept;
// percent / 100 (exact for up to 8 decimals).
decimal fraction_of_percent(decimal percent) noexcept;
// round2(amount × fraction) exactly.
inline decimal fraction_of(decimal amount, decimal fraction) noexcept {
    return round2(mul_exact(amount, fraction));
}

// How a line is taxed, from tipo_de_igv / tipo_de_ivap.
enum class igv_class : unsigned char {
    unknown,
    gravado,       // tipo_de_igv 1
    exonerado,     // 8
    inafecto,      // 9
    exportacion,   // 16 (summed into total_inafecta)
    gratuito,      // 2-7, 10-15, 17, 20
    ivap_gravado,  // tipo_de_ivap 17
    ivap_gratuito  // tipo_de_ivap 101
};
igv_class classify(const item& it) noexcept;
inline bool taxed(igv_class c) noexcept {
    return c == igv_class::gravado || c == igv_class::ivap_gravado;
}
inline bool free_line(igv_class c) noexcept {
    return c == igv_class::gratuito || c == igv_class::ivap_gratuito;
}

inline constexpr decimal ivap_rate = decimal::from_int(4);
inline constexpr decimal default_igv_rate = decimal::from_int(18);

// What the arithmetic of one document needs besides its lines.
struct doc_context {
    decimal rate;           // porcentaje_de_igv (or its default)
    decimal rate_fraction;  // rate / 100
    decimal ivap_fraction;  // 0.04
    decimal bag_rate;       // ICBPER per bag for the issue year
    bool has_ivap = false;
    bool has_igv = false;
};
// porcentaje_de_igv, or 4 for documents whose taxed lines are all IVAP, else 18.
decimal default_rate(const comprobante& doc) noexcept;
doc_context context_of(const comprobante& doc, std::optional<int> default_year) noexcept;

// Every computed field of one line, from its inputs (cantidad, valor_unitario or precio_unitario,
// descuento, isc or porcentaje_isc, bolsas or impuesto_bolsas, otros_cargos, tipo).
struct line_figures {
    igv_class cls = igv_class::unknown;
    bool computable = false;         // cantidad and a unit value were there
    bool valor_from_precio = false;  // valor_unitario derived from precio_unitario
    bool isc_computed = false;       // isc derived from porcentaje_isc
    bool bags_computed = false;      // impuesto_bolsas derived from bolsas
    bool anticipo = false;
    decimal valor_unitario, precio_unitario, descuento, subtotal, isc, igv, impuesto_bolsas, otros_cargos,
        total;
    // A free line that carries impuesto_bolsas may also show total = subtotal (both are accepted).
    std::optional<decimal> total_alt;
};
line_figures compute_line(const item& it, const doc_context& ctx) noexcept;

struct header_figures {
    decimal total_descuento, total_anticipo, total_gravada, total_exonerada, total_inafecta, total_gratuita,
        total_igv, total_isc, total_impuestos_bolsas, total_otros_cargos, total;
    bool otros_cargos_from_items = false;  // else total_otros_cargos is the header's own input
    std::optional<decimal> percepcion_base, total_percepcion, total_incluido_percepcion;
    std::optional<decimal> retencion_base, total_retencion;
    std::optional<decimal> detraccion_total;  // only when detraccion_porcentaje is given
};
// `lines` must be compute_line() of doc.items, in order.
header_figures compute_header(const comprobante& doc, const line_figures* lines, std::size_t n,
                              const doc_context& ctx) noexcept;

// Percepción, retención and detracción amounts from h.total (called by compute_header).
void compute_extras(const comprobante& doc, header_figures& h) noexcept;

std::optional<decimal> percepcion_rate(std::int64_t tipo) noexcept;  // 1: 2, 2: 1, 3: 0.5 (percent)
std::optional<decimal> retencion_rate(std::int64_t tipo) noexcept;   // 1: 3, 2: 6
std::optional<decimal> retper_rate(bool percepcion, std::int64_t tipo_de_tasa) noexcept;

// ---- catalogues ----------------------------------------------------------------------------------

template <class T, std::size_t N>
constexpr bool one_of(const T& v, const std::array<T, N>& set) noexcept {
    return std::find(set.begin(), set.end(), v) != set.end();
}
bool all_digits(std::string_view s) noexcept;
bool valid_dni(std::string_view s) noexcept;
bool valid_ubigeo(std::string_view s) noexcept;
bool valid_email(std::string_view s) noexcept;
std::size_t utf8_length(std::string_view s) noexcept;  // code points, for length limits

// ---- findings ------------------------------------------------------------------------------------

class collector {
  public:
    explicit collector(const check_options& o) : opts_(o) {}
    void error(std::string path, std::string_view code, std::string message, std::string expected = {},
               std::string actual = {});
    void warn(std::string path, std::string_view code, std::string message, std::string expected = {},
              std::string actual = {});
    // An arithmetic mismatch: error, or warning in lenient mode.
    void arith(std::string path, std::string message, std::string expected, std::string actual);
    bool within(decimal expected, decimal actual) const noexcept;
    const check_options& opts() const noexcept { return opts_; }
    std::vector<finding> take();

  private:
    const check_options& opts_;
    std::vector<finding> out_;
};

std::string money(decimal v);         // "18.00"
std::string money(const opt_dec& v);  // "" when absent
std::string plain(const opt_dec& v);  // shortest form, "" when absent
std::string idx(std::string_view array, std::size_t i, std::string_view field);  // "items[1].igv"

// Shared field rules.
void require_str(collector& c, const opt_str& v, std::string_view path, std::size_t min_len,
                 std::size_t max_len);
void optional_str(collector& c, const opt_str& v, std::string_view path, std::size_t max_len);
void check_numero(collector& c, const opt_int& v, std::string_view path);
void check_issue_date(collector& c, const opt_date& v, std::string_view path, int max_age_days);
void check_email(collector& c, const opt_str& v, std::string_view path);
void check_customer_document(collector& c, const opt_str& tipo, const opt_str& numero,
                             std::string_view tipo_path, std::string_view numero_path,
                             std::initializer_list<std::string_view> allowed);
bool check_serie_shape(collector& c, const opt_str& serie, std::string_view path);

}  // namespace nubefact::fiscal::detail
