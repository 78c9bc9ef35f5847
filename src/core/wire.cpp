// Nubefact's HTTP conventions (include/nubefact/wire.hpp).
#include <nubefact/wire.hpp>

#include <cctype>

namespace nubefact::wire {

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

namespace {

bool istarts_with(std::string_view s, std::string_view p) noexcept {
    return s.size() >= p.size() && iequals(s.substr(0, p.size()), p);
}

}  // namespace

std::optional<authorization> parse_authorization(std::string_view value) noexcept {
    value = trim(value);
    if (value.empty()) return std::nullopt;
    auto space = value.find_first_of(" \t");
    if (space == std::string_view::npos) return authorization{auth_form::bare, value};
    auto scheme = value.substr(0, space);
    auto rest = trim(value.substr(space + 1));
    if (rest.empty()) return std::nullopt;
    if (iequals(scheme, "Bearer")) return authorization{auth_form::bearer, rest};
    if (!iequals(scheme, "Token")) return std::nullopt;
    if (!istarts_with(rest, "token=")) return authorization{auth_form::token_plain, rest};
    rest = trim(rest.substr(6));
    auth_form form = auth_form::token_unquoted;
    if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"') {
        rest = rest.substr(1, rest.size() - 2);
        form = auth_form::token_quoted;
    }
    if (rest.empty()) return std::nullopt;
    return authorization{form, rest};
}

bool json_content_type(std::string_view value) noexcept {
    auto semi = value.find(';');
    auto media = trim(value.substr(0, semi));
    if (!iequals(media, "application/json")) return false;
    if (semi == std::string_view::npos) return true;
    // Parameters: only a charset is meaningful; accept utf-8 (any case) and ignore the rest.
    auto params = value.substr(semi + 1);
    while (!params.empty()) {
        auto next = params.find(';');
        auto p = trim(params.substr(0, next));
        if (istarts_with(p, "charset=")) {
            auto cs = trim(p.substr(8));
            if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
            if (!iequals(cs, "utf-8") && !iequals(cs, "utf8")) return false;
        }
        if (next == std::string_view::npos) break;
        params.remove_prefix(next + 1);
    }
    return true;
}

bool equal_ct(std::string_view a, std::string_view b) noexcept {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    std::size_t n = a.size() < b.size() ? a.size() : b.size();
    for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace nubefact::wire
