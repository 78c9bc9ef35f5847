// Client engine: shared limits, exactly-once delivery (journal, consult before resend), audit, metrics.
// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (custom frame allocator).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <nubefact/client.hpp>
#include <nubefact/client_memory.hpp>
#include <nubefact/client_policy.hpp>
#include <nubefact/json.hpp>
#include "client/transport.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/throw_exception.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

namespace nubefact {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using sansio::clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;

std::string payload_hash(std::string_view body) {
    // The SHA-256 implementation is fetched once per process and a digest context kept per thread:
    // EVP_Digest with EVP_sha256() would look the provider up and allocate a context every call.
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    struct ctx_deleter {
        void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
    };
    thread_local std::unique_ptr<EVP_MD_CTX, ctx_deleter> ctx(EVP_MD_CTX_new());
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!md || !ctx || !EVP_DigestInit_ex2(ctx.get(), md, nullptr) ||
        !EVP_DigestUpdate(ctx.get(), body.data(), body.size()) ||
        !EVP_DigestFinal_ex(ctx.get(), digest, &len))
        EVP_Digest(body.data(), body.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(len * 2, '0');
    for (unsigned i = 0; i < len; ++i) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    return out;
}

std::string client_error::what() const {
    std::string s = code.message();
    if (!message.empty()) s += ": " + message;
    if (http_status) s += fmt::format(" (HTTP {})", http_status);
    if (!findings.empty()) {
        const auto& f = findings.front();
        s += fmt::format(" [{}{}{}]", f.path, f.path.empty() ? "" : ": ", f.message);
        if (findings.size() > 1) s += fmt::format(" and {} more finding(s)", findings.size() - 1);
    }
    return s;
}

void throw_exception_from_error(const client_error& e, const boost::source_location& loc) {
    boost::throw_exception(boost::system::system_error(e.code, e.what()), loc);
}

namespace detail {

// Rate and concurrency limits of one account, shared by every client of that account name in the
// process. Thread-safe; waiters sleep on their own timers and are woken by posting to them.
class account_limiter {
  public:
    struct waiter {
        explicit waiter(const asio::any_io_executor& ex) : timer(ex) {}
        asio::steady_timer timer;
        bool granted = false;  // guarded by the limiter's mutex
    };

    explicit account_limiter(const account_config& c)
        : bucket_(c.rate), max_(std::max(1, c.max_concurrency)) {}

    clock::time_point reserve(clock::time_point now) {
        std::lock_guard l(mu_);
        return bucket_.reserve(now);
    }
    void pause_until(clock::time_point t) {
        std::lock_guard l(mu_);
        bucket_.pause_until(t);
    }
    clock::time_point paused_until() {
        std::lock_guard l(mu_);
        return bucket_.paused_until();
    }
    bool admit(clock::time_point now, sansio::duration& wait) {
        std::lock_guard l(mu_);
        return bucket_.admit(now, wait);
    }
    // One lock for the common case: reserves a slot (`grant`) and admits it if it is due now.
    bool try_send_now(clock::time_point now, clock::time_point& grant) {
        std::lock_guard l(mu_);
        grant = bucket_.reserve(now);
        if (grant > now || bucket_.paused_until() > now) return false;
        sansio::duration wait{0};
        return bucket_.admit(now, wait);
    }
    bool try_acquire() {
        std::lock_guard l(mu_);
        if (in_use_ < max_) {
            ++in_use_;
            return true;
        }
        return false;
    }
    // Takes a slot at once (true) or queues `w` (false; release() grants and wakes it).
    bool acquire_or_enqueue(const std::shared_ptr<waiter>& w) {
        std::lock_guard l(mu_);
        if (in_use_ < max_) {
            ++in_use_;
            return true;
        }
        q_.push_back(w);
        return false;
    }
    // After the waiter's timer fired: true when a slot was handed over, else it leaves the queue.
    bool finish_wait(const std::shared_ptr<waiter>& w) {
        std::lock_guard l(mu_);
        if (w->granted) return true;
        for (auto it = q_.begin(); it != q_.end(); ++it)
            if (*it == w) {
                q_.erase(it);
                break;
            }
        return false;
    }
    void release() {
        std::shared_ptr<waiter> w;
        {
            std::lock_guard l(mu_);
            if (q_.empty()) {
                --in_use_;
                return;
            }
            w = std::move(q_.front());
            q_.pop_front();
            w->granted = true;  // the slot passes to w; in_use_ unchanged
        }
        asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
    }
    int in_use() {
        std::lock_guard l(mu_);
        return in_use_;
    }

  private:
    std::mutex mu_;
    sansio::token_bucket bucket_;
    int max_;
    int in_use_ = 0;
    std::deque<std::shared_ptr<waiter>> q_;
};

std::shared_ptr<account_limiter> shared_limiter(const account_config& c) {
    static std::mutex mu;
    static std::map<std::string, std::weak_ptr<account_limiter>> registry;
    std::lock_guard l(mu);
    auto& slot = registry[c.name];
    if (auto p = slot.lock()) return p;
    auto p = std::make_shared<account_limiter>(c);
    slot = p;
    return p;
}

// A callback-style call in progress: `ready` holds a result delivered before start_callback
// returned (in-memory journals); otherwise finish_callback suspends until it arrives.
template <class T>
struct callback_call {
    struct state {
        std::mutex mu;
        std::optional<T> value;         // a result that arrived before anyone waited
        std::function<void(T)> resume;  // set once the caller suspended
    };
    std::shared_ptr<state> st;
    std::optional<T> ready;
};

// Starts `start(cb)`, which must call cb(T) once, on any thread.
template <class T, class Start>
callback_call<T> start_callback(Start& start) {
    callback_call<T> c{std::make_shared<typename callback_call<T>::state>(), std::nullopt};
    start([st = c.st](T v) {
        std::unique_lock l(st->mu);
        if (!st->resume) {
            st->value.emplace(std::move(v));
            return;
        }
        auto resume = std::move(st->resume);
        l.unlock();
        resume(std::move(v));
    });
    std::lock_guard l(c.st->mu);
    if (c.st->value) c.ready = std::move(c.st->value);
    return c;
}

// Waits for a result start_callback did not get at once; resumes through a post to the caller's
// executor (the callback may run on another thread).
template <class T>
asio::awaitable<T> finish_callback(std::shared_ptr<typename callback_call<T>::state> st) {
    auto ex = co_await asio::this_coro::executor;
    auto init = [ex, st](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto post_to = [ex, h](T v) {
            asio::post(ex, [h, v = std::move(v)]() mutable { std::move (*h)(std::move(v)); });
        };
        std::unique_lock l(st->mu);
        if (st->value) {  // arrived after start_callback looked
            T v = std::move(*st->value);
            l.unlock();
            post_to(std::move(v));
            return;
        }
        st->resume = std::move(post_to);
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(std::move(init),
                                                                                     asio::use_awaitable);
}

// Awaits a callback-style API. `start` is a named object of the caller (GCC 12 destroys temporaries
// passed by value to coroutines twice).
template <class T, class Start>
asio::awaitable<T> await_callback(Start& start) {
    auto c = start_callback<T>(start);
    if (c.ready) co_return std::move(*c.ready);
    auto task = finish_callback<T>(std::move(c.st));
    co_return co_await std::move(task);
}

}  // namespace detail

namespace {

// An io_context built with concurrency hint 1 is run by one thread: its executor already serialises
// the engine, and a strand would only add a hop to every resumption. Anything else gets a strand.
asio::any_io_executor engine_executor(asio::any_io_executor ex) {
    if (const auto* io = ex.target<asio::io_context::executor_type>()) {
        auto& ctx = io->context();
        if (asio::use_service<asio::detail::io_context_impl>(ctx).concurrency_hint() == 1) return ex;
    }
    return asio::make_strand(std::move(ex));
}

std::string consult_body(operation op, const document_key& key) {
    consulta c;
    c.op = consult_for(op);
    if (!fixed_key_tipo(traits(op).family)) c.tipo_de_comprobante = key.tipo;
    c.serie = key.serie;
    c.numero = key.numero;
    return json::write(json::request{std::move(c)});
}

struct slot_guard {
    detail::account_limiter* l = nullptr;
    bool held = false;
    void release() {
        if (held) {
            held = false;
            l->release();
        }
    }
    ~slot_guard() { release(); }
};

}  // namespace

// ---- engine ----------------------------------------------------------------------------------------

struct client::engine : std::enable_shared_from_this<engine> {
    account_config cfg;
    asio::any_io_executor exec;  // the caller's executor when single-threaded, else a strand of it
    std::shared_ptr<intent_journal> journal;
    std::shared_ptr<audit_sink> audit;
    client_metrics* metrics;
    std::shared_ptr<transport::transport> tx;
    std::shared_ptr<const clock_source> clk;  // every reading of "now" (client_options::clock)
    std::shared_ptr<detail::account_limiter> limiter;
    transport::endpoint ep;
    transport::request_head head;  // built once: every request is head + Content-Length + body
    std::mt19937_64 seeder;
    std::atomic<bool> sends_stopped{false};  // stop_sending(): no send from now on (consults still go)
    std::atomic<int> stop_codigo{0};         // the account-level codigo that stopped sending, if any

    clock::time_point clock_now() const { return clk->steady_now(); }

    // An answer about the account (token, ruta, suspension) stops its sending: every further
    // document would get the same answer.
    void note_codigo(std::optional<int> codigo) {
        if (!codigo || !is_account_codigo(*codigo)) return;
        int none = 0;
        stop_codigo.compare_exchange_strong(none, *codigo, std::memory_order_relaxed);
        sends_stopped.store(true, std::memory_order_relaxed);
    }

    // Why a send is not made once sending stopped.
    client_error stop_error() const {
        const int c = stop_codigo.load(std::memory_order_relaxed);
        if (c == 0)
            return client_error{make_error_code(client_errc::cancelled), "not sent: the sender is stopping"};
        return client_error{
            make_error_code(client_errc::account_stopped),
            fmt::format("not sent: account '{}' stopped after Nubefact answered {} to an earlier document",
                        cfg.name, make_error_code(static_cast<api_errc>(c)).message())};
    }

    engine(asio::any_io_executor ex, account_config c, client_options o)
        : cfg(std::move(c)), exec(engine_executor(std::move(ex))) {
        validate_config(cfg);
        auto e = transport::parse_ruta(cfg.ruta);
        if (!e) throw config_error("account '" + cfg.name + "': ruta is not a valid http(s) URL");
        ep = *e;
        bool default_port = (ep.tls && ep.port == "443") || (!ep.tls && ep.port == "80");
        bool v6 = ep.host.find(':') != std::string::npos;
        head.target = ep.target;
        head.host = (v6 ? "[" + ep.host + "]" : ep.host) + (default_port ? "" : ":" + ep.port);
        head.authorization = cfg.auth == auth_scheme::bare ? cfg.token : "Token token=\"" + cfg.token + "\"";
        head.build();
        clk = o.clock ? o.clock : real_clock();
        journal = o.journal ? o.journal : std::make_shared<memory_journal>(clk);
        audit = o.audit;
        metrics = o.metrics ? o.metrics : &default_metrics();
        tx = o.transport ? o.transport : transport::make_http_transport(exec, cfg, clk);
        limiter = detail::shared_limiter(cfg);
        seeder.seed(o.seed ? *o.seed : std::random_device{}());
        if (cfg.danger_disable_tls_verification && ep.tls)
            spdlog::warn(
                "account '{}': TLS certificate verification is DISABLED (danger_disable_tls_verification); "
                "anyone on the network path can read the token and forge answers",
                cfg.name);
    }

    // One exchange classified (sansio::classify), as run() keeps it between attempts.
    using exchange_outcome = sansio::classified;

    static sansio::exchange_view view_of(const transport::exchange_result& r) {
        return {r.ec, r.detail, r.written, r.timed_out, r.status, r.body, r.retry_after};
    }

    asio::awaitable<bool> acquire_slot(clock::time_point deadline) {
        if (limiter->try_acquire()) co_return true;
        auto w = std::make_shared<detail::account_limiter::waiter>(co_await asio::this_coro::executor);
        if (limiter->acquire_or_enqueue(w)) co_return true;
        metrics->add(cfg.name, "concurrency_waits");
        w->timer.expires_after(deadline - clock_now());
        co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return limiter->finish_wait(w);
    }

    // Sleeps until the rate limit lets this request go. `grant`: a slot try_send_now already reserved.
    asio::awaitable<bool> wait_rate(clock::time_point deadline, clock::time_point grant) {
        std::optional<asio::steady_timer> t;
        auto sleep_until = [&](clock::time_point when) -> asio::awaitable<void> {
            if (!t) t.emplace(co_await asio::this_coro::executor);
            metrics->add(cfg.name, "rate_limit_waits");
            t->expires_after(when - clock_now());
            co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
        };
        for (int i = 0; i < 64; ++i) {
            auto now = clock_now();
            auto g = i == 0 && grant != clock::time_point::min() ? grant : limiter->reserve(now);
            if (g > deadline) co_return false;
            if (g > now) co_await sleep_until(g);
            // A Retry-After that arrived while we slept moves us behind it.
            if (limiter->paused_until() > clock_now()) continue;
            // Admission on the actual time: after a stall, late wakers leave spaced, not together.
            for (int j = 0; j < 64; ++j) {
                sansio::duration wait{0};
                now = clock_now();
                if (limiter->admit(now, wait)) co_return true;
                if (now + wait > deadline) co_return false;
                co_await sleep_until(now + wait);
            }
            co_return false;
        }
        co_return false;
    }

    // Back-pressure path of the audit: waits for room and writes `rec` (a saturated sink never drops).
    asio::awaitable<void> write_audit(audit_record rec) {
        for (;;) {
            audit_record copy = rec;
            if (audit->try_write(std::move(copy))) co_return;
            metrics->add(cfg.name, "back_pressure_waits");
            auto start = [a = audit](std::function<void(bool)> cb) { a->wait_for_space([cb] { cb(true); }); };
            co_await detail::await_callback<bool>(start);
        }
    }

    audit_record make_audit(std::chrono::system_clock::time_point at, operation xop, const document_key& key,
                            const std::string& body, int attempt, const transport::exchange_result& r,
                            const exchange_outcome& out, microseconds latency) const {
        audit_record a;
        a.at = at;
        a.account = cfg.name;
        a.operation = std::string(to_string(xop));
        a.document = key.serie.empty() ? std::string() : key.to_string();
        a.attempt = attempt;
        a.http_status = r.status;
        a.codigo = out.view.codigo;
        a.outcome = out.outcome;
        a.latency = latency;
        a.request_bytes = r.request_bytes;
        a.response_bytes = r.response_bytes;
        if (cfg.audit_bodies) {
            a.request_body = body;
            a.response_body = r.body;
        }
        return a;
    }

    static void reset(exchange_outcome& o) {
        o.view = sansio::attempt_view{};
        o.resp.reset();
        o.message.clear();
        o.outcome.clear();
        o.status = 0;
    }

    static void not_sent(exchange_outcome& out, std::string msg) {
        out.view.what = sansio::verdict::not_delivered;
        out.view.error = make_error_code(client_errc::timeout);
        out.outcome = "timeout";
        out.message = std::move(msg);
    }

    // The slow way past the limits (run() tries the fast way inline): waits for a concurrency slot
    // unless `slot` holds one, then for the rate limit (`grant`: a slot try_send_now reserved). False:
    // not before the deadline (`out` says why; nothing was sent).
    // `stoppable`: a send stop_sending() ends (false once it has its slot, without waiting for the rate).
    asio::awaitable<bool> admit(clock::time_point deadline, slot_guard& slot, clock::time_point grant,
                                exchange_outcome& out, bool stoppable) {
        if (!slot.held) {
            auto wait = acquire_slot(deadline);
            if (!co_await std::move(wait)) {
                not_sent(out, fmt::format("no free slot before the deadline (max_concurrency {})",
                                          cfg.max_concurrency));
                co_return false;
            }
            slot.held = true;
            grant = clock::time_point::min();
            if (limiter->try_send_now(clock_now(), grant)) co_return true;
        }
        if (stoppable && sends_stopped.load(std::memory_order_relaxed)) co_return false;
        auto wait = wait_rate(deadline, grant);
        if (!co_await std::move(wait)) {
            not_sent(out, "the rate limit allows no request before the deadline");
            co_return false;
        }
        co_return true;
    }

    // After an exchange: classification into `out`, Retry-After, metrics. True when the audit sink
    // took its record (or there is none); false: run() waits for room (write_audit).
    bool after_exchange(operation xop, const document_key& key, const std::string& body, int attempt,
                        std::chrono::system_clock::time_point at, transport::exchange_result& r,
                        microseconds latency, exchange_outcome& out) {
        out = sansio::classify(view_of(r));
        note_codigo(out.view.codigo);
        if (out.view.retry_after && (r.status == 429 || r.status == 503))
            limiter->pause_until(clock_now() + *out.view.retry_after);
        metrics->observe_exchange(cfg.name, to_string(xop), out.outcome, latency);
        return !audit || audit->try_write(make_audit(at, xop, key, body, attempt, r, out, latency));
    }

    client_result<reply> fail(operation op, clock::time_point t0, client_error e, std::string_view label) {
        metrics->observe_call(cfg.name, to_string(op), label, duration_cast<microseconds>(clock_now() - t0));
        return e;
    }

    // Starts a journal state change; `ready` when the journal answered at once.
    // `u` stays the caller's (alive until the journal answers, as `key` is).
    detail::callback_call<result<void>> start_update(operation op, const document_key& key, state_update& u) {
        u.op = op;
        auto start = [this, &key, &u](std::function<void(result<void>)> cb) {
            journal->update(cfg.name, key, u, std::move(cb));
        };
        return detail::start_callback<result<void>>(start);
    }

    // A final state, written behind: the caller does not wait for its commit. Exactly-once rests on
    // the intent (durable before the first byte is sent, recorded as `sending`): if this update is
    // lost to a crash, the row stays `sending` and a resume consults Nubefact before any resend.
    void update_behind(operation op, const document_key& key, state_update& u) {
        u.op = op;
        journal->update(cfg.name, key, u,
                        [account = cfg.name, op, key](result<void> r) {  // text built only on failure
                            if (!r)
                                spdlog::warn(
                                    "account '{}': {} {}: could not journal the final state ({}); a "
                                    "resume will consult",
                                    account, to_string(op), key.to_string(), r.error().message());
                        });
    }

    // What the journal answered to a new intent, reduced to what run() needs.
    struct record_summary {
        bool ok = false;  // false: the journal failed (message says why); nothing was sent
        sansio::resume plan = sansio::resume::send;
        bool created = false;    // the intent was recorded as sending, attempt 1
        std::int64_t lease = 0;  // the claim's fencing token
        doc_state state = doc_state::queued;
        std::string message;
        std::unique_ptr<intent_record> stored;  // plan skip: the journaled answer
    };

    record_summary summarize(result<intent_journal::record_result>& rec, const intent& in) const {
        record_summary s;
        if (!rec) {
            s.message = "could not record the intent (nothing was sent): " + rec.error().message();
            return s;
        }
        s.ok = true;
        s.plan = sansio::resume_plan(*rec, in.payload_hash);
        s.created = rec->created;
        s.lease = rec->lease;
        const auto& r = rec->record;
        s.state = r.state;
        switch (s.plan) {
            case sansio::resume::conflict:
                // The journal lets a corrected payload replace one Nubefact does not hold; this one
                // it may hold, so its number keeps its content.
                if (is_void_operation(in.op)) {
                    const bool anulacion = in.op == operation::generar_anulacion;
                    s.message = fmt::format(
                        "not sent: the {} of {} was sent before with other content (another motivo) and is "
                        "'{}' in the store: a document is voided once{}",
                        anulacion ? "anulación" : "reversión", in.key.to_string(), to_string(r.state),
                        anulacion ? fmt::format("; `nubefact query {} --what anulacion` shows Nubefact's",
                                                in.key.to_string())
                                  : std::string());
                    break;
                }
                s.message = fmt::format(
                    "not sent: {} was sent before with other content and is '{}' in the store "
                    "(Nubefact {}); a number that may exist is never re-sent with other content: {}",
                    in.key.to_string(), to_string(r.state),
                    r.state == doc_state::accepted || r.state == doc_state::rejected ||
                            r.state == doc_state::pending_sunat || r.state == doc_state::conflict
                        ? "has it"
                        : "may have it",
                    r.state == doc_state::accepted || r.state == doc_state::pending_sunat
                        ? "correct it with a nota de crédito/débito, or void it and issue the next "
                          "correlativo"
                    : r.state == doc_state::rejected || r.state == doc_state::conflict
                        ? "issue it under the next correlativo"
                        : "run the original document again (it is consulted first), then correct it");
                break;
            case sansio::resume::wait:
                s.message = fmt::format("not sent: another sender holds {} ('{}' in the store) and sends it",
                                        in.key.to_string(), to_string(r.state));
                break;
            case sansio::resume::skip:
                s.stored = std::make_unique<intent_record>(std::move(rec->record));
                break;
            default:
                break;
        }
        return s;
    }

    // A document final in the journal: its stored answer, nothing sent.
    client_result<reply> stored_answer(operation op, clock::time_point t0, intent_record& r) {
        if (r.state == doc_state::conflict) {
            client_error e{make_error_code(client_errc::conflict), r.error};
            e.state = r.state;
            e.codigo = r.codigo;
            return fail(op, t0, std::move(e), "conflict");
        }
        reply rep;
        rep.state = r.state;
        rep.resumed = true;
        rep.attempts = 0;
        auto& b = rep.body;
        b.tipo_de_comprobante = r.what.key.tipo;
        b.serie = r.what.key.serie;
        b.numero = r.what.key.numero;
        b.aceptada_por_sunat = r.aceptada_por_sunat;
        for_each_answer_text([&](std::string_view, auto get) {
            if (!get(r).empty()) get(b) = std::move(get(r));
        });
        metrics->observe_call(cfg.name, to_string(op), "resumed",
                              duration_cast<microseconds>(clock::now() - t0));
        return rep;
    }

    // Records `in` in the journal; nullopt when the answer is not there yet (then await_record).
    std::optional<record_summary> start_record(
        const intent& in,
        std::shared_ptr<detail::callback_call<result<intent_journal::record_result>>::state>& pending) {
        using record_t = result<intent_journal::record_result>;
        auto start = [this, &in](std::function<void(record_t)> cb) { journal->record(in, std::move(cb)); };
        auto rc = detail::start_callback<record_t>(start);
        if (rc.ready) return summarize(*rc.ready, in);
        pending = std::move(rc.st);
        return std::nullopt;
    }

    asio::awaitable<record_summary> await_record(
        std::shared_ptr<detail::callback_call<result<intent_journal::record_result>>::state> st,
        const intent& in) {
        auto wait = detail::finish_callback<result<intent_journal::record_result>>(std::move(st));
        auto rec = co_await std::move(wait);
        co_return summarize(rec, in);
    }

    // Journals a further attempt (state sending, attempt counted) before it is sent.
    asio::awaitable<result<void>> journal_attempt(operation op, const document_key& key, std::int64_t lease) {
        state_update u;
        u.state = doc_state::sending;
        u.count_attempt = true;
        u.lease = lease;
        auto uc = start_update(op, key, u);
        if (uc.ready) co_return std::move(*uc.ready);
        auto wait = detail::finish_callback<result<void>>(std::move(uc.st));
        co_return co_await std::move(wait);
    }

    static asio::awaitable<void> sleep_for(clock::duration d) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        timer.expires_after(d);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }

    static sansio::delivery::step finish_step(const sansio::delivery& d, error_code ec,
                                              std::optional<int> codigo) {
        return {sansio::delivery::kind::finish,
                {},
                d.maybe_exists() ? sansio::delivery::outcome::unknown : sansio::delivery::outcome::failed,
                ec,
                codigo};
    }

    // The end of a call that stop_sending() caught before its attempt left.
    sansio::delivery::step stopped_step(const sansio::delivery& d, exchange_outcome& last) const {
        auto why = stop_error();
        last.message = std::move(why.message);
        return finish_step(d, why.code, last.view.codigo);
    }

    // A codigo 23 was answered by a consultation: Nubefact holds the number. Ours when what it holds
    // matches our payload (or nothing tells them apart: our intent with this payload was journaled
    // before any send); otherwise a conflict.
    static void check_duplicate(operation op, const std::string& body, sansio::delivery::step& step,
                                exchange_outcome& last) {
        if (!last.resp) return;
        auto m = sansio::compare_consulted(op, body, *last.resp);
        if (m.verdict != sansio::match::different) return;
        step.result = sansio::delivery::outcome::failed;
        step.error = make_error_code(client_errc::conflict);
        step.codigo = static_cast<int>(api_errc::already_exists);
        last.message = std::move(m.detail);
    }

    // The call's result once the delivery machine finished: the reply (final state written behind)
    // or the error (final state written behind unless the journal itself failed).
    client_result<reply> conclude(operation op, const document_key& key, clock::time_point t0,
                                  const sansio::delivery::step& step, exchange_outcome& last, int exchanges,
                                  bool eo, bool journal_failed, std::int64_t lease) {
        using outcome = sansio::delivery::outcome;
        if (step.result == outcome::sent || step.result == outcome::adopted) {
            reply rep;
            rep.body = std::move(*last.resp);
            rep.state = sansio::settled_state(rep.body);
            rep.recovered = step.result == outcome::adopted;
            rep.attempts = exchanges;
            if (eo) {
                // The response's strings are lent to the update and taken back: update() copies what
                // it keeps before it returns (the store queues a copy, the memory journal applies it),
                // so no string is copied here for a journal that keeps nothing.
                state_update u;
                u.state = rep.state;
                auto& b = rep.body;
                u.aceptada_por_sunat = b.aceptada_por_sunat;
                // Swapping lends the strings; the same swap gives them back.
                auto lend = [](state_update& to, auto& from) {
                    for_each_answer_text([&](std::string_view, auto get) {
                        using std::swap;
                        swap(get(to), get(from));
                    });
                };
                lend(u, b);
                u.lease = lease;
                update_behind(op, key, u);
                lend(u, b);
            }
            metrics->observe_call(cfg.name, to_string(op), rep.recovered ? "recovered" : "sent",
                                  duration_cast<microseconds>(clock_now() - t0));
            return rep;
        }

        client_error err;
        err.code = step.error ? step.error : make_error_code(client_errc::retries_exhausted);
        err.codigo = step.codigo;
        err.http_status = last.status;
        err.attempts = exchanges;
        if (step.result == outcome::unknown)
            err.state = doc_state::unknown;
        else if (err.code == client_errc::conflict)
            err.state = doc_state::conflict;
        else if (step.codigo && *step.codigo != static_cast<int>(api_errc::already_exists))
            err.state = doc_state::refused;  // Nubefact answered and created nothing
        else
            err.state = doc_state::failed;
        err.message = last.message;
        std::string label(to_string(err.state));
        if (err.code == client_errc::conflict) {
            err.message = fmt::format(
                "Nubefact holds a different document under {} ({}): the number belongs to another "
                "document; investigate before issuing anything under it",
                key.to_string(), last.message);
        } else if (err.state == doc_state::unknown) {
            err.message += fmt::format(
                " — outcome unknown after {} exchange(s): Nubefact may have {}; the journal keeps it as "
                "'unknown' "
                "and the next call for it consults before sending",
                exchanges, key.to_string());
        }
        if (eo && !journal_failed) {
            state_update u;
            u.state = err.state;
            u.codigo = err.codigo;
            u.error = err.what();
            u.lease = lease;
            update_behind(op, key, u);
        }
        return fail(op, t0, std::move(err), label);
    }

    // run() on the engine's executor for a caller elsewhere (a strand, another thread).
    static asio::awaitable<std::unique_ptr<client_result<reply>>> hop(std::shared_ptr<engine> self,
                                                                      operation op, document_key key,
                                                                      std::string body) {
        // GCC 12 destroys temporaries of a co_await operand twice: keep the awaitable in a named variable.
        auto task = asio::co_spawn(self->exec, run(self, op, std::move(key), std::move(body), true),
                                   asio::use_awaitable);
        co_return std::make_unique<client_result<reply>>(co_await std::move(task));
    }

    // One call: journal, delivery machine, final state. Runs on the engine's executor: a caller
    // elsewhere is moved there first (on_engine: already there). Big objects live in the non-coroutine
    // helpers above, so that this frame (one per document in flight) stays small.
    static asio::awaitable<client_result<reply>> run(std::shared_ptr<engine> self, operation op,
                                                     document_key key, std::string body, bool on_engine) {
        if (!on_engine && co_await asio::this_coro::executor != self->exec) {
            // The result comes back boxed: a co_await result lives in the frame of every call, and
            // this hop is the rare path.
            auto task = hop(self, op, std::move(key), std::move(body));
            auto boxed = co_await std::move(task);
            co_return std::move(*boxed);
        }
        auto& e = *self;
        auto t0 = e.clock_now();
        auto deadline = t0 + duration_cast<clock::duration>(e.cfg.total_timeout);
        bool eo = is_generar(op);
        bool possibly = false, consult_first = false;
        bool first_attempt_journaled = false;  // the intent was recorded as `sending`, attempt 1
        std::int64_t lease = 0;                // our claim's fencing token (generar_*)
        if (eo && e.sends_stopped.load(std::memory_order_relaxed))
            co_return e.fail(op, t0, e.stop_error(), "stopped");  // not even journaled
        if (eo) {
            // The body travels in the intent and comes back once the journal has answered (no copy).
            intent in{e.cfg.name, op, key, payload_hash(body), std::move(body)};
            in.sending = true;  // the first attempt follows at once: one commit instead of two
            std::shared_ptr<detail::callback_call<result<intent_journal::record_result>>::state> pending;
            auto sum = e.start_record(in, pending);
            if (!sum) {
                auto wait = e.await_record(std::move(pending), in);
                sum.emplace(co_await std::move(wait));
            }
            body = std::move(in.payload);
            if (!sum->ok)
                co_return e.fail(op, t0,
                                 client_error{make_error_code(client_errc::journal), std::move(sum->message)},
                                 "journal");
            switch (sum->plan) {
                case sansio::resume::conflict:
                case sansio::resume::wait: {
                    const bool changed = sum->plan == sansio::resume::conflict;
                    client_error ce{
                        make_error_code(changed ? client_errc::payload_changed : client_errc::held_elsewhere),
                        std::move(sum->message)};
                    ce.state = sum->state;
                    co_return e.fail(op, t0, std::move(ce), changed ? "payload_changed" : "held_elsewhere");
                }
                case sansio::resume::skip:
                    co_return e.stored_answer(op, t0, *sum->stored);
                case sansio::resume::consult_first:
                    possibly = true;
                    consult_first = true;
                    break;
                case sansio::resume::send:
                case sansio::resume::resend_corrected:
                    break;
            }
            first_attempt_journaled = sum->created;
            lease = sum->lease;
        }
        sansio::delivery d(eo, sansio::retry_policy(e.cfg.retry, e.seeder()), t0, possibly, consult_first);
        auto step = d.begin(e.clock_now());
        int exchanges = 0;
        exchange_outcome last;
        std::string cbody;
        bool journal_failed = false;
        while (step.what != sansio::delivery::kind::finish) {
            if (step.delay.count() > 0) {
                if (e.clock_now() + step.delay >= deadline) {
                    step = finish_step(
                        d, last.view.error ? last.view.error : make_error_code(client_errc::timeout),
                        last.view.codigo);
                    break;
                }
                e.metrics->add(e.cfg.name, "retries");
                auto wait = sleep_for(step.delay);
                co_await std::move(wait);
            }
            bool sending = step.what == sansio::delivery::kind::send;
            if (sending && eo && e.sends_stopped.load(std::memory_order_relaxed)) {
                // Nothing of this attempt left (not even its journal entry): the journal gets
                // `failed` (or `unknown` when an earlier attempt may have arrived), and a rerun sends
                // (or consults) it.
                step = e.stopped_step(d, last);
                break;
            }
            if (sending && eo && first_attempt_journaled) {
                first_attempt_journaled = false;
            } else if (sending && eo) {
                auto wait = e.journal_attempt(op, key, lease);
                auto ur = co_await std::move(wait);
                if (!ur) {
                    journal_failed = true;
                    last.message = "could not journal the attempt (not sent): " + ur.error().message();
                    step = finish_step(d, make_error_code(client_errc::journal), std::nullopt);
                    break;
                }
            } else if (!sending) {
                e.metrics->add(e.cfg.name, "consults");
                if (cbody.empty()) cbody = consult_body(op, key);
            }
            // One exchange under the limits, inline (no frame of its own): classified into `last`.
            const operation xop = sending ? op : consult_for(op);
            const std::string& xbody = sending ? body : cbody;
            const int attempt = ++exchanges;
            reset(last);
            slot_guard slot{e.limiter.get(), false};
            auto grant = clock::time_point::min();
            bool go = false;
            if (e.limiter->try_acquire()) {
                slot.held = true;
                go = e.limiter->try_send_now(e.clock_now(), grant);
            }
            if (!go) {
                auto wait = e.admit(deadline, slot, grant, last, sending && eo);
                go = co_await std::move(wait);
            }
            const auto start = e.clock_now();
            if (go && start >= deadline) {
                go = false;
                not_sent(last, "total_timeout passed before sending");
            }
            if (sending && eo && e.sends_stopped.load(std::memory_order_relaxed)) {
                // Stopped while this call waited for its slot or the rate limit (admit gives up then).
                slot.release();
                --exchanges;  // this one never left
                step = e.stopped_step(d, last);
                break;
            }
            if (go) {
                const auto left = deadline - start;
                const transport::timeouts t{std::min<clock::duration>(e.cfg.connect_timeout, left),
                                            std::min<clock::duration>(e.cfg.request_timeout, left)};
                const auto at = e.audit ? e.clk->system_now() : std::chrono::system_clock::time_point{};
                auto task = e.tx->exchange_wire(e.head, xbody, t);
                auto r = co_await std::move(task);
                const auto latency = duration_cast<microseconds>(e.clock_now() - start);
                slot.release();
                if (!e.after_exchange(xop, key, xbody, attempt, at, r, latency, last)) {
                    auto wait = e.write_audit(e.make_audit(at, xop, key, xbody, attempt, r, last, latency));
                    co_await std::move(wait);
                }
            }
            slot.release();
            auto now = e.clock_now();
            step = sending ? d.on_send(last.view, now) : d.on_consult(last.view, now);
            if (step.what != sansio::delivery::kind::finish && now >= deadline)
                step = finish_step(d, make_error_code(client_errc::timeout), last.view.codigo);
        }
        if (step.result == sansio::delivery::outcome::adopted && d.answering_duplicate())
            e.check_duplicate(op, body, step, last);
        co_return e.conclude(op, key, t0, step, last, exchanges, eo, journal_failed, lease);
    }
};

// ---- client ---------------------------------------------------------------------------------------

client::client(asio::any_io_executor ex, account_config cfg, client_options opts)
    : e_(std::make_shared<engine>(std::move(ex), std::move(cfg), std::move(opts))) {}

client::~client() = default;

void client::stop_sending() {
    e_->sends_stopped.store(true, std::memory_order_relaxed);
}

const account_config& client::config() const {
    return e_->cfg;
}
const std::shared_ptr<intent_journal>& client::journal() const {
    return e_->journal;
}
const clock_source& client::clock() const {
    return *e_->clk;
}
std::size_t client::open_connections() const {
    return e_->tx->open_connections();
}
std::size_t client::connections_opened() const {
    return e_->tx->connections_opened();
}
std::size_t client::peak_connections() const {
    return e_->tx->peak_connections();
}
asio::any_io_executor client::get_executor() const {
    return e_->exec;
}

// Not a coroutine: the engine's run() is the only frame of a call (it hops to the engine's executor
// when the caller is elsewhere).
asio::awaitable<client::result_type> client::send(operation op, document_key key,
                                                  std::string canonical_body) {
    return engine::run(e_, op, std::move(key), std::move(canonical_body), false);
}

asio::awaitable<client::result_type> client::refresh(operation generar, document_key key) {
    auto task = send(consult_for(generar), key, consult_body(generar, key));
    auto r = co_await std::move(task);
    if (r && r->state != doc_state::pending_sunat) {
        const auto& b = r->body;
        state_update u;
        u.state = r->state;
        u.op = generar;
        u.aceptada_por_sunat = b.aceptada_por_sunat;
        for_each_answer_text([&](std::string_view, auto get) { get(u) = get(b); });
        // Not journaled (a document sent by another program): not_found, nothing to record.
        e_->journal->update(e_->cfg.name, key, u, [](result<void>) {});
    }
    co_return r;
}

namespace {

template <class Doc>
std::optional<client_error> validate(const account_config& cfg, const Doc& doc, const call_options& o) {
    if (!o.validate.value_or(cfg.validate)) return std::nullopt;
    auto findings = fiscal::check(doc, o.check);
    if (!has_errors(findings)) return std::nullopt;
    client_error err{make_error_code(client_errc::validation), "the document was not sent"};
    for (auto& f : findings)
        if (f.level == severity::error) err.findings.push_back(std::move(f));
    return err;
}

document_key retper_key(operation op, const std::string& serie, std::int64_t numero) {
    return document_key{fixed_key_tipo(traits(op).family).value_or(0), serie, numero};
}

}  // namespace

// The typed methods are not coroutines either: they check and serialize the document at once (its
// copy dies here, not in a frame that lives until the answer) and return send()'s awaitable.
namespace {
asio::awaitable<client::result_type> ready(client::result_type r) {
    co_return r;
}
}  // namespace

asio::awaitable<client::result_type> client::generar_comprobante(const comprobante& doc, call_options o) {
    if (auto err = validate(e_->cfg, doc, o))
        return ready(e_->fail(operation::generar_comprobante, e_->clock_now(), *err, "validation"));
    auto key = doc.key();
    auto body = json::write(doc);
    return send(operation::generar_comprobante, std::move(key), std::move(body));
}

asio::awaitable<client::result_type> client::consultar_comprobante(document_key key) {
    auto body = consult_body(operation::consultar_comprobante, key);
    return send(operation::consultar_comprobante, std::move(key), std::move(body));
}

asio::awaitable<client::result_type> client::generar_anulacion(anulacion doc, call_options o) {
    if (auto err = validate(e_->cfg, doc, o))
        return ready(e_->fail(operation::generar_anulacion, e_->clock_now(), *err, "validation"));
    document_key key{static_cast<int>(doc.tipo_de_comprobante.value_or(0)), doc.serie.value_or(""),
                     doc.numero.value_or(0)};
    auto body = json::write(json::request{std::move(doc)});
    return send(operation::generar_anulacion, std::move(key), std::move(body));
}

asio::awaitable<client::result_type> client::consultar_anulacion(document_key key) {
    auto body = consult_body(operation::consultar_anulacion, key);
    return send(operation::consultar_anulacion, std::move(key), std::move(body));
}

asio::awaitable<client::result_type> client::generar_guia(guia doc, call_options o) {
    if (auto err = validate(e_->cfg, doc, o))
        return ready(e_->fail(operation::generar_guia, e_->clock_now(), *err, "validation"));
    auto key = doc.key();
    auto body = json::write(json::request{std::move(doc)});
    return send(operation::generar_guia, std::move(key), std::move(body));
}

asio::awaitable<client::result_type> client::consultar_guia(document_key key) {
    auto body = consult_body(operation::consultar_guia, key);
    return send(operation::consultar_guia, std::move(key), std::move(body));
}

asio::awaitable<client::result_type> client::generar_retencion(retencion_percepcion doc, call_options o) {
    doc.percepcion = false;
    if (auto err = validate(e_->cfg, doc, o))
        return ready(e_->fail(operation::generar_retencion, e_->clock_now(), *err, "validation"));
    auto key = doc.key();
    auto body = json::write(json::request{std::move(doc)});
    return send(operation::generar_retencion, std::move(key), std::move(body));
}

asio::awaitable<client::result_type> client::generar_percepcion(retencion_percepcion doc, call_options o) {
    doc.percepcion = true;
    if (auto err = validate(e_->cfg, doc, o))
        return ready(e_->fail(operation::generar_percepcion, e_->clock_now(), *err, "validation"));
    auto key = doc.key();
    auto body = json::write(json::request{std::move(doc)});
    return send(operation::generar_percepcion, std::move(key), std::move(body));
}

namespace {
std::string reversion_body(operation op, const std::string& serie, std::int64_t numero,
                           const std::string& motivo) {
    consulta c;
    c.op = op;
    c.serie = serie;
    c.numero = numero;
    if (!motivo.empty()) c.motivo = motivo;
    return json::write(json::request{std::move(c)});
}
}  // namespace

#define NUBEFACT_RETPER_METHODS(kind)                                                                       \
    asio::awaitable<client::result_type> client::consultar_##kind(std::string serie, std::int64_t numero) { \
        auto op = operation::consultar_##kind;                                                              \
        auto key = retper_key(op, serie, numero);                                                           \
        auto body = consult_body(op, key);                                                                  \
        return send(op, std::move(key), std::move(body));                                                   \
    }                                                                                                       \
    asio::awaitable<client::result_type> client::generar_reversion_##kind(                                  \
        std::string serie, std::int64_t numero, std::string motivo) {                                       \
        auto op = operation::generar_reversion_##kind;                                                      \
        auto key = retper_key(op, serie, numero);                                                           \
        auto body = reversion_body(op, serie, numero, motivo);                                              \
        return send(op, std::move(key), std::move(body));                                                   \
    }                                                                                                       \
    asio::awaitable<client::result_type> client::consultar_reversion_##kind(std::string serie,              \
                                                                            std::int64_t numero) {          \
        auto op = operation::consultar_reversion_##kind;                                                    \
        auto key = retper_key(op, serie, numero);                                                           \
        auto body = consult_body(op, key);                                                                  \
        return send(op, std::move(key), std::move(body));                                                   \
    }
NUBEFACT_RETPER_METHODS(retencion)
NUBEFACT_RETPER_METHODS(percepcion)
#undef NUBEFACT_RETPER_METHODS

// ---- blocking_client ------------------------------------------------------------------------------

struct blocking_client::impl {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
    std::unique_ptr<client> c;
    std::thread th;

    impl(account_config cfg, client_options opts)
        : c(std::make_unique<client>(io.get_executor(), std::move(cfg), std::move(opts))) {
        th = std::thread([this] { io.run(); });
    }
    ~impl() {
        guard.reset();
        io.stop();
        if (th.joinable()) th.join();
        c.reset();
    }
    template <class F>
    result_type call(F f) {
        return asio::co_spawn(c->get_executor(), std::move(f), asio::use_future).get();
    }
};

blocking_client::blocking_client(account_config cfg, client_options opts)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(opts))) {}
blocking_client::~blocking_client() = default;

void blocking_client::stop_sending() {
    async().stop_sending();
}

client& blocking_client::async() {
    return *impl_->c;
}
const account_config& blocking_client::config() const {
    return impl_->c->config();
}
const std::shared_ptr<intent_journal>& blocking_client::journal() const {
    return impl_->c->journal();
}

#define NUBEFACT_BLOCK(expr) \
    return impl_->call(      \
        [&, c = impl_->c.get()]() -> asio::awaitable<result_type> { co_return co_await (expr); })

blocking_client::result_type blocking_client::generar_comprobante(const comprobante& d,
                                                                  const call_options& o) {
    NUBEFACT_BLOCK(c->generar_comprobante(d, o));
}
blocking_client::result_type blocking_client::consultar_comprobante(const document_key& k) {
    NUBEFACT_BLOCK(c->consultar_comprobante(k));
}
blocking_client::result_type blocking_client::generar_anulacion(const anulacion& d, const call_options& o) {
    NUBEFACT_BLOCK(c->generar_anulacion(d, o));
}
blocking_client::result_type blocking_client::consultar_anulacion(const document_key& k) {
    NUBEFACT_BLOCK(c->consultar_anulacion(k));
}
blocking_client::result_type blocking_client::generar_guia(const guia& d, const call_options& o) {
    NUBEFACT_BLOCK(c->generar_guia(d, o));
}
blocking_client::result_type blocking_client::consultar_guia(const document_key& k) {
    NUBEFACT_BLOCK(c->consultar_guia(k));
}
blocking_client::result_type blocking_client::generar_retencion(const retencion_percepcion& d,
                                                                const call_options& o) {
    NUBEFACT_BLOCK(c->generar_retencion(d, o));
}
blocking_client::result_type blocking_client::consultar_retencion(const std::string& s, std::int64_t n) {
    NUBEFACT_BLOCK(c->consultar_retencion(s, n));
}
blocking_client::result_type blocking_client::generar_reversion_retencion(const std::string& s,
                                                                          std::int64_t n,
                                                                          const std::string& m) {
    NUBEFACT_BLOCK(c->generar_reversion_retencion(s, n, m));
}
blocking_client::result_type blocking_client::consultar_reversion_retencion(const std::string& s,
                                                                            std::int64_t n) {
    NUBEFACT_BLOCK(c->consultar_reversion_retencion(s, n));
}
blocking_client::result_type blocking_client::generar_percepcion(const retencion_percepcion& d,
                                                                 const call_options& o) {
    NUBEFACT_BLOCK(c->generar_percepcion(d, o));
}
blocking_client::result_type blocking_client::consultar_percepcion(const std::string& s, std::int64_t n) {
    NUBEFACT_BLOCK(c->consultar_percepcion(s, n));
}
blocking_client::result_type blocking_client::generar_reversion_percepcion(const std::string& s,
                                                                           std::int64_t n,
                                                                           const std::string& m) {
    NUBEFACT_BLOCK(c->generar_reversion_percepcion(s, n, m));
}
blocking_client::result_type blocking_client::consultar_reversion_percepcion(const std::string& s,
                                                                             std::int64_t n) {
    NUBEFACT_BLOCK(c->consultar_reversion_percepcion(s, n));
}
blocking_client::result_type blocking_client::send(operation op, const document_key& k, std::string body) {
    NUBEFACT_BLOCK(c->send(op, k, std::move(body)));
}
#undef NUBEFACT_BLOCK

}  // namespace nubefact
