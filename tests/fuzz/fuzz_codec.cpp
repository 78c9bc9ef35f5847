// libFuzzer target: read_request/read_comprobante/read_response + write + re-read, then fiscal rules.
#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_codec invariant broken: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace nubefact;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    json::read_options big;
    big.max_bytes = std::size_t(64) << 20;

    // Requests: writing never changes a document that read cleanly.
    auto r = json::read_request(text);
    const std::string w = json::write(r.doc);
    auto r2 = json::read_request(w, big);
    if (!has_errors(r.findings)) {
        require(!has_errors(r2.findings), "re-read of written request has errors");
        require(json::write(r2.doc) == w, "write(read(write(x))) != write(x)");
        require(r2.op == r.op, "operation changed on re-read");
        json::write_options pretty;
        pretty.pretty = true;
        pretty.local_fields = true;
        auto r3 = json::read_request(json::write(r.doc, pretty), big);
        require(!has_errors(r3.findings), "re-read of pretty request has errors");
        require(json::write(r3.doc) == w, "pretty form reads back differently");
    }

    // Fiscal rules on whatever was read: they must never crash on codec output.
    auto c = json::read_comprobante(text);
    if (auto* doc = std::get_if<comprobante>(&c.doc)) {
        (void)fiscal::check(*doc);
        fiscal::complete(*doc);
        (void)fiscal::check(*doc);
        (void)json::write(*doc);
    }
    (void)fiscal::check(r.doc);

    // Responses.
    auto s = json::read_response(text);
    const std::string ws = std::visit([](const auto& b) { return json::write(b); }, s.body);
    auto s2 = json::read_response(ws);
    if (!has_errors(s.findings)) {
        require(!has_errors(s2.findings), "re-read of written response has errors");
        require(std::visit([](const auto& b) { return json::write(b); }, s2.body) == ws,
                "response round trip");
    }
    return 0;
}
