// tools/starc: `starc import`: a thin client of runtime/onnx/onnx_import.h.
#include "tools/starc/import_cmd.h"

#include <fmt/format.h>

#include "runtime/onnx/onnx_import.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

struct Options {
  std::string file, out, name;
  std::vector<std::string> dims;
  bool ops = false;
};

OnnxImportOptions import_options(const Options& o) {
  OnnxImportOptions opts;
  opts.model_name = o.name;
  for (const std::string& d : o.dims) {
    size_t eq = d.find('=');
    try {
      size_t used = 0;
      int64_t n = eq == std::string::npos ? 0 : std::stoll(d.substr(eq + 1), &used);
      if (eq == std::string::npos || eq == 0 || used != d.size() - eq - 1) throw std::invalid_argument("");
      opts.dims[d.substr(0, eq)] = n;
    } catch (const std::exception&) {
      throw cli::CliError(fmt::format("--dim {}: expected NAME=SIZE, e.g. --dim B=8", d));
    }
  }
  return opts;
}

int run(const Options& o) {
  if (o.ops) {
    fmt::print("{}", onnx_import_table_markdown());
    return 0;
  }
  if (o.file.empty() || o.out.empty()) throw cli::CliError("import: usage: starc import MODEL.onnx -o DIR");
  std::string source;
  try {
    source = import_onnx_to_dir(o.file, o.out, import_options(o));
  } catch (const std::runtime_error& e) {
    std::string what = e.what();  // the library's option, as this command's flag
    for (size_t at; (at = what.find("(dims ")) != std::string::npos;) what.replace(at, 6, "(--dim ");
    throw cli::CliError(what);
  }
  fmt::print("wrote {} and {}/weights.npz\n", source, o.out);
  return 0;
}

}  // namespace

ImportCommand add_import_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  ImportCommand c;
  c.app = app.add_subcommand("import", "Import an ONNX model as a .net model and its weights");
  c.app->add_option("file", o->file, "the .onnx file");
  c.app->add_option("-o,--out", o->out, "the folder to write <Name>.net and weights.npz into");
  c.app->add_option("--name", o->name, "the model's name (default: from the file name, e.g. PhotozMlp)");
  c.app->add_option("--dim", o->dims, "NAME=SIZE: give a dynamic input dim a fixed size (repeatable), e.g. B=8");
  c.app->add_flag("--ops", o->ops, "print the ONNX operators starc imports and what each becomes (markdown)");
  c.run = [o] { return run(*o); };
  return c;
}

}  // namespace starc
