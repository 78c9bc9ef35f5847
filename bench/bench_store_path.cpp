// The store's cost in the client's sending path, without HTTP: C coroutines on one io_context each
// run the client's sequence per document (record as `sending` → wait → audit row → final state
// written behind; --three-waits: the session-2 sequence record → sending → audit → final, each
// waited for). Completions are posted back to the io thread. Reports documents/s and CPU µs per
// document (process, and the io thread alone). --dispatch: the store hands each batch's completions
// to the io thread in one post (store::set_completion_dispatch). Usage: bench_store_path [--store URL]
// [--docs N] [--concurrency C] [--reps R] [--bodies] [--payload-bytes N] [--three-waits] [--dispatch]
// [--no-audit] [--no-final] (leave out the audit row / the final state, to price each part).
// One JSON line per repetition.
#include <nubefact/store.hpp>

#include <sys/resource.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

using namespace nubefact;
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

// As the client's detail::await_callback: the completion is posted to the caller's executor.
template <class T, class Start>
asio::awaitable<T> await_cb(Start& start) {
    auto ex = co_await asio::this_coro::executor;
    auto init = [ex, &start](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        start([ex, h](T v) {
            asio::post(ex, [h, v = std::move(v)]() mutable { std::move (*h)(std::move(v)); });
        });
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(std::move(init),
                                                                                     asio::use_awaitable);
}

double process_cpu() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
double thread_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
    std::string url;
    long docs = 20000;
    int concurrency = 10, reps = 1;
    bool bodies = false, three_waits = false, dispatch = false, no_audit = false, no_final = false;
    std::size_t payload_bytes = 1500;  // a canonical factura is ~1.5 KB
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--store")
            url = next();
        else if (a == "--docs")
            docs = std::stol(next());
        else if (a == "--concurrency")
            concurrency = std::stoi(next());
        else if (a == "--reps")
            reps = std::stoi(next());
        else if (a == "--bodies")
            bodies = true;
        else if (a == "--payload-bytes")
            payload_bytes = std::stoul(next());
        else if (a == "--three-waits")
            three_waits = true;
        else if (a == "--dispatch")
            dispatch = true;
        else if (a == "--no-audit")
            no_audit = true;
        else if (a == "--no-final")
            no_final = true;
        else {
            std::fprintf(stderr,
                         "usage: bench_store_path [--store URL] [--docs N] [--concurrency C] [--reps R] "
                         "[--bodies] [--payload-bytes N] [--three-waits] [--dispatch] [--no-audit] "
                         "[--no-final]\n");
            return 2;
        }
    }
    std::filesystem::path dir;
    if (url.empty()) {
        dir = std::filesystem::temp_directory_path() / ("bench_store_path." + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        url = "sqlite:" + (dir / "b.db").string();
    }
    std::string why;
    auto opened = store::open_store(url, {}, &why);
    if (!opened) {
        std::fprintf(stderr, "open_store: %s\n", why.c_str());
        return 1;
    }
    std::shared_ptr<store::store> st(std::move(*opened));
    const std::string payload(payload_bytes, 'x');
    const std::string hash(64, 'a');
    std::mt19937 rng(std::random_device{}());

    for (int rep = 0; rep < reps; ++rep) {
        std::string serie = "F";
        for (int i = 0; i < 3; ++i) serie += "ABCDEFGHJKLMNPQRSTUVWXYZ"[rng() % 24];
        asio::io_context ioc(1);
        if (dispatch)
            st->set_completion_dispatch(
                [ex = ioc.get_executor()](std::function<void()> f) { asio::post(ex, std::move(f)); });
        long next = 0, failed = 0;
        std::atomic<long> late_failed{0};  // final states written behind (the writer thread)
        const double cpu0 = process_cpu(), io0 = thread_cpu();
        const auto t0 = steady::now();
        for (int w = 0; w < concurrency; ++w) {
            auto worker = [&]() -> asio::awaitable<void> {
                for (;;) {
                    const long n = next++;
                    if (n >= docs) co_return;
                    intent in{"bench", operation::generar_comprobante, document_key{1, serie, n + 1}, hash,
                              payload};
                    in.sending = !three_waits;
                    auto rec_start = [&](std::function<void(result<intent_journal::record_result>)> cb) {
                        st->journal().record(in, std::move(cb));
                    };
                    auto rec = co_await await_cb<result<intent_journal::record_result>>(rec_start);
                    if (!rec || !rec->created) {
                        if (++failed == 1)
                            std::fprintf(
                                stderr, "first failure: %s\n",
                                rec ? "the intent was already journaled" : rec.error().message().c_str());
                        continue;
                    }
                    state_update sending;
                    sending.state = doc_state::sending;
                    sending.count_attempt = true;
                    sending.op = operation::generar_comprobante;
                    auto up1 = [&](std::function<void(result<void>)> cb) {
                        st->journal().update("bench", in.key, sending, std::move(cb));
                    };
                    if (three_waits && !co_await await_cb<result<void>>(up1)) ++failed;
                    audit_record a;
                    a.at = std::chrono::system_clock::now();
                    a.account = "bench";
                    a.operation = "generar_comprobante";
                    a.document = in.key.to_string();
                    a.http_status = 200;
                    a.outcome = "ok";
                    a.latency = std::chrono::microseconds(900);
                    a.request_bytes = payload.size() + 200;
                    a.response_bytes = 600;
                    if (bodies) {
                        a.request_body = payload;
                        a.response_body = std::string(500, 'y');
                    }
                    while (!no_audit && !st->audit().try_write(std::move(a))) {
                        auto space = [&](std::function<void(bool)> cb) {
                            st->audit().wait_for_space([cb] { cb(true); });
                        };
                        co_await await_cb<bool>(space);
                    }
                    state_update fin;
                    fin.state = doc_state::accepted;
                    fin.op = operation::generar_comprobante;
                    fin.aceptada_por_sunat = true;
                    fin.sunat_responsecode = "0";
                    fin.sunat_description = "La Factura numero " + in.key.to_string() + ", ha sido aceptada";
                    fin.sunat_note = "";
                    const std::string link = "https://www.pse.pe/cpe/" + hash.substr(0, 36);
                    fin.enlace = link;
                    fin.enlace_del_pdf = link + ".pdf";
                    fin.enlace_del_xml = link + ".xml";
                    fin.enlace_del_cdr = link + ".cdr";
                    if (no_final) {
                        // priced apart: the document stays `sending`
                    } else if (three_waits) {
                        auto up2 = [&](std::function<void(result<void>)> cb) {
                            st->journal().update("bench", in.key, fin, std::move(cb));
                        };
                        if (!co_await await_cb<result<void>>(up2)) ++failed;
                    } else {  // written behind, as the client does: nobody waits for it
                        st->journal().update("bench", in.key, fin, [&late_failed](result<void> r) {
                            if (!r) ++late_failed;
                        });
                    }
                }
            };
            asio::co_spawn(ioc, std::move(worker), asio::detached);
        }
        ioc.run();
        const double io_cpu = thread_cpu() - io0;
        st->set_completion_dispatch(nullptr);
        st->flush();
        failed += late_failed.load();
        const double wall = std::chrono::duration<double>(steady::now() - t0).count();
        const double cpu = process_cpu() - cpu0;
        std::printf(
            "{\"store\":\"%s\",\"concurrency\":%d,\"documents\":%ld,\"failed\":%ld,\"seconds\":%.3f,"
            "\"docs_per_s\":%.0f,\"cpu_us_per_doc\":%.1f,\"io_thread_cpu_us_per_doc\":%.1f,"
            "\"other_threads_cpu_us_per_doc\":%.1f}\n",
            store::redact_url(url).c_str(), concurrency, docs, failed, wall, static_cast<double>(docs) / wall,
            cpu * 1e6 / static_cast<double>(docs), io_cpu * 1e6 / static_cast<double>(docs),
            (cpu - io_cpu) * 1e6 / static_cast<double>(docs));
        std::fflush(stdout);
    }
    st->close();
    st.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
    return 0;
}
