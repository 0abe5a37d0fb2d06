// tools/starc: `starc explain` (explain_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct ExplainCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*ex.app) return ex.run();`
  std::function<int()> run;  // never throws; returns the exit code (0, or 1 on an error)
};

ExplainCommand add_explain_command(CLI::App& app);

}  // namespace starc
