// The examples of docs/gateway.md run as a reader types them (sh, `nubefact` and curl on the PATH, a
// fresh directory holding `examples/`), against a `nubefact emulator` process; every command and
// every output line checked here is quoted verbatim by the page. Only the ports differ: the page's
// 8000 (emulator) and 8080 (gateway) are free ports here.
#include "serve_fixture.hpp"

#include <gtest/gtest.h>

namespace {

std::string source_dir() {
    const char* root = std::getenv("NUBEFACT_SOURCE_DIR");
    return root ? root : "";
}

class GatewayDocExamples : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* bin = std::getenv("NUBEFACT_BINARY");
        if (!bin || !fs::exists(bin) || source_dir().empty() || !fs::exists("/usr/bin/curl"))
            GTEST_SKIP() << "NUBEFACT_BINARY, source dir or curl missing";
        binary_ = bin;
        page_ = slurp(fs::path(source_dir()) / "docs/gateway.md");
        dir_ = fresh_scratch_dir("gwdoc");
        fs::create_directories(dir_ / "bin");
        fs::create_symlink(fs::absolute(binary_), dir_ / "bin/nubefact");
        fs::create_directory_symlink(fs::path(source_dir()) / "examples", dir_ / "examples");
    }
    void TearDown() override {
        for (auto* p : {serve_.get(), emulator_.get()})
            if (p && p->running()) {
                p->signal(SIGTERM);
                p->wait(std::chrono::seconds(20));
            }
        remove_scratch_dir(dir_);
    }

    void on_page(const std::string& text) {
        EXPECT_NE(page_.find(text), std::string::npos) << "docs/gateway.md does not show: " << text;
    }
    // A command line of the page, through sh in the scratch directory, the page's ports replaced.
    run_result shell(const std::string& line, const std::string& after = "") {
        on_page(line);
        std::string l = line;
        for (auto [from, to] : {std::pair<std::string, std::string>{"127.0.0.1:8000", emulator_addr_}})
            for (auto p = l.find(from); p != std::string::npos; p = l.find(from, p + to.size()))
                l.replace(p, from.size(), to);
        const std::string script = "PATH=\"" + (dir_ / "bin").string() + ":$PATH\"; " + l + after;
        return run("/bin/sh", {"-c", script}, dir_, "", spawn_options{dir_, env_});
    }
    void shows(const run_result& r, const std::string& text) {
        on_page(text);
        EXPECT_NE((r.out + r.err).find(text), std::string::npos)
            << "not printed: " << text << "\n--- stdout\n"
            << r.out << "--- stderr\n"
            << r.err;
    }

    std::string binary_, page_;
    fs::path dir_;
    std::map<std::string, std::string> env_;
    std::unique_ptr<background> emulator_, serve_;
    std::string emulator_addr_;
};

TEST_F(GatewayDocExamples, OneInstanceKeysDropInHealthDrain) {
    on_page("nubefact emulator --today 02-12-2026       # in another terminal");
    emulator_ = std::make_unique<background>(
        binary_, std::vector<std::string>{"emulator", "--listen", "127.0.0.1:0", "--today", "02-12-2026"},
        dir_, "emulator");
    ASSERT_TRUE(emulator_->wait_for_output("Ctrl-C to stop."));
    emulator_addr_ =
        "127.0.0.1:" +
        std::to_string(std::atoi(value_after(emulator_->out(), "listening on http://127.0.0.1:").c_str()));

    on_page("export NUBEFACT_STORE=sqlite:./gateway.db");
    env_["NUBEFACT_STORE"] = "sqlite:./gateway.db";
    auto r = shell(
        "NUBEFACT_TOKEN=demo-token nubefact accounts add --name acme --ruta "
        "http://127.0.0.1:8000/api/v1/demo "
        "--token-env NUBEFACT_TOKEN");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    r = shell("nubefact keys create --account acme > key.txt");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    r = shell("export RUTA=$(sed -n 's/^  ruta:  //p' key.txt) TOKEN=$(sed -n 's/^  token: //p' key.txt)",
              "; printf '%s %s' \"$RUTA\" \"$TOKEN\"");
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto space = r.out.find(' ');
    ASSERT_NE(space, std::string::npos) << r.out;
    env_["RUTA"] = r.out.substr(0, space);
    env_["TOKEN"] = r.out.substr(space + 1);
    ASSERT_EQ(env_["RUTA"].size(), 32u) << r.out;

    on_page("nubefact serve --listen 127.0.0.1:8080     # in another terminal; prints http://127.0.0.1:8080");
    serve_ =
        std::make_unique<background>(binary_, std::vector<std::string>{"serve", "--listen", "127.0.0.1:0"},
                                     dir_, "serve", spawn_options{dir_, env_});
    ASSERT_TRUE(serve_->wait_for_output("\n")) << serve_->err();
    const auto url = serve_->out().substr(0, serve_->out().find('\n'));
    ASSERT_TRUE(url.starts_with("http://127.0.0.1:")) << url;
    on_page("export GATEWAY=http://127.0.0.1:8080");
    env_["GATEWAY"] = url;

    r = shell("head -1 examples/ventas-del-dia.jsonl > factura.json");
    ASSERT_EQ(r.rc, 0) << r.err;
    const std::string post =
        "curl -s $GATEWAY/api/v1/$RUTA -H \"Authorization: Token token=\\\"$TOKEN\\\"\" -H 'Content-Type: "
        "application/json' -d @factura.json";
    auto first = shell(post);
    ASSERT_EQ(first.rc, 0) << first.err;
    shows(first, R"({"tipo_de_comprobante":1,"serie":"F001","numero":1,"enlace":"http://127.0.0.1:)");
    shows(
        first,
        R"("aceptada_por_sunat":true,"sunat_description":"La Factura numero F001-1, ha sido aceptada","sunat_responsecode":"0",)");
    auto again = shell(post);
    EXPECT_EQ(again.out, first.out);  // "The same request again is answered from the gateway"

    r = shell("sed 's/NUBEFACT SA/OTRO CLIENTE SA/' factura.json > otra.json");
    ASSERT_EQ(r.rc, 0) << r.err;
    r = shell(
        "curl -s $GATEWAY/api/v1/$RUTA -H \"Authorization: Token token=\\\"$TOKEN\\\"\" -H 'Content-Type: "
        "application/json' -d @otra.json");
    shows(r, R"({"errors":"Este documento ya existe en NubeFacT","codigo":23})");

    r = shell(
        "curl -s $GATEWAY/api/v1/$RUTA -H \"Authorization: $TOKEN\" -H 'Content-Type: application/json' -d "
        "'{\"operacion\":\"consultar_comprobante\",\"tipo_de_comprobante\":1,\"serie\":\"F001\",\"numero\":1}"
        "'");
    EXPECT_NE(r.out.find(R"("aceptada_por_sunat":true)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(R"("anulado":false)"), std::string::npos) << r.out;

    r = shell(
        "curl -s $GATEWAY/api/v1/$RUTA -H 'Authorization: Token token=\"wrong\"' -H 'Content-Type: "
        "application/json' -d @factura.json");
    shows(r, R"({"errors":"No se pudo autenticar, token incorrecto o eliminado","codigo":10})");

    r = shell("curl -s $GATEWAY/readyz");
    EXPECT_EQ(r.out, "ready\n");
    on_page("curl -s $GATEWAY/readyz\nready\n");
    // The final state is written behind the answer: a commit later it is in the gauge (bounded).
    const std::string gauge = R"(nubefact_gateway_documents{account="acme",state="accepted"} 1)";
    for (int i = 0; i < 100; ++i) {
        r = shell("curl -s $GATEWAY/metrics | grep 'documents{'");
        if (r.out.find(gauge) != std::string::npos) break;
    }
    shows(r, gauge);

    serve_->signal(SIGTERM);
    EXPECT_EQ(serve_->wait(), 0) << serve_->err();
    shows(run_result{0, serve_->out(), serve_->err()},
          "nubefact serve: drained: every request answered, every delivery finished; stopped");
    // The log holds neither the token nor the ruta.
    EXPECT_EQ(serve_->err().find(env_["TOKEN"]), std::string::npos) << serve_->err();
    EXPECT_EQ(serve_->err().find(env_["RUTA"]), std::string::npos) << serve_->err();
}

}  // namespace
