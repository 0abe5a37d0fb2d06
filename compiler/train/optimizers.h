// compiler/train: optimizers as graph code. Given a parameter, its gradient, the
// learning rate and the update count (graph values), appends the nodes of one update with
// exactly the arithmetic of PyTorch's torch.optim (single-tensor implementation), and the
// `param` nodes of the optimizer's state ("slots": momentum buffers, moment estimates),
// named `opt.<slot>.<param>` with PyTorch's state names (momentum_buffer, exp_avg,
// exp_avg_sq, square_avg, grad_avg, sum).
//
// Also the tables of optimizers and learning-rate schedules that the language accepts
// (`optimizer = adam(lr: 1e-3)`, `schedule = cosine(warmup: 100)`), with their defaults.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/train/train_plan.h"
#include "compiler/ops/builder.h"

namespace starc {

// One argument of an optimizer or a schedule: a number (bools are 0/1).
struct HyperArg {
  std::string name;
  double default_value = 0;
  enum Kind { Float, Int, Bool } kind = Float;
  bool required = false;
};

struct OptimizerDef {
  std::string name;
  std::vector<HyperArg> args;  // positional order
  std::string doc;
};

// sgd, rmsprop, adagrad, adam, adamw (PyTorch's defaults).
const std::vector<OptimizerDef>& optimizer_defs();
const OptimizerDef* find_optimizer(std::string_view name);

// constant, step, cosine (each also takes warmup: N steps).
const std::vector<OptimizerDef>& schedule_defs();
const OptimizerDef* find_schedule(std::string_view name);

// An optimizer with every argument filled in (defaults for those not given).
struct OptimizerConfig {
  std::string name = "adam";
  std::map<std::string, double> args;
  double arg(const std::string& n) const;
};

// The config of `name` with its defaults; throws std::invalid_argument for an unknown name.
OptimizerConfig default_optimizer(const std::string& name);

// The range checks PyTorch makes in the optimizer's constructor (lr >= 0, eps >= 0,
// 0 <= beta < 1, nesterov needs momentum > 0 and dampening 0, ...): "" if fine, else the
// message, naming the argument.
std::string check_optimizer(const OptimizerConfig& c);

// The schedule described by a schedule config (name and arguments, defaults filled in);
// base_lr is the optimizer's lr. The messages of check_schedule are like check_optimizer's.
Schedule make_schedule(const std::string& name, const std::map<std::string, double>& args, double base_lr);
std::string check_schedule(const std::string& name, const std::map<std::string, double>& args);

// A value written back after the step: the new parameter or slot, named like the tensor
// it replaces.
struct UpdatedValue {
  std::string name;
  int value = -1;
};

// Appends one update of `param` (a `param` node) given its gradient `grad` (same type),
// `lr` and `step` (scalars: the learning rate and the 1-based update count; cast to the
// parameter's dtype if they differ). Creates the slot params (trainable=false, init
// zeros; Adagrad's sum starts at initial_accumulator_value). Returns the new parameter
// first, then the new slots.
std::vector<UpdatedValue> append_optimizer_update(GraphBuilder& b, const OptimizerConfig& opt, int param, int grad,
                                                  int lr, int step);

}  // namespace starc
