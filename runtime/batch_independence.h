// runtime: does a model treat the samples of a batch independently (no statistics over
// the batch, such as a mean over its first axis)? Running a batch as one-sample runs, as
// an ahead-of-time library compiled for a dynamic batch does (docs/aot.md), is right only
// for such a model.
#pragma once
#include <stdexcept>

#include "runtime/interpreter.h"
#include "runtime/param_error.h"

namespace starc {

// The model gives a sample other outputs in a batch than alone.
struct SampleDependenceError : ParamError<std::runtime_error> {
  using ParamError::ParamError;
};

// Checks that `g` (with weights `params`) can run a batch as one-sample runs: it has
// exactly one symbolic dim (the batch), every input and output leads with it (and has no
// other symbolic dim), and a batch of 3 random samples gives what 3 one-sample runs give
// (the JIT, to 1e-4 relative). Throws ParamError<std::invalid_argument> when the shapes do
// not allow it and SampleDependenceError when the values differ; both messages name the
// check as the parameter `dynamic_batch` (runtime/param_error.h), which a front end
// re-words as its own option.
void check_samples_independent(const Graph& g, const TensorMap& params);

}  // namespace starc
