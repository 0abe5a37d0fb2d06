// tools/starc: `starc import model.onnx -o DIR`: an ONNX model as DIR/<Name>.net and
// DIR/weights.npz (runtime/onnx/onnx_import.h, docs/onnx.md).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct ImportCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*imp.app) return imp.run();`
  std::function<int()> run;  // throws cli::CliError on bad input; returns the exit code
};

ImportCommand add_import_command(CLI::App& app);

}  // namespace starc
