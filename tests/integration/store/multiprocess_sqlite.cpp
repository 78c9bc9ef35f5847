// SQLite under kill -9 and under two writer processes: committed rows survive, keys stay unique;
// large commits and checkpoints through the WAL-gathering VFS shim stay byte-exact.
#include "integration/store/multiprocess.hpp"

#include <sqlite3.h>

namespace nubefact::store::testing {
namespace {

TEST(store_child, run) {
    run_child_if_requested();
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

// The VFS shim gathers a commit's WAL frames and a checkpoint's contiguous pages into large writes
// (in pieces of at most 124 KiB): a multi-megabyte transaction, a reader in another connection
// and a checkpoint copying it all back must leave every byte in place.
TEST(sqlite_vfs, large_commits_and_checkpoints_stay_consistent) {
    sqlite_backend b;
    std::size_t written = 0;
    {
        auto s = open_or_die(b.url());
        for (int round = 0; round < 4; ++round) {
            for (int i = 0; i < 1500; ++i) {  // 1500 rows x 3 KB bodies: ~4.5 MB, 4 rounds pass a checkpoint
                auto a = make_audit("big", "F001-" + std::to_string(round * 1500 + i));
                a.request_body = std::string(1500, static_cast<char>('a' + (i + round) % 26));
                a.response_body = std::string(1500, static_cast<char>('z' - (i + round) % 26));
                write_audit(s->audit(), std::move(a));
                ++written;
            }
            for (int i = 1; i <= 300; ++i)  // payloads: contiguous pages of document_payloads
                ASSERT_TRUE(record_sync(s->journal(), make_intent("big", "P" + std::to_string(round), i)));
            s->flush();
            // Another connection sees everything committed so far, bodies intact.
            log_query q;
            q.limit = 5;
            auto rows = s->query_log(q);
            ASSERT_TRUE(rows);
            ASSERT_FALSE(rows->empty());
            EXPECT_EQ((*rows)[0].record.request_body.size(), 1500u);
            EXPECT_EQ(integrity_check(b.path()), "ok") << "round " << round;
        }
        sqlite3* db = nullptr;  // a full checkpoint through the default VFS, while the store is open
        ASSERT_EQ(sqlite3_open_v2(b.path().c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
        EXPECT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(db);
    }
    EXPECT_EQ(integrity_check(b.path()), "ok");
    auto s = open_or_die(b.url());
    EXPECT_EQ(count_audit(*s, "big"), written);
    log_query q;
    q.account = "big";
    q.limit = 10'000;
    auto rows = s->query_log(q);
    ASSERT_TRUE(rows);
    for (const auto& r : *rows) {
        const auto n = std::stoi(r.record.document.substr(5));
        const int i = n % 1500, round = n / 1500;
        ASSERT_EQ(r.record.request_body, std::string(1500, static_cast<char>('a' + (i + round) % 26))) << n;
        ASSERT_EQ(r.record.response_body, std::string(1500, static_cast<char>('z' - (i + round) % 26))) << n;
    }
    for (int round = 0; round < 4; ++round) {
        auto d = find_sync(s->journal(), "big", {1, "P" + std::to_string(round), 300});
        ASSERT_TRUE(d && *d);
        EXPECT_EQ((*d)->what.payload, make_intent("big", "P" + std::to_string(round), 300).payload);
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
