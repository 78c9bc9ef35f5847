// Runs the store and journal contracts on PostgreSQL (NUBEFACT_TEST_PG_URL; skipped when unset), one
// schema per test.
#include "integration/store/contract.hpp"
#include "integration/store/journal_contract.hpp"

namespace nubefact::store::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(postgresql, store_contract, pg_backend);
INSTANTIATE_TYPED_TEST_SUITE_P(postgresql, journal_contract, store_journal<pg_backend>);
}  // namespace nubefact::store::testing
