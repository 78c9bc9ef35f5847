// `nubefact query`, `nubefact void`, `nubefact guide`: consult, void and issue guías, one document
// or a file of them, following asynchronous verdicts (anulación tickets, GRE) with backoff.
#include "command.hpp"
#include "input.hpp"
#include "session.hpp"

#include <nubefact/engine.hpp>
#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <iostream>

namespace nubefact::cli {
namespace {

namespace asio = boost::asio;

// "FFF1-23" -> key; tipo from --tipo, else from the serie's first letter (F factura, B boleta,
// T guía remitente, V guía transportista); notes need --tipo 3/4. For a guía operation (`op`) the
// tipo must be a guía's.
std::optional<document_key> parse_key(const std::string& text, int tipo, operation op, std::string& err) {
    auto dash = text.find('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 >= text.size()) {
        err = "'" + text + "' is neither a file nor SERIE-NUMERO (e.g. FFF1-23)";
        return std::nullopt;
    }
    document_key k;
    k.serie = text.substr(0, dash);
    try {
        std::size_t used = 0;
        k.numero = std::stoll(text.substr(dash + 1), &used);
        if (used != text.size() - dash - 1 || k.numero <= 0) throw std::invalid_argument("numero");
    } catch (const std::exception&) {
        err = "'" + text + "': the number after '-' must be a positive integer";
        return std::nullopt;
    }
    if (tipo) {
        k.tipo = tipo;
    } else {
        switch (std::toupper(static_cast<unsigned char>(k.serie[0]))) {
            case 'F':
                k.tipo = 1;
                break;
            case 'B':
                k.tipo = 2;
                break;
            case 'T':
                k.tipo = 7;
                break;
            case 'V':
                k.tipo = 8;
                break;
            default:
                err = "'" + text + "': cannot tell the tipo_de_comprobante from the serie; give --tipo";
                return std::nullopt;
        }
    }
    const bool guia_op = op == operation::consultar_guia || op == operation::generar_guia;
    if (guia_op && k.tipo != 7 && k.tipo != 8) {
        err = "'" + text +
              "' is not a guía: a guía's serie starts with T (remitente) or V (transportista), or give "
              "--tipo 7 or 8";
        return std::nullopt;
    }
    return k;
}

std::string response_json(const response& r) {
    auto text = json::write(r);
    return boost::json::serialize(boost::json::parse(text));
}

void print_reply(const client::result_type& r, const document_key& k, bool as_json) {
    if (r) {
        if (as_json) {
            std::cout << response_json(r->body) << "\n";
            return;
        }
        const auto& b = r->body;
        std::cout << fmt::format(
            "{}: {}{}{}\n", k.to_string(), to_string(r->state),
            b.aceptada_por_sunat
                ? (*b.aceptada_por_sunat ? ", aceptada por SUNAT" : ", not (yet) accepted by SUNAT")
                : "",
            b.anulado && *b.anulado ? ", ANULADO" : "");
        for_each_answer_field(b, [](const char* name, const opt_str& v) {
            if (v && !v->empty()) std::cout << fmt::format("  {:<20} {}\n", name, *v);
        });
    } else {
        const auto& e = r.error();
        if (as_json) {
            boost::json::object o{
                {"document", k.to_string()}, {"error", e.what()}, {"http_status", e.http_status}};
            if (e.codigo) o["codigo"] = *e.codigo;
            std::cout << boost::json::serialize(o) << "\n";
        } else {
            std::cerr << k.to_string() << ": " << e.what() << "\n";
            for (const auto& f : e.findings)
                std::cerr << fmt::format("  {}: {}{}\n", f.path, f.message,
                                         f.expected.empty()
                                             ? std::string()
                                             : fmt::format(" (expected {}, got {})", f.expected,
                                                           f.actual.empty() ? "nothing" : f.actual));
        }
    }
}

// Runs one coroutine on the session's io_context to completion.
template <class T>
T run(session& s, asio::awaitable<T> a) {
    std::optional<T> out;
    std::exception_ptr ex;
    asio::co_spawn(s.io(), std::move(a), [&](std::exception_ptr e, T v) {
        ex = e;
        if (!e) out.emplace(std::move(v));
    });
    s.io().restart();
    s.io().run();
    if (ex) std::rethrow_exception(ex);
    return std::move(*out);
}

// One consultation of `key` with the consultar_* operation `consult`. If/else, never `?:`: GCC 12
// miscompiles co_await inside a conditional expression (every branch is evaluated, its result
// destroyed twice: "double free" at the first query).
asio::awaitable<client::result_type> consult_once(client& api, operation consult, document_key key) {
    if (consult == operation::consultar_anulacion) co_return co_await api.consultar_anulacion(key);
    if (consult == operation::consultar_guia) co_return co_await api.consultar_guia(key);
    co_return co_await api.consultar_comprobante(key);
}

// Prints one engine outcome as print_reply prints a reply (the answer, or what went wrong).
void print_outcome(const engine::outcome& o, bool as_json) {
    const auto k = o.key ? o.key->to_string() : o.source;
    if (o.body && !o.is(engine::line_outcome::invalid)) {
        if (as_json) {
            std::cout << response_json(*o.body) << "\n";
            return;
        }
        const auto& b = *o.body;
        std::cout << fmt::format(
            "{}: {}{}{}{}\n", k, o.state_name(),
            b.aceptada_por_sunat
                ? (*b.aceptada_por_sunat ? ", aceptada por SUNAT" : ", not (yet) accepted by SUNAT")
                : "",
            b.anulado && *b.anulado ? ", ANULADO" : "", o.resumed ? " (from the store: not sent again)" : "");
        for_each_answer_field(b, [](const char* name, const opt_str& v) {
            if (v && !v->empty()) std::cout << fmt::format("  {:<20} {}\n", name, *v);
        });
        return;
    }
    if (as_json) {
        boost::json::object j{{"document", k}, {"state", std::string(o.state_name())}, {"error", o.error}};
        if (o.codigo) j["codigo"] = *o.codigo;
        std::cout << boost::json::serialize(j) << "\n";
        return;
    }
    std::cerr << k << ": " << o.error << "\n";
    for (const auto& f : o.findings)
        std::cerr << fmt::format("  {}: {}{}\n", f.path, f.message,
                                 f.expected.empty() ? std::string()
                                                    : fmt::format(" (expected {}, got {})", f.expected,
                                                                  f.actual.empty() ? "nothing" : f.actual));
}

// How void and guide hand one document to the engine: another sender's claim waited for, SUNAT's
// pending answer followed for `follow` (0: not), each wait said on stderr.
engine::deliver_options delivery(const session& s, std::chrono::seconds follow) {
    engine::deliver_options d;
    d.hold_patience = s.hold_patience();
    d.follow = follow;
    d.on_follow_wait = [](const engine::outcome& o, std::chrono::milliseconds wait) {
        std::cerr << fmt::format("{}: waiting for SUNAT ({} ms)…\n", o.key ? o.key->to_string() : o.source,
                                 wait.count());
    };
    return d;
}

// One document through the engine: checked, claimed, journaled, sent, reconciled, followed.
engine::outcome deliver_one(session& s, engine::input in, std::chrono::seconds follow) {
    auto p = engine::prepare(in, {});
    if (auto* bad = std::get_if<engine::outcome>(&p)) return std::move(*bad);
    return run(s, engine::deliver(s.api(), std::move(std::get<engine::prepared>(p)), delivery(s, follow)));
}

struct common {
    std::vector<std::string> targets;
    session_options session;
    int tipo = 0;
    bool json = false;
    bool wait = false;
    int wait_seconds = 600;
    std::string motivo;
    std::string what = "comprobante";  // query: comprobante | anulacion | guia
};

void add_common(CLI::App& app, common& c, const char* targets_help) {
    app.add_option("targets", c.targets, targets_help)->required();
    c.session.add_to(app);
    app.add_option("--tipo", c.tipo,
                   "tipo_de_comprobante (1 factura, 2 boleta, 3 NC, 4 ND, 7/8 guía); default from the serie")
        ->check(CLI::IsMember({1, 2, 3, 4, 7, 8}));
    app.add_flag("--json", c.json, "Print each response as JSON");
}

int finish(session& s, int failures) {
    s.close();
    return failures ? exit_failed : exit_ok;
}

// Returns the number of failures, or -1 on a usage error.
// For each target: a file of documents (each must be of `want` operation) or a SERIE-NUMERO key.
template <class OnKey, class OnDoc>
int for_targets(const common& c, operation want, OnKey on_key, OnDoc on_doc) {
    int failures = 0;
    for (const auto& t : c.targets) {
        std::error_code ec;
        if (t == "-" || std::filesystem::exists(t, ec)) {
            input_stream in({t});
            while (auto d = in.next()) {
                if (d->error) {
                    std::cerr << d->source << ":" << d->line << ": " << d->error->message << "\n";
                    ++failures;
                    continue;
                }
                auto r = json::read_request(d->text);
                if (has_errors(r.findings) || r.op != want) {
                    std::cerr << fmt::format(
                        "{}:{}: not a valid {} document{}\n", d->source, d->line, to_string(want),
                        r.findings.empty()
                            ? ""
                            : ": " + r.findings.front().path + ": " + r.findings.front().message);
                    ++failures;
                    continue;
                }
                failures += on_doc(r, *d) ? 0 : 1;
            }
        } else {
            std::string err;
            auto k = parse_key(t, c.tipo, want, err);
            if (!k) {
                std::cerr << "nubefact: " << err << "\n";
                return -1;  // usage
            }
            failures += on_key(*k) ? 0 : 1;
        }
    }
    return failures;
}

std::unique_ptr<session> open_or_report(const session_options& o, const char* cmd) {
    std::string err;
    auto s = session::open(o, err);
    if (!s) std::cerr << "nubefact " << cmd << ": " << err << "\n";
    return s;
}

registrar query_reg{
    {"query", "Consult documents at Nubefact (consultar_comprobante / _anulacion / _guia)",
     [](CLI::App& app) -> std::function<int()> {
         auto c = std::make_shared<common>();
         add_common(app, *c, "SERIE-NUMERO (e.g. FFF1-23) or files of consultar_* documents");
         app.add_option("--what", c->what, "comprobante (default), anulacion or guia")
             ->check(CLI::IsMember({"comprobante", "anulacion", "guia"}));
         app.footer(
             "Examples:\n  nubefact query FFF1-23 --account acme\n  nubefact query BBB1-7 --json\n"
             "  nubefact query TTT1-1 --what guia\n\nExit codes: 0 found, 1 some not found or failed, 2 "
             "usage.");
         return [c] {
             auto s = open_or_report(c->session, "query");
             if (!s) return exit_usage;
             auto op = c->what == "anulacion" ? operation::consultar_anulacion
                       : c->what == "guia"    ? operation::consultar_guia
                                              : operation::consultar_comprobante;
             auto consult = [&](const document_key& k) {
                 auto r = run(*s, consult_once(s->api(), op, k));
                 print_reply(r, k, c->json);
                 return bool(r);
             };
             int f = for_targets(*c, op, consult, [&](const json::read_result& r, const source_document&) {
                 const auto& q = std::get<consulta>(r.doc);
                 return consult(document_key{static_cast<int>(q.tipo_de_comprobante.value_or(0)),
                                             q.serie.value_or(""), q.numero.value_or(0)});
             });
             return f < 0 ? exit_usage : finish(*s, f);
         };
     },
     40}};

registrar void_reg{
    {"void", "Void (anular) documents: generar_anulacion, then --wait follows the SUNAT ticket",
     [](CLI::App& app) -> std::function<int()> {
         auto c = std::make_shared<common>();
         add_common(app, *c, "SERIE-NUMERO of the document to void, or files of generar_anulacion documents");
         app.add_option("--motivo", c->motivo, "Reason (up to 100 characters), required with SERIE-NUMERO");
         app.add_flag("--wait", c->wait, "Consult the anulación until SUNAT answers");
         app.add_option("--wait-timeout", c->wait_seconds, "Seconds to keep waiting (default 600)");
         app.footer(
             "Examples:\n  nubefact void FFF1-23 --motivo \"ERROR DEL SISTEMA\" --wait\n"
             "  nubefact void anulaciones.jsonl --account acme\n\n"
             "Exit codes: 0 done, 1 some failed or not accepted in time, 2 usage.");
         return [c] {
             auto s = open_or_report(c->session, "void");
             if (!s) return exit_usage;
             const auto follow = std::chrono::seconds(c->wait ? c->wait_seconds : 0);
             auto go = [&](const anulacion& a, const std::string& source, std::size_t line) {
                 auto o =
                     deliver_one(*s, {source, line, json::write(json::request{a}), std::nullopt}, follow);
                 print_outcome(o, c->json);
                 return c->wait ? o.is(doc_state::accepted) : o.fine();
             };
             int f = for_targets(
                 *c, operation::generar_anulacion,
                 [&](const document_key& k) {
                     if (c->motivo.empty()) {
                         std::cerr << "nubefact void: --motivo is required (why the document is voided)\n";
                         return false;
                     }
                     anulacion a;
                     a.tipo_de_comprobante = k.tipo;
                     a.serie = k.serie;
                     a.numero = k.numero;
                     a.motivo = c->motivo;
                     return go(a, k.to_string(), 0);
                 },
                 [&](const json::read_result& r, const source_document& d) {
                     return go(std::get<anulacion>(r.doc), d.source, d.line);
                 });
             return f < 0 ? exit_usage : finish(*s, f);
         };
     },
     41}};

registrar guide_reg{
    {"guide", "Issue guías de remisión (generar_guia), then follow consultar_guia until SUNAT accepts",
     [](CLI::App& app) -> std::function<int()> {
         auto c = std::make_shared<common>();
         c->wait = true;
         add_common(app, *c,
                    "Files of generar_guia documents (JSON, array, JSONL), or SERIE-NUMERO to follow one");
         app.add_flag("!--no-wait", c->wait, "Do not poll consultar_guia after issuing");
         app.add_option("--wait-timeout", c->wait_seconds, "Seconds to keep polling each guía (default 600)");
         app.footer(
             "Examples:\n  nubefact guide examples/guia-remitente-T001-1.json --emulator\n"
             "  nubefact guide TTT1-1 --account acme     # follow an issued guía\n\n"
             "Exit codes: 0 all accepted, 1 some failed or not accepted in time, 2 usage.");
         return [c] {
             auto s = open_or_report(c->session, "guide");
             if (!s) return exit_usage;
             const auto follow = std::chrono::seconds(c->wait ? c->wait_seconds : 0);
             auto done = [&](const engine::outcome& o) {
                 print_outcome(o, c->json);
                 return c->wait ? o.is(doc_state::accepted) : o.fine();
             };
             auto poll = [&](const document_key& k) {
                 // Following an issued guía: consulted at once, then on the follow schedule.
                 return done(run(*s, engine::consult(s->api(), operation::generar_guia, k,
                                                     delivery(*s, std::chrono::seconds(c->wait_seconds)))));
             };
             int f = for_targets(*c, operation::generar_guia, poll,
                                 [&](const json::read_result& rr, const source_document& d) {
                                     return done(deliver_one(
                                         *s, {d.source, d.line, json::write(rr.doc), std::nullopt}, follow));
                                 });
             return f < 0 ? exit_usage : finish(*s, f);
         };
     },
     42}};

}  // namespace
}  // namespace nubefact::cli
