// Lowerings of cumsum and argsort (compiler/ops/sort_scan.cpp).
//
// Both are linalg.generics whose extra reduction loop walks the axis again, so they run
// on the CPU and the GPU alike with no kernel-library call and no atomics, at n compares
// (or adds) per element, n^2 per row: meant for the axis lengths of astronomy models
// (classes, tokens, bands, a light curve's few hundred epochs), not for sorting millions.
//  * cumsum: out[i] accumulates x[k] for the k the reference adds, in its order (k from
//    0 up; reverse: from n-1 down), in f64 for floats and rounded once, so f64 agrees bit
//    for bit;
//  * argsort: rank[i] counts the j sorting before i (PyTorch's order, ties by index:
//    stable), then out[p] is the i whose rank is p.
#include <fmt/format.h>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using namespace lower_util;

std::string loop_index(E e, int d) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = linalg.index {} : index", r, d));
  return r;
}

// x's map over the loops (x's dims, then k): the axis read at k, or at n-1-k backwards.
std::string axis_at_k(const TensorType& xt, int a, bool backwards) {
  int r = xt.rank();
  std::vector<std::string> m = dim_range(0, r);
  m[size_t(a)] = backwards ? fmt::format("{} - d{}", xt.shape[size_t(a)] - 1, r) : dim(r);
  return amap(r + 1, m);
}

// The body of cumsum's generic: acc + x[pos] when pos (k, or n-1-k walking backwards) is
// at or before i (after, walking backwards; strictly when exclusive), else acc.
std::string cumsum_step(E e, const Node& n, int a, int r, int64_t len, const std::string& x, const std::string& acc) {
  bool rev = attr_bool(n.attrs, "reverse"), excl = attr_bool(n.attrs, "exclusive");
  DType t = n.type.dtype;
  std::string i = loop_index(e, a), k = loop_index(e, r);
  std::string pos = rev ? op2(e, "arith.subi", iconst(e, len - 1, "index"), k, "index") : k;
  std::string in = cmpi(e, rev ? (excl ? "ugt" : "uge") : (excl ? "ult" : "ule"), pos, i, "index");
  if (!is_float(t)) return select(e, in, op2(e, "arith.addi", acc, x, "i64"), acc, "i64");
  return select(e, in, op2(e, "arith.addf", acc, to_f64(e, x, t), "f64"), acc, "f64");
}

// out[.., i, ..] = sum of x[.., k, ..] over the k before i (or after, reverse), one
// reduction loop over k per element.
void lower_cumsum(E e, const Node& n, int id) {
  const TensorType& xt = e.type(n.inputs[0]);
  if (num_elements(xt.shape) == 0) return e.bind(id, e.empty(n.type));
  int r = xt.rank(), a = axis_of(n, r);
  bool rev = attr_bool(n.attrs, "reverse"), fl = is_float(xt.dtype);
  int64_t len = xt.shape[size_t(a)];
  TensorType acc_t{fl ? DType::F64 : DType::I64, xt.shape};
  std::string zero = fl ? f64c(e, 0) : iconst(e, 0, "i64");
  // Walking backwards, x is also passed at plain k (unread): linalg derives the loop
  // ranges from the operands' maps, and n-1-k alone is not invertible.
  std::vector<GenericIn> ins = {{e.val(n.inputs[0]), xt, axis_at_k(xt, a, rev)}};
  if (rev) ins.push_back({e.val(n.inputs[0]), xt, axis_at_k(xt, a, false)});
  std::string sums = e.generic(ins, filled(e, zero, acc_t), acc_t, amap(r + 1, dim_range(0, r)), iters(r, 1),
                               [&](E e, Args v) { return cumsum_step(e, n, a, r, len, v[0], v.back()); });
  if (xt.dtype == DType::F32)
    sums = map(e, {same(sums, acc_t)}, xt, [](E e, Args v) { return from_f64(e, v[0], DType::F32); });
  e.bind(id, sums);
}

// Whether p sorts strictly before q: p < q with NaN after every number (descending:
// p > q with NaN first).
std::string sorts_before(E e, const std::string& p, const std::string& q, DType t, bool descending) {
  if (!is_float(t)) return cmpi(e, descending ? "sgt" : "slt", p, q, "i64");
  std::string less = cmpf(e, descending ? "ogt" : "olt", p, q, t);
  std::string pn = cmpf(e, "uno", p, p, t), qn = cmpf(e, "uno", q, q, t);
  std::string t1 = iconst(e, 1, "i1");
  std::string nan_first = descending ? op2(e, "arith.andi", pn, op2(e, "arith.xori", qn, t1, "i1"), "i1")
                                     : op2(e, "arith.andi", op2(e, "arith.xori", pn, t1, "i1"), qn, "i1");
  return op2(e, "arith.ori", less, nan_first, "i1");
}

// rank[.., i, ..] = #{j : x_j sorts before x_i, or ties with it and j < i}.
std::string sort_ranks(E e, const Node& n, const TensorType& xt, int a, bool desc) {
  int r = xt.rank();
  TensorType rt{DType::I64, xt.shape};
  std::string x = e.val(n.inputs[0]);
  return e.generic({{x, xt, amap(r + 1, dim_range(0, r))}, {x, xt, axis_at_k(xt, a, false)}},
                   filled(e, iconst(e, 0, "i64"), rt), rt, amap(r + 1, dim_range(0, r)), iters(r, 1), [&](E e, Args v) {
                     std::string i = loop_index(e, a), j = loop_index(e, r);
                     std::string lt = sorts_before(e, v[1], v[0], xt.dtype, desc);
                     std::string gt = sorts_before(e, v[0], v[1], xt.dtype, desc);
                     std::string tie_first = op2(e, "arith.andi", op2(e, "arith.xori", gt, iconst(e, 1, "i1"), "i1"),
                                                 cmpi(e, "ult", j, i, "index"), "i1");
                     std::string counts = op2(e, "arith.ori", lt, tie_first, "i1");
                     std::string inc = op2(e, "arith.addi", v[2], iconst(e, 1, "i64"), "i64");
                     return select(e, counts, inc, v[2], "i64");
                   });
}

// out[.., p, ..] = the i with rank[.., i, ..] == p (ranks are a permutation).
void lower_argsort(E e, const Node& n, int id) {
  const TensorType& xt = e.type(n.inputs[0]);
  if (num_elements(xt.shape) == 0) return e.bind(id, e.empty(n.type));
  int r = xt.rank(), a = axis_of(n, r);
  TensorType rt{DType::I64, xt.shape};
  std::string ranks = sort_ranks(e, n, xt, a, attr_bool(n.attrs, "descending"));
  e.bind(id, e.generic({{ranks, rt, axis_at_k(rt, a, false)}}, filled(e, iconst(e, 0, "i64"), rt), rt,
                       amap(r + 1, dim_range(0, r)), iters(r, 1), [&](E e, Args v) {
                         std::string p = cvt(e, "arith.index_cast", loop_index(e, a), "index", "i64");
                         std::string i = cvt(e, "arith.index_cast", loop_index(e, r), "index", "i64");
                         return select(e, cmpi(e, "eq", v[0], p, "i64"), i, v[1], "i64");
                       }));
}

}  // namespace

void register_sort_scan_lowerings(LoweringTable& t) {
  t["cumsum"] = lower_cumsum;
  t["argsort"] = lower_argsort;
}

}  // namespace starc
