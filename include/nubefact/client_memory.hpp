// In-memory implementations of the client's persistence seams (intent_journal, audit_sink).
// For tests, examples and programs that do not need durability; the store provides durable ones.
#pragma once

#include <nubefact/clock.hpp>
#include <nubefact/journal.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace nubefact {

// Thread-safe journal kept in a hash map; callbacks run inline on the calling thread. One process
// is its only owner: a claim lasts until its settle (no lease expiry).
// Rows are keyed by (account, row family (see is_void_operation), document key). Payloads are not
// kept (only their hash: what reconciliation compares), so every record it returns, record()'s
// included, has an empty payload (a copy of ~1 KB per document cost more than the rest of record()).
// Memory is bounded: beyond `max_rows`, the
// oldest settled rows (accepted/rejected) are forgotten; a number sent again after that is treated
// as new and Nubefact's own uniqueness (codigo 23) reports it as a conflict, never a duplicate.
// The answer's texts (SUNAT fields, links, error) are kept for the newest `details_kept` settled
// rows; older settled rows keep key, state, attempts, codigo, SUNAT verdict and payload hash only
// (~150 bytes instead of ~1.1 KB), so `send --no-store` stays small however long the batch.
class memory_journal final : public intent_journal {
  public:
    explicit memory_journal(std::size_t max_rows = 65536, std::size_t details_kept = 1024);
    // The same with created_at / updated_at read from `clock` (null: the real clock).
    explicit memory_journal(std::shared_ptr<const clock_source> clock, std::size_t max_rows = 65536,
                            std::size_t details_kept = 1024);
    void record(const intent& what, std::function<void(result<record_result>)> done) override;
    void update(const std::string& account, const document_key& key, const state_update& u,
                std::function<void(result<void>)> done) override;
    void find(const std::string& account, const document_key& key,
              std::function<void(result<std::optional<intent_record>>)> done) override;
    void find(const std::string& account, operation op, const document_key& key,
              std::function<void(result<std::optional<intent_record>>)> done) override;

    // Synchronous helpers for tests.
    std::optional<intent_record> get(const std::string& account, const document_key& key,
                                     operation op = operation::generar_comprobante) const;
    std::vector<intent_record> all() const;
    std::size_t size() const;
    // Makes record()/update() fail with client_errc::journal (to test that nothing is sent).
    void fail_writes(bool on);

    ~memory_journal() override;

  private:
    struct table;  // the rows, their bound and lock (src/client/memory.cpp)
    std::unique_ptr<table> t_;
};

// Bounded queue of audit records. try_write() fails when `capacity` records are waiting; drain()
// empties it and wakes the writers waiting in wait_for_space(). Never drops a record. Thread-safe.
class memory_audit_sink final : public audit_sink {
  public:
    explicit memory_audit_sink(std::size_t capacity = 1u << 20);
    bool try_write(audit_record&& r) override;
    void wait_for_space(std::function<void()> ready) override;

    // Takes every queued record (oldest first) and wakes waiting writers.
    std::vector<audit_record> drain();
    std::size_t size() const;
    std::size_t waiting_writers() const;
    // Blocks until at least n records are queued or `timeout` passes (for tests).
    bool wait_size(std::size_t n, std::chrono::milliseconds timeout) const;

  private:
    std::size_t capacity_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::deque<audit_record> q_;
    std::vector<std::function<void()>> waiters_;
};

}  // namespace nubefact
