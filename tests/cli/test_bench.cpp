// The real `nubefact bench` binary: tiny runs, JSON keys, the SVG chart, usage errors.
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
namespace bj = boost::json;

using test::cli::run_result;
using test::cli::slurp;

class Bench : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* bin = std::getenv("NUBEFACT_BINARY");
        if (!bin || !fs::exists(bin)) GTEST_SKIP() << "NUBEFACT_BINARY not set or missing";
        binary_ = bin;
        dir_ = test::cli::fresh_scratch_dir("bench");
    }
    void TearDown() override { test::cli::remove_scratch_dir(dir_); }

    // Runs the binary with `args` (stdin empty); fork + exec, no shell.
    run_result run(const std::vector<std::string>& args) { return test::cli::run(binary_, args, dir_); }

    std::string binary_;
    fs::path dir_;
};

void expect_run_keys(const bj::object& run) {
    for (const char* k :
         {"concurrency", "documents", "ok", "failed", "seconds", "docs_per_s", "latency_ms", "errors",
          "client_cpu_s", "client_cpu_us_per_doc", "peak_rss_mb", "connections_opened", "peak_connections",
          "emulator_validated", "emulator_cpu_s", "bound_docs_per_s", "first_wave_s"})
        EXPECT_TRUE(run.contains(k)) << k;
    // The first wave (the first C answers) ends within the run.
    EXPECT_GT(run.at("first_wave_s").to_number<double>(), 0.0);
    EXPECT_LE(run.at("first_wave_s").to_number<double>(), run.at("seconds").to_number<double>() + 1e-3);
    const auto& lat = run.at("latency_ms").as_object();
    for (const char* k : {"p50", "p95", "p99", "max"}) EXPECT_TRUE(lat.contains(k)) << k;
}

TEST_F(Bench, ForkedEmulatorFullPipelineWritesJsonAndChart) {
    const auto json_path = dir_ / "bench.json", svg_path = dir_ / "bench.svg";
    auto r = run({"bench", "-n", "30", "-c", "1,4", "--complete", "--check", "--audit", "--out",
                  json_path.string(), "--chart", svg_path.string()});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.err.find("c=4"), std::string::npos) << r.err;  // one line per run on stderr
    auto doc = bj::parse(slurp(json_path)).as_object();
    EXPECT_EQ(doc.at("tool").as_string(), "nubefact bench");
    const auto& s = doc.at("settings").as_object();
    EXPECT_EQ(s.at("emulator").as_string(), "forked");
    EXPECT_EQ(s.at("emulator_validated").as_bool(), true);
    EXPECT_EQ(s.at("complete").as_bool(), true);
    EXPECT_EQ(s.at("check").as_bool(), true);
    EXPECT_EQ(s.at("audit").as_bool(), true);
    EXPECT_EQ(s.at("journal").as_string(), "store");
    const auto& runs = doc.at("runs").as_array();
    ASSERT_EQ(runs.size(), 2u);
    for (const auto& run : runs) {
        const auto& o = run.as_object();
        expect_run_keys(o);
        EXPECT_EQ(o.at("documents").as_int64(), 30);
        EXPECT_EQ(o.at("ok").as_int64(), 30);
        EXPECT_TRUE(o.at("errors").as_object().empty());
        EXPECT_TRUE(o.at("emulator_cpu_s").is_number());  // the forked child's CPU, from /proc
        EXPECT_LE(o.at("connections_opened").as_int64(), o.at("concurrency").as_int64());
        EXPECT_LE(o.at("peak_connections").as_int64(), o.at("concurrency").as_int64());
        EXPECT_GE(o.at("peak_connections").as_int64(), 1);
    }
    EXPECT_EQ(runs[0].as_object().at("concurrency").as_int64(), 1);
    EXPECT_EQ(runs[1].as_object().at("concurrency").as_int64(), 4);
    // The durable journal: 8 × C documents journaled ahead of the slots by default.
    EXPECT_EQ(runs[0].as_object().at("ahead").as_int64(), 8);
    EXPECT_EQ(runs[1].as_object().at("ahead").as_int64(), 32);
    const auto svg = slurp(svg_path);
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
    EXPECT_NE(svg.find("documents/s"), std::string::npos);
}

// Only the audit log in the store (the intent journal in memory), look-ahead asked for explicitly.
TEST_F(Bench, AuditLogWithTheJournalInMemoryAndExplicitAhead) {
    auto r = run({"bench", "-n", "25", "-c", "3", "--audit", "--journal", "memory", "--ahead", "5", "-q"});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto doc = bj::parse(r.out).as_object();
    const auto& s = doc.at("settings").as_object();
    EXPECT_EQ(s.at("audit").as_bool(), true);
    EXPECT_EQ(s.at("journal").as_string(), "memory");
    const auto& o = doc.at("runs").as_array().at(0).as_object();
    expect_run_keys(o);
    EXPECT_EQ(o.at("ok").as_int64(), 25);
    EXPECT_EQ(o.at("ahead").as_int64(), 5);
    EXPECT_TRUE(o.at("slot_waits").is_number());        // 8 workers for 3 slots: some waited, not all
    EXPECT_LE(o.at("peak_connections").as_int64(), 3);  // look-ahead never adds requests in flight

    // Without a store there is no journal to batch: no look-ahead unless asked for.
    auto p = run({"bench", "-n", "5", "-c", "2", "-q"});
    ASSERT_EQ(p.rc, 0) << p.err;
    auto pdoc = bj::parse(p.out).as_object();
    EXPECT_EQ(pdoc.at("settings").as_object().at("journal").as_string(), "none");
    EXPECT_EQ(pdoc.at("runs").as_array().at(0).as_object().at("ahead").as_int64(), 0);
}

TEST_F(Bench, InprocWithoutValidationToStdoutAndFixedLatencyBound) {
    auto r = run({"bench", "-n", "20", "-c", "5", "--inproc", "--no-validate", "--latency", "2", "-q"});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;  // --quiet
    auto doc = bj::parse(r.out).as_object();
    EXPECT_EQ(doc.at("settings").as_object().at("emulator").as_string(), "inproc");
    EXPECT_EQ(doc.at("settings").as_object().at("emulator_validated").as_bool(), false);
    const auto& run = doc.at("runs").as_array().at(0).as_object();
    expect_run_keys(run);
    EXPECT_EQ(run.at("client_cpu_includes_emulator").as_bool(), true);
    EXPECT_DOUBLE_EQ(run.at("bound_docs_per_s").to_number<double>(), 2500.0);  // 5 in flight / 2 ms
}

TEST_F(Bench, FaultsAreRetriedOrReconciled) {
    // Seeded faults and one document at a time: the same requests fail on every run.
    auto r =
        run({"bench", "-n", "40", "-c", "1", "--faults", "500:0.1,commit_drop:0.1", "--seed", "7", "-q"});
    ASSERT_EQ(r.rc, 0) << r.err;
    auto doc = bj::parse(r.out).as_object();
    const auto& run = doc.at("runs").as_array().at(0).as_object();
    EXPECT_EQ(run.at("ok").as_int64(), 40);
    EXPECT_GT(run.at("retries").as_int64() + run.at("recovered").as_int64(), 0);
}

TEST_F(Bench, UsageErrors) {
    EXPECT_EQ(run({"bench", "-c", "1,zero"}).rc, 2);
    EXPECT_EQ(run({"bench", "--latency", "sometimes"}).rc, 2);
    EXPECT_EQ(run({"bench", "--url", "http://127.0.0.1:1/api/v1/x"}).rc, 2);  // --token missing
    EXPECT_EQ(run({"bench", "--audit", "--journal", "disk"}).rc, 2);
    auto h = run({"bench", "--help"});
    EXPECT_EQ(h.rc, 0);
    EXPECT_NE(h.out.find("--concurrency"), std::string::npos);
    EXPECT_NE(h.out.find("--chart"), std::string::npos);
}

}  // namespace
}  // namespace nubefact
