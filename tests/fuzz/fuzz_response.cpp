// libFuzzer target: the client's response reading and classify (properties.hpp: response_reading).
#include "properties.hpp"

#include <cstdio>
#include <cstdlib>

NUBEFACT_FUZZ_TARGET(response_reading)
