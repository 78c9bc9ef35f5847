// The emulator over real loopback HTTP: every error codigo, the document flows, faults, stats, state.
#include "http_helper.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

using namespace emutest;
namespace emu = nubefact::emulator;
using nubefact::operation;

namespace {

class emulator_test : public ::testing::Test {
  protected:
    emu::manual_clock clock{test_now()};
    std::unique_ptr<emu::server> srv;
    std::string ruta, token;

    void start(emu::options o = {}) {
        o.clock = clock.fn();
        o.admin = true;
        if (o.accounts.empty()) {
            o.accounts.push_back(emu::account{"ruta-a", {"tok-a", "tok-a2"}});
            o.accounts.push_back(emu::account{"ruta-susp", {"tok-s"}, emu::account_state::suspended});
            o.accounts.push_back(
                emu::account{"ruta-np", {"tok-n"}, emu::account_state::suspended_nonpayment});
        }
        srv = std::make_unique<emu::server>(o);
        std::string err;
        ASSERT_TRUE(srv->start(&err)) << err;
        ruta = "/api/v1/ruta-a";
        token = "tok-a";
    }
    void TearDown() override {
        if (srv) srv->stop();
    }
    http_result send(const std::string& body) { return post(srv->port(), ruta, body, auth_headers(token)); }
};

void expect_keys(const boost::json::value& v, std::initializer_list<const char*> keys) {
    ASSERT_TRUE(v.is_object());
    for (auto k : keys) EXPECT_TRUE(v.as_object().contains(k)) << "missing key " << k;
}

TEST_F(emulator_test, factura_accepted_with_official_shape) {
    start();
    auto r = send(factura(1, test_today));
    ASSERT_EQ(r.status, 200) << r.body;
    auto v = r.json();
    expect_keys(v, {"tipo_de_comprobante", "serie", "numero", "enlace", "enlace_del_pdf", "enlace_del_xml",
                    "enlace_del_cdr", "aceptada_por_sunat", "sunat_description", "sunat_note",
                    "sunat_responsecode", "sunat_soap_error", "cadena_para_codigo_qr", "codigo_hash"});
    auto& o = v.as_object();
    EXPECT_FALSE(o.contains("anulado"));
    EXPECT_EQ(o.at("aceptada_por_sunat").as_bool(), true);
    EXPECT_EQ(o.at("sunat_description").as_string(), "La Factura numero FFF1-1, ha sido aceptada");
    EXPECT_EQ(o.at("sunat_responsecode").as_string(), "0");
    EXPECT_EQ(o.at("codigo_hash").as_string().size(), 28u);
    std::string enlace(o.at("enlace").as_string());
    EXPECT_TRUE(enlace.starts_with("http://127.0.0.1:")) << enlace;  // the scheme it listens on
    EXPECT_NE(enlace.find("/cpe/"), std::string::npos);
    EXPECT_EQ(o.at("enlace_del_pdf").as_string(), enlace + ".pdf");
    std::string qr(o.at("cadena_para_codigo_qr").as_string());
    EXPECT_TRUE(
        qr.starts_with("20600695771 | 01 | FFF1 | 000001 | 18.00 | 118.00 | 15-01-2026 | 6 | 20600695771 | "))
        << qr;
    EXPECT_EQ(srv->snapshot().documents_created, 1u);
    EXPECT_EQ(r.headers["Content-Type"], "application/json; charset=utf-8");
}

TEST_F(emulator_test, boleta_and_notes_descriptions) {
    start();
    auto b = send(factura(1, test_today, "BBB1", 2));
    ASSERT_EQ(b.status, 200) << b.body;
    EXPECT_EQ(b.json().at("sunat_description").as_string(), "La Boleta numero BBB1-1, ha sido aceptada");
    auto qr = std::string(b.json().at("cadena_para_codigo_qr").as_string());
    EXPECT_NE(qr.find(" | 03 | BBB1 | "), std::string::npos);
}

TEST_F(emulator_test, duplicate_is_codigo_23_and_counted) {
    start();
    ASSERT_EQ(send(factura(7, test_today)).status, 200);
    auto r = send(factura(7, test_today));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 23);
    EXPECT_EQ(r.json().at("errors").as_string(), "Este documento ya existe en NubeFacT");
    auto st = srv->snapshot();
    EXPECT_EQ(st.duplicates_refused, 1u);
    EXPECT_EQ(st.documents_created, 1u);
    EXPECT_EQ(st.created_twice, 0u);
    auto d = srv->find("ruta-a", {1, "FFF1", 7});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->creations, 1u);
    EXPECT_EQ(d->duplicates_refused, 1u);
}

TEST_F(emulator_test, repeated_codigo_unico_is_codigo_23) {
    start();
    ASSERT_EQ(send(factura(1, test_today, "FFF1", 1, R"("codigo_unico":"ABC-1",)")).status, 200);
    auto r = send(factura(2, test_today, "FFF1", 1, R"("codigo_unico":"ABC-1",)"));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 23);
    EXPECT_FALSE(srv->find("ruta-a", {1, "FFF1", 2}));
}

TEST_F(emulator_test, consultar_unknown_is_24_and_known_shows_anulado) {
    start();
    auto r = send(consulta("consultar_comprobante", 1, "FFF1", 99));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 24);
    ASSERT_EQ(send(factura(99, test_today)).status, 200);
    auto c = send(consulta("consultar_comprobante", 1, "FFF1", 99));
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(c.json().at("anulado").as_bool(), false);
    EXPECT_EQ(c.json().at("aceptada_por_sunat").as_bool(), true);
}

TEST_F(emulator_test, authorization_forms) {
    start();
    const std::string body = consulta("consultar_comprobante", 1, "FFF1", 1);
    for (std::string h : {"tok-a", "Token token=\"tok-a\"", "Token token=tok-a", "Token tok-a",
                          "Bearer tok-a", "token token=\"tok-a2\""}) {
        auto r = post(srv->port(), ruta, body, {{"Authorization", h}, {"Content-Type", "application/json"}});
        EXPECT_EQ(r.codigo(), 24) << h << " -> " << r.body;
    }
    for (std::string h : {"tok-b", "Token token=\"tok-\"", "Basic dG9rLWE=", ""}) {
        auto r = post(srv->port(), ruta, body, {{"Authorization", h}, {"Content-Type", "application/json"}});
        EXPECT_EQ(r.status, 401) << h;
        EXPECT_EQ(r.codigo(), 10) << h;
        EXPECT_EQ(r.body.find("tok-"), std::string::npos) << "token echoed: " << r.body;
    }
    auto none = post(srv->port(), ruta, body, {{"Content-Type", "application/json"}});
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.codigo(), 10);
}

// The manual lists 200, 400, 401 and 500 only, and clients read "token or URL wrong" from a 401.
TEST_F(emulator_test, unknown_ruta_is_401_codigo_11) {
    start();
    for (std::string t : {"/api/v1/nope", "/api/v1/", "/", "/api/v2/ruta-a", "/api/v1/ruta-a/extra"}) {
        auto r = post(srv->port(), t, factura(1, test_today), auth_headers(token));
        EXPECT_EQ(r.status, 401) << t;
        EXPECT_EQ(r.codigo(), 11) << t;
    }
}

TEST_F(emulator_test, content_type_is_12) {
    start();
    for (std::string ct :
         {"text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"}) {
        auto r = post(srv->port(), ruta, factura(1, test_today), auth_headers(token, ct));
        EXPECT_EQ(r.status, 400) << ct;
        EXPECT_EQ(r.codigo(), 12) << ct;
    }
    auto missing = post(srv->port(), ruta, factura(1, test_today), auth_headers(token, ""));
    EXPECT_EQ(missing.codigo(), 12);
    auto ok = post(srv->port(), ruta, factura(1, test_today),
                   auth_headers(token, "Application/JSON; charset=UTF-8"));
    EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(emulator_test, bad_json_and_format_are_20_naming_the_field) {
    start();
    auto r = send("{\"operacion\":\"generar_comprobante\",");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 20);
    auto bad_num = send(factura(1, test_today)
                            .replace(factura(1, test_today).find("\"numero\":1"), 10, "\"numero\":\"abc\""));
    EXPECT_EQ(bad_num.codigo(), 20);
    EXPECT_NE(bad_num.body.find("numero"), std::string::npos) << bad_num.body;
    auto unknown_op = send(R"({"operacion":"borrar_todo","serie":"FFF1"})");
    EXPECT_EQ(unknown_op.status, 400);
    EXPECT_EQ(unknown_op.codigo(), 20);
    EXPECT_NE(unknown_op.body.find("operacion"), std::string::npos);
    auto no_op = send(R"({"serie":"FFF1"})");
    EXPECT_EQ(no_op.codigo(), 20);
    auto arr = send("[1,2]");
    EXPECT_EQ(arr.codigo(), 20);
    auto empty = send("");
    EXPECT_EQ(empty.codigo(), 20);
    // Arithmetic: total does not match.
    std::string wrong = factura(2, test_today);
    wrong.replace(wrong.find("\"total\":118.00"), 14, "\"total\":119.00");
    auto mism = send(wrong);
    EXPECT_EQ(mism.codigo(), 20) << mism.body;
    EXPECT_NE(mism.body.find("total"), std::string::npos) << mism.body;
    EXPECT_FALSE(srv->find("ruta-a", {1, "FFF1", 2}));
}

TEST_F(emulator_test, lenient_lets_arithmetic_through) {
    emu::options o;
    o.lenient = true;
    start(o);
    std::string wrong = factura(2, test_today);
    wrong.replace(wrong.find("\"total\":118.00"), 14, "\"total\":119.00");
    EXPECT_EQ(send(wrong).status, 200);
}

TEST_F(emulator_test, old_issue_date_is_22) {
    emu::options o;
    o.max_age_days = 3;
    start(o);
    auto r = send(factura(1, "10-01-2026"));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 22) << r.body;
    EXPECT_EQ(send(factura(2, "12-01-2026")).status, 200);
    clock.advance(std::chrono::hours(24 * 2));  // today 17-01: 12-01 is now 5 days old
    EXPECT_EQ(send(factura(3, "12-01-2026")).codigo(), 22);
}

TEST_F(emulator_test, suspended_accounts_are_50_and_51) {
    start();
    auto s = post(srv->port(), "/api/v1/ruta-susp", factura(1, test_today), auth_headers("tok-s"));
    EXPECT_EQ(s.status, 403);
    EXPECT_EQ(s.codigo(), 50);
    auto n = post(srv->port(), "/api/v1/ruta-np", factura(1, test_today), auth_headers("tok-n"));
    EXPECT_EQ(n.status, 403);
    EXPECT_EQ(n.codigo(), 51);
    ASSERT_TRUE(srv->set_account_state("ruta-susp", emu::account_state::active));
    EXPECT_EQ(post(srv->port(), "/api/v1/ruta-susp", factura(1, test_today), auth_headers("tok-s")).status,
              200);
    srv->set_account_state("ruta-a", emu::account_state::suspended);
    EXPECT_EQ(send(factura(5, test_today)).codigo(), 50);
}

TEST_F(emulator_test, non_post_is_400_codigo_20) {
    start();
    connection c(srv->port());
    for (auto m : {http::verb::get, http::verb::put, http::verb::delete_, http::verb::patch}) {
        auto r = c.request(m, ruta, "", auth_headers(token));
        EXPECT_EQ(r.status, 400);
        EXPECT_EQ(r.codigo(), 20);
        EXPECT_NE(r.json().at("errors").as_string().find("POST"), std::string_view::npos) << r.body;
        EXPECT_EQ(r.headers["Allow"], "POST");
    }
}

TEST_F(emulator_test, anulacion_flow_with_delay) {
    emu::options o;
    o.anulacion_delay = std::chrono::seconds(30);
    start(o);
    ASSERT_EQ(send(factura(1, test_today)).status, 200);
    EXPECT_EQ(send(consulta("consultar_anulacion", 1, "FFF1", 1)).codigo(), 24);
    EXPECT_EQ(send(consulta("generar_anulacion", 1, "FFF1", 2, R"(,"motivo":"ERROR")")).codigo(), 24);
    auto g = send(consulta("generar_anulacion", 1, "FFF1", 1, R"(,"motivo":"ERROR DEL SISTEMA")"));
    ASSERT_EQ(g.status, 200) << g.body;
    expect_keys(g.json(), {"numero", "enlace", "sunat_ticket_numero", "aceptada_por_sunat",
                           "sunat_description", "sunat_note", "sunat_responsecode", "sunat_soap_error",
                           "enlace_del_pdf", "enlace_del_xml", "enlace_del_cdr"});
    EXPECT_EQ(g.json().at("aceptada_por_sunat").as_bool(), false);
    EXPECT_TRUE(g.json().at("sunat_responsecode").is_null());
    auto ticket = g.json().at("sunat_ticket_numero").as_string();
    auto c1 = send(consulta("consultar_anulacion", 1, "FFF1", 1));
    EXPECT_EQ(c1.json().at("aceptada_por_sunat").as_bool(), false);
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 1)).json().at("anulado").as_bool(), false);
    // A repeated generar_anulacion answers the same ticket.
    auto again = send(consulta("generar_anulacion", 1, "FFF1", 1, R"(,"motivo":"ERROR DEL SISTEMA")"));
    EXPECT_EQ(again.json().at("sunat_ticket_numero").as_string(), ticket);
    clock.advance(std::chrono::seconds(31));
    auto c2 = send(consulta("consultar_anulacion", 1, "FFF1", 1));
    EXPECT_EQ(c2.json().at("aceptada_por_sunat").as_bool(), true);
    EXPECT_EQ(c2.json().at("sunat_responsecode").as_string(), "0");
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 1)).json().at("anulado").as_bool(), true);
    // The number stays burnt.
    EXPECT_EQ(send(factura(1, test_today)).codigo(), 23);
}

TEST_F(emulator_test, boletas_pending_until_consulted_after_delay) {
    emu::options o;
    o.boletas_pending = true;
    o.boleta_delay = std::chrono::seconds(10);
    start(o);
    auto g = send(factura(1, test_today, "BBB1", 2));
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(g.json().at("aceptada_por_sunat").as_bool(), false);
    EXPECT_TRUE(g.json().at("sunat_description").is_null());
    EXPECT_TRUE(g.json().at("sunat_responsecode").is_null());
    EXPECT_EQ(send(consulta("consultar_comprobante", 2, "BBB1", 1)).json().at("aceptada_por_sunat").as_bool(),
              false);
    clock.advance(std::chrono::seconds(11));
    auto c = send(consulta("consultar_comprobante", 2, "BBB1", 1));
    EXPECT_EQ(c.json().at("aceptada_por_sunat").as_bool(), true);
    EXPECT_EQ(c.json().at("sunat_responsecode").as_string(), "0");
    // Facturas are not affected.
    EXPECT_EQ(send(factura(1, test_today)).json().at("aceptada_por_sunat").as_bool(), true);
}

TEST_F(emulator_test, sunat_reject_rule_burns_the_number) {
    emu::options o;
    auto rules = emu::parse_reject_rules("serie=FFF9,total>1000:3105");
    ASSERT_TRUE(rules);
    o.sunat_reject = *rules;
    start(o);
    auto r = send(factura(1, test_today, "FFF9"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.json().at("aceptada_por_sunat").as_bool(), false);
    EXPECT_EQ(r.json().at("sunat_responsecode").as_string(), "2800");
    EXPECT_EQ(send(factura(1, test_today, "FFF9")).codigo(), 23);
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF9", 1)).json().at("aceptada_por_sunat").as_bool(),
              false);
    EXPECT_EQ(send(consulta("generar_anulacion", 1, "FFF9", 1, R"(,"motivo":"X")")).codigo(), 21);
    EXPECT_EQ(send(factura(1, test_today)).json().at("aceptada_por_sunat").as_bool(), true);
    EXPECT_EQ(srv->snapshot().sunat_rejected, 1u);
}

class official_test : public emulator_test {
  protected:
    // Sets the clock to the example's own fecha_de_emision so "today" checks pass.
    std::string load(const std::string& name) {
        auto text = read_file(examples_dir() + "/" + name);
        auto v = boost::json::parse(text);
        std::string fecha(v.as_object().at("fecha_de_emision").as_string());
        int d = std::stoi(fecha.substr(0, 2)), m = std::stoi(fecha.substr(3, 2)),
            y = std::stoi(fecha.substr(6, 4));
        std::tm tm{};
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
        tm.tm_hour = 17;
        clock.set(std::chrono::system_clock::from_time_t(timegm(&tm)));
        return text;
    }
};

TEST_F(official_test, guia_flow_with_delay) {
    emu::options o;
    o.guia_delay = std::chrono::minutes(2);
    start(o);
    auto body = load("gre-generar-guia-remitente-ttt1-1-venta-transporte-publico.json");
    auto g = send(body);
    ASSERT_EQ(g.status, 200) << g.body;
    auto official =
        boost::json::parse(read_file(examples_dir() + "/gre-generar-guia-remitente-response.json"));
    for (auto& kv : official.as_object()) EXPECT_TRUE(g.json().as_object().contains(kv.key())) << kv.key();
    EXPECT_EQ(g.json().at("aceptada_por_sunat").as_bool(), false);
    EXPECT_EQ(send(body).codigo(), 23);
    auto q = read_file(examples_dir() + "/gre-consultar-guia-remitente-ttt1-1.json");
    auto c1 = send(q);
    ASSERT_EQ(c1.status, 200) << c1.body;
    EXPECT_EQ(c1.json().at("aceptada_por_sunat").as_bool(), false);
    clock.advance(std::chrono::minutes(3));
    auto c2 = send(q);
    auto official_c = boost::json::parse(read_file(examples_dir() + "/gre-consultar-guia-response.json"));
    for (auto& kv : official_c.as_object()) EXPECT_TRUE(c2.json().as_object().contains(kv.key())) << kv.key();
    EXPECT_EQ(c2.json().at("aceptada_por_sunat").as_bool(), true);
    EXPECT_NE(std::string(c2.json().at("enlace_del_pdf").as_string()).find("/guia/"), std::string::npos);
    EXPECT_EQ(send(consulta("consultar_guia", 7, "TTT1", 9)).codigo(), 24);
}

TEST_F(official_test, factura_example_matches_official_response_keys) {
    start();
    auto f = send(load("generar-cpe-factura-1-gravada.json"));
    ASSERT_EQ(f.status, 200) << f.body;
    auto official = boost::json::parse(read_file(examples_dir() + "/generar-cpe-factura-response.json"));
    for (auto& kv : official.as_object()) EXPECT_TRUE(f.json().as_object().contains(kv.key())) << kv.key();
    EXPECT_EQ(f.json().as_object().size(), official.as_object().size());
    auto c = send(read_file(examples_dir() + "/consultar-cpe-factura.json"));
    auto official_c = boost::json::parse(read_file(examples_dir() + "/consultar-cpe-factura-response.json"));
    for (auto& kv : official_c.as_object()) EXPECT_TRUE(c.json().as_object().contains(kv.key())) << kv.key();
    EXPECT_EQ(c.json().as_object().size(), official_c.as_object().size());
}

TEST_F(emulator_test, retencion_and_percepcion_flows) {
    emu::options o;
    o.validate = false;  // field lists of these documents come from client code only (fact sheet §9)
    start(o);
    std::string ret = R"({"operacion":"generar_retencion","serie":"R001","numero":1,"fecha_de_emision":")" +
                      std::string(test_today) +
                      R"(","cliente_tipo_de_documento":6,"total_retenido":"30.00"})";
    auto g = send(ret);
    ASSERT_EQ(g.status, 200) << g.body;
    expect_keys(g.json(), {"serie", "numero", "enlace", "enlace_del_pdf", "enlace_del_xml", "enlace_del_cdr",
                           "aceptada_por_sunat", "sunat_description", "sunat_note", "sunat_responsecode",
                           "sunat_soap_error"});
    EXPECT_EQ(send(ret).codigo(), 23);
    EXPECT_EQ(send(R"({"operacion":"consultar_retencion","serie":"R001","numero":1})").status, 200);
    EXPECT_EQ(send(R"({"operacion":"consultar_reversion_retencion","serie":"R001","numero":1})").codigo(),
              24);
    EXPECT_EQ(
        send(R"({"operacion":"generar_reversion_retencion","serie":"R001","numero":1,"motivo":"X"})").status,
        200);
    EXPECT_EQ(send(R"({"operacion":"consultar_reversion_retencion","serie":"R001","numero":1})").status, 200);
    std::string per = R"({"operacion":"generar_percepcion","serie":"P001","numero":1,"fecha_de_emision":")" +
                      std::string(test_today) + R"("})";
    ASSERT_EQ(send(per).status, 200);
    EXPECT_EQ(send(R"({"operacion":"consultar_percepcion","serie":"P001","numero":1})").status, 200);
    EXPECT_EQ(send(R"({"operacion":"consultar_percepcion","serie":"P001","numero":2})").codigo(), 24);
    EXPECT_EQ(
        send(R"({"operacion":"generar_reversion_percepcion","serie":"P001","numero":1,"motivo":"X"})").status,
        200);
    EXPECT_EQ(send(R"({"operacion":"consultar_reversion_percepcion","serie":"P001","numero":1})").status,
              200);
    EXPECT_TRUE(srv->find("ruta-a", {20, "R001", 1}));
    EXPECT_TRUE(srv->find("ruta-a", {40, "P001", 1})->reversed);
}

TEST_F(emulator_test, no_validate_still_finds_key_fields) {
    emu::options o;
    o.validate = false;
    start(o);
    EXPECT_EQ(
        send(R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":"3",)"
             R"("fecha_de_emision":"15-01-2026","total":"1"})")
            .status,
        200);
    EXPECT_EQ(send(R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1",)"
                   R"("fecha_de_emision":"15-01-2026"})")
                  .codigo(),
              20);
    EXPECT_EQ(send(R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":4,)"
                   R"("fecha_de_emision":"01-01-2026"})")
                  .codigo(),
              22);
}

// ---- faults ---------------------------------------------------------------------------------------

TEST_F(emulator_test, fault_500_stores_nothing) {
    start();
    srv->push_fault(emu::fault_kind::http_500);
    auto r = send(factura(1, test_today));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.codigo(), 40);
    EXPECT_FALSE(srv->find("ruta-a", {1, "FFF1", 1}));
    EXPECT_EQ(send(factura(1, test_today)).status, 200);
    EXPECT_EQ(srv->snapshot().faults["500"], 1u);
}

TEST_F(emulator_test, fault_429_and_503_carry_retry_after) {
    emu::options o;
    o.retry_after = std::chrono::seconds(3);
    start(o);
    srv->push_fault(emu::fault_kind::http_429);
    srv->push_fault(emu::fault_kind::http_503);
    auto a = send(factura(1, test_today));
    EXPECT_EQ(a.status, 429);
    EXPECT_EQ(a.headers["Retry-After"], "3");
    auto b = send(factura(1, test_today));
    EXPECT_EQ(b.status, 503);
    EXPECT_EQ(b.headers["Retry-After"], "3");
    EXPECT_FALSE(srv->find("ruta-a", {1, "FFF1", 1}));
}

TEST_F(emulator_test, fault_reset_stores_nothing) {
    start();
    srv->push_fault(emu::fault_kind::reset);
    auto r = send(factura(1, test_today));
    EXPECT_TRUE(r.ec) << r.status;
    EXPECT_FALSE(srv->find("ruta-a", {1, "FFF1", 1}));
}

TEST_F(emulator_test, fault_commit_drop_creates_then_drops) {
    start();
    srv->push_fault(emu::fault_kind::commit_drop);
    auto r = send(factura(1, test_today));
    EXPECT_TRUE(r.ec);
    EXPECT_EQ(r.status, 0);
    ASSERT_TRUE(srv->find("ruta-a", {1, "FFF1", 1}));
    // The safe retry: consult first, then (if absent) resend. Resending blindly gets 23.
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 1)).status, 200);
    EXPECT_EQ(send(factura(1, test_today)).codigo(), 23);
    auto st = srv->snapshot();
    EXPECT_EQ(st.created_twice, 0u);
    EXPECT_EQ(st.faults["commit_drop"], 1u);
}

TEST_F(emulator_test, fault_stall_holds_then_closes) {
    emu::options o;
    o.stall_for = std::chrono::milliseconds(300);
    start(o);
    srv->push_fault(emu::fault_kind::stall);
    connection c(srv->port(), std::chrono::seconds(5));
    auto r = c.request(http::verb::post, ruta, factura(1, test_today), auth_headers(token));
    EXPECT_TRUE(r.ec);
    EXPECT_FALSE(srv->find("ruta-a", {1, "FFF1", 1}));
}

TEST_F(emulator_test, fault_truncate_and_malformed_commit) {
    start();
    srv->push_fault(emu::fault_kind::truncate);
    auto t = send(factura(1, test_today));
    EXPECT_TRUE(t.ec);  // body shorter than Content-Length
    EXPECT_TRUE(srv->find("ruta-a", {1, "FFF1", 1}));
    srv->push_fault(emu::fault_kind::malformed);
    auto m = send(factura(2, test_today));
    EXPECT_EQ(m.status, 200);
    boost::system::error_code ec;
    boost::json::parse(m.body, ec);
    EXPECT_TRUE(ec) << m.body;
    EXPECT_TRUE(srv->find("ruta-a", {1, "FFF1", 2}));
}

TEST_F(emulator_test, scripted_faults_filter_by_operation_and_count) {
    start();
    srv->push_fault(emu::fault_kind::http_500, 2, operation::consultar_comprobante);
    EXPECT_EQ(send(factura(1, test_today)).status, 200);  // not a consult: untouched
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 1)).status, 500);
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 1)).status, 500);
    EXPECT_EQ(send(consulta("consultar_comprobante", 1, "FFF1", 1)).status, 200);
    srv->push_fault(emu::fault_kind::http_503, 5);
    srv->clear_faults();
    EXPECT_EQ(send(factura(2, test_today)).status, 200);
}

TEST_F(emulator_test, seeded_random_faults) {
    emu::options o;
    auto rates = emu::fault_rates::parse("500:0.3,429:0.2");
    ASSERT_TRUE(rates);
    o.faults = *rates;
    o.seed = 42;
    start(o);
    int ok = 0, e500 = 0, e429 = 0;
    connection c(srv->port());
    for (int i = 1; i <= 60; ++i) {
        auto r = c.request(http::verb::post, ruta, factura(i, test_today), auth_headers(token));
        ASSERT_FALSE(r.ec);
        (r.status == 200 ? ok : r.status == 500 ? e500 : e429)++;
    }
    EXPECT_GT(ok, 0);
    EXPECT_GT(e500, 0);
    EXPECT_GT(e429, 0);
    auto st = srv->snapshot();
    EXPECT_EQ(st.faults["500"], static_cast<std::uint64_t>(e500));
    EXPECT_EQ(st.documents_created, static_cast<std::uint64_t>(ok));
}

TEST_F(emulator_test, latency_uses_timers) {
    emu::options o;
    o.latency = *emu::latency_model::parse("fixed:20");
    start(o);
    // Many concurrent slow requests on one io thread all complete (no thread sleeps).
    std::vector<std::thread> ts;
    std::atomic<int> good{0};
    for (int i = 0; i < 20; ++i)
        ts.emplace_back([&, i] { good += send(factura(100 + i, test_today)).status == 200; });
    for (auto& t : ts) t.join();
    EXPECT_EQ(good, 20);
}

// ---- stats, reset, state ---------------------------------------------------------------------------

TEST_F(emulator_test, stats_and_reset_over_http) {
    start();
    ASSERT_EQ(send(factura(1, test_today)).status, 200);
    send(factura(1, test_today));
    connection c(srv->port());
    auto s = c.request(http::verb::get, "/__emulator/stats?documents=1", "", {});
    ASSERT_EQ(s.status, 200);
    auto v = s.json().as_object();
    EXPECT_EQ(v.at("documents_created").as_int64(), 1);
    EXPECT_EQ(v.at("duplicates_refused").as_int64(), 1);
    EXPECT_EQ(v.at("created_twice").as_int64(), 0);
    EXPECT_EQ(v.at("requests").at("generar_comprobante").at("ok").as_int64(), 1);
    EXPECT_EQ(v.at("requests").at("generar_comprobante").at("codigo_23").as_int64(), 1);
    EXPECT_TRUE(v.at("faults").as_object().contains("commit_drop"));
    EXPECT_EQ(v.at("documents").at("ruta-a/1-FFF1-1").at("created").as_int64(), 1);
    EXPECT_GE(v.at("open_connections").as_int64(), 1);
    auto r = c.request(http::verb::post, "/__emulator/reset", "", {});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(srv->snapshot().documents_created, 0u);
    EXPECT_EQ(send(factura(1, test_today)).status, 200);
}

TEST(emulator_admin, disabled_without_admin) {
    emu::server srv;
    ASSERT_TRUE(srv.start());
    auto r = post(srv.port(), "/__emulator/reset", "", {});
    EXPECT_EQ(r.status, 404);
    srv.stop();
}

TEST(emulator_misc, allow_duplicates_counts_created_twice) {
    emu::manual_clock clock{test_now()};
    emu::options o;
    o.clock = clock.fn();
    o.allow_duplicates = true;
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    auto h = auth_headers(srv.first_account().tokens.front());
    EXPECT_EQ(post(srv.port(), "/api/v1/demo", factura(1, test_today), h).status, 200);
    EXPECT_EQ(post(srv.port(), "/api/v1/demo", factura(1, test_today), h).status, 200);
    EXPECT_EQ(srv.snapshot().created_twice, 1u);
    EXPECT_EQ(srv.find("demo", {1, "FFF1", 1})->creations, 2u);
}

TEST(emulator_misc, state_file_survives_restart) {
    auto dir = std::filesystem::temp_directory_path() / ("nubefact-emu-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto file = (dir / "state.jsonl").string();
    std::filesystem::remove(file);
    emu::manual_clock clock{test_now()};
    emu::options o;
    o.clock = clock.fn();
    o.state_file = file;
    std::string enlace;
    {
        emu::server srv(o);
        ASSERT_TRUE(srv.start());
        auto h = auth_headers("demo-token");
        auto r = post(srv.port(), "/api/v1/demo", factura(1, test_today), h);
        ASSERT_EQ(r.status, 200);
        enlace = std::string(r.json().at("enlace").as_string());
        ASSERT_EQ(post(srv.port(), "/api/v1/demo",
                       consulta("generar_anulacion", 1, "FFF1", 1, R"(,"motivo":"X")"), h)
                      .status,
                  200);
    }
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    auto h = auth_headers("demo-token");
    auto c = post(srv.port(), "/api/v1/demo", consulta("consultar_comprobante", 1, "FFF1", 1), h);
    ASSERT_EQ(c.status, 200);
    // Same document uuid (the port, hence the host part, changed).
    std::string again(c.json().at("enlace").as_string());
    EXPECT_EQ(again.substr(again.find("/cpe/")), enlace.substr(enlace.find("/cpe/")));
    EXPECT_EQ(c.json().at("anulado").as_bool(), true);
    EXPECT_EQ(post(srv.port(), "/api/v1/demo", factura(1, test_today), h).codigo(), 23);
    srv.stop();
    std::filesystem::remove_all(dir);
}

TEST(emulator_misc, keep_alive_and_threads) {
    emu::manual_clock clock{test_now()};
    emu::options o;
    o.clock = clock.fn();
    o.threads = 2;
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    auto h = auth_headers("demo-token");
    std::vector<std::thread> ts;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            connection c(srv.port());
            for (int i = 0; i < 50; ++i)
                ok += c.request(http::verb::post, "/api/v1/demo", factura(t * 1000 + i + 1, test_today), h)
                          .status == 200;
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(ok, 200);
    auto st = srv.snapshot();
    EXPECT_EQ(st.documents_created, 200u);
    EXPECT_EQ(st.created_twice, 0u);
    EXPECT_EQ(st.connections_accepted, 4u);
}

}  // namespace

namespace {

// A keep-alive connection that was busy (so it waits for its next request holding a read buffer)
// and then goes quiet is parked by the watchdog (buffer returned, async_wait) and still answers.
TEST_F(emulator_test, busy_connection_parked_when_quiet_still_answers) {
    emu::options o;
    o.idle_timeout = std::chrono::milliseconds(4000);  // watchdog tick 250 ms
    start(o);
    connection c(srv->port());
    for (int i = 1; i <= 5; ++i) {
        auto r = c.request(http::verb::post, ruta, factura(i, test_today), auth_headers(token));
        ASSERT_FALSE(r.ec);
        EXPECT_EQ(r.status, 200) << r.body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(900));  // > 2 ticks: parked
    auto r = c.request(http::verb::post, ruta, factura(6, test_today), auth_headers(token));
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200) << r.body;
    // Pipelined requests in one write are all answered, in order.
    std::string two;
    for (int i = 7; i <= 8; ++i) {
        auto body = factura(i, test_today);
        two += "POST " + ruta + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + token +
               "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
    }
    boost::system::error_code ec;
    c.write_raw(two, ec);
    ASSERT_FALSE(ec);
    auto a = c.read_response(ec);
    auto b = c.read_response(ec);
    EXPECT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(b.status, 200) << b.body;
    EXPECT_NE(a.body.find("\"numero\":7"), std::string::npos) << a.body;
    EXPECT_NE(b.body.find("\"numero\":8"), std::string::npos) << b.body;
    EXPECT_EQ(srv->snapshot().open_connections, 1u);
}

}  // namespace

namespace {

// Held answers: after hold_answers(1) the first document is answered, the second is created but
// its answer waits (held_answers() == 1) until release_answers(); HTTP /__emulator/hold and
// /release do the same, and a bad `after` is a 400.
TEST_F(emulator_test, held_answers_wait_for_release) {
    start();
    srv->hold_answers(1);
    EXPECT_EQ(send(factura(1, test_today)).status, 200);
    std::atomic<int> second{0};
    std::thread t([&] { second = send(factura(2, test_today)).status; });
    for (int i = 0; i < 4000 && srv->held_answers() < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(srv->held_answers(), 1u);
    EXPECT_EQ(second.load(), 0);                       // not answered yet
    EXPECT_EQ(srv->snapshot().documents_created, 2u);  // but created
    srv->release_answers();
    t.join();
    EXPECT_EQ(second.load(), 200);
    EXPECT_EQ(srv->held_answers(), 0u);
    EXPECT_EQ(send(factura(3, test_today)).status, 200);  // released: no longer holding

    EXPECT_EQ(post(srv->port(), "/__emulator/hold?after=x", "", {}).status, 400);
    EXPECT_EQ(post(srv->port(), "/__emulator/hold?after=0", "", {}).status, 200);
    std::thread t2([&] { second = send(factura(4, test_today)).status; });
    for (int i = 0; i < 4000 && srv->held_answers() < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(srv->held_answers(), 1u);
    EXPECT_NE(srv->stats_json().find("\"held\":1"), std::string::npos) << srv->stats_json();
    EXPECT_EQ(post(srv->port(), "/__emulator/release", "", {}).status, 200);
    t2.join();
    EXPECT_EQ(second.load(), 200);
}

}  // namespace
