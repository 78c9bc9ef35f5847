// memory_journal (the journal of `nubefact send --no-store`): no payloads kept, memory bounded.
#include <nubefact/client_memory.hpp>

#include <gtest/gtest.h>

namespace nubefact {
namespace {

intent make_intent(std::int64_t numero) {
    return intent{"acc",
                  operation::generar_comprobante,
                  {1, "FFF1", numero},
                  "hash-" + std::to_string(numero),
                  std::string(1500, 'x')};
}

void settle(memory_journal& j, std::int64_t numero, doc_state s) {
    state_update u;
    u.state = s;
    u.enlace = "https://e.test/" + std::to_string(numero);
    j.update("acc", {1, "FFF1", numero}, u, [](result<void> r) { ASSERT_TRUE(r); });
}

TEST(memory_journal, keeps_the_hash_not_the_payload) {
    memory_journal j;
    j.record(make_intent(1), [](result<intent_journal::record_result> r) {
        ASSERT_TRUE(r);
        EXPECT_TRUE(r->created);
        EXPECT_TRUE(r->record.what.payload.empty());  // not kept, not copied back either
        EXPECT_EQ(r->record.what.payload_hash, "hash-1");
    });
    auto rec = j.get("acc", {1, "FFF1", 1});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->what.payload_hash, "hash-1");
    EXPECT_TRUE(rec->what.payload.empty());
    // The same number again: not created, same hash reported (what reconciliation compares).
    j.record(make_intent(1), [](result<intent_journal::record_result> r) {
        ASSERT_TRUE(r);
        EXPECT_FALSE(r->created);
        EXPECT_EQ(r->record.what.payload_hash, "hash-1");
    });
}

TEST(memory_journal, forgets_the_oldest_settled_rows_beyond_the_bound) {
    memory_journal j(100);
    for (std::int64_t n = 1; n <= 1000; ++n) {
        j.record(make_intent(n), [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
        // Every tenth document stays in flight (sending/unknown): those are never forgotten.
        settle(j, n, n % 10 == 0 ? doc_state::unknown : doc_state::accepted);
    }
    EXPECT_LE(j.size(), 100u + 100u);  // the bound, plus the unsettled rows it must keep
    for (std::int64_t n = 10; n <= 1000; n += 10) {
        auto rec = j.get("acc", {1, "FFF1", n});
        ASSERT_TRUE(rec) << n;
        EXPECT_EQ(rec->state, doc_state::unknown);
    }
    auto newest = j.get("acc", {1, "FFF1", 999});
    ASSERT_TRUE(newest);
    EXPECT_EQ(newest->state, doc_state::accepted);
    EXPECT_EQ(newest->enlace, "https://e.test/999");
    EXPECT_FALSE(j.get("acc", {1, "FFF1", 1}));  // the oldest settled row was forgotten
}

TEST(memory_journal, old_settled_rows_keep_their_verdict_not_their_texts) {
    memory_journal j(1000, 10);
    for (std::int64_t n = 1; n <= 50; ++n) {
        j.record(make_intent(n), [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
        state_update u;
        u.state = n == 5 ? doc_state::unknown : doc_state::accepted;
        u.codigo = n == 5 ? std::optional<int>(24) : std::nullopt;
        u.aceptada_por_sunat = n != 5;
        u.enlace = "https://e.test/" + std::to_string(n);
        u.error = n == 5 ? std::optional<std::string>("timeout") : std::nullopt;
        j.update("acc", {1, "FFF1", n}, u, [](result<void> r) { ASSERT_TRUE(r); });
    }
    EXPECT_EQ(j.size(), 50u);
    auto old = j.get("acc", {1, "FFF1", 1});
    ASSERT_TRUE(old);
    EXPECT_EQ(old->state, doc_state::accepted);  // what reconciliation and a rerun need stays
    EXPECT_EQ(old->what.payload_hash, "hash-1");
    EXPECT_EQ(old->aceptada_por_sunat, true);
    EXPECT_EQ(old->attempts, 0);
    EXPECT_TRUE(old->enlace.empty());  // the texts went
    // The 10 newest settled rows keep theirs; so does a row that never settled.
    for (std::int64_t n = 41; n <= 50; ++n)
        EXPECT_EQ(j.get("acc", {1, "FFF1", n})->enlace, "https://e.test/" + std::to_string(n));
    auto open = j.get("acc", {1, "FFF1", 5});
    ASSERT_TRUE(open);
    EXPECT_EQ(open->state, doc_state::unknown);
    EXPECT_EQ(open->codigo, 24);
    EXPECT_EQ(open->error, "timeout");
    EXPECT_EQ(open->enlace, "https://e.test/5");
    // A void-family row of the same number is its own row.
    EXPECT_FALSE(j.get("acc", {1, "FFF1", 1}, operation::generar_anulacion));
}

// A row settled again lives on at its newer settle: its texts stay while that one is recent.
TEST(memory_journal, a_row_settled_again_counts_from_its_latest_settle) {
    memory_journal j(1000, 3);
    for (std::int64_t n = 1; n <= 3; ++n) {
        j.record(make_intent(n), [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
        settle(j, n, doc_state::accepted);
    }
    settle(j, 1, doc_state::accepted);  // 1 again (a consult confirmed it): now the newest
    j.record(make_intent(4), [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
    settle(j, 4, doc_state::accepted);
    EXPECT_EQ(j.get("acc", {1, "FFF1", 1})->enlace, "https://e.test/1");
    EXPECT_TRUE(j.get("acc", {1, "FFF1", 2})->enlace.empty());
    // Forgetting goes by the latest settle too: with room for 2 rows, 1 (settled after 3) outlives 3.
    memory_journal k(2, 10);
    for (std::int64_t n : {1, 2, 3}) {
        k.record(make_intent(n), [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
        settle(k, n, doc_state::accepted);
        if (n == 2) settle(k, 1, doc_state::accepted);
    }
    EXPECT_TRUE(k.get("acc", {1, "FFF1", 1}));
    EXPECT_FALSE(k.get("acc", {1, "FFF1", 2}));
    EXPECT_TRUE(k.get("acc", {1, "FFF1", 3}));
}

// Every answer text round-trips; an update that brings some texts keeps the others.
TEST(memory_journal, a_later_update_keeps_the_texts_it_does_not_bring) {
    memory_journal j;
    j.record(make_intent(1), [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
    state_update u;
    u.state = doc_state::unknown;
    u.sunat_responsecode = "0";
    u.sunat_description = "La Factura numero FFF1-1, ha sido aceptada";
    u.sunat_note = "";
    u.enlace = "https://e.test/1";
    u.enlace_del_pdf = "https://e.test/1.pdf";
    u.enlace_del_xml = "https://e.test/1.xml";
    u.enlace_del_cdr = "https://e.test/1.cdr";
    u.error = "timeout";
    j.update("acc", {1, "FFF1", 1}, u, [](result<void> r) { ASSERT_TRUE(r); });
    state_update v;
    v.state = doc_state::accepted;
    v.error = std::string(100000, 'e');  // long texts too
    v.enlace = "";
    j.update("acc", {1, "FFF1", 1}, v, [](result<void> r) { ASSERT_TRUE(r); });
    auto rec = j.get("acc", {1, "FFF1", 1});
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->sunat_responsecode, "0");
    EXPECT_EQ(rec->sunat_description, "La Factura numero FFF1-1, ha sido aceptada");
    EXPECT_EQ(rec->sunat_note, "");
    EXPECT_EQ(rec->enlace, "");
    EXPECT_EQ(rec->enlace_del_pdf, "https://e.test/1.pdf");
    EXPECT_EQ(rec->enlace_del_xml, "https://e.test/1.xml");
    EXPECT_EQ(rec->enlace_del_cdr, "https://e.test/1.cdr");
    EXPECT_EQ(rec->error, std::string(100000, 'e'));
}

// Past the first thousand rows the map is sized for its bound once; every row is still found, and
// the bound still holds.
TEST(memory_journal, many_rows_across_the_resize) {
    memory_journal j(3000, 16);
    for (std::int64_t n = 1; n <= 5000; ++n) {
        j.record(make_intent(n), [](result<intent_journal::record_result> r) { ASSERT_TRUE(r); });
        settle(j, n, doc_state::accepted);
    }
    EXPECT_EQ(j.size(), 3000u);
    EXPECT_FALSE(j.get("acc", {1, "FFF1", 2000}));
    for (std::int64_t n = 2001; n <= 5000; ++n) {
        auto rec = j.get("acc", {1, "FFF1", n});
        ASSERT_TRUE(rec) << n;
        EXPECT_EQ(rec->enlace, n > 4984 ? "https://e.test/" + std::to_string(n) : "") << n;
    }
}

}  // namespace
}  // namespace nubefact
