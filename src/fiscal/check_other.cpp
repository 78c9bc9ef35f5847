// fiscal::check for anulación, consultas, guías (GRE), retención/percepción and any json::request.
#include "detail.hpp"

#include <variant>

namespace nubefact::fiscal {

namespace {
using namespace detail;

std::string str(std::string_view s) {
    return std::string(s);
}

void tipo_in(collector& c, const opt_int& v, std::string_view path, std::int64_t lo, std::int64_t hi) {
    if (!v) {
        c.error(str(path), "required", str(path) + " is required.");
        return;
    }
    if (*v < lo || *v > hi)
        c.error(str(path), "catalogue", str(path) + " is not one of the documented codes.",
                std::to_string(lo) + ".." + std::to_string(hi), std::to_string(*v));
}

void str_in(collector& c, const opt_str& v, std::string_view path, bool required,
            std::initializer_list<std::string_view> set) {
    if (!v) {
        if (required) c.error(str(path), "required", str(path) + " is required.");
        return;
    }
    if (std::find(set.begin(), set.end(), std::string_view(*v)) == set.end()) {
        std::string list;
        for (auto s : set) {
            if (!list.empty()) list += ",";
            list += s;
        }
        c.error(str(path), "catalogue", str(path) + " is not one of the documented codes.", list, *v);
    }
}

// serie prefix for documents whose tipo fixes the first letter (T/V guías, R/P retención/percepción).
void serie_prefix(collector& c, const opt_str& serie, char prefix, std::string_view what) {
    if (!check_serie_shape(c, serie, "serie")) return;
    if ((*serie)[0] != prefix)
        c.error("serie", "serie", str(what) + " has a serie starting with " + std::string(1, prefix) + ".",
                std::string(1, prefix) + "...", *serie);
}

// serie of a comprobante (1-4) named by tipo: F/B or a contingency 0 serie; notes may be F or B.
void comprobante_serie(collector& c, const opt_int& tipo, const opt_str& serie) {
    if (!check_serie_shape(c, serie, "serie") || !tipo) return;
    const char first = (*serie)[0];
    if (first == '0') return;
    const char want = *tipo == 1 ? 'F' : *tipo == 2 ? 'B' : '\0';
    if (want && first != want)
        c.error("serie", "serie",
                std::string(*tipo == 1 ? "A factura" : "A boleta") + " has a serie starting with " +
                    std::string(1, want) + ".",
                std::string(1, want) + "...", *serie);
    else if (!want && first != 'F' && first != 'B')
        c.error("serie", "serie", "A note has a serie starting with F or B (its modified document's family).",
                "F... / B...", *serie);
}

}  // namespace

std::vector<finding> check(const anulacion& doc, const check_options& opts) {
    collector c(opts);
    tipo_in(c, doc.tipo_de_comprobante, "tipo_de_comprobante", 1, 4);
    comprobante_serie(c, doc.tipo_de_comprobante, doc.serie);
    check_numero(c, doc.numero, "numero");
    require_str(c, doc.motivo, "motivo", 1, 100);
    optional_str(c, doc.codigo_unico, "codigo_unico", 250);
    return c.take();
}

std::vector<finding> check(const consulta& doc, const check_options& opts) {
    collector c(opts);
    switch (doc.op) {
        case operation::consultar_comprobante:
        case operation::consultar_anulacion:
            tipo_in(c, doc.tipo_de_comprobante, "tipo_de_comprobante", 1, 4);
            comprobante_serie(c, doc.tipo_de_comprobante, doc.serie);
            break;
        case operation::consultar_guia:
            tipo_in(c, doc.tipo_de_comprobante, "tipo_de_comprobante", 7, 8);
            if (doc.tipo_de_comprobante == 7 || doc.tipo_de_comprobante == 8)
                serie_prefix(c, doc.serie, *doc.tipo_de_comprobante == 7 ? 'T' : 'V',
                             *doc.tipo_de_comprobante == 7 ? "A GRE remitente" : "A GRE transportista");
            else
                check_serie_shape(c, doc.serie, "serie");
            break;
        case operation::consultar_retencion:
        case operation::consultar_reversion_retencion:
        case operation::generar_reversion_retencion:
            serie_prefix(c, doc.serie, 'R', "A retención");
            break;
        case operation::consultar_percepcion:
        case operation::consultar_reversion_percepcion:
        case operation::generar_reversion_percepcion:
            serie_prefix(c, doc.serie, 'P', "A percepción");
            break;
        default:
            check_serie_shape(c, doc.serie, "serie");
            break;
    }
    check_numero(c, doc.numero, "numero");
    if (doc.op == operation::generar_reversion_retencion || doc.op == operation::generar_reversion_percepcion)
        require_str(c, doc.motivo, "motivo", 1, 100);
    return c.take();
}

std::vector<finding> check(const guia& doc, const check_options& opts) {
    collector c(opts);
    tipo_in(c, doc.tipo_de_comprobante, "tipo_de_comprobante", 7, 8);
    const bool remitente = doc.tipo_de_comprobante == 7;
    const bool transportista = doc.tipo_de_comprobante == 8;
    if (remitente || transportista)
        serie_prefix(c, doc.serie, remitente ? 'T' : 'V',
                     remitente ? "A GRE remitente" : "A GRE transportista");
    else
        check_serie_shape(c, doc.serie, "serie");
    check_numero(c, doc.numero, "numero");

    check_customer_document(c, doc.cliente_tipo_de_documento, doc.cliente_numero_de_documento,
                            "cliente_tipo_de_documento", "cliente_numero_de_documento",
                            {"6", "1", "4", "7", "A", "0"});
    require_str(c, doc.cliente_denominacion, "cliente_denominacion", 1, 100);
    require_str(c, doc.cliente_direccion, "cliente_direccion", 1, 100);
    check_email(c, doc.cliente_email, "cliente_email");
    check_email(c, doc.cliente_email_1, "cliente_email_1");
    check_email(c, doc.cliente_email_2, "cliente_email_2");
    // GRE manual: the issue date may be at most one day before today.
    check_issue_date(c, doc.fecha_de_emision, "fecha_de_emision",
                     std::min(opts.guia_max_age_days, opts.max_age_days));
    optional_str(c, doc.observaciones, "observaciones", 1000);

    if (remitente) {
        str_in(c, doc.motivo_de_traslado, "motivo_de_traslado", true,
               {"01", "02", "03", "04", "05", "06", "07", "08", "09", "13", "14", "17", "18"});
        if (doc.motivo_de_traslado == "13")
            require_str(c, doc.motivo_de_traslado_otros_descripcion, "motivo_de_traslado_otros_descripcion",
                        1, 70);
        if (doc.motivo_de_traslado == "08" || doc.motivo_de_traslado == "09")
            str_in(c, doc.documento_relacionado_codigo, "documento_relacionado_codigo", false, {"50", "52"});
        if (!doc.numero_de_bultos)
            c.error("numero_de_bultos", "required", "numero_de_bultos is required on a GRE remitente.");
        else if (*doc.numero_de_bultos < 1)
            c.error("numero_de_bultos", "range", "numero_de_bultos must be at least 1.", ">= 1",
                    std::to_string(*doc.numero_de_bultos));
        str_in(c, doc.tipo_de_transporte, "tipo_de_transporte", true, {"01", "02"});
    }
    if (!doc.peso_bruto_total)
        c.error("peso_bruto_total", "required", "peso_bruto_total is required.");
    else if (doc.peso_bruto_total->is_negative() || doc.peso_bruto_total->is_zero())
        c.error("peso_bruto_total", "range", "peso_bruto_total must be greater than 0.", "> 0",
                plain(doc.peso_bruto_total));
    str_in(c, doc.peso_bruto_unidad_de_medida, "peso_bruto_unidad_de_medida", true, {"KGM", "TNE"});
    if (!doc.fecha_de_inicio_de_traslado)
        c.error("fecha_de_inicio_de_traslado", "required", "fecha_de_inicio_de_traslado is required.");
    else if (!doc.fecha_de_inicio_de_traslado->valid())
        c.error("fecha_de_inicio_de_traslado", "date", "fecha_de_inicio_de_traslado is not a calendar date.");

    const bool publico = remitente && doc.tipo_de_transporte == "01";
    const bool privado = transportista || (remitente && doc.tipo_de_transporte == "02");
    if (publico) {
        str_in(c, doc.transportista_documento_tipo, "transportista_documento_tipo", true, {"6"});
        if (!doc.transportista_documento_numero)
            c.error("transportista_documento_numero", "required",
                    "transportista_documento_numero is required.");
        else if (!valid_ruc(*doc.transportista_documento_numero))
            c.error("transportista_documento_numero", "ruc",
                    "transportista_documento_numero is not a valid RUC.", "RUC",
                    *doc.transportista_documento_numero);
        require_str(c, doc.transportista_denominacion, "transportista_denominacion", 1, 100);
    }
    if (privado) {
        str_in(c, doc.conductor_documento_tipo, "conductor_documento_tipo", true, {"1", "4", "7", "A", "0"});
        require_str(c, doc.conductor_documento_numero, "conductor_documento_numero", 1, 15);
        require_str(c, doc.conductor_nombre, "conductor_nombre", 1, 250);
        require_str(c, doc.conductor_apellidos, "conductor_apellidos", 1, 250);
        require_str(c, doc.conductor_numero_licencia, "conductor_numero_licencia", 9, 10);
    }
    if (privado || transportista) {
        if (!doc.transportista_placa_numero) {
            c.error("transportista_placa_numero", "required", "transportista_placa_numero is required.");
        } else {
            const auto& pl = *doc.transportista_placa_numero;
            bool alnum = pl.size() >= 6 && pl.size() <= 8;
            for (char ch : pl) alnum = alnum && ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'));
            if (!alnum)
                c.error("transportista_placa_numero", "format",
                        "transportista_placa_numero is 6-8 upper-case letters and digits, no hyphens.",
                        "ABC123", pl);
        }
    }
    if (transportista) {
        require_str(c, doc.destinatario_documento_tipo, "destinatario_documento_tipo", 1, 1);
        require_str(c, doc.destinatario_documento_numero, "destinatario_documento_numero", 1, 15);
        require_str(c, doc.destinatario_denominacion, "destinatario_denominacion", 1, 100);
        if (doc.tuc_vehiculo_principal) {
            const auto& t = *doc.tuc_vehiculo_principal;
            bool ok = t.size() >= 10 && t.size() <= 15;
            for (char ch : t) ok = ok && ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'));
            if (!ok)
                c.error("tuc_vehiculo_principal", "format",
                        "tuc_vehiculo_principal is 10-15 upper-case letters and "
                        "digits.",
                        "10..15 [A-Z0-9]", t);
        }
    }
    optional_str(c, doc.mtc, "mtc", 20);
    str_in(c, doc.sunat_envio_indicador, "sunat_envio_indicador", false,
           {"01", "02", "03", "04", "05", "06"});

    for (const auto& [ub, dir, est, name] :
         {std::tuple{&doc.punto_de_partida_ubigeo, &doc.punto_de_partida_direccion,
                     &doc.punto_de_partida_codigo_establecimiento_sunat, "punto_de_partida"},
          std::tuple{&doc.punto_de_llegada_ubigeo, &doc.punto_de_llegada_direccion,
                     &doc.punto_de_llegada_codigo_establecimiento_sunat, "punto_de_llegada"}}) {
        const std::string base = name;
        if (!*ub)
            c.error(base + "_ubigeo", "required", base + "_ubigeo is required.");
        else if (!valid_ubigeo(**ub))
            c.error(base + "_ubigeo", "format", base + "_ubigeo is a 6-digit ubigeo.", "6 digits", **ub);
        require_str(c, *dir, base + "_direccion", 1, 150);
        if (remitente && (doc.motivo_de_traslado == "04" || doc.motivo_de_traslado == "18") && !*est)
            c.error(base + "_codigo_establecimiento_sunat", "required",
                    base + "_codigo_establecimiento_sunat is required for motivo_de_traslado 04 and 18.");
        if (*est && ((*est)->size() != 4 || !all_digits(**est)))
            c.error(base + "_codigo_establecimiento_sunat", "format",
                    "The establecimiento code has 4 digits.", "0000", **est);
    }
    if (doc.formato_de_pdf && *doc.formato_de_pdf != "A4" && *doc.formato_de_pdf != "TICKET")
        c.error("formato_de_pdf", "catalogue", "formato_de_pdf is A4 or TICKET for guías.", "A4,TICKET",
                *doc.formato_de_pdf);

    if (doc.items.empty()) c.error("items", "required", "A guía needs at least one item.");
    for (std::size_t i = 0; i < doc.items.size(); ++i) {
        const auto& it = doc.items[i];
        require_str(c, it.unidad_de_medida, idx("items", i, "unidad_de_medida"), 2, 5);
        require_str(c, it.descripcion, idx("items", i, "descripcion"), 1, 250);
        const std::string pc = idx("items", i, "cantidad");
        if (!it.cantidad)
            c.error(pc, "required", pc + " is required.");
        else if (it.cantidad->is_negative() || it.cantidad->is_zero())
            c.error(pc, "range", pc + " must be greater than 0.", "> 0", plain(it.cantidad));
        if (it.codigo_dam && it.codigo_dam->size() > 23)
            c.error(idx("items", i, "codigo_dam"), "length", "codigo_dam has at most 23 characters.", "<=23",
                    std::to_string(it.codigo_dam->size()));
    }
    for (std::size_t i = 0; i < doc.documento_relacionado.size(); ++i) {
        const auto& r = doc.documento_relacionado[i];
        str_in(c, r.tipo, idx("documento_relacionado", i, "tipo"), true, {"01", "03", "09", "31"});
        check_serie_shape(c, r.serie, idx("documento_relacionado", i, "serie"));
        check_numero(c, r.numero, idx("documento_relacionado", i, "numero"));
    }
    if (doc.vehiculos_secundarios.size() > 2)
        c.error("vehiculos_secundarios", "range", "At most 2 secondary vehicles.", "<=2",
                std::to_string(doc.vehiculos_secundarios.size()));
    if (doc.conductores_secundarios.size() > 2)
        c.error("conductores_secundarios", "range", "At most 2 secondary drivers.", "<=2",
                std::to_string(doc.conductores_secundarios.size()));
    return c.take();
}

std::vector<finding> check(const retencion_percepcion& doc, const check_options& opts) {
    collector c(opts);
    const bool perc = doc.percepcion;
    serie_prefix(c, doc.serie, perc ? 'P' : 'R', perc ? "A percepción" : "A retención");
    check_numero(c, doc.numero, "numero");
    check_customer_document(c, doc.cliente_tipo_de_documento, doc.cliente_numero_de_documento,
                            "cliente_tipo_de_documento", "cliente_numero_de_documento", {"6"});
    require_str(c, doc.cliente_denominacion, "cliente_denominacion", 1, 100);
    optional_str(c, doc.cliente_direccion, "cliente_direccion", 100);
    check_email(c, doc.cliente_email, "cliente_email");
    check_email(c, doc.cliente_email_1, "cliente_email_1");
    check_email(c, doc.cliente_email_2, "cliente_email_2");
    check_issue_date(c, doc.fecha_de_emision, "fecha_de_emision", opts.max_age_days);
    tipo_in(c, doc.moneda, "moneda", 1, 1);
    const char* tasa = perc ? "tipo_de_tasa_de_percepcion" : "tipo_de_tasa_de_retencion";
    tipo_in(c, doc.tipo_de_tasa, tasa, 1, perc ? 3 : 2);
    const auto rate = doc.tipo_de_tasa ? retper_rate(perc, *doc.tipo_de_tasa) : std::nullopt;
    optional_str(c, doc.observaciones, "observaciones", 1000);
    optional_str(c, doc.codigo_unico, "codigo_unico", 20);

    const char* base_f = perc ? "cobro_total_sin_percepcion" : "pago_total_sin_retencion";
    const char* imp_f = perc ? "importe_percibido" : "importe_retenido";
    const char* net_f = perc ? "importe_cobrado_con_percepcion" : "importe_pagado_con_retencion";
    const char* fecha_f = perc ? "cobro_fecha" : "pago_fecha";
    decimal sum_imp, sum_net;
    if (doc.items.empty()) c.error("items", "required", "At least one related document (item) is required.");
    for (std::size_t i = 0; i < doc.items.size(); ++i) {
        const auto& it = doc.items[i];
        auto p = [&](std::string_view f) { return idx("items", i, f); };
        str_in(c, it.documento_relacionado_tipo, p("documento_relacionado_tipo"), true,
               {"01", "03", "07", "08"});
        check_serie_shape(c, it.documento_relacionado_serie, p("documento_relacionado_serie"));
        check_numero(c, it.documento_relacionado_numero, p("documento_relacionado_numero"));
        if (!it.documento_relacionado_fecha_de_emision)
            c.error(p("documento_relacionado_fecha_de_emision"), "required",
                    p("documento_relacionado_fecha_de_emision") + " is required.");
        if (!it.documento_relacionado_moneda)
            c.error(p("documento_relacionado_moneda"), "required",
                    p("documento_relacionado_moneda") + " is required.");
        if (!it.documento_relacionado_total)
            c.error(p("documento_relacionado_total"), "required",
                    p("documento_relacionado_total") + " is required.");
        if (!it.pago_fecha) c.error(p(fecha_f), "required", p(fecha_f) + " is required.");
        const bool foreign = it.documento_relacionado_moneda && *it.documento_relacionado_moneda != 1;
        if (foreign && !it.tipo_de_cambio)
            c.error(p("tipo_de_cambio"), "required",
                    p("tipo_de_cambio") + " is required for a foreign-currency document.");
        if (!it.pago_total_sin_retencion) {
            c.error(p(base_f), "required", p(base_f) + " is required.");
            continue;
        }
        // Amounts retained/perceived are in soles: the base is converted with tipo_de_cambio first.
        decimal base = *it.pago_total_sin_retencion;
        if (foreign && it.tipo_de_cambio) base = round2(mul_exact(base, *it.tipo_de_cambio));
        decimal importe = it.importe_retenido.value_or(decimal{});
        if (rate) {
            const decimal expected = percent_of(base, *rate);
            if (!it.importe_retenido)
                c.error(p(imp_f), "required", p(imp_f) + " is required.", money(expected), "");
            else if (!c.within(expected, *it.importe_retenido))
                c.arith(p(imp_f), p(imp_f) + " is not the base times the rate.", money(expected),
                        money(it.importe_retenido));
            if (!it.importe_retenido) importe = expected;
        }
        const decimal net = perc ? base + importe : base - importe;
        if (!it.importe_pagado_con_retencion)
            c.error(p(net_f), "required", p(net_f) + " is required.", money(net), "");
        else if (!c.within(net, *it.importe_pagado_con_retencion))
            c.arith(p(net_f),
                    p(net_f) + (perc ? " is not the base plus the amount perceived."
                                     : " is not the base minus the amount retained."),
                    money(net), money(it.importe_pagado_con_retencion));
        sum_imp += importe;
        sum_net += net;
    }
    const char* tot_imp = perc ? "total_percibido" : "total_retenido";
    const char* tot_net = perc ? "total_cobrado" : "total_pagado";
    if (!doc.total_retenido)
        c.error(tot_imp, "required", std::string(tot_imp) + " is required.", money(sum_imp), "");
    else if (!c.within(sum_imp, *doc.total_retenido))
        c.arith(tot_imp, std::string(tot_imp) + " is not the sum of the items.", money(sum_imp),
                money(doc.total_retenido));
    if (!doc.total_pagado)
        c.error(tot_net, "required", std::string(tot_net) + " is required.", money(sum_net), "");
    else if (!c.within(sum_net, *doc.total_pagado))
        c.arith(tot_net, std::string(tot_net) + " is not the sum of the items.", money(sum_net),
                money(doc.total_pagado));
    return c.take();
}

std::vector<finding> check(const json::request& doc, const check_options& opts) {
    return std::visit([&](const auto& d) { return check(d, opts); }, doc);
}

}  // namespace nubefact::fiscal
