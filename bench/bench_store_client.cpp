// Client documents/s with the durable journal and audit trail (the store) against the emulator in a
// forked child, compared with the in-memory journal: what exactly-once on disk costs end to end.
// Usage: bench_store_client [--store URL|memory] [--docs N] [--concurrency C]
// Prints one JSON object.
#include <nubefact/client.hpp>
#include <nubefact/client_memory.hpp>
#include <nubefact/emulator.hpp>
#include <nubefact/json.hpp>
#include <nubefact/store.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

using namespace nubefact;
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

comprobante make_template(const std::string& serie) {
    auto now = std::chrono::system_clock::now() - std::chrono::hours(5);  // Lima
    date today =
        date::from_days(std::chrono::duration_cast<std::chrono::hours>(now.time_since_epoch()).count() / 24);
    std::string text = R"({"tipo_de_comprobante":1,"serie":")" + serie +
                       R"(","numero":1,"sunat_transaction":1,
 "cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771","cliente_denominacion":"CLIENTE SAC",
 "cliente_direccion":"AV. LIMA 123","fecha_de_emision":")" +
                       today.to_wire() + R"(","moneda":1,"porcentaje_de_igv":18.00,
 "total_gravada":30.00,"total_igv":5.40,"total":35.40,"enviar_automaticamente_a_la_sunat":true,
 "enviar_automaticamente_al_cliente":false,"items":[
  {"unidad_de_medida":"NIU","codigo":"P01","descripcion":"CUADERNO A4","cantidad":3,"valor_unitario":10.00,
   "precio_unitario":11.80,"subtotal":30.00,"tipo_de_igv":1,"igv":5.40,"total":35.40}]})";
    return std::get<comprobante>(json::read_comprobante(text).doc);
}

}  // namespace

int main(int argc, char** argv) {
    std::string store_url = "memory";
    long docs = 10000;
    int concurrency = 64;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--store")
            store_url = next();
        else if (a == "--docs")
            docs = std::stol(next());
        else if (a == "--concurrency")
            concurrency = std::stoi(next());
        else {
            std::fprintf(stderr,
                         "usage: bench_store_client [--store URL|memory] [--docs N] [--concurrency C]\n");
            return 2;
        }
    }
    std::mt19937 rng(std::random_device{}());
    std::string serie = "F";
    for (int i = 0; i < 3; ++i) serie += "ABCDEFGHJKLMNPQRSTUVWXYZ"[rng() % 24];

    emulator::raise_fd_limit();
    int fds[2];
    if (pipe(fds) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        emulator::options o;
        o.validate = false;
        emulator::server s(o);
        if (!s.start()) _exit(1);
        std::string line = s.ruta_url() + " " + s.first_account().tokens.front() + "\n";
        if (write(fds[1], line.data(), line.size()) < 0) _exit(1);
        close(fds[1]);
        pause();
        _exit(0);
    }
    close(fds[1]);
    char buf[512];
    auto n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    if (n <= 0) return 1;
    std::string line(buf, static_cast<std::size_t>(n));
    auto sp = line.find(' ');

    account_config cfg;
    cfg.name = "bench";
    cfg.ruta = line.substr(0, sp);
    cfg.token = line.substr(sp + 1, line.find('\n') - sp - 1);
    cfg.rate.requests_per_second = 0;
    cfg.max_concurrency = concurrency;
    cfg.validate = false;

    std::shared_ptr<store::store> st;
    client_options co;
    if (store_url == "memory") {
        co.journal = std::make_shared<memory_journal>();
    } else {
        std::string why;
        auto s = store::open_store(store_url, {}, &why);
        if (!s) {
            std::fprintf(stderr, "open_store: %s\n", why.c_str());
            kill(child, SIGTERM);
            return 1;
        }
        st = std::shared_ptr<store::store>(std::move(*s));
        co.journal = std::shared_ptr<intent_journal>(st, &st->journal());
        co.audit = std::shared_ptr<audit_sink>(st, &st->audit());
    }
    asio::io_context ioc(1);
    long ok = 0, failed = 0;
    {
        client c(ioc.get_executor(), cfg, co);
        const comprobante tmpl = make_template(serie);
        std::atomic<long> next{0};
        auto t0 = steady::now();
        for (int w = 0; w < concurrency; ++w) {
            auto worker = [&]() -> asio::awaitable<void> {
                for (;;) {
                    long i = next++;
                    if (i >= docs) co_return;
                    comprobante d = tmpl;
                    d.numero = i + 1;
                    auto r = co_await c.generar_comprobante(std::move(d));
                    if (r)
                        ++ok;
                    else if (++failed <= 3)
                        std::fprintf(stderr, "failed: %s\n", r.error().what().c_str());
                }
            };
            asio::co_spawn(ioc, std::move(worker), asio::detached);
        }
        ioc.run();
        if (st) st->flush();  // the last audit rows are on disk too
        double wall = std::chrono::duration<double>(steady::now() - t0).count();
        std::printf(
            "{\"journal\":\"%s\",\"concurrency\":%d,\"documents\":%ld,\"ok\":%ld,\"failed\":%ld,\"seconds\":%"
            ".3f,"
            "\"docs_per_s\":%.1f}\n",
            store_url == "memory" ? "memory" : store::redact_url(store_url).c_str(), concurrency, ok + failed,
            ok, failed, wall, static_cast<double>(ok) / wall);
    }
    kill(child, SIGTERM);
    waitpid(child, nullptr, 0);
    return failed == 0 ? 0 : 1;
}
