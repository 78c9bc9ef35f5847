// The README's main job (scripts/demo.sh) on any day: its figures hold today, 30 days and 400 days
// from now (libfaketime moves the clock of the script, Python and nubefact alike), and a second run
// resumes.
#include "cli_util.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace {

using namespace nubefact::test::cli;

// The summary line the README promises: the text between "ends with `" and the next "`".
std::string readme_figures(const fs::path& source) {
    const auto text = slurp(source / "README.md");
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("ends with `([^`]+)`"))) return {};
    return m[1];
}

class Demo : public ::testing::TestWithParam<int> {
  protected:
    void SetUp() override {
        const char* bin = std::getenv("NUBEFACT_BINARY");
        const char* src = std::getenv("NUBEFACT_SOURCE_DIR");
        if (!bin || !fs::exists(bin) || !src) GTEST_SKIP() << "NUBEFACT_BINARY / NUBEFACT_SOURCE_DIR not set";
        if (!fs::exists("/usr/bin/faketime"))
            GTEST_SKIP() << "faketime missing (scripts/bootstrap.sh --with-postgres installs it)";
        binary_ = bin;
        source_ = src;
        dir_ = fresh_scratch_dir("demo");
    }
    void TearDown() override { remove_scratch_dir(dir_); }

    run_result demo(int days_ahead) {
        spawn_options o{source_,
                        {{"NUBEFACT_BIN", binary_},
                         {"OUT", (dir_ / "out").string()},
                         {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
                         {"ASAN_OPTIONS", "verify_asan_link_order=0"}}};
        return run("/usr/bin/faketime",
                   {"+" + std::to_string(days_ahead) + " days", "bash", "scripts/demo.sh"}, dir_, "", o);
    }

    std::string binary_;
    fs::path source_, dir_;
};

TEST_P(Demo, PrintsTheReadmeFiguresOnAnyDay) {
    const auto figures = readme_figures(source_);
    ASSERT_FALSE(figures.empty()) << "README.md has no \"ends with `…`\"";
    auto r = demo(GetParam());
    EXPECT_EQ(r.rc, 1) << r.out << r.err;  // three documents are invalid on purpose
    EXPECT_NE(r.out.find(figures), std::string::npos) << "README: " << figures << "\n" << r.out << r.err;
    EXPECT_EQ(r.err.find("refused"), std::string::npos) << r.err;
    // Run it again: the accepted documents are skipped (resumed), the figures are the same.
    r = demo(GetParam());
    EXPECT_NE(r.out.find(figures), std::string::npos) << r.out << r.err;
    std::smatch m;
    EXPECT_TRUE(std::regex_search(r.out, m, std::regex(R"(\(resumed\)\s+242\b)"))) << r.out;
}

INSTANTIATE_TEST_SUITE_P(DaysAhead, Demo, ::testing::Values(0, 30, 400));

}  // namespace
