// Small helpers of the document model: calendar dates, operation names, document keys.
#include <nubefact/document.hpp>

#include <array>

namespace nubefact {

namespace {

constexpr bool is_leap(int y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

constexpr int days_in_month(int y, int m) noexcept {
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

void put_digits(std::string& out, std::int64_t sv, int width) {
    if (sv < 0) out.push_back('-');
    std::uint64_t v = sv < 0 ? 0 - static_cast<std::uint64_t>(sv) : static_cast<std::uint64_t>(sv);
    char buf[24];
    int n = 0;
    do {
        buf[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (int k = n; k < width; ++k) out.push_back('0');
    while (n > 0) out.push_back(buf[--n]);
}

constexpr std::array<std::string_view, 14> operation_names = {
    "generar_comprobante",
    "consultar_comprobante",
    "generar_anulacion",
    "consultar_anulacion",
    "generar_guia",
    "consultar_guia",
    "generar_retencion",
    "consultar_retencion",
    "generar_reversion_retencion",
    "consultar_reversion_retencion",
    "generar_percepcion",
    "consultar_percepcion",
    "generar_reversion_percepcion",
    "consultar_reversion_percepcion",
};

}  // namespace

bool date::valid() const noexcept {
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return false;
    return day <= days_in_month(year, month);
}

// Days from civil (proleptic Gregorian), after H. Hinnant's public-domain algorithm description.
std::int64_t date::days_since_epoch() const noexcept {
    const std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t mp = (month + 9) % 12;  // March = 0
    const std::int64_t doy = (153 * mp + 2) / 5 + day - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

date date::from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    return date{static_cast<int>(y), static_cast<int>(m), static_cast<int>(d)};
}

std::optional<date> date::parse_layout(std::string_view s) noexcept {
    auto num = [&](std::size_t at, std::size_t n) -> int {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    if (s.size() != 10) return std::nullopt;
    date d;
    if (s[2] == '-' && s[5] == '-')
        d = date{num(6, 4), num(3, 2), num(0, 2)};
    else if (s[4] == '-' && s[7] == '-')
        d = date{num(0, 4), num(5, 2), num(8, 2)};
    else
        return std::nullopt;
    if (d.year < 0 || d.month < 0 || d.day < 0) return std::nullopt;  // a non-digit
    return d;
}

std::optional<date> date::parse(std::string_view s) noexcept {
    auto d = parse_layout(s);
    if (!d || !d->valid()) return std::nullopt;
    return d;
}

date lima_today(std::chrono::system_clock::time_point now) noexcept {
    using namespace std::chrono;
    return date::from_days(floor<days>(now + lima_utc_offset).time_since_epoch().count());
}

date lima_today() noexcept {
    return lima_today(std::chrono::system_clock::now());
}

std::string date::to_wire() const {
    std::string s;
    s.reserve(10);
    put_digits(s, day, 2);
    s.push_back('-');
    put_digits(s, month, 2);
    s.push_back('-');
    put_digits(s, year, 4);
    return s;
}

std::string date::to_iso() const {
    std::string s;
    s.reserve(10);
    put_digits(s, year, 4);
    s.push_back('-');
    put_digits(s, month, 2);
    s.push_back('-');
    put_digits(s, day, 2);
    return s;
}

std::string_view to_string(operation op) noexcept {
    const auto i = static_cast<std::size_t>(op);
    return i < operation_names.size() ? operation_names[i] : std::string_view{};
}

std::optional<operation> operation_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < operation_names.size(); ++i)
        if (operation_names[i] == s) return static_cast<operation>(i);
    return std::nullopt;
}

std::string_view sunat_document_code(int tipo) noexcept {
    switch (tipo) {
        case 1:
            return "01";
        case 2:
            return "03";
        case 3:
            return "07";
        case 4:
            return "08";
        case 7:
            return "09";
        case 8:
            return "31";
        case 20:
            return "20";
        case 40:
            return "40";
    }
    return "00";
}

bool is_generar(operation op) noexcept {
    switch (op) {
        case operation::generar_comprobante:
        case operation::generar_anulacion:
        case operation::generar_guia:
        case operation::generar_retencion:
        case operation::generar_reversion_retencion:
        case operation::generar_percepcion:
        case operation::generar_reversion_percepcion:
            return true;
        default:
            return false;
    }
}

operation consult_for(operation op) noexcept {
    switch (op) {
        case operation::generar_comprobante:
            return operation::consultar_comprobante;
        case operation::generar_anulacion:
            return operation::consultar_anulacion;
        case operation::generar_guia:
            return operation::consultar_guia;
        case operation::generar_retencion:
            return operation::consultar_retencion;
        case operation::generar_reversion_retencion:
            return operation::consultar_reversion_retencion;
        case operation::generar_percepcion:
            return operation::consultar_percepcion;
        case operation::generar_reversion_percepcion:
            return operation::consultar_reversion_percepcion;
        default:
            return op;  // already a consulta
    }
}

operation generar_for(operation op) noexcept {
    switch (op) {
        case operation::consultar_comprobante:
            return operation::generar_comprobante;
        case operation::consultar_anulacion:
            return operation::generar_anulacion;
        case operation::consultar_guia:
            return operation::generar_guia;
        case operation::consultar_retencion:
            return operation::generar_retencion;
        case operation::consultar_reversion_retencion:
            return operation::generar_reversion_retencion;
        case operation::consultar_percepcion:
            return operation::generar_percepcion;
        case operation::consultar_reversion_percepcion:
            return operation::generar_reversion_percepcion;
        default:
            return op;  // already a generar_*
    }
}

std::string document_key::to_string() const {
    std::string s = serie;
    s.push_back('-');
    put_digits(s, numero, 1);
    return s;
}

document_key comprobante::key() const {
    return {static_cast<int>(tipo_de_comprobante.value_or(0)), serie.value_or(""), numero.value_or(0)};
}

document_key guia::key() const {
    return {static_cast<int>(tipo_de_comprobante.value_or(0)), serie.value_or(""), numero.value_or(0)};
}

document_key retencion_percepcion::key() const {
    return {percepcion ? 40 : 20, serie.value_or(""), numero.value_or(0)};
}

}  // namespace nubefact
