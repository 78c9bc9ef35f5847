// Internal: a guard every Beast HTTP read loop of ours (client, emulator, gateway) runs before
// parser.put().
#pragma once

#include <cstddef>

namespace nubefact::net {

// Boost 1.74's chunked parser (http::basic_parser, requests and responses alike) asserts that a
// final chunk it parses again has 5 bytes buffered; without the assert it returns need_more, which
// is right (fixed upstream in Beast PR #2861). A peer trickling a chunked body in pieces of 1-4
// bytes therefore aborted a build with assertions (found by fuzz_response). The parser consumes
// none of a final chunk until it is whole, and any chunked message still has at least 5 bytes to
// come ("0\r\n\r\n"), so waiting for 5 is safe: true when the loop must read before putting.
template <class Parser>
bool wait_for_chunk_bytes(const Parser& p, std::size_t buffered) {
    return p.is_header_done() && p.chunked() && !p.is_done() && buffered < 5;
}

}  // namespace nubefact::net
