// Multi-process store tests: the test binary re-executes itself as a child writer (selected by
// env NUBEFACT_STORE_CHILD) that reports what it committed on fd 3; the parent kills or waits.
#pragma once

#include "integration/store/support.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

namespace nubefact::store::testing {

inline constexpr int child_report_fd = 3;

inline void child_report(const char* kind, long long n) {
    char buf[64];
    int len = std::snprintf(buf, sizeof buf, "%s %lld\n", kind, n);
    // One write() per line: lines from several threads never interleave (< PIPE_BUF).
    if (::write(child_report_fd, buf, static_cast<std::size_t>(len)) < 0) std::_Exit(3);
}

// crash child: rounds of 10 audit rows + one intent (+ its update); reports "R i" when intent i is
// committed, "U i" when its update is, "F i" when every audit row of iterations <= i is. Runs until
// killed (bounded: 200,000 iterations).
inline void crash_child(const std::string& url, const std::string& tag) {
    store_options o;
    o.secret_key = "";
    o.max_batch = 64;
    auto s = open_or_die(url, o);
    for (long long i = 0; i < 200000; ++i) {
        for (int k = 0; k < 10; ++k)
            write_audit(s->audit(), make_audit(tag, "A-" + std::to_string(i * 10 + k)));
        s->journal().record(make_intent(tag, "C", i, "hash-" + std::to_string(i)),
                            [i](result<intent_journal::record_result> r) {
                                if (r && r->created) child_report("R", i);
                            });
        state_update u;
        u.state = doc_state::accepted;
        u.count_attempt = true;
        u.sunat_description = "aceptada " + std::to_string(i);
        s->journal().update(tag, {1, "C", i}, u, [i](result<void> r) {
            if (r) child_report("U", i);
        });
        if (i % 10 == 9) {
            s->flush();
            child_report("F", i);
        }
    }
}

// concurrent child: records keys 0..n-1 of serie "K" (shared by every child), updates each with
// count_attempt, writes one audit row per key; reports "C i" (created here), "E i" (existed),
// "X i" (a failure) and finally "DONE 0".
inline void concurrent_child(const std::string& url, const std::string& tag, int n) {
    store_options o;
    o.secret_key = "";
    o.max_batch = 16;
    auto s = open_or_die(url, o);
    for (int i = 0; i < n; ++i) {
        s->journal().record(make_intent("shared", "K", i, "same-payload"),
                            [i](result<intent_journal::record_result> r) {
                                if (!r)
                                    child_report("X", i);
                                else
                                    child_report(r->created ? "C" : "E", i);
                            });
        state_update u;
        u.state = doc_state::accepted;
        u.count_attempt = true;
        s->journal().update("shared", {1, "K", i}, u, [i](result<void> r) {
            if (!r) child_report("X", i);
        });
        write_audit(s->audit(), make_audit(tag, "K-" + std::to_string(i)));
    }
    s->close();
    child_report("DONE", 0);
}

// Call from TEST(store_child, run): does nothing (skips) unless this process is a child.
inline void run_child_if_requested() {
    const char* mode = std::getenv("NUBEFACT_STORE_CHILD");
    if (!mode) GTEST_SKIP() << "only runs as a child of the multi-process tests";
    std::string url = std::getenv("NUBEFACT_STORE_CHILD_URL");
    std::string tag = std::getenv("NUBEFACT_STORE_CHILD_TAG");
    try {
        if (std::string(mode) == "crash") crash_child(url, tag);
        if (std::string(mode) == "concurrent")
            concurrent_child(url, tag, std::atoi(std::getenv("NUBEFACT_STORE_CHILD_N")));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "child failed: %s\n", e.what());
        std::_Exit(2);
    }
    std::_Exit(0);
}

struct child_process {
    pid_t pid = -1;
    int fd = -1;  // read end of the report pipe
};

// Re-executes this test binary as a child in `mode`.
inline child_process spawn_child(const std::string& mode, const std::string& url, const std::string& tag,
                                 int n = 0) {
    int p[2];
    if (::pipe(p) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
        if (std::strncmp(*e, "NUBEFACT_STORE_CHILD", 20) != 0) env_s.emplace_back(*e);
    }
    env_s.push_back("NUBEFACT_STORE_CHILD=" + mode);
    env_s.push_back("NUBEFACT_STORE_CHILD_URL=" + url);
    env_s.push_back("NUBEFACT_STORE_CHILD_TAG=" + tag);
    env_s.push_back("NUBEFACT_STORE_CHILD_N=" + std::to_string(n));
    std::vector<char*> envp;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    std::string filter = "--gtest_filter=store_child.run";
    char* argv[] = {self.data(), filter.data(), nullptr};
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[0]);
        int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) ::dup2(devnull, 1);
        if (::dup2(p[1], child_report_fd) < 0) std::_Exit(4);
        if (p[1] != child_report_fd) ::close(p[1]);
        ::execve(self.c_str(), argv, envp.data());
        std::_Exit(5);
    }
    ::close(p[1]);
    return {pid, p[0]};
}

// Reads complete lines from fd into `lines` until `stop(lines)` is true or EOF. Returns false on EOF.
template <class Stop>
bool read_reports(int fd, std::string& partial, std::vector<std::string>& lines, Stop stop) {
    char buf[4096];
    for (;;) {
        if (stop(lines)) return true;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        partial.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
            lines.push_back(partial.substr(0, nl));
            partial.erase(0, nl + 1);
        }
    }
}

// Parsed child reports: kind -> set of numbers.
inline std::map<std::string, std::set<long long>> parse_reports(const std::vector<std::string>& lines) {
    std::map<std::string, std::set<long long>> out;
    for (const auto& l : lines) {
        std::istringstream in(l);
        std::string kind;
        long long n = 0;
        if (in >> kind >> n) out[kind].insert(n);
    }
    return out;
}

inline int wait_child(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// One crash round: start a writer, let it commit at least `min_commits` intents, kill -9 it, and
// return everything it reported as committed.
inline std::map<std::string, std::set<long long>> crash_round(const std::string& url, const std::string& tag,
                                                              std::size_t min_commits) {
    auto c = spawn_child("crash", url, tag);
    std::string partial;
    std::vector<std::string> lines;
    std::size_t commits = 0;
    bool alive = read_reports(c.fd, partial, lines, [&](const std::vector<std::string>& ls) {
        commits = 0;
        for (auto& l : ls) commits += l.starts_with("R ");
        return commits >= min_commits;
    });
    EXPECT_TRUE(alive) << "the child exited before being killed";
    ::kill(c.pid, SIGKILL);
    read_reports(c.fd, partial, lines, [](auto&) { return false; });  // what it wrote before dying
    ::close(c.fd);
    int status = wait_child(c.pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    return parse_reports(lines);
}

// Checks that everything a crash child reported as committed is in the store, intact.
inline void verify_crash_round(store& s, const std::string& tag,
                               const std::map<std::string, std::set<long long>>& rep) {
    auto get = [&](const char* k) {
        auto it = rep.find(k);
        return it == rep.end() ? std::set<long long>{} : it->second;
    };
    auto committed = get("R");
    ASSERT_FALSE(committed.empty());
    for (long long i : committed) {
        auto f = find_sync(s.journal(), tag, {1, "C", i});
        ASSERT_TRUE(f && *f) << tag << " intent " << i << " reported committed but missing";
        EXPECT_EQ((*f)->what.payload_hash, "hash-" + std::to_string(i));
    }
    for (long long i : get("U")) {
        auto f = find_sync(s.journal(), tag, {1, "C", i});
        ASSERT_TRUE(f && *f);
        EXPECT_EQ((*f)->state, doc_state::accepted) << tag << " update " << i << " lost";
        EXPECT_EQ((*f)->sunat_description, "aceptada " + std::to_string(i));
        EXPECT_EQ((*f)->attempts, 1);
    }
    auto flushed = get("F");
    if (!flushed.empty()) {
        long long last = *flushed.rbegin();
        log_query q;
        q.account = tag;
        q.limit = 100'000'000;
        auto rows = s.query_log(q);
        ASSERT_TRUE(rows);
        std::set<std::string> docs;
        for (auto& r : *rows) docs.insert(r.record.document);
        EXPECT_EQ(docs.size(), rows->size()) << "duplicate audit rows";
        for (long long n = 0; n < (last + 1) * 10; ++n)
            ASSERT_TRUE(docs.count("A-" + std::to_string(n))) << tag << " audit row A-" << n << " lost";
    }
}

// Runs `children` concurrent children on one database and checks unique keys and no lost rows.
inline void run_concurrent(const std::string& url, int children, int n) {
    std::vector<child_process> cs;
    for (int c = 0; c < children; ++c)
        cs.push_back(spawn_child("concurrent", url, "proc" + std::to_string(c), n));
    std::map<long long, int> created;
    for (int c = 0; c < children; ++c) {
        std::string partial;
        std::vector<std::string> lines;
        read_reports(cs[static_cast<std::size_t>(c)].fd, partial, lines, [](auto&) { return false; });
        ::close(cs[static_cast<std::size_t>(c)].fd);
        int status = wait_child(cs[static_cast<std::size_t>(c)].pid);
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << c << " status " << status;
        auto rep = parse_reports(lines);
        EXPECT_TRUE(rep["X"].empty()) << rep["X"].size() << " failures in child " << c;
        EXPECT_EQ(rep["DONE"].size(), 1u);
        EXPECT_EQ(rep["C"].size() + rep["E"].size(), static_cast<std::size_t>(n));
        for (auto i : rep["C"]) ++created[i];
    }
    EXPECT_EQ(created.size(), static_cast<std::size_t>(n));
    for (auto& [i, times] : created) EXPECT_EQ(times, 1) << "key " << i << " created " << times << " times";
    auto s = open_or_die(url);
    document_query q;
    q.serie = "K";
    q.account = "shared";
    q.limit = 1'000'000;
    auto docs = s->find_documents(q);
    ASSERT_TRUE(docs);
    EXPECT_EQ(docs->size(), static_cast<std::size_t>(n));
    for (auto& d : *docs) {
        EXPECT_EQ(d.state, doc_state::accepted);
        EXPECT_EQ(d.attempts, children) << "an update was lost for numero " << d.what.key.numero;
    }
    for (int c = 0; c < children; ++c)
        EXPECT_EQ(count_audit(*s, "proc" + std::to_string(c)), static_cast<std::size_t>(n));
}

}  // namespace nubefact::store::testing
