// Unit tests for nubefact::decimal: parsing, formatting, rounding, checked arithmetic.
#include <nubefact/decimal.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

using nubefact::decimal;
using nubefact::decimal_errc;
using nubefact::operator""_d;

std::string p(std::string_view s) {
    auto r = decimal::parse(s);
    if (!r) return "ERR:" + r.error().message();
    return r->to_string();
}

decimal_errc perr(std::string_view s) {
    auto r = decimal::parse(s);
    if (r) return decimal_errc{};
    return static_cast<decimal_errc>(r.error().value());
}

TEST(Decimal, ParsesPlainForms) {
    EXPECT_EQ(p("0"), "0");
    EXPECT_EQ(p("-0"), "0");
    EXPECT_EQ(p("118"), "118");
    EXPECT_EQ(p("118.00"), "118");
    EXPECT_EQ(p("23.60"), "23.6");
    EXPECT_EQ(p("-0.5"), "-0.5");
    EXPECT_EQ(p("2.1186440678"), "2.1186440678");
    EXPECT_EQ(p("007"), "7");
    EXPECT_EQ(p(".5"), "0.5");
    EXPECT_EQ(p("999999999999.9999999999"), "999999999999.9999999999");
    EXPECT_EQ(p("-999999999999.9999999999"), "-999999999999.9999999999");
}

TEST(Decimal, ParsesExponentsWhenExact) {
    EXPECT_EQ(p("1e2"), "100");
    EXPECT_EQ(p("1E+2"), "100");
    EXPECT_EQ(p("1.5e-3"), "0.0015");
    EXPECT_EQ(p("12345e-4"), "1.2345");
    EXPECT_EQ(p("1e-10"), "0.0000000001");
    EXPECT_EQ(p("1e11"), "100000000000");
    EXPECT_EQ(p("0e999999999999999"), "0");
    EXPECT_EQ(p("100e-12"), "0.0000000001");
    EXPECT_EQ(perr("1e-11"), decimal_errc::too_many_digits);
    EXPECT_EQ(perr("1e12"), decimal_errc::too_many_digits);
    EXPECT_EQ(perr("1e99999999999999999999"), decimal_errc::too_many_digits);
    EXPECT_EQ(perr("1e-99999999999999999999"), decimal_errc::too_many_digits);
}

TEST(Decimal, TrailingAndLeadingZerosDoNotCount) {
    EXPECT_EQ(p("1.50000000000000000000"), "1.5");
    EXPECT_EQ(p("000000000000000000000000000001"), "1");
    EXPECT_EQ(p("0.00000000000000000000"), "0");
}

TEST(Decimal, RejectsBadSyntax) {
    for (const char* s : {"", "-", "+1", "1.", ".", "abc", "1,5", " 1", "1 ", "1e", "1e+", "--1", "0x10",
                          "1.2.3", "NaN", "Infinity", "1e2.5"}) {
        EXPECT_EQ(perr(s), decimal_errc::syntax) << s;
    }
}

TEST(Decimal, DigitLimits) {
    EXPECT_EQ(perr("1234567890123"), decimal_errc::too_many_digits);
    EXPECT_EQ(perr("0.12345678901"), decimal_errc::too_many_digits);
    EXPECT_EQ(perr("1234567890123456789012345678901234567890"), decimal_errc::too_many_digits);
    EXPECT_EQ(p("123456789012"), "123456789012");
    // parse_wide keeps the internal range (|x| < 1e26)
    auto w = decimal::parse_wide("12345678901234567890123456");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->to_string(), "12345678901234567890123456");
    EXPECT_FALSE(decimal::parse_wide("123456789012345678901234567"));
    EXPECT_FALSE(decimal::parse_wide("1234567890123456789012345678901234567890"));
    EXPECT_FALSE(decimal::parse_wide("0.00000000001"));
}

TEST(Decimal, HugeInputsAreCheap) {
    std::string zeros(10'000'000, '0');
    EXPECT_EQ(p(zeros), "0");
    std::string big = "1" + zeros;
    EXPECT_EQ(perr(big), decimal_errc::too_many_digits);
    std::string frac = "0." + zeros + "1";
    EXPECT_EQ(perr(frac), decimal_errc::too_many_digits);
}

TEST(Decimal, ToStringPlaces) {
    EXPECT_EQ("118"_d.to_string(2), "118.00");
    EXPECT_EQ("0"_d.to_string(2), "0.00");
    EXPECT_EQ("0.005"_d.to_string(2), "0.01");
    EXPECT_EQ("0.004"_d.to_string(2), "0.00");
    EXPECT_EQ("-0.005"_d.to_string(2), "-0.01");
    EXPECT_EQ("-0.004"_d.to_string(2), "0.00");
    EXPECT_EQ("2.675"_d.to_string(2), "2.68");
    EXPECT_EQ("1.5"_d.to_string(0), "2");
    EXPECT_EQ("-1.5"_d.to_string(0), "-2");
    EXPECT_EQ("3.421"_d.to_string(10), "3.4210000000");
    EXPECT_EQ("999999999999.995"_d.to_string(2), "1000000000000.00");
}

TEST(Decimal, RoundHalfUpAwayFromZero) {
    EXPECT_EQ("14.8305084746"_d.round(2), "14.83"_d);
    EXPECT_EQ("2.6694915254"_d.round(2), "2.67"_d);
    EXPECT_EQ("0.125"_d.round(2), "0.13"_d);
    EXPECT_EQ("-0.125"_d.round(2), "-0.13"_d);
    EXPECT_EQ("0.1249999999"_d.round(2), "0.12"_d);
    EXPECT_EQ("5.5"_d.round(0), "6"_d);
    EXPECT_EQ("1.23"_d.round(10), "1.23"_d);
}

TEST(Decimal, WriteToMatchesToString) {
    for (const char* s : {"0", "-0.5", "118", "23.6", "999999999999.9999999999", "-0.0000000001"}) {
        const decimal d = decimal::parse(s).value();
        char buf[decimal::max_chars];
        EXPECT_EQ(std::string(buf, d.write_to(buf)), d.to_string());
        EXPECT_EQ(std::string(buf, d.write_to(buf, 2)), d.to_string(2));
    }
    const auto wide = decimal::parse_wide("-12345678901234567890123456.5").value();
    EXPECT_EQ(wide.to_string(), "-12345678901234567890123456.5");
    EXPECT_EQ(wide.to_string(0), "-12345678901234567890123457");
    EXPECT_EQ(wide.integer_digits(), 26);
    EXPECT_EQ(wide.fractional_digits(), 1);
}

TEST(Decimal, DigitCounts) {
    EXPECT_EQ("0"_d.integer_digits(), 0);
    EXPECT_EQ("0.5"_d.integer_digits(), 0);
    EXPECT_EQ("118.5"_d.integer_digits(), 3);
    EXPECT_EQ("-118.5"_d.integer_digits(), 3);
    EXPECT_EQ("118"_d.fractional_digits(), 0);
    EXPECT_EQ("118.50"_d.fractional_digits(), 1);
    EXPECT_EQ("0.0000000001"_d.fractional_digits(), 10);
}

TEST(Decimal, ExactAddSub) {
    EXPECT_EQ("0.1"_d + "0.2"_d, "0.3"_d);
    EXPECT_EQ("1.18"_d - "0.18"_d, "1"_d);
    decimal d = "10"_d;
    d += "5.5"_d;
    d -= "0.5"_d;
    EXPECT_EQ(d, "15"_d);
    EXPECT_EQ(-"3"_d, "-3"_d);
    EXPECT_EQ("-3.5"_d.abs(), "3.5"_d);
}

TEST(Decimal, MultiplyRoundsHalfUp) {
    EXPECT_EQ("5"_d * "20"_d, "100"_d);
    EXPECT_EQ("100"_d * "0.18"_d, "18"_d);
    EXPECT_EQ("0.00001"_d * "0.00001"_d, "0.0000000001"_d);     // exact 1e-10
    EXPECT_EQ("0.00001"_d * "0.000005"_d, "0.0000000001"_d);    // 5e-11 rounds up
    EXPECT_EQ("0.00001"_d * "0.0000049"_d, "0"_d);              // 4.9e-11 rounds down
    EXPECT_EQ("-0.00001"_d * "0.000005"_d, "-0.0000000001"_d);  // away from zero
    EXPECT_EQ("7"_d * "2.1186440678"_d, "14.8305084746"_d);
    // Large operands go through the 256-bit path.
    EXPECT_EQ("999999999999.9999999999"_d * "999999999999.9999999999"_d, "999999999999999999999800"_d);
    EXPECT_EQ("12345678901234.5678901234"_d * "1000"_d, "12345678901234567.8901234"_d);
}

TEST(Decimal, DivideRoundsHalfUp) {
    EXPECT_EQ("2.50"_d / "1.18"_d, "2.1186440678"_d);
    EXPECT_EQ("1"_d / "3"_d, "0.3333333333"_d);
    EXPECT_EQ("2"_d / "3"_d, "0.6666666667"_d);
    EXPECT_EQ("-2"_d / "3"_d, "-0.6666666667"_d);
    EXPECT_EQ("2"_d / "-3"_d, "-0.6666666667"_d);
    EXPECT_EQ("35"_d / "1.105"_d, "31.6742081448"_d);
    EXPECT_EQ("35"_d / "1.1"_d, "31.8181818182"_d);
    EXPECT_EQ("0.0000000001"_d / "2"_d, "0.0000000001"_d);  // 0.5e-10 -> half-up
    // Big numerator: 256-bit path.
    auto big = decimal::parse_wide("99999999999999999999999999").value();
    EXPECT_EQ(big / "10"_d, decimal::parse_wide("9999999999999999999999999.9").value());
    EXPECT_EQ(big / big, "1"_d);
}

TEST(Decimal, CheckedErrors) {
    auto big = decimal::parse_wide("99999999999999999999999999").value();
    EXPECT_EQ(big.checked_add("1"_d).error(), nubefact::make_error_code(decimal_errc::overflow));
    EXPECT_EQ((-big).checked_sub("1"_d).error(), nubefact::make_error_code(decimal_errc::overflow));
    EXPECT_EQ(big.checked_mul("2"_d).error(), nubefact::make_error_code(decimal_errc::overflow));
    EXPECT_EQ(big.checked_mul(big).error(), nubefact::make_error_code(decimal_errc::overflow));
    EXPECT_EQ(big.checked_div("0.1"_d).error(), nubefact::make_error_code(decimal_errc::overflow));
    EXPECT_EQ("1"_d.checked_div("0"_d).error(), nubefact::make_error_code(decimal_errc::division_by_zero));
    EXPECT_THROW(big + "1"_d, std::overflow_error);
    EXPECT_THROW(big * big, std::overflow_error);
    EXPECT_THROW("1"_d / "0"_d, std::domain_error);
    // Arbitrary raw values (outside the documented range) never trigger UB.
    const auto extreme = decimal::from_raw(-(static_cast<__int128>(1) << 126) * 2);
    EXPECT_FALSE(extreme.checked_mul(extreme));
    EXPECT_FALSE(extreme.checked_add(extreme));
    EXPECT_FALSE(extreme.checked_div("0.0000000001"_d));
    EXPECT_TRUE(extreme.checked_div(extreme));
}

TEST(Decimal, LiteralThrowsOnBadText) {
    EXPECT_THROW(nubefact::operator""_d("x1", 2), std::invalid_argument);
}

TEST(Decimal, OrderingAndFromInt) {
    EXPECT_LT("1.5"_d, "2"_d);
    EXPECT_GT("-1"_d, "-2"_d);
    EXPECT_EQ(decimal::from_int(-42), "-42"_d);
    EXPECT_EQ(decimal::from_int(0).to_string(), "0");
    EXPECT_TRUE(decimal{}.is_zero());
    EXPECT_TRUE("-0.1"_d.is_negative());
}

TEST(Decimal, RoundTripTextForm) {
    for (const char* s : {"0", "1", "-1", "0.1", "123.456", "999999999999.9999999999", "-0.0000000001",
                          "3.421", "10.5", "1000000"}) {
        auto d = decimal::parse(s).value();
        EXPECT_EQ(decimal::parse(d.to_string()).value(), d) << s;
        EXPECT_EQ(d.to_string(), s);
    }
}

}  // namespace
