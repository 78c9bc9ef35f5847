// Client load benchmark: documents/s, client CPU per document (getrusage), peak RSS and connections,
// against an emulator in a forked child process (default, --emu-threads N), an external one
// (--ruta URL --token T, e.g. `nubefact emulator`) or an in-process one (--inproc, CPU shared).
// Usage: bench_client [--ruta URL --token T | --inproc] [--docs N] [--seconds S] [--concurrency C]
//                     [--latency MODEL] [--emu-threads N] [--validate] [--serie SSSS] [--audit]
//                     [--journal null|memory]
// Prints one JSON object per run.
#include <nubefact/client.hpp>
#include <nubefact/client_memory.hpp>
#include <nubefact/emulator.hpp>
#include <nubefact/json.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

using namespace nubefact;
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

date lima_today() {
    auto now = std::chrono::system_clock::now() - std::chrono::hours(5);
    return date::from_days(std::chrono::duration_cast<std::chrono::hours>(now.time_since_epoch()).count() /
                           24);
}

comprobante template_factura(const std::string& serie) {
    std::string text = R"({"tipo_de_comprobante":1,"serie":")" + serie +
                       R"(","numero":1,"sunat_transaction":1,
 "cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771","cliente_denominacion":"CLIENTE SAC",
 "cliente_direccion":"AV. SIEMPRE VIVA 123 LIMA","fecha_de_emision":")" +
                       lima_today().to_wire() + R"(","moneda":1,"porcentaje_de_igv":18.00,
 "total_gravada":44.83,"total_igv":8.07,"total":52.90,"enviar_automaticamente_a_la_sunat":true,
 "enviar_automaticamente_al_cliente":false,"items":[
  {"unidad_de_medida":"NIU","codigo":"P01","descripcion":"CUADERNO A4","cantidad":3,"valor_unitario":10.00,
   "precio_unitario":11.80,"subtotal":30.00,"tipo_de_igv":1,"igv":5.40,"total":35.40},
  {"unidad_de_medida":"NIU","codigo":"P02","descripcion":"LAPICERO AZUL","cantidad":7,
   "valor_unitario":2.1186440678,"precio_unitario":2.50,"subtotal":14.83,"tipo_de_igv":1,"igv":2.67,"total":17.50}]})";
    return std::get<comprobante>(json::read_comprobante(text).doc);
}

// Forgets every intent: measures the client, not an ever-growing in-memory map (--journal memory
// keeps them).
class null_journal final : public intent_journal {
  public:
    void record(const intent& what, std::function<void(result<record_result>)> done) override {
        intent_record r;
        r.what.account = what.account;
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

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long peak_rss_kb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    std::string ruta, token, latency = "none", serie;
    long docs = 20000;
    double seconds = 0;
    int concurrency = 64, emu_threads = 1;
    bool validate = false, inproc = false, audit = false, memory_journal_on = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--ruta")
            ruta = next();
        else if (a == "--token")
            token = next();
        else if (a == "--docs")
            docs = std::stol(next());
        else if (a == "--seconds")
            seconds = std::stod(next());
        else if (a == "--concurrency")
            concurrency = std::stoi(next());
        else if (a == "--latency")
            latency = next();
        else if (a == "--validate")
            validate = true;
        else if (a == "--emu-threads")
            emu_threads = std::stoi(next());
        else if (a == "--inproc")
            inproc = true;
        else if (a == "--audit")
            audit = true;
        else if (a == "--journal")
            memory_journal_on = next() == "memory";
        else if (a == "--serie")
            serie = next();
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if (serie.empty()) {
        std::mt19937 rng(std::random_device{}());
        const char* abc = "ABCDEFGHJKLMNPQRSTUVWXYZ";
        serie = "F";
        for (int i = 0; i < 3; ++i) serie += abc[rng() % 24];
    }
    emulator::raise_fd_limit();
    std::unique_ptr<emulator::server> srv;
    pid_t child = -1;
    if (!inproc && ruta.empty()) {
        // The emulator in a child process: its CPU is not counted in ours (RUSAGE_SELF).
        int fds[2];
        if (pipe(fds) != 0) return 1;
        child = fork();
        if (child == 0) {
            close(fds[0]);
            emulator::options o;
            o.validate = false;
            o.threads = emu_threads;
            o.latency = emulator::latency_model::parse(latency).value();
            emulator::server s(o);
            if (!s.start()) _exit(1);
            std::string line = s.ruta_url() + " " + s.first_account().tokens.front() + "\n";
            if (write(fds[1], line.data(), line.size()) < 0) _exit(1);
            close(fds[1]);
            pause();  // until the parent's SIGTERM
            _exit(0);
        }
        close(fds[1]);
        char buf[512];
        auto n = read(fds[0], buf, sizeof buf - 1);
        close(fds[0]);
        if (n <= 0) return 1;
        std::string line(buf, static_cast<std::size_t>(n));
        auto sp = line.find(' ');
        ruta = line.substr(0, sp);
        token = line.substr(sp + 1, line.find('\n') - sp - 1);
    }
    if (inproc) {
        emulator::options o;
        o.validate = false;
        o.latency = emulator::latency_model::parse(latency).value();
        srv = std::make_unique<emulator::server>(o);
        std::string err;
        if (!srv->start(&err)) {
            std::fprintf(stderr, "emulator: %s\n", err.c_str());
            return 1;
        }
        ruta = srv->ruta_url();
        token = srv->first_account().tokens.front();
    }
    account_config cfg;
    cfg.name = "bench";
    cfg.ruta = ruta;
    cfg.token = token;
    cfg.rate.requests_per_second = 0;
    cfg.max_concurrency = concurrency;
    cfg.request_timeout = std::chrono::seconds(30);
    cfg.total_timeout = std::chrono::seconds(120);
    cfg.validate = validate;

    asio::io_context ioc(1);
    std::shared_ptr<intent_journal> journal;
    if (memory_journal_on)
        journal = std::make_shared<memory_journal>();
    else
        journal = std::make_shared<null_journal>();
    auto sink = audit ? std::make_shared<memory_audit_sink>(std::size_t(1) << 30) : nullptr;
    client c(ioc.get_executor(), cfg, client_options{journal, sink});
    const comprobante tmpl = template_factura(serie);

    std::atomic<long> next{0};
    long ok = 0, failed = 0;
    auto t0 = steady::now();
    auto stop_at =
        seconds > 0
            ? t0 + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds))
            : steady::time_point::max();
    double cpu0 = cpu_seconds();
    for (int w = 0; w < concurrency; ++w) {
        auto worker = [&]() -> asio::awaitable<void> {
            for (;;) {
                long i = next++;
                if (i >= docs || steady::now() >= stop_at) co_return;
                comprobante d = tmpl;
                d.numero = i + 1;
                auto r = co_await c.generar_comprobante(std::move(d));
                if (r)
                    ++ok;
                else {
                    if (++failed <= 3) std::fprintf(stderr, "failed: %s\n", r.error().what().c_str());
                }
                if (sink && sink->size() > 100000) sink->drain();
            }
        };
        asio::co_spawn(ioc, std::move(worker), asio::detached);
    }
    ioc.run();
    double wall = std::chrono::duration<double>(steady::now() - t0).count();
    double cpu = cpu_seconds() - cpu0;
    long n = ok + failed;
    // With a fixed latency L the ideal is concurrency / L documents per second.
    std::string bound = "null";
    if (latency.rfind("fixed:", 0) == 0) {
        double ms = std::stod(latency.substr(6));
        if (ms > 0) bound = std::to_string(static_cast<long>(concurrency * 1000.0 / ms));
    }
    std::printf(
        "{\"mode\":\"%s\",\"latency\":\"%s\",\"concurrency\":%d,\"validate\":%s,\"documents\":%ld,\"ok\":%ld,"
        "\"failed\":%ld,\"seconds\":%.3f,\"docs_per_s\":%.1f,\"cpu_s\":%.3f,\"cpu_us_per_doc\":%.1f,"
        "\"peak_rss_mb\":%.1f,\"connections_opened\":%zu,\"connections_open\":%zu,\"bound_docs_per_s\":%s}\n",
        srv ? "inproc" : (child > 0 ? "forked" : "external"), latency.c_str(), concurrency,
        validate ? "true" : "false", n, ok, failed, wall, static_cast<double>(ok) / wall, cpu,
        n ? cpu / static_cast<double>(n) * 1e6 : 0.0, static_cast<double>(peak_rss_kb()) / 1024.0,
        c.connections_opened(), c.open_connections(), bound.c_str());
    if (child > 0) {
        kill(child, SIGTERM);
        waitpid(child, nullptr, 0);
    }
    return failed == 0 ? 0 : 1;
}
