// libFuzzer target: the codec, complete and check (properties.hpp: codec).
#include "properties.hpp"

#include <cstdio>
#include <cstdlib>

NUBEFACT_FUZZ_TARGET(codec)
