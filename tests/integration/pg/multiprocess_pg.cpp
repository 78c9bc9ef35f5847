// PostgreSQL under kill -9 and under two writer processes (skipped without NUBEFACT_TEST_PG_URL).
#include "integration/store/multiprocess.hpp"

namespace nubefact::store::testing {
namespace {

TEST(store_child, run) {
    run_child_if_requested();
}

TEST(pg_crash, kill_9_mid_write_keeps_every_reported_commit) {
    pg_backend b;
    if (!b.available()) GTEST_SKIP() << "NUBEFACT_TEST_PG_URL not set (scripts/pg.sh start)";
    const std::size_t stops[] = {60, 300, 150};
    for (int round = 0; round < 3; ++round) {
        std::string tag = "crash" + std::to_string(round);
        auto rep = crash_round(b.url(), tag, stops[round]);
        auto s = open_or_die(b.url());  // the server rolled back the dead session; we just reconnect
        verify_crash_round(*s, tag, rep);
        if (::testing::Test::HasFatalFailure()) return;
    }
}

TEST(pg_concurrency, two_processes_one_database) {
    pg_backend b;
    if (!b.available()) GTEST_SKIP() << "NUBEFACT_TEST_PG_URL not set (scripts/pg.sh start)";
    run_concurrent(b.url(), 2, 400);
}

}  // namespace
}  // namespace nubefact::store::testing
