// The client on a manual clock: the total timeout passing inside an exchange, the retry deadline,
// stop_sending() before an attempt leaves, audit and journal times. The fake transport moves the
// clock; no test sleeps for more than the retry policy's 2 ms.
// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (custom frame allocator).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <nubefact/client.hpp>
#include <nubefact/client_memory.hpp>
#include <nubefact/clock.hpp>
#include "client/transport.hpp"

#include "test_account.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include <functional>
#include <thread>
#include <vector>

using namespace nubefact;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// generar-cpe-factura-response.json, from Nubefact's manual (trimmed to its documented fields).
const std::string ok_body =
    R"({"tipo_de_comprobante":1,"serie":"FFF1","numero":1,)"
    R"("enlace":"https://www.nubefact.com/cpe/d268f882-4554-a403c6712e6","enlace_del_pdf":"",)"
    R"("enlace_del_xml":"","enlace_del_cdr":"","aceptada_por_sunat":true,)"
    R"("sunat_description":"La Factura numero FFF1-1, ha sido aceptada","sunat_note":null,)"
    R"("sunat_responsecode":"0","sunat_soap_error":"",)"
    R"("cadena_para_codigo_qr":"20600695771 | 01 | FFF1 | 000001 | ...",)"
    R"("codigo_hash":"xMLFMnbgp1/bHEy572RKRTE9hPY="})";
const std::string generar_body =
    R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1"})";

// Answers every exchange with `answer` (which may move the clock); an exchange made while `hold`
// is set waits until the test cancels that timer.
class scripted_transport final : public nubefact::transport::transport {
  public:
    using answer_fn = std::function<nubefact::transport::exchange_result(int n)>;  // n: 1 for the first
    explicit scripted_transport(answer_fn answer) : answer_(std::move(answer)) {}

    asio::awaitable<nubefact::transport::exchange_result> exchange(const nubefact::transport::request& req,
                                                                   nubefact::transport::timeouts t) override {
        seen.push_back(t);
        bodies.push_back(req.body());
        ++in_progress;
        if (auto* h = std::exchange(hold, nullptr))
            co_await h->async_wait(asio::as_tuple(asio::use_awaitable));
        --in_progress;
        co_return answer_(static_cast<int>(seen.size()));
    }

    std::vector<nubefact::transport::timeouts> seen;
    std::vector<std::string> bodies;
    int in_progress = 0;
    asio::steady_timer* hold = nullptr;

  private:
    answer_fn answer_;
};

nubefact::transport::exchange_result answered(int status, std::string body) {
    nubefact::transport::exchange_result r;
    r.written = true;
    r.status = status;
    r.body = std::move(body);
    r.keep_alive = true;
    return r;
}

nubefact::transport::exchange_result timed_out_after_writing() {
    nubefact::transport::exchange_result r;
    r.ec = boost::beast::error::timeout;
    r.written = true;
    r.timed_out = true;
    return r;
}

nubefact::transport::exchange_result refused() {
    nubefact::transport::exchange_result r;
    r.ec = make_error_code(asio::error::connection_refused);
    r.detail = "cannot connect to 127.0.0.1:9: Connection refused";
    return r;
}

account_config test_account(std::string name) {
    auto c = nubefact::unittest::test_account(std::move(name), 10, 120s);
    c.connect_timeout = 10s;
    c.request_timeout = 60s;
    c.total_timeout = 10s;
    return c;
}

struct rig {
    asio::io_context ioc{1};
    std::shared_ptr<manual_clock> clock = std::make_shared<manual_clock>();
    std::shared_ptr<memory_journal> journal = std::make_shared<memory_journal>(clock);
    std::shared_ptr<memory_audit_sink> audit = std::make_shared<memory_audit_sink>();
    client_metrics metrics;
    std::shared_ptr<scripted_transport> tx;
    std::unique_ptr<client> c;

    // `answer` makes each exchange's result; it may move the clock or call the client.
    rig(account_config cfg, std::function<nubefact::transport::exchange_result(rig&)> answer)
        : tx(std::make_shared<scripted_transport>(
              [this, answer = std::move(answer)](int) { return answer(*this); })) {
        client_options o{journal, audit, &metrics, 1, tx};
        o.clock = clock;
        c = std::make_unique<client>(ioc.get_executor(), std::move(cfg), std::move(o));
    }

    // Starts c->send(op, key, body); the result lands in `out`.
    void start(operation op, document_key key, std::string body, std::optional<client::result_type>& out) {
        auto call = [this, op, key = std::move(key), body = std::move(body),
                     &out]() mutable -> asio::awaitable<void> {
            out = co_await c->send(op, std::move(key), std::move(body));
        };
        asio::co_spawn(ioc, std::move(call), asio::detached);
    }

    client::result_type send(operation op, document_key key, std::string body) {
        std::optional<client::result_type> out;
        start(op, std::move(key), std::move(body), out);
        ioc.run_for(5s);  // a bound, not a wait: the calls end at once
        if (!out) ADD_FAILURE() << "the call did not end";
        return out ? std::move(*out) : client::result_type(client_error{});
    }
};

}  // namespace

TEST(ManualClock, MovesOnlyWhenTold) {
    const auto wall = std::chrono::system_clock::time_point{} + 1'700'000'000s;
    const auto mono = std::chrono::steady_clock::time_point{} + 5000s;
    manual_clock c(wall, mono);
    EXPECT_EQ(c.system_now(), wall);
    EXPECT_EQ(c.steady_now(), mono);
    c.advance(1500ms);
    EXPECT_EQ(c.system_now(), wall + 1500ms);
    EXPECT_EQ(c.steady_now(), mono + 1500ms);
    c.set(wall - 1h);  // the wall clock jumps back; the steady one stays
    EXPECT_EQ(c.system_now(), wall - 1h);
    EXPECT_EQ(c.steady_now(), mono + 1500ms);
    EXPECT_THROW(c.advance(-1ms), std::invalid_argument);
    EXPECT_EQ(c.steady_now(), mono + 1500ms);
}

TEST(ManualClock, AdvancesFromSeveralThreads) {
    manual_clock c;
    const auto start = c.steady_now();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&c] {
            for (int i = 0; i < 1000; ++i) c.advance(1ms);
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.steady_now() - start, 4s);
}

TEST(RealClock, IsOneSharedObject) {
    EXPECT_EQ(real_clock().get(), real_clock().get());
    const auto a = real_clock()->steady_now();
    EXPECT_LE(a, real_clock()->steady_now());
}

TEST(MemoryJournalClock, StampsCreatedAndUpdatedFromItsClock) {
    auto clock = std::make_shared<manual_clock>(std::chrono::system_clock::time_point{} + 1'700'000'000s);
    memory_journal j(clock);
    const auto t0 = clock->system_now();
    intent in{
        "stamps", operation::generar_comprobante, {1, "FFF1", 7}, payload_hash(generar_body), generar_body};
    in.sending = true;
    j.record(in, [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
    clock->advance(90s);
    state_update u;
    u.state = doc_state::accepted;
    u.op = operation::generar_comprobante;
    j.update("stamps", {1, "FFF1", 7}, u, [](result<void> r) { ASSERT_TRUE(r); });
    auto rec = j.get("stamps", {1, "FFF1", 7});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->created_at, t0);
    EXPECT_EQ(rec->updated_at, t0 + 90s);
}

// The fake's exchange takes the whole total_timeout (as the real transport would, given the time
// left): the call ends at its deadline, and a generar_* that was written may exist: unknown.
TEST(ClientClock, TotalTimeoutPassingInsideTheExchangeLeavesGenerarUnknown) {
    rig r(test_account("clock-total-timeout"), [](rig& r) {
        r.clock->advance(10s);
        return timed_out_after_writing();
    });
    const auto wall = r.clock->system_now();

    auto res = r.send(operation::generar_comprobante, {1, "FFF1", 1}, generar_body);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, client_errc::timeout) << res.error().what();
    EXPECT_EQ(res.error().state, doc_state::unknown);
    EXPECT_EQ(res.error().attempts, 1);
    EXPECT_NE(res.error().message.find("outcome unknown after 1 exchange(s)"), std::string::npos)
        << res.error().message;
    // The transport was given the time left on the manual clock, not the 60 s request timeout.
    ASSERT_EQ(r.tx->seen.size(), 1u);
    EXPECT_EQ(r.tx->seen[0].request, 10s);
    EXPECT_EQ(r.tx->seen[0].connect, 10s);
    auto rec = r.journal->get("clock-total-timeout", {1, "FFF1", 1});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state, doc_state::unknown);
    EXPECT_EQ(rec->created_at, wall);
    EXPECT_EQ(rec->updated_at, wall + 10s);
    // The audit record's time and latency come from the same clock.
    auto records = r.audit->drain();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].at, wall);
    EXPECT_EQ(records[0].latency, 10s);
    EXPECT_EQ(records[0].outcome, "timeout");
}

TEST(ClientClock, TotalTimeoutPassingInsideAConsultEndsWithTimeout) {
    rig r(test_account("clock-consult-timeout"), [](rig& r) {
        r.clock->advance(10s);
        return timed_out_after_writing();
    });
    auto res =
        r.send(operation::consultar_comprobante, {1, "FFF1", 1},
               R"({"operacion":"consultar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":1})");
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, client_errc::timeout);
    EXPECT_EQ(res.error().attempts, 1);
    EXPECT_EQ(r.tx->seen.size(), 1u);
}

// Each refused connection takes 4 s on the clock: attempts at 0, 4 and 8 s; the retry deadline
// (10 s from the start) leaves no room for a fourth although 10 attempts are allowed.
TEST(ClientClock, RetriesStopWhenTheRetryDeadlinePasses) {
    auto cfg = test_account("clock-retry-deadline");
    cfg.retry = retry_config{10, 1ms, 2ms, 10s};
    cfg.total_timeout = 60s;
    rig r(cfg, [](rig& r) {
        r.clock->advance(4s);
        return refused();
    });

    auto res = r.send(operation::generar_comprobante, {1, "FFF1", 2}, generar_body);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, client_errc::transport) << res.error().what();
    EXPECT_EQ(res.error().state, doc_state::failed);  // nothing ever left: safe to send again
    EXPECT_EQ(res.error().attempts, 3);
    ASSERT_EQ(r.tx->seen.size(), 3u);
    // Each attempt is bounded by the total time left (60, 56, 52 s) and the 60 s request timeout.
    EXPECT_EQ(r.tx->seen[0].request, 60s);
    EXPECT_EQ(r.tx->seen[1].request, 56s);
    EXPECT_EQ(r.tx->seen[2].request, 52s);
    auto rec = r.journal->get("clock-retry-deadline", {1, "FFF1", 2});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state, doc_state::failed);
    EXPECT_EQ(rec->attempts, 3);
}

// stop_sending() while the first attempt's connection is refused: the retry never leaves.
TEST(ClientClock, StopSendingBeforeTheRetryLeavesCancelsIt) {
    rig r(test_account("clock-stop-retry"), [](rig& r) {
        r.clock->advance(1s);
        r.c->stop_sending();
        return refused();
    });

    auto res = r.send(operation::generar_comprobante, {1, "FFF1", 3}, generar_body);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, client_errc::cancelled) << res.error().what();
    EXPECT_EQ(res.error().message, "not sent: the sender is stopping");
    EXPECT_EQ(res.error().state, doc_state::failed);
    EXPECT_EQ(r.tx->seen.size(), 1u);
}

// A generar_* waiting for the account's only slot when stop_sending() comes: once the slot is free
// it ends cancelled without sending anything; the exchange in flight finishes normally.
TEST(ClientClock, StopSendingWhileWaitingForASlotSendsNothing) {
    auto cfg = test_account("clock-stop-slot");
    cfg.max_concurrency = 1;
    rig r(cfg, [](rig&) { return answered(200, ok_body); });
    asio::steady_timer hold(r.ioc, asio::steady_timer::time_point::max());
    r.tx->hold = &hold;

    std::optional<client::result_type> first, second;
    r.start(operation::generar_comprobante, {1, "FFF1", 1}, generar_body, first);
    r.ioc.poll();  // the first call is in its exchange, holding the slot
    ASSERT_EQ(r.tx->in_progress, 1);
    r.start(operation::generar_comprobante, {1, "FFF1", 4}, generar_body, second);
    r.ioc.poll();  // the second call journaled its intent and waits for the slot
    ASSERT_FALSE(second);
    EXPECT_EQ(r.metrics.counter("clock-stop-slot", "concurrency_waits"), 1u);

    r.c->stop_sending();
    hold.cancel();
    r.ioc.run_for(5s);  // a bound, not a wait
    ASSERT_TRUE(first);
    ASSERT_TRUE(*first) << first->error().what();
    ASSERT_TRUE(second);
    ASSERT_FALSE(*second);
    EXPECT_EQ(second->error().code, client_errc::cancelled) << second->error().what();
    EXPECT_EQ(second->error().attempts, 0);
    EXPECT_EQ(r.tx->seen.size(), 1u);  // the first call's exchange only
    auto rec = r.journal->get("clock-stop-slot", {1, "FFF1", 4});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->state, doc_state::failed);
}
