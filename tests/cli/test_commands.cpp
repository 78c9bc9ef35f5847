// The real `nubefact` binary against a separate `nubefact emulator` process: query (each --what,
// one consultation per document), void, guide, accounts (disabled, auth form on the wire, clear
// errors), status, log filters, and smoke runs of validate, complete, bench and emulator.
#include "cli_util.hpp"

#include <nubefact/version.hpp>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <poll.h>

#include <atomic>
#include <mutex>

namespace {

using namespace nubefact::test::cli;
namespace json = boost::json;

// "today" for every emulator here: the example guía is dated 27-11-2026 and guías may be at most a
// day old.
constexpr const char* today = "27-11-2026";

// A valid factura (1 item of 100.00 + 18 % IGV) dated `today`, on one line.
std::string factura(int numero, const std::string& serie = "F001") {
    return fmt::format(
        R"({{"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"{}","numero":{},)"
        R"("sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)"
        R"("cliente_denominacion":"CLIENTE SAC","cliente_direccion":"AV. LIMA 123","fecha_de_emision":"{}",)"
        R"("moneda":1,"porcentaje_de_igv":"18.00","total_gravada":"100.00","total_igv":"18.00","total":"118.00",)"
        R"("items":[{{"unidad_de_medida":"NIU","descripcion":"PRODUCTO","cantidad":"1","valor_unitario":"100",)"
        R"("precio_unitario":"118","subtotal":"100.00","tipo_de_igv":1,"igv":"18.00","total":"118.00"}}]}})",
        serie, numero, today);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A plain HTTP listener on 127.0.0.1 that records each request's Authorization header and answers
// 401 codigo 10, closing the connection: the form the client puts on the wire, exactly.
class capture_server {
  public:
    capture_server() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd_, 8) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            return;
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~capture_server() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) ::close(fd_);
    }
    int port() const { return port_; }
    std::vector<std::string> authorizations() const {
        std::lock_guard lk(mu_);
        return seen_;
    }

  private:
    void serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;  // wakes up to see stop_
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            timeval tv{5, 0};
            ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string req;
            char buf[4096];
            while (!contains(req, "\r\n\r\n")) {
                const ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                req.append(buf, static_cast<std::size_t>(n));
            }
            std::string lower = req;
            for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (auto at = lower.find("\r\nauthorization:"); at != std::string::npos) {
                auto from = at + 16;
                while (from < req.size() && req[from] == ' ') ++from;
                std::lock_guard lk(mu_);
                seen_.push_back(req.substr(from, req.find("\r\n", from) - from));
            }
            const std::string body = R"({"errors":"No se pudo autenticar","codigo":10})";
            const std::string resp =
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                "Connection: close\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body;
            (void)::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }

    int fd_ = -1, port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<std::string> seen_;
};

class Commands : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* bin = std::getenv("NUBEFACT_BINARY");
        if (!bin || !fs::exists(bin)) GTEST_SKIP() << "NUBEFACT_BINARY not set or missing";
        binary_ = bin;
        dir_ = fresh_scratch_dir("commands");
        store_ = "sqlite:" + (dir_ / "store.db").string();
        examples_ = fs::path(std::getenv("NUBEFACT_SOURCE_DIR")) / "examples";
    }
    void TearDown() override { remove_scratch_dir(dir_); }

    // `nubefact ARGS…` in dir_, with `env` on top of a NUBEFACT_*-free environment.
    run_result nf(const std::vector<std::string>& args, std::map<std::string, std::string> env = {},
                  const std::string& input = "") {
        return run(binary_, args, dir_, input, spawn_options{dir_, std::move(env)});
    }
    fs::path write(const std::string& name, const std::string& text) {
        spit(dir_ / name, text);
        return dir_ / name;
    }
    // F001-1 … F001-n issued at `emu` (journaled in the test's store).
    void issue(const emulator_process& emu, int n) {
        std::string lines;
        for (int i = 1; i <= n; ++i) lines += factura(i) + "\n";
        auto r = nf({"send", write("facturas.jsonl", lines).string(), "--store", store_, "--no-progress"},
                    emu.env());
        ASSERT_EQ(r.rc, 0) << r.out << r.err;
    }
    // `accounts add --name NAME --ruta RUTA --token-env TOKEN_VAR …` in the test's store.
    run_result add_account(const std::string& name, const std::string& ruta, const std::string& token,
                           std::vector<std::string> more = {}, std::map<std::string, std::string> env = {}) {
        std::vector<std::string> args{"accounts", "add",    "--store", store_,        "--name",
                                      name,       "--ruta", ruta,      "--token-env", "TOKEN_VAR"};
        args.insert(args.end(), more.begin(), more.end());
        env["TOKEN_VAR"] = token;
        return nf(args, std::move(env));
    }

    std::string binary_;
    fs::path dir_, examples_;
    std::string store_;
};

// ---- query -------------------------------------------------------------------------------------

TEST_F(Commands, QueryEachWhatFoundAndNotFoundMakesExactlyOneConsultation) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok()) << emu.proc->err();
    issue(emu, 1);
    auto r = nf({"void", "F001-1", "--motivo", "ERROR DEL SISTEMA", "--no-store"}, emu.env());
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    r = nf({"guide", (examples_ / "guia-remitente-T001-1.json").string(), "--no-wait", "--no-store"},
           emu.env());
    ASSERT_EQ(r.rc, 0) << r.out << r.err;

    struct probe {
        std::string what, found, missing, op;
    };
    for (const auto& p : {probe{"comprobante", "F001-1", "F001-99", "consultar_comprobante"},
                          probe{"anulacion", "F001-1", "F001-99", "consultar_anulacion"},
                          probe{"guia", "T001-1", "T001-99", "consultar_guia"}}) {
        SCOPED_TRACE(p.what);
        for (bool as_json : {false, true}) {
            for (const auto& key : {p.found, p.missing}) {
                const bool found = key == p.found;
                const auto before = emu.consultations(), before_op = emu.requests(p.op);
                std::vector<std::string> args{"query", key, "--what", p.what, "--no-store"};
                if (as_json) args.push_back("--json");
                r = nf(args, emu.env());
                // One query, one consultation, of the operation asked for (it made three before).
                EXPECT_EQ(emu.consultations() - before, 1) << key << r.err;
                EXPECT_EQ(emu.requests(p.op) - before_op, 1) << key;
                EXPECT_EQ(r.rc, found ? 0 : 1) << key << r.out << r.err;
                if (as_json) {
                    auto lines = parse_jsonl(r.out);
                    ASSERT_EQ(lines.size(), 1u) << r.out;
                    if (found) {
                        EXPECT_TRUE(lines[0].contains("enlace")) << r.out;
                    } else {
                        EXPECT_EQ(lines[0].at("document").as_string(), key);
                        EXPECT_EQ(lines[0].at("codigo").to_number<int>(), 24) << r.out;
                    }
                } else if (found) {
                    EXPECT_TRUE(contains(r.out, key + ": ")) << r.out;
                    EXPECT_TRUE(contains(r.out, "enlace")) << r.out;
                } else {
                    EXPECT_TRUE(contains(r.err, "codigo 24")) << r.err;
                }
            }
        }
    }
    // The voided factura says so (no --anulacion-delay: SUNAT accepts the anulación at once).
    r = nf({"query", "F001-1", "--no-store"}, emu.env());
    EXPECT_TRUE(contains(r.out, "ANULADO")) << r.out;
}

TEST_F(Commands, QueryBadSerieNumeroIsAUsageError) {
    for (const auto& bad : {"F001", "F001-", "F001-x", "F001-0", "-5"}) {
        auto r = nf({"query", bad, "--no-store"},
                    {{"NUBEFACT_RUTA", "http://127.0.0.1:9/api/v1/x"}, {"NUBEFACT_TOKEN", "t"}});
        EXPECT_EQ(r.rc, 2) << bad << r.err;
        EXPECT_TRUE(contains(r.err, bad)) << r.err;
    }
    const std::map<std::string, std::string> env{{"NUBEFACT_RUTA", "http://127.0.0.1:9/api/v1/x"},
                                                 {"NUBEFACT_TOKEN", "t"}};
    auto r = nf({"query", "X001-1", "--no-store"}, env);
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "--tipo")) << r.err;
    // A factura's serie is no guía (the emulator answered codigo 20 about tipo_de_comprobante).
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"query", "F001-1", "--what", "guia"}, {"guide", "B001-1"}}) {
        auto cmd = args;
        cmd.push_back("--no-store");
        r = nf(cmd, env);
        EXPECT_EQ(r.rc, 2) << args[1];
        EXPECT_TRUE(contains(r.err, "is not a guía")) << r.err;
    }
}

TEST_F(Commands, WrongTokenIsCodigo10) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    auto env = emu.env();
    env["NUBEFACT_TOKEN"] = "not-the-token";
    auto r = nf({"query", "F001-1", "--no-store"}, env);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.err, "codigo 10")) << r.err;
    EXPECT_TRUE(contains(r.err, "token")) << r.err;
    EXPECT_FALSE(contains(r.err + r.out, "not-the-token"));
    EXPECT_EQ(emu.requests("none"), 1);  // refused before the body is read; not retried
}

// ---- void and guide ----------------------------------------------------------------------------

TEST_F(Commands, VoidWithoutWaitShowsTheTicketWithWaitFollowsItUntilAccepted) {
    emulator_process emu(binary_, dir_, {"--anulacion-delay", "300"}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    issue(emu, 2);
    auto r = nf({"void", "F001-1", "--motivo", "ERROR DEL SISTEMA", "--no-store"}, emu.env());
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "F001-1: ")) << r.out;
    EXPECT_TRUE(contains(r.out, "not (yet) accepted by SUNAT")) << r.out;
    EXPECT_TRUE(contains(r.out, "sunat_ticket_numero")) << r.out;
    EXPECT_EQ(emu.requests("consultar_anulacion"), 0);

    r = nf({"void", "F001-2", "--motivo", "ERROR DEL SISTEMA", "--wait", "--no-store"}, emu.env());
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "aceptada por SUNAT")) << r.out;
    EXPECT_TRUE(contains(r.err, "waiting for SUNAT")) << r.err;
    EXPECT_GE(emu.requests("consultar_anulacion"), 1);

    // No --motivo with SERIE-NUMERO: refused before anything is sent.
    r = nf({"void", "F001-3", "--no-store"}, emu.env());
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.err, "--motivo")) << r.err;
    EXPECT_EQ(emu.requests("generar_anulacion"), 2);
}

TEST_F(Commands, VoidFileOfAnulaciones) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    issue(emu, 3);
    auto r = nf({"void", (examples_ / "anulacion-F001-3.json").string(), "--no-store", "--json"}, emu.env());
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = parse_jsonl(r.out);
    ASSERT_EQ(lines.size(), 1u) << r.out;
    EXPECT_TRUE(lines[0].contains("sunat_ticket_numero")) << r.out;
}

TEST_F(Commands, GuideWaitsForSunatByDefaultAndNotWithNoWait) {
    // Accepted 0.8 s after it is issued: the first consult (0.5 s) finds it pending, the next one not.
    emulator_process emu(binary_, dir_, {"--guia-delay", "800"}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    const auto guia = (examples_ / "guia-remitente-T001-1.json").string();
    auto r = nf({"guide", guia, "--no-store"}, emu.env());
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "T001-1: ")) << r.out;
    EXPECT_TRUE(contains(r.out, "aceptada por SUNAT")) << r.out;
    EXPECT_TRUE(contains(r.err, "waiting for SUNAT")) << r.err;
    const auto polls = emu.requests("consultar_guia");
    EXPECT_GE(polls, 2);  // pending, then accepted

    // The same file again with --no-wait: issued (23: the number is taken), no polling.
    const auto g2 = write("guia2.json", [&] {
        auto text = slurp(guia);
        auto at = text.find("\"numero\"");
        auto colon = text.find(':', at), end = text.find_first_of(",}", colon);
        return text.substr(0, colon + 1) + " 2" + text.substr(end);
    }());
    r = nf({"guide", g2.string(), "--no-wait", "--no-store"}, emu.env());
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "T001-2: ")) << r.out;
    EXPECT_EQ(emu.requests("consultar_guia"), polls);
    // Following an issued guía by its SERIE-NUMERO.
    r = nf({"guide", "T001-2", "--no-store"}, emu.env());
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "aceptada por SUNAT")) << r.out;
}

// ---- accounts ----------------------------------------------------------------------------------

TEST_F(Commands, AccountsAddListSetRemove) {
    const std::string token = "tok-0123456789-secret";
    auto r = add_account("acme", "https://api.nubefact.com/api/v1/abc", token, {"--ruc", "20600695771"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "added account acme")) << r.out;
    r = add_account("acme", "https://api.nubefact.com/api/v1/abc", token);
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.err, "already exists")) << r.err;
    // The RUC check digit, as `validate` checks a RUC: 20600695771 is valid, ...772 is not.
    r = add_account("bad", "https://api.nubefact.com/api/v1/abc", token, {"--ruc", "20600695772"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "20600695772 is not a valid RUC")) << r.err;
    r = add_account("bad", "https://api.nubefact.com/api/v1/abc", token, {"--ruc", "2060069577"});
    EXPECT_EQ(r.rc, 2);
    r = add_account("bad", "not-a-url", token);
    EXPECT_EQ(r.rc, 2);

    r = nf({"accounts", "set", "--store", store_, "--name", "acme", "--rate", "5", "--auth", "token",
            "--concurrency", "3", "--request-timeout", "30s"});
    ASSERT_EQ(r.rc, 0) << r.err;
    r = nf({"accounts", "list", "--store", store_});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "acme")) << r.out;
    EXPECT_TRUE(contains(r.out, "AUTH")) << r.out;
    EXPECT_FALSE(contains(r.out + r.err, token));
    r = nf({"accounts", "list", "--store", store_, "--json"});
    auto rows = parse_jsonl(r.out);
    ASSERT_EQ(rows.size(), 1u) << r.out;
    EXPECT_EQ(rows[0].at("name").as_string(), "acme");
    EXPECT_EQ(rows[0].at("ruc").as_string(), "20600695771");
    EXPECT_EQ(rows[0].at("auth").as_string(), "token");
    EXPECT_EQ(rows[0].at("rate").to_number<double>(), 5.0);
    EXPECT_EQ(rows[0].at("max_concurrency").to_number<int>(), 3);
    EXPECT_EQ(rows[0].at("request_timeout_ms").to_number<int>(), 30000);
    EXPECT_FALSE(contains(r.out, token));

    r = nf({"accounts", "set", "--store", store_, "--name", "nobody", "--rate", "1"});
    EXPECT_EQ(r.rc, 1);
    r = nf({"accounts", "remove", "--store", store_, "--name", "acme"});
    EXPECT_EQ(r.rc, 0) << r.err;
    r = nf({"accounts", "remove", "--store", store_, "--name", "acme"});
    EXPECT_EQ(r.rc, 1);
    r = nf({"accounts", "list", "--store", store_});
    EXPECT_TRUE(contains(r.out, "no accounts")) << r.out;
}

TEST_F(Commands, DisabledAccountIsRefusedBySendUntilEnabled) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    ASSERT_EQ(add_account("off", emu.ruta, emu.token, {"--disabled", "--rate", "0"}).rc, 0);
    const auto doc = write("f.json", factura(1));
    auto r = nf({"send", doc.string(), "--store", store_, "--account", "off", "--no-progress"});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, "account 'off' is disabled")) << r.err;
    EXPECT_EQ(emu.requests("generar_comprobante"), 0);
    // Also when it is the only account and none is named.
    r = nf({"send", doc.string(), "--store", store_, "--no-progress"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "disabled")) << r.err;

    ASSERT_EQ(nf({"accounts", "set", "--store", store_, "--name", "off", "--enable"}).rc, 0);
    r = nf({"send", doc.string(), "--store", store_, "--account", "off", "--no-progress"});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(emu.requests("generar_comprobante"), 1);
}

TEST_F(Commands, StoredAuthSchemeReachesTheWire) {
    capture_server wire;
    ASSERT_GT(wire.port(), 0);
    const auto ruta = "http://127.0.0.1:" + std::to_string(wire.port()) + "/api/v1/demo";
    ASSERT_EQ(add_account("tok", ruta, "secret-1", {"--auth", "token"}).rc, 0);
    ASSERT_EQ(add_account("bare", ruta, "secret-2").rc, 0);
    auto r = nf({"query", "F001-1", "--store", store_, "--account", "tok"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.err, "codigo 10")) << r.err;
    r = nf({"query", "F001-1", "--store", store_, "--account", "bare"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(wire.authorizations(), (std::vector<std::string>{"Token token=\"secret-1\"", "secret-2"}));
    EXPECT_FALSE(contains(r.out + r.err, "secret-2"));
}

TEST_F(Commands, AccountChoiceMistakesSayWhatToDo) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    ASSERT_EQ(add_account("alpha", emu.ruta, emu.token).rc, 0);
    ASSERT_EQ(add_account("beta", emu.ruta, emu.token).rc, 0);
    const auto toml = write("nubefact.toml",
                            "[accounts.gamma]\nruta = \"" + emu.ruta + "\"\ntoken = \"" + emu.token + "\"\n");

    // Unknown name: the known ones, from the store and the file (./nubefact.toml is read by default).
    auto r = nf({"query", "F001-1", "--store", store_, "--account", "nope"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "no account named 'nope'")) << r.err;
    EXPECT_TRUE(contains(r.err, "alpha, beta")) << r.err;
    EXPECT_TRUE(contains(r.err, "nubefact.toml: gamma")) << r.err;
    EXPECT_FALSE(contains(r.err, "ruta is empty")) << r.err;
    r = nf({"query", "F001-1", "--no-store", "--account", "alpha"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "with --no-store the store's accounts are not read")) << r.err;
    // Several and no --account: pick one.
    r = nf({"query", "F001-1", "--store", store_});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "several accounts")) << r.err;
    EXPECT_TRUE(contains(r.err, "--account")) << r.err;
    EXPECT_TRUE(contains(r.err, "gamma")) << r.err;
    // Each one works when named: store, file, NUBEFACT_ACCOUNT.
    for (const auto& name : {"alpha", "gamma"}) {
        r = nf({"query", "F001-1", "--store", store_, "--account", name});
        EXPECT_EQ(r.rc, 1) << name << r.err;  // found no document: the account itself was fine
        EXPECT_TRUE(contains(r.err, "codigo 24")) << name << r.err;
    }
    r = nf({"query", "F001-1", "--store", store_}, {{"NUBEFACT_ACCOUNT", "beta"}});
    EXPECT_TRUE(contains(r.err, "codigo 24")) << r.err;
    EXPECT_EQ(emu.requests("consultar_comprobante"), 3);
}

TEST_F(Commands, LockedTokenAsksForTheSecretKeyAndNeverShowsTheToken) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    ASSERT_EQ(add_account("locked", emu.ruta, emu.token, {}, {{"NUBEFACT_SECRET_KEY", "k-one"}}).rc, 0);
    auto r = nf({"query", "F001-1", "--store", store_, "--account", "locked"});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "account 'locked'")) << r.err;
    EXPECT_TRUE(contains(r.err, "NUBEFACT_SECRET_KEY is not set")) << r.err;
    r = nf({"query", "F001-1", "--store", store_, "--account", "locked"}, {{"NUBEFACT_SECRET_KEY", "k-two"}});
    EXPECT_EQ(r.rc, 2);
    EXPECT_TRUE(contains(r.err, "not the key it was stored with")) << r.err;
    EXPECT_FALSE(contains(r.out + r.err, emu.token));
    EXPECT_EQ(emu.requests("consultar_comprobante"), 0);
    r = nf({"query", "F001-1", "--store", store_, "--account", "locked"}, {{"NUBEFACT_SECRET_KEY", "k-one"}});
    EXPECT_TRUE(contains(r.err, "codigo 24")) << r.err;
    r = nf({"accounts", "list", "--store", store_});
    EXPECT_TRUE(contains(r.out, "(locked)")) << r.out;
}

// ---- status and log ----------------------------------------------------------------------------

TEST_F(Commands, StatusAndLogFilters) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok());
    issue(emu, 2);
    auto q = nf({"query", "F001-9", "--store", store_}, emu.env());  // codigo 24, an api_error row
    ASSERT_EQ(q.rc, 1) << q.err;

    auto r = nf({"status", "F001-1", "--store", store_});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "F001-1")) << r.out;
    EXPECT_TRUE(contains(r.out, "accepted")) << r.out;
    r = nf({"status", "F001-1", "--store", store_, "--json", "--tipo", "1", "--account", "default"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(parse_jsonl(r.out).size(), 1u) << r.out;
    r = nf({"status", "F001-1", "--store", store_, "--tipo", "2"});
    EXPECT_EQ(r.rc, 1);
    r = nf({"status", "F001-1", "--store", store_, "--account", "someone-else"});
    EXPECT_EQ(r.rc, 1);
    r = nf({"status", "F001-77", "--store", store_});
    EXPECT_EQ(r.rc, 1);
    EXPECT_TRUE(contains(r.err, "not in the store")) << r.err;
    r = nf({"status", "F001", "--store", store_});
    EXPECT_EQ(r.rc, 2);

    auto rows = [&](std::vector<std::string> filters) {
        std::vector<std::string> args{"log", "--store", store_, "--json"};
        args.insert(args.end(), filters.begin(), filters.end());
        auto res = nf(args);
        EXPECT_EQ(res.rc, 0) << res.err;
        return parse_jsonl(res.out);
    };
    EXPECT_EQ(rows({}).size(), 3u);
    EXPECT_EQ(rows({"--operation", "generar_comprobante"}).size(), 2u);
    EXPECT_EQ(rows({"--operation", "consultar_comprobante"}).size(), 1u);
    auto err_rows = rows({"--status", "api_error"});
    ASSERT_EQ(err_rows.size(), 1u);
    EXPECT_EQ(err_rows[0].at("document").as_string(), "F001-9");
    EXPECT_EQ(err_rows[0].at("codigo").to_number<int>(), 24);
    EXPECT_EQ(rows({"--status", "ok"}).size(), 2u);
    EXPECT_EQ(rows({"--account", "default"}).size(), 3u);
    EXPECT_EQ(rows({"--account", "someone-else"}).size(), 0u);
    EXPECT_EQ(rows({"--since", "1h"}).size(), 3u);
    EXPECT_EQ(rows({"--since", "2100-01-01"}).size(), 0u);
    EXPECT_EQ(rows({"--limit", "1"}).size(), 1u);
    for (const auto& bad : {"yesterday", "2999-01-01"}) {  // past 2262 a time_point overflows
        r = nf({"log", "--store", store_, "--since", bad});
        EXPECT_EQ(r.rc, 2) << bad;
        EXPECT_TRUE(contains(r.err, "--since")) << r.err;
    }
    r = nf({"log", "--store", store_});
    EXPECT_EQ(r.rc, 0);
    EXPECT_TRUE(contains(r.out, "OPERATION")) << r.out;
    EXPECT_TRUE(contains(r.out, "consultar_comprobante")) << r.out;
    // --bodies prints what --audit-bodies kept (tokens never: the emulator's is not in them).
    q = nf({"query", "F001-1", "--store", store_, "--audit-bodies"}, emu.env());
    ASSERT_EQ(q.rc, 0) << q.err;
    r = nf({"log", "--store", store_, "--bodies", "--operation", "consultar_comprobante", "--status", "ok"});
    EXPECT_TRUE(contains(r.out, "    > ")) << r.out;
    EXPECT_TRUE(contains(r.out, "    < ")) << r.out;
    EXPECT_FALSE(contains(r.out, emu.token)) << r.out;
}

// ---- validate, complete, bench, emulator (smoke) -----------------------------------------------

TEST_F(Commands, VersionIsTheGeneratedOne) {
    auto r = nf({"--version"});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.out, "nubefact " NUBEFACT_VERSION "\n");
}

TEST_F(Commands, ValidateAndCompleteSmoke) {
    const auto full = write("full.json", factura(1));
    auto r = nf({"validate", full.string()});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    auto minimal = factura(2);
    const auto cut = minimal.find(R"(,"total_gravada")");
    minimal = minimal.substr(0, cut) + R"(,"items":[{"unidad_de_medida":"NIU","descripcion":"P",)"
                                       R"("cantidad":"2","valor_unitario":"50","tipo_de_igv":1}]})";
    const auto part = write("part.json", minimal);
    r = nf({"validate", part.string()});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    r = nf({"complete", part.string()});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "\"total\"")) << r.out;
    const auto done = write("done.json", r.out);
    r = nf({"validate", done.string()});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
}

TEST_F(Commands, BenchAgainstAnExternalEmulatorSmoke) {
    emulator_process emu(binary_, dir_, {"--allow-duplicates"}, {});  // bench dates its documents today
    ASSERT_TRUE(emu.ok());
    auto r = nf({"bench", "-n", "20", "-c", "2", "--url", emu.ruta, "--token", emu.token, "-q"});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto out = json::parse(r.out).as_object();
    ASSERT_TRUE(out.contains("runs")) << r.out;
    const auto& run0 = out.at("runs").as_array().at(0).as_object();
    EXPECT_EQ(run0.at("ok").to_number<int>(), 20) << r.out;
    EXPECT_FALSE(contains(r.out + r.err, emu.token));
}

// The emulator, like the gateway, closes after its last answer without losing it: pipelined
// requests, a bad one, then bytes it will not read (net/linger.hpp).
TEST_F(Commands, EmulatorPipelinedAnswersArriveWholeBeforeTheClose) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    std::string raw;
    for (int i = 0; i < 100; ++i) raw += "GET /api/v1/demo HTTP/1.1\r\nHost: x\r\n\r\n";
    raw += "NOT HTTP AT ALL\r\n\r\n" + std::string(64 * 1024, 'x');
    std::string tail;
    const auto answers = http_pipelined(emu.port, raw, &tail);
    ASSERT_EQ(answers.size(), 101u) << tail.size() << " bytes after answer " << answers.size();
    EXPECT_EQ(answers[100].status, 400);
    EXPECT_TRUE(tail.empty());
}

TEST_F(Commands, EmulatorStartsPrintsItsUrlAnswersAndStopsOnSigterm) {
    emulator_process emu(binary_, dir_, {}, {"--today", today});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    EXPECT_TRUE(contains(emu.proc->out(), "listening on http://127.0.0.1:" + std::to_string(emu.port)));
    EXPECT_EQ(emu.ruta, "http://127.0.0.1:" + std::to_string(emu.port) + "/api/v1/demo");
    auto r = nf({"query", "F001-1", "--no-store"}, emu.env());
    EXPECT_TRUE(contains(r.err, "codigo 24")) << r.err;
    emu.proc->signal(SIGTERM);
    EXPECT_EQ(emu.proc->wait(), 0);
    EXPECT_TRUE(contains(emu.proc->out(), "stopping (SIGTERM)")) << emu.proc->out();
    EXPECT_TRUE(contains(emu.proc->out(), "served 1 requests")) << emu.proc->out();
}

}  // namespace
