// Tax arithmetic and validation rules (fact sheet §3-§6, §9): pure, no I/O, no clock of its own.
#pragma once

#include <nubefact/document.hpp>
#include <nubefact/finding.hpp>
#include <nubefact/json.hpp>

#include <optional>
#include <vector>

namespace nubefact::fiscal {

struct complete_options {
    // Year used for the ICBPER per-bag rate when fecha_de_emision is absent.
    std::optional<int> default_year;
    bool overwrite = true;  // recompute computed fields even when present
};

// Fills every computed line and header field from the minimal inputs (cantidad, valor_unitario or
// precio_unitario, tipo_de_igv / tipo_de_ivap, descuento, isc, bolsas, otros_cargos, anticipo lines,
// descuento_global, porcentaje_de_igv). Never throws; inputs it cannot use are left for check().
void complete(comprobante& doc, const complete_options& opts = {});

struct check_options {
    decimal tolerance;          // allowed |expected - actual| on computed amounts (default exact)
    std::optional<date> today;  // issue-date checks run only when a clock is given
    int max_age_days = 7;       // fecha_de_emision older than today - max_age_days is an error
    int guia_max_age_days = 1;  // guías: the GRE manual allows at most one day before today
    bool lenient = false;       // arithmetic mismatches become warnings (Nubefact demo behaviour)
};

// Every rule; returns findings {path, code, severity, message, expected, actual}, errors first.
std::vector<finding> check(const comprobante& doc, const check_options& opts = {});
std::vector<finding> check(const anulacion& doc, const check_options& opts = {});
std::vector<finding> check(const consulta& doc, const check_options& opts = {});
std::vector<finding> check(const guia& doc, const check_options& opts = {});
std::vector<finding> check(const retencion_percepcion& doc, const check_options& opts = {});
std::vector<finding> check(const json::request& doc, const check_options& opts = {});

// Catalogue helpers shared with the emulator and the CLI.
bool is_free_igv(std::int64_t tipo_de_igv) noexcept;  // 2-7, 10-15, 17, 20
bool valid_ruc(std::string_view ruc) noexcept;        // 11 digits, prefix 10/15/16/17/20, check digit
decimal icbper_rate(int year) noexcept;               // per-bag ICBPER rate of that year

}  // namespace nubefact::fiscal
