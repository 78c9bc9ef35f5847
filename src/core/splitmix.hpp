// Internal: splitmix64, the one seeded generator of the project (the emulator's faults, latency and
// uuids; the client's retry jitter). 8 bytes of state; not for secrets (keys use OpenSSL's RAND).
#pragma once

#include <cstdint>

namespace nubefact::detail {

// Advances `state` and returns the next 64 random bits.
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

}  // namespace nubefact::detail
