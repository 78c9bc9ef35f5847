// SQLite under kill -9 and under two writer processes: committed rows survive, keys stay unique.
#include "integration/store/multiprocess.hpp"

#include <sqlite3.h>

namespace nubefact::store::testing {
namespace {

TEST(store_child, run) {
    run_child_if_requested();
}

std::string integrity_check(const std::filesystem::path& path) {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
        while (st && sqlite3_step(st) == SQLITE_ROW)
            out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    } else {
        out = "cannot open";
    }
    sqlite3_close(db);
    return out;
}

TEST(sqlite_crash, kill_9_mid_write_keeps_every_reported_commit) {
    sqlite_backend b;
    const std::size_t stops[] = {40, 250, 90, 400, 150};  // how far each child gets before the kill
    for (int round = 0; round < 5; ++round) {
        std::string tag = "crash" + std::to_string(round);
        auto rep = crash_round(b.url(), tag, stops[round]);
        // The WAL left behind by the dead writer is recovered on open; the file is consistent.
        EXPECT_EQ(integrity_check(b.path()), "ok") << "round " << round;
        auto s = open_or_die(b.url());
        verify_crash_round(*s, tag, rep);
        if (::testing::Test::HasFatalFailure()) return;
    }
}

TEST(sqlite_concurrency, two_processes_one_file) {
    sqlite_backend b;
    open_or_die(b.url()).reset();  // create the file first so both children only migrate-check
    run_concurrent(b.url(), 2, 400);
    EXPECT_EQ(integrity_check(b.path()), "ok");
}

}  // namespace
}  // namespace nubefact::store::testing
