// Codec tests: official examples round-trip, field typing rules, findings with paths, canonical output.
#include <nubefact/json.hpp>

#include "test_util.hpp"

#include <gtest/gtest.h>

namespace {

using namespace nubefact;
using nubefact::test::dump;
using nubefact::test::find_at;

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(CodecOfficial, EveryExampleReadsAndRoundTrips) {
    const auto files = test::example_files();
    ASSERT_GE(files.size(), 60u);
    for (const auto& path : files) {
        SCOPED_TRACE(path.filename().string());
        const std::string text = test::slurp(path);
        if (ends_with(path.filename().string(), "-response.json")) {
            auto r = json::read_response(text);
            EXPECT_TRUE(r.findings.empty()) << dump(r.findings);
            const std::string w1 = std::visit([](const auto& b) { return json::write(b); }, r.body);
            auto r2 = json::read_response(w1);
            EXPECT_TRUE(r2.findings.empty()) << dump(r2.findings);
            const std::string w2 = std::visit([](const auto& b) { return json::write(b); }, r2.body);
            EXPECT_EQ(w1, w2);
            EXPECT_EQ(r.body.index(), r2.body.index());
            continue;
        }
        auto r = json::read_request(text);
        EXPECT_TRUE(r.findings.empty()) << dump(r.findings);
        ASSERT_TRUE(r.op.has_value());
        const std::string w1 = json::write(r.doc);
        auto r2 = json::read_request(w1);
        EXPECT_TRUE(r2.findings.empty()) << dump(r2.findings) << w1;
        EXPECT_EQ(r2.op, r.op);
        EXPECT_EQ(json::write(r2.doc), w1);
        // Pretty output reads back to the same document.
        json::write_options pretty;
        pretty.pretty = true;
        auto r3 = json::read_request(json::write(r.doc, pretty));
        EXPECT_TRUE(r3.findings.empty()) << dump(r3.findings);
        EXPECT_EQ(json::write(r3.doc), w1);
    }
}

TEST(CodecOfficial, FacturaValues) {
    auto r = json::read_request(test::slurp(test::examples_dir() / "generar-cpe-factura-1-gravada.json"));
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    ASSERT_EQ(r.op, operation::generar_comprobante);
    const auto& c = std::get<comprobante>(r.doc);
    EXPECT_EQ(c.tipo_de_comprobante, 1);
    EXPECT_EQ(c.serie, "FFF1");
    EXPECT_EQ(c.numero, 1);
    EXPECT_EQ(c.cliente_tipo_de_documento, "6");
    EXPECT_EQ(c.fecha_de_emision, (date{2025, 12, 17}));
    EXPECT_FALSE(c.fecha_de_vencimiento.has_value());
    EXPECT_EQ(c.moneda, 1);
    EXPECT_FALSE(c.tipo_de_cambio.has_value());
    EXPECT_EQ(c.porcentaje_de_igv, "18"_d);
    EXPECT_EQ(c.total, "708"_d);
    EXPECT_EQ(c.detraccion, false);
    EXPECT_EQ(c.enviar_automaticamente_a_la_sunat, true);
    EXPECT_FALSE(c.codigo_unico.has_value());
    ASSERT_EQ(c.items.size(), 2u);
    EXPECT_EQ(c.items[1].precio_unitario, "23.6"_d);
    EXPECT_EQ(c.items[1].tipo_de_igv, 1);
    EXPECT_EQ(c.items[0].codigo_producto_sunat, "10000000");
    EXPECT_EQ(c.key().to_string(), "FFF1-1");
}

TEST(CodecOfficial, OtherOperations) {
    {
        auto r = json::read_request(test::slurp(test::examples_dir() / "generar-anulacion-factura.json"));
        ASSERT_EQ(r.op, operation::generar_anulacion);
        const auto& a = std::get<anulacion>(r.doc);
        EXPECT_EQ(a.motivo, "ERROR DEL SISTEMA");
        EXPECT_EQ(a.numero, 1);
    }
    {
        auto r = json::read_request(test::slurp(test::examples_dir() / "consultar-anulacion-factura.json"));
        ASSERT_EQ(r.op, operation::consultar_anulacion);
        EXPECT_EQ(std::get<consulta>(r.doc).op, operation::consultar_anulacion);
    }
    {
        auto r = json::read_request(
            test::slurp(test::examples_dir() / "gre-generar-guia-transportista-vvv1-1-venta.json"));
        ASSERT_EQ(r.op, operation::generar_guia);
        const auto& g = std::get<guia>(r.doc);
        EXPECT_EQ(g.tipo_de_comprobante, 8);
        EXPECT_EQ(g.peso_bruto_total, "1"_d);
        ASSERT_EQ(g.items.size(), 2u);
        EXPECT_EQ(g.items[1].codigo, "002");
        EXPECT_EQ(g.fecha_de_inicio_de_traslado, (date{2022, 12, 21}));
    }
    {
        auto r = json::read_response(test::slurp(test::examples_dir() / "generar-cpe-error-response.json"));
        ASSERT_TRUE(std::holds_alternative<error_body>(r.body));
        EXPECT_EQ(std::get<error_body>(r.body).codigo, 20);
        EXPECT_EQ(std::get<error_body>(r.body).errors,
                  "El archivo enviado no cumple con el formato establecido");
    }
    {
        auto r = json::read_response(test::slurp(test::examples_dir() / "gre-consultar-guia-response.json"));
        ASSERT_TRUE(std::holds_alternative<response>(r.body));
        const auto& b = std::get<response>(r.body);
        EXPECT_EQ(b.aceptada_por_sunat, true);
        EXPECT_FALSE(b.sunat_description.has_value());  // null
        EXPECT_EQ(b.numero, 1);
    }
}

TEST(Codec, CanonicalOutput) {
    const char* in =
        R"({"numero":"7","serie":"FFF1","operacion":"generar_comprobante","tipo_de_comprobante":"1",
        "total":"118","porcentaje_de_igv":"18.00","tipo_de_cambio":3.2450,"fecha_de_emision":"2026-01-15",
        "cliente_tipo_de_documento":6,"detraccion":"false","observaciones":"a \"b\"\n\u00e9",
        "items":[{"cantidad":"5","valor_unitario":"20.000","igv":"18","descuento":"","tipo_de_igv":1,
                  "anticipo_regularizacion":false}]})";
    auto r = json::read_request(in);
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    EXPECT_EQ(json::write(r.doc),
              R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":7,)"
              R"("cliente_tipo_de_documento":"6","fecha_de_emision":"15-01-2026","tipo_de_cambio":3.245,)"
              R"("porcentaje_de_igv":18,"total":118.00,"detraccion":false,"observaciones":"a \"b\"\n)"
              "\xC3\xA9"
              R"(","items":[{"cantidad":5,"valor_unitario":20,"tipo_de_igv":1,"igv":18.00,)"
              R"("anticipo_regularizacion":false}]})");
}

TEST(Codec, PrettyOutput) {
    comprobante c;
    c.serie = "FFF1";
    c.items.emplace_back().cantidad = "1"_d;
    json::write_options o;
    o.pretty = true;
    EXPECT_EQ(json::write(c, o),
              "{\n  \"operacion\": \"generar_comprobante\",\n  \"serie\": \"FFF1\",\n  \"items\": [\n"
              "    {\n      \"cantidad\": 1\n    }\n  ]\n}");
}

TEST(Codec, MoneyNeverLosesDigits) {
    comprobante c;
    c.total = "1.005"_d;
    c.total_igv = "1.5"_d;
    EXPECT_EQ(json::write(c), R"({"operacion":"generar_comprobante","total_igv":1.50,"total":1.005})");
}

TEST(Codec, LocalFieldsOnlyOnRequest) {
    const char* in = R"({"operacion":"generar_comprobante","items":[{"nubefact_bolsas":2,
        "nubefact_porcentaje_isc":"10.0"}]})";
    auto r = json::read_request(in);
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    const auto& c = std::get<comprobante>(r.doc);
    EXPECT_EQ(c.items.at(0).bolsas, 2);
    EXPECT_EQ(c.items.at(0).porcentaje_isc, "10"_d);
    EXPECT_EQ(json::write(r.doc), R"({"operacion":"generar_comprobante","items":[{}]})");
    json::write_options lo;
    lo.local_fields = true;
    EXPECT_EQ(
        json::write(r.doc, lo),
        R"({"operacion":"generar_comprobante","items":[{"nubefact_bolsas":2,"nubefact_porcentaje_isc":10}]})");
}

TEST(Codec, UnknownFieldsKeptVerbatim) {
    const char* in = R"({"operacion":"generar_comprobante","zeta":{"a":[1,2.50,"x",null,true]},"serie":"FFF1",
        "items":[{"extra_item":1e2}],"alfa":"\u00f1"})";
    auto r = json::read_request(in);
    ASSERT_FALSE(has_errors(r.findings)) << dump(r.findings);
    ASSERT_EQ(r.findings.size(), 3u) << dump(r.findings);
    EXPECT_EQ(r.findings[0].code, "unknown_field");
    EXPECT_EQ(r.findings[0].level, severity::warning);
    EXPECT_EQ(r.findings[0].path, "zeta");
    EXPECT_EQ(r.findings[1].path, "items[0].extra_item");
    const auto& c = std::get<comprobante>(r.doc);
    ASSERT_EQ(c.extra.size(), 2u);
    EXPECT_EQ(c.extra[0].first, "zeta");
    EXPECT_EQ(c.extra[0].second, R"({"a":[1,2.50,"x",null,true]})");
    EXPECT_EQ(c.extra[1].second, "\"\xC3\xB1\"");
    EXPECT_EQ(c.items.at(0).extra.at(0).second, "1e2");
    EXPECT_EQ(json::write(r.doc),
              R"({"operacion":"generar_comprobante","serie":"FFF1","items":[{"extra_item":1e2}],)"
              R"("zeta":{"a":[1,2.50,"x",null,true]},"alfa":")"
              "\xC3\xB1\"}");
}

TEST(Codec, LooseTyping) {
    const char* in = R"({"operacion":"generar_comprobante","tipo_de_comprobante":2,"numero":"12",
        "cliente_tipo_de_documento":"-","moneda":"2","tipo_de_cambio":"3.421","total":708,
        "enviar_automaticamente_a_la_sunat":true,"enviar_automaticamente_al_cliente":"false",
        "fecha_de_emision":"17-12-2025","fecha_de_vencimiento":"2025-12-31","sunat_transaction":"1.0",
        "guias":"","venta_al_credito":null,"codigo_unico":"","descuento_global":null,
        "cliente_numero_de_documento":20600695771})";
    auto r = json::read_request(in);
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    const auto& c = std::get<comprobante>(r.doc);
    EXPECT_EQ(c.numero, 12);
    EXPECT_EQ(c.cliente_tipo_de_documento, "-");
    EXPECT_EQ(c.moneda, 2);
    EXPECT_EQ(c.tipo_de_cambio, "3.421"_d);
    EXPECT_EQ(c.total, "708"_d);
    EXPECT_EQ(c.enviar_automaticamente_al_cliente, false);
    EXPECT_EQ(c.fecha_de_vencimiento, (date{2025, 12, 31}));
    EXPECT_EQ(c.sunat_transaction, 1);
    EXPECT_TRUE(c.guias.empty());
    EXPECT_FALSE(c.codigo_unico.has_value());
    EXPECT_FALSE(c.descuento_global.has_value());
    EXPECT_EQ(c.cliente_numero_de_documento, "20600695771");
}

// ERP clients store every unset amount as 0: a zero in an optional regime's fields is "not sent"
// (like "" and null), so it no longer asks for percepcion_tipo / retencion_tipo (issue 19).
TEST(Codec, ZeroInOptionalRegimeIsAbsent) {
    const char* in = R"({"operacion":"generar_comprobante","percepcion_tipo":0,
        "percepcion_base_imponible":"0.0","total_percepcion":0,"total_incluido_percepcion":"0.00",
        "retencion_tipo":"0","retencion_base_imponible":"0.0","total_retencion":"0e0",
        "detraccion_tipo":0,"detraccion_total":"0.0","detraccion_porcentaje":0,"medio_de_pago_detraccion":"0",
        "descuento_global":"0.0","total_anticipo":"0.0","total_isc":0})";
    auto r = json::read_request(in);
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    const auto& c = std::get<comprobante>(r.doc);
    EXPECT_FALSE(c.percepcion_tipo || c.percepcion_base_imponible || c.total_percepcion ||
                 c.total_incluido_percepcion);
    EXPECT_FALSE(c.retencion_tipo || c.retencion_base_imponible || c.total_retencion);
    EXPECT_FALSE(c.detraccion_tipo || c.detraccion_total || c.detraccion_porcentaje ||
                 c.medio_de_pago_detraccion);
    // Other zero fields are values as sent.
    EXPECT_EQ(c.descuento_global, "0"_d);
    EXPECT_EQ(c.total_anticipo, "0"_d);
    EXPECT_EQ(c.total_isc, "0"_d);
    // A real amount still reads.
    auto p = json::read_request(R"({"operacion":"generar_comprobante","percepcion_tipo":"1",
        "percepcion_base_imponible":"708.0"})");
    EXPECT_EQ(std::get<comprobante>(p.doc).percepcion_base_imponible, "708"_d);
    EXPECT_EQ(std::get<comprobante>(p.doc).percepcion_tipo, 1);
}

// The manual types ubigeos as Integer, length 6: 40110 is 040110.
TEST(Codec, IntegerUbigeoIsZeroPadded) {
    auto r = json::read_request(R"({"operacion":"generar_comprobante","ubigeo_origen":40110,
        "ubigeo_destino":"150101","punto_origen_viaje":"40110","punto_destino_viaje":150101})");
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    const auto& c = std::get<comprobante>(r.doc);
    EXPECT_EQ(c.ubigeo_origen, "040110");
    EXPECT_EQ(c.ubigeo_destino, "150101");
    EXPECT_EQ(c.punto_origen_viaje, "040110");
    EXPECT_EQ(c.punto_destino_viaje, "150101");
    auto g = json::read_request(R"({"operacion":"generar_guia","punto_de_partida_ubigeo":40110,
        "punto_de_llegada_ubigeo":150101})");
    ASSERT_TRUE(g.findings.empty()) << dump(g.findings);
    EXPECT_EQ(std::get<guia>(g.doc).punto_de_partida_ubigeo, "040110");
    EXPECT_EQ(std::get<guia>(g.doc).punto_de_llegada_ubigeo, "150101");
    // Not digits: kept as sent (the fiscal check names it).
    auto x = json::read_request(R"({"operacion":"generar_guia","punto_de_partida_ubigeo":"LIMA"})");
    EXPECT_EQ(std::get<guia>(x.doc).punto_de_partida_ubigeo, "LIMA");
}

// A double's noise (more than 10 fractional digits): refused with a field message by default,
// rounded half-up to 10 digits with a warning when asked.
TEST(Codec, FloatNoiseRefusedOrRounded) {
    const char* in = R"({"operacion":"generar_comprobante","total":118.00000000000001,
        "items":[{"igv":0.12000000000000001,"valor_unitario":"2.11864406779661","cantidad":1.2e-11,
        "subtotal":1.00000000005e2}]})";
    auto r = json::read_request(in);
    const finding* f = find_at(r.findings, "items[0].igv");
    ASSERT_NE(f, nullptr) << dump(r.findings);
    EXPECT_EQ(f->level, severity::error);
    EXPECT_NE(f->message.find("floating-point"), std::string::npos) << f->message;
    EXPECT_NE(f->message.find("0.12"), std::string::npos) << f->message;
    EXPECT_EQ(f->actual, "0.12000000000000001");
    ASSERT_NE(find_at(r.findings, "total"), nullptr);

    json::read_options o;
    o.round_excess_decimals = true;
    auto k = json::read_request(in, o);
    EXPECT_FALSE(has_errors(k.findings)) << dump(k.findings);
    const auto& c = std::get<comprobante>(k.doc);
    EXPECT_EQ(c.total, "118"_d);
    EXPECT_EQ(c.items[0].igv, "0.12"_d);
    EXPECT_EQ(c.items[0].valor_unitario, "2.1186440678"_d);  // half-up at the 10th digit
    EXPECT_EQ(c.items[0].cantidad, "0"_d);                   // 0.000000000012 -> 0.0000000000
    EXPECT_EQ(c.items[0].subtotal, "100.000000005"_d);
    ASSERT_NE(find_at(k.findings, "items[0].igv"), nullptr);
    EXPECT_EQ(find_at(k.findings, "items[0].igv")->code, "rounded");
    // Too many integer digits stays a range error either way.
    auto big =
        json::read_request(R"({"operacion":"generar_comprobante","total":1234567890123.000000000001})", o);
    EXPECT_EQ(find_at(big.findings, "total")->code, "range");
    auto edge =
        json::read_request(R"({"operacion":"generar_comprobante","total":999999999999.99999999995})", o);
    EXPECT_EQ(find_at(edge.findings, "total")->code, "range");
    auto neg = json::read_request(R"({"operacion":"generar_comprobante","total":-0.12000000000000001e1})", o);
    EXPECT_EQ(std::get<comprobante>(neg.doc).total, "-1.2"_d);
}

TEST(Codec, TypeErrorsNameTheField) {
    const char* in = R"({"operacion":"generar_comprobante","numero":"abc","total":"12,50","detraccion":"si",
        "fecha_de_emision":"31-02-2025","fecha_de_vencimiento":"2025/01/01","moneda":true,"serie":false,
        "items":[{"cantidad":"1"},{"cantidad":"x"},{"igv":{}}, 5, {"tipo_de_igv":1.5}],"guias":{"a":1},
        "tipo_de_comprobante":99999999999999999999})";
    auto r = json::read_request(in);
    ASSERT_TRUE(has_errors(r.findings));
    auto code_at = [&](const std::string& p) {
        const finding* f = find_at(r.findings, p);
        return f ? f->code : std::string("<none>");
    };
    EXPECT_EQ(code_at("numero"), "type");
    EXPECT_EQ(code_at("total"), "type");
    EXPECT_EQ(code_at("detraccion"), "type");
    EXPECT_EQ(code_at("fecha_de_emision"), "range");
    EXPECT_EQ(code_at("fecha_de_vencimiento"), "type");
    EXPECT_EQ(code_at("moneda"), "type");
    EXPECT_EQ(code_at("serie"), "type");
    EXPECT_EQ(code_at("items[1].cantidad"), "type");
    EXPECT_EQ(code_at("items[2].igv"), "type");
    EXPECT_EQ(code_at("items[3]"), "type");
    EXPECT_EQ(code_at("items[4].tipo_de_igv"), "type");
    EXPECT_EQ(code_at("guias"), "type");
    EXPECT_EQ(code_at("tipo_de_comprobante"), "range");
    const finding* f = find_at(r.findings, "items[1].cantidad");
    ASSERT_NE(f, nullptr);
    EXPECT_NE(f->message.find("cantidad"), std::string::npos);
    EXPECT_EQ(f->actual, "x");
    // The good parts are still read.
    const auto& c = std::get<comprobante>(r.doc);
    ASSERT_EQ(c.items.size(), 4u);
    EXPECT_EQ(c.items[0].cantidad, "1"_d);
}

TEST(Codec, FortyDigitNumbers) {
    const std::string forty(40, '9');
    auto r = json::read_request(R"({"operacion":"generar_comprobante","total":)" + forty + R"(,"numero":)" +
                                forty + R"(,"items":[{"cantidad":")" + forty + R"("}]})");
    EXPECT_EQ(find_at(r.findings, "total")->code, "range");
    EXPECT_EQ(find_at(r.findings, "numero")->code, "range");
    EXPECT_EQ(find_at(r.findings, "items[0].cantidad")->code, "range");
}

TEST(Codec, Duplicates) {
    auto r = json::read_request(R"({"operacion":"generar_comprobante","total":1,"total":2})");
    ASSERT_NE(find_at(r.findings, "total"), nullptr);
    EXPECT_EQ(find_at(r.findings, "total")->code, "duplicate_field");
    EXPECT_EQ(std::get<comprobante>(r.doc).total, "2"_d);
    auto r2 = json::read_request(R"({"operacion":"generar_comprobante","items":[{},{}],"items":[{}]})");
    EXPECT_EQ(std::get<comprobante>(r2.doc).items.size(), 1u);
    EXPECT_TRUE(has_errors(r2.findings));
}

TEST(Codec, Operacion) {
    {
        auto r = json::read_request(R"({"serie":"FFF1"})");
        EXPECT_FALSE(r.op);
        ASSERT_NE(find_at(r.findings, "operacion"), nullptr);
        EXPECT_EQ(find_at(r.findings, "operacion")->code, "required");
    }
    {
        auto r = json::read_request(R"({"operacion":"borrar_todo"})");
        EXPECT_FALSE(r.op);
        EXPECT_EQ(find_at(r.findings, "operacion")->code, "catalogue");
    }
    {
        auto r = json::read_request(R"({"operacion":5})");
        EXPECT_FALSE(r.op);
        EXPECT_EQ(find_at(r.findings, "operacion")->code, "type");
    }
    {  // not first, and escaped: still found
        auto r = json::read_request(R"({"serie":"TTT1","operacion":"generar_gu\u0069a","numero":1})");
        ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
        EXPECT_EQ(r.op, operation::generar_guia);
        EXPECT_EQ(std::get<guia>(r.doc).numero, 1);
    }
    {
        auto r = json::read_request(R"({"operacion":"generar_reversion_retencion","serie":"R001","numero":3,
            "motivo":"ERROR"})");
        ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
        const auto& c = std::get<consulta>(r.doc);
        EXPECT_EQ(c.op, operation::generar_reversion_retencion);
        EXPECT_EQ(c.motivo, "ERROR");
        EXPECT_EQ(
            json::write(r.doc),
            R"({"operacion":"generar_reversion_retencion","serie":"R001","numero":3,"motivo":"ERROR"})");
    }
    {
        auto r = json::read_comprobante(R"({"operacion":"generar_guia","serie":"FFF1"})");
        EXPECT_EQ(find_at(r.findings, "operacion")->code, "catalogue");
        auto ok = json::read_comprobante(R"({"serie":"FFF1"})");
        EXPECT_TRUE(ok.findings.empty());
        EXPECT_EQ(ok.op, operation::generar_comprobante);
    }
}

TEST(Codec, RetencionAndPercepcionNames) {
    const char* ret =
        R"({"operacion":"generar_retencion","serie":"R001","numero":1,"tipo_de_tasa_de_retencion":1,
        "total_retenido":"30","total_pagado":"970","items":[{"documento_relacionado_tipo":"01",
        "documento_relacionado_fecha_de_emision":"01-01-2026","pago_fecha":"02-01-2026","pago_numero":"1",
        "pago_total_sin_retencion":"1000","importe_retenido":"30","importe_retenido_fecha":"02-01-2026",
        "importe_pagado_con_retencion":"970","tipo_de_cambio":"1"}]})";
    auto r = json::read_request(ret);
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    const auto& d = std::get<retencion_percepcion>(r.doc);
    EXPECT_FALSE(d.percepcion);
    EXPECT_EQ(d.tipo_de_tasa, 1);
    EXPECT_EQ(d.total_retenido, "30"_d);
    EXPECT_EQ(d.items.at(0).importe_pagado_con_retencion, "970"_d);
    EXPECT_EQ(d.key().tipo, 20);

    const char* per =
        R"({"operacion":"generar_percepcion","serie":"P001","numero":1,"tipo_de_tasa_de_percepcion":1,
        "total_percibido":"20","total_cobrado":"1020","items":[{"cobro_fecha":"02-01-2026","cobro_numero":"1",
        "cobro_total_sin_percepcion":"1000","importe_percibido":"20","importe_percibido_fecha":"02-01-2026",
        "importe_cobrado_con_percepcion":"1020"}]})";
    auto p = json::read_request(per);
    ASSERT_TRUE(p.findings.empty()) << dump(p.findings);
    const auto& q = std::get<retencion_percepcion>(p.doc);
    EXPECT_TRUE(q.percepcion);
    EXPECT_EQ(q.total_pagado, "1020"_d);
    EXPECT_EQ(q.items.at(0).pago_total_sin_retencion, "1000"_d);
    const std::string w = json::write(p.doc);
    EXPECT_NE(w.find("\"importe_cobrado_con_percepcion\":1020.00"), std::string::npos) << w;
    EXPECT_NE(w.find("\"tipo_de_tasa_de_percepcion\":1"), std::string::npos) << w;
    EXPECT_EQ(w.find("retenido"), std::string::npos) << w;
    // Retención names inside a percepción are unknown fields.
    auto mixed = json::read_request(R"({"operacion":"generar_percepcion","total_retenido":1})");
    EXPECT_EQ(find_at(mixed.findings, "total_retenido")->code, "unknown_field");
}

TEST(Codec, GuiaArrays) {
    const char* in = R"({"operacion":"generar_guia","tipo_de_comprobante":7,"serie":"TTT1","numero":2,
        "documento_relacionado":[{"tipo":"01","serie":"FFF1","numero":"5"}],
        "vehiculos_secundarios":[{"placa_numero":"ABC123","tuc":"X"}],
        "conductores_secundarios":[{"documento_tipo":"1","documento_numero":"12345678","nombre":"A",
          "apellidos":"B","numero_licencia":"Q12345678"}],
        "items":[{"unidad_de_medida":"NIU","cantidad":"2.5","codigo_dam":"118-2022-10-000001"}]})";
    auto r = json::read_request(in);
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    const auto& g = std::get<guia>(r.doc);
    EXPECT_EQ(g.documento_relacionado.at(0).numero, 5);
    EXPECT_EQ(g.vehiculos_secundarios.at(0).tuc, "X");
    EXPECT_EQ(g.conductores_secundarios.at(0).numero_licencia, "Q12345678");
    EXPECT_EQ(g.items.at(0).cantidad, "2.5"_d);
    auto again = json::read_request(json::write(r.doc));
    EXPECT_EQ(json::write(again.doc), json::write(r.doc));
}

TEST(Codec, ResponsesAndErrors) {
    auto r = json::read_response(R"({"errors":["uno","dos"],"codigo":"21"})");
    ASSERT_TRUE(r.findings.empty()) << dump(r.findings);
    const auto& e = std::get<error_body>(r.body);
    EXPECT_EQ(e.errors, "uno; dos");
    EXPECT_EQ(e.codigo, 21);
    EXPECT_EQ(json::write(e), R"({"errors":"uno; dos","codigo":21})");

    response ok;
    ok.numero = 1;
    ok.aceptada_por_sunat = true;
    ok.sunat_description = "La Factura numero FFF1-1, ha sido aceptada";
    const auto w = json::write(ok);
    EXPECT_EQ(
        w,
        R"({"numero":1,"aceptada_por_sunat":true,"sunat_description":"La Factura numero FFF1-1, ha sido aceptada"})");
    auto back = json::read_response(w);
    EXPECT_EQ(json::write(std::get<response>(back.body)), w);

    auto bad = json::read_response("not json");
    EXPECT_TRUE(has_errors(bad.findings));
}

TEST(Codec, WriterEscapesAndRepairsUtf8) {
    comprobante c;
    c.observaciones = std::string("a\x01") + "\xFF" + "b\xC3" + "\\";
    EXPECT_EQ(json::write(c),
              "{\"operacion\":\"generar_comprobante\",\"observaciones\":\"a\\u0001\xEF\xBF\xBD"
              "b\xEF\xBF\xBD\\\\\"}");
    auto r = json::read_request(json::write(c));
    EXPECT_TRUE(r.findings.empty()) << dump(r.findings);
}

}  // namespace

namespace {
// The one escaper (json::append_string): what the emulator, the CLI and the codec write.
TEST(append_string, escapes_controls_keeps_utf8_replaces_invalid_bytes) {
    std::string out;
    nubefact::json::append_string(out, std::string("a\"b\\c\n\t\x01 \xC3\xB1 \xFF\xC3"));
    EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001 \xC3\xB1 \xEF\xBF\xBD\xEF\xBF\xBD\"");
    out = "x:";
    nubefact::json::append_string(out, "");
    EXPECT_EQ(out, "x:\"\"");
}
}  // namespace
