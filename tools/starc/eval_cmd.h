// tools/starc: `starc eval` (eval_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct EvalCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*eval.app) return eval.run();`
  std::function<int()> run;  // never throws; returns the exit code (0, or 1 on an error)
};

EvalCommand add_eval_command(CLI::App& app);

}  // namespace starc
