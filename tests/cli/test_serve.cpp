// The real `nubefact serve` and `nubefact keys` against a `nubefact emulator` process: the drop-in
// API (generar + consultar, every Authorization form, wrong/revoked tokens, tenants, repeats, invalid
// documents, a slow upstream), limits, health, metrics, the SIGTERM drain, the key commands, bad
// flags, and Nubefact's official example requests posted with curl.
#include "serve_fixture.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace {

std::string official_dir() {
    const char* root = std::getenv("NUBEFACT_SOURCE_DIR");
    return root ? std::string(root) + "/tests/data/official" : std::string();
}

TEST_F(ServeCli, GenerarThenConsultarThroughTheDropInApi) {
    start_upstream();
    start_serve();
    auto r = post(acme_, factura(1));
    ASSERT_EQ(r.status, 200) << r.head << r.body << serve_->err();
    auto o = r.json();
    EXPECT_TRUE(o.at("aceptada_por_sunat").as_bool());
    EXPECT_EQ(o.at("serie").as_string(), "F001");
    EXPECT_EQ(o.at("sunat_responsecode").as_string(), "0");
    EXPECT_FALSE(o.at("codigo_hash").as_string().empty());
    EXPECT_FALSE(o.at("cadena_para_codigo_qr").as_string().empty());
    EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
    auto c = post(acme_, consulta(1));
    ASSERT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(c.json().at("enlace"), o.at("enlace"));
    EXPECT_FALSE(c.json().at("anulado").as_bool());
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 1);
    EXPECT_EQ(emulator_->requests("consultar_comprobante"), 1);
    // The store recorded it (the outbox row), as `nubefact status` shows.
    auto st = cli({"status", "F001-1", "--store", store_});
    EXPECT_EQ(st.rc, 0) << st.out << st.err;
    EXPECT_NE(st.out.find("accepted"), std::string::npos) << st.out;
    expect_no_secrets_logged();
}

TEST_F(ServeCli, EveryAuthorizationFormNubefactTakes) {
    start_upstream();
    start_serve();
    const std::vector<std::string> forms = {acme_.token, "Token token=\"" + acme_.token + "\"",
                                            "Token token=" + acme_.token, "Token " + acme_.token,
                                            "Bearer " + acme_.token};
    int numero = 0;
    for (const auto& form : forms) {
        auto r = http_post(port_, acme_.target(), factura(++numero), form);
        EXPECT_EQ(r.status, 200) << form << "\n" << r.body;
    }
    // content type with a charset, as several clients send it
    auto r =
        http_post(port_, acme_.target(), factura(++numero), acme_.auth(), "application/json; charset=utf-8");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(emulator_->requests("generar_comprobante"), numero);
}

TEST_F(ServeCli, RetencionAndItsReversionThroughTheEngine) {
    start_upstream();
    start_serve();
    const std::string ret =
        R"({"operacion":"generar_retencion","serie":"R001","numero":1,"fecha_de_emision":"15-01-2026",)"
        R"("cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771","cliente_denominacion":"X SAC",)"
        R"("cliente_direccion":"LIMA","moneda":1,"tipo_de_tasa_de_retencion":1,"total_retenido":"30.00",)"
        R"("total_pagado":"970.00","items":[{"documento_relacionado_tipo":"01","documento_relacionado_serie":"F001",)"
        R"("documento_relacionado_numero":1,"documento_relacionado_fecha_de_emision":"15-01-2026",)"
        R"("documento_relacionado_moneda":1,"documento_relacionado_total":"1000.00","pago_fecha":"15-01-2026",)"
        R"("pago_numero":"1","pago_total_sin_retencion":"1000.00","importe_retenido":"30.00",)"
        R"("importe_retenido_fecha":"15-01-2026","importe_pagado_con_retencion":"970.00"}]})";
    auto g = post(acme_, ret);
    ASSERT_EQ(g.status, 200) << g.body;
    EXPECT_TRUE(g.json().at("aceptada_por_sunat").as_bool());
    EXPECT_EQ(post(acme_, ret).body, g.body);  // a repeat: not sent again
    EXPECT_EQ(post(acme_, R"({"operacion":"consultar_retencion","serie":"R001","numero":1})").status, 200);
    auto rv = post(
        acme_, R"({"operacion":"generar_reversion_retencion","serie":"R001","numero":1,"motivo":"ERROR"})");
    EXPECT_EQ(rv.status, 200) << rv.body;
    EXPECT_EQ(
        post(acme_, R"({"operacion":"consultar_reversion_retencion","serie":"R001","numero":1})").status,
        200);
    EXPECT_EQ(emulator_->requests("generar_retencion"), 1);
    EXPECT_EQ(emulator_->requests("generar_reversion_retencion"), 1);
}

TEST_F(ServeCli, WrongMissingTokenUnknownRutaAndContentType) {
    start_upstream();
    start_serve();
    auto r = http_post(port_, acme_.target(), factura(1), "Token token=\"wrong\"");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.codigo(), 10);
    EXPECT_EQ(r.errors(), "No se pudo autenticar, token incorrecto o eliminado");
    r = http_post(port_, acme_.target(), factura(1), "");
    EXPECT_EQ(r.codigo(), 10);
    r = http_post(port_, beta_.target(), factura(1), acme_.auth());  // another key's token
    EXPECT_EQ(r.codigo(), 10);
    r = http_post(port_, "/api/v1/no-such-ruta", factura(1), acme_.auth());
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.codigo(), 11);
    r = http_post(port_, acme_.target(), factura(1), acme_.auth(), "text/plain");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 12);
    r = http_get_reply(port_, acme_.target());
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 20);
    r = http_get_reply(port_, "/nothing/here");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 0);  // nothing reached Nubefact
    expect_no_secrets_logged();
}

TEST_F(ServeCli, RevokedKeyGetsTheDeletedTokenAnswer) {
    start_upstream();
    start_serve();
    ASSERT_EQ(post(acme_, factura(1)).status, 200);
    auto rv = cli({"keys", "revoke", acme_.ruta, "--store", store_});
    ASSERT_EQ(rv.rc, 0) << rv.out << rv.err;
    auto r = post(acme_, factura(2));
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.codigo(), 10);
    EXPECT_EQ(post(beta_, factura(2)).status, 200);  // the other key is untouched
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 2);
}

TEST_F(ServeCli, DisabledAccountIsSuspendedWithoutARestart) {
    start_upstream();
    start_serve();
    ASSERT_EQ(post(acme_, factura(1)).status, 200);
    auto d = cli({"accounts", "set", "--store", store_, "--name", "acme", "--disable"});
    ASSERT_EQ(d.rc, 0) << d.err;
    // The store's account cache is revalidated every 2 s: consult until the change shows (bounded).
    http_reply r;
    for (int i = 0; i < 200 && r.status != 403; ++i) {
        r = post(acme_, consulta(1));
        if (r.status != 403) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.codigo(), 50);
    EXPECT_EQ(post(beta_, factura(1)).status, 200);  // the other account goes on
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 2);
}

TEST_F(ServeCli, AnotherTenantsDocumentIsInvisible) {
    start_upstream();
    start_serve();
    ASSERT_EQ(post(acme_, factura(1)).status, 200);
    auto r = post(beta_, consulta(1));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.codigo(), 24);  // beta's Nubefact account has no F001-1
    // beta's own F001-1, with other content: its own document, not a duplicate of acme's
    r = post(beta_, other_content(factura(1)));
    EXPECT_EQ(r.status, 200) << r.body;
    auto a = post(acme_, consulta(1));
    ASSERT_EQ(a.status, 200);
    EXPECT_NE(a.json().at("enlace"), r.json().at("enlace"));
}

TEST_F(ServeCli, RepeatSameContentIsAnsweredFromTheStoreOtherContentIs23) {
    start_upstream();
    start_serve();
    auto first = post(acme_, factura(1));
    ASSERT_EQ(first.status, 200) << first.body;
    auto again = post(acme_, factura(1));
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.body, first.body);  // the full answer, QR and hash included
    auto other = post(acme_, other_content(factura(1)));
    EXPECT_EQ(other.status, 400);
    EXPECT_EQ(other.codigo(), 23);
    EXPECT_EQ(other.errors(), "Este documento ya existe en NubeFacT");
    // A new process: only the store knows the document.
    serve_->signal(SIGTERM);
    ASSERT_EQ(serve_->wait(), 0) << serve_->err();
    start_serve();
    auto stored = post(acme_, factura(1));
    ASSERT_EQ(stored.status, 200) << stored.body;
    EXPECT_TRUE(stored.json().at("aceptada_por_sunat").as_bool());
    EXPECT_EQ(stored.json().at("enlace"), first.json().at("enlace"));
    // What a receipt prints comes from the store too.
    ASSERT_TRUE(first.json().contains("cadena_para_codigo_qr")) << first.body;
    EXPECT_EQ(stored.json().at("cadena_para_codigo_qr"), first.json().at("cadena_para_codigo_qr"))
        << stored.body;
    EXPECT_EQ(stored.json().at("codigo_hash"), first.json().at("codigo_hash")) << stored.body;
    EXPECT_EQ(post(acme_, other_content(factura(1))).codigo(), 23);
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 1);  // never sent twice
}

TEST_F(ServeCli, InvalidDocumentNamesTheFieldAndTheExpectedValue) {
    start_upstream();
    start_serve();
    std::string doc = factura(1);
    doc.replace(doc.find(R"("total":"118.00",)"), 17, R"("total":"120.00",)");
    auto r = post(acme_, doc);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.codigo(), 20);
    EXPECT_NE(r.errors().find("El archivo enviado no cumple con el formato establecido: total: "),
              std::string::npos)
        << r.errors();
    EXPECT_NE(r.errors().find("se esperaba 118.00, llegó 120.00"), std::string::npos) << r.errors();
    r = post(acme_, "{not json");
    EXPECT_EQ(r.codigo(), 20);
    r = post(acme_, R"({"operacion":"generar_nada"})");
    EXPECT_EQ(r.codigo(), 20);
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 0);
}

TEST_F(ServeCli, SlowUpstreamTransientAnswerThenTheFinalOneOnRepeat) {
    start_upstream({"--latency", "fixed:1500"});
    start_serve({"--upstream-wait", "200ms"});
    auto r = post(acme_, factura(1));
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(r.codigo(), 40);
    EXPECT_NE(r.head.find("Retry-After: 1"), std::string::npos) << r.head;
    // Meanwhile the document is in the store (journaled before it was sent), on its way.
    auto st = cli({"status", "F001-1", "--store", store_, "--json"});
    EXPECT_NE(st.out.find("\"state\":\"sending\""), std::string::npos) << st.out << st.err;
    // A naive client retries the same request: at most 200 ms each, until the final answer.
    http_reply final;
    for (int i = 0; i < 50 && final.status != 200; ++i) final = post(acme_, factura(1));
    ASSERT_EQ(final.status, 200) << final.body;
    EXPECT_TRUE(final.json().at("aceptada_por_sunat").as_bool());
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 1);
}

TEST_F(ServeCli, BodyAndHeaderLimitsAndSlowClients) {
    start_upstream();
    start_serve({"--max-body", "2048", "--max-header", "1024", "--read-timeout", "300ms"});
    // A body announced larger than the limit: refused from its headers.
    auto r =
        http_raw(port_, "POST " + acme_.target() + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + acme_.auth() +
                            "\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n");
    EXPECT_EQ(r.status, 413) << r.head;
    EXPECT_EQ(r.codigo(), 20);
    r = http_raw(port_, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    EXPECT_EQ(r.status, 431) << r.head;
    // A client that stops halfway through its headers is cut off (no answer, connection closed).
    const auto t0 = std::chrono::steady_clock::now();
    r = http_raw(port_, "POST " + acme_.target() + " HTTP/1.1\r\nHost: x\r\n", 5);
    EXPECT_EQ(r.status, 0);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
    EXPECT_EQ(http_get_reply(port_, "/livez").status, 200);  // the server is fine
}

// A client that pipelines requests and then sends what the server will not read (a bad request
// and more) gets every answer whole, the 400 last: the server closes after them with FIN, not RST
// (found by fuzz_gateway: the 28th answer cut after 675 bytes on a loaded machine).
TEST_F(ServeCli, PipelinedAnswersArriveWholeBeforeTheClose) {
    start_upstream();
    start_serve();
    std::string raw;
    for (int i = 0; i < 100; ++i) raw += "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
    raw += "NOT HTTP AT ALL\r\n\r\n" + std::string(64 * 1024, 'x');
    std::string tail;
    const auto answers = http_pipelined(port_, raw, &tail);
    ASSERT_EQ(answers.size(), 101u) << tail.size() << " bytes after answer " << answers.size();
    EXPECT_EQ(answers[99].status, 200);
    EXPECT_EQ(answers[100].status, 400);
    EXPECT_EQ(answers[100].codigo(), 20) << answers[100].body;
    EXPECT_TRUE(tail.empty());
    EXPECT_EQ(http_get_reply(port_, "/livez").status, 200);
}

// A chunked body whose last chunk arrives in pieces: Boost 1.74's parser asserted on its 4th byte
// (src/net/chunked_guard.hpp), which aborted a build with assertions. A clear answer, and the
// server lives on.
TEST_F(ServeCli, ChunkedBodyWhoseEndTricklesIn) {
    start_upstream();
    start_serve();
    const std::string head = "POST " + acme_.target() +
                             " HTTP/1.1\r\nHost: x\r\nAuthorization: " + acme_.auth() +
                             "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                             "Connection: close\r\n\r\n";
    auto r = http_raw_pieces(port_, {head + "0\r\n", "\r", "\n"});
    EXPECT_EQ(r.status, 400) << r.head << serve_->err();
    EXPECT_EQ(r.codigo(), 20) << r.body;
    EXPECT_EQ(http_get_reply(port_, "/livez").status, 200);
}

TEST_F(ServeCli, HealthAndMetrics) {
    start_upstream();
    start_serve();
    auto l = http_get_reply(port_, "/livez");
    EXPECT_EQ(l.status, 200);
    EXPECT_EQ(http_get_reply(port_, "/readyz").status, 200);
    ASSERT_EQ(post(acme_, factura(1)).status, 200);
    ASSERT_EQ(http_post(port_, acme_.target(), factura(2), "wrong").status, 401);
    // The client writes the final state behind its answer: the gauge shows it a commit later (bounded).
    const std::string accepted = "nubefact_gateway_documents{account=\"acme\",state=\"accepted\"} 1\n";
    http_reply m;
    for (int i = 0; i < 400 && m.body.find(accepted) == std::string::npos; ++i) {
        if (i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        m = http_get_reply(port_, "/metrics");
    }
    ASSERT_EQ(m.status, 200);
    EXPECT_NE(m.head.find("text/plain; version=0.0.4"), std::string::npos) << m.head;
    for (const char* line :
         {"nubefact_gateway_http_requests_total{route=\"/api/v1/{ruta}\",code=\"200\"} 1\n",
          "nubefact_gateway_http_requests_total{route=\"/api/v1/{ruta}\",code=\"401\"} 1\n",
          "nubefact_gateway_http_requests_total{route=\"/livez\",code=\"200\"} 1\n",
          "nubefact_gateway_http_request_duration_seconds_count{route=\"/api/v1/{ruta}\"} 2\n",
          accepted.c_str(), "nubefact_gateway_draining 0\n"})
        EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
    EXPECT_EQ(m.body.find(acme_.ruta), std::string::npos);
}

TEST_F(ServeCli, SigtermDrainsReadinessFirstThenExitsZero) {
    start_upstream({"--latency", "fixed:1000"});
    start_serve({"--upstream-wait", "20s"});
    http_reply slow;
    std::thread client([&] { slow = post(acme_, factura(1)); });
    // Until the request is in progress (bounded).
    bool in_progress = false;
    for (int i = 0; i < 500 && !in_progress; ++i) {
        auto m = http_get_reply(port_, "/metrics");
        in_progress = m.body.find("nubefact_gateway_requests_in_progress 2\n") != std::string::npos;
        if (!in_progress) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_TRUE(in_progress);
    serve_->signal(SIGTERM);
    bool not_ready = false;
    for (int i = 0; i < 500 && !not_ready; ++i) not_ready = http_get_reply(port_, "/readyz").status == 503;
    EXPECT_TRUE(not_ready);
    auto refused = post(acme_, factura(2));
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.codigo(), 40);
    client.join();
    EXPECT_EQ(slow.status, 200) << slow.body;  // the request under way finished
    EXPECT_EQ(serve_->wait(), 0) << serve_->err();
    EXPECT_NE(serve_->err().find("drained"), std::string::npos) << serve_->err();
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 1);
}

TEST_F(ServeCli, DrainTimeoutExitsOneAndTheRepeatIsReconciled) {
    start_upstream({"--latency", "fixed:1500"});
    start_serve({"--upstream-wait", "100ms", "--drain-timeout", "100ms"});
    auto r = post(acme_, factura(1));
    EXPECT_EQ(r.codigo(), 40) << r.body;  // the delivery goes on
    serve_->signal(SIGTERM);
    EXPECT_EQ(serve_->wait(), 1) << serve_->err();
    EXPECT_NE(serve_->err().find("drain timed out"), std::string::npos) << serve_->err();
    // A new process: the repeat gets the final answer, and the document was sent once.
    start_serve({"--upstream-wait", "10s"});
    r = post(acme_, factura(1));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.json().at("aceptada_por_sunat").as_bool());
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 1);
}

TEST_F(ServeCli, KeysCommandsNeverShowAStoredToken) {
    start_upstream();
    auto c = cli({"keys", "create", "--store", store_, "--account", "acme"});
    ASSERT_EQ(c.rc, 0) << c.err;
    const auto token = value_after(c.out, "token:");
    const auto ruta = value_after(c.out, "ruta:");
    EXPECT_TRUE(token.starts_with("nfk_live_")) << c.out;
    EXPECT_EQ(ruta.size(), 32u) << c.out;
    EXPECT_NE(c.out.find("shown only now"), std::string::npos);
    for (std::vector<std::string> args : {std::vector<std::string>{"keys", "list", "--store", store_},
                                          {"keys", "list", "--json", "--store", store_},
                                          {"accounts", "list", "--store", store_},
                                          {"status", "F001-1", "--store", store_}}) {
        auto l = cli(args);
        for (const auto& t : {token, acme_.token, beta_.token})
            EXPECT_EQ((l.out + l.err).find(t), std::string::npos) << args[1] << ":\n" << l.out;
    }
    auto l = cli({"keys", "list", "--store", store_});
    EXPECT_NE(l.out.find(ruta), std::string::npos) << l.out;
    EXPECT_NE(l.out.find("RUTA"), std::string::npos);
    auto rv = cli({"keys", "revoke", ruta, "--store", store_});
    EXPECT_EQ(rv.rc, 0) << rv.err;
    auto lj = parse_jsonl(cli({"keys", "list", "--json", "--store", store_}).out);
    ASSERT_EQ(lj.size(), 3u);
    int revoked = 0;
    for (const auto& k : lj) revoked += k.at("revoked").as_bool() ? 1 : 0;
    EXPECT_EQ(revoked, 1);
    auto bad = cli({"keys", "revoke", "no-such-ruta", "--store", store_});
    EXPECT_EQ(bad.rc, 1);
    EXPECT_NE(bad.err.find("no key with ruta 'no-such-ruta'"), std::string::npos) << bad.err;
    auto unknown = cli({"keys", "create", "--account", "nobody", "--store", store_});
    EXPECT_EQ(unknown.rc, 1);
    EXPECT_NE(unknown.err.find("no account named 'nobody'"), std::string::npos) << unknown.err;
    EXPECT_NE(unknown.err.find("Known accounts: acme, beta"), std::string::npos) << unknown.err;
    auto help = cli({"keys", "--help"});
    EXPECT_EQ(help.rc, 0);
    EXPECT_NE(help.out.find("shown only now"), std::string::npos) << help.out;
}

TEST_F(ServeCli, BadFlagsAndMissingStoreAreClearErrors) {
    struct bad_case {
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<bad_case> cases = {
        {{"serve", "--listen", "nonsense"}, "--listen must be HOST:PORT"},
        {{"serve", "--listen", "127.0.0.1:99999"}, "bad port in --listen"},
        {{"serve", "--listen", "127.0.0.1:80x"}, "bad port in --listen"},
        {{"serve", "--listen", "not-an-ip:0", "--store", store_}, "not an IP address"},
        {{"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + (dir_ / "no/such/dir/x.db").string()},
         "cannot open the store"},
        {{"serve", "--listen", "127.0.0.1:0", "--upstream-wait", "soon", "--store", store_},
         "--upstream-wait"},
        {{"serve", "--bogus"}, "--bogus"},
    };
    for (const auto& c : cases) {
        auto r = cli(c.args);
        EXPECT_EQ(r.rc, 2) << c.args.back() << "\n" << r.out << r.err;
        EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    }
    auto help = cli({"serve", "--help"});
    EXPECT_EQ(help.rc, 0);
    for (const char* s : {"--upstream-wait", "/readyz", "Token token=", "SIGTERM", "keys create"})
        EXPECT_NE(help.out.find(s), std::string::npos) << s;
}

// Nubefact's own example requests, posted with curl exactly as an integration would (only RUTA and
// TOKEN changed), in an order that makes sense: issue, consult, void, consult the void, guía.
TEST_F(ServeCli, OfficialExampleRequestsWithCurl) {
    if (official_dir().empty() || !fs::exists("/usr/bin/curl")) GTEST_SKIP() << "no curl or source dir";
    start_upstream({"--today", "17-12-2025"});  // the examples' date: a guía may be one day old at most
    start_serve();
    const std::string ruta = fmt::format("http://127.0.0.1:{}/api/v1/{}", port_, acme_.ruta);
    struct step {
        std::string file;
        int status;
        int codigo;  // -1: a 200 body
    };
    const std::vector<step> steps = {
        {"generar-cpe-factura-1-gravada.json", 200, -1},
        {"generar-cpe-boleta-1-gravada.json", 200, -1},
        {"consultar-cpe-factura.json", 200, -1},
        {"generar-cpe-nota-credito-1-para-factura.json", 200, -1},
        {"generar-cpe-factura-31-nubecont.json", 400, 23},                    // FFF1-1 again, other content
        {"generar-cpe-factura-9-descuento-global-y-por-item.json", 400, 20},  // its total_descuento is off
        {"generar-anulacion-factura.json", 200, -1},
        {"consultar-anulacion-factura.json", 200, -1},
        {"gre-generar-guia-remitente-ttt1-1-venta-transporte-publico.json", 200, -1},
        {"gre-consultar-guia-remitente-ttt1-1.json", 200, -1},
    };
    for (const auto& s : steps) {
        auto r = run("/usr/bin/curl",
                     {"-s", "-w", "\n%{http_code}", "-X", "POST", ruta, "-H",
                      "Authorization: Token token=\"" + acme_.token + "\"", "-H",
                      "Content-Type: application/json", "-d", "@" + official_dir() + "/" + s.file},
                     dir_);
        ASSERT_EQ(r.rc, 0) << s.file << r.err;
        const auto nl = r.out.rfind('\n');
        ASSERT_NE(nl, std::string::npos) << r.out;
        EXPECT_EQ(std::atoi(r.out.c_str() + nl + 1), s.status) << s.file << "\n" << r.out;
        auto body = json::parse(r.out.substr(0, nl)).as_object();
        if (s.codigo >= 0)
            EXPECT_EQ(body.at("codigo").to_number<int>(), s.codigo) << s.file << "\n" << r.out;
        else
            EXPECT_TRUE(body.contains("aceptada_por_sunat")) << s.file << "\n" << r.out;
    }
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 3);
    EXPECT_EQ(emulator_->requests("generar_anulacion"), 1);
    EXPECT_EQ(emulator_->requests("generar_guia"), 1);
    expect_no_secrets_logged();
}

}  // namespace
