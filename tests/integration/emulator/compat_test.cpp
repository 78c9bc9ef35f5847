// Runs compat_test.sh: the real `nubefact emulator` binary answering every official request (curl + httpx).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

TEST(emulator_compat, official_requests_with_curl_and_httpx) {
    const char* bin = std::getenv("NUBEFACT_BINARY");
    const char* src = std::getenv("NUBEFACT_SOURCE_DIR");
    if (!bin || !src || !std::filesystem::exists(bin)) GTEST_SKIP() << "nubefact binary not built";
    if (std::system("/usr/bin/python3 -c 'import httpx' >/dev/null 2>&1") != 0 ||
        std::system("command -v curl >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "curl or Debian python3-httpx missing";
    std::string cmd =
        "timeout 120 bash " + std::string(src) + "/tests/integration/emulator/compat_test.sh " + bin;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}
