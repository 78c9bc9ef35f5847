// batch_numbers: duplicate numbers within one batch.
#include <nubefact/batch.hpp>
#include <nubefact/journal.hpp>

#include <cstring>

namespace nubefact {

std::size_t batch_numbers::packed_hash::operator()(const packed_key& k) const noexcept {
    std::uint64_t h = k.serie * 0x9e3779b97f4a7c15ULL ^ (k.rest + 0x7f4a7c15ULL + (k.serie << 6));
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return static_cast<std::size_t>(h ^ (h >> 32));
}

std::optional<batch_numbers::place> batch_numbers::add(operation op, const document_key& key, place where) {
    if (!is_generar(op)) return std::nullopt;
    const std::uint64_t family = is_void_operation(op) ? 1 : 0;
    const auto tipo = static_cast<std::uint64_t>(key.tipo) & 0xff;
    if (key.serie.size() <= 8 && key.numero >= 0 && key.numero < (std::int64_t{1} << 47) && key.tipo >= 0 &&
        key.tipo < 256) {
        packed_key k;
        std::memcpy(&k.serie, key.serie.data(), key.serie.size());
        k.rest = static_cast<std::uint64_t>(key.numero) << 16 | tipo << 8 | family << 4 | key.serie.size();
        auto [it, fresh] = packed_.try_emplace(k, where);
        if (fresh) return std::nullopt;
        return it->second;
    }
    std::string k = std::to_string(family) + '|' + std::to_string(key.tipo) + '|' + key.serie + '|' +
                    std::to_string(key.numero);
    auto [it, fresh] = other_.try_emplace(std::move(k), where);
    if (fresh) return std::nullopt;
    return it->second;
}

}  // namespace nubefact
