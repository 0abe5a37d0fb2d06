// tools/starc: `starc export FILE.net -o model.onnx`: a model's forward pass as an ONNX
// model with its weights (runtime/onnx/onnx_export.h, docs/onnx.md).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace starc {

struct ExportCommand {
  CLI::App* app = nullptr;   // the subcommand: `if (*exp.app) return exp.run();`
  std::function<int()> run;  // throws cli::CliError on bad input; returns the exit code
};

ExportCommand add_export_command(CLI::App& app);

}  // namespace starc
