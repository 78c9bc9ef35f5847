// Internal text helpers of the codec: UTF-8-safe truncation (escaping is json::append_string).
#pragma once

#include <string>
#include <string_view>

namespace nubefact::json::detail {

// At most `max` bytes of `s`, cut on a UTF-8 character boundary, with "…" appended when cut.
std::string truncate_utf8(std::string_view s, std::size_t max);

}  // namespace nubefact::json::detail
