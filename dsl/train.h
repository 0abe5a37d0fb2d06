// dsl: training. A `train` block is elaborated (dsl/elaborate.cpp: the model body with
// `training`, then the block's statements and one step's body, into one graph) and then
// turned into a TrainPlan (dsl/train.cpp: autodiff of the loss, optimizer updates, the
// schedule, the eval graph). Internal to dsl/.
#pragma once
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "compiler/train/train_plan.h"
#include "dsl/program.h"
#include "dsl/value.h"

namespace starc {

// A model and its train block, elaborated into one graph (outputs not set yet).
struct TrainElab {
  Graph graph;
  DType float_type = DType::F32;         // the model's float type (lr/step inputs)
  std::vector<std::string> data_inputs;  // graph inputs in order: the model's, then the block's
  // What the block's statements assigned to `loss`, `optimizer` and `schedule` (absent
  // when not assigned), with the location of the expression. A tensor's id is in `graph`.
  std::map<std::string, std::pair<Value, SrcLoc>> assigned;
  struct Metric {
    std::string name;
    int value = -1;  // a scalar of float_type
    SrcLoc loc;
  };
  std::vector<Metric> metrics;
  struct StateUpdate {
    std::string name;  // dotted name of the state buffer
    int value = -1;
    SrcLoc loc;
  };
  std::vector<StateUpdate> state_updates;  // from assign(state, value) while training
  // The step's `params:` prefixes, each with the location of its string (empty: all).
  std::vector<std::pair<std::string, SrcLoc>> prefixes;
};

// Elaborates `model` (with `training` = training) followed by the block-level statements
// of `td` and, if `step` is given, that step's body, in one graph. Throws CompileError.
TrainElab elaborate_train(Program& prog, const FnDecl& model, const TrainDecl& td, const TrainStep* step,
                          bool training);

// `optimizer = adm(...)` (var "optimizer" or "schedule", name "adm"): the message for an
// unknown optimizer or schedule, with a suggestion among them.
std::string unknown_config_message(const std::string& var, const std::string& name);

// Names bound only inside train blocks: metric, the optimizers and the schedules.
std::vector<std::string> train_builtin_names();

// `adam(lr: 1e-3)`, `cosine(warmup: 100)`: checks the arguments (names, kinds, PyTorch's
// ranges) and returns a Value of kind Config. Throws CompileError at the bad argument.
Value make_train_config(const std::string& name, const std::vector<std::pair<Value, SrcLoc>>& pos,
                        const std::vector<std::tuple<std::string, Value, SrcLoc>>& named, SrcLoc loc);

}  // namespace starc
