// Elementwise ops: unary math, broadcasting binary arithmetic and comparisons, where, cast.
#include <cmath>

#include "compiler/ops/builder.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

// Unary float -> float op from a generic scalar function.
template <class Fn>
OpDef unary(std::string name, std::string doc, Fn fn, std::vector<AttrSpec> attrs = {}) {
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
template <class Fn>
OpDef binary(std::string name, std::string doc, Fn fn, bool compare) {
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

OpDef with_grad(OpDef d, GradFn g) {
  d.grad = std::move(g);
  return d;
}

// Gradient rules of unary ops as dy * f'(x), given x and y = f(x).
template <class Fn>
GradFn unary_grad(Fn local) {
  return [local](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    return {local(b, n, n.inputs[0], y, dy)};
  };
}

// Gradient rules of broadcasting binary ops: the local gradients are summed back to
// each operand's shape.
template <class Fn>
GradFn binary_grad(Fn local) {
  return [local](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    int a = n.inputs[0], bb = n.inputs[1];
    auto [da, db] = local(b, a, bb, y, dy);
    return {b.sum_to(da, b.shape(a)), b.sum_to(db, b.shape(bb))};
  };
}

int zero_where(GraphBuilder& b, int cond, int dy, bool keep_if) {
  int zero = b.scalar_like(0, dy);
  return keep_if ? b.op("where", {cond, dy, zero}) : b.op("where", {cond, zero, dy});
}

// i64 arithmetic, defined for every operand (docs/language.md, "Integer arithmetic"): it
// wraps modulo 2^64 like the generated code's (computed unsigned, where C++ defines the
// wrap), and division never traps: x / 0 = 0 and INT64_MIN / -1 = INT64_MIN.
template <class T>
T add_of(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(uint64_t(a) + uint64_t(b));
  else
    return a + b;
}
template <class T>
T sub_of(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(uint64_t(a) - uint64_t(b));
  else
    return a - b;
}
template <class T>
T mul_of(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(uint64_t(a) * uint64_t(b));
  else
    return a * b;
}
template <class T>
T div_of(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0) return 0;
    if (b == -1) return T(0 - uint64_t(a));  // -a, wrapping: INT64_MIN / -1 = INT64_MIN
    return T(a / b);
  } else {
    return a / b;
  }
}
// a ** b on i64: by squaring, wrapping; a negative exponent gives the integer part of
// 1 / a^|b| (0 unless a is 1 or -1; 0 ** -1 = 0, as x / 0 = 0).
int64_t int_pow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
  uint64_t r = 1, base = uint64_t(a);
  for (uint64_t k = uint64_t(b); k; k >>= 1) {
    if (k & 1) r *= base;
    base *= base;
  }
  return int64_t(r);
}
// PyTorch's maximum / minimum (1.13): NaN in either operand gives NaN, and a tie
// (-0 vs +0) gives the first operand. compiler/lower/lower_elementwise.cpp emits the same
// compare-and-selects.
template <class T>
bool nan_of(T x) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(x);
  else
    return false;
}
template <class T>
T max_of(T a, T b) {
  return a >= b || nan_of(a) ? a : b;
}
template <class T>
T min_of(T a, T b) {
  return a <= b || nan_of(a) ? a : b;
}
template <class T>
T pow_of(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return T(int_pow(a, b));
  else
    return std::pow(a, b);
}

// One element converted as the cast op defines it (one rounding; i64 -> f32 directly).
template <class From, class To>
To convert(From x) {
  if constexpr (std::is_same_v<To, uint8_t>)
    return To(x != From(0));
  else if constexpr (std::is_floating_point_v<From> && std::is_same_v<To, int64_t>)
    return float_to_i64(double(x));
  else
    return To(x);
}

Tensor cast_tensor(const Tensor& in, DType to) {
  if (to == in.dtype()) return in;
  Tensor out(to, in.shape());
  dispatch_any(in.dtype(), [&]<class From>() {
    dispatch_any(to, [&]<class To>() {
      const From* x = in.data<From>();
      To* y = out.data<To>();
      for (int64_t i = 0, n = in.size(); i < n; ++i) y[i] = convert<From, To>(x[i]);
    });
  });
  return out;
}

double sigmoid(double x) { return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x)); }
double softplus(double x) { return x > 20 ? x : std::log1p(std::exp(x)); }

// GELU, PyTorch's two forms (torch.nn.functional.gelu, approximate "none" or "tanh"), in
// forms that keep their accuracy in the negative tail, where 1 + erf and 1 + tanh cancel:
// exact x * 0.5 * (1 + erf(x / sqrt 2)) = x * 0.5 * erfc(-x / sqrt 2), and
// 0.5 * x * (1 + tanh(u)) = x * sigmoid(2u) with u = sqrt(2 / pi) * (x + 0.044715 x^3).
// The same values as PyTorch's at the special points: gelu(-inf) is NaN (-inf * 0, as
// in PyTorch), gelu(inf) = inf, gelu(-0) = -0. compiler/lower/lower_elementwise.cpp
// computes the same forms.
constexpr double kSqrt1_2 = 0.70710678118654752440;  // 1 / sqrt 2
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluTanhCubic = 0.044715;
bool gelu_tanh(const Attrs& a) { return attr_str(a, "approximate") == "tanh"; }
double gelu(double x, bool tanh_form) {
  if (!tanh_form) return x * 0.5 * std::erfc(-x * kSqrt1_2);
  return x * sigmoid((x + x * x * x * kGeluTanhCubic) * (2 * kSqrt2OverPi));  // the lowering's order
}

}  // namespace

void register_elementwise_ops(OpRegistry& registry) {
  // Every op of this family is elementwise (simplify sinks broadcasts through them).
  struct {
    OpRegistry& to;
    void add(OpDef d) {
      d.elementwise = true;
      to.add(std::move(d));
    }
  } r{registry};
  using A = const Attrs&;
  using B = GraphBuilder&;
  using N = const Node&;
  int (*positive)(B, int) = [](B b, int x) { return b.op("gt", {x, b.scalar_like(0, x)}); };
  r.add(with_grad(unary("neg", "-x", [](double x, A) { return -x; }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.neg(dy); })));
  r.add(with_grad(unary("exp", "e^x", [](double x, A) { return std::exp(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(dy, y); })));
  r.add(with_grad(unary("log", "natural logarithm", [](double x, A) { return std::log(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.div(dy, x); })));
  r.add(with_grad(
      unary("tanh", "hyperbolic tangent", [](double x, A) { return std::tanh(x); }),
      unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(dy, b.sub(b.scalar_like(1, y), b.mul(y, y))); })));
  r.add(with_grad(
      unary("sigmoid", "1 / (1 + e^-x)", [](double x, A) { return sigmoid(x); }),
      unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(dy, b.mul(y, b.sub(b.scalar_like(1, y), y))); })));
  r.add(with_grad(unary("relu", "max(x, 0); relu(NaN) = NaN, relu(-0) = -0 (as PyTorch)",
                        [](double x, A) { return x < 0 ? 0.0 : x; }),
                  // relu(x) <= 0 exactly where x <= 0: reading the result lets the pre-activation
                  // (often a bias add) fuse into the relu instead of living until the backward pass.
                  // At NaN dy passes (PyTorch's threshold_backward: 0 where result <= 0).
                  unary_grad([=](B b, N n, int x, int y, int dy) {
                    return zero_where(b, b.op("le", {y, b.scalar_like(0, y)}), dy, false);
                  })));
  r.add(with_grad(
      unary("leaky_relu", "x if x > 0 else alpha * x",
            [](double x, A a) { return x > 0 ? x : attr_float(a, "alpha") * x; }, {{"alpha", AttrKind::Float, 0.01}}),
      unary_grad([=](B b, N n, int x, int y, int dy) {
        return b.op("where", {positive(b, x), dy, b.mul(dy, attr_float(n.attrs, "alpha"))});
      })));
  r.add(with_grad(unary("elu", "x if x > 0 else alpha * (e^x - 1)",
                        [](double x, A a) { return x > 0 ? x : attr_float(a, "alpha") * std::expm1(x); },
                        {{"alpha", AttrKind::Float, 1.0}}),
                  // dy where !(x <= 0): at NaN dy passes, as PyTorch's elu_backward
                  unary_grad([=](B b, N n, int x, int y, int dy) {
                    int nonpositive = b.op("le", {x, b.scalar_like(0, x)});
                    return b.op("where", {nonpositive, b.mul(dy, b.add(y, attr_float(n.attrs, "alpha"))), dy});
                  })));
  r.add(with_grad(unary("softplus", "log(1 + e^x)", [](double x, A) { return softplus(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(dy, b.op("sigmoid", {x})); })));
  r.add(with_grad(unary("erf", "error function: 2/sqrt(pi) * integral of e^(-t^2) dt from 0 to x",
                        [](double x, A) { return std::erf(x); }),
                  // d erf/dx = 2/sqrt(pi) e^(-x^2)
                  unary_grad([=](B b, N n, int x, int y, int dy) {
                    int e = b.op("exp", {b.neg(b.op("square", {x}))});  // (statements: a fixed node order)
                    return b.mul(b.mul(dy, 1.1283791670955125739), e);
                  })));
  OpDef gelu_op = with_grad(
      unary("gelu",
            "x * 0.5 * (1 + erf(x / sqrt 2)); approximate: \"tanh\" gives 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + "
            "0.044715 x^3))) (PyTorch's forms)",
            [](double x, A a) { return gelu(x, gelu_tanh(a)); },
            {{"approximate", AttrKind::String, std::string("none")}}),
      unary_grad([=](B b, N n, int x, int y, int dy) {
        if (!gelu_tanh(n.attrs)) {
          // Phi(x) + x phi(x): Phi(x) = 0.5 (1 + erf(x / sqrt 2)), phi(x) = e^(-x^2 / 2) / sqrt(2 pi)
          int cdf = b.mul(b.add(b.op("erf", {b.mul(x, kSqrt1_2)}), 1.0), 0.5);
          int pdf = b.mul(b.op("exp", {b.mul(b.op("square", {x}), -0.5)}), 0.39894228040143267794);
          return b.mul(dy, b.add(cdf, b.mul(x, pdf)));
        }
        // y = x s, s = sigmoid(2u): dy/dx = s + x s (1 - s) 2u', 2u' = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        int x2 = b.op("square", {x});
        int s = b.op("sigmoid", {b.mul(b.add(x, b.mul(b.mul(x2, x), kGeluTanhCubic)), 2 * kSqrt2OverPi)});
        int du = b.mul(b.add(b.mul(x2, 3 * kGeluTanhCubic), 1.0), 2 * kSqrt2OverPi);
        int ds = b.mul(b.mul(s, b.sub(b.scalar_like(1, s), s)), du);
        return b.mul(dy, b.add(s, b.mul(x, ds)));
      }));
  gelu_op.infer = [](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    require_float("gelu", in[0], ctx);
    const std::string& how = attr_str(a, "approximate");
    if (how != "none" && how != "tanh")
      throw OpError(fmt::format("gelu: approximate must be \"none\" or \"tanh\", got \"{}\"", how));
    return in[0];
  };
  r.add(std::move(gelu_op));
  r.add(with_grad(unary("sqrt", "square root", [](double x, A) { return std::sqrt(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.div(b.mul(dy, 0.5), y); })));
  r.add(with_grad(unary("rsqrt", "1 / sqrt(x)", [](double x, A) { return 1 / std::sqrt(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(b.mul(dy, -0.5), b.div(y, x)); })));
  r.add(with_grad(unary("abs", "|x|", [](double x, A) { return std::abs(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(dy, b.op("sign", {x})); })));
  r.add(with_grad(unary("sign", "-1, 0 or 1; sign(NaN) = 0 (as PyTorch 1.13)",
                        [](double x, A) { return double((x > 0) - (x < 0)); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.zeros_like(x); })));  // piecewise constant
  r.add(with_grad(unary("sin", "sine", [](double x, A) { return std::sin(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(dy, b.op("cos", {x})); })));
  r.add(with_grad(unary("cos", "cosine", [](double x, A) { return std::cos(x); }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.neg(b.mul(dy, b.op("sin", {x}))); })));
  r.add(with_grad(unary("square", "x * x", [](double x, A) { return x * x; }),
                  unary_grad([=](B b, N n, int x, int y, int dy) { return b.mul(b.mul(dy, 2.0), x); })));

  r.add(with_grad(binary(
                      "add", "a + b (broadcasting)", [](auto a, auto b) { return add_of(a, b); }, false),
                  binary_grad([=](B b, int a, int bb, int y, int dy) { return std::pair{dy, dy}; })));
  r.add(with_grad(binary(
                      "sub", "a - b (broadcasting)", [](auto a, auto b) { return sub_of(a, b); }, false),
                  binary_grad([=](B b, int a, int bb, int y, int dy) { return std::pair{dy, b.neg(dy)}; })));
  r.add(with_grad(
      binary(
          "mul", "a * b (broadcasting)", [](auto a, auto b) { return mul_of(a, b); }, false),
      binary_grad([=](B b, int a, int bb, int y, int dy) { return std::pair{b.mul(dy, bb), b.mul(dy, a)}; })));
  r.add(with_grad(binary(
                      "div", "a / b (broadcasting; integer division truncates, x / 0 = 0)",
                      [](auto a, auto b) { return div_of(a, b); }, false),
                  binary_grad([=](B b, int a, int bb, int y, int dy) {
                    return std::pair{b.div(dy, bb), b.neg(b.div(b.mul(dy, y), bb))};
                  })));
  r.add(with_grad(binary(
                      "pow", "a ^ b (broadcasting)", [](auto a, auto b) { return pow_of(a, b); }, false),
                  binary_grad([=](B b, int a, int bb, int y, int dy) {
                    int da = b.mul(dy, b.mul(bb, b.op("pow", {a, b.sub(bb, b.scalar_like(1, bb))})));
                    // d/db = y log a, taken as 0 where a <= 0 (where y is 0 or NaN anyway)
                    int db = zero_where(b, positive(b, a), b.mul(dy, b.mul(y, b.op("log", {b.op("abs", {a})}))), true);
                    return std::pair{da, db};
                  })));
  r.add(with_grad(binary(
                      "maximum", "elementwise max (broadcasting); NaN in either gives NaN (as PyTorch)",
                      [](auto a, auto b) { return max_of(a, b); }, false),
                  // a's where !(a < b), b's where !(a >= b): a tie goes to a, and at a NaN both get
                  // dy, as PyTorch's maximum backward does there.
                  binary_grad([=](B b, int a, int bb, int y, int dy) {
                    int lt = b.op("lt", {a, bb});
                    int ge = b.op("ge", {a, bb});
                    return std::pair{zero_where(b, lt, dy, false), zero_where(b, ge, dy, false)};
                  })));
  r.add(with_grad(binary(
                      "minimum", "elementwise min (broadcasting); NaN in either gives NaN (as PyTorch)",
                      [](auto a, auto b) { return min_of(a, b); }, false),
                  binary_grad([=](B b, int a, int bb, int y, int dy) {
                    int gt = b.op("gt", {a, bb});
                    int le = b.op("le", {a, bb});
                    return std::pair{zero_where(b, gt, dy, false), zero_where(b, le, dy, false)};
                  })));
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
    dispatch_any(out.dtype(), [&]<class T>() {  // typed: an i64 beyond 2^53 survives
      const T *a = in[1].data<T>(), *b = in[2].data<T>();
      T* y = out.data<T>();
      for_each_index(shape, [&](const std::vector<int64_t>& idx, int64_t lin) {
        y[lin] = c[dot_index(idx, sc)] ? a[dot_index(idx, sa)] : b[dot_index(idx, sb)];
      });
    });
    return out;
  };
  where.grad = [](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    int c = n.inputs[0];
    return {kNoGrad, b.sum_to(zero_where(b, c, dy, true), b.shape(n.inputs[1])),
            b.sum_to(zero_where(b, c, dy, false), b.shape(n.inputs[2]))};
  };
  r.add(std::move(where));

  OpDef cast;
  cast.name = "cast";
  cast.inputs = {"x"};
  cast.attrs = {{"dtype", AttrKind::DType, std::nullopt}};
  cast.doc = "convert the element type (float -> i64 truncates and saturates, NaN -> 0)";
  cast.infer = [](std::span<const TensorType> in, const Attrs& a, const InferCtx&) {
    return TensorType{attr_dtype(a, "dtype"), in[0].shape};
  };
  cast.ref = [](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    return cast_tensor(in[0], attr_dtype(a, "dtype"));
  };
  cast.grad = [](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    DType from = b.dtype(n.inputs[0]);
    if (!is_float(from) || !is_float(b.dtype(y))) return {kNoGrad};  // through an integer: no gradient
    return {b.cast(dy, from)};
  };
  r.add(std::move(cast));
}

}  // namespace starc
