// tools/starc: `starc convert` (convert_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct ConvertCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*c.app) return c.run();`
  std::function<int()> run;  // never throws; returns the exit code (0 ok, 1 error)
};

ConvertCommand add_convert_command(CLI::App& app);

}  // namespace starc
