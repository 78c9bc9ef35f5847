// Codec micro-benchmarks: read/write of a 10-item factura, and the full parse+complete+check+write pipeline.
#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace nubefact;

// A 10-item factura in the style of Nubefact's official examples: every value a string, unused
// fields sent as "" (the slowest realistic shape for the reader).
std::string official_style_factura() {
    std::string s = R"({
   "operacion": "generar_comprobante",
   "tipo_de_comprobante": 1,
   "serie": "FFF1",
   "numero": "1",
   "sunat_transaction": 1,
   "cliente_tipo_de_documento": 6,
   "cliente_numero_de_documento": "20600695771",
   "cliente_denominacion": "NUBEFACT SA",
   "cliente_direccion": "CALLE LIBERTAD 116 MIRAFLORES - LIMA - PERU",
   "cliente_email": "",
   "cliente_email_1": "",
   "cliente_email_2": "",
   "fecha_de_emision": "17-12-2025",
   "fecha_de_vencimiento": "",
   "moneda": "1",
   "tipo_de_cambio": "",
   "porcentaje_de_igv": "18.00",
   "descuento_global": "",
   "total_descuento": "",
   "total_anticipo": "",
   "total_gravada": "3000",
   "total_inafecta": "",
   "total_exonerada": "",
   "total_igv": "540",
   "total_gratuita": "",
   "total_otros_cargos": "",
   "total": "3540",
   "percepcion_tipo": "",
   "percepcion_base_imponible": "",
   "total_percepcion": "",
   "total_incluido_percepcion": "",
   "detraccion": "false",
   "observaciones": "EJEMPLO JSON GENERAR CPE FACTURA 10 ITEMS",
   "documento_que_se_modifica_tipo": "",
   "documento_que_se_modifica_serie": "",
   "documento_que_se_modifica_numero": "",
   "tipo_de_nota_de_credito": "",
   "tipo_de_nota_de_debito": "",
   "enviar_automaticamente_a_la_sunat": "true",
   "enviar_automaticamente_al_cliente": "false",
   "codigo_unico": "",
   "condiciones_de_pago": "",
   "medio_de_pago": "",
   "placa_vehiculo": "",
   "orden_compra_servicio": "",
   "tabla_personalizada_codigo": "",
   "formato_de_pdf": "",
   "items": [)";
    for (int i = 0; i < 10; ++i) {
        const bool a = i % 2 == 0;
        s += i == 0 ? "\n" : ",\n";
        s += R"(      {
         "unidad_de_medida": ")" +
             std::string(a ? "NIU" : "ZZ") + R"(",
         "codigo": "P)" +
             std::to_string(100 + i) + R"(",
         "descripcion": "DETALLE DEL PRODUCTO )" +
             std::to_string(i + 1) + R"(",
         "cantidad": ")" +
             std::string(a ? "1" : "5") + R"(",
         "valor_unitario": ")" +
             std::string(a ? "500" : "20") + R"(",
         "precio_unitario": ")" +
             std::string(a ? "590" : "23.60") + R"(",
         "descuento": "",
         "subtotal": ")" +
             std::string(a ? "500" : "100") + R"(",
         "tipo_de_igv": "1",
         "igv": ")" +
             std::string(a ? "90" : "18") + R"(",
         "total": ")" +
             std::string(a ? "590" : "118") + R"(",
         "anticipo_regularizacion": "false",
         "anticipo_documento_serie": "",
         "anticipo_documento_numero": "",
         "codigo_producto_sunat": "10000000"
      })";
    }
    s += "\n   ]\n}\n";
    return s;
}

const std::string& input() {
    static const std::string s = official_style_factura();
    return s;
}

const std::string& canonical_input() {
    static const std::string s = json::write(json::read_comprobante(input()).doc);
    return s;
}

void BM_read_comprobante(benchmark::State& st) {
    const std::string& in = input();
    for (auto _ : st) {
        auto r = json::read_comprobante(in);
        benchmark::DoNotOptimize(r);
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(in.size()));
}
BENCHMARK(BM_read_comprobante);

void BM_read_request_canonical(benchmark::State& st) {
    const std::string& in = canonical_input();
    for (auto _ : st) {
        auto r = json::read_request(in);
        benchmark::DoNotOptimize(r);
    }
    st.SetItemsProcessed(st.iterations());
    st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(in.size()));
}
BENCHMARK(BM_read_request_canonical);

void BM_write(benchmark::State& st) {
    const auto doc = std::get<comprobante>(json::read_comprobante(input()).doc);
    for (auto _ : st) {
        auto w = json::write(doc);
        benchmark::DoNotOptimize(w);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_write);

void BM_read_write(benchmark::State& st) {
    const std::string& in = input();
    for (auto _ : st) {
        auto r = json::read_comprobante(in);
        auto w = json::write(std::get<comprobante>(r.doc));
        benchmark::DoNotOptimize(w);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_read_write);

// The pipeline the CLI and the gateway run per document: parse, complete, check, serialize.
void BM_pipeline(benchmark::State& st) {
    const std::string& in = input();
    for (auto _ : st) {
        auto r = json::read_comprobante(in);
        auto& doc = std::get<comprobante>(r.doc);
        fiscal::complete(doc);
        auto findings = fiscal::check(doc);
        auto w = json::write(doc);
        benchmark::DoNotOptimize(findings);
        benchmark::DoNotOptimize(w);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_pipeline);

// The same on the canonical form (numbers as numbers, no empty fields), as written by json::write.
void BM_pipeline_canonical(benchmark::State& st) {
    const std::string& in = canonical_input();
    for (auto _ : st) {
        auto r = json::read_comprobante(in);
        auto& doc = std::get<comprobante>(r.doc);
        fiscal::complete(doc);
        auto findings = fiscal::check(doc);
        auto w = json::write(doc);
        benchmark::DoNotOptimize(findings);
        benchmark::DoNotOptimize(w);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_pipeline_canonical);

// fiscal::complete + check alone (copy of a parsed document), to split the pipeline's cost.
void BM_fiscal_only(benchmark::State& st) {
    const auto base = std::get<comprobante>(json::read_comprobante(input()).doc);
    for (auto _ : st) {
        comprobante doc = base;
        fiscal::complete(doc);
        auto findings = fiscal::check(doc);
        benchmark::DoNotOptimize(findings);
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_fiscal_only);

}  // namespace

BENCHMARK_MAIN();
