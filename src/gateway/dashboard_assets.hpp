// Internal: the dashboard's files (src/gateway/dashboard/), compiled into the binary by
// cmake/embed.cmake; served by the gateway under /dashboard/.
#pragma once

#include <cstddef>
#include <string_view>

namespace nubefact::gateway::dashboard {

struct asset {
    std::string_view name;          // "index.html", "app.js", …
    std::string_view content_type;  // "text/html; charset=utf-8", …
    std::string_view bytes;
};
extern const asset assets[];
extern const std::size_t asset_count;

// The file `name` ("" is index.html), or nullptr.
inline const asset* find(std::string_view name) {
    if (name.empty()) name = "index.html";
    for (std::size_t i = 0; i < asset_count; ++i)
        if (assets[i].name == name) return &assets[i];
    return nullptr;
}

}  // namespace nubefact::gateway::dashboard
