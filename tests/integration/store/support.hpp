// Test support for the store: backends (temp SQLite file, throw-away PostgreSQL schema) and
// blocking wrappers around the asynchronous journal.
#pragma once

#include <nubefact/store.hpp>

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <random>
#include <string>

namespace nubefact::store::testing {

// PRAGMA integrity_check of the SQLite file at `path` ("ok" when sound), opened without the store.
inline std::string integrity_check(const std::filesystem::path& path) {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
        while (st && sqlite3_step(st) == SQLITE_ROW)
            out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    } else {
        out = "cannot open";
    }
    sqlite3_close(db);
    return out;
}

// A fresh SQLite database file in its own temporary directory, removed at destruction.
class sqlite_backend {
  public:
    static constexpr bool is_pg = false;
    sqlite_backend() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "nubefact-store-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        path_ = dir_ / "store.db";
    }
    ~sqlite_backend() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    bool available() const { return true; }
    std::string url() const { return "sqlite:" + path_.string(); }
    const std::filesystem::path& path() const { return path_; }
    const std::filesystem::path& dir() const { return dir_; }

  private:
    std::filesystem::path dir_, path_;
};

// Runs one statement on PostgreSQL (test setup only); false on failure.
inline bool pg_exec(const std::string& conninfo, const std::string& sql) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    bool ok = PQstatus(c) == CONNECTION_OK;
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);  // DROP … CASCADE notices
    if (ok) {
        PGresult* r = PQexec(c, sql.c_str());
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    PQfinish(c);
    return ok;
}

// A fresh schema in the database named by NUBEFACT_TEST_PG_URL (dropped at destruction); the
// URL puts it first on search_path, so tests running in parallel never see each other's rows.
class pg_backend {
  public:
    static constexpr bool is_pg = true;
    pg_backend() {
        const char* env = std::getenv("NUBEFACT_TEST_PG_URL");
        if (!env || !*env) return;
        base_ = env;
        std::random_device rd;
        schema_ = "nf_test_" + std::to_string(::getpid()) + "_" + std::to_string(rd() % 1000000);
        if (!pg_exec(base_, "CREATE SCHEMA " + schema_))
            throw std::runtime_error("cannot create test schema");
    }
    ~pg_backend() {
        if (!schema_.empty()) pg_exec(base_, "DROP SCHEMA " + schema_ + " CASCADE");
    }
    bool available() const { return !schema_.empty(); }
    std::string url() const {
        return base_ + (base_.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" +
               schema_;
    }

  private:
    std::string base_, schema_;
};

inline std::unique_ptr<store> open_or_die(const std::string& url, store_options opt = {}) {
    std::string why;
    auto s = open_store(url, std::move(opt), &why);
    if (!s) throw std::runtime_error("open_store failed: " + s.error().message() + ": " + why);
    return std::move(*s);
}

inline result<intent_journal::record_result> record_sync(intent_journal& j, const intent& i) {
    std::promise<result<intent_journal::record_result>> p;
    auto f = p.get_future();
    j.record(i, [&p](result<intent_journal::record_result> r) { p.set_value(std::move(r)); });
    return f.get();
}

inline result<void> update_sync(intent_journal& j, const std::string& account, const document_key& key,
                                const state_update& u) {
    std::promise<result<void>> p;
    auto f = p.get_future();
    j.update(account, key, u, [&p](result<void> r) { p.set_value(r); });
    return f.get();
}

inline result<std::optional<intent_record>> find_sync(intent_journal& j, const std::string& account,
                                                      const document_key& key,
                                                      std::optional<operation> op = std::nullopt) {
    std::promise<result<std::optional<intent_record>>> p;
    auto f = p.get_future();
    auto cb = [&p](result<std::optional<intent_record>> r) { p.set_value(std::move(r)); };
    if (op)
        j.find(account, *op, key, cb);
    else
        j.find(account, key, cb);
    return f.get();
}

// Writes with back-pressure: try_write, and on a full queue wait_for_space then retry.
inline void write_audit(audit_sink& sink, audit_record r) {
    while (!sink.try_write(audit_record(r))) {
        std::promise<void> p;
        auto f = p.get_future();
        sink.wait_for_space([&p] { p.set_value(); });
        f.wait();
    }
}

inline intent make_intent(std::string account, std::string serie, std::int64_t numero,
                          std::string hash = "h1", operation op = operation::generar_comprobante,
                          int tipo = 1) {
    intent i;
    i.account = std::move(account);
    i.op = op;
    i.key = {tipo, std::move(serie), numero};
    i.payload_hash = std::move(hash);
    i.payload =
        R"({"operacion":")" + std::string(to_string(op)) + R"(","numero":)" + std::to_string(numero) + "}";
    return i;
}

inline audit_record make_audit(std::string account, std::string document, std::string outcome = "ok") {
    audit_record a;
    a.at = std::chrono::system_clock::now();
    a.account = std::move(account);
    a.operation = "generar_comprobante";
    a.document = std::move(document);
    a.http_status = 200;
    a.outcome = std::move(outcome);
    a.latency = std::chrono::microseconds(1234);
    a.request_bytes = 900;
    a.response_bytes = 400;
    return a;
}

inline std::size_t count_audit(store& s, const std::string& account = {}) {
    log_query q;
    q.account = account;
    q.limit = 10'000'000;
    auto r = s.query_log(q);
    return r ? r->size() : 0;
}

}  // namespace nubefact::store::testing
