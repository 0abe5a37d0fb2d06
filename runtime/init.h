// runtime: parameter initialisation. Each `param` node names an initializer and its
// resolved arguments; values come from the counter-based generator keyed by the run
// seed and a hash of the parameter's dotted name, so they do not depend on the order
// in which parameters are declared, nor on the backend.
#pragma once
#include "runtime/interpreter.h"

namespace starc {

// Initial values of every param node (trainable and state) of `g`.
TensorMap init_params(const Graph& g, uint64_t seed);
Tensor init_param(const Node& param, uint64_t seed);

// Checks a set of weights against the graph's params: every param present with the
// right dtype and shape, no extra arrays. Throws one clear line naming the weight.
void check_weights(const Graph& g, const TensorMap& weights, const std::string& source);

// A training checkpoint (docs/weights.md, "Checkpoints": it has `starc.format`) used as
// weights: its model parameters and state, without the optimizer slots (`opt.*`) and the
// run's counters (`starc.*`). Any other set of weights is returned as it is.
TensorMap weights_from_checkpoint(TensorMap weights);

}  // namespace starc
