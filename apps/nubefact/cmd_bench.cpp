// `nubefact bench`: load test of the client pipeline against an emulator (forked, in-process or
// external); JSON results per concurrency level and an SVG chart of documents/s.
#include "bench_report.hpp"
#include "command.hpp"
#include "session.hpp"

#include <nubefact/client.hpp>
#include <nubefact/client_memory.hpp>
#include <nubefact/emulator.hpp>
#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>
#include <nubefact/metrics.hpp>
#include <nubefact/store.hpp>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>

namespace nubefact::cli {
namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

struct bench_args {
    long documents = 10000;
    std::string concurrency = "10";
    std::string latency = "none";
    std::string faults;
    bool inproc = false;
    std::string url, token;
    std::string auth = "bare";
    int emulator_pid = 0;
    int emu_threads = 1;
    bool no_validate = false;
    bool complete = false, check = false, audit = false;
    int ahead = -1;                 // -1: with the store's journal resolve_ahead's default, else 0
    std::string journal = "store";  // with --audit: store (durable) or memory (only the audit log stored)
    std::string store_url;
    std::string out, chart;
    std::string template_file;
    double duration = 0;
    double timeout = 30;
    std::uint64_t seed = 1;
    bool quiet = false;
};

// The emulator the runs talk to.
struct target {
    std::string mode;  // forked | inproc | external
    std::string ruta, token;
    pid_t pid = -1;  // whose CPU we read (forked child or --emulator-pid)
    std::unique_ptr<emulator::server> inproc;
    std::optional<bool> validates;  // as configured (forked/inproc); external: from the probe
};

// The default payload: a two-line factura shaped like the official example, dated today (Lima).
std::string default_template() {
    return R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"F001","numero":1,)"
           R"("sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)"
           R"("cliente_denominacion":"NUBEFACT SA","cliente_direccion":"CALLE LIBERTAD 116 MIRAFLORES - LIMA - PERU",)"
           R"("fecha_de_emision":")" +
           lima_today().to_wire() +
           R"(","moneda":1,"porcentaje_de_igv":18.00,"total_gravada":600.00,"total_igv":108.00,"total":708.00,)"
           R"("detraccion":false,"observaciones":"BENCHMARK","enviar_automaticamente_a_la_sunat":true,)"
           R"("enviar_automaticamente_al_cliente":false,"items":[)"
           R"({"unidad_de_medida":"NIU","codigo":"001","descripcion":"DETALLE DEL PRODUCTO","cantidad":1,)"
           R"("valor_unitario":500,"precio_unitario":590,"subtotal":500.00,"tipo_de_igv":1,"igv":90.00,)"
           R"("total":590.00,"anticipo_regularizacion":false,"codigo_producto_sunat":"10000000"},)"
           R"({"unidad_de_medida":"ZZ","codigo":"001","descripcion":"DETALLE DEL SERVICIO","cantidad":5,)"
           R"("valor_unitario":20,"precio_unitario":23.60,"subtotal":100.00,"tipo_de_igv":1,"igv":18.00,)"
           R"("total":118.00,"anticipo_regularizacion":false,"codigo_producto_sunat":"20000000"}]})";
}

// Forgets every intent: without --audit the client's exactly-once bookkeeping costs nothing and
// memory stays flat however many documents are sent.
class null_journal final : public intent_journal {
  public:
    void record(const intent& what, std::function<void(result<record_result>)> done) override {
        intent_record r;
        r.what.account = what.account;
        r.what.op = what.op;
        r.what.key = what.key;
        r.what.payload_hash = what.payload_hash;
        done(record_result{std::move(r), true});
    }
    void update(const std::string&, const document_key&, const state_update&,
                std::function<void(result<void>)> done) override {
        done(result<void>{});
    }
    void find(const std::string&, const document_key&,
              std::function<void(result<std::optional<intent_record>>)> done) override {
        done(std::optional<intent_record>{});
    }
};

result<std::vector<int>> parse_concurrency(const std::string& text, std::string& why) {
    std::vector<int> out;
    std::string_view rest = text;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto part = rest.substr(0, comma);
        int v = 0;
        auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (ec != std::errc{} || p != part.data() + part.size() || v < 1 || v > 100000) {
            why = "--concurrency: '" + std::string(part) + "' is not a number from 1 to 100000";
            return make_error_code(client_errc::validation);
        }
        out.push_back(v);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
    if (out.empty()) {
        why = "--concurrency: give one value or a list like 1,10,64";
        return make_error_code(client_errc::validation);
    }
    return out;
}

// A bare number is milliseconds of fixed latency; anything else is the emulator's own syntax.
std::string latency_spec(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("0123456789.") == std::string::npos) return "fixed:" + s;
    return s;
}

// A bare number F is a total fault probability spread evenly over 500, reset and commit_drop
// (answers lost after the document was stored: the client must reconcile, not resend).
std::string fault_spec(const std::string& s) {
    if (!s.empty() && s.find_first_not_of("0123456789.") == std::string::npos) {
        double f = std::stod(s) / 3.0;
        return fmt::format("500:{0},reset:{0},commit_drop:{0}", f);
    }
    return s;
}

std::string error_kind(const client_error& e) {
    if (e.codigo) return "codigo_" + std::to_string(*e.codigo);
    if (e.code.category() == client_category()) {
        switch (static_cast<client_errc>(e.code.value())) {
            case client_errc::timeout:
                return "timeout";
            case client_errc::transport:
                return "transport";
            case client_errc::http_status:
                return "http_" + std::to_string(e.http_status);
            case client_errc::bad_response:
                return "bad_response";
            case client_errc::validation:
                return "validation";
            case client_errc::conflict:
                return "conflict";
            case client_errc::cancelled:
                return "cancelled";
            case client_errc::retries_exhausted:
                return "retries_exhausted";
            case client_errc::tls_verify:
                return "tls_verify";
            case client_errc::rate_limited:
                return "rate_limited";
            case client_errc::journal:
                return "journal";
            case client_errc::payload_changed:
                return "payload_changed";
            case client_errc::account_stopped:
                return "account_stopped";
            case client_errc::held_elsewhere:
                return "held_elsewhere";
        }
    }
    return e.code.message();
}

// Starts the emulator in a child process and reads its RUTA and token from a pipe. The child dies
// with us (PR_SET_PDEATHSIG) and stops cleanly on SIGTERM.
bool fork_emulator(const emulator::options& o, target& t, std::string& why) {
    int fds[2];
    if (pipe(fds) != 0) {
        why = "pipe() failed";
        return false;
    }
    const pid_t parent = getpid();
    const pid_t child = fork();
    if (child < 0) {
        why = "fork() failed";
        return false;
    }
    if (child == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(0);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        emulator::raise_fd_limit();
        int rc = 0;
        {
            emulator::server s(o);
            std::string err;
            if (!s.start(&err)) {
                std::string line = "! " + err + "\n";
                (void)!write(fds[1], line.data(), line.size());
                _exit(1);
            }
            std::string line = s.ruta_url() + " " + s.first_account().tokens.front() + "\n";
            if (write(fds[1], line.data(), line.size()) < 0) rc = 1;
            close(fds[1]);
            int sig = 0;
            if (rc == 0) sigwait(&set, &sig);
            s.stop();
        }
        _exit(rc);
    }
    close(fds[1]);
    std::string line;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) {
        line.append(buf, static_cast<std::size_t>(n));
        if (line.find('\n') != std::string::npos) break;
    }
    close(fds[0]);
    auto sp = line.find(' ');
    if (line.empty() || line[0] == '!' || sp == std::string::npos) {
        why = "the emulator did not start" + (line.size() > 2 ? ": " + line.substr(2) : std::string());
        while (!why.empty() && why.back() == '\n') why.pop_back();
        waitpid(child, nullptr, 0);
        return false;
    }
    t.pid = child;
    t.ruta = line.substr(0, sp);
    t.token = line.substr(sp + 1, line.find('\n') - sp - 1);
    return true;
}

void stop_target(target& t) {
    if (t.mode == "forked" && t.pid > 0) {
        kill(t.pid, SIGTERM);
        waitpid(t.pid, nullptr, 0);
        t.pid = -1;
    }
    if (t.inproc) t.inproc->stop();
}

// Distinct 4-character series (first letter kept from the template: F factura, B boleta), one per
// run, so the emulator never answers codigo 23 for a number sent by an earlier run or invocation.
class serie_maker {
  public:
    serie_maker(char first, std::uint64_t seed) : first_(first), rng_(seed) {}
    std::string next() {
        static constexpr char abc[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
        for (;;) {
            std::string s(1, first_);
            for (int i = 0; i < 3; ++i) s += abc[rng_() % 24];
            if (used_.insert(s).second) return s;
        }
    }

  private:
    char first_;
    std::mt19937_64 rng_;
    std::set<std::string> used_;
};

account_config base_config(const bench_args& a, const target& t, const std::string& name, int concurrency) {
    account_config cfg;
    cfg.name = name;
    cfg.ruta = t.ruta;
    cfg.token = t.token;
    cfg.auth = a.auth == "token_token" ? auth_scheme::token_token : auth_scheme::bare;
    cfg.rate.requests_per_second = 0;  // no limiter: measure the pipeline, not a configured rate
    cfg.max_concurrency = concurrency;
    auto timeout = std::chrono::milliseconds(static_cast<long>(a.timeout * 1000));
    cfg.request_timeout = timeout;
    cfg.total_timeout = timeout * 4;
    cfg.retry.base = std::chrono::milliseconds(20);
    cfg.retry.cap = std::chrono::milliseconds(500);
    cfg.retry.total_deadline = timeout * 4;
    cfg.validate = a.check;
    return cfg;
}

// Sends one document whose total is wrong: codigo 20 means the emulator validates.
std::optional<bool> probe_validation(const bench_args& a, const target& t, const comprobante& tmpl,
                                     const std::string& serie) {
    asio::io_context ioc(1);
    std::optional<bool> answer;
    {
        auto cfg = base_config(a, t, "bench-probe", 1);
        cfg.validate = false;
        client c(ioc.get_executor(), cfg, client_options{std::make_shared<null_journal>(), nullptr});
        comprobante d = tmpl;
        d.serie = serie;
        d.numero = 1;
        d.total = d.total.value_or(decimal{}) + decimal::from_int(1);
        auto probe = [&]() -> asio::awaitable<void> {
            auto task = c.generar_comprobante(std::move(d));
            auto r = co_await std::move(task);
            if (r)
                answer = false;
            else if (codigo_is(r.error().codigo, api_errc::bad_format))
                answer = true;
        };
        asio::co_spawn(ioc, std::move(probe), asio::detached);
        ioc.run();
    }
    return answer;
}

struct run_result {
    int concurrency = 0;
    int ahead = 0;  // documents journaled ahead of the slots (workers = concurrency + ahead)
    std::string serie;
    long documents = 0, ok = 0, failed = 0;
    double seconds = 0;
    bench::latency_histogram latency;
    std::map<std::string, long> errors;
    bench::cpu_times cpu;
    std::optional<double> emulator_cpu;
    double peak_rss_mb = 0;
    bool peak_rss_reset = false;
    std::size_t connections_opened = 0;
    std::size_t peak_connections = 0;  // most open at once (<= concurrency)
    double first_wave_s = 0;           // until the first min(C, N) answers: connects and cold start
    std::uint64_t retries = 0, consults = 0, recovered = 0;
    std::uint64_t slot_waits = 0;  // calls that found every slot taken (with look-ahead: most)
    std::optional<double> bound;
    double loadavg = 0;
};

double loadavg1() {
    double v = 0;
    if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &v) != 1) v = 0;
        std::fclose(f);
    }
    return v;
}

// One run at one concurrency: `documents` generated on the fly from the template (fresh numero),
// completed/checked when asked, sent by `concurrency` workers over one client.
run_result run_once(const bench_args& a, target& t, const comprobante& tmpl, int concurrency,
                    const std::string& serie, int index, const std::shared_ptr<store::store>& db,
                    std::optional<std::chrono::microseconds> fixed_latency) {
    run_result r;
    r.concurrency = concurrency;
    // Without a journal there is nothing to batch: no look-ahead unless asked for.
    r.ahead = db && a.journal == "store" ? resolve_ahead(a.ahead, concurrency) : std::max(0, a.ahead);
    r.serie = serie;
    r.loadavg = loadavg1();
    if (fixed_latency && fixed_latency->count() > 0)
        r.bound = concurrency * 1e6 / static_cast<double>(fixed_latency->count());
    const std::string name = fmt::format("bench-{}-{}", getpid(), index);
    auto cfg = base_config(a, t, name, concurrency);
    client_options co;
    if (db) {
        if (a.journal == "memory")
            co.journal = std::make_shared<memory_journal>();
        else
            co.journal = std::shared_ptr<intent_journal>(db, &db->journal());
        co.audit = std::shared_ptr<audit_sink>(db, &db->audit());
    } else {
        co.journal = std::make_shared<null_journal>();
    }

    asio::io_context ioc(1);
    if (db) hand_completions_to(*db, ioc);  // as `nubefact send` does
    auto c = std::make_unique<client>(ioc.get_executor(), cfg, std::move(co));
    long next = 0;
    const long total = a.documents;
    call_options call;
    call.validate = a.check;

    r.peak_rss_reset = bench::reset_peak_rss();
    const auto cpu0 = bench::self_cpu();
    std::optional<double> emu0 = t.pid > 0 ? bench::process_cpu_seconds(t.pid) : std::nullopt;
    const auto t0 = steady::now();
    const auto stop_at =
        a.duration > 0
            ? t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(a.duration))
            : steady::time_point::max();
    // One document object for every worker: generar_comprobante checks (--check) and serializes it
    // before it returns, so each worker gives it the next numero just before its call. Every request
    // is still a distinct complete factura serialized on its own; the template is not copied per
    // document (nor per worker). --complete starts each one from the template again (copy-assigned:
    // the strings keep their capacity), as a program completing fresh documents would.
    comprobante d = tmpl;
    d.serie = serie;
    // Books one answer (outside the worker: its coroutine frame stays small).
    const long first_wave = std::min<long>(concurrency, total);
    long answered = 0;
    auto tally = [&](client::result_type res, steady::time_point s0, long i) {
        const auto now = steady::now();
        r.latency.add(std::chrono::duration_cast<std::chrono::microseconds>(now - s0));
        if (++answered == first_wave) r.first_wave_s = std::chrono::duration<double>(now - t0).count();
        if (res) {
            ++r.ok;
            if (res->recovered) ++r.recovered;
        } else {
            ++r.failed;
            ++r.errors[error_kind(res.error())];
            if (r.failed <= 3 && !a.quiet)
                std::cerr << "nubefact bench: " << serie << "-" << i + 1 << ": " << res.error().what()
                          << "\n";
        }
    };
    // `concurrency` slots (the client's max_concurrency: requests and connections) and `ahead` more
    // workers whose documents are journaled while they wait for one, as `nubefact send` runs.
    for (int w = 0; w < concurrency + r.ahead; ++w) {
        auto worker = [&]() -> asio::awaitable<void> {
            for (;;) {
                const long i = next++;
                if (i >= total || (a.duration > 0 && steady::now() >= stop_at)) co_return;
                if (a.complete) {
                    d = tmpl;
                    d.serie = serie;
                }
                d.numero = i + 1;
                if (a.complete) fiscal::complete(d);
                const auto s0 = steady::now();
                auto task = c->generar_comprobante(d, call);
                tally(co_await std::move(task), s0, i);
            }
        };
        asio::co_spawn(ioc, std::move(worker), asio::detached);
    }
    ioc.run();
    if (db) finish_completions(*db, ioc);  // every journal and audit row committed: measured too
    r.seconds = std::chrono::duration<double>(steady::now() - t0).count();
    const auto cpu1 = bench::self_cpu();
    r.cpu.user = cpu1.user - cpu0.user;
    r.cpu.system = cpu1.system - cpu0.system;
    if (emu0)
        if (auto emu1 = bench::process_cpu_seconds(t.pid)) r.emulator_cpu = *emu1 - *emu0;
    r.peak_rss_mb = bench::peak_rss_mb();
    r.connections_opened = c->connections_opened();
    r.peak_connections = c->peak_connections();
    r.documents = r.ok + r.failed;
    auto& m = default_metrics();
    r.retries = m.counter(name, "retries");
    r.consults = m.counter(name, "consults");
    r.slot_waits = m.counter(name, "concurrency_waits");
    c.reset();
    return r;
}

double round_to(double v, int places) {
    const double p = std::pow(10.0, places);
    return std::round(v * p) / p;
}

boost::json::object run_json(const run_result& r, const target& t) {
    boost::json::object o;
    o["concurrency"] = r.concurrency;
    o["ahead"] = r.ahead;
    o["serie"] = r.serie;
    o["documents"] = r.documents;
    o["ok"] = r.ok;
    o["failed"] = r.failed;
    o["seconds"] = round_to(r.seconds, 4);
    const double dps = r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
    o["docs_per_s"] = round_to(dps, 1);
    if (r.bound) {
        o["bound_docs_per_s"] = round_to(*r.bound, 1);
        o["pct_of_bound"] = round_to(100.0 * dps / *r.bound, 2);
    } else {
        o["bound_docs_per_s"] = nullptr;
    }
    boost::json::object lat;
    lat["p50"] = round_to(r.latency.percentile_ms(50), 3);
    lat["p95"] = round_to(r.latency.percentile_ms(95), 3);
    lat["p99"] = round_to(r.latency.percentile_ms(99), 3);
    lat["max"] = round_to(r.latency.max_ms(), 3);
    o["latency_ms"] = std::move(lat);
    boost::json::object errs;
    for (const auto& [k, v] : r.errors) errs[k] = v;
    o["errors"] = std::move(errs);
    o["recovered"] = r.recovered;
    o["retries"] = r.retries;
    o["consults"] = r.consults;
    o["slot_waits"] = r.slot_waits;
    o["client_cpu_s"] = round_to(r.cpu.total(), 4);
    o["client_cpu_user_s"] = round_to(r.cpu.user, 4);
    o["client_cpu_sys_s"] = round_to(r.cpu.system, 4);
    o["client_cpu_us_per_doc"] = r.documents ? round_to(r.cpu.total() / r.documents * 1e6, 2) : 0.0;
    o["client_cpu_includes_emulator"] = t.mode == "inproc";
    o["peak_rss_mb"] = round_to(r.peak_rss_mb, 1);
    o["peak_rss_per_run"] = r.peak_rss_reset;
    o["connections_opened"] = r.connections_opened;
    o["peak_connections"] = r.peak_connections;
    o["first_wave_s"] = round_to(r.first_wave_s, 4);
    if (r.emulator_cpu) {
        o["emulator_cpu_s"] = round_to(*r.emulator_cpu, 3);
        o["emulator_core_pct"] = r.seconds > 0 ? round_to(100.0 * *r.emulator_cpu / r.seconds, 1) : 0.0;
    } else {
        o["emulator_cpu_s"] = nullptr;
    }
    if (t.validates)
        o["emulator_validated"] = *t.validates;
    else
        o["emulator_validated"] = nullptr;
    o["loadavg_1m_at_start"] = r.loadavg;
    return o;
}

bool write_file(const std::string& path, const std::string& text, std::string& why) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) {
        why = "cannot write " + path;
        return false;
    }
    return true;
}

int run(const bench_args& a) {
    std::string why;
    auto levels = parse_concurrency(a.concurrency, why);
    if (!levels) {
        std::cerr << "nubefact bench: " << why << "\n";
        return exit_usage;
    }
    const std::string lat_text = latency_spec(a.latency);
    auto lat = emulator::latency_model::parse(lat_text, &why);
    if (!lat) {
        std::cerr << "nubefact bench: --latency: " << why << "\n";
        return exit_usage;
    }
    std::string faults_text;
    try {
        faults_text = fault_spec(a.faults);
    } catch (const std::exception&) {
        std::cerr << "nubefact bench: --faults: not a number or a fault list\n";
        return exit_usage;
    }
    auto faults = emulator::fault_rates::parse(faults_text, &why);
    if (!faults) {
        std::cerr << "nubefact bench: --faults: " << why << "\n";
        return exit_usage;
    }
    if (a.url.empty() != a.token.empty()) {
        std::cerr << "nubefact bench: --url and --token go together\n";
        return exit_usage;
    }
    const bool external = !a.url.empty();
    if (external && a.inproc) {
        std::cerr << "nubefact bench: --inproc and --url exclude each other\n";
        return exit_usage;
    }
    if (external && (lat->k != emulator::latency_model::kind::none || faults->any() || a.no_validate))
        std::cerr << "nubefact bench: note: --latency, --faults and --no-validate configure the emulator "
                     "bench starts; with --url they are the external emulator's business\n";

    // The payload.
    std::string text = default_template();
    if (!a.template_file.empty()) {
        std::ifstream in(a.template_file, std::ios::binary);
        if (!in) {
            std::cerr << "nubefact bench: cannot read --template " << a.template_file << "\n";
            return exit_usage;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    auto parsed = json::read_comprobante(text);
    if (has_errors(parsed.findings) || !std::holds_alternative<comprobante>(parsed.doc)) {
        std::cerr << "nubefact bench: the template is not a readable generar_comprobante";
        if (!parsed.findings.empty())
            std::cerr << ": " << parsed.findings.front().path << ": " << parsed.findings.front().message;
        std::cerr << "\n";
        return exit_usage;
    }
    const comprobante tmpl = std::get<comprobante>(parsed.doc);
    if (a.check) {
        comprobante probe = tmpl;
        if (a.complete) fiscal::complete(probe);
        auto fs = fiscal::check(probe);
        if (has_errors(fs)) {
            std::cerr << "nubefact bench: the template fails --check (" << fs.front().path << ": "
                      << fs.front().message << "); every document would be refused locally\n";
            return exit_usage;
        }
    }
    const std::size_t payload_bytes = json::write(tmpl).size();

    // The emulator. Fork before any thread exists in this process.
    emulator::raise_fd_limit();
    target t;
    if (external) {
        t.mode = "external";
        t.ruta = a.url;
        t.token = a.token;
        if (a.emulator_pid > 0) t.pid = a.emulator_pid;
    } else {
        emulator::options eo;
        eo.validate = !a.no_validate;
        eo.max_age_days = 1000000;  // templates may carry a fixed date
        eo.latency = *lat;
        eo.faults = *faults;
        eo.seed = a.seed;
        eo.threads = a.emu_threads;
        t.validates = eo.validate;
        if (a.inproc) {
            t.mode = "inproc";
            t.inproc = std::make_unique<emulator::server>(eo);
            if (!t.inproc->start(&why)) {
                std::cerr << "nubefact bench: emulator: " << why << "\n";
                return exit_failed;
            }
            t.ruta = t.inproc->ruta_url();
            t.token = t.inproc->first_account().tokens.front();
        } else {
            t.mode = "forked";
            if (!fork_emulator(eo, t, why)) {
                std::cerr << "nubefact bench: " << why << "\n";
                return exit_failed;
            }
        }
    }

    // The store for --audit: journal and audit log in SQLite, as `nubefact send` uses them.
    std::shared_ptr<store::store> db;
    std::filesystem::path temp_dir;
    std::string store_shown;
    if (a.audit) {
        std::string url = a.store_url;
        if (url.empty()) {
            temp_dir = std::filesystem::temp_directory_path() / fmt::format("nubefact-bench-{}", getpid());
            std::filesystem::create_directories(temp_dir);
            url = "sqlite:" + (temp_dir / "bench.db").string();
        }
        std::string diag;
        auto st = store::open_store(
            url, store_options_for(a.journal == "store" ? a.ahead : 0, session_options{}.lease()), &diag);
        if (!st) {
            std::cerr << "nubefact bench: cannot open the store " << store::redact_url(url) << ": "
                      << st.error().message() << (diag.empty() ? "" : " (" + diag + ")") << "\n";
            stop_target(t);
            return exit_usage;
        }
        db = std::shared_ptr<store::store>(std::move(*st));
        store_shown = store::redact_url(url);
    }

    std::random_device rd;
    serie_maker series(tmpl.serie && !tmpl.serie->empty() ? (*tmpl.serie)[0] : 'F',
                       (static_cast<std::uint64_t>(rd()) << 32) ^ static_cast<std::uint64_t>(getpid()));
    const auto probed = probe_validation(a, t, tmpl, series.next());
    if (external) t.validates = probed;
    std::optional<std::chrono::microseconds> fixed;
    if (lat->k == emulator::latency_model::kind::fixed) fixed = lat->a;
    if (lat->k == emulator::latency_model::kind::none) fixed = std::chrono::microseconds(0);

    std::vector<run_result> results;
    int index = 0;
    for (int level : *levels) {
        auto r = run_once(a, t, tmpl, level, series.next(), index++, db, external ? std::nullopt : fixed);
        if (!a.quiet)
            std::cerr << fmt::format(
                "nubefact bench: c={:<5}{} {:>8} docs {:>7.2f} s {:>10.1f} docs/s  p50 {:.2f} ms  p99 {:.2f} "
                "ms  "
                "cpu {:.1f} us/doc  rss {:.1f} MB  conns {} (peak {})  first wave {:.3f} s{}{}\n",
                r.concurrency, r.ahead ? fmt::format(" ahead {}", r.ahead) : "", r.documents, r.seconds,
                r.seconds > 0 ? r.ok / r.seconds : 0.0, r.latency.percentile_ms(50),
                r.latency.percentile_ms(99), r.documents ? r.cpu.total() / r.documents * 1e6 : 0.0,
                r.peak_rss_mb, r.connections_opened, r.peak_connections, r.first_wave_s,
                r.failed ? fmt::format("  FAILED {}", r.failed) : "",
                r.emulator_cpu
                    ? fmt::format("  emulator {:.0f}% of a core", 100 * *r.emulator_cpu / r.seconds)
                    : "");
        results.push_back(std::move(r));
    }
    if (db) db->close();
    stop_target(t);
    if (!temp_dir.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(temp_dir, ec);
    }

    boost::json::object doc;
    doc["tool"] = "nubefact bench";
    boost::json::object machine;
    machine["nproc"] = static_cast<std::int64_t>(sysconf(_SC_NPROCESSORS_ONLN));
    machine["cpu"] = bench::cpu_model();
    doc["machine"] = std::move(machine);
    boost::json::object settings;
    settings["documents"] = a.documents;
    settings["latency"] = lat->to_string();
    settings["faults"] = faults_text;
    settings["emulator"] = t.mode;
    if (t.mode != "external") settings["emulator_threads"] = a.emu_threads;
    if (t.validates)
        settings["emulator_validated"] = *t.validates;
    else
        settings["emulator_validated"] = nullptr;
    if (probed)
        settings["validation_probe"] = *probed ? "codigo 20 on a wrong total" : "wrong total accepted";
    else
        settings["validation_probe"] = "inconclusive";
    settings["complete"] = a.complete;
    settings["check"] = a.check;
    settings["audit"] = a.audit;
    settings["journal"] = a.audit ? a.journal : "none";
    if (a.audit) settings["store"] = store_shown;
    settings["payload_bytes"] = payload_bytes;
    settings["client_threads"] = 1;
    if (a.duration > 0) settings["duration_s"] = a.duration;
    doc["settings"] = std::move(settings);
    boost::json::array runs;
    std::vector<bench::chart_point> points;
    long failed = 0;
    for (const auto& r : results) {
        runs.push_back(run_json(r, t));
        points.push_back({r.concurrency, r.seconds > 0 ? r.ok / r.seconds : 0.0, r.bound});
        failed += r.failed;
    }
    doc["runs"] = std::move(runs);
    std::string out = bench::pretty_json(doc);
    if (a.out.empty() || a.out == "-") {
        std::cout << out << std::flush;
    } else if (!write_file(a.out, out, why)) {
        std::cerr << "nubefact bench: " << why << "\n";
        return exit_usage;
    }
    if (!a.chart.empty()) {
        std::string subtitle = fmt::format(
            "{} documents per run, latency {}, emulator {} (validation {}){}{}{}, nproc {}", a.documents,
            lat->to_string(), t.mode, t.validates ? (*t.validates ? "on" : "off") : "unknown",
            a.complete ? ", complete" : "", a.check ? ", check" : "",
            a.audit ? (a.journal == "memory" ? ", audit log (journal in memory)" : ", audit log + journal")
                    : "",
            sysconf(_SC_NPROCESSORS_ONLN));
        if (!write_file(a.chart,
                        bench::svg_chart(points, "nubefact bench: documents/s by concurrency", subtitle),
                        why)) {
            std::cerr << "nubefact bench: " << why << "\n";
            return exit_usage;
        }
    }
    return failed == 0 ? exit_ok : exit_failed;
}

std::function<int()> setup(CLI::App& sub) {
    auto a = std::make_shared<bench_args>();
    sub.footer(
        "Each run sends --documents generar_comprobante requests, generated one at a time from the template\n"
        "(a fresh serie per run, numero 1..N), through one client with --concurrency documents in flight.\n"
        "By default the emulator runs in a forked child process, so the client's CPU (getrusage of this\n"
        "process) and the emulator's (read from /proc) are measured apart.\n\n"
        "JSON (stdout or --out): settings, then per run: docs_per_s, latency_ms p50/p95/p99/max, errors by\n"
        "kind, client_cpu_s and client_cpu_us_per_doc, peak_rss_mb, connections_opened, peak_connections, "
        "first_wave_s (until the first C answers: the connects and cold start), "
        "emulator_cpu_s,\n"
        "emulator_validated. Exit code 1 when any document failed.\n\n"
        "Examples:\n"
        "  nubefact bench -n 100000 -c 10 --complete --check --audit\n"
        "  nubefact bench -n 200000 -c 1,10,64,256,1000 --latency 50 --chart bench.svg --out bench.json\n"
        "  nubefact bench --url http://127.0.0.1:8000/api/v1/demo --token demo-token --emulator-pid PID\n"
        "  nubefact bench -n 1000 -c 16 --faults 0.05    # 5 % of requests fail: retries, reconciliation");
    sub.add_option("-n,--documents", a->documents, "Documents per run")
        ->capture_default_str()
        ->check(CLI::Range(1L, 1000000000L));
    sub.add_option("-c,--concurrency", a->concurrency,
                   "Documents in flight: one value or a list (one run each), e.g. 1,10,64,256,1000")
        ->capture_default_str();
    sub.add_option("-l,--latency", a->latency,
                   "Emulator latency: MS (fixed), none, fixed:MS, uniform:A-B or lognormal:MEDIAN,P99")
        ->capture_default_str();
    sub.add_option("-f,--faults", a->faults,
                   "Emulator faults: a total rate F (spread over 500, reset, commit_drop) or a list like "
                   "500:0.01,reset:0.01,commit_drop:0.01,stall:0.001");
    sub.add_flag("--inproc", a->inproc,
                 "Run the emulator in this process (its CPU then counts as the client's)");
    sub.add_option("--url", a->url, "An external emulator's RUTA, e.g. http://127.0.0.1:8000/api/v1/demo");
    sub.add_option("--token", a->token, "Its token (never printed)");
    sub.add_option("--auth", a->auth, "Authorization header form: bare or token_token")
        ->capture_default_str()
        ->check(CLI::IsMember({"bare", "token_token"}));
    sub.add_option("--emulator-pid", a->emulator_pid,
                   "With --url: the emulator's process id, to report its CPU time from /proc");
    sub.add_option("--emulator-threads", a->emu_threads, "io threads of the emulator bench starts")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    sub.add_flag("--no-validate", a->no_validate,
                 "The emulator bench starts skips the codec and fiscal checks (measures the client alone)");
    sub.add_flag("--complete", a->complete, "fiscal::complete every document before sending");
    sub.add_flag("--check", a->check,
                 "fiscal::check every document before sending (the client's validation)");
    sub.add_flag("--audit", a->audit,
                 "Journal every intent and audit every exchange in a store (SQLite in a temporary directory "
                 "unless --store), as `nubefact send` does");
    sub.add_option("--store", a->store_url, "With --audit: sqlite:PATH or postgresql://…");
    sub.add_option(
           "--journal", a->journal,
           "With --audit, where the intent journal lives: store (durable, as `nubefact send` runs it; "
           "the default) or memory (the client's bounded in-memory journal, as `send --no-store`: only "
           "the audit log goes to the store)")
        ->check(CLI::IsMember({"store", "memory"}));
    sub.add_option("--ahead", a->ahead,
                   std::string(ahead_help) +
                       ". Without the store's journal (no --audit, or --journal memory) the default is 0")
        ->check(CLI::Range(0, 100000));
    sub.add_option(
        "--template", a->template_file,
        "generar_comprobante JSON used for every document (default: a two-line factura dated today)");
    sub.add_option("-o,--out", a->out, "Write the JSON results here instead of stdout");
    sub.add_option("--chart", a->chart, "Write an SVG chart of documents/s against concurrency here");
    sub.add_option("--duration", a->duration, "Stop handing out documents after this many seconds per run")
        ->check(CLI::Range(0.0, 86400.0));
    sub.add_option("--timeout", a->timeout, "Seconds per HTTP attempt (a call may take 4x with retries)")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 3600.0));
    sub.add_option("--seed", a->seed, "Emulator seed for latency and faults")->capture_default_str();
    sub.add_flag("-q,--quiet", a->quiet, "No per-run lines on stderr");
    return [a] { return run(*a); };
}

registrar reg{{"bench", "load test: documents/s, latency, CPU and memory against the emulator", setup, 85}};

}  // namespace
}  // namespace nubefact::cli
