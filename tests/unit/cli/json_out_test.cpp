// to_json: what the CLI prints as JSON reads back the same, with plain decimals.
#include "json_out.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace {

using nubefact::cli::to_json;

TEST(JsonOut, PlainDecimalsThatReadBackTheSame) {
    for (double d : {0.107978288, 0.1, 1.5, 10.0, 123456.789, 0.001, 1e-6, 2.5e14, -3.25, 0.0}) {
        const auto text = to_json(boost::json::value(d));
        EXPECT_EQ(text.find_first_of("eE"), std::string::npos) << text;
        EXPECT_EQ(boost::json::parse(text).to_number<double>(), d) << text;
    }
    EXPECT_EQ(to_json(boost::json::value(0.107978288)), "0.107978288");
    EXPECT_EQ(to_json(boost::json::value(10.0)), "10");
}

TEST(JsonOut, ObjectsArraysStringsAndSpecials) {
    boost::json::object o{{"a", 1},
                          {"b", "x\"y\n"},
                          {"c", boost::json::array{true, nullptr, 2.5}},
                          {"d", std::numeric_limits<double>::infinity()}};
    const auto text = to_json(o);
    EXPECT_EQ(text, R"({"a":1,"b":"x\"y\n","c":[true,null,2.5],"d":null})");
    EXPECT_EQ(boost::json::parse(text).at("b").as_string(), "x\"y\n");
}

}  // namespace
