// Internal: how our HTTP servers (emulator, gateway) close a connection after its last answer.
#pragma once

#include <chrono>
#include <cstddef>

namespace nubefact::net {

// A server that closes a socket while bytes it has not read wait in the socket makes the kernel
// send RST, and RST discards what the server wrote and the network has not delivered yet: a client
// that pipelined requests, or kept sending a body the server refused (413, 431, 400), loses the
// answer that says why, or gets half of it (found by fuzz_gateway on a loaded CI machine: the last
// of 28 pipelined answers cut after 675 bytes). So after the last answer a server shuts down its
// sending side (FIN after the answer), reads and drops whatever the client still sends until the
// client closes, for at most `time` and `bytes`, and only then closes. A client that reads the
// answer and closes ends the wait at once.
struct linger_limits {
    std::chrono::milliseconds time{2000};
    std::size_t bytes = std::size_t(1) << 20;
};
inline constexpr linger_limits linger{};

}  // namespace nubefact::net
