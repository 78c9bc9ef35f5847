// libFuzzer target: raw bytes to `nubefact serve`'s HTTP server (tests/fuzz/prop_gateway.cpp).
#include "properties.hpp"

#include <cstdio>
#include <cstdlib>

NUBEFACT_FUZZ_TARGET(gateway_http)
