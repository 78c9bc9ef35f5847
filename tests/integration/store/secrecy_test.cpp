// Token secrecy: a test token never reaches the SQLite file's api_calls rows, the raw file bytes
// (with NUBEFACT_SECRET_KEY), the CLI's output or its error messages.
#include "integration/store/support.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace nubefact::store::testing {
namespace {

const std::string token = "5e3c9a1f77d04b2e8c6a0d9f1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e";

std::string file_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Every byte of the database, its WAL and shared-memory files.
std::string all_bytes(const std::filesystem::path& db) {
    std::string out;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        auto p = db.string() + suffix;
        if (std::filesystem::exists(p)) out += file_bytes(p);
    }
    return out;
}

std::string dump_table(const std::filesystem::path& db, const char* table) {
    sqlite3* h = nullptr;
    std::string out;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        std::string sql = std::string("SELECT * FROM ") + table;
        sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                auto* t = sqlite3_column_text(st, c);
                if (t) out += reinterpret_cast<const char*>(t);
                out += '|';
            }
            out += '\n';
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return out;
}

account test_account(std::string name) {
    account a;
    a.config.name = std::move(name);
    a.ruc = "20600695771";
    a.config.ruta = "https://api.nubefact.com/api/v1/48239908-7ae7-4353-824d-071765d4";
    a.config.token = token;
    return a;
}

// A careless client that leaks the token into bodies and error texts: the store scrubs them.
void write_leaky_rows(store& s) {
    for (int i = 0; i < 50; ++i) {
        auto a = make_audit("acme", "F001-" + std::to_string(i), i % 2 ? "ok" : "api_error");
        a.request_body = R"({"operacion":"generar_comprobante","token":")" + token + R"("})";
        a.response_body = "Authorization: Token token=\"" + token + "\"";
        write_audit(s.audit(), std::move(a));
    }
    auto i = make_intent("acme", "F001", 1);
    ASSERT_TRUE(record_sync(s.journal(), i));
    state_update u;
    u.state = doc_state::failed;
    u.error = "401 with token " + token;
    ASSERT_TRUE(update_sync(s.journal(), "acme", i.key, u));
    s.flush();
}

TEST(token_secrecy, never_in_api_calls_or_documents_even_without_a_key) {
    sqlite_backend b;
    store_options o;
    o.secret_key = "";
    auto s = open_or_die(b.url(), o);
    ASSERT_TRUE(s->add_account(test_account("acme")));
    write_leaky_rows(*s);
    s->close();
    s.reset();
    auto calls = dump_table(b.path(), "api_calls");
    EXPECT_NE(calls.find("generar_comprobante"), std::string::npos);
    EXPECT_EQ(calls.find(token), std::string::npos);
    EXPECT_NE(calls.find("***"), std::string::npos);  // scrubbed, not dropped
    EXPECT_EQ(dump_table(b.path(), "documents").find(token), std::string::npos);
    // Without NUBEFACT_SECRET_KEY the accounts table holds the token in clear (documented).
    EXPECT_NE(dump_table(b.path(), "accounts").find(token), std::string::npos);
}

TEST(token_secrecy, nowhere_in_the_file_with_a_key) {
    sqlite_backend b;
    store_options o;
    o.secret_key = "test-secret-key";
    {
        auto s = open_or_die(b.url(), o);
        ASSERT_TRUE(s->add_account(test_account("acme")));
        write_leaky_rows(*s);
        auto got = s->find_account("acme");
        ASSERT_TRUE(got && *got);
        EXPECT_EQ((*got)->config.token, token);
        // Still open: the WAL holds the latest pages.
        EXPECT_EQ(all_bytes(b.path()).find(token), std::string::npos);
    }
    auto bytes = all_bytes(b.path());
    ASSERT_FALSE(bytes.empty());
    EXPECT_EQ(bytes.find(token), std::string::npos);
    EXPECT_NE(dump_table(b.path(), "accounts").find("enc:v1:"), std::string::npos);
}

struct run_result {
    int status = -1;
    std::string output;  // stdout and stderr
};

run_result run(const std::string& cmd) {
    run_result r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

TEST(token_secrecy, cli_output_and_errors_never_show_it) {
    // NUBEFACT_BINARY, else the binary beside tests/ in this build directory.
    std::string bin;
    if (const char* env = std::getenv("NUBEFACT_BINARY"); env && *env)
        bin = env;
    else
        bin = (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "nubefact")
                  .string();
    if (!std::filesystem::exists(bin)) GTEST_SKIP() << "the nubefact binary is not built: " << bin;
    sqlite_backend b;
    const std::string nf = bin + " ";
    const std::string st = " --store " + b.url();
    ::setenv("NUBEFACT_TEST_TOKEN", token.c_str(), 1);
    ::setenv("NUBEFACT_SECRET_KEY", "cli-test-key", 1);
    std::string all;
    auto step = [&](const std::string& args, int want) {
        auto r = run(nf + args);
        EXPECT_EQ(r.status, want) << args << "\n" << r.output;
        all += r.output;
        return r;
    };
    step(
        "accounts add --name acme --ruc 20600695771 --ruta https://api.nubefact.com/api/v1/abc "
        "--token-env NUBEFACT_TEST_TOKEN" +
            st,
        0);
    step(
        "accounts add --name acme --ruc 20600695771 --ruta https://api.nubefact.com/api/v1/abc "
        "--token-env NUBEFACT_TEST_TOKEN" +
            st,
        1);  // duplicate: an error message
    auto list = step("accounts list" + st, 0);
    EXPECT_NE(list.output.find(token.substr(token.size() - 4)), std::string::npos);  // last 4 shown
    step("accounts list --json" + st, 0);
    step("accounts set --name acme --rate 2 --token-env NUBEFACT_TEST_TOKEN" + st, 0);
    step("accounts set --name nobody --rate 2" + st, 1);
    {
        // Leaky rows written through the library, then read back through the CLI.
        store_options o;
        o.secret_key = "cli-test-key";
        auto s = open_or_die(b.url(), o);
        write_leaky_rows(*s);
    }
    step("log --bodies" + st, 0);
    step("log --json --bodies --since 1h" + st, 0);
    step("status F001-1" + st, 1);  // failed, not accepted
    step("status F001-1 --json" + st, 1);
    // Without the key the token cannot be used and is not shown either.
    ::unsetenv("NUBEFACT_SECRET_KEY");
    step("accounts list" + st, 0);
    EXPECT_EQ(all.find(token), std::string::npos) << all;
    EXPECT_EQ(all_bytes(b.path()).find(token), std::string::npos);
    ::unsetenv("NUBEFACT_TEST_TOKEN");
}

}  // namespace
}  // namespace nubefact::store::testing
