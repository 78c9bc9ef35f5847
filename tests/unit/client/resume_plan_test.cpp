// sansio::resume_plan (one test per row of its table) and sansio::compare_consulted.
#include <nubefact/client_policy.hpp>
#include <nubefact/json.hpp>

#include <gtest/gtest.h>

namespace nubefact {
namespace {

using sansio::resume;

intent_journal::record_result stored(doc_state st, std::string hash = "h", bool claimed = true,
                                     int attempts = 1) {
    intent_journal::record_result r;
    r.record.what.payload_hash = std::move(hash);
    r.record.state = st;
    r.record.attempts = attempts;
    r.claimed = claimed;
    r.lease = claimed ? 2 : 0;
    return r;
}

TEST(ResumePlan, NewIntentIsSent) {
    intent_journal::record_result r;
    r.created = r.claimed = true;
    r.record.what.payload_hash = "h";
    EXPECT_EQ(sansio::resume_plan(r, "h"), resume::send);
}

TEST(ResumePlan, CorrectedPayloadThatReplacedTheStoredOneIsResent) {
    intent_journal::record_result r;
    r.created = r.claimed = r.replaced = true;
    r.record.what.payload_hash = "new";
    EXPECT_EQ(sansio::resume_plan(r, "new"), resume::resend_corrected);
}

TEST(ResumePlan, OtherPayloadIsAConflictWhateverTheState) {
    for (auto st : all_doc_states) {
        EXPECT_EQ(sansio::resume_plan(stored(st, "old", false), "new"), resume::conflict) << to_string(st);
        EXPECT_EQ(sansio::resume_plan(stored(st, "old", true), "new"), resume::conflict) << to_string(st);
    }
}

TEST(ResumePlan, FinalIsSkippedClaimedOrNot) {
    for (auto st : {doc_state::accepted, doc_state::rejected, doc_state::conflict}) {
        EXPECT_EQ(sansio::resume_plan(stored(st, "h", false), "h"), resume::skip) << to_string(st);
        EXPECT_EQ(sansio::resume_plan(stored(st, "h", true), "h"), resume::skip) << to_string(st);
    }
}

TEST(ResumePlan, HeldByAnotherSenderIsWaitedFor) {
    for (auto st : all_doc_states) {
        if (is_final(st)) continue;
        EXPECT_EQ(sansio::resume_plan(stored(st, "h", false), "h"), resume::wait) << to_string(st);
    }
}

TEST(ResumePlan, OursAndNotHeldByNubefactIsSent) {
    EXPECT_EQ(sansio::resume_plan(stored(doc_state::refused), "h"), resume::send);
    EXPECT_EQ(sansio::resume_plan(stored(doc_state::failed), "h"), resume::send);
    EXPECT_EQ(sansio::resume_plan(stored(doc_state::queued, "h", true, 0), "h"), resume::send);
}

TEST(ResumePlan, OursAndMaybeAtNubefactIsConsultedFirst) {
    for (auto st : {doc_state::sending, doc_state::unknown, doc_state::pending_sunat})
        EXPECT_EQ(sansio::resume_plan(stored(st), "h"), resume::consult_first) << to_string(st);
    // Queued after an attempt was counted (an older writer): it may have left.
    EXPECT_EQ(sansio::resume_plan(stored(doc_state::queued, "h", true, 1), "h"), resume::consult_first);
}

TEST(ResumePlan, EveryPlanHasAName) {
    for (auto p : {resume::send, resume::consult_first, resume::skip, resume::resend_corrected,
                   resume::conflict, resume::wait})
        EXPECT_FALSE(sansio::to_string(p).empty());
}

// ---- compare_consulted ----

const char* payload =
    R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":7,)"
    R"("sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)"
    R"("cliente_denominacion":"CLIENTE","cliente_direccion":"AV 1","fecha_de_emision":"02-12-2026",)"
    R"("moneda":1,"porcentaje_de_igv":18.00,"total_gravada":44.83,"total_igv":8.07,"total":52.90,)"
    R"("items":[{"unidad_de_medida":"NIU","codigo":"P01","descripcion":"X","cantidad":1,)"
    R"("valor_unitario":44.83,"precio_unitario":52.90,"subtotal":44.83,"tipo_de_igv":1,"igv":8.07,)"
    R"("total":52.90,"anticipo_regularizacion":false}]})";

response with_qr(std::string qr) {
    response r;
    r.cadena_para_codigo_qr = std::move(qr);
    return r;
}

TEST(CompareConsulted, SameSaleIsSame) {
    auto m = sansio::compare_consulted(
        operation::generar_comprobante, payload,
        with_qr("20600695771 | 01 | FFF1 | 000007 | 8.07 | 52.90 | 02-12-2026 | 6 | 20600695771 | abc= |"));
    EXPECT_EQ(m.verdict, sansio::match::same);
    EXPECT_TRUE(m.detail.empty());
}

TEST(CompareConsulted, IsoDateAndOtherSpacingCompareAsDates) {
    auto m =
        sansio::compare_consulted(operation::generar_comprobante, payload,
                                  with_qr("20600695771|01|FFF1|7|8.07|52.9|2026-12-02|6|20600695771|abc=|"));
    EXPECT_EQ(m.verdict, sansio::match::same);
}

TEST(CompareConsulted, EachFieldTellsThemApart) {
    const char* qrs[][2] = {
        {"20600695771 | 01 | FFF1 | 000007 | 9.00 | 52.90 | 02-12-2026 | 6 | 20600695771 | a |", "IGV"},
        {"20600695771 | 01 | FFF1 | 000007 | 8.07 | 99.00 | 02-12-2026 | 6 | 20600695771 | a |", "total"},
        {"20600695771 | 01 | FFF1 | 000007 | 8.07 | 52.90 | 01-12-2026 | 6 | 20600695771 | a |", "fecha"},
        {"20600695771 | 01 | FFF1 | 000007 | 8.07 | 52.90 | 02-12-2026 | 6 | 20100070970 | a |", "customer"},
    };
    for (auto& [qr, field] : qrs) {
        auto m = sansio::compare_consulted(operation::generar_comprobante, payload, with_qr(qr));
        EXPECT_EQ(m.verdict, sansio::match::different) << qr;
        EXPECT_EQ(m.detail.rfind(field, 0), 0u) << m.detail;
    }
}

TEST(CompareConsulted, NothingToCompareCannotTell) {
    EXPECT_EQ(sansio::compare_consulted(operation::generar_comprobante, payload, response{}).verdict,
              sansio::match::cannot_tell);
    EXPECT_EQ(sansio::compare_consulted(operation::generar_comprobante, payload, with_qr("garbage")).verdict,
              sansio::match::cannot_tell);
    EXPECT_EQ(sansio::compare_consulted(operation::generar_comprobante, payload,
                                        with_qr("a | b | c | d | x | y | z | w | v |"))
                  .verdict,
              sansio::match::cannot_tell);
    EXPECT_EQ(sansio::compare_consulted(operation::generar_guia, payload,
                                        with_qr("https://e-factura.sunat.gob.pe/v1/contribuyente/gre/x"))
                  .verdict,
              sansio::match::cannot_tell);
    EXPECT_EQ(
        sansio::compare_consulted(operation::generar_comprobante, "not json",
                                  with_qr("1 | 01 | FFF1 | 7 | 8.07 | 52.90 | 02-12-2026 | 6 | 2 | a |"))
            .verdict,
        sansio::match::cannot_tell);
}

}  // namespace
}  // namespace nubefact
