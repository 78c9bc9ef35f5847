// Versioned schema migrations, applied on open under a write lock (BEGIN IMMEDIATE / advisory lock).
#include "db.hpp"

#include <chrono>
#include <string>

namespace nubefact::store::detail {
namespace {

struct migration {
    int version;
    const char* sql;               // "{pk}" becomes the dialect's auto-increment primary key
    const char* pg_sql = nullptr;  // PostgreSQL's own text, when it differs
};

// Times are microseconds since the Unix epoch (UTC); booleans are 0/1 integers on both backends.
constexpr migration migrations[] = {
    {1, R"sql(
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('accounts_version', 0);
CREATE TABLE accounts (
    id {pk},
    name TEXT NOT NULL UNIQUE,
    ruc TEXT NOT NULL,
    ruta TEXT NOT NULL,
    token TEXT NOT NULL,
    auth TEXT NOT NULL DEFAULT 'bare',
    rate DOUBLE PRECISION NOT NULL,
    burst INTEGER NOT NULL,
    min_interval_ms BIGINT NOT NULL,
    max_concurrency INTEGER NOT NULL,
    connect_timeout_ms BIGINT NOT NULL,
    request_timeout_ms BIGINT NOT NULL,
    total_timeout_ms BIGINT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE documents (
    id {pk},
    account TEXT NOT NULL,
    family TEXT NOT NULL CHECK (family IN ('emit', 'void')),
    tipo INTEGER NOT NULL,
    serie TEXT NOT NULL,
    numero BIGINT NOT NULL,
    op TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'accepted', 'rejected', 'failed', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0,
    codigo INTEGER,
    aceptada_por_sunat INTEGER,
    sunat_responsecode TEXT NOT NULL DEFAULT '',
    sunat_description TEXT NOT NULL DEFAULT '',
    sunat_note TEXT NOT NULL DEFAULT '',
    enlace TEXT NOT NULL DEFAULT '',
    enlace_del_pdf TEXT NOT NULL DEFAULT '',
    enlace_del_xml TEXT NOT NULL DEFAULT '',
    enlace_del_cdr TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account, family, tipo, serie, numero)
);
CREATE INDEX documents_serie_numero ON documents (serie, numero);
CREATE INDEX documents_state ON documents (state);
CREATE TABLE api_calls (
    id {pk},
    at BIGINT NOT NULL,
    account TEXT NOT NULL,
    operation TEXT NOT NULL,
    document TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    http_status INTEGER NOT NULL,
    codigo INTEGER,
    outcome TEXT NOT NULL,
    latency_us BIGINT NOT NULL,
    request_bytes BIGINT NOT NULL,
    response_bytes BIGINT NOT NULL,
    request_body TEXT,
    response_body TEXT
);
CREATE INDEX api_calls_at ON api_calls (at);
CREATE INDEX api_calls_account_at ON api_calls (account, at);
)sql"},
    // No query filters on the state alone, and every state change (three per document) rewrote
    // this index's pages in each journal commit.
    {2, R"sql(
DROP INDEX IF EXISTS documents_state;
)sql"},
    // Keeps a journal commit to few pages: payloads (cold, ~1-2 KB each) move to an append-only
    // table, so a document's state changes rewrite small rows; the unique key leads with
    // (serie, numero), so it also serves `nubefact status` and documents_serie_numero goes; the
    // audit trail keeps only its `at` index (an account filter scans the newest rows by id).
    // SQLite cannot reorder a UNIQUE constraint in place: the table is rebuilt with the same ids.
    {3, R"sql(
CREATE TABLE documents_v3 (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    family TEXT NOT NULL CHECK (family IN ('emit', 'void')),
    tipo INTEGER NOT NULL,
    serie TEXT NOT NULL,
    numero BIGINT NOT NULL,
    op TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'accepted', 'rejected', 'failed', 'unknown')),
    attempts INTEGER NOT NULL DEFAULT 0,
    codigo INTEGER,
    aceptada_por_sunat INTEGER,
    sunat_responsecode TEXT NOT NULL DEFAULT '',
    sunat_description TEXT NOT NULL DEFAULT '',
    sunat_note TEXT NOT NULL DEFAULT '',
    enlace TEXT NOT NULL DEFAULT '',
    enlace_del_pdf TEXT NOT NULL DEFAULT '',
    enlace_del_xml TEXT NOT NULL DEFAULT '',
    enlace_del_cdr TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (serie, numero, tipo, family, account)
);
INSERT INTO documents_v3 (id, account, family, tipo, serie, numero, op, payload_hash, state, attempts, codigo,
    aceptada_por_sunat, sunat_responsecode, sunat_description, sunat_note, enlace, enlace_del_pdf,
    enlace_del_xml, enlace_del_cdr, error, created_at, updated_at)
SELECT id, account, family, tipo, serie, numero, op, payload_hash, state, attempts, codigo,
    aceptada_por_sunat, sunat_responsecode, sunat_description, sunat_note, enlace, enlace_del_pdf,
    enlace_del_xml, enlace_del_cdr, error, created_at, updated_at FROM documents;
CREATE TABLE document_payloads (
    document_id INTEGER PRIMARY KEY,
    payload TEXT NOT NULL
);
INSERT INTO document_payloads (document_id, payload) SELECT id, payload FROM documents;
DROP TABLE documents;
ALTER TABLE documents_v3 RENAME TO documents;
DROP INDEX IF EXISTS api_calls_account_at;
)sql",
     R"sql(
CREATE TABLE document_payloads (
    document_id BIGINT PRIMARY KEY,
    payload TEXT NOT NULL
);
INSERT INTO document_payloads (document_id, payload) SELECT id, payload FROM documents;
ALTER TABLE documents DROP COLUMN payload;
ALTER TABLE documents DROP CONSTRAINT documents_account_family_tipo_serie_numero_key;
ALTER TABLE documents ADD CONSTRAINT documents_key UNIQUE (serie, numero, tipo, family, account);
DROP INDEX IF EXISTS documents_serie_numero;
DROP INDEX IF EXISTS api_calls_account_at;
)sql"},
    // SQLite's planner never uses api_calls_at for `nubefact log` (it walks the newest rows by id
    // for ORDER BY id DESC LIMIT n, with or without a time filter), while every commit rewrote its
    // last page. PostgreSQL keeps it (its planner does use it for --since).
    {4, R"sql(
DROP INDEX IF EXISTS api_calls_at;
)sql",
     R"sql(
SELECT 1;
)sql"},
    // One set of state names everywhere (DESIGN.md): 'pending' becomes 'queued'; a document Nubefact
    // answered with a codigo and did not create is 'refused' (it was 'failed', like a document that
    // never reached Nubefact); new states pending_sunat and conflict. SQLite cannot change a CHECK
    // constraint in place: the table is rebuilt with the same ids.
    {5, R"sql(
CREATE TABLE documents_v5 (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    family TEXT NOT NULL CHECK (family IN ('emit', 'void')),
    tipo INTEGER NOT NULL,
    serie TEXT NOT NULL,
    numero BIGINT NOT NULL,
    op TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'pending_sunat', 'accepted', 'rejected',
                                         'refused', 'unknown', 'conflict', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    codigo INTEGER,
    aceptada_por_sunat INTEGER,
    sunat_responsecode TEXT NOT NULL DEFAULT '',
    sunat_description TEXT NOT NULL DEFAULT '',
    sunat_note TEXT NOT NULL DEFAULT '',
    enlace TEXT NOT NULL DEFAULT '',
    enlace_del_pdf TEXT NOT NULL DEFAULT '',
    enlace_del_xml TEXT NOT NULL DEFAULT '',
    enlace_del_cdr TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (serie, numero, tipo, family, account)
);
INSERT INTO documents_v5 (id, account, family, tipo, serie, numero, op, payload_hash, state, attempts, codigo,
    aceptada_por_sunat, sunat_responsecode, sunat_description, sunat_note, enlace, enlace_del_pdf,
    enlace_del_xml, enlace_del_cdr, error, created_at, updated_at)
SELECT id, account, family, tipo, serie, numero, op, payload_hash,
    CASE WHEN state = 'pending' THEN 'queued'
         WHEN state = 'failed' AND codigo IS NOT NULL AND codigo <> 23 THEN 'refused'
         ELSE state END,
    attempts, codigo, aceptada_por_sunat, sunat_responsecode, sunat_description, sunat_note, enlace,
    enlace_del_pdf, enlace_del_xml, enlace_del_cdr, error, created_at, updated_at FROM documents;
DROP TABLE documents;
ALTER TABLE documents_v5 RENAME TO documents;
)sql",
     R"sql(
ALTER TABLE documents DROP CONSTRAINT IF EXISTS documents_state_check;
UPDATE documents SET state = 'queued' WHERE state = 'pending';
UPDATE documents SET state = 'refused' WHERE state = 'failed' AND codigo IS NOT NULL AND codigo <> 23;
ALTER TABLE documents ADD CONSTRAINT documents_state_check CHECK (state IN ('queued', 'sending',
    'pending_sunat', 'accepted', 'rejected', 'refused', 'unknown', 'conflict', 'failed'));
)sql"},
    // Claims (DESIGN.md, exactly once across processes): the sender holding a document (owner), until
    // when (lease_until, microseconds; 0 = released) and the fencing token of the latest claim. Rows
    // journaled before have no claim. The partial index holds only claimed rows (renewals, dead-owner
    // sweeps): settled rows leave it.
    {6, R"sql(
ALTER TABLE documents ADD COLUMN owner TEXT;
ALTER TABLE documents ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
CREATE INDEX documents_owner ON documents (owner) WHERE owner IS NOT NULL;
)sql"},
    // Gateway API keys (`nubefact keys`, `nubefact serve`): the drop-in API's ruta (public) and the
    // SHA-256 of its token (shown once, never stored); revoked_at 0 = valid.
    {7, R"sql(
CREATE TABLE api_keys (
    id {pk},
    ruta TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL DEFAULT 0
);
)sql"},
    // What a receipt prints (the answer's QR text and hash), kept so that a repeat answered from the
    // store carries them; the native API's key lookup by token hash; its Idempotency-Key records
    // (per tenant = API key ruta; status 0 while the first request is in flight; the stored answer
    // after; kept 24 h).
    {8, R"sql(
ALTER TABLE documents ADD COLUMN cadena_para_codigo_qr TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN codigo_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX api_keys_token_hash ON api_keys (token_hash);
CREATE TABLE idempotency_keys (
    id {pk},
    tenant TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 0,
    location TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (tenant, idem_key)
);
)sql"},
    // A document's timeline (the gateway's dashboard): its exchanges, by account and document.
    {9, R"sql(
CREATE INDEX api_calls_document ON api_calls (account, document);
)sql"},
};

std::string render(const char* sql, dialect d) {
    std::string s(sql);
    const std::string pk =
        d == dialect::sqlite ? "INTEGER PRIMARY KEY" : "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
    for (std::size_t p; (p = s.find("{pk}")) != std::string::npos;) s.replace(p, 4, pk);
    return s;
}

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int latest_schema_version() noexcept {
    return migrations[std::size(migrations) - 1].version;
}

result<int> migrate(connection& c, std::string* diagnostic, int up_to) {
    if (up_to <= 0) up_to = latest_schema_version();
    auto failed = [&](error_code) -> result<int> {
        if (diagnostic) *diagnostic = c.last_error();
        c.rollback();
        return store_errc::migration_failed;
    };
    if (auto r = c.begin_write(); !r) return failed(r.error());
    if (c.kind() == dialect::postgresql) {
        // Serialises concurrent openers (CREATE TABLE IF NOT EXISTS alone races in PostgreSQL).
        if (auto r = c.query("SELECT pg_advisory_xact_lock(7201865031)"); !r) return failed(r.error());
    }
    if (auto r = c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                        "applied_at BIGINT NOT NULL)");
        !r)
        return failed(r.error());
    auto cur = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!cur) return failed(cur.error());
    int version = std::stoi(cur->at(0).at(0).value_or("0"));
    if (version > latest_schema_version()) {
        if (diagnostic)
            *diagnostic = "database schema version " + std::to_string(version) +
                          " is newer than this build (" + std::to_string(latest_schema_version()) + ")";
        c.rollback();
        return store_errc::migration_failed;
    }
    for (const auto& m : migrations) {
        if (m.version <= version || m.version > up_to) continue;
        const char* sql = c.kind() == dialect::postgresql && m.pg_sql ? m.pg_sql : m.sql;
        if (auto r = c.exec(render(sql, c.kind())); !r) return failed(r.error());
        value params[] = {std::int64_t{m.version}, now_us()};
        if (auto r = c.query("INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", params); !r)
            return failed(r.error());
        version = m.version;
    }
    if (auto r = c.commit(); !r) return failed(r.error());
    return version;
}

}  // namespace nubefact::store::detail
