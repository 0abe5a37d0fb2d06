// Lowerings of the shape and data-movement ops (compiler/ops/shape_ops.cpp): reshape,
// transpose, flip, rot90, concat, slice, pad, upsample, broadcast_to, full, one_hot.
//
// Data movement becomes tensor-dialect views where one exists (collapse/expand_shape,
// extract_slice, concat, pad) and otherwise one linalg.generic whose input indexing map
// does the work (flip and rot90 with `n - 1 - d`, upsample with `d floordiv s`,
// broadcast_to with constant-0 dims). Semantics follow the reference kernels in
// compiler/ops/shape_ops.cpp.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using namespace lower_util;

bool has_zero(const Shape& s) {
  return std::any_of(s.begin(), s.end(), [](Dim d) { return d == 0; });
}

// An output with no elements: nothing to compute.
bool bind_if_empty(E e, const Node& n, int id) {
  if (!has_zero(n.type.shape)) return false;
  e.bind(id, e.empty(n.type));
  return true;
}

// A copy of `x` (type `in`) into a fresh tensor of type `out` through input map `map`.
std::string copy_through_map(E e, const std::string& x, const TensorType& in, const TensorType& out,
                             const std::string& map) {
  return e.generic({{x, in, map}}, e.empty(out), out, MlirEmitter::identity_map(out.rank()), iters(out.rank(), 0),
                   [](E, Args a) { return a[0]; });
}

// ---- reshape ----

// Groups the dims of `big` into contiguous runs whose products are the dims of `small`
// (trailing 1s join the last run). False if the shapes do not nest that way.
bool reassociation(const Shape& big, const Shape& small, std::vector<std::vector<int64_t>>& groups) {
  groups.assign(small.size(), {});
  size_t i = 0;
  if (small.empty()) return std::all_of(big.begin(), big.end(), [](Dim d) { return d == 1; });
  for (size_t j = 0; j < small.size(); ++j) {
    if (i >= big.size()) return false;
    int64_t p = big[i];
    groups[j].push_back(int64_t(i++));
    while (p < small[j] && i < big.size()) {
      p *= big[i];
      groups[j].push_back(int64_t(i++));
    }
    if (p != small[j]) return false;
  }
  for (; i < big.size(); ++i) {
    if (big[i] != 1) return false;
    groups.back().push_back(int64_t(i));
  }
  return true;
}

std::string reassoc_text(const std::vector<std::vector<int64_t>>& groups) {
  std::vector<std::string> gs;
  for (auto& g : groups) gs.push_back("[" + join_ints(g) + "]");
  return "[" + join_strs(gs) + "]";
}

std::string collapse(E e, const std::string& x, const TensorType& in, const TensorType& out,
                     const std::vector<std::vector<int64_t>>& groups) {
  std::string r = e.fresh("v");
  e.line(fmt::format("{} = tensor.collapse_shape {} {} : {} into {} {}", r, x, reassoc_text(groups),
                     MlirEmitter::tensor_type(in), MlirEmitter::tensor_type(out), e.loc()));
  return r;
}

std::string expand(E e, const std::string& x, const TensorType& in, const TensorType& out,
                   const std::vector<std::vector<int64_t>>& groups) {
  std::string r = e.fresh("v");
  e.line(fmt::format("{} = tensor.expand_shape {} {} output_shape [{}] : {} into {} {}", r, x, reassoc_text(groups),
                     join_ints(out.shape), MlirEmitter::tensor_type(in), MlirEmitter::tensor_type(out), e.loc()));
  return r;
}

// The same elements in shape `out`: one collapse_shape or expand_shape when the shapes
// nest, else through the flat 1-D tensor (both are views on contiguous buffers).
std::string reshape_value(E e, const std::string& x, const TensorType& in, const TensorType& out) {
  if (in.shape == out.shape) return x;
  std::vector<std::vector<int64_t>> groups;
  if (in.rank() > out.rank() && reassociation(in.shape, out.shape, groups)) return collapse(e, x, in, out, groups);
  if (in.rank() < out.rank() && reassociation(out.shape, in.shape, groups)) return expand(e, x, in, out, groups);
  // Neither nests (ranks equal, or a split and a merge): both ranks are >= 1 here, since
  // a rank-0 tensor has one element and nests with any all-ones shape.
  TensorType flat{in.dtype, {num_elements(in.shape)}};
  std::string v = x;
  if (in.rank() != 1) {
    std::vector<int64_t> all;
    for (int i = 0; i < in.rank(); ++i) all.push_back(i);
    v = collapse(e, v, in, flat, {all});
  }
  if (out.rank() != 1) {
    std::vector<int64_t> all;
    for (int i = 0; i < out.rank(); ++i) all.push_back(i);
    v = expand(e, v, flat, out, {all});
  }
  return v;
}

void lower_reshape(E e, const Node& n, int id) {
  e.bind(id, reshape_value(e, e.val(n.inputs[0]), e.type(n.inputs[0]), n.type));
}

// ---- transpose, flip, rot90 ----

std::vector<int64_t> transpose_perm(const Node& n, int rank) {
  const Ints& perm = attr_ints(n.attrs, "perm");
  std::vector<int64_t> p;
  if (perm.empty())
    for (int i = rank - 1; i >= 0; --i) p.push_back(i);
  else
    for (int64_t a : perm) p.push_back(normalize_axis("transpose", a, rank));
  return p;
}

void lower_transpose(E e, const Node& n, int id) {
  const TensorType& in = e.type(n.inputs[0]);
  std::vector<int64_t> p = transpose_perm(n, in.rank());
  bool identity = true;
  for (size_t i = 0; i < p.size(); ++i) identity = identity && p[i] == int64_t(i);
  if (identity) return e.bind(id, e.val(n.inputs[0]));
  if (only_gemms_read_transposed(e.graph(), id)) return;  // matmul reads its input in place
  if (bind_if_empty(e, n, id)) return;
  std::string init = e.empty(n.type), r = e.fresh("v");
  e.line(fmt::format("{} = linalg.transpose ins({} : {}) outs({} : {}) permutation = [{}] {}", r, e.val(n.inputs[0]),
                     MlirEmitter::tensor_type(in), init, e.ty(id), join_ints(p), e.loc()));
  e.bind(id, r);
}

// out[o] = x[idx] with idx[i] = o[src[i]], or n_i - 1 - o[src[i]] where flipped[i].
void lower_permute_flip(E e, const Node& n, int id, const std::vector<int>& src, const std::vector<bool>& flipped) {
  const TensorType& in = e.type(n.inputs[0]);
  bool identity = true;
  for (int i = 0; i < in.rank(); ++i) identity = identity && src[i] == i && !flipped[i];
  if (identity) return e.bind(id, e.val(n.inputs[0]));
  if (bind_if_empty(e, n, id)) return;
  std::vector<std::string> exprs;
  for (int i = 0; i < in.rank(); ++i)
    exprs.push_back(flipped[i] ? fmt::format("{} - d{}", in.shape[i] - 1, src[i]) : fmt::format("d{}", src[i]));
  e.bind(id, copy_through_map(e, e.val(n.inputs[0]), in, n.type, amap(n.type.rank(), exprs)));
}

void lower_flip(E e, const Node& n, int id) {
  int r = e.type(n.inputs[0]).rank();
  std::vector<int> src(static_cast<size_t>(r), 0);
  std::vector<bool> flipped(size_t(r), false);
  for (int i = 0; i < r; ++i) src[i] = i;
  for (int64_t a : attr_ints(n.attrs, "axes")) flipped[size_t(normalize_axis("flip", a, r))] = true;
  lower_permute_flip(e, n, id, src, flipped);
}

// numpy.rot90: k = 1 is transpose(flip(x, a1)), k = 2 flips both axes, k = 3 is
// flip(transpose(x), a1); as one index map each.
void lower_rot90(E e, const Node& n, int id) {
  int r = e.type(n.inputs[0]).rank();
  const Ints& axes = attr_ints(n.attrs, "axes");
  int a0 = normalize_axis("rot90", axes.at(0), r), a1 = normalize_axis("rot90", axes.at(1), r);
  int k = int(((attr_int(n.attrs, "k") % 4) + 4) % 4);
  std::vector<int> src(static_cast<size_t>(r), 0);
  std::vector<bool> flipped(size_t(r), false);
  for (int i = 0; i < r; ++i) src[i] = i;
  if (k == 1) {
    src[a0] = a1, src[a1] = a0;
    flipped[a1] = true;
  } else if (k == 2) {
    flipped[a0] = flipped[a1] = true;
  } else if (k == 3) {
    src[a0] = a1, src[a1] = a0;
    flipped[a0] = true;
  }
  lower_permute_flip(e, n, id, src, flipped);
}

// ---- concat, slice, pad ----

void lower_concat(E e, const Node& n, int id) {
  int r = n.type.rank();
  int axis = normalize_axis("concat", attr_int(n.attrs, "axis"), r);
  if (n.inputs.size() == 1) return e.bind(id, e.val(n.inputs[0]));
  if (bind_if_empty(e, n, id)) return;
  // tensor.concat, not a chain of insert_slices: one-shot bufferization of a long chain
  // grows steeply with the number of pieces.
  std::vector<std::string> vals, types;
  for (int in : n.inputs)
    if (e.type(in).shape[axis] != 0) vals.push_back(e.val(in)), types.push_back(e.ty(in));
  std::string acc = e.fresh("v");
  e.line(fmt::format("{} = tensor.concat dim({}) {} : ({}) -> {} {}", acc, axis, join_strs(vals), join_strs(types),
                     e.ty(id), e.loc()));
  e.bind(id, acc);
}

// Python semantics, as the reference: negative start/end count from the end, then clamp
// (to [0, n] for a positive step, [-1, n - 1] for a negative one); the result length is
// already in the node's type. A positive step is a strided view (extract_slice); a
// negative one reads backwards through an index map, as flip does.
void lower_slice(E e, const Node& n, int id) {
  const TensorType& in = e.type(n.inputs[0]);
  int axis = normalize_axis("slice", attr_int(n.attrs, "axis"), in.rank());
  int64_t len = in.shape[axis];
  int64_t start = attr_int(n.attrs, "start"), step = attr_int(n.attrs, "step");
  start = std::clamp<int64_t>(start < 0 ? start + len : start, step > 0 ? 0 : -1, step > 0 ? len : len - 1);
  if (step > 0 && n.type.shape == in.shape) return e.bind(id, e.val(n.inputs[0]));  // the whole axis
  if (bind_if_empty(e, n, id)) return;
  if (step < 0) {
    std::vector<std::string> exprs;
    for (int i = 0; i < in.rank(); ++i)
      exprs.push_back(i == axis ? fmt::format("{} - d{} * {}", start, i, -step) : fmt::format("d{}", i));
    return e.bind(id, copy_through_map(e, e.val(n.inputs[0]), in, n.type, amap(n.type.rank(), exprs)));
  }
  std::vector<int64_t> offsets(size_t(in.rank()), 0), strides(size_t(in.rank()), 1);
  offsets[axis] = start;
  strides[axis] = step;
  std::string r = e.fresh("v");
  e.line(fmt::format("{} = tensor.extract_slice {}[{}] [{}] [{}] : {} to {} {}", r, e.val(n.inputs[0]),
                     join_ints(offsets), join_ints(n.type.shape), join_ints(strides), MlirEmitter::tensor_type(in),
                     e.ty(id), e.loc()));
  e.bind(id, r);
}

void lower_pad(E e, const Node& n, int id) {
  const TensorType& in = e.type(n.inputs[0]);
  const Ints& pads = attr_ints(n.attrs, "pads");
  std::vector<int64_t> lo, hi;
  for (int i = 0; i < in.rank(); ++i) lo.push_back(pads[2 * i]), hi.push_back(pads[2 * i + 1]);
  if (n.type.shape == in.shape) return e.bind(id, e.val(n.inputs[0]));
  double v = attr_float(n.attrs, "value");
  if (has_zero(in.shape)) return e.bind(id, e.splat(n.type.dtype == DType::Bool ? double(v != 0) : v, n.type));
  std::string c = e.constant_scalar(n.type.dtype == DType::Bool ? double(v != 0) : v, n.type.dtype);
  std::string r = e.fresh("v");
  e.line(fmt::format("{} = tensor.pad {} low[{}] high[{}] {{", r, e.val(n.inputs[0]), join_ints(lo), join_ints(hi)));
  std::vector<std::string> idx;
  for (int i = 0; i < in.rank(); ++i) idx.push_back(fmt::format("{}: index", e.fresh("i")));
  e.line(fmt::format("^bb0({}):", join_strs(idx)));
  e.indent(2);
  e.line(fmt::format("tensor.yield {} : {}", c, MlirEmitter::elem(n.type.dtype)));
  e.indent(-2);
  e.line(fmt::format("}} : {} to {} {}", MlirEmitter::tensor_type(in), e.ty(id), e.loc()));
  e.bind(id, r);
}

// ---- upsample, broadcast_to, full, one_hot ----

void lower_upsample(E e, const Node& n, int id) {
  const TensorType& in = e.type(n.inputs[0]);
  if (n.type.shape == in.shape) return e.bind(id, e.val(n.inputs[0]));
  if (bind_if_empty(e, n, id)) return;
  std::vector<std::string> exprs;
  for (int i = 0; i < in.rank(); ++i) {
    int64_t s = n.type.shape[i] / std::max<int64_t>(in.shape[i], 1);
    exprs.push_back(s > 1 ? fmt::format("d{} floordiv {}", i, s) : fmt::format("d{}", i));
  }
  e.bind(id, copy_through_map(e, e.val(n.inputs[0]), in, n.type, amap(n.type.rank(), exprs)));
}

void lower_broadcast_to(E e, const Node& n, int id) {
  const TensorType& in = e.type(n.inputs[0]);
  if (n.type.shape == in.shape) return e.bind(id, e.val(n.inputs[0]));
  if (bind_if_empty(e, n, id)) return;
  e.bind(id, copy_through_map(e, e.val(n.inputs[0]), in, n.type, MlirEmitter::broadcast_map(in.shape, n.type.shape)));
}

void lower_full(E e, const Node& n, int id) {
  double v = attr_float(n.attrs, "value");
  if (n.type.dtype == DType::Bool) v = double(v != 0);
  // Large fills as linalg.fill: a dense splat constant becomes a global that LLVM
  // writes out element by element (a ones() of 590 000 floats in FNet's batch-norm
  // statistics took 50 s of codegen).
  e.bind(id, num_elements(n.type.shape) > 64 ? e.fill(v, n.type) : e.splat(v, n.type));
}

// out[..., j] = (x[...] == j): labels outside [0, depth) match no j, a zero row.
void lower_one_hot(E e, const Node& n, int id) {
  const TensorType& in = e.type(n.inputs[0]);
  if (bind_if_empty(e, n, id)) return;
  int r = in.rank();
  std::vector<std::string> exprs;
  for (int i = 0; i < r; ++i) exprs.push_back(fmt::format("d{}", i));
  DType dt = n.type.dtype;
  e.bind(id, e.generic({{e.val(n.inputs[0]), in, amap(r + 1, exprs)}}, e.empty(n.type), n.type,
                       MlirEmitter::identity_map(r + 1), iters(r + 1, 0), [&](E e, Args a) {
                         std::string j = e.fresh("s"), ji = e.fresh("s"), eq = e.fresh("s");
                         e.line(fmt::format("{} = linalg.index {} : index", j, r));
                         e.line(fmt::format("{} = arith.index_cast {} : index to i64", ji, j));
                         e.line(fmt::format("{} = arith.cmpi eq, {}, {} : i64", eq, a[0], ji));
                         if (dt == DType::Bool) return eq;
                         std::string out = e.fresh("s");
                         e.line(fmt::format("{} = arith.{} {} : i1 to {}", out, dt == DType::I64 ? "extui" : "uitofp",
                                            eq, MlirEmitter::elem(dt)));
                         return out;
                       }));
}

}  // namespace

void register_shape_ops_lowerings(LoweringTable& t) {
  t["reshape"] = lower_reshape;
  t["transpose"] = lower_transpose;
  t["flip"] = lower_flip;
  t["rot90"] = lower_rot90;
  t["concat"] = lower_concat;
  t["slice"] = lower_slice;
  t["pad"] = lower_pad;
  t["upsample"] = lower_upsample;
  t["broadcast_to"] = lower_broadcast_to;
  t["full"] = lower_full;
  t["one_hot"] = lower_one_hot;
}

}  // namespace starc
