// Exact fixed-point decimal: text parsing without double, half-up rounding, 256-bit-safe * and /.
#include <nubefact/decimal.hpp>

#include <cstring>
#include <optional>
#include <stdexcept>

namespace nubefact {
namespace {

using u128 = unsigned __int128;
using i128 = __int128;
using u64 = std::uint64_t;

constexpr u64 unit_u64 = 10'000'000'000ULL;

constexpr u64 pow10_u64[] = {1ULL,
                             10ULL,
                             100ULL,
                             1000ULL,
                             10000ULL,
                             100000ULL,
                             1000000ULL,
                             10000000ULL,
                             100000000ULL,
                             1000000000ULL,
                             10000000000ULL,
                             100000000000ULL,
                             1000000000000ULL,
                             10000000000000ULL,
                             100000000000000ULL,
                             1000000000000000ULL,
                             10000000000000000ULL,
                             100000000000000000ULL,
                             1000000000000000000ULL,
                             10000000000000000000ULL};

constexpr u128 pow10_u128(int n) noexcept {
    u128 r = 1;
    for (int i = 0; i < n; ++i) r *= 10;
    return r;
}

// Internal range: |x| < 1e26, i.e. |raw| < 1e36.
constexpr u128 max_raw = pow10_u128(36);
constexpr int wide_integer_digits = 26;

constexpr u128 uabs(i128 v) noexcept {
    return v < 0 ? u128(0) - static_cast<u128>(v) : static_cast<u128>(v);
}

// Applies the sign to a magnitude already known to be < max_raw.
constexpr i128 with_sign(u128 mag, bool neg) noexcept {
    return neg ? -static_cast<i128>(mag) : static_cast<i128>(mag);
}

// The common plain form [-]digits[.digits] (<= 18 integer, 1..10 fractional digits) in 64-bit
// arithmetic; nullopt sends anything else to the general path.
std::optional<result<decimal>> parse_fast(std::string_view s, int max_int_digits) noexcept {
    const std::size_t n = s.size();
    std::size_t i = 0;
    const bool neg = n != 0 && s[0] == '-';
    if (neg) i = 1;
    const std::size_t b = i;
    u64 ip = 0;
    while (i < n && static_cast<unsigned>(s[i] - '0') < 10 && i - b < 18)
        ip = ip * 10 + static_cast<u64>(s[i++] - '0');
    if (i == b || (i < n && s[i] != '.')) return std::nullopt;
    u64 fp = 0;
    int fd = 0;
    if (i < n) {
        const std::size_t fb = ++i;
        while (i < n && static_cast<unsigned>(s[i] - '0') < 10 && i - fb < 10)
            fp = fp * 10 + static_cast<u64>(s[i++] - '0');
        fd = static_cast<int>(i - fb);
        if (fd == 0 || i != n) return std::nullopt;
    }
    if (max_int_digits < 19 && ip >= pow10_u64[max_int_digits])
        return result<decimal>(decimal_errc::too_many_digits);
    const u128 mag = u128(ip) * unit_u64 + fp * pow10_u64[decimal::scale - fd];
    return result<decimal>(decimal::from_raw(with_sign(mag, neg)));
}

result<decimal> parse_impl(std::string_view s, int max_int_digits) noexcept {
    if (auto fast = parse_fast(s, max_int_digits)) return *fast;
    std::size_t i = 0;
    const std::size_t n = s.size();
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        ++i;
    }
    const std::size_t int_begin = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    const std::string_view int_part = s.substr(int_begin, i - int_begin);
    std::string_view frac_part;
    if (i < n && s[i] == '.') {
        ++i;
        const std::size_t fb = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
        frac_part = s.substr(fb, i - fb);
        if (frac_part.empty()) return decimal_errc::syntax;  // "1." is not a number
    }
    if (int_part.empty() && frac_part.empty()) return decimal_errc::syntax;
    // Exponent: clamped so absurd values cannot overflow the arithmetic below.
    long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            ++i;
        }
        const std::size_t eb = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (exp < 1'000'000) exp = exp * 10 + (s[i] - '0');
            ++i;
        }
        if (i == eb) return decimal_errc::syntax;
        if (eneg) exp = -exp;
    }
    if (i != n) return decimal_errc::syntax;

    // Digits D = int_part ++ frac_part with the decimal point after `point` digits.
    // Strip leading zeros (moving the point) and trailing zeros (point unchanged).
    auto digit_at = [&](std::size_t k) -> char {
        return k < int_part.size() ? int_part[k] : frac_part[k - int_part.size()];
    };
    std::size_t total = int_part.size() + frac_part.size();
    std::size_t first = 0;
    while (first < total && digit_at(first) == '0') ++first;
    if (first == total) return decimal::from_raw(0);  // zero, whatever its spelling
    std::size_t last = total;
    while (last > first && digit_at(last - 1) == '0') --last;
    const long point = static_cast<long>(int_part.size()) + exp - static_cast<long>(first);
    const long ndig = static_cast<long>(last - first);
    const long int_digits = point > 0 ? point : 0;
    const long frac_digits = ndig - point > 0 ? ndig - point : 0;
    if (int_digits > max_int_digits) {
        return max_int_digits == decimal::max_integer_digits ? decimal_errc::too_many_digits
                                                             : decimal_errc::overflow;
    }
    if (frac_digits > decimal::scale) return decimal_errc::too_many_digits;
    // At most 26 + 10 significant digits: fits in 128 bits.
    u128 mag = 0;
    for (std::size_t k = first; k < last; ++k) mag = mag * 10 + static_cast<unsigned>(digit_at(k) - '0');
    const long shift = decimal::scale - (ndig - point);  // >= 0 because frac_digits <= scale
    mag *= pow10_u128(static_cast<int>(shift));
    if (mag >= max_raw) return decimal_errc::overflow;
    return decimal::from_raw(with_sign(mag, neg));
}

// 256-bit unsigned, little-endian 64-bit limbs.
struct u256 {
    u64 w[4] = {0, 0, 0, 0};
};

u256 mul_128(u128 a, u128 b) noexcept {
    const u64 a0 = static_cast<u64>(a), a1 = static_cast<u64>(a >> 64);
    const u64 b0 = static_cast<u64>(b), b1 = static_cast<u64>(b >> 64);
    u256 r;
    const u128 p00 = u128(a0) * b0;
    const u128 p01 = u128(a0) * b1;
    const u128 p10 = u128(a1) * b0;
    const u128 p11 = u128(a1) * b1;
    r.w[0] = static_cast<u64>(p00);
    u128 mid = (p00 >> 64) + static_cast<u64>(p01) + static_cast<u64>(p10);
    r.w[1] = static_cast<u64>(mid);
    u128 hi = (mid >> 64) + (p01 >> 64) + (p10 >> 64) + static_cast<u64>(p11);
    r.w[2] = static_cast<u64>(hi);
    r.w[3] = static_cast<u64>((hi >> 64) + (p11 >> 64));
    return r;
}

// q = n / d (d fits 64 bits), returns the remainder.
u64 div_256_by_64(u256& n, u64 d) noexcept {
    u128 rem = 0;
    for (int i = 3; i >= 0; --i) {
        const u128 cur = (rem << 64) | n.w[i];
        n.w[i] = static_cast<u64>(cur / d);
        rem = cur % d;
    }
    return static_cast<u64>(rem);
}

bool fits_128(const u256& v) noexcept {
    return v.w[2] == 0 && v.w[3] == 0;
}
u128 low_128(const u256& v) noexcept {
    return (u128(v.w[1]) << 64) | v.w[0];
}

int bit_length(const u256& v) noexcept {
    for (int i = 3; i >= 0; --i)
        if (v.w[i] != 0) return i * 64 + 64 - __builtin_clzll(v.w[i]);
    return 0;
}

// Shift-subtract division of a 256-bit numerator by a 128-bit divisor (d <= 2^127).
// Returns false when the quotient does not fit 128 bits.
bool div_256_by_128(const u256& n, u128 d, u128& q, u128& r) noexcept {
    q = 0;
    r = 0;
    for (int b = bit_length(n) - 1; b >= 0; --b) {
        const u64 bit = (n.w[b / 64] >> (b % 64)) & 1u;
        r = (r << 1) | bit;  // r < d <= 2^127, so no overflow
        if (q >> 127) return false;
        q <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1;
        }
    }
    return true;
}

result<decimal> finish(u128 mag, bool neg) noexcept {
    if (mag >= max_raw) return decimal_errc::overflow;
    return decimal::from_raw(with_sign(mag, neg));
}

}  // namespace

result<decimal> decimal::parse(std::string_view text) noexcept {
    return parse_impl(text, max_integer_digits);
}

result<decimal> decimal::parse_wide(std::string_view text) noexcept {
    return parse_impl(text, wide_integer_digits);
}

namespace {

// Splits |raw| into integer part and the 10-digit fractional part, using 64-bit division when it can.
void split(u128 mag, u128& ip, u64& fp) noexcept {
    if (mag >> 64 == 0) {
        const u64 m = static_cast<u64>(mag);
        ip = m / unit_u64;
        fp = m % unit_u64;
    } else {
        ip = mag / unit_u64;
        fp = static_cast<u64>(mag - ip * unit_u64);
    }
}

// Writes the decimal digits of v backwards ending at `end`; returns the first character.
char* put_uint_backwards(char* end, u128 v) noexcept {
    while (v >> 64 != 0) {  // rare: |x| >= 1.8e9 with 10 fractional digits already split off
        const u128 q = v / 10;
        *--end = static_cast<char>('0' + static_cast<int>(v - q * 10));
        v = q;
    }
    u64 w = static_cast<u64>(v);
    do {
        *--end = static_cast<char>('0' + w % 10);
        w /= 10;
    } while (w != 0);
    return end;
}

// Writes sign, integer part and (when digits > 0) '.' and `digits` fractional digits of fp / 10^digits.
char* put_number(char* buf, bool neg, u128 ip, u64 fp, int digits) noexcept {
    char tmp[decimal::max_chars];
    char* end = tmp + sizeof tmp;
    char* p = end;
    for (int k = 0; k < digits; ++k) {
        *--p = static_cast<char>('0' + fp % 10);
        fp /= 10;
    }
    if (digits > 0) *--p = '.';
    p = put_uint_backwards(p, ip);
    if (neg) *--p = '-';
    const std::size_t n = static_cast<std::size_t>(end - p);
    std::memcpy(buf, p, n);
    return buf + n;
}

}  // namespace

char* decimal::write_to(char* buf) const noexcept {
    u128 ip;
    u64 fp;
    split(uabs(raw_), ip, fp);
    int digits = 0;
    if (fp != 0) {
        digits = scale;
        while (fp % 10 == 0) {
            fp /= 10;
            --digits;
        }
    }
    return put_number(buf, raw_ < 0, ip, fp, digits);
}

char* decimal::write_to(char* buf, int places) const noexcept {
    if (places < 0) places = 0;
    if (places > scale) places = scale;
    const decimal r = round(places);
    u128 ip;
    u64 fp;
    split(uabs(r.raw_), ip, fp);
    fp /= pow10_u64[scale - places];
    return put_number(buf, r.raw_ < 0, ip, fp, places);
}

std::string decimal::to_string() const {
    char buf[max_chars];
    return std::string(buf, write_to(buf));
}

std::string decimal::to_string(int places) const {
    char buf[max_chars];
    return std::string(buf, write_to(buf, places));
}

decimal decimal::round(int places) const noexcept {
    if (places >= scale) return *this;
    if (places < 0) places = 0;
    const u128 mag = uabs(raw_);
    if (mag >> 64 == 0) {
        const u64 factor = pow10_u64[scale - places];
        const u64 m = static_cast<u64>(mag);
        u64 q = m / factor;
        if ((m - q * factor) * 2 >= factor) ++q;
        return from_raw(with_sign(u128(q) * factor, raw_ < 0));
    }
    const u128 factor = pow10_u128(scale - places);
    u128 q = mag / factor;
    const u128 rem = mag % factor;
    if (rem * 2 >= factor) ++q;
    return from_raw(with_sign(q * factor, raw_ < 0));
}

int decimal::fractional_digits() const noexcept {
    u128 ip;
    u64 fp;
    split(uabs(raw_), ip, fp);
    if (fp == 0) return 0;
    int digits = scale;
    while (fp % 10 == 0) {
        fp /= 10;
        --digits;
    }
    return digits;
}

int decimal::integer_digits() const noexcept {
    u128 ip;
    u64 fp;
    split(uabs(raw_), ip, fp);
    int n = 0;
    while (ip >> 64 != 0) {
        ip /= 10;
        ++n;
    }
    const u64 w = static_cast<u64>(ip);
    if (w == 0) return n;
    int k = 1;
    while (k < 20 && w >= pow10_u64[k]) ++k;
    return n + k;
}

result<decimal> decimal::checked_add(decimal o) const noexcept {
    i128 r;
    if (__builtin_add_overflow(raw_, o.raw_, &r)) return decimal_errc::overflow;
    if (uabs(r) >= max_raw) return decimal_errc::overflow;
    return from_raw(r);
}

result<decimal> decimal::checked_sub(decimal o) const noexcept {
    i128 r;
    if (__builtin_sub_overflow(raw_, o.raw_, &r)) return decimal_errc::overflow;
    if (uabs(r) >= max_raw) return decimal_errc::overflow;
    return from_raw(r);
}

result<decimal> decimal::checked_mul(decimal o) const noexcept {
    const bool neg = (raw_ < 0) != (o.raw_ < 0);
    const u128 a = uabs(raw_), b = uabs(o.raw_);
    constexpr u128 u64_limit = u128(1) << 64;
    if (a < u64_limit && b < u64_limit) {  // common case: the product fits 128 bits
        const u128 p = a * b;
        u128 q = p / unit_u64;
        if ((p % unit_u64) * 2 >= unit_u64) ++q;
        return finish(q, neg);
    }
    u256 p = mul_128(a, b);
    const u64 rem = div_256_by_64(p, unit_u64);
    if (!fits_128(p)) return decimal_errc::overflow;
    u128 q = low_128(p);
    if (q >= max_raw) return decimal_errc::overflow;
    if (u128(rem) * 2 >= unit_u64) ++q;
    return finish(q, neg);
}

result<decimal> decimal::checked_div(decimal o) const noexcept {
    if (o.raw_ == 0) return decimal_errc::division_by_zero;
    const bool neg = (raw_ < 0) != (o.raw_ < 0);
    const u128 a = uabs(raw_), d = uabs(o.raw_);
    constexpr u128 native_limit = ~u128(0) / unit_u64;
    u128 q, r;
    if (a <= native_limit) {
        const u128 n = a * unit_u64;
        q = n / d;
        r = n % d;
    } else {
        const u256 n = mul_128(a, unit_u64);
        if (!div_256_by_128(n, d, q, r)) return decimal_errc::overflow;
    }
    if (r >= d - r) {  // r * 2 >= d without overflow
        if (q == ~u128(0)) return decimal_errc::overflow;
        ++q;
    }
    return finish(q, neg);
}

namespace {
decimal value_or_throw(result<decimal> r) {
    if (r) return *r;
    if (r.error() == decimal_errc::division_by_zero) throw std::domain_error("decimal: division by zero");
    throw std::overflow_error("decimal: overflow");
}
}  // namespace

decimal operator+(decimal a, decimal b) {
    return value_or_throw(a.checked_add(b));
}
decimal operator-(decimal a, decimal b) {
    return value_or_throw(a.checked_sub(b));
}
decimal operator*(decimal a, decimal b) {
    return value_or_throw(a.checked_mul(b));
}
decimal operator/(decimal a, decimal b) {
    return value_or_throw(a.checked_div(b));
}

decimal operator""_d(const char* text, std::size_t n) {
    auto r = decimal::parse_wide(std::string_view(text, n));
    if (!r) throw std::invalid_argument("bad decimal literal: " + std::string(text, n));
    return *r;
}

}  // namespace nubefact
