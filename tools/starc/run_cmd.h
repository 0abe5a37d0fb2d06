// tools/starc: `starc check`, `params`, `init`, `run` and `ops` (run_cmd.cpp): checking
// .net files, a model's parameters, its initial weights and its forward pass, and the
// primitive op table.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

// One of these subcommands.
struct ModelCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*run.app) return run.run();`
  std::function<int()> run;  // throws cli::CliError on bad input; returns the exit code
};

ModelCommand add_check_command(CLI::App& app);
ModelCommand add_params_command(CLI::App& app);
ModelCommand add_summary_command(CLI::App& app);  // `starc summary`
ModelCommand add_init_command(CLI::App& app);
ModelCommand add_run_command(CLI::App& app);
ModelCommand add_ops_command(CLI::App& app);

}  // namespace starc
