// The delivery engine: takes documents from any source (a file batch, a REST request, a C++ call) and
// delivers each one through a client, exactly once, along one pipeline:
//   validate -> resume plan -> claim -> intent -> send -> reconcile -> record -> report.
// prepare() validates; client::send() plans, claims, journals, sends, reconciles and records (its
// decisions are the sans-io policies of client_policy.hpp); deliver() adds what a document needs
// around one call (waiting out another sender's claim, following SUNAT's pending answer) and turns
// the result into an outcome; batch runs many documents in phases with a pool of workers and a stop.
#pragma once

#include <nubefact/batch.hpp>
#include <nubefact/client.hpp>
#include <nubefact/document.hpp>
#include <nubefact/finding.hpp>
#include <nubefact/fiscal.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nubefact::engine {

// What happened to a document that never reached Nubefact's answer: found invalid locally, not sent
// (stopped, a duplicate line, changed content, a stopped account), or valid (a dry run).
enum class line_outcome { invalid, not_sent, valid };
std::string_view to_string(line_outcome o) noexcept;

// One document as its source hands it over.
struct input {
    std::string source;            // a file name, a request id, …
    std::size_t line = 0;          // where in `source` (0: not line-based)
    std::string text;              // the document's JSON, with its `operacion`
    std::optional<finding> error;  // the source could not frame a document here (`text` unused)
};

struct prepare_options {
    bool complete = false;  // fill the computed fields first (fiscal::complete)
    fiscal::check_options check;
    std::size_t max_document_bytes = std::size_t{1} << 20;
};

// A document ready to send: the canonical body of `op` for `key`.
struct prepared {
    std::string source;
    std::size_t line = 0;
    operation op = operation::generar_comprobante;
    document_key key;
    std::string body;
    std::vector<finding> warnings;
};

// What happened to one document: a line of `send`'s results, a gateway's answer.
struct outcome {
    std::string source;
    std::size_t line = 0;
    std::optional<operation> op;
    std::optional<document_key> key;
    std::variant<doc_state, line_outcome> state = line_outcome::not_sent;
    bool resumed = false;    // final in the journal already (an earlier run or another sender): not sent
    bool recovered = false;  // adopted through a consult after an ambiguous outcome
    int attempts = 0;        // HTTP exchanges made for it (sends, consults, follow-ups)
    std::optional<int> codigo;
    std::optional<response> body;   // Nubefact's answer (sent, consulted or from the journal)
    std::string error;              // one line for people; empty when accepted
    error_code code;                // why it failed (client_errc, api_errc); empty when answered
    std::string nubefact_errors;    // Nubefact's own `errors` text, when it answered a codigo
    std::vector<finding> findings;  // the local errors (invalid) or warnings (valid)

    std::string_view state_name() const;
    bool is(doc_state s) const;
    bool is(line_outcome o) const;
    // Accepted, SUNAT's answer pending, or valid in a dry run: nothing for a person to do.
    bool fine() const;
};

// SUNAT's verdict in one line: "SUNAT código 2017: El numero de RUC del receptor no existe" (empty
// when the answer carries none).
std::string sunat_reason(const response& r);

// Parses, optionally completes, and checks one document: the prepared document, or the outcome that
// settles it locally (invalid: the errors as findings). Pure; thread-safe.
std::variant<prepared, outcome> prepare(const input& in, const prepare_options& o);

// Whether an operation waits for the first phase of a batch: anulaciones, reversiones and consultas
// refer to documents the same batch may create.
bool second_phase(operation op) noexcept;

// When to try again a document another live sender holds (its claim ends when that sender settles
// it, or its lease runs out when that sender died): after 50 ms, doubling to 2 s, until `patience`
// has passed since `start`. Sans-io: fed the time.
class hold_wait {
  public:
    using time_point = std::chrono::steady_clock::time_point;
    using duration = std::chrono::steady_clock::duration;
    hold_wait(time_point start, duration patience) : start_(start), patience_(patience) {}
    // The wait before the next try, or nullopt: give up (the document stays with its holder).
    std::optional<duration> next(time_point now);

  private:
    time_point start_;
    duration patience_;
    duration step_ = std::chrono::milliseconds(50);
};

struct deliver_options {
    // How long to wait for a document another sender holds before reporting it held elsewhere.
    // Default: two default leases (store_options::lease, 30 s) and a default total_timeout.
    std::chrono::milliseconds hold_patience{90'000};
    // How long to follow a document whose SUNAT answer is pending (pending_sunat) until it is final;
    // 0: report it pending at once.
    std::chrono::seconds follow{0};
    // Called before each wait of a follow (for a "waiting for SUNAT" line); may be empty.
    std::function<void(const outcome&, std::chrono::milliseconds)> on_follow_wait;
};

// Delivers one prepared document through `api` (a generar_* is exactly once; see client::send) and
// reports its outcome. `stop` (may be null) ends waits early: a held document is reported as it is,
// a pending one stays pending_sunat. Runs on `api`'s executor or any other; `api` outlives it.
boost::asio::awaitable<outcome> deliver(client& api, prepared doc, deliver_options o,
                                        const std::atomic<bool>* stop = nullptr);

// What Nubefact says now of a document created earlier with `generar` (client::refresh: consulted,
// and recorded in the journal when it holds the document), followed up to o.follow while SUNAT's
// answer is pending. For `nubefact guide SERIE-NUMERO`, a gateway's status request.
boost::asio::awaitable<outcome> consult(client& api, operation generar, document_key key, deliver_options o,
                                        const std::atomic<bool>* stop = nullptr);

// Follows a pending_sunat outcome on the follow schedule (sansio::follow_schedule) until SUNAT's
// answer is final, `limit` has passed since `since`, or `stop`; updates `o` in place. `notice`
// (may be empty) is told of each wait.
boost::asio::awaitable<void> follow(
    client& api, outcome& o, std::chrono::steady_clock::time_point since, std::chrono::seconds limit,
    const std::atomic<bool>* stop = nullptr,
    const std::function<void(const outcome&, std::chrono::milliseconds)>& notice = {});

struct batch_options {
    prepare_options prepare;
    deliver_options deliver;  // deliver.follow: how long pending documents are followed at the end
    bool dry_run = false;     // prepare only: valid or invalid, nothing sent (no client needed)
    int workers = 1;          // documents delivered at once (the client's slots plus look-ahead)
    std::function<void(std::size_t)> on_follow;  // called before n pending documents are followed
};

// A batch: documents pulled from a source, prepared, checked for duplicate numbers within the batch,
// delivered by `workers` coroutines in two phases (second_phase() operations after the rest), then
// pending answers followed. Exactly one outcome per document pulled.
class batch {
  public:
    // `report` is called once per document, from the reader thread or the io thread (never two at
    // once). `api` and `ioc` (the context api runs on) may be null with dry_run.
    batch(client* api, boost::asio::io_context* ioc, batch_options o,
          std::function<void(const outcome&)> report);
    ~batch();
    batch(const batch&) = delete;
    batch& operator=(const batch&) = delete;

    // Pulls documents from `next` (on a reader thread of its own, so parsing and disks never hold up
    // the network) until it returns nullopt or a stop is requested, and delivers them; runs `ioc` on
    // the calling thread and returns when every document pulled has its outcome. Once per batch.
    void run(const std::function<std::optional<input>()>& next);

    // No new documents: those not yet sent are reported not_sent ("interrupted"); those under way
    // finish or are reconciled. Thread-safe; call from a signal handler's completion, not the handler.
    void request_stop();
    // Nothing more is sent (client::stop_sending): for a second Ctrl-C. Thread-safe.
    void stop_sending();
    bool stopping() const noexcept { return stopping_.load(); }

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::atomic<bool> stopping_{false};
};

}  // namespace nubefact::engine
