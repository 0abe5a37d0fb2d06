// tools/starc: `starc compile FILE.net --model M [--weights W.npz] -o DIR`: ahead-of-time
// compilation into a static and a shared library with a C header (docs/aot.md): the
// options, as the AOT builder's (runtime/aot/aot_builder.h), which does the work.
#include "tools/starc/compile_cmd.h"

#include <fmt/format.h>

#include <optional>

#include "runtime/aot/aot_builder.h"
#include "runtime/batch_independence.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

using cli::CliError;

struct Options {
  std::string file, model, weights, out, target = "host", batch = "1", entries = "forward";
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
  uint64_t seed = 0;
  int threads = 1;
  bool weights_file = false;
  std::vector<std::string> dims;  // --dim L=4618
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t comma; (comma = s.find(',', at)) != std::string::npos; at = comma + 1)
    out.push_back(s.substr(at, comma - at));
  out.push_back(s.substr(at));
  return out;
}

// --batch and --entry as the builder's options.
AotOptions builder_options(const Options& o, bool* train) {
  AotOptions a;
  a.out_dir = o.out, a.target = o.target, a.conv_algo = o.conv_algo, a.device = o.device;
  a.threads = o.threads, a.weights_file = o.weights_file, a.seed = o.seed;
  a.dynamic_batch = o.batch == "dynamic";
  *train = false;
  for (auto& name : split_list(o.entries)) {
    if (name == "train_step")
      *train = true;
    else if (name != "forward")
      throw CliError(fmt::format("--entry {}: expected forward and/or train_step", name));
  }
  a.dims = cli::parse_dims(o.dims);
  if (!a.dynamic_batch) try {
      size_t used = 0;
      a.batch = std::stoll(o.batch, &used);
      if (used != o.batch.size() || a.batch < 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw CliError(fmt::format("--batch {}: expected a positive integer or 'dynamic'", o.batch));
    }
  return a;
}

void print_summary(const Options& o, const std::string& model, const AotOptions& a, const AotLibrary& lib) {
  fmt::print("compiled {} (batch {}, target {}{}) into {}:\n  lib{}.a, lib{}.so, {}.h, {}Config.cmake, {}.pc{}\n",
             model, a.dynamic_batch ? std::string("dynamic") : std::to_string(a.batch), o.target,
             o.device == Device::Cuda ? fmt::format(", CUDA: PTX for sm_90{}",
                                                    lib.cuda_cubin ? " and its cubin" : ", JIT-compiled by the driver")
             : o.threads > 1          ? ", OpenMP"
                                      : "",
             lib.dir.string(), model, model, model, model, model,
             o.weights_file ? fmt::format(", {}.weights", model) : std::string(" (weights embedded)"));
}

int run(const Options& o) {
  auto l = cli::load_program(o.file);
  std::string model = cli::pick_model(*l, o.file, o.model);
  Graph g = cli::build_graph(*l, model);
  bool train = false;
  AotOptions a = builder_options(o, &train);
  std::optional<TrainPlan> plan;
  if (train) {
    plan = l->prog.build_train(model);
    if (!plan) cli::fail_with_diags(l->diags);
    a.train = &*plan;
  }
  TensorMap params = cli::weights_or_init(g, o.weights, o.seed);
  try {
    print_summary(o, model, a, build_aot_library(g, std::move(params), a));
  } catch (const SampleDependenceError& e) {
    // the check's message names `dynamic_batch`: the CLI's --batch dynamic
    throw CliError(cli::error_text(e) + "; compile for a fixed --batch N");
  }
  return 0;
}

}  // namespace

CompileCommand add_compile_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CompileCommand c;
  c.app = app.add_subcommand("compile", "Compile a model ahead of time into a static and a shared C library");
  c.app->add_option("file", o->file, "the .net file")->required()->check(CLI::ExistingFile);
  c.app->add_option("--model,-m", o->model,
                    "the model (default: the only model in the file); it prefixes every symbol");
  c.app->add_option("--weights,-w", o->weights, "weights .npz to build in (default: initialise with --seed)");
  c.app->add_option("--seed", o->seed, "seed for initial weights when --weights is not given (default 0)");
  c.app->add_option("--batch", o->batch,
                    "the batch size the library is compiled for (default 1), or dynamic (given per call)");
  c.app->add_option("--dim", o->dims,
                    "NAME=N: the length the library is compiled for, for each symbolic dim of the model's inputs "
                    "other than the batch (repeatable)");
  c.app->add_option("--target", o->target,
                    "CPU to generate code for: host (default) or an LLVM CPU name (x86-64-v3, ...)");
  cli::add_conv_algo_option(c.app, &o->conv_algo);
  cli::add_device_option(c.app, &o->device);
  cli::check_int_range(c.app->add_option("--threads", o->threads,
                                         "> 1: parallel loops on OpenMP (the library then needs libomp; default 1)"),
                       1, cli::kMaxThreads);
  c.app->add_option("--entry", o->entries,
                    "forward (default) and/or train_step, comma-separated: M_train_step runs the train block");
  c.app->add_flag("--weights-file", o->weights_file, "write the weights to DIR/M.weights instead of embedding them");
  c.app->add_option("-o,--out", o->out, "output folder")->required();
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
