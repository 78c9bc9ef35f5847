// The journal contract: what every intent_journal must do, whatever keeps it — the in-memory
// journal (`nubefact send --no-store`), SQLite and PostgreSQL. Instantiated in contract_sqlite.cpp
// (memory and SQLite) and ../pg/contract_pg.cpp. What only a store has (claims, counts, audit,
// accounts) is in contract.hpp.
#pragma once

#include "integration/store/support.hpp"

#include <nubefact/client_memory.hpp>

#include <gtest/gtest.h>

#include <memory>

namespace nubefact::store::testing {

// The journal of a store opened on a fresh database of StoreBackend (sqlite_backend, pg_backend).
template <class StoreBackend>
class store_journal {
  public:
    static constexpr bool keeps_payloads = true;
    bool available() const { return backend_.available(); }
    intent_journal& open() {
        store_options o;
        o.secret_key = "";
        store_ = open_or_die(backend_.url(), o);
        return store_->journal();
    }

  private:
    StoreBackend backend_;
    std::unique_ptr<store> store_;
};

// Keeps payload hashes only (client_memory.hpp): what reconciliation compares.
class in_memory_journal {
  public:
    static constexpr bool keeps_payloads = false;
    bool available() const { return true; }
    intent_journal& open() { return journal_; }

  private:
    memory_journal journal_;
};

template <class Backend>
class journal_contract : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!backend_.available()) GTEST_SKIP() << "NUBEFACT_TEST_PG_URL not set (scripts/pg.sh start)";
        journal_ = &backend_.open();
    }
    intent_journal& journal() { return *journal_; }
    Backend backend_;
    intent_journal* journal_ = nullptr;
};

TYPED_TEST_SUITE_P(journal_contract);

TYPED_TEST_P(journal_contract, journal_record_is_idempotent) {
    auto& j = this->journal();
    auto i = make_intent("acme", "F001", 1, "hash-a");
    auto first = record_sync(j, i);
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_TRUE(first->created);
    EXPECT_EQ(first->record.state, doc_state::queued);
    auto again = record_sync(j, i);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->created);
    EXPECT_EQ(again->record.what.payload_hash, "hash-a");
    if constexpr (TypeParam::keeps_payloads) {
        EXPECT_EQ(again->record.what.payload, i.payload);
    }
    EXPECT_EQ(again->record.created_at, first->record.created_at);
    auto other = record_sync(j, make_intent("acme", "F001", 1, "hash-b"));
    ASSERT_TRUE(other);
    EXPECT_FALSE(other->created);
    EXPECT_EQ(other->record.what.payload_hash, "hash-a");  // the caller sees the conflict
    // Same key, another account or tipo: a different document.
    EXPECT_TRUE(record_sync(j, make_intent("other", "F001", 1))->created);
    EXPECT_TRUE(
        record_sync(j, make_intent("acme", "F001", 1, "h", operation::generar_comprobante, 3))->created);
}

TYPED_TEST_P(journal_contract, journal_update_and_find) {
    auto& j = this->journal();
    auto i = make_intent("acme", "F001", 7);
    ASSERT_TRUE(record_sync(j, i));
    state_update u;
    u.state = doc_state::sending;
    u.count_attempt = true;
    ASSERT_TRUE(update_sync(j, "acme", i.key, u));
    state_update done;
    done.state = doc_state::accepted;
    done.aceptada_por_sunat = true;
    done.sunat_responsecode = "0";
    done.sunat_description = "La Factura numero F001-7, ha sido aceptada";
    done.enlace = "https://www.nubefact.com/cpe/abc";
    done.enlace_del_pdf = "https://www.nubefact.com/cpe/abc.pdf";
    done.enlace_del_xml = "https://www.nubefact.com/cpe/abc.xml";
    done.enlace_del_cdr = "https://www.nubefact.com/cpe/abc.cdr";
    done.cadena_para_codigo_qr =
        "20600695771 | 01 | F001 | 000007 | 18.00 | 118.00 | 15/01/2026 | 6 | 20100066603 |";
    done.codigo_hash = "fa1bDx9qZ1c2PqBpJ3o4Lw5u6E=";
    ASSERT_TRUE(update_sync(j, "acme", i.key, done));
    state_update note_only;
    note_only.state = doc_state::accepted;
    note_only.sunat_note = "obs";
    ASSERT_TRUE(update_sync(j, "acme", i.key, note_only));

    auto f = find_sync(j, "acme", i.key);
    ASSERT_TRUE(f && *f);
    const auto& d = **f;
    EXPECT_EQ(d.state, doc_state::accepted);
    EXPECT_EQ(d.attempts, 1);
    EXPECT_EQ(d.aceptada_por_sunat, true);
    EXPECT_EQ(d.sunat_responsecode, "0");  // kept: later updates leave it alone
    EXPECT_EQ(d.sunat_description, "La Factura numero F001-7, ha sido aceptada");
    EXPECT_EQ(d.sunat_note, "obs");
    EXPECT_EQ(d.enlace_del_cdr, "https://www.nubefact.com/cpe/abc.cdr");
    // Every text of the answer the journal keeps comes back as given (the note was given later).
    for_each_answer_text([&](std::string_view name, auto get) {
        if (name != "sunat_note") {
            EXPECT_EQ(get(d), *get(done)) << name;
        }
    });
    EXPECT_FALSE(d.codigo.has_value());
    EXPECT_EQ(d.what.op, operation::generar_comprobante);
    EXPECT_GE(d.updated_at, d.created_at);

    // Forward only: accepted is final, a later rejected changes nothing.
    state_update rej;
    rej.state = doc_state::rejected;
    rej.codigo = 21;
    rej.error = "codigo 21: El numero de RUC del receptor no es valido";
    auto late = update_sync(j, "acme", i.key, rej);
    ASSERT_FALSE(late);
    EXPECT_EQ(late.error(), store_errc::not_found);
    auto f2 = find_sync(j, "acme", i.key);
    EXPECT_EQ((*f2)->state, doc_state::accepted);
    EXPECT_FALSE((*f2)->codigo);

    auto missing = update_sync(j, "acme", {1, "F001", 999}, u);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), store_errc::not_found);
    auto nf = find_sync(j, "acme", {1, "F001", 999});
    ASSERT_TRUE(nf);
    EXPECT_FALSE(nf->has_value());
}

TYPED_TEST_P(journal_contract, void_operations_have_their_own_row) {
    auto& j = this->journal();
    auto cpe = make_intent("acme", "F001", 3, "h-cpe");
    auto baja = make_intent("acme", "F001", 3, "h-baja", operation::generar_anulacion);
    EXPECT_TRUE(record_sync(j, cpe)->created);
    EXPECT_TRUE(record_sync(j, baja)->created);
    state_update u;
    u.state = doc_state::accepted;
    u.op = operation::generar_anulacion;
    ASSERT_TRUE(update_sync(j, "acme", baja.key, u));
    auto emit = find_sync(j, "acme", cpe.key);
    EXPECT_EQ((*emit)->state, doc_state::queued);
    auto v = find_sync(j, "acme", baja.key, operation::generar_anulacion);
    ASSERT_TRUE(v && *v);
    EXPECT_EQ((*v)->state, doc_state::accepted);
    EXPECT_EQ((*v)->what.op, operation::generar_anulacion);
    EXPECT_EQ((*v)->what.payload_hash, "h-baja");
}

// A payload for a number Nubefact said it does not hold (refused, failed) replaces the old one: a new
// attempt under the same number. Where Nubefact may hold it, the journaled payload stays.
TYPED_TEST_P(journal_contract, corrected_payload_only_where_nubefact_has_nothing) {
    auto& j = this->journal();
    for (auto st : all_doc_states) {
        const auto n = static_cast<std::int64_t>(st) + 100;
        auto first = make_intent("acme", "F001", n, "old");
        first.sending = true;
        ASSERT_TRUE(record_sync(j, first));
        state_update u;
        u.state = st;
        u.codigo = 22;
        u.error = "codigo 22: fuera de plazo";
        ASSERT_TRUE(update_sync(j, "acme", first.key, u));
        auto fixed = make_intent("acme", "F001", n, "new");
        fixed.payload = R"({"fixed":true})";
        fixed.sending = true;
        auto r = record_sync(j, fixed);
        ASSERT_TRUE(r) << to_string(st);
        const bool allowed = st == doc_state::refused || st == doc_state::failed;
        EXPECT_EQ(r->created, allowed) << to_string(st);
        auto now = find_sync(j, "acme", first.key);
        ASSERT_TRUE(now && now->has_value());
        if (allowed) {
            EXPECT_EQ((*now)->what.payload_hash, "new");
            if constexpr (TypeParam::keeps_payloads) {
                EXPECT_EQ((*now)->what.payload, R"({"fixed":true})");
            }
            EXPECT_EQ((*now)->state, doc_state::sending);
            EXPECT_EQ((*now)->attempts, 2);  // the first attempt stays counted
            EXPECT_FALSE((*now)->codigo);
            EXPECT_EQ((*now)->error, "");
        } else {
            EXPECT_EQ(r->record.what.payload_hash, "old") << to_string(st);
            EXPECT_EQ((*now)->what.payload_hash, "old");
            EXPECT_EQ((*now)->state, st);
        }
    }
}

REGISTER_TYPED_TEST_SUITE_P(journal_contract, journal_record_is_idempotent, journal_update_and_find,
                            void_operations_have_their_own_row,
                            corrected_payload_only_where_nubefact_has_nothing);

}  // namespace nubefact::store::testing
