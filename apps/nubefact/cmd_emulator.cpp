// `nubefact emulator`: runs the local Nubefact emulator until SIGINT/SIGTERM.
#include "command.hpp"
#include "listen.hpp"

#include <nubefact/emulator.hpp>

#include <csignal>
#include <ctime>
#include <iostream>
#include <memory>

namespace {

namespace emu = nubefact::emulator;

struct emulator_args {
    std::string listen = "127.0.0.1:8000";
    std::string today;
    std::string accounts_file, latency = "none", faults, tls_cert, tls_key, state_file, sunat_reject,
                               link_host;
    std::uint64_t seed = 1;
    int threads = 1;
    bool lenient = false, no_validate = false, admin = false, boletas_pending = false, state_fsync = false;
    bool allow_duplicates = false, quiet = false, sunat_tolerance = false, round_float_noise = false,
         assign_numero = false;
    std::size_t max_body = 1 << 20;
    int max_age_days = 7;
    long anulacion_delay_ms = 0, guia_delay_ms = 0, boleta_delay_ms = 0, stall_ms = 5000;
};

// A small valid factura dated today (Lima), for the curl line printed at start-up.
std::string demo_factura() {
    const std::string fecha = nubefact::lima_today().to_wire();
    return std::string(
               R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":1,)"
               R"("sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)"
               R"("cliente_denominacion":"CLIENTE DEMO SAC","cliente_direccion":"AV. LIMA 123","fecha_de_emision":")") +
           fecha +
           R"(","moneda":1,"porcentaje_de_igv":18.00,"total_gravada":100.00,"total_igv":18.00,"total":118.00,)"
           R"("items":[{"unidad_de_medida":"NIU","descripcion":"PRODUCTO DEMO","cantidad":1,"valor_unitario":100,)"
           R"("precio_unitario":118,"subtotal":100.00,"tipo_de_igv":1,"igv":18.00,"total":118.00}]})";
}

int run(const emulator_args& a) {
    emu::options o;
    std::string why;
    auto listen = nubefact::cli::parse_listen(a.listen, why);
    if (!listen) {
        std::cerr << "nubefact emulator: " << why << "\n";
        return nubefact::cli::exit_usage;
    }
    o.host = listen->host;
    o.port = listen->port;
    std::string err;
    if (!a.accounts_file.empty()) {
        auto acc = emu::load_accounts(a.accounts_file, &err);
        if (!acc) {
            std::cerr << "nubefact emulator: " << err << "\n";
            return nubefact::cli::exit_usage;
        }
        o.accounts = std::move(*acc);
    }
    auto lat = emu::latency_model::parse(a.latency, &err);
    if (!lat) {
        std::cerr << "nubefact emulator: --latency: " << err << "\n";
        return nubefact::cli::exit_usage;
    }
    o.latency = *lat;
    auto faults = emu::fault_rates::parse(a.faults, &err);
    if (!faults) {
        std::cerr << "nubefact emulator: --faults: " << err << "\n";
        return nubefact::cli::exit_usage;
    }
    o.faults = *faults;
    auto rules = emu::parse_reject_rules(a.sunat_reject, &err);
    if (!rules) {
        std::cerr << "nubefact emulator: --sunat-reject: " << err << "\n";
        return nubefact::cli::exit_usage;
    }
    o.sunat_reject = std::move(*rules);
    if (a.tls_cert.empty() != a.tls_key.empty()) {
        std::cerr << "nubefact emulator: --tls-cert and --tls-key go together\n";
        return nubefact::cli::exit_usage;
    }
    if (!a.tls_cert.empty()) o.tls = emu::tls_options{a.tls_cert, a.tls_key};
    o.seed = a.seed;
    o.threads = a.threads;
    o.lenient = a.lenient;
    o.sunat_tolerance = a.sunat_tolerance;
    o.round_float_noise = a.round_float_noise;
    o.assign_numero = a.assign_numero;
    o.validate = !a.no_validate;
    o.admin = a.admin;
    o.max_body = a.max_body;
    o.max_age_days = a.max_age_days;
    o.anulacion_delay = std::chrono::milliseconds(a.anulacion_delay_ms);
    o.guia_delay = std::chrono::milliseconds(a.guia_delay_ms);
    o.boletas_pending = a.boletas_pending;
    o.boleta_delay = std::chrono::milliseconds(a.boleta_delay_ms);
    o.stall_for = std::chrono::milliseconds(a.stall_ms);
    o.state_file = a.state_file;
    o.state_fsync = a.state_fsync;
    o.allow_duplicates = a.allow_duplicates;
    o.link_host = a.link_host;
    if (!a.today.empty()) {
        // Shift the wall clock so that "today" in Lima is the given day; time keeps running.
        auto day = nubefact::date::parse(a.today);
        if (!day) {
            std::cerr << "nubefact emulator: --today must be a date DD-MM-YYYY\n";
            return nubefact::cli::exit_usage;
        }
        auto shift =
            std::chrono::days(day->days_since_epoch() -
                              nubefact::lima_today(std::chrono::system_clock::now()).days_since_epoch());
        o.clock = [shift] { return std::chrono::system_clock::now() + shift; };
    }

    // Block the signals before any thread starts, so only sigwait() below sees them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    auto fds = emu::raise_fd_limit();
    emu::server srv(o);
    if (auto r = srv.start(&err); !r) {
        std::cerr << "nubefact emulator: " << err << "\n";
        return nubefact::cli::exit_failed;
    }
    const auto& acct = srv.first_account();
    std::cout << "nubefact emulator listening on " << srv.base_url() << " (" << a.threads << " thread"
              << (a.threads == 1 ? "" : "s") << ", validation "
              << (o.validate ? (o.lenient           ? "lenient"
                                : o.sunat_tolerance ? "sunat tolerance"
                                                    : "on")
                             : "off")
              << ", latency " << o.latency.to_string() << ", max open files " << fds << ")\n";
    if (a.accounts_file.empty()) {
        std::cout << "demo account:\n  RUTA  " << srv.ruta_url(acct.ruta_id) << "\n  TOKEN "
                  << acct.tokens.front() << "\ntry it:\n  curl -s " << (o.tls ? "-k " : "")
                  << srv.ruta_url(acct.ruta_id) << " -H 'Authorization: Token token=\"" << acct.tokens.front()
                  << "\"' -H 'Content-Type: application/json' -d '" << demo_factura() << "'\n";
    } else {
        std::cout << o.accounts.size() << " account(s) from " << a.accounts_file << "; first RUTA "
                  << srv.ruta_url(acct.ruta_id) << " (tokens not shown)\n";
    }
    if (o.admin)
        std::cout
            << "admin: GET " << srv.base_url()
            << "/__emulator/stats, POST /__emulator/reset, /__emulator/hold?after=N, /__emulator/release\n";
    std::cout << "Ctrl-C to stop." << std::endl;
    int sig = 0;
    sigwait(&set, &sig);
    if (!a.quiet) std::cout << "\nstopping (" << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ")\n";
    auto st = srv.snapshot();
    srv.stop();
    std::cout << "served " << st.requests_total << " requests, " << st.documents_created
              << " documents created, " << st.duplicates_refused << " duplicates refused" << std::endl;
    return nubefact::cli::exit_ok;
}

std::function<int()> setup(CLI::App& sub) {
    auto a = std::make_shared<emulator_args>();
    sub.add_option("--listen", a->listen, "HOST:PORT to listen on (port 0: any)")->capture_default_str();
    sub.add_option("--accounts", a->accounts_file,
                   "JSON file: [{\"ruta\":\"…\",\"tokens\":[\"…\"],\"state\":\"active|suspended|"
                   "suspended_nonpayment\",\"ruc\":\"…\"}] (default: one demo account)");
    sub.add_option("--latency", a->latency, "none | fixed:MS | uniform:A-B | lognormal:MEDIAN,P99")
        ->capture_default_str();
    sub.add_option("--faults", a->faults,
                   "seeded fault probabilities, e.g. 500:0.05,reset:0.02,commit_drop:0.02,stall:0.01,"
                   "truncate:0.01,malformed:0.01,429:0.02,503:0.02");
    sub.add_option("--seed", a->seed, "seed for latency and faults")->capture_default_str();
    sub.add_option("--threads", a->threads, "io threads")->capture_default_str()->check(CLI::Range(1, 256));
    sub.add_option("--tls-cert", a->tls_cert, "PEM certificate chain (enables HTTPS)");
    sub.add_option("--tls-key", a->tls_key, "PEM private key");
    sub.add_flag("--lenient", a->lenient, "arithmetic mismatches are warnings (like Nubefact's demo)");
    sub.add_flag(
        "--sunat-tolerance", a->sunat_tolerance,
        "mismatches up to 1.00 accepted with SUNAT's 4xxx observation in sunat_note; larger: codigo 20");
    sub.add_flag("--round-float-noise", a->round_float_noise,
                 "numbers with more than 10 decimals are rounded (default: codigo 20 naming the field)");
    sub.add_flag("--assign-numero", a->assign_numero,
                 "generar_* without numero gets the next correlativo of its tipo and serie");
    sub.add_flag("--no-validate", a->no_validate, "skip the codec and fiscal checks (key fields only)");
    sub.add_option("--state", a->state_file, "append-only JSONL state log, replayed at start");
    sub.add_flag("--state-fsync", a->state_fsync, "fsync the state log after every record");
    sub.add_flag("--admin", a->admin,
                 "enable GET /__emulator/stats and POST /__emulator/reset, /__emulator/hold?after=N (hold "
                 "document answers "
                 "after N more) and /__emulator/release");
    sub.add_option("--max-body", a->max_body, "largest request body in bytes (larger: 413)")
        ->capture_default_str();
    sub.add_option("--sunat-reject", a->sunat_reject,
                   "SUNAT rejects matching documents: all | serie=FFF9 | tipo=N | total>N | numero%N, "
                   "comma-separated, optional :CODE (default 2800)");
    sub.add_option("--max-age-days", a->max_age_days, "fecha_de_emision older than this: codigo 22")
        ->capture_default_str();
    sub.add_option("--anulacion-delay", a->anulacion_delay_ms, "ms until an anulación is accepted")
        ->capture_default_str();
    sub.add_option("--guia-delay", a->guia_delay_ms, "ms until a guía is accepted")->capture_default_str();
    sub.add_flag("--boletas-pending", a->boletas_pending,
                 "boletas stay pending until consulted after --boleta-delay");
    sub.add_option("--boleta-delay", a->boleta_delay_ms, "ms until a pending boleta is accepted")
        ->capture_default_str();
    sub.add_option("--stall", a->stall_ms, "ms a stall fault holds the connection (max 60000)")
        ->capture_default_str();
    sub.add_option("--today", a->today, "pretend today (Lima) is DD-MM-YYYY, e.g. to replay dated examples");
    sub.add_flag("--allow-duplicates", a->allow_duplicates, "benchmarks only: accept re-created documents");
    sub.add_option("--link-host", a->link_host, "host used in enlace links (default: the listen address)");
    return [a] { return run(*a); };
}

nubefact::cli::registrar reg{
    {"emulator", "run a local Nubefact emulator (stateful, latency, faults)", setup, 80}};

}  // namespace
