// What one batch of documents knows about itself, whatever its source (files, a REST request).
#pragma once

#include <nubefact/document.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace nubefact {

// The numbers a batch has seen: a second generar_* document under the same number (same row family,
// tipo, serie and numero) is a duplicate line of the batch and must not be sent. Exact (no hashing
// away of the key); about 40 bytes per document. Not thread-safe.
class batch_numbers {
  public:
    // Where a document was read: an index the caller gives its sources, and a line.
    struct place {
        std::uint32_t source = 0;
        std::uint64_t line = 0;
    };
    // nullopt: the first document under this number (remembered at `where`); otherwise where the
    // first one was. Operations that create nothing (consultar_*) are never duplicates.
    std::optional<place> add(operation op, const document_key& key, place where);
    std::size_t size() const noexcept { return packed_.size() + other_.size(); }

  private:
    struct packed_key {
        std::uint64_t serie = 0, rest = 0;
        friend bool operator==(const packed_key&, const packed_key&) = default;
    };
    struct packed_hash {
        std::size_t operator()(const packed_key& k) const noexcept;
    };
    std::unordered_map<packed_key, place, packed_hash> packed_;
    std::unordered_map<std::string, place> other_;  // series over 8 bytes, numbers past 2^47
};

}  // namespace nubefact
