// The client against the real emulator over 127.0.0.1: exactly-once under every fault kind, timeouts,
// every operation, codigo handling, conflicts, rate limit, TLS verification.
#include "support.hpp"

#include <nubefact/client_memory.hpp>
#include "client/transport.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

using namespace nubefact;
using namespace clienttest;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace emu = nubefact::emulator;

namespace {

emu::options quiet_options() {
    emu::options o;
    o.seed = 11;
    o.retry_after = std::chrono::seconds(0);  // 429/503 say "Retry-After: 0": no pauses in fast tests
    return o;
}

// Sends `count` facturas serie/1..count with `workers` coroutines on one io thread; returns replies.
struct batch_result {
    std::vector<client::result_type> results;
    int recovered = 0, ok = 0;
};

batch_result send_batch(client& c, asio::io_context& ioc, const std::string& serie, int count, int workers,
                        bool validate = false) {
    batch_result out;
    out.results.resize(static_cast<std::size_t>(count));
    std::atomic<int> next{0};
    for (int w = 0; w < workers; ++w) {
        auto worker = [&]() -> asio::awaitable<void> {
            for (;;) {
                int i = next++;
                if (i >= count) co_return;
                call_options o;
                o.validate = validate;
                auto doc = factura(serie, i + 1);
                out.results[static_cast<std::size_t>(i)] = co_await c.generar_comprobante(std::move(doc), o);
            }
        };
        asio::co_spawn(ioc, std::move(worker), asio::detached);
    }
    ioc.run();
    for (auto& r : out.results) {
        if (r) {
            ++out.ok;
            if (r->recovered) ++out.recovered;
        }
    }
    return out;
}

}  // namespace

TEST(ClientEmulator, GenerarAndConsultarEveryOperation) {
    auto o = quiet_options();
    emu::server srv(o);
    std::string err;
    ASSERT_TRUE(srv.start(&err)) << err;
    auto journal = std::make_shared<memory_journal>();
    auto audit = std::make_shared<memory_audit_sink>();
    auto cfg = account_for(srv, "ops");
    cfg.audit_bodies = true;
    blocking_client bc(cfg, client_options{journal, audit});

    auto r = bc.generar_comprobante(factura("FFF1", 1));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->state, doc_state::accepted);
    EXPECT_FALSE(r->recovered);
    EXPECT_EQ(r->body.aceptada_por_sunat, true);
    ASSERT_TRUE(r->body.enlace);
    auto rec = journal->get(cfg.name, {1, "FFF1", 1});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state, doc_state::accepted);
    EXPECT_EQ(rec->attempts, 1);
    EXPECT_EQ(rec->what.payload_hash.size(), 64u);
    EXPECT_EQ(rec->enlace, *r->body.enlace);
    // The reply keeps every field the final journal update borrowed.
    ASSERT_TRUE(r->body.enlace_del_pdf && r->body.enlace_del_xml && r->body.enlace_del_cdr);
    EXPECT_EQ(rec->enlace_del_pdf, *r->body.enlace_del_pdf);
    EXPECT_EQ(rec->enlace_del_xml, *r->body.enlace_del_xml);
    EXPECT_EQ(rec->enlace_del_cdr, *r->body.enlace_del_cdr);
    ASSERT_TRUE(r->body.sunat_description);
    EXPECT_EQ(rec->sunat_description, *r->body.sunat_description);

    auto q = bc.consultar_comprobante({1, "FFF1", 1});
    ASSERT_TRUE(q) << q.error().what();
    EXPECT_EQ(q->body.enlace, r->body.enlace);

    anulacion a;
    a.tipo_de_comprobante = 1;
    a.serie = "FFF1";
    a.numero = 1;
    a.motivo = "ERROR DEL SISTEMA";
    auto an = bc.generar_anulacion(a);
    ASSERT_TRUE(an) << an.error().what();
    EXPECT_TRUE(an->body.sunat_ticket_numero);
    auto qa = bc.consultar_anulacion({1, "FFF1", 1});
    ASSERT_TRUE(qa) << qa.error().what();
    EXPECT_EQ(an->body.aceptada_por_sunat, false);  // the official example: a ticket, not yet processed
    EXPECT_EQ(qa->body.aceptada_por_sunat, true);
    // The anulación has its own journal row (as generar answered it); the factura's row is untouched.
    EXPECT_EQ(journal->get(cfg.name, {1, "FFF1", 1}, operation::generar_anulacion)->state,
              doc_state::pending_sunat);
    EXPECT_EQ(journal->get(cfg.name, {1, "FFF1", 1})->state, doc_state::accepted);

    // Unknown document: codigo 24, with Nubefact's text, never retried.
    auto missing = bc.consultar_comprobante({1, "FFF1", 999});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, api_errc::not_found);
    EXPECT_EQ(missing.error().codigo, 24);
    EXPECT_EQ(missing.error().attempts, 1);
    EXPECT_FALSE(missing.error().message.empty());

    // Audit: one record per exchange, bodies on request, never the token.
    auto records = audit->drain();
    ASSERT_EQ(records.size(), 5u);
    for (const auto& ar : records) {
        EXPECT_EQ(ar.account, cfg.name);
        EXPECT_EQ(ar.request_body.find(cfg.token), std::string::npos);
        EXPECT_EQ(ar.response_body.find(cfg.token), std::string::npos);
        EXPECT_GT(ar.request_bytes, 0u);
    }
    EXPECT_EQ(records[0].operation, "generar_comprobante");
    EXPECT_EQ(records[0].document, "FFF1-1");
    EXPECT_EQ(records[0].outcome, "ok");
    EXPECT_EQ(records[0].http_status, 200);
    EXPECT_EQ(records[4].outcome, "api_error");
    EXPECT_EQ(records[4].codigo, 24);
}

TEST(ClientEmulator, ValidationFindingsStopTheSend) {
    emu::server srv(quiet_options());
    ASSERT_TRUE(srv.start());
    blocking_client bc(account_for(srv, "validation"));
    auto doc = factura("FFF1", 5);
    doc.total_igv = decimal::parse("9.99").value();
    auto r = bc.generar_comprobante(doc);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, client_errc::validation);
    ASSERT_FALSE(r.error().findings.empty());
    EXPECT_EQ(srv.snapshot().requests_total, 0u);
    // Opting out sends it; the emulator's own validation answers codigo 20, never retried.
    call_options skip;
    skip.validate = false;
    auto s = bc.generar_comprobante(doc, skip);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, api_errc::bad_format);
    EXPECT_EQ(s.error().attempts, 1);
    EXPECT_EQ(s.error().state, doc_state::refused);  // Nubefact answered and created nothing
}

TEST(ClientEmulator, Codigo23ForSomeoneElsesDocumentIsConflict) {
    emu::server srv(quiet_options());
    ASSERT_TRUE(srv.start());
    auto cfg = account_for(srv, "conflict");
    {
        // Another program (own journal) issues FFF1-7 first.
        blocking_client other(cfg);
        ASSERT_TRUE(other.generar_comprobante(factura("FFF1", 7)));
    }
    blocking_client bc(cfg);
    auto doc = factura("FFF1", 7);
    // Another sale: the consultation's QR text (IGV, total, date, customer) tells them apart.
    doc.fecha_de_emision = date::from_days(nubefact::lima_today().days_since_epoch() - 1);
    auto r = bc.generar_comprobante(doc);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, client_errc::conflict);
    EXPECT_EQ(r.error().codigo, 23);
    EXPECT_EQ(r.error().state, doc_state::conflict);
    EXPECT_NE(r.error().message.find("FFF1-7"), std::string::npos);
    EXPECT_NE(r.error().message.find("fecha"), std::string::npos) << r.error().message;
    EXPECT_EQ(srv.snapshot().documents_created, 1u);
    // The same client reusing the number with another payload is refused before sending.
    auto before = srv.snapshot().requests_total;
    doc.cliente_denominacion = "TERCER CLIENTE SAC";
    auto again = bc.generar_comprobante(doc);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, client_errc::payload_changed);
    EXPECT_EQ(again.error().state, doc_state::conflict);
    EXPECT_EQ(srv.snapshot().requests_total, before);
}

// The same document sent by another sender whose journal this client does not share (a crashed
// run, another process): codigo 23, the consultation shows the same sale, it is adopted.
TEST(ClientEmulator, Codigo23ForTheSameDocumentIsAdopted) {
    emu::server srv(quiet_options());
    ASSERT_TRUE(srv.start());
    auto cfg = account_for(srv, "adopt");
    {
        blocking_client other(cfg);
        ASSERT_TRUE(other.generar_comprobante(factura("FFF1", 8)));
    }
    blocking_client bc(cfg);
    auto r = bc.generar_comprobante(factura("FFF1", 8));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_TRUE(r->recovered);
    EXPECT_EQ(r->state, doc_state::accepted);
    EXPECT_EQ(r->attempts, 2);  // the send (23) and the consultation
    EXPECT_EQ(srv.snapshot().documents_created, 1u);
}

TEST(ClientEmulator, ResumeAfterCommitDropRecoversWithoutResend) {
    emu::server srv(quiet_options());
    ASSERT_TRUE(srv.start());
    auto cfg = account_for(srv, "resume");
    cfg.retry.max_attempts = 1;  // this run gives up at once: the state stays "unknown"
    auto journal = std::make_shared<memory_journal>();
    srv.push_fault(emu::fault_kind::commit_drop, 1, operation::generar_comprobante);
    srv.push_fault(emu::fault_kind::reset, 1, operation::consultar_comprobante);
    {
        blocking_client bc(cfg, client_options{journal});
        auto r = bc.generar_comprobante(factura("FFF1", 3));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().state, doc_state::unknown);
    }
    EXPECT_EQ(journal->get(cfg.name, {1, "FFF1", 3})->state, doc_state::unknown);
    // A later run (same journal) consults first and adopts the document: still created once.
    cfg.retry.max_attempts = 5;
    blocking_client bc(cfg, client_options{journal});
    auto r = bc.generar_comprobante(factura("FFF1", 3));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_TRUE(r->recovered);
    EXPECT_EQ(srv.snapshot().documents_created, 1u);
    EXPECT_EQ(srv.snapshot().created_twice, 0u);
    EXPECT_EQ(journal->get(cfg.name, {1, "FFF1", 3})->state, doc_state::accepted);
}

TEST(ClientEmulator, PermanentCodigosAreNotRetried) {
    emu::server srv(quiet_options());
    ASSERT_TRUE(srv.start());
    auto cfg = account_for(srv, "perm");
    cfg.token = "wrong-token";
    blocking_client bc(cfg);
    auto r = bc.generar_comprobante(factura("FFF1", 1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, api_errc::token_invalid);
    EXPECT_EQ(r.error().http_status, 401);
    EXPECT_EQ(r.error().attempts, 1);
    EXPECT_EQ(r.error().what().find("wrong-token"), std::string::npos);
    auto bad = account_for(srv, "perm-ruta");
    bad.ruta = srv.base_url() + "/api/v1/no-such-ruta";
    blocking_client b2(bad);
    auto r2 = b2.generar_comprobante(factura("FFF1", 2));
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().code, api_errc::ruta_invalid);
    EXPECT_EQ(r2.error().attempts, 1);
}

// 10,000 documents, 20 % of the exchanges faulted with every kind (commit-then-drop included):
// every document is accepted exactly once and none is lost.
TEST(ClientEmulator, TenThousandDocumentsUnderFaultsExactlyOnce) {
    auto o = quiet_options();
    o.validate = false;  // the client checked nothing either: this is about delivery
    o.faults = emu::fault_rates::parse(
                   "500:0.03,reset:0.03,commit_drop:0.04,truncate:0.03,malformed:0.03,"
                   "429:0.02,503:0.02")
                   .value();
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    asio::io_context ioc;
    auto journal = std::make_shared<memory_journal>();
    auto cfg = account_for(srv, "ten-thousand");
    cfg.max_concurrency = 32;
    // One exchange in five fails, and an ambiguous one costs a consultation too: with 10 attempts,
    // one document in ~10^6 runs out (seen once in a full run); with 24, none in any run.
    cfg.retry.max_attempts = 24;
    client_metrics metrics;
    client c(ioc.get_executor(), cfg, client_options{journal, nullptr, &metrics, 5});
    constexpr int n = 10000;
    auto res = send_batch(c, ioc, "FFF1", n, 64);
    for (int i = 0; i < n; ++i)
        ASSERT_TRUE(res.results[static_cast<std::size_t>(i)])
            << "FFF1-" << i + 1 << ": " << res.results[static_cast<std::size_t>(i)].error().what();
    auto st = srv.snapshot();
    EXPECT_EQ(st.documents_created, static_cast<std::uint64_t>(n));
    EXPECT_EQ(st.created_twice, 0u);
    EXPECT_EQ(srv.documents(srv.first_account().ruta_id).size(), static_cast<std::size_t>(n));
    for (const auto& d : srv.documents(srv.first_account().ruta_id)) ASSERT_EQ(d.creations, 1u);
    EXPECT_EQ(journal->size(), static_cast<std::size_t>(n));
    for (const auto& r : journal->all()) ASSERT_EQ(r.state, doc_state::accepted) << r.what.key.to_string();
    // Every fault kind happened and the post-commit ones were recovered through consultar.
    for (auto k : {"500", "reset", "commit_drop", "truncate", "malformed", "429", "503"})
        EXPECT_GT(st.faults[k], 0u) << k;
    EXPECT_GT(res.recovered, 100);
    EXPECT_GT(metrics.counter(cfg.name, "consults"), 0u);
    // Keep-alive: connections opened only after a fault broke one; never more than the cap open.
    EXPECT_LT(c.connections_opened(), st.requests_total);
    EXPECT_LE(c.open_connections(), static_cast<std::size_t>(cfg.max_concurrency));
    EXPECT_GT(c.peak_connections(), 0u);
    EXPECT_LE(c.peak_connections(), static_cast<std::size_t>(cfg.max_concurrency));
    std::printf(
        "[ info ] %llu requests, %d recovered, %zu connections opened, faults: 500=%llu reset=%llu "
        "commit_drop=%llu truncate=%llu malformed=%llu 429=%llu 503=%llu\n",
        static_cast<unsigned long long>(st.requests_total), res.recovered, c.connections_opened(),
        static_cast<unsigned long long>(st.faults["500"]),
        static_cast<unsigned long long>(st.faults["reset"]),
        static_cast<unsigned long long>(st.faults["commit_drop"]),
        static_cast<unsigned long long>(st.faults["truncate"]),
        static_cast<unsigned long long>(st.faults["malformed"]),
        static_cast<unsigned long long>(st.faults["429"]), static_cast<unsigned long long>(st.faults["503"]));
}

// The same with stalls: the request timeout fires, the client consults, nothing is created twice.
TEST(ClientEmulator, StallFaultsFireTimeoutsAndStayExactlyOnce) {
    auto o = quiet_options();
    o.validate = false;
    o.stall_for = 2000ms;
    o.faults = emu::fault_rates::parse("stall:0.1,commit_drop:0.05,500:0.05").value();
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    asio::io_context ioc;
    auto cfg = account_for(srv, "stall");
    cfg.request_timeout = 150ms;
    cfg.max_concurrency = 32;
    client_metrics metrics;
    auto journal = std::make_shared<memory_journal>();
    client c(ioc.get_executor(), cfg, client_options{journal, nullptr, &metrics, 9});
    constexpr int n = 400;
    auto res = send_batch(c, ioc, "FFF2", n, 64);
    EXPECT_EQ(res.ok, n);
    auto st = srv.snapshot();
    EXPECT_GT(st.faults["stall"], 0u);
    EXPECT_EQ(st.documents_created, static_cast<std::uint64_t>(n));
    EXPECT_EQ(st.created_twice, 0u);
    EXPECT_GE(metrics.exchanges(cfg.name, "generar_comprobante", "timeout") +
                  metrics.exchanges(cfg.name, "consultar_comprobante", "timeout"),
              st.faults["stall"]);
}

TEST(ClientEmulator, TotalTimeoutBoundsACallAgainstAStalledServer) {
    auto o = quiet_options();
    o.stall_for = 3000ms;
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    srv.push_fault(emu::fault_kind::stall, 100);
    auto cfg = account_for(srv, "total-timeout");
    cfg.request_timeout = 100ms;
    cfg.total_timeout = 400ms;
    blocking_client bc(cfg);
    auto r = bc.generar_comprobante(factura("FFF1", 1));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, client_errc::timeout);
    EXPECT_EQ(r.error().state, doc_state::unknown);  // the first request was written: it may exist
}

// Configured 50 req/s + burst 10: the emulator never sees more than 60 in any one-second window.
TEST(ClientEmulator, RateLimitHoldsAtTheServer) {
    emu::server srv(quiet_options());
    ASSERT_TRUE(srv.start());
    asio::io_context ioc;
    auto cfg = account_for(srv, "rate");
    cfg.rate = rate_config{50.0, 10, 0ms};
    cfg.max_concurrency = 16;
    client c(ioc.get_executor(), cfg);
    std::vector<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> samples;
    std::atomic<bool> done{false};
    std::thread sampler([&] {
        while (!done) {
            samples.emplace_back(std::chrono::steady_clock::now(), srv.snapshot().requests_total);
            std::this_thread::sleep_for(2ms);
        }
        samples.emplace_back(std::chrono::steady_clock::now(), srv.snapshot().requests_total);
    });
    constexpr int n = 160;  // (160 - 10) / 50 = 3 s
    auto res = send_batch(c, ioc, "FFF3", n, 32);
    done = true;
    sampler.join();
    EXPECT_EQ(res.ok, n);
    std::uint64_t worst = 0;
    for (std::size_t i = 0, j = 0; i < samples.size(); ++i) {
        while (j + 1 < samples.size() && samples[j + 1].first - samples[i].first <= 1s) ++j;
        worst = std::max(worst, samples[j].second - samples[i].second);
    }
    std::printf("[ info ] worst one-second window: %llu requests (limit 60)\n",
                static_cast<unsigned long long>(worst));
    EXPECT_LE(worst, 60u);  // how close to the limit it gets is for benchmarks, not a test
}

// Several clients of one account share its limits: requests in flight never exceed the account's cap.
TEST(ClientEmulator, ConcurrencyCapSharedByClientsOfAnAccount) {
    auto o = quiet_options();
    o.latency = emu::latency_model::parse("fixed:20").value();
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    auto cfg = account_for(srv, "shared-cap");
    cfg.max_concurrency = 4;
    asio::io_context ioc;
    client a(ioc.get_executor(), cfg), b(ioc.get_executor(), cfg);
    std::atomic<std::uint64_t> peak{0};
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        while (!done) {
            peak = std::max<std::uint64_t>(peak, srv.snapshot().in_flight);
            std::this_thread::sleep_for(1ms);
        }
    });
    std::atomic<int> ok{0};
    for (int w = 0; w < 16; ++w) {
        auto worker = [&, w]() -> asio::awaitable<void> {
            for (int i = 0; i < 5; ++i) {
                call_options co;
                co.validate = false;
                auto doc = factura(w % 2 ? "FFF4" : "FFF5", w * 10 + i + 1);
                auto r = co_await (w % 2 ? a : b).generar_comprobante(std::move(doc), co);
                if (r) ++ok;
            }
        };
        asio::co_spawn(ioc, std::move(worker), asio::detached);
    }
    ioc.run();
    done = true;
    watcher.join();
    EXPECT_EQ(ok, 80);
    EXPECT_LE(peak.load(), 4u);
    // Each client's keep-alive pool stays within the cap (idle connections are per client).
    EXPECT_LE(a.open_connections(), 4u);
    EXPECT_LE(b.open_connections(), 4u);
}

// stop_sending(): calls waiting for a slot end "not sent" (journal: failed), the ones in flight finish,
// nothing more reaches the server.
TEST(ClientEmulator, StopSendingLetsInFlightFinishAndSendsNothingMore) {
    auto o = quiet_options();
    o.latency = emu::latency_model::parse("fixed:300").value();
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    auto cfg = account_for(srv, "stop");
    cfg.max_concurrency = 2;
    asio::io_context ioc;
    auto journal = std::make_shared<memory_journal>();
    client c(ioc.get_executor(), cfg, client_options{journal, nullptr});
    std::vector<client::result_type> results(10);
    for (int i = 0; i < 10; ++i) {
        auto call = [&, i]() -> asio::awaitable<void> {
            call_options co;
            co.validate = false;
            // GCC 12 destroys temporaries of a co_await operand twice: named document and task.
            const auto doc = factura("FFF7", i + 1);
            auto task = c.generar_comprobante(doc, co);
            results[static_cast<std::size_t>(i)] = co_await std::move(task);
        };
        asio::co_spawn(ioc, std::move(call), asio::detached);
    }
    // Once the first two are in flight at the server (the other eight journaled, waiting for a
    // slot): stop. Polled every 2 ms, at most 5 s.
    asio::steady_timer t(ioc);
    int polls = 0;
    std::function<void(boost::system::error_code)> poll = [&](boost::system::error_code) {
        if (srv.snapshot().in_flight >= 2 || ++polls > 2500) {
            c.stop_sending();
            return;
        }
        t.expires_after(2ms);
        t.async_wait(poll);
    };
    poll({});
    ioc.run();
    int ok = 0, stopped = 0;
    for (int i = 0; i < 10; ++i) {
        const auto& r = results[static_cast<std::size_t>(i)];
        if (r) {
            ++ok;
            continue;
        }
        EXPECT_EQ(r.error().code, client_errc::cancelled) << r.error().what();
        EXPECT_NE(r.error().what().find("not sent: the sender is stopping"), std::string::npos);
        EXPECT_EQ(r.error().state, doc_state::failed);
        EXPECT_EQ(r.error().attempts, 0);  // nothing left this client
        EXPECT_EQ(journal->get(cfg.name, {1, "FFF7", i + 1})->state, doc_state::failed);
        ++stopped;
    }
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(stopped, 8);
    EXPECT_EQ(srv.snapshot().documents_created, 2u);
    // Consultations still go after the stop.
    int found = 0;
    for (int i = 1; i <= 10; ++i) {
        auto consult = [&, i]() -> asio::awaitable<void> {
            auto task = c.consultar_comprobante(document_key{1, "FFF7", i});
            auto r = co_await std::move(task);
            if (r) ++found;
        };
        asio::co_spawn(ioc, std::move(consult), asio::detached);
    }
    ioc.restart();
    ioc.run();
    EXPECT_EQ(found, 2);  // the two created; the others are "not found" answers, not cancellations
}

// ---- TLS ----------------------------------------------------------------------------------------

namespace {

struct tls_files {
    std::filesystem::path dir, ca, cert, key;
};

int sh(const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::optional<tls_files> make_tls_files() {
    tls_files f;
    f.dir = std::filesystem::temp_directory_path() / ("nubefact-client-tls-" + std::to_string(::getpid()));
    std::filesystem::create_directories(f.dir);
    f.ca = f.dir / "ca.pem";
    f.cert = f.dir / "server.pem";
    f.key = f.dir / "server.key";
    auto d = f.dir.string();
    {
        std::ofstream ext(f.dir / "ext.cnf");
        ext << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n";
    }
    if (sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
           "'/CN=nubefact test CA' -keyout " +
           d + "/ca.key -out " + d + "/ca.pem") != 0)
        return std::nullopt;
    if (sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=127.0.0.1' "
           "-keyout " +
           d + "/server.key -out " + d + "/server.csr") != 0)
        return std::nullopt;
    if (sh("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.pem -CAkey " + d +
           "/ca.key -CAcreateserial -days 2 -extfile " + d + "/ext.cnf -out " + d + "/server.pem") != 0)
        return std::nullopt;
    return f;
}

}  // namespace

TEST(ClientEmulator, TlsVerificationWithTheTestCaAndFailureWithout) {
    auto files = make_tls_files();
    if (!files) GTEST_SKIP() << "openssl command not available";
    auto o = quiet_options();
    o.tls = emu::tls_options{files->cert.string(), files->key.string()};
    emu::server srv(o);
    std::string err;
    ASSERT_TRUE(srv.start(&err)) << err;
    auto https = "https://127.0.0.1:" + std::to_string(srv.port()) + "/api/v1/" + srv.first_account().ruta_id;

    auto cfg = account_for(srv, "tls-ok");
    cfg.ruta = https;
    cfg.ca_file = files->ca.string();
    {
        blocking_client bc(cfg);
        auto r = bc.generar_comprobante(factura("FFF1", 1));
        ASSERT_TRUE(r) << r.error().what();
        auto q = bc.consultar_comprobante({1, "FFF1", 1});  // reuses the TLS connection
        ASSERT_TRUE(q) << q.error().what();
        EXPECT_EQ(bc.async().connections_opened(), 1u);
    }
    // Without the test CA the system bundle does not trust the server: a clear, permanent error.
    auto untrusted = account_for(srv, "tls-untrusted");
    untrusted.ruta = https;
    {
        blocking_client bc(untrusted);
        auto r = bc.generar_comprobante(factura("FFF1", 2));
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, client_errc::tls_verify);
        EXPECT_EQ(r.error().attempts, 1);
        EXPECT_NE(r.error().message.find("certificate verification failed"), std::string::npos)
            << r.error().message;
        EXPECT_NE(r.error().message.find("unable to get local issuer certificate"), std::string::npos)
            << r.error().message;
        EXPECT_EQ(r.error().state, doc_state::failed);
    }
    // The loud opt-out works (and logs a warning).
    untrusted.danger_disable_tls_verification = true;
    {
        blocking_client bc(untrusted);
        auto r = bc.generar_comprobante(factura("FFF1", 3));
        EXPECT_TRUE(r) << r.error().what();
    }
    std::filesystem::remove_all(files->dir);
}

// ---- connection start-up ------------------------------------------------------------------------

namespace {

struct burst_result {
    std::vector<transport::exchange_result> replies;
    std::size_t resolutions = 0, opened = 0;
};

// `n` exchanges at once through a fresh transport to `ruta` (the pool opens n connections together).
burst_result burst(const std::string& ruta, const std::string& token, int n) {
    account_config cfg;
    cfg.name = unique_account("burst");
    cfg.ruta = ruta;
    cfg.token = token;
    cfg.max_concurrency = n;
    asio::io_context ioc(1);
    auto tx = transport::make_http_transport(ioc.get_executor(), cfg);
    auto ep = transport::parse_ruta(ruta).value();
    transport::request_head head;
    head.target = ep.target;
    head.host = ep.host + ":" + ep.port;
    head.authorization = token;
    head.build();
    const std::string body =
        json::write(json::request{consulta{operation::consultar_comprobante, 1, "FFF9", 1, {}, {}}});
    burst_result out;
    out.replies.resize(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto one = [&, i]() -> asio::awaitable<void> {
            auto task = tx->exchange_wire(head, body, transport::timeouts{2s, 5s});
            out.replies[static_cast<std::size_t>(i)] = co_await std::move(task);
        };
        asio::co_spawn(ioc, std::move(one), asio::detached);
    }
    ioc.run();
    out.resolutions = tx->resolutions();
    out.opened = tx->connections_opened();
    return out;
}

}  // namespace

TEST(ClientEmulator, ConcurrentFirstConnectsShareOneNameLookup) {
    auto o = quiet_options();
    o.latency = emu::latency_model::parse("fixed:20").value();
    emu::server srv(o);
    ASSERT_TRUE(srv.start());
    const std::string token = srv.first_account().tokens.front();
    std::string ruta = srv.ruta_url();
    const auto at = ruta.find("127.0.0.1");
    ASSERT_NE(at, std::string::npos);

    // An IP literal never goes through the resolver.
    auto direct = burst(ruta, token, 32);
    for (const auto& r : direct.replies) EXPECT_FALSE(r.ec) << r.detail;
    EXPECT_EQ(direct.resolutions, 0u);
    EXPECT_EQ(direct.opened, 32u);

    // A name: the 32 connections opening together wait for one lookup.
    ruta.replace(at, 9, "localhost");
    auto named = burst(ruta, token, 32);
    for (const auto& r : named.replies) {
        EXPECT_FALSE(r.ec) << r.detail;
        EXPECT_GT(r.status, 0);  // codigo 24, not found: any answer will do, it came back
    }
    EXPECT_EQ(named.resolutions, 1u);
    EXPECT_EQ(named.opened, 32u);
}

// A typed call checks and serializes its document before it returns: the awaitable never refers to
// it, so the caller may change or drop the document before awaiting.
TEST(ClientEmulator, TypedCallsDoNotReferToTheDocumentAfterTheCall) {
    emu::server srv(quiet_options());
    ASSERT_TRUE(srv.start());
    auto journal = std::make_shared<memory_journal>();
    auto cfg = account_for(srv, "by-ref");
    asio::io_context ioc(1);
    client c(ioc.get_executor(), cfg, client_options{journal, nullptr});
    auto doc = std::make_unique<comprobante>(factura("FFF6", 1));
    call_options o;
    o.validate = true;
    auto task = c.generar_comprobante(*doc, o);
    doc->numero = 2;
    doc->items.clear();
    doc.reset();
    std::optional<client::result_type> got;
    auto wait = [&]() -> asio::awaitable<void> { got = co_await std::move(task); };
    asio::co_spawn(ioc, std::move(wait), asio::detached);
    ioc.run();
    ASSERT_TRUE(got && *got) << (got ? got->error().what() : "no answer");
    EXPECT_EQ((*got)->body.numero, 1);
    EXPECT_TRUE(journal->get(cfg.name, {1, "FFF6", 1}));
    EXPECT_FALSE(journal->get(cfg.name, {1, "FFF6", 2}));
}
