// Durable store: accounts, the intent journal (documents) and the audit trail (api_calls) on
// SQLite or PostgreSQL, chosen by URL; writes go through one batching writer thread.
#pragma once

#include <nubefact/config.hpp>
#include <nubefact/document.hpp>
#include <nubefact/error.hpp>
#include <nubefact/journal.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nubefact::store {

// One configured Nubefact account, a row of the accounts table: the client configuration itself
// plus what only the store keeps. The stored columns are config's name, ruta, token, auth, rate
// (requests_per_second, burst, min_interval), max_concurrency and the connect, request and total
// timeouts; its other fields keep their defaults. `config.token` is plain text in memory; the store
// encrypts it at rest when NUBEFACT_SECRET_KEY is set.
struct account {
    account_config config;  // config.name is unique, chosen by the user ("acme-prod")
    std::string ruc;
    bool enabled = true;                                           // a disabled account is kept but not used
    std::chrono::system_clock::time_point created_at, updated_at;  // set by the store
};

// A gateway API key: the ruta and token a tenant's integration uses with `nubefact serve`'s drop-in
// API, for one account. The token is shown once when the key is made; the store keeps its hash.
struct api_key {
    std::string ruta;                                  // public: POST /api/v1/{ruta}
    std::string account;                               // the account (accounts table) it sends through
    std::string token_hash;                            // hex SHA-256 of the token (nubefact::payload_hash)
    std::chrono::system_clock::time_point created_at;  // set by the store
    std::optional<std::chrono::system_clock::time_point> revoked_at;  // set by revoke_api_key
};

// An Idempotency-Key's record (the gateway's native API): the request the key was first used with
// and, once that request was answered, the answer to replay.
struct idempotency_record {
    std::string request_hash;  // hex SHA-256 of the request (method, target, body)
    int status = 0;            // the answer's HTTP status; 0 while the first request is being answered
    std::string location, body;
    std::chrono::system_clock::time_point created_at;  // set by the store
};

// "••••…1234": everything but the last 4 characters hidden (all of it when shorter than 8).
std::string mask_token(std::string_view token);

// Filters for log queries; empty fields do not filter.
struct log_query {
    std::optional<std::chrono::system_clock::time_point> since;
    std::string account, operation, outcome;
    std::string document;     // "F001-1" (audit_record::document)
    std::size_t limit = 100;  // newest first
};

// An audit row as stored, with its id.
struct stored_audit {
    std::int64_t id = 0;
    audit_record record;
};

// Filters for document lookups (`nubefact status`); empty fields do not filter.
struct document_query {
    std::string serie;
    std::optional<std::int64_t> numero;
    std::optional<int> tipo;
    std::string account;
    std::optional<doc_state> state;
    std::size_t limit = 100;
};

// Tuning of the writer thread and the caches. Defaults suit a CLI and a gateway alike.
struct store_options {
    std::size_t audit_queue_capacity = 65536;    // try_write() returns false beyond this
    std::size_t max_batch = 1000;                // rows per transaction
    std::chrono::microseconds max_linger{5000};  // audit-only batches wait this long to fill up
    // After a journal call wakes the writer, it waits this long for more to join the same commit
    // (fewer commits per document at the price of this much latency); 0 = commit at once.
    std::chrono::microseconds control_linger{0};
    std::chrono::milliseconds account_cache_check{2000};  // how often cached accounts are revalidated
    // How long a claim on a document lasts unless renewed: the store renews its own every third of
    // it while open and releases them on close; another sender takes a claim over once it expired
    // (at once when its owner was a process of this host that is gone).
    std::chrono::milliseconds lease{30000};
    std::optional<std::string> secret_key;  // default: env NUBEFACT_SECRET_KEY; empty = no encryption
    // false: a SQLite file that does not exist yet is an error (store_errc::missing) instead of a new, empty
    // store (what a command that only reads wants when the path is mistyped).
    bool create_if_missing = true;
    std::function<std::chrono::steady_clock::time_point()> steady_now;  // default steady_clock::now
};

// The store. Thread-safe. journal() and audit() never block the caller on the database: rows are
// queued for the writer thread, which commits them in batches; callbacks run on that thread after
// the commit. The synchronous methods (accounts, queries) use a separate reader connection.
class store {
  public:
    virtual ~store() = default;

    virtual std::string_view backend() const noexcept = 0;  // "sqlite" or "postgresql"
    virtual int schema_version() const noexcept = 0;
    // Text of the last failed synchronous call on this store (database message; never a token,
    // never a parameter value). For diagnostics only.
    virtual std::string last_error() const = 0;

    // Accounts. add: store_errc::constraint when the name exists; set/remove: not_found when not.
    virtual result<void> add_account(const account& a) = 0;
    virtual result<void> update_account(const account& a) = 0;
    virtual result<void> remove_account(std::string_view name) = 0;
    virtual result<std::vector<account>> list_accounts() = 0;
    // Served from a cache revalidated at most every account_cache_check (a version counter).
    virtual result<std::optional<account>> find_account(std::string_view name) = 0;

    // Gateway API keys. add: store_errc::constraint when the ruta exists; revoke: not_found when no
    // such ruta (revoking twice keeps the first time). find returns revoked keys too (say why).
    virtual result<void> add_api_key(const api_key& k) = 0;
    virtual result<std::optional<api_key>> find_api_key(std::string_view ruta) = 0;
    virtual result<std::vector<api_key>> list_api_keys() = 0;
    virtual result<void> revoke_api_key(std::string_view ruta) = 0;
    // The key whose token hashes to `token_hash` (the native API's Bearer token), revoked or not.
    virtual result<std::optional<api_key>> find_api_key_by_token_hash(std::string_view token_hash) = 0;

    // Idempotency keys, per tenant (an API key's ruta). begin_idempotent takes `key` for a request
    // hashed `request_hash` in one transaction: nullopt when the key is new to the tenant, or its
    // record is older than `keep`, or was left unfinished (status 0) for longer than `abandoned` (a
    // gateway died answering it) — the caller then answers and calls finish_idempotent (or
    // drop_idempotent when there is nothing worth replaying); otherwise the record that holds the key,
    // unchanged. finish/drop: not_found when the tenant has no such key.
    virtual result<std::optional<idempotency_record>> begin_idempotent(std::string_view tenant,
                                                                       std::string_view key,
                                                                       std::string_view request_hash,
                                                                       std::chrono::seconds keep,
                                                                       std::chrono::seconds abandoned) = 0;
    virtual result<void> finish_idempotent(std::string_view tenant, std::string_view key, int status,
                                           std::string_view location, std::string_view body) = 0;
    virtual result<void> drop_idempotent(std::string_view tenant, std::string_view key) = 0;

    // Documents and audit rows, read synchronously (CLI, gateway).
    virtual result<std::vector<intent_record>> find_documents(const document_query& q) = 0;
    virtual result<std::vector<stored_audit>> query_log(const log_query& q) = 0;
    // How many documents (both row families) each account has in each state, as committed now
    // (a gateway's outbox depth). Sorted by account, then state.
    struct state_count {
        std::string account;
        doc_state state = doc_state::queued;
        std::int64_t documents = 0;
        std::chrono::system_clock::time_point oldest;  // the least recently changed one's updated_at
    };
    virtual result<std::vector<state_count>> count_documents() = 0;

    // The durable seams for the client.
    virtual intent_journal& journal() noexcept = 0;
    virtual audit_sink& audit() noexcept = 0;

    // Hands each committed batch's journal completions over in one call instead of running them on
    // the writer thread: dispatch(f) must arrange for f to run soon (e.g. asio::post to the client's
    // io_context, where each callback's own post is then local); f runs them in queue order. One
    // wake-up per commit instead of one per document. Empty (the default): the writer runs them.
    // A dispatched f that never runs (its io_context stopped) drops those callbacks unrun.
    virtual void set_completion_dispatch(std::function<void(std::function<void()>)> dispatch) = 0;

    // Blocks until everything queued before the call is committed (or failed). Does not wait for
    // completions handed to a dispatch function.
    virtual void flush() = 0;
    // Flushes and stops the writer; later writes fail with store_errc::closed. Idempotent; the
    // destructor calls it.
    virtual void close() = 0;
};

// Opens (creating if needed) and migrates a store:
//   PATH | sqlite:PATH | sqlite://PATH  (a bare path has no "scheme:"; WAL, busy_timeout;
//   ?synchronous=normal|full, default normal:
//     a commit survives a crash of the process (kill -9), not of the OS or power; `full` fsyncs
//     every commit — see docs/store.md)
//   postgresql://… | postgres://… (a libpq URI)
// Errors: bad_url, open_failed, missing (create_if_missing false), migration_failed. `diagnostic`, when
// given, receives the database's message on failure; it never contains the URL's password.
result<std::unique_ptr<store>> open_store(std::string_view url, store_options options = {},
                                          std::string* diagnostic = nullptr);

// The URL the CLI uses when --store is absent: env NUBEFACT_STORE, else "sqlite:./nubefact.db".
std::string default_store_url();

// The URL with any password replaced by "***" (for messages).
std::string redact_url(std::string_view url);

}  // namespace nubefact::store
