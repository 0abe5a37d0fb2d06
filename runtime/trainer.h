// runtime: the training loop. Runs a TrainPlan (compiler/train/train_plan.h) over
// in-memory data: per epoch a deterministic shuffle, mini-batches, each step graph in
// order with its `lr` and `step` inputs, the updated tensors written back by name;
// validation through plan.eval; checkpoints that a resumed run continues from bit for
// bit; NaN/Inf detection that names the first offending node; progress, a CSV history
// and an SVG learning curve.
//
// Every graph runs through an Executor, so a JIT can replace the reference interpreter
// without touching the loop.
#pragma once
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/train/train_plan.h"
#include "runtime/executor.h"
#include "runtime/interpreter.h"
#include "runtime/param_error.h"

namespace starc {

class Communicator;

// Bad data, options, checkpoint or plan: one clear line (the CLI prints it, exit 1).
struct TrainError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A TrainError about train()'s arguments: its options, its data, the checkpoint they name.
// The message names them as TrainOptions and train() do ("batch", "checkpoint_dir",
// "data", "val"); a front end re-words it with its own names (ParamMessage::worded).
using TrainArgumentError = ParamError<TrainError>;

enum class ProgressMode { Auto, Bar, Plain, None };

struct EpochRecord;

struct TrainOptions {
  int64_t epochs = 1;  // total, counting the epochs a resumed run already did
  int64_t batch = 32;
  uint64_t seed = 0;  // shuffles, per-update run seeds, and (outside) initialisation
  // Each epoch visits the samples in a new random order; false: in the data's order
  // (ordered samples, e.g. consecutive windows of one series, keep their order in batches).
  bool shuffle = true;
  // Folder for DIR/checkpoint.npz, written at the end of every epoch and when stopped
  // by `stop`. Empty: no checkpoints.
  std::string checkpoint_dir;
  // Continue from checkpoint_dir/checkpoint.npz: params, optimizer slots, state,
  // counters and seed come from it (the `params` argument of train() is ignored).
  bool resume = false;
  // Where the checkpoint goes when stopped while checkpoint_dir is empty (the CLI
  // passes a default so that Ctrl-C never loses the run). Empty: nowhere.
  std::string stop_checkpoint_dir;
  // With resume: fail when `seed` differs from the checkpoint's (the CLI sets this
  // when --seed was given explicitly).
  bool seed_given = false;
  // CSV history (rewritten at every epoch end); the learning curve goes next to it
  // with the extension .svg. Empty: none.
  std::string history_csv;

  ProgressMode progress = ProgressMode::Auto;  // Auto: a bar on a TTY, else Plain
  int log_every = 0;                           // Plain: also a line every N batches (0: per epoch only)
  std::FILE* log = stderr;                     // progress bar / plain progress lines
  std::FILE* out = stdout;                     // one summary line per epoch (nullptr: none)
  // Called at the end of every epoch, after its checkpoint (a library client's progress).
  std::function<void(const EpochRecord&)> on_epoch;
  // Called after every batch: the epoch and batch (1-based) and the epoch's running mean loss.
  std::function<void(int64_t epoch, int64_t batch, double loss)> on_batch;

  // Polled between batches: when it becomes true the loop finishes the batch in flight,
  // writes a checkpoint (if checkpoint_dir is set) and returns Stopped. A signal
  // handler may set it (std::atomic<bool> is lock-free).
  const std::atomic<bool>* stop = nullptr;
  // Early stopping (runtime/early_stop.h): > 0 ends training when the history column
  // `monitor` (val_loss, val_<metric>, train_loss, ...) has not improved for this many
  // epochs; lower is better unless monitor_max. With checkpoint_dir, DIR/best.npz holds
  // the model weights of the best epoch so far.
  int64_t early_stop_patience = 0;
  std::string monitor = "val_loss";
  bool monitor_max = false;
  // Testing: behave as if `stop` were set after this many batches of this run.
  int64_t stop_after_batches = -1;
  // Data-parallel training (runtime/dist/data_parallel.h, docs/distributed.md): every
  // rank of `comm` runs train() with the same plan (built with split step graphs), data
  // and options; each takes its share of every global batch of `batch` samples, the
  // gradients are averaged before each update, validation is shared out and averaged,
  // and only rank 0 writes checkpoints, best.npz and the history. nullptr: one process.
  Communicator* comm = nullptr;
};

struct EpochRecord {
  int64_t epoch = 0;          // 1-based
  int64_t updates = 0;        // updates of steps[0] so far
  std::vector<double> train;  // per step: loss, then its metrics (train_value_names)
  std::vector<double> val;    // loss, then eval metrics (val_value_names; empty: no validation data)
  double lr = 0;              // steps[0]'s lr at the last update of the epoch
  double seconds = 0;         // wall time of the epoch (training + validation)
};

struct TrainResult {
  enum class Status { Done, Stopped, NonFinite };
  Status status = Status::Done;
  TensorMap params;                  // all: trainable, optimizer slots, state (last good values)
  std::vector<EpochRecord> history;  // every completed epoch, including those before a resume
  std::string message;               // NonFinite: the full explanation
  std::string checkpoint;            // the last checkpoint written (or resumed from), if any
  int64_t epoch = 0, batch = 0;      // where the run stopped (0-based epoch, batches done in it)
  int64_t batches_per_epoch = 0;
  uint64_t seed = 0;  // the seed used (the checkpoint's on resume)
  // The monitored value's best epoch (1-based; 0: none yet) and value, whether early
  // stopping ended the run, and DIR/best.npz when written.
  int64_t best_epoch = 0;
  double best_value = 0;
  bool early_stopped = false;
  std::string best_weights;
};

// Names of the model's weights in a plan: every param of the step and eval graphs that
// is not an optimizer slot (`opt.` prefix). These go to --out / come from --weights.
std::vector<std::string> model_weight_names(const TrainPlan& plan);
bool is_optimizer_slot(const std::string& name);

// The starting params: every param of every step graph initialised by its initializer
// with `seed`, then replaced by `weights` where given. `weights` must hold every model
// weight (model_weight_names) with the right type; it may also hold optimizer slots,
// and `starc.*` entries (a checkpoint used as initial weights) are ignored. Anything
// else is an error naming the array; `source` names the file in messages.
TensorMap initial_params(const TrainPlan& plan, uint64_t seed, const TensorMap* weights = nullptr,
                         const std::string& source = "weights");

// Checks the plan's structure (inputs data..., lr, step; outputs loss, metrics, then
// tensors named like params of the same type); throws TrainError naming what is wrong.
void check_plan(const TrainPlan& plan);

// Checks data against the inputs of the plan (all steps' data_inputs; with eval_only
// those of plan.eval) and returns the sample count: every input present, nothing else,
// the dtype and every dim but the first (the batch) as declared, equal sample counts,
// at least one sample. `label` (what the caller calls the data: "data", the CLI's
// "--data") and `sources` (name -> file) only shape the messages. Throws TrainError.
int64_t check_data(const TrainPlan& plan, const TensorMap& data, bool eval_only, const std::string& label = "data",
                   const std::map<std::string, std::string>& sources = {});

// Runs the plan. `data`: name -> tensor whose first axis is the sample axis. `val`:
// validation data for plan.eval (nullptr: none). Throws TrainError on bad data/options/
// checkpoint/plan (a TrainArgumentError where the message names an argument); runtime
// errors of the graphs propagate as std::runtime_error.
TrainResult train(const TrainPlan& plan, TensorMap params, const TensorMap& data, const TensorMap* val,
                  const TrainOptions& opts, Executor* exec = nullptr);

// plan.eval (inference mode) over `data` in batches of `batch`: the loss and the eval
// metrics (val_value_names), each averaged over the samples. Throws TrainError on bad data.
std::vector<double> evaluate(const TrainPlan& plan, const TensorMap& params, const TensorMap& data, int64_t batch,
                             Executor* exec = nullptr, uint64_t seed = 0);

// ---- pieces, exposed for tests and other executors ---------------------------------

// The sample order of `epoch` (0-based): a Fisher-Yates shuffle driven by Philox keyed
// by (seed, epoch), so it depends on nothing else.
std::vector<int64_t> epoch_order(uint64_t seed, int64_t epoch, int64_t n);
// The run seed of update `index` (0-based, counting every step graph run of the whole
// run in order): a Philox draw keyed by (seed, index).
uint64_t update_seed(uint64_t seed, int64_t index);
// 0, 1, ..., n - 1: the order of every epoch with TrainOptions::shuffle off.
std::vector<int64_t> in_order(int64_t n);
// Rows `idx` of `t` along its first axis, in that order.
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& idx, int64_t begin, int64_t end);

// The full state a run resumes from (see docs/weights.md, "Checkpoints").
struct Checkpoint {
  TensorMap params;  // trainable, optimizer slots, state
  uint64_t seed = 0;
  int64_t epoch = 0;                       // epoch in progress (0-based) = completed epochs when batch == 0
  int64_t batch = 0;                       // batches of that epoch already done
  std::map<std::string, int64_t> updates;  // per step name: updates so far
  int64_t batch_size = 0, samples = 0, epochs = 0;
  // data_fingerprint of the training data (0 in checkpoints written before it existed).
  uint64_t data_fingerprint = 0;
  std::vector<double> epoch_sums;            // partial sums of the epoch in progress
  std::vector<std::vector<double>> history;  // one row per completed epoch (history_row)
};
std::string checkpoint_path(const std::string& dir);
// A 64-bit hash of every data tensor's name, dtype and shape and the bytes of up to 64
// rows spread over it: a resumed run must train on the data it started with, not on
// other data with the same sample count. Never 0.
uint64_t data_fingerprint(const TensorMap& data);
void write_checkpoint(const std::string& path, const Checkpoint& c);
Checkpoint read_checkpoint(const std::string& path);

// Names of EpochRecord::train: per step "loss" then its metrics, each suffixed with
// ".<step>" when the plan has several steps. Metric names come from the step graph's
// output names (else plan.metric_names).
std::vector<std::string> train_value_names(const TrainPlan& plan);
// Names of EpochRecord::val: "loss", then the eval graph's metric outputs.
std::vector<std::string> val_value_names(const TrainPlan& plan);

// History output (runtime/train_history.cpp). CSV columns: epoch, step (updates of
// steps[0] so far), train_loss[.<step>]..., val_loss, train_<metric>..., val_<metric>...,
// lr, seconds (the epoch's wall time); a value that does not exist is empty.
std::vector<std::string> history_columns(const TrainPlan& plan);
std::string history_csv(const TrainPlan& plan, const std::vector<EpochRecord>& h);
std::string learning_curve_svg(const TrainPlan& plan, const std::vector<EpochRecord>& h);
// The value of history column `column` (as history_columns names it) in `r`; nullopt when
// the column does not exist or has no value in r.
std::optional<double> history_value(const TrainPlan& plan, const EpochRecord& r, const std::string& column);

}  // namespace starc
