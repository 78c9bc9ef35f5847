// The examples of docs/client.md, compiled and run against the emulator (the doc includes this code).
#include "support.hpp"

#include <nubefact/client_memory.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
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
    std::cout << "accepted: " << r->body.enlace.value_or("") << (r->recovered ? " (recovered)" : "") << "\n";
    return 0;
}
// [/doc:blocking]

// [doc:async]
// An asynchronous program: many documents at once on one io_context; limits apply per account.
boost::asio::awaitable<int> issue_many(nubefact::client& nf, std::vector<nubefact::comprobante> docs) {
    int accepted = 0;
    for (auto& d : docs) {
        auto r = co_await nf.generar_comprobante(std::move(d));
        if (r && r->state == nubefact::doc_state::accepted) ++accepted;
    }
    co_return accepted;
}

int run_async(const nubefact::account_config& cfg) {
    boost::asio::io_context ioc;
    auto journal = std::make_shared<nubefact::memory_journal>();  // or the store's durable journal
    nubefact::client nf(ioc.get_executor(), cfg, nubefact::client_options{journal});
    int total = 0;
    for (int w = 0; w < 4; ++w) {  // four concurrent workers, ten documents each
        std::vector<nubefact::comprobante> docs;
        for (int i = 1; i <= 10; ++i) docs.push_back(clienttest::factura("FFF" + std::to_string(w + 1), i));
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
    for (std::string name : {"blocking", "async", "config"}) {
        auto open = "// [doc:" + name + "]\n";
        auto a = src.find(open);
        auto b = src.find("// [/doc:" + name + "]");
        ASSERT_NE(a, std::string::npos) << name;
        auto block = src.substr(a + open.size(), b - a - open.size());
        EXPECT_NE(doc.find(block), std::string::npos) << "docs/client.md does not quote block " << name;
    }
}
