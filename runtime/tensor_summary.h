// runtime: a tensor in one line, for people (the CLI's `starc run` without --out, the
// REPL's results).
#pragma once
#include <string>

#include "compiler/ir/tensor.h"

namespace starc {

// "f32[3,1] [15.9359, 11.4786, 9.18164]": the type and the values (the first and last
// three of a longer tensor).
std::string tensor_summary(const Tensor& t);

}  // namespace starc
