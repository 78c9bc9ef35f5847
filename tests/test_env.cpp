// Linked into every test executable: sets the NUBEFACT_* paths tests read, unless already set.
#include <cstdlib>

namespace {

struct test_env {
    test_env() {
        // overwrite = 0: a value given by the caller (or CI) wins.
        setenv("NUBEFACT_SOURCE_DIR", NUBEFACT_TEST_SOURCE_DIR, 0);
        setenv("NUBEFACT_EXAMPLES_DIR", NUBEFACT_TEST_SOURCE_DIR "/tests/data/official", 0);
        setenv("NUBEFACT_BINARY", NUBEFACT_TEST_BINARY, 0);
    }
};
const test_env env_setter;

}  // namespace
