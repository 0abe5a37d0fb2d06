// Helpers shared by the op definitions: broadcasting, axis normalisation, index
// iteration. Kept deliberately simple: reference kernels favour clarity over speed.
#pragma once
#include <fmt/format.h>

#include "compiler/ir/tensor.h"
#include "compiler/ops/op.h"

namespace starc {

// NumPy broadcasting (align right; dims equal, or one of them is 1). A symbolic dim
// broadcasts only against itself or 1. Throws OpError "<op>: cannot broadcast ...".
Shape broadcast_shapes(const std::string& op, const std::vector<TensorType>& ins, const InferCtx& ctx);

// Strides (in elements) for reading `in` as if broadcast to `out` (0 on broadcast dims).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Maps a possibly negative axis into [0, rank); throws OpError naming the op otherwise.
int normalize_axis(const std::string& op, int64_t axis, int rank);

// The sizes around axis a of `s`: [outer, s[a], inner] (a kernel's loops over one axis).
struct Around {
  int64_t outer = 1, n = 1, inner = 1;
};
inline Around around(const Shape& s, int a) {
  Around r;
  for (int i = 0; i < int(s.size()); ++i) (i < a ? r.outer : i == a ? r.n : r.inner) *= s[size_t(i)];
  return r;
}

// Requires all inputs to have the same dtype.
void require_same_dtype(const std::string& op, std::span<const TensorType> in, const InferCtx& ctx);
void require_float(const std::string& op, const TensorType& t, const InferCtx& ctx);
void require_rank(const std::string& op, const TensorType& t, int rank, const InferCtx& ctx,
                  const char* what = "input");

// Visits every multi-index of `shape` in row-major order: f(const std::vector<int64_t>& idx, int64_t linear).
template <class F>
void for_each_index(const Shape& shape, F&& f) {
  int64_t n = num_elements(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t lin = 0; lin < n; ++lin) {
    f(idx, lin);
    for (int d = int(shape.size()) - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

inline int64_t dot_index(const std::vector<int64_t>& idx, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (size_t i = 0; i < idx.size(); ++i) off += idx[i] * strides[i];
  return off;
}

// A scalar tensor of dtype t holding v converted as `cast` converts a float (bool: v != 0).
Tensor scalar_of(DType t, double v);

// Output length of a sliding window (conv/pool); throws OpError if not positive. A
// symbolic `in` gives a derived symbol (checked when bound: check_bound_shapes).
Dim window_out_len(const std::string& op, Dim in, int64_t kernel, int64_t stride, int64_t pad_lo, int64_t pad_hi,
                   int64_t dilation, const InferCtx& ctx);

}  // namespace starc
