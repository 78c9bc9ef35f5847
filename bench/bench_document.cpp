// Document pipeline benchmarks: parse + fiscal::complete + fiscal::check + serialize of a 10-item factura.
#include <nubefact/fiscal.hpp>
#include <nubefact/json.hpp>

#include <benchmark/benchmark.h>

#include <stdexcept>
#include <string>

namespace {

using namespace nubefact;

// A realistic 10-item factura as a client writes it before completion: mixed inputs (valor or
// precio, discounts, an exonerado and a free line), no computed fields.
std::string draft_factura() {
    std::string s =
        R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":1234,)"
        R"("sunat_transaction":1,"cliente_tipo_de_documento":"6","cliente_numero_de_documento":"20600695771",)"
        R"("cliente_denominacion":"CLIENTE EJEMPLO SAC","cliente_direccion":"AV. SIEMPRE VIVA 123 LIMA",)"
        R"("cliente_email":"compras@cliente.pe","fecha_de_emision":"15-01-2026","fecha_de_vencimiento":"14-02-2026",)"
        R"("moneda":1,"porcentaje_de_igv":18.00,"observaciones":"PEDIDO 998",)"
        R"("enviar_automaticamente_a_la_sunat":true,"enviar_automaticamente_al_cliente":false,"items":[)";
    const char* items[] = {
        R"({"unidad_de_medida":"NIU","codigo":"P01","descripcion":"CUADERNO A4","cantidad":3,"precio_unitario":11.80,"tipo_de_igv":1})",
        R"({"unidad_de_medida":"NIU","codigo":"P02","descripcion":"LAPICERO AZUL","cantidad":7,"precio_unitario":2.50,"tipo_de_igv":1})",
        R"({"unidad_de_medida":"NIU","codigo":"P03","descripcion":"RESMA BOND","cantidad":12,"valor_unitario":15.2542372881,"tipo_de_igv":1})",
        R"({"unidad_de_medida":"ZZ","codigo":"S01","descripcion":"SERVICIO DE IMPRESION","cantidad":1,"valor_unitario":250,"descuento":25,"tipo_de_igv":1})",
        R"({"unidad_de_medida":"NIU","codigo":"P04","descripcion":"LIBRO","cantidad":2,"valor_unitario":45.00,"tipo_de_igv":8})",
        R"({"unidad_de_medida":"NIU","codigo":"P05","descripcion":"ENGRAPADOR","cantidad":1.5,"valor_unitario":18.3333333333,"tipo_de_igv":1})",
        R"({"unidad_de_medida":"NIU","codigo":"P06","descripcion":"FOLDER","cantidad":40,"precio_unitario":0.85,"tipo_de_igv":1})",
        R"({"unidad_de_medida":"NIU","codigo":"P07","descripcion":"MUESTRA","cantidad":1,"valor_unitario":5,"tipo_de_igv":6})",
        R"({"unidad_de_medida":"KGM","codigo":"P08","descripcion":"PAPEL KRAFT","cantidad":2.375,"valor_unitario":9.9,"tipo_de_igv":1})",
        R"({"unidad_de_medida":"NIU","codigo":"P09","descripcion":"TONER","cantidad":2,"precio_unitario":189.90,"descuento":10,"tipo_de_igv":1})",
    };
    for (int i = 0; i < 10; ++i) {
        if (i) s += ',';
        s += items[i];
    }
    s += "]}";
    return s;
}

comprobante parsed_draft() {
    auto r = json::read_request(draft_factura());
    if (has_errors(r.findings)) throw std::runtime_error("bench document does not parse");
    return std::get<comprobante>(r.doc);
}

// The completed document as JSON (what `validate` reads).
std::string completed_factura() {
    comprobante c = parsed_draft();
    fiscal::complete(c);
    if (has_errors(fiscal::check(c))) throw std::runtime_error("bench document is not valid after complete");
    return json::write(c);
}

void BM_parse(benchmark::State& state) {
    const std::string text = completed_factura();
    for (auto _ : state) {
        auto r = json::read_request(text);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(BM_parse);

void BM_complete(benchmark::State& state) {
    const comprobante draft = parsed_draft();
    for (auto _ : state) {
        comprobante c = draft;
        fiscal::complete(c);
        benchmark::DoNotOptimize(c);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_complete);

void BM_copy_only(benchmark::State& state) {  // baseline for BM_complete (it copies the draft)
    const comprobante draft = parsed_draft();
    for (auto _ : state) {
        comprobante c = draft;
        benchmark::DoNotOptimize(c);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_copy_only);

void BM_check(benchmark::State& state) {
    comprobante c = parsed_draft();
    fiscal::complete(c);
    for (auto _ : state) {
        auto fs = fiscal::check(c);
        benchmark::DoNotOptimize(fs);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_check);

void BM_write(benchmark::State& state) {
    comprobante c = parsed_draft();
    fiscal::complete(c);
    for (auto _ : state) {
        auto s = json::write(c);
        benchmark::DoNotOptimize(s);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_write);

// The whole offline path of `complete` + `validate`: parse a draft, complete, check, serialize.
void BM_pipeline(benchmark::State& state) {
    const std::string text = draft_factura();
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto r = json::read_request(text);
        auto& c = std::get<comprobante>(r.doc);
        fiscal::complete(c);
        auto fs = fiscal::check(c);
        auto out = json::write(c);
        bytes += out.size();
        benchmark::DoNotOptimize(fs);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(state.iterations());
    benchmark::DoNotOptimize(bytes);
}
BENCHMARK(BM_pipeline);

}  // namespace

BENCHMARK_MAIN();
