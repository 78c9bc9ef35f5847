// cli::csv_reader and cli::input_stream: CSV framing problems, resuming, input errors.
#include "input.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace nubefact::cli {
namespace {

namespace fs = std::filesystem;

std::vector<source_document> read_csv(const std::string& text, std::size_t max = 1 << 20) {
    std::string data = text;
    std::FILE* f = fmemopen(data.data(), data.size(), "rb");
    csv_reader r(f, "t.csv", max);
    std::vector<source_document> out;
    for (int i = 0; i < 100'000; ++i) {  // bounded: a reader that loops fails instead of hanging
        auto d = r.next();
        if (!d) break;
        out.push_back(*d);
    }
    std::fclose(f);
    return out;
}

std::string code_of(const source_document& d) {
    return d.error ? d.error->code : std::string("ok");
}

const std::string header = "serie,numero,cliente_denominacion,item.descripcion,item.cantidad\n";

TEST(CsvReader, RowsOfOneDocumentAndQuotedNewLines) {
    auto docs = read_csv(header +
                         "F001,1,\"ACME, \"\"SAC\"\"\",\"LAPICERO\nAZUL\",2\r\nF001,1,\"ACME, "
                         "\"\"SAC\"\"\",X,1\n\nF001,2,B,Y,3\n");
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(docs[0].line, 2u);
    const auto j = boost::json::parse(docs[0].text).as_object();
    EXPECT_EQ(j.at("cliente_denominacion").as_string(), "ACME, \"SAC\"");
    EXPECT_EQ(j.at("items").as_array().size(), 2u);
    EXPECT_EQ(j.at("items").as_array()[0].as_object().at("descripcion").as_string(), "LAPICERO\nAZUL");
    EXPECT_EQ(j.at("operacion").as_string(), "generar_comprobante");
    EXPECT_EQ(docs[1].line, 6u);
    EXPECT_EQ(docs[1].index, 1u);
}

TEST(CsvReader, UnterminatedQuoteAtTheEndSkipsOnlyItsRow) {
    auto docs = read_csv(header + "F001,1,\"ACME,X,1\nF001,2,B,Y,3\nF001,3,C,Z,4\n");
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(code_of(docs[0]), "unterminated_quote");
    EXPECT_EQ(docs[0].line, 2u);
    EXPECT_EQ(docs[1].line, 3u);
    EXPECT_NE(docs[1].text.find("\"numero\":\"2\""), std::string::npos) << docs[1].text;
    EXPECT_EQ(docs[2].line, 4u);
}

TEST(CsvReader, QuoteClosedByALaterRowIsUnterminated) {
    auto docs = read_csv(header + "F001,1,\"ACME,X,1\nF001,2,\"B\",Y,3\nF001,3,C,Z,4\n");
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(code_of(docs[0]), "unterminated_quote");
    EXPECT_EQ(code_of(docs[1]), "ok");
    EXPECT_EQ(docs[1].line, 3u);
    EXPECT_NE(docs[1].text.find("\"cliente_denominacion\":\"B\""), std::string::npos) << docs[1].text;
}

TEST(CsvReader, OversizedRowAndDocument) {
    auto docs = read_csv(header + "F001,1,A," + std::string(3000, 'x') + ",1\nF001,2,B,Y,3\n", 1000);
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(code_of(docs[0]), "too_large");
    EXPECT_EQ(docs[0].line, 2u);
    EXPECT_EQ(docs[1].line, 3u);
    std::string many;
    for (int i = 0; i < 200; ++i) many += "F001,1,A,ITEM,1\n";
    docs = read_csv(header + many + "F001,2,B,Y,3\n", 1000);
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(code_of(docs[0]), "too_large");
    EXPECT_EQ(docs[1].line, 202u);
}

TEST(CsvReader, ProblemsAreCappedAndDocumentsStillRead) {
    std::string s = header;
    for (int i = 0; i < 300; ++i)
        s += "F001," + std::to_string(i) + ",A,X,1,extra\nF001,x" + std::to_string(i) + ",B,Y,1\n";
    auto docs = read_csv(s);
    std::size_t bad = 0, good = 0;
    for (const auto& d : docs) (d.error ? bad : good)++;
    EXPECT_EQ(good, 300u);
    EXPECT_EQ(bad, 101u);
    EXPECT_EQ(code_of(docs.back()), "more_framing_problems");
}

TEST(CsvReader, HeaderOnlyHasNoDocuments) {
    EXPECT_TRUE(read_csv(header).empty());
    EXPECT_TRUE(read_csv("").empty());
}

class InputStream : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nubefact-input-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string put(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name, std::ios::binary) << text;
        return (dir_ / name).string();
    }
    static std::vector<source_document> all(std::vector<std::string> paths) {
        input_stream in(std::move(paths));
        std::vector<source_document> out;
        for (int i = 0; i < 100'000; ++i) {
            auto d = in.next();
            if (!d) break;
            out.push_back(*d);
        }
        return out;
    }
    fs::path dir_;
};

TEST_F(InputStream, MissingAndEmptyInputsAreInputErrors) {
    const auto empty = put("vacio.json", "");
    const auto good = put("a.jsonl", "{\"a\":1}\n{\"a\":2}\n");
    fs::create_directories(dir_ / "sub");
    auto docs = all({(dir_ / "falta.json").string(), empty, good, (dir_ / "sub").string()});
    ASSERT_EQ(docs.size(), 5u);
    EXPECT_TRUE(docs[0].input_error());
    EXPECT_EQ(code_of(docs[0]), "io");
    EXPECT_FALSE(docs[0].document);
    EXPECT_EQ(code_of(docs[1]), "empty");
    EXPECT_EQ(docs[2].source, good);
    EXPECT_EQ(docs[3].shape, json::input_shape::jsonl);
    EXPECT_EQ(code_of(docs[4]), "empty");
    EXPECT_EQ(docs[4].source, (dir_ / "sub").string());
}

TEST_F(InputStream, DirectoriesReadJsonJsonlAndCsvInNameOrder) {
    put("b.csv", header + "F001,1,A,X,1\n");
    put("a.json", "[{\"a\":1}]");
    put("c.txt", "ignored");
    auto docs = all({dir_.string()});
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(fs::path(docs[0].source).filename(), "a.json");
    EXPECT_EQ(docs[0].shape, json::input_shape::array);
    EXPECT_EQ(fs::path(docs[1].source).filename(), "b.csv");
    EXPECT_NE(docs[1].text.find("\"items\":[{"), std::string::npos) << docs[1].text;
}

}  // namespace
}  // namespace nubefact::cli
