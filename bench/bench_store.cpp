// Store throughput: audit rows/s through the batching writer, intent record+update round trips/s
// (one at a time and many in flight), on SQLite (WAL, synchronous FULL and NORMAL) and on
// PostgreSQL when NUBEFACT_TEST_PG_URL is set (scripts/pg.sh start).
#include <nubefact/store.hpp>

#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <string>

namespace {

using namespace nubefact;

struct target {
    std::string name, url;
};

std::unique_ptr<store::store> open_target(const target& t) {
    store::store_options o;
    o.secret_key = "";
    std::string why;
    auto s = store::open_store(t.url, o, &why);
    if (!s) throw std::runtime_error("open_store(" + store::redact_url(t.url) + "): " + why);
    return std::move(*s);
}

audit_record sample_row(std::int64_t i) {
    audit_record a;
    a.at = std::chrono::system_clock::now();
    a.account = "bench";
    a.operation = "generar_comprobante";
    a.document = "F001-" + std::to_string(i);
    a.http_status = 200;
    a.outcome = "ok";
    a.latency = std::chrono::microseconds(12'345);
    a.request_bytes = 1800;
    a.response_bytes = 600;
    return a;
}

void bm_audit_rows(benchmark::State& state, target t) {
    auto s = open_target(t);
    constexpr std::int64_t rows = 50'000;
    std::int64_t n = 0;
    for (auto _ : state) {
        for (std::int64_t i = 0; i < rows; ++i) {
            audit_record r = sample_row(n++);
            while (!s->audit().try_write(audit_record(r))) {
                std::promise<void> p;
                auto f = p.get_future();
                s->audit().wait_for_space([&p] { p.set_value(); });
                f.wait();
            }
        }
        s->flush();  // committed, not just queued
    }
    state.SetItemsProcessed(state.iterations() * rows);
    state.counters["rows/s"] =
        benchmark::Counter(static_cast<double>(state.iterations() * rows), benchmark::Counter::kIsRate);
}

intent sample_intent(std::int64_t i, std::uint32_t run) {
    intent x;
    x.account = "bench";
    // Appended, not "R" + to_string(): GCC 12 -O2 warns falsely (-Wrestrict) on the latter.
    std::string serie = "R";
    serie += std::to_string(run);
    x.key = {1, std::move(serie), i};
    x.payload_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    x.payload = R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"F001","numero":)" +
                std::to_string(i) + "}";
    return x;
}

// One document at a time: record (durable) -> update(accepted) (durable) -> next.
void bm_intent_sequential(benchmark::State& state, target t) {
    auto s = open_target(t);
    std::uint32_t run = std::random_device{}();
    std::int64_t i = 0;
    for (auto _ : state) {
        auto x = sample_intent(i++, run);
        std::promise<void> p1;
        s->journal().record(x, [&](result<intent_journal::record_result>) { p1.set_value(); });
        p1.get_future().wait();
        state_update u;
        u.state = doc_state::accepted;
        u.count_attempt = true;
        std::promise<void> p2;
        s->journal().update(x.account, x.key, u, [&](result<void>) { p2.set_value(); });
        p2.get_future().wait();
    }
    state.SetItemsProcessed(state.iterations());
}

// `inflight` documents in flight (like the client's concurrency): each record's completion issues
// its update; the writer batches whatever is queued into one transaction.
void bm_intent_concurrent(benchmark::State& state, target t) {
    auto s = open_target(t);
    const int inflight = static_cast<int>(state.range(0));
    constexpr int per_iteration = 5000;
    std::uint32_t run = std::random_device{}();
    std::int64_t next = 0;
    for (auto _ : state) {
        std::mutex mu;
        std::condition_variable cv;
        int outstanding = 0, done = 0;
        for (int k = 0; k < per_iteration; ++k) {
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return outstanding < inflight; });
                ++outstanding;
            }
            auto x = sample_intent(next++, run);
            s->journal().record(x, [&, acct = x.account, key = x.key](result<intent_journal::record_result>) {
                state_update u;
                u.state = doc_state::accepted;
                u.count_attempt = true;
                s->journal().update(acct, key, u, [&](result<void>) {
                    std::lock_guard lk(mu);
                    --outstanding;
                    ++done;
                    cv.notify_all();
                });
            });
        }
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return done == per_iteration; });
    }
    state.SetItemsProcessed(state.iterations() * per_iteration);
}

std::string make_pg_schema(const std::string& base, std::string& schema) {
    schema = "nf_bench_" + std::to_string(::getpid());
    PGconn* c = PQconnectdb(base.c_str());
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult* r =
            PQexec(c, ("DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema).c_str());
        PQclear(r);
    }
    PQfinish(c);
    return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

void drop_pg_schema(const std::string& base, const std::string& schema) {
    PGconn* c = PQconnectdb(base.c_str());
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    if (PQstatus(c) == CONNECTION_OK) PQclear(PQexec(c, ("DROP SCHEMA " + schema + " CASCADE").c_str()));
    PQfinish(c);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    auto dir =
        std::filesystem::temp_directory_path() / ("nubefact-bench-store-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::vector<target> targets = {
        {"sqlite_full", "sqlite:" + (dir / "full.db").string() + "?synchronous=full"},
        {"sqlite_normal", "sqlite:" + (dir / "normal.db").string() + "?synchronous=normal"},
    };
    std::string pg_base, pg_schema;
    if (const char* pg = std::getenv("NUBEFACT_TEST_PG_URL"); pg && *pg) {
        pg_base = pg;
        targets.push_back({"postgresql", make_pg_schema(pg_base, pg_schema)});
    }
    for (const auto& t : targets) {
        benchmark::RegisterBenchmark(("audit_rows/" + t.name).c_str(), bm_audit_rows, t)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(2.0);
        benchmark::RegisterBenchmark(("intent_sequential/" + t.name).c_str(), bm_intent_sequential, t)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime()
            ->MinTime(2.0);
        benchmark::RegisterBenchmark(("intent_concurrent/" + t.name).c_str(), bm_intent_concurrent, t)
            ->Arg(64)
            ->Arg(512)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(2.0);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (!pg_schema.empty()) drop_pg_schema(pg_base, pg_schema);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return 0;
}
