// to_json: compact JSON with plain decimals.
#include "json_out.hpp"

#include <nubefact/json.hpp>

#include <fmt/format.h>

#include <cmath>

namespace nubefact::cli {
namespace {

void put(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::null:
            out += "null";
            return;
        case boost::json::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            return;
        case boost::json::kind::int64:
            out += std::to_string(v.get_int64());
            return;
        case boost::json::kind::uint64:
            out += std::to_string(v.get_uint64());
            return;
        case boost::json::kind::double_: {
            const double d = v.get_double();
            if (!std::isfinite(d)) {
                out += "null";
            } else if (d != 0 && (std::fabs(d) < 1e-6 || std::fabs(d) >= 1e15)) {
                out += fmt::format("{}", d);  // shortest, with an exponent where plain would be huge
            } else {
                auto s = fmt::format("{:f}", d);  // plain; then the shortest that reads back the same
                for (int p = 0; p <= 17; ++p) {
                    auto t = fmt::format("{:.{}f}", d, p);
                    if (std::stod(t) == d) {
                        s = t;
                        break;
                    }
                }
                out += s;
            }
            return;
        }
        case boost::json::kind::string:
            json::append_string(out, v.get_string());
            return;
        case boost::json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                put(out, e);
            }
            out += ']';
            return;
        }
        case boost::json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out += ',';
                first = false;
                json::append_string(out, kv.key());
                out += ':';
                put(out, kv.value());
            }
            out += '}';
            return;
        }
    }
}

}  // namespace

std::string to_json(const boost::json::value& v) {
    std::string out;
    put(out, v);
    return out;
}

}  // namespace nubefact::cli
