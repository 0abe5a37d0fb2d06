// Lowerings: Reductions, softmax, normalisation, dropout and random ops.
//
// Every lowering follows its reference kernel's formula and evaluation order, so the JIT
// agrees bit for bit on this machine's libm:
//  * float accumulations (sum, mean, logsumexp, softmax, normalisation statistics) are
//    done in f64 like the reference, and a reduction's loops run in the input's row-major
//    order, so each output accumulates its terms in the same order;
//  * results are rounded to the element type once, at the end (arith.truncf = C++ cast);
//  * random numbers are Philox4x32-10 written with arith ops on i32/i64 inside the
//    linalg.generic (philox.h: key = run seed, counter = (flat index, stream)).
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <tuple>

#include "compiler/lower/emit.h"
#include "compiler/ops/common.h"
#include "compiler/ops/philox.h"

namespace starc {
namespace {

using Args = const std::vector<std::string>&;
using E = MlirEmitter&;
using GenericIn = MlirEmitter::GenericIn;

bool is_f(DType t) { return t == DType::F32 || t == DType::F64; }
std::string ty(DType t) { return MlirEmitter::elem(t); }

// ---- scalar ops (inside generic bodies) ------------------------------------------------

std::string op2(E e, const std::string& op, const std::string& a, const std::string& b, const std::string& t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {}, {} : {}", r, op, a, b, t));
  return r;
}
std::string op1(E e, const std::string& op, const std::string& a, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {} : {}", r, op, a, ty(t)));
  return r;
}
std::string cmpf(E e, const std::string& pred, const std::string& a, const std::string& b, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.cmpf {}, {}, {} : {}", r, pred, a, b, ty(t)));
  return r;
}
std::string cmpi(E e, const std::string& pred, const std::string& a, const std::string& b, const std::string& t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.cmpi {}, {}, {} : {}", r, pred, a, b, t));
  return r;
}
std::string select(E e, const std::string& c, const std::string& a, const std::string& b, const std::string& t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.select {}, {}, {} : {}", r, c, a, b, t));
  return r;
}
std::string select(E e, const std::string& c, const std::string& a, const std::string& b, DType t) {
  return select(e, c, a, b, ty(t));
}
std::string conv(E e, const std::string& op, const std::string& x, const std::string& from, const std::string& to) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {} : {} to {}", r, op, x, from, to));
  return r;
}
// Integer constant of any width (two's complement text for i32).
std::string iconst(E e, int64_t v, const std::string& t) {
  std::string r = e.fresh("c");
  e.line(fmt::format("{} = arith.constant {} : {}", r, v, t));
  return r;
}
std::string u32const(E e, uint32_t v) { return iconst(e, int64_t(int32_t(v)), "i32"); }
std::string f64c(E e, double v) { return e.constant_scalar(v, DType::F64); }

// A float element widened to f64 (the reference computes in double), and back.
std::string to_f64(E e, const std::string& x, DType t) {
  return t == DType::F32 ? conv(e, "arith.extf", x, "f32", "f64") : x;
}
std::string from_f64(E e, const std::string& x, DType t) {
  return t == DType::F32 ? conv(e, "arith.truncf", x, "f64", "f32") : x;
}
// The flat row-major index (i64) of the current iteration point of an identity generic
// over `shape`.
std::string flat_index(E e, const Shape& shape) {
  std::string acc;
  int64_t stride = 1;
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    std::string i = e.fresh("s");
    e.line(fmt::format("{} = linalg.index {} : index", i, d));
    std::string term = conv(e, "arith.index_cast", i, "index", "i64");
    if (stride != 1) term = op2(e, "arith.muli", term, iconst(e, stride, "i64"), "i64");
    acc = acc.empty() ? term : op2(e, "arith.addi", acc, term, "i64");
    stride *= shape[size_t(d)];
  }
  return acc.empty() ? iconst(e, 0, "i64") : acc;
}

// ---- Philox4x32-10 (philox.h) ----------------------------------------------------------

// The four words of philox_block(seed, stream, index) for the run seed %seed and an i64
// index value.
std::vector<std::string> philox_block(E e, uint64_t stream, const std::string& index) {
  auto lo = [&](const std::string& v) { return conv(e, "arith.trunci", v, "i64", "i32"); };
  auto hi = [&](const std::string& v) { return lo(op2(e, "arith.shrui", v, iconst(e, 32, "i64"), "i64")); };
  std::vector<std::string> ctr = {lo(index), hi(index), u32const(e, uint32_t(stream)),
                                  u32const(e, uint32_t(stream >> 32))};
  std::string k0 = lo(e.seed()), k1 = hi(e.seed());
  std::string m0 = iconst(e, int64_t(kPhiloxM0), "i64"), m1 = iconst(e, int64_t(kPhiloxM1), "i64");
  std::string w0 = u32const(e, kPhiloxW0), w1 = u32const(e, kPhiloxW1);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 = op2(e, "arith.addi", k0, w0, "i32");
      k1 = op2(e, "arith.addi", k1, w1, "i32");
    }
    std::string p0 = op2(e, "arith.muli", conv(e, "arith.extui", ctr[0], "i32", "i64"), m0, "i64");
    std::string p1 = op2(e, "arith.muli", conv(e, "arith.extui", ctr[2], "i32", "i64"), m1, "i64");
    std::string n0 = op2(e, "arith.xori", op2(e, "arith.xori", hi(p1), ctr[1], "i32"), k0, "i32");
    std::string n2 = op2(e, "arith.xori", op2(e, "arith.xori", hi(p0), ctr[3], "i32"), k1, "i32");
    ctr = {n0, lo(p1), n2, lo(p0)};
  }
  return ctr;
}

// double(w >> 8 [+ 1]) * 2^-24, as f64.
std::string u24(E e, const std::string& w, bool plus_one) {
  std::string v = op2(e, "arith.shrui", w, iconst(e, 8, "i32"), "i32");
  if (plus_one) v = op2(e, "arith.addi", v, iconst(e, 1, "i32"), "i32");
  return op2(e, "arith.mulf", conv(e, "arith.uitofp", v, "i32", "f64"), f64c(e, 0x1p-24), "f64");
}

// ---- tensor-level helpers ------------------------------------------------------------------

std::string dims(int rank) {
  std::string d;
  for (int i = 0; i < rank; ++i) d += fmt::format("{}d{}", i ? ", " : "", i);
  return d;
}
// The map of a reduction's output (the dims not reduced).
std::string kept_map(const std::vector<bool>& red) {
  std::string res;
  for (size_t i = 0; i < red.size(); ++i)
    if (!red[i]) res += fmt::format("{}d{}", res.empty() ? "" : ", ", i);
  return fmt::format("({}) -> ({})", dims(int(red.size())), res);
}
Shape kept_shape(const Shape& s, const std::vector<bool>& red) {
  Shape out;
  for (size_t i = 0; i < s.size(); ++i)
    if (!red[i]) out.push_back(s[i]);
  return out;
}

// A tensor of type t filled with a scalar (linalg.fill).
std::string filled(E e, const std::string& scalar, const TensorType& t) {
  std::string init = e.empty(t);
  std::string r = e.fresh("f");
  e.line(fmt::format("{} = linalg.fill ins({} : {}) outs({} : {}) -> {} {}", r, scalar, ty(t.dtype), init,
                     MlirEmitter::tensor_type(t), MlirEmitter::tensor_type(t), e.loc()));
  return r;
}

// Reduces over `space` into a tensor of the kept dims with element type `acc`, starting
// from `init` (a scalar). Each input is indexed by the whole space (rank space.size())
// or by the kept dims only (smaller rank); their `map`s are ignored. The iteration space
// lists the kept dims first, then the reduced dims (each group in order): parallel
// loops outermost (threads), and each result still accumulates its terms in row-major
// order, like the reference.
std::string reduce(E e, std::vector<GenericIn> ins, const Shape& space, const std::vector<bool>& red, DType acc,
                   const std::string& init, const MlirEmitter::BodyFn& body) {
  int rank = int(space.size()), kept = 0;
  std::vector<int> pos(static_cast<size_t>(rank));  // original dim -> iteration dim
  for (int i = 0; i < rank; ++i)
    if (!red[size_t(i)]) pos[size_t(i)] = kept++;
  for (int i = 0, r = kept; i < rank; ++i)
    if (red[size_t(i)]) pos[size_t(i)] = r++;
  std::string full, part;
  for (int i = 0; i < rank; ++i) full += fmt::format("{}d{}", i ? ", " : "", pos[size_t(i)]);
  for (int i = 0; i < kept; ++i) part += fmt::format("{}d{}", i ? ", " : "", i);
  std::string full_map = fmt::format("({}) -> ({})", dims(rank), full),
              kept_map = fmt::format("({}) -> ({})", dims(rank), part);
  for (auto& in : ins) in.map = in.type.rank() == rank ? full_map : kept_map;
  std::vector<std::string> iters(size_t(rank), "reduction");
  for (int i = 0; i < kept; ++i) iters[size_t(i)] = "parallel";
  TensorType out{acc, kept_shape(space, red)};
  return e.generic(ins, filled(e, init, out), out, kept_map, iters, body);
}

// Elementwise over the iteration space `out` (identity output map).
std::string map(E e, const std::vector<GenericIn>& ins, const TensorType& out, const MlirEmitter::BodyFn& body) {
  return e.generic(ins, e.empty(out), out, MlirEmitter::identity_map(out.rank()),
                   std::vector<std::string>(out.shape.size(), "parallel"), body);
}
GenericIn same(const std::string& v, const TensorType& t) { return {v, t, MlirEmitter::identity_map(t.rank())}; }

// tensor.expand_shape of `v` (type `from`, the kept dims) to `to` (the same with the
// reduced dims `red` present as 1s): keepdims.
std::string expand_kept(E e, const std::string& v, const TensorType& from, const TensorType& to,
                        const std::vector<bool>& red) {
  if (from.rank() == to.rank()) return v;
  std::vector<std::vector<int>> groups(size_t(from.rank()));
  int g = -1;
  for (int i = 0; i < to.rank(); ++i) {
    if (!red[size_t(i)]) ++g;
    if (from.rank() > 0) groups[size_t(std::max(g, 0))].push_back(i);
  }
  std::string reassoc, shape;
  for (auto& grp : groups) {
    std::string s;
    for (int i : grp) s += fmt::format("{}{}", s.empty() ? "" : ", ", i);
    reassoc += fmt::format("{}[{}]", reassoc.empty() ? "" : ", ", s);
  }
  for (int i = 0; i < to.rank(); ++i) shape += fmt::format("{}{}", i ? ", " : "", to.shape[size_t(i)]);
  std::string r = e.fresh("x");
  e.line(fmt::format("{} = tensor.expand_shape {} [{}] output_shape [{}] : {} into {} {}", r, v, reassoc, shape,
                     MlirEmitter::tensor_type(from), MlirEmitter::tensor_type(to), e.loc()));
  return r;
}

// Which axes a reduction reduces (`axes` empty = all).
std::vector<bool> reduced_axes(const Node& n, int rank) {
  const Ints& axes = attr_ints(n.attrs, "axes");
  std::vector<bool> red(size_t(rank), axes.empty());
  for (int64_t a : axes) red[size_t(normalize_axis(n.op->name, a, rank))] = true;
  return red;
}
int64_t count_of(const Shape& s, const std::vector<bool>& red) {
  int64_t c = 1;
  for (size_t i = 0; i < s.size(); ++i)
    if (red[i]) c *= s[i];
  return c;
}

std::string float_bits_const(E e, double v, DType t) { return e.constant_scalar(v, t); }

// Max (or min) over `red` with the reference's NaN propagation, in the element type.
std::string extreme(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red, bool is_max) {
  DType t = xt.dtype;
  std::string init;
  if (is_f(t))
    init = float_bits_const(
        e, is_max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity(), t);
  else
    init = iconst(e, is_max ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max(), "i64");
  return reduce(e, {same(x, xt)}, xt.shape, red, t, init, [&](E e, Args a) {
    const std::string &v = a[0], &m = a[1];
    if (!is_f(t)) return select(e, cmpi(e, is_max ? "sgt" : "slt", v, m, "i64"), v, m, "i64");
    // m stays once NaN; else v replaces m when v is NaN or beyond m.
    std::string take = select(e, cmpf(e, is_max ? "ugt" : "ult", v, m, t), v, m, t);
    return select(e, cmpf(e, "uno", m, m, t), m, take, t);
  });
}

enum class Kind { Sum, Mean, Max, Min, LogSumExp };

// On the GPU a float sum (accumulated in f64, as here), max or min runs as the kernel
// library's tree reduction (gpu_kernels.h): starc_reduce_KIND_T(n_out, n_red, d0..d5,
// reduced-axes mask, x, out) over x viewed as 6-D (leading 1s). The result has the kept
// dims; "" where the loops below are used instead (the CPU, other dtypes, rank > 6).
std::string gpu_reduction(E e, Kind kind, const std::string& x, const TensorType& xt, const std::vector<bool>& red) {
  const int rank = xt.rank();
  const int64_t n_red = count_of(xt.shape, red), n_out = num_elements(xt.shape) / std::max<int64_t>(n_red, 1);
  if (e.device() != Device::Cuda || !is_f(xt.dtype) || rank > 6 || n_red == 0 || n_out == 0) return "";
  const char* name = kind == Kind::Max ? "max" : kind == Kind::Min ? "min" : "sum";
  TensorType out{kind == Kind::Max || kind == Kind::Min ? xt.dtype : DType::F64, kept_shape(xt.shape, red)};
  std::vector<std::string> args = {e.i64(n_out), e.i64(n_red)};
  int64_t mask = 0;
  for (int i = 0; i < 6; ++i) {
    int axis = i - (6 - rank);  // leading 1s
    args.push_back(e.i64(axis < 0 ? 1 : xt.shape[size_t(axis)]));
    if (axis >= 0 && red[size_t(axis)]) mask |= int64_t(1) << i;
  }
  args.push_back(e.i64(mask));
  args.push_back(e.address(x, xt));
  std::string out_addr, buf = e.alloc_buffer(out, &out_addr);
  args.push_back(out_addr);
  e.call_kernel(fmt::format("reduce_{}_{}", name, xt.dtype == DType::F64 ? "f64" : "f32"), args);
  return e.tensor_of(buf, out);
}

// The sum over `red` of x (any float type) in f64 (kept dims): the GPU's tree reduction
// where there is one, else loops accumulating in row-major order. For f32 inputs the
// order is free (reassoc), so LLVM vectorises the loop with several f64 partial sums: a
// strict chain of f64 adds ran at one element per add latency, and in f64 the order
// changes only digits that rounding to f32 drops. f64 inputs keep the reference's order,
// bit for bit.
std::string sum_f64(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red) {
  std::string s = gpu_reduction(e, Kind::Sum, x, xt, red);
  if (!s.empty()) return s;
  const char* flags = xt.dtype == DType::F64 ? "" : " fastmath<reassoc>";
  return reduce(e, {same(x, xt)}, xt.shape, red, DType::F64, f64c(e, 0), [&](E e, Args a) {
    std::string v = to_f64(e, a[0], xt.dtype), r = e.fresh("s");
    e.line(fmt::format("{} = arith.addf {}, {}{} : f64", r, a[1], v, flags));
    return r;
  });
}

// The max over `red` in f64 (kept dims), NaN-skipping like std::max on the CPU (on the
// GPU max.NaN: the callers' results are NaN either way when a NaN is present).
std::string max_f64(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red) {
  const DType t = xt.dtype;
  TensorType kt{t, kept_shape(xt.shape, red)}, k64{DType::F64, kt.shape};
  std::string m = gpu_reduction(e, Kind::Max, x, xt, red);
  if (!m.empty()) return map(e, {same(m, kt)}, k64, [&](E e, Args a) { return to_f64(e, a[0], t); });
  return reduce(e, {same(x, xt)}, xt.shape, red, DType::F64, f64c(e, -std::numeric_limits<double>::infinity()),
                [&](E e, Args a) {  // std::max(m, v) = m < v ? v : m
                  std::string v = to_f64(e, a[0], t);
                  return select(e, cmpf(e, "olt", a[1], v, DType::F64), v, a[1], "f64");
                });
}

// sum over `red` of e^(x - shift) in f64, shift (f64, kept dims) broadcast over `red`: a
// map and a sum, which linalg fuses into one loop on the CPU and the GPU tree-reduces.
std::string sum_exp_f64(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red,
                        const std::string& shift) {
  const DType t = xt.dtype;
  TensorType x64{DType::F64, xt.shape}, k64{DType::F64, kept_shape(xt.shape, red)};
  std::string ex = map(e, {same(x, xt), {shift, k64, kept_map(red)}}, x64, [&](E e, Args a) {
    return op1(e, "math.exp", op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64"), DType::F64);
  });
  return sum_f64(e, ex, x64, red);
}

LowerFn reduction(Kind kind) {
  return [kind](E e, const Node& n, int id) {
    int xid = n.inputs[0];
    TensorType xt = e.type(xid);
    DType t = xt.dtype;
    std::string x = e.val(xid);
    std::vector<bool> red = reduced_axes(n, xt.rank());
    Shape ks = kept_shape(xt.shape, red);
    TensorType kt{t, ks}, k64{DType::F64, ks};
    std::string r;
    if (kind == Kind::Max || kind == Kind::Min) {
      r = gpu_reduction(e, kind, x, xt, red);
      if (r.empty()) r = extreme(e, x, xt, red, kind == Kind::Max);
    } else if ((kind == Kind::Sum) && !is_f(t)) {
      r = reduce(e, {same(x, xt)}, xt.shape, red, t, iconst(e, 0, "i64"),
                 [&](E e, Args a) { return op2(e, "arith.addi", a[1], a[0], "i64"); });
    } else if (kind == Kind::Sum || kind == Kind::Mean) {
      std::string s = sum_f64(e, x, xt, red);
      if (kind == Kind::Sum && t == DType::F64) {
        r = s;
      } else {
        double count = double(count_of(xt.shape, red));
        r = map(e, {same(s, k64)}, kt, [&](E e, Args a) {
          std::string v = a[0];
          if (kind == Kind::Mean) v = op2(e, "arith.divf", v, f64c(e, count), "f64");
          return from_f64(e, v, t);
        });
      }
    } else {  // logsumexp: max(x) + log(sum(exp(x - max(x)))), shifting by 0 when the max is not finite
      std::string m = max_f64(e, x, xt, red);
      m = map(e, {same(m, k64)}, k64, [&](E e, Args a) {
        std::string finite = cmpf(e, "olt", op1(e, "math.absf", a[0], DType::F64),
                                  f64c(e, std::numeric_limits<double>::infinity()), DType::F64);
        return select(e, finite, a[0], f64c(e, 0), "f64");
      });
      std::string s = sum_exp_f64(e, x, xt, red, m);
      r = map(e, {same(s, k64), same(m, k64)}, kt, [&](E e, Args a) {
        return from_f64(e, op2(e, "arith.addf", op1(e, "math.log", a[0], DType::F64), a[1], "f64"), t);
      });
    }
    e.bind(id, expand_kept(e, r, kt, n.type, red));
  };
}

// argmax: the first index of the (NaN-propagating) maximum along the axis.
void lower_argmax(E e, const Node& n, int id) {
  int xid = n.inputs[0];
  TensorType xt = e.type(xid);
  DType t = xt.dtype;
  std::string x = e.val(xid);
  int axis = normalize_axis("argmax", attr_int(n.attrs, "axis"), xt.rank());
  std::vector<bool> red(size_t(xt.rank()), false);
  red[size_t(axis)] = true;
  Shape ks = kept_shape(xt.shape, red);
  TensorType kt{t, ks}, ki{DType::I64, ks};
  std::string m = extreme(e, x, xt, red, true);
  std::string r = reduce(e, {same(x, xt), same(m, kt)}, xt.shape, red, DType::I64,
                         iconst(e, std::numeric_limits<int64_t>::max(), "i64"), [&](E e, Args a) {
                           const std::string &v = a[0], &mx = a[1], &acc = a[2];
                           std::string hit;
                           if (is_f(t)) {
                             std::string both_nan =
                                 op2(e, "arith.andi", cmpf(e, "uno", v, v, t), cmpf(e, "uno", mx, mx, t), "i1");
                             hit = op2(e, "arith.ori", cmpf(e, "oeq", v, mx, t), both_nan, "i1");
                           } else {
                             hit = cmpi(e, "eq", v, mx, "i64");
                           }
                           std::string j = e.fresh("s");
                           // the reduced axis is the last iteration dim (see reduce())
                           e.line(fmt::format("{} = linalg.index {} : index", j, xt.rank() - 1));
                           std::string j64 = conv(e, "arith.index_cast", j, "index", "i64");
                           return select(e, hit, op2(e, "arith.minsi", acc, j64, "i64"), acc, "i64");
                         });
  e.bind(id, expand_kept(e, r, ki, n.type, red));
}

// softmax / log_softmax along one axis, as the reference: m = max, s = sum e^(x-m),
// y = e^(x-m) / s or (x-m) - log s, in f64.
LowerFn softmax(bool log) {
  return [log](E e, const Node& n, int id) {
    int xid = n.inputs[0];
    TensorType xt = e.type(xid), orig = xt;
    DType t = xt.dtype;
    std::string x = e.val(xid);
    int axis = 0;
    if (xt.rank() == 0) {  // a 0-d tensor is its own axis: work on a 1-element vector
      TensorType v{t, {1}};
      std::string r = e.fresh("x");
      e.line(fmt::format("{} = tensor.expand_shape {} [] output_shape [1] : {} into {} {}", r, x,
                         MlirEmitter::tensor_type(xt), MlirEmitter::tensor_type(v), e.loc()));
      x = r;
      xt = v;
    } else {
      axis = normalize_axis(n.op->name, attr_int(n.attrs, "axis"), xt.rank());
    }
    std::vector<bool> red(size_t(xt.rank()), false);
    red[size_t(axis)] = true;
    TensorType k64{DType::F64, kept_shape(xt.shape, red)};
    std::string km = kept_map(red);
    std::string m = max_f64(e, x, xt, red), s = sum_exp_f64(e, x, xt, red, m);
    std::string y = map(e, {same(x, xt), {m, k64, km}, {s, k64, km}}, xt, [&](E e, Args a) {
      std::string z = op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64");
      std::string r = log ? op2(e, "arith.subf", z, op1(e, "math.log", a[2], DType::F64), "f64")
                          : op2(e, "arith.divf", op1(e, "math.exp", z, DType::F64), a[2], "f64");
      return from_f64(e, r, t);
    });
    if (orig.rank() == 0) {
      std::string r = e.fresh("x");
      e.line(fmt::format("{} = tensor.collapse_shape {} [] : {} into {} {}", r, y, MlirEmitter::tensor_type(xt),
                         MlirEmitter::tensor_type(orig), e.loc()));
      y = r;
    }
    e.bind(id, y);
  };
}

// Mean and biased variance (f64, kept dims) of x over `red`, as group_stats: two passes.
std::pair<std::string, std::string> group_stats(E e, const std::string& x, const TensorType& xt,
                                                const std::vector<bool>& red) {
  DType t = xt.dtype;
  TensorType k64{DType::F64, kept_shape(xt.shape, red)};
  double count = double(count_of(xt.shape, red));
  auto divide = [&](const std::string& v) {
    return map(e, {same(v, k64)}, k64, [&](E e, Args a) { return op2(e, "arith.divf", a[0], f64c(e, count), "f64"); });
  };
  std::string mean = divide(sum_f64(e, x, xt, red));
  // The squared deviations, then their sum (one fused loop on the CPU).
  TensorType x64{DType::F64, xt.shape};
  std::string sq = map(e, {same(x, xt), {mean, k64, kept_map(red)}}, x64, [&](E e, Args a) {
    std::string d = op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64");
    return op2(e, "arith.mulf", d, d, "f64");
  });
  return {mean, divide(sum_f64(e, sq, x64, red))};
}

void lower_layer_norm(E e, const Node& n, int id) {
  int xid = n.inputs[0];
  TensorType xt = e.type(xid);
  DType t = xt.dtype;
  std::string x = e.val(xid);
  std::vector<bool> red(size_t(xt.rank()), false);
  for (int64_t a : attr_ints(n.attrs, "axes")) red[size_t(normalize_axis("layer_norm", a, xt.rank()))] = true;
  double eps = attr_float(n.attrs, "eps");
  auto [mean, var] = group_stats(e, x, xt, red);
  TensorType k64{DType::F64, kept_shape(xt.shape, red)};
  std::string km = kept_map(red);
  e.bind(id, map(e, {same(x, xt), {mean, k64, km}, {var, k64, km}}, xt, [&](E e, Args a) {
           std::string d = op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64");
           std::string sd = op1(e, "math.sqrt", op2(e, "arith.addf", a[2], f64c(e, eps), "f64"), DType::F64);
           return from_f64(e, op2(e, "arith.divf", d, sd, "f64"), t);
         }));
}

// gamma * (x - mean) / sqrt(var + eps) + beta per channel (axis 1), mean/var from the
// batch (training) or the running statistics.
void lower_batch_norm(E e, const Node& n, int id) {
  int xid = n.inputs[0];
  TensorType xt = e.type(xid);
  DType t = xt.dtype;
  int rank = xt.rank();
  std::string x = e.val(xid);
  double eps = attr_float(n.attrs, "eps");
  std::string cmap = fmt::format("({}) -> (d1)", dims(rank));
  TensorType ct{t, {xt.shape[1]}};
  std::string mean, var;
  DType stat_t;
  if (attr_bool(n.attrs, "training")) {
    std::vector<bool> red(size_t(rank), true);
    red[1] = false;
    std::tie(mean, var) = group_stats(e, x, xt, red);
    stat_t = DType::F64;
  } else {
    mean = e.val(n.inputs[3]);
    var = e.val(n.inputs[4]);
    stat_t = t;
  }
  TensorType st{stat_t, {xt.shape[1]}};
  std::vector<GenericIn> ins = {
      same(x, xt), {e.val(n.inputs[1]), ct, cmap}, {e.val(n.inputs[2]), ct, cmap}, {mean, st, cmap}, {var, st, cmap}};
  e.bind(id, map(e, ins, xt, [&](E e, Args a) {
           std::string xv = to_f64(e, a[0], t), g = to_f64(e, a[1], t), b = to_f64(e, a[2], t);
           std::string mu = to_f64(e, a[3], stat_t), v = to_f64(e, a[4], stat_t);
           std::string num = op2(e, "arith.mulf", g, op2(e, "arith.subf", xv, mu, "f64"), "f64");
           std::string sd = op1(e, "math.sqrt", op2(e, "arith.addf", v, f64c(e, eps), "f64"), DType::F64);
           return from_f64(e, op2(e, "arith.addf", op2(e, "arith.divf", num, sd, "f64"), b, "f64"), t);
         }));
}

// x * (u >= p ? 1/(1-p) : 0) with u = uniform01(seed, stream, flat index).
void lower_dropout(E e, const Node& n, int id) {
  int xid = n.inputs[0];
  TensorType xt = e.type(xid);
  DType t = xt.dtype;
  double p = attr_float(n.attrs, "p");
  double scale = 1.0 / (1.0 - p);
  uint64_t stream = uint64_t(attr_int(n.attrs, "stream"));
  e.bind(id, map(e, {same(e.val(xid), xt)}, xt, [&](E e, Args a) {
           std::string u = u24(e, philox_block(e, stream, flat_index(e, xt.shape))[0], false);
           std::string keep = cmpf(e, "oge", u, f64c(e, p), DType::F64);
           std::string factor = select(e, keep, f64c(e, scale), f64c(e, 0), "f64");
           return from_f64(e, op2(e, "arith.mulf", to_f64(e, a[0], t), factor, "f64"), t);
         }));
}

void lower_random_normal(E e, const Node& n, int id) {
  double mean = attr_float(n.attrs, "mean"), sd = attr_float(n.attrs, "std");
  uint64_t stream = uint64_t(attr_int(n.attrs, "stream"));
  DType t = n.type.dtype;
  e.bind(
      id, map(e, {}, n.type, [&](E e, Args) {
        std::vector<std::string> w = philox_block(e, stream, flat_index(e, n.type.shape));
        std::string u1 = u24(e, w[0], true), u2 = u24(e, w[1], false);
        std::string r = op1(e, "math.sqrt",
                            op2(e, "arith.mulf", f64c(e, -2.0), op1(e, "math.log", u1, DType::F64), "f64"), DType::F64);
        std::string c =
            op1(e, "math.cos", op2(e, "arith.mulf", f64c(e, 2.0 * std::numbers::pi), u2, "f64"), DType::F64);
        std::string z = op2(e, "arith.mulf", r, c, "f64");
        return from_f64(e, op2(e, "arith.addf", f64c(e, mean), op2(e, "arith.mulf", f64c(e, sd), z, "f64"), "f64"), t);
      }));
}

void lower_random_uniform(E e, const Node& n, int id) {
  double lo = attr_float(n.attrs, "low"), hi = attr_float(n.attrs, "high");
  uint64_t stream = uint64_t(attr_int(n.attrs, "stream"));
  DType t = n.type.dtype;
  // The largest value below `high` in the element type (the reference's clamp).
  double below = t == DType::F32 ? double(std::nextafter(float(hi), float(lo))) : std::nextafter(hi, lo);
  e.bind(id, map(e, {}, n.type, [&](E e, Args) {
           std::string u = u24(e, philox_block(e, stream, flat_index(e, n.type.shape))[0], false);
           std::string y = from_f64(
               e, op2(e, "arith.addf", f64c(e, lo), op2(e, "arith.mulf", f64c(e, hi - lo), u, "f64"), "f64"), t);
           if (!(lo < hi)) return y;
           std::string ge = cmpf(e, "oge", y, e.constant_scalar(hi, t), t);
           return select(e, ge, e.constant_scalar(below, t), y, t);
         }));
}

}  // namespace

void register_reduce_nn_lowerings(LoweringTable& t) {
  t["sum"] = reduction(Kind::Sum);
  t["mean"] = reduction(Kind::Mean);
  t["max"] = reduction(Kind::Max);
  t["min"] = reduction(Kind::Min);
  t["logsumexp"] = reduction(Kind::LogSumExp);
  t["argmax"] = lower_argmax;
  t["softmax"] = softmax(false);
  t["log_softmax"] = softmax(true);
  t["layer_norm"] = lower_layer_norm;
  t["batch_norm"] = lower_batch_norm;
  t["dropout"] = lower_dropout;
  t["random_normal"] = lower_random_normal;
  t["random_uniform"] = lower_random_uniform;
}

}  // namespace starc
