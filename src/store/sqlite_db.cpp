// SQLite connection: WAL, busy timeout, cached prepared statements, ?N parameters.
#include "db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_map>

namespace nubefact::store::detail {

// "$12" -> "?12". When the parameters appear exactly once each, in order ($1, $2, … $n: every
// multi-row INSERT), they become bare "?": SQLite numbers those itself, while for each "?N" its code
// generator searches the list of names already seen, which is quadratic in the count (a 64-row audit
// INSERT has 832 parameters: preparing it cost as much as running it).
std::string to_sqlite_placeholders(std::string_view sql) {
    auto convert = [&](bool bare) {
        std::string out;
        out.reserve(sql.size());
        bool in_str = false;
        long expected = 1;
        for (std::size_t i = 0; i < sql.size(); ++i) {
            char c = sql[i];
            if (c == '\'') in_str = !in_str;
            if (!in_str && c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
                out += '?';
                if (!bare) continue;
                long n = 0;
                std::size_t j = i + 1;
                for (; j < sql.size() && sql[j] >= '0' && sql[j] <= '9' && n < 100000; ++j)
                    n = n * 10 + (sql[j] - '0');
                if (n != expected++) return std::optional<std::string>{};
                i = j - 1;
            } else {
                out += c;
            }
        }
        return std::optional<std::string>{std::move(out)};
    };
    if (auto bare = convert(true)) return *std::move(bare);
    return *convert(false);
}

namespace {

error_code map_sqlite(int rc) {
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
            return store_errc::constraint;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return store_errc::busy;
        case SQLITE_FULL:
            return store_errc::disk_full;
        case SQLITE_IOERR:
            return store_errc::io_error;
        case SQLITE_READONLY:
            return store_errc::read_only;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return store_errc::corrupt;
        default:
            return store_errc::query_failed;
    }
}

class sqlite_connection final : public connection {
  public:
    explicit sqlite_connection(sqlite3* db) : db_(db) {}
    ~sqlite_connection() override {
        for (auto& [_, st] : stmts_) sqlite3_finalize(st);
        sqlite3_close_v2(db_);
    }

    dialect kind() const noexcept override { return dialect::sqlite; }
    const std::string& last_error() const noexcept override { return error_; }

    result<rows> query(std::string_view sql, std::span<const value> params) override {
        auto st = prepare_and_bind(sql, params);
        if (!st) return st.error();
        rows out;
        int ncol = sqlite3_column_count(*st);
        for (;;) {
            int rc = sqlite3_step(*st);
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) {
                auto ec = fail(rc);
                sqlite3_reset(*st);
                return ec;
            }
            row r(static_cast<std::size_t>(ncol));
            for (int c = 0; c < ncol; ++c) {
                if (sqlite3_column_type(*st, c) == SQLITE_NULL) continue;
                auto* p = reinterpret_cast<const char*>(sqlite3_column_text(*st, c));
                r[static_cast<std::size_t>(c)].emplace(
                    p, static_cast<std::size_t>(sqlite3_column_bytes(*st, c)));
            }
            out.push_back(std::move(r));
        }
        sqlite3_reset(*st);
        return out;
    }

    result<std::int64_t> execute(std::string_view sql, std::span<const value> params) override {
        auto st = prepare_and_bind(sql, params);
        if (!st) return st.error();
        int rc;
        while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
        }
        if (rc != SQLITE_DONE) {
            auto ec = fail(rc);
            sqlite3_reset(*st);
            return ec;
        }
        sqlite3_reset(*st);
        return static_cast<std::int64_t>(sqlite3_changes64(db_));
    }

    result<void> exec(std::string_view script) override {
        std::string s(script);
        char* msg = nullptr;
        int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &msg);
        if (rc != SQLITE_OK) {
            error_ = msg ? msg : sqlite3_errstr(rc);
            sqlite3_free(msg);
            return map_sqlite(rc);
        }
        return {};
    }

    // BEGIN and COMMIT run as cached prepared statements: the writer runs them for every batch, and
    // sqlite3_exec would parse them each time.
    result<void> begin_write() override {
        // busy_timeout already waits; a few extra rounds cover long checkpoints.
        for (int i = 0;; ++i) {
            auto r = execute("BEGIN IMMEDIATE", {});
            if (r) return {};
            if (r.error() != store_errc::busy || i >= 5) return r.error();
            std::this_thread::sleep_for(std::chrono::milliseconds(10 << i));
        }
    }
    result<void> commit() override {
        auto r = execute("COMMIT", {});
        if (r) return {};
        rollback();
        return r.error();
    }
    void rollback() noexcept override {
        if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

  private:
    // The cached statement for `sql` (prepared once, persistent), with `params` bound. Text is bound
    // SQLITE_STATIC: the caller's values outlive the step, so nothing is copied; every parameter is
    // rebound on each call, so no stale binding survives.
    result<sqlite3_stmt*> prepare_and_bind(std::string_view sql, std::span<const value> params) {
        sqlite3_stmt* st = nullptr;
        if (auto it = stmts_.find(sql); it != stmts_.end()) {
            st = it->second;
        } else {
            std::string text = to_sqlite_placeholders(sql);
            int rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()),
                                        SQLITE_PREPARE_PERSISTENT, &st, nullptr);
            if (rc != SQLITE_OK) return fail(rc);
            // Multi-row inserts come in many sizes; keep the cache bounded.
            if (stmts_.size() > 512) {
                for (auto& [_, old] : stmts_) sqlite3_finalize(old);
                stmts_.clear();
            }
            stmts_.emplace(std::string(sql), st);
        }
        if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(st)) sqlite3_clear_bindings(st);
        for (std::size_t i = 0; i < params.size(); ++i) {
            int idx = static_cast<int>(i + 1);
            int rc = std::visit(
                [&](const auto& v) -> int {
                    using T = std::decay_t<decltype(v)>;
                    if constexpr (std::is_same_v<T, std::monostate>) {
                        return sqlite3_bind_null(st, idx);
                    } else if constexpr (std::is_same_v<T, std::int64_t>) {
                        return sqlite3_bind_int64(st, idx, v);
                    } else if constexpr (std::is_same_v<T, double>) {
                        return sqlite3_bind_double(st, idx, v);
                    } else {  // std::string or std::string_view
                        return sqlite3_bind_text(st, idx, v.data(), static_cast<int>(v.size()),
                                                 SQLITE_STATIC);
                    }
                },
                params[i]);
            if (rc != SQLITE_OK) {
                sqlite3_clear_bindings(st);
                return fail(rc);
            }
        }
        return st;
    }

    error_code fail(int rc) {
        error_ = sqlite3_errmsg(db_);
        return map_sqlite(rc);
    }

    sqlite3* db_;
    struct sv_hash {
        using is_transparent = void;
        // The texts are long (a record's INSERT is ~500 bytes) and hashing all of them cost as much as
        // binding: the length and four 8-byte samples tell them apart (equality still compares all).
        std::size_t operator()(std::string_view s) const noexcept {
            std::uint64_t h = s.size() * 0x9E3779B97F4A7C15ull;
            if (s.size() < 8) {
                for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
                return static_cast<std::size_t>(h);
            }
            for (std::size_t at : {std::size_t{0}, s.size() / 3, 2 * s.size() / 3, s.size() - 8}) {
                std::uint64_t w;
                std::memcpy(&w, s.data() + std::min(at, s.size() - 8), 8);
                h = (h ^ w) * 0xFF51AFD7ED558CCDull;
                h ^= h >> 29;
            }
            return static_cast<std::size_t>(h);
        }
    };
    // Keyed by the SQL text; looked up without building a std::string.
    std::unordered_map<std::string, sqlite3_stmt*, sv_hash, std::equal_to<>> stmts_;
    std::string error_;
};

}  // namespace

result<std::unique_ptr<connection>> open_sqlite(const std::string& path, bool synchronous_full,
                                                std::string* diagnostic) {
    // SQLite counts every allocation under a global mutex (SQLITE_CONFIG_MEMSTATUS, on by default) for
    // sqlite3_memory_used(), which nothing here reads: off, before SQLite initializes (a no-op when
    // something in the process initialized it first).
    static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)memstatus_off;
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(
        path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, gathering_vfs());
    if (rc != SQLITE_OK) {
        if (diagnostic) *diagnostic = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return store_errc::open_failed;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    auto conn = std::make_unique<sqlite_connection>(db);
    std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=";
    pragmas += synchronous_full ? "FULL;" : "NORMAL;";
    // Checkpoint every 4,000 WAL pages (16 MiB) instead of 1,000: a page rewritten by many commits
    // (an index's last leaf) is copied to the database once per checkpoint, and each checkpoint
    // costs two fsyncs. The WAL file is trimmed back to 64 MiB after a checkpoint when it grew
    // beyond (a long reader can hold a checkpoint back).
    pragmas += " PRAGMA wal_autocheckpoint=4000; PRAGMA journal_size_limit=67108864;";
    // journal_mode=WAL needs a moment of exclusive access when the file is new; retry on busy.
    for (int i = 0;; ++i) {
        auto r = conn->exec(pragmas);
        if (r) break;
        if (r.error() != store_errc::busy || i >= 20) {
            if (diagnostic) *diagnostic = conn->last_error();
            return store_errc::open_failed;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::unique_ptr<connection>(std::move(conn));
}

}  // namespace nubefact::store::detail
