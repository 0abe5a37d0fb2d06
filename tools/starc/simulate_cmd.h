// tools/starc: `starc simulate` (simulate_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct SimulateCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*simulate.app) return simulate.run();`
  std::function<int()> run;  // never throws; returns the exit code (0, or 1 on an error)
};

SimulateCommand add_simulate_command(CLI::App& app);

}  // namespace starc
