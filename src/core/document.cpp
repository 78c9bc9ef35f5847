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

using F = document_family;

// In the enum's order (checked below).
constexpr std::array<operation_traits, 14> operation_table = {{
    {operation::generar_comprobante, "generar_comprobante", true, operation::consultar_comprobante,
     F::comprobante, false},
    {operation::consultar_comprobante, "consultar_comprobante", false, operation::generar_comprobante,
     F::comprobante, false},
    {operation::generar_anulacion, "generar_anulacion", true, operation::consultar_anulacion, F::comprobante,
     true},
    {operation::consultar_anulacion, "consultar_anulacion", false, operation::generar_anulacion,
     F::comprobante, true},
    {operation::generar_guia, "generar_guia", true, operation::consultar_guia, F::guia, false},
    {operation::consultar_guia, "consultar_guia", false, operation::generar_guia, F::guia, false},
    {operation::generar_retencion, "generar_retencion", true, operation::consultar_retencion, F::retencion,
     false},
    {operation::consultar_retencion, "consultar_retencion", false, operation::generar_retencion, F::retencion,
     false},
    {operation::generar_reversion_retencion, "generar_reversion_retencion", true,
     operation::consultar_reversion_retencion, F::retencion, true},
    {operation::consultar_reversion_retencion, "consultar_reversion_retencion", false,
     operation::generar_reversion_retencion, F::retencion, true},
    {operation::generar_percepcion, "generar_percepcion", true, operation::consultar_percepcion,
     F::percepcion, false},
    {operation::consultar_percepcion, "consultar_percepcion", false, operation::generar_percepcion,
     F::percepcion, false},
    {operation::generar_reversion_percepcion, "generar_reversion_percepcion", true,
     operation::consultar_reversion_percepcion, F::percepcion, true},
    {operation::consultar_reversion_percepcion, "consultar_reversion_percepcion", false,
     operation::generar_reversion_percepcion, F::percepcion, true},
}};

constexpr bool table_in_enum_order() {
    for (std::size_t i = 0; i < operation_table.size(); ++i)
        if (static_cast<std::size_t>(operation_table[i].op) != i) return false;
    return true;
}
static_assert(table_in_enum_order());

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

// Three numbers joined by '-', zero-filled to their widths: the wire form and the ISO form.
static std::string dashed(int a, int wa, int b, int c, int wc) {
    std::string s;
    s.reserve(10);
    put_digits(s, a, wa);
    s.push_back('-');
    put_digits(s, b, 2);
    s.push_back('-');
    put_digits(s, c, wc);
    return s;
}

std::string date::to_wire() const {
    return dashed(day, 2, month, year, 4);
}

std::string date::to_iso() const {
    return dashed(year, 4, month, day, 2);
}

const operation_traits& traits(operation op) noexcept {
    const auto i = static_cast<std::size_t>(op);
    return operation_table[i < operation_table.size() ? i : 0];
}

std::string_view to_string(operation op) noexcept {
    const auto i = static_cast<std::size_t>(op);
    return i < operation_table.size() ? operation_table[i].name : std::string_view{};
}

std::optional<operation> operation_from_string(std::string_view s) noexcept {
    for (const auto& t : operation_table)
        if (t.name == s) return t.op;
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
    return traits(op).generar;
}

operation consult_for(operation op) noexcept {
    return traits(op).generar ? traits(op).pair : op;
}

std::optional<int> fixed_key_tipo(document_family f) noexcept {
    if (f == document_family::retencion) return 20;
    if (f == document_family::percepcion) return 40;
    return std::nullopt;
}

operation generar_for(operation op) noexcept {
    return traits(op).generar ? op : traits(op).pair;
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
