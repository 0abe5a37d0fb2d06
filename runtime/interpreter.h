// runtime: the reference interpreter. Runs any Graph on the CPU, node by node, with each
// op's reference kernel. Slow and obviously correct: the oracle for compiled code.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compiler/graph/graph.h"

namespace starc {

using TensorMap = std::map<std::string, Tensor>;

struct RunOptions {
  uint64_t seed = 0;
};

// Binds graph inputs by position; params by dotted name from `params`. Checks every
// bound tensor against the declared type (binding symbolic dims consistently) and
// throws std::runtime_error naming the tensor with expected vs actual on mismatch.
std::vector<Tensor> run_graph(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                              const RunOptions& opts = {});

// Binds the symbolic dims of `g` from the inputs' concrete shapes; throws naming the
// input on a mismatch. Returns sym values (index = sym_index).
std::vector<Dim> bind_symbols(const Graph& g, const std::vector<Tensor>& inputs);

}  // namespace starc
