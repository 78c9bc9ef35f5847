// Shared helpers of the codec tests: locating and reading the official example files.
#pragma once

#include <nubefact/finding.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nubefact::test {

inline std::filesystem::path examples_dir() {
    if (const char* env = std::getenv("NUBEFACT_EXAMPLES_DIR")) return env;
    return std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "data" / "official";
}

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::vector<std::filesystem::path> example_files() {
    std::vector<std::filesystem::path> v;
    for (const auto& e : std::filesystem::directory_iterator(examples_dir()))
        if (e.path().extension() == ".json") v.push_back(e.path());
    std::sort(v.begin(), v.end());
    return v;
}

inline std::string dump(const std::vector<finding>& fs) {
    std::string s;
    for (const auto& f : fs) {
        s += (f.level == severity::error ? "E " : "W ") + f.path + " [" + f.code + "] " + f.message;
        if (!f.actual.empty()) s += " (actual: " + f.actual + ")";
        s += "\n";
    }
    return s;
}

// The first finding with that path, or nullptr.
inline const finding* find_at(const std::vector<finding>& fs, const std::string& path) {
    for (const auto& f : fs)
        if (f.path == path) return &f;
    return nullptr;
}

}  // namespace nubefact::test
