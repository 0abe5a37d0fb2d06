// tools/starc: `starc weights list|diff|extract|convert` (weights_cmd.cpp, docs/weights.md).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct WeightsCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*weights.app) return weights.run();`
  std::function<int()> run;  // throws cli::CliError on bad input; returns the exit code
};

WeightsCommand add_weights_command(CLI::App& app);

}  // namespace starc
