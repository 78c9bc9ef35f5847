// Emulator internals without I/O: the top-level JSON scanner, wire formatting (the header rules
// it shares with the gateway are nubefact/wire.hpp).
#pragma once

#include <nubefact/json.hpp>

#include <nubefact/document.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nubefact::emulator::detail {

// Appends `s` as a JSON string literal (quotes included).
inline void append_json_string(std::string& out, std::string_view s) {
    // Fast path: nothing to escape (uuids, hashes, links, most values) is copied as one block.
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || c == '"' || c == '\\') {
            json::append_string(out, s);
            return;
        }
    }
    out.push_back('"');
    out.append(s);
    out.push_back('"');
}

// A decimal literal ("708", "23.6", "-1.005") as cents, rounded half-up; nullopt when not a number
// or out of range. Never passes through double.
std::optional<std::int64_t> parse_cents(std::string_view s) noexcept;
std::string format_cents(std::int64_t cents);             // "708.00"
void append_cents(std::string& out, std::int64_t cents);  // the same, appended

// Base64 of SHA-1 (28 chars).
std::string sha1_base64(std::string_view data);
// The same into a caller's 28-byte array (no allocation).
void sha1_base64_to(std::string_view data, char (&out)[28]);

// What the emulator needs from a request body. Filled by scan_body (no validation) or from the
// codec's typed document (validation on).
struct doc_view {
    std::string operacion;  // as sent ("" when absent)
    std::optional<std::int64_t> tipo, numero;
    std::optional<std::string> serie;
    std::string codigo_unico;
    std::optional<date> fecha;
    std::string fecha_text;
    std::optional<std::int64_t> total_cents, igv_cents;
    std::int64_t moneda = 1;
    std::string cliente_tipo, cliente_numero;
    std::string motivo;
    std::string bad_field;  // first top-level field whose type is unusable (scan_body)
};

// Scans a JSON object: validates the whole text (UTF-8 included) and keeps the top-level scalar
// fields above. Returns false with `error` set when the text is not one JSON object.
bool scan_body(std::string_view body, doc_view& out, std::string& error, int max_depth = 32);

}  // namespace nubefact::emulator::detail
