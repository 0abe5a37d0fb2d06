// Ops that order or accumulate along one axis: cumsum (with reverse and exclusive forms)
// and argsort (stable; i64 indices). sort and topk are dsl builtins over argsort and
// take_along_axis (dsl/elaborate_shape_builtins.cpp), so their values' gradient is
// take_along_axis's scatter_add. Each kernel views x as [outer, n, inner] around the axis.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "compiler/ops/builder.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using Span = std::span<const TensorType>;
using TSpan = std::span<const Tensor>;

int axis_of(const std::string& op, const Attrs& a, const TensorType& x) {
  if (x.rank() == 0) throw OpError(fmt::format("{}: x must have rank >= 1, got a scalar", op));
  return normalize_axis(op, attr_int(a, "axis"), x.rank());
}

void require_numbers(const std::string& op, const TensorType& x, const InferCtx& ctx) {
  if (x.dtype == DType::Bool) throw OpError(fmt::format("{}: x must be a float or i64 tensor, got {}", op, ctx.t(x)));
}

// ---- cumsum ----

// out[i] = x[0] + ... + x[i] in that order (reverse: x[n-1] + ... + x[i]; exclusive: the
// term x[i] itself left out), accumulated in double for floats like `sum` (PyTorch's
// cumsum of [-0.0] is 0.0: the sum starts from +0), wrapping for i64.
template <class T>
void cumsum_rows(const T* x, T* y, Around g, bool reverse, bool exclusive) {
  using Acc = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t s = 0; s < g.inner; ++s) {
      Acc acc = 0;
      for (int64_t k = 0; k < g.n; ++k) {
        int64_t i = reverse ? g.n - 1 - k : k, at = (o * g.n + i) * g.inner + s;
        if (!exclusive) acc += Acc(x[at]);
        y[at] = T(acc);
        if (exclusive) acc += Acc(x[at]);
      }
    }
}

OpDef cumsum() {
  OpDef d;
  d.name = "cumsum";
  d.inputs = {"x"};
  d.attrs = {
      {"axis", AttrKind::Int, std::nullopt}, {"reverse", AttrKind::Bool, false}, {"exclusive", AttrKind::Bool, false}};
  d.doc =
      "running sum along an axis: out[i] = x[0] + ... + x[i] (torch.cumsum); reverse: x[i] + ... + x[n-1]; "
      "exclusive: without x[i] itself; NaN and inf propagate to the later sums";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    require_numbers("cumsum", in[0], ctx);
    axis_of("cumsum", a, in[0]);
    return in[0];
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    const Tensor& x = in[0];
    Around g = around(x.shape(), axis_of("cumsum", a, x.type()));
    Tensor out(x.dtype(), x.shape());
    dispatch_any(x.dtype(), [&]<class T>() {
      if constexpr (std::is_same_v<T, uint8_t>)
        throw std::runtime_error("cumsum: bool tensors are not supported");
      else
        cumsum_rows(x.data<T>(), out.data<T>(), g, attr_bool(a, "reverse"), attr_bool(a, "exclusive"));
    });
    return out;
  };
  // y_i sums x_j over j <= i (reverse: j >= i), so dx_j sums dy_i over i >= j: the
  // cumsum of dy in the other direction, exclusive when the forward one was.
  d.grad = [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    return {b.op("cumsum", {dy},
                 {{"axis", n.attrs.at("axis")},
                  {"reverse", !attr_bool(n.attrs, "reverse")},
                  {"exclusive", n.attrs.at("exclusive")}})};
  };
  return d;
}

// ---- argsort ----

// PyTorch's sort order: ascending with NaN after everything (descending: NaN first),
// -0.0 and 0.0 equal; ties keep their index order (stable).
template <class T>
bool before(T a, T b, bool descending) {
  if constexpr (std::is_floating_point_v<T>) {
    bool na = std::isnan(a), nb = std::isnan(b);
    if (na || nb) return descending ? na && !nb : !na && nb;
  }
  return descending ? a > b : a < b;
}

template <class T>
void argsort_rows(const T* x, int64_t* y, Around g, bool descending) {
  std::vector<int64_t> idx(size_t(g.n));
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t s = 0; s < g.inner; ++s) {
      auto at = [&](int64_t i) { return x[(o * g.n + i) * g.inner + s]; };
      std::iota(idx.begin(), idx.end(), int64_t(0));
      std::stable_sort(idx.begin(), idx.end(), [&](int64_t i, int64_t j) { return before(at(i), at(j), descending); });
      for (int64_t k = 0; k < g.n; ++k) y[(o * g.n + k) * g.inner + s] = idx[size_t(k)];
    }
}

OpDef argsort() {
  OpDef d;
  d.name = "argsort";
  d.inputs = {"x"};
  d.attrs = {{"axis", AttrKind::Int, int64_t(-1)}, {"descending", AttrKind::Bool, false}};
  d.doc =
      "indices (i64) that sort x along an axis, stable (torch.sort(stable=True)): ascending with NaN last, "
      "descending with NaN first; -0.0 and 0.0 tie";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    require_numbers("argsort", in[0], ctx);
    axis_of("argsort", a, in[0]);
    return TensorType{DType::I64, in[0].shape};
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    const Tensor& x = in[0];
    Around g = around(x.shape(), axis_of("argsort", a, x.type()));
    Tensor out(DType::I64, x.shape());
    dispatch_any(x.dtype(), [&]<class T>() {
      if constexpr (std::is_same_v<T, uint8_t>)
        throw std::runtime_error("argsort: bool tensors are not supported");
      else
        argsort_rows(x.data<T>(), out.data<int64_t>(), g, attr_bool(a, "descending"));
    });
    return out;
  };
  return d;
}

}  // namespace

void register_sort_scan_ops(OpRegistry& r) {
  r.add(cumsum());
  r.add(argsort());
}

}  // namespace starc
