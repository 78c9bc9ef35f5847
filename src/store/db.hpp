// Internal database seam: one connection to SQLite or PostgreSQL, parameterized SQL only.
#pragma once

#include <nubefact/error.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nubefact::store::detail {

// A bound parameter: NULL, integer, real or text (owned, or a view that must outlive the call).
using value = std::variant<std::monostate, std::int64_t, double, std::string, std::string_view>;
// A result row: every column as text (NULL = nullopt).
using row = std::vector<std::optional<std::string>>;
using rows = std::vector<row>;

enum class dialect { sqlite, postgresql };

// One connection; not thread-safe (the owner serialises use). SQL uses $1..$n placeholders on
// both backends (translated to ?N for SQLite). Errors map to store_errc: constraint, busy,
// query_failed, closed; last_error() keeps the database's primary message (no parameter values).
class connection {
  public:
    virtual ~connection() = default;
    virtual dialect kind() const noexcept = 0;
    virtual result<rows> query(std::string_view sql, std::span<const value> params = {}) = 0;
    // Runs one statement that returns no rows (INSERT/UPDATE/DELETE without RETURNING); the result
    // is the number of rows it changed. `params` must stay valid for the call only.
    virtual result<std::int64_t> execute(std::string_view sql, std::span<const value> params = {}) = 0;
    // Runs a parameterless script of one or more statements (migrations, BEGIN/COMMIT).
    virtual result<void> exec(std::string_view script) = 0;
    // Starts a write transaction: BEGIN IMMEDIATE on SQLite (takes the write lock now), BEGIN on PG.
    virtual result<void> begin_write() = 0;
    virtual result<void> commit() = 0;
    virtual void rollback() noexcept = 0;
    virtual const std::string& last_error() const noexcept = 0;
    // Pipelining (PostgreSQL): runs every statement in order with one round trip per chunk
    // instead of one per statement, inside the caller's transaction. `out[i]` gets statement i's
    // rows and changed-row count. The first failure is returned (later statements did not run).
    struct statement {
        std::string_view sql;
        std::span<const value> params;
    };
    struct outcome {
        rows data;
        std::int64_t changed = 0;
    };
    virtual bool supports_pipeline() const noexcept { return false; }
    virtual result<void> run_pipeline(std::span<const statement> stmts, std::vector<outcome>& out) {
        (void)stmts, (void)out;
        return store_errc::query_failed;
    }
};

// The name of the registered VFS that gathers a commit's WAL writes into one write (sqlite_vfs.cpp),
// or nullptr when it could not be registered (SQLite's default VFS is used then).
const char* gathering_vfs();
// Our SQL's "$N" parameters in SQLite's spelling: bare "?" when $1…$n appear once each in order, else
// "?N"; a '$' inside a string literal is left alone.
std::string to_sqlite_placeholders(std::string_view sql);
// Opens a SQLite file (created if missing) in WAL mode with a busy timeout.
result<std::unique_ptr<connection>> open_sqlite(const std::string& path, bool synchronous_full,
                                                std::string* diagnostic);
// Opens a PostgreSQL connection from a libpq URI/conninfo.
result<std::unique_ptr<connection>> open_postgresql(const std::string& conninfo, std::string* diagnostic);

// Creates or upgrades the schema (schema_version table); returns the version now in force.
// Safe when several processes open the same database at once. `up_to` stops at an older version
// (tests build a database as an earlier release left it); 0 = the newest.
result<int> migrate(connection& c, std::string* diagnostic, int up_to = 0);
// The newest schema version this build knows.
int latest_schema_version() noexcept;

}  // namespace nubefact::store::detail
