// `nubefact serve`: the gateway. Nubefact's own API at POST /api/v1/{ruta} for the keys of `nubefact
// keys create`, each sent through its account of the store; /livez, /readyz, /metrics; SIGTERM drains.
#include "command.hpp"
#include "listen.hpp"
#include "store_cli.hpp"

#include <nubefact/config.hpp>
#include <nubefact/decimal.hpp>
#include <nubefact/gateway.hpp>

#include <pthread.h>
#include <signal.h>
#include <cstdio>
#include <iostream>

namespace nubefact::cli {
namespace {

struct serve_args {
    std::string listen = "127.0.0.1:8080";
    std::string store_url;
    std::string upstream_wait = "25s";
    std::string read_timeout = "10s";
    std::string idle_timeout = "60s";
    std::string drain_timeout = "30s";
    std::size_t max_body = std::size_t{1} << 20;
    std::size_t max_header = std::size_t{8} << 10;
    bool lenient = false;
    std::string tolerance = "0";
};

constexpr const char* serve_help =
    R"(The gateway: Nubefact's own JSON API, so an integration (ERP, POS, web shop) changes only its RUTA
and TOKEN and gets a durable outbox, exactly-once sends and the audit log of `nubefact log`.

  nubefact accounts add --name acme --ruta https://api.nubefact.com/api/v1/ID --token-env NUBEFACT_TOKEN
  nubefact keys create --account acme          # prints the ruta and the token, once
  nubefact serve --listen 127.0.0.1:8080       # prints http://127.0.0.1:8080
  curl -X POST http://127.0.0.1:8080/api/v1/RUTA -H 'Authorization: Token token="TOKEN"' \
       -H 'Content-Type: application/json' -d @factura.json

Every operation of Nubefact's API is taken (generar/consultar comprobante, anulación, guía,
retención, percepción, reversiones), with every Authorization form Nubefact takes: the bare token,
Token token="…", Token token=…, Token … (and Bearer …). The answer is Nubefact's answer, in its shape.
Each document is checked (as `nubefact validate`) and recorded in the store before it is sent; a
repeat of the same document is answered from the store, with other content it gets codigo 23. When
Nubefact takes longer than --upstream-wait, the answer is HTTP 500 codigo 40 (what Nubefact answers a
transient failure: clients retry) while the document stays with the gateway; the repeat gets the
final answer.

The native API, with the same key's token as "Authorization: Bearer TOKEN": POST and GET
/v1/accounts/{account}/documents (Prefer: wait=N, Idempotency-Key), GET .../documents/{id},
.../{id}/timeline, .../summary, .../events (live), POST .../{id}/refresh. /dashboard/ in a
browser shows the outbox (sign in with the account and the token).

GET /livez (the process runs), /readyz (503 while draining), /metrics (Prometheus text).
SIGTERM or Ctrl-C drains: /readyz answers 503, new requests 503, requests under way finish
(at most --drain-timeout), then the process exits 0.

The URL is printed on stdout (port 0: the port chosen); the log, one line per request, goes to stderr
and never holds a token or a ruta. docs/gateway.md has more.
Exit status: 0 stopped after a drain, 1 the drain timed out, 2 usage, store or address error.)";

std::optional<std::chrono::milliseconds> duration_arg(const std::string& v, const char* name) {
    try {
        return parse_duration(v);
    } catch (const config_error& e) {
        std::cerr << "nubefact serve: " << name << ": " << e.what() << "\n";
        return std::nullopt;
    }
}

// Until SIGTERM or SIGINT: blocked in every thread (set before any thread starts), taken here.
int wait_for_signal(const sigset_t& set) {
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

int run_serve(const serve_args& a) {
    std::string why;
    auto listen = parse_listen(a.listen, why);
    if (!listen) {
        std::cerr << "nubefact serve: " << why << "\n";
        return exit_usage;
    }
    gateway::options o;
    o.host = listen->host;
    o.port = listen->port;
    auto wait = duration_arg(a.upstream_wait, "--upstream-wait");
    auto read = duration_arg(a.read_timeout, "--read-timeout");
    auto idle = duration_arg(a.idle_timeout, "--idle-timeout");
    auto drain = duration_arg(a.drain_timeout, "--drain-timeout");
    if (!wait || !read || !idle || !drain) return exit_usage;
    o.upstream_wait = *wait;
    o.limit.read_timeout = *read;
    o.limit.idle_timeout = *idle;
    o.limit.max_body = a.max_body;
    o.limit.max_header = a.max_header;
    o.prepare.check.lenient = a.lenient;
    auto t = decimal::parse(a.tolerance);
    if (!t) {
        std::cerr << "nubefact serve: --tolerance: not a decimal number: " << a.tolerance << "\n";
        return exit_usage;
    }
    o.prepare.check.tolerance = *t;

    // Before the store's writer thread and the server's io thread exist, so that they inherit it.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    // May start a store: a service is often enabled before its accounts and keys are added (the
    // gateway reads them from the store per request).
    auto db = store_cli::open(a.store_url, "serve", store_cli::opening::may_create);
    if (!db) return exit_usage;
    auto keys = db->list_api_keys();
    if (!keys) {
        std::cerr << "nubefact serve: cannot read the store's API keys: " << keys.error().message() << "\n";
        return exit_usage;
    }
    std::size_t live = 0;
    for (const auto& k : *keys) live += k.revoked_at ? 0 : 1;

    gateway::server srv(*db, o);
    if (auto r = srv.start(&why); !r) {
        std::cerr << "nubefact serve: " << why << "\n";
        return exit_usage;
    }
    std::printf("%s\n", srv.base_url().c_str());
    std::fflush(stdout);
    std::fprintf(
        stderr,
        "nubefact serve: drop-in Nubefact API at %s/api/v1/{ruta} (%zu active key%s; `nubefact keys "
        "create --account NAME` adds one); SIGTERM or Ctrl-C drains and stops\n"
        "nubefact serve: native API at %s/v1/accounts/{account}/documents (Bearer token), dashboard at "
        "%s/dashboard/\n",
        srv.base_url().c_str(), live, live == 1 ? "" : "s", srv.base_url().c_str(), srv.base_url().c_str());

    const int sig = wait_for_signal(set);
    std::fprintf(stderr, "nubefact serve: %s: draining (readyz 503, no new requests; up to %s)\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", a.drain_timeout.c_str());
    srv.drain();
    const bool clean = srv.wait_drained(*drain);
    srv.stop();
    db->close();
    std::fprintf(stderr, "nubefact serve: %s\n",
                 clean ? "drained: every request answered, every delivery finished; stopped"
                       : "drain timed out: sends stopped; documents under way are reconciled when repeated");
    return clean ? exit_ok : exit_failed;
}

const registrar reg{
    {"serve", "The gateway: Nubefact's own API in front of the store (durable outbox), health, metrics",
     [](CLI::App& app) -> std::function<int()> {
         auto a = std::make_shared<serve_args>();
         app.footer(serve_help);
         app.add_option("--listen", a->listen, "HOST:PORT to listen on (port 0: any free port)")
             ->capture_default_str();
         app.add_option("--store", a->store_url, store_cli::store_option_help);
         app.add_option("--upstream-wait", a->upstream_wait,
                        "How long a request waits for Nubefact's answer before it is answered HTTP 500 "
                        "codigo 40 (the document stays queued; a repeat gets the final answer)")
             ->capture_default_str();
         app.add_option("--max-body", a->max_body, "Largest request body in bytes (larger: 413)")
             ->capture_default_str()
             ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20));
         app.add_option("--max-header", a->max_header,
                        "Largest request line + headers in bytes (larger: 431)")
             ->capture_default_str()
             ->check(CLI::Range(std::size_t{512}, std::size_t{1} << 20));
         app.add_option("--read-timeout", a->read_timeout,
                        "A request must arrive whole within this from its first byte (slow clients are cut)")
             ->capture_default_str();
         app.add_option("--idle-timeout", a->idle_timeout,
                        "A keep-alive connection with no request is closed")
             ->capture_default_str();
         app.add_option("--drain-timeout", a->drain_timeout,
                        "On SIGTERM, how long requests and deliveries under way may take to finish")
             ->capture_default_str();
         app.add_flag("--lenient", a->lenient,
                      "Arithmetic mismatches are warnings (like Nubefact's demo), not codigo 20");
         app.add_option("--tolerance", a->tolerance, "Allowed difference on computed amounts (default 0)");
         return [a] { return run_serve(*a); };
     },
     75}};

}  // namespace
}  // namespace nubefact::cli
