// tools/starc: `starc train FILE.net --model M --data x=X.npy ... --epochs N --batch B`.
// Loads the program, builds the model's TrainPlan (its `train` block), loads and checks
// the data, and runs runtime/trainer.h with Ctrl-C handling: the first SIGINT finishes the
// step in flight, writes a checkpoint and exits 130 with the command that resumes; a
// second one exits at once.
#include "tools/starc/train_cmd.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>

#include "dsl/program.h"
#include "runtime/io/file_io.h"
#include "runtime/io/npy.h"
#include "runtime/io/tensor_file.h"
#include "runtime/jit_executor.h"
#include "runtime/dist/comm.h"
#include "runtime/trainer.h"
#include "tools/starc/cli_common.h"
#include "tools/starc/data_input.h"
#include "tools/starc/train_timings.h"

namespace fs = std::filesystem;

namespace starc {
namespace {

using cli::CliError;

std::atomic<bool> g_stop{false};

extern "C" void on_sigint(int) {
  if (g_stop.exchange(true)) ::_exit(130);
  static const char msg[] =
      "\nstarc: interrupted: finishing the current step, then writing a checkpoint (Ctrl-C again to quit at once)\n";
  ssize_t r = ::write(2, msg, sizeof msg - 1);
  (void)r;
}

struct SigintGuard {
  struct sigaction old{};
  SigintGuard() {
    g_stop = false;
    struct sigaction sa{};
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &old);
  }
  ~SigintGuard() { ::sigaction(SIGINT, &old, nullptr); }
};

struct Args {
  std::string file, model, weights, checkpoint, out, history, progress = "auto", backend = "jit";
  std::string monitor = "val_loss";  // COLUMN[:min|:max]
  int64_t early_stop = 0;
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
  std::vector<std::string> data, val;
  int64_t epochs = 1, batch = 32;
  uint64_t seed = 0;
  bool resume = false, timings = false, no_shuffle = false;
  int log_every = 0, threads = default_threads();
  CLI::Option* seed_opt = nullptr;
  CLI::Option* checkpoint_opt = nullptr;
  std::vector<std::string> argv;
};

using cli::fail_with_diags;
using cli::Loaded;

// The model's TrainPlan from its `train` block.
TrainPlan build_plan(Loaded& l, const std::string& model, bool split) {
  std::optional<TrainPlan> p = l.prog.build_train(model, split);
  if (!p) fail_with_diags(l.diags);
  return std::move(*p);
}

// The data files; `stored` gets, per name, what a file stores when its elements were
// converted on reading (an int32 .npy reads as i64), for check_data_of's messages.
TensorMap load_data(const std::map<std::string, std::string>& paths, std::map<std::string, std::string>* stored) {
  TensorMap out;
  for (auto& [name, path] : paths) out[name] = cli::read_data_tensor(path, &(*stored)[name]);
  return out;
}

// check_data, whose messages give a tensor's type as read, saying what a converted file
// stores: "... element type i64 vs f32 (x.npy stores int32, read as i64)".
void check_data_of(const TrainPlan& plan, const TensorMap& data, bool eval_only, const std::string& flag,
                   const std::map<std::string, std::string>& paths, const std::map<std::string, std::string>& stored) {
  try {
    check_data(plan, data, eval_only, flag, paths);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (auto& [name, type] : stored)
      if (!type.empty() && msg.rfind(fmt::format("{} {}={}:", flag, name, paths.at(name)), 0) == 0)
        msg += fmt::format(" ({} stores {}, read as {})", paths.at(name), type, dtype_name(data.at(name).dtype()));
    throw CliError(msg);
  }
}

// The command line that continues an interrupted run: the same arguments without
// --weights, plus --checkpoint DIR (if it was defaulted) and --resume.
std::string resume_command(const Args& a, const std::string& dir) {
  std::vector<std::string> out;
  bool has_resume = false;
  for (size_t i = 0; i < a.argv.size(); ++i) {
    const std::string& s = a.argv[i];
    if (s == "--weights" || s == "-w") {
      ++i;
      continue;
    }
    if (s.rfind("--weights=", 0) == 0) continue;
    has_resume |= s == "--resume";
    out.push_back(shell_quote(s));
  }
  if (a.checkpoint.empty()) out.push_back("--checkpoint " + shell_quote(dir));
  if (!has_resume) out.push_back("--resume");
  return fmt::format("{}", fmt::join(out, " "));
}

// Fails unless a file can be created in `dir` (made if missing when `create`).
void require_writable_dir(const fs::path& dir, bool create, const std::string& flag, const std::string& path) {
  std::error_code ec;
  if (create) fs::create_directories(dir, ec);
  if (ec) throw CliError(fmt::format("{} {}: cannot create the folder: {}", flag, path, ec.message()));
  if (!fs::is_directory(dir, ec))
    throw CliError(fmt::format("{} {}: folder '{}' does not exist", flag, path, dir.string()));
  std::string probe = (dir / ".starc-write-test-XXXXXX").string();
  int fd = ::mkstemp(probe.data());
  if (fd < 0)
    throw CliError(fmt::format("{} {}: cannot write in '{}': {}", flag, path, dir.string(), std::strerror(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
}

// Every place the run writes is checked before the first step: an unwritable --out found
// only after hours of training would lose the weights.
void check_output_paths(const Args& a, const std::string& history_csv) {
  auto file = [](const std::string& path, const std::string& flag) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw CliError(fmt::format("{} {}: is a folder, expected a file", flag, path));
    fs::path dir = fs::path(path).parent_path();
    require_writable_dir(dir.empty() ? fs::path(".") : dir, false, flag, path);
  };
  if (!a.checkpoint.empty()) require_writable_dir(a.checkpoint, true, "--checkpoint", a.checkpoint);
  if (!a.out.empty()) file(a.out, "--out");  // after the checkpoint folder, which --out may be in
  if (!history_csv.empty()) file(history_csv, a.history.empty() ? "--checkpoint" : "--history");
}

// Options that contradict each other or are out of range, before anything is read.
void check_options(const Args& a) {
  if (a.resume && a.checkpoint.empty())
    throw CliError("--resume needs --checkpoint DIR (the folder the interrupted run wrote its checkpoint to)");
  if (a.resume && !a.weights.empty())
    throw CliError("--weights and --resume cannot be combined: a resumed run takes its weights from the checkpoint");
  if (a.epochs < 1) throw CliError(fmt::format("--epochs must be at least 1, got {}", a.epochs));
  if (a.batch < 1) throw CliError(fmt::format("--batch must be at least 1, got {}", a.batch));
}

// --history, else DIR/history.csv with --checkpoint DIR, else none.
std::string history_path(const Args& a) {
  return !a.history.empty() ? a.history : a.checkpoint.empty() ? "" : (fs::path(a.checkpoint) / "history.csv").string();
}

// --model, else the only model with a train block, else the only model.
void pick_trained_model(Loaded& l, Args& a) {
  if (!a.model.empty()) return;
  auto trained = l.prog.trained_models(), names = l.prog.model_names();
  if (trained.size() == 1)
    a.model = trained[0];
  else if (trained.empty() && names.size() == 1)
    a.model = names[0];
  else
    throw CliError(fmt::format("{} has {} models with a train block; choose one with --model ({})", a.file,
                               trained.size(), fmt::join(trained.empty() ? names : trained, ", ")));
}

// Without --out the weights go to MODEL.weights.npz (in the --checkpoint folder if given),
// said before training starts rather than lost at the end of a long run.
void default_out(Args& a) {
  if (!a.out.empty()) return;
  a.out =
      (a.checkpoint.empty() ? fs::path(a.model + ".weights.npz") : fs::path(a.checkpoint) / (a.model + ".weights.npz"))
          .string();
  fmt::print(stderr, "note: no --out given; the trained weights will be written to {}\n", a.out);
}

// The training data (--data) and the validation data (--val, if given), read and checked.
struct TrainData {
  TensorMap data;
  std::optional<TensorMap> val;
};

TrainData load_train_data(const Args& a, const TrainPlan& plan) {
  std::vector<std::string> data_names, eval_names;
  for (auto& s : plan.steps)
    for (auto& n : s.data_inputs)
      if (std::find(data_names.begin(), data_names.end(), n) == data_names.end()) data_names.push_back(n);
  for (size_t i = 0; i < plan.eval.inputs.size(); ++i) eval_names.push_back(plan.eval.input_name(int(i)));
  TrainData d;
  auto data_paths = cli::name_paths(a.data, data_names, "--data", "data input");
  std::map<std::string, std::string> stored;
  d.data = load_data(data_paths, &stored);
  check_data_of(plan, d.data, false, "--data", data_paths, stored);
  if (!a.val.empty()) {
    auto val_paths = cli::name_paths(a.val, eval_names, "--val", "data input");
    std::map<std::string, std::string> val_stored;
    d.val = load_data(val_paths, &val_stored);
    check_data_of(plan, *d.val, true, "--val", val_paths, val_stored);
  }
  return d;
}

// --weights, else initialised with --seed; none when resuming (the checkpoint has them).
TensorMap starting_params(const Args& a, const TrainPlan& plan) {
  if (a.resume) return {};
  if (a.weights.empty()) return initial_params(plan, a.seed);
  TensorMap w = read_npz(a.weights);
  return initial_params(plan, a.seed, &w, a.weights);
}

TrainOptions train_options(const Args& a, const std::string& history_csv) {
  TrainOptions o;
  o.epochs = a.epochs;
  o.batch = a.batch;
  o.seed = a.seed;
  o.seed_given = a.seed_opt && a.seed_opt->count() > 0;
  o.shuffle = !a.no_shuffle;
  o.checkpoint_dir = a.checkpoint;
  o.resume = a.resume;
  o.history_csv = history_csv;
  o.stop_checkpoint_dir = "starc-checkpoint";
  o.progress = a.progress == "bar"     ? ProgressMode::Bar
               : a.progress == "plain" ? ProgressMode::Plain
               : a.progress == "none"  ? ProgressMode::None
                                       : ProgressMode::Auto;
  o.log_every = a.log_every;
  o.stop = &g_stop;
  o.early_stop_patience = a.early_stop;
  size_t colon = a.monitor.rfind(':');
  std::string mode = colon == std::string::npos ? "min" : a.monitor.substr(colon + 1);
  if (mode != "min" && mode != "max")
    throw CliError(fmt::format("--monitor {}: expected COLUMN, COLUMN:min or COLUMN:max", a.monitor));
  o.monitor = a.monitor.substr(0, colon);
  o.monitor_max = mode == "max";
  return o;
}

// train() on the chosen executor, with Ctrl-C handled (SigintGuard).
TrainResult run_training(const Args& a, const TrainPlan& plan, TensorMap params, const TrainData& d,
                         const TrainOptions& o) {
  SigintGuard guard;
  InterpreterExecutor interp;
  if (a.backend == "ref" && a.device == Device::Cuda) throw CliError("--device cuda needs --backend jit");
  TrainTimings timings;  // outlives the executor that reports to it
  JitExecutor jit(JitOptions{.passes = OptOptions({}, a.conv_algo), .threads = a.threads, .device = a.device},
                  default_cache_dir());
  if (a.timings) timings.watch(jit);
  Executor* exec = a.backend == "ref" ? static_cast<Executor*>(&interp) : &jit;
  // A TrainArgumentError's message gets this command's flag names in cli::error_text.
  TrainResult r = train(plan, std::move(params), d.data, d.val ? &*d.val : nullptr, o, exec);
  if (a.timings) timings.print_summary();
  return r;
}

// Interrupted: where, and the command that resumes from the checkpoint.
void report_stopped(const Args& a, const TrainResult& r) {
  std::string dir = fs::path(r.checkpoint).parent_path().string();
  if (r.checkpoint.empty()) {
    fmt::print(stderr, "interrupted in epoch {} after batch {} of {}; no checkpoint was written\n", r.epoch + 1,
               r.batch, r.batches_per_epoch);
  } else {
    fmt::print(stderr, "interrupted in epoch {} after batch {} of {}: checkpoint written to {}\nresume with:\n  {}\n",
               r.epoch + 1, r.batch, r.batches_per_epoch, r.checkpoint, resume_command(a, dir));
  }
}

// A finished run: the weights to --out, and where the history went.
void save_results(const Args& a, const TrainPlan& plan, const TrainResult& r, const std::string& history_csv) {
  if (!a.out.empty()) {
    TensorMap w;
    for (auto& name : model_weight_names(plan)) w[name] = r.params.at(name);
    write_npz(a.out, w);
    fmt::print("wrote {} weight tensors to {}\n", w.size(), a.out);
  }
  if (!history_csv.empty() && !r.history.empty()) {
    fs::path svg = history_csv;
    svg.replace_extension(".svg");
    fmt::print("history: {} (learning curve: {})\n", history_csv, svg.string());
  }
}

// Under mpirun/srun: this process's rank in the data-parallel run (docs/distributed.md).
std::unique_ptr<Communicator> join_ranks() {
  if (!launched_by_mpi()) return nullptr;
  try {
    return open_world();
  } catch (const DistError& e) {
    throw CliError(e.what());
  }
}

// Every rank trains; rank 0 alone reports progress and writes files.
void share_out(TrainOptions& o, Communicator& world, const Args& a) {
  o.comm = &world;
  if (world.root()) {
    fmt::print(stderr, "data-parallel: {} ranks, global batch {} ({} to {} samples per rank)\n", world.size(), a.batch,
               a.batch / world.size(), (a.batch + world.size() - 1) / world.size());
    return;
  }
  o.out = nullptr;
  o.log = nullptr;
  o.progress = ProgressMode::None;
  o.history_csv.clear();
}

int run(Args& a) {
  check_options(a);
  std::unique_ptr<Communicator> world = join_ranks();
  const bool root = !world || world->root();
  const std::string history_csv = history_path(a);
  Loaded l;
  if (!l.prog.load_file(a.file)) fail_with_diags(l.diags);
  pick_trained_model(l, a);
  if (root) default_out(a);
  check_output_paths(a, history_csv);
  TrainPlan plan = build_plan(l, a.model, world != nullptr);
  const TrainData d = load_train_data(a, plan);
  TensorMap params = starting_params(a, plan);

  TrainOptions o = train_options(a, history_csv);
  if (world) share_out(o, *world, a);
  TrainResult r = run_training(a, plan, std::move(params), d, o);
  if (!root) return r.status == TrainResult::Status::Done ? 0 : r.status == TrainResult::Status::Stopped ? 130 : 1;
  switch (r.status) {
    case TrainResult::Status::Stopped:
      report_stopped(a, r);
      return 130;
    case TrainResult::Status::NonFinite:
      fmt::print(stderr, "error: {}\n", r.message);
      return 1;
    case TrainResult::Status::Done:
      break;
  }
  if (r.early_stopped) fmt::print("{}\n", r.message);
  if (!r.best_weights.empty())
    fmt::print("best epoch {} ({} {:.6g}): weights in {}\n", r.best_epoch, a.monitor.substr(0, a.monitor.rfind(':')),
               r.best_value, r.best_weights);
  save_results(a, plan, r, history_csv);
  return 0;
}

}  // namespace

TrainCommand add_train_command(CLI::App& app, int argc, char** argv) {
  auto args = std::make_shared<Args>();
  for (int i = 0; i < argc; ++i) args->argv.push_back(argv[i]);
  Args& a = *args;
  auto* c = app.add_subcommand("train", "Train a model with its `train` block on .npy data");
  c->add_option("file", a.file, "the .net file")->required()->check(CLI::ExistingFile);
  c->add_option("--model,-m", a.model, "the model to train (default: the only model in the file)");
  c->add_option("--data", a.data, "training data: NAME=FILE.npy for every data input (first axis = samples)")
      ->required()
      ->take_all();
  c->add_option("--val", a.val, "validation data: NAME=FILE.npy (the same inputs); evaluated after every epoch")
      ->take_all();
  c->add_option("--epochs", a.epochs, "number of epochs in all, counting those a resumed run already did (default 1)");
  c->add_option("--batch", a.batch, "mini-batch size (default 32; the last partial batch is used)");
  a.seed_opt = c->add_option("--seed", a.seed, "seed for initialisation, shuffling and dropout (default 0)");
  c->add_option("--weights,-w", a.weights, "initial weights .npz (default: initialise with --seed)");
  a.checkpoint_opt =
      c->add_option("--checkpoint", a.checkpoint,
                    "folder for checkpoint.npz (written after every epoch and on Ctrl-C) and history.csv");
  c->add_flag("--resume", a.resume, "continue from the checkpoint in --checkpoint DIR");
  c->add_option("--out,-o", a.out,
                "where to write the trained weights (.npz, loadable by `starc run --weights`; default "
                "MODEL.weights.npz, in the --checkpoint folder if given)");
  c->add_option("--history", a.history,
                "CSV history (default DIR/history.csv with --checkpoint); an .svg learning curve goes next to it");
  c->add_option("--backend", a.backend,
                "executor: jit (native code through MLIR, default) or ref (reference interpreter)")
      ->check(CLI::IsMember({"ref", "jit"}));
  cli::add_conv_algo_option(c, &a.conv_algo);
  cli::add_device_option(c, &a.device);
  cli::add_max_memory_option(c);
  cli::check_int_range(
      c->add_option("--threads", a.threads, "JIT: threads for the generated code (default: all cores)"), 1,
      cli::kMaxThreads);
  c->add_option("--progress", a.progress, "auto | bar | plain | none (default auto: a bar on a terminal)")
      ->check(CLI::IsMember({"auto", "bar", "plain", "none"}));
  c->add_flag("--timings", a.timings,
              "JIT: print compile times (and the first cache hit) of each step graph to stderr");
  c->add_flag("--no-shuffle", a.no_shuffle,
              "visit the samples in the data's order every epoch (default: a new random order per epoch, from --seed)");
  c->add_option("--log-every", a.log_every, "plain progress: also print a line every N batches");
  c->add_option("--early-stop", a.early_stop,
                "stop when --monitor has not improved for N epochs (default 0: never); with --checkpoint DIR the "
                "best epoch's weights are kept in DIR/best.npz");
  c->add_option("--monitor", a.monitor,
                "the history column early stopping and best.npz watch, lower is better (default val_loss); "
                "COLUMN:max when higher is (val_accuracy:max)");
  return {c, [args]() { return cli::run_guarded([&] { return run(*args); }); }};
}

}  // namespace starc
