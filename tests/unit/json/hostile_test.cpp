// Hostile inputs for the codec: huge numbers and strings, deep nesting, bad UTF-8, truncation, wrong types.
#include <nubefact/json.hpp>

#include "json/schema.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

namespace {

using namespace nubefact;
using nubefact::test::dump;
using nubefact::test::find_at;

std::string code_at(const std::vector<finding>& fs, const std::string& path) {
    const finding* f = find_at(fs, path);
    return f ? f->code : "<none>";
}

TEST(Hostile, EmptyAndNonObjects) {
    for (const char* in : {"", "   ", "null", "[]", "123", "\"x\"", "true", "[{\"operacion\":1}]"}) {
        SCOPED_TRACE(in);
        auto r = json::read_request(in);
        EXPECT_TRUE(has_errors(r.findings));
        auto c = json::read_comprobante(in);
        EXPECT_TRUE(has_errors(c.findings));
        auto s = json::read_response(in);
        EXPECT_TRUE(has_errors(s.findings));
    }
}

TEST(Hostile, TruncatedJson) {
    const std::string full = test::slurp(test::examples_dir() / "generar-cpe-factura-1-gravada.json");
    for (std::size_t n = 0; n + 1 < full.size(); n += 7) {
        auto r = json::read_request(std::string_view(full).substr(0, n));
        ASSERT_TRUE(has_errors(r.findings)) << n;
    }
    auto r = json::read_request(R"({"operacion":"generar_comprobante","total":"1)");
    ASSERT_FALSE(r.findings.empty());
    EXPECT_EQ(r.findings.back().code, "parse");
    EXPECT_NE(r.findings.back().message.find("line 1"), std::string::npos) << r.findings.back().message;
}

TEST(Hostile, SyntaxErrorsCarryLineAndColumn) {
    auto r = json::read_request("{\n  \"operacion\": \"generar_comprobante\",\n  \"total\": 1,,\n}");
    ASSERT_TRUE(has_errors(r.findings));
    EXPECT_NE(r.findings.back().message.find("line 3"), std::string::npos) << dump(r.findings);
}

TEST(Hostile, BodyOverMaxBytes) {
    json::read_options o;
    o.max_bytes = 100;
    auto r = json::read_request(std::string(101, ' '), o);
    ASSERT_EQ(r.findings.size(), 1u);
    EXPECT_EQ(r.findings[0].code, "too_large");
}

TEST(Hostile, TenMegabyteString) {
    const std::string big(10 << 20, 'A');
    const std::string body = R"({"operacion":"generar_comprobante","observaciones":")" + big + R"("})";
    auto r = json::read_request(body);  // default limit: 1 MiB body
    ASSERT_EQ(r.findings.size(), 1u);
    EXPECT_EQ(r.findings[0].code, "too_large");

    json::read_options o;
    o.max_bytes = 32 << 20;
    auto r2 = json::read_request(body, o);
    EXPECT_EQ(code_at(r2.findings, "observaciones"), "too_long") << dump(r2.findings);
    EXPECT_FALSE(std::get<comprobante>(r2.doc).observaciones.has_value());

    // The same with escapes, so the parser hands the string over in parts.
    std::string esc;
    for (int i = 0; i < (1 << 20); ++i) esc += "\\n\\u00e9";
    auto r3 =
        json::read_request(R"({"operacion":"generar_comprobante","observaciones":")" + esc + R"("})", o);
    EXPECT_EQ(code_at(r3.findings, "observaciones"), "too_long") << dump(r3.findings);

    // An unknown field and a response field may be big (base64 PDFs in responses).
    auto resp = json::read_response(R"({"pdf_zip_base64":")" + big + R"("})");
    EXPECT_TRUE(resp.findings.empty());
    EXPECT_EQ(std::get<response>(resp.body).pdf_zip_base64->size(), big.size());
}

TEST(Hostile, HugeNumbers) {
    const std::string forty(40, '9');
    const std::string thousand = "1" + std::string(1000, '0');
    for (const std::string& n :
         {forty, thousand, "-" + forty, "0." + forty, forty + "e-30", std::string("1e400"),
          std::string("-1e-400"), std::string("1E999999999999999999")}) {
        SCOPED_TRACE(n);
        auto r = json::read_request(R"({"operacion":"generar_comprobante","total":)" + n + "}");
        EXPECT_TRUE(has_errors(r.findings)) << dump(r.findings);
        auto s = json::read_request(R"({"operacion":"generar_comprobante","total":")" + n + "\"}");
        EXPECT_EQ(code_at(s.findings, "total"), "range") << dump(s.findings);
        auto i = json::read_request(R"({"operacion":"generar_comprobante","numero":")" + n + "\"}");
        EXPECT_TRUE(has_errors(i.findings)) << dump(i.findings);
    }
    // Exactly representable exponent forms are fine.
    auto ok = json::read_request(R"({"operacion":"generar_comprobante","total":7.08e2,"numero":1e3})");
    ASSERT_TRUE(ok.findings.empty()) << dump(ok.findings);
    EXPECT_EQ(std::get<comprobante>(ok.doc).total, "708"_d);
    EXPECT_EQ(std::get<comprobante>(ok.doc).numero, 1000);
}

TEST(Hostile, DeepNesting) {
    for (const char* open : {"[", "{\"a\":", "{\"operacion\":\"generar_comprobante\",\"items\":["}) {
        std::string s;
        for (int i = 0; i < 10000; ++i) s += open;
        auto r = json::read_request(s);
        ASSERT_TRUE(has_errors(r.findings));
        EXPECT_EQ(r.findings.back().code, "depth") << dump(r.findings);
    }
    // Deep but within a raised limit: an unknown field captured verbatim, without recursion.
    std::string deep = R"({"operacion":"generar_comprobante","x":)";
    for (int i = 0; i < 10000; ++i) deep += "[";
    for (int i = 0; i < 10000; ++i) deep += "]";
    deep += "}";
    json::read_options o;
    o.max_depth = 20000;
    auto r = json::read_request(deep, o);
    EXPECT_FALSE(has_errors(r.findings)) << dump(r.findings);
    EXPECT_EQ(std::get<comprobante>(r.doc).extra.at(0).second.size(), 20000u);
    // Deep wrong-typed value under a known field: skipped, one finding.
    std::string deep2 = R"({"operacion":"generar_comprobante","total":)";
    for (int i = 0; i < 5000; ++i) deep2 += "{\"a\":";
    deep2 += "1";
    for (int i = 0; i < 5000; ++i) deep2 += "}";
    deep2 += ",\"serie\":\"FFF1\"}";
    auto r2 = json::read_request(deep2, o);
    EXPECT_EQ(code_at(r2.findings, "total"), "type");
    EXPECT_EQ(std::get<comprobante>(r2.doc).serie, "FFF1");
}

TEST(Hostile, InvalidUtf8) {
    for (const char* bad : {"\xFF", "\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\xE2\x82"}) {
        const std::string body =
            std::string(R"({"operacion":"generar_comprobante","observaciones":")") + bad + "\"}";
        auto r = json::read_request(body);
        ASSERT_TRUE(has_errors(r.findings));
        EXPECT_EQ(r.findings.back().code, "encoding") << dump(r.findings);
    }
    // Invalid UTF-8 in a key is refused as well.
    auto k = json::read_request("{\"\xFF\":1}");
    EXPECT_TRUE(has_errors(k.findings));
    // A lone surrogate escape is not valid either.
    auto s = json::read_request(R"({"operacion":"generar_comprobante","observaciones":"\ud800"})");
    EXPECT_TRUE(has_errors(s.findings));
    // Escaped NUL and control characters are valid JSON and survive a round trip.
    auto n = json::read_request(R"({"operacion":"generar_comprobante","observaciones":"a\u0000b\u001f"})");
    ASSERT_TRUE(n.findings.empty()) << dump(n.findings);
    EXPECT_EQ(std::get<comprobante>(n.doc).observaciones->size(), 4u);
    EXPECT_EQ(json::write(json::read_request(json::write(n.doc)).doc), json::write(n.doc));
}

TEST(Hostile, MemoryStaysProportional) {
    // 1 MiB of empty items would be ~250 MB of item structs: the element count is capped.
    std::string body = R"({"operacion":"generar_comprobante","items":[)";
    for (int i = 0; i < 300000; ++i) body += i ? ",{}" : "{}";
    body += "]}";
    auto r = json::read_request(body);
    EXPECT_EQ(std::get<comprobante>(r.doc).items.size(), 10000u);
    EXPECT_EQ(code_at(r.findings, "items[10000]"), "too_many") << dump(r.findings);
    // Findings are capped too.
    std::string bad = R"({"operacion":"generar_comprobante","items":[)";
    for (int i = 0; i < 5000; ++i) bad += i ? ",1" : "1";
    bad += "]}";
    auto b = json::read_request(bad);
    ASSERT_EQ(b.findings.size(), 1001u);
    EXPECT_EQ(b.findings.back().code, "too_many_findings");
}

TEST(Hostile, ByteOrderMarkIsSkipped) {
    auto r = json::read_request("\xEF\xBB\xBF{\"operacion\":\"consultar_guia\",\"serie\":\"TTT1\"}");
    EXPECT_TRUE(r.findings.empty()) << dump(r.findings);
    EXPECT_EQ(r.op, operation::consultar_guia);
}

// Every field of every table, given values of the wrong shape: each one is reported at its own path,
// and the rest of the document is still read.
TEST(Hostile, WrongTypesEverywhere) {
    using json::detail::kind;
    struct table {
        const char* op;
        const json::detail::schema* sch;
    };
    const table tables[] = {
        {"generar_comprobante", &json::detail::comprobante_schema()},
        {"generar_anulacion", &json::detail::anulacion_schema()},
        {"consultar_comprobante", &json::detail::consulta_schema()},
        {"generar_guia", &json::detail::guia_schema()},
        {"generar_retencion", &json::detail::retencion_schema()},
        {"generar_percepcion", &json::detail::percepcion_schema()},
    };
    int checked = 0;
    for (const auto& t : tables) {
        for (const auto& f : t.sch->fields) {
            std::vector<std::string> bad = {"{}", "[1]", "{\"x\":[{}]}"};
            switch (f.k) {
                case kind::str:
                    bad.push_back("true");
                    break;
                case kind::integer:
                    bad.insert(bad.end(), {"true", "\"x\"", "1.5", "\"1 \""});
                    break;
                case kind::dec:
                    bad.insert(bad.end(), {"false", "\"x\"", "\"1,5\"", "\"NaN\"", "\" 1\""});
                    break;
                case kind::boolean:
                    bad.insert(bad.end(), {"1", "\"si\"", "\"TRUE\""});
                    break;
                case kind::date:
                    bad.insert(bad.end(), {"20251217", "\"17/12/2025\"", "\"32-12-2025\"", "\"2025-13-01\""});
                    break;
                case kind::array:
                    bad = {"{}", "1", "\"x\"", "true", "[1]", "[[]]"};
                    break;
            }
            for (const auto& v : bad) {
                const std::string body = std::string("{\"operacion\":\"") + t.op + "\",\"" +
                                         std::string(f.name) + "\":" + v + ",\"serie\":\"ZZZ9\"}";
                auto r = json::read_request(body);
                SCOPED_TRACE(body);
                ASSERT_TRUE(has_errors(r.findings));
                std::string path(f.name);
                if (f.k == kind::array && v.front() == '[') path += "[0]";
                const finding* hit = find_at(r.findings, path);
                ASSERT_NE(hit, nullptr) << dump(r.findings);
                EXPECT_EQ(hit->level, severity::error);
                EXPECT_NE(hit->message.find(std::string(f.name)), std::string::npos) << hit->message;
                // The good field after the bad one is still read (unless the bad one was serie).
                if (f.name != "serie") {
                    const std::string w = json::write(r.doc);
                    EXPECT_NE(w.find("\"serie\":\"ZZZ9\""), std::string::npos) << w;
                }
                ++checked;
            }
            // Item fields, one level down.
            if (f.k == kind::array) {
                for (const auto& g : f.child->fields) {
                    const std::string body = std::string("{\"operacion\":\"") + t.op + "\",\"" +
                                             std::string(f.name) + "\":[{},{\"" + std::string(g.name) +
                                             "\":{\"deep\":[1,2]}}]}";
                    auto r = json::read_request(body);
                    SCOPED_TRACE(body);
                    const std::string path = std::string(f.name) + "[1]." + std::string(g.name);
                    EXPECT_EQ(code_at(r.findings, path), "type") << dump(r.findings);
                    ++checked;
                }
            }
        }
    }
    EXPECT_GT(checked, 500);
}

TEST(Hostile, RandomGarbageNeverCrashes) {
    // A small deterministic generator: bytes biased towards JSON punctuation.
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    auto next = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    const char alphabet[] = "{}[]:,\"\\0123456789.eE-+truefalsn \n\xC3\xA9\xFF";
    const std::string seed =
        test::slurp(test::examples_dir() / "generar-cpe-factura-29-pago-al-credito.json");
    for (int round = 0; round < 2000; ++round) {
        std::string s = seed;
        const int edits = 1 + static_cast<int>(next() % 8);
        for (int e = 0; e < edits; ++e) {
            const std::size_t at = next() % s.size();
            const char c = alphabet[next() % (sizeof alphabet - 1)];
            switch (next() % 3) {
                case 0:
                    s[at] = c;
                    break;
                case 1:
                    s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c);
                    break;
                default:
                    s.erase(at, 1);
            }
        }
        auto r = json::read_request(s);
        const std::string w = json::write(r.doc);
        auto r2 = json::read_request(w);
        if (!has_errors(r.findings)) {
            ASSERT_FALSE(has_errors(r2.findings)) << s << "\n" << dump(r2.findings);
            ASSERT_EQ(json::write(r2.doc), w) << s;
        }
    }
}

}  // namespace
