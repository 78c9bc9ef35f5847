// Replays every saved fuzz input through its target's property (tests/fuzz/properties.hpp): the
// regressions of tests/data/fuzz/<target>/ (inputs that once broke an invariant) and the seed
// corpora of tests/fuzz/corpus/<target>/. The dev build keeps each finding fixed without clang.
#include "properties.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>

namespace {

namespace fs = std::filesystem;
using nubefact::fuzz::verdict;

struct target {
    const char* name;
    verdict (*property)(std::string_view);
    const char* more = nullptr;  // another folder of seeds (the official examples)
    friend void PrintTo(const target& t, std::ostream* os) { *os << t.name; }
};

const target targets[] = {
    {"codec", nubefact::fuzz::codec, "tests/data/official"},
    {"input", nubefact::fuzz::input_reader, "tests/data/official"},
    {"response", nubefact::fuzz::response_reading},
    {"config", nubefact::fuzz::account_config},
    {"emulator", nubefact::fuzz::emulator_http},
    {"gateway", nubefact::fuzz::gateway_http},
};

class FuzzReplay : public ::testing::TestWithParam<target> {};

std::size_t replay(const target& t, const fs::path& dir) {
    std::size_t n = 0;
    if (!fs::is_directory(dir)) return n;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        std::ifstream in(e.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto broken = t.property(bytes);
        EXPECT_FALSE(broken) << e.path() << ": " << broken.value_or("");
        ++n;
    }
    return n;
}

TEST_P(FuzzReplay, SavedInputsKeepTheirInvariants) {
    const char* src = std::getenv("NUBEFACT_SOURCE_DIR");
    ASSERT_NE(src, nullptr);
    const fs::path root(src);
    const auto regressions = replay(GetParam(), root / "tests/data/fuzz" / GetParam().name);
    auto seeds = replay(GetParam(), root / "tests/fuzz/corpus" / GetParam().name);
    if (GetParam().more) seeds += replay(GetParam(), root / GetParam().more);
    EXPECT_GT(regressions + seeds, 0u) << "no saved inputs for " << GetParam().name;
    std::printf("%s: %zu regressions, %zu seeds replayed\n", GetParam().name, regressions, seeds);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(targets),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
