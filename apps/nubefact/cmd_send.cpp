// `nubefact send`: streams documents from files, validates them, sends them concurrently through the
// client (journaled, rate-limited, reconciled) and reports progress, a summary and a results file.
#include "command.hpp"
#include "input.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "session.hpp"

#include <nubefact/batch.hpp>
#include <nubefact/client_policy.hpp>
#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <unistd.h>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

namespace nubefact::cli {
namespace {

namespace asio = boost::asio;

struct send_options {
    std::vector<std::string> paths;
    session_options session;
    bool complete = false;
    bool dry_run = false;
    std::string results;
    bool json_summary = false;
    bool no_progress = false;
    bool lenient = false;
    int follow_seconds = 60;  // --follow: how long to wait for SUNAT's pending answers
    bool check_date = false;  // --check-date: fecha_de_emision against today in Lima
    std::string today;        // --today DD-MM-YYYY: against this day instead
    int max_age_days = 7;
    std::string tolerance = "0";
    std::size_t max_document_bytes = 1 << 20;
};

// One document ready to go (or already settled locally).
struct job {
    std::string source;
    std::size_t line = 0;
    operation op = operation::generar_comprobante;
    document_key key;
    std::string body;
};

// The per-document outcome, one line of the results file.
struct outcome {
    std::string source;
    std::size_t line = 0;
    std::optional<operation> op;
    std::optional<document_key> key;
    std::variant<doc_state, line_outcome> state = line_outcome::not_sent;
    bool resumed = false;  // final in the store from an earlier run: not sent again
    int attempts = 0;
    bool recovered = false;
    std::optional<int> codigo;
    const response* body = nullptr;
    std::string error;
    std::vector<finding> findings;

    std::string_view state_name() const {
        return std::visit([](auto s) { return to_string(s); }, state);
    }
    bool is(doc_state s) const {
        return std::holds_alternative<doc_state>(state) && std::get<doc_state>(state) == s;
    }
};

std::string key_text(const document_key& k) {
    return k.to_string();
}

// SUNAT's verdict in one line: "código 2017: El numero de RUC del receptor no existe" (empty when
// the answer carries none).
std::string sunat_reason(const response& b) {
    std::string code = b.sunat_responsecode.value_or("");
    std::string text = b.sunat_description.value_or("");
    if (b.sunat_note && !b.sunat_note->empty()) text += (text.empty() ? "" : " — ") + *b.sunat_note;
    if (code.empty()) return text;
    return "SUNAT código " + code + (text.empty() ? "" : ": " + text);
}

// Writes results lines and keeps the counts; names the first problem documents on stderr (with or
// without a results file, the user learns which file:line went wrong). Thread-safe.
class results_sink {
  public:
    results_sink(batch_counters& c, atomic_file* f, bool tty) : c_(c), f_(f), tty_(tty) {}

    void add(const outcome& o) {
        std::visit([&](auto st) { c_.add(st); }, o.state);
        if (o.resumed) ++c_.resumed;
        ++c_.done;
        const bool fine = o.is(doc_state::accepted) || o.is(doc_state::pending_sunat) ||
                          (std::holds_alternative<line_outcome>(o.state) &&
                           std::get<line_outcome>(o.state) == line_outcome::valid);
        if (!fine) report(o);
        if (!f_) return;
        boost::json::object line;
        line["source"] = o.source;
        line["line"] = o.line;
        if (o.op) line["operacion"] = std::string(to_string(*o.op));
        if (o.key) {
            line["tipo_de_comprobante"] = o.key->tipo;
            line["serie"] = o.key->serie;
            line["numero"] = o.key->numero;
            line["document"] = key_text(*o.key);
        }
        line["state"] = o.state_name();
        if (o.resumed) line["resumed"] = true;
        if (o.attempts) line["attempts"] = o.attempts;
        if (o.recovered) line["recovered"] = true;
        if (o.codigo) line["codigo"] = *o.codigo;
        if (o.body) {
            const auto& b = *o.body;
            if (b.aceptada_por_sunat) line["aceptada_por_sunat"] = *b.aceptada_por_sunat;
            for_each_answer_field(b, [&](const char* k, const opt_str& v) {
                if (v) line[k] = *v;
            });
        }
        if (!o.error.empty()) line["error"] = o.error;
        if (!o.findings.empty()) {
            boost::json::array fs;
            for (const auto& f : o.findings) {
                boost::json::object fo{{"path", f.path},
                                       {"code", f.code},
                                       {"severity", f.level == severity::error ? "error" : "warning"},
                                       {"message", f.message}};
                if (!f.expected.empty()) fo["expected"] = f.expected;
                if (!f.actual.empty()) fo["actual"] = f.actual;
                fs.push_back(std::move(fo));
            }
            line["findings"] = std::move(fs);
        }
        std::string text = to_json(line);
        text.push_back('\n');
        f_->write(text);  // thread-safe; a failure is kept for the end
    }

  private:
    static constexpr std::size_t max_reported = 20;

    // "ventas.jsonl:37 F001-37 invalid: items[0].igv: …" for the first max_reported problems.
    void report(const outcome& o) {
        std::string what = o.error;
        if (what.rfind("not sent: ", 0) == 0) what.erase(0, 10);  // the state already says it
        if (!o.findings.empty()) {
            const auto& f = o.findings.front();
            what = f.path.empty() ? f.message : f.path + ": " + f.message;
            if (!f.expected.empty()) what += " (expected " + f.expected + ")";
            if (o.findings.size() > 1) what += fmt::format(" (+{} more)", o.findings.size() - 1);
        } else if (what.empty() && o.body) {
            what = sunat_reason(*o.body);
        }
        std::string text = fmt::format("{}{}:{}{}{} {}: {}\n", tty_ ? "\r\x1b[2K" : "", o.source, o.line,
                                       o.key ? " " : "", o.key ? key_text(*o.key) : "", o.state_name(), what);
        std::lock_guard lock(m_);
        if (reported_ == max_reported)
            text = fmt::format("{}… more problems not shown here{}\n", tty_ ? "\r\x1b[2K" : "",
                               f_ ? "; see the results file" : "; use --results FILE to see them all");
        if (reported_++ <= max_reported) std::fputs(text.c_str(), stderr);
    }

    batch_counters& c_;
    atomic_file* f_;
    bool tty_;
    std::size_t reported_ = 0;
    std::mutex m_;
};

// Whether an operation waits for the first phase (it refers to documents of the same batch).
bool second_phase(operation op) {
    return is_void_operation(op) || !is_generar(op);
}

// Parses, completes and checks one input document. Returns the job, or fills `bad` when the
// document is settled locally (invalid, or valid in a dry run).
std::optional<job> prepare(const source_document& d, const send_options& o, const fiscal::check_options& co,
                           outcome& bad) {
    bad.source = d.source;
    bad.line = d.line;
    if (d.error) {
        bad.state = line_outcome::invalid;
        bad.error = d.error->message;
        bad.findings.push_back(*d.error);
        return std::nullopt;
    }
    json::read_options ro;
    ro.max_bytes = o.max_document_bytes;
    auto r = json::read_request(d.text, ro);
    bad.op = r.op;
    if (!r.op) {
        bad.state = line_outcome::invalid;
        if (!has_errors(r.findings))
            r.findings.insert(r.findings.begin(), finding{"operacion", "required", severity::error,
                                                          "operacion is missing or unknown", "", ""});
        bad.findings = std::move(r.findings);
        bad.error = bad.findings.front().message;
        return std::nullopt;
    }
    job j;
    j.source = d.source;
    j.line = d.line;
    j.op = *r.op;
    std::visit(
        [&](auto& doc) {
            using T = std::decay_t<decltype(doc)>;
            if constexpr (std::is_same_v<T, comprobante>) {
                if (o.complete) fiscal::complete(doc);
                j.key = doc.key();
            } else if constexpr (std::is_same_v<T, consulta>) {
                j.key = document_key{static_cast<int>(doc.tipo_de_comprobante.value_or(0)),
                                     doc.serie.value_or(""), doc.numero.value_or(0)};
            } else if constexpr (std::is_same_v<T, anulacion>) {
                j.key = document_key{static_cast<int>(doc.tipo_de_comprobante.value_or(0)),
                                     doc.serie.value_or(""), doc.numero.value_or(0)};
            } else {
                j.key = doc.key();
            }
        },
        r.doc);
    bad.key = j.key;
    if (!has_errors(r.findings)) {
        auto fs = fiscal::check(r.doc, co);
        r.findings.insert(r.findings.end(), std::make_move_iterator(fs.begin()),
                          std::make_move_iterator(fs.end()));
    }
    if (has_errors(r.findings)) {
        bad.state = line_outcome::invalid;
        std::erase_if(r.findings, [](const finding& f) { return f.level != severity::error; });
        bad.findings = std::move(r.findings);
        bad.error = fmt::format("{} problem{} found locally; nothing was sent", bad.findings.size(),
                                bad.findings.size() == 1 ? "" : "s");
        return std::nullopt;
    }
    if (o.dry_run) {
        bad.state = line_outcome::valid;
        bad.findings = std::move(r.findings);  // warnings only
        return std::nullopt;
    }
    j.body = json::write(r.doc);
    return j;
}

using channel = asio::experimental::concurrent_channel<void(boost::system::error_code, std::shared_ptr<job>)>;

// Tells every worker there is no more work: one empty job each, queued behind the real ones
// (closing the channel instead would drop what is still buffered).
void end_of_work(channel& ch, int workers) {
    for (int i = 0; i < workers; ++i) {
        try {
            ch.async_send(boost::system::error_code{}, nullptr, asio::use_future).get();
        } catch (const std::exception&) {
            return;  // cancelled: the workers are gone already
        }
    }
}

// Looks the document up in the journal: already settled documents are not sent again.
asio::awaitable<std::optional<intent_record>> journaled(client& api, const job& j) {
    auto journal = api.journal();
    auto ex = co_await asio::this_coro::executor;
    auto res = co_await asio::async_initiate<decltype(asio::use_awaitable),
                                             void(result<std::optional<intent_record>>)>(
        [&](auto handler) {
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            journal->find(api.config().name, j.op, j.key, [h, ex](result<std::optional<intent_record>> r) {
                asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
            });
        },
        asio::use_awaitable);
    if (!res || !*res) co_return std::nullopt;
    co_return std::move(**res);
}

// What a document that was read but not sent says when the batch is interrupted.
outcome interrupted(const job& j) {
    outcome o;
    o.source = j.source;
    o.line = j.line;
    o.op = j.op;
    o.key = j.key;
    o.state = line_outcome::not_sent;
    o.error = "not sent: interrupted";
    return o;
}

// A document Nubefact has whose SUNAT answer is pending: followed after the batch (--follow).
struct pending_doc {
    outcome o;
    response body;
};

asio::awaitable<void> worker(client& api, channel& ch, results_sink& sink, const std::atomic<bool>& stopping,
                             std::vector<pending_doc>* pending) {
    for (;;) {
        auto [ec, j] = co_await ch.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec || !j) co_return;
        outcome o;
        o.source = j->source;
        o.line = j->line;
        o.op = j->op;
        o.key = j->key;
        if (is_generar(j->op)) {
            if (auto rec = co_await journaled(api, *j);
                rec && rec->what.payload_hash == payload_hash(j->body) && is_final(rec->state)) {
                o.state = rec->state;
                o.resumed = true;
                o.codigo = rec->codigo;
                if (rec->state == doc_state::rejected && !rec->sunat_responsecode.empty())
                    o.error =
                        fmt::format("SUNAT código {}: {}", rec->sunat_responsecode, rec->sunat_description);
                sink.add(o);
                continue;
            }
        }
        if (stopping.load()) {  // read before the interruption, never journaled: not sent
            sink.add(interrupted(*j));
            continue;
        }
        auto r = co_await api.send(j->op, j->key, std::move(j->body));
        if (r) {
            o.state = r->state;
            o.attempts = r->attempts;
            o.recovered = r->recovered;
            o.body = &r->body;
            if (r->state == doc_state::rejected) o.error = sunat_reason(r->body);
            if (r->state == doc_state::pending_sunat && pending) {  // its line comes once followed
                o.body = nullptr;
                pending->push_back({std::move(o), std::move(r->body)});
                continue;
            }
            sink.add(o);
        } else {
            const auto& e = r.error();
            o.state = e.code == client_errc::payload_changed || e.code == client_errc::account_stopped ||
                              e.code == client_errc::cancelled
                          ? std::variant<doc_state, line_outcome>(line_outcome::not_sent)
                          : std::variant<doc_state, line_outcome>(e.state);
            o.attempts = e.attempts;
            o.codigo = e.codigo;
            o.error =
                std::holds_alternative<line_outcome>(o.state) && !e.message.empty() ? e.message : e.what();
            o.findings = e.findings;
            sink.add(o);
        }
    }
}

// Consults each pending document on the follow schedule until SUNAT's answer is final or the time
// is up (Ctrl-C ends the wait: the document stays pending_sunat); then writes its line.
void follow_pending(asio::io_context& ioc, client& api, std::vector<pending_doc>& pending, results_sink& sink,
                    const std::atomic<bool>& stopping, std::chrono::seconds limit) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t left = pending.size();  // the signal handler keeps `ioc` busy: stop it when all are done
    for (auto& p : pending) {
        auto follow = [&]() -> asio::awaitable<void> {
            sansio::follow_schedule schedule(start, limit);
            asio::steady_timer timer(co_await asio::this_coro::executor);
            while (!stopping.load()) {
                auto wait = schedule.next(std::chrono::steady_clock::now());
                if (!wait) break;
                // In slices, so that Ctrl-C is seen within a quarter of a second.
                for (auto until = std::chrono::steady_clock::now() + *wait;
                     !stopping.load() && std::chrono::steady_clock::now() < until;) {
                    timer.expires_after(std::min<std::chrono::steady_clock::duration>(
                        until - std::chrono::steady_clock::now(), std::chrono::milliseconds(250)));
                    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
                }
                if (stopping.load()) break;
                auto task = api.refresh(*p.o.op, *p.o.key);
                auto r = co_await std::move(task);
                ++p.o.attempts;
                if (r && r->state != doc_state::pending_sunat) {
                    p.body = std::move(r->body);
                    p.o.state = r->state;
                    if (r->state == doc_state::rejected) p.o.error = sunat_reason(p.body);
                    break;
                }
            }
            p.o.body = &p.body;
            sink.add(p.o);
            if (--left == 0) ioc.stop();
        };
        asio::co_spawn(ioc, follow, asio::detached);
    }
    ioc.restart();
    ioc.run();
}

int run_send(send_options o) {
    const bool tty = ::isatty(STDERR_FILENO) && !o.no_progress;
    fiscal::check_options co;
    co.lenient = o.lenient;
    if (auto t = decimal::parse(o.tolerance); t)
        co.tolerance = *t;
    else {
        std::fprintf(stderr, "nubefact send: --tolerance: not a decimal number: %s\n", o.tolerance.c_str());
        return exit_usage;
    }
    co.max_age_days = o.max_age_days;
    if (!o.today.empty()) {
        auto d = date::parse(o.today);
        if (!d) {
            std::fprintf(stderr, "nubefact send: --today: expected a date DD-MM-YYYY, got '%s'\n",
                         o.today.c_str());
            return exit_usage;
        }
        co.today = *d;
    } else if (o.check_date) {
        co.today = lima_today();
    }

    // The results file replaces its target whole at the end (never one of the inputs).
    std::optional<atomic_file> results;
    if (!o.results.empty()) {
        if (auto clash = output_is_input(o.results, o.paths)) {
            std::fprintf(stderr, "nubefact send: --results %s is also an input (%s): nothing was done\n",
                         o.results.c_str(), clash->c_str());
            return exit_usage;
        }
        results.emplace(o.results);
        if (!results->ok()) {
            std::fprintf(stderr, "nubefact send: cannot write the results: %s\n", results->error().c_str());
            return exit_usage;
        }
    }

    std::unique_ptr<session> s;
    if (!o.dry_run) {
        std::string err;
        s = session::open(o.session, err);
        if (!s) {
            std::fprintf(stderr, "nubefact send: %s\n", err.c_str());
            return exit_usage;
        }
    }

    batch_counters counters;
    results_sink sink(counters, results ? &*results : nullptr, tty);
    progress_reporter progress(counters, stderr, tty);
    if (!o.no_progress && (!o.json_summary || tty)) progress.start();
    const auto t0 = std::chrono::steady_clock::now();

    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> unreadable{0};
    int workers = 1;
    std::vector<std::shared_ptr<job>> later;  // anulaciones, reversiones, consultas: after the rest
    std::vector<pending_doc> pending;         // SUNAT's answer pending: followed at the end
    std::mutex later_m;

    // Reads, validates and hands documents to the senders; runs on its own thread so the network
    // thread never waits on a disk or on parsing.
    batch_numbers numbers;
    std::vector<std::string> sources;  // the input names, for duplicate lines' messages
    auto source_index = [&](const std::string& name) {
        if (sources.empty() || sources.back() != name) sources.push_back(name);
        return static_cast<std::uint32_t>(sources.size() - 1);
    };
    auto produce = [&](channel* ch) {
        input_stream in(o.paths, o.max_document_bytes);
        while (!stopping.load()) {
            auto d = in.next();
            if (!d) break;
            if (d->input_error()) {  // a missing file, an empty input: not a document
                ++unreadable;
                std::fprintf(stderr, "%snubefact send: %s: %s%s\n", tty ? "\r\x1b[2K" : "", d->source.c_str(),
                             d->error->message.c_str(),
                             date::parse(d->source) ? " (a date: did you mean --today DD-MM-YYYY?)" : "");
                continue;
            }
            ++counters.total;
            outcome bad;
            auto j = prepare(*d, o, co, bad);
            if (!j) {
                sink.add(bad);
                continue;
            }
            if (auto first = numbers.add(j->op, j->key, {source_index(j->source), j->line})) {
                bad.state = line_outcome::not_sent;
                bad.error = fmt::format("not sent: {} is a duplicate line of the batch (first at {}:{})",
                                        key_text(j->key), sources[first->source], first->line);
                sink.add(bad);
                continue;
            }
            auto p = std::make_shared<job>(std::move(*j));
            if (second_phase(p->op)) {
                std::lock_guard lock(later_m);
                later.push_back(std::move(p));
                continue;
            }
            try {
                ch->async_send(boost::system::error_code{}, std::move(p), asio::use_future).get();
            } catch (const std::exception&) {
                break;  // channel closed: interrupted
            }
        }
        counters.total_final = !stopping.load();
        if (ch) end_of_work(*ch, workers);
    };

    if (o.dry_run) {
        produce(nullptr);
    } else {
        auto& ioc = s->io();
        auto& api = s->api();
        // n documents in flight (the client's slots) and `ahead` more journaled, waiting for one
        // (none by default without a store: an in-memory journal has no commits to share).
        const int n = std::max(1, s->concurrency());
        const int requested = o.session.no_store && o.session.ahead < 0 ? 0 : o.session.ahead;
        const int ahead = resolve_ahead(requested, n);
        const int fitted = fit_ahead_to_rate(ahead, n, s->account());
        if (fitted < ahead && o.session.ahead > 0)
            std::fprintf(stderr,
                         "nubefact send: --ahead %d lowered to %d: at %.3g requests/s a document journaled "
                         "ahead would wait too long of its total_timeout for its turn\n",
                         ahead, fitted, s->account().rate.requests_per_second);
        workers = n + fitted;
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                            int) {
            if (ec) return;
            if (!stopping.exchange(true)) {
                std::fprintf(stderr,
                             "\nnubefact send: stopping: no new documents; the ones already journaled finish "
                             "or are reconciled. Ctrl-C again to stop sending at once.\n");
                signals.async_wait(on_signal);
            } else {
                api.stop_sending();
                std::fprintf(stderr,
                             "\nnubefact send: nothing more is sent; exchanges in flight finish. Ctrl-C "
                             "again ends the process (every document is journaled: the next run "
                             "reconciles).\n");
                boost::system::error_code ignored;
                signals.clear(ignored);  // the default action again: a third Ctrl-C ends the process
            }
        };
        signals.async_wait(on_signal);

        auto run_phase = [&](auto&& feed) {
            channel ch(ioc, static_cast<std::size_t>(n) * 2);
            std::atomic<int> live{workers};
            for (int i = 0; i < workers; ++i) {
                auto w = [&]() -> asio::awaitable<void> {
                    co_await worker(api, ch, sink, stopping, o.follow_seconds > 0 ? &pending : nullptr);
                    if (--live == 0) ioc.stop();
                };
                asio::co_spawn(ioc, w, asio::detached);
            }
            std::thread producer([&] { feed(&ch); });
            ioc.restart();
            ioc.run();
            producer.join();
        };
        run_phase(produce);
        if (!later.empty() && !stopping.load()) {
            run_phase([&](channel* ch) {
                std::size_t i = 0;
                for (; i < later.size() && !stopping.load(); ++i) {
                    try {
                        ch->async_send(boost::system::error_code{}, later[i], asio::use_future).get();
                    } catch (const std::exception&) {
                        break;
                    }
                }
                for (; i < later.size(); ++i) sink.add(interrupted(*later[i]));
                end_of_work(*ch, workers);
            });
        } else {
            for (auto& p : later) sink.add(interrupted(*p));
        }
        if (!pending.empty()) {
            std::fprintf(stderr,
                         "%snubefact send: waiting for SUNAT's answer to %zu document%s (up to %d s; "
                         "--follow 0 does not wait)…\n",
                         tty ? "\r\x1b[2K" : "", pending.size(), pending.size() == 1 ? "" : "s",
                         o.follow_seconds);
            follow_pending(ioc, api, pending, sink, stopping, std::chrono::seconds(o.follow_seconds));
        }
        signals.cancel();
        s->close();
    }
    progress.stop();

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto total = counters.done.load();
    const double per_s = secs > 0 ? static_cast<double>(total) / secs : 0.0;
    const bool results_ok = !results || results->commit();
    if (!results_ok)
        std::fprintf(stderr,
                     "nubefact send: the results file was not written (%s); the target is as it was\n",
                     results->error().c_str());

    // The states and line outcomes in summary order; "what to do" for each one that occurred.
    struct row {
        std::string_view name;
        std::size_t n;
        std::string_view hint;
    };
    std::vector<row> rows;
    for (auto st : report_order) rows.push_back({to_string(st), counters.count(st), advice(st)});
    rows.push_back({to_string(line_outcome::invalid), counters.count(line_outcome::invalid),
                    "local findings, nothing was sent: fix them (see the findings) and run again"});
    rows.push_back({to_string(line_outcome::not_sent), counters.count(line_outcome::not_sent),
                    "not sent (interrupted, account stopped, duplicate line or changed content): see above"});
    if (o.dry_run)  // first: what a dry run is about
        rows.insert(rows.begin(),
                    {to_string(line_outcome::valid), counters.count(line_outcome::valid), "would be sent"});
    if (unreadable.load() && total == 0) return exit_usage;  // nothing was read: the errors said why
    if (o.json_summary) {
        std::string j = "{\"documents\":" + std::to_string(total);
        for (const auto& r : rows) {
            j += ',';
            json::append_string(j, r.name);
            j += ':' + std::to_string(r.n);
        }
        j += fmt::format(",\"resumed\":{},\"seconds\":{:.3f},\"docs_per_s\":{:.1f},\"interrupted\":{}",
                         counters.resumed.load(), secs, per_s, stopping.load() ? "true" : "false");
        if (o.dry_run) j += ",\"dry_run\":true";
        if (!o.results.empty()) {
            j += ",\"results\":";
            json::append_string(j, o.results);
        }
        if (s && s->db()) {
            j += ",\"store\":";
            json::append_string(j, s->store_url());
        }
        std::printf("%s}\n", j.c_str());
    } else {
        std::printf("\n%-14s %9s\n", o.dry_run ? "dry run" : "summary", "documents");
        std::string brief;
        for (const auto& r : rows) {
            if (r.n == 0 && r.name != (o.dry_run ? "valid" : "accepted")) continue;
            if (r.name == "accepted" && o.dry_run) continue;
            std::printf("%-14s %9zu%s%s\n", std::string(r.name).c_str(), r.n,
                        r.n && r.name != "accepted" ? "   " : "",
                        r.n && r.name != "accepted" ? std::string(r.hint).c_str() : "");
            brief += fmt::format("{}{} {}", brief.empty() ? "" : ", ", r.n, r.name);
        }
        if (auto n = counters.resumed.load())
            std::printf("%-14s %9zu   already final in the store (an earlier run): not sent again\n",
                        "(resumed)", n);
        std::printf("%-14s %9zu   in %.2f s (%.0f documents/s)\n", "total", total, secs, per_s);
        if (!o.results.empty() && results_ok)
            std::printf("results:   %s (one JSON line per document)\n", o.results.c_str());
        if (s && s->db())
            std::printf("audit log: %s  (nubefact log --store %s)\n", s->store_url().c_str(),
                        s->store_url().c_str());
        if (stopping.load())
            std::printf(
                "interrupted: run the same command again to resume; accepted documents are skipped, "
                "uncertain ones are reconciled with Nubefact before any resend.\n");
        std::printf("%zu document%s: %s\n", total, total == 1 ? "" : "s", brief.c_str());
    }
    std::fflush(stdout);
    if (unreadable.load() || !results_ok) return exit_usage;
    // Success: every document accepted (or with SUNAT's answer pending), or valid in a dry run. An
    // interrupted batch is not done (documents were never read): never report success for it.
    const std::size_t fine = counters.count(doc_state::accepted) + counters.count(doc_state::pending_sunat) +
                             counters.count(line_outcome::valid);
    return (fine != total || stopping.load()) ? exit_failed : exit_ok;
}

registrar reg{
    {"send", "Send documents to Nubefact: concurrent, rate-limited, journaled (resumable), with progress",
     [](CLI::App& app) -> std::function<int()> {
         auto o = std::make_shared<send_options>();
         app.footer(
             "Inputs: a JSON object, a JSON array, JSONL (one document per line), a directory of "
             ".json/.jsonl/.csv files, CSV (one row per item, see docs/send.md) or - for stdin.\n"
             "Each document's `operacion` decides what it is (generar_comprobante, generar_guia, "
             "generar_anulacion, …);\nanulaciones and consultas are sent after the other documents "
             "of the batch.\n\n"
             "Every document is checked locally first (nubefact validate); invalid ones are not "
             "sent and their\nfindings go to the results file. The intent is journaled in the store "
             "before sending, so a rerun\nskips accepted documents and reconciles uncertain ones "
             "instead of duplicating them.\n\n"
             "Examples:\n"
             "  nubefact send examples/ --emulator            # try it, no account needed\n"
             "  nubefact send ventas.jsonl --account acme --results out.jsonl\n"
             "  NUBEFACT_RUTA=https://api.nubefact.com/api/v1/ID NUBEFACT_TOKEN=… nubefact send "
             "f.json\n\n"
             "Exit codes: 0 all accepted (or valid with --dry-run), 1 some invalid, rejected or "
             "failed, 2 usage or unreadable input.");
         app.add_option("paths", o->paths, "Files, directories or - (stdin)")->required();
         o->session.add_to(app);
         o->session.ahead = -1;
         app.add_option("--ahead", o->session.ahead, ahead_help)->check(CLI::Range(0, 100000));
         app.add_flag("--complete", o->complete,
                      "Fill the computed fields (subtotal, igv, totals) before checking");
         app.add_flag("--dry-run", o->dry_run, "Validate only; nothing is sent, no account needed");
         app.add_option("--results", o->results,
                        "Write one JSON line per document: key, final state, codigo/SUNAT fields, "
                        "links, attempts, error, findings");
         app.add_flag("--json", o->json_summary, "Print the summary as one JSON object on stdout");
         app.add_flag("--no-progress", o->no_progress,
                      "No live progress bar (off a terminal a plain line is printed every 5 s)");
         app.add_flag("--lenient", o->lenient,
                      "Arithmetic mismatches are warnings (like Nubefact's demo), not errors");
         app.add_option("--tolerance", o->tolerance,
                        "Allowed difference on computed amounts (default 0: exact)");
         app.add_option("--follow", o->follow_seconds,
                        "Seconds to keep consulting documents whose SUNAT answer is pending (boletas, "
                        "guías, anulación tickets) before reporting them pending_sunat (default 60; 0: "
                        "do not wait)")
             ->check(CLI::Range(0, 86400));
         app.add_flag("--check-date", o->check_date,
                      "Check fecha_de_emision against today's date in Lima (as validate --check-date)");
         app.add_option("--today", o->today, "Check fecha_de_emision against this date (DD-MM-YYYY)");
         app.add_option("--max-age-days", o->max_age_days,
                        "With --check-date/--today: oldest accepted fecha_de_emision, in days (default 7)")
             ->check(CLI::Range(0, 3650));
         return [o] { return run_send(*o); };
     },
     30}};

}  // namespace
}  // namespace nubefact::cli
