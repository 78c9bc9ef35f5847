// fiscal::check for generar_comprobante: fields, catalogues, series, dates, notes, cuotas, every total.
#include "detail.hpp"

namespace nubefact::fiscal {

namespace {
using namespace detail;

constexpr std::array<std::int64_t, 10> sunat_transactions{1, 2, 4, 29, 30, 31, 32, 33, 34, 35};
constexpr std::array<std::int64_t, 39> detraccion_tipos{1,  2,  3,  4,  5,  7,  8,  9,  10, 11, 12, 13, 14,
                                                        15, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29,
                                                        30, 32, 33, 34, 35, 37, 38, 39, 40, 41, 42, 43, 44};
const std::initializer_list<std::string_view> customer_tipos{"6", "1", "-", "4", "7", "A", "B", "0", "G"};

decimal dec(std::int64_t v) {
    return decimal::from_int(v);
}
const decimal seven_hundred = dec(700);

std::string str(std::string_view s) {
    return std::string(s);
}

// An integer field that must be present (when `required`) and in `set`.
template <std::size_t N>
void int_catalogue(collector& c, const opt_int& v, std::string_view path, bool required,
                   const std::array<std::int64_t, N>& set) {
    if (!v) {
        if (required) c.error(str(path), "required", str(path) + " is required.");
        return;
    }
    if (!one_of(*v, set)) {
        std::string list;
        for (auto x : set) {
            if (!list.empty()) list += ",";
            list += std::to_string(x);
        }
        c.error(str(path), "catalogue", str(path) + " is not one of the documented codes.", list,
                std::to_string(*v));
    }
}

void int_range(collector& c, const opt_int& v, std::string_view path, bool required, std::int64_t lo,
               std::int64_t hi) {
    if (!v) {
        if (required) c.error(str(path), "required", str(path) + " is required.");
        return;
    }
    if (*v < lo || *v > hi)
        c.error(str(path), "catalogue", str(path) + " is not one of the documented codes.",
                std::to_string(lo) + ".." + std::to_string(hi), std::to_string(*v));
}

// Money: at most 12 integer and 2 fractional digits, not negative. `path` is only built on a finding.
template <class Path>
void money_shape(collector& c, const opt_dec& v, Path&& path) {
    if (!v) return;
    if (v->is_negative()) {
        const std::string p = path();
        c.error(p, "range", p + " must not be negative.", ">= 0", plain(v));
    } else if (!money_digits_ok(*v)) {
        const std::string p = path();
        c.error(p, "format", p + " must have at most 12 integer and 2 decimal digits.", "12.2", plain(v));
    }
}
void money_shape(collector& c, const opt_dec& v, const char* path) {
    money_shape(c, v, [path] { return std::string(path); });
}

void positive(collector& c, const opt_dec& v, std::string_view path, bool required) {
    if (!v) {
        if (required) c.error(str(path), "required", str(path) + " is required.");
        return;
    }
    if (v->is_negative() || v->is_zero())
        c.error(str(path), "range", str(path) + " must be greater than 0.", "> 0", plain(v));
}

// A computed amount against what the rules give. Absent counts as 0 for optional totals.
// `path` is a callable giving the field path; it runs only when there is a finding.
template <class Path>
void compare(collector& c, Path&& path, decimal expected, const opt_dec& actual, bool required) {
    if (!actual) {
        if (required) {
            std::string p = path();
            c.error(p, "required", p + " is required.", money(expected), "");
        } else if (!expected.is_zero()) {
            std::string p = path();
            c.arith(p, p + " is missing; the lines give " + money(expected) + ".", money(expected), "");
        }
        return;
    }
    if (!c.within(expected, *actual)) {
        std::string p = path();
        c.arith(p, p + " does not match the arithmetic of the document.", money(expected), money(actual));
    }
}
void compare(collector& c, const char* path, decimal expected, const opt_dec& actual, bool required) {
    compare(
        c, [path] { return std::string(path); }, expected, actual, required);
}

char family_of(std::int64_t tipo) {
    return tipo == 1 ? 'F' : tipo == 2 ? 'B' : '\0';
}

struct doc_view {
    const comprobante& doc;
    collector& c;
    std::int64_t tipo = 0;
    char family = '\0';  // 'F' or 'B' when known
    bool contingency_serie = false;
};

void check_serie_and_notes(doc_view& v) {
    const auto& d = v.doc;
    auto& c = v.c;
    int_range(c, d.tipo_de_comprobante, "tipo_de_comprobante", true, 1, 4);
    v.tipo = d.tipo_de_comprobante.value_or(0);
    const bool note = v.tipo == 3 || v.tipo == 4;
    if (v.tipo == 1 || v.tipo == 2) v.family = family_of(v.tipo);

    if (note) {
        int_range(c, d.documento_que_se_modifica_tipo, "documento_que_se_modifica_tipo", true, 1, 2);
        if (d.documento_que_se_modifica_tipo) v.family = family_of(*d.documento_que_se_modifica_tipo);
        if (check_serie_shape(c, d.documento_que_se_modifica_serie, "documento_que_se_modifica_serie") &&
            v.family) {
            const char first = (*d.documento_que_se_modifica_serie)[0];
            if (first != v.family && first != '0')
                c.error("documento_que_se_modifica_serie", "serie",
                        "The modified document's serie must start with " + std::string(1, v.family) +
                            " for its tipo (or 0 for a contingency document).",
                        std::string(1, v.family) + "...", *d.documento_que_se_modifica_serie);
        }
        check_numero(c, d.documento_que_se_modifica_numero, "documento_que_se_modifica_numero");
        if (v.tipo == 3) {
            int_range(c, d.tipo_de_nota_de_credito, "tipo_de_nota_de_credito", true, 1, 13);
            if (d.tipo_de_nota_de_debito)
                c.warn("tipo_de_nota_de_debito", "unexpected",
                       "A nota de crédito carries no tipo_de_nota_de_debito.");
        } else {
            int_range(c, d.tipo_de_nota_de_debito, "tipo_de_nota_de_debito", true, 1, 5);
            if (d.tipo_de_nota_de_credito)
                c.warn("tipo_de_nota_de_credito", "unexpected",
                       "A nota de débito carries no tipo_de_nota_de_credito.");
        }
    } else if (v.tipo == 1 || v.tipo == 2) {
        const char* fields[] = {"documento_que_se_modifica_tipo", "documento_que_se_modifica_serie",
                                "documento_que_se_modifica_numero", "tipo_de_nota_de_credito",
                                "tipo_de_nota_de_debito"};
        const bool present[] = {d.documento_que_se_modifica_tipo.has_value(),
                                d.documento_que_se_modifica_serie.has_value(),
                                d.documento_que_se_modifica_numero.has_value(),
                                d.tipo_de_nota_de_credito.has_value(), d.tipo_de_nota_de_debito.has_value()};
        for (int i = 0; i < 5; ++i)
            if (present[i])
                c.warn(fields[i], "unexpected",
                       std::string(fields[i]) + " is only used by notas (tipo 3 and 4).");
    }

    if (check_serie_shape(c, d.serie, "serie")) {
        const char first = (*d.serie)[0];
        v.contingency_serie = first >= '0' && first <= '9';
        const bool contingency = d.generado_por_contingencia.value_or(false);
        if (contingency && first != '0') {
            c.error("serie", "serie",
                    "A contingency document (generado_por_contingencia) has a serie starting with 0.", "0...",
                    *d.serie);
        } else if (!v.contingency_serie && v.family && first != v.family) {
            std::string why = v.tipo == 1 ? "A factura"
                              : v.tipo == 2
                                  ? "A boleta"
                                  : "A note of a " + std::string(v.family == 'F' ? "factura" : "boleta");
            c.error("serie", "serie", why + " has a serie starting with " + std::string(1, v.family) + ".",
                    std::string(1, v.family) + "...", *d.serie);
        } else if (v.contingency_serie && first != '0') {
            c.error("serie", "serie",
                    "The serie must start with F (facturas), B (boletas) or 0 (contingency).",
                    v.family ? std::string(1, v.family) + "..." : "F... / B... / 0...", *d.serie);
        } else if (v.contingency_serie && !contingency) {
            c.warn(
                "serie", "serie",
                "A serie starting with 0 is for contingency documents; set generado_por_contingencia true.",
                "generado_por_contingencia true", *d.serie);
        }
    }
    check_numero(c, d.numero, "numero");
}

void check_customer(doc_view& v, decimal expected_total) {
    const auto& d = v.doc;
    auto& c = v.c;
    check_customer_document(c, d.cliente_tipo_de_documento, d.cliente_numero_de_documento,
                            "cliente_tipo_de_documento", "cliente_numero_de_documento", customer_tipos);
    require_str(c, d.cliente_denominacion, "cliente_denominacion", 1, 100);
    if (v.family == 'F' && !d.cliente_direccion)
        c.error("cliente_direccion", "required",
                "cliente_direccion is required for facturas and their notes.");
    optional_str(c, d.cliente_direccion, "cliente_direccion", 100);
    check_email(c, d.cliente_email, "cliente_email");
    check_email(c, d.cliente_email_1, "cliente_email_1");
    check_email(c, d.cliente_email_2, "cliente_email_2");
    if (!d.cliente_tipo_de_documento) return;
    const std::string& t = *d.cliente_tipo_de_documento;
    if (v.family == 'F' && (t == "1" || t == "-"))
        c.error("cliente_tipo_de_documento", "customer",
                "A factura (or its note) needs a customer with RUC (6), or 0/4/7/A/B/G for exports and "
                "non-residents; DNI and VARIOS are for boletas.",
                "6", t);
    if (v.family == 'B') {
        // S/ 700 threshold: amounts in another currency are converted with tipo_de_cambio.
        decimal in_soles = d.total.value_or(expected_total);
        if (d.moneda && *d.moneda != 1 && d.tipo_de_cambio) in_soles = mul_exact(in_soles, *d.tipo_de_cambio);
        const bool anonymous =
            t == "-" || (d.cliente_numero_de_documento &&
                         (*d.cliente_numero_de_documento == "-" || *d.cliente_numero_de_documento == "0"));
        if (anonymous && in_soles >= seven_hundred)
            c.error("cliente_tipo_de_documento", "customer",
                    "A boleta of S/ 700.00 or more needs an identified customer (not '-' VARIOS).",
                    "1, 6, 4, 7…", t);
    }
}

void check_dates_and_money(doc_view& v) {
    const auto& d = v.doc;
    auto& c = v.c;
    check_issue_date(c, d.fecha_de_emision, "fecha_de_emision", c.opts().max_age_days);
    if (d.fecha_de_vencimiento) {
        if (!d.fecha_de_vencimiento->valid())
            c.error("fecha_de_vencimiento", "date", "fecha_de_vencimiento is not a calendar date.");
        else if (d.fecha_de_emision && d.fecha_de_emision->valid() &&
                 *d.fecha_de_vencimiento < *d.fecha_de_emision)
            c.error("fecha_de_vencimiento", "date_order", "fecha_de_vencimiento is before fecha_de_emision.",
                    ">= " + d.fecha_de_emision->to_wire(), d.fecha_de_vencimiento->to_wire());
    }
    int_range(c, d.moneda, "moneda", true, 1, 4);
    if (d.moneda && *d.moneda >= 2 && *d.moneda <= 4) {
        if (!d.tipo_de_cambio)
            c.error("tipo_de_cambio", "required", "tipo_de_cambio is required when moneda is not 1 (soles).");
        else
            positive(c, d.tipo_de_cambio, "tipo_de_cambio", true);
        if (d.tipo_de_cambio && d.tipo_de_cambio->fractional_digits() > 3)
            c.warn("tipo_de_cambio", "format", "tipo_de_cambio has more than 3 decimals.", "3 decimals",
                   plain(d.tipo_de_cambio));
    }
    int_catalogue(c, d.sunat_transaction, "sunat_transaction", true, sunat_transactions);
}

void check_rate(doc_view& v, const doc_context& ctx) {
    const auto& d = v.doc;
    auto& c = v.c;
    if (!d.porcentaje_de_igv) {
        c.error("porcentaje_de_igv", "required", "porcentaje_de_igv is required.", money(ctx.rate), "");
        return;
    }
    const decimal r = *d.porcentaje_de_igv;
    const decimal r10 = dec(10), r105 = decimal::from_raw(105'000'000'000);
    bool any_ivap = false;
    for (const auto& it : d.items) {
        const auto k = classify(it);
        any_ivap = any_ivap || k == igv_class::ivap_gravado || k == igv_class::ivap_gratuito;
    }
    if (ctx.has_ivap && ctx.has_igv) {
        c.error("porcentaje_de_igv", "igv_rate",
                "IVAP lines (tipo_de_ivap) and IGV lines (tipo_de_igv 1) cannot "
                "share one document.");
    } else if (ctx.has_ivap && r != ivap_rate) {
        c.error("porcentaje_de_igv", "igv_rate", "IVAP documents use porcentaje_de_igv 4.00.", "4.00",
                money(r));
    } else if (any_ivap && !ctx.has_igv && r != ivap_rate) {
        c.warn("porcentaje_de_igv", "igv_rate",
               "IVAP documents use porcentaje_de_igv 4.00 (no amount depends on it here).", "4.00", money(r));
    } else if (ctx.has_igv && r == ivap_rate) {
        c.error("porcentaje_de_igv", "igv_rate",
                "4.00 is the IVAP rate; IGV lines use 18.00 (or 10.00/10.50).", "18.00", money(r));
    } else if (r != default_igv_rate && r != r10 && r != r105 && r != ivap_rate) {
        c.warn("porcentaje_de_igv", "igv_rate", "porcentaje_de_igv is not 18.00, 10.00, 10.50 or 4.00.",
               "18.00", money(r));
    } else if (d.fecha_de_emision && d.fecha_de_emision->valid() && ctx.has_igv) {
        const date& f = *d.fecha_de_emision;
        if (r == r10 && (f < date{2022, 9, 1} || f > date{2025, 12, 31}))
            c.warn("porcentaje_de_igv", "igv_rate",
                   "The reduced 10 % rate (Ley 31556) applies 2022-09 to 2025.", "18.00", money(r));
        else if (r == r105 && f < date{2026, 1, 1})
            c.warn("porcentaje_de_igv", "igv_rate", "The reduced 10.5 % rate applies from 2026.", "18.00",
                   money(r));
    }
}

void check_item_fields(collector& c, const item& it, std::size_t i) {
    auto p = [&](std::string_view f) { return idx("items", i, f); };
    auto need_str = [&](const opt_str& s, std::string_view f, std::size_t lo, std::size_t hi) {
        if (!s)
            c.error(p(f), "required", p(f) + " is required.");
        else if (s->size() >= lo && s->size() <= hi && lo <= 1)
            return;  // bytes bound code points: nothing to count
        else if (auto n = utf8_length(*s); n < lo || n > hi)
            c.error(p(f), "length",
                    p(f) + " must have " + std::to_string(lo) + " to " + std::to_string(hi) + " characters.",
                    std::to_string(lo) + ".." + std::to_string(hi), std::to_string(n));
    };
    need_str(it.unidad_de_medida, "unidad_de_medida", 2, 5);
    need_str(it.descripcion, "descripcion", 1, 250);
    if (it.codigo && utf8_length(*it.codigo) > 250)
        c.error(p("codigo"), "length", p("codigo") + " is too long.");
    if (it.codigo_producto_sunat && it.codigo_producto_sunat->size() > 8)
        c.error(p("codigo_producto_sunat"), "length",
                p("codigo_producto_sunat") + " has at most 8 characters.", "<=8",
                std::to_string(it.codigo_producto_sunat->size()));
    if (!it.cantidad)
        c.error(p("cantidad"), "required", p("cantidad") + " is required.");
    else if (it.cantidad->is_negative() || it.cantidad->is_zero())
        c.error(p("cantidad"), "range", p("cantidad") + " must be greater than 0.", "> 0",
                plain(it.cantidad));
    if (it.valor_unitario && it.valor_unitario->is_negative())
        c.error(p("valor_unitario"), "range", p("valor_unitario") + " must not be negative.", ">= 0",
                plain(it.valor_unitario));
    if (it.precio_unitario && it.precio_unitario->is_negative())
        c.error(p("precio_unitario"), "range", p("precio_unitario") + " must not be negative.", ">= 0",
                plain(it.precio_unitario));
    if (!it.precio_unitario)
        c.error(p("precio_unitario"), "required", p("precio_unitario") + " is required.");
    for (auto [v, f] : {std::pair{&it.descuento, "descuento"}, std::pair{&it.subtotal, "subtotal"},
                        std::pair{&it.igv, "igv"}, std::pair{&it.isc, "isc"},
                        std::pair{&it.impuesto_bolsas, "impuesto_bolsas"},
                        std::pair{&it.otros_cargos, "otros_cargos"}, std::pair{&it.total, "total"}})
        if (*v) money_shape(c, *v, [&, name = f] { return p(name); });  // clang-14: no captured bindings

    if (it.tipo_de_igv && it.tipo_de_ivap) {
        c.error(p("tipo_de_ivap"), "conflict", "Send tipo_de_igv or tipo_de_ivap, not both.");
    } else if (it.tipo_de_ivap) {
        if (*it.tipo_de_ivap != "17" && *it.tipo_de_ivap != "101")
            c.error(p("tipo_de_ivap"), "catalogue",
                    p("tipo_de_ivap") + " is 17 (IVAP gravado) or 101 (IVAP gratuito).", "17,101",
                    *it.tipo_de_ivap);
    } else if (!it.tipo_de_igv) {
        c.error(p("tipo_de_igv"), "required", p("tipo_de_igv") + " is required.");
    } else if (!((*it.tipo_de_igv >= 1 && *it.tipo_de_igv <= 17) || *it.tipo_de_igv == 20)) {
        c.error(p("tipo_de_igv"), "catalogue", p("tipo_de_igv") + " is not one of the documented codes.",
                "1..17,20", std::to_string(*it.tipo_de_igv));
    }
    if (it.tipo_de_isc && (*it.tipo_de_isc < 1 || *it.tipo_de_isc > 3))
        c.error(p("tipo_de_isc"), "catalogue", p("tipo_de_isc") + " is 1, 2 or 3.", "1,2,3",
                std::to_string(*it.tipo_de_isc));
    if (((it.isc && !it.isc->is_zero()) || it.porcentaje_isc) && !it.tipo_de_isc)
        c.error(p("tipo_de_isc"), "required", p("tipo_de_isc") + " is required on a line with ISC.");
    if (it.anticipo_regularizacion.value_or(false)) {
        if (!it.anticipo_documento_serie)
            c.error(p("anticipo_documento_serie"), "required",
                    p("anticipo_documento_serie") + " is required on an anticipo_regularizacion line.");
        else
            check_serie_shape(c, it.anticipo_documento_serie, p("anticipo_documento_serie"));
        check_numero(c, it.anticipo_documento_numero, p("anticipo_documento_numero"));
    }
    if (it.bolsas && *it.bolsas < 0)
        c.error(p("nubefact_bolsas"), "range", "The number of bags must not be negative.", ">= 0",
                std::to_string(*it.bolsas));
}

void check_item_arith(collector& c, const item& it, std::size_t i, const line_figures& f) {
    auto p = [&](std::string_view fld) { return idx("items", i, fld); };
    if (!it.valor_unitario)
        c.error(p("valor_unitario"), "required", p("valor_unitario") + " is required.",
                f.computable ? f.valor_unitario.to_string() : std::string(), "");
    if (!f.computable) return;
    if (f.descuento > mul_exact(*it.cantidad, f.valor_unitario))
        c.error(p("descuento"), "range", p("descuento") + " is larger than cantidad × valor_unitario.",
                "<= " + money(mul_exact(*it.cantidad, f.valor_unitario)), money(it.descuento));
    compare(
        c, [&] { return p("subtotal"); }, f.subtotal, it.subtotal, true);
    if (f.isc_computed)
        compare(
            c, [&] { return p("isc"); }, f.isc, it.isc, true);
    if (f.bags_computed)
        compare(
            c, [&] { return p("impuesto_bolsas"); }, f.impuesto_bolsas, it.impuesto_bolsas, true);
    compare(
        c, [&] { return p("igv"); }, f.igv, it.igv, true);
    if (!it.total) {
        c.error(p("total"), "required", p("total") + " is required.", money(f.total), "");
    } else if (!c.within(f.total, *it.total) && !(f.total_alt && c.within(*f.total_alt, *it.total))) {
        c.arith(p("total"), p("total") + " does not match the arithmetic of the line.", money(f.total),
                money(it.total));
    }
    // precio_unitario only feeds the printed representation; SUNAT treats a wrong unit price as an
    // observation, so a mismatch is a warning (official example 24 sends 0.18 for 0.1 × 1.18).
    if (it.valor_unitario && it.precio_unitario && !f.valor_from_precio) {
        if (round2(f.precio_unitario) != round2(*it.precio_unitario) &&
            !c.within(f.precio_unitario, *it.precio_unitario))
            c.warn(p("precio_unitario"), "precio_unitario",
                   p("precio_unitario") + " is not valor_unitario with taxes.", f.precio_unitario.to_string(),
                   it.precio_unitario->to_string());
    }
}

void check_totals(doc_view& v, const header_figures& h) {
    const auto& d = v.doc;
    auto& c = v.c;
    money_shape(c, d.descuento_global, "descuento_global");
    compare(c, "total_descuento", h.total_descuento, d.total_descuento, false);
    compare(c, "total_anticipo", h.total_anticipo, d.total_anticipo, false);
    compare(c, "total_gravada", h.total_gravada, d.total_gravada, false);
    compare(c, "total_exonerada", h.total_exonerada, d.total_exonerada, false);
    compare(c, "total_inafecta", h.total_inafecta, d.total_inafecta, false);
    compare(c, "total_gratuita", h.total_gratuita, d.total_gratuita, false);
    compare(c, "total_igv", h.total_igv, d.total_igv, false);
    compare(c, "total_isc", h.total_isc, d.total_isc, false);
    compare(c, "total_impuestos_bolsas", h.total_impuestos_bolsas, d.total_impuestos_bolsas, false);
    if (h.otros_cargos_from_items)
        compare(c, "total_otros_cargos", h.total_otros_cargos, d.total_otros_cargos, false);
    else
        money_shape(c, d.total_otros_cargos, "total_otros_cargos");
    compare(c, "total", h.total, d.total, true);
    if (h.total_gravada.is_negative())
        c.error("total_gravada", "range", "The discounts and anticipos exceed the taxable base.", ">= 0",
                money(h.total_gravada));
}

void check_percepcion_retencion(doc_view& v, const header_figures& h) {
    const auto& d = v.doc;
    auto& c = v.c;
    const bool any_perc =
        d.percepcion_tipo || d.percepcion_base_imponible || d.total_percepcion || d.total_incluido_percepcion;
    if (d.sunat_transaction == 34 && !d.percepcion_tipo)
        c.error("percepcion_tipo", "required",
                "percepcion_tipo is required for sunat_transaction 34 (percepción).");
    else if (any_perc && !d.percepcion_tipo)
        c.error("percepcion_tipo", "required",
                "percepcion_tipo is required when percepción amounts are sent.");
    if (d.percepcion_tipo) {
        int_range(c, d.percepcion_tipo, "percepcion_tipo", true, 1, 3);
        if (h.total_percepcion) {
            if (!d.percepcion_base_imponible)
                c.error("percepcion_base_imponible", "required", "percepcion_base_imponible is required.",
                        money(*h.percepcion_base), "");
            compare(c, "total_percepcion", *h.total_percepcion, d.total_percepcion, true);
            compare(c, "total_incluido_percepcion", *h.total_incluido_percepcion, d.total_incluido_percepcion,
                    true);
        }
    }
    const bool any_ret = d.retencion_tipo || d.retencion_base_imponible || d.total_retencion;
    if (any_ret && !d.retencion_tipo)
        c.error("retencion_tipo", "required", "retencion_tipo is required when retención amounts are sent.");
    if (d.retencion_tipo) {
        int_range(c, d.retencion_tipo, "retencion_tipo", true, 1, 2);
        if (h.total_retencion) {
            if (!d.retencion_base_imponible)
                c.error("retencion_base_imponible", "required", "retencion_base_imponible is required.",
                        money(*h.retencion_base), "");
            compare(c, "total_retencion", *h.total_retencion, d.total_retencion, true);
        }
    }
}

void check_detraccion(doc_view& v, const header_figures& h) {
    const auto& d = v.doc;
    auto& c = v.c;
    const std::int64_t st = d.sunat_transaction.value_or(0);
    const bool op_detraccion = st >= 30 && st <= 33;
    const bool on = d.detraccion.value_or(false);
    if (op_detraccion && !on) {
        c.error("detraccion", "detraccion",
                "sunat_transaction " + std::to_string(st) + " needs detraccion true.", "true",
                d.detraccion ? "false" : "");
        return;
    }
    if (!on) {
        if (d.detraccion_tipo || d.detraccion_total || d.detraccion_porcentaje || d.medio_de_pago_detraccion)
            c.warn("detraccion", "unexpected", "Detracción fields are ignored unless detraccion is true.");
        return;
    }
    if (!op_detraccion)
        c.error("sunat_transaction", "detraccion",
                "A detracción operation uses sunat_transaction 30, 31, 32 or 33.", "30..33",
                std::to_string(st));
    int_catalogue(c, d.detraccion_tipo, "detraccion_tipo", true, detraccion_tipos);
    int_range(c, d.medio_de_pago_detraccion, "medio_de_pago_detraccion", true, 1, 22);
    positive(c, d.detraccion_total, "detraccion_total", true);
    if (d.detraccion_total && d.total && *d.detraccion_total > *d.total && (!d.moneda || *d.moneda == 1))
        c.error("detraccion_total", "range", "detraccion_total exceeds total.", "<= " + money(d.total),
                money(d.detraccion_total));
    if (d.detraccion_porcentaje) {
        if (d.detraccion_porcentaje->is_negative() || *d.detraccion_porcentaje > dec(100))
            c.error("detraccion_porcentaje", "range", "detraccion_porcentaje is a percentage (0-100).",
                    "0..100", plain(d.detraccion_porcentaje));
        if (h.detraccion_total && d.detraccion_total) {
            // Accepted: round2(total × %), the same in soles (moneda ≠ 1), or either rounded to whole soles
            // (SUNAT deposits are made without cents).
            decimal exp = *h.detraccion_total;
            bool ok = c.within(exp, *d.detraccion_total) || c.within(exp.round(0), *d.detraccion_total);
            if (!ok && d.moneda && *d.moneda != 1 && d.tipo_de_cambio) {
                const decimal pen =
                    percent_of(mul_exact(h.total, *d.tipo_de_cambio), *d.detraccion_porcentaje);
                ok = c.within(pen, *d.detraccion_total) || c.within(pen.round(0), *d.detraccion_total);
            }
            if (!ok)
                c.arith("detraccion_total", "detraccion_total is not total × detraccion_porcentaje.",
                        money(exp), money(d.detraccion_total));
        }
    }
    auto need = [&](bool present, const char* f) {
        if (!present)
            c.error(f, "required",
                    std::string(f) + " is required for sunat_transaction " + std::to_string(st) + ".");
    };
    auto ubigeo = [&](const opt_str& s, const char* f) {
        if (s && !valid_ubigeo(*s))
            c.error(f, "format", std::string(f) + " is a 6-digit ubigeo.", "6 digits", *s);
    };
    if (st == 33) {
        need(d.ubigeo_origen.has_value(), "ubigeo_origen");
        need(d.direccion_origen.has_value(), "direccion_origen");
        need(d.ubigeo_destino.has_value(), "ubigeo_destino");
        need(d.direccion_destino.has_value(), "direccion_destino");
        need(d.detalle_viaje.has_value(), "detalle_viaje");
        need(d.val_ref_serv_trans.has_value(), "val_ref_serv_trans");
        need(d.val_ref_carga_efec.has_value(), "val_ref_carga_efec");
        need(d.val_ref_carga_util.has_value(), "val_ref_carga_util");
        ubigeo(d.ubigeo_origen, "ubigeo_origen");
        ubigeo(d.ubigeo_destino, "ubigeo_destino");
        ubigeo(d.punto_origen_viaje, "punto_origen_viaje");
        ubigeo(d.punto_destino_viaje, "punto_destino_viaje");
        optional_str(c, d.direccion_origen, "direccion_origen", 100);
        optional_str(c, d.direccion_destino, "direccion_destino", 100);
        optional_str(c, d.detalle_viaje, "detalle_viaje", 100);
        optional_str(c, d.descripcion_tramo, "descripcion_tramo", 100);
        optional_str(c, d.configuracion_vehicular, "configuracion_vehicular", 15);
        // The tramo block and the vehicle block are optional, but all-or-nothing.
        const bool tramo[] = {d.punto_origen_viaje.has_value(), d.punto_destino_viaje.has_value(),
                              d.descripcion_tramo.has_value(),
                              d.val_ref_carga_efec_tramo_virtual.has_value()};
        const char* tramo_f[] = {"punto_origen_viaje", "punto_destino_viaje", "descripcion_tramo",
                                 "val_ref_carga_efec_tramo_virtual"};
        if (std::find(std::begin(tramo), std::end(tramo), true) != std::end(tramo))
            for (int i = 0; i < 4; ++i) need(tramo[i], tramo_f[i]);
        const bool veh[] = {d.configuracion_vehicular.has_value(), d.carga_util_tonel_metricas.has_value(),
                            d.carga_efec_tonel_metricas.has_value(), d.val_ref_tonel_metrica.has_value(),
                            d.val_pre_ref_carga_util_nominal.has_value()};
        const char* veh_f[] = {"configuracion_vehicular", "carga_util_tonel_metricas",
                               "carga_efec_tonel_metricas", "val_ref_tonel_metrica",
                               "val_pre_ref_carga_util_nominal"};
        if (std::find(std::begin(veh), std::end(veh), true) != std::end(veh))
            for (int i = 0; i < 5; ++i) need(veh[i], veh_f[i]);
    } else if (st == 31) {
        need(d.matricula_emb_pesquera.has_value(), "matricula_emb_pesquera");
        need(d.nombre_emb_pesquera.has_value(), "nombre_emb_pesquera");
        need(d.descripcion_tipo_especie_vendida.has_value(), "descripcion_tipo_especie_vendida");
        need(d.lugar_de_descarga.has_value(), "lugar_de_descarga");
        need(d.cantidad_especie_vendida.has_value(), "cantidad_especie_vendida");
        need(d.fecha_de_descarga.has_value(), "fecha_de_descarga");
        optional_str(c, d.matricula_emb_pesquera, "matricula_emb_pesquera", 15);
        optional_str(c, d.nombre_emb_pesquera, "nombre_emb_pesquera", 50);
        optional_str(c, d.descripcion_tipo_especie_vendida, "descripcion_tipo_especie_vendida", 100);
        optional_str(c, d.lugar_de_descarga, "lugar_de_descarga", 200);
        if (d.fecha_de_descarga && !d.fecha_de_descarga->valid())
            c.error("fecha_de_descarga", "date", "fecha_de_descarga is not a calendar date.");
    }
}

void check_cuotas(doc_view& v, const header_figures& h) {
    const auto& d = v.doc;
    auto& c = v.c;
    if (d.venta_al_credito.empty()) return;
    decimal sum;
    bool sum_known = true;
    for (std::size_t i = 0; i < d.venta_al_credito.size(); ++i) {
        const auto& q = d.venta_al_credito[i];
        auto p = [&](std::string_view f) { return idx("venta_al_credito", i, f); };
        if (!q.cuota)
            c.error(p("cuota"), "required", p("cuota") + " is required.", std::to_string(i + 1), "");
        else if (*q.cuota != static_cast<std::int64_t>(i + 1))
            c.error(p("cuota"), "cuota_number", "Cuotas are numbered 1, 2, 3… in order.",
                    std::to_string(i + 1), std::to_string(*q.cuota));
        if (!q.fecha_de_pago) {
            c.error(p("fecha_de_pago"), "required", p("fecha_de_pago") + " is required.");
        } else if (!q.fecha_de_pago->valid()) {
            c.error(p("fecha_de_pago"), "date", p("fecha_de_pago") + " is not a calendar date.");
        } else if (d.fecha_de_emision && d.fecha_de_emision->valid() &&
                   *q.fecha_de_pago <= *d.fecha_de_emision) {
            c.error(p("fecha_de_pago"), "date_order", "A cuota falls due after fecha_de_emision.",
                    "> " + d.fecha_de_emision->to_wire(), q.fecha_de_pago->to_wire());
        }
        if (!q.importe) {
            c.error(p("importe"), "required", p("importe") + " is required.");
            sum_known = false;
        } else {
            positive(c, q.importe, p("importe"), true);
            money_shape(c, q.importe, [&] { return p("importe"); });
            sum += *q.importe;
        }
    }
    // A nota de crédito tipo 13 carries a new schedule with every amount set to 0.
    if (!sum_known || (v.tipo == 3 && d.tipo_de_nota_de_credito == 13)) return;
    const decimal total = d.total.value_or(h.total);
    bool ok = c.within(total, sum);
    if (!ok && d.detraccion.value_or(false) && d.detraccion_total)
        ok = c.within(total - *d.detraccion_total, sum);
    if (!ok && d.total_retencion) ok = c.within(total - *d.total_retencion, sum);
    if (!ok)
        c.arith("venta_al_credito",
                "The cuotas must add up to total (or to total minus detracción/retención).", money(total),
                money(sum));
}

void check_misc(doc_view& v) {
    const auto& d = v.doc;
    auto& c = v.c;
    optional_str(c, d.observaciones, "observaciones", 1000);
    optional_str(c, d.codigo_unico, "codigo_unico", 20);
    optional_str(c, d.condiciones_de_pago, "condiciones_de_pago", 250);
    optional_str(c, d.medio_de_pago, "medio_de_pago", 250);
    optional_str(c, d.placa_vehiculo, "placa_vehiculo", 8);
    optional_str(c, d.orden_compra_servicio, "orden_compra_servicio", 20);
    optional_str(c, d.nubecont_tipo_de_venta_codigo, "nubecont_tipo_de_venta_codigo", 5);
    if (d.formato_de_pdf && *d.formato_de_pdf != "A4" && *d.formato_de_pdf != "A5" &&
        *d.formato_de_pdf != "TICKET")
        c.error("formato_de_pdf", "catalogue", "formato_de_pdf is A4, A5 or TICKET.", "A4,A5,TICKET",
                *d.formato_de_pdf);
    for (std::size_t i = 0; i < d.guias.size(); ++i) {
        const auto& g = d.guias[i];
        int_range(c, g.guia_tipo, idx("guias", i, "guia_tipo"), true, 1, 2);
        const std::string p = idx("guias", i, "guia_serie_numero");
        if (!g.guia_serie_numero) {
            c.error(p, "required", p + " is required.");
            continue;
        }
        optional_str(c, g.guia_serie_numero, p, 30);
        const auto& s = *g.guia_serie_numero;
        const auto dash = s.find('-');
        if (dash != 4 || !all_digits(std::string_view(s).substr(dash + 1)))
            c.error(p, "format", p + " is the guía's serie and number joined by '-' (e.g. T001-15).",
                    "SSSS-N", s);
    }
}

}  // namespace

std::vector<finding> check(const comprobante& doc, const check_options& opts) {
    collector c(opts);
    doc_view v{doc, c};
    doc_context ctx = context_of(doc, std::nullopt);

    check_serie_and_notes(v);
    check_dates_and_money(v);
    check_rate(v, ctx);
    // 4 % on IGV lines is reported once (igv_rate); the lines are then checked at the general rate.
    if (ctx.has_igv && ctx.rate == ivap_rate) {
        ctx.rate = default_igv_rate;
        ctx.rate_fraction = fraction_of_percent(ctx.rate);
    }

    if (doc.items.empty()) c.error("items", "required", "A comprobante needs at least one item.");
    std::vector<line_figures> lines;
    lines.reserve(doc.items.size());
    for (std::size_t i = 0; i < doc.items.size(); ++i) {
        const auto& it = doc.items[i];
        check_item_fields(c, it, i);
        lines.push_back(compute_line(it, ctx));
        check_item_arith(c, it, i, lines.back());
    }
    header_figures h = compute_header(doc, lines.data(), lines.size(), ctx);
    check_customer(v, h.total);
    // A line that cannot be computed has its own finding; header totals would only echo it.
    const bool all_computable =
        std::all_of(lines.begin(), lines.end(), [](const line_figures& f) { return f.computable; });
    if (all_computable) {
        check_totals(v, h);
    } else if (doc.total) {
        h.total = *doc.total;  // percepción/retención/detracción/cuotas against the document's total
        compute_extras(doc, h);
    }
    check_percepcion_retencion(v, h);
    check_detraccion(v, h);
    check_cuotas(v, h);
    check_misc(v);
    return c.take();
}

}  // namespace nubefact::fiscal
