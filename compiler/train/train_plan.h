// compiler/train: a training plan — the graphs that one training iteration runs (each
// holds forward, symbolic backward and the optimizer update) plus the learning-rate
// schedule. Built by the front end from a `train` block (dsl/), run by the training loop
// (runtime/); the JIT compiles the very same graphs.
#pragma once
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace starc {

// Learning rate as a function of the update count. Computed on the host and passed to
// the step graph as its `lr` input, so a schedule never forces a recompile.
struct Schedule {
  enum class Kind { Constant, Step, Cosine };
  Kind kind = Kind::Constant;
  double base_lr = 1e-3;     // the optimizer's lr
  int64_t warmup_steps = 0;  // linear warm-up from base_lr/warmup_steps to base_lr
  int64_t every_epochs = 1;  // Step: multiply by gamma every N epochs
  double gamma = 0.1;
  double min_lr = 0;  // Cosine: decays from base_lr to min_lr over the whole run
};

// lr for update `step` (0-based) in `epoch` (0-based) of a run of `total_steps` updates.
// Constant: base_lr. Step: base_lr * gamma^floor(epoch / every_epochs). Cosine: min_lr +
// (base_lr - min_lr) * (1 + cos(pi * t)) / 2 with t = (step - warmup_steps) /
// (total_steps - 1 - warmup_steps) clamped to [0, 1] (min_lr at the last update). During
// warm-up (step < warmup_steps) that value is multiplied by (step + 1) / warmup_steps.
double learning_rate(const Schedule& s, int64_t step, int64_t epoch, int64_t total_steps);

// One named training step (a GAN has two: the discriminator's and the generator's).
//   graph inputs:  the data tensors named in data_inputs (in order), then `lr` (scalar,
//                  the model's float type) and `step` (scalar, the same float type:
//                  1-based count of this step's updates so far, including this one;
//                  Adam's bias correction).
//   graph params:  trainable params, optimizer slots named `opt.<slot>.<param>` (not
//                  trainable, init zeros; Adagrad's `sum` is init `constant` with its
//                  initial_accumulator_value), state buffers (batch-norm running stats).
//                  Initialise them all from their `init` attributes (runtime/init.h).
//   graph outputs: [0] `loss` (scalar), [1..n_metrics] metrics (scalars), then the new
//                  value of every param/slot/state it updates, each output named exactly
//                  like the tensor it replaces.
struct TrainStepGraph {
  std::string name;  // "train" for a block without named steps
  Graph graph;
  std::vector<std::string> data_inputs;
  int n_metrics = 0;
  Schedule schedule;
  // Only when built for a data-parallel run (Program::build_train's `split`; empty
  // otherwise): `graph` cut where the optimizer begins, so that ranks can average their
  // gradients in between (runtime/dist/data_parallel.h).
  //   grad:   graph's inputs and params; outputs loss, metrics, then "grad.<param>" (the
  //           loss's gradient, the param's type) per trained param, then the state updates.
  //   update: inputs "grad.<param>" in that order, lr, step; params: the trained params
  //           and their optimizer slots; outputs as graph's updates of them.
  Graph grad, update;
};

struct TrainPlan {
  std::string model;                  // the model trained (its forward graph is built separately)
  std::vector<TrainStepGraph> steps;  // run in order on each batch
  // Inference mode (training = false), no updates: inputs data_inputs of steps[0];
  // outputs `loss` and the metrics, named as in the steps. Used for validation. With
  // named steps, it is the loss and metrics of steps[0] (the block-level statements and
  // the first step's body).
  Graph eval;
  std::vector<std::string> metric_names;
};

}  // namespace starc
