// The public C++ API of starc (docs/api.md): load a program, pick a model, give it
// weights, run it (JIT or reference interpreter) and differentiate it, and print any stage
// of its compilation. Every failure is a starc::api::Error, with the program's located
// diagnostics when the source has errors. The Python module and the tools are clients.
//
//   auto program = starc::api::Program::from_file("stdlib/astro/photoz.net");
//   starc::api::Model m = program.model();        // the file's only model
//   m.init(/*seed=*/0);
//   std::vector<starc::Tensor> z = m.run({mags});  // compiled on the first call, cached
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/ir/tensor.h"

namespace starc::api {

// A source error: where, and what (`text` is the message as the compiler prints it, with
// the source line and a caret).
struct Diagnostic {
  std::string file;
  int line = 0, col = 0;
  std::string message, text;
};

// What failed, for clients that react to each differently (the Python module raises one
// exception class per kind): the program (source errors, with diagnostics), an input or
// weight that does not fit its spec (count, name, dtype, shape), a file (unreadable,
// corrupt, or not fitting the model), or anything else (misuse, a failed run).
enum class ErrorKind { Other, Compile, Shape, Data };

class Error : public std::runtime_error {
 public:
  // With diagnostics: a Compile error.
  explicit Error(const std::string& what, std::vector<Diagnostic> diagnostics = {})
      : std::runtime_error(what),
        diagnostics_(std::move(diagnostics)),
        kind_(diagnostics_.empty() ? ErrorKind::Other : ErrorKind::Compile) {}
  Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  ErrorKind kind() const { return kind_; }

 private:
  std::vector<Diagnostic> diagnostics_;
  ErrorKind kind_;
};

// A model input, output or parameter: its element type and dims (a symbolic dim by its
// name, e.g. {"B", "5"}).
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::string> dims;
};

enum class Backend { Jit, Reference };

// Training with the model's `train` block, as `starc train` (docs/training.md).
struct FitOptions {
  int64_t epochs = 1;  // in all, counting those a resumed run already did
  int64_t batch = 32;
  uint64_t seed = 0;           // initial weights when the model has none, shuffles, dropout
  bool shuffle = true;         // a new random sample order per epoch; false: the data's order
  std::string checkpoint_dir;  // DIR/checkpoint.npz after every epoch and when stopped ("": none)
  bool resume = false;         // continue from checkpoint_dir/checkpoint.npz
  std::string history_csv;     // rewritten every epoch, with an .svg learning curve beside it
  bool progress = false;       // a progress line per epoch on stderr
  // > 0: stop when the history column `monitor` (val_loss, val_<metric>, train_loss, ...)
  // has not improved for this many epochs (higher is better with monitor_max); with
  // checkpoint_dir, DIR/best.npz keeps the best epoch's weights.
  int64_t early_stop_patience = 0;
  std::string monitor = "val_loss";
  bool monitor_max = false;
  // Polled between batches: once true, the batch in flight finishes, a checkpoint is
  // written (with checkpoint_dir) and fit returns with `stopped`.
  const std::atomic<bool>* stop = nullptr;
  // After every batch: epoch and batch (1-based), the epoch's running mean loss.
  std::function<void(int64_t epoch, int64_t batch, double loss)> on_step;
};

// One epoch's mean loss and metrics over the training data, and over the validation data
// when given ("loss", then the metrics by name; with several train steps each name ends
// in ".STEP").
struct Epoch {
  int64_t epoch = 0;  // 1-based
  std::vector<std::pair<std::string, double>> train, val;
  double lr = 0, seconds = 0;
};

struct FitResult {
  bool stopped = false;  // by FitOptions::stop; the weights are those of the last batch
  bool early_stopped = false;
  int64_t best_epoch = 0;    // of the monitored value (0: not watched)
  std::string best_weights;  // DIR/best.npz when written
  std::vector<Epoch> history;
  std::string checkpoint;  // the last checkpoint written, if any
};

// An ahead-of-time library, as `starc compile` (docs/aot.md): DIR/libM.a, libM.so, M.h,
// MConfig.cmake, M.pc with the model's current weights.
struct LibraryOptions {
  int64_t batch = 1;
  bool dynamic_batch = false;   // the batch is given per call (the model must treat samples independently)
  bool train_step = false;      // also M_train_step: the train block's step, updating the weights in place
  std::string target = "host";  // CPU: host or an LLVM CPU name (x86-64-v3, ...)
  int threads = 1;              // > 1: OpenMP parallel loops (the library then links libomp)
  bool weights_file = false;    // DIR/M.weights instead of embedded weights
};

struct Options {
  Backend backend = Backend::Jit;
  Device device = Device::Cpu;
  int threads = 0;  // JIT: threads of the generated code; 0: every core
  ConvAlgo conv_algo = ConvAlgo::Auto;
  uint64_t seed = 0;       // random ops (dropout, random_normal)
  bool disk_cache = true;  // JIT: reuse compiled code across processes
  std::string cache_dir;   // the disk cache's folder; "": $STARC_CACHE_DIR or ~/.cache/starc
};

class Model;

class Program {
 public:
  // Loads a .net file and what it imports; throws Error with the diagnostics.
  static Program from_file(const std::string& path);
  // Loads source text as if it were the file `name` (imports resolve from its folder).
  static Program from_source(const std::string& source, const std::string& name = "<source>.net");
  // The models of the main file, in source order.
  std::vector<std::string> models() const;
  // A model of the main file ("" = the only one) in inference mode, or with training-mode
  // behaviour (dropout active, batch norm on batch statistics) when `training`.
  Model model(const std::string& name = "", const Options& options = {}, bool training = false) const;

  struct Impl;

 private:
  explicit Program(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

class Model {
 public:
  const std::string& name() const;
  std::vector<TensorSpec> inputs() const;
  std::vector<TensorSpec> outputs() const;
  std::vector<TensorSpec> params() const;  // sorted by dotted name

  // Weights: from the params' initialisers, from an .npz file (checked against the params:
  // names, dtypes, shapes), or set one by one.
  void init(uint64_t seed = 0);
  void load_weights(const std::string& npz);
  void save_weights(const std::string& npz) const;
  const std::map<std::string, Tensor>& weights() const;
  void set_weight(const std::string& name, const Tensor& value);

  // The forward pass on inputs in the model's order (or by name: run_named). Weights must be set
  // (init or load_weights). Inputs are checked against their specs (dtype, rank, dims).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  std::map<std::string, Tensor> run_named(const std::map<std::string, Tensor>& inputs);
  // The gradients of the sum of the float outputs (or of the output named `of` alone) with
  // respect to every float input ("d_NAME") and trainable parameter ("d_" + dotted name).
  std::map<std::string, Tensor> gradients(const std::vector<Tensor>& inputs, const std::string& of = "");

  // Trains the model with its `train` block on `data` (input name -> tensor whose first
  // axis is the samples), validating on `val` after every epoch. Starts from the model's
  // weights (or initialises them with options.seed) and leaves the trained weights in the
  // model. `on_epoch` is called after every epoch. Non-finite values stop training with an
  // Error naming the first offending node; the weights are then those before it.
  FitResult fit(const std::map<std::string, Tensor>& data, const std::map<std::string, Tensor>& val = {},
                const FitOptions& options = {}, const std::function<void(const Epoch&)>& on_epoch = {});

  // The loss and metrics of the model's train block (its eval graph: inference mode) on
  // `data`, each averaged over the samples: ("loss", v), then the metrics by name.
  std::vector<std::pair<std::string, double>> evaluate(const std::map<std::string, Tensor>& data, int64_t batch = 32);

  // Builds an ahead-of-time library of the model and its weights into `dir`; returns the
  // names of the files written there.
  std::vector<std::string> compile_library(const std::string& dir, const LibraryOptions& options = {}) const;

  // A stage of the compilation, as `starc graph --emit` prints it: Opt (graph text after
  // the passes), Mlir, Llvm or Ptx, with symbolic dims set to `batch`.
  std::string emit(Stage stage, int64_t batch = 1) const;
  const Graph& graph() const;
  std::string dot() const;  // the graph in Graphviz's DOT language

  struct Impl;

 private:
  friend class Program;
  explicit Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Simulated training data of an astronomy task (docs/simulators.md; `starc simulate`):
// file name -> tensor, `n` samples, reproducible from `seed`; `options` are the task's
// options by name ("snr_min" -> "5"). simulation_tasks() names the tasks.
std::map<std::string, Tensor> simulate(const std::string& task, int64_t n, uint64_t seed = 0,
                                       const std::map<std::string, std::string>& options = {});
std::vector<std::string> simulation_tasks();

}  // namespace starc::api
