// tools/starc: `starc gradcheck` (gradcheck_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct GradcheckCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*gc.app) return gc.run();`
  std::function<int()> run;  // never throws; returns the exit code (0 pass, 1 fail or error)
};

GradcheckCommand add_gradcheck_command(CLI::App& app);

}  // namespace starc
