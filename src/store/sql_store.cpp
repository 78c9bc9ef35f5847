// The store on top of detail::connection: writer thread with batched transactions, durable intent
// journal and audit sink, accounts with an encrypted token column and a revalidated cache.
#include "crypto.hpp"
#include "db.hpp"

#include <nubefact/store.hpp>

#include <spdlog/spdlog.h>

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

namespace nubefact::store {
namespace {

using detail::value;
using sys_clock = std::chrono::system_clock;

std::int64_t to_us(sys_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
sys_clock::time_point from_us(std::int64_t us) {
    return sys_clock::time_point(
        std::chrono::duration_cast<sys_clock::duration>(std::chrono::microseconds(us)));
}
std::int64_t now_us() {
    return to_us(sys_clock::now());
}

std::int64_t as_i64(const std::optional<std::string>& s, std::int64_t dflt = 0) {
    if (!s) return dflt;
    std::int64_t v = dflt;
    std::from_chars(s->data(), s->data() + s->size(), v);
    return v;
}
double as_f64(const std::optional<std::string>& s) {
    if (!s) return 0;
    double v = 0;
    std::from_chars(s->data(), s->data() + s->size(), v);
    return v;
}
std::optional<int> as_opt_int(const std::optional<std::string>& s) {
    if (!s) return std::nullopt;
    return static_cast<int>(as_i64(s));
}
value opt_value(const std::optional<int>& i) {
    if (!i) return std::monostate{};
    return std::int64_t{*i};
}
value opt_value(const std::optional<bool>& b) {
    if (!b) return std::monostate{};
    return std::int64_t{*b ? 1 : 0};
}

std::string_view state_name(doc_state s) {
    return to_string(s);
}
doc_state state_from(std::string_view s) {
    return doc_state_from_string(s).value_or(doc_state::unknown);
}
// The state a new intent row starts in (see intent::sending).
std::string_view initial_state(const intent& w) {
    return state_name(w.sending ? doc_state::sending : doc_state::queued);
}
std::string_view family_of(operation op) {
    return is_void_operation(op) ? "void" : "emit";
}

// A claim's owner: this host, this process and a random part (two stores in one process differ).
std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}
std::string make_owner_id() {
    std::random_device rd;
    return fmt::format("{}/{}/{:08x}{:08x}", host_name(), ::getpid(), rd(), rd());
}
// True only when `owner` is a process of this host that no longer runs (kill -9, crash): its claims
// need not wait for their lease. Another host's owner is never judged gone.
bool owner_is_gone(std::string_view owner) {
    const auto a = owner.find('/');
    const auto b = a == std::string_view::npos ? a : owner.find('/', a + 1);
    if (b == std::string_view::npos || owner.substr(0, a) != host_name()) return false;
    int pid = 0;
    auto digits = owner.substr(a + 1, b - a - 1);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), pid).ec != std::errc{} || pid <= 0)
        return false;
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

std::string_view auth_name(auth_scheme a) {
    return a == auth_scheme::token_token ? "token_token" : "bare";
}
auth_scheme auth_from(std::string_view s) {
    return s == "token_token" ? auth_scheme::token_token : auth_scheme::bare;
}

// Replaces every occurrence of each known token (defence in depth: audit rows are token-free by contract).
void scrub(std::string& s, const std::vector<std::string>& tokens) {
    for (const auto& t : tokens) {
        if (t.size() < 4) continue;
        for (std::size_t p; (p = s.find(t)) != std::string::npos;) s.replace(p, t.size(), "***");
    }
}

// A document row with its payload (schema 3 keeps payloads in their own append-only table).
constexpr const char* doc_columns =
    "d.account, d.op, d.tipo, d.serie, d.numero, d.payload_hash, p.payload, d.state, d.attempts, d.codigo, "
    "d.aceptada_por_sunat, d.sunat_responsecode, d.sunat_description, d.sunat_note, d.enlace, "
    "d.enlace_del_pdf, d.enlace_del_xml, d.enlace_del_cdr, d.error, d.created_at, d.updated_at, d.owner, "
    "d.lease_until, d.lease_token, d.cadena_para_codigo_qr, d.codigo_hash";
constexpr const char* doc_from = " FROM documents d LEFT JOIN document_payloads p ON p.document_id = d.id";

intent_record parse_document(const detail::row& r) {
    intent_record d;
    d.what.account = r[0].value_or("");
    d.what.op = operation_from_string(r[1].value_or("")).value_or(operation::generar_comprobante);
    d.what.key.tipo = static_cast<int>(as_i64(r[2]));
    d.what.key.serie = r[3].value_or("");
    d.what.key.numero = as_i64(r[4]);
    d.what.payload_hash = r[5].value_or("");
    d.what.payload = r[6].value_or("");
    d.state = state_from(r[7].value_or(""));
    d.attempts = static_cast<int>(as_i64(r[8]));
    d.codigo = as_opt_int(r[9]);
    if (r[10]) d.aceptada_por_sunat = as_i64(r[10]) != 0;
    d.sunat_responsecode = r[11].value_or("");
    d.sunat_description = r[12].value_or("");
    d.sunat_note = r[13].value_or("");
    d.enlace = r[14].value_or("");
    d.enlace_del_pdf = r[15].value_or("");
    d.enlace_del_xml = r[16].value_or("");
    d.enlace_del_cdr = r[17].value_or("");
    d.error = r[18].value_or("");
    d.created_at = from_us(as_i64(r[19]));
    d.updated_at = from_us(as_i64(r[20]));
    d.owner = r[21].value_or("");
    d.lease_until = from_us(as_i64(r[22]));
    d.lease_token = as_i64(r[23]);
    d.cadena_para_codigo_qr = r[24].value_or("");
    d.codigo_hash = r[25].value_or("");
    return d;
}

constexpr const char* account_columns =
    "name, ruc, ruta, token, auth, rate, burst, min_interval_ms, max_concurrency, connect_timeout_ms, "
    "request_timeout_ms, total_timeout_ms, enabled, created_at, updated_at";

constexpr std::size_t audit_cols = 13;
constexpr std::size_t audit_rows_per_insert = 64;
// PostgreSQL: a batch's audit rows in one statement, each column bound as one array parameter.
constexpr std::string_view audit_unnest_sql =
    "INSERT INTO api_calls (at, account, operation, document, attempt, http_status, codigo, outcome, "
    "latency_us, "
    "request_bytes, response_bytes, request_body, response_body) SELECT * FROM unnest($1::bigint[], "
    "$2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[], $7::integer[], $8::text[], "
    "$9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::text[])";
// An intent, created claimed: $1 account, $2 family, $3 tipo, $4 serie, $5 numero, $6 op,
// $7 payload_hash, $8 now, $9 state, $10 attempts, $11 owner, $12 lease_until; SQLite then stores the
// payload under last_insert_rowid() when created.
constexpr std::string_view record_sql =
    "INSERT INTO documents (account, family, tipo, serie, numero, op, payload_hash, state, attempts, "
    "created_at, updated_at, owner, lease_until, lease_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $10, "
    "$8, $8, $11, $12, 1) ON CONFLICT (serie, numero, tipo, family, account) DO NOTHING";
constexpr std::string_view payload_sql =
    "INSERT INTO document_payloads (document_id, payload) VALUES (last_insert_rowid(), $1)";
// PostgreSQL: both in one statement (pipelined), $13 the payload; changes = 1 when created.
constexpr std::string_view record_pg_sql =
    "WITH ins AS (INSERT INTO documents (account, family, tipo, serie, numero, op, payload_hash, state, "
    "attempts, created_at, updated_at, owner, lease_until, lease_token) VALUES ($1, $2, $3, $4, $5, $6, $7, "
    "$9, $10, $8, $8, $11, $12, 1) ON CONFLICT (serie, numero, tipo, family, account) DO NOTHING RETURNING "
    "id) INSERT INTO document_payloads (document_id, payload) SELECT id, $13 FROM ins";
// Which row, and only while nobody holds it (no owner, or the lease expired): $1 account, $2 family,
// $3 tipo, $4 serie, $5 numero, $8 now. PostgreSQL skips a row another transaction has locked (it is
// being claimed or settled right now: not free).
#define NUBEFACT_FREE_ROW(now)                                                                      \
    "account = $1 AND family = $2 AND tipo = $3 AND serie = $4 AND numero = $5 AND (owner IS NULL " \
    "OR lease_until < " now ")"
// A corrected payload for a document Nubefact does not hold (see may_resend_corrected), claimed:
// parameters as record_sql. Changes nothing when the row holds this payload, a state in which
// Nubefact may have it, or a live claim.
#define NUBEFACT_SUPERSEDE_SET                                                                             \
    "op = $6, payload_hash = $7, state = $9, attempts = attempts + $10, codigo = NULL, "                   \
    "aceptada_por_sunat = NULL, sunat_responsecode = '', sunat_description = '', sunat_note = '', "        \
    "enlace = '', enlace_del_pdf = '', enlace_del_xml = '', enlace_del_cdr = '', cadena_para_codigo_qr = " \
    "'', "                                                                                                 \
    "codigo_hash = '', error = '', updated_at = $8, owner = $11, lease_until = $12, "                      \
    "lease_token = lease_token + 1"
#define NUBEFACT_SUPERSEDE_WHERE \
    "payload_hash <> $7 AND state IN ('refused', 'failed') AND " NUBEFACT_FREE_ROW("$8")
constexpr std::string_view supersede_sql =
    "UPDATE documents SET " NUBEFACT_SUPERSEDE_SET " WHERE " NUBEFACT_SUPERSEDE_WHERE;
constexpr std::string_view supersede_payload_sql =
    "UPDATE document_payloads SET payload = $6 WHERE document_id = (SELECT id FROM documents WHERE "
    "account = $1 AND family = $2 AND tipo = $3 AND serie = $4 AND numero = $5)";
// PostgreSQL: both in one statement; changes = 1 when superseded. $13 the payload.
constexpr std::string_view supersede_pg_sql =
    "WITH up AS (UPDATE documents SET " NUBEFACT_SUPERSEDE_SET
    " WHERE id = (SELECT id FROM documents "
    "WHERE " NUBEFACT_SUPERSEDE_WHERE
    " FOR UPDATE SKIP LOCKED) RETURNING id) "
    "UPDATE document_payloads p SET payload = $13 FROM up WHERE p.document_id = up.id";
// The claim of a journaled row with the same payload that may still be sent: $1–$5 the row, $6
// payload_hash, $7 now, $8 owner, $9 lease_until. The token grows: the previous holder is fenced out.
#define NUBEFACT_CLAIM_WHERE                                                                        \
    "payload_hash = $6 AND state NOT IN ('accepted', 'rejected', 'conflict') AND account = $1 AND " \
    "family = $2 AND tipo = $3 AND serie = $4 AND numero = $5 AND (owner IS NULL OR lease_until < $7)"
constexpr std::string_view claim_sql =
    "UPDATE documents SET owner = $8, lease_until = $9, lease_token = lease_token + 1, updated_at = $7 "
    "WHERE " NUBEFACT_CLAIM_WHERE;
constexpr std::string_view claim_pg_sql =
    "UPDATE documents SET owner = $8, lease_until = $9, lease_token = lease_token + 1, updated_at = $7 "
    "WHERE id = (SELECT id FROM documents WHERE " NUBEFACT_CLAIM_WHERE " FOR UPDATE SKIP LOCKED)";
#undef NUBEFACT_CLAIM_WHERE
#undef NUBEFACT_SUPERSEDE_WHERE
#undef NUBEFACT_SUPERSEDE_SET
#undef NUBEFACT_FREE_ROW
// A live owner's claims last another lease: $1 lease_until, $2 owner.
constexpr std::string_view renew_sql = "UPDATE documents SET lease_until = $1 WHERE owner = $2";
// Owners holding live claims: $1 now.
constexpr std::string_view owners_sql =
    "SELECT DISTINCT owner FROM documents WHERE owner IS NOT NULL AND lease_until >= $1";
// The claims of an owner that is gone end now (the next claimer consults first): $1 owner.
constexpr std::string_view expire_owner_sql = "UPDATE documents SET lease_until = 0 WHERE owner = $1";
constexpr std::string_view update_sql =
    "UPDATE documents SET state = $1, attempts = attempts + $2, "
    "codigo = COALESCE(CAST($3 AS INTEGER), codigo), "
    "aceptada_por_sunat = COALESCE(CAST($4 AS INTEGER), aceptada_por_sunat), "
    "sunat_responsecode = COALESCE(CAST($5 AS TEXT), sunat_responsecode), "
    "sunat_description = COALESCE(CAST($6 AS TEXT), sunat_description), "
    "sunat_note = COALESCE(CAST($7 AS TEXT), sunat_note), "
    "enlace = COALESCE(CAST($8 AS TEXT), enlace), "
    "enlace_del_pdf = COALESCE(CAST($9 AS TEXT), enlace_del_pdf), "
    "enlace_del_xml = COALESCE(CAST($10 AS TEXT), enlace_del_xml), "
    "enlace_del_cdr = COALESCE(CAST($11 AS TEXT), enlace_del_cdr), "
    "cadena_para_codigo_qr = COALESCE(CAST($12 AS TEXT), cadena_para_codigo_qr), "
    "codigo_hash = COALESCE(CAST($13 AS TEXT), codigo_hash), "
    "error = COALESCE(CAST($14 AS TEXT), error), updated_at = $15, "
    "owner = CASE WHEN $1 = 'sending' THEN owner ELSE NULL END, "
    "lease_until = CASE WHEN $1 = 'sending' THEN lease_until ELSE 0 END "
    "WHERE account = $16 AND family = $17 AND tipo = $18 AND serie = $19 AND numero = $20 "
    "AND (state NOT IN ('accepted', 'rejected', 'conflict') OR state = $1) "
    "AND (CAST($21 AS BIGINT) IS NULL OR lease_token = CAST($21 AS BIGINT))";

// ---- queued operations -------------------------------------------------------------------
// Each operation carries its own outcome, filled in by the transaction and delivered after COMMIT
// (no per-operation closure is allocated on the writer thread).

struct audit_op {
    audit_record rec;
};
struct record_op {
    intent what;
    std::function<void(result<intent_journal::record_result>)> done;
    bool created = false;
    bool replaced = false;
    bool claimed = false;
    std::int64_t lease = 0;                 // the claim's token, when claimed
    std::int64_t at_us = 0;                 // created_at as stored
    std::int64_t lease_until_us = 0;        // the claim's end, as stored
    std::optional<intent_record> existing;  // when not created
};
struct update_op {
    std::string account;
    document_key key;
    state_update u;
    std::function<void(result<void>)> done;
    bool found = false;
};
struct find_op {
    std::string account;
    std::string family;
    document_key key;
    std::function<void(result<std::optional<intent_record>>)> done;
    std::optional<intent_record> found;
};
struct flush_op {
    std::shared_ptr<std::promise<void>> p;
};
using queued_op = std::variant<audit_op, record_op, update_op, find_op, flush_op>;

void fail_op(queued_op& op, error_code ec) {
    std::visit(
        [&](auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, flush_op>) {
                o.p->set_value();
            } else if constexpr (!std::is_same_v<T, audit_op>) {
                if (o.done) o.done(ec);
            }
        },
        op);
}

// Delivers the committed outcome of `op` (the op is consumed: the intent moves into the result).
void complete_op(queued_op& op) {
    std::visit(
        [&](auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, flush_op>) {
                o.p->set_value();
            } else if constexpr (std::is_same_v<T, record_op>) {
                if (!o.done) return;
                intent_journal::record_result res;
                res.created = o.created;
                res.claimed = o.claimed;
                res.replaced = o.replaced;
                res.lease = o.lease;
                if (o.existing) {
                    res.record = std::move(*o.existing);
                } else {
                    res.record.what = std::move(o.what);
                    res.record.state = o.what.sending ? doc_state::sending : doc_state::queued;
                    res.record.attempts = o.what.sending ? 1 : 0;
                    // Stored with microsecond precision; report what a later find() returns.
                    res.record.created_at = res.record.updated_at = from_us(o.at_us);
                    res.record.lease_until = from_us(o.lease_until_us);
                    res.record.lease_token = o.lease;
                }
                o.done(std::move(res));
            } else if constexpr (std::is_same_v<T, update_op>) {
                if (!o.done) return;
                if (o.found)
                    o.done(result<void>{});
                else
                    o.done(store_errc::not_found);
            } else if constexpr (std::is_same_v<T, find_op>) {
                if (o.done) o.done(std::move(o.found));
            }
        },
        op);
}

class sql_store;

class durable_journal final : public intent_journal {
  public:
    explicit durable_journal(sql_store& s) : s_(s) {}
    void record(const intent& what, std::function<void(result<record_result>)> done) override;
    void update(const std::string& account, const document_key& key, const state_update& u,
                std::function<void(result<void>)> done) override;
    void find(const std::string& account, const document_key& key,
              std::function<void(result<std::optional<intent_record>>)> done) override;
    void find(const std::string& account, operation op, const document_key& key,
              std::function<void(result<std::optional<intent_record>>)> done) override;

  private:
    sql_store& s_;
};

class durable_audit final : public audit_sink {
  public:
    explicit durable_audit(sql_store& s) : s_(s) {}
    bool try_write(audit_record&& r) override;
    void wait_for_space(std::function<void()> ready) override;

  private:
    sql_store& s_;
};

class sql_store final : public store {
  public:
    sql_store(std::unique_ptr<detail::connection> writer, std::unique_ptr<detail::connection> admin,
              int version, store_options opt, std::optional<detail::token_cipher> cipher)
        : writer_conn_(std::move(writer)),
          admin_(std::move(admin)),
          version_(version),
          opt_(std::move(opt)),
          cipher_(std::move(cipher)),
          journal_(*this),
          audit_(*this) {
        if (!opt_.steady_now) opt_.steady_now = [] { return std::chrono::steady_clock::now(); };
        if (opt_.max_batch == 0) opt_.max_batch = 1;
        if (opt_.audit_queue_capacity == 0) opt_.audit_queue_capacity = 1;
        tokens_ = std::make_shared<const std::vector<std::string>>();
        {
            std::lock_guard lk(cache_mu_);
            (void)revalidate_cache_locked(true);
        }
        writer_ = std::thread([this] { writer_loop(); });
        writer_id_ = writer_.get_id();
    }
    ~sql_store() override { close(); }

    std::string_view backend() const noexcept override {
        return admin_->kind() == detail::dialect::sqlite ? "sqlite" : "postgresql";
    }
    int schema_version() const noexcept override { return version_; }
    std::string last_error() const override {
        std::lock_guard lk(err_mu_);
        return last_error_;
    }

    // ---- accounts ----

    result<void> add_account(const account& a) override {
        auto token = seal(a.config.name, a.config.token);
        if (!token) return token.error();
        auto now = now_us();
        std::vector<value> p = account_params(a, *token);
        p.push_back(now);
        auto r = admin_write([&](detail::connection& c) -> result<void> {
            auto q = c.query(
                "INSERT INTO accounts (name, ruc, ruta, token, auth, rate, burst, min_interval_ms, "
                "max_concurrency, "
                "connect_timeout_ms, request_timeout_ms, total_timeout_ms, enabled, created_at, updated_at) "
                "VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
                p);
            if (!q) return q.error();
            return bump_accounts_version(c);
        });
        invalidate_cache();
        return r;
    }

    result<void> update_account(const account& a) override {
        auto token = seal(a.config.name, a.config.token);
        if (!token) return token.error();
        std::vector<value> p = account_params(a, *token);
        p.push_back(now_us());
        auto r = admin_write([&](detail::connection& c) -> result<void> {
            auto q = c.query(
                "UPDATE accounts SET ruc = $2, ruta = $3, token = $4, auth = $5, rate = $6, burst = $7, "
                "min_interval_ms = $8, max_concurrency = $9, connect_timeout_ms = $10, request_timeout_ms = "
                "$11, "
                "total_timeout_ms = $12, enabled = $13, updated_at = $14 WHERE name = $1 RETURNING id",
                p);
            if (!q) return q.error();
            if (q->empty()) return store_errc::not_found;
            return bump_accounts_version(c);
        });
        invalidate_cache();
        return r;
    }

    result<void> remove_account(std::string_view name) override {
        value p[] = {std::string(name)};
        auto r = admin_write([&](detail::connection& c) -> result<void> {
            auto q = c.query("DELETE FROM accounts WHERE name = $1 RETURNING id", p);
            if (!q) return q.error();
            if (q->empty()) return store_errc::not_found;
            return bump_accounts_version(c);
        });
        invalidate_cache();
        return r;
    }

    result<std::vector<account>> list_accounts() override {
        std::lock_guard lk(admin_mu_);
        return load_accounts_locked(false);
    }

    result<std::optional<account>> find_account(std::string_view name) override {
        std::lock_guard lk(cache_mu_);
        if (auto r = revalidate_cache_locked(false); !r) return r.error();
        auto it = cache_.find(name);
        if (it == cache_.end()) return std::optional<account>{};
        if (it->second.config.token.starts_with(detail::enc_prefix)) {
            remember_error("the account's token is encrypted and NUBEFACT_SECRET_KEY is missing or wrong");
            return store_errc::crypto;
        }
        return std::optional<account>{it->second};
    }

    // ---- gateway API keys ----

    result<void> add_api_key(const api_key& k) override {
        value p[] = {k.ruta, k.account, k.token_hash, now_us()};
        return admin_write([&](detail::connection& c) -> result<void> {
            auto q = c.execute(
                "INSERT INTO api_keys (ruta, account, token_hash, created_at) VALUES ($1, $2, $3, $4)", p);
            if (!q) return q.error();
            return {};
        });
    }

    static api_key parse_api_key(const detail::row& r) {
        api_key k;
        k.ruta = r[0].value_or("");
        k.account = r[1].value_or("");
        k.token_hash = r[2].value_or("");
        k.created_at = from_us(as_i64(r[3]));
        if (auto at = as_i64(r[4]); at != 0) k.revoked_at = from_us(at);
        return k;
    }

    result<std::optional<api_key>> find_api_key(std::string_view ruta) override {
        value p[] = {std::string(ruta)};
        std::lock_guard lk(admin_mu_);
        auto r = admin_->query(
            "SELECT ruta, account, token_hash, created_at, revoked_at FROM api_keys WHERE ruta = $1", p);
        if (!r) return remember(r.error());
        if (r->empty()) return std::optional<api_key>{};
        return std::optional<api_key>{parse_api_key(r->front())};
    }

    result<std::vector<api_key>> list_api_keys() override {
        std::lock_guard lk(admin_mu_);
        auto r = admin_->query(
            "SELECT ruta, account, token_hash, created_at, revoked_at FROM api_keys ORDER BY account, "
            "created_at");
        if (!r) return remember(r.error());
        std::vector<api_key> out;
        for (auto& row : *r) out.push_back(parse_api_key(row));
        return out;
    }

    result<void> revoke_api_key(std::string_view ruta) override {
        value p[] = {std::string(ruta), now_us()};
        return admin_write([&](detail::connection& c) -> result<void> {
            auto q = c.query(
                "UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN $2 ELSE revoked_at END "
                "WHERE ruta = $1 RETURNING id",
                p);
            if (!q) return q.error();
            if (q->empty()) return store_errc::not_found;
            return {};
        });
    }

    // ---- reads ----

    result<std::optional<api_key>> find_api_key_by_token_hash(std::string_view token_hash) override {
        value p[] = {std::string(token_hash)};
        std::lock_guard lk(admin_mu_);
        auto r = admin_->query(
            "SELECT ruta, account, token_hash, created_at, revoked_at FROM api_keys WHERE token_hash = $1",
            p);
        if (!r) return remember(r.error());
        if (r->empty()) return std::optional<api_key>{};
        return std::optional<api_key>{parse_api_key(r->front())};
    }

    // ---- idempotency keys (the gateway's native API) ----

    result<std::optional<idempotency_record>> begin_idempotent(std::string_view tenant, std::string_view key,
                                                               std::string_view request_hash,
                                                               std::chrono::seconds keep,
                                                               std::chrono::seconds abandoned) override {
        const std::int64_t now = now_us();
        const std::int64_t kept_from =
            now - std::chrono::duration_cast<std::chrono::microseconds>(keep).count();
        const std::int64_t live_from =
            now - std::chrono::duration_cast<std::chrono::microseconds>(abandoned).count();
        std::optional<idempotency_record> held;
        auto r = admin_write([&](detail::connection& c) -> result<void> {
            value gone[] = {std::string(tenant), std::string(key), kept_from, live_from};
            if (auto d = c.execute("DELETE FROM idempotency_keys WHERE tenant = $1 AND idem_key = $2 AND "
                                   "(created_at < $3 OR "
                                   "(status = 0 AND created_at < $4))",
                                   gone);
                !d)
                return d.error();
            value ins[] = {std::string(tenant), std::string(key), std::string(request_hash), now};
            auto n = c.execute(
                "INSERT INTO idempotency_keys (tenant, idem_key, request_hash, created_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, idem_key) DO NOTHING",
                ins);
            if (!n) return n.error();
            if (*n > 0) return {};
            value which[] = {std::string(tenant), std::string(key)};
            auto q = c.query(
                "SELECT request_hash, status, location, body, created_at FROM idempotency_keys "
                "WHERE tenant = $1 AND idem_key = $2",
                which);
            if (!q) return q.error();
            if (q->empty()) return store_errc::busy;  // gone between the two statements: try again
            const auto& row = q->front();
            held.emplace();
            held->request_hash = row[0].value_or("");
            held->status = static_cast<int>(as_i64(row[1]));
            held->location = row[2].value_or("");
            held->body = row[3].value_or("");
            held->created_at = from_us(as_i64(row[4]));
            return {};
        });
        if (!r) return r.error();
        return held;
    }

    result<void> finish_idempotent(std::string_view tenant, std::string_view key, int status,
                                   std::string_view location, std::string_view body) override {
        value p[] = {std::string(tenant), std::string(key), std::int64_t{status}, std::string(location),
                     std::string(body)};
        return admin_write([&](detail::connection& c) -> result<void> {
            auto n = c.execute(
                "UPDATE idempotency_keys SET status = $3, location = $4, body = $5 WHERE tenant = $1 AND "
                "idem_key = $2",
                p);
            if (!n) return n.error();
            if (*n == 0) return store_errc::not_found;
            return {};
        });
    }

    result<void> drop_idempotent(std::string_view tenant, std::string_view key) override {
        value p[] = {std::string(tenant), std::string(key)};
        return admin_write([&](detail::connection& c) -> result<void> {
            auto n = c.execute(
                "DELETE FROM idempotency_keys WHERE tenant = $1 AND idem_key = $2 AND status = 0", p);
            if (!n) return n.error();
            if (*n == 0) return store_errc::not_found;
            return {};
        });
    }

    result<std::vector<intent_record>> find_documents(const document_query& q) override {
        std::string sql = std::string("SELECT ") + doc_columns + doc_from + " WHERE 1 = 1";
        std::vector<value> p;
        auto add = [&](const char* cond, value v) {
            p.push_back(std::move(v));
            sql += std::string(" AND ") + cond + " = $" + std::to_string(p.size());
        };
        if (!q.serie.empty()) add("d.serie", q.serie);
        if (q.numero) add("d.numero", *q.numero);
        if (q.tipo) add("d.tipo", std::int64_t{*q.tipo});
        if (!q.account.empty()) add("d.account", q.account);
        if (q.state) add("d.state", std::string(state_name(*q.state)));
        p.push_back(static_cast<std::int64_t>(q.limit));
        sql += " ORDER BY d.updated_at DESC, d.id DESC LIMIT $" + std::to_string(p.size());
        std::lock_guard lk(admin_mu_);
        auto r = admin_->query(sql, p);
        if (!r) return remember(r.error());
        std::vector<intent_record> out;
        for (auto& row : *r) out.push_back(parse_document(row));
        return out;
    }

    result<std::vector<state_count>> count_documents() override {
        std::lock_guard lk(admin_mu_);
        auto r = admin_->query(
            "SELECT account, state, COUNT(*), MIN(updated_at) FROM documents GROUP BY account, state ORDER "
            "BY "
            "account, state",
            {});
        if (!r) return remember(r.error());
        std::vector<state_count> out;
        for (auto& row : *r)
            out.push_back({row[0].value_or(""), state_from(row[1].value_or("")), as_i64(row[2]),
                           from_us(as_i64(row[3]))});
        return out;
    }

    result<std::vector<stored_audit>> query_log(const log_query& q) override {
        std::string sql =
            "SELECT id, at, account, operation, document, attempt, http_status, codigo, outcome, latency_us, "
            "request_bytes, response_bytes, request_body, response_body FROM api_calls WHERE 1 = 1";
        std::vector<value> p;
        auto add = [&](const char* cond, value v) {
            p.push_back(std::move(v));
            sql += std::string(" AND ") + cond + " $" + std::to_string(p.size());
        };
        if (q.since) add("at >=", to_us(*q.since));
        if (!q.account.empty()) add("account =", q.account);
        if (!q.operation.empty()) add("operation =", q.operation);
        if (!q.outcome.empty()) add("outcome =", q.outcome);
        if (!q.document.empty()) add("document =", q.document);
        p.push_back(static_cast<std::int64_t>(q.limit));
        sql += " ORDER BY id DESC LIMIT $" + std::to_string(p.size());
        std::lock_guard lk(admin_mu_);
        auto r = admin_->query(sql, p);
        if (!r) return remember(r.error());
        std::vector<stored_audit> out;
        for (auto& row : *r) {
            stored_audit s;
            s.id = as_i64(row[0]);
            auto& a = s.record;
            a.at = from_us(as_i64(row[1]));
            a.account = row[2].value_or("");
            a.operation = row[3].value_or("");
            a.document = row[4].value_or("");
            a.attempt = static_cast<int>(as_i64(row[5]));
            a.http_status = static_cast<int>(as_i64(row[6]));
            a.codigo = as_opt_int(row[7]);
            a.outcome = row[8].value_or("");
            a.latency = std::chrono::microseconds(as_i64(row[9]));
            a.request_bytes = static_cast<std::size_t>(as_i64(row[10]));
            a.response_bytes = static_cast<std::size_t>(as_i64(row[11]));
            a.request_body = row[12].value_or("");
            a.response_body = row[13].value_or("");
            out.push_back(std::move(s));
        }
        return out;
    }

    intent_journal& journal() noexcept override { return journal_; }
    audit_sink& audit() noexcept override { return audit_; }

    void set_completion_dispatch(std::function<void(std::function<void()>)> dispatch) override {
        std::lock_guard lk(dispatch_mu_);
        dispatch_ = dispatch ? std::make_shared<const dispatch_fn>(std::move(dispatch)) : nullptr;
    }

    void flush() override {
        // From a completion callback (the writer thread) waiting would deadlock; the caller's
        // earlier writes are in the batch being committed.
        if (std::this_thread::get_id() == writer_id_) return;
        auto p = std::make_shared<std::promise<void>>();
        auto f = p->get_future();
        enqueue_control(flush_op{p});
        f.wait();
    }

    void close() override {
        {
            std::lock_guard lk(q_mu_);
            if (stopping_) {
                // Another caller is closing (or has closed); wait for the writer below.
            }
            stopping_ = true;
        }
        q_cv_.notify_all();
        if (std::this_thread::get_id() == writer_id_) return;  // from a callback: the thread ends by itself
        std::lock_guard jl(join_mu_);
        if (writer_.joinable()) writer_.join();
        std::vector<std::function<void()>> waiters;
        {
            std::lock_guard lk(q_mu_);
            waiters.swap(space_waiters_);
        }
        for (auto& w : waiters) safe_call(w);
    }

    // ---- queue (used by the journal and the audit sink) ----

    // Wake-ups are signalled after the lock is released, so the writer does not wake only to
    // block on the mutex the caller still holds (a second context switch).
    void enqueue_control(queued_op op) {
        {
            std::unique_lock lk(q_mu_);
            if (!closed_) {
                q_.push_back(std::move(op));
                ++control_queued_;
                // The caller waits for it: wake the writer now, unless it is gathering a batch
                // (control_linger) and will take this one with it.
                const bool wake = !gathering_ || q_.size() >= opt_.max_batch;
                lk.unlock();
                if (wake) q_cv_.notify_one();
                return;
            }
        }
        fail_op(op, store_errc::closed);
    }

    bool try_write(audit_record&& r) {
        bool wake = false;
        {
            std::lock_guard lk(q_mu_);
            if (closed_) {
                ++dropped_after_close_;
                return true;  // shutting down: accepted and discarded, never blocks the caller
            }
            if (audit_queued_ >= opt_.audit_queue_capacity) return false;
            q_.push_back(audit_op{std::move(r)});
            ++audit_queued_;
            // Nobody waits for an audit row: wake the writer only from its idle sleep or for a
            // full batch; otherwise the row rides with the next journal write or the linger.
            wake = deep_sleep_ || q_.size() >= opt_.max_batch;
        }
        if (wake) q_cv_.notify_one();
        return true;
    }

    void wait_for_space(std::function<void()> ready) {
        {
            std::lock_guard lk(q_mu_);
            if (!closed_ && audit_queued_ >= opt_.audit_queue_capacity) {
                space_waiters_.push_back(std::move(ready));
                return;
            }
        }
        safe_call(ready);
    }

  private:
    static void safe_call(const std::function<void()>& f) {
        try {
            if (f) f();
        } catch (const std::exception& e) {
            spdlog::error("store: a completion callback threw: {}", e.what());
        } catch (...) {
            spdlog::error("store: a completion callback threw");
        }
    }

    void remember_error(std::string text) {
        std::lock_guard lk(err_mu_);
        last_error_ = std::move(text);
    }
    error_code remember(error_code ec) {
        remember_error(admin_->last_error());
        return ec;
    }

    result<std::string> seal(const std::string& name, const std::string& token) {
        if (!cipher_) return token;
        return cipher_->encrypt(token, name);
    }

    std::vector<value> account_params(const account& a, const std::string& stored_token) {
        const auto& c = a.config;
        return {c.name,
                a.ruc,
                c.ruta,
                stored_token,
                std::string(auth_name(c.auth)),
                c.rate.requests_per_second,
                std::int64_t{c.rate.burst},
                static_cast<std::int64_t>(c.rate.min_interval.count()),
                std::int64_t{c.max_concurrency},
                static_cast<std::int64_t>(c.connect_timeout.count()),
                static_cast<std::int64_t>(c.request_timeout.count()),
                static_cast<std::int64_t>(c.total_timeout.count()),
                std::int64_t{a.enabled ? 1 : 0}};
    }

    static result<void> bump_accounts_version(detail::connection& c) {
        auto q = c.query("UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'");
        if (!q) return q.error();
        return {};
    }

    template <class F>
    result<void> admin_write(F&& body) {
        std::lock_guard lk(admin_mu_);
        for (int attempt = 0;; ++attempt) {
            auto r = admin_->begin_write();
            if (r) r = body(*admin_);
            if (r) r = admin_->commit();
            if (r) return r;
            remember_error(admin_->last_error());
            admin_->rollback();
            if (r.error() != store_errc::busy || attempt >= 3) return r;
        }
    }

    // Reads every account; tokens decrypted when possible, else left as stored ("enc:v1:…").
    result<std::vector<account>> load_accounts_locked(bool quiet) {
        auto r = admin_->query(std::string("SELECT ") + account_columns + " FROM accounts ORDER BY name");
        if (!r) {
            if (!quiet) remember_error(admin_->last_error());
            return r.error();
        }
        std::vector<account> out;
        for (auto& row : *r) {
            account a;
            auto& c = a.config;
            c.name = row[0].value_or("");
            a.ruc = row[1].value_or("");
            c.ruta = row[2].value_or("");
            std::string tok = row[3].value_or("");
            if (tok.starts_with(detail::enc_prefix) && cipher_) {
                if (auto plain = cipher_->decrypt(tok, c.name)) tok = std::move(*plain);
            }
            c.token = std::move(tok);
            c.auth = auth_from(row[4].value_or(""));
            c.rate.requests_per_second = as_f64(row[5]);
            c.rate.burst = static_cast<int>(as_i64(row[6]));
            c.rate.min_interval = std::chrono::milliseconds(as_i64(row[7]));
            c.max_concurrency = static_cast<int>(as_i64(row[8]));
            c.connect_timeout = std::chrono::milliseconds(as_i64(row[9]));
            c.request_timeout = std::chrono::milliseconds(as_i64(row[10]));
            c.total_timeout = std::chrono::milliseconds(as_i64(row[11]));
            a.enabled = as_i64(row[12]) != 0;
            a.created_at = from_us(as_i64(row[13]));
            a.updated_at = from_us(as_i64(row[14]));
            out.push_back(std::move(a));
        }
        return out;
    }

    void invalidate_cache() {
        std::lock_guard lk(cache_mu_);
        (void)revalidate_cache_locked(true);
    }

    // Reloads the accounts when the version counter moved; checks at most every account_cache_check.
    result<void> revalidate_cache_locked(bool force) {
        auto now = opt_.steady_now();
        if (!force && cache_version_ && now - cache_checked_ < opt_.account_cache_check) return {};
        std::lock_guard lk(admin_mu_);
        auto v = admin_->query("SELECT value FROM meta WHERE key = 'accounts_version'");
        if (!v) {
            remember_error(admin_->last_error());
            return v.error();
        }
        std::int64_t ver = v->empty() ? 0 : as_i64(v->front()[0]);
        cache_checked_ = now;
        if (!force && cache_version_ && *cache_version_ == ver) return {};
        auto all = load_accounts_locked(false);
        if (!all) return all.error();
        cache_.clear();
        auto toks = std::make_shared<std::vector<std::string>>();
        for (auto& a : *all) {
            if (!a.config.token.starts_with(detail::enc_prefix)) toks->push_back(a.config.token);
            std::string name = a.config.name;
            cache_.emplace(std::move(name), std::move(a));
        }
        cache_version_ = ver;
        std::lock_guard tl(tokens_mu_);
        tokens_ = std::move(toks);
        return {};
    }

    std::shared_ptr<const std::vector<std::string>> tokens() {
        std::lock_guard tl(tokens_mu_);
        return tokens_;
    }

    // ---- writer thread ----

    void writer_loop() {
        std::vector<queued_op> batch;
        batch.reserve(opt_.max_batch);
        const bool linger = opt_.max_linger.count() > 0;
        const bool control_linger = opt_.control_linger.count() > 0;
        // Wakes early only for what a caller waits on (journal operations, flush) or a full batch;
        // audit rows alone wait out the linger window.
        auto urgent = [&] { return control_queued_ > 0 || q_.size() >= opt_.max_batch || stopping_; };
        // A store just opened first ends the claims of senders of this host that died (a rerun
        // after kill -9 or a crash then resumes their documents at once, consulting first).
        maintain(false);
        for (;;) {
            std::vector<std::function<void()>> waiters;
            {
                std::unique_lock lk(q_mu_);
                bool lingered = false;
                if (q_.empty() && !stopping_) {
                    // Light sleep: audit rows queued now do not notify (no wake-up per row).
                    if (linger) {
                        q_cv_.wait_for(lk, opt_.max_linger, urgent);
                        lingered = true;
                    }
                    if (q_.empty() && !stopping_) {
                        // Idle: sleep until notified (the first row of any kind wakes us), or until
                        // our claims need renewing.
                        deep_sleep_ = true;
                        auto wake = [&] { return !q_.empty() || stopping_; };
                        if (holding_ || contended_)
                            q_cv_.wait_until(lk, next_maintenance(), wake);
                        else
                            q_cv_.wait(lk, wake);
                        deep_sleep_ = false;
                        lingered = false;
                    }
                }
                if (q_.empty() && !stopping_) {
                    lk.unlock();
                    maintain(false);
                    continue;
                }
                if (q_.empty()) {
                    maintain(true);  // our claims end with us: the next sender need not wait
                    closed_ = true;  // decided under the lock: nothing can slip in after this
                    return;
                }
                if (!lingered && linger && !urgent()) q_cv_.wait_for(lk, opt_.max_linger, urgent);
                if (control_linger && control_queued_ > 0 && q_.size() < opt_.max_batch && !stopping_) {
                    // A journal call woke us: let the calls right behind it join this commit.
                    gathering_ = true;
                    q_cv_.wait_for(lk, opt_.control_linger,
                                   [&] { return q_.size() >= opt_.max_batch || stopping_; });
                    gathering_ = false;
                }
                if (q_.size() <= opt_.max_batch) {
                    // Everything queued: the vectors trade places, so the lock is held for O(1) and
                    // the callers enqueue into the (cleared, still allocated) previous batch.
                    batch.swap(q_);
                    audit_queued_ = control_queued_ = 0;
                } else {
                    const auto n = static_cast<std::ptrdiff_t>(opt_.max_batch);
                    for (auto it = q_.begin(); it != q_.begin() + n; ++it) {
                        if (std::holds_alternative<audit_op>(*it))
                            --audit_queued_;
                        else
                            --control_queued_;
                        batch.push_back(std::move(*it));
                    }
                    q_.erase(q_.begin(), q_.begin() + n);
                }
                if (!space_waiters_.empty() && audit_queued_ < opt_.audit_queue_capacity)
                    waiters.swap(space_waiters_);
            }
            for (auto& w : waiters) safe_call(w);
            process(batch);
            batch.clear();
            maintain(false);
        }
    }

    // ---- claims ----

    // A record may claim: renew a third of a lease after the first claim (not at once).
    void note_claim() {
        if (holding_) return;
        holding_ = true;
        next_renew_ = opt_.steady_now() + opt_.lease / 3;
    }
    std::int64_t lease_us() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(opt_.lease).count();
    }
    // Renewals every third of the lease; dead-owner sweeps at most once a second while contended.
    std::chrono::steady_clock::time_point next_maintenance() const {
        if (!holding_) return next_sweep_;
        return contended_ ? std::min(next_renew_, next_sweep_) : next_renew_;
    }

    // Writer thread only: renews our claims when due, ends the claims of dead owners on this host
    // when another sender's claim stood in our way, and (closing) releases ours.
    void maintain(bool closing) {
        const auto steady = opt_.steady_now();
        const bool renew = holding_ && (closing || steady >= next_renew_);
        const bool sweep = contended_ && !closing && steady >= next_sweep_;
        if (!renew && !sweep) return;
        auto& c = *writer_conn_;
        const auto now = now_us();
        auto run = [&]() -> result<void> {
            if (auto r = c.begin_write(); !r) return r;
            if (renew) {
                value p[] = {closing ? std::int64_t{0} : now + lease_us(), std::string_view(owner_)};
                auto r = c.execute(renew_sql, p);
                if (!r) return r.error();
                if (*r == 0) holding_ = false;
            }
            if (sweep) {
                value q[] = {now};
                auto owners = c.query(owners_sql, q);
                if (!owners) return owners.error();
                for (const auto& row : *owners) {
                    const std::string o = row[0].value_or("");
                    if (o == owner_ || !owner_is_gone(o)) continue;
                    value e[] = {std::string_view(o)};
                    auto r = c.execute(expire_owner_sql, e);
                    if (!r) return r.error();
                    spdlog::info("store: the claims of sender {} (process gone) passed on ({} documents)", o,
                                 *r);
                }
            }
            return c.commit();
        };
        if (auto r = run(); !r) {
            c.rollback();
            spdlog::warn("store: could not {} claims: {}", renew ? "renew" : "check",
                         writer_conn_->last_error());
        }
        if (renew) next_renew_ = steady + opt_.lease / 3;
        if (sweep) {
            contended_ = false;
            next_sweep_ = steady + std::chrono::seconds(1);
        }
    }

    static void safe_complete(queued_op& op) {
        try {
            complete_op(op);
        } catch (const std::exception& e) {
            spdlog::error("store: a completion callback threw: {}", e.what());
        } catch (...) {
            spdlog::error("store: a completion callback threw");
        }
    }

    // One transaction for the whole batch; completions run after COMMIT, in queue order.
    void process(std::vector<queued_op>& batch) {
        auto r = run_transaction(batch.data(), batch.size());
        if (r) {
            std::shared_ptr<const dispatch_fn> dispatch;
            {
                std::lock_guard lk(dispatch_mu_);
                dispatch = dispatch_;
            }
            if (!dispatch) {
                for (auto& op : batch) safe_complete(op);
                return;
            }
            // Journal completions travel together to the caller's thread; flushes end here, after
            // the hand-over (a flush() caller may be that very thread, waiting).
            auto handed = std::make_shared<std::vector<queued_op>>();
            bool flushes = false;
            for (auto& op : batch) {
                if (std::holds_alternative<flush_op>(op))
                    flushes = true;
                else if (!std::holds_alternative<audit_op>(op))
                    handed->push_back(std::move(op));
            }
            if (!handed->empty()) {
                try {
                    (*dispatch)([handed] {
                        for (auto& op : *handed) safe_complete(op);
                    });
                } catch (const std::exception& e) {
                    spdlog::error("store: the completion dispatch threw ({}); completing here", e.what());
                    for (auto& op : *handed) safe_complete(op);
                }
            }
            if (flushes)
                for (auto& op : batch)
                    if (std::holds_alternative<flush_op>(op)) safe_complete(op);
            return;
        }
        // One bad row must not sink the others: replay one operation per transaction.
        for (auto& op : batch) {
            auto r1 = batch.size() == 1 ? r : run_transaction(&op, 1);
            if (r1) {
                safe_complete(op);
            } else {
                if (std::holds_alternative<audit_op>(op)) {
                    spdlog::error("store: audit row lost: {}", writer_conn_->last_error());
                }
                fail_op(op, r1.error());
            }
        }
    }

    result<void> run_transaction(queued_op* ops, std::size_t n) {
        for (int attempt = 0;; ++attempt) {
            auto r = try_transaction(ops, n);
            if (r) return r;
            writer_conn_->rollback();
            if (r.error() != store_errc::busy && r.error() != store_errc::closed) return r;
            if (attempt >= 4) return r;
            std::this_thread::sleep_for(std::chrono::milliseconds(5 << attempt));
        }
    }

    result<void> try_transaction(queued_op* ops, std::size_t n) {
        auto& c = *writer_conn_;
        if (c.supports_pipeline()) return try_pipelined(ops, n);
        if (auto r = c.begin_write(); !r) return r;
        auto toks = tokens();
        audit_batch_.clear();
        for (std::size_t i = 0; i < n; ++i) {
            auto r = std::visit(
                [&](auto& o) -> result<void> {
                    using T = std::decay_t<decltype(o)>;
                    if constexpr (std::is_same_v<T, audit_op>) audit_batch_.push_back(&o.rec);
                    if constexpr (std::is_same_v<T, record_op>) return do_record(c, o);
                    if constexpr (std::is_same_v<T, update_op>) return do_update(c, o, *toks);
                    if constexpr (std::is_same_v<T, find_op>) return do_find(c, o);
                    return {};
                },
                ops[i]);
            if (!r) return r;
        }
        // The batch's audit rows together (their order kept), INSERT statements 64 rows at a time.
        const std::size_t per = audit_rows_per_insert;
        for (std::size_t i = 0; i < audit_batch_.size(); i += per) {
            auto m = std::min(per, audit_batch_.size() - i);
            if (auto r = insert_audit(c, audit_batch_.data() + i, m, *toks); !r) return r;
        }
        return c.commit();
    }

    // PostgreSQL: the batch's statements go out in pipelines (one round trip per 64 statements
    // instead of one each): BEGIN, the journal writes, the audit rows as one INSERT … unnest of
    // bound arrays, COMMIT. A record is an INSERT … ON CONFLICT DO NOTHING followed by a SELECT
    // of the row (a statement of its own: it sees a row another process committed meanwhile).
    result<void> try_pipelined(queued_op* ops, std::size_t n) {
        auto& c = *writer_conn_;
        if (auto r = c.begin_write(); !r) return r;
        auto toks = tokens();
        audit_batch_.clear();
        stmts_.clear();
        params_.clear();
        params_.reserve(n * 40 +
                        audit_cols);  // no reallocation: statements keep spans into it (a record: 13+13+9+5)
        auto add = [&](std::string_view sql, std::initializer_list<value> vals) {
            auto first = params_.size();
            for (const auto& v : vals) params_.push_back(v);
            stmts_.push_back({sql, std::span<const value>(params_.data() + first, vals.size())});
        };
        for (std::size_t i = 0; i < n; ++i) {
            std::visit(
                [&](auto& o) {
                    using T = std::decay_t<decltype(o)>;
                    if constexpr (std::is_same_v<T, audit_op>) {
                        audit_batch_.push_back(&o.rec);
                    } else if constexpr (std::is_same_v<T, record_op>) {
                        const auto& w = o.what;
                        o.at_us = now_us();
                        o.lease_until_us = o.at_us + lease_us();
                        note_claim();
                        // The four statements run whatever the row holds: each one's WHERE decides
                        // (insert new; else supersede a corrected payload; else claim a free row).
                        add(record_pg_sql,
                            {std::string_view(w.account), family_of(w.op), std::int64_t{w.key.tipo},
                             std::string_view(w.key.serie), w.key.numero, to_string(w.op),
                             std::string_view(w.payload_hash), o.at_us, initial_state(w),
                             std::int64_t{w.sending ? 1 : 0}, std::string_view(owner_), o.lease_until_us,
                             std::string_view(w.payload)});
                        add(supersede_pg_sql,
                            {std::string_view(w.account), family_of(w.op), std::int64_t{w.key.tipo},
                             std::string_view(w.key.serie), w.key.numero, to_string(w.op),
                             std::string_view(w.payload_hash), o.at_us, initial_state(w),
                             std::int64_t{w.sending ? 1 : 0}, std::string_view(owner_), o.lease_until_us,
                             std::string_view(w.payload)});
                        add(claim_pg_sql,
                            {std::string_view(w.account), family_of(w.op), std::int64_t{w.key.tipo},
                             std::string_view(w.key.serie), w.key.numero, std::string_view(w.payload_hash),
                             o.at_us, std::string_view(owner_), o.lease_until_us});
                        add(select_document_sql_,
                            {std::string_view(w.account), family_of(w.op), std::int64_t{w.key.tipo},
                             std::string_view(w.key.serie), w.key.numero});
                    } else if constexpr (std::is_same_v<T, update_op>) {
                        if (o.u.error) scrub(*o.u.error, *toks);
                        auto p = update_params(o);
                        add(update_sql, {});
                        auto first = params_.size();
                        for (auto& v : p) params_.push_back(std::move(v));
                        stmts_.back().params = std::span<const value>(params_.data() + first, p.size());
                    } else if constexpr (std::is_same_v<T, find_op>) {
                        add(select_document_sql_,
                            {std::string_view(o.account), std::string_view(o.family),
                             std::int64_t{o.key.tipo}, std::string_view(o.key.serie), o.key.numero});
                    }
                },
                ops[i]);
        }
        if (!audit_batch_.empty()) {
            build_audit_arrays(audit_batch_.data(), audit_batch_.size(), *toks);
            auto first = params_.size();
            for (auto& a : audit_arrays_) params_.push_back(std::string_view(a));
            stmts_.push_back({audit_unnest_sql, std::span<const value>(params_.data() + first, audit_cols)});
        }
        if (auto r = c.run_pipeline(stmts_, outcomes_); !r) return r;
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
            auto r = std::visit(
                [&](auto& o) -> result<void> {
                    using T = std::decay_t<decltype(o)>;
                    if constexpr (std::is_same_v<T, record_op>) {
                        const bool inserted = outcomes_[k++].changed > 0;
                        const bool superseded = outcomes_[k++].changed > 0;
                        const bool claimed = outcomes_[k++].changed > 0;
                        auto& sel = outcomes_[k++].data;
                        o.created = inserted || superseded;
                        o.replaced = superseded;
                        o.claimed = o.created || claimed;
                        o.existing.reset();
                        if (sel.empty()) return store_errc::query_failed;
                        auto row = parse_document(sel.front());
                        o.lease = o.claimed ? row.lease_token : 0;
                        if (!o.created) {
                            if (!o.claimed && !is_final(row.state)) contended_ = true;
                            o.existing = std::move(row);
                        }
                    } else if constexpr (std::is_same_v<T, update_op>) {
                        o.found = outcomes_[k++].changed > 0;
                    } else if constexpr (std::is_same_v<T, find_op>) {
                        auto& sel = outcomes_[k++].data;
                        o.found.reset();
                        if (!sel.empty()) o.found = parse_document(sel.front());
                    }
                    return {};
                },
                ops[i]);
            if (!r) return r;
        }
        return c.commit();
    }

    // The audit rows' columns as 13 PostgreSQL array literals (text form), bound as parameters.
    void build_audit_arrays(audit_record* const* recs, std::size_t n, const std::vector<std::string>& toks) {
        for (auto& a : audit_arrays_) a.assign(1, '{');
        auto num = [](std::string& out, std::int64_t v) {
            char buf[24];
            auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
            (void)ec;
            out.append(buf, end);
        };
        auto text = [](std::string& out, std::string_view v) {
            out += '"';
            for (char ch : v) {
                if (ch == '"' || ch == '\\') out += '\\';
                out += ch;
            }
            out += '"';
        };
        for (std::size_t k = 0; k < n; ++k) {
            auto& a = *recs[k];
            if (!a.request_body.empty()) scrub(a.request_body, toks);
            if (!a.response_body.empty()) scrub(a.response_body, toks);
            if (k)
                for (auto& col : audit_arrays_) col += ',';
            num(audit_arrays_[0], to_us(a.at));
            text(audit_arrays_[1], a.account);
            text(audit_arrays_[2], a.operation);
            text(audit_arrays_[3], a.document);
            num(audit_arrays_[4], a.attempt);
            num(audit_arrays_[5], a.http_status);
            if (a.codigo)
                num(audit_arrays_[6], *a.codigo);
            else
                audit_arrays_[6] += "NULL";
            text(audit_arrays_[7], a.outcome);
            num(audit_arrays_[8], static_cast<std::int64_t>(a.latency.count()));
            num(audit_arrays_[9], static_cast<std::int64_t>(a.request_bytes));
            num(audit_arrays_[10], static_cast<std::int64_t>(a.response_bytes));
            if (a.request_body.empty())
                audit_arrays_[11] += "NULL";
            else
                text(audit_arrays_[11], a.request_body);
            if (a.response_body.empty())
                audit_arrays_[12] += "NULL";
            else
                text(audit_arrays_[12], a.response_body);
        }
        for (auto& a : audit_arrays_) a += '}';
    }

    // Parameters are views of the queued records (alive until the batch completes): no copies.
    result<void> insert_audit(detail::connection& c, audit_record* const* recs, std::size_t n,
                              const std::vector<std::string>& toks) {
        auto& p = params_;
        p.clear();
        p.reserve(n * audit_cols);
        auto text = [](const std::string& s) { return value{std::string_view(s)}; };
        for (std::size_t k = 0; k < n; ++k) {
            auto& a = *recs[k];
            if (!a.request_body.empty()) scrub(a.request_body, toks);
            if (!a.response_body.empty()) scrub(a.response_body, toks);
            p.emplace_back(to_us(a.at));
            p.push_back(text(a.account));
            p.push_back(text(a.operation));
            p.push_back(text(a.document));
            p.emplace_back(std::int64_t{a.attempt});
            p.emplace_back(std::int64_t{a.http_status});
            p.push_back(opt_value(a.codigo));
            p.push_back(text(a.outcome));
            p.emplace_back(static_cast<std::int64_t>(a.latency.count()));
            p.emplace_back(static_cast<std::int64_t>(a.request_bytes));
            p.emplace_back(static_cast<std::int64_t>(a.response_bytes));
            p.push_back(a.request_body.empty() ? value{} : text(a.request_body));
            p.push_back(a.response_body.empty() ? value{} : text(a.response_body));
        }
        auto r = c.execute(audit_insert_sql(n), p);
        if (!r) return r.error();
        return {};
    }

    // The multi-row INSERT for n rows, built once per n (writer thread only).
    const std::string& audit_insert_sql(std::size_t n) {
        auto& sql = audit_sql_[n];
        if (!sql.empty()) return sql;
        sql =
            "INSERT INTO api_calls (at, account, operation, document, attempt, http_status, codigo, outcome, "
            "latency_us, request_bytes, response_bytes, request_body, response_body) VALUES ";
        for (std::size_t k = 0; k < n; ++k) {
            sql += k ? ", (" : "(";
            for (std::size_t col = 0; col < audit_cols; ++col) {
                if (col) sql += ", ";
                sql += '$' + std::to_string(k * audit_cols + col + 1);
            }
            sql += ')';
        }
        return sql;
    }

    result<std::optional<intent_record>> select_document(detail::connection& c, const std::string& account,
                                                         std::string_view family, const document_key& key) {
        value p[] = {std::string_view(account), family, std::int64_t{key.tipo}, std::string_view(key.serie),
                     key.numero};
        auto r = c.query(select_document_sql_, p);
        if (!r) return r.error();
        if (r->empty()) return std::optional<intent_record>{};
        return std::optional<intent_record>{parse_document(r->front())};
    }

    // SQLite (BEGIN IMMEDIATE: one writer at a time across processes): insert claimed; else
    // supersede a corrected payload or claim the journaled row when it is free; else report it.
    result<void> do_record(detail::connection& c, record_op& o) {
        const auto& w = o.what;
        o.at_us = now_us();
        o.lease_until_us = o.at_us + lease_us();
        const std::string_view family = family_of(w.op);
        value p[] = {std::string_view(w.account),
                     family,
                     std::int64_t{w.key.tipo},
                     std::string_view(w.key.serie),
                     w.key.numero,
                     to_string(w.op),
                     std::string_view(w.payload_hash),
                     o.at_us,
                     initial_state(w),
                     std::int64_t{w.sending ? 1 : 0},
                     std::string_view(owner_),
                     o.lease_until_us};
        auto ins = c.execute(record_sql, p);
        if (!ins) return ins.error();
        o.created = o.claimed = *ins > 0;
        o.existing.reset();
        note_claim();
        if (o.created) {
            o.lease = 1;
            value pp[] = {std::string_view(w.payload)};
            if (auto r = c.execute(payload_sql, pp); !r) return r.error();
            return {};
        }
        // Already journaled (by us earlier, or by another process).
        auto existing = select_document(c, w.account, family, w.key);
        if (!existing) return existing.error();
        if (!*existing) return store_errc::query_failed;
        auto& row = **existing;
        const bool same = row.what.payload_hash == w.payload_hash;
        const bool free = row.owner.empty() || to_us(row.lease_until) < o.at_us;
        if (free && !same && may_resend_corrected(row.state)) {
            auto up = c.execute(supersede_sql, p);
            if (!up) return up.error();
            if (*up > 0) {
                value pp[] = {std::string_view(w.account),   family,       std::int64_t{w.key.tipo},
                              std::string_view(w.key.serie), w.key.numero, std::string_view(w.payload)};
                if (auto r = c.execute(supersede_payload_sql, pp); !r) return r.error();
                o.created = o.claimed = o.replaced = true;
                o.lease = row.lease_token + 1;
                return {};
            }
        } else if (free && same && !is_final(row.state)) {
            value cp[] = {std::string_view(w.account),
                          family,
                          std::int64_t{w.key.tipo},
                          std::string_view(w.key.serie),
                          w.key.numero,
                          std::string_view(w.payload_hash),
                          o.at_us,
                          std::string_view(owner_),
                          o.lease_until_us};
            auto cl = c.execute(claim_sql, cp);
            if (!cl) return cl.error();
            if (*cl > 0) {
                o.claimed = true;
                o.lease = row.lease_token + 1;
                row.owner = owner_;
                row.lease_until = from_us(o.lease_until_us);
                row.lease_token = o.lease;
            }
        } else if (!free && !is_final(row.state)) {
            contended_ = true;  // another sender holds it: look for dead owners at the next tick
        }
        o.existing = std::move(*existing);
        return {};
    }

    // The UPDATE's 21 parameters (views of the op's strings): $5..$13 the answer's texts in
    // for_each_answer_text's order.
    static std::array<value, 21> update_params(const update_op& o) {
        static_assert(answer_text_count == 9,
                      "update_sql, doc_columns and the supersede reset name each text");
        const auto& u = o.u;
        auto view = [](const std::optional<std::string>& s) -> value {
            if (!s) return std::monostate{};
            return std::string_view(*s);
        };
        return {state_name(u.state),
                std::int64_t{u.count_attempt ? 1 : 0},
                opt_value(u.codigo),
                opt_value(u.aceptada_por_sunat),
                view(u.sunat_responsecode),
                view(u.sunat_description),
                view(u.sunat_note),
                view(u.enlace),
                view(u.enlace_del_pdf),
                view(u.enlace_del_xml),
                view(u.enlace_del_cdr),
                view(u.cadena_para_codigo_qr),
                view(u.codigo_hash),
                view(u.error),
                now_us(),
                std::string_view(o.account),
                family_of(u.op.value_or(operation::generar_comprobante)),
                std::int64_t{o.key.tipo},
                std::string_view(o.key.serie),
                o.key.numero,
                u.lease ? value{*u.lease} : value{}};
    }

    result<void> do_update(detail::connection& c, update_op& o, const std::vector<std::string>& toks) {
        if (o.u.error) scrub(*o.u.error, toks);  // the op is ours: scrub in place
        auto p = update_params(o);
        auto r = c.execute(update_sql, p);
        if (!r) return r.error();
        o.found = *r > 0;
        return {};
    }

    result<void> do_find(detail::connection& c, find_op& o) {
        auto r = select_document(c, o.account, o.family, o.key);
        if (!r) return r.error();
        o.found = std::move(*r);
        return {};
    }

    std::string owner_ = make_owner_id();  // this store's claims: "host/pid/random"
    // Writer thread only: whether we may hold claims (renew them), whether another sender's claim
    // was in our way (look for dead owners), and when to do each next.
    bool holding_ = false, contended_ = true;  // contended: look for dead owners at open
    std::chrono::steady_clock::time_point next_renew_{}, next_sweep_{};
    std::unique_ptr<detail::connection> writer_conn_;  // the writer thread's only
    std::unique_ptr<detail::connection> admin_;        // everything synchronous, under admin_mu_
    std::array<std::string, audit_rows_per_insert + 1> audit_sql_;
    const std::string select_document_sql_ =
        std::string("SELECT ") + doc_columns + doc_from +
        " WHERE d.account = $1 AND d.family = $2 AND d.tipo = $3 AND d.serie = $4 AND d.numero = $5";
    std::vector<audit_record*> audit_batch_;            // writer thread only: this batch's audit rows
    std::vector<value> params_;                         // writer thread only: reused parameter buffer
    std::vector<detail::connection::statement> stmts_;  // writer thread only (pipelines)
    std::vector<detail::connection::outcome> outcomes_;
    std::array<std::string, audit_cols> audit_arrays_;
    std::mutex admin_mu_;
    int version_;
    store_options opt_;
    std::optional<detail::token_cipher> cipher_;
    durable_journal journal_;
    durable_audit audit_;

    mutable std::mutex err_mu_;
    std::string last_error_;

    std::mutex cache_mu_;  // lock order: cache_mu_, then admin_mu_, then tokens_mu_
    std::map<std::string, account, std::less<>> cache_;
    std::optional<std::int64_t> cache_version_;
    std::chrono::steady_clock::time_point cache_checked_{};
    std::mutex tokens_mu_;
    std::shared_ptr<const std::vector<std::string>> tokens_;

    using dispatch_fn = std::function<void(std::function<void()>)>;
    std::mutex dispatch_mu_;
    std::shared_ptr<const dispatch_fn> dispatch_;  // see set_completion_dispatch

    std::mutex q_mu_;
    std::condition_variable q_cv_;
    std::vector<queued_op> q_;  // swapped with the writer's batch (both keep their capacity)
    std::size_t audit_queued_ = 0, control_queued_ = 0;
    std::uint64_t dropped_after_close_ = 0;
    bool stopping_ = false, closed_ = false;
    bool deep_sleep_ = false;  // the writer waits without a timeout (nothing queued)
    bool gathering_ = false;   // the writer waits out control_linger: journal calls need no wake-up
    std::vector<std::function<void()>> space_waiters_;
    std::mutex join_mu_;
    std::thread writer_;
    std::thread::id writer_id_;
};

void durable_journal::record(const intent& what, std::function<void(result<record_result>)> done) {
    s_.enqueue_control(record_op{what, std::move(done)});
}
void durable_journal::update(const std::string& account, const document_key& key, const state_update& u,
                             std::function<void(result<void>)> done) {
    s_.enqueue_control(update_op{account, key, u, std::move(done)});
}
void durable_journal::find(const std::string& account, const document_key& key,
                           std::function<void(result<std::optional<intent_record>>)> done) {
    s_.enqueue_control(find_op{account, "emit", key, std::move(done)});
}
void durable_journal::find(const std::string& account, operation op, const document_key& key,
                           std::function<void(result<std::optional<intent_record>>)> done) {
    s_.enqueue_control(find_op{account, std::string(family_of(op)), key, std::move(done)});
}
bool durable_audit::try_write(audit_record&& r) {
    return s_.try_write(std::move(r));
}
void durable_audit::wait_for_space(std::function<void()> ready) {
    s_.wait_for_space(std::move(ready));
}

// "sqlite:PATH?synchronous=normal" -> path and flag; nullopt when malformed.
struct sqlite_url {
    std::string path;
    bool synchronous_full = false;  // WAL + NORMAL: survives kill -9; ?synchronous=full for power loss
};
std::optional<sqlite_url> parse_sqlite_url(std::string_view rest) {
    sqlite_url u;
    if (rest.starts_with("//")) rest.remove_prefix(2);
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    u.path = rest.empty() ? "./nubefact.db" : std::string(rest);
    if (u.path == ":memory:") return std::nullopt;  // two connections would see two databases
    while (!query.empty()) {
        auto amp = query.find('&');
        auto kv = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (kv == "synchronous=full")
            u.synchronous_full = true;
        else if (kv == "synchronous=normal")
            u.synchronous_full = false;
        else if (!kv.empty())
            return std::nullopt;
    }
    return u;
}

}  // namespace

std::string mask_token(std::string_view token) {
    if (token.size() < 8) return std::string(token.size() ? 4 : 0, '*');
    return std::string(token.size() - 4 > 12 ? 12 : token.size() - 4, '*') +
           std::string(token.substr(token.size() - 4));
}

std::string default_store_url() {
    const char* env = std::getenv("NUBEFACT_STORE");
    if (env && *env) return env;
    return "sqlite:./nubefact.db";
}

std::string redact_url(std::string_view url) {
    std::string s(url);
    if (auto scheme = s.find("://"); scheme != std::string::npos) {
        auto start = scheme + 3;
        auto end = s.find_first_of("/?", start);
        auto at = s.rfind('@', end == std::string::npos ? s.size() : end);
        if (at != std::string::npos && at > start) {
            auto colon = s.find(':', start);
            if (colon != std::string::npos && colon < at) s.replace(colon + 1, at - colon - 1, "***");
        }
    }
    for (std::size_t p = 0; (p = s.find("password=", p)) != std::string::npos;) {
        auto v = p + 9;
        auto e = s.find_first_of("& ", v);
        s.replace(v, (e == std::string::npos ? s.size() : e) - v, "***");
        p = v + 3;
    }
    return s;
}

namespace {
// "scheme:" at the start (RFC 3986: a letter, then letters, digits, '+', '-' or '.'), of two or
// more characters so that a Windows-style "C:..." is not taken for one.
bool has_url_scheme(std::string_view url) {
    const auto colon = url.find(':');
    if (colon == std::string_view::npos || colon < 2) return false;
    const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!is_alpha(url[0])) return false;
    for (std::size_t i = 1; i < colon; ++i) {
        const char c = url[i];
        if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
    }
    return true;
}
}  // namespace

result<std::unique_ptr<store>> open_store(std::string_view url, store_options options,
                                          std::string* diagnostic) {
    std::string diag;
    std::unique_ptr<detail::connection> writer, admin;
    // A bare path (no scheme: "nubefact.db", "./data/s.db", "/var/lib/x.db") is a SQLite file.
    std::string as_sqlite;
    if (!url.empty() && !has_url_scheme(url)) {
        as_sqlite = "sqlite:" + std::string(url);
        url = as_sqlite;
    }
    if (url.starts_with("sqlite:")) {
        auto u = parse_sqlite_url(url.substr(7));
        if (!u) {
            if (diagnostic)
                *diagnostic = "expected sqlite:PATH[?synchronous=full|normal] (a file, not :memory:)";
            return store_errc::bad_url;
        }
        if (!options.create_if_missing && !std::filesystem::exists(u->path)) return store_errc::missing;
        auto w = detail::open_sqlite(u->path, u->synchronous_full, &diag);
        if (!w) {
            if (diagnostic) *diagnostic = diag;
            return w.error();
        }
        writer = std::move(*w);
        auto a = detail::open_sqlite(u->path, u->synchronous_full, &diag);
        if (!a) {
            if (diagnostic) *diagnostic = diag;
            return a.error();
        }
        admin = std::move(*a);
    } else if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        std::string conninfo(url);
        auto w = detail::open_postgresql(conninfo, &diag);
        if (!w) {
            if (diagnostic) *diagnostic = diag;
            return w.error();
        }
        writer = std::move(*w);
        auto a = detail::open_postgresql(conninfo, &diag);
        if (!a) {
            if (diagnostic) *diagnostic = diag;
            return a.error();
        }
        admin = std::move(*a);
    } else {
        if (diagnostic) *diagnostic = "expected a file path, sqlite:PATH or postgresql://…";
        return store_errc::bad_url;
    }
    auto v = detail::migrate(*writer, &diag);
    if (!v) {
        if (diagnostic) *diagnostic = diag;
        return v.error();
    }
    std::optional<detail::token_cipher> cipher;
    std::string secret;
    if (options.secret_key) {
        secret = *options.secret_key;
    } else if (const char* env = std::getenv("NUBEFACT_SECRET_KEY")) {
        secret = env;
    }
    if (!secret.empty()) {
        cipher = detail::token_cipher::from_secret(secret);
        if (!cipher) {
            if (diagnostic) *diagnostic = "could not derive the token key from NUBEFACT_SECRET_KEY";
            return store_errc::crypto;
        }
    }
    return std::unique_ptr<store>(std::make_unique<sql_store>(std::move(writer), std::move(admin), *v,
                                                              std::move(options), std::move(cipher)));
}

}  // namespace nubefact::store
