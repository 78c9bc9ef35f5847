// PostgreSQL connection over libpq: prepared statements, text parameters, one reconnect on loss.
#include "db.hpp"

#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace nubefact::store::detail {
namespace {

// SQLSTATE classes: 23 integrity, 40001 serialization, 40P01 deadlock, 55P03 lock not available.
error_code map_sqlstate(const char* state) {
    if (!state) return store_errc::query_failed;
    if (std::strncmp(state, "23", 2) == 0) return store_errc::constraint;
    if (std::strcmp(state, "40001") == 0 || std::strcmp(state, "40P01") == 0 ||
        std::strcmp(state, "55P03") == 0)
        return store_errc::busy;
    if (std::strncmp(state, "08", 2) == 0) return store_errc::closed;
    return store_errc::query_failed;
}

struct result_guard {
    PGresult* r;
    ~result_guard() { PQclear(r); }
};

class pg_connection final : public connection {
  public:
    explicit pg_connection(PGconn* c) : conn_(c) {}
    ~pg_connection() override { PQfinish(conn_); }

    dialect kind() const noexcept override { return dialect::postgresql; }
    const std::string& last_error() const noexcept override { return error_; }

    result<rows> query(std::string_view sql, std::span<const value> params) override {
        PGresult* raw = nullptr;
        if (auto ec = run_prepared(sql, params, raw)) return ec;
        result_guard r{raw};
        rows out;
        int n = PQntuples(r.r), nf = PQnfields(r.r);
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            row rw(static_cast<std::size_t>(nf));
            for (int f = 0; f < nf; ++f) {
                if (PQgetisnull(r.r, i, f)) continue;
                rw[static_cast<std::size_t>(f)].emplace(PQgetvalue(r.r, i, f),
                                                        static_cast<std::size_t>(PQgetlength(r.r, i, f)));
            }
            out.push_back(std::move(rw));
        }
        return out;
    }

    result<std::int64_t> execute(std::string_view sql, std::span<const value> params) override {
        PGresult* raw = nullptr;
        if (auto ec = run_prepared(sql, params, raw)) return ec;
        result_guard r{raw};
        const char* n = PQcmdTuples(r.r);
        return static_cast<std::int64_t>(n && *n ? std::strtoll(n, nullptr, 10) : 0);
    }

    result<void> exec(std::string_view script) override {
        if (!ensure_connected()) return store_errc::closed;
        std::string s(script);
        result_guard r{PQexec(conn_, s.c_str())};
        auto st = PQresultStatus(r.r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return fail(r.r);
        return {};
    }

    bool supports_copy() const noexcept override { return true; }

    result<void> copy_in(std::string_view table_and_columns, std::size_t ncols,
                         std::span<const value> values) override {
        if (!ensure_connected()) return store_errc::closed;
        std::string sql = "COPY " + std::string(table_and_columns) + " FROM STDIN";
        {
            result_guard r{PQexec(conn_, sql.c_str())};
            if (PQresultStatus(r.r) != PGRES_COPY_IN) return fail(r.r);
        }
        std::string buf;
        buf.reserve(values.size() * 16);
        for (std::size_t i = 0; i < values.size(); ++i) {
            const value& v = values[i];
            if (std::holds_alternative<std::monostate>(v)) {
                buf += "\\N";
            } else if (auto* n = std::get_if<std::int64_t>(&v)) {
                buf += std::to_string(*n);
            } else if (auto* d = std::get_if<double>(&v)) {
                char tmp[64];
                std::snprintf(tmp, sizeof tmp, "%.17g", *d);
                buf += tmp;
            } else {
                auto* sv = std::get_if<std::string_view>(&v);
                for (char c : sv ? *sv : std::string_view(std::get<std::string>(v))) {
                    switch (c) {
                        case '\\':
                            buf += "\\\\";
                            break;
                        case '\n':
                            buf += "\\n";
                            break;
                        case '\r':
                            buf += "\\r";
                            break;
                        case '\t':
                            buf += "\\t";
                            break;
                        default:
                            buf += c;
                    }
                }
            }
            buf += (i + 1) % ncols == 0 ? '\n' : '\t';
        }
        bool ok = PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size())) == 1 &&
                  PQputCopyEnd(conn_, nullptr) == 1;
        error_code ec;
        // Drain every result: COPY ends with one command result (or an error).
        for (PGresult* r; (r = PQgetResult(conn_)) != nullptr;) {
            result_guard g{r};
            if (PQresultStatus(r) != PGRES_COMMAND_OK && !ec) ec = fail(r);
        }
        if (!ok && !ec) {
            error_ = "COPY failed";
            ec = store_errc::query_failed;
        }
        if (ec) return ec;
        return {};
    }

    result<void> begin_write() override { return exec("BEGIN"); }
    result<void> commit() override {
        auto r = exec("COMMIT");
        if (!r) rollback();
        return r;
    }
    void rollback() noexcept override {
        if (PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
            PGresult* r = PQexec(conn_, "ROLLBACK");
            PQclear(r);
        }
    }

  private:
    // Prepares `sql` once per session (cached by its text) and runs it with `params` as text.
    // On success `out` holds the result (the caller clears it).
    error_code run_prepared(std::string_view sql, std::span<const value> params, PGresult*& out) {
        if (!ensure_connected()) return store_errc::closed;
        const std::string* name = nullptr;
        if (auto it = prepared_.find(sql); it != prepared_.end()) {
            name = &it->second;
        } else {
            if (prepared_.size() > 512) deallocate_all();
            std::string key(sql);
            std::string fresh = "nf" + std::to_string(++next_id_);
            result_guard p{PQprepare(conn_, fresh.c_str(), key.c_str(), 0, nullptr)};
            if (PQresultStatus(p.r) != PGRES_COMMAND_OK) return fail(p.r);
            name = &prepared_.emplace(std::move(key), std::move(fresh)).first->second;
        }
        texts_.resize(params.size());
        ptrs_.assign(params.size(), nullptr);
        for (std::size_t i = 0; i < params.size(); ++i) {
            const value& v = params[i];
            if (std::holds_alternative<std::monostate>(v)) continue;
            if (auto* n = std::get_if<std::int64_t>(&v)) {
                texts_[i] = std::to_string(*n);
                ptrs_[i] = texts_[i].c_str();
            } else if (auto* d = std::get_if<double>(&v)) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.17g", *d);
                texts_[i] = buf;
                ptrs_[i] = texts_[i].c_str();
            } else if (auto* sv = std::get_if<std::string_view>(&v)) {
                texts_[i].assign(sv->data(), sv->size());  // libpq wants a NUL-terminated text
                ptrs_[i] = texts_[i].c_str();
            } else {
                // libpq reads text parameters up to their NUL: std::string's c_str() has one.
                ptrs_[i] = std::get<std::string>(v).c_str();
            }
        }
        PGresult* r = PQexecPrepared(conn_, name->c_str(), static_cast<int>(params.size()), ptrs_.data(),
                                     nullptr, nullptr, 0);
        auto st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            result_guard g{r};
            return fail(r);
        }
        out = r;
        return {};
    }

    // A dropped connection is re-established once, outside any transaction; prepared statements
    // die with the old session.
    bool ensure_connected() {
        if (PQstatus(conn_) == CONNECTION_OK) return true;
        PQreset(conn_);
        prepared_.clear();
        if (PQstatus(conn_) != CONNECTION_OK) {
            error_ = "connection to PostgreSQL lost";
            return false;
        }
        return true;
    }
    void deallocate_all() {
        PGresult* r = PQexec(conn_, "DEALLOCATE ALL");
        PQclear(r);
        prepared_.clear();
    }
    // Only the primary message: DETAIL lines can echo row values (a token in "Failing row contains").
    error_code fail(PGresult* r) {
        const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
        error_ = primary ? primary : "PostgreSQL connection error";
        if (PQstatus(conn_) != CONNECTION_OK) return store_errc::closed;
        return map_sqlstate(r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr);
    }

    PGconn* conn_;
    struct sv_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::string, sv_hash, std::equal_to<>> prepared_;
    std::vector<std::string> texts_;  // scratch for parameters as text, reused
    std::vector<const char*> ptrs_;
    unsigned long next_id_ = 0;
    std::string error_;
};

}  // namespace

result<std::unique_ptr<connection>> open_postgresql(const std::string& conninfo, std::string* diagnostic) {
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (!c || PQstatus(c) != CONNECTION_OK) {
        // libpq's message names host/port/user, never the password.
        if (diagnostic) *diagnostic = c ? PQerrorMessage(c) : "out of memory";
        while (diagnostic && !diagnostic->empty() && (diagnostic->back() == '\n')) diagnostic->pop_back();
        PQfinish(c);
        return store_errc::open_failed;
    }
    auto conn = std::make_unique<pg_connection>(c);
    auto r = conn->exec("SET client_min_messages = warning");
    if (!r) {
        if (diagnostic) *diagnostic = conn->last_error();
        return store_errc::open_failed;
    }
    return std::unique_ptr<connection>(std::move(conn));
}

}  // namespace nubefact::store::detail
