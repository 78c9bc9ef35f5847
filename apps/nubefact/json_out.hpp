// JSON the CLI prints: Boost.JSON values written with plain decimals (Boost.JSON writes a double as
// 1.07978288E-1, which people and some tools misread).
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace nubefact::cli {

// `v` as compact JSON: strings escaped by json::append_string, doubles in the shortest decimal form
// that reads back the same (no exponent for 1e-6 <= |x| < 1e15), non-finite doubles as null.
std::string to_json(const boost::json::value& v);

}  // namespace nubefact::cli
