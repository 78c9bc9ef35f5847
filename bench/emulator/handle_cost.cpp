// CPU cost of the emulator's request handling without sockets (routing, auth, codec, fiscal::check,
// state, response), per request, measured with getrusage so other load on the machine matters less.
// Build (release libs): see docs/performance/emulator.md.
#include "emulator/core.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <ctime>

namespace emu = nubefact::emulator;

static double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 200000;
    const char* tmpl =
        R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"F001","numero":%d,"sunat_transaction":1,)"
        R"("cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771","cliente_denominacion":"NUBEFACT SA",)"
        R"("cliente_direccion":"CALLE LIBERTAD 116 MIRAFLORES - LIMA - PERU","fecha_de_emision":"15-01-2026","moneda":"1",)"
        R"("porcentaje_de_igv":"18.00","total_gravada":"600","total_igv":"108","total":"708","total_percepcion":"",)"
        R"("total_incluido_percepcion":"","detraccion":"false","observaciones":"EJEMPLO JSON GENERAR CPE FACTURA 1 GRAVADA",)"
        R"("documento_que_se_modifica_tipo":"","documento_que_se_modifica_serie":"","documento_que_se_modifica_numero":"",)"
        R"("tipo_de_nota_de_credito":"","tipo_de_nota_de_debito":"","enviar_automaticamente_a_la_sunat":"true",)"
        R"("enviar_automaticamente_al_cliente":"false","codigo_unico":"","condiciones_de_pago":"","medio_de_pago":"",)"
        R"("placa_vehiculo":"","orden_compra_servicio":"","tabla_personalizada_codigo":"","formato_de_pdf":"","items":[)"
        R"({"unidad_de_medida":"NIU","codigo":"001","descripcion":"DETALLE DEL PRODUCTO","cantidad":"1","valor_unitario":"500",)"
        R"("precio_unitario":"590","descuento":"","subtotal":"500","tipo_de_igv":"1","igv":"90","total":"590",)"
        R"("anticipo_regularizacion":"false","codigo_producto_sunat":"10000000"},{"unidad_de_medida":"ZZ","codigo":"001",)"
        R"("descripcion":"DETALLE DEL SERVICIO","cantidad":"5","valor_unitario":"20","precio_unitario":"23.60","descuento":"",)"
        R"("subtotal":"100","tipo_de_igv":"1","igv":"18","total":"118","anticipo_regularizacion":"false",)"
        R"("codigo_producto_sunat":"20000000"}]})";
    for (bool validate : {true, false}) {
        emu::options o;
        o.validate = validate;
        o.clock = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1768496400)); };
        emu::detail::core c(o);
        c.set_link_host("127.0.0.1:8000");
        emu::detail::rng_t rng(1);
        std::vector<std::string> bodies(n);
        char buf[4096];
        for (int i = 0; i < n; ++i) {
            std::snprintf(buf, sizeof buf, tmpl, i + 1);
            bodies[i] = buf;
        }
        emu::detail::request_view rv;
        rv.method = "POST";
        rv.target = "/api/v1/demo";
        rv.authorization = std::string_view("Token token=\"demo-token\"");
        rv.content_type = std::string_view("application/json");
        std::size_t ok = 0, bytes = 0;
        double t0 = cpu_seconds();
        for (int i = 0; i < n; ++i) {
            rv.body = bodies[i];
            auto r = c.handle(rv, rng);
            ok += r.status == 200;
            bytes += r.body.size();
        }
        double t = cpu_seconds() - t0;
        std::printf(
            "validation %-3s: %d requests (%zu ok, body %zu B, answer %zu B) %.2f us/request CPU -> %.0f/s\n",
            validate ? "on" : "off", n, ok, bodies[0].size(), bytes / n, t * 1e6 / n, n / t);
    }
}
