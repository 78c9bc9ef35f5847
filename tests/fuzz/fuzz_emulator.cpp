// libFuzzer target: raw bytes to a real emulator over loopback (properties.hpp: emulator_http).
#include "properties.hpp"

#include <cstdio>
#include <cstdlib>

NUBEFACT_FUZZ_TARGET(emulator_http)
