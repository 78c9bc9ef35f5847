// Runs the store contract on PostgreSQL (NUBEFACT_TEST_PG_URL; skipped when unset), one schema per test.
#include "integration/store/contract.hpp"

namespace nubefact::store::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(postgresql, store_contract, pg_backend);
}  // namespace nubefact::store::testing
