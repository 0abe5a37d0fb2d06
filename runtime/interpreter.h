// runtime: the reference interpreter. Runs any Graph on the CPU, node by node, with each
// op's reference kernel. Slow and obviously correct: the oracle for compiled code.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace starc {

using TensorMap = std::map<std::string, Tensor>;

struct RunOptions {
  uint64_t seed = 0;
  // Check every bound input/weight and every node's float result for NaN/Inf and throw
  // NonFiniteError at the first one (slow; used to diagnose a non-finite loss).
  bool check_finite = false;
};

// The first non-finite value found under RunOptions::check_finite. what() is one line:
// "t.net:4:9: log (node %12) produced nan at index 7 of f32[32,1]" (or "input 'x'
// contains ..." / "weight 'w' contains ..." when a bound tensor already was).
struct NonFiniteError : std::runtime_error {
  NonFiniteError(const std::string& msg, int node, std::string op, Loc loc, TensorType type, int64_t index,
                 double value)
      : std::runtime_error(msg),
        node(node),
        op(std::move(op)),
        loc(std::move(loc)),
        type(std::move(type)),
        index(index),
        value(value) {}
  int node;         // node id in the graph passed to run_graph
  std::string op;   // op name ("input" / "param" for a bound tensor)
  Loc loc;          // Node::loc (unknown for derived nodes without one)
  TensorType type;  // the result's concrete type
  int64_t index;    // flat index of the first non-finite element
  double value;     // NaN, +Inf or -Inf
};

// Index of the first NaN/Inf element of a float tensor, or -1 (always -1 for ints/bools).
int64_t first_nonfinite(const Tensor& t);

// Binds graph inputs by position; params by dotted name from `params`. Checks every
// bound tensor against the declared type (binding symbolic dims consistently) and
// throws std::runtime_error naming the tensor with expected vs actual on mismatch.
std::vector<Tensor> run_graph(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                              const RunOptions& opts = {});

// Binds the symbolic dims of `g` from the inputs' concrete shapes; throws naming the
// input on a mismatch, or (check_bound_shapes) the layer whose shape rule the bound
// lengths break. Returns sym values (index = sym_index).
std::vector<Dim> bind_symbols(const Graph& g, const std::vector<Tensor>& inputs);
// The binding alone, without the shape rules' re-check: for a caller that checks once
// per new binding (the JIT, on a cache miss) rather than on every call.
std::vector<Dim> bind_input_symbols(const Graph& g, const std::vector<Tensor>& inputs);

}  // namespace starc
