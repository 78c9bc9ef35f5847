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

using engine::outcome;

// Writes results lines and keeps the counts; names the first problem documents on stderr (with or
// without a results file, the user learns which file:line went wrong). Thread-safe.
class results_sink {
  public:
    results_sink(batch_counters& c, atomic_file* f, bool tty) : c_(c), f_(f), tty_(tty) {}

    void add(const outcome& o) {
        std::visit([&](auto st) { c_.add(st); }, o.state);
        if (o.resumed) ++c_.resumed;
        ++c_.done;
        if (!o.fine()) report(o);
        if (!f_) return;
        boost::json::object line;
        line["source"] = o.source;
        line["line"] = o.line;
        if (o.op) line["operacion"] = std::string(to_string(*o.op));
        if (o.key) {
            line["tipo_de_comprobante"] = o.key->tipo;
            line["serie"] = o.key->serie;
            line["numero"] = o.key->numero;
            line["document"] = o.key->to_string();
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
            what = engine::sunat_reason(*o.body);
        }
        std::string text =
            fmt::format("{}{}:{}{}{} {}: {}\n", tty_ ? "\r\x1b[2K" : "", o.source, o.line, o.key ? " " : "",
                        o.key ? o.key->to_string() : "", o.state_name(), what);
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

    std::atomic<std::size_t> unreadable{0};
    engine::batch_options bo;
    bo.prepare.complete = o.complete;
    bo.prepare.check = co;
    bo.prepare.max_document_bytes = o.max_document_bytes;
    bo.dry_run = o.dry_run;
    bo.deliver.follow = std::chrono::seconds(o.follow_seconds);
    if (s) bo.deliver.hold_patience = s->hold_patience();
    bo.on_follow = [&](std::size_t n) {
        std::fprintf(stderr,
                     "%snubefact send: waiting for SUNAT's answer to %zu document%s (up to %d s; --follow 0 "
                     "does not wait)…\n",
                     tty ? "\r\x1b[2K" : "", n, n == 1 ? "" : "s", o.follow_seconds);
    };
    if (s) {
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
        bo.workers = n + fitted;
    }
    engine::batch run(s ? &s->api() : nullptr, s ? &s->io() : nullptr, std::move(bo),
                      [&](const outcome& x) { sink.add(x); });

    // The source: the files' documents; what is not a document (a missing file, an empty input) is
    // said here and counted apart.
    input_stream in(o.paths, o.max_document_bytes);
    auto next = [&]() -> std::optional<engine::input> {
        for (;;) {
            auto d = in.next();
            if (!d) {
                counters.total_final = !run.stopping();
                return std::nullopt;
            }
            if (d->input_error()) {
                ++unreadable;
                std::fprintf(stderr, "%snubefact send: %s: %s%s\n", tty ? "\r\x1b[2K" : "", d->source.c_str(),
                             d->error->message.c_str(),
                             date::parse(d->source) ? " (a date: did you mean --today DD-MM-YYYY?)" : "");
                continue;
            }
            ++counters.total;
            return engine::input{std::move(d->source), d->line, std::move(d->text), std::move(d->error)};
        }
    };

    if (o.dry_run) {
        run.run(next);
    } else {
        asio::signal_set signals(s->io(), SIGINT, SIGTERM);
        std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec,
                                                                            int) {
            if (ec) return;
            if (!run.stopping()) {
                run.request_stop();
                std::fprintf(stderr,
                             "\nnubefact send: stopping: no new documents; the ones already journaled finish "
                             "or are reconciled. Ctrl-C again to stop sending at once.\n");
                signals.async_wait(on_signal);
            } else {
                run.stop_sending();
                std::fprintf(stderr,
                             "\nnubefact send: nothing more is sent; exchanges in flight finish. Ctrl-C "
                             "again ends the process (every document is journaled: the next run "
                             "reconciles).\n");
                boost::system::error_code ignored;
                signals.clear(ignored);  // the default action again: a third Ctrl-C ends the process
            }
        };
        signals.async_wait(on_signal);
        run.run(next);
        signals.cancel();
        s->close();
    }
    // Stopped (Ctrl-C, SIGTERM) before the whole input was read: documents were never read, so the
    // batch is not done whatever the others became. Stopped after: only the outcomes count.
    const bool stopped = run.stopping();
    const bool unread_left = stopped && !counters.total_final.load();
    progress.stop();
    // Success: every document accepted (or with SUNAT's answer pending), or valid in a dry run, and
    // none left unread.
    const std::size_t fine = counters.count(doc_state::accepted) + counters.count(doc_state::pending_sunat) +
                             counters.count(line_outcome::valid);

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto total = counters.done.load();
    const bool done = fine == total && !unread_left;
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
                         counters.resumed.load(), secs, per_s, stopped ? "true" : "false");
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
        if (stopped && !done)
            std::printf(
                "interrupted: run the same command again to resume; accepted documents are skipped, "
                "uncertain ones are reconciled with Nubefact before any resend.\n");
        std::printf("%zu document%s: %s\n", total, total == 1 ? "" : "s", brief.c_str());
    }
    std::fflush(stdout);
    if (unreadable.load() || !results_ok) return exit_usage;
    return done ? exit_ok : exit_failed;
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
