// tools/starc: `starc train` (train_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct TrainCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*train.app) return train.run();`
  std::function<int()> run;  // never throws; returns the exit code (0, 1, or 130 when interrupted)
};

// Registers `train` on `app`. argc/argv are kept to print the command that resumes an
// interrupted run.
TrainCommand add_train_command(CLI::App& app, int argc, char** argv);

}  // namespace starc
