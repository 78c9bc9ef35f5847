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

using nubefact::json::input_document;

// Every entry of `s` (documents and problems); stops after `cap` entries so a reader that loops
// fails the test instead of hanging it.
std::vector<input_document> read_all(const std::string& s, std::size_t max = 1 << 20,
                                     nubefact::json::input_shape* shape = nullptr,
                                     std::size_t cap = 100'000) {
    file_from in(s);
    nubefact::json::document_reader r(in.f, max);
    std::vector<input_document> out;
    while (out.size() < cap) {
        auto d = r.next();
        if (!d) break;
        out.push_back(*d);
    }
    if (shape) *shape = r.shape();
    return out;
}

std::string code_of(const input_document& d) {
    return d.error ? d.error->code : std::string("ok");
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
    EXPECT_EQ(code_of(docs[36]), "unclosed");
    EXPECT_EQ(docs[36].text, "{\"numero\": 37, \"oops\"");  // kept, so `complete` can write it back
    EXPECT_EQ(docs[37].text, "{\"numero\": 38}");
    EXPECT_EQ(docs[49].line, 50u);
}

TEST(DocumentReader, MalformedFirstJsonlLineDoesNotSwallowTheRest) {
    auto docs = read_all("{\"numero\": 1, \"x\": [\n{\"numero\": 2}\n{\"numero\": \"3\n{\"numero\": 4}\n");
    ASSERT_EQ(docs.size(), 4u);
    EXPECT_EQ(docs[0].text, "{\"numero\": 1, \"x\": [");
    EXPECT_EQ(code_of(docs[0]), "unclosed");
    EXPECT_EQ(docs[1].line, 2u);
    EXPECT_EQ(code_of(docs[1]), "ok");
    EXPECT_EQ(docs[2].text, "{\"numero\": \"3");
    EXPECT_EQ(code_of(docs[2]), "unterminated_string");
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
        if (d.error || nubefact::has_errors(r.findings)) {
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

TEST(DocumentReader, OversizedDocumentIsOneEntryWithoutItsText) {
    auto docs = read_all("{\"a\":\"" + std::string(5000, 'x') + "\"}", 1000);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(code_of(docs[0]), "too_large");
    EXPECT_TRUE(docs[0].text.empty());
    EXPECT_TRUE(docs[0].document);
}

TEST(DocumentReader, TextAfterArrayIsReportedAndReadOn) {
    auto docs = read_all("[{\"a\":1}] {\"b\":2}");
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(code_of(docs[0]), "ok");
    EXPECT_EQ(code_of(docs[1]), "text_after_array");
    EXPECT_FALSE(docs[1].document);
    EXPECT_EQ(docs[2].text, "{\"b\":2}");
    EXPECT_EQ(docs[2].index, 1u);
    // Text that is not a document: one problem, not two.
    docs = read_all("[{\"a\":1}] trailing\nwords\n{\"b\":2}\n");
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(code_of(docs[1]), "text_after_array");
    EXPECT_NE(docs[1].error->message.find("lines 1 to 2 skipped"), std::string::npos)
        << docs[1].error->message;
    EXPECT_EQ(docs[2].line, 3u);
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

TEST(DocumentReader, TruncatedLastDocumentIsOneProblemWithItsText) {
    auto docs = read_all("{\"a\": [1, 2");
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(code_of(docs[0]), "unclosed");
    EXPECT_EQ(docs[0].text, "{\"a\": [1, 2");
}

// The export mistake that made validate loop forever: objects separated by commas, no brackets.
TEST(DocumentReader, CommaBetweenObjectsIsOneProblemAndEveryObjectIsRead) {
    for (const std::string& s : {std::string("{\"a\":1},\n{\"a\":2},\n{\"a\":3}\n"),
                                 std::string("{\n  \"a\": 1\n},\n{\n  \"a\": 2\n},{\n  \"a\": 3\n}\n")}) {
        auto docs = read_all(s);
        ASSERT_EQ(docs.size(), 4u) << s;
        EXPECT_EQ(code_of(docs[0]), "ok");
        EXPECT_EQ(code_of(docs[1]), "comma_between_objects");
        EXPECT_FALSE(docs[1].document);
        EXPECT_EQ(docs[1].line, s[1] == '\n' ? 3u : 1u);
        EXPECT_EQ(code_of(docs[2]), "ok");
        EXPECT_EQ(code_of(docs[3]), "ok");
        EXPECT_EQ(docs[3].index, 2u);
    }
}

TEST(DocumentReader, OversizedJsonlLineIsReportedAtItsLineAndTheNextLinesAreRead) {
    const std::string s = "{\"n\":1}\n{\"n\":2}\n{\"big\":\"" + std::string(5000, 'x') +
                          "\"}\n{\"n\":4}\n{\"big\":\"" + std::string(5000, 'y') + "\n{\"n\":6}\n";
    auto docs = read_all(s, 1000);
    ASSERT_EQ(docs.size(), 6u);
    EXPECT_EQ(code_of(docs[2]), "too_large");
    EXPECT_EQ(docs[2].line, 3u);
    EXPECT_EQ(docs[3].text, "{\"n\":4}");
    EXPECT_EQ(docs[3].line, 4u);
    EXPECT_EQ(code_of(docs[4]), "too_large");  // oversized and unterminated: the size is what counts
    EXPECT_EQ(docs[4].line, 5u);
    EXPECT_EQ(docs[5].text, "{\"n\":6}");
    EXPECT_EQ(docs[5].line, 6u);
}

TEST(DocumentReader, OversizedArrayElementIsSkippedToItsEnd) {
    auto docs = read_all(
        "[\n{\"n\":1},\n{\"big\":[\"" + std::string(5000, 'x') + "\", {\"k\":\"]\"}]},\n{\"n\":3}\n]\n",
        1000);
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(code_of(docs[1]), "too_large");
    EXPECT_EQ(docs[1].line, 3u);
    EXPECT_EQ(docs[2].text, "{\"n\":3}");
    EXPECT_EQ(docs[2].line, 4u);
}

TEST(DocumentReader, UnterminatedStringInAnArrayDoesNotSwallowTheNextElements) {
    auto docs = read_all("[\n{\"a\":\"x},\n{\"b\":1},\n{\"c\":2}\n]\n");
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(code_of(docs[0]), "unterminated_string");
    EXPECT_EQ(docs[0].line, 2u);
    EXPECT_EQ(docs[1].text, "{\"b\":1}");
    EXPECT_EQ(docs[2].text, "{\"c\":2}");

    // Pretty-printed: the string is taken as closed at its line's end, the element ends at its '}'.
    docs = read_all("[\n  {\n    \"a\": \"x,\n    \"b\": 1\n  },\n  {\"c\": 2}\n]\n");
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(code_of(docs[0]), "unterminated_string");
    EXPECT_NE(docs[0].error->message.find("line 3"), std::string::npos) << docs[0].error->message;
    EXPECT_EQ(docs[1].text, "{\"c\": 2}");
    EXPECT_EQ(docs[1].line, 6u);
}

TEST(DocumentReader, MissingBraceInAnArrayEndsBeforeTheNextElement) {
    auto docs = read_all("[\n{\"a\":1,\n{\"b\":2}\n]\n");
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(code_of(docs[0]), "unclosed");
    EXPECT_EQ(docs[1].text, "{\"b\":2}");
    // Nested values on lines of their own, even in column 0, are not cut.
    docs = read_all("[\n{\"items\":[\n{\"x\":1},\n{\"x\":2}\n],\n\"c\":\n{\"d\":3}\n}\n]\n");
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(code_of(docs[0]), "ok");
}

TEST(DocumentReader, ArrayWithoutClosingBracketIsAnError) {
    auto docs = read_all("[{\"a\":1},\n{\"a\":2}\n");
    ASSERT_EQ(docs.size(), 3u);
    EXPECT_EQ(code_of(docs[1]), "ok");
    EXPECT_EQ(code_of(docs[2]), "array_not_closed");
    EXPECT_FALSE(docs[2].document);
    // Cut inside the last element: one problem that says both.
    docs = read_all("[{\"a\":1},{\"a\":");
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(code_of(docs[1]), "unclosed");
    EXPECT_NE(docs[1].error->message.find("array"), std::string::npos);
}

TEST(DocumentReader, ElementsThatAreNotObjects) {
    auto docs = read_all("[1, \"x,]\", {\"a\":1}, [2], true]");
    ASSERT_EQ(docs.size(), 5u);
    EXPECT_EQ(code_of(docs[0]), "not_an_object");
    EXPECT_EQ(code_of(docs[1]), "not_an_object");
    EXPECT_EQ(docs[2].text, "{\"a\":1}");
    EXPECT_EQ(code_of(docs[3]), "not_an_object");
    EXPECT_EQ(code_of(docs[4]), "not_an_object");
    EXPECT_EQ(docs[4].index, 4u);
}

TEST(DocumentReader, TextThatIsNotJsonIsOneProblemPerRun) {
    auto docs = read_all("# ventas\nsin cabecera\n{\"a\":1}\n}}}\n{\"a\":2}\n");
    ASSERT_EQ(docs.size(), 4u);
    EXPECT_EQ(code_of(docs[0]), "not_json");
    EXPECT_NE(docs[0].error->message.find("lines 1 to 2"), std::string::npos) << docs[0].error->message;
    EXPECT_EQ(docs[1].line, 3u);
    EXPECT_EQ(code_of(docs[2]), "not_json");
    EXPECT_EQ(docs[2].line, 4u);
    EXPECT_EQ(docs[3].line, 5u);
}

TEST(DocumentReader, ShapeOfTheInput) {
    nubefact::json::input_shape shape;
    read_all("[{\"a\":1}]", 1 << 20, &shape);
    EXPECT_EQ(shape, nubefact::json::input_shape::array);
    read_all("{\"a\":1}\n{\"a\":2}\n", 1 << 20, &shape);
    EXPECT_EQ(shape, nubefact::json::input_shape::jsonl);
    read_all("{\n \"a\": 1\n}\n", 1 << 20, &shape);
    EXPECT_EQ(shape, nubefact::json::input_shape::object);
}

// Problems past the first 100 are counted into one last entry; the documents keep coming.
TEST(DocumentReader, ManyProblemsAreBoundedAndDocumentsStillRead) {
    std::string s;
    for (int i = 0; i < 300; ++i) s += "{\"bad\": \n{\"n\":" + std::to_string(i) + "}\n";
    auto docs = read_all(s);
    std::size_t good = 0, bad = 0;
    for (const auto& d : docs) (d.error ? bad : good)++;
    EXPECT_EQ(good, 300u);
    EXPECT_EQ(bad, 101u);
    EXPECT_EQ(code_of(docs.back()), "more_framing_problems");
    EXPECT_NE(docs.back().error->message.find("200 more"), std::string::npos) << docs.back().error->message;
}

// Whatever 1 MB of input: the reader ends by itself, with few entries and little text.
TEST(DocumentReader, PathologicalInputsEndWithBoundedOutput) {
    const std::size_t mb = 1 << 20;
    std::string random(mb, ' ');
    unsigned x = 12345;
    const char alphabet[] = "{}[],\"\\:\n ax1";
    for (auto& c : random) {
        x = x * 1103515245u + 12345u;
        c = alphabet[(x >> 16) % (sizeof alphabet - 1)];
    }
    for (const std::string& s :
         {std::string(mb, ','), std::string(mb, '{'), std::string(mb, '}'), std::string(mb, '['),
          std::string(mb, ']'), std::string(mb, '"'), std::string(mb, '\n'), std::string(mb, '\0'), random,
          [&] {
              std::string t;
              while (t.size() < mb) t += "{\n";
              return t;
          }(),
          [&] {
              std::string t;
              while (t.size() < mb) t += "},{";
              return t;
          }(),
          "[" +
              [&] {
                  std::string t;
                  while (t.size() < mb) t += "\"\n";
                  return t;
              }()}) {
        auto docs = read_all(s, 64 * 1024, nullptr, 10'000);
        EXPECT_LT(docs.size(), 10'000u) << s.substr(0, 8);
        std::size_t text = 0, messages = 0, problems = 0;
        for (const auto& d : docs) {
            text += d.text.size();
            if (d.error) messages += d.error->message.size(), ++problems;
        }
        EXPECT_LE(text + messages, 2 * s.size()) << s.substr(0, 8);
        // Balanced braces are documents (the codec rejects them); the rest is capped.
        EXPECT_LE(problems, 101u) << s.substr(0, 8);
    }
}

}  // namespace
