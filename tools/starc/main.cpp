// tools/starc: the `starc` command. Each subcommand is a thin layer over the pipeline:
// dsl (load, check, build Graph) -> compiler (print) -> runtime (init, run, I/O).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <set>

#include "compiler/driver/driver.h"
#include "compiler/autodiff/autodiff.h"
#include "compiler/graph/text.h"
#include "compiler/ops/builder.h"
#include "compiler/ops/op.h"
#include "dsl/ast_print.h"
#include "dsl/program.h"
#include "compiler/lower/emit.h"
#include "compiler/lower/jit.h"
#include "runtime/init.h"
#include "runtime/jit_executor.h"
#include "runtime/npy.h"
#include "runtime/tensor_file.h"
#include "tools/starc/gradcheck_cmd.h"
#include "tools/starc/explain_cmd.h"
#include "compiler/opt/passes.h"
#include "tools/starc/cli_common.h"
#include "tools/starc/compile_cmd.h"
#include "tools/starc/convert_cmd.h"
#include "tools/starc/eval_cmd.h"
#include "tools/starc/opt_cmd.h"
#include "tools/starc/repl_cmd.h"
#include "tools/starc/simulate_cmd.h"
#include "tools/starc/train_cmd.h"

namespace fs = std::filesystem;
using namespace starc;

namespace {

using cli::build_graph;
using cli::CliError;
using cli::fail_with_diags;
using cli::Loaded;
using cli::name_paths;

int cmd_check(const std::vector<std::string>& files) {
  int failed = 0;
  for (auto& f : files) {
    Loaded l;
    bool ok = l.prog.load_file(f) && l.prog.check_all();
    if (!ok) {
      cli::print_diags(l.diags);
      ++failed;
      continue;
    }
    auto models = l.prog.model_names();
    fmt::print("{}: ok ({} model{}{})\n", f, models.size(), models.size() == 1 ? "" : "s",
               models.empty() ? "" : fmt::format(": {}", fmt::join(models, ", ")));
  }
  if (failed)
    throw CliError(fmt::format("{} of {} file{} failed to check", failed, files.size(), files.size() == 1 ? "" : "s"));
  return 0;
}

int cmd_params(const std::string& file, const std::string& model) {
  auto l = cli::load_program(file);
  Graph g = build_graph(*l, model);
  int64_t total = 0, trainable = 0;
  size_t width = 4;
  for (int id : g.params()) width = std::max(width, attr_str(g.node(id).attrs, "name").size());
  for (int id : g.params()) {
    const Node& n = g.node(id);
    int64_t count = num_elements(n.type.shape);
    bool train = attr_bool(n.attrs, "trainable");
    fmt::print("{:<{}}  {:<20}  {:>10}{}\n", attr_str(n.attrs, "name"), width, type_str(n.type), count,
               train ? "" : "  (state)");
    total += count;
    if (train) trainable += count;
  }
  fmt::print("total: {} parameters ({} trainable) in {} tensors\n", total, trainable, g.params().size());
  return 0;
}

int cmd_init(const std::string& file, const std::string& model, uint64_t seed, const std::string& out) {
  auto l = cli::load_program(file);
  Graph g = build_graph(*l, model);
  write_npz(out, init_params(g, seed));
  fmt::print("wrote {} parameter tensors to {}\n", g.params().size(), out);
  return 0;
}

struct RunArgs {
  std::vector<std::string> ins, outs;
  std::string weights, backend = "jit";
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
  std::string gpu_weights = "f32";
  uint64_t seed = 0;
  bool timings = false;
  int repeat = 1, threads = default_threads();
};

int cmd_run(const std::string& file, const std::string& model, const RunArgs& a) {
  auto l = cli::load_program(file);
  Graph g = build_graph(*l, model);
  std::vector<std::string> in_names;
  for (size_t i = 0; i < g.inputs.size(); ++i) in_names.push_back(g.input_name(int(i)));
  auto in_paths = name_paths(a.ins, in_names, "--in", "input");
  std::vector<Tensor> inputs;
  for (auto& name : in_names) {
    auto it = in_paths.find(name);
    if (it == in_paths.end())
      throw CliError(fmt::format("missing input '{}' ({}): pass --in {}=FILE.npy", name,
                                 type_str(g.type(g.inputs[inputs.size()]), &g.symbols), name));
    inputs.push_back(cli::read_model_input("--in", name, it->second, g.type(g.inputs[inputs.size()]), &g.symbols));
  }
  TensorMap params = cli::weights_or_init(g, a.weights, a.seed);
  std::vector<Tensor> results;
  if (a.backend == "ref" && a.device == Device::Cuda) throw CliError("--device cuda needs --backend jit");
  if (a.gpu_weights != "f32" && a.device != Device::Cuda)
    throw CliError(fmt::format("--gpu-weights {} needs --device cuda", a.gpu_weights));
  if (a.backend == "ref") {
    if (a.timings)
      fmt::print(stderr, "note: --timings reports the JIT's compile and run times; --backend ref has none\n");
    for (int r = 0; r < a.repeat; ++r) results = run_graph(g, inputs, params, RunOptions{a.seed});
  } else {
    bind_symbols(g, inputs);  // input errors name the input before any compilation
    JitExecutor jit(JitOptions{.passes = OptOptions({}, a.conv_algo),
                               .threads = a.threads,
                               .device = a.device,
                               .weights = parse_weight_storage(a.gpu_weights)},
                    default_cache_dir());
    for (int r = 0; r < a.repeat; ++r) {
      results = jit.run(g, inputs, params, a.seed);
      if (a.timings) fmt::print(stderr, "timings run {}: {}\n", r + 1, format_timings(jit.last_stats()));
    }
  }
  auto out_paths = name_paths(a.outs, g.output_names, "--out", "output");
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string& name = g.output_names[i];
    if (auto it = out_paths.find(name); it != out_paths.end()) {
      write_npy(it->second, results[i]);
      fmt::print("{}: {} -> {}\n", name, type_str(results[i].type()), it->second);
    } else {
      fmt::print("{}: {}\n", name, cli::tensor_summary(results[i]));
    }
  }
  return 0;
}

std::string attr_default(const AttrSpec& s) {
  if (!s.default_value) return "required";
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>)
          return fmt::format("{}", v);
        else if constexpr (std::is_same_v<T, bool>)
          return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>)
          return fmt::format("\"{}\"", v);
        else if constexpr (std::is_same_v<T, Ints> || std::is_same_v<T, Floats>)
          return fmt::format("[{}]", fmt::join(v, ", "));
        else if constexpr (std::is_same_v<T, DType>)
          return std::string(dtype_name(v));
        else
          return "?";
      },
      *s.default_value);
}

// `starc ops`: the primitive op table, as markdown (docs/language.md embeds it).
int cmd_ops() {
  fmt::print("| op | tensor inputs | arguments (default) | meaning |\n|---|---|---|---|\n");
  for (const OpDef* op : all_ops()) {
    if (op->name == "input" || op->name == "param" || op->name == "const") continue;
    std::vector<std::string> attrs;
    for (auto& a : op->attrs)
      attrs.push_back(fmt::format("{}: {} ({})", a.name, attr_kind_name(a.kind), attr_default(a)));
    fmt::print("| `{}` | {}{} | {} | {} |\n", op->name, fmt::join(op->inputs, ", "), op->variadic ? "..." : "",
               fmt::join(attrs, "; "), op->doc);
  }
  return 0;
}

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
  GraphBuilder b(g);
  int y = sum_of_float_outputs(b);
  if (y < 0) throw CliError(fmt::format("model '{}' has no float output to differentiate", model));
  std::vector<int> wrt;
  std::vector<std::string> names;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (is_float(g.type(g.inputs[i]).dtype)) wrt.push_back(g.inputs[i]), names.push_back("d_" + g.input_name(int(i)));
  for (int p : g.params())
    if (attr_bool(g.node(p).attrs, "trainable"))
      wrt.push_back(p), names.push_back("d_" + attr_str(g.node(p).attrs, "name"));
  std::vector<int> grads = append_gradients(g, y, wrt);
  g.outputs.insert(g.outputs.end(), grads.begin(), grads.end());
  g.output_names.insert(g.output_names.end(), names.begin(), names.end());
  fmt::print("{}", print_graph(g));
  return 0;
}

std::string bytes_str(int64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  if (b < 1024 * 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{:.1f} MiB", b / (1024.0 * 1024.0));
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
      bytes_str(plan.argument_bytes), plan.temporaries, bytes_str(plan.temporary_peak_bytes),
      bytes_str(plan.temporary_total_bytes),
      plan.kept_to_end ? fmt::format("; {} held to the end", plan.kept_to_end) : "");
}

int cmd_graph(const std::string& file, const std::string& model, const std::string& emit, int64_t batch,
              const OptOptions& passes, Device device) {
  auto l = cli::load_program(file);
  if (emit == "ast") {
    fmt::print("{}", print_ast(l->prog.modules()[0], l->sm));
    return 0;
  }
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
    // The JIT compiles per concrete shape: symbolic dims (the batch) take --batch.
    CompileOptions o;
    o.device = device;
    o.passes = passes;
    Stage stage = emit == "ptx" ? Stage::Ptx : emit == "llvm" ? Stage::Llvm : Stage::Mlir;
    Compilation c = compile(g, std::vector<Dim>(g.symbols.size(), batch), o, stage);
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

// The options of the subcommands defined in this file.
struct BuiltinArgs {
  std::vector<std::string> files;  // check
  std::string file, model, out, emit = "graph";
  uint64_t seed = 0;
  int64_t batch = 1;
  RunArgs run;
  std::vector<std::string> disabled_passes;
  ConvAlgo graph_conv_algo = ConvAlgo::Auto;
  Device graph_device = Device::Cpu;
};

// The subcommands defined in this file.
struct Builtins {
  CLI::App *check, *params, *init, *run, *graph, *ops;
};

// FILE and --model, the arguments of every command that works on one model.
void add_model_args(CLI::App* c, BuiltinArgs& a) {
  c->add_option("file", a.file, "the .net file")->required()->check(CLI::ExistingFile);
  c->add_option("--model,-m", a.model, "the model to use (default: the only model in the file)");
}

CLI::App* add_check(CLI::App& app, BuiltinArgs& a) {
  auto* check = app.add_subcommand("check", "Parse and type/shape-check .net files (exit 1 on errors)");
  check->add_option("files", a.files, "the .net files")->required()->check(CLI::ExistingFile);
  return check;
}

CLI::App* add_params(CLI::App& app, BuiltinArgs& a) {
  auto* params = app.add_subcommand("params", "List a model's parameters: dotted name, shape, count, total");
  add_model_args(params, a);
  return params;
}

CLI::App* add_init(CLI::App& app, BuiltinArgs& a) {
  auto* init = app.add_subcommand("init", "Write a model's initial parameters to an .npz");
  add_model_args(init, a);
  init->add_option("--seed", a.seed, "random seed (default 0)");
  init->add_option("-o,--output", a.out, "output .npz")->required();
  return init;
}

CLI::App* add_run(CLI::App& app, BuiltinArgs& a) {
  RunArgs& r = a.run;
  auto* run = app.add_subcommand("run", "Run a model's forward pass on .npy inputs");
  add_model_args(run, a);
  run->add_option("--in", r.ins, "an input: NAME=FILE.npy (or FILE.npy when the model has one input)")->take_all();
  run->add_option("--weights,-w", r.weights, "weights .npz (default: initialise with --seed)");
  run->add_option("--seed", r.seed, "seed for initialisation and random ops (default 0)");
  run->add_option("--out", r.outs, "where to write an output: FILE.npy or NAME=FILE.npy (default: print a summary)")
      ->take_all();
  run->add_option("--backend", r.backend,
                  "executor: jit (native code through MLIR, default) or ref (reference interpreter)")
      ->check(CLI::IsMember({"ref", "jit"}));
  run->add_flag("--timings", r.timings, "print compile and run times (JIT) to stderr");
  cli::add_conv_algo_option(run, &r.conv_algo);
  cli::add_device_option(run, &r.device);
  cli::add_max_memory_option(run);
  run->add_option("--gpu-weights", r.gpu_weights,
                  "with --device cuda: store f32 weights on the GPU as f32 (default), f16 or bf16; every op still "
                  "computes and accumulates in f32")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  cli::check_int_range(
      run->add_option("--threads", r.threads, "JIT: threads for the generated code (default: all cores)"), 1,
      cli::kMaxThreads);
  cli::check_int_range(
      run->add_option("--repeat", r.repeat,
                      "run the forward pass N times (the first compiles; timing the rest shows the cache)"),
      1, INT32_MAX);
  return run;
}

CLI::App* add_graph(CLI::App& app, BuiltinArgs& a) {
  auto* graph = app.add_subcommand("graph", "Print what a pipeline stage produced");
  add_model_args(graph, a);
  graph->add_option("--emit", a.emit, "ast | graph | grad | opt | dot | mlir | llvm | ptx (the GPU kernels)")
      ->check(CLI::IsMember({"ast", "graph", "grad", "opt", "dot", "mlir", "llvm", "ptx"}));
  graph
      ->add_option("--disable-pass", a.disabled_passes,
                   "opt/mlir/llvm: skip a graph pass (simplify, fold, cse, dce, conv_algo); repeatable")
      ->check(CLI::IsMember(pass_names()));
  cli::check_int_range(
      graph->add_option("--batch", a.batch, "mlir/llvm: the value of symbolic dims such as the batch B (default 1)"), 1,
      INT32_MAX);
  cli::add_conv_algo_option(graph, &a.graph_conv_algo);
  cli::add_device_option(graph, &a.graph_device);
  return graph;
}

// In the order `starc --help` lists them.
Builtins add_builtins(CLI::App& app, BuiltinArgs& a) {
  Builtins b;
  b.check = add_check(app, a);
  b.params = add_params(app, a);
  b.init = add_init(app, a);
  b.run = add_run(app, a);
  b.graph = add_graph(app, a);
  b.ops = app.add_subcommand("ops", "List the primitive ops with their inputs, arguments and defaults");
  return b;
}

// The subcommands defined in their own files (after the built-in ones in --help).
struct Commands {
  TrainCommand train;
  GradcheckCommand gradcheck;
  ExplainCommand explain;
  CompileCommand compile;
  EvalCommand eval;
  ReplCommand repl;
  ConvertCommand convert;
  SimulateCommand simulate;
  OptCommand opt;
};

Commands add_commands(CLI::App& app, int argc, char** argv) {
  Commands c;
  c.train = add_train_command(app, argc, argv);
  c.gradcheck = add_gradcheck_command(app);
  c.explain = add_explain_command(app);
  c.compile = add_compile_command(app);
  c.eval = add_eval_command(app);
  c.repl = add_repl_command(app);
  c.convert = add_convert_command(app);
  c.simulate = add_simulate_command(app);
  c.opt = add_opt_command(app);
  return c;
}

// Runs the subcommand given; 1 if none matched.
int dispatch(const Builtins& b, const Commands& c, BuiltinArgs& a) {
  if (*b.check) return cmd_check(a.files);
  if (*b.ops) return cmd_ops();
  if (*c.train.app) return c.train.run();
  if (*c.gradcheck.app) return c.gradcheck.run();
  if (*c.explain.app) return c.explain.run();
  if (*c.compile.app) return c.compile.run();
  if (*c.eval.app) return c.eval.run();
  if (*c.repl.app) return c.repl.run();
  if (*c.convert.app) return c.convert.run();
  if (*c.simulate.app) return c.simulate.run();
  if (*c.opt.app) return c.opt.run();
  OptOptions passes({a.disabled_passes.begin(), a.disabled_passes.end()}, a.graph_conv_algo);
  if (*b.graph && a.emit == "ast") return cmd_graph(a.file, a.model, a.emit, a.batch, passes, a.graph_device);
  if (a.model.empty()) {  // the file's only model
    Loaded l;
    if (!l.prog.load_file(a.file)) fail_with_diags(l.diags);
    a.model = cli::pick_model(l, a.file, a.model);
  }
  if (*b.params) return cmd_params(a.file, a.model);
  if (*b.init) return cmd_init(a.file, a.model, a.seed, a.out);
  if (*b.run) return cmd_run(a.file, a.model, a.run);
  if (*b.graph) return cmd_graph(a.file, a.model, a.emit, a.batch, passes, a.graph_device);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"starc — a compiler for neural networks in astronomy"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "starc 0.1");
  app.add_option("--max-errors", cli::g_max_errors, "show at most N source errors (default 20; 0: all)");
  BuiltinArgs args;
  const Builtins builtins = add_builtins(app, args);
  const Commands commands = add_commands(app, argc, argv);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // usage errors exit 1 like every other error
  }

  try {
    return dispatch(builtins, commands, args);
  } catch (const CliError& e) {
    if (*e.what()) fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", cli::error_text(e));
    return 1;
  }
}
