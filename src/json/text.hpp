// Internal text helpers of the codec: JSON string escaping, UTF-8-safe truncation.
#pragma once

#include <string>
#include <string_view>

namespace nubefact::json::detail {

// Appends `s` as a quoted JSON string. Control characters are escaped; invalid UTF-8 sequences are
// replaced by U+FFFD so the output is always valid UTF-8.
void append_escaped(std::string& out, std::string_view s);

// At most `max` bytes of `s`, cut on a UTF-8 character boundary, with "…" appended when cut.
std::string truncate_utf8(std::string_view s, std::size_t max);

}  // namespace nubefact::json::detail
