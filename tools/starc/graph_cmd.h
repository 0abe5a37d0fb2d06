// tools/starc: `starc graph` (graph_cmd.cpp).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct GraphCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*graph.app) return graph.run();`
  std::function<int()> run;  // throws cli::CliError on bad input; returns the exit code
};

GraphCommand add_graph_command(CLI::App& app);

}  // namespace starc
