// Runs the store contract on a fresh SQLite file per test.
#include "integration/store/contract.hpp"

namespace nubefact::store::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(sqlite, store_contract, sqlite_backend);
}  // namespace nubefact::store::testing
