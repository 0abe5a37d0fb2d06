// compiler/autodiff: reverse-mode symbolic differentiation. Given a Graph, a value y
// and values to differentiate with respect to, appends to the same Graph the nodes that
// compute the gradients, built from the same primitive ops (each op's `grad` rule), so
// the result can be printed, optimized, compiled and differentiated again.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace starc {

// A gradient that cannot be formed: through an op with no gradient rule, only through
// non-differentiable paths (argmax, comparisons, integer casts), or with respect to an
// integer/bool value. The message names the op and its source location.
struct GradError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Appends d(y)/d(wrt[i]) for each i and returns their node ids (same order and types as
// wrt). y may have any shape: the gradient is seeded with `dy` if given (a node of
// y's type), else with ones (so a non-scalar y is differentiated as sum(y)). A wrt value
// that y does not depend on at all gets zeros.
std::vector<int> append_gradients(Graph& g, int y, const std::vector<int>& wrt, int dy = -1);

struct GradOptions {
  // When y depends on a wrt value only through non-differentiable ops: an error (true)
  // or zeros (false; used inside scan bodies, where the outer gradient may not need it).
  bool cut_is_error = true;
};

// The vector-Jacobian product of several values at once: d(sum_k <ys[k], dys[k]>)/d(wrt).
std::vector<int> append_gradients(Graph& g, const std::vector<int>& ys, const std::vector<int>& dys,
                                  const std::vector<int>& wrt, const GradOptions& opts = {});

class GraphBuilder;
struct Node;
// The gradient rule of `scan` (compiler/ops/special.cpp) for a scan node y whose results
// are used: `seeds` maps a result index (0: the stacked step outputs; then the final
// carries; then the saved carries, see special.cpp) to the gradient of that result.
// Autodiff gathers the gradients of a scan's `scan_result` nodes into it, so gradients
// flow through final and saved carries (the reverse scan of a gradient uses both, which
// is what a second-order gradient through a recurrent layer differentiates).
std::vector<int> scan_gradient(GraphBuilder& b, const Node& n, int y, const std::vector<std::pair<int, int>>& seeds);

// sum(o_1) + sum(o_2) + ... over the float outputs of b.g: the scalar that
// `starc graph --emit grad` and the REPL's :grad differentiate. -1 when there is none.
int sum_of_float_outputs(GraphBuilder& b);

// The gradients of sum_of_float_outputs with respect to every float input ("d_" + its
// name) and trainable parameter ("d_" + dotted name), appended to g: their node ids and
// names, inputs first. What `starc graph --emit grad` prints and api::Model::gradients
// computes. Throws std::invalid_argument when g has no float output.
struct NamedGradients {
  std::vector<int> ids;
  std::vector<std::string> names;
};
NamedGradients append_input_and_param_gradients(Graph& g);

}  // namespace starc
