// Unit tests for the document model helpers: dates, operations, keys.
#include <nubefact/document.hpp>

#include <gtest/gtest.h>

namespace {

using nubefact::date;
using nubefact::operation;

TEST(Date, Validity) {
    EXPECT_TRUE((date{2024, 2, 29}.valid()));
    EXPECT_FALSE((date{2023, 2, 29}.valid()));
    EXPECT_FALSE((date{1900, 2, 29}.valid()));
    EXPECT_TRUE((date{2000, 2, 29}.valid()));
    EXPECT_FALSE((date{2025, 4, 31}.valid()));
    EXPECT_TRUE((date{2025, 12, 31}.valid()));
    EXPECT_FALSE((date{2025, 13, 1}.valid()));
    EXPECT_FALSE((date{2025, 0, 1}.valid()));
    EXPECT_FALSE((date{2025, 1, 0}.valid()));
    EXPECT_FALSE((date{0, 1, 1}.valid()));
    EXPECT_FALSE((date{10000, 1, 1}.valid()));
    EXPECT_FALSE(date{}.valid());
}

TEST(Date, DaysSinceEpoch) {
    EXPECT_EQ((date{1970, 1, 1}.days_since_epoch()), 0);
    EXPECT_EQ((date{1970, 1, 2}.days_since_epoch()), 1);
    EXPECT_EQ((date{1969, 12, 31}.days_since_epoch()), -1);
    EXPECT_EQ((date{2000, 3, 1}.days_since_epoch()), 11017);
    EXPECT_EQ((date{2026, 1, 15}.days_since_epoch()), 20468);
    EXPECT_EQ((date{2024, 3, 1}.days_since_epoch() - date{2024, 2, 28}.days_since_epoch()), 2);
}

TEST(Date, FromDaysRoundTrips) {
    for (std::int64_t d = -719162; d <= 2932896; d += 997) {
        const date x = date::from_days(d);
        ASSERT_TRUE(x.valid()) << d;
        ASSERT_EQ(x.days_since_epoch(), d);
    }
    EXPECT_EQ(date::from_days(0), (date{1970, 1, 1}));
    EXPECT_EQ(date::from_days(20468), (date{2026, 1, 15}));
}

TEST(Date, WireForm) {
    EXPECT_EQ((date{2026, 1, 15}.to_wire()), "15-01-2026");
    EXPECT_EQ((date{2025, 12, 17}.to_wire()), "17-12-2025");
    EXPECT_EQ((date{987, 3, 4}.to_wire()), "04-03-0987");
}

TEST(Date, IsoForm) {
    EXPECT_EQ((date{2026, 1, 15}.to_iso()), "2026-01-15");
    EXPECT_EQ((date{987, 3, 4}.to_iso()), "0987-03-04");
}

TEST(Date, ParseTakesBothLayoutsAndOnlyCalendarDays) {
    EXPECT_EQ(date::parse("15-01-2026"), (date{2026, 1, 15}));
    EXPECT_EQ(date::parse("2026-01-15"), (date{2026, 1, 15}));
    EXPECT_EQ(date::parse("29-02-2024"), (date{2024, 2, 29}));
    EXPECT_FALSE(date::parse("29-02-2025"));
    EXPECT_FALSE(date::parse("31-02-2026"));
    EXPECT_FALSE(date::parse("15/01/2026"));
    EXPECT_FALSE(date::parse("15-01-26"));
    EXPECT_FALSE(date::parse("1a-01-2026"));
    EXPECT_FALSE(date::parse(""));
}

TEST(Date, ParseLayoutLeavesTheCalendarToValid) {
    EXPECT_EQ(date::parse_layout("31-02-2026"), (date{2026, 2, 31}));
    EXPECT_EQ(date::parse_layout("2026-13-01"), (date{2026, 13, 1}));
    EXPECT_FALSE(date::parse_layout("2026-1x-01"));
    EXPECT_FALSE(date::parse_layout("-1-01-2026"));
    EXPECT_FALSE(date::parse_layout("2026/01/01"));
}

TEST(Date, Ordering) {
    EXPECT_LT((date{2025, 12, 31}), (date{2026, 1, 1}));
    EXPECT_LT((date{2026, 1, 1}), (date{2026, 1, 2}));
}

TEST(Operation, TraitsPairEachGenerarWithItsConsulta) {
    for (int i = 0; i <= static_cast<int>(operation::consultar_reversion_percepcion); ++i) {
        const auto op = static_cast<operation>(i);
        const auto& t = nubefact::traits(op);
        EXPECT_EQ(t.op, op);
        EXPECT_EQ(t.name.starts_with("generar_"), t.generar) << t.name;
        const auto& p = nubefact::traits(t.pair);
        EXPECT_EQ(p.pair, op) << t.name;
        EXPECT_NE(p.generar, t.generar) << t.name;
        EXPECT_EQ(p.family, t.family) << t.name;
        EXPECT_EQ(p.voids, t.voids) << t.name;
        EXPECT_EQ(nubefact::consult_for(op), t.generar ? t.pair : op);
        EXPECT_EQ(nubefact::generar_for(op), t.generar ? op : t.pair);
    }
    using nubefact::document_family;
    EXPECT_TRUE(nubefact::traits(operation::generar_anulacion).voids);
    EXPECT_EQ(nubefact::traits(operation::generar_anulacion).family, document_family::comprobante);
    EXPECT_TRUE(nubefact::traits(operation::consultar_reversion_percepcion).voids);
    EXPECT_FALSE(nubefact::traits(operation::generar_guia).voids);
    EXPECT_EQ(nubefact::fixed_key_tipo(document_family::retencion), 20);
    EXPECT_EQ(nubefact::fixed_key_tipo(document_family::percepcion), 40);
    EXPECT_FALSE(nubefact::fixed_key_tipo(document_family::guia));
}

TEST(Operation, NamesRoundTrip) {
    for (int i = 0; i <= static_cast<int>(operation::consultar_reversion_percepcion); ++i) {
        const auto op = static_cast<operation>(i);
        const auto name = nubefact::to_string(op);
        ASSERT_FALSE(name.empty());
        EXPECT_EQ(nubefact::operation_from_string(name), op);
    }
    EXPECT_EQ(nubefact::to_string(operation::generar_comprobante), "generar_comprobante");
    EXPECT_EQ(nubefact::operation_from_string("consultar_guia"), operation::consultar_guia);
    EXPECT_FALSE(nubefact::operation_from_string("generar"));
    EXPECT_FALSE(nubefact::operation_from_string(""));
    EXPECT_FALSE(nubefact::operation_from_string("GENERAR_COMPROBANTE"));
}

TEST(Operation, GenerarAndConsult) {
    EXPECT_TRUE(nubefact::is_generar(operation::generar_comprobante));
    EXPECT_TRUE(nubefact::is_generar(operation::generar_reversion_percepcion));
    EXPECT_FALSE(nubefact::is_generar(operation::consultar_guia));
    EXPECT_EQ(nubefact::consult_for(operation::generar_comprobante), operation::consultar_comprobante);
    EXPECT_EQ(nubefact::consult_for(operation::generar_anulacion), operation::consultar_anulacion);
    EXPECT_EQ(nubefact::consult_for(operation::generar_guia), operation::consultar_guia);
    EXPECT_EQ(nubefact::consult_for(operation::generar_retencion), operation::consultar_retencion);
    EXPECT_EQ(nubefact::consult_for(operation::generar_reversion_retencion),
              operation::consultar_reversion_retencion);
    EXPECT_EQ(nubefact::consult_for(operation::generar_percepcion), operation::consultar_percepcion);
    EXPECT_EQ(nubefact::consult_for(operation::generar_reversion_percepcion),
              operation::consultar_reversion_percepcion);
    EXPECT_EQ(nubefact::consult_for(operation::consultar_guia), operation::consultar_guia);
}

TEST(Operation, GenerarForIsTheInverseOfConsultFor) {
    for (int i = 0; i <= static_cast<int>(operation::consultar_reversion_percepcion); ++i) {
        const auto op = static_cast<operation>(i);
        if (!nubefact::is_generar(op)) continue;
        EXPECT_EQ(nubefact::generar_for(nubefact::consult_for(op)), op) << nubefact::to_string(op);
        EXPECT_EQ(nubefact::generar_for(op), op);
    }
}

TEST(DocumentKey, Keys) {
    nubefact::comprobante c;
    EXPECT_EQ(c.key(), (nubefact::document_key{0, "", 0}));
    c.tipo_de_comprobante = 1;
    c.serie = "FFF1";
    c.numero = 1;
    EXPECT_EQ(c.key(), (nubefact::document_key{1, "FFF1", 1}));
    EXPECT_EQ(c.key().to_string(), "FFF1-1");

    nubefact::guia g;
    g.tipo_de_comprobante = 7;
    g.serie = "TTT1";
    g.numero = 12345678;
    EXPECT_EQ(g.key().to_string(), "TTT1-12345678");
    EXPECT_EQ(g.key().tipo, 7);

    nubefact::retencion_percepcion r;
    r.serie = "R001";
    r.numero = 5;
    EXPECT_EQ(r.key().tipo, 20);
    r.percepcion = true;
    EXPECT_EQ(r.key().tipo, 40);
    EXPECT_EQ(r.key().to_string(), "R001-5");
    EXPECT_LT((nubefact::document_key{1, "FFF1", 1}), (nubefact::document_key{1, "FFF1", 2}));
}

}  // namespace
