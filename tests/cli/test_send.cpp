// The real `nubefact send` binary: every input format, dry run, results file, exit codes, bad
// lines, --complete, --json, resume, and resume after kill -9 against a separate emulator process.
#include "send_fixture.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace {

using namespace nubefact::test::cli;
namespace json = boost::json;

// ---- input formats -------------------------------------------------------------------------------

TEST_F(SendCli, JsonlAllAcceptedResultsFileHasEveryKey) {
    const auto in = write("ventas.jsonl", jsonl(1, 20));
    auto r = send_emulated({in.string()});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 20u);
    std::set<std::int64_t> seen_lines, numeros;
    for (const auto& l : lines) {
        EXPECT_EQ(str(l, "source"), in.string());
        EXPECT_EQ(str(l, "operacion"), "generar_comprobante");
        EXPECT_EQ(num(l, "tipo_de_comprobante"), 1);
        EXPECT_EQ(str(l, "serie"), "F001");
        EXPECT_EQ(str(l, "document"), "F001-" + std::to_string(num(l, "numero")));
        EXPECT_EQ(str(l, "state"), "accepted") << json::serialize(l);
        EXPECT_GE(num(l, "attempts"), 1);
        ASSERT_TRUE(l.contains("aceptada_por_sunat"));
        EXPECT_TRUE(l.at("aceptada_por_sunat").as_bool());
        EXPECT_EQ(str(l, "sunat_responsecode"), "0");
        EXPECT_FALSE(str(l, "sunat_description").empty());
        EXPECT_FALSE(str(l, "enlace").empty());
        EXPECT_FALSE(l.contains("findings"));
        EXPECT_FALSE(l.contains("error"));
        // JSONL: the document on line n is numero n
        EXPECT_EQ(num(l, "line"), num(l, "numero"));
        seen_lines.insert(num(l, "line"));
        numeros.insert(num(l, "numero"));
    }
    EXPECT_EQ(seen_lines.size(), 20u);
    EXPECT_EQ(numeros.size(), 20u);
    EXPECT_TRUE(has_row(r.out, "accepted", 20)) << r.out;
    EXPECT_NE(r.out.find("results:   " + results_), std::string::npos) << r.out;
}

TEST_F(SendCli, JsonObjectAndJsonArray) {
    const auto one = write("one.json", factura(1));
    // a pretty-printed array over several lines
    const auto arr =
        write("arr.json", "[\n" + factura(2) + ",\n" + factura(3) + ",\n" + factura(4) + "\n]\n");
    auto r = send_emulated({one.string(), arr.string()});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(count_states(lines)["accepted"], 4);
    std::map<std::int64_t, json::object> by_numero;
    for (auto& l : lines) by_numero[num(l, "numero")] = l;
    EXPECT_EQ(str(by_numero[1], "source"), one.string());
    EXPECT_EQ(num(by_numero[1], "line"), 1);
    for (int n = 2; n <= 4; ++n) {
        EXPECT_EQ(str(by_numero[n], "source"), arr.string());
        EXPECT_EQ(num(by_numero[n], "line"), n) << "array element on line " << n;
    }
}

TEST_F(SendCli, DirectoryReadsJsonJsonlCsvInNameOrderNotOtherFiles) {
    write("in/a.json", factura(1, "F002"));  // the CSV holds F001-1
    write("in/b.jsonl", jsonl(2, 3, "F002"));
    write("in/c.csv", csv_doc);
    write("in/notes.txt", "not a document");
    write("in/sub/d.json", factura(99));  // not recursive
    auto r = send_emulated({(dir_ / "in").string(), "--complete"});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(count_states(lines)["accepted"], 4);
    std::multiset<std::string> sources;
    for (auto& l : lines) sources.insert(fs::path(str(l, "source")).filename().string());
    EXPECT_EQ(sources, (std::multiset<std::string>{"a.json", "b.jsonl", "b.jsonl", "c.csv"}));
    for (auto& l : lines) EXPECT_NE(num(l, "numero"), 99);
}

TEST_F(SendCli, CsvRowsPerItemWithComplete) {
    // two documents: F001-1 (two item rows) and F001-2 (one row); a quoted cell with a comma, CRLF
    std::string csv = "\xEF\xBB\xBF" + csv_doc;
    csv +=
        "1,F001,2,1,6,20600695771,\"ACME, S.A.C.\",\"AV. \"\"LA\"\" "
        "PAZ\",27-11-2026,1,18.00,NIU,X,1,50,1\r\n";
    const auto in = write("ventas.csv", csv);
    auto r = send_emulated({in.string(), "--complete"});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(count_states(lines)["accepted"], 2);
    std::map<std::int64_t, json::object> by_numero;
    for (auto& l : lines) by_numero[num(l, "numero")] = l;
    EXPECT_EQ(num(by_numero[1], "line"), 2);  // the header is line 1
    EXPECT_EQ(num(by_numero[2], "line"), 4);

    // without --complete the totals are missing: invalid, not sent, findings say which field
    r = send_emulated({in.string()});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    lines = results();
    ASSERT_EQ(lines.size(), 2u);
    for (auto& l : lines) {
        EXPECT_EQ(str(l, "state"), "invalid");
        ASSERT_TRUE(l.contains("findings"));
        EXPECT_FALSE(l.at("findings").as_array().empty());
    }
}

TEST_F(SendCli, CsvDocumentColumnMustRepeatTheSameValue) {
    std::string csv = csv_doc;
    // the second item row of F001-1 changes the client's name: that document is invalid, the next goes
    const auto p = csv.rfind("NUBEFACT SA");
    csv.replace(p, 11, "OTRO NOMBRE");
    csv += "1,F001,2,1,6,20600695771,ACME,LIMA,27-11-2026,1,18.00,NIU,X,1,50,1\n";
    const auto in = write("bad.csv", csv);
    auto r = send_emulated({in.string(), "--complete"});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 2u) << slurp(results_);
    auto st = count_states(lines);
    EXPECT_EQ(st["invalid"], 1);
    EXPECT_EQ(st["accepted"], 1);
    for (auto& l : lines)
        if (str(l, "state") == "invalid") {
            EXPECT_EQ(num(l, "line"), 2);  // the document's first row; the message names row 3
            EXPECT_NE(str(l, "error").find("line 3: "), std::string::npos) << str(l, "error");
            EXPECT_NE(str(l, "error").find("cliente_denominacion"), std::string::npos) << str(l, "error");
        }
}

TEST_F(SendCli, StdinDash) {
    auto r = send_emulated({"-"}, jsonl(1, 5));
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 5u);
    for (auto& l : lines) {
        EXPECT_EQ(str(l, "source"), "-");
        EXPECT_EQ(str(l, "state"), "accepted");
    }
    // a JSON array on stdin too
    store_ = "sqlite:" + (dir_ / "other.db").string();
    r = send_emulated({"-"}, "[" + factura(7) + "," + factura(8) + "]");
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(count_states(results())["accepted"], 2);
}

TEST_F(SendCli, AnulacionWaitsForTheDocumentsOfTheBatch) {
    // the anulación comes first in the file but refers to F001-3 further down: it is sent after it
    const auto in = write(
        "mixed.jsonl",
        R"({"operacion":"generar_anulacion","tipo_de_comprobante":1,"serie":"F001","numero":3,"motivo":"ERROR EN EL RUC"})"
        "\n" +
            jsonl(3, 4));
    auto r = send_emulated({in.string()});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(count_states(lines)["accepted"], 3);
    EXPECT_EQ(str(lines.back(), "operacion"), "generar_anulacion");
    EXPECT_EQ(num(lines.back(), "line"), 1);
    EXPECT_EQ(str(lines.back(), "document"), "F001-3");
}

// ---- dry run, findings, exit codes ----------------------------------------------------------------

TEST_F(SendCli, DryRunValidatesOnlyNoStoreNoAccount) {
    const auto in = write("v.jsonl", jsonl(1, 3) + factura(4, "F001", "119.00") + "\n");
    auto r = send({in.string(), "--dry-run", "--store", store_, "--results", results_});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "store.db"));
    EXPECT_FALSE(fs::exists(dir_ / "nubefact.db"));
    auto lines = results();
    ASSERT_EQ(lines.size(), 4u);
    auto st = count_states(lines);
    EXPECT_EQ(st["valid"], 3);
    EXPECT_EQ(st["invalid"], 1);
    EXPECT_NE(r.out.find("dry run"), std::string::npos) << r.out;
    EXPECT_TRUE(has_row(r.out, "valid", 3)) << r.out;
    EXPECT_TRUE(has_row(r.out, "invalid", 1)) << r.out;

    r = send({write("ok.jsonl", jsonl(1, 3)).string(), "--dry-run", "--results", results_});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(count_states(results())["valid"], 3);
    EXPECT_FALSE(fs::exists(dir_ / "nubefact.db"));
}

TEST_F(SendCli, InvalidDocumentIsNotSentAndItsFindingsNamePathAndExpected) {
    const auto in = write("v.jsonl", factura(1) + "\n" + factura(2, "F001", "119.00") + "\n");
    auto r = send_emulated({in.string()});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 2u);
    const auto& bad = str(lines[0], "state") == "invalid" ? lines[0] : lines[1];
    EXPECT_EQ(str(bad, "state"), "invalid");
    EXPECT_EQ(num(bad, "line"), 2);
    EXPECT_EQ(str(bad, "document"), "F001-2");
    EXPECT_FALSE(bad.contains("attempts"));  // never sent
    EXPECT_NE(str(bad, "error").find("nothing was sent"), std::string::npos);
    const auto& fs = bad.at("findings").as_array();
    ASSERT_FALSE(fs.empty());
    bool found = false;
    for (const auto& f : fs) {
        const auto& o = f.as_object();
        EXPECT_EQ(str(o, "severity"), "error");
        EXPECT_FALSE(str(o, "code").empty());
        EXPECT_FALSE(str(o, "message").empty());
        if (str(o, "path") == "total") {
            found = true;
            EXPECT_EQ(str(o, "expected"), "118.00");
            EXPECT_EQ(str(o, "actual"), "119.00");
        }
    }
    EXPECT_TRUE(found) << json::serialize(bad);
    EXPECT_TRUE(has_row(r.out, "accepted", 1)) << r.out;
    EXPECT_TRUE(has_row(r.out, "invalid", 1)) << r.out;
    // stderr names the document without needing the results file
    EXPECT_NE(r.err.find(in.string() + ":2 F001-2 invalid: total: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("(expected 118.00)"), std::string::npos) << r.err;
}

TEST_F(SendCli, MalformedLine37IsReportedAndTheOthersStillGo) {
    std::string text;
    for (int n = 1; n <= 50; ++n) {
        if (n == 37)
            text += R"({"operacion":"generar_comprobante","serie":"F001","numero":37,"items":[)"
                    "\n";
        else
            text += factura(n) + "\n";
    }
    const auto in = write("big.jsonl", text);
    auto r = send_emulated({in.string()});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 50u);
    auto st = count_states(lines);
    EXPECT_EQ(st["accepted"], 49);
    EXPECT_EQ(st["invalid"], 1);
    for (auto& l : lines) {
        if (str(l, "state") != "invalid") continue;
        EXPECT_EQ(num(l, "line"), 37);
        EXPECT_EQ(str(l, "source"), in.string());
        EXPECT_FALSE(str(l, "error").empty());
    }
    EXPECT_NE(r.err.find("big.jsonl:37"), std::string::npos) << r.err;
}

TEST_F(SendCli, ExitCodes) {
    const auto ok = write("ok.jsonl", jsonl(1, 2));
    // 2: a missing input path (the readable ones still go; the missing one is not a document)
    auto r = send_emulated({ok.string(), (dir_ / "missing.jsonl").string()});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(count_states(lines)["accepted"], 2);
    // 2: usage errors
    EXPECT_EQ(send({ok.string(), "--no-such-option"}).rc, 2);
    EXPECT_EQ(send({}).rc, 2);
    EXPECT_EQ(send({ok.string(), "--dry-run", "--tolerance", "abc"}).rc, 2);
    EXPECT_EQ(send({ok.string(), "--dry-run", "--today", "31-02-2026"}).rc, 2);
    // 2: no account anywhere (no --emulator, no file, no environment); the message says what to do
    r = send({ok.string(), "--store", store_});
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("--emulator"), std::string::npos) << r.err;
    // 1: rejected by SUNAT (separate emulator rejecting serie F999)
    emulator_process emu(binary_, dir_, {"--sunat-reject", "serie=F999"});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    const auto mixed = write("mixed.jsonl", factura(1) + "\n" + factura(1, "F999") + "\n");
    r = send({mixed.string(), "--store", store_, "--results", results_}, "", emu.env());
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    lines = results();
    ASSERT_EQ(lines.size(), 2u);
    for (auto& l : lines) {
        if (str(l, "serie") == "F999") {
            EXPECT_EQ(str(l, "state"), "rejected") << json::serialize(l);
            EXPECT_NE(str(l, "sunat_responsecode"), "0") << json::serialize(l);
        } else {
            EXPECT_EQ(str(l, "state"), "accepted") << json::serialize(l);
        }
    }
    // 0: everything accepted
    r = send({write("fresh.jsonl", jsonl(10, 12)).string(), "--store", store_}, "", emu.env());
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
}

TEST_F(SendCli, JsonSummary) {
    const auto in = write("v.jsonl", jsonl(1, 4) + factura(5, "F001", "1.00") + "\n");
    auto r = send_emulated({in.string(), "--json"});
    EXPECT_EQ(r.rc, 1) << r.out << r.err;
    auto lines = parse_jsonl(r.out);
    ASSERT_EQ(lines.size(), 1u) << "stdout is exactly one JSON object: " << r.out;
    const auto& s = lines[0];
    EXPECT_EQ(num(s, "documents"), 5);
    EXPECT_EQ(num(s, "accepted"), 4);
    EXPECT_EQ(num(s, "rejected"), 0);
    EXPECT_EQ(num(s, "invalid"), 1);  // found locally, never sent
    EXPECT_EQ(num(s, "failed"), 0);
    EXPECT_EQ(num(s, "resumed"), 0);
    EXPECT_TRUE(s.at("seconds").is_double());
    EXPECT_FALSE(s.at("interrupted").as_bool());
    EXPECT_EQ(str(s, "results"), results_);
    EXPECT_EQ(str(s, "store"), store_);

    r = send({in.string(), "--dry-run", "--json"});
    lines = parse_jsonl(r.out);
    ASSERT_EQ(lines.size(), 1u) << r.out;
    EXPECT_TRUE(lines[0].at("dry_run").as_bool());
}

// ---- resume ---------------------------------------------------------------------------------------

TEST_F(SendCli, SecondRunSkipsAcceptedDocuments) {
    const auto in = write("v.jsonl", jsonl(1, 10));
    auto r = send_emulated({in.string()});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    // the same file plus two new documents, against the same store (a fresh embedded emulator: a
    // document that was not skipped would simply be created again and show as accepted)
    spit(in, jsonl(1, 12));
    r = send_emulated({in.string(), "--json"});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), 12u);
    for (auto& l : lines) {
        if (num(l, "numero") <= 10) {
            EXPECT_EQ(str(l, "state"), "accepted") << json::serialize(l);
            EXPECT_TRUE(l.contains("resumed")) << json::serialize(l);
            EXPECT_FALSE(l.contains("attempts"));
            EXPECT_FALSE(l.contains("error"));
        } else {
            EXPECT_EQ(str(l, "state"), "accepted") << json::serialize(l);
        }
    }
    auto s = parse_jsonl(r.out);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(num(s[0], "resumed"), 10);
    EXPECT_EQ(num(s[0], "accepted"), 12);

    // --no-store keeps nothing: the same documents are sent again
    r = send({in.string(), "--emulator", "--no-store", "--results", results_});
    ASSERT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_EQ(count_states(results())["accepted"], 12);
}

// Look-ahead off (each document journaled just before it is sent) and a small one: same outcome.
TEST_F(SendCli, AheadZeroAndSmallSendEveryDocumentOnce) {
    for (const char* ahead : {"0", "3"}) {
        const auto in = write(std::string("a") + ahead + ".jsonl", jsonl(1, 15, std::string("F0A") + ahead));
        auto r = send_emulated({in.string(), "--concurrency", "2", "--ahead", ahead, "--json"});
        ASSERT_EQ(r.rc, 0) << r.out << r.err;
        EXPECT_EQ(count_states(results())["accepted"], 15) << ahead;
    }
    EXPECT_EQ(send({"x.jsonl", "--ahead", "-1"}).rc, 2);
}

// A second Ctrl-C: nothing more is created (documents journaled ahead and waiting for a slot are
// not sent), the exchanges in flight finish and the process ends; the rerun creates the rest, each
// once. The emulator holds the answers after the first two, so both exchanges are in flight when
// the signals come.
TEST_F(SendCli, SecondInterruptSendsNothingMore) {
    constexpr int n = 200;
    emulator_process emu(binary_, dir_, {"--allow-duplicates"});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    ASSERT_TRUE(emu.hold(2));
    const auto in = write("big.jsonl", jsonl(1, n));
    const std::vector<std::string> args{"send",   in.string(),     "--store",       store_, "--results",
                                        results_, "--no-progress", "--concurrency", "2"};
    {
        background sender(binary_, args, dir_, "sender", spawn_options{dir_, emu.env()});
        ASSERT_TRUE(emu.wait_held(2)) << sender.out() << sender.err();
        EXPECT_EQ(num(emu.stats(), "documents_created"), 4);  // 2 answered, 2 held
        sender.signal(SIGINT);
        ASSERT_TRUE(sender.wait_for_error_output("stopping: no new documents")) << sender.err();
        sender.signal(SIGINT);
        ASSERT_TRUE(sender.wait_for_error_output("nothing more is sent")) << sender.err();
        ASSERT_TRUE(emu.release());  // the two in flight finish
        EXPECT_EQ(sender.wait(), 1) << sender.out() << sender.err();
        // Nothing after the two in flight: the documents journaled ahead were not sent.
        EXPECT_EQ(num(emu.stats(), "documents_created"), 4);
    }
    auto r = run(binary_, args, dir_, "", spawn_options{dir_, emu.env()});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    auto st = count_states(results());
    EXPECT_EQ(st["accepted"], n);
    const auto s = emu.stats();
    EXPECT_EQ(num(s, "documents_created"), n) << json::serialize(s);
    EXPECT_EQ(num(s, "created_twice"), 0) << json::serialize(s);
}

// A low rate lowers the look-ahead, so no document waits past its total_timeout for its turn.
TEST_F(SendCli, AheadFitsTheRateLimit) {
    const auto in = write("slow.jsonl", jsonl(1, 20));
    emulator_process emu(binary_, dir_, {});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    auto env = emu.env();
    env["NUBEFACT_RATE"] = "6";
    env["NUBEFACT_BURST"] = "1";  // one request every 1/6 s: 21 queued would wait 3.5 s > 1 s
    env["NUBEFACT_TOTAL_TIMEOUT"] = "1s";
    auto s =
        send({in.string(), "--store", store_, "--results", results_, "--concurrency", "1", "--ahead", "20"},
             "", env);
    EXPECT_EQ(s.rc, 0) << s.out << s.err;
    EXPECT_NE(s.err.find("--ahead 20 lowered to 0"), std::string::npos) << s.err;
    EXPECT_EQ(count_states(results())["accepted"], 20) << slurp(results_);
}

// kill -9 mid-batch, rerun: every document is created exactly once at the (separate) emulator. The
// emulator runs with --allow-duplicates, so a blind resend of an in-flight document would be
// created twice and show in created_twice; the rerun must consult before resending.
TEST_F(SendCli, ResumeAfterKillNineCreatesEveryDocumentExactlyOnce) {
    constexpr int n = 400;
    emulator_process emu(binary_, dir_, {"--allow-duplicates"});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    const auto in = write("big.jsonl", jsonl(1, n));
    const std::vector<std::string> args{"send",   in.string(),     "--store", store_,         "--results",
                                        results_, "--concurrency", "8",       "--no-progress"};

    {
        // kill -9 with 8 exchanges in flight once a quarter of the batch is answered: the emulator
        // holds the answers after n/4, so the 8 held are created and their answers never arrive.
        ASSERT_TRUE(emu.hold(n / 4));
        background sender(binary_, args, dir_, "sender", spawn_options{dir_, emu.env()});
        ASSERT_TRUE(emu.wait_held(8)) << sender.out() << sender.err();
        sender.signal(SIGKILL);
        EXPECT_EQ(sender.wait(), -1);
        EXPECT_EQ(num(emu.stats(), "documents_created"), n / 4 + 8);
        ASSERT_TRUE(emu.release());
    }

    auto r = run(binary_, args, dir_, "", spawn_options{dir_, emu.env()});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    auto lines = results();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(n));
    auto st = count_states(lines);
    EXPECT_EQ(st["accepted"], n) << slurp(results_);
    // What was answered before the kill is known accepted once its settle was committed (the
    // journal batches them, so how many made it before the kill varies): some, not all.
    EXPECT_GE(st["resumed"], 1) << slurp(results_);
    EXPECT_GE(st["accepted"] - st["resumed"], 1);
    std::set<std::int64_t> numeros;
    for (auto& l : lines) numeros.insert(num(l, "numero"));
    EXPECT_EQ(numeros.size(), static_cast<std::size_t>(n));

    const auto s = emu.stats();
    EXPECT_EQ(num(s, "documents_created"), n) << json::serialize(s);
    EXPECT_EQ(num(s, "created_twice"), 0) << json::serialize(s);
    EXPECT_EQ(num(s, "duplicates_refused"), 0) << json::serialize(s);
}

// Ctrl-C mid-batch: no new documents, in-flight ones finish, exit 1 (not done), the summary says how
// to resume; the rerun finishes the batch, each document created once.
TEST_F(SendCli, InterruptStopsTakingDocumentsAndTheRerunFinishes) {
    constexpr int n = 400;
    emulator_process emu(binary_, dir_, {"--allow-duplicates"});
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    const auto in = write("big.jsonl", jsonl(1, n));
    const std::vector<std::string> args{"send",   in.string(),     "--store",       store_, "--results",
                                        results_, "--no-progress", "--concurrency", "8"};
    {
        // Ctrl-C with 8 exchanges in flight (answers held after n/8); they finish once released.
        ASSERT_TRUE(emu.hold(n / 8));
        background sender(binary_, args, dir_, "sender", spawn_options{dir_, emu.env()});
        ASSERT_TRUE(emu.wait_held(8)) << sender.out() << sender.err();
        sender.signal(SIGINT);
        ASSERT_TRUE(sender.wait_for_error_output("stopping: no new documents")) << sender.err();
        ASSERT_TRUE(emu.release());
        EXPECT_EQ(sender.wait(), 1) << sender.out() << sender.err();
        EXPECT_NE(sender.out().find("interrupted: run the same command again"), std::string::npos)
            << sender.out();
        EXPECT_NE(sender.err().find("stopping: no new documents"), std::string::npos) << sender.err();
        // Journaled documents finished; the ones read but not journaled yet say so.
        auto lines = results();
        auto st = count_states(lines);
        EXPECT_LT(st["accepted"], n);
        EXPECT_EQ(st["accepted"] + st["not_sent"], static_cast<int>(lines.size())) << slurp(results_);
        std::set<std::int64_t> numeros;
        for (auto& l : lines) {
            numeros.insert(num(l, "numero"));
            if (str(l, "state") == "not_sent") {
                EXPECT_EQ(str(l, "error"), "not sent: interrupted");
            }
        }
        // Every document read has its line: the numeros are exactly 1..lines.
        ASSERT_FALSE(numeros.empty());
        EXPECT_EQ(numeros.size(), lines.size());
        EXPECT_EQ(*numeros.begin(), 1);
        EXPECT_EQ(*numeros.rbegin(), static_cast<std::int64_t>(lines.size()));
    }
    auto r = run(binary_, args, dir_, "", spawn_options{dir_, emu.env()});
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    auto st = count_states(results());
    EXPECT_EQ(st["accepted"], n);
    EXPECT_GE(st["resumed"], n / 8);
    const auto s = emu.stats();
    EXPECT_EQ(num(s, "documents_created"), n) << json::serialize(s);
    EXPECT_EQ(num(s, "created_twice"), 0) << json::serialize(s);
}

// Ctrl-C once the whole input was read, every document in flight: they finish accepted, so the
// batch is done (exit 0) and the summary does not ask for a rerun. (The reader reaches the end of
// the file as it hands over the 8th document, long before that one is journaled and sent.)
TEST_F(SendCli, InterruptAfterTheLastDocumentWasReadEndsDone) {
    constexpr int n = 8;
    emulator_process emu(binary_, dir_);
    ASSERT_TRUE(emu.ok()) << emu.proc->out() << emu.proc->err();
    const auto in = write("few.jsonl", jsonl(1, n));
    const std::vector<std::string> args{"send",   in.string(),     "--store",       store_, "--results",
                                        results_, "--no-progress", "--concurrency", "16"};
    ASSERT_TRUE(emu.hold(0));
    background sender(binary_, args, dir_, "sender", spawn_options{dir_, emu.env()});
    ASSERT_TRUE(emu.wait_held(n)) << sender.out() << sender.err();
    sender.signal(SIGINT);
    ASSERT_TRUE(sender.wait_for_error_output("stopping: no new documents")) << sender.err();
    ASSERT_TRUE(emu.release());
    EXPECT_EQ(sender.wait(), 0) << sender.out() << sender.err();
    EXPECT_EQ(sender.out().find("interrupted: run the same command again"), std::string::npos)
        << sender.out();
    EXPECT_NE(sender.out().find("8 documents: 8 accepted"), std::string::npos) << sender.out();
    EXPECT_EQ(count_states(results())["accepted"], n);
}

}  // namespace
