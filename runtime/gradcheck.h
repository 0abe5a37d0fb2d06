// runtime: numerical gradient checks. Compares the symbolic gradient (autodiff, run on
// the reference interpreter) with central finite differences, in f64.
#pragma once
#include <string>
#include <vector>

#include "runtime/interpreter.h"

namespace starc {

struct GradcheckOptions {
  double eps = 1e-5;           // finite-difference step (f64)
  int max_samples = 0;         // elements checked per tensor (0 = all; else a random sample)
  uint64_t seed = 0;           // run seed (random ops) and sampling seed
  bool include_inputs = true;  // float graph inputs
  bool include_params = true;  // trainable params
};

// The worst disagreement found in one tensor. rel = |analytic - numeric| /
// max(|analytic|, |numeric|, 1e-5).
struct GradcheckEntry {
  std::string name;  // input or parameter name
  int64_t checked = 0;
  int64_t worst_index = -1;
  double analytic = 0, numeric = 0, max_abs_err = 0, max_rel_err = 0;
};

// Checks d(L)/d(every float input and trainable param) where L = sum over outputs of
// sum(output * R) with fixed random R (a random projection: plain sum(softmax) would
// have a zero gradient). The graph is converted to f64 first; inputs and params are
// cast. Throws what autodiff throws (GradError) when no gradient can be formed.
std::vector<GradcheckEntry> gradcheck(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                                      const GradcheckOptions& opts = {});

}  // namespace starc
