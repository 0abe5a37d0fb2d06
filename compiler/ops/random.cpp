// Random tensor ops (no tensor inputs). Values come from the counter-based Philox
// generator in philox.h keyed by (RefCtx::seed, stream), with counter = flat row-major
// element index, so they are identical on every backend and for a given seed. A
// symbolic (batch) dim may appear in the shape: it is bound before any kernel runs, and
// because the batch dim is outermost, sample b gets the same values for any batch size.
#include <cmath>

#include "compiler/ops/common.h"
#include "compiler/ops/philox.h"

namespace starc {
namespace {

TensorType random_type(const std::string& op, const Attrs& a) {
  DType dt = attr_dtype(a, "dtype");
  if (!is_float(dt)) throw OpError(fmt::format("{}: dtype must be f32 or f64, got {}", op, dtype_name(dt)));
  const Ints& shape = attr_ints(a, "shape");
  for (Dim d : shape)
    if (!is_sym(d) && d < 0)
      throw OpError(fmt::format("{}: shape dims must be non-negative, got {}", op, shape_str(shape)));
  return TensorType{dt, shape};
}

// Fills a tensor of the attribute shape with f(index) (computed in double, then rounded).
template <class F>
Tensor fill(const Attrs& a, F&& f) {
  Tensor out(attr_dtype(a, "dtype"), attr_ints(a, "shape"));
  dispatch_float(out.dtype(), [&]<class T>() {
    T* y = out.data<T>();
    for (int64_t i = 0, n = out.size(); i < n; ++i) y[i] = T(f(uint64_t(i)));
  });
  return out;
}

}  // namespace

void register_random_ops(OpRegistry& r) {
  OpDef normal;
  normal.name = "random_normal";
  normal.attrs = {{"shape", AttrKind::Ints, std::nullopt},
                  {"dtype", AttrKind::DType, DType::F32},
                  {"mean", AttrKind::Float, 0.0},
                  {"std", AttrKind::Float, 1.0},
                  {"stream", AttrKind::Int, int64_t(0)}};
  normal.doc = "mean + std * N(0,1) samples (Philox, Box-Muller), keyed by the run seed and `stream`";
  normal.infer = [](std::span<const TensorType>, const Attrs& a, const InferCtx&) {
    double sd = attr_float(a, "std");
    if (!(sd >= 0) || !std::isfinite(sd) || !std::isfinite(attr_float(a, "mean")))
      throw OpError(fmt::format("random_normal: std must be finite and >= 0 and mean finite, got mean {} std {}",
                                attr_float(a, "mean"), sd));
    return random_type("random_normal", a);
  };
  normal.ref = [](std::span<const Tensor>, const Attrs& a, RefCtx& ctx) {
    double mean = attr_float(a, "mean"), sd = attr_float(a, "std");
    uint64_t stream = uint64_t(attr_int(a, "stream"));
    return fill(a, [&](uint64_t i) { return mean + sd * standard_normal(ctx.seed, stream, i); });
  };
  r.add(std::move(normal));

  OpDef uniform;
  uniform.name = "random_uniform";
  uniform.attrs = {{"shape", AttrKind::Ints, std::nullopt},
                   {"dtype", AttrKind::DType, DType::F32},
                   {"low", AttrKind::Float, 0.0},
                   {"high", AttrKind::Float, 1.0},
                   {"stream", AttrKind::Int, int64_t(0)}};
  uniform.doc = "uniform samples in [low, high) (Philox, 24-bit), keyed by the run seed and `stream`";
  uniform.infer = [](std::span<const TensorType>, const Attrs& a, const InferCtx&) {
    double lo = attr_float(a, "low"), hi = attr_float(a, "high");
    if (!(lo <= hi) || !std::isfinite(lo) || !std::isfinite(hi))
      throw OpError(fmt::format("random_uniform: need finite low <= high, got low {} high {}", lo, hi));
    return random_type("random_uniform", a);
  };
  uniform.ref = [](std::span<const Tensor>, const Attrs& a, RefCtx& ctx) {
    double lo = attr_float(a, "low"), hi = attr_float(a, "high");
    uint64_t stream = uint64_t(attr_int(a, "stream"));
    Tensor out = fill(a, [&](uint64_t i) { return lo + (hi - lo) * uniform01(ctx.seed, stream, i); });
    // Rounding to the element type can land exactly on `high`; keep the interval half-open.
    dispatch_float(out.dtype(), [&]<class T>() {
      T* y = out.data<T>();
      for (int64_t i = 0, n = out.size(); i < n; ++i)
        if (lo < hi && y[i] >= T(hi)) y[i] = std::nextafter(T(hi), T(lo));
    });
    return out;
  };
  r.add(std::move(uniform));
}

}  // namespace starc
