// `nubefact send`: streams documents from files, validates them, sends them concurrently through the
// client (journaled, rate-limited, reconciled) and reports progress, a summary and a results file.
#include "command.hpp"
#include "input.hpp"
#include "progress.hpp"
#include "session.hpp"

#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/signal_set.hpp>
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
    std::string today;  // --check-date: DD-MM-YYYY or "today"
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
    std::string state;  // accepted | rejected | failed | unknown | invalid | skipped | valid
    int attempts = 0;
    bool recovered = false;
    std::optional<int> codigo;
    const response* body = nullptr;
    std::string error;
    std::vector<finding> findings;
};

std::string key_text(const document_key& k) {
    return k.to_string();
}

// Writes results lines and keeps the counts; names the first problem documents on stderr (with or
// without a results file, the user learns which file:line went wrong). Thread-safe.
class results_sink {
  public:
    results_sink(batch_counters& c, std::FILE* f, bool tty) : c_(c), f_(f), tty_(tty) {}

    void add(const outcome& o) {
        if (o.state == "accepted")
            ++c_.accepted;
        else if (o.state == "skipped")
            ++c_.skipped;
        else if (o.state == "rejected")
            ++c_.rejected;
        else if (o.state == "invalid")
            ++c_.invalid;
        else if (o.state == "valid")
            ;
        else
            ++c_.failed;
        ++c_.done;
        if (o.state != "accepted" && o.state != "skipped" && o.state != "valid") report(o);
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
        line["state"] = o.state;
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
        std::string text = boost::json::serialize(line);
        text.push_back('\n');
        std::lock_guard lock(m_);
        std::fwrite(text.data(), 1, text.size(), f_);
    }

    void flush() {
        std::lock_guard lock(m_);
        if (f_) std::fflush(f_);
    }

  private:
    static constexpr std::size_t max_reported = 20;

    // "ventas.jsonl:37 F001-37 invalid: items[0].igv: …" for the first max_reported problems.
    void report(const outcome& o) {
        std::string what = o.error;
        if (!o.findings.empty()) {
            const auto& f = o.findings.front();
            what = f.path.empty() ? f.message : f.path + ": " + f.message;
            if (!f.expected.empty()) what += " (expected " + f.expected + ")";
            if (o.findings.size() > 1) what += fmt::format(" (+{} more)", o.findings.size() - 1);
        }
        std::string text = fmt::format("{}{}:{}{}{} {}: {}\n", tty_ ? "\r\x1b[2K" : "", o.source, o.line,
                                       o.key ? " " : "", o.key ? key_text(*o.key) : "", o.state, what);
        std::lock_guard lock(m_);
        if (reported_ == max_reported)
            text = fmt::format("{}… more problems not shown here{}\n", tty_ ? "\r\x1b[2K" : "",
                               f_ ? "; see the results file" : "; use --results FILE to see them all");
        if (reported_++ <= max_reported) std::fputs(text.c_str(), stderr);
    }

    batch_counters& c_;
    std::FILE* f_;
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
        bad.state = "invalid";
        bad.error = d.error->message;
        bad.findings.push_back(*d.error);
        return std::nullopt;
    }
    json::read_options ro;
    ro.max_bytes = o.max_document_bytes;
    auto r = json::read_request(d.text, ro);
    bad.op = r.op;
    if (!r.op) {
        bad.state = "invalid";
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
        bad.state = "invalid";
        std::erase_if(r.findings, [](const finding& f) { return f.level != severity::error; });
        bad.findings = std::move(r.findings);
        bad.error = fmt::format("{} problem{} found locally; nothing was sent", bad.findings.size(),
                                bad.findings.size() == 1 ? "" : "s");
        return std::nullopt;
    }
    if (o.dry_run) {
        bad.state = "valid";
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
    o.state = "failed";
    o.error = "not sent: interrupted";
    return o;
}

asio::awaitable<void> worker(client& api, channel& ch, results_sink& sink,
                             const std::atomic<bool>& stopping) {
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
                rec && rec->what.payload_hash == payload_hash(j->body) &&
                (rec->state == doc_state::accepted || rec->state == doc_state::rejected)) {
                o.state = "skipped";
                o.error = fmt::format("already {} in the store (an earlier run)", to_string(rec->state));
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
            o.state = std::string(to_string(r->state));
            o.attempts = r->attempts;
            o.recovered = r->recovered;
            o.body = &r->body;
            sink.add(o);
        } else {
            const auto& e = r.error();
            o.state = e.state == doc_state::unknown ? "unknown" : (e.codigo ? "rejected" : "failed");
            o.attempts = e.attempts;
            o.codigo = e.codigo;
            o.error = e.what();
            o.findings = e.findings;
            sink.add(o);
        }
    }
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
    if (!o.today.empty()) {
        if (o.today == "today") {
            auto now = std::chrono::system_clock::now() - std::chrono::hours(5);  // Peru, UTC-5
            auto days = std::chrono::duration_cast<std::chrono::days>(now.time_since_epoch()).count();
            co.today = date::from_days(days);
        } else {
            int d = 0, m = 0, y = 0;
            if (std::sscanf(o.today.c_str(), "%2d-%2d-%4d", &d, &m, &y) != 3 || !date{y, m, d}.valid()) {
                std::fprintf(stderr, "nubefact send: --check-date: expected DD-MM-YYYY or 'today'\n");
                return exit_usage;
            }
            co.today = date{y, m, d};
        }
    }

    std::FILE* results = nullptr;
    if (!o.results.empty()) {
        results = std::fopen(o.results.c_str(), "wb");
        if (!results) {
            std::fprintf(stderr, "nubefact send: cannot write %s: %s\n", o.results.c_str(),
                         std::strerror(errno));
            return exit_usage;
        }
    }
    struct closer {
        std::FILE* f;
        ~closer() {
            if (f) std::fclose(f);
        }
    } close_results{results};

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
    results_sink sink(counters, results, tty);
    progress_reporter progress(counters, stderr, tty);
    if (!o.json_summary || tty) progress.start();
    const auto t0 = std::chrono::steady_clock::now();

    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> unreadable{0};
    int workers = 1;
    std::vector<std::shared_ptr<job>> later;  // anulaciones, reversiones, consultas: after the rest
    std::mutex later_m;

    // Reads, validates and hands documents to the senders; runs on its own thread so the network
    // thread never waits on a disk or on parsing.
    auto produce = [&](channel* ch) {
        input_stream in(o.paths, o.max_document_bytes);
        while (!stopping.load()) {
            auto d = in.next();
            if (!d) break;
            ++counters.total;
            if (d->error && d->error->code == "io") ++unreadable;
            outcome bad;
            auto j = prepare(*d, o, co, bad);
            if (!j) {
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
                    co_await worker(api, ch, sink, stopping);
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
        signals.cancel();
        s->close();
    }
    progress.stop();
    sink.flush();

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto total = counters.done.load();
    const auto acc = counters.accepted.load(), rej = counters.rejected.load(), fail = counters.failed.load(),
               skip = counters.skipped.load(), inv = counters.invalid.load();
    if (o.json_summary) {
        boost::json::object sum{{"documents", total},
                                {"accepted", acc},
                                {"rejected", rej},
                                {"invalid", inv},
                                {"failed", fail},
                                {"skipped", skip},
                                {"seconds", secs},
                                {"docs_per_s", secs > 0 ? static_cast<double>(total) / secs : 0.0},
                                {"interrupted", stopping.load()}};
        if (o.dry_run) sum["dry_run"] = true;
        if (!o.results.empty()) sum["results"] = o.results;
        if (s) sum["store"] = s->store_url();
        std::printf("%s\n", boost::json::serialize(sum).c_str());
    } else {
        std::printf("\n%-10s %8s\n", o.dry_run ? "dry run" : "summary", "documents");
        if (o.dry_run) {
            std::printf("%-10s %8zu\n", "valid", total - inv);
            std::printf("%-10s %8zu\n", "invalid", inv);
        } else {
            std::printf("%-10s %8zu\n", "accepted", acc);
            std::printf("%-10s %8zu\n", "rejected", rej);
            if (inv) std::printf("%-10s %8zu   (not sent: see the findings)\n", "invalid", inv);
            std::printf("%-10s %8zu\n", "failed", fail);
            if (skip) std::printf("%-10s %8zu   (already accepted in the store)\n", "skipped", skip);
        }
        std::printf("%-10s %8zu   in %.2f s (%.0f documents/s)\n", "total", total, secs,
                    secs > 0 ? static_cast<double>(total) / secs : 0.0);
        if (!o.results.empty())
            std::printf("results:   %s (one JSON line per document)\n", o.results.c_str());
        if (s && s->db())
            std::printf("audit log: %s  (nubefact log --store %s)\n", s->store_url().c_str(),
                        s->store_url().c_str());
        if (stopping.load())
            std::printf(
                "interrupted: run the same command again to resume; accepted documents are skipped, "
                "uncertain ones are reconciled with Nubefact before any resend.\n");
    }
    if (unreadable.load()) return exit_usage;
    // An interrupted batch is not done (documents were never read): never report success for it.
    return (rej || inv || fail || stopping.load()) ? exit_failed : exit_ok;
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
         app.add_option("--check-date", o->today,
                        "Check fecha_de_emision against this day (DD-MM-YYYY or 'today')");
         return [o] { return run_send(*o); };
     },
     30}};

}  // namespace
}  // namespace nubefact::cli
