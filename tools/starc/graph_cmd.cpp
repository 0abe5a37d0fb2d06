// tools/starc: `starc graph FILE.net --emit WHAT`: what a pipeline stage produced: the
// AST, the Graph IR (with gradients, or after the passes with the CPU code's kernels and
// memory plan), Graphviz dot, or the MLIR, LLVM IR or PTX the JIT compiles.
#include "tools/starc/graph_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>

#include "compiler/autodiff/autodiff.h"
#include "compiler/driver/driver.h"
#include "compiler/ir/sym_dim.h"
#include "compiler/ir/text.h"
#include "compiler/backend/cpu/jit.h"
#include "compiler/ops/builder.h"
#include "compiler/opt/passes.h"
#include "dsl/ast_print.h"
#include "runtime/memory_limit.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

using cli::build_graph;
using cli::CliError;
using cli::fail_with_diags;
using cli::Loaded;

struct Options {
  std::string file, model, emit = "graph";
  int64_t batch = 1;
  std::vector<std::string> dims;  // --dim L=4618
  std::vector<std::string> disabled_passes;
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
};

// --emit grad: the training step graphs when the model has a `train` block (forward,
// gradients and optimizer update); otherwise the model in training mode with the
// gradients of sum(outputs) w.r.t. its trainable parameters and float inputs appended,
// returned as `d_NAME`.
int print_gradients(Loaded& l, const std::string& model) {
  auto trained = l.prog.trained_models();
  if (std::find(trained.begin(), trained.end(), model) != trained.end()) {
    std::optional<TrainPlan> plan = l.prog.build_train(model);
    if (!plan) fail_with_diags(l.diags);
    for (auto& step : plan->steps) fmt::print("# train step '{}'\n{}", step.name, print_graph(step.graph));
    return 0;
  }
  Graph g = build_graph(l, model, true);
  NamedGradients grads = append_input_and_param_gradients(g);
  g.outputs.insert(g.outputs.end(), grads.ids.begin(), grads.ids.end());
  g.output_names.insert(g.output_names.end(), grads.names.begin(), grads.names.end());
  fmt::print("{}", print_graph(g));
  return 0;
}

// What the CPU code of an optimized graph does at the given batch: its kernels (fused
// loop nests and kernel-library calls, with the nodes each computes) and its memory plan.
void print_cpu_plan(const Graph& opt, int64_t batch) {
  CompileOptions lower_only;
  lower_only.optimize = false;  // keeps the node ids of `opt`, which the kernels name
  Compilation c = compile(opt, std::vector<Dim>(opt.symbols.size(), batch), lower_only, Stage::Mlir);
  const Graph& concrete = c.optimized;
  CpuPlan plan = plan_cpu(c.mlir, true);
  auto op_of = [&](const std::string& name) -> std::string {  // "%7" -> "relu"; scan bodies: "%7/3" -> "scan/3"
    size_t slash = name.find('/');
    int id = std::stoi(name.substr(1, slash == std::string::npos ? std::string::npos : slash - 1));
    if (id < 0 || id >= int(concrete.nodes.size())) return "?";
    return concrete.nodes[id].op->name + (slash == std::string::npos ? "" : name.substr(slash));
  };
  fmt::print("# CPU code{}: {} kernels (loop nests after elementwise fusion, kernel-library calls)\n",
             opt.symbols.empty() ? "" : fmt::format(" at {}={} (--batch)", opt.symbols[0], batch), plan.kernels.size());
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    const CpuPlan::Kernel& k = plan.kernels[i];
    std::vector<std::string> parts;
    for (auto& n : k.nodes) parts.push_back(n + " " + op_of(n));
    fmt::print("#   {:>3}. {:<24} {}\n", i + 1, k.what, fmt::join(parts, ", "));
  }
  fmt::print(
      "# memory plan: arguments (inputs, parameters, outputs) {}; {} temporaries, at most {} alive at once "
      "({} if each lived to the end{})\n",
      format_bytes(plan.argument_bytes), plan.temporaries, format_bytes(plan.temporary_peak_bytes),
      format_bytes(plan.temporary_total_bytes),
      plan.kept_to_end ? fmt::format("; {} held to the end", plan.kept_to_end) : "");
}

int cmd_graph(const Options& a) {
  const std::string& emit = a.emit;
  const int64_t batch = a.batch;
  const OptOptions passes({a.disabled_passes.begin(), a.disabled_passes.end()}, a.conv_algo);
  auto l = cli::load_program(a.file);
  if (emit == "ast") {
    fmt::print("{}", print_ast(l->prog.modules()[0], l->sm));
    return 0;
  }
  const std::string model = cli::pick_model(*l, a.file, a.model);
  if (emit == "grad") return print_gradients(*l, model);
  Graph g = build_graph(*l, model);
  if (emit == "opt") {  // what the passes did, then the graph the JIT lowers
    auto print_optimized = [&](const Graph& graph) {
      CompileOptions o;
      o.passes = passes;
      Compilation c = compile(graph, o, Stage::Opt);
      for (auto& r : c.report) fmt::print("# {}\n", describe(r));
      for (const std::string& name : pass_names())  // in pipeline order
        if (passes.disabled.count(name)) fmt::print("# pass {}: disabled\n", name);
      fmt::print("{}", print_graph(c.optimized));
      print_cpu_plan(c.optimized, batch);
    };
    print_optimized(g);
    // A trained model: its training steps too (forward, gradients and update, as the
    // trainer compiles them).
    auto trained = l->prog.trained_models();
    if (std::find(trained.begin(), trained.end(), model) != trained.end()) {
      std::optional<TrainPlan> plan = l->prog.build_train(model);
      if (!plan) fail_with_diags(l->diags);
      for (auto& step : plan->steps) {
        fmt::print("\n# train step '{}'\n", step.name);
        print_optimized(step.graph);
      }
    }
    return 0;
  }
  if (emit == "mlir" || emit == "llvm" || emit == "ptx") {
    // The JIT compiles per concrete shape: symbolic dims take --dim, the others --batch.
    CompileOptions o;
    o.device = a.device;
    o.passes = passes;
    Stage stage = emit == "ptx" ? Stage::Ptx : emit == "llvm" ? Stage::Llvm : Stage::Mlir;
    std::vector<Dim> values = symbol_values(g.symbols, batch, cli::parse_dims(a.dims));
    check_bound_shapes(g, values);
    Compilation c = compile(g, values, o, stage);
    if (stage == Stage::Ptx)
      for (const PtxModule& m : c.ptx) fmt::print("// ---- kernel module {}\n{}\n", m.name, m.ptx);
    else
      fmt::print("{}", stage == Stage::Mlir ? c.mlir : c.llvm);
    return 0;
  }
  if (emit == "graph")
    fmt::print("{}", print_graph(g));
  else if (emit == "dot")
    fmt::print("{}", to_dot(g));
  return 0;
}

}  // namespace

GraphCommand add_graph_command(CLI::App& app) {
  auto a = std::make_shared<Options>();
  auto* graph = app.add_subcommand("graph", "Print what a pipeline stage produced");
  graph->add_option("file", a->file, "the .net file")->required()->check(CLI::ExistingFile);
  graph->add_option("--model,-m", a->model, "the model to use (default: the only model in the file)");
  graph->add_option("--emit", a->emit, "ast | graph | grad | opt | dot | mlir | llvm | ptx (the GPU kernels)")
      ->check(CLI::IsMember({"ast", "graph", "grad", "opt", "dot", "mlir", "llvm", "ptx"}));
  graph
      ->add_option("--disable-pass", a->disabled_passes,
                   "opt/mlir/llvm: skip a graph pass (simplify, fold, cse, dce, conv_algo); repeatable")
      ->check(CLI::IsMember(pass_names()));
  cli::check_int_range(
      graph->add_option("--batch", a->batch, "mlir/llvm: the value of symbolic dims such as the batch B (default 1)"),
      1, INT32_MAX);
  graph->add_option("--dim", a->dims, "mlir/llvm/ptx: NAME=N, the value of one symbolic dim (repeatable)");
  cli::add_conv_algo_option(graph, &a->conv_algo);
  cli::add_device_option(graph, &a->device);
  return {graph, [a] { return cmd_graph(*a); }};
}

}  // namespace starc
