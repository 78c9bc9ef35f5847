// A faithful local Nubefact server (library API): accounts, stateful documents, latency, faults, stats.
#pragma once

#include <nubefact/document.hpp>
#include <nubefact/error.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nubefact::emulator {

// The emulator's idea of "now" (wall clock). Used for "today" (codigo 22), and for the delays after
// which anulaciones, guías and pending boletas become accepted. Must be thread-safe.
using clock_fn = std::function<std::chrono::system_clock::time_point()>;

// A test clock: starts at a given instant, moves only when told. Thread-safe; copy the fn() into
// options::clock and keep the manual_clock alive while the server runs.
class manual_clock {
  public:
    explicit manual_clock(std::chrono::system_clock::time_point start = std::chrono::system_clock::now());
    std::chrono::system_clock::time_point now() const;
    void advance(std::chrono::milliseconds d);
    void set(std::chrono::system_clock::time_point t);
    clock_fn fn() const;  // a clock_fn reading this object (which must outlive the server)

  private:
    std::shared_ptr<std::atomic<std::int64_t>> ms_;
};

enum class account_state { active, suspended, suspended_nonpayment };

// One Nubefact account: its RUTA id (the last path segment of /api/v1/<id>), accepted tokens,
// state (suspended -> codigo 50, suspended_nonpayment -> codigo 51, both HTTP 403) and RUC (used in
// cadena_para_codigo_qr).
struct account {
    std::string ruta_id;
    std::vector<std::string> tokens;
    account_state state = account_state::active;
    std::string ruc = "20600695771";
};

// Reads accounts from a JSON file: [{"ruta":"…","tokens":["…"],"state":"active|suspended|
// suspended_nonpayment","ruc":"…"}]. Errors name the file position in `error`.
result<std::vector<account>> load_accounts(const std::string& path, std::string* error = nullptr);

// The account every emulator has when options::accounts is empty: ruta "demo", token "demo-token".
account demo_account();

// Response delay model, sampled per request from the server's seeded generator and implemented
// with timers (no thread sleeps). Text forms: "none", "fixed:MS", "uniform:A-B", "lognormal:MEDIAN,P99"
// (all in milliseconds, fractions allowed).
struct latency_model {
    enum class kind { none, fixed, uniform, lognormal };
    kind k = kind::none;
    std::chrono::microseconds a{0};  // fixed value / uniform low / lognormal median
    std::chrono::microseconds b{0};  // uniform high / lognormal p99
    static result<latency_model> parse(std::string_view text, std::string* error = nullptr);
    std::string to_string() const;
};

// Faults the emulator can inject. "Pre" faults answer without touching state; "post" faults
// (commit_drop, truncate, malformed) apply after the request was processed, so the document IS
// created (or the error decided) and then the answer is lost or damaged.
enum class fault_kind {
    http_500,     // HTTP 500 {"errors":"…","codigo":40}; nothing stored
    reset,        // connection reset (RST) before answering; nothing stored
    commit_drop,  // processed and stored, then the connection is closed without an answer
    stall,        // nothing stored; the connection is held for options::stall_for, then closed
    truncate,     // processed and stored; the body is cut in the middle, then the connection closes
    malformed,    // processed and stored; a 200 whose body is not valid JSON
    http_429,     // 429 with Retry-After; nothing stored
    http_503,     // 503 with Retry-After; nothing stored
};
inline constexpr int fault_kind_count = 8;
std::string_view to_string(fault_kind k) noexcept;
std::optional<fault_kind> fault_kind_from_string(std::string_view s) noexcept;  // "500","reset",…

// Seeded random faults: probability per request of each kind (sum <= 1). Text form:
// "500:0.05,reset:0.02,commit_drop:0.02,stall:0.01,truncate:0.01,malformed:0.01,429:0.02,503:0.02".
struct fault_rates {
    double p[fault_kind_count] = {};
    bool any() const noexcept;
    static result<fault_rates> parse(std::string_view text, std::string* error = nullptr);
};

// A scripted fault: applied to the next `count` requests whose operation matches `only`
// (any request when absent; requests whose operation could not be read match only when absent).
struct scripted_fault {
    fault_kind kind = fault_kind::http_500;
    int count = 1;
    std::optional<operation> only;
};

// SUNAT rejection rules (--sunat-reject): matching generar_* documents are answered 200 with
// aceptada_por_sunat:false and a SUNAT code; the number stays burnt. Comma-separated rules, any
// match rejects: "all", "serie=FFF9", "tipo=2", "total>10000" (also >=, <, <=), "numero%N" (every
// numero divisible by N). Append ":CODE" to choose the SUNAT code (default 2800), e.g.
// "serie=FFF9:3105".
struct reject_rule {
    enum class kind { all, serie, tipo, total_gt, total_ge, total_lt, total_le, numero_mod };
    kind k = kind::all;
    std::string text;        // serie value
    std::int64_t value = 0;  // tipo, modulus, or total in cents
    std::string code = "2800";
};
result<std::vector<reject_rule>> parse_reject_rules(std::string_view text, std::string* error = nullptr);

struct tls_options {
    std::string cert_file;  // PEM certificate chain
    std::string key_file;   // PEM private key
};

struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;         // 0: the kernel picks one (see server::port())
    int threads = 1;                // io threads (one io_context each)
    std::vector<account> accounts;  // empty: demo_account()
    std::optional<tls_options> tls;

    // Validation: json::read_request then fiscal::check(today = clock, lenient). When false the
    // body is only parsed enough to find the operation and the document key.
    bool validate = true;
    bool lenient = false;  // arithmetic mismatches are warnings, any size (Nubefact's demo)
    // SUNAT's tolerance (fact sheet §6.7): a mismatch of at most 1.00 is accepted and reported as SUNAT's
    // observation code (4xxx) in sunat_note; a larger one, or one SUNAT has no observation for, is codigo
    // 20. Ignored with lenient.
    bool sunat_tolerance = false;
    // Numbers with more than 10 decimals (a double's noise): false = codigo 20 naming the field (unless
    // lenient); true = rounded half-up to 10 decimals, then checked as usual.
    bool round_float_noise = false;
    // generar_* without numero: the next correlativo of that tipo and serie in the account (max + 1) is
    // assigned and answered in `numero`; false = codigo 20.
    bool assign_numero = false;
    int max_age_days = 7;       // fecha_de_emision older than today - N days -> codigo 22
    int guia_max_age_days = 1;  // the same for guías (GRE manual: one day)
    std::chrono::hours utc_offset = lima_utc_offset;  // "today" is computed in Peru's time zone
    bool allow_duplicates = false;  // benchmarks only: re-creating a key is accepted (counted in stats)

    // SUNAT behaviour.
    std::vector<reject_rule> sunat_reject;
    // generar_anulacion answers pending (ticket, aceptada_por_sunat false, as the official example);
    // consultar_anulacion accepts once anulacion_delay has passed. Same shape for guías.
    // anulacion_pending_first = false: generar_anulacion answers accepted when the delay has passed
    // already (the old behaviour, for a sender that does not poll pending answers).
    bool anulacion_pending_first = true;
    std::chrono::milliseconds anulacion_delay{0};
    std::chrono::milliseconds guia_delay{
        0};                        // generar_guia answers pending; consultar_guia accepts after this
    bool boletas_pending = false;  // boletas answered pending until consulted
    std::chrono::milliseconds boleta_delay{0};  // … after this delay

    // Latency: default for every operation, overridden per operation.
    latency_model latency;
    std::map<operation, latency_model> latency_by_op;

    // Faults.
    fault_rates faults;
    std::uint64_t seed = 1;
    std::chrono::milliseconds stall_for{5000};  // bounded by max_stall
    std::chrono::milliseconds max_stall{60000};
    std::chrono::seconds retry_after{1};  // Retry-After of 429/503

    // Limits and timeouts.
    std::size_t max_body = 1 << 20;                   // larger -> 413
    std::size_t max_header = 16 << 10;                // larger -> 431
    std::chrono::milliseconds header_timeout{10000};  // from the first byte to the end of headers
    std::chrono::milliseconds body_timeout{30000};
    std::chrono::milliseconds idle_timeout{120000};  // keep-alive wait for the next request
    std::size_t max_connections = 100000;            // beyond: accepted and closed at once

    // Links: <scheme>://<link_host>/cpe/<uuid> (scheme https with tls, else http); empty = "<host>:<port>"
    // of this server. GET <enlace>.pdf / .xml / .cdr on this server answers the document's files.
    std::string link_host;

    bool admin = false;        // GET /__emulator/stats, POST /__emulator/reset over HTTP
    std::string state_file;    // append-only JSONL log, replayed at start; empty = memory only
    bool state_fsync = false;  // fsync after every record (default: write(2) only)

    clock_fn clock;  // default: std::chrono::system_clock::now
};

// Counters since start or reset(). `requests[op][outcome]`: op is the operacion name, "none" when
// unknown/unreadable, "admin" for /__emulator; outcome is "ok", "codigo_NN", "http_NNN" or
// "fault_<kind>".
struct stats {
    std::map<std::string, std::map<std::string, std::uint64_t>> requests;
    std::uint64_t requests_total = 0;
    std::uint64_t documents_created = 0;   // successful generar_* (every creation, see created_twice)
    std::uint64_t duplicates_refused = 0;  // codigo 23 answers
    std::uint64_t created_twice = 0;       // keys created more than once (0 unless allow_duplicates)
    std::uint64_t sunat_rejected = 0;
    std::map<std::string, std::uint64_t> faults;  // by kind
    std::uint64_t in_flight = 0;
    std::uint64_t open_connections = 0;
    std::uint64_t connections_accepted = 0;
};

// What the emulator holds for one document (library API for tests).
struct document_info {
    document_key key;
    std::string kind;                      // "comprobante", "guia", "retencion", "percepcion"
    std::uint32_t creations = 0;           // times this key was created (1 unless allow_duplicates)
    std::uint32_t duplicates_refused = 0;  // codigo 23 answers for this key
    bool sunat_rejected = false;
    bool anulacion_requested = false;
    bool reversed = false;
    std::string codigo_unico;
    std::string enlace;
};

// The server. start() binds and runs io threads; every public member is thread-safe and may be
// called while it runs. stop() (and the destructor) close every connection and join the threads.
class server {
  public:
    explicit server(options opts = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds host:port, replays state_file, starts the threads. Errors: address in use, bad TLS
    // files, unreadable state file (`error` gets a sentence).
    result<void> start(std::string* error = nullptr);
    void stop();
    bool running() const noexcept;

    std::uint16_t port() const noexcept;
    std::string base_url() const;                          // "http://127.0.0.1:PORT"
    std::string ruta_url(std::string_view ruta_id) const;  // base_url() + "/api/v1/" + ruta_id
    std::string ruta_url() const;                          // of the first account
    const account& first_account() const;                  // ruta and token to use in tests

    // Accounts.
    void add_account(account a);
    bool set_account_state(std::string_view ruta_id, account_state s);

    // Faults: scripted queue (FIFO; each entry consumed by matching requests) and seeded rates.
    void push_fault(scripted_fault f);
    void push_fault(fault_kind k, int count = 1, std::optional<operation> only = std::nullopt);
    void clear_faults();
    void set_fault_rates(const fault_rates& r);
    void set_latency(const latency_model& m, std::optional<operation> only = std::nullopt);
    void set_sunat_reject(std::vector<reject_rule> rules);

    // Observation.
    stats snapshot() const;
    std::string stats_json(bool with_documents = false) const;  // what GET /__emulator/stats returns
    std::optional<document_info> find(std::string_view ruta_id, const document_key& k) const;
    std::vector<document_info> documents(std::string_view ruta_id) const;

    // Forgets every document and counter, clears the scripted faults and releases held answers
    // (accounts stay; the state file, if any, is truncated).
    void reset();

    // Held answers, to drive a race without sleeping (also POST /__emulator/hold?after=N and
    // /__emulator/release): after hold_answers(n), n more document answers go out, then each
    // document is processed (created, consulted) but its answer waits until release_answers() or
    // options::max_stall. held_answers(): how many wait now (stats "held").
    void hold_answers(std::uint64_t after);
    void release_answers();
    std::uint64_t held_answers() const;

    struct impl;

  private:
    std::unique_ptr<impl> impl_;
};

// Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit.
std::uint64_t raise_fd_limit() noexcept;

}  // namespace nubefact::emulator
