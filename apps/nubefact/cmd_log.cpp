// `nubefact log`: the audit trail (one row per HTTP exchange with Nubefact), newest last, filtered.
#include "command.hpp"
#include "json_out.hpp"
#include "store_cli.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <iostream>

namespace nubefact::cli {
namespace {

struct log_args {
    std::string store_url, since, account, operation, status;
    std::size_t limit = 50;
    bool json_out = false, bodies = false;
};

constexpr const char* log_help =
    R"(Every HTTP exchange the client had with Nubefact (or the emulator) is one audit row: when, account,
operation, document, attempt, HTTP status, Nubefact codigo, outcome (ok, api_error, timeout,
transport, ...), latency and sizes. Tokens are never recorded. Request/response bodies are kept only
when sending with --audit-bodies; show them with --bodies.

The newest --limit rows matching the filters are printed, oldest first.

  nubefact log                                   # the last 50 exchanges
  nubefact log --since 1h --status timeout       # what timed out in the last hour
  nubefact log --since 2026-11-27T08:00 --account acme --operation generar_comprobante
  nubefact log --limit 1000 --json | jq -r 'select(.codigo == 23) | .document'

--since takes 90s, 15m, 1h, 2d, 1w (ago) or a UTC date/time (2026-11-27, 2026-11-27T08:00[:00][Z]).
Exit status: 0 (also when nothing matches), 2 usage or store error.)";

int run_log(const log_args& a) {
    store::log_query q;
    if (!a.since.empty()) {
        q.since = store_cli::parse_since(a.since);
        if (!q.since) {
            std::cerr << "nubefact log: --since takes 90s, 15m, 1h, 2d, 1w or a UTC date/time like "
                         "2026-11-27T08:00\n";
            return exit_usage;
        }
    }
    q.account = a.account;
    q.operation = a.operation;
    q.outcome = a.status;
    q.limit = a.limit;
    auto s = store_cli::open(a.store_url, "log");
    if (!s) return exit_usage;
    auto rows = s->query_log(q);
    if (!rows) {
        std::cerr << "nubefact log: " << rows.error().message() << ": " << s->last_error() << "\n";
        return exit_usage;
    }
    std::reverse(rows->begin(), rows->end());
    if (a.json_out) {
        for (const auto& r : *rows) {
            const auto& x = r.record;
            boost::json::object o;
            o["id"] = r.id;
            o["at"] = store_cli::iso_utc(x.at);
            o["account"] = x.account;
            o["operation"] = x.operation;
            o["document"] = x.document;
            o["attempt"] = x.attempt;
            o["http_status"] = x.http_status;
            if (x.codigo)
                o["codigo"] = *x.codigo;
            else
                o["codigo"] = nullptr;
            o["outcome"] = x.outcome;
            o["latency_ms"] = static_cast<double>(x.latency.count()) / 1000.0;
            o["request_bytes"] = x.request_bytes;
            o["response_bytes"] = x.response_bytes;
            if (a.bodies) {
                o["request_body"] = x.request_body;
                o["response_body"] = x.response_body;
            }
            std::cout << to_json(o) << "\n";
        }
        return exit_ok;
    }
    if (rows->empty()) {
        std::cerr << "nubefact log: no audit rows match\n";
        return exit_ok;
    }
    std::printf("%-24s %-12s %-22s %-14s %3s %4s %6s %-10s %9s\n", "AT (UTC)", "ACCOUNT", "OPERATION",
                "DOCUMENT", "TRY", "HTTP", "CODIGO", "OUTCOME", "MS");
    for (const auto& r : *rows) {
        const auto& x = r.record;
        std::string codigo = x.codigo ? std::to_string(*x.codigo) : "-";
        std::printf("%-24s %-12s %-22s %-14s %3d %4d %6s %-10s %9.1f\n", store_cli::iso_utc(x.at).c_str(),
                    x.account.c_str(), x.operation.c_str(), x.document.empty() ? "-" : x.document.c_str(),
                    x.attempt, x.http_status, codigo.c_str(), x.outcome.c_str(),
                    static_cast<double>(x.latency.count()) / 1000.0);
        if (a.bodies) {
            if (!x.request_body.empty()) std::printf("    > %s\n", x.request_body.c_str());
            if (!x.response_body.empty()) std::printf("    < %s\n", x.response_body.c_str());
        }
    }
    return exit_ok;
}

const registrar reg{command{
    "log", "Show the audit trail: every exchange with Nubefact, filtered",
    [](CLI::App& sub) -> std::function<int()> {
        auto a = std::make_shared<log_args>();
        sub.footer(log_help);
        sub.add_option("--store", a->store_url, store_cli::store_option_help);
        sub.add_option("--since", a->since, "Only rows from this time on (1h, 2d, ISO)");
        sub.add_option("--account", a->account, "Only this account");
        sub.add_option("--operation", a->operation,
                       "Only this operation (generar_comprobante, consultar_comprobante, …)");
        sub.add_option("--status", a->status, "Only this outcome (ok, api_error, timeout, transport, …)");
        sub.add_option("--limit", a->limit, "At most this many rows, the newest (default 50)")
            ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
        sub.add_flag("--json", a->json_out, "One JSON object per row");
        sub.add_flag("--bodies", a->bodies, "Also print stored request/response bodies");
        return [a] { return run_log(*a); };
    },
    90}};

}  // namespace
}  // namespace nubefact::cli
