// Subcommand registry: each cmd_<name>.cpp registers itself; main.cpp builds the CLI from it.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace nubefact::cli {

// Exit codes shared by every subcommand (documented in README and --help).
inline constexpr int exit_ok = 0;      // everything succeeded / valid / accepted
inline constexpr int exit_failed = 1;  // some documents invalid, rejected or failed
inline constexpr int exit_usage = 2;   // bad usage or unreadable input

// setup() adds the subcommand's options to `sub` and returns the function to run when chosen;
// that function returns the process exit code.
using setup_fn = std::function<std::function<int()>(CLI::App& sub)>;

struct command {
    std::string name;
    std::string description;
    setup_fn setup;
    int order = 100;  // position in --help
};

std::vector<command>& registry();

struct registrar {
    explicit registrar(command c) { registry().push_back(std::move(c)); }
};

}  // namespace nubefact::cli
