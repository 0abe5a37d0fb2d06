// Lowerings of the elementwise ops: one linalg.generic each, with NumPy broadcasting in
// the indexing maps. Scalar semantics follow the reference kernels exactly (e.g. relu
// and maximum are compare+select, so NaN behaves the same on both backends).
#include <fmt/format.h>

#include "compiler/lower/emit.h"

namespace starc {
namespace {

using Args = const std::vector<std::string>&;
using E = MlirEmitter&;

bool is_f(DType t) { return t == DType::F32 || t == DType::F64; }

// Emits `r = OP a, b : T` (or unary) and returns r.
std::string op2(E e, const std::string& op, const std::string& a, const std::string& b, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {}, {} : {}", r, op, a, b, MlirEmitter::elem(t)));
  return r;
}
std::string op1(E e, const std::string& op, const std::string& a, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {} : {}", r, op, a, MlirEmitter::elem(t)));
  return r;
}
std::string cmp(E e, const std::string& pred, const std::string& a, const std::string& b, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.{} {}, {}, {} : {}", r, is_f(t) ? "cmpf" : "cmpi", pred, a, b, MlirEmitter::elem(t)));
  return r;
}
std::string select(E e, const std::string& c, const std::string& a, const std::string& b, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.select {}, {}, {} : {}", r, c, a, b, MlirEmitter::elem(t)));
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
std::string one(E e, DType t) { return e.constant_scalar(1, t); }
std::string gt0(E e, const std::string& x, DType t) { return cmp(e, "ogt", x, zero(e, t), t); }

// Arithmetic by element type: float op, integer op (bool arithmetic is rejected by the
// shape rules).
Scalar2 arith(const char* fop, const char* iop) {
  return [fop, iop](E e, const std::string& a, const std::string& b, DType t) {
    return op2(e, is_f(t) ? fop : iop, a, b, t);
  };
}

Scalar2 compare(const char* fpred, const char* ipred, const char* upred) {
  return [=](E e, const std::string& a, const std::string& b, DType t) {
    return cmp(e, is_f(t) ? fpred : t == DType::Bool ? upred : ipred, a, b, t);
  };
}

std::string cast_scalar(E e, const std::string& x, DType from, DType to) {
  if (from == to) return x;
  std::string r = e.fresh("s");
  auto ty = [](DType t) { return MlirEmitter::elem(t); };
  if (is_f(from) && is_f(to))
    e.line(fmt::format("{} = arith.{} {} : {} to {}", r, from == DType::F32 ? "extf" : "truncf", x, ty(from), ty(to)));
  else if (is_f(from) && to == DType::I64)
    e.line(fmt::format("{} = arith.fptosi {} : {} to {}", r, x, ty(from), ty(to)));
  else if (from == DType::I64 && is_f(to))
    e.line(fmt::format("{} = arith.sitofp {} : {} to {}", r, x, ty(from), ty(to)));
  else if (from == DType::Bool && is_f(to))
    e.line(fmt::format("{} = arith.uitofp {} : {} to {}", r, x, ty(from), ty(to)));
  else if (from == DType::Bool && to == DType::I64)
    e.line(fmt::format("{} = arith.extui {} : {} to {}", r, x, ty(from), ty(to)));
  else if (to == DType::Bool)  // x != 0
    return cmp(e, is_f(from) ? "une" : "ne", x, e.constant_scalar(0, from), from);
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
  t["rsqrt"] = unary([](E e, auto& x, auto&, DType t) { return op2(e, "arith.divf", one(e, t), op1(e, "math.sqrt", x, t), t); });
  t["abs"] = unary([](E e, auto& x, auto&, DType t) { return op1(e, "math.absf", x, t); });
  t["square"] = unary([](E e, auto& x, auto&, DType t) { return op2(e, "arith.mulf", x, x, t); });
  // sigmoid: e^x / (1 + e^x) for x < 0, 1 / (1 + e^-x) otherwise (no overflow), as the reference.
  t["sigmoid"] = unary([](E e, auto& x, auto&, DType t) {
    std::string ex = op1(e, "math.exp", op1(e, "arith.negf", op1(e, "math.absf", x, t), t), t);  // e^-|x|
    std::string den = op2(e, "arith.addf", one(e, t), ex, t);
    std::string pos = op2(e, "arith.divf", one(e, t), den, t);
    std::string neg = op2(e, "arith.divf", ex, den, t);
    return select(e, cmp(e, "oge", x, zero(e, t), t), pos, neg, t);
  });
  t["relu"] = unary([](E e, auto& x, auto&, DType t) { return select(e, gt0(e, x, t), x, zero(e, t), t); });
  t["leaky_relu"] = unary([](E e, auto& x, const Node& n, DType t) {
    std::string ax = op2(e, "arith.mulf", e.constant_scalar(attr_float(n.attrs, "alpha"), t), x, t);
    return select(e, gt0(e, x, t), x, ax, t);
  });
  t["elu"] = unary([](E e, auto& x, const Node& n, DType t) {
    std::string ax = op2(e, "arith.mulf", e.constant_scalar(attr_float(n.attrs, "alpha"), t), op1(e, "math.expm1", x, t), t);
    return select(e, gt0(e, x, t), x, ax, t);
  });
  t["softplus"] = unary([](E e, auto& x, auto&, DType t) {
    std::string soft = op1(e, "math.log1p", op1(e, "math.exp", x, t), t);
    return select(e, cmp(e, "ogt", x, e.constant_scalar(20, t), t), x, soft, t);
  });
  t["sign"] = unary([](E e, auto& x, auto&, DType t) {
    std::string neg = select(e, cmp(e, "olt", x, zero(e, t), t), e.constant_scalar(-1, t), zero(e, t), t);
    return select(e, gt0(e, x, t), one(e, t), neg, t);
  });

  t["add"] = binary(arith("arith.addf", "arith.addi"));
  t["sub"] = binary(arith("arith.subf", "arith.subi"));
  t["mul"] = binary(arith("arith.mulf", "arith.muli"));
  t["div"] = binary(arith("arith.divf", "arith.divsi"));
  t["pow"] = [](E e, const Node& n, int id) {
    DType dt = e.type(n.inputs[0]).dtype;
    if (!is_f(dt)) throw EmitError("pow on integer tensors has no JIT lowering; use floats");
    binary([](E e, auto& a, auto& b, DType t) { return op2(e, "math.powf", a, b, t); })(e, n, id);
  };
  t["maximum"] = binary([](E e, auto& a, auto& b, DType t) { return select(e, cmp(e, is_f(t) ? "ogt" : "sgt", a, b, t), a, b, t); });
  t["minimum"] = binary([](E e, auto& a, auto& b, DType t) { return select(e, cmp(e, is_f(t) ? "olt" : "slt", a, b, t), a, b, t); });
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
