// Nubefact's HTTP conventions that every server speaking its API shares (the emulator, the gateway's
// drop-in API): the Authorization forms, the JSON content type, constant-time token comparison.
#pragma once

#include <optional>
#include <string_view>

namespace nubefact::wire {

// The forms of the Authorization header Nubefact's clients send (fact sheet §1): the manual's bare
// token, `Token token="x"`, `Token token=x` and `Token x`; `Bearer x` is read too (untested against
// Nubefact, harmless to accept).
enum class auth_form { bare, token_quoted, token_unquoted, token_plain, bearer };

struct authorization {
    auth_form form = auth_form::bare;
    std::string_view token;  // a view into the parsed value
};

// The token and the form of an Authorization value (schemes case-insensitive, spaces trimmed);
// nullopt when it carries none (empty, another scheme such as Basic, an empty token). Pure.
std::optional<authorization> parse_authorization(std::string_view value) noexcept;

// True for application/json with optional parameters (a charset other than UTF-8 is refused),
// case-insensitive. Pure.
bool json_content_type(std::string_view value) noexcept;

// A header value without its leading and trailing spaces and tabs; ASCII case-insensitive equality
// (schemes, parameter names). Pure.
std::string_view trim(std::string_view s) noexcept;
bool iequals(std::string_view a, std::string_view b) noexcept;

// a == b in time that depends only on the lengths (tokens, token hashes). Pure.
bool equal_ct(std::string_view a, std::string_view b) noexcept;

}  // namespace nubefact::wire
