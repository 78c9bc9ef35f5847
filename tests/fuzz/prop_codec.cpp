// Property of the codec, complete and check: see properties.hpp.
#include "properties.hpp"

#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <exception>
#include <variant>

namespace nubefact::fuzz {
namespace {

verdict codec_unguarded(std::string_view text) {
    json::read_options big;
    big.max_bytes = std::size_t(64) << 20;

    // Requests: writing never changes a document that read cleanly.
    auto r = json::read_request(text);
    const std::string w = json::write(r.doc);
    auto r2 = json::read_request(w, big);
    if (!has_errors(r.findings)) {
        if (has_errors(r2.findings)) return "re-read of a written request has errors";
        if (json::write(r2.doc) != w) return "write(read(write(x))) != write(x)";
        if (r2.op != r.op) return "operation changed on re-read";
        json::write_options pretty;
        pretty.pretty = true;
        pretty.local_fields = true;
        auto r3 = json::read_request(json::write(r.doc, pretty), big);
        if (has_errors(r3.findings)) return "re-read of the pretty form has errors";
        if (json::write(r3.doc) != w) return "the pretty form reads back differently";
    }
    (void)fiscal::check(r.doc);

    // Comprobantes: complete is idempotent, and what it writes reads back to the same document.
    auto c = json::read_comprobante(text);
    if (auto* doc = std::get_if<comprobante>(&c.doc)) {
        (void)fiscal::check(*doc);
        fiscal::complete(*doc);
        const std::string once = json::write(*doc);
        fiscal::complete(*doc);
        if (json::write(*doc) != once) return "complete(complete(x)) != complete(x)";
        (void)fiscal::check(*doc);
        if (!has_errors(c.findings)) {
            auto back = json::read_comprobante(once, big);
            auto* again = std::get_if<comprobante>(&back.doc);
            if (!again) return "a completed comprobante reads back as something else";
            if (json::write(*again) != once) return "a completed comprobante reads back differently";
        }
    }

    // Responses.
    auto s = json::read_response(text);
    const std::string ws = std::visit([](const auto& b) { return json::write(b); }, s.body);
    auto s2 = json::read_response(ws);
    if (!has_errors(s.findings)) {
        if (has_errors(s2.findings)) return "re-read of a written response has errors";
        if (std::visit([](const auto& b) { return json::write(b); }, s2.body) != ws)
            return "response round trip";
    }
    return std::nullopt;
}

}  // namespace

verdict codec(std::string_view bytes) {
    try {
        return codec_unguarded(bytes);
    } catch (const std::exception& e) {
        return std::string("exception: ") + e.what();
    } catch (...) {
        return "a non-standard exception";
    }
}

}  // namespace nubefact::fuzz
