// compiler/lower/lower_util.h: helpers shared by the lowering files (lower_<family>.cpp,
// one per op family of compiler/ops/). Internal to compiler/lower: nothing outside it
// includes this header. Everything is inline in namespace starc::lower_util; a lowering
// file says `using namespace lower_util;` in its anonymous namespace.
//  * names and maps: el, tt, dims, dim, amap, iters, join_ints, join_strs, product;
//  * scalar ops for linalg.generic bodies: op1, op2, cmpf, cmpi, select, cvt, iconst,
//    u32const, f64c, to_f64, from_f64, flat_index;
//  * Philox4x32-10 written with arith ops (philox_block, u24): dropout and the random ops;
//  * tensor-level helpers of the reductions and the nn ops (softmax, normalisation):
//    kept_map, kept_shape, count_of, filled, reduce, map, same, gpu_reduction, sum_f64,
//    max_f64, sum_exp_f64.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "compiler/lower/emit.h"
#include "compiler/ops/common.h"
#include "compiler/ops/philox.h"

namespace starc::lower_util {

using Args = const std::vector<std::string>&;
using E = MlirEmitter&;
using GenericIn = MlirEmitter::GenericIn;

// ---- names and maps -------------------------------------------------------------------------

inline std::string el(DType t) { return MlirEmitter::elem(t); }
inline std::string tt(const TensorType& t) { return MlirEmitter::tensor_type(t); }

// "d0, ..., d{rank-1}".
inline std::string dims(int rank) {
  std::string d;
  for (int i = 0; i < rank; ++i) d += fmt::format("{}d{}", i ? ", " : "", i);
  return d;
}
inline std::string dim(int i) { return fmt::format("d{}", i); }
// "d{from}, ..., d{from+count-1}" as a list of map results.
inline std::vector<std::string> dim_range(int from, int count) {
  std::vector<std::string> v;
  for (int i = 0; i < count; ++i) v.push_back(dim(from + i));
  return v;
}
// The node's `axis` attribute, normalised against `rank`.
inline int axis_of(const Node& n, int rank) { return normalize_axis(n.op->name, attr_int(n.attrs, "axis"), rank); }
// "(d0, ..., d{rank-1}) -> (results)".
inline std::string amap(int rank, const std::vector<std::string>& results) {
  return fmt::format("({}) -> ({})", dims(rank), fmt::join(results, ", "));
}
// Iterator types: `parallel` parallel loops, then `reduction` reduction loops.
inline std::vector<std::string> iters(int parallel, int reduction) {
  std::vector<std::string> v(size_t(parallel), "parallel");
  v.insert(v.end(), size_t(reduction), "reduction");
  return v;
}

inline std::string join_ints(const std::vector<int64_t>& v) { return fmt::format("{}", fmt::join(v, ", ")); }
inline std::string join_strs(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

inline int64_t product(const Shape& s, size_t from = 0, size_t to = size_t(-1)) {
  int64_t p = 1;
  for (size_t i = from; i < std::min(to, s.size()); ++i) p *= s[i];
  return p;
}

// ---- scalar ops (inside generic bodies) ------------------------------------------------------

// Emits `r = OP a, b : T` (or unary) and returns r.
inline std::string op2(E e, const std::string& op, const std::string& a, const std::string& b, const std::string& t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {}, {} : {}", r, op, a, b, t));
  return r;
}
inline std::string op2(E e, const std::string& op, const std::string& a, const std::string& b, DType t) {
  return op2(e, op, a, b, el(t));
}
inline std::string op1(E e, const std::string& op, const std::string& a, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {} : {}", r, op, a, el(t)));
  return r;
}
inline std::string cmpf(E e, const std::string& pred, const std::string& a, const std::string& b, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.cmpf {}, {}, {} : {}", r, pred, a, b, el(t)));
  return r;
}
inline std::string cmpi(E e, const std::string& pred, const std::string& a, const std::string& b,
                        const std::string& t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.cmpi {}, {}, {} : {}", r, pred, a, b, t));
  return r;
}
inline std::string select(E e, const std::string& c, const std::string& a, const std::string& b, const std::string& t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.select {}, {}, {} : {}", r, c, a, b, t));
  return r;
}
inline std::string select(E e, const std::string& c, const std::string& a, const std::string& b, DType t) {
  return select(e, c, a, b, el(t));
}
// A conversion `r = OP x : from to to` (extf, truncf, index_cast, uitofp, ...).
inline std::string cvt(E e, const std::string& op, const std::string& x, const std::string& from,
                       const std::string& to) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {} : {} to {}", r, op, x, from, to));
  return r;
}
// Integer constant of any width (two's complement text for i32).
inline std::string iconst(E e, int64_t v, const std::string& t) {
  std::string r = e.fresh("c");
  e.line(fmt::format("{} = arith.constant {} : {}", r, v, t));
  return r;
}
inline std::string u32const(E e, uint32_t v) { return iconst(e, int64_t(int32_t(v)), "i32"); }
inline std::string f64c(E e, double v) { return e.constant_scalar(v, DType::F64); }

// A float element widened to f64 (the reference computes in double), and back.
inline std::string to_f64(E e, const std::string& x, DType t) {
  return t == DType::F32 ? cvt(e, "arith.extf", x, "f32", "f64") : x;
}
inline std::string from_f64(E e, const std::string& x, DType t) {
  return t == DType::F32 ? cvt(e, "arith.truncf", x, "f64", "f32") : x;
}
// The flat row-major index (i64) of the current iteration point of an identity generic
// over `shape`.
inline std::string flat_index(E e, const Shape& shape) {
  std::string acc;
  int64_t stride = 1;
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    std::string i = e.fresh("s");
    e.line(fmt::format("{} = linalg.index {} : index", i, d));
    std::string term = cvt(e, "arith.index_cast", i, "index", "i64");
    if (stride != 1) term = op2(e, "arith.muli", term, iconst(e, stride, "i64"), "i64");
    acc = acc.empty() ? term : op2(e, "arith.addi", acc, term, "i64");
    stride *= shape[size_t(d)];
  }
  return acc.empty() ? iconst(e, 0, "i64") : acc;
}

// ---- Philox4x32-10 (philox.h) ----------------------------------------------------------

// The four words of philox_block(seed, stream, index) for the run seed %seed and an i64
// index value.
inline std::vector<std::string> philox_block(E e, uint64_t stream, const std::string& index) {
  auto lo = [&](const std::string& v) { return cvt(e, "arith.trunci", v, "i64", "i32"); };
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
    std::string p0 = op2(e, "arith.muli", cvt(e, "arith.extui", ctr[0], "i32", "i64"), m0, "i64");
    std::string p1 = op2(e, "arith.muli", cvt(e, "arith.extui", ctr[2], "i32", "i64"), m1, "i64");
    std::string n0 = op2(e, "arith.xori", op2(e, "arith.xori", hi(p1), ctr[1], "i32"), k0, "i32");
    std::string n2 = op2(e, "arith.xori", op2(e, "arith.xori", hi(p0), ctr[3], "i32"), k1, "i32");
    ctr = {n0, lo(p1), n2, lo(p0)};
  }
  return ctr;
}

// double(w >> 8 [+ 1]) * 2^-24, as f64.
inline std::string u24(E e, const std::string& w, bool plus_one) {
  std::string v = op2(e, "arith.shrui", w, iconst(e, 8, "i32"), "i32");
  if (plus_one) v = op2(e, "arith.addi", v, iconst(e, 1, "i32"), "i32");
  return op2(e, "arith.mulf", cvt(e, "arith.uitofp", v, "i32", "f64"), f64c(e, 0x1p-24), "f64");
}

// ---- tensor-level helpers (reductions, softmax, normalisation) -------------------------------

// The map of a reduction's output (the dims not reduced).
inline std::string kept_map(const std::vector<bool>& red) {
  std::string res;
  for (size_t i = 0; i < red.size(); ++i)
    if (!red[i]) res += fmt::format("{}d{}", res.empty() ? "" : ", ", i);
  return fmt::format("({}) -> ({})", dims(int(red.size())), res);
}
inline Shape kept_shape(const Shape& s, const std::vector<bool>& red) {
  Shape out;
  for (size_t i = 0; i < s.size(); ++i)
    if (!red[i]) out.push_back(s[i]);
  return out;
}
inline int64_t count_of(const Shape& s, const std::vector<bool>& red) {
  int64_t c = 1;
  for (size_t i = 0; i < s.size(); ++i)
    if (red[i]) c *= s[i];
  return c;
}

// A tensor of type t filled with a scalar (linalg.fill).
inline std::string filled(E e, const std::string& scalar, const TensorType& t) {
  std::string init = e.empty(t);
  std::string r = e.fresh("f");
  e.line(fmt::format("{} = linalg.fill ins({} : {}) outs({} : {}) -> {} {}", r, scalar, el(t.dtype), init, tt(t), tt(t),
                     e.loc()));
  return r;
}

// Reduces over `space` into a tensor of the kept dims with element type `acc`, starting
// from `init` (a scalar). Each input is indexed by the whole space (rank space.size())
// or by the kept dims only (smaller rank); their `map`s are ignored. The iteration space
// lists the kept dims first, then the reduced dims (each group in order): parallel
// loops outermost (threads), and each result still accumulates its terms in row-major
// order, like the reference.
inline std::string reduce(E e, std::vector<GenericIn> ins, const Shape& space, const std::vector<bool>& red, DType acc,
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
              part_map = fmt::format("({}) -> ({})", dims(rank), part);
  for (auto& in : ins) in.map = in.type.rank() == rank ? full_map : part_map;
  TensorType out{acc, kept_shape(space, red)};
  return e.generic(ins, filled(e, init, out), out, part_map, iters(kept, rank - kept), body);
}

// Elementwise over the iteration space `out` (identity output map).
inline std::string map(E e, const std::vector<GenericIn>& ins, const TensorType& out, const MlirEmitter::BodyFn& body) {
  return e.generic(ins, e.empty(out), out, MlirEmitter::identity_map(out.rank()), iters(out.rank(), 0), body);
}
inline GenericIn same(const std::string& v, const TensorType& t) { return {v, t, MlirEmitter::identity_map(t.rank())}; }

enum class ReduceKind { Sum, Mean, Max, Min, LogSumExp };

// On the GPU a float sum (accumulated in f64, as here), max or min runs as the kernel
// library's tree reduction (gpu_kernels.h): starc_reduce_KIND_T(n_out, n_red, d0..d5,
// reduced-axes mask, x, out) over x viewed as 6-D (leading 1s). The result has the kept
// dims; "" where the loops below are used instead (the CPU, other dtypes, rank > 6).
inline std::string gpu_reduction(E e, ReduceKind kind, const std::string& x, const TensorType& xt,
                                 const std::vector<bool>& red) {
  const int rank = xt.rank();
  const int64_t n_red = count_of(xt.shape, red), n_out = num_elements(xt.shape) / std::max<int64_t>(n_red, 1);
  if (e.device() != Device::Cuda || !is_float(xt.dtype) || rank > 6 || n_red == 0 || n_out == 0) return "";
  const bool extreme = kind == ReduceKind::Max || kind == ReduceKind::Min;
  const char* name = kind == ReduceKind::Max ? "max" : kind == ReduceKind::Min ? "min" : "sum";
  TensorType out{extreme ? xt.dtype : DType::F64, kept_shape(xt.shape, red)};
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
inline std::string sum_f64(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red) {
  std::string s = gpu_reduction(e, ReduceKind::Sum, x, xt, red);
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
inline std::string max_f64(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red) {
  const DType t = xt.dtype;
  TensorType kt{t, kept_shape(xt.shape, red)}, k64{DType::F64, kt.shape};
  std::string m = gpu_reduction(e, ReduceKind::Max, x, xt, red);
  if (!m.empty()) return map(e, {same(m, kt)}, k64, [&](E e, Args a) { return to_f64(e, a[0], t); });
  return reduce(e, {same(x, xt)}, xt.shape, red, DType::F64, f64c(e, -std::numeric_limits<double>::infinity()),
                [&](E e, Args a) {  // std::max(m, v) = m < v ? v : m
                  std::string v = to_f64(e, a[0], t);
                  return select(e, cmpf(e, "olt", a[1], v, DType::F64), v, a[1], "f64");
                });
}

// sum over `red` of e^(x - shift) in f64, shift (f64, kept dims) broadcast over `red`: a
// map and a sum, which linalg fuses into one loop on the CPU and the GPU tree-reduces.
inline std::string sum_exp_f64(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red,
                               const std::string& shift) {
  const DType t = xt.dtype;
  TensorType x64{DType::F64, xt.shape}, k64{DType::F64, kept_shape(xt.shape, red)};
  std::string ex = map(e, {same(x, xt), {shift, k64, kept_map(red)}}, x64, [&](E e, Args a) {
    return op1(e, "math.exp", op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64"), DType::F64);
  });
  return sum_f64(e, ex, x64, red);
}

}  // namespace starc::lower_util
