// tools/starc: `starc repl` (repl_cmd.cpp; the session itself is repl_session.h).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct ReplCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*repl.app) return repl.run();`
  std::function<int()> run;  // never throws; returns the exit code
};

ReplCommand add_repl_command(CLI::App& app);

}  // namespace starc
