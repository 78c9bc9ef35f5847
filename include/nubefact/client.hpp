// The Nubefact client: one awaitable method per operation, exactly-once generar_*, and a blocking
// facade over the same engine. Limits, journal, audit sink and metrics are shared by both.
#pragma once

#include <nubefact/clock.hpp>
#include <nubefact/config.hpp>
#include <nubefact/document.hpp>
#include <nubefact/error.hpp>
#include <nubefact/finding.hpp>
#include <nubefact/fiscal.hpp>
#include <nubefact/journal.hpp>
#include <nubefact/metrics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nubefact {

namespace transport {
class transport;
}

// A failed call. `code` says what kind (api_errc for a Nubefact codigo, client_errc otherwise);
// `message` is Nubefact's `errors` text or the transport detail (never the token); `findings` are
// the local validation errors when code == client_errc::validation.
struct client_error {
    error_code code;
    std::string message;
    int http_status = 0;
    std::optional<int> codigo;
    std::vector<finding> findings;
    int attempts = 0;                     // HTTP exchanges made (sends and consults)
    doc_state state = doc_state::failed;  // generar_*: failed (not created) or unknown (may exist)
    std::string what() const;             // one line for people: "codigo 20: … (HTTP 400)"
};

// boost::system::result support: value() on an error throws system_error(code, what()).
[[noreturn]] void throw_exception_from_error(const client_error& e, const boost::source_location& loc);

template <class T>
using client_result = boost::system::result<T, client_error>;

// A successful call: Nubefact's response and how it was obtained.
struct reply {
    response body;
    doc_state state = doc_state::accepted;  // rejected when SUNAT refused it (see sansio::settled_state)
    bool recovered = false;                 // adopted through consultar_* after an ambiguous outcome
    bool resumed = false;                   // final in the journal already: nothing was sent (attempts 0)
    int attempts = 1;                       // HTTP exchanges made (sends and consults)
};

// Per-call options of the typed generar_* methods.
struct call_options {
    std::optional<bool> validate;  // default: account_config::validate
    fiscal::check_options check;   // passed to fiscal::check (no date checks unless check.today is set)
};

// What the client is wired to. Every member has a working default.
struct client_options {
    std::shared_ptr<intent_journal> journal;          // default: a memory_journal owned by the client
    std::shared_ptr<audit_sink> audit;                // default: none (no audit records)
    client_metrics* metrics = nullptr;                // default: default_metrics()
    std::optional<std::uint64_t> seed;                // jitter RNG seed (tests); default: random
    std::shared_ptr<transport::transport> transport;  // default: HTTP(S) pool to cfg.ruta (tests inject)
    // Every reading of "now" (deadlines, rate limit, latencies, audit time, the default journal's
    // timestamps). Clients of one account name share its rate limiter: give them the same clock.
    std::shared_ptr<const clock_source> clock;  // default: the real clock
};

// Awaitable client for one account. Methods may be called concurrently from any thread; the engine
// runs on a strand of `ex` (on `ex` itself when it belongs to an io_context with concurrency hint 1,
// which must then be run by one thread). Calls from coroutines running on get_executor() skip a hop. Rate and
// concurrency limits are shared by every client of the same account name in the process. Every call ends
// within cfg.total_timeout. Throws config_error from the constructor when cfg cannot work.
class client {
  public:
    client(boost::asio::any_io_executor ex, account_config cfg, client_options opts = {});
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    using result_type = client_result<reply>;
    template <class T>
    using awaitable = boost::asio::awaitable<T>;

    // generar_* are exactly-once: journaled and claimed before sending (see intent_journal::record,
    // sansio::resume_plan), reconciled with consultar_* after an ambiguous outcome or a codigo 23
    // (client_errc::conflict when Nubefact holds a different document). A document final in the
    // journal returns its stored answer (reply::resumed); one another sender holds ends with
    // client_errc::held_elsewhere (call again later). Every method
    // checks and serializes its document before it returns: the awaitable never refers to `doc`.
    awaitable<result_type> generar_comprobante(const comprobante& doc, call_options o = {});
    awaitable<result_type> consultar_comprobante(document_key key);
    awaitable<result_type> generar_anulacion(anulacion doc, call_options o = {});
    awaitable<result_type> consultar_anulacion(document_key key);
    awaitable<result_type> generar_guia(guia doc, call_options o = {});
    awaitable<result_type> consultar_guia(document_key key);
    awaitable<result_type> generar_retencion(retencion_percepcion doc, call_options o = {});
    awaitable<result_type> consultar_retencion(std::string serie, std::int64_t numero);
    awaitable<result_type> generar_reversion_retencion(std::string serie, std::int64_t numero,
                                                       std::string motivo);
    awaitable<result_type> consultar_reversion_retencion(std::string serie, std::int64_t numero);
    awaitable<result_type> generar_percepcion(retencion_percepcion doc, call_options o = {});
    awaitable<result_type> consultar_percepcion(std::string serie, std::int64_t numero);
    awaitable<result_type> generar_reversion_percepcion(std::string serie, std::int64_t numero,
                                                        std::string motivo);
    awaitable<result_type> consultar_reversion_percepcion(std::string serie, std::int64_t numero);

    // Lower level: POSTs an already canonical body (json::write) for `op`. generar_* operations get
    // the same journal/reconciliation treatment; `key` names the document (for consults, audit and
    // the journal). The typed methods end here.
    awaitable<result_type> send(operation op, document_key key, std::string canonical_body);

    // Consults Nubefact about a document created with `generar` (its consultar_*) and records the
    // answer in the journal: its state (sansio::settled_state) and SUNAT fields, so a pending_sunat
    // document is followed to accepted or rejected. A document the journal does not hold is only
    // consulted. Errors: as consultar_*. Threading as send().
    awaitable<result_type> refresh(operation generar, document_key key);

    // From now on no generar_* request leaves this client: a call that has not sent its attempt yet
    // ends with client_errc::cancelled "not sent: the sender is stopping" when it would send (a call
    // waiting for a slot: once it gets one, without waiting for the rate limit); consultar_* calls
    // and consults still go, exchanges in flight finish. For a second Ctrl-C. Thread-safe; final.
    void stop_sending();

    const account_config& config() const;
    const std::shared_ptr<intent_journal>& journal() const;
    const clock_source& clock() const;       // client_options::clock (the real clock by default)
    std::size_t open_connections() const;    // keep-alive connections currently open
    std::size_t connections_opened() const;  // since construction (a closed one reopened counts again)
    std::size_t peak_connections() const;    // most open at the same time (<= max_concurrency)
    boost::asio::any_io_executor get_executor() const;  // where the engine runs

    struct engine;

  private:
    std::shared_ptr<engine> e_;
};

// The same client for plain programs: owns an io thread; every method blocks until the call ends.
// Thread-safe: several threads may call at once (they share the limits).
class blocking_client {
  public:
    explicit blocking_client(account_config cfg, client_options opts = {});
    ~blocking_client();
    blocking_client(const blocking_client&) = delete;
    blocking_client& operator=(const blocking_client&) = delete;

    using result_type = client_result<reply>;
    result_type generar_comprobante(const comprobante& doc, const call_options& o = {});
    result_type consultar_comprobante(const document_key& key);
    result_type generar_anulacion(const anulacion& doc, const call_options& o = {});
    result_type consultar_anulacion(const document_key& key);
    result_type generar_guia(const guia& doc, const call_options& o = {});
    result_type consultar_guia(const document_key& key);
    result_type generar_retencion(const retencion_percepcion& doc, const call_options& o = {});
    result_type consultar_retencion(const std::string& serie, std::int64_t numero);
    result_type generar_reversion_retencion(const std::string& serie, std::int64_t numero,
                                            const std::string& motivo);
    result_type consultar_reversion_retencion(const std::string& serie, std::int64_t numero);
    result_type generar_percepcion(const retencion_percepcion& doc, const call_options& o = {});
    result_type consultar_percepcion(const std::string& serie, std::int64_t numero);
    result_type generar_reversion_percepcion(const std::string& serie, std::int64_t numero,
                                             const std::string& motivo);
    result_type consultar_reversion_percepcion(const std::string& serie, std::int64_t numero);
    result_type send(operation op, const document_key& key, std::string canonical_body);

    client& async();      // the awaitable client underneath (runs on this object's io thread)
    void stop_sending();  // as client::stop_sending()

    const account_config& config() const;
    const std::shared_ptr<intent_journal>& journal() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Hex SHA-256 of a canonical body: the payload hash kept in the journal.
std::string payload_hash(std::string_view canonical_body);

}  // namespace nubefact
