// Exact signed fixed-point decimal for money, quantities and rates: never passes through double.
#pragma once

#include <nubefact/error.hpp>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace nubefact {

// A value with exactly `scale` (10) fractional digits, stored as an __int128 count of 1e-10 units.
// parse() accepts what the API allows: optional '-', up to 12 integer and 10 fractional digits
// (JSON exponents are accepted when the value is exactly representable). Arithmetic keeps a wider
// internal range (|x| < 1e26) so intermediate products of valid inputs never overflow; + and - are
// exact, * and / round half-up (away from zero) to 10 fractional digits. Operators throw
// std::overflow_error / std::domain_error (a programmer error: inputs validated by parse() cannot
// get there); the checked_* forms return the error instead. Trivially copyable, thread-compatible.
class decimal {
  public:
    static constexpr int scale = 10;
    static constexpr int max_integer_digits = 12;

    constexpr decimal() noexcept = default;
    static result<decimal> parse(std::string_view text) noexcept;
    // Like parse() without the 12-integer-digit limit (internal range only), for computed values.
    static result<decimal> parse_wide(std::string_view text) noexcept;
    static constexpr decimal from_int(std::int64_t v) noexcept {
        return from_raw(static_cast<__int128>(v) * unit());
    }
    static constexpr decimal from_raw(__int128 raw) noexcept {
        decimal d;
        d.raw_ = raw;
        return d;
    }
    constexpr __int128 raw() const noexcept { return raw_; }

    // Shortest text: no exponent, no trailing fractional zeros ("118", "2.1186440678", "-0.5").
    std::string to_string() const;
    // Exactly `places` fractional digits, rounded half-up ("118.00").
    std::string to_string(int places) const;
    // The same texts written into `buf` (at least max_chars bytes, not NUL-terminated); returns the
    // end. No allocation: for serializers.
    static constexpr std::size_t max_chars = 48;
    char* write_to(char* buf) const noexcept;
    char* write_to(char* buf, int places) const noexcept;
    // Half-up (away from zero) to `places` fractional digits, 0 <= places <= 10.
    decimal round(int places) const noexcept;
    // Number of significant fractional digits (0 for integers).
    int fractional_digits() const noexcept;
    // Number of integer digits (0 for |x| < 1).
    int integer_digits() const noexcept;

    constexpr bool is_zero() const noexcept { return raw_ == 0; }
    constexpr bool is_negative() const noexcept { return raw_ < 0; }
    constexpr decimal abs() const noexcept { return from_raw(raw_ < 0 ? -raw_ : raw_); }

    result<decimal> checked_add(decimal o) const noexcept;
    result<decimal> checked_sub(decimal o) const noexcept;
    result<decimal> checked_mul(decimal o) const noexcept;
    result<decimal> checked_div(decimal o) const noexcept;

    friend decimal operator+(decimal a, decimal b);
    friend decimal operator-(decimal a, decimal b);
    friend decimal operator*(decimal a, decimal b);
    friend decimal operator/(decimal a, decimal b);
    constexpr decimal operator-() const noexcept { return from_raw(-raw_); }
    decimal& operator+=(decimal o) { return *this = *this + o; }
    decimal& operator-=(decimal o) { return *this = *this - o; }

    friend constexpr bool operator==(decimal a, decimal b) noexcept = default;
    friend constexpr std::strong_ordering operator<=>(decimal a, decimal b) noexcept {
        return a.raw_ <=> b.raw_;
    }

  private:
    static constexpr __int128 unit() noexcept { return 10'000'000'000; }
    __int128 raw_ = 0;
};

// Literal helper for tests and rule tables: "18.00"_d. Throws std::invalid_argument on bad text.
decimal operator""_d(const char* text, std::size_t n);

}  // namespace nubefact
