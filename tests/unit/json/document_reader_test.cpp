// json::document_reader: single object, array, JSONL, malformed lines, line numbers, limits.
#include <nubefact/json.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

struct file_from {
    explicit file_from(const std::string& s)
        : f(fmemopen(const_cast<char*>(data.assign(s).data()), s.size(), "rb")) {}
    ~file_from() {
        if (f) std::fclose(f);
    }
    std::string data;
    std::FILE* f;
};

std::vector<nubefact::json::input_document> read_all(const std::string& s, std::size_t max = 1 << 20,
                                                     std::optional<nubefact::finding>* err = nullptr) {
    file_from in(s);
    nubefact::json::document_reader r(in.f, max);
    std::vector<nubefact::json::input_document> out;
    while (auto d = r.next()) out.push_back(*d);
    if (err) *err = r.error();
    return out;
}

TEST(DocumentReader, SinglePrettyObject) {
    auto docs = read_all("\n{\n  \"a\": \"}\",\n  \"b\": [1, {\"c\": 2}]\n}\n");
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(docs[0].line, 2u);
    EXPECT_EQ(docs[0].text, "{\n  \"a\": \"}\",\n  \"b\": [1, {\"c\": 2}]\n}");
}

TEST(DocumentReader, ArrayOfObjects) {
    auto docs = read_all("[\n {\"n\": 1},\n {\"n\": \"x\\\"]\"}\n]\n");
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(docs[0].line, 2u);
    EXPECT_EQ(docs[1].line, 3u);
    EXPECT_EQ(docs[1].text, "{\"n\": \"x\\\"]\"}");
    EXPECT_EQ(docs[1].index, 1u);
}

TEST(DocumentReader, JsonlWithMalformedLine37KeepsGoing) {
    std::string s;
    for (int i = 1; i <= 50; ++i)
        s +=
            (i == 37 ? std::string("{\"numero\": 37, \"oops\"") : "{\"numero\": " + std::to_string(i) + "}") +
            "\n";
    auto docs = read_all(s);
    ASSERT_EQ(docs.size(), 50u);
    EXPECT_EQ(docs[36].line, 37u);
    EXPECT_EQ(docs[36].text, "{\"numero\": 37, \"oops\"");
    EXPECT_EQ(docs[37].text, "{\"numero\": 38}");
    EXPECT_EQ(docs[49].line, 50u);
}

TEST(DocumentReader, MalformedFirstJsonlLineDoesNotSwallowTheRest) {
    auto docs = read_all("{\"numero\": 1, \"x\": [\n{\"numero\": 2}\n{\"numero\": \"3\n{\"numero\": 4}\n");
    ASSERT_EQ(docs.size(), 4u);
    EXPECT_EQ(docs[0].text, "{\"numero\": 1, \"x\": [");
    EXPECT_EQ(docs[1].line, 2u);
    EXPECT_EQ(docs[2].text, "{\"numero\": \"3");
    EXPECT_EQ(docs[3].line, 4u);
    EXPECT_EQ(docs[3].text, "{\"numero\": 4}");
}

TEST(DocumentReader, JsonlDocumentsParseWithTheCodec) {
    std::string s;
    for (int i = 1; i <= 40; ++i) {
        if (i == 37)
            s += "{\"operacion\":\"generar_comprobante\",\"numero\": \n";
        else
            s += "{\"operacion\":\"generar_comprobante\",\"numero\":" + std::to_string(i) + "}\n";
    }
    auto docs = read_all(s);
    ASSERT_EQ(docs.size(), 40u);
    int bad = 0;
    for (const auto& d : docs) {
        auto r = nubefact::json::read_request(d.text);
        if (nubefact::has_errors(r.findings)) {
            ++bad;
            EXPECT_EQ(d.line, 37u);
        } else {
            EXPECT_EQ(std::get<nubefact::comprobante>(r.doc).numero, static_cast<std::int64_t>(d.line));
        }
    }
    EXPECT_EQ(bad, 1);
}

TEST(DocumentReader, ByteOrderMarkBeforeAnArray) {
    auto docs = read_all("\xEF\xBB\xBF[{\"a\":1},{\"a\":2}]");
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(docs[0].text, "{\"a\":1}");
    auto one = read_all("\xEF\xBB\xBF{\"a\":1}\n{\"a\":2}\n");
    ASSERT_EQ(one.size(), 2u);
    EXPECT_EQ(one[0].text, "{\"a\":1}");
}

TEST(DocumentReader, BlankLinesAndCrlfAreSkipped) {
    auto docs = read_all("{\"a\":1}\r\n\r\n\n{\"a\":2}\r\n");
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(docs[1].line, 4u);
}

TEST(DocumentReader, OversizedDocumentIsAFramingError) {
    std::optional<nubefact::finding> err;
    auto docs = read_all("{\"a\":\"" + std::string(5000, 'x') + "\"}", 1000, &err);
    EXPECT_TRUE(docs.empty());
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code, "too_large");
}

TEST(DocumentReader, TextAfterArrayIsAnError) {
    std::optional<nubefact::finding> err;
    auto docs = read_all("[{\"a\":1}] {\"b\":2}", 1 << 20, &err);
    EXPECT_EQ(docs.size(), 1u);
    ASSERT_TRUE(err.has_value());
}

TEST(DocumentReader, LargeStreamCrossesChunkBoundaries) {
    std::string s;
    for (int i = 0; i < 5000; ++i)
        s += "{\"numero\": " + std::to_string(i) + ", \"pad\": \"" + std::string(50, 'p') + "\"}\n";
    auto docs = read_all(s);
    ASSERT_EQ(docs.size(), 5000u);
    EXPECT_EQ(docs[4999].line, 5000u);
    EXPECT_EQ(docs[4999].text.substr(0, 17), "{\"numero\": 4999, ");
}

TEST(DocumentReader, TruncatedLastDocumentIsYielded) {
    auto docs = read_all("{\"a\": [1, 2");
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(docs[0].text, "{\"a\": [1, 2");
}

}  // namespace
