// The gateway (`nubefact serve`): Nubefact's own API (POST /api/v1/{ruta}) in front of the delivery
// engine and the store, so an integration that changes only its RUTA and TOKEN gets a durable
// outbox, exactly-once sends and the audit trail; plus /livez, /readyz and /metrics.
// The decisions are sans-io (keys, routes, admission, answers, metrics); `server` carries them out.
#pragma once

#include <nubefact/engine.hpp>
#include <nubefact/error.hpp>
#include <nubefact/finding.hpp>
#include <nubefact/journal.hpp>
#include <nubefact/store.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nubefact::gateway {

// ---- API keys ------------------------------------------------------------------------------------

// A key as made: the row to store (token_hash only) and the token, to show once.
struct new_key {
    store::api_key key;
    std::string token;
};

// A fresh key for `account`: ruta 32 random hex characters, token "nfk_live_" + 43 random base62
// characters (OpenSSL's RAND_bytes, 256 bits), key.token_hash = payload_hash(token). Throws
// std::runtime_error when the random source fails. Thread-safe.
new_key make_api_key(std::string account);

// Whether `token` is the one `key` was made with: its SHA-256 compared with the stored hash in
// constant time. Pure.
bool token_matches(const store::api_key& key, std::string_view token);

// ---- routes ----------------------------------------------------------------------------------------

// dropin: POST /api/v1/{ruta}. Under /v1/accounts/{account}: documents (POST creates, GET lists),
// documents/{id} (document), documents/{id}/timeline, documents/{id}/refresh (POST: consult
// Nubefact now), summary, events (GET, Server-Sent Events).
// dashboard: GET /dashboard/ and its files (id: the file's name, "" for the page). livez, readyz,
// metrics: GET.
enum class route_kind {
    dropin,
    documents,
    document,
    timeline,
    refresh,
    summary,
    events,
    dashboard,
    livez,
    readyz,
    metrics,
    unknown
};

struct route {
    route_kind kind = route_kind::unknown;
    std::string_view ruta;        // dropin: the segment after /api/v1/ (a view into the target)
    std::string_view account;     // documents, document: the {account} segment
    std::string_view id;          // document, timeline: the {id} segment (document_id); dashboard: the file
    bool method_allowed = false;  // POST for dropin; POST or GET for documents; GET or HEAD otherwise
    std::string_view label;       // for metrics: the route's template ("/api/v1/{ruta}", …) or "other"
};

// The route of a request target (query string ignored; a trailing '/' after the ruta too). Pure.
route match_route(std::string_view method, std::string_view target) noexcept;

// ---- limits ----------------------------------------------------------------------------------------

struct limits {
    std::size_t max_body = std::size_t{1} << 20;     // larger: 413
    std::size_t max_header = std::size_t{8} << 10;   // request line + headers; larger: 431
    std::chrono::milliseconds read_timeout{10'000};  // a request, from its first byte to its last
    std::chrono::milliseconds idle_timeout{60'000};  // a keep-alive connection waiting for a request
    std::chrono::milliseconds write_timeout{10'000};
};

// The HTTP status for a request the HTTP parser refused with `ec`: 413 body too large, 431 headers
// too large, 400 otherwise. Pure.
int status_for_read_error(const error_code& ec) noexcept;

// ---- answers -----------------------------------------------------------------------------------------

// An HTTP answer: status, JSON body (Nubefact's shape), and whether the client should come back
// later (Retry-After, Connection: close).
struct answer {
    int status = 200;
    std::string body;
    bool retry_later = false;
    std::string content_type = "application/json; charset=utf-8";
    std::vector<std::pair<std::string, std::string>> headers;  // more headers (Location, ETag, …)
};

// {"errors": "<Nubefact's text for codigo>[: detail]", "codigo": N} with Nubefact's HTTP status for
// it (api_message / api_http_status). Pure.
answer error_answer(api_errc codigo, std::string_view detail = {});

// What Nubefact answers a transient failure with (HTTP 500, codigo 40): a client retries the same
// request. `detail` (Spanish, for people) follows Nubefact's text. Pure.
answer transient_answer(std::string_view detail);

// A document our checks refused, as Nubefact refuses a malformed one (HTTP 400, codigo 20), the
// findings in the text: "path: message (se esperaba X, llegó Y)", at most 5, then "(+N más)". Pure.
answer invalid_answer(const std::vector<finding>& findings);

// The answer for an engine outcome, in Nubefact's shape:
//   Nubefact's body (accepted, rejected, pending_sunat, a consultation) -> 200 with that body;
//   invalid -> invalid_answer; the number holds other content (payload_changed, conflict) -> 23;
//   Nubefact's codigo 20/21/22/24 (refused) -> that codigo and Nubefact's text with its status;
//   50/51 -> passed on; 10/11 (the gateway's own account refused) -> transient with a hint;
//   anything else (unknown, failed, held elsewhere, stopped) -> transient. Pure.
answer answer_for(const engine::outcome& o);

// ---- native API (/v1) ------------------------------------------------------------------------------------

// A document's id in the native API: "{tipo_de_comprobante}-{serie}-{numero}" ("1-F001-123"), and
// back (nullopt unless tipo and numero are positive integers and serie is 1..4 letters and digits).
std::string document_id(const document_key& k);
std::optional<document_key> parse_document_id(std::string_view id);
// "/v1/accounts/{account}/documents/{id}".
std::string document_path(std::string_view account, const document_key& k);

// The native API's JSON for a document, as the store has it: id, account, operation, tipo, serie,
// numero, state, advice, attempts, codigo, aceptada_por_sunat, the answer's texts (by their Nubefact
// names, for_each_answer_text), error, created_at, updated_at (UTC, ISO 8601) and links. Pure.
std::string document_resource(const intent_record& d);
// The same for a document the engine has just settled (`o.key` and `o.op` set), before the store's
// row shows it: its state, codigo and Nubefact's answer over `stored` (the row as read, or a bare one).
intent_record settled_record(intent_record stored, const engine::outcome& o);

// RFC 9457 problem details (application/problem+json): {"type":"about:blank","title","status",
// "detail"} and, for a document our checks refused (422), "errors": [{"path","code","message",
// "expected","actual"}] for each error finding. Pure.
answer problem(int status, std::string_view title, std::string_view detail = {},
               const std::vector<finding>& findings = {});

// The token of "Authorization: Bearer <token>" (scheme case-insensitive); nullopt otherwise. Pure.
std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept;

// Prefer: wait=N (RFC 7240, among other preferences): N seconds, at most `cap`; nullopt when the
// header asks no wait. Pure.
std::optional<std::chrono::seconds> prefer_wait(std::string_view prefer, std::chrono::seconds cap) noexcept;

// Idempotency-Key: 1..255 visible ASCII characters (a UUID, say). Pure.
bool valid_idempotency_key(std::string_view key) noexcept;
// What a repeat with the same Idempotency-Key must match: SHA-256 of method, target and body. Pure.
std::string request_fingerprint(std::string_view method, std::string_view target, std::string_view body);
// How long a key's answer is kept, and how long a first request may stay unanswered before its key
// is taken as abandoned (its gateway died).
inline constexpr std::chrono::seconds idempotency_keep{24 * 3600};
inline constexpr std::chrono::seconds idempotency_abandoned{120};

// ---- admission -----------------------------------------------------------------------------------------

// What the drop-in API decides before it reads the document, in Nubefact's order: unknown ruta ->
// 11; not POST -> 20; missing or wrong token, or a revoked key -> 10; not JSON -> 12; empty body ->
// 20. nullopt: admitted. `key` is find_api_key(ruta)'s answer. Pure.
struct request_head {
    std::string_view method;
    std::optional<std::string_view> authorization, content_type;
    std::size_t body_size = 0;
};
std::optional<answer> admit(const request_head& req, const std::optional<store::api_key>& key);

// ---- metrics ----------------------------------------------------------------------------------------------

// Request counters by route label and status, a latency histogram per route label, gauges of what
// is in progress. Thread-safe.
class metrics {
  public:
    static constexpr std::array<double, 12> bucket_bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                             0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
    void observe(std::string_view route_label, int status, std::chrono::microseconds latency);
    std::uint64_t requests(std::string_view route_label, int status) const;

    // Prometheus text format (0.0.4): nubefact_gateway_http_requests_total{route,code},
    // nubefact_gateway_http_request_duration_seconds{route} (histogram), in-progress requests and
    // deliveries, draining (0/1), nubefact_gateway_documents{account,state} from `documents` and
    // nubefact_gateway_documents_oldest_age_seconds{account,state}: how long ago the least recently
    // changed one of them changed, at `now` (the default: the system clock).
    std::string prometheus(const std::vector<store::store::state_count>& documents, std::int64_t in_progress,
                           std::int64_t deliveries, bool draining,
                           std::chrono::system_clock::time_point now = {}) const;

  private:
    struct histogram {
        std::array<std::uint64_t, bucket_bounds.size() + 1> buckets{};
        std::uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, std::uint64_t, std::less<>> requests_;
    std::map<std::string, histogram, std::less<>> latency_;
};

// ---- server ---------------------------------------------------------------------------------------------

struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;  // 0: any free port (server::port() says which)
    limits limit;
    // How long a drop-in request waits for Nubefact's answer; then it is answered transient_answer
    // while the document stays with the engine (a repeat of the request gets the final answer).
    std::chrono::milliseconds upstream_wait{25'000};
    engine::prepare_options prepare;  // the local checks (prepare.max_document_bytes = limit.max_body)
};

// The gateway's HTTP server over `db` (which outlives it): one io thread runs the connections and
// one client per account (created on first use from db's accounts). Every drop-in document goes
// through engine::prepare and engine::deliver; consultas through engine::consult. Logs one line per
// request to spdlog (never a token or a ruta). Methods are thread-safe unless said otherwise.
class server {
  public:
    server(store::store& db, options o);
    ~server();  // stop()
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds and starts serving. Errors: the address does not parse or cannot be bound (`error` says
    // which, in plain words). Once.
    result<void> start(std::string* error = nullptr);
    std::uint16_t port() const noexcept;
    std::string base_url() const;  // "http://127.0.0.1:PORT"

    // Draining: /readyz answers 503, new drop-in requests 503 (codigo 40, Retry-After, connection
    // closed); requests in progress and deliveries under way go on. Idempotent.
    void drain();
    bool draining() const noexcept;
    // Blocks until nothing is in progress (no request being answered, no delivery under way) or
    // `limit` passed; then nothing more is sent (client::stop_sending). True: everything finished.
    bool wait_drained(std::chrono::milliseconds limit);
    // Stops the io thread; connections are closed, the store flushed. Idempotent.
    void stop();

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

}  // namespace nubefact::gateway
