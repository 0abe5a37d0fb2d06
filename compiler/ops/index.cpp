// Index ops with i64 indices (compiler/ops/index.h): gather (numpy.take along an axis;
// torch.index_select for a 1-D index, torch.nn.functional.embedding for a table),
// take_along_axis (torch.gather), their adjoints index_add (torch.index_add) and
// scatter_add (torch.scatter_add), and check_index. Each op's kernel views its tensors
// as [outer, n, inner] around the indexed axis.
#include "compiler/ops/index.h"

#include "compiler/ops/builder.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using Span = std::span<const TensorType>;
using TSpan = std::span<const Tensor>;

// The multi-index of linear position `lin` in `shape`, as "[i, j]".
std::string position(const Shape& shape, int64_t lin) {
  std::vector<int64_t> idx(shape.size());
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    idx[size_t(d)] = shape[size_t(d)] ? lin % shape[size_t(d)] : 0;
    lin = shape[size_t(d)] ? lin / shape[size_t(d)] : 0;
  }
  return fmt::format("[{}]", fmt::join(idx, ", "));
}

// idx[lin] if it lies in [0, n); else the reference kernels' error.
int64_t checked_index(const std::string& op, const Tensor& idx, int64_t lin, int64_t n) {
  int64_t v = idx.data<int64_t>()[lin];
  if (v < 0 || v >= n)
    throw OpError(
        fmt::format("{}: index {} at position {} of idx is outside [0, {}) (negative indices are refused, "
                    "as by PyTorch)",
                    op, v, position(idx.shape(), lin), n));
  return v;
}

void require_index(const std::string& op, const TensorType& idx, const InferCtx& ctx) {
  if (idx.dtype != DType::I64) throw OpError(fmt::format("{}: idx must be i64, got {}", op, ctx.t(idx)));
}

// gather's result shape: x.shape[:axis] + idx.shape + x.shape[axis+1:].
Shape gather_shape(const Shape& x, const Shape& idx, int a) {
  Shape out(x.begin(), x.begin() + a);
  out.insert(out.end(), idx.begin(), idx.end());
  out.insert(out.end(), x.begin() + a + 1, x.end());
  return out;
}

TensorType gather_infer(Span in, const Attrs& attrs, const InferCtx& ctx) {
  const TensorType &x = in[0], &idx = in[1];
  require_index("gather", idx, ctx);
  if (x.rank() == 0) throw OpError(fmt::format("gather: x must have rank >= 1, got {}", ctx.t(x)));
  int a = normalize_axis("gather", attr_int(attrs, "axis"), x.rank());
  return TensorType{x.dtype, gather_shape(x.shape, idx.shape, a)};
}

// out[o, i, s] = x[o, idx[i], s] (any dtype: a byte copy).
Tensor gather_ref(TSpan in, const Attrs& attrs, RefCtx&) {
  const Tensor &x = in[0], &idx = in[1];
  int a = normalize_axis("gather", attr_int(attrs, "axis"), x.rank());
  Around g = around(x.shape(), a);
  int64_t k = idx.size();
  Tensor out(x.dtype(), gather_shape(x.shape(), idx.shape(), a));
  size_t es = dtype_size(x.dtype()), row = size_t(g.inner) * es;
  auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t i = 0; i < k; ++i) {
    int64_t j = checked_index("gather", idx, i, g.n);
    for (int64_t o = 0; o < g.outer; ++o)
      std::memcpy(dst + size_t(o * k + i) * row, src + size_t(o * g.n + j) * row, row);
  }
  return out;
}

// take_along_axis and scatter_add: idx has x's rank and x's dims except along the axis.
void require_along(const std::string& op, const TensorType& x, const TensorType& idx, int a, const InferCtx& ctx,
                   const char* idx_name = "idx") {
  if (idx.rank() != x.rank())
    throw OpError(fmt::format("{}: {} must have the rank of x: {} vs {}", op, idx_name, ctx.t(idx), ctx.t(x)));
  for (int d = 0; d < x.rank(); ++d)
    if (d != a && idx.shape[size_t(d)] != x.shape[size_t(d)])
      throw OpError(fmt::format("{}: {} {} and x {} differ in dim {} (only axis {} may differ)", op, idx_name,
                                ctx.t(idx), ctx.t(x), d, a));
}

TensorType take_along_infer(Span in, const Attrs& attrs, const InferCtx& ctx) {
  const TensorType &x = in[0], &idx = in[1];
  require_index("take_along_axis", idx, ctx);
  if (x.rank() == 0) throw OpError(fmt::format("take_along_axis: x must have rank >= 1, got {}", ctx.t(x)));
  int a = normalize_axis("take_along_axis", attr_int(attrs, "axis"), x.rank());
  require_along("take_along_axis", x, idx, a, ctx);
  return TensorType{x.dtype, idx.shape};
}

// out[o, i, s] = x[o, idx[o, i, s], s].
Tensor take_along_ref(TSpan in, const Attrs& attrs, RefCtx&) {
  const Tensor &x = in[0], &idx = in[1];
  int a = normalize_axis("take_along_axis", attr_int(attrs, "axis"), x.rank());
  Around g = around(x.shape(), a), gi = around(idx.shape(), a);
  Tensor out(x.dtype(), idx.shape());
  size_t es = dtype_size(x.dtype());
  auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t lin = 0; lin < idx.size(); ++lin) {
    int64_t o = lin / (gi.n * gi.inner), s = lin % gi.inner;
    int64_t j = checked_index("take_along_axis", idx, lin, g.n);
    std::memcpy(dst + size_t(lin) * es, src + size_t((o * g.n + j) * g.inner + s) * es, es);
  }
  return out;
}

// index_add(x, idx, src): src has gather's result shape for (x, idx).
TensorType index_add_infer(Span in, const Attrs& attrs, const InferCtx& ctx) {
  const TensorType &x = in[0], &idx = in[1], &src = in[2];
  require_index("index_add", idx, ctx);
  require_float("index_add", x, ctx);
  if (x.rank() == 0) throw OpError(fmt::format("index_add: x must have rank >= 1, got {}", ctx.t(x)));
  int a = normalize_axis("index_add", attr_int(attrs, "axis"), x.rank());
  TensorType want{x.dtype, gather_shape(x.shape, idx.shape, a)};
  if (src.dtype != x.dtype || src.shape != want.shape)
    throw OpError(
        fmt::format("index_add: src must be {} (x.shape[:axis] + idx.shape + x.shape[axis+1:]) for x {} "
                    "and idx {}, got {}",
                    ctx.t(want), ctx.t(x), ctx.t(idx), ctx.t(src)));
  return x;
}

// out = x; out[o, idx[i], s] += src[o, i, s], in increasing i (the compiled reduction's order).
Tensor index_add_ref(TSpan in, const Attrs& attrs, RefCtx&) {
  const Tensor &x = in[0], &idx = in[1], &src = in[2];
  int a = normalize_axis("index_add", attr_int(attrs, "axis"), x.rank());
  Around g = around(x.shape(), a);
  int64_t k = idx.size();
  Tensor out = x.clone();
  dispatch_float(x.dtype(), [&]<class T>() {
    T* o_ = out.data<T>();
    const T* s_ = src.data<T>();
    for (int64_t i = 0; i < k; ++i) {
      int64_t j = checked_index("index_add", idx, i, g.n);
      for (int64_t o = 0; o < g.outer; ++o)
        for (int64_t s = 0; s < g.inner; ++s) o_[(o * g.n + j) * g.inner + s] += s_[(o * k + i) * g.inner + s];
    }
  });
  return out;
}

// scatter_add(x, idx, src): idx and src have one shape, x's except along the axis.
TensorType scatter_add_infer(Span in, const Attrs& attrs, const InferCtx& ctx) {
  const TensorType &x = in[0], &idx = in[1], &src = in[2];
  require_index("scatter_add", idx, ctx);
  require_float("scatter_add", x, ctx);
  if (x.rank() == 0) throw OpError(fmt::format("scatter_add: x must have rank >= 1, got {}", ctx.t(x)));
  int a = normalize_axis("scatter_add", attr_int(attrs, "axis"), x.rank());
  if (src.dtype != x.dtype || src.shape != idx.shape)
    throw OpError(fmt::format("scatter_add: src must have x's dtype and idx's shape: x {}, idx {}, src {}", ctx.t(x),
                              ctx.t(idx), ctx.t(src)));
  require_along("scatter_add", x, idx, a, ctx);
  return x;
}

// out = x; out[o, idx[o, i, s], s] += src[o, i, s], in increasing i.
Tensor scatter_add_ref(TSpan in, const Attrs& attrs, RefCtx&) {
  const Tensor &x = in[0], &idx = in[1], &src = in[2];
  int a = normalize_axis("scatter_add", attr_int(attrs, "axis"), x.rank());
  Around g = around(x.shape(), a), gi = around(idx.shape(), a);
  Tensor out = x.clone();
  dispatch_float(x.dtype(), [&]<class T>() {
    T* o_ = out.data<T>();
    const T* s_ = src.data<T>();
    for (int64_t lin = 0; lin < idx.size(); ++lin) {
      int64_t o = lin / (gi.n * gi.inner), s = lin % gi.inner;
      int64_t j = checked_index("scatter_add", idx, lin, g.n);
      o_[(o * g.n + j) * g.inner + s] += s_[lin];
    }
  });
  return out;
}

Ints check_ignore(const Attrs& attrs) { return attr_ints(attrs, "ignore"); }

TensorType check_index_infer(Span in, const Attrs& attrs, const InferCtx& ctx) {
  require_index("check_index", in[0], ctx);
  int64_t bound = attr_int(attrs, "bound");
  if (bound < 1 || is_sym(bound))
    throw OpError(fmt::format("check_index: bound must be a static size >= 1, got {}", dim_str(bound, ctx.syms)));
  return in[0];
}

// Whether v is a valid index under check_index's attributes.
bool index_allowed(int64_t v, int64_t bound, const Ints& ignore) {
  return (v >= 0 && v < bound) || std::find(ignore.begin(), ignore.end(), v) != ignore.end();
}

std::string range_text(int64_t bound, const Ints& ignore) {
  return ignore.empty() ? fmt::format("[0, {})", bound) : fmt::format("[0, {}) or {}", bound, fmt::join(ignore, ", "));
}

Tensor check_index_ref(TSpan in, const Attrs& attrs, RefCtx&) {
  int64_t bound = attr_int(attrs, "bound");
  const Ints ignore = check_ignore(attrs);
  const int64_t* v = in[0].data<int64_t>();
  for (int64_t i = 0; i < in[0].size(); ++i)
    if (!index_allowed(v[i], bound, ignore))
      throw OpError(fmt::format("check_index: element {} is {}, outside {}", position(in[0].shape(), i), v[i],
                                range_text(bound, ignore)));
  return in[0];
}

// ---- gradient rules: the adjoint pairs gather <-> index_add, take_along <-> scatter_add ----

int axis_of(const Node& n) { return int(attr_int(n.attrs, "axis")); }

GradFn gather_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    int zeros = b.zeros_like(n.inputs[0]);
    return {b.op("index_add", {zeros, n.inputs[1], dy}, {{"axis", int64_t(axis_of(n))}}), kNoGrad};
  };
}

GradFn take_along_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    int zeros = b.zeros_like(n.inputs[0]);
    return {b.op("scatter_add", {zeros, n.inputs[1], dy}, {{"axis", int64_t(axis_of(n))}}), kNoGrad};
  };
}

// d out / d x = identity; d out / d src reads dy where src was added.
GradFn add_grad(const char* read) {
  return [read](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    return {dy, kNoGrad, b.op(read, {dy, n.inputs[1]}, {{"axis", int64_t(axis_of(n))}})};
  };
}

OpDef make(const char* name, std::vector<std::string> inputs, InferFn infer, RefFn ref, GradFn grad, const char* doc) {
  OpDef d;
  d.name = name;
  d.inputs = std::move(inputs);
  d.attrs = {{"axis", AttrKind::Int, int64_t(0)}};
  d.infer = std::move(infer);
  d.ref = std::move(ref);
  d.grad = std::move(grad);
  d.doc = doc;
  return d;
}

// ---- the executors' check of index inputs ----

// Which input of an index op is its index, and the range it must lie in.
struct IndexUse {
  int operand = -1;
  int64_t bound = 0;  // may be symbolic
  Ints ignore;
};

IndexUse index_use(const Node& n, const Graph& g) {
  const std::string& op = n.op->name;
  if (op == "check_index") return {0, attr_int(n.attrs, "bound"), check_ignore(n.attrs)};
  if (op == "gather" || op == "take_along_axis" || op == "index_add" || op == "scatter_add") {
    const TensorType& x = g.type(n.inputs[0]);
    int a = normalize_axis(op, attr_int(n.attrs, "axis"), x.rank());
    return {1, x.shape[size_t(a)], {}};
  }
  return {};
}

// The graph-input position whose values node `id` holds unchanged (through reshape), or -1.
int input_position(const Graph& g, int id) {
  while (is_op(g.node(id), "reshape") || is_op(g.node(id), "check_index")) id = g.node(id).inputs[0];
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (g.inputs[i] == id) return int(i);
  return -1;
}

}  // namespace

std::vector<InputIndexBound> input_index_bounds(const Graph& g) {
  std::vector<InputIndexBound> out;
  for (const Node& n : g.nodes) {
    IndexUse use = index_use(n, g);
    if (use.operand < 0) continue;
    int pos = input_position(g, n.inputs[size_t(use.operand)]);
    if (pos >= 0 && g.type(g.inputs[size_t(pos)]).dtype == DType::I64)
      out.push_back({pos, use.bound, use.ignore, n.op->name});
  }
  return out;
}

void check_input_indices(const Graph& g, const std::vector<Tensor>& inputs, const std::vector<Dim>& syms) {
  for (const Node& n : g.nodes) {
    IndexUse use = index_use(n, g);
    if (use.operand < 0) continue;
    int pos = input_position(g, n.inputs[size_t(use.operand)]);
    if (pos < 0 || size_t(pos) >= inputs.size() || inputs[size_t(pos)].dtype() != DType::I64) continue;
    int64_t bound = is_sym(use.bound) ? syms.at(size_t(sym_index(use.bound))) : use.bound;
    const Tensor& t = inputs[size_t(pos)];
    const int64_t* v = t.data<int64_t>();
    for (int64_t i = 0; i < t.size(); ++i) {
      if (index_allowed(v[i], bound, use.ignore)) continue;
      std::string at = n.loc.known() ? fmt::format(" at {}:{}:{}", n.loc.file, n.loc.line, n.loc.col) : "";
      std::string name = g.input_name(pos);
      throw IndexError(fmt::format("input '{}': element {} is {}, outside {} (the index of {}{})", name,
                                   position(t.shape(), i), v[i], range_text(bound, use.ignore), n.op->name, at),
                       name, i, v[i]);
    }
  }
}

void register_index_ops(OpRegistry& r) {
  r.add(make("gather", {"x", "idx"}, gather_infer, gather_ref, gather_grad(),
             "x.shape[:axis] + idx.shape + x.shape[axis+1:], out[.., i.., ..] = x[.., idx[i..], ..] (numpy.take; "
             "torch.index_select for a 1-D idx); idx i64 in [0, n)"));
  r.add(make("take_along_axis", {"x", "idx"}, take_along_infer, take_along_ref, take_along_grad(),
             "out[.., i, ..] = x[.., idx[.., i, ..], ..] along axis (torch.gather); idx i64 of x's shape except "
             "along axis"));
  r.add(make("index_add", {"x", "idx", "src"}, index_add_infer, index_add_ref, add_grad("gather"),
             "x with src[.., i.., ..] added at x[.., idx[i..], ..] (torch.index_add; gather's adjoint); duplicates "
             "accumulate"));
  r.add(make("scatter_add", {"x", "idx", "src"}, scatter_add_infer, scatter_add_ref, add_grad("take_along_axis"),
             "x with src[.., i, ..] added at x[.., idx[.., i, ..], ..] (torch.scatter_add; take_along_axis's "
             "adjoint)"));
  OpDef c;
  c.name = "check_index";
  c.inputs = {"x"};
  c.attrs = {{"bound", AttrKind::Int, std::nullopt}, {"ignore", AttrKind::Ints, Ints{}}};
  c.infer = check_index_infer;
  c.ref = check_index_ref;
  c.doc = "x unchanged; each value of an i64 input must lie in [0, bound) or in ignore, checked before the run";
  r.add(std::move(c));
}

}  // namespace starc
