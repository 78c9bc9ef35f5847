// The delivery engine against the real emulator over 127.0.0.1: a batch in two phases with local
// findings and duplicate lines, two senders sharing one journal (a held document is waited for,
// never sent twice), a stop mid-batch, deliver() for one document.
#include "../client/support.hpp"

#include <nubefact/client_memory.hpp>
#include <nubefact/engine.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <map>
#include <mutex>
#include <thread>

using namespace nubefact;
using namespace clienttest;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace emu = nubefact::emulator;

namespace {

std::string factura_line(const std::string& serie, std::int64_t n) {
    return json::write(json::request{factura(serie, n)});
}

// A source over a vector of texts, as a file batch would hand them over (line = index + 1).
struct vector_source {
    std::vector<std::string> texts;
    std::size_t at = 0;
    std::optional<engine::input> operator()() {
        if (at == texts.size()) return std::nullopt;
        ++at;
        return engine::input{"batch.jsonl", at, texts[at - 1], std::nullopt};
    }
};

struct collected {
    std::mutex m;
    std::vector<engine::outcome> all;
    void add(const engine::outcome& o) {
        std::lock_guard lock(m);
        all.push_back(o);
    }
    std::map<std::string, int> states() {
        std::lock_guard lock(m);
        std::map<std::string, int> out;
        for (auto& o : all) ++out[std::string(o.state_name())];
        return out;
    }
};

emu::options fast_emulator() {
    emu::options o;
    o.seed = 5;
    o.retry_after = std::chrono::seconds(0);
    return o;
}

}  // namespace

TEST(EngineBatch, TwoPhasesLocalFindingsAndDuplicateLines) {
    emu::server srv(fast_emulator());
    std::string err;
    ASSERT_TRUE(srv.start(&err)) << err;
    asio::io_context ioc(1);
    client api(ioc.get_executor(), account_for(srv, "engine-batch"));

    vector_source src;
    // The anulación comes first in the file but goes in the second phase, after F001-1 exists.
    src.texts.push_back(
        R"({"operacion":"generar_anulacion","tipo_de_comprobante":1,"serie":"F001","numero":1,)"
        R"("motivo":"ERROR DEL SISTEMA","codigo_unico":""})");
    for (int i = 1; i <= 5; ++i) src.texts.push_back(factura_line("F001", i));
    src.texts.push_back(factura_line("F001", 3));  // a duplicate line of the batch
    auto bad = factura_line("F001", 6);
    bad.replace(bad.find(R"("total_igv":8.07)"), 16, R"("total_igv":9.99)");
    src.texts.push_back(bad);

    collected got;
    engine::batch_options bo;
    bo.workers = 4;
    bo.deliver.follow = 5s;
    engine::batch b(&api, &ioc, bo, [&](const engine::outcome& o) { got.add(o); });
    b.run(std::ref(src));

    ASSERT_EQ(got.all.size(), 8u);
    auto st = got.states();
    EXPECT_EQ(st["invalid"], 1);
    EXPECT_EQ(st["not_sent"], 1);
    EXPECT_EQ(st["accepted"] + st["pending_sunat"], 6) << "5 facturas and the anulación";
    EXPECT_EQ(srv.snapshot().documents_created, 5u);
    // The anulación's outcome comes after every factura's.
    std::size_t void_at = 0, last_factura = 0;
    for (std::size_t i = 0; i < got.all.size(); ++i) {
        if (got.all[i].op == operation::generar_anulacion) void_at = i;
        if (got.all[i].op == operation::generar_comprobante && got.all[i].fine()) last_factura = i;
    }
    EXPECT_GT(void_at, last_factura);
    for (auto& o : got.all) {
        if (o.is(engine::line_outcome::not_sent)) {
            EXPECT_NE(o.error.find("F001-3 is a duplicate line of the batch (first at batch.jsonl:4)"),
                      std::string::npos)
                << o.error;
        }
        if (o.is(engine::line_outcome::invalid)) {
            EXPECT_EQ(o.line, 8u);
            EXPECT_EQ(o.findings.front().path, "total_igv");
        }
    }
}

TEST(EngineBatch, DryRunSendsNothingAndNeedsNoClient) {
    vector_source src;
    src.texts = {factura_line("F002", 1), factura_line("F002", 2), "{oops"};
    collected got;
    engine::batch_options bo;
    bo.dry_run = true;
    engine::batch b(nullptr, nullptr, bo, [&](const engine::outcome& o) { got.add(o); });
    b.run(std::ref(src));
    auto st = got.states();
    EXPECT_EQ(st["valid"], 2);
    EXPECT_EQ(st["invalid"], 1);
}

// Two senders, one journal (as two processes on one store), the same 60 documents, an emulator that
// would accept a re-creation: only the claims keep a document from being sent twice. The second
// sender waits for what the first holds and reports it from the journal.
TEST(EngineBatch, TwoSendersSharingOneJournalCreateEachDocumentOnce) {
    auto eo = fast_emulator();
    eo.allow_duplicates = true;
    std::string why;
    eo.latency = *emu::latency_model::parse("uniform:2-15", &why);
    emu::server srv(eo);
    std::string err;
    ASSERT_TRUE(srv.start(&err)) << err;
    auto journal = std::make_shared<memory_journal>();
    auto cfg = account_for(srv, "engine-two");

    const int n = 60;
    std::vector<std::string> texts;
    for (int i = 1; i <= n; ++i) texts.push_back(factura_line("F010", i));
    collected got[2];
    auto run_one = [&](int who) {
        asio::io_context ioc(1);
        client_options co;
        co.journal = journal;
        client api(ioc.get_executor(), cfg, co);
        vector_source src{texts};
        if (who == 1) std::reverse(src.texts.begin(), src.texts.end());  // they meet in the middle
        engine::batch_options bo;
        bo.workers = 8;
        engine::batch b(&api, &ioc, bo, [&](const engine::outcome& o) { got[who].add(o); });
        b.run(std::ref(src));
    };
    std::thread a(run_one, 0), b(run_one, 1);
    a.join();
    b.join();

    auto s = srv.snapshot();
    EXPECT_EQ(s.created_twice, 0u);
    EXPECT_EQ(s.documents_created, static_cast<std::uint64_t>(n));
    int resumed = 0;
    for (auto& g : got) {
        EXPECT_EQ(g.states()["accepted"], n);
        for (auto& o : g.all) resumed += o.resumed;
    }
    EXPECT_EQ(resumed, n) << "each document sent by one sender and answered from the journal to the other";
}

TEST(EngineBatch, AStopMidBatchReportsTheRestNotSent) {
    auto eo = fast_emulator();
    std::string why;
    eo.latency = *emu::latency_model::parse("fixed:5", &why);
    emu::server srv(eo);
    std::string err;
    ASSERT_TRUE(srv.start(&err)) << err;
    asio::io_context ioc(1);
    client api(ioc.get_executor(), account_for(srv, "engine-stop"));
    vector_source src;
    for (int i = 1; i <= 400; ++i) src.texts.push_back(factura_line("F020", i));
    collected got;
    engine::batch_options bo;
    bo.workers = 2;
    engine::batch* self = nullptr;
    engine::batch b(&api, &ioc, bo, [&](const engine::outcome& o) {
        got.all.push_back(o);  // never two at once
        if (got.all.size() == 10) self->request_stop();
    });
    self = &b;
    b.run(std::ref(src));
    EXPECT_TRUE(b.stopping());
    EXPECT_EQ(got.all.size(), src.at) << "one outcome per document pulled";
    EXPECT_LT(src.at, 400u) << "the reader stopped pulling";
    std::size_t accepted = 0, interrupted = 0;
    for (auto& o : got.all) {
        if (o.is(doc_state::accepted)) ++accepted;
        if (o.is(engine::line_outcome::not_sent) && o.error == "not sent: interrupted") ++interrupted;
    }
    EXPECT_EQ(accepted + interrupted, got.all.size());
    EXPECT_EQ(srv.snapshot().documents_created, accepted);
}

TEST(EngineDeliver, OneDocumentThenTheSameAgainFromTheJournal) {
    emu::server srv(fast_emulator());
    std::string err;
    ASSERT_TRUE(srv.start(&err)) << err;
    asio::io_context ioc(1);
    client api(ioc.get_executor(), account_for(srv, "engine-one"));
    auto p = engine::prepare({"api", 0, factura_line("F030", 1), std::nullopt}, {});
    ASSERT_TRUE(std::holds_alternative<engine::prepared>(p));
    auto d = std::get<engine::prepared>(p);
    auto f1 = asio::co_spawn(ioc, engine::deliver(api, d, {}), asio::use_future);
    ioc.run();
    auto first = f1.get();
    EXPECT_TRUE(first.is(doc_state::accepted)) << first.error;
    EXPECT_FALSE(first.resumed);
    ASSERT_TRUE(first.body);
    EXPECT_TRUE(first.body->enlace_del_pdf);
    ioc.restart();
    auto f2 = asio::co_spawn(ioc, engine::deliver(api, d, {}), asio::use_future);
    ioc.run();
    auto again = f2.get();
    EXPECT_TRUE(again.is(doc_state::accepted));
    EXPECT_TRUE(again.resumed);
    EXPECT_EQ(again.attempts, 0);
    EXPECT_EQ(srv.snapshot().documents_created, 1u);
}
