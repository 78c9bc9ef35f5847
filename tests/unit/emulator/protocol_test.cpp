// Unit tests of the emulator's pure pieces: JSON scanner, money text, option specs (dates: core).
#include "emulator/protocol.hpp"

#include <nubefact/emulator.hpp>

#include <gtest/gtest.h>

namespace emu = nubefact::emulator;
using namespace nubefact::emulator::detail;

TEST(emulator_protocol, money_text) {
    EXPECT_EQ(parse_cents("708"), 70800);
    EXPECT_EQ(parse_cents("23.6"), 2360);
    EXPECT_EQ(parse_cents("1.005"), 101);
    EXPECT_EQ(parse_cents("1.004"), 100);
    EXPECT_EQ(parse_cents("-2.50"), -250);
    EXPECT_EQ(parse_cents(".5"), 50);
    EXPECT_FALSE(parse_cents("1e3"));
    EXPECT_FALSE(parse_cents("abc"));
    EXPECT_FALSE(parse_cents(""));
    EXPECT_FALSE(parse_cents("."));
    EXPECT_EQ(format_cents(70800), "708.00");
    EXPECT_EQ(format_cents(5), "0.05");
    EXPECT_EQ(format_cents(-250), "-2.50");
}

TEST(emulator_protocol, sha1_base64_is_28_chars) {
    auto h = sha1_base64("hola");
    EXPECT_EQ(h.size(), 28u);
    EXPECT_EQ(h.back(), '=');
    EXPECT_EQ(sha1_base64(""), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
}

TEST(emulator_protocol, json_escaping) {
    std::string out;
    append_json_string(out, "a\"b\\c\n\x01");
    EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(emulator_protocol, scan_body_reads_top_level_fields) {
    doc_view v;
    std::string err;
    ASSERT_TRUE(
        scan_body(R"({"operacion":"generar_comprobante","tipo_de_comprobante":"1","serie":"FFF1",)"
                  R"("numero":12,"items":[{"numero":99,"serie":"XXXX"}],"total":"708","total_igv":108.0,)"
                  R"("fecha_de_emision":"17-12-2025","codigo_unico":"","cliente_tipo_de_documento":6})",
                  v, err))
        << err;
    EXPECT_EQ(v.operacion, "generar_comprobante");
    EXPECT_EQ(v.tipo, 1);
    EXPECT_EQ(v.serie, "FFF1");
    EXPECT_EQ(v.numero, 12);
    EXPECT_EQ(v.total_cents, 70800);
    EXPECT_EQ(v.igv_cents, 10800);
    EXPECT_EQ(v.cliente_tipo, "6");
    EXPECT_TRUE(v.codigo_unico.empty());
    ASSERT_TRUE(v.fecha);
    EXPECT_EQ(v.fecha->year, 2025);
    EXPECT_TRUE(v.bad_field.empty());
}

TEST(emulator_protocol, scan_body_rejects_non_objects_and_bad_types) {
    doc_view v;
    std::string err;
    EXPECT_FALSE(scan_body("[1]", v, err));
    EXPECT_FALSE(scan_body("\"x\"", v, err));
    EXPECT_FALSE(scan_body("{\"a\":1} x", v, err));
    EXPECT_FALSE(scan_body("{\"a\":", v, err));
    EXPECT_FALSE(scan_body("{\"a\":\"\xff\"}", v, err));
    doc_view w;
    ASSERT_TRUE(scan_body(R"({"numero":"abc"})", w, err));
    EXPECT_EQ(w.bad_field, "numero");
    doc_view x;
    ASSERT_TRUE(scan_body(R"({"serie":["FFF1"]})", x, err));
    EXPECT_EQ(x.bad_field, "serie");
}

TEST(emulator_options, latency_specs) {
    auto f = emu::latency_model::parse("fixed:50");
    ASSERT_TRUE(f);
    EXPECT_EQ(f->k, emu::latency_model::kind::fixed);
    EXPECT_EQ(f->a, std::chrono::milliseconds(50));
    auto u = emu::latency_model::parse("uniform:1.5-20");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->a, std::chrono::microseconds(1500));
    EXPECT_EQ(u->to_string(), "uniform:1.5-20");
    auto l = emu::latency_model::parse("lognormal:30,200");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->k, emu::latency_model::kind::lognormal);
    EXPECT_TRUE(emu::latency_model::parse("none"));
    std::string err;
    EXPECT_FALSE(emu::latency_model::parse("uniform:20-1", &err));
    EXPECT_FALSE(err.empty());
    EXPECT_FALSE(emu::latency_model::parse("gaussian:3"));
    EXPECT_FALSE(emu::latency_model::parse("fixed:-1"));
    EXPECT_FALSE(emu::latency_model::parse("lognormal:0,10"));
}

TEST(emulator_options, fault_specs) {
    auto r = emu::fault_rates::parse(
        "500:0.05,reset:0.02,commit_drop:0.02,stall:0.01,truncate:0.01,malformed:0.01,429:0.02,503:0.02");
    ASSERT_TRUE(r);
    EXPECT_DOUBLE_EQ(r->p[static_cast<int>(emu::fault_kind::http_500)], 0.05);
    EXPECT_DOUBLE_EQ(r->p[static_cast<int>(emu::fault_kind::http_503)], 0.02);
    EXPECT_TRUE(r->any());
    EXPECT_FALSE(emu::fault_rates::parse("")->any());
    EXPECT_FALSE(emu::fault_rates::parse("404:0.1"));
    EXPECT_FALSE(emu::fault_rates::parse("500:2"));
    EXPECT_FALSE(emu::fault_rates::parse("500:0.6,503:0.6"));
    EXPECT_FALSE(emu::fault_rates::parse("500"));
    for (int i = 0; i < emu::fault_kind_count; ++i) {
        auto k = static_cast<emu::fault_kind>(i);
        EXPECT_EQ(emu::fault_kind_from_string(emu::to_string(k)), k);
    }
}

TEST(emulator_options, reject_rules) {
    auto r = emu::parse_reject_rules("serie=FFF9,total>10000,numero%10:3105,tipo=2,all");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 5u);
    EXPECT_EQ((*r)[0].k, emu::reject_rule::kind::serie);
    EXPECT_EQ((*r)[0].text, "FFF9");
    EXPECT_EQ((*r)[1].k, emu::reject_rule::kind::total_gt);
    EXPECT_EQ((*r)[1].value, 1000000);
    EXPECT_EQ((*r)[2].code, "3105");
    EXPECT_EQ((*r)[3].value, 2);
    EXPECT_FALSE(emu::parse_reject_rules("serie="));
    EXPECT_FALSE(emu::parse_reject_rules("total~3"));
    EXPECT_FALSE(emu::parse_reject_rules("all:abc"));
    EXPECT_FALSE(emu::parse_reject_rules("numero%0"));
}

TEST(emulator_options, manual_clock_moves_only_when_told) {
    emu::manual_clock c{std::chrono::system_clock::time_point(std::chrono::seconds(1000))};
    auto fn = c.fn();
    EXPECT_EQ(fn(), c.now());
    c.advance(std::chrono::seconds(5));
    EXPECT_EQ(fn().time_since_epoch(), std::chrono::seconds(1005));
}

TEST(emulator_options, accounts_file) {
    auto path = testing::TempDir() + "/emu_accounts.json";
    {
        std::FILE* f = std::fopen(path.c_str(), "w");
        std::fputs(R"([{"ruta":"a1","tokens":["t1","t2"],"ruc":"20100066603"},{"ruta":"a2","token":"t3",)"
                   R"("state":"suspended_nonpayment"}])",
                   f);
        std::fclose(f);
    }
    auto a = emu::load_accounts(path);
    ASSERT_TRUE(a);
    ASSERT_EQ(a->size(), 2u);
    EXPECT_EQ((*a)[0].tokens.size(), 2u);
    EXPECT_EQ((*a)[0].ruc, "20100066603");
    EXPECT_EQ((*a)[1].state, emu::account_state::suspended_nonpayment);
    std::string err;
    EXPECT_FALSE(emu::load_accounts(path + ".missing", &err));
    EXPECT_FALSE(err.empty());
}
