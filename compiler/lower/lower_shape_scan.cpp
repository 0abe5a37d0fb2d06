// Lowerings: Shape ops (reshape, transpose, concat, slice, pad, ...), full, one_hot, scan.
//
// Data movement becomes tensor-dialect views where one exists (collapse/expand_shape,
// extract/insert_slice, pad) and otherwise one linalg.generic whose input indexing map
// does the work (flip and rot90 with `n - 1 - d`, upsample with `d floordiv s`,
// broadcast_to with constant-0 dims). `scan` becomes an scf.for over the static length
// with the carries, the stacked step outputs and the saved carries as tensor iter_args;
// the body sub-graph is emitted inline in the loop region. Semantics follow the
// reference kernels in compiler/ops/shape_ops.cpp and compiler/ops/special.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "compiler/lower/emit.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using Args = const std::vector<std::string>&;
using E = MlirEmitter&;

std::string join_ints(const std::vector<int64_t>& v) { return fmt::format("{}", fmt::join(v, ", ")); }
std::string join_strs(const std::vector<std::string>& v) { return fmt::format("{}", fmt::join(v, ", ")); }

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
  std::vector<std::string> iters(out.shape.size(), "parallel");
  return e.generic({{x, in, map}}, e.empty(out), out, MlirEmitter::identity_map(out.rank()), iters,
                   [](E, Args a) { return a[0]; });
}

// "(d0, ..., dn-1) -> (" + exprs + ")".
std::string map_of(int loops, const std::vector<std::string>& exprs) {
  std::vector<std::string> dims;
  for (int i = 0; i < loops; ++i) dims.push_back(fmt::format("d{}", i));
  return fmt::format("({}) -> ({})", join_strs(dims), join_strs(exprs));
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
  e.bind(id, copy_through_map(e, e.val(n.inputs[0]), in, n.type, map_of(n.type.rank(), exprs)));
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

std::string insert_slice(E e, const std::string& src, const std::string& src_ty, const std::string& dst,
                         const std::string& dst_ty, const std::vector<std::string>& offsets,
                         const std::vector<int64_t>& sizes) {
  std::string r = e.fresh("v");
  e.line(fmt::format("{} = tensor.insert_slice {} into {}[{}] [{}] [{}] : {} into {} {}", r, src, dst,
                     join_strs(offsets), join_ints(sizes), join_ints(std::vector<int64_t>(sizes.size(), 1)), src_ty,
                     dst_ty, e.loc()));
  return r;
}

std::vector<std::string> zero_offsets(size_t rank) { return std::vector<std::string>(rank, "0"); }

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

// Python semantics for step >= 1, as the reference: negative start/end count from the
// end, then clamp to [0, n]; the result length is already in the node's type.
void lower_slice(E e, const Node& n, int id) {
  const TensorType& in = e.type(n.inputs[0]);
  int axis = normalize_axis("slice", attr_int(n.attrs, "axis"), in.rank());
  int64_t len = in.shape[axis];
  int64_t start = attr_int(n.attrs, "start"), step = attr_int(n.attrs, "step");
  start = std::clamp<int64_t>(start < 0 ? start + len : start, 0, len);
  if (n.type.shape == in.shape) return e.bind(id, e.val(n.inputs[0]));  // the whole axis
  if (bind_if_empty(e, n, id)) return;
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
  e.bind(id, copy_through_map(e, e.val(n.inputs[0]), in, n.type, map_of(n.type.rank(), exprs)));
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
  std::vector<std::string> iters(size_t(r + 1), "parallel");
  e.bind(id, e.generic({{e.val(n.inputs[0]), in, map_of(r + 1, exprs)}}, e.empty(n.type), n.type,
                       MlirEmitter::identity_map(r + 1), iters, [&](E e, Args a) {
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

// ---- scan ----

TensorType stacked(TensorType t, int axis, Dim len) {
  t.shape.insert(t.shape.begin() + std::min(axis, t.rank()), len);
  return t;
}

// The carry (body input index < k) that body value `id` may share a buffer with, through
// ops whose lowering can be a view or the input itself; -1 if none.
int aliased_carry(const Graph& body, int id, int k) {
  static const std::set<std::string> views = {"reshape", "slice", "transpose", "broadcast_to", "concat",
                                              "pad",     "flip",  "rot90",     "upsample"};
  for (;;) {
    for (int j = 0; j < k; ++j)
      if (body.inputs[size_t(j)] == id) return j;
    const Node& n = body.nodes[size_t(id)];
    if (!n.op || !views.count(n.op->name) || n.inputs.size() != 1) return -1;
    id = n.inputs[0];
  }
}

// scan inputs: xs..., carries..., captures...; body inputs: carries, x_t's, captures;
// body outputs: carries', y_t's. Results (the loop's iter_args, in this order): the
// stacked y_t's, the final carries, then (save_carries) the carries entering each step.
void lower_scan(E e, const Node& n, int id) {
  const Graph& body = attr_graph(n.attrs, "body");
  int n_xs = int(attr_int(n.attrs, "n_xs")), k = int(attr_int(n.attrs, "n_carry"));
  bool save = attr_bool(n.attrs, "save_carries"), reverse = attr_bool(n.attrs, "reverse");
  int n_caps = int(n.inputs.size()) - n_xs - k, n_ys = int(body.outputs.size()) - k;
  const TensorType& xs0 = e.type(n.inputs[0]);
  int axis = normalize_axis("scan", attr_int(n.attrs, "axis"), xs0.rank());
  int64_t T = xs0.shape[axis];

  // Loop-carried values: types, initial values.
  std::vector<TensorType> types;
  std::vector<std::string> inits;
  for (int j = 0; j < n_ys; ++j) {
    types.push_back(stacked(body.type(body.outputs[k + j]), axis, T));
    inits.push_back(e.empty(types.back()));
  }
  for (int i = 0; i < k; ++i) {
    types.push_back(e.type(n.inputs[n_xs + i]));
    inits.push_back(e.val(n.inputs[n_xs + i]));
  }
  if (save)
    for (int i = 0; i < k; ++i) {
      types.push_back(stacked(e.type(n.inputs[n_xs + i]), axis, T));
      inits.push_back(e.empty(types.back()));
    }
  std::vector<std::string> type_texts;
  for (auto& t : types) type_texts.push_back(MlirEmitter::tensor_type(t));

  std::string c0 = e.fresh("c"), c1 = e.fresh("c"), cT = e.fresh("c");
  e.line(fmt::format("{} = arith.constant 0 : index", c0));
  e.line(fmt::format("{} = arith.constant 1 : index", c1));
  e.line(fmt::format("{} = arith.constant {} : index", cT, T));
  std::string res = e.fresh("scan"), iv = e.fresh("iv");
  std::vector<std::string> iter, bindings;
  for (size_t q = 0; q < types.size(); ++q) {
    iter.push_back(e.fresh("it"));
    bindings.push_back(fmt::format("{} = {}", iter.back(), inits[q]));
  }
  e.line(fmt::format("{}{} = scf.for {} = {} to {} step {} iter_args({}) -> ({}) {{", res,
                     types.size() > 1 ? fmt::format(":{}", types.size()) : "", iv, c0, cT, c1, join_strs(bindings),
                     join_strs(type_texts)));
  e.indent(2);
  std::string t = iv;
  if (reverse) {
    std::string last = e.fresh("c");
    t = e.fresh("t");
    e.line(fmt::format("{} = arith.constant {} : index", last, T - 1));
    e.line(fmt::format("{} = arith.subi {}, {} : index", t, last, iv));
  }
  // Body arguments: carries, x_t's, captures.
  std::vector<std::string> args;
  for (int i = 0; i < k; ++i) args.push_back(iter[size_t(n_ys + i)]);
  for (int j = 0; j < n_xs; ++j) {
    const TensorType& xs = e.type(n.inputs[j]);
    TensorType xt = xs;
    xt.shape.erase(xt.shape.begin() + axis);
    auto offsets = zero_offsets(size_t(xs.rank()));
    offsets[axis] = t;
    std::vector<int64_t> sizes = xs.shape;
    sizes[axis] = 1;
    std::string x_t = e.fresh("xt");
    e.line(fmt::format("{} = tensor.extract_slice {}[{}] [{}] [{}] : {} to {} {}", x_t, e.val(n.inputs[j]),
                       join_strs(offsets), join_ints(sizes), join_ints(std::vector<int64_t>(sizes.size(), 1)),
                       MlirEmitter::tensor_type(xs), MlirEmitter::tensor_type(xt), e.loc()));
    args.push_back(x_t);
  }
  for (int i = 0; i < n_caps; ++i) args.push_back(e.val(n.inputs[n_xs + k + i]));

  // Stacks `v` (one step, type `step`) into `acc` at position t along min(axis, rank).
  auto stack_into = [&](const std::string& acc, const TensorType& acc_t, const std::string& v, const TensorType& step) {
    int a = std::min(axis, step.rank());
    auto offsets = zero_offsets(size_t(acc_t.rank()));
    offsets[a] = t;
    std::vector<int64_t> sizes = acc_t.shape;
    sizes[a] = 1;
    return insert_slice(e, v, MlirEmitter::tensor_type(step), acc, MlirEmitter::tensor_type(acc_t), offsets, sizes);
  };
  std::vector<std::string> yields(types.size());
  if (save)
    for (int i = 0; i < k; ++i) {
      size_t q = size_t(n_ys + k + i);
      yields[q] = stack_into(iter[q], types[q], iter[size_t(n_ys + i)], types[size_t(n_ys + i)]);
    }
  std::vector<std::string> outs = e.inline_graph(body, args);
  for (int j = 0; j < n_ys; ++j)
    yields[size_t(j)] =
        stack_into(iter[size_t(j)], types[size_t(j)], outs[size_t(k + j)], body.type(body.outputs[k + j]));
  // The new carries are copied into the carries' own buffers (after every read of the
  // old ones), so each yield is equivalent to its iter_arg and bufferization needs no
  // allocation that outlives a step (one-shot-bufferize rejects those by default). A new
  // carry that is another carry's old value (carries swapped) is first copied aside, so
  // no in-place copy overwrites a value another one still reads.
  auto copy = [&](const std::string& from, const std::string& to, const std::string& ty) {
    std::string r = e.fresh("v");
    e.line(fmt::format("{} = linalg.copy ins({} : {}) outs({} : {}) -> {} {}", r, from, ty, to, ty, ty, e.loc()));
    return r;
  };
  std::vector<std::string> new_carry(outs.begin(), outs.begin() + k);
  for (int i = 0; i < k; ++i) {
    size_t q = size_t(n_ys + i);
    int alias = aliased_carry(body, body.outputs[size_t(i)], k);
    bool other = alias >= 0 && alias != i;
    for (int j = 0; j < k; ++j) other = other || (j != i && new_carry[size_t(i)] == iter[size_t(n_ys + j)]);
    if (other) new_carry[size_t(i)] = copy(new_carry[size_t(i)], e.empty(types[q]), type_texts[q]);
  }
  for (int i = 0; i < k; ++i) {
    size_t q = size_t(n_ys + i);
    yields[q] = new_carry[size_t(i)] == iter[q] ? iter[q]  // passed through unchanged
                                                : copy(new_carry[size_t(i)], iter[q], type_texts[q]);
  }
  e.line(fmt::format("scf.yield {} : {}", join_strs(yields), join_strs(type_texts)));
  e.indent(-2);
  e.line(fmt::format("}} {}", e.loc()));

  std::vector<std::string> results;
  if (types.size() == 1)
    results.push_back(res);
  else
    for (size_t q = 0; q < types.size(); ++q) results.push_back(fmt::format("{}#{}", res, q));
  e.bind_results(id, results);
}

void lower_scan_result(E e, const Node& n, int id) {
  e.bind(id, e.result(n.inputs[0], int(attr_int(n.attrs, "index"))));
}

}  // namespace

void register_shape_scan_lowerings(LoweringTable& t) {
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
  t["scan"] = lower_scan;
  t["scan_result"] = lower_scan_result;
}

}  // namespace starc
