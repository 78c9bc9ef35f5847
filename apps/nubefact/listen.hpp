// --listen HOST:PORT as the serving subcommands (emulator, serve) read it.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nubefact::cli {

struct listen_address {
    std::string host;  // without the brackets of "[::1]:8000"
    std::uint16_t port = 0;
};

// "127.0.0.1:8000", "[::1]:0", "0.0.0.0:443", "localhost:8000" (as 127.0.0.1): the host and port;
// nullopt with `why` (a sentence for the user) when the text is not HOST:PORT with an IP address
// and a port from 0 to 65535.
inline std::optional<listen_address> parse_listen(const std::string& text, std::string& why) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        why = "--listen must be HOST:PORT (e.g. 127.0.0.1:8080; port 0 picks a free one), got '" + text + "'";
        return std::nullopt;
    }
    listen_address a;
    a.host = text.substr(0, colon);
    if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
        a.host = a.host.substr(1, a.host.size() - 2);
    const std::string port = text.substr(colon + 1);
    unsigned long v = 0;
    bool ok = !port.empty() && port.size() <= 5;
    for (char c : port) ok = ok && c >= '0' && c <= '9';
    if (ok) v = std::stoul(port);
    if (!ok || v > 65535) {
        why = "bad port in --listen '" + text + "' (a number from 0 to 65535)";
        return std::nullopt;
    }
    a.port = static_cast<std::uint16_t>(v);
    if (a.host == "localhost") a.host = "127.0.0.1";
    unsigned char ip[16];
    if (::inet_pton(AF_INET, a.host.c_str(), ip) != 1 && ::inet_pton(AF_INET6, a.host.c_str(), ip) != 1) {
        why = "not an IP address in --listen: '" + a.host + "' (e.g. 127.0.0.1, 0.0.0.0 or ::1)";
        return std::nullopt;
    }
    return a;
}

}  // namespace nubefact::cli
