// What the tests of the real `nubefact send` binary share: documents, result readers, the SendCli
// fixture (scratch dir, store, results file) and a separate emulator process.
#pragma once

#include "cli_util.hpp"
#include "documents.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace nubefact::test::cli;
namespace json = boost::json;

std::string jsonl(int from, int to, const std::string& serie = "F001") {
    std::string s;
    for (int n = from; n <= to; ++n) s += factura(n, serie) + "\n";
    return s;
}

// The CSV of docs/send.md: one document, two item rows, only what a person knows (needs --complete).
const std::string csv_doc =
    "tipo_de_comprobante,serie,numero,sunat_transaction,cliente_tipo_de_documento,cliente_numero_de_"
    "documento,cliente_denominacion,cliente_direccion,fecha_de_emision,moneda,porcentaje_de_igv,item.unidad_"
    "de_medida,item.descripcion,item.cantidad,item.valor_unitario,item.tipo_de_igv\n"
    "1,F001,1,1,6,20600695771,NUBEFACT SA,CALLE LIBERTAD 116,27-11-2026,1,18.00,NIU,CUADERNO A4,3,10.00,1\n"
    "1,F001,1,1,6,20600695771,NUBEFACT SA,CALLE LIBERTAD 116,27-11-2026,1,18.00,NIU,LAPICERO AZUL,7,"
    "2.1186440678,1\n";

std::string str(const json::object& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}
std::int64_t num(const json::object& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->value().is_int64()    ? it->value().as_int64()
           : it != o.end() && it->value().is_uint64() ? static_cast<std::int64_t>(it->value().as_uint64())
                                                      : -1;
}

// Lines by state; "resumed" counts the lines that were final in the store already (not sent again).
std::map<std::string, int> count_states(const std::vector<json::object>& lines) {
    std::map<std::string, int> m;
    for (const auto& l : lines) {
        ++m[str(l, "state")];
        if (l.contains("resumed")) ++m["resumed"];
    }
    return m;
}

// The summary has the row "NAME   N" (any spacing).
[[maybe_unused]] bool has_row(const std::string& out, const std::string& name, int n) {
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        std::istringstream w(line);
        std::string a;
        long b = -1;
        if ((w >> a >> b) && a == name && b == n) return true;
    }
    return false;
}

class SendCli : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* bin = std::getenv("NUBEFACT_BINARY");
        if (!bin || !fs::exists(bin)) GTEST_SKIP() << "NUBEFACT_BINARY not set or missing";
        binary_ = bin;
        dir_ = fresh_scratch_dir("send");
        store_ = "sqlite:" + (dir_ / "store.db").string();
        results_ = (dir_ / "results.jsonl").string();
    }
    void TearDown() override { remove_scratch_dir(dir_); }

    fs::path write(const std::string& name, const std::string& text) {
        fs::create_directories((dir_ / name).parent_path());
        spit(dir_ / name, text);
        return dir_ / name;
    }

    // `nubefact send ARGS… --no-progress` in dir_, with env on top of a NUBEFACT_*-free environment.
    run_result send(std::vector<std::string> args, const std::string& input = "",
                    std::map<std::string, std::string> env = {}) {
        args.insert(args.begin(), "send");
        args.push_back("--no-progress");
        return run(binary_, args, dir_, input, spawn_options{dir_, std::move(env)});
    }
    // Sends to the embedded emulator with the test's store and results file.
    run_result send_emulated(std::vector<std::string> args, const std::string& input = "") {
        for (auto a : {"--emulator", "--store", store_.c_str(), "--results", results_.c_str()})
            args.emplace_back(a);
        return send(std::move(args), input);
    }
    std::vector<json::object> results() const { return parse_jsonl(slurp(results_)); }

    std::string binary_;
    fs::path dir_;
    std::string store_, results_;
};

}  // namespace
