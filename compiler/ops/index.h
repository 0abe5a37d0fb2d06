// compiler/ops: the index ops (gather, take_along_axis, index_add, scatter_add,
// check_index; compiler/ops/index.cpp) and the run-time check of the index tensors that
// come from a graph's inputs.
//
// Indices are i64 and must lie in [0, n) of the indexed axis (PyTorch's index_select,
// gather and embedding refuse negative and too-large indices; starc does not wrap
// negatives as numpy's take does). The reference kernels throw on a bad index; the
// compiled code cannot throw, so it clamps every index it reads into [0, n) (no read
// outside a tensor) and scatters only indices in range, and the executors (JIT and
// reference: check_input_indices; AOT libraries' C API: input_index_bounds) check every
// index tensor that is a graph input before running, so a bad index from the data is an
// error naming the input, the position and the value, not a silently clamped number.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/ir/tensor.h"

namespace starc {

// A graph input holds an index outside the range of the op that reads it.
struct IndexError : std::runtime_error {
  IndexError(const std::string& msg, std::string input, int64_t element, int64_t value)
      : std::runtime_error(msg), input(std::move(input)), element(element), value(value) {}
  std::string input;  // the input's name
  int64_t element;    // flat position in it
  int64_t value;
};

// A graph input that an index op reads as its index (directly or through reshape): its
// values must lie in [0, bound) or in `ignore`. For checks outside the executors (the
// C API of AOT libraries).
struct InputIndexBound {
  int input = -1;     // position among g.inputs
  int64_t bound = 0;  // may be symbolic in g
  std::vector<int64_t> ignore;
  std::string op;  // the reading op's name
};
std::vector<InputIndexBound> input_index_bounds(const Graph& g);

// Throws IndexError when an input of `g` that some index op reads as its
// index (directly or through reshape) holds a value outside the op's range:
// "input 'labels': element [3] is 7, outside [0, 5) (the index of gather at m.net:4:9)".
// `syms` binds g's symbolic dims (bind_symbols).
void check_input_indices(const Graph& g, const std::vector<Tensor>& inputs, const std::vector<Dim>& syms);

}  // namespace starc
