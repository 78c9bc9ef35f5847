// libFuzzer target: the TOML and NUBEFACT_* account configuration (properties.hpp: account_config).
#include "properties.hpp"

#include <cstdio>
#include <cstdlib>

NUBEFACT_FUZZ_TARGET(account_config)
