// runtime: numerical gradient checks. Compares the symbolic gradient (autodiff, run on
// the reference interpreter) with central finite differences, in f64.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "runtime/interpreter.h"

namespace starc {

struct GradcheckOptions {
  double eps = 1e-5;  // finite-difference step (f64); with directions, the step's length
  // > 0: check each tensor along this many random unit directions v, comparing the
  // gradient's projection g.v with (L(x + eps v) - L(x - eps v)) / 2 eps: two evaluations
  // per direction, whatever the tensor's size (as JAX's check_grads). 0: element by element.
  int directions = 0;
  int max_samples = 0;         // element by element: elements checked per tensor (0 = all; else a random sample)
  uint64_t seed = 0;           // run seed (random ops) and sampling seed
  bool include_inputs = true;  // float graph inputs
  bool include_params = true;  // trainable params
  // Absolute tolerance (the floor of the relative error's denominator): atol_scale times
  // the largest |gradient element| of all checked tensors, at least atol_min. As in
  // PyTorch's gradcheck (atol + rtol), a gradient that is zero by symmetry is then judged
  // by the rounding noise of the finite differences, which scales with the model's
  // gradients, instead of by its own (zero) size.
  double atol_scale = 1e-3;
  double atol_min = 1e-5;
  // Called before each tensor is checked (index, count): progress for a long check.
  std::function<void(const std::string& tensor, size_t index, size_t count)> on_tensor;
};

// The worst disagreement found in one tensor. rel = |analytic - numeric| /
// max(|analytic|, |numeric|, atol) (atol: see GradcheckOptions::atol_scale). With
// directions, `checked` counts directions and worst_index is the worst direction's number.
struct GradcheckEntry {
  std::string name;  // input or parameter name
  int64_t checked = 0;
  int64_t worst_index = -1;
  double analytic = 0, numeric = 0, max_abs_err = 0, max_rel_err = 0;
  double atol = 1e-5;  // the absolute floor used
};

// Checks d(L)/d(every float input and trainable param) where L = sum over outputs of
// sum(output * R) with fixed random R (a random projection: plain sum(softmax) would
// have a zero gradient). The graph is converted to f64 first; inputs and params are
// cast. Throws what autodiff throws (GradError) when no gradient can be formed.
std::vector<GradcheckEntry> gradcheck(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                                      const GradcheckOptions& opts = {});

}  // namespace starc
