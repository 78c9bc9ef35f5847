// What the HTTP server properties (emulator, gateway) share: one raw exchange over loopback and
// the one emulator of the process.
#pragma once

#include "properties.hpp"

#include <nubefact/emulator.hpp>

#include <cstdint>
#include <string_view>

namespace nubefact::fuzz {

// Sends `bytes` to 127.0.0.1:`port` as they are (then half-closes), reading alongside, and checks
// what came back: zero or more complete HTTP/1.1 responses with a status in 100..599, then the
// connection closed, within 5 s; at most 8 MiB of answers. `received`, when given, receives them.
verdict raw_http_exchange(std::uint16_t port, std::string_view bytes, std::string* received = nullptr);

// One emulator for the whole process (admin on; short timeouts so a request cut short by the end
// of the input does not keep its connection open).
emulator::server& shared_emulator();

}  // namespace nubefact::fuzz
