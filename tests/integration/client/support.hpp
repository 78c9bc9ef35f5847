// Shared helpers of the client integration tests: today's factura, emulator start, account config.
#pragma once

#include <nubefact/client.hpp>
#include <nubefact/emulator.hpp>
#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

namespace clienttest {

// Today in Peru (UTC-5), as the emulator computes it.
inline nubefact::date lima_today() {
    auto now = std::chrono::system_clock::now() - std::chrono::hours(5);
    auto days = std::chrono::duration_cast<std::chrono::hours>(now.time_since_epoch()).count() / 24;
    return nubefact::date::from_days(days);
}

// A complete, valid factura (fact sheet §7.1 figures) with the given serie and numero, dated today.
inline nubefact::comprobante factura(const std::string& serie, std::int64_t numero) {
    std::string text =
        R"({"tipo_de_comprobante":1,"serie":")" + serie + R"(","numero":)" + std::to_string(numero) +
        R"(,"sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",
 "cliente_denominacion":"CLIENTE EJEMPLO SAC","cliente_direccion":"AV. SIEMPRE VIVA 123 LIMA",
 "fecha_de_emision":")" +
        lima_today().to_wire() +
        R"(","moneda":1,"porcentaje_de_igv":18.00,
 "total_gravada":44.83,"total_igv":8.07,"total":52.90,
 "enviar_automaticamente_a_la_sunat":true,"enviar_automaticamente_al_cliente":false,
 "items":[
  {"unidad_de_medida":"NIU","codigo":"P01","descripcion":"CUADERNO A4","cantidad":3,
   "valor_unitario":10.00,"precio_unitario":11.80,"subtotal":30.00,"tipo_de_igv":1,
   "igv":5.40,"total":35.40,"anticipo_regularizacion":false},
  {"unidad_de_medida":"NIU","codigo":"P02","descripcion":"LAPICERO AZUL","cantidad":7,
   "valor_unitario":2.1186440678,"precio_unitario":2.50,"subtotal":14.83,"tipo_de_igv":1,
   "igv":2.67,"total":17.50,"anticipo_regularizacion":false}]})";
    auto r = nubefact::json::read_comprobante(text);
    EXPECT_FALSE(nubefact::has_errors(r.findings));
    return std::get<nubefact::comprobante>(r.doc);
}

// A unique account name per test, so the process-wide limiter is not shared across tests.
inline std::string unique_account(const std::string& base) {
    static std::atomic<int> n{0};
    return base + "-" + std::to_string(++n);
}

// A client configuration for the emulator: short timeouts, fast retries, no rate limit.
inline nubefact::account_config account_for(const nubefact::emulator::server& srv, const std::string& base) {
    nubefact::account_config c;
    c.name = unique_account(base);
    c.ruta = srv.ruta_url();
    c.token = srv.first_account().tokens.front();
    c.rate.requests_per_second = 0;
    c.max_concurrency = 16;
    c.connect_timeout = std::chrono::milliseconds(2000);
    c.request_timeout = std::chrono::milliseconds(2000);
    c.total_timeout = std::chrono::milliseconds(60000);
    c.retry = nubefact::retry_config{10, std::chrono::milliseconds(1), std::chrono::milliseconds(20),
                                     std::chrono::milliseconds(50000)};
    return c;
}

}  // namespace clienttest
