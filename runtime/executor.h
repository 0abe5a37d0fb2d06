// runtime: an Executor runs a Graph on concrete inputs and weights. The reference
// interpreter and the JIT (runtime/jit_executor.h) are interchangeable behind it, so the
// training loop and the CLI never care which one runs.
#pragma once
#include <vector>

#include "runtime/interpreter.h"

namespace starc {

// Runs one graph: inputs by position, params by dotted name, `seed` the run seed of its
// random ops (dropout). Must be deterministic for a given (graph, inputs, params, seed).
class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                                  uint64_t seed) = 0;
};

// The reference interpreter (runtime/interpreter.h).
class InterpreterExecutor : public Executor {
 public:
  std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                          uint64_t seed) override {
    return run_graph(g, inputs, params, RunOptions{seed});
  }
};

}  // namespace starc
