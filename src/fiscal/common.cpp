// Catalogue helpers, the finding collector and the field rules shared by every document kind.
#include "detail.hpp"

#include <cstdio>

namespace nubefact::fiscal {

bool is_free_igv(std::int64_t t) noexcept {
    return (t >= 2 && t <= 7) || (t >= 10 && t <= 15) || t == 17 || t == 20;
}

bool valid_ruc(std::string_view ruc) noexcept {
    if (ruc.size() != 11 || !detail::all_digits(ruc)) return false;
    const std::string_view prefix = ruc.substr(0, 2);
    if (prefix != "10" && prefix != "15" && prefix != "16" && prefix != "17" && prefix != "20") return false;
    static constexpr int weights[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    for (std::size_t i = 0; i < 10; ++i) sum += (ruc[i] - '0') * weights[i];
    int check = 11 - sum % 11;
    if (check == 10) check = 0;
    if (check == 11) check = 1;
    return check == ruc[10] - '0';
}

decimal icbper_rate(int year) noexcept {
    // S/ 0.10 in 2019, +0.10 a year, S/ 0.50 from 2023 on (Ley 30884).
    if (year <= 2019) return decimal::from_raw(1'000'000'000);
    if (year >= 2023) return decimal::from_raw(5'000'000'000);
    return decimal::from_raw(std::int64_t{year - 2018} * 1'000'000'000);
}

namespace detail {

bool all_digits(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char ch : s)
        if (ch < '0' || ch > '9') return false;
    return true;
}

bool valid_dni(std::string_view s) noexcept {
    return s.size() == 8 && all_digits(s);
}
bool valid_ubigeo(std::string_view s) noexcept {
    return s.size() == 6 && all_digits(s);
}

bool valid_email(std::string_view s) noexcept {
    const auto at = s.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) return false;
    if (s.find('@', at + 1) != std::string_view::npos) return false;
    const auto dot = s.find('.', at + 1);
    if (dot == std::string_view::npos || dot == at + 1 || dot + 1 >= s.size()) return false;
    for (char ch : s)
        if (ch == ' ' || ch == ',' || ch == ';') return false;
    return true;
}

std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char ch : s)
        if ((ch & 0xC0) != 0x80) ++n;
    return n;
}

void collector::error(std::string path, std::string_view code, std::string message, std::string expected,
                      std::string actual) {
    out_.push_back(finding{std::move(path), std::string(code), severity::error, std::move(message),
                           std::move(expected), std::move(actual)});
}

void collector::warn(std::string path, std::string_view code, std::string message, std::string expected,
                     std::string actual) {
    out_.push_back(finding{std::move(path), std::string(code), severity::warning, std::move(message),
                           std::move(expected), std::move(actual)});
}

void collector::arith(std::string path, std::string message, std::string expected, std::string actual) {
    out_.push_back(finding{std::move(path), "mismatch", opts_.lenient ? severity::warning : severity::error,
                           std::move(message), std::move(expected), std::move(actual)});
}

bool collector::within(decimal expected, decimal actual) const noexcept {
    if (expected == actual) return true;
    return (expected - actual).abs() <= opts_.tolerance.abs();
}

std::vector<finding> collector::take() {
    std::stable_partition(out_.begin(), out_.end(),
                          [](const finding& f) { return f.level == severity::error; });
    return std::move(out_);
}

std::string money(decimal v) {
    return v.to_string(2);
}
std::string money(const opt_dec& v) {
    return v ? v->to_string(2) : std::string();
}
std::string plain(const opt_dec& v) {
    return v ? v->to_string() : std::string();
}

std::string idx(std::string_view array, std::size_t i, std::string_view field) {
    std::string s;
    s.reserve(array.size() + field.size() + 8);
    s.append(array);
    s.push_back('[');
    s.append(std::to_string(i));
    s.push_back(']');
    if (!field.empty()) {
        s.push_back('.');
        s.append(field);
    }
    return s;
}

void require_str(collector& c, const opt_str& v, std::string_view path, std::size_t min_len,
                 std::size_t max_len) {
    if (!v) {
        c.error(std::string(path), "required", std::string(path) + " is required.");
        return;
    }
    // Bytes bound code points from above: short ASCII-or-not strings need no counting.
    if (v->size() <= max_len && v->size() >= min_len && min_len <= 1) return;
    const auto n = utf8_length(*v);
    if (n < min_len || n > max_len)
        c.error(std::string(path), "length",
                std::string(path) + " must have " + std::to_string(min_len) + " to " +
                    std::to_string(max_len) + " characters.",
                std::to_string(min_len) + ".." + std::to_string(max_len), std::to_string(n));
}

void optional_str(collector& c, const opt_str& v, std::string_view path, std::size_t max_len) {
    if (!v || v->size() <= max_len) return;
    const auto n = utf8_length(*v);
    if (n > max_len)
        c.error(std::string(path), "length",
                std::string(path) + " must have at most " + std::to_string(max_len) + " characters.",
                "<=" + std::to_string(max_len), std::to_string(n));
}

void check_numero(collector& c, const opt_int& v, std::string_view path) {
    if (!v) {
        c.error(std::string(path), "required", std::string(path) + " is required.");
        return;
    }
    if (*v < 1 || *v > 99'999'999)
        c.error(std::string(path), "range", std::string(path) + " must be between 1 and 99999999.",
                "1..99999999", std::to_string(*v));
}

void check_issue_date(collector& c, const opt_date& v, std::string_view path, int max_age_days) {
    if (!v) {
        c.error(std::string(path), "required", std::string(path) + " is required.");
        return;
    }
    if (!v->valid()) {
        c.error(std::string(path), "date", std::string(path) + " is not a calendar date.", "DD-MM-YYYY",
                std::to_string(v->day) + "-" + std::to_string(v->month) + "-" + std::to_string(v->year));
        return;
    }
    const auto& today = c.opts().today;
    if (!today) return;
    const auto d = v->days_since_epoch(), t = today->days_since_epoch();
    if (d > t)
        c.error(std::string(path), "future_date", std::string(path) + " is after today.", today->to_wire(),
                v->to_wire());
    else if (d < t - max_age_days)
        c.error(std::string(path), "out_of_period",
                std::string(path) + " is more than " + std::to_string(max_age_days) +
                    (max_age_days == 1 ? " day old;" : " days old;") +
                    " Nubefact answers codigo 22 (outside the allowed period).",
                ">= " + date::from_days(t - max_age_days).to_wire(), v->to_wire());
}

void check_email(collector& c, const opt_str& v, std::string_view path) {
    if (!v) return;
    optional_str(c, v, path, 250);
    if (!valid_email(*v))
        c.error(std::string(path), "format", std::string(path) + " is not an e-mail address.", "name@domain",
                *v);
}

void check_customer_document(collector& c, const opt_str& tipo, const opt_str& numero,
                             std::string_view tipo_path, std::string_view numero_path,
                             std::initializer_list<std::string_view> allowed) {
    if (!tipo) {
        c.error(std::string(tipo_path), "required", std::string(tipo_path) + " is required.");
    } else if (std::find(allowed.begin(), allowed.end(), std::string_view(*tipo)) == allowed.end()) {
        std::string list;
        for (auto a : allowed) {
            if (!list.empty()) list += ",";
            list += a;
        }
        c.error(std::string(tipo_path), "catalogue",
                std::string(tipo_path) + " is not a known document type.", list, *tipo);
    }
    if (!numero) {
        c.error(std::string(numero_path), "required", std::string(numero_path) + " is required.");
        return;
    }
    require_str(c, numero, numero_path, 1, 15);
    if (!tipo) return;
    if (*tipo == "6" && !valid_ruc(*numero))
        c.error(std::string(numero_path), "ruc",
                std::string(numero_path) +
                    " is not a valid RUC (11 digits, prefix 10/15/16/17/20, SUNAT check digit).",
                "RUC", *numero);
    else if (*tipo == "1" && !valid_dni(*numero))
        c.error(std::string(numero_path), "dni", std::string(numero_path) + " is not a DNI (8 digits).",
                "8 digits", *numero);
}

bool check_serie_shape(collector& c, const opt_str& serie, std::string_view path) {
    if (!serie) {
        c.error(std::string(path), "required", std::string(path) + " is required.");
        return false;
    }
    if (serie->size() != 4) {
        c.error(std::string(path), "length", std::string(path) + " must have exactly 4 characters.", "4",
                std::to_string(serie->size()));
        return false;
    }
    for (char ch : *serie) {
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))) {
            c.error(std::string(path), "format",
                    std::string(path) + " must be 4 upper-case letters or digits.", "[A-Z0-9]{4}", *serie);
            return false;
        }
    }
    return true;
}

}  // namespace detail
}  // namespace nubefact::fiscal
