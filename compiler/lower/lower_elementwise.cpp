// Lowerings of the elementwise ops: one linalg.generic each, with NumPy broadcasting in
// the indexing maps. Scalar semantics follow the reference kernels exactly (e.g. relu
// and maximum are compare+select, so NaN and -0 behave the same on both backends, and as
// PyTorch: NaN propagates).
#include <fmt/format.h>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"

namespace starc {
namespace {

using namespace lower_util;  // op1, op2, select

// `r = arith.cmpf/cmpi PRED a, b : T` by element type.
std::string cmp(E e, const std::string& pred, const std::string& a, const std::string& b, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.{} {}, {}, {} : {}", r, is_float(t) ? "cmpf" : "cmpi", pred, a, b, el(t)));
  return r;
}

// A unary float op from a scalar body f(e, x, n, t).
using Scalar1 = std::function<std::string(E, const std::string& x, const Node& n, DType t)>;
LowerFn unary(Scalar1 f) {
  return [f](E e, const Node& n, int id) {
    DType t = n.type.dtype;
    e.bind(id, e.elementwise({n.inputs[0]}, n.type, [&](E e, Args a) { return f(e, a[0], n, t); }));
  };
}

using Scalar2 = std::function<std::string(E, const std::string& a, const std::string& b, DType t)>;
LowerFn binary(Scalar2 f) {
  return [f](E e, const Node& n, int id) {
    DType t = e.type(n.inputs[0]).dtype;
    e.bind(id, e.elementwise({n.inputs[0], n.inputs[1]}, n.type, [&](E e, Args a) { return f(e, a[0], a[1], t); }));
  };
}

std::string zero(E e, DType t) { return e.constant_scalar(0, t); }

// maximum / minimum as the reference (max_of / min_of in compiler/ops/elementwise.cpp):
// a >= b (a <= b) or a NaN gives a, else b; so a NaN in either operand gives NaN and a
// tie gives a, as PyTorch. (arith.maximumf would propagate NaN too, but orders -0 < +0.)
std::string extreme(E e, const std::string& a, const std::string& b, DType t, bool is_max) {
  if (!is_float(t)) return select(e, cmp(e, is_max ? "sge" : "sle", a, b, t), a, b, t);
  std::string take = select(e, cmp(e, is_max ? "oge" : "ole", a, b, t), a, b, t);
  return select(e, cmp(e, "uno", a, a, t), a, take, t);
}
std::string one(E e, DType t) { return e.constant_scalar(1, t); }
std::string gt0(E e, const std::string& x, DType t) { return cmp(e, "ogt", x, zero(e, t), t); }

// sigmoid: e^x / (1 + e^x) for x < 0, 1 / (1 + e^-x) otherwise (no overflow), as the reference.
std::string sigmoid(E e, const std::string& x, DType t) {
  std::string ex = op1(e, "math.exp", op1(e, "arith.negf", op1(e, "math.absf", x, t), t), t);  // e^-|x|
  std::string den = op2(e, "arith.addf", one(e, t), ex, t);
  std::string pos = op2(e, "arith.divf", one(e, t), den, t);
  std::string neg = op2(e, "arith.divf", ex, den, t);
  return select(e, cmp(e, "oge", x, zero(e, t), t), pos, neg, t);
}

// gelu as the reference computes it (compiler/ops/elementwise.cpp): x * 0.5 * erfc(-x / sqrt 2),
// or x * sigmoid(2u), u = sqrt(2/pi) * (x + 0.044715 x^3), for approximate "tanh". math.erfc
// becomes a libm call on the CPU and a libdevice call (__nv_erfcf, __nv_erfc) on the GPU.
std::string gelu(E e, const std::string& x, const Node& n, DType t) {
  // (one statement per op: the emitted order does not depend on argument evaluation order)
  auto mul = [&](const std::string& a, const std::string& b) { return op2(e, "arith.mulf", a, b, t); };
  if (attr_str(n.attrs, "approximate") != "tanh") {
    std::string arg = mul(x, e.constant_scalar(-0.70710678118654752440, t));  // -x / sqrt 2
    std::string cdf2 = op1(e, "math.erfc", arg, t);                           // 2 Phi(x)
    std::string half_x = mul(x, e.constant_scalar(0.5, t));
    return mul(half_x, cdf2);
  }
  std::string x3 = mul(mul(x, x), x);
  std::string inner = op2(e, "arith.addf", x, mul(x3, e.constant_scalar(0.044715, t)), t);
  std::string two_u = mul(inner, e.constant_scalar(2 * 0.79788456080286535588, t));
  return mul(x, sigmoid(e, two_u, t));
}

// Arithmetic by element type: float op, integer op (bool arithmetic is rejected by the
// shape rules).
Scalar2 arith(const char* fop, const char* iop) {
  return [fop, iop](E e, const std::string& a, const std::string& b, DType t) {
    return op2(e, is_float(t) ? fop : iop, a, b, t);
  };
}

Scalar2 compare(const char* fpred, const char* ipred, const char* upred) {
  return [=](E e, const std::string& a, const std::string& b, DType t) {
    return cmp(e, is_float(t) ? fpred : t == DType::Bool ? upred : ipred, a, b, t);
  };
}

// i64 division as the reference defines it (docs/language.md, "Integer arithmetic"):
// truncating, x / 0 = 0 and INT64_MIN / -1 = INT64_MIN. arith.divsi by 0 or of
// INT64_MIN by -1 is undefined (x86 traps), so it only ever sees a divisor that is
// neither; -1 is a wrapping negation.
std::string int_div(E e, const std::string& a, const std::string& b) {
  const DType t = DType::I64;
  std::string is0 = cmp(e, "eq", b, zero(e, t), t), is_m1 = cmp(e, "eq", b, e.constant_scalar(-1, t), t);
  std::string safe = select(e, op2(e, "arith.ori", is0, is_m1, DType::Bool), one(e, t), b, t);
  std::string q = select(e, is_m1, op2(e, "arith.subi", zero(e, t), a, t), op2(e, "arith.divsi", a, safe, t), t);
  return select(e, is0, zero(e, t), q, t);
}

// a ** b on i64, as the reference: b >= 0 by squaring over the 63 bits of b (wrapping);
// b < 0 gives 1 for a = 1, +-1 for a = -1, else 0.
std::string int_pow(E e, const std::string& a, const std::string& b) {
  const DType t = DType::I64;
  std::string r = one(e, t), base = a, c1 = one(e, t);
  for (int bit = 0; bit < 63; ++bit) {
    std::string set = cmp(e, "ne", op2(e, "arith.andi", b, e.i64(int64_t(1) << bit), t), zero(e, t), t);
    r = select(e, set, op2(e, "arith.muli", r, base, t), r, t);
    if (bit < 62) base = op2(e, "arith.muli", base, base, t);
  }
  std::string odd = cmp(e, "ne", op2(e, "arith.andi", b, c1, t), zero(e, t), t);
  std::string m1 = e.constant_scalar(-1, t);
  std::string neg = select(e, cmp(e, "eq", a, c1, t), c1,
                           select(e, cmp(e, "eq", a, m1, t), select(e, odd, m1, c1, t), zero(e, t), t), t);
  return select(e, cmp(e, "slt", b, zero(e, t), t), neg, r, t);
}

// float -> i64, as the reference: truncating, saturating at the i64 range, NaN -> 0
// (arith.fptosi of NaN or of a value out of range is poison).
std::string float_to_i64(E e, const std::string& x, DType from) {
  const DType t = DType::I64;
  std::string big = cmp(e, "oge", x, e.constant_scalar(9223372036854775808.0, from), from);  // 2^63
  std::string small = cmp(e, "olt", x, e.constant_scalar(-9223372036854775808.0, from), from);
  std::string nan = cmp(e, "uno", x, x, from);
  std::string out = op2(e, "arith.ori", op2(e, "arith.ori", big, small, DType::Bool), nan, DType::Bool);
  std::string safe = select(e, out, zero(e, from), x, from), r = e.fresh("s");
  e.line(fmt::format("{} = arith.fptosi {} : {} to i64", r, safe, MlirEmitter::elem(from)));
  r = select(e, big, e.i64(INT64_MAX), r, t);  // (not constant_scalar: a double cannot hold INT64_MAX)
  return select(e, small, e.i64(INT64_MIN), r, t);
}

std::string cast_scalar(E e, const std::string& x, DType from, DType to) {
  if (from == to) return x;
  std::string r = e.fresh("s");
  if (is_float(from) && is_float(to))
    e.line(fmt::format("{} = arith.{} {} : {} to {}", r, from == DType::F32 ? "extf" : "truncf", x, el(from), el(to)));
  else if (is_float(from) && to == DType::I64)
    return float_to_i64(e, x, from);
  else if (from == DType::I64 && is_float(to))
    e.line(fmt::format("{} = arith.sitofp {} : {} to {}", r, x, el(from), el(to)));
  else if (from == DType::Bool && is_float(to))
    e.line(fmt::format("{} = arith.uitofp {} : {} to {}", r, x, el(from), el(to)));
  else if (from == DType::Bool && to == DType::I64)
    e.line(fmt::format("{} = arith.extui {} : {} to {}", r, x, el(from), el(to)));
  else if (to == DType::Bool)  // x != 0
    return cmp(e, is_float(from) ? "une" : "ne", x, e.constant_scalar(0, from), from);
  return r;
}

}  // namespace

void register_elementwise_lowerings(LoweringTable& t) {
  t["neg"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "arith.negf", x, t); });
  t["exp"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.exp", x, t); });
  t["log"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.log", x, t); });
  t["tanh"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.tanh", x, t); });
  t["sin"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.sin", x, t); });
  t["cos"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.cos", x, t); });
  t["sqrt"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.sqrt", x, t); });
  t["rsqrt"] =
      unary([](E e, auto& x, auto&, DType t) { return op2(e, "arith.divf", one(e, t), op1(e, "math.sqrt", x, t), t); });
  t["abs"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.absf", x, t); });
  t["square"] = unary([](E e, auto& x, auto&, DType t) { return op2(e, "arith.mulf", x, x, t); });
  t["sigmoid"] = unary([](E e, auto& x, auto&, DType t) { return sigmoid(e, x, t); });
  // x < 0 ? 0 : x: NaN and -0 pass (PyTorch's relu); one compare and a select, as cheap
  // as max(x, 0) when vectorised.
  t["relu"] =
      unary([](E e, auto& x, auto&, DType t) { return select(e, cmp(e, "olt", x, zero(e, t), t), zero(e, t), x, t); });
  t["leaky_relu"] = unary([](E e, auto& x, const Node& n, DType t) {
    std::string ax = op2(e, "arith.mulf", e.constant_scalar(attr_float(n.attrs, "alpha"), t), x, t);
    return select(e, gt0(e, x, t), x, ax, t);
  });
  t["elu"] = unary([](E e, auto& x, const Node& n, DType t) {
    std::string ax =
        op2(e, "arith.mulf", e.constant_scalar(attr_float(n.attrs, "alpha"), t), op1(e, "math.expm1", x, t), t);
    return select(e, gt0(e, x, t), x, ax, t);
  });
  t["softplus"] = unary([](E e, auto& x, auto&, DType t) {
    std::string soft = op1(e, "math.log1p", op1(e, "math.exp", x, t), t);
    return select(e, cmp(e, "ogt", x, e.constant_scalar(20, t), t), x, soft, t);
  });
  t["erf"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.erf", x, t); });
  t["gelu"] = unary(gelu);
  t["sign"] = unary([](E e, auto& x, auto&, DType t) {
    std::string neg = select(e, cmp(e, "olt", x, zero(e, t), t), e.constant_scalar(-1, t), zero(e, t), t);
    return select(e, gt0(e, x, t), one(e, t), neg, t);
  });

  t["add"] = binary(arith("arith.addf", "arith.addi"));
  t["sub"] = binary(arith("arith.subf", "arith.subi"));
  t["mul"] = binary(arith("arith.mulf", "arith.muli"));
  t["div"] = binary(
      [](E e, auto& a, auto& b, DType t) { return is_float(t) ? op2(e, "arith.divf", a, b, t) : int_div(e, a, b); });
  t["pow"] = binary(
      [](E e, auto& a, auto& b, DType t) { return is_float(t) ? op2(e, "math.powf", a, b, t) : int_pow(e, a, b); });
  t["maximum"] = binary([](E e, auto& a, auto& b, DType t) { return extreme(e, a, b, t, true); });
  t["minimum"] = binary([](E e, auto& a, auto& b, DType t) { return extreme(e, a, b, t, false); });
  t["eq"] = binary(compare("oeq", "eq", "eq"));
  t["ne"] = binary(compare("une", "ne", "ne"));
  t["lt"] = binary(compare("olt", "slt", "ult"));
  t["le"] = binary(compare("ole", "sle", "ule"));
  t["gt"] = binary(compare("ogt", "sgt", "ugt"));
  t["ge"] = binary(compare("oge", "sge", "uge"));
  t["where"] = [](E e, const Node& n, int id) {
    DType dt = n.type.dtype;
    e.bind(id, e.elementwise({n.inputs[0], n.inputs[1], n.inputs[2]}, n.type,
                             [&](E e, Args a) { return select(e, a[0], a[1], a[2], dt); }));
  };
  t["cast"] = [](E e, const Node& n, int id) {
    DType from = e.type(n.inputs[0]).dtype, to = n.type.dtype;
    e.bind(id, e.elementwise({n.inputs[0]}, n.type, [&](E e, Args a) { return cast_scalar(e, a[0], from, to); }));
  };
}

}  // namespace starc
