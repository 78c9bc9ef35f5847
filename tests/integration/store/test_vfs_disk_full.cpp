// A full disk under the SQLite store (writes failing with EFBIG past RLIMIT_FSIZE): a commit or a
// checkpoint that cannot write is an error, the process lives on, and the file keeps every reported commit.
#include "integration/store/support.hpp"

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <set>
#include <string>

namespace nubefact::store::testing {
namespace {

// What the child tells the parent on its exit code.
constexpr int child_clean_error = 0;   // a record failed with an error, then succeeded again
constexpr int child_never_failed = 2;  // the limit was never reached
constexpr int child_no_recovery = 3;   // the store stayed broken after the limit was lifted
constexpr int child_setup_failed = 4;
constexpr int child_other_error = 5;  // a record failed with something else than io_error/disk_full

// The payload of intent n, as the child records it.
std::string expected_payload(long long n, std::size_t extra) {
    return make_intent("full", "D", n).payload + std::string(extra, static_cast<char>('a' + n % 26));
}

// Intents of the child whose stored payload is not the one it recorded (read straight from the file).
std::size_t payload_mismatches(const std::filesystem::path& path, std::size_t extra) {
    sqlite3* db = nullptr;
    std::size_t bad = 0;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return 1;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(
        db,
        "SELECT d.numero, p.payload FROM documents d JOIN document_payloads p ON p.document_id = d.id "
        "WHERE d.account = 'full'",
        -1, &st, nullptr);
    int rc = SQLITE_ERROR;
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
        if (!text || text != expected_payload(sqlite3_column_int64(st, 0), extra)) ++bad;
    }
    if (rc != SQLITE_DONE) ++bad;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return bad;
}

std::uintmax_t size_or_zero(const std::filesystem::path& p) {
    std::error_code ec;
    auto n = std::filesystem::file_size(p, ec);
    return ec ? 0 : n;
}

// Numbers of the intents of serie "D" the store reported as created (one line each on `fd`).
void report(int fd, long long n) {
    char buf[32];
    int len = std::snprintf(buf, sizeof buf, "%lld\n", n);
    if (::write(fd, buf, static_cast<std::size_t>(len)) != len) std::_Exit(child_setup_failed);
}

// One run: the database, the child's limit and what it writes.
struct scenario {
    std::string query;        // appended to the URL ("?synchronous=full")
    std::size_t prefill = 0;  // audit bytes written before the child (a database bigger than a full WAL)
    bool old_reader = false;  // the child holds a read snapshot: its checkpoints are partial
    std::size_t headroom = 256u << 10;  // the limit: the largest of the database and the WAL, plus this
    std::size_t payload = 3000;         // bytes added to each intent's payload
};

// The child: opens the store, caps the size of any file it writes a little above the current
// WAL and database, and records intents until one fails; then lifts the cap and records one more.
[[noreturn]] void disk_full_child(const scenario& sc, const std::string& url,
                                  const std::filesystem::path& path, int fd) {
    std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing us
    std::string why;
    store_options o;
    o.secret_key = "";
    auto opened = open_store(url, o, &why);
    if (!opened) std::_Exit(child_setup_failed);
    auto& s = **opened;
    long long i = 0;
    auto record = [&](const std::string& hash) {
        auto in = make_intent("full", "D", i, hash);
        in.payload = expected_payload(i, sc.payload);
        auto r = record_sync(s.journal(), in);
        if (!r && r.error() != store_errc::io_error && r.error() != store_errc::disk_full)
            std::_Exit(child_other_error);
        if (!r || !r->created) return false;
        report(fd, i++);
        return true;
    };
    sqlite3* reader = nullptr;
    if (sc.old_reader) {
        // New pages past the end of the database, then a reader whose snapshot keeps every later
        // checkpoint from going further than them (so it neither truncates nor syncs the database).
        for (int k = 0; k < 20; ++k)
            if (!record("early")) std::_Exit(child_setup_failed);
        if (sqlite3_open_v2(path.c_str(), &reader, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK ||
            sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM documents", nullptr, nullptr, nullptr) !=
                SQLITE_OK)
            std::_Exit(child_setup_failed);
    }
    const std::string wal = path.string() + "-wal";
    rlimit old{};
    if (::getrlimit(RLIMIT_FSIZE, &old) != 0) std::_Exit(child_setup_failed);
    rlimit cap = old;
    cap.rlim_cur = std::max(size_or_zero(path), size_or_zero(wal)) + sc.headroom;
    if (::setrlimit(RLIMIT_FSIZE, &cap) != 0) std::_Exit(child_setup_failed);
    bool failed = false;
    while (i < 20'000 && !failed) failed = !record("h" + std::to_string(i));
    if (!failed) std::_Exit(child_never_failed);
    // Space is back: the same store commits again (and, with the reader gone, checkpoints).
    if (reader) {
        sqlite3_exec(reader, "ROLLBACK", nullptr, nullptr, nullptr);
        sqlite3_close(reader);
    }
    if (::setrlimit(RLIMIT_FSIZE, &old) != 0) std::_Exit(child_setup_failed);
    if (!record("after")) std::_Exit(child_no_recovery);
    // Everything into the database and the WAL emptied, while this process's wal-index (with what
    // its checkpoints recorded as copied) is still the live one: `ckpt` keeps it open across the
    // store's close (which commits the release of its claims).
    sqlite3* ckpt = nullptr;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_open_v2(path.c_str(), &ckpt, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
        std::_Exit(child_no_recovery);
    s.close();
    if (sqlite3_busy_timeout(ckpt, 10'000) != SQLITE_OK ||
        sqlite3_prepare_v2(ckpt, "PRAGMA wal_checkpoint(TRUNCATE)", -1, &st, nullptr) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW ||
        sqlite3_column_int(st, 0) != 0)  // 1: a reader kept it from completing
        std::_Exit(child_no_recovery);
    sqlite3_finalize(st);
    sqlite3_close(ckpt);
    std::_Exit(child_clean_error);
}

void run_disk_full(const scenario& sc) {
    sqlite_backend b;
    const std::string url = b.url() + sc.query;
    {
        auto s = open_or_die(url);  // the schema (and the prefill) exist before the cap
        for (std::size_t n = 0, k = 0; n < sc.prefill; n += 4000, ++k) {
            auto a = make_audit("fill", "F-" + std::to_string(k));
            a.request_body = std::string(2000, 'q');
            a.response_body = std::string(2000, 'r');
            write_audit(s->audit(), std::move(a));
        }
        s->flush();
    }
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        disk_full_child(sc, url, b.path(), fds[1]);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_FALSE(WIFSIGNALED(status)) << "the child died of signal " << WTERMSIG(status);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), child_clean_error);

    std::set<long long> reported;
    std::size_t pos = 0;
    while (pos < out.size()) {
        auto nl = out.find('\n', pos);
        reported.insert(std::stoll(out.substr(pos, nl - pos)));
        pos = nl + 1;
    }
    ASSERT_GE(reported.size(), 2u);  // some before the failure, one after

    EXPECT_EQ(size_or_zero(b.path().string() + "-wal"), 0u);  // everything is in the database
    EXPECT_EQ(integrity_check(b.path()), "ok");
    EXPECT_EQ(payload_mismatches(b.path(), sc.payload), 0u);
    auto s = open_or_die(b.url());
    for (long long n : reported) {
        auto d = find_sync(s->journal(), "full", {1, "D", n});
        ASSERT_TRUE(d) << n;
        EXPECT_TRUE(d->has_value()) << "reported intent " << n << " is missing";
    }
    document_query q;
    q.account = "full";
    q.limit = 100'000;
    auto all = s->find_documents(q);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), reported.size());  // the failed one rolled back
    if (sc.prefill > 0) {
        EXPECT_EQ(count_audit(*s, "fill"), (sc.prefill + 3999) / 4000);
    }
}

// synchronous=normal: nothing syncs the WAL at a commit, so only the commit frame's own write can
// report the failure (before the fix the shim aborted the process at the wal-index barrier).
TEST(sqlite_vfs_disk_full, failed_commit_is_an_error_not_a_crash) {
    run_disk_full({});
}

TEST(sqlite_vfs_disk_full, failed_commit_is_an_error_with_synchronous_full) {
    scenario sc;
    sc.query = "?synchronous=full";
    run_disk_full(sc);
}

// Checkpoints that cannot grow the database: with a reader holding an old snapshot each
// checkpoint is partial (no truncate, no sync after its last page, whose write result SQLite
// never sees); it must fail before it records its progress, and the commits go on until the WAL
// itself hits the limit.
TEST(sqlite_vfs_disk_full, partial_checkpoint_that_cannot_grow_the_database) {
    scenario sc;
    sc.prefill = 18u << 20;  // bigger than the WAL at its autocheckpoint (4000 pages)
    sc.old_reader = true;
    sc.headroom = 8u << 10;  // less than the pages the 20 early intents add
    sc.payload = 12000;
    run_disk_full(sc);
}

}  // namespace
}  // namespace nubefact::store::testing
