// Golden tests of fiscal::complete: the worked examples of §7 and every scenario of §6.4 of the fact sheet.
#include "builders.hpp"

namespace nubefact::fiscal::test {
namespace {

#define EXPECT_DEC(actual, text)                                          \
    do {                                                                  \
        ASSERT_TRUE((actual).has_value()) << #actual " is absent";        \
        EXPECT_EQ((actual)->to_string(), d(text).to_string()) << #actual; \
    } while (0)

void expect_clean(const comprobante& doc) {
    const auto fs = check(doc);
    EXPECT_TRUE(errors_of(fs).empty()) << describe(fs);
}

// §7.1: prices entered with IGV.
TEST(Complete, Example71PricesWithIgv) {
    comprobante doc = factura_header();
    doc.items = {by_precio("3", "11.80"), by_precio("7", "2.50")};
    complete(doc);
    EXPECT_DEC(doc.porcentaje_de_igv, "18");
    EXPECT_DEC(doc.items[0].valor_unitario, "10");
    EXPECT_DEC(doc.items[0].subtotal, "30.00");
    EXPECT_DEC(doc.items[0].igv, "5.40");
    EXPECT_DEC(doc.items[0].total, "35.40");
    EXPECT_DEC(doc.items[1].valor_unitario, "2.1186440678");
    EXPECT_DEC(doc.items[1].precio_unitario, "2.50");
    EXPECT_DEC(doc.items[1].subtotal, "14.83");
    EXPECT_DEC(doc.items[1].igv, "2.67");
    EXPECT_DEC(doc.items[1].total, "17.50");
    EXPECT_DEC(doc.total_gravada, "44.83");
    EXPECT_DEC(doc.total_igv, "8.07");
    EXPECT_DEC(doc.total, "52.90");
    EXPECT_FALSE(doc.total_descuento.has_value());
    expect_clean(doc);
}

// §7.1 as published (both valor and precio present) passes check and complete leaves it unchanged.
TEST(Complete, Example71FullDocumentIsStable) {
    comprobante doc = factura_header();
    doc.porcentaje_de_igv = d("18.00");
    item a = by_valor("3", "10.00");
    a.precio_unitario = d("11.80");
    a.subtotal = d("30.00");
    a.igv = d("5.40");
    a.total = d("35.40");
    item b = by_valor("7", "2.1186440678");
    b.precio_unitario = d("2.50");
    b.subtotal = d("14.83");
    b.igv = d("2.67");
    b.total = d("17.50");
    doc.items = {a, b};
    doc.total_gravada = d("44.83");
    doc.total_igv = d("8.07");
    doc.total = d("52.90");
    const auto fs = check(doc);
    EXPECT_TRUE(fs.empty()) << describe(fs);
    comprobante again = doc;
    complete(again);
    EXPECT_DEC(again.items[1].precio_unitario, "2.5");
    EXPECT_DEC(again.total, "52.90");
    EXPECT_DEC(again.total_igv, "8.07");
}

// §7.2: boleta with discount, exonerado, inafecto, bonificación and ICBPER (2026).
TEST(Complete, Example72MixedBoleta) {
    comprobante doc = boleta_header();
    item polo = by_valor("2", "50.00");
    polo.descuento = d("10.00");
    item bolsa = by_precio("2", "0.10");
    bolsa.bolsas = 2;
    doc.items = {polo, by_valor("1", "20.00", 8), by_valor("3", "5.00", 9), by_valor("1", "8.00", 6), bolsa};
    complete(doc);
    EXPECT_DEC(doc.items[0].precio_unitario, "59");
    EXPECT_DEC(doc.items[0].subtotal, "90.00");
    EXPECT_DEC(doc.items[0].igv, "16.20");
    EXPECT_DEC(doc.items[0].total, "106.20");
    EXPECT_DEC(doc.items[1].precio_unitario, "20");
    EXPECT_DEC(doc.items[1].igv, "0");
    EXPECT_DEC(doc.items[1].total, "20.00");
    EXPECT_DEC(doc.items[2].subtotal, "15.00");
    EXPECT_DEC(doc.items[2].total, "15.00");
    EXPECT_DEC(doc.items[3].subtotal, "8.00");
    EXPECT_DEC(doc.items[3].igv, "0");
    EXPECT_DEC(doc.items[3].total, "8.00");
    EXPECT_DEC(doc.items[4].valor_unitario, "0.0847457627");
    EXPECT_DEC(doc.items[4].subtotal, "0.17");
    EXPECT_DEC(doc.items[4].igv, "0.03");
    EXPECT_DEC(doc.items[4].impuesto_bolsas, "1.00");
    EXPECT_DEC(doc.items[4].total, "1.20");
    EXPECT_DEC(doc.total_descuento, "10.00");
    EXPECT_DEC(doc.total_gravada, "90.17");
    EXPECT_DEC(doc.total_igv, "16.23");
    EXPECT_DEC(doc.total_exonerada, "20.00");
    EXPECT_DEC(doc.total_inafecta, "15.00");
    EXPECT_DEC(doc.total_gratuita, "8.00");
    EXPECT_DEC(doc.total_impuestos_bolsas, "1.00");
    EXPECT_DEC(doc.total, "142.40");
    expect_clean(doc);
}

// §7.3: USD factura, global discount, two instalments.
TEST(Complete, Example73DollarsGlobalDiscountCuotas) {
    comprobante doc = factura_header();
    doc.numero = 102;
    doc.moneda = 2;
    doc.tipo_de_cambio = d("3.745");
    doc.fecha_de_vencimiento = date{2026, 3, 16};
    doc.descuento_global = d("50.00");
    item svc = by_valor("1", "1000.00");
    svc.unidad_de_medida = "ZZ";
    doc.items = {svc, by_valor("4", "37.50")};
    doc.venta_al_credito = {cuota{1, date{2026, 2, 14}, d("649.00"), {}},
                            cuota{2, date{2026, 3, 16}, d("649.00"), {}}};
    complete(doc);
    EXPECT_DEC(doc.items[0].precio_unitario, "1180");
    EXPECT_DEC(doc.items[0].igv, "180.00");
    EXPECT_DEC(doc.items[0].total, "1180.00");
    EXPECT_DEC(doc.items[1].precio_unitario, "44.25");
    EXPECT_DEC(doc.items[1].subtotal, "150.00");
    EXPECT_DEC(doc.items[1].igv, "27.00");
    EXPECT_DEC(doc.items[1].total, "177.00");
    EXPECT_DEC(doc.total_gravada, "1100.00");
    EXPECT_DEC(doc.total_igv, "198.00");
    EXPECT_DEC(doc.total, "1298.00");
    EXPECT_DEC(doc.total_descuento, "50.00");
    expect_clean(doc);
}

// §7.3 reduced-rate variants: 2 × precio 35.00 at 10.5 % and 10 %.
TEST(Complete, ReducedRates) {
    struct rate_case {
        const char* rate;
        date when;
        const char* valor;
        const char* subtotal;
        const char* igv;
    };
    for (const auto& rc : {rate_case{"10.50", date{2026, 1, 15}, "31.6742081448", "63.35", "6.65"},
                           rate_case{"10.00", date{2025, 6, 2}, "31.8181818182", "63.64", "6.36"}}) {
        comprobante doc = factura_header();
        doc.fecha_de_emision = rc.when;
        doc.porcentaje_de_igv = d(rc.rate);
        doc.items = {by_precio("2", "35.00")};
        complete(doc);
        EXPECT_DEC(doc.items[0].valor_unitario, rc.valor);
        EXPECT_DEC(doc.items[0].subtotal, rc.subtotal);
        EXPECT_DEC(doc.items[0].igv, rc.igv);
        EXPECT_DEC(doc.items[0].total, "70.00");
        EXPECT_DEC(doc.total, "70.00");
        const auto fs = check(doc);
        EXPECT_TRUE(fs.empty()) << rc.rate << "\n" << describe(fs);
    }
}

// §6.1 and the basic official example: 1 × 500 + 5 × 20.
TEST(Complete, GravadaBasic) {
    comprobante doc = factura_header();
    doc.items = {by_valor("1", "500"), by_valor("5", "20")};
    complete(doc);
    EXPECT_DEC(doc.items[1].precio_unitario, "23.60");
    EXPECT_DEC(doc.items[1].subtotal, "100");
    EXPECT_DEC(doc.items[1].igv, "18");
    EXPECT_DEC(doc.items[1].total, "118");
    EXPECT_DEC(doc.total_gravada, "600");
    EXPECT_DEC(doc.total_igv, "108");
    EXPECT_DEC(doc.total, "708");
    expect_clean(doc);
}

TEST(Complete, ItemDiscountKeepsPrecio) {
    comprobante doc = factura_header();
    item a = by_valor("1", "500");
    a.descuento = d("200");
    doc.items = {a, by_valor("5", "20")};
    complete(doc);
    EXPECT_DEC(doc.items[0].subtotal, "300");
    EXPECT_DEC(doc.items[0].igv, "54");
    EXPECT_DEC(doc.items[0].total, "354");
    EXPECT_DEC(doc.items[0].precio_unitario, "590");
    EXPECT_DEC(doc.total_descuento, "200");
    EXPECT_DEC(doc.total_gravada, "400");
    EXPECT_DEC(doc.total_igv, "72");
    EXPECT_DEC(doc.total, "472");
    expect_clean(doc);
}

// §6.4: descuento global 300 on 500 + 100; lines stay undiscounted.
TEST(Complete, GlobalDiscount) {
    comprobante doc = factura_header();
    doc.descuento_global = d("300");
    doc.items = {by_valor("1", "500"), by_valor("5", "20")};
    complete(doc);
    EXPECT_DEC(doc.items[0].total, "590");
    EXPECT_DEC(doc.items[1].total, "118");
    EXPECT_DEC(doc.total_descuento, "300");
    EXPECT_DEC(doc.total_gravada, "300");
    EXPECT_DEC(doc.total_igv, "54");
    EXPECT_DEC(doc.total, "354");
    expect_clean(doc);
}

TEST(Complete, GlobalAndItemDiscount) {
    comprobante doc = factura_header();
    doc.descuento_global = d("100");
    item a = by_valor("1", "500");
    a.descuento = d("200");
    doc.items = {a, by_valor("5", "20")};
    complete(doc);
    EXPECT_DEC(doc.total_descuento, "300");
    EXPECT_DEC(doc.total_gravada, "300");
    EXPECT_DEC(doc.total_igv, "54");
    EXPECT_DEC(doc.total, "354");
}

// §6.4: ISC sistema al valor 10 %; the IGV base includes ISC.
TEST(Complete, IscByRate) {
    comprobante doc = factura_header();
    item a = by_valor("1", "500");
    a.tipo_de_isc = 1;
    a.porcentaje_isc = d("10");
    item b = by_valor("5", "20");
    b.tipo_de_isc = 1;
    b.porcentaje_isc = d("10");
    doc.items = {a, b};
    complete(doc);
    EXPECT_DEC(doc.items[0].isc, "50");
    EXPECT_DEC(doc.items[0].igv, "99");
    EXPECT_DEC(doc.items[0].total, "649");
    EXPECT_DEC(doc.items[0].precio_unitario, "649");
    EXPECT_DEC(doc.items[1].isc, "10");
    EXPECT_DEC(doc.items[1].igv, "19.80");
    EXPECT_DEC(doc.items[1].total, "129.80");
    EXPECT_DEC(doc.items[1].precio_unitario, "25.96");
    EXPECT_DEC(doc.total_gravada, "600");
    EXPECT_DEC(doc.total_isc, "60");
    EXPECT_DEC(doc.total_igv, "118.80");
    EXPECT_DEC(doc.total, "778.80");
    expect_clean(doc);
}

// ISC given as an amount, with the price entered with taxes: valor is recovered.
TEST(Complete, IscByRateFromPrecio) {
    comprobante doc = factura_header();
    item b = by_precio("5", "25.96");
    b.tipo_de_isc = 1;
    b.porcentaje_isc = d("10");
    doc.items = {b};
    complete(doc);
    EXPECT_DEC(doc.items[0].valor_unitario, "20");
    EXPECT_DEC(doc.items[0].isc, "10");
    EXPECT_DEC(doc.items[0].total, "129.80");
}

// §6.4: anticipo regularización.
TEST(Complete, AnticipoRegularizacion) {
    comprobante doc = factura_header();
    doc.sunat_transaction = 4;
    item adv = by_valor("1", "500");
    adv.anticipo_regularizacion = true;
    adv.anticipo_documento_serie = "FFF1";
    adv.anticipo_documento_numero = 14;
    doc.items = {by_valor("1", "2000"), adv};
    complete(doc);
    EXPECT_DEC(doc.items[0].total, "2360");
    EXPECT_DEC(doc.items[1].subtotal, "500");
    EXPECT_DEC(doc.items[1].igv, "90");
    EXPECT_DEC(doc.items[1].total, "590");
    EXPECT_DEC(doc.total_anticipo, "500");
    EXPECT_DEC(doc.total_gravada, "1500");
    EXPECT_DEC(doc.total_igv, "270");
    EXPECT_DEC(doc.total, "1770");
    expect_clean(doc);
}

// §6.4: otros cargos, header only and per item.
TEST(Complete, OtrosCargos) {
    comprobante doc = factura_header();
    doc.total_otros_cargos = d("50");
    doc.items = {by_valor("1", "500"), by_valor("5", "20")};
    complete(doc);
    EXPECT_DEC(doc.total_otros_cargos, "50");
    EXPECT_DEC(doc.total, "758");
    expect_clean(doc);

    comprobante per_item = factura_header();
    item a = by_valor("1", "500");
    a.otros_cargos = d("50");
    item b = by_valor("5", "20");
    b.otros_cargos = d("10");
    per_item.items = {a, b};
    complete(per_item);
    EXPECT_DEC(per_item.items[0].total, "640");
    EXPECT_DEC(per_item.items[1].total, "128");
    EXPECT_DEC(per_item.total_otros_cargos, "60");
    EXPECT_DEC(per_item.total, "768");
    expect_clean(per_item);
}

// §6.4: percepción tipo 1 and 2, retención tipo 1, detracción 12 %.
TEST(Complete, PercepcionRetencionDetraccion) {
    comprobante p1 = factura_header();
    p1.sunat_transaction = 34;
    p1.percepcion_tipo = 1;
    p1.items = {by_valor("1", "500"), by_valor("5", "20")};
    complete(p1);
    EXPECT_DEC(p1.percepcion_base_imponible, "708");
    EXPECT_DEC(p1.total_percepcion, "14.16");
    EXPECT_DEC(p1.total_incluido_percepcion, "722.16");
    EXPECT_DEC(p1.total, "708");
    expect_clean(p1);

    comprobante p2 = p1;
    p2.percepcion_tipo = 2;
    complete(p2);
    EXPECT_DEC(p2.total_percepcion, "7.08");
    EXPECT_DEC(p2.total_incluido_percepcion, "715.08");

    comprobante r = factura_header();
    r.retencion_tipo = 1;
    r.items = {by_valor("1", "500"), by_valor("5", "20")};
    complete(r);
    EXPECT_DEC(r.retencion_base_imponible, "708");
    EXPECT_DEC(r.total_retencion, "21.24");
    EXPECT_DEC(r.total, "708");
    expect_clean(r);

    comprobante dt = factura_header();
    dt.sunat_transaction = 30;
    dt.detraccion = true;
    dt.detraccion_tipo = 1;
    dt.detraccion_porcentaje = d("12");
    dt.medio_de_pago_detraccion = 1;
    dt.items = {by_valor("1", "2000")};
    item adv = by_valor("1", "500");
    adv.anticipo_regularizacion = true;
    adv.anticipo_documento_serie = "FFF1";
    adv.anticipo_documento_numero = 1;
    dt.items.push_back(adv);
    complete(dt);
    EXPECT_DEC(dt.total, "1770");
    EXPECT_DEC(dt.detraccion_total, "212.40");
    expect_clean(dt);
}

// §6.4: IVAP gravado; porcentaje_de_igv defaults to 4 for IVAP documents.
TEST(Complete, Ivap) {
    comprobante doc = factura_header();
    item a = by_valor("1", "500");
    a.tipo_de_igv.reset();
    a.tipo_de_ivap = "17";
    item b = by_valor("5", "20");
    b.tipo_de_igv.reset();
    b.tipo_de_ivap = "17";
    doc.items = {a, b};
    complete(doc);
    EXPECT_DEC(doc.porcentaje_de_igv, "4");
    EXPECT_DEC(doc.items[0].igv, "20");
    EXPECT_DEC(doc.items[0].total, "520");
    EXPECT_DEC(doc.items[1].igv, "4");
    EXPECT_DEC(doc.items[1].precio_unitario, "20.80");
    EXPECT_DEC(doc.total_gravada, "600");
    EXPECT_DEC(doc.total_igv, "24");
    EXPECT_DEC(doc.total, "624");
    expect_clean(doc);
}

// §6.2 / §6.3: exonerado, inafecto, exportación and free lines.
TEST(Complete, NonTaxedAndFree) {
    struct bucket_case {
        std::int64_t tipo;
        opt_dec comprobante::*field;
        const char* total;
    };
    for (const auto& bc : {bucket_case{8, &comprobante::total_exonerada, "600"},
                           bucket_case{9, &comprobante::total_inafecta, "600"},
                           bucket_case{16, &comprobante::total_inafecta, "600"},
                           bucket_case{6, &comprobante::total_gratuita, "0"},
                           bucket_case{17, &comprobante::total_gratuita, "0"},
                           bucket_case{20, &comprobante::total_gratuita, "0"}}) {
        comprobante doc = factura_header();
        if (bc.tipo == 16) {
            doc.sunat_transaction = 2;
            doc.cliente_tipo_de_documento = "0";
            doc.cliente_numero_de_documento = "BUSINESS-ID";
        }
        doc.items = {by_valor("1", "500", bc.tipo), by_valor("5", "20", bc.tipo)};
        complete(doc);
        SCOPED_TRACE(bc.tipo);
        EXPECT_DEC(doc.items[1].precio_unitario, "20");
        EXPECT_DEC(doc.items[1].igv, "0");
        EXPECT_DEC(doc.items[1].total, "100");
        EXPECT_DEC((doc.*bc.field), "600");
        EXPECT_DEC(doc.total_igv, "0");
        EXPECT_DEC(doc.total, bc.total);
        expect_clean(doc);
    }
}

// §6.5: the free bag line of official example 24 (2021 rate 0.30).
TEST(Complete, IcbperFreeBagLine) {
    comprobante doc = factura_header();
    doc.fecha_de_emision = date{2021, 6, 1};
    item bag = by_valor("1", "0.1", 2);
    bag.bolsas = 1;
    doc.items = {by_valor("10", "0.1"), bag};
    complete(doc);
    EXPECT_DEC(doc.items[0].subtotal, "1.00");
    EXPECT_DEC(doc.items[0].igv, "0.18");
    EXPECT_DEC(doc.items[1].impuesto_bolsas, "0.30");
    EXPECT_DEC(doc.items[1].total, "0.30");
    EXPECT_DEC(doc.total_gravada, "1");
    EXPECT_DEC(doc.total_igv, "0.18");
    EXPECT_DEC(doc.total_gratuita, "0.1");
    EXPECT_DEC(doc.total_impuestos_bolsas, "0.3");
    EXPECT_DEC(doc.total, "1.48");
    expect_clean(doc);
    // The other convention (free line total = subtotal) is accepted too.
    doc.items[1].total = d("0.10");
    expect_clean(doc);
}

TEST(Complete, IcbperRateByYear) {
    EXPECT_EQ(icbper_rate(2019), d("0.10"));
    EXPECT_EQ(icbper_rate(2020), d("0.20"));
    EXPECT_EQ(icbper_rate(2021), d("0.30"));
    EXPECT_EQ(icbper_rate(2022), d("0.40"));
    EXPECT_EQ(icbper_rate(2023), d("0.50"));
    EXPECT_EQ(icbper_rate(2030), d("0.50"));
    for (int year : {2019, 2020, 2021, 2022, 2023, 2026}) {
        comprobante doc = boleta_header();
        doc.fecha_de_emision = date{year, 3, 1};
        item bag = by_valor("3", "0.1");
        bag.bolsas = 3;
        doc.items = {bag};
        complete(doc);
        EXPECT_EQ(*doc.items[0].impuesto_bolsas, decimal::from_int(3) * icbper_rate(year));
    }
}

// §6.6: header = Σ of rounded lines (three lines of 0.25 at 18 %: 0.15, not 0.14).
TEST(Complete, HeaderIsSumOfRoundedLines) {
    comprobante doc = factura_header();
    doc.items = {by_valor("1", "0.25"), by_valor("1", "0.25"), by_valor("1", "0.25")};
    complete(doc);
    EXPECT_DEC(doc.items[0].igv, "0.05");
    EXPECT_DEC(doc.total_gravada, "0.75");
    EXPECT_DEC(doc.total_igv, "0.15");
    EXPECT_DEC(doc.total, "0.90");
    expect_clean(doc);
}

// Exact arithmetic: cantidad × valor is rounded once (no double rounding through 10 decimals).
TEST(Complete, NoDoubleRounding) {
    comprobante doc = factura_header();
    // 0.3333333333 × 0.0150000000 = 0.00499999999995 → 0.00 (a 10-decimal intermediate would give 0.01).
    doc.items = {by_valor("0.3333333333", "0.015")};
    complete(doc);
    EXPECT_DEC(doc.items[0].subtotal, "0.00");
    // Half-up at exactly .005.
    doc.items = {by_valor("1", "0.005")};
    complete(doc);
    EXPECT_DEC(doc.items[0].subtotal, "0.01");
}

TEST(Complete, OverwriteFalseKeepsPresentFields) {
    comprobante doc = factura_header();
    doc.items = {by_valor("1", "500")};
    doc.items[0].igv = d("91");
    doc.total = d("1");
    complete(doc, complete_options{std::nullopt, false});
    EXPECT_DEC(doc.items[0].igv, "91");
    EXPECT_DEC(doc.items[0].subtotal, "500");
    EXPECT_DEC(doc.total, "1");
    complete(doc);
    EXPECT_DEC(doc.items[0].igv, "90");
    EXPECT_DEC(doc.total, "590");
}

TEST(Complete, IncompleteLineIsLeftForCheck) {
    comprobante doc = factura_header();
    item a;
    a.tipo_de_igv = 1;
    a.descripcion = "SIN CANTIDAD";
    doc.items = {a, by_valor("1", "100")};
    complete(doc);
    EXPECT_FALSE(doc.items[0].subtotal.has_value());
    EXPECT_DEC(doc.total, "118");
    const auto fs = check(doc);
    EXPECT_NE(find_path(fs, "items[0].cantidad"), nullptr) << describe(fs);
}

}  // namespace
}  // namespace nubefact::fiscal::test
