// The real `nubefact send` binary: what it reports for each outcome (one set of state names in the
// summary, --json, the results file and `status`), corrections under the same number, an account
// stopped by its first account-level answer, duplicate lines, safe outputs, quiet progress.
#include "send_fixture.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <regex>
#include <set>

namespace {

using namespace nubefact::test::cli;
namespace json = boost::json;

class SendOutcomes : public SendCli {
  protected:
    // `nubefact status DOC --json` on the test's store: the state the store holds.
    std::string stored_state(const std::string& doc) {
        auto r = run(binary_, {"status", doc, "--store", store_, "--json"}, dir_);
        auto lines = parse_jsonl(r.out);
        return lines.empty() ? std::string("(none: ") + r.err + ")" : str(lines.front(), "state");
    }
};

// accepted, rejected (SUNAT), refused (Nubefact: codigo 20, created nothing) and invalid: the same
// name in the summary, --json, each results line and the store; the rejection says SUNAT's code.
TEST_F(SendOutcomes, OneNameForEachOutcomeEverywhere) {
    emulator_process emu(binary_, dir_, {"--sunat-reject", "serie=F999"});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    // F001-3: an IGV one cent off; --lenient lets it through locally, the emulator refuses it.
    auto off = factura(3);
    off.replace(off.find(R"("total_igv":"18.00")"), 19, R"("total_igv":"18.01")");
    const auto in = write("mixed.jsonl", factura(1) + "\n" + factura(2, "F999") + "\n" + off + "\n" +
                                             R"({"operacion":"generar_comprobante","serie":"F001"})" + "\n");
    auto r = send({in.string(), "--store", store_, "--results", results_, "--lenient"}, "", emu.env());
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_TRUE(has_row(r.out, "accepted", 1)) << r.out;
    EXPECT_TRUE(has_row(r.out, "rejected", 1)) << r.out;
    EXPECT_TRUE(has_row(r.out, "refused", 1)) << r.out;
    EXPECT_TRUE(has_row(r.out, "invalid", 1)) << r.out;
    EXPECT_EQ(r.out.find("failed"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("4 documents: 1 accepted, 1 rejected, 1 refused, 1 invalid"), std::string::npos)
        << r.out;
    // The rejection line names SUNAT's code and description (it printed an empty reason).
    std::smatch m;
    EXPECT_TRUE(std::regex_search(r.err, m, std::regex("F999-2 rejected: SUNAT código [0-9]+: .+"))) << r.err;
    std::map<std::string, std::string> by_doc;
    for (const auto& l : results()) by_doc[str(l, "document")] = str(l, "state");
    EXPECT_EQ(by_doc["F001-1"], "accepted");
    EXPECT_EQ(by_doc["F999-2"], "rejected");
    EXPECT_EQ(by_doc["F001-3"], "refused");
    for (const auto& [doc, state] : by_doc)
        if (!doc.empty() && state != "invalid") {
            EXPECT_EQ(stored_state(doc), state) << doc;
        }

    // --json: the same keys, every state present, numbers in plain decimals.
    r = send({in.string(), "--store", store_, "--lenient", "--json"}, "", emu.env());
    auto s = parse_jsonl(r.out);
    ASSERT_EQ(s.size(), 1u) << r.out;
    for (auto k : {"queued", "sending", "pending_sunat", "accepted", "rejected", "refused", "unknown",
                   "conflict", "failed", "invalid", "not_sent", "resumed", "seconds", "docs_per_s"})
        EXPECT_TRUE(s[0].contains(k)) << k << " " << r.out;
    EXPECT_EQ(num(s[0], "accepted"), 1);
    EXPECT_EQ(num(s[0], "rejected"), 1);
    EXPECT_EQ(num(s[0], "resumed"), 2);  // both are final: not sent again
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"("seconds":[0-9]+\.[0-9]{3},)"))) << r.out;
    EXPECT_FALSE(std::regex_search(r.out, std::regex(R"([0-9][eE][-+]?[0-9])"))) << r.out;
}

// unknown (Nubefact may have it) has its own row and key, never "failed": every exchange fails with
// a 500, so the outcome cannot be settled.
TEST_F(SendOutcomes, UnknownIsReportedAsUnknown) {
    const auto in = write("one.jsonl", factura(1) + "\n");
    auto r = send_emulated({in.string(), "--emulator-faults", "500:1", "--json"});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    auto s = parse_jsonl(r.out);
    ASSERT_EQ(s.size(), 1u) << r.out;
    EXPECT_EQ(num(s[0], "unknown"), 1) << r.out;
    EXPECT_EQ(num(s[0], "failed"), 0) << r.out;
    auto lines = results();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(str(lines[0], "state"), "unknown");
    EXPECT_EQ(stored_state("F001-1"), "unknown");
    r = send_emulated({in.string(), "--emulator-faults", "500:1"});
    EXPECT_TRUE(has_row(r.out, "unknown", 1)) << r.out;
    EXPECT_NE(r.out.find("consulted before any resend"), std::string::npos) << r.out;
}

// Refused by Nubefact (created nothing): the corrected document goes under the same number. Once
// Nubefact has it, other content under that number is refused with the reason, and not sent.
TEST_F(SendOutcomes, CorrectionAfterARefusalUsesTheSameNumber) {
    emulator_process emu(binary_, dir_, {});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    auto off = factura(7);
    off.replace(off.find(R"("total_igv":"18.00")"), 19, R"("total_igv":"18.01")");
    const auto bad = write("bad.json", off);
    auto r = send({bad.string(), "--store", store_, "--results", results_, "--lenient"}, "", emu.env());
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_EQ(str(results().at(0), "state"), "refused");
    EXPECT_EQ(num(results().at(0), "codigo"), 20);

    const auto fixed = write("fixed.json", factura(7));
    r = send({fixed.string(), "--store", store_, "--results", results_}, "", emu.env());
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(str(results().at(0), "state"), "accepted") << slurp(results_);
    EXPECT_EQ(stored_state("F001-7"), "accepted");
    EXPECT_EQ(num(emu.stats(), "documents_created"), 1);

    // Now Nubefact has it: other content is not sent, and the message says why and what to do.
    // generar_comprobante requests the emulator answered (the stats request itself is not one)
    auto generar = [&] {
        std::int64_t n = 0;
        auto st = emu.stats();
        if (auto* req = st.if_contains("requests"); req && req->is_object())
            if (auto* g = req->as_object().if_contains("generar_comprobante"); g && g->is_object())
                for (const auto& [k, v] : g->as_object()) n += v.is_int64() ? v.as_int64() : 0;
        return n;
    };
    const auto before = generar();
    EXPECT_EQ(before, 2);
    auto other = factura(7);
    other.replace(other.find("CLIENTE SAC"), 11, "OTRO SAC");
    r = send({write("other.json", other).string(), "--store", store_, "--results", results_}, "", emu.env());
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_EQ(str(results().at(0), "state"), "not_sent");
    EXPECT_NE(str(results().at(0), "error").find("nota de crédito"), std::string::npos) << slurp(results_);
    EXPECT_EQ(generar(), before);
    EXPECT_EQ(stored_state("F001-7"), "accepted");
}

// A wrong token: the first answer (codigo 10) stops the account; the rest is not sent, with the
// reason; the token is never printed.
TEST_F(SendOutcomes, WrongTokenStopsTheAccountAtOnce) {
    emulator_process emu(binary_, dir_, {});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    auto env = emu.env();
    env["NUBEFACT_TOKEN"] = "wrong-token-7f3a9c";
    const auto in = write("many.jsonl", jsonl(1, 300));
    auto r = send({in.string(), "--store", store_, "--results", results_, "--concurrency", "4"}, "", env);
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    const auto requests = num(emu.stats(), "requests_total");
    EXPECT_LE(requests, 4 + 1) << "at most the exchanges in flight when the first 401 came back";
    auto st = count_states(results());
    EXPECT_GE(st["refused"], 1);
    EXPECT_EQ(st["refused"] + st["not_sent"], 300);
    for (const auto& l : results())
        if (str(l, "state") == "not_sent") {
            EXPECT_NE(str(l, "error").find("stopped after Nubefact answered codigo 10"), std::string::npos)
                << json::serialize(l);
        }
    for (const auto& text : {r.out, r.err, slurp(results_)})
        EXPECT_EQ(text.find("wrong-token-7f3a9c"), std::string::npos);
}

// The same number twice in one batch: the second is a duplicate line (both lines named), not sent.
TEST_F(SendOutcomes, DuplicateLineOfTheBatchIsNotSent) {
    const auto in = write("dup.jsonl", factura(1) + "\n" + factura(2) + "\n" + factura(1) + "\n");
    auto r = send_emulated({in.string()});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_TRUE(has_row(r.out, "accepted", 2)) << r.out;
    EXPECT_TRUE(has_row(r.out, "not_sent", 1)) << r.out;
    auto lines = results();
    ASSERT_EQ(lines.size(), 3u);
    int dups = 0;
    for (const auto& l : lines)
        if (str(l, "state") == "not_sent") {
            ++dups;
            EXPECT_EQ(num(l, "line"), 3);
            EXPECT_NE(str(l, "error").find("duplicate line of the batch (first at " + in.string() + ":1)"),
                      std::string::npos)
                << json::serialize(l);
        }
    EXPECT_EQ(dups, 1);
}

// --no-progress prints no progress at all; stdout carries only the summary.
TEST_F(SendOutcomes, NoProgressMeansNoProgressLines) {
    const auto in = write("v.jsonl", jsonl(1, 5));
    auto r = send_emulated({in.string()});  // send() adds --no-progress
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(r.err.find("progress"), std::string::npos) << r.err;
    r = run(binary_, {"send", in.string(), "--emulator", "--no-store"}, dir_);  // off a terminal
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("progress: 5/5"), std::string::npos) << r.err;
}

// A results file that cannot be written whole (file size limit: a full disk) is an error, not a
// silent exit 0; --json stays one parseable object on stdout while the problems go to stderr.
TEST_F(SendOutcomes, ResultsWriteFailureIsAnError) {
    const auto in = write("many.jsonl", jsonl(1, 1500));
    const std::string script = "trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\"";
    auto r = run("/bin/sh",
                 {"-c", script, binary_, "send", in.string(), "--emulator", "--no-store", "--results",
                  results_, "--json", "--no-progress"},
                 dir_);
    EXPECT_NE(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("the results file was not written"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(results_));  // not half a file
    auto s = parse_jsonl(r.out);
    ASSERT_EQ(s.size(), 1u) << r.out;
    EXPECT_EQ(num(s[0], "accepted"), 1500);
}

// Log lines of the store (a full disk under the store) go to stderr, never into the --json on stdout.
TEST_F(SendOutcomes, StoreErrorsGoToStderrAndNameTheProblem) {
    const auto in = write("many.jsonl", jsonl(1, 1500));
    const std::string script = "trap '' XFSZ; ulimit -f 256; exec \"$0\" \"$@\"";
    auto r = run("/bin/sh",
                 {"-c", script, binary_, "send", in.string(), "--emulator", "--store", store_, "--json",
                  "--no-progress", "--audit-bodies"},
                 dir_);
    auto s = parse_jsonl(r.out);
    ASSERT_EQ(s.size(), 1u) << "stdout must be the summary alone:\n" << r.out;
    // The file size limit shows as SQLite's "disk I/O error" or "database or disk is full".
    EXPECT_TRUE(r.err.find("disk") != std::string::npos) << r.err.substr(0, 2000);
    EXPECT_EQ(r.rc, 1) << r.err.substr(0, 2000);
}

// What a newcomer types: --store with a plain file name. It is a SQLite file, and `status` reads
// it back under the same name; a string with another scheme is refused with the accepted forms.
TEST_F(SendOutcomes, StoreGivenAsAPlainFileName) {
    const auto in = write("two.jsonl", jsonl(1, 2));
    auto r = send({in.string(), "--emulator", "--store", "plain.db", "--json"});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir_ / "plain.db"));
    auto st = run(binary_, {"status", "F001-2", "--store", "plain.db"}, dir_, "", spawn_options{dir_});
    EXPECT_EQ(st.rc, 0) << st.out << st.err << r.out;
    EXPECT_NE(st.out.find("accepted"), std::string::npos) << st.out;
    // A mistyped name in a command that reads: an error, and no new empty store left behind.
    for (std::vector<std::string> cmd : {std::vector<std::string>{"status", "F001-2", "--store", "plian.db"},
                                         {"log", "--store", "plian.db"},
                                         {"keys", "list", "--store", "plian.db"},
                                         {"accounts", "list", "--store", "plian.db"}}) {
        auto miss = run(binary_, cmd, dir_, "", spawn_options{dir_});
        EXPECT_EQ(miss.rc, 2) << cmd[0] << ": " << miss.out << miss.err;
        EXPECT_NE(miss.err.find("plian.db: no such file"), std::string::npos) << miss.err;
        EXPECT_NE(miss.err.find("check --store"), std::string::npos) << miss.err;
        EXPECT_FALSE(std::filesystem::exists(dir_ / "plian.db")) << cmd[0];
    }
    r = send({in.string(), "--emulator", "--store", "mysql://db/x"});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("a file path, sqlite:PATH or postgresql://"), std::string::npos) << r.err;
}

// --results naming one of the inputs is refused before anything is touched; the input stays whole.
TEST_F(SendOutcomes, ResultsFileThatIsAnInputIsRefused) {
    const auto in = write("same.jsonl", jsonl(1, 3));
    const auto before = slurp(in);
    auto r = send({in.string(), "--emulator", "--no-store", "--results", in.string()});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("is also an input"), std::string::npos) << r.err;
    EXPECT_EQ(slurp(in), before);
    // Through the directory that holds it, too.
    r = send({dir_.string(), "--emulator", "--no-store", "--results", in.string()});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_EQ(slurp(in), before);
}

// A missing file or an empty input is an input error (exit 2), not a document of the batch.
TEST_F(SendOutcomes, MissingOrEmptyInputIsNotADocument) {
    const auto in = write("ok.jsonl", jsonl(1, 2));
    auto r = send_emulated({in.string(), (dir_ / "nope.jsonl").string(), "--json"});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("nope.jsonl"), std::string::npos) << r.err;
    auto s = parse_jsonl(r.out);
    ASSERT_EQ(s.size(), 1u) << r.out;
    EXPECT_EQ(num(s[0], "documents"), 2);
    EXPECT_EQ(num(s[0], "accepted"), 2);
    r = send_emulated({write("empty.jsonl", "").string()});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
}

}  // namespace
