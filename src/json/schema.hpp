// Internal field tables of the codec: one per wire object, in fact-sheet order, with fast lookup.
#pragma once

#include <nubefact/document.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace nubefact::json::detail {

enum class kind : std::uint8_t { str, integer, dec, boolean, date, array };
// How a decimal is written: money with (at least) 2 decimals, or the shortest exact form.
enum class num_fmt : std::uint8_t { none, money, shortest };
// How the reader treats what ERP clients send for a field beyond its type.
enum class quirk : std::uint8_t {
    none,
    zero_absent,  // an optional regime's amount or code: 0 ("0.0", 0, "0") means "not sent", like ""
    ubigeo,       // typed Integer in the manual: 40110 is 040110 (zero-padded to 6 digits)
};

struct schema;

struct field {
    void* at(void* obj) const noexcept { return static_cast<char*>(obj) + offset; }
    std::string_view name;
    kind k = kind::str;
    num_fmt fmt = num_fmt::none;
    bool local = false;  // written only with write_options::local_fields
    quirk q = quirk::none;
    std::size_t offset = 0;         // of the member inside the object (computed from a member pointer)
    const schema* child = nullptr;  // element schema of an array field
    std::string key_json;           // "\"name\":" for the writer, set by schema::index()
    std::uint64_t w0 = 0, w1 = 0;   // first and last 8 bytes of the name, for schema::find()
};

// The fields of one object type plus the type-erased operations the reader and writer need.
struct schema {
    std::vector<field> fields;                // wire order
    extra_fields& (*extra)(void*) = nullptr;  // the object's unknown fields
    void* (*append)(void* vec) = nullptr;     // vector<T>::emplace_back() when T is an element type
    std::size_t (*size)(const void* vec) = nullptr;
    void (*clear)(void* vec) = nullptr;
    const void* (*element)(const void* vec, std::size_t i) = nullptr;
    static constexpr std::size_t slots = 256;  // open-addressing table, load factor < 0.4
    std::vector<std::uint16_t> by_hash;        // field index + 1 per slot, 0 when empty

    void index();  // builds by_hash and the writer keys; call once after filling fields
    // The field with that wire name, or nullptr. One hash and usually one memcmp, no allocation.
    const field* find(std::string_view key) const noexcept;
    // Same, trying first the field that followed `prev` last time (documents of one source share
    // their key order); `prev` is a field position or fields.size() for "first key". Thread-safe:
    // the prediction table is a relaxed-atomic hint.
    const field* find_after(std::size_t prev, std::string_view key) const noexcept;
    mutable std::unique_ptr<std::atomic<std::uint16_t>[]> successor;  // per position + 1, set by index()
    std::size_t position(const field* f) const noexcept {
        return static_cast<std::size_t>(f - fields.data());
    }
};

const schema& comprobante_schema();
const schema& anulacion_schema();
const schema& consulta_schema();
const schema& guia_schema();
const schema& retencion_schema();   // retencion_percepcion with retención names
const schema& percepcion_schema();  // retencion_percepcion with percepción names
const schema& response_schema();

}  // namespace nubefact::json::detail
