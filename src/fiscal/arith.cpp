// The tax arithmetic of §6 (lines, header, percepción/retención/detracción) and fiscal::complete().
#include "detail.hpp"

namespace nubefact::fiscal {
namespace detail {

namespace {
__extension__ typedef __int128 i128;
constexpr i128 unit = 10'000'000'000;
constexpr i128 split_limit = static_cast<i128>(100'000'000'000'000);  // 1e14

constexpr decimal one = decimal::from_int(1);
constexpr decimal hundred = decimal::from_int(100);

decimal safe_div(decimal a, decimal b) noexcept {
    auto r = a.checked_div(b);
    return r ? *r : decimal{};
}
decimal safe_mul(decimal a, decimal b) noexcept {
    auto r = a.checked_mul(b);
    return r ? *r : decimal{};
}
}  // namespace

// percent / 100, exact whenever the percent has at most 8 decimals (always, for the API's rates).
decimal fraction_of_percent(decimal percent) noexcept {
    if (percent.raw() % 100 == 0) return decimal::from_raw(percent.raw() / 100);
    auto r = percent.checked_div(hundred);
    return r ? *r : decimal{};
}

decimal mul_exact(decimal a, decimal b) noexcept {
    i128 x = a.raw(), y = b.raw();
    const bool neg = (x < 0) != (y < 0);
    if (x < 0) x = -x;
    if (y < 0) y = -y;
    constexpr i128 small = static_cast<i128>(std::uint64_t{1} << 63);
    if (x < small && y < small) {
        // Everything in 64-bit words: x = x1·1e10 + x0, x0 = xh·1e5 + xl (same for y).
        constexpr std::uint64_t u = 10'000'000'000ULL, h = 100'000ULL;
        const auto ux = static_cast<std::uint64_t>(x), uy = static_cast<std::uint64_t>(y);
        const std::uint64_t x1 = ux / u, x0 = ux % u, y1 = uy / u, y0 = uy % u;
        const std::uint64_t xh = x0 / h, xl = x0 % h, yh = y0 / h, yl = y0 % h;
        // floor(x0·y0 / 1e10) = xh·yh + floor(((xh·yl + xl·yh)·1e5 + xl·yl) / 1e10)
        const std::uint64_t low = xh * yh + ((xh * yl + xl * yh) * h + xl * yl) / u;
        const i128 r = static_cast<i128>(x1) * static_cast<i128>(y1) * unit + static_cast<i128>(x1) * y0 +
                       static_cast<i128>(x0) * y1 + low;
        return decimal::from_raw(neg ? -r : r);
    }
    const i128 x1 = x / unit, x0 = x % unit, y1 = y / unit, y0 = y % unit;
    // Beyond the API's 12 integer digits the split could overflow: fall back to the rounded product.
    if (x1 >= split_limit || y1 >= split_limit) return safe_mul(a, b);
    const i128 r = x1 * y1 * unit + x1 * y0 + x0 * y1 + (x0 * y0) / unit;
    return decimal::from_raw(neg ? -r : r);
}

decimal percent_of(decimal amount, decimal percent) noexcept {
    return round2(mul_exact(amount, fraction_of_percent(percent)));
}

igv_class classify(const item& it) noexcept {
    // With both codes (an error check() reports) the IGV code wins.
    if (it.tipo_de_ivap && !it.tipo_de_igv) {
        if (*it.tipo_de_ivap == "17") return igv_class::ivap_gravado;
        if (*it.tipo_de_ivap == "101") return igv_class::ivap_gratuito;
        return igv_class::unknown;
    }
    if (!it.tipo_de_igv) return igv_class::unknown;
    const auto t = *it.tipo_de_igv;
    if (t == 1) return igv_class::gravado;
    if (t == 8) return igv_class::exonerado;
    if (t == 9) return igv_class::inafecto;
    if (t == 16) return igv_class::exportacion;
    if (is_free_igv(t)) return igv_class::gratuito;
    return igv_class::unknown;
}

decimal default_rate(const comprobante& doc) noexcept {
    if (doc.porcentaje_de_igv) return *doc.porcentaje_de_igv;
    bool ivap = false, igv = false;
    for (const auto& it : doc.items) {
        const auto c = classify(it);
        ivap = ivap || c == igv_class::ivap_gravado || c == igv_class::ivap_gratuito;
        igv = igv || c == igv_class::gravado;
    }
    return ivap && !igv ? ivap_rate : default_igv_rate;
}

doc_context context_of(const comprobante& doc, std::optional<int> default_year) noexcept {
    doc_context ctx;
    ctx.rate = default_rate(doc);
    ctx.rate_fraction = fraction_of_percent(ctx.rate);
    ctx.ivap_fraction = fraction_of_percent(ivap_rate);
    int year = 9999;  // no date at all: the current (latest) ICBPER rate
    if (doc.fecha_de_emision && doc.fecha_de_emision->valid())
        year = doc.fecha_de_emision->year;
    else if (default_year)
        year = *default_year;
    ctx.bag_rate = icbper_rate(year);
    for (const auto& it : doc.items) {
        const auto c = classify(it);
        ctx.has_ivap = ctx.has_ivap || c == igv_class::ivap_gravado;
        ctx.has_igv = ctx.has_igv || c == igv_class::gravado;
    }
    return ctx;
}

line_figures compute_line(const item& it, const doc_context& ctx) noexcept {
    line_figures f;
    f.cls = classify(it);
    f.anticipo = it.anticipo_regularizacion.value_or(false);
    f.descuento = it.descuento.value_or(decimal{});
    f.otros_cargos = it.otros_cargos.value_or(decimal{});
    if (it.bolsas) {
        f.impuesto_bolsas = mul_exact(decimal::from_int(*it.bolsas), ctx.bag_rate);
        f.bags_computed = true;
    } else {
        f.impuesto_bolsas = it.impuesto_bolsas.value_or(decimal{});
    }
    const bool is_taxed = taxed(f.cls);
    const decimal rate_fraction = f.cls == igv_class::ivap_gravado ? ctx.ivap_fraction : ctx.rate_fraction;
    const decimal tax_factor = one + rate_fraction;
    const bool isc_by_rate = it.tipo_de_isc && *it.tipo_de_isc == 1 && it.porcentaje_isc;
    const decimal isc_factor = isc_by_rate ? one + fraction_of_percent(*it.porcentaje_isc) : one;

    // Without a usable quantity, unit value or tax class the line cannot be computed; check() reports
    // the field and skips the arithmetic that depends on it instead of cascading.
    if (!it.cantidad || it.cantidad->is_negative() || it.cantidad->is_zero() ||
        (!it.valor_unitario && !it.precio_unitario) || f.cls == igv_class::unknown)
        return f;
    const decimal cantidad = *it.cantidad;
    // Price entered with taxes: the value without them, half-up at 10 decimals.
    const auto value_of_price = [&](decimal precio) {
        decimal v = safe_div(precio, safe_mul(tax_factor, isc_factor));
        if (!isc_by_rate && it.isc && !cantidad.is_zero()) v = v - safe_div(*it.isc, cantidad);
        return v;
    };
    if (it.valor_unitario) {
        f.valor_unitario = *it.valor_unitario;
        // Both given, the value being the price's own (a document completed from its price, read
        // again): the price stays the source, so completing twice changes nothing (found by
        // fuzz_codec: 590 at 38 % gave 427.5362318841, which gave 590.0000000001 back).
        if (is_taxed && it.precio_unitario && value_of_price(*it.precio_unitario) == *it.valor_unitario)
            f.valor_from_precio = true;
    } else if (is_taxed) {
        f.valor_unitario = value_of_price(*it.precio_unitario);
        f.valor_from_precio = true;
    } else {
        f.valor_unitario = *it.precio_unitario;
        f.valor_from_precio = true;
    }
    f.computable = true;
    f.subtotal = round2(mul_exact(cantidad, f.valor_unitario) - f.descuento);
    if (isc_by_rate) {
        f.isc = percent_of(f.subtotal, *it.porcentaje_isc);
        f.isc_computed = true;
    } else {
        f.isc = it.isc.value_or(decimal{});
    }
    f.igv = is_taxed ? fraction_of(f.subtotal + f.isc, rate_fraction) : decimal{};

    if (free_line(f.cls)) {
        // Official example 24 shows a free bag line with total = its bag tax; total = subtotal is
        // the rule for every other free line. Both are accepted, the example's form is written.
        if (!f.impuesto_bolsas.is_zero()) {
            f.total = f.impuesto_bolsas;
            f.total_alt = f.subtotal;
        } else {
            f.total = f.subtotal;
        }
    } else {
        f.total = f.subtotal + f.isc + f.igv + f.impuesto_bolsas + f.otros_cargos;
    }

    if (f.valor_from_precio) {
        f.precio_unitario = *it.precio_unitario;
    } else if (is_taxed) {
        if (!f.isc.is_zero() && !cantidad.is_zero())
            f.precio_unitario =
                safe_div(safe_mul(mul_exact(cantidad, f.valor_unitario) + f.isc, tax_factor), cantidad);
        else
            f.precio_unitario = safe_mul(f.valor_unitario, tax_factor);
    } else {
        f.precio_unitario = f.valor_unitario;
    }
    return f;
}

std::optional<decimal> percepcion_rate(std::int64_t tipo) noexcept {
    switch (tipo) {
        case 1:
            return decimal::from_int(2);
        case 2:
            return decimal::from_int(1);
        case 3:
            return decimal::from_raw(5'000'000'000);  // 0.5
        default:
            return std::nullopt;
    }
}

std::optional<decimal> retencion_rate(std::int64_t tipo) noexcept {
    switch (tipo) {
        case 1:
            return decimal::from_int(3);
        case 2:
            return decimal::from_int(6);
        default:
            return std::nullopt;
    }
}

std::optional<decimal> retper_rate(bool percepcion, std::int64_t tipo_de_tasa) noexcept {
    return percepcion ? percepcion_rate(tipo_de_tasa) : retencion_rate(tipo_de_tasa);
}

header_figures compute_header(const comprobante& doc, const line_figures* lines, std::size_t n,
                              const doc_context& ctx) noexcept {
    header_figures h;
    decimal grav, exo, ina, gra, igv_sum;
    decimal ant_grav, ant_exo, ant_ina, ant_igv, isc_taxed;
    for (std::size_t i = 0; i < n; ++i) {
        const auto& f = lines[i];
        h.total_descuento += f.descuento;
        h.total_isc += f.isc;
        h.total_impuestos_bolsas += f.impuesto_bolsas;
        if (doc.items[i].otros_cargos) {
            h.total_otros_cargos += f.otros_cargos;
            h.otros_cargos_from_items = true;
        }
        if (taxed(f.cls)) isc_taxed += f.isc;
        if (f.anticipo) {
            h.total_anticipo += f.subtotal;
            switch (f.cls) {
                case igv_class::gravado:
                case igv_class::ivap_gravado:
                    ant_grav += f.subtotal;
                    ant_igv += f.igv;
                    break;
                case igv_class::exonerado:
                    ant_exo += f.subtotal;
                    break;
                case igv_class::inafecto:
                case igv_class::exportacion:
                    ant_ina += f.subtotal;
                    break;
                default:
                    break;
            }
            continue;
        }
        switch (f.cls) {
            case igv_class::gravado:
            case igv_class::ivap_gravado:
                grav += f.subtotal;
                igv_sum += f.igv;
                break;
            case igv_class::exonerado:
                exo += f.subtotal;
                break;
            case igv_class::inafecto:
            case igv_class::exportacion:
                ina += f.subtotal;
                break;
            case igv_class::gratuito:
            case igv_class::ivap_gratuito:
                gra += f.subtotal;
                break;
            case igv_class::unknown:
                break;
        }
    }
    const decimal dg = doc.descuento_global.value_or(decimal{});
    h.total_descuento += dg;
    h.total_gravada = grav - ant_grav;
    h.total_exonerada = exo - ant_exo;
    h.total_inafecta = ina - ant_ina;
    h.total_gratuita = gra;
    h.total_igv = igv_sum - ant_igv;
    if (!dg.is_zero()) {
        // The global discount lowers the taxable base before IGV (§3): taken from the gravada base
        // when there is one, else from exonerada, else inafecta; IGV is then recomputed on the base.
        if (!grav.is_zero() || (exo.is_zero() && ina.is_zero())) {
            h.total_gravada -= dg;
            const decimal rate = ctx.has_ivap && !ctx.has_igv ? ivap_rate : ctx.rate;
            h.total_igv = percent_of(h.total_gravada + isc_taxed, rate);
        } else if (!exo.is_zero()) {
            h.total_exonerada -= dg;
        } else {
            h.total_inafecta -= dg;
        }
    }
    if (!h.otros_cargos_from_items) h.total_otros_cargos = doc.total_otros_cargos.value_or(decimal{});
    h.total = h.total_gravada + h.total_isc + h.total_igv + h.total_exonerada + h.total_inafecta +
              h.total_impuestos_bolsas + h.total_otros_cargos;

    compute_extras(doc, h);
    return h;
}

void compute_extras(const comprobante& doc, header_figures& h) noexcept {
    if (doc.percepcion_tipo) {
        // A base of zero (a total of zero: a sent 0 reads as "not sent") has no amounts: what
        // complete would write as 0.00 would read back as absent (quirk zero_absent).
        if (auto r = percepcion_rate(*doc.percepcion_tipo);
            r && !doc.percepcion_base_imponible.value_or(h.total).is_zero()) {
            h.percepcion_base = doc.percepcion_base_imponible.value_or(h.total);
            h.total_percepcion = percent_of(*h.percepcion_base, *r);
            h.total_incluido_percepcion = h.total + *h.total_percepcion;
        }
    }
    if (doc.retencion_tipo) {
        if (auto r = retencion_rate(*doc.retencion_tipo);
            r && !doc.retencion_base_imponible.value_or(h.total).is_zero()) {
            h.retencion_base = doc.retencion_base_imponible.value_or(h.total);
            h.total_retencion = percent_of(*h.retencion_base, *r);
        }
    }
    // As above: a zero amount would be written as 0 and read back as "not sent".
    if (doc.detraccion_porcentaje)
        if (auto t = percent_of(h.total, *doc.detraccion_porcentaje); !t.is_zero()) h.detraccion_total = t;
}

}  // namespace detail

void complete(comprobante& doc, const complete_options& opts) {
    using namespace detail;
    if (!doc.porcentaje_de_igv) doc.porcentaje_de_igv = default_rate(doc);
    const doc_context ctx = context_of(doc, opts.default_year);
    auto put = [&](opt_dec& field, decimal v) {
        if (opts.overwrite || !field) field = v;
    };
    // Optional totals stay absent when zero (as in the official examples) unless already present.
    auto put_opt = [&](opt_dec& field, decimal v) {
        if (v.is_zero() && !field) return;
        put(field, v);
    };

    std::vector<line_figures> lines;
    lines.reserve(doc.items.size());
    for (auto& it : doc.items) {
        const line_figures f = compute_line(it, ctx);
        lines.push_back(f);
        if (f.bags_computed) put(it.impuesto_bolsas, f.impuesto_bolsas);
        if (!f.computable) continue;
        if (f.valor_from_precio) put(it.valor_unitario, f.valor_unitario);
        put(it.precio_unitario, f.precio_unitario);
        put(it.subtotal, f.subtotal);
        if (f.isc_computed) put(it.isc, f.isc);
        put(it.igv, f.igv);
        put(it.total, f.total);
    }
    const header_figures h = compute_header(doc, lines.data(), lines.size(), ctx);
    put_opt(doc.total_descuento, h.total_descuento);
    put_opt(doc.total_anticipo, h.total_anticipo);
    put(doc.total_gravada, h.total_gravada);
    put_opt(doc.total_exonerada, h.total_exonerada);
    put_opt(doc.total_inafecta, h.total_inafecta);
    put_opt(doc.total_gratuita, h.total_gratuita);
    put(doc.total_igv, h.total_igv);
    put_opt(doc.total_isc, h.total_isc);
    put_opt(doc.total_impuestos_bolsas, h.total_impuestos_bolsas);
    if (h.otros_cargos_from_items) put_opt(doc.total_otros_cargos, h.total_otros_cargos);
    put(doc.total, h.total);
    if (h.total_percepcion) {
        put(doc.percepcion_base_imponible, *h.percepcion_base);
        put(doc.total_percepcion, *h.total_percepcion);
        put(doc.total_incluido_percepcion, *h.total_incluido_percepcion);
    }
    if (h.total_retencion) {
        put(doc.retencion_base_imponible, *h.retencion_base);
        put(doc.total_retencion, *h.total_retencion);
    }
    if (h.detraccion_total) put(doc.detraccion_total, *h.detraccion_total);
}

}  // namespace nubefact::fiscal
