// The engine's pure parts: prepare (validate, complete, key), the hold-wait schedule, phases, outcomes.
#include <nubefact/engine.hpp>

#include <gtest/gtest.h>

using namespace nubefact;
using namespace std::chrono_literals;

namespace {

// Fact sheet §7.1 figures; fecha fixed (no date checks unless asked).
std::string factura_text(std::string extra = "", std::string igv = "8.07") {
    return R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"F001","numero":7,)"
           R"("sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)"
           R"("cliente_denominacion":"CLIENTE SAC","cliente_direccion":"AV. LIMA 1","fecha_de_emision":"02-12-2026",)"
           R"("moneda":1,"porcentaje_de_igv":18.00,"total_gravada":44.83,"total_igv":)" +
           igv + extra +
           R"(,"total":52.90,"items":[)"
           R"({"unidad_de_medida":"NIU","descripcion":"CUADERNO","cantidad":3,"valor_unitario":10.00,)"
           R"("precio_unitario":11.80,"subtotal":30.00,"tipo_de_igv":1,"igv":5.40,"total":35.40},)"
           R"({"unidad_de_medida":"NIU","descripcion":"LAPICERO","cantidad":7,"valor_unitario":2.1186440678,)"
           R"("precio_unitario":2.50,"subtotal":14.83,"tipo_de_igv":1,"igv":2.67,"total":17.50}]})";
}

engine::input in(std::string text) {
    return engine::input{"ventas.jsonl", 3, std::move(text), std::nullopt};
}

}  // namespace

TEST(EnginePrepare, AValidDocumentIsPreparedWithItsKeyAndCanonicalBody) {
    auto p = engine::prepare(in(factura_text()), {});
    ASSERT_TRUE(std::holds_alternative<engine::prepared>(p));
    const auto& d = std::get<engine::prepared>(p);
    EXPECT_EQ(d.source, "ventas.jsonl");
    EXPECT_EQ(d.line, 3u);
    EXPECT_EQ(d.op, operation::generar_comprobante);
    EXPECT_EQ(d.key.to_string(), "F001-7");
    EXPECT_EQ(d.body.rfind(R"({"operacion":"generar_comprobante")", 0), 0u) << d.body;
    EXPECT_NE(d.body.find(R"("total":52.90)"), std::string::npos) << d.body;
}

TEST(EnginePrepare, AWrongTotalIsInvalidWithTheFieldAndTheExpectedValue) {
    auto p = engine::prepare(in(factura_text("", "9.00")), {});
    ASSERT_TRUE(std::holds_alternative<engine::outcome>(p));
    const auto& o = std::get<engine::outcome>(p);
    EXPECT_TRUE(o.is(engine::line_outcome::invalid));
    ASSERT_TRUE(o.key);
    EXPECT_EQ(o.key->to_string(), "F001-7");
    ASSERT_FALSE(o.findings.empty());
    EXPECT_EQ(o.findings.front().path, "total_igv");
    EXPECT_EQ(o.findings.front().expected, "8.07");
    EXPECT_NE(o.error.find("found locally; nothing was sent"), std::string::npos) << o.error;
    EXPECT_FALSE(o.fine());
}

TEST(EnginePrepare, CompleteFillsTheComputedFieldsFirst) {
    engine::prepare_options po;
    po.complete = true;
    auto p = engine::prepare(in(factura_text("", "9.00")), po);
    ASSERT_TRUE(std::holds_alternative<engine::prepared>(p));
    EXPECT_NE(std::get<engine::prepared>(p).body.find(R"("total_igv":8.07)"), std::string::npos);
}

TEST(EnginePrepare, NoOperacionOrNoJsonIsInvalidAndNamesWhy) {
    auto a = engine::prepare(in(R"({"serie":"F001"})"), {});
    ASSERT_TRUE(std::holds_alternative<engine::outcome>(a));
    EXPECT_TRUE(std::get<engine::outcome>(a).is(engine::line_outcome::invalid));
    EXPECT_EQ(std::get<engine::outcome>(a).findings.front().path, "operacion");
    auto b = engine::prepare(in("{not json"), {});
    ASSERT_TRUE(std::holds_alternative<engine::outcome>(b));
    EXPECT_TRUE(std::get<engine::outcome>(b).is(engine::line_outcome::invalid));
    EXPECT_FALSE(std::get<engine::outcome>(b).error.empty());
}

TEST(EnginePrepare, ASourceErrorIsReportedAsItsFinding) {
    engine::input i{"x.csv", 9, "", finding{"", "csv", severity::error, "unterminated quote", "", ""}};
    auto p = engine::prepare(i, {});
    ASSERT_TRUE(std::holds_alternative<engine::outcome>(p));
    const auto& o = std::get<engine::outcome>(p);
    EXPECT_TRUE(o.is(engine::line_outcome::invalid));
    EXPECT_EQ(o.line, 9u);
    EXPECT_EQ(o.error, "unterminated quote");
}

TEST(EnginePrepare, AnOversizedDocumentIsInvalidNotSent) {
    engine::prepare_options po;
    po.max_document_bytes = 100;
    auto p = engine::prepare(in(factura_text()), po);
    ASSERT_TRUE(std::holds_alternative<engine::outcome>(p));
    EXPECT_TRUE(std::get<engine::outcome>(p).is(engine::line_outcome::invalid));
}

TEST(EnginePhases, VoidsAndConsultsComeAfterTheDocumentsTheyReferTo) {
    EXPECT_FALSE(engine::second_phase(operation::generar_comprobante));
    EXPECT_FALSE(engine::second_phase(operation::generar_guia));
    EXPECT_FALSE(engine::second_phase(operation::generar_retencion));
    EXPECT_TRUE(engine::second_phase(operation::generar_anulacion));
    EXPECT_TRUE(engine::second_phase(operation::generar_reversion_retencion));
    EXPECT_TRUE(engine::second_phase(operation::consultar_comprobante));
    EXPECT_TRUE(engine::second_phase(operation::consultar_guia));
}

TEST(EngineHoldWait, BacksOffFrom50msDoublingTo2sUntilThePatienceIsSpent) {
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    engine::hold_wait w(t0, 10s);
    auto now = t0;
    std::vector<std::chrono::milliseconds> seen;
    for (int i = 0; i < 100; ++i) {
        auto d = w.next(now);
        if (!d) break;
        seen.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(*d));
        now += *d;
    }
    ASSERT_GE(seen.size(), 7u);
    EXPECT_EQ(seen[0], 50ms);
    EXPECT_EQ(seen[1], 100ms);
    EXPECT_EQ(seen[5], 1600ms);
    EXPECT_EQ(seen[6], 2000ms);
    EXPECT_EQ(now - t0, 10s) << "the last wait ends exactly at the patience";
    EXPECT_FALSE(w.next(now));
}

TEST(EngineHoldWait, NoPatienceGivesUpAtOnce) {
    const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
    engine::hold_wait w(t0, 0s);
    EXPECT_FALSE(w.next(t0));
    engine::hold_wait late(t0, 5s);
    EXPECT_FALSE(late.next(t0 + 6s));
}

TEST(EngineOutcome, FineIsAcceptedPendingOrValid) {
    engine::outcome o;
    o.state = doc_state::accepted;
    EXPECT_TRUE(o.fine());
    o.state = doc_state::pending_sunat;
    EXPECT_TRUE(o.fine());
    o.state = engine::line_outcome::valid;
    EXPECT_TRUE(o.fine());
    EXPECT_EQ(o.state_name(), "valid");
    for (auto s : {doc_state::rejected, doc_state::unknown, doc_state::conflict, doc_state::sending}) {
        o.state = s;
        EXPECT_FALSE(o.fine()) << to_string(s);
    }
    o.state = engine::line_outcome::not_sent;
    EXPECT_FALSE(o.fine());
}

TEST(EngineOutcome, SunatReasonReadsCodeTextAndNote) {
    response r;
    EXPECT_EQ(engine::sunat_reason(r), "");
    r.sunat_responsecode = "2017";
    r.sunat_description = "El numero de RUC del receptor no existe";
    EXPECT_EQ(engine::sunat_reason(r), "SUNAT código 2017: El numero de RUC del receptor no existe");
    r.sunat_note = "revise";
    EXPECT_EQ(engine::sunat_reason(r), "SUNAT código 2017: El numero de RUC del receptor no existe — revise");
}
