// tools/starc: `starc opt` (opt_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct OptCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*opt.app) return opt.run();`
  std::function<int()> run;  // throws cli::CliError on bad input; returns the exit code
};

OptCommand add_opt_command(CLI::App& app);

}  // namespace starc
