// Documents the CLI tests send: a valid factura on one line.
#pragma once

#include <fmt/format.h>

#include <string>

namespace nubefact::test::cli {

// A valid factura with every computed field, on one line: 1 item of 100.00 + 18% IGV.
inline std::string factura(int numero, const std::string& serie = "F001",
                           const std::string& total = "118.00") {
    return fmt::format(
        R"({{"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"{}","numero":{},)"
        R"("sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)"
        R"("cliente_denominacion":"CLIENTE SAC","cliente_direccion":"AV. LIMA 123","fecha_de_emision":"15-01-2026",)"
        R"("moneda":1,"porcentaje_de_igv":"18.00","total_gravada":"100.00","total_igv":"18.00","total":"{}",)"
        R"("items":[{{"unidad_de_medida":"NIU","descripcion":"PRODUCTO","cantidad":"1","valor_unitario":"100",)"
        R"("precio_unitario":"118","subtotal":"100.00","tipo_de_igv":1,"igv":"18.00","total":"118.00"}}]}})",
        serie, numero, total);
}

}  // namespace nubefact::test::cli
