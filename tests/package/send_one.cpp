// Sends one factura through the blocking client to the account in NUBEFACT_RUTA and NUBEFACT_TOKEN
// and prints Nubefact's answer. Usage: send_one SERIE NUMERO
#include <nubefact/client.hpp>
#include <nubefact/config.hpp>
#include <nubefact/fiscal.hpp>
#include <nubefact/version.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: send_one SERIE NUMERO\n";
        return 2;
    }
    nubefact::account_config cfg;
    try {
        cfg = nubefact::load_account("");  // no TOML file: defaults < NUBEFACT_* environment
        nubefact::validate_config(cfg);
    } catch (const nubefact::config_error& e) {
        std::cerr << e.what() << "\n";
        return 2;
    }

    auto dec = [](const char* text) { return nubefact::decimal::parse(text).value(); };
    nubefact::comprobante f;
    f.tipo_de_comprobante = 1;  // factura
    f.serie = argv[1];
    f.numero = std::atoll(argv[2]);
    f.sunat_transaction = 1;  // venta interna
    f.cliente_tipo_de_documento = "6";
    f.cliente_numero_de_documento = "20600695771";
    f.cliente_denominacion = "CLIENTE EJEMPLO SAC";
    f.cliente_direccion = "AV. SIEMPRE VIVA 123 LIMA";
    f.fecha_de_emision = nubefact::lima_today();
    f.moneda = 1;  // soles
    f.porcentaje_de_igv = dec("18.00");
    nubefact::item cuadernos;
    cuadernos.unidad_de_medida = "NIU";
    cuadernos.descripcion = "CUADERNO A4";
    cuadernos.cantidad = dec("3");
    cuadernos.valor_unitario = dec("10.00");
    cuadernos.tipo_de_igv = 1;  // gravado
    f.items.push_back(cuadernos);
    nubefact::fiscal::complete(f);  // precio_unitario, subtotal, igv, totals

    nubefact::blocking_client nf(cfg);
    auto r = nf.generar_comprobante(f);
    if (!r) {
        std::cerr << "not issued: " << r.error().what() << "\n";
        return 1;
    }
    std::cout << "libnubefact " << nubefact::version << ": " << argv[1] << "-" << argv[2] << " "
              << nubefact::to_string(r->state) << " " << r->body.enlace.value_or("") << "\n";
    return r->state == nubefact::doc_state::accepted ? 0 : 1;
}
