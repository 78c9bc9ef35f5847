// cli::atomic_file and cli::output_is_input: atomic replacement, checked writes, input clashes.
#include "output.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace nubefact::cli {
namespace {

namespace fs = std::filesystem;

class Output : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nubefact-output-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    static std::string read(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    static void put(const fs::path& p, const std::string& text) {
        std::ofstream(p, std::ios::binary) << text;
    }
    std::size_t files() const {
        return static_cast<std::size_t>(
            std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
    }
    fs::path dir_;
};

TEST_F(Output, CommitReplacesTheTargetOnlyThen) {
    const auto target = dir_ / "out.jsonl";
    put(target, "old\n");
    {
        atomic_file f(target.string());
        ASSERT_TRUE(f.ok()) << f.error();
        f.write("new\n");
        EXPECT_EQ(read(target), "old\n");  // untouched until commit
        EXPECT_EQ(files(), 2u);            // the temporary file, next to it
        EXPECT_TRUE(f.commit());
    }
    EXPECT_EQ(read(target), "new\n");
    EXPECT_EQ(files(), 1u);
}

TEST_F(Output, WithoutCommitNothingChanges) {
    const auto target = dir_ / "out.jsonl";
    put(target, "old\n");
    {
        atomic_file f(target.string());
        f.write("half");
    }
    EXPECT_EQ(read(target), "old\n");
    EXPECT_EQ(files(), 1u);
    atomic_file g(target.string());
    g.write("x");
    g.discard();
    EXPECT_FALSE(g.commit());
    EXPECT_EQ(read(target), "old\n");
    EXPECT_EQ(files(), 1u);
}

TEST_F(Output, ConcurrentWritersKeepWholeLines) {
    const auto target = dir_ / "results.jsonl";
    atomic_file f(target.string());
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; i < 5000; ++i)
                f.write("{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}\n");
        });
    for (auto& t : ts) t.join();
    ASSERT_TRUE(f.commit()) << f.error();
    std::ifstream in(target);
    std::size_t lines = 0;
    for (std::string l; std::getline(in, l); ++lines) ASSERT_TRUE(l.front() == '{' && l.back() == '}') << l;
    EXPECT_EQ(lines, 20'000u);
}

TEST_F(Output, ErrorsNameThePathAndTheReason) {
    atomic_file missing((dir_ / "no" / "out.json").string());
    EXPECT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find("out.json: No such file or directory"), std::string::npos)
        << missing.error();
    EXPECT_FALSE(missing.commit());
    atomic_file dir(dir_.string());
    EXPECT_FALSE(dir.ok());
    EXPECT_NE(dir.error().find("Is a directory"), std::string::npos) << dir.error();
}

// A write that fails half-way (here: the file size limit, EFBIG) fails the commit, the target
// keeps its old content and the temporary file is gone.
TEST_F(Output, FailedWriteLeavesTheTargetAlone) {
    const auto target = dir_ / "out.jsonl";
    put(target, "old\n");
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit old_limit{};
    ::getrlimit(RLIMIT_FSIZE, &old_limit);
    bool committed = true;
    std::string error;
    {
        atomic_file f(target.string());
        rlimit small = old_limit;
        small.rlim_cur = 1000;
        ::setrlimit(RLIMIT_FSIZE, &small);
        for (int i = 0; i < 100; ++i) f.write(std::string(1000, 'x') + "\n");
        committed = f.commit();
        error = f.error();
        ::setrlimit(RLIMIT_FSIZE, &old_limit);
    }
    std::signal(SIGXFSZ, old_handler);
    EXPECT_FALSE(committed);
    EXPECT_NE(error.find("out.jsonl: File too large (while writing)"), std::string::npos) << error;
    EXPECT_EQ(read(target), "old\n");
    EXPECT_EQ(files(), 1u);
}

TEST_F(Output, SymlinkTargetIsFollowed) {
    const auto real = dir_ / "real.json";
    put(real, "old");
    fs::create_symlink(real, dir_ / "link.json");
    atomic_file f((dir_ / "link.json").string());
    f.write("new");
    ASSERT_TRUE(f.commit()) << f.error();
    EXPECT_TRUE(fs::is_symlink(dir_ / "link.json"));
    EXPECT_EQ(read(real), "new");
}

TEST_F(Output, OutputThatIsAnInput) {
    const auto in = dir_ / "in.jsonl";
    put(in, "{}\n");
    EXPECT_EQ(output_is_input(in.string(), {in.string()}), in.string());
    EXPECT_EQ(output_is_input((dir_ / "." / "in.jsonl").string(), {in.string()}), in.string());
    fs::create_hard_link(in, dir_ / "hard.jsonl");
    EXPECT_TRUE(output_is_input((dir_ / "hard.jsonl").string(), {in.string()}));
    EXPECT_TRUE(output_is_input(in.string(), {dir_.string()}));  // a file of an input directory
    EXPECT_FALSE(output_is_input((dir_ / "new.jsonl").string(), {in.string(), dir_.string()}));
    put(dir_ / "other.txt", "");
    EXPECT_FALSE(output_is_input((dir_ / "other.txt").string(), {dir_.string()}));  // not read from it
    EXPECT_FALSE(output_is_input(in.string(), {(dir_ / "missing.json").string()}));
}

}  // namespace
}  // namespace nubefact::cli
