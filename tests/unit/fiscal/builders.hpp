// Test helpers: small builders for comprobantes and items, and finding matchers.
#pragma once

#include <nubefact/decimal.hpp>
#include <nubefact/document.hpp>
#include <nubefact/finding.hpp>
#include <nubefact/fiscal.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace nubefact::fiscal::test {

inline decimal d(const char* s) {
    return operator""_d(s, std::char_traits<char>::length(s));
}

// A line with valor_unitario (the usual input).
inline item by_valor(const char* cantidad, const char* valor, std::int64_t tipo_de_igv = 1) {
    item it;
    it.unidad_de_medida = "NIU";
    it.descripcion = "ARTICULO";
    it.cantidad = d(cantidad);
    it.valor_unitario = d(valor);
    it.tipo_de_igv = tipo_de_igv;
    it.anticipo_regularizacion = false;
    return it;
}

// A line with precio_unitario (price with taxes) only.
inline item by_precio(const char* cantidad, const char* precio, std::int64_t tipo_de_igv = 1) {
    item it;
    it.unidad_de_medida = "NIU";
    it.descripcion = "ARTICULO";
    it.cantidad = d(cantidad);
    it.precio_unitario = d(precio);
    it.tipo_de_igv = tipo_de_igv;
    it.anticipo_regularizacion = false;
    return it;
}

// A factura header (FFF1-101 to a valid RUC, 15-01-2026, soles) without items or totals.
inline comprobante factura_header() {
    comprobante c;
    c.tipo_de_comprobante = 1;
    c.serie = "FFF1";
    c.numero = 101;
    c.sunat_transaction = 1;
    c.cliente_tipo_de_documento = "6";
    c.cliente_numero_de_documento = "20600695771";
    c.cliente_denominacion = "CLIENTE EJEMPLO SAC";
    c.cliente_direccion = "AV. SIEMPRE VIVA 123 LIMA";
    c.fecha_de_emision = date{2026, 1, 15};
    c.moneda = 1;
    c.enviar_automaticamente_a_la_sunat = true;
    c.enviar_automaticamente_al_cliente = false;
    return c;
}

inline comprobante boleta_header() {
    comprobante c = factura_header();
    c.tipo_de_comprobante = 2;
    c.serie = "BBB1";
    c.cliente_tipo_de_documento = "1";
    c.cliente_numero_de_documento = "41920371";
    c.cliente_denominacion = "JUAN PEREZ";
    c.cliente_direccion.reset();
    return c;
}

inline std::string describe(const std::vector<finding>& fs) {
    std::string s;
    for (const auto& f : fs)
        s += (f.level == severity::error ? "  E " : "  W ") + f.path + " [" + f.code + "] " + f.message +
             " (expected " + f.expected + ", got " + f.actual + ")\n";
    return s;
}

inline std::vector<finding> errors_of(const std::vector<finding>& fs) {
    std::vector<finding> out;
    std::copy_if(fs.begin(), fs.end(), std::back_inserter(out),
                 [](const finding& f) { return f.level == severity::error; });
    return out;
}

inline const finding* find_path(const std::vector<finding>& fs, const std::string& path) {
    for (const auto& f : fs)
        if (f.path == path) return &f;
    return nullptr;
}

}  // namespace nubefact::fiscal::test
