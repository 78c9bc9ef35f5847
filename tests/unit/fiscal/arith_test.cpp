// Internal arithmetic of fiscal: the exact product and the fast 2-decimal rounding agree with decimal.
#include "builders.hpp"
#include "fiscal/detail.hpp"

#include <random>

namespace nubefact::fiscal::test {
namespace {

__extension__ typedef __int128 i128;

decimal random_decimal(std::mt19937_64& rng, int int_digits) {
    i128 mag = 1;
    for (int i = 0; i < int_digits + 10; ++i) mag *= 10;
    const i128 hi = static_cast<i128>(rng()) << 64 | rng();
    i128 v = (hi < 0 ? -hi : hi) % mag;
    return decimal::from_raw(rng() % 4 == 0 ? -v : v);
}

TEST(Arith, MulExactIsTheTruncatedProduct) {
    std::mt19937_64 rng(42);
    for (int i = 0; i < 20000; ++i) {
        const decimal a = random_decimal(rng, static_cast<int>(rng() % 13));
        const decimal b = random_decimal(rng, static_cast<int>(rng() % 13));
        const decimal exact_trunc = detail::mul_exact(a, b);
        const decimal rounded = a * b;  // half-up at 10 decimals
        const i128 diff = (rounded - exact_trunc).raw();
        const bool neg = a.is_negative() != b.is_negative();
        // Truncation toward zero differs from half-up by at most one unit, in the rounding direction.
        if (neg)
            EXPECT_TRUE(diff == 0 || diff == -1) << a.to_string() << " * " << b.to_string();
        else
            EXPECT_TRUE(diff == 0 || diff == 1) << a.to_string() << " * " << b.to_string();
    }
}

TEST(Arith, Round2MatchesDecimalRound) {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) {
        const decimal v = random_decimal(rng, static_cast<int>(rng() % 15));
        EXPECT_EQ(detail::round2(v), v.round(2)) << v.to_string();
    }
    for (const char* s :
         {"0.005", "-0.005", "0.0049999999", "-0.0049999999", "2.675", "1e12", "-999999999999.995"})
        EXPECT_EQ(detail::round2(d(s)), d(s).round(2)) << s;
}

TEST(Arith, MoneyShape) {
    EXPECT_TRUE(detail::money_digits_ok(d("123.45")));
    EXPECT_TRUE(detail::money_digits_ok(d("0")));
    EXPECT_FALSE(detail::money_digits_ok(d("0.001")));
    EXPECT_TRUE(detail::money_digits_ok(d("999999999999.99")));
    EXPECT_FALSE(detail::money_digits_ok(d("9999999999999")));
}

TEST(Arith, PercentOf) {
    EXPECT_EQ(detail::percent_of(d("14.83"), d("18")), d("2.67"));
    EXPECT_EQ(detail::percent_of(d("63.35"), d("10.5")), d("6.65"));
    EXPECT_EQ(detail::percent_of(d("1770"), d("12")), d("212.40"));
    EXPECT_EQ(detail::percent_of(d("708"), d("0.5")), d("3.54"));
}

}  // namespace
}  // namespace nubefact::fiscal::test
