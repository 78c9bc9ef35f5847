// The delivery engine (include/nubefact/engine.hpp): prepare, deliver, follow, and the batch runner.
#include <nubefact/engine.hpp>

#include <nubefact/client_policy.hpp>
#include <nubefact/json.hpp>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>

namespace nubefact::engine {

namespace asio = boost::asio;

std::string_view to_string(line_outcome o) noexcept {
    switch (o) {
        case line_outcome::invalid:
            return "invalid";
        case line_outcome::not_sent:
            return "not_sent";
        case line_outcome::valid:
            return "valid";
    }
    return "?";
}

std::string_view outcome::state_name() const {
    return std::visit([](auto s) { return to_string(s); }, state);
}
bool outcome::is(doc_state s) const {
    return std::holds_alternative<doc_state>(state) && std::get<doc_state>(state) == s;
}
bool outcome::is(line_outcome o) const {
    return std::holds_alternative<line_outcome>(state) && std::get<line_outcome>(state) == o;
}
bool outcome::fine() const {
    return is(doc_state::accepted) || is(doc_state::pending_sunat) || is(line_outcome::valid);
}

std::string sunat_reason(const response& b) {
    std::string code = b.sunat_responsecode.value_or("");
    std::string text = b.sunat_description.value_or("");
    if (b.sunat_note && !b.sunat_note->empty()) text += (text.empty() ? "" : " — ") + *b.sunat_note;
    if (code.empty()) return text;
    return "SUNAT código " + code + (text.empty() ? "" : ": " + text);
}

bool second_phase(operation op) noexcept {
    return is_void_operation(op) || !is_generar(op);
}

// ---- prepare -------------------------------------------------------------------------------------

namespace {

document_key key_of(const consulta& d) {
    return {static_cast<int>(d.tipo_de_comprobante.value_or(0)), d.serie.value_or(""), d.numero.value_or(0)};
}
document_key key_of(const anulacion& d) {
    return {static_cast<int>(d.tipo_de_comprobante.value_or(0)), d.serie.value_or(""), d.numero.value_or(0)};
}
template <class T>
document_key key_of(const T& d) {
    return d.key();
}

outcome settled_at(const input& in) {
    outcome o;
    o.source = in.source;
    o.line = in.line;
    return o;
}

}  // namespace

std::variant<prepared, outcome> prepare(const input& in, const prepare_options& o) {
    outcome bad = settled_at(in);
    if (in.error) {
        bad.state = line_outcome::invalid;
        bad.error = in.error->message;
        bad.findings.push_back(*in.error);
        return bad;
    }
    json::read_options ro;
    ro.max_bytes = o.max_document_bytes;
    auto r = json::read_request(in.text, ro);
    bad.op = r.op;
    if (!r.op) {
        bad.state = line_outcome::invalid;
        if (!has_errors(r.findings))
            r.findings.insert(r.findings.begin(), finding{"operacion", "required", severity::error,
                                                          "operacion is missing or unknown", "", ""});
        bad.findings = std::move(r.findings);
        bad.error = bad.findings.front().message;
        return bad;
    }
    prepared p;
    p.source = in.source;
    p.line = in.line;
    p.op = *r.op;
    std::visit(
        [&](auto& doc) {
            if constexpr (std::is_same_v<std::decay_t<decltype(doc)>, comprobante>) {
                if (o.complete) fiscal::complete(doc);
            }
            p.key = key_of(doc);
        },
        r.doc);
    bad.key = p.key;
    if (!has_errors(r.findings)) {
        auto fs = fiscal::check(r.doc, o.check);
        r.findings.insert(r.findings.end(), std::make_move_iterator(fs.begin()),
                          std::make_move_iterator(fs.end()));
    }
    if (has_errors(r.findings)) {
        bad.state = line_outcome::invalid;
        std::erase_if(r.findings, [](const finding& f) { return f.level != severity::error; });
        bad.findings = std::move(r.findings);
        bad.error = fmt::format("{} problem{} found locally; nothing was sent", bad.findings.size(),
                                bad.findings.size() == 1 ? "" : "s");
        return bad;
    }
    p.warnings = std::move(r.findings);
    p.body = json::write(r.doc);
    return p;
}

// ---- deliver -------------------------------------------------------------------------------------

std::optional<hold_wait::duration> hold_wait::next(time_point now) {
    if (now - start_ >= patience_) return std::nullopt;
    auto d = std::min<duration>(step_, patience_ - (now - start_));
    step_ = std::min<duration>(step_ * 2, std::chrono::seconds(2));
    return d;
}

namespace {

// Sleeps `d` in slices of at most a quarter of a second, so that a stop is seen soon. False: stopped.
asio::awaitable<bool> sleep_unless_stopped(const clock_source& clk, std::chrono::steady_clock::duration d,
                                           const std::atomic<bool>* stop) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (auto until = clk.steady_now() + d; !(stop && stop->load()) && clk.steady_now() < until;) {
        timer.expires_after(std::min<std::chrono::steady_clock::duration>(until - clk.steady_now(),
                                                                          std::chrono::milliseconds(250)));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return !(stop && stop->load());
}

outcome started(const prepared& d) {
    outcome o;
    o.source = d.source;
    o.line = d.line;
    o.op = d.op;
    o.key = d.key;
    return o;
}

void settle(outcome& o, const client::result_type& r) {
    if (r) {
        o.state = r->state;
        o.attempts += r->attempts;
        o.recovered = r->recovered;
        o.resumed = r->resumed;
        o.body = r->body;
        o.error = r->state == doc_state::rejected ? sunat_reason(r->body) : std::string();
        return;
    }
    const auto& e = r.error();
    const bool never_sent = e.code == client_errc::payload_changed ||
                            e.code == client_errc::account_stopped || e.code == client_errc::cancelled;
    o.state = never_sent ? std::variant<doc_state, line_outcome>(line_outcome::not_sent)
                         : std::variant<doc_state, line_outcome>(e.state);
    o.attempts += e.attempts;
    o.codigo = e.codigo;
    o.code = e.code;
    if (e.codigo) o.nubefact_errors = e.message;
    o.error = never_sent && !e.message.empty() ? e.message : e.what();
    o.findings = e.findings;
}

}  // namespace

asio::awaitable<void> follow(client& api, outcome& o, std::chrono::steady_clock::time_point since,
                             std::chrono::seconds limit, const std::atomic<bool>* stop,
                             const std::function<void(const outcome&, std::chrono::milliseconds)>& notice) {
    if (!o.op || !o.key || !o.is(doc_state::pending_sunat)) co_return;
    const auto& clk = api.clock();
    sansio::follow_schedule schedule(since, limit);
    while (!(stop && stop->load())) {
        auto wait = schedule.next(clk.steady_now());
        if (!wait) break;
        if (notice) notice(o, std::chrono::duration_cast<std::chrono::milliseconds>(*wait));
        if (!co_await sleep_unless_stopped(clk, *wait, stop)) break;
        auto r = co_await api.refresh(*o.op, *o.key);
        ++o.attempts;
        if (r && r->state != doc_state::pending_sunat) {
            o.state = r->state;
            o.body = r->body;
            o.error = r->state == doc_state::rejected ? sunat_reason(r->body) : std::string();
            break;
        }
    }
}

asio::awaitable<outcome> deliver(client& api, prepared doc, deliver_options opts,
                                 const std::atomic<bool>* stop) {
    outcome o = started(doc);
    const auto& clk = api.clock();
    hold_wait held(clk.steady_now(), opts.hold_patience);
    for (;;) {
        // Each try sends a copy: a held document is asked about again with the same body.
        auto r = co_await api.send(doc.op, doc.key, doc.body);
        if (!r && r.error().code == client_errc::held_elsewhere) {
            auto wait = held.next(clk.steady_now());
            if (wait && co_await sleep_unless_stopped(clk, *wait, stop)) continue;
        }
        settle(o, r);
        break;
    }
    if (opts.follow.count() > 0)
        co_await follow(api, o, clk.steady_now(), opts.follow, stop, opts.on_follow_wait);
    co_return o;
}

asio::awaitable<outcome> consult(client& api, operation generar, document_key key, deliver_options opts,
                                 const std::atomic<bool>* stop) {
    outcome o;
    o.op = generar;
    o.key = key;
    const auto since = api.clock().steady_now();
    auto r = co_await api.refresh(generar, std::move(key));
    settle(o, r);
    if (opts.follow.count() > 0) co_await follow(api, o, since, opts.follow, stop, opts.on_follow_wait);
    co_return o;
}

// ---- batch ---------------------------------------------------------------------------------------

namespace {
using job_ptr = std::shared_ptr<prepared>;
using channel = asio::experimental::concurrent_channel<void(boost::system::error_code, job_ptr)>;

outcome interrupted(const prepared& d) {
    outcome o = started(d);
    o.state = line_outcome::not_sent;
    o.error = "not sent: interrupted";
    return o;
}
}  // namespace

struct batch::impl {
    client* api;
    asio::io_context* ioc;
    batch_options o;
    std::function<void(const outcome&)> report;
    std::atomic<bool>* stopping;
    std::mutex report_m;  // the reader thread and the io thread both report

    batch_numbers numbers;
    std::vector<std::string> sources;  // the input names, for duplicate lines' messages
    std::vector<job_ptr> later;        // second_phase(): after the rest
    std::vector<outcome> pending;      // pending_sunat: followed at the end
    std::mutex later_m;

    void emit(const outcome& x) {
        std::lock_guard lock(report_m);
        report(x);
    }

    std::uint32_t source_index(const std::string& name) {
        if (sources.empty() || sources.back() != name) sources.push_back(name);
        return static_cast<std::uint32_t>(sources.size() - 1);
    }

    // Prepares one input and checks its number against the batch: the document to deliver, or none
    // (its outcome already reported).
    job_ptr admit(const input& in) {
        auto p = prepare(in, o.prepare);
        if (auto* bad = std::get_if<outcome>(&p)) {
            emit(*bad);
            return nullptr;
        }
        auto& d = std::get<prepared>(p);
        if (auto first = numbers.add(d.op, d.key, {source_index(d.source), d.line})) {
            outcome dup = started(d);
            dup.state = line_outcome::not_sent;
            dup.error = fmt::format("not sent: {} is a duplicate line of the batch (first at {}:{})",
                                    d.key.to_string(), sources[first->source], first->line);
            emit(dup);
            return nullptr;
        }
        if (o.dry_run) {
            outcome ok = started(d);
            ok.state = line_outcome::valid;
            ok.findings = std::move(d.warnings);  // warnings only
            emit(ok);
            return nullptr;
        }
        return std::make_shared<prepared>(std::move(d));
    }

    // Tells every worker there is no more work: one empty job each, queued behind the real ones
    // (closing the channel instead would drop what is still buffered).
    void end_of_work(channel& ch) {
        for (int i = 0; i < o.workers; ++i) {
            try {
                ch.async_send(boost::system::error_code{}, nullptr, asio::use_future).get();
            } catch (const std::exception&) {
                return;  // cancelled: the workers are gone already
            }
        }
    }

    asio::awaitable<void> worker(channel& ch) {
        deliver_options d = o.deliver;
        d.follow = std::chrono::seconds(0);  // pending ones are followed together at the end
        for (;;) {
            auto [ec, j] = co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
            if (ec || !j) co_return;
            if (stopping->load()) {
                // Read before the stop and not sent: it stays unsent (the next run sends or resumes it).
                emit(interrupted(*j));
                continue;
            }
            auto x = co_await deliver(*api, std::move(*j), d, stopping);
            if (x.is(doc_state::pending_sunat) && o.deliver.follow.count() > 0) {
                pending.push_back(std::move(x));  // the io thread only: no lock
                continue;
            }
            emit(x);
        }
    }

    void run_phase(const std::function<void(channel&)>& feed) {
        channel ch(*ioc, static_cast<std::size_t>(std::max(1, o.workers)) * 2);
        int live = o.workers;
        for (int i = 0; i < o.workers; ++i) {
            auto w = [this, &ch, &live]() -> asio::awaitable<void> {
                co_await worker(ch);
                if (--live == 0) ioc->stop();
            };
            asio::co_spawn(*ioc, w, asio::detached);
        }
        std::exception_ptr failed;
        std::thread feeder([&] {
            try {
                feed(ch);
            } catch (...) {
                failed = std::current_exception();
            }
            end_of_work(ch);
        });
        ioc->restart();
        ioc->run();
        feeder.join();
        if (failed) std::rethrow_exception(failed);
    }

    void follow_pending() {
        if (pending.empty()) return;
        if (o.on_follow) o.on_follow(pending.size());
        const auto since = api->clock().steady_now();
        std::size_t left = pending.size();
        for (auto& p : pending) {
            auto f = [this, &p, &left, since]() -> asio::awaitable<void> {
                co_await follow(*api, p, since, o.deliver.follow, stopping);
                emit(p);
                if (--left == 0) ioc->stop();
            };
            asio::co_spawn(*ioc, f, asio::detached);
        }
        ioc->restart();
        ioc->run();
        pending.clear();
    }
};

batch::batch(client* api, asio::io_context* ioc, batch_options o, std::function<void(const outcome&)> report)
    : impl_(std::make_unique<impl>()) {
    if (!o.dry_run && (!api || !ioc))
        throw std::invalid_argument("engine::batch: a client and its io_context");
    impl_->api = api;
    impl_->ioc = ioc;
    impl_->o = std::move(o);
    impl_->o.workers = std::max(1, impl_->o.workers);
    impl_->report = std::move(report);
    impl_->stopping = &stopping_;
}

batch::~batch() = default;

void batch::request_stop() {
    stopping_.store(true);
}

void batch::stop_sending() {
    stopping_.store(true);
    if (impl_->api) impl_->api->stop_sending();
}

void batch::run(const std::function<std::optional<input>()>& next) {
    auto& m = *impl_;
    if (m.o.dry_run) {
        while (!stopping_.load()) {
            auto in = next();
            if (!in) break;
            m.admit(*in);
        }
        return;
    }
    m.run_phase([&](channel& ch) {
        while (!stopping_.load()) {
            auto in = next();
            if (!in) break;
            auto j = m.admit(*in);
            if (!j) continue;
            if (second_phase(j->op)) {
                std::lock_guard lock(m.later_m);
                m.later.push_back(std::move(j));
                continue;
            }
            try {
                ch.async_send(boost::system::error_code{}, std::move(j), asio::use_future).get();
            } catch (const std::exception&) {
                break;  // channel closed: interrupted
            }
        }
    });
    if (!m.later.empty() && !stopping_.load()) {
        m.run_phase([&](channel& ch) {
            std::size_t i = 0;
            for (; i < m.later.size() && !stopping_.load(); ++i) {
                try {
                    ch.async_send(boost::system::error_code{}, m.later[i], asio::use_future).get();
                } catch (const std::exception&) {
                    break;
                }
            }
            for (; i < m.later.size(); ++i) m.emit(interrupted(*m.later[i]));
        });
    } else {
        for (auto& p : m.later) m.emit(interrupted(*p));
    }
    m.later.clear();
    m.follow_pending();
}

}  // namespace nubefact::engine
