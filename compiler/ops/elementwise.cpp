// Elementwise ops: unary math, broadcasting binary arithmetic and comparisons, where, cast.
#include <cmath>

#include "compiler/ops/common.h"

namespace starc {
namespace {

// Unary float -> float op from a generic scalar function.
template <class Fn> OpDef unary(std::string name, std::string doc, Fn fn, std::vector<AttrSpec> attrs = {}) {
  OpDef d;
  d.name = name;
  d.inputs = {"x"};
  d.attrs = std::move(attrs);
  d.doc = std::move(doc);
  d.infer = [name](std::span<const TensorType> in, const Attrs&, const InferCtx& ctx) {
    require_float(name, in[0], ctx);
    return in[0];
  };
  d.ref = [fn](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    Tensor out(in[0].dtype(), in[0].shape());
    dispatch_float(in[0].dtype(), [&]<class T>() {
      const T* x = in[0].data<T>();
      T* y = out.data<T>();
      for (int64_t i = 0, n = out.size(); i < n; ++i) y[i] = T(fn(double(x[i]), a));
    });
    return out;
  };
  return d;
}

// Broadcasting binary op. `compare` ops produce bool.
template <class Fn> OpDef binary(std::string name, std::string doc, Fn fn, bool compare) {
  OpDef d;
  d.name = name;
  d.inputs = {"a", "b"};
  d.doc = std::move(doc);
  d.infer = [name, compare](std::span<const TensorType> in, const Attrs&, const InferCtx& ctx) {
    require_same_dtype(name, in, ctx);
    if (!compare && in[0].dtype == DType::Bool)
      throw OpError(fmt::format("{}: arithmetic on bool tensors is not defined ({})", name, ctx.t(in[0])));
    return TensorType{compare ? DType::Bool : in[0].dtype, broadcast_shapes(name, {in[0], in[1]}, ctx)};
  };
  d.ref = [fn, compare](std::span<const Tensor> in, const Attrs&, RefCtx&) {
    Shape shape = broadcast_shapes("", {in[0].type(), in[1].type()}, InferCtx{});
    Tensor out(compare ? DType::Bool : in[0].dtype(), shape);
    auto sa = broadcast_strides(in[0].shape(), shape), sb = broadcast_strides(in[1].shape(), shape);
    dispatch_any(in[0].dtype(), [&]<class T>() {
      const T* a = in[0].data<T>();
      const T* b = in[1].data<T>();
      for_each_index(shape, [&](const std::vector<int64_t>& idx, int64_t lin) {
        T x = a[dot_index(idx, sa)], y = b[dot_index(idx, sb)];
        if constexpr (std::is_same_v<T, uint8_t>) {
          out.data<uint8_t>()[lin] = uint8_t(fn(double(x), double(y)) != 0);
        } else if (compare) {
          out.data<uint8_t>()[lin] = uint8_t(fn(x, y) != 0);
        } else {
          out.data<T>()[lin] = T(fn(x, y));
        }
      });
    });
    return out;
  };
  return d;
}

double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }
double softplus(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  using A = const Attrs&;
  r.add(unary("neg", "-x", [](double x, A) { return -x; }));
  r.add(unary("exp", "e^x", [](double x, A) { return std::exp(x); }));
  r.add(unary("log", "natural logarithm", [](double x, A) { return std::log(x); }));
  r.add(unary("tanh", "hyperbolic tangent", [](double x, A) { return std::tanh(x); }));
  r.add(unary("sigmoid", "1 / (1 + e^-x)", [](double x, A) { return sigmoid(x); }));
  r.add(unary("relu", "max(x, 0)", [](double x, A) { return x > 0 ? x : 0.0; }));
  r.add(unary("leaky_relu", "x if x > 0 else alpha * x",
              [](double x, A a) { return x > 0 ? x : attr_float(a, "alpha") * x; },
              {{"alpha", AttrKind::Float, 0.01}}));
  r.add(unary("elu", "x if x > 0 else alpha * (e^x - 1)",
              [](double x, A a) { return x > 0 ? x : attr_float(a, "alpha") * std::expm1(x); },
              {{"alpha", AttrKind::Float, 1.0}}));
  r.add(unary("softplus", "log(1 + e^x)", [](double x, A) { return softplus(x); }));
  r.add(unary("sqrt", "square root", [](double x, A) { return std::sqrt(x); }));
  r.add(unary("rsqrt", "1 / sqrt(x)", [](double x, A) { return 1 / std::sqrt(x); }));
  r.add(unary("abs", "|x|", [](double x, A) { return std::abs(x); }));
  r.add(unary("sign", "-1, 0 or 1", [](double x, A) { return double((x > 0) - (x < 0)); }));
  r.add(unary("sin", "sine", [](double x, A) { return std::sin(x); }));
  r.add(unary("cos", "cosine", [](double x, A) { return std::cos(x); }));
  r.add(unary("square", "x * x", [](double x, A) { return x * x; }));

  r.add(binary("add", "a + b (broadcasting)", [](auto a, auto b) { return a + b; }, false));
  r.add(binary("sub", "a - b (broadcasting)", [](auto a, auto b) { return a - b; }, false));
  r.add(binary("mul", "a * b (broadcasting)", [](auto a, auto b) { return a * b; }, false));
  r.add(binary("div", "a / b (broadcasting; integer division truncates)", [](auto a, auto b) {
          if constexpr (std::is_integral_v<decltype(a)>) return b == 0 ? decltype(a)(0) : decltype(a)(a / b);
          else return a / b;
        }, false));
  r.add(binary("pow", "a ^ b (broadcasting)", [](auto a, auto b) { return std::pow(a, b); }, false));
  r.add(binary("maximum", "elementwise max (broadcasting)", [](auto a, auto b) { return a > b ? a : b; }, false));
  r.add(binary("minimum", "elementwise min (broadcasting)", [](auto a, auto b) { return a < b ? a : b; }, false));
  r.add(binary("eq", "a == b", [](auto a, auto b) { return a == b; }, true));
  r.add(binary("ne", "a != b", [](auto a, auto b) { return a != b; }, true));
  r.add(binary("lt", "a < b", [](auto a, auto b) { return a < b; }, true));
  r.add(binary("le", "a <= b", [](auto a, auto b) { return a <= b; }, true));
  r.add(binary("gt", "a > b", [](auto a, auto b) { return a > b; }, true));
  r.add(binary("ge", "a >= b", [](auto a, auto b) { return a >= b; }, true));

  OpDef where;
  where.name = "where";
  where.inputs = {"cond", "a", "b"};
  where.doc = "a where cond is true, else b (broadcasting)";
  where.infer = [](std::span<const TensorType> in, const Attrs&, const InferCtx& ctx) {
    if (in[0].dtype != DType::Bool)
      throw OpError(fmt::format("where: condition must be bool, got {} (use a comparison)", ctx.t(in[0])));
    require_same_dtype("where", in.subspan(1), ctx);
    return TensorType{in[1].dtype, broadcast_shapes("where", {in[0], in[1], in[2]}, ctx)};
  };
  where.ref = [](std::span<const Tensor> in, const Attrs&, RefCtx&) {
    Shape shape = broadcast_shapes("", {in[0].type(), in[1].type(), in[2].type()}, InferCtx{});
    Tensor out(in[1].dtype(), shape);
    auto sc = broadcast_strides(in[0].shape(), shape), sa = broadcast_strides(in[1].shape(), shape),
         sb = broadcast_strides(in[2].shape(), shape);
    const uint8_t* c = in[0].data<uint8_t>();
    for_each_index(shape, [&](const std::vector<int64_t>& idx, int64_t lin) {
      out.set(lin, c[dot_index(idx, sc)] ? in[1].get(dot_index(idx, sa)) : in[2].get(dot_index(idx, sb)));
    });
    return out;
  };
  r.add(std::move(where));

  OpDef cast;
  cast.name = "cast";
  cast.inputs = {"x"};
  cast.attrs = {{"dtype", AttrKind::DType, std::nullopt}};
  cast.doc = "convert the element type";
  cast.infer = [](std::span<const TensorType> in, const Attrs& a, const InferCtx&) {
    return TensorType{attr_dtype(a, "dtype"), in[0].shape};
  };
  cast.ref = [](std::span<const Tensor> in, const Attrs& a, RefCtx&) { return in[0].cast(attr_dtype(a, "dtype")); };
  r.add(std::move(cast));
}

}  // namespace starc
