// Fiscal rules: completion of computed fields and validation (stub, replaced by the real rules).
#include <nubefact/fiscal.hpp>

namespace nubefact::fiscal {

void complete(comprobante&, const complete_options&) {}

std::vector<finding> check(const comprobante&, const check_options&) {
    return {};
}
std::vector<finding> check(const anulacion&, const check_options&) {
    return {};
}
std::vector<finding> check(const consulta&, const check_options&) {
    return {};
}
std::vector<finding> check(const guia&, const check_options&) {
    return {};
}
std::vector<finding> check(const retencion_percepcion&, const check_options&) {
    return {};
}
std::vector<finding> check(const json::request& doc, const check_options& opts) {
    return std::visit([&](const auto& d) { return check(d, opts); }, doc);
}

bool is_free_igv(std::int64_t t) noexcept {
    return (t >= 2 && t <= 7) || (t >= 10 && t <= 15) || t == 17 || t == 20;
}

bool valid_ruc(std::string_view ruc) noexcept {
    if (ruc.size() != 11) return false;
    static constexpr int w[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    for (std::size_t i = 0; i < 11; ++i)
        if (ruc[i] < '0' || ruc[i] > '9') return false;
    for (std::size_t i = 0; i < 10; ++i) sum += (ruc[i] - '0') * w[i];
    int c = 11 - sum % 11;
    if (c == 10) c = 0;
    if (c == 11) c = 1;
    return c == ruc[10] - '0';
}

decimal icbper_rate(int year) noexcept {
    if (year <= 2019) return decimal::from_raw(1'000'000'000);  // 0.10
    if (year >= 2023) return decimal::from_raw(5'000'000'000);
    return decimal::from_raw(std::int64_t{year - 2018} * 1'000'000'000);
}

}  // namespace nubefact::fiscal
