// Property of the emulator's request handling, from raw bytes over loopback: see properties.hpp.
#include "properties.hpp"

#include <nubefact/emulator.hpp>

#include "http_raw.hpp"

#include <atomic>
#include <chrono>
#include <memory>

namespace nubefact::fuzz {

// One emulator for the whole process (admin on, so /__emulator/* is reachable too), with short
// timeouts: a request cut short by the end of the input must not keep the connection open.
emulator::server& shared_emulator() {
    static std::unique_ptr<emulator::server> s = [] {
        emulator::options o;
        o.admin = true;
        o.max_age_days = 100000;
        o.max_body = 64 << 10;
        o.max_header = 8 << 10;
        o.header_timeout = std::chrono::milliseconds(1000);
        o.body_timeout = std::chrono::milliseconds(1000);
        o.idle_timeout = std::chrono::milliseconds(1000);
        auto srv = std::make_unique<emulator::server>(o);
        if (!srv->start()) std::abort();
        return srv;
    }();
    return *s;
}

verdict emulator_http(std::string_view bytes) {
    auto& emu = shared_emulator();
    static std::atomic<unsigned> runs{0};
    if (++runs % 5000 == 0) emu.reset();  // keep the document store small over a long campaign

    return raw_http_exchange(emu.port(), bytes);
}

}  // namespace nubefact::fuzz
