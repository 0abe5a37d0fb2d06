// Lowerings of the index ops (compiler/ops/index.cpp): gather, take_along_axis,
// index_add, scatter_add, check_index.
//
// The reads are one linalg.generic over the result whose body reads x with
// tensor.extract at the loaded index, clamped into [0, n): compiled code cannot throw,
// and an index from the data was checked by the executor before the run
// (check_input_indices), so the clamp only keeps the read inside x.
// The adds are a generic over x's elements that reduces over the index positions,
// adding src where the index equals the element's position: no write can leave x
// (an index out of range matches nothing), no atomics are needed on the GPU, and each
// element accumulates in the reference kernel's order. The cost is |x| * |idx| compares,
// so an embedding gradient costs vocabulary x tokens x dim: fine for the tables of
// astronomy models (bands, classes, positions), not for a 50 000-word vocabulary.
#include <fmt/format.h>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using namespace lower_util;

// The i64 index `v` clamped into [0, n) as an `index`.
std::string clamped(E e, const std::string& v, int64_t n) {
  std::string lo = op2(e, "arith.maxsi", v, iconst(e, 0, "i64"), "i64");
  std::string hi = op2(e, "arith.minsi", lo, iconst(e, n - 1, "i64"), "i64");
  return cvt(e, "arith.index_cast", hi, "i64", "index");
}

std::string loop_index(E e, int d) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = linalg.index {} : index", r, d));
  return r;
}

// x[coords] with coord `axis` = j and the others the loop dims `loop_dim(i)`.
template <class F>
std::string extract(E e, const std::string& x, const TensorType& xt, int axis, const std::string& j, F loop_dim) {
  std::vector<std::string> at;
  for (int i = 0; i < xt.rank(); ++i) at.push_back(i == axis ? j : loop_index(e, loop_dim(i)));
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = tensor.extract {}[{}] : {}", r, x, join_strs(at), tt(xt)));
  return r;
}

bool is_empty(const Shape& s) { return num_elements(s) == 0; }

// out[o.., i.., s..] = x[o.., idx[i..], s..]: loop dims o (a), i (k), s.
void lower_gather(E e, const Node& n, int id) {
  const TensorType &xt = e.type(n.inputs[0]), &it = e.type(n.inputs[1]);
  int a = axis_of(n, xt.rank()), k = it.rank();
  if (is_empty(n.type.shape)) return e.bind(id, e.empty(n.type));
  if (xt.shape[size_t(a)] == 0) return e.bind(id, e.fill(0, n.type));  // every index is out of range
  std::string x = e.val(n.inputs[0]);
  int64_t len = xt.shape[size_t(a)];
  e.bind(id, e.generic({{e.val(n.inputs[1]), it, amap(n.type.rank(), dim_range(a, k))}}, e.empty(n.type), n.type,
                       MlirEmitter::identity_map(n.type.rank()), iters(n.type.rank(), 0), [&](E e, Args v) {
                         std::string j = clamped(e, v[0], len);
                         return extract(e, x, xt, a, j, [&](int i) { return i < a ? i : i - 1 + k; });
                       }));
}

// out[.., i, ..] = x[.., idx[.., i, ..], ..]: the loop dims are idx's.
void lower_take_along(E e, const Node& n, int id) {
  const TensorType &xt = e.type(n.inputs[0]), &it = e.type(n.inputs[1]);
  int a = axis_of(n, xt.rank());
  if (is_empty(n.type.shape)) return e.bind(id, e.empty(n.type));
  if (xt.shape[size_t(a)] == 0) return e.bind(id, e.fill(0, n.type));
  std::string x = e.val(n.inputs[0]);
  int64_t len = xt.shape[size_t(a)];
  e.bind(id, map(e, {same(e.val(n.inputs[1]), it)}, n.type,
                 [&](E e, Args v) { return extract(e, x, xt, a, clamped(e, v[0], len), [](int i) { return i; }); }));
}

// acc + src where idx == the element's position along the axis, else acc.
std::string add_where_index(E e, Args v, int axis, DType t) {
  std::string pos = cvt(e, "arith.index_cast", loop_index(e, axis), "index", "i64");
  std::string hit = cmpi(e, "eq", v[0], pos, "i64");
  std::string sum = op2(e, "arith.addf", v[2], v[1], t);
  return select(e, hit, sum, v[2], t);
}

// x copied into a new tensor: the adds write their result over it, and x itself (a
// graph input, a constant) may not be written.
std::string fresh_copy(E e, const std::string& x, const TensorType& xt) {
  return map(e, {same(x, xt)}, xt, [](E, Args v) { return v[0]; });
}

// Loop dims: x's (parallel), then the reduced index dims `red` from d{rank(x)}; idx's
// and src's maps are given as results over them.
std::string add_at(E e, const Node& n, const std::vector<std::string>& idx_map, const std::vector<std::string>& src_map,
                   int reduced) {
  const TensorType& xt = e.type(n.inputs[0]);
  int a = axis_of(n, xt.rank()), loops = xt.rank() + reduced;
  return e.generic({{e.val(n.inputs[1]), e.type(n.inputs[1]), amap(loops, idx_map)},
                    {e.val(n.inputs[2]), e.type(n.inputs[2]), amap(loops, src_map)}},
                   fresh_copy(e, e.val(n.inputs[0]), xt), xt, amap(loops, dim_range(0, xt.rank())),
                   iters(xt.rank(), reduced), [&](E e, Args v) { return add_where_index(e, v, a, xt.dtype); });
}

// out = x; out[o, idx[i..], s] += src[o, i.., s]: reduces over idx's dims.
void lower_index_add(E e, const Node& n, int id) {
  const TensorType &xt = e.type(n.inputs[0]), &it = e.type(n.inputs[1]);
  int a = axis_of(n, xt.rank()), r = xt.rank(), k = it.rank();
  if (is_empty(xt.shape) || is_empty(it.shape)) return e.bind(id, e.val(n.inputs[0]));
  std::vector<std::string> src_map = dim_range(0, a), idx_map = dim_range(r, k);
  src_map.insert(src_map.end(), idx_map.begin(), idx_map.end());
  for (int i = a + 1; i < r; ++i) src_map.push_back(dim(i));
  e.bind(id, add_at(e, n, idx_map, src_map, k));
}

// out = x; out[o, idx[o, i, s], s] += src[o, i, s]: reduces over the axis of idx.
void lower_scatter_add(E e, const Node& n, int id) {
  const TensorType &xt = e.type(n.inputs[0]), &it = e.type(n.inputs[1]);
  int a = axis_of(n, xt.rank()), r = xt.rank();
  if (is_empty(xt.shape) || is_empty(it.shape)) return e.bind(id, e.val(n.inputs[0]));
  std::vector<std::string> m = dim_range(0, r);
  m[size_t(a)] = dim(r);
  e.bind(id, add_at(e, n, m, m, 1));
}

}  // namespace

void register_index_lowerings(LoweringTable& t) {
  t["gather"] = lower_gather;
  t["take_along_axis"] = lower_take_along;
  t["index_add"] = lower_index_add;
  t["scatter_add"] = lower_scatter_add;
  // The values are checked by the executor (check_input_indices); nothing to compute.
  t["check_index"] = [](E e, const Node& n, int id) { e.bind(id, e.val(n.inputs[0])); };
}

}  // namespace starc
