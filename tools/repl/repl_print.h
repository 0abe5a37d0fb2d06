// tools/repl: tensors printed as numpy prints arrays: every value, in brackets that follow
// the shape, up to a threshold of elements; beyond it the first and last few of each axis
// around `...`. Settings: `:set print.threshold N`, `:set print.precision P`.
#pragma once
#include <cstdint>
#include <string>

#include "compiler/ir/tensor.h"

namespace starc::repl {

struct PrintOptions {
  int64_t threshold = 1000;  // more elements than this: summarised (numpy's default)
  int precision = 6;         // significant digits of a float
  int64_t edgeitems = 3;     // values kept at each end of a summarised axis
  int linewidth = 75;        // a row longer than this wraps (numpy's default)
};

// True when `t` has more elements than the threshold: not every value is shown.
bool summarised(const Tensor& t, const PrintOptions& o);

// The values of `t` in nested brackets ("[[1, 2],\n [3, 4]]"). Lines after the first are
// indented by `indent` columns, the width of what precedes the first bracket on its line;
// rows wrap at o.linewidth counting that indent. A rank-0 tensor is its value alone.
std::string format_values(const Tensor& t, const PrintOptions& o, size_t indent = 0);

// One element as format_values writes it: %.Pg for floats, integers, true/false.
std::string format_element(const Tensor& t, int64_t i, int precision);

}  // namespace starc::repl
