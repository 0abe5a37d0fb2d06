// tools/starc: `starc import`: a thin client of runtime/onnx/onnx_import.h.
#include "tools/starc/import_cmd.h"

#include <fmt/format.h>

#include "runtime/onnx/onnx_import.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

struct Options {
  std::string file, out, name;
};

int run(const Options& o) {
  std::string source;
  try {
    source = import_onnx_to_dir(o.file, o.out, {.model_name = o.name});
  } catch (const std::runtime_error& e) {
    throw cli::CliError(e.what());
  }
  fmt::print("wrote {} and {}/weights.npz\n", source, o.out);
  return 0;
}

}  // namespace

ImportCommand add_import_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  ImportCommand c;
  c.app = app.add_subcommand("import", "Import an ONNX model as a .net model and its weights");
  c.app->add_option("file", o->file, "the .onnx file")->required();
  c.app->add_option("-o,--out", o->out, "the folder to write <Name>.net and weights.npz into")->required();
  c.app->add_option("--name", o->name, "the model's name (default: from the file name, e.g. PhotozMlp)");
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace starc
