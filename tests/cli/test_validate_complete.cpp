// The real `nubefact validate` / `nubefact complete` binaries: output lines, shapes and exit codes.
#include "cli_util.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
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

// ---- Input framing: the reader validate, complete and send share ---------------------------------

// Runs the binary with `input` on stdin, stdout and stderr into pipes, and reads at most `cap`
// bytes of them: a command whose output is unbounded (it loops) is killed there instead of filling
// the disk or hanging the test. The test stops after a bounded number of reads, no timing.
struct capped_result {
    int rc = -1;
    std::string out, err;
    std::size_t bytes = 0;
    bool capped = false;
};
capped_result run_capped(const std::string& binary, const std::vector<std::string>& args, std::size_t cap,
                         const fs::path& stdin_file = "/dev/null", bool keep = false) {
    int out[2], err[2];
    if (::pipe(out) != 0 || ::pipe(err) != 0) return {};
    std::vector<char*> argv{const_cast<char*>(binary.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int in = ::open(stdin_file.c_str(), O_RDONLY);
        if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) ::_exit(127);
        for (int fd : {in, out[0], out[1], err[0], err[1]}) ::close(fd);
        ::execv(binary.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    capped_result r;
    std::vector<char> buf(64 * 1024);
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0 && !r.capped) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
                continue;
            }
            r.bytes += static_cast<std::size_t>(n);
            if (keep) (i == 0 ? r.out : r.err).append(buf.data(), static_cast<std::size_t>(n));
            if (r.bytes > cap) r.capped = true;
        }
    }
    if (r.capped) ::kill(pid, SIGKILL);
    for (const auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

class Framing : public ValidateComplete {
  protected:
    void SetUp() override {
        ValidateComplete::SetUp();
        if (IsSkipped()) return;
        auto r = run({"complete", "-"}, minimal);
        ASSERT_EQ(r.rc, 0) << r.err;
        good_ = r.out.substr(0, r.out.find_last_not_of('\n') + 1);
        wrong_ = good_;
        const auto pos = wrong_.find("\"igv\":5.40");
        ASSERT_NE(pos, std::string::npos);
        wrong_.replace(pos, 10, "\"igv\":5.41");
    }
    // Like ValidateComplete::run, but a command that writes more than 16 MiB (it loops, as these
    // inputs made it do) is killed and the test fails instead of hanging.
    run_result run(const std::vector<std::string>& args, const std::string& input = "") {
        spit(dir_ / "stdin", input);
        auto r = run_capped(binary_, args, 16 << 20, dir_ / "stdin", true);
        EXPECT_FALSE(r.capped) << args.front() << ": unbounded output";
        return run_result{r.rc, std::move(r.out), std::move(r.err)};
    }
    // The CSV sample of docs/send.md, as a user would copy it.
    std::string send_md_csv() const {
        const std::string md = slurp(fs::path(NUBEFACT_TEST_SOURCE_DIR) / "docs" / "send.md");
        const auto start = md.find("```csv\n");
        const auto end = md.find("```", start + 7);
        if (start == std::string::npos || end == std::string::npos) return {};
        return md.substr(start + 7, end - start - 7);
    }
    std::string good_, wrong_;
};

// The export mistake that made validate, complete and send loop forever.
TEST_F(Framing, CommaBetweenObjectsIsOneFindingAndEveryObjectIsChecked) {
    const auto in = write("lote.json", good_ + ",\n" + wrong_ + ",\n" + good_ + "\n").string();
    auto r = run({"validate", in});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_EQ(count(r.out, "between top-level objects"), 1u) << r.out;
    EXPECT_NE(r.out.find("lote.json:1 (input): a ','"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("lote.json:2 items[0].igv: "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("3 documents: 2 valid, 1 invalid"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("1 framing problem"), std::string::npos) << r.err;

    r = run({"complete", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_EQ(count(r.err, "between top-level objects"), 1u) << r.err;
    EXPECT_EQ(count(r.out, "\n"), 3u) << r.out;  // JSONL, one line per object
    r = run({"validate", "-"}, r.out);           // complete recomputed the wrong igv
    EXPECT_NE(r.err.find("3 documents: 3 valid"), std::string::npos) << r.err;
}

TEST_F(Framing, OversizedLineIsReportedAtItsLineAndTheRestIsChecked) {
    const std::string big =
        "{\"operacion\":\"generar_comprobante\",\"x\":\"" + std::string(2 << 20, 'x') + "\"}";
    const auto in = write("lote.jsonl", good_ + "\n" + big + "\n" + wrong_ + "\n" + good_ + "\n").string();
    auto r = run({"validate", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.out.find("lote.jsonl:2 (document): document larger than 1048576 bytes"), std::string::npos)
        << r.out.substr(0, 2000);
    EXPECT_NE(r.out.find("lote.jsonl:3 items[0].igv: "), std::string::npos) << r.out.substr(0, 2000);
    EXPECT_NE(r.err.find("4 documents: 2 valid, 2 invalid"), std::string::npos) << r.err;
    EXPECT_LT(r.out.size(), 4096u);  // the 2 MiB line is not echoed

    r = run({"complete", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.err.find("lote.jsonl:2 (document): document larger than"), std::string::npos) << r.err;
    EXPECT_EQ(count(r.out, "\n"), 3u);  // the other three, completed
}

// A header column that is no field name (here with an accent; a fuzzer's had 100 NUL bytes, which
// every row repeated as an escaped JSON key) refuses the file with a clear line, nothing sent.
TEST_F(Framing, CsvHeaderWithAColumnThatIsNoFieldNameIsRefused) {
    const auto in = write("ventas.csv",
                          "operacion,tipo_de_comprobante,serie,numero,item.descripci\xC3\xB3n\n"
                          "generar_comprobante,1,F001,1,x\n")
                        .string();
    auto r = run({"validate", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE((r.out + r.err)
                  .find("ventas.csv:1 (input): the header row: column 5 ('item.descripci??n') is not a "
                        "field name"),
              std::string::npos)
        << r.out << r.err;
    EXPECT_NE(r.err.find("0 documents"), std::string::npos) << r.err;
}

TEST_F(Framing, UnterminatedCsvQuoteSkipsOnlyItsRow) {
    std::string csv = send_md_csv();
    ASSERT_FALSE(csv.empty());
    const auto header = csv.substr(0, csv.find('\n') + 1);
    std::string row = csv.substr(header.size(), csv.find('\n', header.size()) - header.size());
    auto numbered = [&](int n) {
        std::string r = row;
        r.replace(r.find("F001,1,"), 7, "F001," + std::to_string(n) + ",");
        return r + "\n";
    };
    std::string broken = numbered(1);
    broken.replace(broken.find("NUBEFACT SA"), 11, "\"NUBEFACT SA");  // the quote is never closed
    const auto in = write("ventas.csv", header + broken + numbered(2) + numbered(3)).string();
    auto r = run({"validate", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.out.find("ventas.csv:2 (document): the '\"' opened at line 2 is not closed"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("ventas.csv:3 "), std::string::npos) << r.out;  // checked (no totals yet)
    EXPECT_NE(r.out.find("ventas.csv:4 "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("3 documents"), std::string::npos) << r.err;

    r = run({"complete", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.err.find("ventas.csv:2 (document): the '\"' opened at line 2"), std::string::npos) << r.err;
    r = run({"validate", "-"}, r.out);
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("2 documents: 2 valid"), std::string::npos) << r.err;
}

TEST_F(Framing, UnterminatedStringInAnArraySkipsOnlyItsElement) {
    std::string broken = good_;
    broken.replace(broken.find("\"serie\":\"FFF1\""), 14, "\"serie\":\"FFF1");
    const auto in = write("lote.json", "[\n" + good_ + ",\n" + broken + ",\n" + wrong_ + "\n]\n").string();
    auto r = run({"validate", in});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("lote.json:3 (document): a string is not closed before the end of line 3"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("lote.json:4 items[0].igv: "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("3 documents: 1 valid, 2 invalid"), std::string::npos) << r.err;

    r = run({"complete", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.err.find("lote.json:3 (document): a string is not closed"), std::string::npos) << r.err;
    // The two others completed; the broken one is not copied into the array, which stays JSON.
    EXPECT_EQ(boost::json::parse(r.out).as_array().size(), 2u) << r.out;
}

TEST_F(Framing, ArrayWithoutClosingBracketIsAnError) {
    const auto in = write("lote.json", "[\n" + good_ + ",\n" + good_ + "\n").string();
    auto r = run({"validate", in});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("lote.json:4 (input): the array opened at line 1 is not closed"), std::string::npos)
        << r.out;
    EXPECT_NE(r.err.find("2 documents: 2 valid, 0 invalid"), std::string::npos) << r.err;

    r = run({"complete", in});
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.err.find("is not closed"), std::string::npos) << r.err;
    EXPECT_EQ(boost::json::parse(r.out).as_array().size(), 2u);  // the output's array is closed
}

TEST_F(Framing, EmptyInputsAndMissingFilesExit2) {
    const auto empty = write("vacio.json", "").string();
    const auto blank = write("blanco.jsonl", "\n  \n").string();
    const auto dir = dir_ / "lote";
    fs::create_directories(dir);
    for (const auto& cmd : {"validate", "complete"}) {
        auto r = run({cmd, empty});
        EXPECT_EQ(r.rc, 2) << cmd << r.err;
        EXPECT_NE(r.err.find("vacio.json: no documents in the file"), std::string::npos) << r.err;
        r = run({cmd, blank});
        EXPECT_EQ(r.rc, 2) << cmd << r.err;
        r = run({cmd, "-"}, "");
        EXPECT_EQ(r.rc, 2) << cmd << r.err;
        EXPECT_NE(r.err.find("<stdin>: no documents on standard input"), std::string::npos) << r.err;
        r = run({cmd, dir.string()});
        EXPECT_EQ(r.rc, 2) << cmd << r.err;
        EXPECT_NE(r.err.find("lote: no *.json, *.jsonl or *.csv file"), std::string::npos) << r.err;
        r = run({cmd, (dir_ / "falta.json").string()});
        EXPECT_EQ(r.rc, 2) << cmd << r.err;
        EXPECT_NE(r.err.find("falta.json: cannot read: No such file or directory"), std::string::npos)
            << r.err;
    }
    // A missing file is not a document: the others are counted alone.
    auto r = run({"validate", write("f.json", good_).string(), (dir_ / "falta.json").string()});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("1 document: 1 valid"), std::string::npos) << r.err;
}

TEST_F(Framing, CsvSampleOfTheSendDocsValidates) {
    const auto in = write("ventas.csv", send_md_csv()).string();
    auto r = run({"validate", in});
    EXPECT_EQ(r.rc, 1) << r.err;  // a person's CSV: the computed fields are missing
    EXPECT_NE(r.out.find("ventas.csv:2 items[0].subtotal: "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("1 document: 0 valid, 1 invalid"), std::string::npos) << r.err;
    r = run({"complete", in});
    ASSERT_EQ(r.rc, 0) << r.err;
    r = run({"validate", "-"}, r.out);
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("1 document: 1 valid"), std::string::npos) << r.err;
    // A directory's CSV files are read as well.
    fs::create_directories(dir_ / "lote");
    spit(dir_ / "lote" / "ventas.csv", send_md_csv());
    r = run({"validate", (dir_ / "lote").string()});
    EXPECT_NE(r.err.find("1 document: 0 valid, 1 invalid"), std::string::npos) << r.err;
}

TEST_F(Framing, CompleteRefusesToWriteOverItsInput) {
    const std::string text = good_ + "\n" + good_ + "\n";
    const auto in = write("x.jsonl", text);
    auto r = run({"complete", in.string(), "-o", in.string()});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("refusing to write " + in.string() + ": it is also an input"), std::string::npos)
        << r.err;
    EXPECT_EQ(slurp(in), text);
    // Through a symlink, a directory input, or standard input redirected from it.
    fs::create_symlink(in, dir_ / "link.jsonl");
    EXPECT_EQ(run({"complete", (dir_ / "link.jsonl").string(), "-o", in.string()}).rc, 2);
    EXPECT_EQ(run({"complete", in.string(), "-o", (dir_ / "link.jsonl").string()}).rc, 2);
    EXPECT_EQ(run({"complete", dir_.string(), "-o", in.string()}).rc, 2);
    r = run({"complete", "-", "-o", (dir_ / "stdin").string()}, text);  // run() feeds dir_/stdin
    EXPECT_EQ(r.rc, 2) << r.err;
    EXPECT_NE(r.err.find("(standard input)"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(in), text);
    EXPECT_TRUE(fs::is_symlink(dir_ / "link.jsonl"));
}

TEST_F(Framing, CompleteOutputIsAtomic) {
    const auto in = write("x.jsonl", good_ + "\n" + wrong_ + "\n");
    const auto out = dir_ / "out" / "y.jsonl";
    auto r = run({"complete", in.string(), "-o", out.string()});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("cannot write " + out.string() + ": No such file or directory"), std::string::npos)
        << r.err;
    fs::create_directories(out.parent_path());
    spit(out, "old\n");
    fs::permissions(out, fs::perms(0640));
    r = run({"complete", in.string(), "-o", out.string()});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(count(slurp(out), "\n"), 2u);
    EXPECT_EQ(fs::status(out).permissions(), fs::perms(0640));  // kept
    // An input that cannot be read: nothing is written, the old content stays.
    spit(out, "old\n");
    r = run({"complete", in.string(), (dir_ / "falta.json").string(), "-o", out.string()});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("not written"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(out), "old\n");
    // No temporary file is left behind.
    for (const auto& e : fs::directory_iterator(out.parent_path()))
        EXPECT_EQ(e.path().filename(), "y.jsonl") << e.path();
    // A directory is not a file to write.
    r = run({"complete", in.string(), "-o", out.parent_path().string()});
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("Is a directory"), std::string::npos) << r.err;
}

// 1 MB of what a reader can choke on: validate and complete end by themselves with an output a
// small multiple of the input at most (the test stops reading past that and fails).
TEST_F(Framing, PathologicalInputsGiveBoundedOutput) {
    const std::size_t mb = 1 << 20;
    auto repeat = [&](const std::string& unit) {
        std::string s;
        while (s.size() < mb) s += unit;
        return s;
    };
    std::string noise(mb, ' ');
    unsigned x = 7;
    const char alphabet[] = "{}[],\"\\:\n ax1";
    for (auto& c : noise) {
        x = x * 1103515245u + 12345u;
        c = alphabet[(x >> 16) % (sizeof alphabet - 1)];
    }
    const std::vector<std::pair<std::string, std::string>> inputs = {
        {"commas.json", repeat(good_ + ",\n")},
        {"comma-only.json", std::string(mb, ',')},
        {"open.jsonl", repeat("{\n")},
        {"close.json", repeat("}\n")},
        {"quotes.json", "[" + repeat("\"\n")},
        {"brackets.json", std::string(mb, '[')},
        {"noise.json", noise},
        {"quotes.csv", "serie,item.x\n" + repeat("\"x\n")},
        {"one-doc.csv", "serie,item.x\n" + repeat("F001,1\n")},
    };
    for (const auto& [name, text] : inputs) {
        const auto in = write(name, text).string();
        for (const char* cmd : {"validate", "complete"}) {
            const auto r = run_capped(binary_, {cmd, in}, 4 * text.size() + 64 * 1024);
            EXPECT_FALSE(r.capped) << cmd << " " << name << ": more than 4x its input";
            EXPECT_EQ(r.rc, 1) << cmd << " " << name;
        }
    }
}

}  // namespace
}  // namespace nubefact
