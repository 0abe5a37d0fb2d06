// tools/starc: `starc export`: the model's forward pass (inference mode, after the passes
// of `starc run`) and its weights as an ONNX file for ONNX Runtime and other ONNX tools
// (runtime/onnx/onnx_export.h; docs/onnx.md). --ops prints what each op becomes.
#include "tools/starc/export_cmd.h"

#include <fmt/format.h>

#include "runtime/memory_limit.h"
#include "runtime/onnx/onnx_export.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

using cli::CliError;

struct Options {
  std::string file, model, weights, out, batch = "dynamic";
  uint64_t seed = 0;
  int opset = kOnnxMaxOpset;
  bool allow_random = false, ops = false;
};

// The library's parameters as this command's flags, for its error messages.
const std::map<std::string, std::string> kFlags = {
    {"batch", "--batch"}, {"opset", "--opset"}, {"random_ops", "--allow-random"}};

OnnxExportOptions export_options(const Options& o) {
  OnnxExportOptions e;
  e.opset = o.opset;
  e.random_ops = o.allow_random;
  if (o.batch != "dynamic") try {
      size_t used = 0;
      e.batch = std::stoll(o.batch, &used);
      if (used != o.batch.size() || *e.batch < 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw CliError(fmt::format("--batch {}: expected a positive integer or 'dynamic'", o.batch));
    }
  return e;
}

int run(const Options& o) {
  if (o.ops) {
    fmt::print("{}", onnx_op_table_markdown());
    return 0;
  }
  if (o.file.empty() || o.out.empty()) throw CliError("export: usage: starc export FILE.net -o MODEL.onnx");
  OnnxExportOptions e = export_options(o);
  try {
    check_onnx_export_options(e);  // before loading the model and its weights
  } catch (const OnnxExportError& err) {
    throw CliError(err.worded(kFlags));
  }
  auto l = cli::load_program(o.file);
  std::string model = cli::pick_model(*l, o.file, o.model);
  Graph g = cli::build_graph(*l, model);  // inference mode, as `starc run`
  TensorMap weights = cli::weights_or_init(g, o.weights, o.seed);
  OnnxExportResult r;
  try {
    r = export_onnx_file(o.out, g, weights, e);
  } catch (const OnnxExportError& err) {
    throw CliError(err.worded(kFlags));
  }
  fmt::print("wrote {}: model {}, opset {}, {} nodes, {} initializers ({})\n", o.out, model, e.opset, r.nodes,
             r.initializers, format_bytes(r.initializer_bytes));
  for (const std::string& in : r.inputs) fmt::print("  input  {}\n", in);
  for (const std::string& out : r.outputs) fmt::print("  output {}\n", out);
  return 0;
}

}  // namespace

ExportCommand add_export_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  ExportCommand c;
  c.app = app.add_subcommand("export", "Export a model's forward pass and weights as an ONNX file");
  c.app->add_option("file", o->file, "the .net file")->check(CLI::ExistingFile);
  c.app->add_option("--model,-m", o->model, "the model (default: the only model in the file)");
  c.app->add_option("--weights,-w", o->weights, "weights .npz (default: initialise with --seed)");
  c.app->add_option("--seed", o->seed, "seed for initial weights when --weights is not given (default 0)");
  c.app->add_option("-o,--out", o->out, "the .onnx file to write");
  c.app->add_option("--batch", o->batch,
                    "dynamic (default: symbolic dims such as B stay dynamic axes) or N (fixed to N)");
  c.app->add_option("--opset", o->opset,
                    fmt::format("the ONNX opset, {} to {} (default {})", kOnnxMinOpset, kOnnxMaxOpset, kOnnxMaxOpset));
  c.app->add_flag("--allow-random", o->allow_random,
                  "export random_normal/random_uniform as ONNX's RandomNormalLike/RandomUniformLike (other "
                  "numbers than starc's); refused otherwise");
  c.app->add_flag("--ops", o->ops, "print what each primitive op becomes in ONNX (a markdown table) and exit");
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
