// PostgreSQL connection over libpq: prepared statements, text parameters, one reconnect on loss.
#include "db.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

namespace nubefact::store::detail {
namespace {

// SQLSTATE classes: 23 integrity, 40001 serialization, 40P01 deadlock, 55P03 lock not available,
// 08 connection; 53100 disk full, 58030 I/O error, 25006 read-only transaction, XX001/XX002 corrupt.
error_code map_sqlstate(const char* state) {
    if (!state) return store_errc::query_failed;
    if (std::strncmp(state, "23", 2) == 0) return store_errc::constraint;
    if (std::strcmp(state, "40001") == 0 || std::strcmp(state, "40P01") == 0 ||
        std::strcmp(state, "55P03") == 0)
        return store_errc::busy;
    if (std::strncmp(state, "08", 2) == 0) return store_errc::closed;
    if (std::strcmp(state, "53100") == 0) return store_errc::disk_full;
    if (std::strcmp(state, "58030") == 0) return store_errc::io_error;
    if (std::strcmp(state, "25006") == 0) return store_errc::read_only;
    if (std::strcmp(state, "XX001") == 0 || std::strcmp(state, "XX002") == 0) return store_errc::corrupt;
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
        return to_rows(r.r);
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

    bool supports_pipeline() const noexcept override { return true; }

    result<void> run_pipeline(std::span<const statement> stmts, std::vector<outcome>& out) override {
        out.clear();
        if (!ensure_connected()) return store_errc::closed;
        constexpr std::size_t chunk = 64;
        for (std::size_t i = 0; i < stmts.size(); i += chunk) {
            auto r = pipeline_chunk(stmts.subspan(i, std::min(chunk, stmts.size() - i)), out);
            if (!r) return r;
        }
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
    // The name of the prepared statement for `sql`, preparing it once per session.
    result<const std::string*> prepared(std::string_view sql) {
        if (auto it = prepared_.find(sql); it != prepared_.end()) return &it->second;
        if (prepared_.size() > 512) deallocate_all();
        std::string key(sql);
        std::string fresh = "nf" + std::to_string(++next_id_);
        result_guard p{PQprepare(conn_, fresh.c_str(), key.c_str(), 0, nullptr)};
        if (PQresultStatus(p.r) != PGRES_COMMAND_OK) return fail(p.r);
        return &prepared_.emplace(std::move(key), std::move(fresh)).first->second;
    }

    // `params` as libpq text parameters in ptrs_ (valid until the next call).
    void bind_texts(std::span<const value> params) {
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
    }

    // Prepares `sql` once per session (cached by its text) and runs it with `params` as text.
    // On success `out` holds the result (the caller clears it).
    error_code run_prepared(std::string_view sql, std::span<const value> params, PGresult*& out) {
        if (!ensure_connected()) return store_errc::closed;
        auto name = prepared(sql);
        if (!name) return name.error();
        bind_texts(params);
        PGresult* r = PQexecPrepared(conn_, (*name)->c_str(), static_cast<int>(params.size()), ptrs_.data(),
                                     nullptr, nullptr, 0);
        auto st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
            result_guard g{r};
            return fail(r);
        }
        out = r;
        return {};
    }

    static rows to_rows(PGresult* r) {
        rows out;
        int n = PQntuples(r), nf = PQnfields(r);
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            row rw(static_cast<std::size_t>(nf));
            for (int f = 0; f < nf; ++f) {
                if (PQgetisnull(r, i, f)) continue;
                rw[static_cast<std::size_t>(f)].emplace(PQgetvalue(r, i, f),
                                                        static_cast<std::size_t>(PQgetlength(r, i, f)));
            }
            out.push_back(std::move(rw));
        }
        return out;
    }

    // One pipeline: send every statement, one sync, read every result. Chunks stay small so the
    // server never blocks on a full socket while we are still sending (libpq is in blocking mode).
    result<void> pipeline_chunk(std::span<const statement> stmts, std::vector<outcome>& out) {
        for (const auto& st : stmts) {  // prepare outside pipeline mode
            if (auto n = prepared(st.sql); !n) return n.error();
        }
        if (PQenterPipelineMode(conn_) != 1) {
            error_ = "cannot enter pipeline mode";
            return store_errc::query_failed;
        }
        error_code ec;
        std::size_t sent = 0;
        for (const auto& st : stmts) {
            bind_texts(st.params);
            if (PQsendQueryPrepared(conn_, prepared_.find(st.sql)->second.c_str(),
                                    static_cast<int>(st.params.size()), ptrs_.data(), nullptr, nullptr,
                                    0) != 1) {
                error_ = "PostgreSQL pipeline send failed";
                ec = PQstatus(conn_) != CONNECTION_OK ? store_errc::closed : store_errc::query_failed;
                break;
            }
            ++sent;
        }
        if (PQpipelineSync(conn_) != 1 && !ec) {
            error_ = "PostgreSQL pipeline sync failed";
            ec = store_errc::closed;
        }
        // Each statement: its result, then a NULL; finally the sync marker.
        for (std::size_t i = 0; i < sent; ++i) {
            PGresult* r = PQgetResult(conn_);
            if (!r) break;
            result_guard g{r};
            auto status = PQresultStatus(r);
            if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
                outcome o;
                o.data = to_rows(r);
                const char* n = PQcmdTuples(r);
                o.changed = n && *n ? std::strtoll(n, nullptr, 10) : 0;
                out.push_back(std::move(o));
            } else if (status != PGRES_PIPELINE_ABORTED && !ec) {
                ec = fail(r);
            } else if (!ec) {
                ec = store_errc::query_failed;
            }
            while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
        }
        for (int guard = 0; guard < 1000; ++guard) {  // up to the sync marker
            PGresult* r = PQgetResult(conn_);
            if (!r) continue;
            bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
            PQclear(r);
            if (sync) break;
        }
        if (PQexitPipelineMode(conn_) != 1 && !ec) {
            error_ = "cannot leave pipeline mode";
            ec = store_errc::query_failed;
        }
        if (ec) return ec;
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
