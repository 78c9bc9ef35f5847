// libFuzzer target: the input reader's framing (JSON, JSONL, CSV) (properties.hpp: input_reader).
#include "properties.hpp"

#include <cstdio>
#include <cstdlib>

NUBEFACT_FUZZ_TARGET(input_reader)
