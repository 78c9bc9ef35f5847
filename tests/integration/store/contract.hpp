// The store contract: one typed test suite every backend must pass (SQLite always, PostgreSQL when
// NUBEFACT_TEST_PG_URL is set). Instantiated in contract_sqlite.cpp and ../pg/contract_pg.cpp.
#pragma once

#include "integration/store/support.hpp"
#include "store/db.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace nubefact::store::testing {

// A connection of the store's own driver to the backend's database, no store on top.
template <class Backend>
result<std::unique_ptr<detail::connection>> open_raw(const Backend& b, std::string* why) {
    const std::string url = b.url();
    return Backend::is_pg ? detail::open_postgresql(url, why)
                          : detail::open_sqlite(url.substr(std::string_view("sqlite:").size()), false, why);
}

template <class Backend>
class store_contract : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!backend_.available()) GTEST_SKIP() << "NUBEFACT_TEST_PG_URL not set (scripts/pg.sh start)";
    }
    std::unique_ptr<store> open(store_options opt = {}) {
        if (!opt.secret_key) opt.secret_key = "";  // ignore the developer's environment
        return open_or_die(backend_.url(), std::move(opt));
    }
    static account make_account(std::string name, std::string token = "0123456789abcdef0123456789abcdef") {
        account a;
        a.config.name = std::move(name);
        a.config.ruta = "https://api.nubefact.com/api/v1/48239908-7ae7-4353-824d-071765d4";
        a.config.token = std::move(token);
        a.ruc = "20600695771";
        a.config.rate.requests_per_second = 12.5;
        a.config.rate.burst = 20;
        a.config.rate.min_interval = std::chrono::milliseconds(15);
        a.config.max_concurrency = 6;
        a.config.connect_timeout = std::chrono::milliseconds(3000);
        a.config.request_timeout = std::chrono::milliseconds(20000);
        a.config.total_timeout = std::chrono::milliseconds(90000);
        a.config.auth = auth_scheme::token_token;
        return a;
    }
    // A raw connection to the test database, migrated only up to schema `version` (a database left
    // by an earlier release); the test fails (nullptr) when that cannot be done.
    std::unique_ptr<detail::connection> at_schema(int version) {
        std::string why;
        auto c = open_raw(backend_, &why);
        if (!c) {
            ADD_FAILURE() << why;
            return nullptr;
        }
        auto v = detail::migrate(**c, &why, version);
        if (!v || *v != version) {
            ADD_FAILURE() << "migrate to " << version << ": " << why;
            return nullptr;
        }
        return std::move(*c);
    }
    Backend backend_;
};

TYPED_TEST_SUITE_P(store_contract);

TYPED_TEST_P(store_contract, opens_migrated_and_reopens) {
    auto s = this->open();
    EXPECT_EQ(s->schema_version(), 9);
    EXPECT_EQ(s->backend(), TypeParam::is_pg ? "postgresql" : "sqlite");
    s.reset();
    auto again = this->open();  // migrations are not re-applied
    EXPECT_EQ(again->schema_version(), 9);
}

TYPED_TEST_P(store_contract, accounts_crud) {
    auto s = this->open();
    auto a = this->make_account("acme");
    ASSERT_TRUE(s->add_account(a));
    auto dup = s->add_account(a);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error(), store_errc::constraint);
    ASSERT_TRUE(s->add_account(this->make_account("beta")));

    auto all = s->list_accounts();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    const auto& got = (*all)[0];
    EXPECT_EQ(got.config.name, "acme");
    EXPECT_EQ(got.ruc, "20600695771");
    EXPECT_EQ(got.config.token, a.config.token);
    EXPECT_EQ(got.config.ruta, a.config.ruta);
    EXPECT_DOUBLE_EQ(got.config.rate.requests_per_second, 12.5);
    EXPECT_EQ(got.config.rate.burst, 20);
    EXPECT_EQ(got.config.rate.min_interval, std::chrono::milliseconds(15));
    EXPECT_EQ(got.config.max_concurrency, 6);
    EXPECT_EQ(got.config.connect_timeout, std::chrono::milliseconds(3000));
    EXPECT_EQ(got.config.request_timeout, std::chrono::milliseconds(20000));
    EXPECT_EQ(got.config.total_timeout, std::chrono::milliseconds(90000));
    EXPECT_EQ(got.config.auth, auth_scheme::token_token);
    EXPECT_TRUE(got.enabled);
    EXPECT_GT(got.created_at.time_since_epoch().count(), 0);

    a.config.rate.burst = 3;
    a.enabled = false;
    ASSERT_TRUE(s->update_account(a));
    auto one = s->find_account("acme");
    ASSERT_TRUE(one && *one);
    EXPECT_EQ((*one)->config.rate.burst, 3);
    EXPECT_FALSE((*one)->enabled);

    auto missing = s->update_account(this->make_account("nobody"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), store_errc::not_found);
    ASSERT_TRUE(s->remove_account("beta"));
    EXPECT_EQ(s->remove_account("beta").error(), store_errc::not_found);
    auto none = s->find_account("beta");
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
}

TYPED_TEST_P(store_contract, token_encrypted_at_rest) {
    const std::string token = "feedc0de11223344556677889900aabbccddeeff";
    {
        store_options o;
        o.secret_key = "correct horse battery staple";
        auto s = this->open(o);
        ASSERT_TRUE(s->add_account(this->make_account("enc", token)));
        auto a = s->find_account("enc");
        ASSERT_TRUE(a && *a);
        EXPECT_EQ((*a)->config.token, token);
    }
    {
        auto s = this->open();  // no key: the stored form is visible, never the token
        auto all = s->list_accounts();
        ASSERT_TRUE(all);
        ASSERT_EQ(all->size(), 1u);
        EXPECT_TRUE((*all)[0].config.token.starts_with("enc:v1:"));
        EXPECT_EQ((*all)[0].config.token.find(token), std::string::npos);
        auto f = s->find_account("enc");
        ASSERT_FALSE(f);
        EXPECT_EQ(f.error(), store_errc::crypto);
        EXPECT_EQ(s->last_error().find(token), std::string::npos);
    }
    {
        store_options o;
        o.secret_key = "wrong key";
        auto s = this->open(o);
        auto f = s->find_account("enc");
        ASSERT_FALSE(f);
        EXPECT_EQ(f.error(), store_errc::crypto);
    }
}

TYPED_TEST_P(store_contract, account_cache_reloads_after_change) {
    auto fake_now = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    store_options o;
    o.account_cache_check = std::chrono::seconds(5);
    o.steady_now = [fake_now] { return *fake_now; };
    auto reader = this->open(o);
    auto writer = this->open();
    auto a = this->make_account("cached");
    ASSERT_TRUE(writer->add_account(a));
    // The reader checked at open; the change is seen after the check interval, not before.
    auto r1 = reader->find_account("cached");
    ASSERT_TRUE(r1);
    EXPECT_FALSE(r1->has_value());
    *fake_now += std::chrono::seconds(6);
    auto r2 = reader->find_account("cached");
    ASSERT_TRUE(r2 && *r2);
    EXPECT_EQ((*r2)->config.rate.burst, 20);
    a.config.rate.burst = 7;
    ASSERT_TRUE(writer->update_account(a));
    EXPECT_EQ((*reader->find_account("cached"))->config.rate.burst, 20);
    *fake_now += std::chrono::seconds(6);
    EXPECT_EQ((*reader->find_account("cached"))->config.rate.burst, 7);
    // Own writes are visible at once.
    a.config.rate.burst = 9;
    ASSERT_TRUE(reader->update_account(a));
    EXPECT_EQ((*reader->find_account("cached"))->config.rate.burst, 9);
}

TYPED_TEST_P(store_contract, find_documents_sees_the_journal) {
    auto s = this->open();
    auto& j = s->journal();
    auto i = make_intent("acme", "F001", 7);
    ASSERT_TRUE(record_sync(j, i));
    state_update done;
    done.state = doc_state::accepted;
    ASSERT_TRUE(update_sync(j, "acme", i.key, done));
    s->flush();
    document_query q;
    q.serie = "F001";
    q.numero = 7;
    auto docs = s->find_documents(q);
    ASSERT_TRUE(docs);
    ASSERT_EQ(docs->size(), 1u);
    EXPECT_EQ((*docs)[0].state, doc_state::accepted);
}

TYPED_TEST_P(store_contract, counts_documents_by_account_and_state) {
    auto s = this->open();
    auto& j = s->journal();
    ASSERT_TRUE(record_sync(j, make_intent("acme", "F001", 1)));
    ASSERT_TRUE(record_sync(j, make_intent("acme", "F001", 2)));
    ASSERT_TRUE(record_sync(j, make_intent("beta", "F001", 1)));
    state_update done;
    done.state = doc_state::accepted;
    ASSERT_TRUE(update_sync(j, "acme", document_key{1, "F001", 2}, done));
    s->flush();
    auto c = s->count_documents();
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->size(), 3u);
    auto n = [&](const std::string& acct, doc_state st) -> std::int64_t {
        for (const auto& x : *c)
            if (x.account == acct && x.state == st) return x.documents;
        return 0;
    };
    EXPECT_EQ(n("acme", doc_state::queued), 1);
    EXPECT_EQ(n("acme", doc_state::accepted), 1);
    EXPECT_EQ(n("beta", doc_state::queued), 1);
}

TYPED_TEST_P(store_contract, audit_rows_written_and_queried) {
    auto s = this->open();
    auto t0 = std::chrono::system_clock::now();
    for (int i = 0; i < 2500; ++i) {
        auto a = make_audit(i % 2 ? "acme" : "beta", "F001-" + std::to_string(i), i % 5 ? "ok" : "timeout");
        a.attempt = 1 + i % 3;
        if (i % 7 == 0) a.codigo = 23;
        if (i == 42) {
            a.request_body = R"({"operacion":"generar_comprobante"})";
            a.response_body = "{\"errors\":\"tab\there\\nnewline\nback\\\\slash \\\\N\"}\r\n";
        }
        if (i == 44) {  // array-literal and COPY syntax inside values
            a.request_body = "a,b{c}\"d'e NULL";
            a.response_body = "NULL";
        }
        write_audit(s->audit(), std::move(a));
    }
    s->flush();
    EXPECT_EQ(count_audit(*s), 2500u);
    EXPECT_EQ(count_audit(*s, "acme"), 1250u);
    log_query q;
    q.outcome = "timeout";
    q.limit = 100000;
    EXPECT_EQ(s->query_log(q)->size(), 500u);
    q = {};
    q.limit = 3;
    auto newest = s->query_log(q);
    ASSERT_TRUE(newest);
    ASSERT_EQ(newest->size(), 3u);
    EXPECT_EQ((*newest)[0].record.document, "F001-2499");  // newest first
    EXPECT_GT((*newest)[0].id, (*newest)[1].id);
    q = {};
    q.since = std::chrono::system_clock::now() + std::chrono::hours(1);
    EXPECT_TRUE(s->query_log(q)->empty());
    q.since = t0 - std::chrono::seconds(1);
    q.account = "beta";
    q.limit = 100000;
    auto beta = s->query_log(q);
    ASSERT_EQ(beta->size(), 1250u);
    for (auto& row : *beta) {
        if (row.record.document == "F001-44") {
            EXPECT_EQ(row.record.request_body, "a,b{c}\"d'e NULL");
            EXPECT_EQ(row.record.response_body, "NULL");
        }
        if (row.record.document != "F001-42") continue;
        EXPECT_EQ(row.record.request_body, R"({"operacion":"generar_comprobante"})");
        EXPECT_EQ(row.record.response_body, "{\"errors\":\"tab\there\\nnewline\nback\\\\slash \\\\N\"}\r\n");
        EXPECT_EQ(row.record.codigo, 23);
        EXPECT_EQ(row.record.latency, std::chrono::microseconds(1234));
        EXPECT_EQ(row.record.request_bytes, 900u);
    }
}

TYPED_TEST_P(store_contract, back_pressure_never_drops) {
    store_options o;
    o.audit_queue_capacity = 8;
    o.max_batch = 5;
    auto s = this->open(o);
    std::atomic<int> refused{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < 3; ++t) {
        producers.emplace_back([&, t] {
            for (int i = 0; i < 400; ++i) {
                auto a = make_audit("p" + std::to_string(t), std::to_string(i));
                while (!s->audit().try_write(audit_record(a))) {
                    ++refused;
                    std::promise<void> p;
                    auto f = p.get_future();
                    s->audit().wait_for_space([&p] { p.set_value(); });
                    f.wait();
                }
            }
        });
    }
    for (auto& p : producers) p.join();
    s->flush();
    EXPECT_EQ(count_audit(*s), 1200u);
    EXPECT_GT(refused.load(), 0);  // the tiny queue did push back
}

TYPED_TEST_P(store_contract, close_flushes_and_later_writes_fail_cleanly) {
    auto s = this->open();
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(s->audit().try_write(make_audit("acme", std::to_string(i))));
    std::promise<result<intent_journal::record_result>> p;
    s->journal().record(make_intent("acme", "F009", 1),
                        [&p](result<intent_journal::record_result> r) { p.set_value(std::move(r)); });
    s->close();
    ASSERT_TRUE(p.get_future().get());
    auto late = record_sync(s->journal(), make_intent("acme", "F009", 2));
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error(), store_errc::closed);
    EXPECT_TRUE(s->audit().try_write(make_audit("acme", "late")));  // discarded, never blocks
    s->close();                                                     // idempotent
    s.reset();
    auto again = this->open();
    EXPECT_EQ(count_audit(*again), 300u);
    auto f = find_sync(again->journal(), "acme", {1, "F009", 1});
    EXPECT_TRUE(f && *f);
}

TYPED_TEST_P(store_contract, concurrent_records_create_each_key_once) {
    auto s1 = this->open();
    auto s2 = this->open();  // two stores = two writer connections on the same database
    constexpr int keys = 150;
    std::atomic<int> created{0}, failed{0};
    auto worker = [&](store& s, int salt) {
        std::vector<std::future<void>> waits;
        for (int k = 0; k < keys; ++k) {
            auto p = std::make_shared<std::promise<void>>();
            waits.push_back(p->get_future());
            s.journal().record(make_intent("acme", "B001", k, "same"),
                               [&, p](result<intent_journal::record_result> r) {
                                   if (!r)
                                       ++failed;
                                   else if (r->created)
                                       ++created;
                                   p->set_value();
                               });
            state_update u;
            u.state = doc_state::sending;
            u.count_attempt = true;
            s.journal().update("acme", {1, "B001", k}, u, [&](result<void> r) {
                if (!r) ++failed;
            });
        }
        for (auto& w : waits) w.wait();
        (void)salt;
    };
    std::thread a([&] { worker(*s1, 1); });
    std::thread b([&] { worker(*s2, 2); });
    a.join();
    b.join();
    s1->flush();
    s2->flush();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(created.load(), keys);
    document_query q;
    q.serie = "B001";
    q.limit = 100000;
    auto docs = s1->find_documents(q);
    ASSERT_TRUE(docs);
    EXPECT_EQ(docs->size(), static_cast<std::size_t>(keys));
    std::set<std::int64_t> numeros;
    for (auto& d : *docs) {
        numeros.insert(d.what.key.numero);
        EXPECT_EQ(d.attempts, 2);  // both increments landed: no lost update
    }
    EXPECT_EQ(numeros.size(), static_cast<std::size_t>(keys));
}

// With a completion dispatch, a commit's journal completions arrive through it in one call, in queue
// order, and flush() still returns (it never waits for the dispatched callbacks).
TYPED_TEST_P(store_contract, completion_dispatch_hands_a_batch_over_at_once) {
    auto s = this->open();
    std::mutex mu;
    std::vector<std::function<void()>> handed;
    s->set_completion_dispatch([&](std::function<void()> f) {
        std::lock_guard lk(mu);
        handed.push_back(std::move(f));
    });
    std::vector<int> order;
    std::atomic<int> done{0};
    for (int i = 1; i <= 20; ++i) {
        s->journal().record(make_intent("acme", "F010", i), [&, i](result<intent_journal::record_result> r) {
            EXPECT_TRUE(r && r->created);
            order.push_back(i);  // dispatched callbacks run on this test's thread, below
            ++done;
        });
    }
    s->flush();  // committed; the callbacks wait in `handed`
    std::vector<std::function<void()>> fs;
    {
        std::lock_guard lk(mu);
        fs.swap(handed);
    }
    EXPECT_EQ(done.load(), 0);
    EXPECT_GE(fs.size(), 1u);
    EXPECT_LE(fs.size(), 20u);
    for (auto& f : fs) f();
    ASSERT_EQ(done.load(), 20);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i + 1);
    s->set_completion_dispatch(nullptr);  // back to the writer thread
    auto r = record_sync(s->journal(), make_intent("acme", "F010", 21));
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->created);
}

// A database left by an earlier release (schema 2: payloads inside `documents`) is migrated with its
// journal intact: records, payloads, states, audit rows; new intents work alongside.
TYPED_TEST_P(store_contract, migrates_schema_2_with_its_journal) {
    const std::string url = this->backend_.url();
    {
        auto c = this->at_schema(2);
        ASSERT_TRUE(c);
        ASSERT_TRUE(c->exec(
            "INSERT INTO documents (account, family, tipo, serie, numero, op, payload_hash, payload, state, "
            "attempts, enlace, created_at, updated_at) VALUES "
            "('acme', 'emit', 1, 'F001', 7, 'generar_comprobante', 'h7', '{\"numero\":7}', 'accepted', 1, "
            "'https://x/7', 1000, 2000), "
            "('acme', 'void', 1, 'F001', 7, 'generar_anulacion', 'v7', '{\"motivo\":\"x\"}', 'sending', 1, "
            "'', "
            "3000, 3000); "
            "INSERT INTO api_calls (at, account, operation, document, attempt, http_status, outcome, "
            "latency_us, "
            "request_bytes, response_bytes) VALUES (1000, 'acme', 'generar_comprobante', 'F001-7', 1, 200, "
            "'ok', "
            "900, 10, 20)"));
    }
    auto s = this->open();
    EXPECT_EQ(s->schema_version(), 9);
    auto emit = find_sync(s->journal(), "acme", {1, "F001", 7});
    ASSERT_TRUE(emit);
    ASSERT_TRUE(emit->has_value());
    EXPECT_EQ((*emit)->what.payload, R"({"numero":7})");
    EXPECT_EQ((*emit)->what.payload_hash, "h7");
    EXPECT_EQ((*emit)->state, doc_state::accepted);
    EXPECT_EQ((*emit)->enlace, "https://x/7");
    auto voided = find_sync(s->journal(), "acme", {1, "F001", 7}, operation::generar_anulacion);
    ASSERT_TRUE(voided);
    ASSERT_TRUE(voided->has_value());
    EXPECT_EQ((*voided)->what.payload, R"({"motivo":"x"})");
    EXPECT_EQ((*voided)->state, doc_state::sending);
    // The old row still guards its key; a new key is journaled with its payload.
    auto again = record_sync(s->journal(), make_intent("acme", "F001", 7, "other"));
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->record.what.payload_hash, "h7");
    auto fresh = record_sync(s->journal(), make_intent("acme", "F001", 8));
    ASSERT_TRUE(fresh);
    EXPECT_TRUE(fresh->created);
    document_query q;
    q.serie = "F001";
    q.numero = 8;
    auto docs = s->find_documents(q);
    ASSERT_TRUE(docs);
    ASSERT_EQ(docs->size(), 1u);
    EXPECT_EQ((*docs)[0].what.payload, make_intent("acme", "F001", 8).payload);
    log_query lq;
    lq.account = "acme";
    auto log = s->query_log(lq);
    ASSERT_TRUE(log);
    ASSERT_EQ(log->size(), 1u);
    EXPECT_EQ((*log)[0].record.document, "F001-7");
}

// Schema 4 used 'pending' and reported a codigo refusal as 'failed': the migration renames them.
TYPED_TEST_P(store_contract, migrates_schema_4_state_names) {
    const std::string url = this->backend_.url();
    {
        auto c = this->at_schema(4);
        ASSERT_TRUE(c);
        ASSERT_TRUE(c->exec(
            "INSERT INTO documents (account, family, tipo, serie, numero, op, payload_hash, state, attempts, "
            "codigo, created_at, updated_at) VALUES "
            "('acme', 'emit', 1, 'F001', 1, 'generar_comprobante', 'h1', 'pending', 0, NULL, 1, 1), "
            "('acme', 'emit', 1, 'F001', 2, 'generar_comprobante', 'h2', 'failed', 1, 22, 1, 1), "
            "('acme', 'emit', 1, 'F001', 3, 'generar_comprobante', 'h3', 'failed', 1, NULL, 1, 1), "
            "('acme', 'emit', 1, 'F001', 4, 'generar_comprobante', 'h4', 'accepted', 1, NULL, 1, 1), "
            "('acme', 'emit', 1, 'F001', 5, 'generar_comprobante', 'h5', 'unknown', 2, NULL, 1, 1)"));
    }
    auto s = this->open();
    EXPECT_EQ(s->schema_version(), 9);
    const doc_state want[] = {doc_state::queued, doc_state::refused, doc_state::failed, doc_state::accepted,
                              doc_state::unknown};
    for (int n = 1; n <= 5; ++n) {
        auto d = find_sync(s->journal(), "acme", {1, "F001", n});
        ASSERT_TRUE(d && d->has_value()) << n;
        EXPECT_EQ((*d)->state, want[n - 1]) << n;
    }
    // The new states are accepted by the table's CHECK.
    auto i = make_intent("acme", "F001", 9);
    ASSERT_TRUE(record_sync(s->journal(), i));
    for (auto st : {doc_state::pending_sunat, doc_state::refused, doc_state::conflict}) {
        state_update u;
        u.state = st;
        EXPECT_TRUE(update_sync(s->journal(), "acme", i.key, u)) << to_string(st);
    }
}

// Direct SQL on the store's database (test setup: what another process or an older version left).
template <class Backend>
void raw_exec(const Backend& b, const std::string& sql) {
    std::string why;
    auto c = open_raw(b, &why);
    ASSERT_TRUE(c) << why;
    ASSERT_TRUE((*c)->exec(sql)) << sql;
}

// Claims: one holder at a time, a settle releases, an expired claim passes on and fences the old
// holder out; final rows never move.
TYPED_TEST_P(store_contract, claims_one_holder_and_fence_stale_settles) {
    auto s1 = this->open();
    auto s2 = this->open();  // a second sender (another owner) on the same database
    auto& j1 = s1->journal();
    auto& j2 = s2->journal();
    auto i = make_intent("acme", "F001", 1, "h");
    i.sending = true;
    auto a = record_sync(j1, i);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->created);
    EXPECT_TRUE(a->claimed);
    EXPECT_FALSE(a->replaced);
    EXPECT_GT(a->lease, 0);
    auto b = record_sync(j2, i);  // held by s1: not claimed, nothing written
    ASSERT_TRUE(b);
    EXPECT_FALSE(b->created);
    EXPECT_FALSE(b->claimed);
    EXPECT_EQ(b->record.state, doc_state::sending);
    EXPECT_FALSE(b->record.owner.empty());
    auto again = record_sync(j1, i);  // not even its own holder claims it twice
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->claimed);

    // The holder's lease runs out (its process stalled): the next claimer takes over with a newer
    // token, and the old holder's settle is refused.
    raw_exec(this->backend_, "UPDATE documents SET lease_until = 1 WHERE serie = 'F001' AND numero = 1");
    auto c = record_sync(j2, i);
    ASSERT_TRUE(c);
    EXPECT_FALSE(c->created);
    EXPECT_TRUE(c->claimed);
    EXPECT_GT(c->lease, a->lease);
    state_update stale;
    stale.state = doc_state::failed;
    stale.lease = a->lease;
    auto refused = update_sync(j1, "acme", i.key, stale);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), store_errc::not_found);
    state_update attempt;
    attempt.state = doc_state::sending;
    attempt.count_attempt = true;
    attempt.lease = c->lease;
    ASSERT_TRUE(update_sync(j2, "acme", i.key, attempt));  // still held: sending keeps the claim
    auto held = find_sync(j2, "acme", i.key);
    ASSERT_TRUE(held && *held);
    EXPECT_FALSE((*held)->owner.empty());
    state_update done;
    done.state = doc_state::accepted;
    done.aceptada_por_sunat = true;
    done.lease = c->lease;
    ASSERT_TRUE(update_sync(j2, "acme", i.key, done));
    auto f = find_sync(j1, "acme", i.key);
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->state, doc_state::accepted);
    EXPECT_EQ((*f)->attempts, 2);
    EXPECT_TRUE((*f)->owner.empty());  // the settle released the claim
    EXPECT_EQ((*f)->lease_token, c->lease);

    // Final: nobody claims it, and no settle moves it.
    auto d = record_sync(j1, i);
    ASSERT_TRUE(d);
    EXPECT_FALSE(d->claimed);
    EXPECT_EQ(d->record.state, doc_state::accepted);
    state_update back;
    back.state = doc_state::unknown;
    EXPECT_FALSE(update_sync(j1, "acme", i.key, back));

    // Released without a settle (a holder that stopped sending): claimable at once.
    auto k = make_intent("acme", "F001", 2, "h2");
    auto e = record_sync(j1, k);
    ASSERT_TRUE(e && e->claimed);
    state_update unknown;
    unknown.state = doc_state::unknown;
    unknown.lease = e->lease;
    ASSERT_TRUE(update_sync(j1, "acme", k.key, unknown));
    auto g = record_sync(j2, k);
    ASSERT_TRUE(g);
    EXPECT_TRUE(g->claimed);
    EXPECT_EQ(g->record.state, doc_state::unknown);
}

// A claim whose owner was a process of this host that is gone passes on without waiting for the
// lease: the next sender's contention makes the store look at the owners.
TYPED_TEST_P(store_contract, claims_of_a_dead_process_pass_on) {
    auto s = this->open();
    auto& j = s->journal();
    char host[256] = {};
    ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
    // A pid that cannot be running: the kernel's pid_max is at most 2^22.
    const std::string dead = std::string(host) + "/9999999/0123456789abcdef";
    raw_exec(
        this->backend_,
        "INSERT INTO documents (account, family, tipo, serie, numero, op, payload_hash, state, attempts, "
        "created_at, updated_at, owner, lease_until, lease_token) VALUES ('acme', 'emit', 1, 'F001', 3, "
        "'generar_comprobante', 'h3', 'sending', 1, 1, 1, '" +
            dead + "', 9000000000000000, 4)");
    // Another host's owner is never judged gone.
    raw_exec(
        this->backend_,
        "INSERT INTO documents (account, family, tipo, serie, numero, op, payload_hash, state, attempts, "
        "created_at, updated_at, owner, lease_until, lease_token) VALUES ('acme', 'emit', 1, 'F001', 4, "
        "'generar_comprobante', 'h4', 'sending', 1, 1, 1, 'another-host/1/00', 9000000000000000, 4)");
    auto i = make_intent("acme", "F001", 3, "h3");
    bool claimed = false;
    for (int tries = 0; tries < 200 && !claimed; ++tries) {
        auto r = record_sync(j, i);
        ASSERT_TRUE(r);
        claimed = r->claimed;
        if (claimed) {
            EXPECT_EQ(r->lease, 5);
            EXPECT_EQ(r->record.state, doc_state::sending);  // the resume plan consults first
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    EXPECT_TRUE(claimed) << "the dead owner's claim never passed on";
    auto other = record_sync(j, make_intent("acme", "F001", 4, "h4"));
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->claimed);
}

// A live owner renews its claims while open, and releases them on close.
TYPED_TEST_P(store_contract, claims_are_renewed_and_released_on_close) {
    store_options o;
    o.lease = std::chrono::milliseconds(300);
    auto s = this->open(o);
    auto i = make_intent("acme", "F001", 5, "h5");
    auto r = record_sync(s->journal(), i);
    ASSERT_TRUE(r && r->claimed);
    const auto first = r->record.lease_until;
    std::chrono::system_clock::time_point later = first;
    for (int tries = 0; tries < 300 && later <= first; ++tries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        auto f = find_sync(s->journal(), "acme", i.key);
        ASSERT_TRUE(f && *f);
        later = (*f)->lease_until;
    }
    EXPECT_GT(later, first) << "the claim was not renewed";
    auto other = this->open();
    auto held = record_sync(other->journal(), i);
    ASSERT_TRUE(held);
    EXPECT_FALSE(held->claimed);
    s->close();
    auto now = record_sync(other->journal(), i);
    ASSERT_TRUE(now);
    EXPECT_TRUE(now->claimed);
}

// Schema 5 had no claims: its rows migrate unclaimed, and a `sending` row is claimable at once.
TYPED_TEST_P(store_contract, migrates_schema_5_without_claims) {
    const std::string url = this->backend_.url();
    {
        auto c = this->at_schema(5);
        ASSERT_TRUE(c);
        ASSERT_TRUE(c->exec(
            "INSERT INTO documents (account, family, tipo, serie, numero, op, payload_hash, state, attempts, "
            "codigo, created_at, updated_at) VALUES "
            "('acme', 'emit', 1, 'F001', 1, 'generar_comprobante', 'h1', 'sending', 1, NULL, 1, 1), "
            "('acme', 'emit', 1, 'F001', 2, 'generar_comprobante', 'h2', 'accepted', 1, NULL, 1, 1)"));
    }
    auto s = this->open();
    EXPECT_EQ(s->schema_version(), 9);
    auto one = find_sync(s->journal(), "acme", {1, "F001", 1});
    ASSERT_TRUE(one && *one);
    EXPECT_TRUE((*one)->owner.empty());
    EXPECT_EQ((*one)->lease_token, 0);
    auto r = record_sync(s->journal(), make_intent("acme", "F001", 1, "h1"));
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->claimed);
    EXPECT_EQ(r->lease, 1);
    EXPECT_EQ(r->record.state, doc_state::sending);
    auto two = record_sync(s->journal(), make_intent("acme", "F001", 2, "h2"));
    ASSERT_TRUE(two);
    EXPECT_FALSE(two->claimed);
    EXPECT_EQ(two->record.state, doc_state::accepted);
}

TYPED_TEST_P(store_contract, api_keys_crud_and_revoke) {
    auto s = this->open();
    api_key k;
    k.ruta = "k_0123456789abcdef";
    k.account = "acme";
    k.token_hash = std::string(64, 'a');
    ASSERT_TRUE(s->add_api_key(k));
    auto dup = s->add_api_key(k);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error(), store_errc::constraint);
    k.ruta = "k_fedcba9876543210";
    k.account = "beta";
    ASSERT_TRUE(s->add_api_key(k));

    auto got = s->find_api_key("k_0123456789abcdef");
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->account, "acme");
    EXPECT_EQ((*got)->token_hash, std::string(64, 'a'));
    EXPECT_FALSE((*got)->revoked_at);
    EXPECT_GT((*got)->created_at.time_since_epoch().count(), 0);
    auto none = s->find_api_key("k_nope");
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());

    ASSERT_TRUE(s->revoke_api_key("k_0123456789abcdef"));
    auto revoked = s->find_api_key("k_0123456789abcdef");
    ASSERT_TRUE(revoked && revoked->has_value());
    ASSERT_TRUE((*revoked)->revoked_at);
    const auto first = *(*revoked)->revoked_at;
    ASSERT_TRUE(s->revoke_api_key("k_0123456789abcdef"));  // again: the first time stays
    EXPECT_EQ(*(*s->find_api_key("k_0123456789abcdef"))->revoked_at, first);
    auto missing = s->revoke_api_key("k_nope");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), store_errc::not_found);

    auto all = s->list_api_keys();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].account, "acme");
    EXPECT_EQ((*all)[1].account, "beta");

    auto by_hash = s->find_api_key_by_token_hash(std::string(64, 'a'));
    ASSERT_TRUE(by_hash && by_hash->has_value());
    EXPECT_EQ((*by_hash)->ruta, "k_0123456789abcdef");  // the first of the two with this hash
    auto no_hash = s->find_api_key_by_token_hash(std::string(64, 'b'));
    ASSERT_TRUE(no_hash);
    EXPECT_FALSE(no_hash->has_value());
}

TYPED_TEST_P(store_contract, idempotency_keys_per_tenant) {
    auto s = this->open();
    using std::chrono::seconds;
    const auto keep = seconds(3600), abandoned = seconds(60);
    auto first = s->begin_idempotent("tenant-a", "order-1", "hash-1", keep, abandoned);
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->has_value());  // new: the caller answers it
    auto busy = s->begin_idempotent("tenant-a", "order-1", "hash-1", keep, abandoned);
    ASSERT_TRUE(busy && busy->has_value());
    EXPECT_EQ((*busy)->status, 0);  // being answered
    EXPECT_EQ((*busy)->request_hash, "hash-1");
    // Another tenant's same key is its own.
    auto other = s->begin_idempotent("tenant-b", "order-1", "hash-9", keep, abandoned);
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->has_value());
    ASSERT_TRUE(
        s->finish_idempotent("tenant-a", "order-1", 202, "/v1/accounts/a/documents/1-F001-1", "{\"x\":1}"));
    auto done = s->begin_idempotent("tenant-a", "order-1", "hash-2", keep, abandoned);
    ASSERT_TRUE(done && done->has_value());
    EXPECT_EQ((*done)->request_hash, "hash-1");  // the first request's, whatever this one is
    EXPECT_EQ((*done)->status, 202);
    EXPECT_EQ((*done)->location, "/v1/accounts/a/documents/1-F001-1");
    EXPECT_EQ((*done)->body, "{\"x\":1}");
    // An answer older than `keep`, or an unfinished one older than `abandoned`: the key is new again.
    auto expired = s->begin_idempotent("tenant-a", "order-1", "hash-3", seconds(0), abandoned);
    ASSERT_TRUE(expired);
    EXPECT_FALSE(expired->has_value());
    auto taken_over = s->begin_idempotent("tenant-a", "order-1", "hash-4", keep, seconds(0));
    ASSERT_TRUE(taken_over);
    EXPECT_FALSE(taken_over->has_value());
    // drop forgets an unfinished key; finish/drop of an unknown key: not_found.
    ASSERT_TRUE(s->drop_idempotent("tenant-b", "order-1"));
    auto again = s->begin_idempotent("tenant-b", "order-1", "hash-5", keep, abandoned);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->has_value());
    EXPECT_EQ(s->finish_idempotent("tenant-c", "nope", 200, "", "").error(), store_errc::not_found);
    EXPECT_EQ(s->drop_idempotent("tenant-c", "nope").error(), store_errc::not_found);
}

REGISTER_TYPED_TEST_SUITE_P(store_contract, opens_migrated_and_reopens, accounts_crud,
                            token_encrypted_at_rest, account_cache_reloads_after_change,
                            find_documents_sees_the_journal, counts_documents_by_account_and_state,
                            audit_rows_written_and_queried, back_pressure_never_drops,
                            close_flushes_and_later_writes_fail_cleanly,
                            concurrent_records_create_each_key_once, migrates_schema_2_with_its_journal,
                            completion_dispatch_hands_a_batch_over_at_once, migrates_schema_4_state_names,
                            claims_one_holder_and_fence_stale_settles, claims_of_a_dead_process_pass_on,
                            claims_are_renewed_and_released_on_close, migrates_schema_5_without_claims,
                            api_keys_crud_and_revoke, idempotency_keys_per_tenant);

}  // namespace nubefact::store::testing
