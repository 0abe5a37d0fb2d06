// tools/starc: `starc compile` (compile_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct CompileCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*compile.app) return compile.run();`
  std::function<int()> run;  // never throws; returns the exit code (0, or 1 on any error)
};

CompileCommand add_compile_command(CLI::App& app);

}  // namespace starc
