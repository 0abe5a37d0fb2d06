// Shape and data-movement ops: reshape, transpose, concat, slice, pad, rot90, flip,
// upsample, broadcast_to, full, one_hot. Most kernels are one strided copy.
#include <algorithm>
#include <set>

#include "compiler/ops/builder.h"
#include "compiler/ir/sym_dim.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using Span = std::span<const TensorType>;
using TSpan = std::span<const Tensor>;

// out[idx] = in[offset + sum_i idx[i] * strides[i]] over every multi-index of out_shape (any dtype).
Tensor strided_copy(const Tensor& in, const Shape& out_shape, int64_t offset, const std::vector<int64_t>& strides) {
  Tensor out(in.dtype(), out_shape);
  size_t es = dtype_size(in.dtype());
  auto* src = static_cast<const std::byte*>(in.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for_each_index(out_shape, [&](const std::vector<int64_t>& idx, int64_t lin) {
    std::memcpy(dst + lin * es, src + (offset + dot_index(idx, strides)) * es, es);
  });
  return out;
}

// Tensor filled with `value` (converted as `cast` converts a float: scalar_of).
Tensor filled(DType dt, const Shape& shape, double value) {
  Tensor t(dt, shape), v = scalar_of(dt, value);
  const size_t es = dtype_size(dt);
  auto* p = static_cast<std::byte*>(t.raw());
  if (value != 0)  // a new tensor is zeros
    for (int64_t i = 0, n = t.size(); i < n; ++i) std::memcpy(p + size_t(i) * es, v.raw(), es);
  return t;
}

// Normalised axes, each at most once.
std::vector<int> unique_axes(const std::string& op, const Ints& axes, const TensorType& x, const InferCtx& ctx) {
  std::vector<int> out;
  for (int64_t a : axes) {
    int k = normalize_axis(op, a, x.rank());
    if (std::find(out.begin(), out.end(), k) != out.end())
      throw OpError(fmt::format("{}: axis {} appears twice in axes {} for {}", op, k, ctx.s(axes), ctx.t(x)));
    out.push_back(k);
  }
  return out;
}

// ---- reshape ----

// Resolves a reshape target against the input shape: element counts must agree,
// symbolic dims included (B*T elements can become [B, T] or [-1] = B*T); a -1 takes the
// remainder.
Shape reshape_target(const TensorType& x, const Ints& target, const InferCtx& ctx) {
  auto fail = [&](const std::string& why) {
    return OpError(fmt::format("reshape: cannot reshape {} to {}: {}", ctx.t(x), ctx.s(target), why));
  };
  int infer_at = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    Dim d = target[i];
    if (d == -1) {
      if (infer_at >= 0) throw fail("at most one dim may be -1");
      infer_at = int(i);
    } else if (!is_sym(d) && d < 0) {
      throw fail(fmt::format("dim {} is negative", d));
    }
  }
  if (infer_at >= 0 && std::count(target.begin(), target.end(), 0))
    throw fail("cannot infer -1 when another target dim is 0");
  std::optional<Dim> fill;
  try {
    fill = reshape_fill({ctx.syms, ctx.grow}, x.shape, Shape(target.begin(), target.end()));
  } catch (const std::exception& e) {
    throw fail(e.what());
  }
  Shape out(target.begin(), target.end());
  bool symbolic = !shape_is_static(x.shape) || !shape_is_static(out);
  if (!fill) {
    if (infer_at >= 0)
      throw fail(symbolic ? "-1 cannot be inferred: the other dims do not divide the element count exactly"
                          : fmt::format("-1 cannot be inferred: {} elements are not divisible by {}",
                                        num_elements(x.shape), -num_elements(out)));
    throw fail(symbolic ? "element counts differ"
                        : fmt::format("element counts differ ({} vs {})", num_elements(x.shape), num_elements(out)));
  }
  if (infer_at >= 0) out[infer_at] = *fill;
  return out;
}

OpDef reshape() {
  OpDef d;
  d.name = "reshape";
  d.inputs = {"x"};
  d.attrs = {{"shape", AttrKind::Ints, std::nullopt}};
  d.doc =
      "same elements in a new shape; one dim may be -1 (inferred); symbolic dims may merge or split ([B, T, F] to [-1, "
      "F])";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    return TensorType{in[0].dtype, reshape_target(in[0], attr_ints(a, "shape"), ctx)};
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    return in[0].clone().reshaped(reshape_target(in[0].type(), attr_ints(a, "shape"), InferCtx{}));
  };
  return d;
}

// ---- transpose / flip ----

std::vector<int> permutation(const Ints& perm, const TensorType& x, const InferCtx& ctx) {
  std::vector<int> p;
  if (perm.empty()) {
    for (int i = x.rank() - 1; i >= 0; --i) p.push_back(i);
    return p;
  }
  if (int(perm.size()) != x.rank())
    throw OpError(fmt::format("transpose: perm {} has {} entries but {} has rank {}", ctx.s(perm), perm.size(),
                              ctx.t(x), x.rank()));
  try {
    p = unique_axes("transpose", perm, x, ctx);
  } catch (const OpError&) {
    throw OpError(
        fmt::format("transpose: perm {} is not a permutation of the {} axes of {}", ctx.s(perm), x.rank(), ctx.t(x)));
  }
  return p;
}

Tensor transpose_ref(const Tensor& x, const std::vector<int>& p) {
  auto st = x.strides();
  Shape shape;
  std::vector<int64_t> strides;
  for (int i : p) {
    shape.push_back(x.dim(i));
    strides.push_back(st[i]);
  }
  return strided_copy(x, shape, 0, strides);
}

Tensor flip_ref(const Tensor& x, const std::vector<int>& axes) {
  auto st = x.strides();
  int64_t offset = 0;
  for (int a : axes) {
    if (x.dim(a) == 0) continue;
    offset += (x.dim(a) - 1) * st[a];
    st[a] = -st[a];
  }
  return strided_copy(x, x.shape(), offset, st);
}

OpDef transpose() {
  OpDef d;
  d.name = "transpose";
  d.inputs = {"x"};
  d.attrs = {{"perm", AttrKind::Ints, Ints{}}};
  d.doc = "permute dims: out.shape[i] = x.shape[perm[i]] (empty perm = reverse all dims)";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    TensorType out{in[0].dtype, {}};
    for (int i : permutation(attr_ints(a, "perm"), in[0], ctx)) out.shape.push_back(in[0].shape[i]);
    return out;
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    return transpose_ref(in[0], permutation(attr_ints(a, "perm"), in[0].type(), InferCtx{}));
  };
  return d;
}

OpDef flip() {
  OpDef d;
  d.name = "flip";
  d.inputs = {"x"};
  d.attrs = {{"axes", AttrKind::Ints, std::nullopt}};
  d.doc = "reverse the order of elements along the given axes (numpy.flip; empty axes = no-op)";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    unique_axes("flip", attr_ints(a, "axes"), in[0], ctx);
    return in[0];
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    return flip_ref(in[0], unique_axes("flip", attr_ints(a, "axes"), in[0].type(), InferCtx{}));
  };
  return d;
}

// ---- rot90 ----

struct Rot90 {
  int k, a0, a1;  // k in [0, 4)
};

Rot90 rot90_params(const Attrs& a, const TensorType& x, const InferCtx& ctx) {
  const Ints& axes = attr_ints(a, "axes");
  if (axes.size() != 2) throw OpError(fmt::format("rot90: axes must have 2 entries, got {}", ctx.s(axes)));
  if (x.rank() < 2) throw OpError(fmt::format("rot90: input must have rank >= 2, got {}", ctx.t(x)));
  int a0 = normalize_axis("rot90", axes[0], x.rank()), a1 = normalize_axis("rot90", axes[1], x.rank());
  if (a0 == a1) throw OpError(fmt::format("rot90: axes must be different, got {} for {}", ctx.s(axes), ctx.t(x)));
  int k = int(((attr_int(a, "k") % 4) + 4) % 4);
  return {k, a0, a1};
}

OpDef rot90() {
  OpDef d;
  d.name = "rot90";
  d.inputs = {"x"};
  d.attrs = {{"k", AttrKind::Int, int64_t(1)}, {"axes", AttrKind::Ints, Ints{-2, -1}}};
  d.doc = "rotate by 90 degrees k times in the plane of two axes, from the first towards the second (numpy.rot90)";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    Rot90 r = rot90_params(a, in[0], ctx);
    TensorType out = in[0];
    if (r.k % 2) std::swap(out.shape[r.a0], out.shape[r.a1]);
    return out;
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    // Exactly numpy.rot90's construction from flip and transpose.
    Rot90 r = rot90_params(a, in[0].type(), InferCtx{});
    const Tensor& x = in[0];
    if (r.k == 0) return x.clone();
    if (r.k == 2) return flip_ref(x, {r.a0, r.a1});
    std::vector<int> perm(x.rank());
    for (int i = 0; i < x.rank(); ++i) perm[i] = i;
    std::swap(perm[r.a0], perm[r.a1]);
    if (r.k == 1) return transpose_ref(flip_ref(x, {r.a1}), perm);
    return flip_ref(transpose_ref(x, perm), {r.a1});
  };
  return d;
}

// ---- concat ----

OpDef concat() {
  OpDef d;
  d.name = "concat";
  d.inputs = {"xs"};
  d.variadic = true;
  d.attrs = {{"axis", AttrKind::Int, int64_t(0)}};
  d.doc = "join tensors along an existing (static) axis; all other dims must match";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    require_same_dtype("concat", in, ctx);
    const TensorType& t0 = in[0];
    if (t0.rank() == 0) throw OpError(fmt::format("concat: cannot concatenate rank-0 tensors ({})", ctx.t(t0)));
    int axis = normalize_axis("concat", attr_int(a, "axis"), t0.rank());
    TensorType out = t0;
    out.shape[axis] = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const TensorType& t = in[i];
      if (t.rank() != t0.rank())
        throw OpError(fmt::format("concat: ranks differ: input 0 is {} but input {} is {}", ctx.t(t0), i, ctx.t(t)));
      for (int k = 0; k < t.rank(); ++k)
        if (k != axis && t.shape[k] != t0.shape[k])
          throw OpError(
              fmt::format("concat: input 0 is {} but input {} is {}: dim {} differs (only the concat axis {} "
                          "may differ)",
                          ctx.t(t0), i, ctx.t(t), k, axis));
      if (is_sym(t.shape[axis]))
        throw OpError(fmt::format("concat: the concat axis {} must be static, but input {} is {}", axis, i, ctx.t(t)));
      out.shape[axis] += t.shape[axis];
    }
    return out;
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    int axis = normalize_axis("concat", attr_int(a, "axis"), in[0].rank());
    Shape shape = in[0].shape();
    shape[axis] = 0;
    for (auto& t : in) shape[axis] += t.dim(axis);
    Tensor out(in[0].dtype(), shape);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; ++i) outer *= shape[i];
    for (int i = axis + 1; i < int(shape.size()); ++i) inner *= shape[i];
    size_t es = dtype_size(out.dtype());
    auto* dst = static_cast<std::byte*>(out.raw());
    for (int64_t o = 0; o < outer; ++o)
      for (auto& t : in) {
        size_t chunk = size_t(t.dim(axis) * inner) * es;
        if (chunk) std::memcpy(dst, static_cast<const std::byte*>(t.raw()) + o * chunk, chunk);
        dst += chunk;
      }
    return out;
  };
  return d;
}

// ---- slice ----

struct SliceRange {
  int axis;
  Dim start, len, step;
};

// A symbolic axis or bound: bounds are absolute (a symbolic bound such as L-1, or a static one,
// negative ones counting from the end) and the step positive; the length is a derived
// dim, checked when the axis is bound (check_bound_shapes).
SliceRange symbolic_slice_range(int axis, Dim n, Dim start, Dim end, int64_t step, const TensorType& x,
                                const InferCtx& ctx) {
  if (step < 0)
    throw OpError(
        fmt::format("slice: axis {} of {} is symbolic; it can be sliced with a positive step only", axis, ctx.t(x)));
  auto from_end = [&](Dim v) { return !is_sym(v) && v < 0 ? ctx.add(n, v) : v; };
  Dim s = from_end(start), e = from_end(end);
  return {axis, s, ctx.add(ctx.floordiv(ctx.sub(ctx.sub(e, s), 1), step), 1), step};
}

// Python semantics (slice.indices): negative start/end count from the end, then clamp to
// [0, n] for a positive step and to [-1, n - 1] for a negative one (so end -n-1 or below
// reaches past the first element, as x[::-1] does).
SliceRange slice_range(const Attrs& a, const TensorType& x, const InferCtx& ctx) {
  int axis = normalize_axis("slice", attr_int(a, "axis"), x.rank());
  int64_t start = attr_int(a, "start"), end = attr_int(a, "end"), step = attr_int(a, "step");
  if (step == 0) throw OpError("slice: step must not be 0");
  Dim n = x.shape[axis];
  // A symbolic axis or bound (weight[0:T] of a static table) gives a derived length.
  if (is_sym(n) || is_sym(start) || is_sym(end)) return symbolic_slice_range(axis, n, start, end, step, x, ctx);
  int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
  auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + n : v, lo, hi); };
  int64_t s = clamp(start), e = clamp(end);
  if (step < 0) return {axis, s, s > e ? (s - e - 1) / -step + 1 : 0, step};
  return {axis, s, e > s ? (e - s - 1) / step + 1 : 0, step};
}

OpDef slice() {
  OpDef d;
  d.name = "slice";
  d.inputs = {"x"};
  d.attrs = {{"axis", AttrKind::Int, std::nullopt},
             {"start", AttrKind::Int, std::nullopt},
             {"end", AttrKind::Int, std::nullopt},
             {"step", AttrKind::Int, int64_t(1)}};
  d.doc =
      "x[start:end:step] along one axis (Python semantics; a negative step walks backwards; a symbolic axis or bound "
      "takes a positive step)";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    SliceRange r = slice_range(a, in[0], ctx);
    TensorType out = in[0];
    out.shape[r.axis] = r.len;
    return out;
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    SliceRange r = slice_range(a, in[0].type(), InferCtx{});
    auto st = in[0].strides();
    Shape shape = in[0].shape();
    shape[r.axis] = r.len;
    int64_t offset = r.start * st[r.axis];
    st[r.axis] *= r.step;
    return strided_copy(in[0], shape, offset, st);
  };
  return d;
}

// ---- pad ----

OpDef pad() {
  OpDef d;
  d.name = "pad";
  d.inputs = {"x"};
  d.attrs = {{"pads", AttrKind::Ints, std::nullopt}, {"value", AttrKind::Float, 0.0}};
  d.doc = "constant padding; pads = lo0,hi0,lo1,hi1,... (one pair per dim, non-negative)";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    const TensorType& x = in[0];
    const Ints& pads = attr_ints(a, "pads");
    if (int(pads.size()) != 2 * x.rank())
      throw OpError(fmt::format("pad: pads {} has {} entries, expected 2 * rank = {} for {} (lo0,hi0,lo1,hi1,...)",
                                ctx.s(pads), pads.size(), 2 * x.rank(), ctx.t(x)));
    TensorType out = x;
    for (int i = 0; i < x.rank(); ++i) {
      Dim lo = pads[2 * i], hi = pads[2 * i + 1];  // symbolic in gradients of slices of symbolic axes
      if ((!is_sym(lo) && lo < 0) || (!is_sym(hi) && hi < 0))
        throw OpError(fmt::format("pad: padding must be non-negative, got pads {} (use slice to crop)", ctx.s(pads)));
      if (lo == 0 && hi == 0) continue;
      out.shape[i] = ctx.add(ctx.add(x.shape[i], lo), hi);
    }
    return out;
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    const Tensor& x = in[0];
    const Ints& pads = attr_ints(a, "pads");
    Shape shape = x.shape();
    for (int i = 0; i < x.rank(); ++i) shape[i] += pads[2 * i] + pads[2 * i + 1];
    Tensor out = filled(x.dtype(), shape, attr_float(a, "value"));
    auto ost = out.strides();
    int64_t base = 0;
    for (int i = 0; i < x.rank(); ++i) base += pads[2 * i] * ost[i];
    size_t es = dtype_size(x.dtype());
    auto* src = static_cast<const std::byte*>(x.raw());
    auto* dst = static_cast<std::byte*>(out.raw());
    for_each_index(x.shape(), [&](const std::vector<int64_t>& idx, int64_t lin) {
      std::memcpy(dst + (base + dot_index(idx, ost)) * es, src + lin * es, es);
    });
    return out;
  };
  return d;
}

// ---- upsample ----

// Per-dim integer scale factors (1 on N and C).
std::vector<int64_t> upsample_scales(const Attrs& a, const TensorType& x, const InferCtx& ctx) {
  const Ints& scale = attr_ints(a, "scale");
  if (x.rank() != 3 && x.rank() != 4)
    throw OpError(fmt::format("upsample: input must be [N,C,L] or [N,C,H,W], got {}", ctx.t(x)));
  size_t spatial = size_t(x.rank() - 2);
  if (!(scale.size() == 1 || scale.size() == spatial))
    throw OpError(fmt::format("upsample: scale {} must have 1{} entr{} for {}", ctx.s(scale),
                              spatial == 2 ? " or 2" : "", spatial == 2 ? "ies" : "y", ctx.t(x)));
  std::vector<int64_t> s(x.rank(), 1);
  for (size_t i = 0; i < spatial; ++i) {
    s[2 + i] = scale.size() == 1 ? scale[0] : scale[i];
    if (s[2 + i] < 1) throw OpError(fmt::format("upsample: scale factors must be >= 1, got {}", ctx.s(scale)));
  }
  return s;
}

OpDef upsample() {
  OpDef d;
  d.name = "upsample";
  d.inputs = {"x"};
  d.attrs = {{"scale", AttrKind::Ints, std::nullopt}};
  d.doc = "nearest-neighbour upsampling of [N,C,L] or [N,C,H,W] by integer factors (out[i] = x[i / scale])";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    auto s = upsample_scales(a, in[0], ctx);
    TensorType out = in[0];
    for (int i = 2; i < out.rank(); ++i) {
      if (s[i] == 1) continue;
      out.shape[i] = ctx.mul(out.shape[i], s[i]);
    }
    return out;
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    const Tensor& x = in[0];
    auto s = upsample_scales(a, x.type(), InferCtx{});
    Shape shape = x.shape();
    for (int i = 0; i < x.rank(); ++i) shape[i] *= s[i];
    Tensor out(x.dtype(), shape);
    auto st = x.strides();
    size_t es = dtype_size(x.dtype());
    auto* src = static_cast<const std::byte*>(x.raw());
    auto* dst = static_cast<std::byte*>(out.raw());
    for_each_index(shape, [&](const std::vector<int64_t>& idx, int64_t lin) {
      int64_t off = 0;
      for (int i = 0; i < x.rank(); ++i) off += idx[i] / s[i] * st[i];
      std::memcpy(dst + lin * es, src + off * es, es);
    });
    return out;
  };
  return d;
}

// ---- broadcast_to / full / one_hot ----

void check_target_dims(const std::string& op, const Ints& shape, const InferCtx& ctx) {
  for (Dim d : shape)
    if (!is_sym(d) && d < 0) throw OpError(fmt::format("{}: shape {} has a negative dim", op, ctx.s(shape)));
}

OpDef broadcast_to() {
  OpDef d;
  d.name = "broadcast_to";
  d.inputs = {"x"};
  d.attrs = {{"shape", AttrKind::Ints, std::nullopt}};
  d.doc = "repeat x to a larger shape (numpy.broadcast_to: align right; each input dim equals the target or is 1)";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    const TensorType& x = in[0];
    const Ints& target = attr_ints(a, "shape");
    check_target_dims("broadcast_to", target, ctx);
    if (target.size() < x.shape.size())
      throw OpError(
          fmt::format("broadcast_to: cannot broadcast {} to {}: the target has fewer dims", ctx.t(x), ctx.s(target)));
    for (size_t k = 0; k < x.shape.size(); ++k) {
      Dim xd = x.shape[x.shape.size() - 1 - k], td = target[target.size() - 1 - k];
      if (xd != td && xd != 1)
        throw OpError(
            fmt::format("broadcast_to: cannot broadcast {} to {}: dim {} vs {} (input dims must equal the "
                        "target dim or be 1)",
                        ctx.t(x), ctx.s(target), dim_str(xd, ctx.syms), dim_str(td, ctx.syms)));
    }
    return TensorType{x.dtype, Shape(target.begin(), target.end())};
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    Shape target(attr_ints(a, "shape").begin(), attr_ints(a, "shape").end());
    return strided_copy(in[0], target, 0, broadcast_strides(in[0].shape(), target));
  };
  return d;
}

OpDef full() {
  OpDef d;
  d.name = "full";
  d.attrs = {
      {"shape", AttrKind::Ints, std::nullopt}, {"value", AttrKind::Float, 0.0}, {"dtype", AttrKind::DType, DType::F32}};
  d.doc = "a tensor of the given shape (symbolic dims allowed) and dtype filled with value";
  d.infer = [](Span, const Attrs& a, const InferCtx& ctx) {
    const Ints& shape = attr_ints(a, "shape");
    check_target_dims("full", shape, ctx);
    return TensorType{attr_dtype(a, "dtype"), Shape(shape.begin(), shape.end())};
  };
  d.ref = [](TSpan, const Attrs& a, RefCtx&) {
    const Ints& shape = attr_ints(a, "shape");
    return filled(attr_dtype(a, "dtype"), Shape(shape.begin(), shape.end()), attr_float(a, "value"));
  };
  return d;
}

OpDef one_hot() {
  OpDef d;
  d.name = "one_hot";
  d.inputs = {"x"};
  d.attrs = {{"depth", AttrKind::Int, std::nullopt}, {"dtype", AttrKind::DType, DType::F32}};
  d.doc = "i64 labels -> x.shape + [depth] with 1 at the label; a label outside [0, depth) gives an all-zero row";
  d.infer = [](Span in, const Attrs& a, const InferCtx& ctx) {
    if (in[0].dtype != DType::I64) throw OpError(fmt::format("one_hot: labels must be i64, got {}", ctx.t(in[0])));
    int64_t depth = attr_int(a, "depth");
    if (depth < 1 || is_sym(depth))
      throw OpError(fmt::format("one_hot: depth must be a static size >= 1, got {}", dim_str(depth, ctx.syms)));
    TensorType out{attr_dtype(a, "dtype"), in[0].shape};
    out.shape.push_back(depth);
    return out;
  };
  d.ref = [](TSpan in, const Attrs& a, RefCtx&) {
    int64_t depth = attr_int(a, "depth");
    Shape shape = in[0].shape();
    shape.push_back(depth);
    Tensor out(attr_dtype(a, "dtype"), shape);
    const int64_t* lab = in[0].data<int64_t>();
    for (int64_t i = 0, n = in[0].size(); i < n; ++i)
      if (lab[i] >= 0 && lab[i] < depth) out.set(i * depth + lab[i], 1.0);
    return out;
  };
  return d;
}

// ---- gradient rules ----
// Each returns one gradient per input. Sliced/padded/concatenated axes are static (the
// shape rules require it); other dims, symbolic ones included, carry over unchanged.

int slice_axis(GraphBuilder& b, int x, int axis, int64_t start, int64_t end, int64_t step = 1) {
  return b.op("slice", {x}, {{"axis", int64_t(axis)}, {"start", start}, {"end", end}, {"step", step}});
}

int pad_axis(GraphBuilder& b, int x, int axis, int64_t lo, int64_t hi) {
  if (lo == 0 && hi == 0) return x;
  Ints pads(2 * size_t(b.rank(x)), 0);
  pads[2 * axis] = lo;
  pads[2 * axis + 1] = hi;
  return b.op("pad", {x}, {{"pads", pads}});
}

GradFn reshape_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    return {b.reshape(dy, b.shape(n.inputs[0]))};
  };
}

// dx = transpose(dy, inverse(perm)).
GradFn transpose_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    std::vector<int> p = permutation(attr_ints(n.attrs, "perm"), b.type(n.inputs[0]), InferCtx{});
    Ints inv(p.size());
    for (size_t i = 0; i < p.size(); ++i) inv[size_t(p[i])] = int64_t(i);
    return {b.transpose(dy, inv)};
  };
}

// Each input gets its own piece of dy along the concat axis.
GradFn concat_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    int axis = normalize_axis("concat", attr_int(n.attrs, "axis"), b.rank(dy));
    std::vector<int> out;
    int64_t off = 0;
    for (int in : n.inputs) {
      int64_t len = b.shape(in)[size_t(axis)];
      out.push_back(slice_axis(b, dy, axis, off, off + len));
      off += len;
    }
    return out;
  };
}

// dx is dy scattered to positions start + j * step along the axis, zeros elsewhere:
// interleave step - 1 zeros after each element (reshape to [.., len, 1, ..], pad to
// [.., len, step, ..], merge), trim the trailing zeros past the end, then pad to n.
// A negative step selects the same elements as the forward slice from the last of them,
// in reverse order: dy is flipped first.
int slice_scatter(GraphBuilder& b, int x, SliceRange r, int dy) {
  Dim nx = b.shape(x)[size_t(r.axis)];
  if (is_sym(nx) || is_sym(r.start) || is_sym(r.len)) {  // symbolic_slice_range: a positive step
    if (r.step != 1)
      throw OpError(
          fmt::format("slice: the gradient of a slice with step {} of a symbolic axis is not supported", r.step));
    return pad_axis(b, dy, r.axis, r.start, b.dims().sub(b.dims().sub(nx, r.start), r.len));
  }
  if (r.len == 0) return b.zeros_like(x);
  int g = dy;
  if (r.step < 0) {
    if (r.len > 1) g = b.op("flip", {g}, {{"axes", Ints{r.axis}}});
    r.start += (r.len - 1) * r.step;
    r.step = -r.step;
  }
  int64_t covered = r.len;  // length along the axis of g, starting at `start`
  if (r.step > 1 && r.len > 1) {
    Shape s = b.shape(dy), split = s;
    split.insert(split.begin() + r.axis + 1, 1);
    g = pad_axis(b, b.reshape(g, split), r.axis + 1, 0, r.step - 1);
    s[size_t(r.axis)] = r.len * r.step;
    g = b.reshape(g, s);
    covered = std::min(r.len * r.step, nx - r.start);
    if (covered < r.len * r.step) g = slice_axis(b, g, r.axis, 0, covered);
  }
  return pad_axis(b, g, r.axis, r.start, nx - r.start - covered);
}

GradFn slice_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    return {slice_scatter(b, n.inputs[0], slice_range(n.attrs, b.type(n.inputs[0]), b.dims()), dy)};
  };
}

// dx = dy with the padding cut off again.
GradFn pad_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    Shape xs = b.shape(n.inputs[0]);
    const Ints& pads = attr_ints(n.attrs, "pads");
    int g = dy;
    for (int i = 0; i < int(xs.size()); ++i)
      if (pads[2 * i] != 0 || pads[2 * i + 1] != 0)
        g = slice_axis(b, g, i, pads[2 * i], b.dims().add(pads[2 * i], xs[size_t(i)]));
    return {g};
  };
}

// Rotations are orthogonal: dx = rot90(dy, -k) in the same plane.
GradFn rot90_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    return {b.op("rot90", {dy}, {{"k", -attr_int(n.attrs, "k")}, {"axes", n.attrs.at("axes")}})};
  };
}

// flip is its own inverse: dx = flip(dy).
GradFn flip_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    return {b.op("flip", {dy}, {{"axes", n.attrs.at("axes")}})};
  };
}

// out[i] = x[i / s] per spatial dim, so dx[j] = sum of dy over the s x s block of j:
// reshape each upsampled dim H*s to [H, s] and sum the s dims.
GradFn upsample_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    int x = n.inputs[0];
    Shape xs = b.shape(x);
    auto s = upsample_scales(n.attrs, b.type(x), InferCtx{});
    Shape split;
    Ints sum_axes;
    for (size_t i = 0; i < xs.size(); ++i) {
      split.push_back(xs[i]);
      if (s[i] > 1) {
        sum_axes.push_back(int64_t(split.size()));
        split.push_back(s[i]);
      }
    }
    if (sum_axes.empty()) return {dy};
    return {b.sum(b.reshape(dy, split), sum_axes, false)};
  };
}

OpDef with_grad(OpDef d, GradFn g) {
  d.grad = std::move(g);
  return d;
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add(with_grad(reshape(), reshape_grad()));
  r.add(with_grad(transpose(), transpose_grad()));
  r.add(with_grad(concat(), concat_grad()));
  r.add(with_grad(slice(), slice_grad()));
  r.add(with_grad(pad(), pad_grad()));
  r.add(with_grad(rot90(), rot90_grad()));
  r.add(with_grad(flip(), flip_grad()));
  r.add(with_grad(upsample(), upsample_grad()));
  OpDef bcast = broadcast_to();
  bcast.grad = [](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    return {b.sum_to(dy, b.shape(n.inputs[0]))};
  };
  r.add(std::move(bcast));
  r.add(full());
  r.add(one_hot());
}

}  // namespace starc
