// Property of the client's response reading: see properties.hpp.
#include "properties.hpp"

#include <nubefact/client_policy.hpp>
#include "client/transport.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>

namespace nubefact::fuzz {

// Input: byte 0 picks the read sizes (1..256 bytes per read), byte 1 the body limit (64 B .. 16 KiB),
// the rest is what the server sent before closing the connection.
verdict response_reading(std::string_view bytes) {
    using namespace nubefact::transport;
    if (bytes.size() < 2) return std::nullopt;
    const std::size_t step = static_cast<unsigned char>(bytes[0]) + 1;
    const std::size_t limit = std::size_t(64) << (static_cast<unsigned char>(bytes[1]) % 9);
    std::string_view wire = bytes.substr(2);
    try {
        response_reader p(limit);
        beast::flat_buffer buf;
        exchange_result r;
        read_progress progress = read_progress::more;
        std::size_t at = 0;
        while (progress == read_progress::more) {
            const std::size_t n = std::min(step, wire.size() - at);
            if (n > 0) {
                auto out = buf.prepare(n);
                std::copy_n(wire.data() + at, n, static_cast<char*>(out.data()));
                buf.commit(n);
                at += n;
                progress = read_after(p, {}, n, r);
                if (progress == read_progress::more) progress = read_feed(p, buf, r);
            } else {
                progress = read_after(p, asio::error::eof, 0, r);
            }
            if (at > wire.size()) return "read past the input";
        }
        if (progress == read_progress::done) {
            if (r.ec) return "done with an error set";
            if (r.body.size() > limit)
                return fmt::format("body of {} bytes over the {} limit", r.body.size(), limit);
            if (r.status < 100 || r.status > 999) return fmt::format("done with status {}", r.status);
        } else if (!r.ec) {
            return "failed without an error";
        }
        if (r.retry_after && *r.retry_after > std::chrono::hours(1)) return "Retry-After beyond one hour";

        sansio::exchange_view x;
        x.ec = r.ec;
        x.written = true;
        x.status = r.status;
        x.body = r.body;
        x.retry_after = r.retry_after;
        auto c = sansio::classify(x);
        if (c.outcome.empty()) return "classify gave no outcome";
        if (c.view.what == sansio::verdict::success && (!c.resp || r.status != 200))
            return "success without a parsed 200 answer";
        // Any codigo an answer carries (an int: the reader refuses what does not fit) is reported
        // as it came; an unknown one is Nubefact's to explain, not a reading failure.
    } catch (const std::exception& e) {
        return std::string("exception: ") + e.what();
    }
    return std::nullopt;
}

}  // namespace nubefact::fuzz
