// The `nubefact` binary: builds the CLI11 app from the registered subcommands and runs one.
#include "command.hpp"

#include <nubefact/version.hpp>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>

namespace nubefact::cli {
std::vector<command>& registry() {
    static std::vector<command> r;
    return r;
}
}  // namespace nubefact::cli

int main(int argc, char** argv) {
    using namespace nubefact::cli;
    // Log lines (store and client warnings) go to stderr: stdout carries only the summary or --json.
    spdlog::set_default_logger(spdlog::stderr_color_mt("nubefact"));
    CLI::App app{
        "nubefact: validate, complete and send electronic invoices through the Nubefact JSON API\n"
        "(facturas, boletas, notas, anulaciones, guías), with a local emulator.\n\n"
        "Exit codes: 0 success, 1 some documents invalid/rejected/failed, 2 usage or input error.",
        "nubefact"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "nubefact " NUBEFACT_VERSION);
    auto cmds = registry();
    std::stable_sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.order < b.order; });
    std::function<int()> run;
    for (auto& c : cmds) {
        CLI::App* sub = app.add_subcommand(c.name, c.description);
        auto fn = c.setup(*sub);
        sub->callback([&run, fn] { run = fn; });
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? exit_ok : exit_usage;
    }
    try {
        return run ? run() : exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "nubefact: error: " << e.what() << "\n";
        return exit_usage;
    }
}
