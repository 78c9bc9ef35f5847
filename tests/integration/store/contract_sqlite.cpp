// Runs the store contract on a fresh SQLite file per test, and the journal contract on SQLite and
// on the in-memory journal.
#include "integration/store/contract.hpp"
#include "integration/store/journal_contract.hpp"

namespace nubefact::store::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(sqlite, store_contract, sqlite_backend);
using journal_backends = ::testing::Types<store_journal<sqlite_backend>, in_memory_journal>;
INSTANTIATE_TYPED_TEST_SUITE_P(kept, journal_contract, journal_backends);
}  // namespace nubefact::store::testing
