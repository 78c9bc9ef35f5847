// The examples of docs/send.md run as a reader types them (sh, `nubefact` on the PATH, a fresh
// directory holding `examples/`), against the embedded emulator or a `nubefact emulator` process;
// every command and every output line checked here is also quoted verbatim by the page. Also: the
// store wiring of docs/store.md (compiled and run here, where the store library is linked) and the
// state names of `nubefact status --help`.
#include "cli_util.hpp"

#include <nubefact/client.hpp>
#include <nubefact/emulator.hpp>
#include <nubefact/json.hpp>
#include <nubefact/store.hpp>

#include <gtest/gtest.h>

#include <iostream>
#include <memory>

namespace {

using namespace nubefact::test::cli;

std::string source_dir() {
    const char* root = std::getenv("NUBEFACT_SOURCE_DIR");
    return root ? root : "";
}

class SendDocExamples : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* bin = std::getenv("NUBEFACT_BINARY");
        if (!bin || !fs::exists(bin) || source_dir().empty())
            GTEST_SKIP() << "NUBEFACT_BINARY or source dir unset";
        binary_ = bin;
        page_ = slurp(fs::path(source_dir()) / "docs/send.md");
        dir_ = fresh_scratch_dir("doc");
        fs::create_directories(dir_ / "bin");
        fs::create_symlink(fs::absolute(binary_), dir_ / "bin/nubefact");
        fs::create_directory_symlink(fs::path(source_dir()) / "examples", dir_ / "examples");
    }
    void TearDown() override { remove_scratch_dir(dir_); }

    // The page shows `text` verbatim (a command, an output line).
    void on_page(const std::string& text) {
        EXPECT_NE(page_.find(text), std::string::npos) << "docs/send.md does not show: " << text;
    }
    // Runs a command line of the page as documented: through sh, in the scratch directory.
    run_result shell(const std::string& line) {
        on_page(line);
        const std::string script = "PATH=\"" + (dir_ / "bin").string() + ":$PATH\"; " + line;
        return run("/bin/sh", {"-c", script}, dir_, "", spawn_options{dir_, env_});
    }
    // `text` is on the page and among what the command printed (stdout and stderr).
    void shows(const run_result& r, const std::string& text) {
        on_page(text);
        EXPECT_NE((r.out + r.err).find(text), std::string::npos)
            << "not printed: " << text << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err;
    }

    // `nubefact emulator` as the page starts it ("nubefact emulator --today 02-12-2026 …"), on a
    // free port instead of 8000; the account from its banner goes to the environment, as the page's
    // `export` line does. False when it did not start.
    bool start_emulator(const std::string& documented, std::vector<std::string> args) {
        on_page(documented);
        on_page("export NUBEFACT_RUTA=http://127.0.0.1:8000/api/v1/demo NUBEFACT_TOKEN=demo-token");
        args.insert(args.begin(), {"emulator", "--listen", "127.0.0.1:0"});
        emulator_ = std::make_unique<background>(binary_, args, dir_, "emulator");
        if (!emulator_->wait_for_output("Ctrl-C to stop.")) return false;
        const auto banner = emulator_->out();
        const auto ruta = value_after(banner, "RUTA");
        EXPECT_TRUE(ruta.ends_with("/api/v1/demo")) << banner;
        EXPECT_EQ(value_after(banner, "TOKEN"), "demo-token") << banner;
        env_ = {{"NUBEFACT_RUTA", ruta}, {"NUBEFACT_TOKEN", "demo-token"}};
        return !ruta.empty();
    }

    std::string binary_, page_;
    fs::path dir_;
    std::map<std::string, std::string> env_;
    std::unique_ptr<background> emulator_;
};

// The first example: the demo batch through the embedded emulator, then the same command again.
TEST_F(SendDocExamples, DemoBatchAndRerun) {
    auto r = shell("nubefact send examples/ --emulator");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;  // three invalid documents
    shows(r, "accepted             242");
    shows(r,
          "invalid                3   local findings, nothing was sent: fix them (see the findings) and run "
          "again");
    shows(r, "audit log: sqlite:./nubefact.db  (nubefact log --store sqlite:./nubefact.db)");
    shows(r, "245 documents: 242 accepted, 3 invalid");
    on_page("examples/ventas-del-dia.jsonl:11 F001-8 invalid:");
    EXPECT_NE(r.err.find("examples/ventas-del-dia.jsonl:11 F001-8 invalid: items[0].igv: "),
              std::string::npos)
        << r.err;
    r = shell("nubefact send examples/ --emulator");
    shows(r, "(resumed)            242   already final in the store (an earlier run): not sent again");
    shows(r, "245 documents: 242 accepted, 3 invalid");
}

// Corrections: a guía refused with codigo 22 goes again under its number once fixed; a changed
// accepted factura is not sent, with the reason.
TEST_F(SendDocExamples, CorrectionsUnderTheSameNumber) {
    ASSERT_TRUE(start_emulator("nubefact emulator --today 02-12-2026        # in another terminal",
                               {"--today", "02-12-2026"}));
    auto r = shell("cp examples/guia-remitente-T001-1.json guia.json");
    ASSERT_EQ(r.rc, 0) << r.err;
    r = shell("nubefact send guia.json --results results.jsonl");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    shows(r,
          "guia.json:1 T001-1 refused: codigo 22: document sent outside the allowed period: El documento fue "
          "enviado fuera del plazo permitido: fecha_de_emision 27-11-2026 (se acepta >= 01-12-2026) (HTTP "
          "400)");
    shows(r,
          "refused                1   Nubefact did not create it: fix what its error says and send the same "
          "number again");
    shows(r, "1 document: 0 accepted, 1 refused");
    auto lines = parse_jsonl(slurp(dir_ / "results.jsonl"));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].at("codigo").as_int64(), 22);

    ASSERT_EQ(shell("sed -i 's/27-11-2026/02-12-2026/g' guia.json").rc, 0);
    r = shell("nubefact send guia.json --results results.jsonl");
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    shows(r, "1 document: 1 accepted");
    r = shell("nubefact status T001-1");
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    shows(r, "  state:     accepted after 2 attempts");

    ASSERT_EQ(shell("head -1 examples/ventas-del-dia.jsonl > factura.json").rc, 0);
    r = shell("nubefact send factura.json");
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    ASSERT_EQ(shell(R"(sed -i 's/"NUBEFACT SA"/"NUBEFACT S.A."/' factura.json)").rc, 0);
    r = shell("nubefact send factura.json");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    shows(r,
          "factura.json:1 F001-1 not_sent: F001-1 was sent before with other content and is "
          "'accepted' in the store (Nubefact has it); a number that may exist is never re-sent with other "
          "content: correct it with a nota de crédito/débito, or void it and issue the next correlativo");
    shows(r, "1 document: 0 accepted, 1 not_sent");
}

// A wrong token stops the account after its first answer; the rest is not sent, with the reason.
TEST_F(SendDocExamples, AccountStop) {
    ASSERT_TRUE(start_emulator("nubefact emulator --today 02-12-2026        # in another terminal",
                               {"--today", "02-12-2026"}));
    auto r = shell("NUBEFACT_TOKEN=wrong-token nubefact send examples/ventas-del-dia.jsonl --concurrency 1");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    shows(r,
          "examples/ventas-del-dia.jsonl:1 F001-1 refused: codigo 10: token wrong or deleted: No se pudo "
          "autenticar, token incorrecto o eliminado (HTTP 401)");
    // Which not_sent lines come first varies (documents waiting for the rate limit finish after
    // those read later): the page shows one, the output has such lines.
    on_page(
        "examples/ventas-del-dia.jsonl:2 F001-2 not_sent: account 'default' stopped after Nubefact "
        "answered codigo 10: token wrong or deleted to an earlier document");
    shows(r,
          " not_sent: account 'default' stopped after Nubefact answered codigo 10: token wrong or deleted "
          "to an earlier document");
    shows(r, "240 documents: 0 accepted, 1 refused, 2 invalid, 237 not_sent");
    // "Fix the token … and run the same command again": everything valid is sent then (without the
    // account's default 10 requests/s, which would make this step take 24 s).
    env_["NUBEFACT_RATE"] = "0";
    r = shell("nubefact send examples/ventas-del-dia.jsonl --concurrency 1");
    EXPECT_NE(r.out.find("240 documents: 238 accepted, 2 invalid"), std::string::npos) << r.out << r.err;
}

TEST_F(SendDocExamples, DuplicateLine) {
    ASSERT_EQ(
        shell("(head -2 examples/ventas-del-dia.jsonl; head -1 examples/ventas-del-dia.jsonl) > dup.jsonl")
            .rc,
        0);
    auto r = shell("nubefact send dup.jsonl --emulator");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    shows(r,
          "dup.jsonl:3 F001-1 not_sent: F001-1 is a duplicate line of the batch (first at "
          "dup.jsonl:1)");
    shows(r, "3 documents: 2 accepted, 1 not_sent");
}

// --follow 0 reports pending boletas at once (exit 0); the rerun consults them and follows them.
TEST_F(SendDocExamples, FollowPendingBoletas) {
    ASSERT_TRUE(start_emulator("nubefact emulator --today 02-12-2026 --boletas-pending --boleta-delay 1000",
                               {"--today", "02-12-2026", "--boletas-pending", "--boleta-delay", "1000"}));
    ASSERT_EQ(
        shell(R"(grep '"tipo_de_comprobante":2' examples/ventas-del-dia.jsonl | head -3 > boletas.jsonl)").rc,
        0);
    auto r = shell("nubefact send boletas.jsonl --follow 0");
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    shows(r,
          "pending_sunat          3   Nubefact has it, SUNAT has not answered yet: run again or `nubefact "
          "query` "
          "later");
    shows(r, "3 documents: 0 accepted, 3 pending_sunat");
    r = shell("nubefact send boletas.jsonl");
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    shows(r, "3 documents: 3 accepted");
}

TEST_F(SendDocExamples, DatesCheckedLocally) {
    auto r = shell(
        "nubefact send examples/guia-remitente-T001-1.json examples/nota-de-credito-F001-1.json --dry-run "
        "--today "
        "29-11-2026");
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    shows(r,
          "examples/guia-remitente-T001-1.json:1 T001-1 invalid: fecha_de_emision: fecha_de_emision is more "
          "than 1 "
          "day old; Nubefact answers codigo 22 (outside the allowed period). (expected >= 28-11-2026)");
    shows(r, "2 documents: 1 valid, 1 invalid");
}

// Every state name is in `nubefact status --help` (it listed the old six).
TEST_F(SendDocExamples, StatusHelpNamesEveryState) {
    auto r = run(binary_, {"status", "--help"}, dir_);
    EXPECT_EQ(r.rc, 0) << r.err;
    for (auto s : nubefact::all_doc_states) {
        const std::string name(nubefact::to_string(s));
        EXPECT_NE(r.out.find(name), std::string::npos) << name << "\n" << r.out;
        on_page("| `" + name + "` |");  // and the states table of docs/send.md has its row
    }
    EXPECT_EQ(r.out.find("pending,"), std::string::npos) << r.out;
}

// [doc:store-wiring]
// The store's durable journal and audit trail for a client. client_options takes shared_ptrs; the
// aliasing constructor shares the store's ownership, so the store lives while a client holds them.
nubefact::client_options durable_options(const std::shared_ptr<nubefact::store::store>& st) {
    nubefact::client_options co;
    co.journal = std::shared_ptr<nubefact::intent_journal>(st, &st->journal());
    co.audit = std::shared_ptr<nubefact::audit_sink>(st, &st->audit());
    return co;
}

int issue_durably(const std::string& store_url, const nubefact::account_config& cfg,
                  const nubefact::comprobante& factura) {
    std::string why;
    auto opened = nubefact::store::open_store(store_url, {}, &why);
    if (!opened) {
        std::cerr << "store: " << opened.error().message() << " (" << why << ")\n";
        return 2;
    }
    std::shared_ptr<nubefact::store::store> st = std::move(*opened);
    nubefact::blocking_client nf(cfg, durable_options(st));
    auto r = nf.generar_comprobante(factura);  // the intent is committed before the first byte leaves
    if (!r) std::cerr << "not issued: " << r.error().what() << "\n";
    return r && r->state != nubefact::doc_state::rejected ? 0 : 1;
}
// [/doc:store-wiring]

TEST(StoreDocExamples, StoreWiring) {
    nubefact::emulator::server srv;
    ASSERT_TRUE(srv.start());
    nubefact::account_config cfg;
    cfg.name = "doc-store";
    cfg.ruta = srv.ruta_url();
    cfg.token = srv.first_account().tokens.front();
    cfg.rate.requests_per_second = 0;
    const std::string text =
        R"({"tipo_de_comprobante":1,"serie":"F001","numero":1,"sunat_transaction":1,"cliente_tipo_de_documento":6,)"
        R"("cliente_numero_de_documento":"20600695771","cliente_denominacion":"CLIENTE SAC","cliente_direccion":"AV. LIMA 1",)"
        R"("fecha_de_emision":")" +
        nubefact::lima_today().to_wire() +
        R"(","moneda":1,"porcentaje_de_igv":"18.00","total_gravada":"100.00","total_igv":"18.00","total":"118.00",)"
        R"("items":[{"unidad_de_medida":"NIU","descripcion":"PRODUCTO","cantidad":"1","valor_unitario":"100",)"
        R"("precio_unitario":"118","subtotal":"100.00","tipo_de_igv":1,"igv":"18.00","total":"118.00"}]})";
    auto parsed = nubefact::json::read_comprobante(text);
    ASSERT_FALSE(nubefact::has_errors(parsed.findings));
    const auto factura = std::get<nubefact::comprobante>(parsed.doc);

    const auto dir = fs::temp_directory_path() / ("nubefact-doc-store-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string url = "sqlite:" + (dir / "store.db").string();
    EXPECT_EQ(issue_durably(url, cfg, factura), 0);
    EXPECT_EQ(issue_durably(url, cfg, factura), 0);  // final in the store: answered from it, not sent
    EXPECT_EQ(srv.snapshot().documents_created, 1u);
    {
        auto st = nubefact::store::open_store(url);
        ASSERT_TRUE(st);
        nubefact::store::document_query q;
        q.serie = "F001";
        q.numero = 1;
        auto docs = (*st)->find_documents(q);
        ASSERT_TRUE(docs);
        ASSERT_EQ(docs->size(), 1u);
        EXPECT_EQ(docs->front().state, nubefact::doc_state::accepted);
        auto log = (*st)->query_log({});
        ASSERT_TRUE(log);
        EXPECT_EQ(log->size(), 1u);  // the send only: the second call made no request
    }
    fs::remove_all(dir);

    // docs/store.md quotes the block above verbatim.
    if (source_dir().empty()) GTEST_SKIP() << "NUBEFACT_SOURCE_DIR not set";
    const auto src = slurp(fs::path(source_dir()) / "tests/cli/test_doc_examples.cpp");
    const std::string open = "// [doc:store-wiring]\n";
    const auto a = src.find(open), b = src.find("// [/doc:store-wiring]");
    ASSERT_NE(a, std::string::npos);
    const auto block = src.substr(a + open.size(), b - a - open.size());
    EXPECT_NE(slurp(fs::path(source_dir()) / "docs/store.md").find(block), std::string::npos)
        << "docs/store.md does not quote the store-wiring block";
}

}  // namespace
