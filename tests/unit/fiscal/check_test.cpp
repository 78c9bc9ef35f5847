// Negative tests of fiscal::check: one wrong field gives exactly the expected finding (path, code, values).
#include "builders.hpp"

#include <functional>

namespace nubefact::fiscal::test {
namespace {

// The §7.1 factura, completed: valid.
comprobante valid_factura() {
    comprobante doc = factura_header();
    doc.items = {by_precio("3", "11.80"), by_precio("7", "2.50")};
    complete(doc);
    return doc;
}

comprobante valid_boleta() {
    comprobante doc = boleta_header();
    doc.items = {by_valor("1", "500"), by_valor("5", "20")};
    complete(doc);
    return doc;
}

struct expectation {
    std::string path;
    std::string code;
    std::string expected = "*";  // "*" = do not compare
    std::string actual = "*";
    severity level = severity::error;
};

// Exactly one error, with that path/code (and values when given); warnings are ignored.
void expect_only(const std::vector<finding>& fs, const expectation& e) {
    const auto errs = e.level == severity::error ? errors_of(fs) : fs;
    ASSERT_EQ(errs.size(), 1u) << describe(fs);
    EXPECT_EQ(errs[0].path, e.path) << describe(fs);
    EXPECT_EQ(errs[0].code, e.code) << describe(fs);
    EXPECT_EQ(errs[0].level, e.level) << describe(fs);
    if (e.expected != "*") {
        EXPECT_EQ(errs[0].expected, e.expected) << describe(fs);
    }
    if (e.actual != "*") {
        EXPECT_EQ(errs[0].actual, e.actual) << describe(fs);
    }
    EXPECT_FALSE(errs[0].message.empty());
}

// Contains an error with that path and code.
void expect_has(const std::vector<finding>& fs, const std::string& path, const std::string& code) {
    const bool found = std::any_of(fs.begin(), fs.end(), [&](const finding& f) {
        return f.path == path && f.code == code && f.level == severity::error;
    });
    EXPECT_TRUE(found) << path << " [" << code << "] not in\n" << describe(fs);
}

TEST(Check, ValidDocumentsHaveNoFindings) {
    auto fs = check(valid_factura());
    EXPECT_TRUE(fs.empty()) << describe(fs);
    fs = check(valid_boleta());
    EXPECT_TRUE(fs.empty()) << describe(fs);
}

struct mutation {
    const char* name;
    std::function<void(comprobante&)> change;
    expectation want;
};

class CheckMutation : public ::testing::TestWithParam<mutation> {};

TEST_P(CheckMutation, OneWrongFieldOneFinding) {
    const auto& m = GetParam();
    comprobante doc = m.name[0] == 'b' ? valid_boleta() : valid_factura();
    m.change(doc);
    expect_only(check(doc), m.want);
}

const mutation mutations[] = {
    // arithmetic, line
    {"f_item_igv",
     [](comprobante& c) { c.items[1].igv = d("2.68"); },
     {"items[1].igv", "mismatch", "2.67", "2.68"}},
    {"f_item_subtotal",
     [](comprobante& c) { c.items[0].subtotal = d("30.01"); },
     {"items[0].subtotal", "mismatch", "30.00", "30.01"}},
    {"f_item_total",
     [](comprobante& c) { c.items[1].total = d("17.49"); },
     {"items[1].total", "mismatch", "17.50", "17.49"}},
    {"f_item_igv_missing",
     [](comprobante& c) { c.items[0].igv.reset(); },
     {"items[0].igv", "required", "5.40", ""}},
    {"f_item_free_igv",
     [](comprobante& c) {
         c.items.push_back(by_valor("1", "8", 6));
         complete(c);
         c.items[2].igv = d("1.44");
     },
     {"items[2].igv", "mismatch", "0.00", "1.44"}},
    // arithmetic, header
    {"f_total_gravada",
     [](comprobante& c) { c.total_gravada = d("44.84"); },
     {"total_gravada", "mismatch", "44.83", "44.84"}},
    {"f_total_igv",
     [](comprobante& c) { c.total_igv = d("8.06"); },
     {"total_igv", "mismatch", "8.07", "8.06"}},
    {"f_total", [](comprobante& c) { c.total = d("52.91"); }, {"total", "mismatch", "52.90", "52.91"}},
    {"f_total_missing", [](comprobante& c) { c.total.reset(); }, {"total", "required", "52.90", ""}},
    {"f_total_descuento",
     [](comprobante& c) { c.total_descuento = d("5"); },
     {"total_descuento", "mismatch", "0.00", "5.00"}},
    {"f_total_exonerada_absent",
     [](comprobante& c) {
         c.items.push_back(by_valor("1", "20", 8));
         complete(c);
         c.total_exonerada.reset();
     },
     {"total_exonerada", "mismatch", "20.00", ""}},
    // identity
    {"f_tipo",
     [](comprobante& c) { c.tipo_de_comprobante = 5; },
     {"tipo_de_comprobante", "catalogue", "1..4", "5"}},
    {"f_serie_family", [](comprobante& c) { c.serie = "BBB1"; }, {"serie", "serie", "F...", "BBB1"}},
    {"b_serie_family", [](comprobante& c) { c.serie = "FFF1"; }, {"serie", "serie", "B...", "FFF1"}},
    {"f_serie_length", [](comprobante& c) { c.serie = "FFF12"; }, {"serie", "length", "4", "5"}},
    {"f_serie_chars", [](comprobante& c) { c.serie = "ff-1"; }, {"serie", "format"}},
    {"f_serie_missing", [](comprobante& c) { c.serie.reset(); }, {"serie", "required"}},
    {"f_contingency_flag",
     [](comprobante& c) { c.generado_por_contingencia = true; },
     {"serie", "serie", "0..."}},
    {"f_numero_zero", [](comprobante& c) { c.numero = 0; }, {"numero", "range", "1..99999999", "0"}},
    {"f_numero_big",
     [](comprobante& c) { c.numero = 100'000'000; },
     {"numero", "range", "1..99999999", "100000000"}},
    {"f_sunat_transaction",
     [](comprobante& c) { c.sunat_transaction = 3; },
     {"sunat_transaction", "catalogue"}},
    // customer
    {"f_ruc_digit",
     [](comprobante& c) { c.cliente_numero_de_documento = "20600695772"; },
     {"cliente_numero_de_documento", "ruc", "RUC", "20600695772"}},
    {"f_ruc_length",
     [](comprobante& c) { c.cliente_numero_de_documento = "2060069577"; },
     {"cliente_numero_de_documento", "ruc"}},
    {"b_dni",
     [](comprobante& c) { c.cliente_numero_de_documento = "4192037"; },
     {"cliente_numero_de_documento", "dni", "8 digits", "4192037"}},
    {"f_cliente_tipo",
     [](comprobante& c) { c.cliente_tipo_de_documento = "9"; },
     {"cliente_tipo_de_documento", "catalogue", "*", "9"}},
    {"f_factura_dni",
     [](comprobante& c) {
         c.cliente_tipo_de_documento = "1";
         c.cliente_numero_de_documento = "41920371";
     },
     {"cliente_tipo_de_documento", "customer", "6", "1"}},
    {"b_anonymous_700",
     [](comprobante& c) {
         c.cliente_tipo_de_documento = "-";
         c.cliente_numero_de_documento = "-";
     },
     {"cliente_tipo_de_documento", "customer"}},
    {"f_direccion", [](comprobante& c) { c.cliente_direccion.reset(); }, {"cliente_direccion", "required"}},
    {"f_denominacion",
     [](comprobante& c) { c.cliente_denominacion = std::string(101, 'A'); },
     {"cliente_denominacion", "length", "1..100", "101"}},
    {"f_email", [](comprobante& c) { c.cliente_email = "no-at-sign"; }, {"cliente_email", "format"}},
    // dates and money
    {"f_fecha_invalid",
     [](comprobante& c) {
         c.fecha_de_emision = date{2026, 2, 31};
     },
     {"fecha_de_emision", "date"}},
    {"f_fecha_missing", [](comprobante& c) { c.fecha_de_emision.reset(); }, {"fecha_de_emision", "required"}},
    {"f_vencimiento",
     [](comprobante& c) {
         c.fecha_de_vencimiento = date{2026, 1, 14};
     },
     {"fecha_de_vencimiento", "date_order", ">= 15-01-2026", "14-01-2026"}},
    {"f_moneda", [](comprobante& c) { c.moneda = 7; }, {"moneda", "catalogue", "1..4", "7"}},
    {"f_tipo_de_cambio", [](comprobante& c) { c.moneda = 2; }, {"tipo_de_cambio", "required"}},
    {"f_rate_ivap_on_igv",
     [](comprobante& c) { c.porcentaje_de_igv = d("4"); },
     {"porcentaje_de_igv", "igv_rate", "18.00", "4.00"}},
    // items
    {"f_no_items",
     [](comprobante& c) {
         c.items.clear();
         complete(c);
     },
     {"items", "required"}},
    {"f_tipo_de_igv",
     [](comprobante& c) { c.items[0].tipo_de_igv = 18; },
     {"items[0].tipo_de_igv", "catalogue", "1..17,20", "18"}},
    {"f_igv_and_ivap",
     [](comprobante& c) { c.items[0].tipo_de_ivap = "17"; },
     {"items[0].tipo_de_ivap", "conflict"}},
    {"f_tipo_de_igv_missing",
     [](comprobante& c) { c.items[0].tipo_de_igv.reset(); },
     {"items[0].tipo_de_igv", "required"}},
    {"f_cantidad_zero", [](comprobante& c) { c.items[0].cantidad = d("0"); }, {"items[0].cantidad", "range"}},
    {"f_unidad",
     [](comprobante& c) { c.items[0].unidad_de_medida.reset(); },
     {"items[0].unidad_de_medida", "required"}},
    {"f_descripcion",
     [](comprobante& c) { c.items[1].descripcion = std::string(251, 'x'); },
     {"items[1].descripcion", "length"}},
    {"f_money_decimals",
     [](comprobante& c) {
         c.total_otros_cargos = d("0.005");
         c.total = d("52.905");
     },
     {"total_otros_cargos", "format", "12.2", "0.005"}},
    {"f_isc_without_tipo",
     [](comprobante& c) {
         c.items[0].isc = d("3");
         complete(c);
     },
     {"items[0].tipo_de_isc", "required"}},
    {"f_anticipo_serie",
     [](comprobante& c) {
         c.items[1].anticipo_regularizacion = true;
         c.items[1].anticipo_documento_numero = 1;
         complete(c);
     },
     {"items[1].anticipo_documento_serie", "required"}},
    // cuotas
    {"f_cuotas_sum",
     [](comprobante& c) {
         c.venta_al_credito = {cuota{1, date{2026, 2, 1}, d("50"), {}}};
     },
     {"venta_al_credito", "mismatch", "52.90", "50.00"}},
    {"f_cuota_number",
     [](comprobante& c) {
         c.venta_al_credito = {cuota{1, date{2026, 2, 1}, d("20"), {}},
                               cuota{3, date{2026, 3, 1}, d("32.90"), {}}};
     },
     {"venta_al_credito[1].cuota", "cuota_number", "2", "3"}},
    {"f_cuota_date",
     [](comprobante& c) {
         c.venta_al_credito = {cuota{1, date{2026, 1, 15}, d("52.90"), {}}};
     },
     {"venta_al_credito[0].fecha_de_pago", "date_order", "> 15-01-2026", "15-01-2026"}},
    // percepción / retención / detracción
    {"f_percepcion",
     [](comprobante& c) {
         c.sunat_transaction = 34;
         c.percepcion_tipo = 1;
         complete(c);
         c.total_percepcion = d("1.05");
     },
     {"total_percepcion", "mismatch", "1.06", "1.05"}},
    {"f_percepcion_tipo", [](comprobante& c) { c.sunat_transaction = 34; }, {"percepcion_tipo", "required"}},
    {"f_retencion",
     [](comprobante& c) {
         c.retencion_tipo = 2;
         complete(c);
         c.total_retencion = d("1.58");
     },
     {"total_retencion", "mismatch", "3.17", "1.58"}},
    {"f_detraccion_flag",
     [](comprobante& c) { c.sunat_transaction = 30; },
     {"detraccion", "detraccion", "true"}},
    {"f_detraccion_tipo",
     [](comprobante& c) {
         c.sunat_transaction = 30;
         c.detraccion = true;
         c.detraccion_tipo = 6;
         c.detraccion_total = d("5");
         c.medio_de_pago_detraccion = 1;
     },
     {"detraccion_tipo", "catalogue", "*", "6"}},
    {"f_detraccion_amount",
     [](comprobante& c) {
         c.sunat_transaction = 30;
         c.detraccion = true;
         c.detraccion_tipo = 37;
         c.detraccion_porcentaje = d("12");
         c.detraccion_total = d("7.00");
         c.medio_de_pago_detraccion = 1;
     },
     {"detraccion_total", "mismatch", "6.35", "7.00"}},
    {"f_detraccion_transport",
     [](comprobante& c) {
         c.sunat_transaction = 33;
         c.detraccion = true;
         c.detraccion_tipo = 25;
         c.detraccion_total = d("2");
         c.medio_de_pago_detraccion = 1;
         c.ubigeo_origen = "150122";
         c.direccion_origen = "LIMA";
         c.ubigeo_destino = "040110";
         c.direccion_destino = "AREQUIPA";
         c.detalle_viaje = "CARGA";
         c.val_ref_serv_trans = d("10");
         c.val_ref_carga_efec = d("20");
     },
     {"val_ref_carga_util", "required"}},
    // notes
    {"f_note_no_reference",
     [](comprobante& c) {
         c.tipo_de_comprobante = 3;
         c.tipo_de_nota_de_credito = 1;
         c.documento_que_se_modifica_serie = "FFF1";
         c.documento_que_se_modifica_numero = 1;
     },
     {"documento_que_se_modifica_tipo", "required"}},
    {"f_note_tipo_missing",
     [](comprobante& c) {
         c.tipo_de_comprobante = 3;
         c.documento_que_se_modifica_tipo = 1;
         c.documento_que_se_modifica_serie = "FFF1";
         c.documento_que_se_modifica_numero = 1;
     },
     {"tipo_de_nota_de_credito", "required"}},
    {"f_note_family",
     [](comprobante& c) {
         c.tipo_de_comprobante = 3;
         c.tipo_de_nota_de_credito = 1;
         c.documento_que_se_modifica_tipo = 2;
         c.documento_que_se_modifica_serie = "BBB1";
         c.documento_que_se_modifica_numero = 1;
         c.cliente_tipo_de_documento = "6";
     },
     {"serie", "serie", "B...", "FFF1"}},
    {"f_note_modified_serie",
     [](comprobante& c) {
         c.tipo_de_comprobante = 4;
         c.tipo_de_nota_de_debito = 1;
         c.documento_que_se_modifica_tipo = 1;
         c.documento_que_se_modifica_serie = "BBB1";
         c.documento_que_se_modifica_numero = 1;
     },
     {"documento_que_se_modifica_serie", "serie", "F...", "BBB1"}},
    {"f_nota_debito_tipo",
     [](comprobante& c) {
         c.tipo_de_comprobante = 4;
         c.tipo_de_nota_de_debito = 6;
         c.documento_que_se_modifica_tipo = 1;
         c.documento_que_se_modifica_serie = "FFF1";
         c.documento_que_se_modifica_numero = 1;
     },
     {"tipo_de_nota_de_debito", "catalogue", "1..5", "6"}},
    // misc
    {"f_guia_ref",
     [](comprobante& c) {
         c.guias = {guia_ref{1, "0001/23", {}}};
     },
     {"guias[0].guia_serie_numero", "format"}},
    {"f_formato_pdf", [](comprobante& c) { c.formato_de_pdf = "A3"; }, {"formato_de_pdf", "catalogue"}},
    {"f_codigo_unico",
     [](comprobante& c) { c.codigo_unico = std::string(21, '1'); },
     {"codigo_unico", "length"}},
};

INSTANTIATE_TEST_SUITE_P(Rules, CheckMutation, ::testing::ValuesIn(mutations),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Check, DiscountLargerThanLine) {
    comprobante doc = valid_factura();
    doc.items[0].descuento = d("40");
    expect_has(check(doc), "items[0].descuento", "range");
}

TEST(Check, UnclassifiableLineSkipsTotals) {
    comprobante doc = valid_factura();
    doc.items[0].tipo_de_igv = 18;
    expect_only(check(doc), {"items[0].tipo_de_igv", "catalogue", "1..17,20", "18"});
}

TEST(Check, BoletaUnder700MayBeAnonymous) {
    comprobante doc = boleta_header();
    doc.cliente_tipo_de_documento = "-";
    doc.cliente_numero_de_documento = "-";
    doc.items = {by_valor("1", "100")};
    complete(doc);
    EXPECT_TRUE(check(doc).empty()) << describe(check(doc));
}

TEST(Check, BoletaThresholdUsesExchangeRate) {
    comprobante doc = boleta_header();
    doc.cliente_tipo_de_documento = "-";
    doc.cliente_numero_de_documento = "-";
    doc.moneda = 2;
    doc.tipo_de_cambio = d("3.745");
    doc.items = {by_valor("1", "160")};  // 188.80 USD ≈ S/ 707
    complete(doc);
    expect_only(check(doc), {"cliente_tipo_de_documento", "customer"});
}

TEST(Check, IssueDateAgainstToday) {
    const comprobante doc = valid_factura();  // 15-01-2026
    EXPECT_TRUE(check(doc).empty());
    check_options opts;
    opts.today = date{2026, 1, 20};
    EXPECT_TRUE(check(doc, opts).empty()) << describe(check(doc, opts));
    opts.today = date{2026, 1, 23};
    expect_only(check(doc, opts), {"fecha_de_emision", "out_of_period", ">= 16-01-2026", "15-01-2026"});
    opts.max_age_days = 10;
    EXPECT_TRUE(check(doc, opts).empty());
    opts.today = date{2026, 1, 14};
    expect_only(check(doc, opts), {"fecha_de_emision", "future_date", "14-01-2026", "15-01-2026"});
}

TEST(Check, ToleranceAndLenient) {
    comprobante doc = valid_factura();
    doc.items[1].igv = d("2.68");
    doc.total_igv = d("8.08");
    doc.items[1].total = d("17.51");
    doc.total = d("52.91");
    EXPECT_EQ(errors_of(check(doc)).size(), 4u);
    check_options tol;
    tol.tolerance = d("0.01");
    EXPECT_TRUE(check(doc, tol).empty()) << describe(check(doc, tol));
    check_options lenient;
    lenient.lenient = true;
    const auto fs = check(doc, lenient);
    EXPECT_EQ(fs.size(), 4u);
    EXPECT_TRUE(errors_of(fs).empty());
    for (const auto& f : fs) EXPECT_EQ(f.code, "mismatch");
}

TEST(Check, ErrorsComeFirst) {
    comprobante doc = valid_factura();
    doc.porcentaje_de_igv = d("15");  // warning
    complete(doc);
    doc.numero = 0;  // error
    const auto fs = check(doc);
    ASSERT_EQ(fs.size(), 2u) << describe(fs);
    EXPECT_EQ(fs[0].level, severity::error);
    EXPECT_EQ(fs[1].level, severity::warning);
    EXPECT_EQ(fs[1].code, "igv_rate");
}

TEST(Check, CuotasNetOfDetraccionAccepted) {
    comprobante doc = factura_header();
    doc.sunat_transaction = 30;
    doc.detraccion = true;
    doc.detraccion_tipo = 37;
    doc.detraccion_porcentaje = d("12");
    doc.medio_de_pago_detraccion = 1;
    doc.items = {by_valor("1", "500"), by_valor("5", "20")};
    complete(doc);
    ASSERT_EQ(doc.detraccion_total, d("84.96"));
    doc.venta_al_credito = {cuota{1, date{2026, 2, 1}, d("623.04"), {}}};
    EXPECT_TRUE(check(doc).empty()) << describe(check(doc));
    doc.venta_al_credito = {cuota{1, date{2026, 2, 1}, d("708"), {}}};
    EXPECT_TRUE(check(doc).empty()) << describe(check(doc));
    // Detracción rounded to whole soles is accepted too (SUNAT deposits have no cents).
    doc.detraccion_total = d("85");
    EXPECT_TRUE(check(doc).empty()) << describe(check(doc));
}

TEST(Check, RucCheckDigit) {
    EXPECT_TRUE(valid_ruc("20600695771"));
    EXPECT_TRUE(valid_ruc("20100070970"));
    EXPECT_TRUE(valid_ruc("10418855555") || !valid_ruc("10418855555"));  // any answer, no crash
    EXPECT_FALSE(valid_ruc("20600695770"));
    EXPECT_FALSE(valid_ruc("2060069577"));
    EXPECT_FALSE(valid_ruc("206006957710"));
    EXPECT_FALSE(valid_ruc("2060069577A"));
    EXPECT_FALSE(valid_ruc("30600695771"));  // no such prefix
    EXPECT_FALSE(valid_ruc(""));
    // Every check digit: exactly one last digit makes a valid RUC.
    for (const char* base : {"2060069577", "1041885555", "2010007097", "1712345678"}) {
        int valid = 0;
        for (char last = '0'; last <= '9'; ++last) valid += valid_ruc(std::string(base) + last);
        EXPECT_EQ(valid, 1) << base;
    }
}

TEST(Check, FreeIgvCodes) {
    for (int t : {2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 17, 20}) EXPECT_TRUE(is_free_igv(t)) << t;
    for (int t : {1, 8, 9, 16, 18, 19, 21, 0}) EXPECT_FALSE(is_free_igv(t)) << t;
}

TEST(Check, IvapRates) {
    comprobante doc = factura_header();
    item a = by_valor("1", "500");
    a.tipo_de_igv.reset();
    a.tipo_de_ivap = "17";
    doc.items = {a};
    complete(doc);
    EXPECT_TRUE(check(doc).empty());
    doc.porcentaje_de_igv = d("18");
    expect_only(check(doc), {"porcentaje_de_igv", "igv_rate", "4.00", "18.00"});
    // IVAP gratuito with 18: a warning only (official boleta 23).
    doc.items[0].tipo_de_ivap = "101";
    complete(doc);
    const auto fs = check(doc);
    EXPECT_TRUE(errors_of(fs).empty()) << describe(fs);
    ASSERT_NE(find_path(fs, "porcentaje_de_igv"), nullptr);
    EXPECT_EQ(find_path(fs, "porcentaje_de_igv")->level, severity::warning);
}

// ---- other documents ----------------------------------------------------------------------------

anulacion valid_anulacion() {
    anulacion a;
    a.tipo_de_comprobante = 1;
    a.serie = "FFF1";
    a.numero = 1;
    a.motivo = "ERROR DEL SISTEMA";
    return a;
}

TEST(CheckOther, Anulacion) {
    EXPECT_TRUE(check(valid_anulacion()).empty());
    auto a = valid_anulacion();
    a.motivo.reset();
    expect_only(check(a), {"motivo", "required"});
    a = valid_anulacion();
    a.serie = "BBB1";
    expect_only(check(a), {"serie", "serie", "F...", "BBB1"});
    a = valid_anulacion();
    a.tipo_de_comprobante = 7;
    expect_only(check(a), {"tipo_de_comprobante", "catalogue", "1..4", "7"});
}

TEST(CheckOther, Consulta) {
    consulta q;
    q.op = operation::consultar_guia;
    q.tipo_de_comprobante = 7;
    q.serie = "TTT1";
    q.numero = 1;
    EXPECT_TRUE(check(q).empty());
    q.serie = "VVV1";
    expect_only(check(q), {"serie", "serie", "T...", "VVV1"});
    q.op = operation::consultar_comprobante;
    q.tipo_de_comprobante = 7;
    q.serie = "FFF1";
    expect_only(check(q), {"tipo_de_comprobante", "catalogue"});
    consulta r;
    r.op = operation::generar_reversion_retencion;
    r.serie = "R001";
    r.numero = 3;
    expect_only(check(r), {"motivo", "required"});
    r.op = operation::consultar_percepcion;
    expect_only(check(r), {"serie", "serie", "P...", "R001"});
}

guia valid_guia() {
    guia g;
    g.tipo_de_comprobante = 7;
    g.serie = "TTT1";
    g.numero = 1;
    g.cliente_tipo_de_documento = "6";
    g.cliente_numero_de_documento = "20600695771";
    g.cliente_denominacion = "NUBEFACT SA";
    g.cliente_direccion = "MIRAFLORES LIMA";
    g.fecha_de_emision = date{2025, 12, 17};
    g.motivo_de_traslado = "01";
    g.peso_bruto_total = d("1");
    g.peso_bruto_unidad_de_medida = "KGM";
    g.numero_de_bultos = 1;
    g.tipo_de_transporte = "01";
    g.fecha_de_inicio_de_traslado = date{2025, 12, 18};
    g.transportista_documento_tipo = "6";
    g.transportista_documento_numero = "20600695771";
    g.transportista_denominacion = "NUBEFACT SA";
    g.punto_de_partida_ubigeo = "151021";
    g.punto_de_partida_direccion = "DIRECCION PARTIDA";
    g.punto_de_llegada_ubigeo = "211101";
    g.punto_de_llegada_direccion = "DIRECCION LLEGADA";
    guia_item it;
    it.unidad_de_medida = "NIU";
    it.descripcion = "PRODUCTO";
    it.cantidad = d("1");
    g.items = {it};
    return g;
}

TEST(CheckOther, Guia) {
    EXPECT_TRUE(check(valid_guia()).empty()) << describe(check(valid_guia()));
    auto g = valid_guia();
    g.serie = "FFF1";
    expect_only(check(g), {"serie", "serie", "T...", "FFF1"});
    g = valid_guia();
    g.motivo_de_traslado = "99";
    expect_only(check(g), {"motivo_de_traslado", "catalogue", "*", "99"});
    g = valid_guia();
    g.peso_bruto_unidad_de_medida = "LBR";
    expect_only(check(g), {"peso_bruto_unidad_de_medida", "catalogue", "KGM,TNE", "LBR"});
    g = valid_guia();
    g.motivo_de_traslado = "04";
    expect_has(check(g), "punto_de_partida_codigo_establecimiento_sunat", "required");
    g = valid_guia();
    g.tipo_de_transporte = "02";
    g.transportista_placa_numero = "ABC-444";
    g.conductor_documento_tipo = "1";
    g.conductor_documento_numero = "12345678";
    g.conductor_nombre = "JORGE";
    g.conductor_apellidos = "LOPEZ";
    g.conductor_numero_licencia = "Q12345678";
    expect_only(check(g), {"transportista_placa_numero", "format"});
    g.transportista_placa_numero = "ABC444";
    EXPECT_TRUE(check(g).empty()) << describe(check(g));
    g.conductor_numero_licencia.reset();
    expect_only(check(g), {"conductor_numero_licencia", "required"});
    g = valid_guia();
    g.transportista_documento_numero = "20600695772";
    expect_only(check(g), {"transportista_documento_numero", "ruc"});
    g = valid_guia();
    g.items.clear();
    expect_only(check(g), {"items", "required"});
    g = valid_guia();
    check_options opts;
    opts.today = date{2025, 12, 19};  // two days later: GRE allows one day back
    expect_only(check(g, opts), {"fecha_de_emision", "out_of_period"});
}

retencion_percepcion valid_retencion() {
    retencion_percepcion r;
    r.serie = "R001";
    r.numero = 1;
    r.cliente_tipo_de_documento = "6";
    r.cliente_numero_de_documento = "20600695771";
    r.cliente_denominacion = "PROVEEDOR SAC";
    r.fecha_de_emision = date{2026, 1, 15};
    r.moneda = 1;
    r.tipo_de_tasa = 1;
    retper_item it;
    it.documento_relacionado_tipo = "01";
    it.documento_relacionado_serie = "F001";
    it.documento_relacionado_numero = 10;
    it.documento_relacionado_fecha_de_emision = date{2026, 1, 5};
    it.documento_relacionado_moneda = 1;
    it.documento_relacionado_total = d("1180");
    it.pago_fecha = date{2026, 1, 15};
    it.pago_numero = "1";
    it.pago_total_sin_retencion = d("1180");
    it.importe_retenido = d("35.40");
    it.importe_retenido_fecha = date{2026, 1, 15};
    it.importe_pagado_con_retencion = d("1144.60");
    r.items = {it};
    r.total_retenido = d("35.40");
    r.total_pagado = d("1144.60");
    return r;
}

TEST(CheckOther, RetencionPercepcion) {
    EXPECT_TRUE(check(valid_retencion()).empty()) << describe(check(valid_retencion()));
    auto r = valid_retencion();
    r.items[0].importe_retenido = d("35.00");
    r.items[0].importe_pagado_con_retencion = d("1145.00");
    r.total_retenido = d("35.00");
    r.total_pagado = d("1145.00");
    expect_has(check(r), "items[0].importe_retenido", "mismatch");
    r = valid_retencion();
    r.total_pagado = d("1144.00");
    expect_only(check(r), {"total_pagado", "mismatch", "1144.60", "1144.00"});
    r = valid_retencion();
    r.serie = "P001";
    expect_only(check(r), {"serie", "serie", "R...", "P001"});
    r = valid_retencion();
    r.tipo_de_tasa = 3;
    expect_has(check(r), "tipo_de_tasa_de_retencion", "catalogue");

    auto p = valid_retencion();
    p.percepcion = true;
    p.serie = "P001";
    p.items[0].importe_retenido = d("23.60");  // 2 %
    p.items[0].importe_pagado_con_retencion = d("1203.60");
    p.total_retenido = d("23.60");
    p.total_pagado = d("1203.60");
    EXPECT_TRUE(check(p).empty()) << describe(check(p));
}

TEST(CheckOther, RequestVariantDispatches) {
    json::request req = valid_anulacion();
    EXPECT_TRUE(check(req).empty());
    req = valid_guia();
    EXPECT_TRUE(check(req).empty());
    req = valid_factura();
    EXPECT_TRUE(check(req).empty());
}

}  // namespace
}  // namespace nubefact::fiscal::test
