// Sans-io decisions of the client: exchange classification, token bucket, retry policy, exactly-once
// reconciliation, pool book.
// Plain classes fed `now` and outcomes; they return the next action. No sockets, no timers, no clock.
#pragma once

#include <nubefact/config.hpp>
#include <nubefact/document.hpp>
#include <nubefact/error.hpp>
#include <nubefact/journal.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nubefact::sansio {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;

// GCRA token bucket with reservations: every caller gets its own slot in time, so waiters sleep once
// on a timer (no polling, FIFO). In any closed window of one second at most rate + burst - 2 slots
// are granted (burst - 1 back-to-back, interval 0.1 % longer than 1/rate): a margin so that arrival
// jitter cannot make the server see more than rate + burst. Not thread-safe (the async limiter
// guards it with a mutex).
class token_bucket {
  public:
    explicit token_bucket(const rate_config& cfg);
    // Takes the next slot; returns when the caller may send (<= now: at once).
    time_point reserve(time_point now);
    // Retry-After: no slot before `until`; afterwards slots resume at the steady rate (no burst).
    void pause_until(time_point until);
    time_point paused_until() const { return paused_until_; }
    bool unlimited() const { return unlimited_; }
    // Safety net at the moment of sending, on actual times: a caller that woke up late (stalled
    // process) must not leave together with the next ones. True: send now; false: wait `wait`.
    bool admit(time_point now, duration& wait);

  private:
    bool unlimited_ = false;
    duration interval_{0};  // 1 / rate
    duration tau_{0};       // burst tolerance: (capacity - 1) * interval
    duration min_interval_{0};
    time_point tat_{};       // theoretical arrival time of the next steady-rate slot (reservations)
    time_point sent_tat_{};  // the same over actual send times (admit)
    time_point last_grant_{};
    bool granted_any_ = false;
    time_point paused_until_{};
};

// How one HTTP exchange ended, as the decisions need it.
enum class verdict {
    success,        // 200 with a documented response body
    api_error,      // a Nubefact error body {"errors","codigo"} with a status < 500 (codigo 40 excepted)
    ambiguous,      // the request may have been processed: timeout/reset after writing, 5xx, bad 200 body
    not_delivered,  // failed before any byte of the request left (resolve, connect, TLS): safe to resend
    throttled,      // 429: not processed, retry after Retry-After
    permanent,      // a 4xx without a Nubefact body, or TLS verification failed: never retried
};

struct attempt_view {
    verdict what = verdict::success;
    std::optional<int> codigo;            // Nubefact codigo when the body had one
    std::optional<duration> retry_after;  // from a Retry-After header
    error_code error;                     // what the caller gets if this is the last attempt
};

// One HTTP exchange as classify() reads it (the transport's result without its connection).
// The views must stay valid during the classify() call only.
struct exchange_view {
    error_code ec;            // empty when a complete response arrived (any status)
    std::string_view detail;  // the transport's text for ec (TLS verify reason, …)
    bool written = false;     // at least one byte of the request left
    bool timed_out = false;   // ec came from a connect or request timeout
    int status = 0;
    std::string_view body;
    std::optional<duration> retry_after;  // from a Retry-After header
};

// What classify() made of an exchange.
struct classified {
    attempt_view view;
    std::optional<response> resp;  // the parsed 200 answer (view.what == success)
    std::string message;           // for people: Nubefact's `errors` text or why the exchange failed
    std::string outcome;           // audit/metrics label: ok, api_error, timeout, transport, …
    int status = 0;                // the HTTP status (0: no response)
};

// Turns one exchange into a verdict. Pure: no clock, no I/O; never throws on any body.
classified classify(const exchange_view& x);

// Codigos that must never be retried: configuration, account and payload problems.
bool is_permanent_codigo(int codigo) noexcept;  // 10, 11, 12, 20, 21, 22, 24, 50, 51 (and unknown)

// Exponential backoff with full jitter bounded by attempts and a total deadline. Seeded RNG
// (splitmix64: the same seed gives the same delays).
class retry_policy {
  public:
    retry_policy(const retry_config& cfg, std::uint64_t seed);
    // Whether this outcome may be retried at all (ignores the budget).
    static bool retryable(const attempt_view& a) noexcept;
    // Delay before the next attempt after `attempts_done` attempts, honouring Retry-After; nullopt
    // when attempts or the deadline (measured from `first`) are used up.
    std::optional<duration> next_delay(int attempts_done, time_point first, time_point now,
                                       std::optional<duration> retry_after = std::nullopt);
    const retry_config& config() const { return cfg_; }

  private:
    std::uint64_t next_random();  // splitmix64: 8 bytes of state (a call's frame stays small)
    retry_config cfg_;
    std::uint64_t rng_;
};

// The journal state of a document after Nubefact has it: rejected when SUNAT said no (aceptada false
// with a response code other than "0"), pending_sunat when aceptada is false without a code (SUNAT
// has not answered yet), otherwise accepted.
doc_state settled_state(const response& r) noexcept;

// When to consult again a document whose SUNAT answer is pending (pending_sunat): after `first`,
// doubling up to `cap`, until `limit` after `start` has passed. Not thread-safe.
class follow_schedule {
  public:
    follow_schedule(time_point start, duration limit, duration first = std::chrono::milliseconds(500),
                    duration cap = std::chrono::seconds(30));
    // The wait before the next consult, or nullopt when the next one would come after the limit.
    std::optional<duration> next(time_point now);
    int consults() const { return consults_; }

  private:
    time_point deadline_;
    duration delay_, cap_;
    int consults_ = 0;
};

// What a call does with a document once the journal answered its intent (record()): the resume
// plan. Rows, first match wins:
//   created, not replacing a stored payload           -> send
//   created, a corrected payload replaced the stored  -> resend_corrected (send, same number)
//   stored with another payload                        -> conflict (never sent: it may exist)
//   stored, final (accepted, rejected, conflict)       -> skip (the stored answer is the answer)
//   stored, claimed by another live sender             -> wait (then ask the journal again)
//   stored, ours now, refused or failed                -> send (Nubefact does not hold it)
//   stored, ours now, queued and never attempted       -> send
//   stored, ours now, anything else                    -> consult_first (it may exist)
enum class resume { send, consult_first, skip, resend_corrected, conflict, wait };
std::string_view to_string(resume r) noexcept;
resume resume_plan(const intent_journal::record_result& r, std::string_view payload_hash) noexcept;

// Whether a document Nubefact returned for a consultation (after a codigo 23) is the one in
// `canonical_payload`: the comprobante's QR text carries its IGV, total, date and customer, which
// are compared with ours. cannot_tell when there is nothing to compare (no QR, another operation,
// a field that does not parse): the journal's intent with this payload is then what decides.
enum class match { same, different, cannot_tell };
struct consulted_match {
    match verdict = match::cannot_tell;
    std::string detail;  // when different: "total 118.00 at Nubefact, 236.00 here"
};
consulted_match compare_consulted(operation op, std::string_view canonical_payload,
                                  const response& consulted);

// One call's exactly-once state machine. For generar_* operations: an ambiguous outcome leads to a
// consult before any resend; a codigo 23 leads to a consult whose answer is adopted (the caller
// first compares it with its payload: compare_consulted, answering_duplicate()). For other
// operations: plain retries.
class delivery {
  public:
    enum class kind {
        send,     // send the document (after `delay`)
        consult,  // call the matching consultar_* (after `delay`)
        finish,   // done: see outcome
    };
    enum class outcome {
        none,
        sent,     // the send's 200 response is the answer
        adopted,  // the consult's 200 response is the answer (recovered)
        failed,   // error: nothing was created
        unknown,  // error: it is not known whether Nubefact has the document
    };
    struct step {
        kind what = kind::send;
        duration delay{0};
        outcome result = outcome::none;
        error_code error;           // when result is failed or unknown
        std::optional<int> codigo;  // Nubefact codigo behind the error, if any
    };

    // possibly_delivered: an earlier run may have sent this payload (journal attempts > 0).
    // consult_first: start with a consult (resuming an intent left in sending/unknown/accepted).
    delivery(bool exactly_once, retry_policy policy, time_point start, bool possibly_delivered = false,
             bool consult_first = false);

    step begin(time_point now);
    step on_send(const attempt_view& a, time_point now);
    step on_consult(const attempt_view& a, time_point now);

    int sends() const { return sends_; }
    int consults() const { return consults_; }
    // Some attempt (this call or an earlier run) may have reached Nubefact: a codigo 23 is then ours.
    bool possibly_delivered() const { return possibly_delivered_; }
    // Nubefact may hold the document right now (no consult has said "not found" since).
    bool maybe_exists() const { return maybe_exists_; }
    // The consult in progress (or just adopted) answers a codigo 23: Nubefact said it has the number.
    bool answering_duplicate() const { return duplicate_seen_; }

  private:
    step retry_send(const attempt_view& a, time_point now);
    step retry_consult(const attempt_view& a, time_point now);
    step finish(outcome o, error_code ec, std::optional<int> codigo);

    bool exactly_once_;
    retry_policy policy_;
    time_point start_;
    bool possibly_delivered_;
    bool maybe_exists_;  // a failure now leaves the document unknown rather than failed
    bool consult_first_;
    bool duplicate_seen_ = false;  // a codigo 23 led to the current consult
    int sends_ = 0;
    int consults_ = 0;
    int not_found_after_duplicate_ = 0;
};

// Keep-alive pool bookkeeping for one host: which connection to reuse, when to open, what to close.
// Callers hold a concurrency slot, so active() < cap whenever acquire() is called; an idle connection
// is always reused before a new one is opened, hence total() <= cap at all times.
class pool_book {
  public:
    pool_book(std::size_t cap, duration idle_timeout);
    struct lease {
        bool reuse = false;  // true: use idle connection `id`; false: open a new one under `id`
        std::uint64_t id = 0;
        std::vector<std::uint64_t> close;  // expired idle connections to close first
    };
    lease acquire(time_point now);
    // The exchange finished: keep `id` for reuse (keep-alive) or forget it (closed/broken).
    void release(std::uint64_t id, bool reusable, time_point now);
    // Idle connections unused for longer than idle_timeout: close them.
    std::vector<std::uint64_t> expire(time_point now);
    std::size_t active() const { return active_; }
    std::size_t idle() const { return idle_.size(); }
    std::size_t total() const { return active_ + idle_.size(); }
    std::size_t opened() const { return opened_; }

  private:
    struct idle_entry {
        std::uint64_t id;
        time_point since;
    };
    std::size_t cap_;
    duration idle_timeout_;
    std::deque<idle_entry> idle_;  // oldest first
    std::size_t active_ = 0;
    std::uint64_t next_id_ = 1;
    std::size_t opened_ = 0;
};

}  // namespace nubefact::sansio
