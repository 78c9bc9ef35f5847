// The examples of docs/client.md, compiled and run against the emulator (the doc includes this code).
#include "support.hpp"

// [doc:headers]
#include <nubefact/client.hpp>         // client, blocking_client
#include <nubefact/client_memory.hpp>  // memory_journal
#include <nubefact/config.hpp>         // account_config, load_account
#include <nubefact/fiscal.hpp>         // fiscal::complete

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
// [/doc:headers]

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace emu = nubefact::emulator;

namespace {

// [doc:blocking]
// A plain program: the blocking client owns its io thread.
int issue_one(const nubefact::account_config& cfg, const nubefact::comprobante& factura) {
    nubefact::blocking_client nf(cfg);
    auto r = nf.generar_comprobante(factura);  // journaled, validated, sent, reconciled
    if (!r) {
        const nubefact::client_error& e = r.error();
        std::cerr << "not issued: " << e.what() << "\n";  // e.g. "codigo 20: … (HTTP 400)"
        for (const auto& f : e.findings) std::cerr << "  " << f.path << ": " << f.message << "\n";
        return e.state == nubefact::doc_state::unknown ? 3 : 1;  // unknown: consult later, never re-number
    }
    // accepted, pending_sunat (SUNAT has not answered: refresh or consult later) or rejected by SUNAT
    std::cout << nubefact::to_string(r->state) << ": " << r->body.enlace.value_or("")
              << (r->recovered ? " (recovered)" : "") << "\n";
    return r->state == nubefact::doc_state::rejected ? 1 : 0;
}
// [/doc:blocking]

// [doc:async]
// An asynchronous program: many documents at once on one io_context; limits apply per account.
// A factura with only what a person knows; fiscal::complete computes the amounts.
nubefact::comprobante make_factura(const std::string& serie, std::int64_t numero) {
    auto dec = [](const char* text) { return nubefact::decimal::parse(text).value(); };
    nubefact::comprobante f;
    f.tipo_de_comprobante = 1;  // factura
    f.serie = serie;
    f.numero = numero;
    f.sunat_transaction = 1;            // venta interna
    f.cliente_tipo_de_documento = "6";  // RUC
    f.cliente_numero_de_documento = "20600695771";
    f.cliente_denominacion = "CLIENTE EJEMPLO SAC";
    f.cliente_direccion = "AV. SIEMPRE VIVA 123 LIMA";
    f.fecha_de_emision = nubefact::lima_today();  // Nubefact answers codigo 22 for an old date
    f.moneda = 1;                                 // soles
    f.porcentaje_de_igv = dec("18.00");
    nubefact::item cuadernos;
    cuadernos.unidad_de_medida = "NIU";
    cuadernos.descripcion = "CUADERNO A4";
    cuadernos.cantidad = dec("3");
    cuadernos.valor_unitario = dec("10.00");  // without IGV
    cuadernos.tipo_de_igv = 1;                // gravado
    f.items.push_back(cuadernos);
    nubefact::fiscal::complete(f);  // precio_unitario, subtotal, igv, totals
    return f;
}

boost::asio::awaitable<int> issue_many(nubefact::client& nf, std::vector<nubefact::comprobante> docs) {
    int accepted = 0;
    for (const auto& d : docs) {
        auto r = co_await nf.generar_comprobante(d);
        if (r && r->state == nubefact::doc_state::accepted) ++accepted;
    }
    co_return accepted;
}

int run_async(const nubefact::account_config& cfg) {
    boost::asio::io_context ioc;
    auto journal = std::make_shared<nubefact::memory_journal>();  // or the store's (docs/store.md)
    nubefact::client nf(ioc.get_executor(), cfg, nubefact::client_options{journal});
    int total = 0;
    for (int w = 0; w < 4; ++w) {  // four concurrent workers, ten documents each
        std::vector<nubefact::comprobante> docs;
        for (int i = 1; i <= 10; ++i) docs.push_back(make_factura("FFF" + std::to_string(w + 1), i));
        auto worker = [&nf, &total, docs = std::move(docs)]() mutable -> boost::asio::awaitable<void> {
            total += co_await issue_many(nf, std::move(docs));
        };
        boost::asio::co_spawn(ioc, std::move(worker), boost::asio::detached);
    }
    ioc.run();
    return total;
}
// [/doc:async]

// [doc:config]
nubefact::account_config configure(const std::string& toml_path) {
    // defaults < TOML file < NUBEFACT_* environment; throws nubefact::config_error with the key
    nubefact::account_config cfg = nubefact::load_account(toml_path, "main");
    nubefact::validate_config(cfg);
    return cfg;
}
// [/doc:config]

}  // namespace

TEST(DocExamples, BlockingAndAsync) {
    emu::server srv;
    ASSERT_TRUE(srv.start());
    auto cfg = clienttest::account_for(srv, "doc");
    EXPECT_EQ(issue_one(cfg, clienttest::factura("FFF9", 1)), 0);
    auto bad = clienttest::factura("FFF9", 2);
    bad.total = nubefact::decimal::parse("1.00").value();
    EXPECT_EQ(issue_one(cfg, bad), 1);
    // The example's factura is complete and valid as built (nothing but what a person knows).
    EXPECT_FALSE(nubefact::has_errors(nubefact::fiscal::check(make_factura("FFF1", 1))));
    EXPECT_EQ(run_async(cfg), 40);
    EXPECT_EQ(srv.snapshot().documents_created, 41u);
}

TEST(DocExamples, Configuration) {
    auto path =
        std::filesystem::temp_directory_path() / ("nubefact-doc-" + std::to_string(::getpid()) + ".toml");
    {
        std::ofstream f(path);
        f << R"([defaults]
rate = 20            # requests per second, per account, per process
burst = 5
request_timeout = "30s"

[accounts.main]
ruta = "https://api.nubefact.com/api/v1/48239908-7ae7-4353-824d-071765d4"
token = "from-the-file"
max_concurrency = 8
)";
    }
    ::setenv("NUBEFACT_TOKEN", "from-the-environment", 1);
    auto cfg = configure(path.string());
    ::unsetenv("NUBEFACT_TOKEN");
    EXPECT_EQ(cfg.token, "from-the-environment");
    EXPECT_EQ(cfg.rate.requests_per_second, 20.0);
    EXPECT_EQ(cfg.max_concurrency, 8);
    EXPECT_EQ(cfg.request_timeout, std::chrono::seconds(30));
    std::filesystem::remove(path);
}

// docs/client.md quotes the marked blocks of this file verbatim.
TEST(DocExamples, DocQuotesThisFile) {
    const char* root = std::getenv("NUBEFACT_SOURCE_DIR");
    if (!root) GTEST_SKIP() << "NUBEFACT_SOURCE_DIR not set";
    auto slurp = [](const std::filesystem::path& p) {
        std::ifstream in(p);
        return std::string(std::istreambuf_iterator<char>(in), {});
    };
    auto src = slurp(std::filesystem::path(root) / "tests/integration/client/doc_examples_test.cpp");
    auto doc = slurp(std::filesystem::path(root) / "docs/client.md");
    for (std::string name : {"headers", "blocking", "async", "config"}) {
        auto open = "// [doc:" + name + "]\n";
        auto a = src.find(open);
        auto b = src.find("// [/doc:" + name + "]");
        ASSERT_NE(a, std::string::npos) << name;
        auto block = src.substr(a + open.size(), b - a - open.size());
        EXPECT_NE(doc.find(block), std::string::npos) << "docs/client.md does not quote block " << name;
    }
}
