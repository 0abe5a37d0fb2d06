// Reductions over axes: sum, mean, max, min, logsumexp, and argmax.
#include <cmath>
#include <limits>

#include "compiler/ops/builder.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

enum class Kind { Sum, Mean, Max, Min, LogSumExp };

// Which axes are reduced: `axes` empty = all. Throws OpError on out-of-range or repeated axes.
std::vector<bool> reduced_axes(const std::string& op, const Ints& axes, int rank, const InferCtx& ctx) {
  std::vector<bool> red(rank, axes.empty());
  for (int64_t a : axes) {
    int k = normalize_axis(op, a, rank);
    if (red[k]) throw OpError(fmt::format("{}: axis {} appears twice in axes {}", op, k, ctx.s(axes)));
    red[k] = true;
  }
  return red;
}

// Output shape: reduced dims become 1 (keepdims) or are dropped.
Shape reduced_shape(const Shape& in, const std::vector<bool>& red, bool keepdims) {
  Shape out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!red[i])
      out.push_back(in[i]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

bool is_numeric(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::I64; }

void require_numeric(const std::string& op, const TensorType& t, const InferCtx& ctx) {
  if (!is_numeric(t.dtype)) throw OpError(fmt::format("{}: expected a float or i64 tensor, got {}", op, ctx.t(t)));
}

template <class T>
bool isnan_any(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

OpDef reduction(std::string name, std::string doc, Kind kind) {
  OpDef d;
  d.name = name;
  d.inputs = {"x"};
  d.attrs = {{"axes", AttrKind::Ints, Ints{}}, {"keepdims", AttrKind::Bool, false}};
  d.doc = std::move(doc);
  d.infer = [name, kind](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    const TensorType& x = in[0];
    if (kind == Kind::Mean || kind == Kind::LogSumExp)
      require_float(name, x, ctx);
    else
      require_numeric(name, x, ctx);
    auto red = reduced_axes(name, attr_ints(a, "axes"), x.rank(), ctx);
    if (kind == Kind::Max || kind == Kind::Min)
      for (int i = 0; i < x.rank(); ++i)
        if (red[i] && x.shape[i] == 0)
          throw OpError(fmt::format("{}: cannot reduce over axis {} of {}: it is empty and {} has no identity", name, i,
                                    ctx.t(x), name));
    return TensorType{x.dtype, reduced_shape(x.shape, red, attr_bool(a, "keepdims"))};
  };
  d.ref = [name, kind](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    const Tensor& x = in[0];
    auto red = reduced_axes(name, attr_ints(a, "axes"), x.rank(), InferCtx{});
    Shape keep = reduced_shape(x.shape(), red, true);
    // Output position of an input index: strides of `keep`, 0 on reduced dims.
    std::vector<int64_t> ostr = broadcast_strides(keep, x.shape());
    int64_t n_out = num_elements(keep), count = 1;
    for (int i = 0; i < x.rank(); ++i)
      if (red[i]) count *= x.dim(i);
    if ((kind == Kind::Max || kind == Kind::Min) && count == 0 && n_out > 0)
      throw std::runtime_error(name + ": reduction over an empty axis");
    Tensor out(x.dtype(), reduced_shape(x.shape(), red, attr_bool(a, "keepdims")));
    dispatch_any(x.dtype(), [&]<class T>() {
      if constexpr (std::is_same_v<T, uint8_t>) {
        throw std::runtime_error(name + ": bool tensors are not supported");
      } else {
        // i64 sums wrap modulo 2^64, as the generated code's (unsigned: a defined wrap)
        using Acc = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;
        const T* px = x.data<T>();
        T* py = out.data<T>();
        auto each = [&](auto&& f) {
          for_each_index(x.shape(),
                         [&](const std::vector<int64_t>& idx, int64_t lin) { f(dot_index(idx, ostr), px[lin]); });
        };
        if (kind == Kind::Sum || kind == Kind::Mean) {
          std::vector<Acc> acc(n_out, Acc(0));
          each([&](int64_t o, T v) { acc[o] += Acc(v); });
          for (int64_t o = 0; o < n_out; ++o)
            py[o] = kind == Kind::Mean ? T(double(acc[o]) / double(count)) : T(acc[o]);  // mean: floats only
        } else if (kind == Kind::Max || kind == Kind::Min) {
          bool is_max = kind == Kind::Max;
          T init = std::numeric_limits<T>::has_infinity
                       ? (is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity())
                       : (is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max());
          std::vector<T> m(n_out, init);
          // NaN propagates, as in NumPy.
          each([&](int64_t o, T v) {
            if (isnan_any(m[o])) return;
            if (isnan_any(v) || (is_max ? v > m[o] : v < m[o])) m[o] = v;
          });
          std::copy(m.begin(), m.end(), py);
        } else {  // logsumexp: max(x) + log(sum(exp(x - max(x)))), shifting by 0 when the max is not finite.
          std::vector<double> m(n_out, -std::numeric_limits<double>::infinity()), s(n_out, 0.0);
          each([&](int64_t o, T v) {
            if (double(v) > m[o]) m[o] = double(v);
          });
          for (double& v : m)
            if (!std::isfinite(v)) v = 0;
          each([&](int64_t o, T v) { s[o] += std::exp(double(v) - m[o]); });
          for (int64_t o = 0; o < n_out; ++o) py[o] = T(std::log(s[o]) + m[o]);
        }
      }
    });
    return out;
  };
  return d;
}

OpDef argmax() {
  OpDef d;
  d.name = "argmax";
  d.inputs = {"x"};
  d.attrs = {{"axis", AttrKind::Int, std::nullopt}, {"keepdims", AttrKind::Bool, false}};
  d.doc = "index (i64) of the largest value along an axis; the first one on ties (a NaN counts as largest)";
  d.infer = [](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    const TensorType& x = in[0];
    require_numeric("argmax", x, ctx);
    int axis = normalize_axis("argmax", attr_int(a, "axis"), x.rank());
    if (x.shape[axis] == 0)
      throw OpError(fmt::format("argmax: cannot take argmax over axis {} of {}: it is empty", axis, ctx.t(x)));
    std::vector<bool> red(x.rank(), false);
    red[axis] = true;
    return TensorType{DType::I64, reduced_shape(x.shape, red, attr_bool(a, "keepdims"))};
  };
  d.ref = [](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    const Tensor& x = in[0];
    int axis = normalize_axis("argmax", attr_int(a, "axis"), x.rank());
    std::vector<bool> red(x.rank(), false);
    red[axis] = true;
    int64_t outer = 1, len = x.dim(axis), inner = 1;
    for (int i = 0; i < axis; ++i) outer *= x.dim(i);
    for (int i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
    if (len == 0 && outer * inner > 0) throw std::runtime_error("argmax: empty axis");
    Tensor out(DType::I64, reduced_shape(x.shape(), red, attr_bool(a, "keepdims")));
    int64_t* py = out.data<int64_t>();
    dispatch_any(x.dtype(), [&]<class T>() {
      const T* px = x.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const T* p = px + o * len * inner + i;
          int64_t best = 0;
          for (int64_t j = 1; j < len && !isnan_any(p[best * inner]); ++j)
            if (isnan_any(p[j * inner]) || p[j * inner] > p[best * inner]) best = j;
          py[o * inner + i] = best;
        }
    });
    return out;
  };
  return d;
}

// A reduction's result (or its gradient) broadcast back to the input's shape.
int expand_back(GraphBuilder& b, const Node& n, int r) {
  Shape xs = b.shape(n.inputs[0]);
  auto red = reduced_axes("", attr_ints(n.attrs, "axes"), int(xs.size()), InferCtx{});
  return b.broadcast_to(b.reshape(r, reduced_shape(xs, red, true)), xs);
}

// The gradient of reduction `kind` given its node, result y and output gradient dy.
GradFn reduction_grad(Kind kind) {
  return [kind](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    int x = n.inputs[0];
    int g = expand_back(b, n, dy);
    switch (kind) {
      case Kind::Sum:
        return {g};
      case Kind::Mean:
        return {b.div(g, b.count(x, attr_ints(n.attrs, "axes"), b.dtype(x)))};
      case Kind::LogSumExp:
        return {b.mul(g, b.op("exp", {b.sub(x, expand_back(b, n, y))}))};
      case Kind::Max:
      case Kind::Min: {
        // Shared equally among tied extremes (like torch.amax).
        int hit = b.cast(b.op("eq", {x, expand_back(b, n, y)}), b.dtype(x));
        int ties =
            expand_back(b, n, b.op("sum", {hit}, {{"axes", n.attrs.at("axes")}, {"keepdims", n.attrs.at("keepdims")}}));
        return {b.mul(g, b.div(hit, ties))};
      }
    }
    return {kNoGrad};
  };
}

OpDef with_grad(OpDef d, Kind kind) {
  d.grad = reduction_grad(kind);
  return d;
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  r.add(with_grad(reduction("sum", "sum over axes (empty axes = all)", Kind::Sum), Kind::Sum));
  r.add(with_grad(reduction("mean", "arithmetic mean over axes (empty axes = all)", Kind::Mean), Kind::Mean));
  r.add(with_grad(reduction("max", "maximum over axes (empty axes = all); NaN propagates", Kind::Max), Kind::Max));
  r.add(with_grad(reduction("min", "minimum over axes (empty axes = all); NaN propagates", Kind::Min), Kind::Min));
  r.add(with_grad(
      reduction("logsumexp", "log(sum(exp(x))) over axes (empty axes = all), computed stably", Kind::LogSumExp),
      Kind::LogSumExp));
  r.add(argmax());
}

}  // namespace starc
