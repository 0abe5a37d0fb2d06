// Lowerings of the reductions (compiler/ops/reduce.cpp): sum, mean, max, min, logsumexp
// and argmax.
//
// Every lowering follows its reference kernel's formula and evaluation order, so the JIT
// agrees bit for bit on this machine's libm:
//  * float accumulations (sum, mean, logsumexp) are done in f64 like the reference, and a
//    reduction's loops run in the input's row-major order, so each output accumulates its
//    terms in the same order (lower_util.h: reduce, sum_f64; on the GPU the kernel
//    library's tree reductions, gpu_reduction);
//  * results are rounded to the element type once, at the end (arith.truncf = C++ cast);
//  * max, min and argmax propagate NaN as the reference does; keepdims is a
//    tensor.expand_shape of the kept dims.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using namespace lower_util;

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

std::string float_bits_const(E e, double v, DType t) { return e.constant_scalar(v, t); }

// Max (or min) over `red` with the reference's NaN propagation, in the element type.
std::string extreme(E e, const std::string& x, const TensorType& xt, const std::vector<bool>& red, bool is_max) {
  DType t = xt.dtype;
  std::string init;
  if (is_float(t))
    init = float_bits_const(
        e, is_max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity(), t);
  else
    init = iconst(e, is_max ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max(), "i64");
  return reduce(e, {same(x, xt)}, xt.shape, red, t, init, [&](E e, Args a) {
    const std::string &v = a[0], &m = a[1];
    if (!is_float(t)) return select(e, cmpi(e, is_max ? "sgt" : "slt", v, m, "i64"), v, m, "i64");
    // m stays once NaN; else v replaces m when v is NaN or beyond m.
    std::string take = select(e, cmpf(e, is_max ? "ugt" : "ult", v, m, t), v, m, t);
    return select(e, cmpf(e, "uno", m, m, t), m, take, t);
  });
}

LowerFn reduction(ReduceKind kind) {
  return [kind](E e, const Node& n, int id) {
    int xid = n.inputs[0];
    TensorType xt = e.type(xid);
    DType t = xt.dtype;
    std::string x = e.val(xid);
    std::vector<bool> red = reduced_axes(n, xt.rank());
    Shape ks = kept_shape(xt.shape, red);
    TensorType kt{t, ks}, k64{DType::F64, ks};
    std::string r;
    if (kind == ReduceKind::Max || kind == ReduceKind::Min) {
      r = gpu_reduction(e, kind, x, xt, red);
      if (r.empty()) r = extreme(e, x, xt, red, kind == ReduceKind::Max);
    } else if ((kind == ReduceKind::Sum) && !is_float(t)) {
      r = reduce(e, {same(x, xt)}, xt.shape, red, t, iconst(e, 0, "i64"),
                 [&](E e, Args a) { return op2(e, "arith.addi", a[1], a[0], "i64"); });
    } else if (kind == ReduceKind::Sum || kind == ReduceKind::Mean) {
      std::string s = sum_f64(e, x, xt, red);
      if (kind == ReduceKind::Sum && t == DType::F64) {
        r = s;
      } else {
        double count = double(count_of(xt.shape, red));
        r = map(e, {same(s, k64)}, kt, [&](E e, Args a) {
          std::string v = a[0];
          if (kind == ReduceKind::Mean) v = op2(e, "arith.divf", v, f64c(e, count), "f64");
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
                           if (is_float(t)) {
                             std::string both_nan =
                                 op2(e, "arith.andi", cmpf(e, "uno", v, v, t), cmpf(e, "uno", mx, mx, t), "i1");
                             hit = op2(e, "arith.ori", cmpf(e, "oeq", v, mx, t), both_nan, "i1");
                           } else {
                             hit = cmpi(e, "eq", v, mx, "i64");
                           }
                           std::string j = e.fresh("s");
                           // the reduced axis is the last iteration dim (see reduce())
                           e.line(fmt::format("{} = linalg.index {} : index", j, xt.rank() - 1));
                           std::string j64 = cvt(e, "arith.index_cast", j, "index", "i64");
                           return select(e, hit, op2(e, "arith.minsi", acc, j64, "i64"), acc, "i64");
                         });
  e.bind(id, expand_kept(e, r, ki, n.type, red));
}

}  // namespace

void register_reduce_lowerings(LoweringTable& t) {
  t["sum"] = reduction(ReduceKind::Sum);
  t["mean"] = reduction(ReduceKind::Mean);
  t["max"] = reduction(ReduceKind::Max);
  t["min"] = reduction(ReduceKind::Min);
  t["logsumexp"] = reduction(ReduceKind::LogSumExp);
  t["argmax"] = lower_argmax;
}

}  // namespace starc
