// The properties each fuzz target checks, one function per target: given any bytes, the empty
// optional when every invariant holds, else the broken invariant in words. The libFuzzer targets
// (fuzz_*.cpp, preset `fuzz`) abort on a broken one; tests/unit/fuzz replays every saved input
// (tests/data/fuzz/<target>/ and the seed corpora) through the same functions in the normal suite.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nubefact::fuzz {

using verdict = std::optional<std::string>;

// The input reader's framing (json::document_reader; the CLI's csv_reader when the first byte is
// 0x01): always terminates, entries bounded by the input, every non-blank line covered, lines in
// order, and the input split at a clean line boundary gives the same documents as a whole.
verdict input_reader(std::string_view bytes);

// read → write → read gives the same document; complete is idempotent; check never throws.
verdict codec(std::string_view bytes);

// The client's response reading (fed in pieces the input chooses) and classify(): a verdict or a
// clear error, the body never beyond the limit.
verdict response_reading(std::string_view bytes);

// The TOML account file and NUBEFACT_* variables: accounts or config_error, nothing else.
verdict account_config(std::string_view bytes);

// Raw bytes sent to a real emulator over loopback: well-formed HTTP answers, then the connection
// closed, within a bounded time.
verdict emulator_http(std::string_view bytes);

// Raw bytes sent to a real gateway (`nubefact serve`: SQLite store, one account on the emulator,
// one API key; the placeholders RUTA_ and TOKEN_ in the input become the key's): the same as the
// emulator's, and no answer carries the key's token.
verdict gateway_http(std::string_view bytes);

}  // namespace nubefact::fuzz

// The libFuzzer entry point over one property.
#define NUBEFACT_FUZZ_TARGET(property)                                                                       \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {                      \
        auto broken = nubefact::fuzz::property(std::string_view(reinterpret_cast<const char*>(data), size)); \
        if (broken) {                                                                                        \
            std::fprintf(stderr, "fuzz " #property ": invariant broken: %s\n", broken->c_str());             \
            std::abort();                                                                                    \
        }                                                                                                    \
        return 0;                                                                                            \
    }
