// tools/starc: `starc check`, `params`, `init`, `run` and `ops`: thin layers over the
// pipeline, dsl (load, check, build Graph) -> runtime (init, run, I/O), and the op table.
#include "tools/starc/run_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>

#include "compiler/ops/op.h"
#include "compiler/opt/passes.h"
#include "runtime/dist/comm.h"
#include "runtime/init.h"
#include "runtime/jit_executor.h"
#include "runtime/io/npy.h"
#include "runtime/model_summary.h"
#include "runtime/tensor_summary.h"
#include "tools/starc/cli_common.h"
#include "tools/starc/data_input.h"
#include "tools/starc/run_batched.h"

namespace starc {
namespace {

using cli::BatchedRun;
using cli::BatchRunner;
using cli::build_graph;
using cli::CliError;
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
  Graph g = build_graph(*l, cli::pick_model(*l, file, model));
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
  Graph g = build_graph(*l, cli::pick_model(*l, file, model));
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
  int64_t batch = 0;  // > 0: stream the inputs through in batches of this many samples
};

// An input file as a model input: read_model_input's checks, a large .npy mapped.
Tensor read_run_input(const std::string& name, const std::string& spec, const TensorType& want,
                      const SymbolNames* symbols) {
  std::string stored;
  Tensor t = cli::read_data_tensor(spec, &stored);
  cli::check_model_input("--in", name, spec, t, stored, want, symbols);
  return t;
}

// The results printed or written as `starc run` does.
void report_results(const Graph& g, const std::vector<Tensor>& results, const std::vector<std::string>& outs) {
  auto out_paths = name_paths(outs, g.output_names, "--out", "output");
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string& name = g.output_names[i];
    if (auto it = out_paths.find(name); it != out_paths.end()) {
      write_npy(it->second, results[i]);
      fmt::print("{}: {} -> {}\n", name, type_str(results[i].type()), it->second);
    } else {
      fmt::print("{}: {}\n", name, tensor_summary(results[i]));
    }
  }
}

// --batch, or a sharded run under mpirun: the runs write their rows as they go
// (tools/starc/run_batched.h); rank 0 reports.
void run_batched(const Graph& g, const std::vector<Tensor>& inputs, const RunArgs& a, const BatchRunner& run_one,
                 Communicator* world) {
  if (a.repeat != 1) throw CliError("--batch runs the data once; --repeat needs the whole input in one run");
  BatchedRun r;
  r.batch = a.batch;
  r.out_paths = name_paths(a.outs, g.output_names, "--out", "output");
  r.comm = world;
  std::vector<TensorType> types = run_in_batches(g, inputs, r, run_one);
  if (world && !world->root()) return;
  for (size_t i = 0; i < types.size(); ++i)
    fmt::print("{}: {} -> {}\n", g.output_names[i], type_str(types[i]), r.out_paths.at(g.output_names[i]));
}

// Under mpirun/srun: this process's rank of a sharded run (docs/distributed.md).
std::unique_ptr<Communicator> join_ranks() {
  if (!launched_by_mpi()) return nullptr;
  try {
    return open_world();
  } catch (const DistError& e) {
    throw CliError(e.what());
  }
}

int cmd_run(const std::string& file, const std::string& model, const RunArgs& a) {
  std::unique_ptr<Communicator> world = join_ranks();
  auto l = cli::load_program(file);
  Graph g = build_graph(*l, cli::pick_model(*l, file, model));
  std::vector<std::string> in_names;
  for (size_t i = 0; i < g.inputs.size(); ++i) in_names.push_back(g.input_name(int(i)));
  auto in_paths = name_paths(a.ins, in_names, "--in", "input");
  std::vector<Tensor> inputs;
  for (auto& name : in_names) {
    auto it = in_paths.find(name);
    if (it == in_paths.end())
      throw CliError(fmt::format("missing input '{}' ({}): pass --in {}=FILE.npy", name,
                                 type_str(g.type(g.inputs[inputs.size()]), &g.symbols), name));
    inputs.push_back(read_run_input(name, it->second, g.type(g.inputs[inputs.size()]), &g.symbols));
  }
  // Without --batch (or ranks) the whole input goes to one run: a list of files is read in.
  if (a.batch == 0 && !world)
    for (Tensor& t : inputs) t = cli::in_memory(t);
  TensorMap params = cli::weights_or_init(g, a.weights, a.seed);
  std::vector<Tensor> results;
  if (a.backend == "ref" && a.device == Device::Cuda) throw CliError("--device cuda needs --backend jit");
  if (a.gpu_weights != "f32" && a.device != Device::Cuda)
    throw CliError(fmt::format("--gpu-weights {} needs --device cuda", a.gpu_weights));
  if (a.backend == "ref") {
    if (a.timings)
      fmt::print(stderr, "note: --timings reports the JIT's compile and run times; --backend ref has none\n");
    auto run_one = [&](const std::vector<Tensor>& in) { return run_graph(g, in, params, RunOptions{a.seed}); };
    if (a.batch > 0 || world) return run_batched(g, inputs, a, run_one, world.get()), 0;
    for (int r = 0; r < a.repeat; ++r) results = run_one(inputs);
  } else {
    bind_symbols(g, inputs);  // input errors name the input before any compilation
    JitExecutor jit(JitOptions{.passes = OptOptions({}, a.conv_algo),
                               .threads = a.threads,
                               .device = a.device,
                               .weights = parse_weight_storage(a.gpu_weights)},
                    default_cache_dir());
    auto run_one = [&](const std::vector<Tensor>& in) {
      std::vector<Tensor> out = jit.run(g, in, params, a.seed);
      if (a.timings) fmt::print(stderr, "timings run: {}\n", format_timings(jit.last_stats()));
      return out;
    };
    if (a.batch > 0 || world) return run_batched(g, inputs, a, run_one, world.get()), 0;
    for (int r = 0; r < a.repeat; ++r) {
      results = jit.run(g, inputs, params, a.seed);
      if (a.timings) fmt::print(stderr, "timings run {}: {}\n", r + 1, format_timings(jit.last_stats()));
    }
  }
  report_results(g, results, a.outs);
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

// FILE and --model, the arguments of every command that works on one model.
void add_model_args(CLI::App* c, std::string* file, std::string* model) {
  c->add_option("file", *file, "the .net file")->required()->check(CLI::ExistingFile);
  c->add_option("--model,-m", *model, "the model to use (default: the only model in the file)");
}

}  // namespace

ModelCommand add_check_command(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto* check = app.add_subcommand("check", "Parse and type/shape-check .net files (exit 1 on errors)");
  check->add_option("files", *files, "the .net files")->required()->check(CLI::ExistingFile);
  return {check, [files] { return cmd_check(*files); }};
}

ModelCommand add_params_command(CLI::App& app) {
  struct Options {
    std::string file, model;
  };
  auto o = std::make_shared<Options>();
  auto* params = app.add_subcommand("params", "List a model's parameters: dotted name, shape, count, total");
  add_model_args(params, &o->file, &o->model);
  return {params, [o] { return cmd_params(o->file, o->model); }};
}

ModelCommand add_summary_command(CLI::App& app) {
  struct Options {
    std::string file, model;
    int64_t batch = 1;
  };
  auto o = std::make_shared<Options>();
  auto* c = app.add_subcommand("summary", "A row per layer: output, parameters, FLOPs; totals and memory at --batch");
  add_model_args(c, &o->file, &o->model);
  cli::check_int_range(c->add_option("--batch", o->batch, "the batch size of the shapes, FLOPs and memory (default 1)"),
                       1, int64_t(1) << 40);
  return {c, [o] {
            auto l = cli::load_program(o->file);
            fmt::print("{}",
                       format_summary(summarize(build_graph(*l, cli::pick_model(*l, o->file, o->model)), o->batch)));
            return 0;
          }};
}

ModelCommand add_init_command(CLI::App& app) {
  struct Options {
    std::string file, model, out;
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Options>();
  auto* init = app.add_subcommand("init", "Write a model's initial parameters to an .npz");
  add_model_args(init, &o->file, &o->model);
  init->add_option("--seed", o->seed, "random seed (default 0)");
  init->add_option("-o,--output", o->out, "output .npz")->required();
  return {init, [o] { return cmd_init(o->file, o->model, o->seed, o->out); }};
}

ModelCommand add_run_command(CLI::App& app) {
  struct Options {
    std::string file, model;
    RunArgs run;
  };
  auto o = std::make_shared<Options>();
  RunArgs& r = o->run;
  auto* run = app.add_subcommand("run", "Run a model's forward pass on .npy inputs");
  add_model_args(run, &o->file, &o->model);
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
  cli::check_int_range(run->add_option("--batch", r.batch,
                                       "stream the inputs through in batches of N samples, writing every output's rows "
                                       "to its --out file as they come (inputs larger than memory; "
                                       "docs/distributed.md)"),
                       1, int64_t(1) << 40);
  return {run, [o] { return cmd_run(o->file, o->model, o->run); }};
}

ModelCommand add_ops_command(CLI::App& app) {
  return {app.add_subcommand("ops", "List the primitive ops with their inputs, arguments and defaults"), cmd_ops};
}

}  // namespace starc
