// The real `nubefact validate` / `nubefact complete` binaries: output lines, shapes and exit codes.
#include "cli_util.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nubefact {
namespace {

namespace fs = std::filesystem;

using test::cli::run_result;
using test::cli::slurp;
using test::cli::spit;

class ValidateComplete : public ::testing::Test {
  protected:
    void SetUp() override {
        // The environment names the binary and the examples; without it (ctest drops all but the first
        // variable of a list-valued ENVIRONMENT property) fall back to the build and source layout.
        const char* bin = std::getenv("NUBEFACT_BINARY");
        const char* ex = std::getenv("NUBEFACT_EXAMPLES_DIR");
        std::error_code ec;
        binary_ =
            bin ? std::string(bin)
                : (fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "nubefact").string();
        examples_ = ex ? fs::path(ex) : fs::path(__FILE__).parent_path().parent_path() / "data" / "official";
        if (!fs::exists(binary_)) GTEST_SKIP() << "nubefact binary not found: " << binary_;
        dir_ = test::cli::fresh_scratch_dir("fiscal");
    }
    void TearDown() override { test::cli::remove_scratch_dir(dir_); }

    // Runs the binary with `args`, feeding `input` on stdin; fork + exec, no shell.
    run_result run(const std::vector<std::string>& args, const std::string& input = "") {
        return test::cli::run(binary_, args, dir_, input);
    }

    std::string example(const std::string& name) const { return (examples_ / name).string(); }

    std::vector<std::string> official_requests() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(examples_)) {
            const auto n = e.path().filename().string();
            if (e.path().extension() == ".json" && n.find("response") == std::string::npos)
                out.push_back(e.path().string());
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    fs::path write(const std::string& name, const std::string& text) {
        spit(dir_ / name, text);
        return dir_ / name;
    }

    std::string binary_;
    fs::path examples_, dir_;
};

const std::string minimal =
    R"({"operacion":"generar_comprobante","tipo_de_comprobante":1,"serie":"FFF1","numero":101,)"
    R"("sunat_transaction":1,"cliente_tipo_de_documento":6,"cliente_numero_de_documento":"20600695771",)"
    R"("cliente_denominacion":"CLIENTE SAC","cliente_direccion":"LIMA","fecha_de_emision":"15-01-2026","moneda":1,)"
    R"("items":[{"unidad_de_medida":"NIU","descripcion":"CUADERNO","cantidad":3,"precio_unitario":11.80,"tipo_de_igv":1},)"
    R"({"unidad_de_medida":"NIU","descripcion":"LAPICERO","cantidad":7,"precio_unitario":2.50,"tipo_de_igv":1}]})";

TEST_F(ValidateComplete, OfficialExamplesAreValidExceptExample9) {
    std::vector<std::string> ok, bad;
    for (const auto& f : official_requests())
        (f.find("descuento-global-y-por-item") != std::string::npos ? bad : ok).push_back(f);
    ASSERT_GE(ok.size(), 60u);
    ok.insert(ok.begin(), "validate");
    auto r = run(ok);
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find(": warning") != std::string::npos, true);  // boleta 23, factura 24
    EXPECT_NE(r.err.find(" invalid"), std::string::npos);

    ASSERT_EQ(bad.size(), 2u);
    bad.insert(bad.begin(), "validate");
    r = run(bad);
    EXPECT_EQ(r.rc, 1);
    const std::string line =
        "generar-cpe-factura-9-descuento-global-y-por-item.json:20 total_descuento: total_descuento does not "
        "match "
        "the arithmetic of the document. (expected 300.00, got 200.00)";
    EXPECT_NE(r.out.find(line), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("2 documents: 0 valid, 2 invalid"), std::string::npos) << r.err;
}

TEST_F(ValidateComplete, LenientAndTolerance) {
    const auto nine = example("generar-cpe-factura-9-descuento-global-y-por-item.json");
    auto r = run({"validate", "--lenient", nine});
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_NE(r.out.find("total_descuento: warning:"), std::string::npos) << r.out;
    r = run({"validate", "--tolerance", "100", nine});
    EXPECT_EQ(r.rc, 0) << r.out;
    r = run({"validate", "--tolerance", "abc", nine});
    EXPECT_EQ(r.rc, 2);
}

TEST_F(ValidateComplete, JsonFindings) {
    auto r = run({"validate", "--json", example("generar-cpe-factura-9-descuento-global-y-por-item.json"),
                  example("generar-cpe-factura-1-gravada.json")});
    EXPECT_EQ(r.rc, 1);
    std::istringstream lines(r.out);
    std::string l;
    std::vector<boost::json::object> docs;
    while (std::getline(lines, l)) docs.push_back(boost::json::parse(l).as_object());
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(docs[0].at("valid").as_bool(), false);
    EXPECT_EQ(docs[0].at("errors").as_int64(), 1);
    const auto& f = docs[0].at("findings").as_array().at(0).as_object();
    EXPECT_EQ(f.at("path").as_string(), "total_descuento");
    EXPECT_EQ(f.at("code").as_string(), "mismatch");
    EXPECT_EQ(f.at("severity").as_string(), "error");
    EXPECT_EQ(f.at("expected").as_string(), "300.00");
    EXPECT_EQ(f.at("actual").as_string(), "200.00");
    EXPECT_EQ(f.at("line").as_int64(), 20);
    EXPECT_EQ(docs[1].at("valid").as_bool(), true);
    EXPECT_TRUE(docs[1].at("findings").as_array().empty());
}

TEST_F(ValidateComplete, TodayRule) {
    const auto one = example("generar-cpe-factura-1-gravada.json");  // 17-12-2025
    EXPECT_EQ(run({"validate", one}).rc, 0);
    auto r = run({"validate", "--today", "20-12-2025", one});
    EXPECT_EQ(r.rc, 0) << r.out;
    r = run({"validate", "--today", "27-12-2025", one});
    EXPECT_EQ(r.rc, 1);
    EXPECT_NE(r.out.find("fecha_de_emision: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(expected >= 20-12-2025, got 17-12-2025)"), std::string::npos) << r.out;
    r = run({"validate", "--today", "27-12-2025", "--max-age-days", "30", one});
    EXPECT_EQ(r.rc, 0);
    r = run({"validate", "--today", "16-12-2025", one});
    EXPECT_EQ(r.rc, 1);
    r = run({"validate", "--today", "2025-13-01", one});
    EXPECT_EQ(r.rc, 2);
}

TEST_F(ValidateComplete, StdinJsonlLinesAndArrays) {
    std::string jsonl;
    // Three documents, the second with a wrong items[0].igv.
    const auto completed = run({"complete", "-"}, minimal);
    ASSERT_EQ(completed.rc, 0) << completed.err;
    std::string doc = completed.out;
    doc.erase(doc.find_last_not_of('\n') + 1);
    std::string wrong = doc;
    const auto pos = wrong.find("\"igv\":5.40");
    ASSERT_NE(pos, std::string::npos) << wrong;
    wrong.replace(pos, 10, "\"igv\":5.41");
    jsonl = doc + "\n" + wrong + "\n" + doc + "\n";
    auto r = run({"validate", "-"}, jsonl);
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("<stdin>:2 items[0].igv: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(expected 5.40, got 5.41)"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("3 documents: 2 valid, 1 invalid"), std::string::npos) << r.err;

    const auto arr = write("lote.json", "[\n" + doc + ",\n" + doc + "\n]\n");
    r = run({"validate", arr.string()});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("2 documents: 2 valid"), std::string::npos) << r.err;
}

TEST_F(ValidateComplete, UnreadableInputAndUsage) {
    auto r = run({"validate", (dir_ / "missing.json").string()});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("cannot read"), std::string::npos);
    EXPECT_EQ(run({"validate"}).rc, 2);
    EXPECT_EQ(run({"complete"}).rc, 2);
    r = run({"validate", "--help"});
    EXPECT_EQ(r.rc, 0);
    EXPECT_NE(r.out.find("Exit status"), std::string::npos);
    EXPECT_NE(r.out.find("--lenient"), std::string::npos);
    // Not JSON at all: a parse finding, the document is invalid.
    r = run({"validate", write("junk.json", "{\"operacion\": generar}").string()});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
}

TEST_F(ValidateComplete, CompleteFillsAndValidates) {
    const auto in = write("borrador.json", minimal);
    const auto out = dir_ / "factura.json";
    auto r = run({"complete", "-o", out.string(), in.string()});
    EXPECT_EQ(r.rc, 0) << r.err;
    const std::string text = slurp(out);
    boost::json::parse(text);  // well-formed
    for (const char* want :
         {"\"total\":52.90", "\"total_igv\":8.07", "\"total_gravada\":44.83",
          "\"valor_unitario\":2.1186440678", "\"subtotal\":14.83", "\"igv\":2.67", "\"total\":17.50"})
        EXPECT_NE(text.find(want), std::string::npos) << want << " not in " << text;
    r = run({"validate", out.string()});
    EXPECT_EQ(r.rc, 0) << r.out;
    r = run({"complete", "--check", in.string()});
    EXPECT_EQ(r.rc, 0) << r.err;
}

TEST_F(ValidateComplete, CompleteKeepsTheShape) {
    auto r = run({"complete", "-"}, minimal);
    ASSERT_EQ(r.rc, 0);
    EXPECT_EQ(r.out.front(), '{');
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);

    r = run({"complete", "--pretty", "-"}, minimal);
    EXPECT_NE(r.out.find("\n  \"total\": 52.90"), std::string::npos) << r.out;

    r = run({"complete", "-"}, minimal + "\n" + minimal + "\n");
    ASSERT_EQ(r.rc, 0);
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
    EXPECT_EQ(r.out.front(), '{');

    r = run({"complete", "-"}, "[" + minimal + "," + minimal + "]");
    ASSERT_EQ(r.rc, 0);
    const auto arr = boost::json::parse(r.out).as_array();
    ASSERT_EQ(arr.size(), 2u);
    EXPECT_EQ(r.out.front(), '[');
    EXPECT_NE(r.out.rfind("\"total\":52.90"), r.out.find("\"total\":52.90"));

    r = run({"complete", "--array", "-"}, minimal);
    EXPECT_EQ(boost::json::parse(r.out).as_array().size(), 1u);
}

TEST_F(ValidateComplete, CompleteReportsUnparsableDocuments) {
    auto r = run({"complete", "-"}, minimal + "\n{\"numero\": [}\n");
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.err.find("<stdin>:2"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;  // echoed unchanged
}

TEST_F(ValidateComplete, CompleteWithoutOperacionAndOtherOperations) {
    std::string no_op = minimal;
    no_op.erase(1, std::string("\"operacion\":\"generar_comprobante\",").size());
    auto r = run({"complete", "-"}, no_op);
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("\"operacion\":\"generar_comprobante\""), std::string::npos) << r.out;
    r = run({"complete", example("generar-anulacion-factura.json")});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.out.find("generar_anulacion"), std::string::npos);
}

}  // namespace
}  // namespace nubefact
