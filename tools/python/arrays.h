// The Python module: NumPy arrays <-> starc::Tensor (docs/python.md, "Arrays").
//
// In: a C-contiguous, aligned, native-endian array of float32, float64, int64 or bool is
// adopted without a copy (the Tensor's storage keeps the array alive). Anything else is
// converted once: np.ascontiguousarray(x, dtype=<the spec's dtype>), allowed when NumPy's
// "same_kind" rule allows the cast (float64 -> float32 yes, float -> int64 no).
// Out: an ndarray over the Tensor's storage (a capsule owns a Tensor sharing it): no copy.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "compiler/ir/tensor.h"

namespace starc::python {

namespace py = pybind11;

// A Tensor made from a Python value, and whether it shares memory with a read-only array
// (an output aliasing it must stay read-only).
struct InputTensor {
  Tensor tensor;
  bool readonly = false;
};

// `value` as a Tensor of dtype `want` (nullopt: a value without a spec, such as training
// data: its own dtype where starc has it, else float16 -> f32, integers -> i64). `role` and `name` name the
// value in errors ("input 'flux'"); a dtype that cannot be cast throws api::Error (kind
// Shape).
InputTensor to_tensor(py::handle value, std::optional<DType> want, const char* role, const std::string& name);

// An ndarray over `t`'s storage (kept alive by the array); read-only unless `writeable`.
py::array to_array(const Tensor& t, bool writeable = true);

// The NumPy dtype of a starc dtype.
py::dtype numpy_dtype(DType t);

}  // namespace starc::python
