// Property of the codec, complete and check: see properties.hpp.
#include "properties.hpp"

#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <exception>
#include <variant>

namespace nubefact::fuzz {
namespace {

// What broke, with where the two texts part: "… at byte 812: …"total":"708.00" vs …"total":"708"".
std::string differ(std::string_view what, std::string_view a, std::string_view b) {
    std::size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    const std::size_t from = i > 40 ? i - 40 : 0;
    return std::string(what) + " at byte " + std::to_string(i) + ": " + std::string(a.substr(from, 80)) +
           " vs " + std::string(b.substr(from, 80));
}

verdict codec_unguarded(std::string_view text) {
    json::read_options big;
    big.max_bytes = std::size_t(64) << 20;

    // Requests: writing never changes a document that read cleanly.
    auto r = json::read_request(text);
    const std::string w = json::write(r.doc);
    auto r2 = json::read_request(w, big);
    if (!has_errors(r.findings)) {
        if (has_errors(r2.findings)) return "re-read of a written request has errors";
        if (auto w2 = json::write(r2.doc); w2 != w) return differ("write(read(write(x))) != write(x)", w, w2);
        if (r2.op != r.op) return "operation changed on re-read";
        json::write_options pretty;
        pretty.pretty = true;
        pretty.local_fields = true;
        auto r3 = json::read_request(json::write(r.doc, pretty), big);
        if (has_errors(r3.findings)) return "re-read of the pretty form has errors";
        if (auto w3 = json::write(r3.doc); w3 != w)
            return differ("the pretty form reads back differently", w, w3);
    }
    (void)fiscal::check(r.doc);

    // Comprobantes: complete is idempotent, and what it writes reads back to the same document.
    auto c = json::read_comprobante(text);
    if (auto* doc = std::get_if<comprobante>(&c.doc)) {
        (void)fiscal::check(*doc);
        fiscal::complete(*doc);
        const std::string once = json::write(*doc);
        fiscal::complete(*doc);
        if (auto twice = json::write(*doc); twice != once)
            return differ("complete(complete(x)) != complete(x)", once, twice);
        (void)fiscal::check(*doc);
        if (!has_errors(c.findings)) {
            auto back = json::read_comprobante(once, big);
            auto* again = std::get_if<comprobante>(&back.doc);
            if (!again) return "a completed comprobante reads back as something else";
            if (auto w2 = json::write(*again); w2 != once)
                return differ("a completed comprobante reads back differently", once, w2);
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
