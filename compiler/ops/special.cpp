// Ops with no tensor computation of their own (graph inputs, parameters, constants)
// and `scan`, the recurrent loop whose body is a sub-graph.
#include "compiler/ops/common.h"

namespace starc {
namespace {

TensorType type_from_attrs(std::span<const TensorType>, const Attrs& a, const InferCtx&) {
  return TensorType{attr_dtype(a, "dtype"), attr_ints(a, "shape")};
}

Tensor no_kernel(const char* what) {
  throw std::runtime_error(std::string(what) + " nodes are bound by the executor, not computed");
}

// scan inputs: xs, carry_0..carry_{k-1}, captures...
// body inputs: carry_0..carry_{k-1}, x_t, captures...; body outputs: carry'_0..carry'_{k-1}, y_t.
TensorType scan_infer(std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
  const Graph& body = attr_graph(a, "body");
  int k = int(attr_int(a, "n_carry"));
  const TensorType& xs = in[0];
  int axis = normalize_axis("scan", attr_int(a, "axis"), xs.rank());
  if (is_sym(xs.shape[axis])) throw OpError("scan: the scanned axis must have a static length");
  int n_cap = int(in.size()) - 1 - k;
  if (n_cap < 0) throw OpError("scan: fewer inputs than carries");
  if (int(body.inputs.size()) != k + 1 + n_cap)
    throw OpError(fmt::format("scan: body takes {} inputs, expected {} (carries, x_t, captures)", body.inputs.size(),
                              k + 1 + n_cap));
  if (int(body.outputs.size()) != k + 1)
    throw OpError(fmt::format("scan: body returns {} values, expected {} ({} carries and the step output)",
                              body.outputs.size(), k + 1, k));
  TensorType xt = xs;
  xt.shape.erase(xt.shape.begin() + axis);
  auto expect = [&](int body_in, const TensorType& t, const std::string& what) {
    if (body.type(body.inputs[body_in]) != t)
      throw OpError(fmt::format("scan: {} is {} but the body expects {}", what, ctx.t(t),
                                ctx.t(body.type(body.inputs[body_in]))));
  };
  for (int i = 0; i < k; ++i) {
    expect(i, in[1 + i], fmt::format("initial carry {}", i));
    if (body.type(body.outputs[i]) != in[1 + i])
      throw OpError(fmt::format("scan: the step returns carry {} as {} but it came in as {}; a carry must keep its type",
                                i, ctx.t(body.type(body.outputs[i])), ctx.t(in[1 + i])));
  }
  expect(k, xt, "a time step of the sequence");
  for (int i = 0; i < n_cap; ++i) expect(k + 1 + i, in[1 + k + i], fmt::format("captured value {}", i));
  TensorType y = body.type(body.outputs[k]);
  int out_axis = std::min(axis, y.rank());
  y.shape.insert(y.shape.begin() + out_axis, xs.shape[axis]);
  return y;
}

Tensor take_step(const Tensor& xs, int axis, int64_t t) {
  Shape s = xs.shape();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < int(s.size()); ++i) inner *= s[i];
  int64_t len = s[axis];
  s.erase(s.begin() + axis);
  Tensor out(xs.dtype(), s);
  size_t es = dtype_size(xs.dtype());
  auto* src = static_cast<const std::byte*>(xs.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + o * inner * es, src + (o * len + t) * inner * es, inner * es);
  return out;
}

Tensor scan_ref(std::span<const Tensor> in, const Attrs& a, RefCtx& ctx) {
  const Graph& body = attr_graph(a, "body");
  int k = int(attr_int(a, "n_carry"));
  int axis = normalize_axis("scan", attr_int(a, "axis"), in[0].rank());
  bool reverse = attr_bool(a, "reverse");
  int64_t T = in[0].dim(axis);
  std::vector<Tensor> args(in.begin() + 1, in.end());  // carries then captures
  args.insert(args.begin() + k, Tensor());              // slot for x_t
  std::vector<Tensor> ys(T);
  for (int64_t step = 0; step < T; ++step) {
    int64_t t = reverse ? T - 1 - step : step;
    args[k] = take_step(in[0], axis, t);
    std::vector<Tensor> res = ctx.run_graph(body, args);
    for (int i = 0; i < k; ++i) args[i] = res[i];
    ys[t] = res[k];
  }
  // Stack ys along min(axis, rank(y)).
  Shape ys_shape = body.type(body.outputs[k]).shape;
  ys_shape = ys.empty() ? ys_shape : ys[0].shape();
  int out_axis = std::min<int>(axis, int(ys_shape.size()));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < out_axis; ++i) outer *= ys_shape[i];
  for (int i = out_axis; i < int(ys_shape.size()); ++i) inner *= ys_shape[i];
  Shape out_shape = ys_shape;
  out_shape.insert(out_shape.begin() + out_axis, T);
  Tensor out(body.type(body.outputs[k]).dtype, out_shape);
  size_t es = dtype_size(out.dtype());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(static_cast<std::byte*>(out.raw()) + ((o * T + t) * inner) * es,
                  static_cast<const std::byte*>(ys[t].raw()) + o * inner * es, inner * es);
  return out;
}

}  // namespace

void register_special_ops(OpRegistry& r) {
  OpDef input;
  input.name = "input";
  input.attrs = {{"name", AttrKind::String, std::nullopt},
                 {"dtype", AttrKind::DType, std::nullopt},
                 {"shape", AttrKind::Ints, std::nullopt}};
  input.doc = "a graph input, bound by name at run time";
  input.infer = type_from_attrs;
  input.ref = [](std::span<const Tensor>, const Attrs&, RefCtx&) { return no_kernel("input"); };
  r.add(std::move(input));

  OpDef param;
  param.name = "param";
  param.attrs = {{"name", AttrKind::String, std::nullopt},
                 {"dtype", AttrKind::DType, std::nullopt},
                 {"shape", AttrKind::Ints, std::nullopt},
                 {"init", AttrKind::String, std::string("zeros")},
                 {"init_args", AttrKind::Floats, Floats{}},
                 {"trainable", AttrKind::Bool, true}};
  param.doc = "a model parameter (trainable) or state buffer, bound by its dotted name";
  param.infer = type_from_attrs;
  param.ref = [](std::span<const Tensor>, const Attrs&, RefCtx&) { return no_kernel("param"); };
  r.add(std::move(param));

  OpDef cst;
  cst.name = "const";
  cst.attrs = {{"value", AttrKind::Tensor, std::nullopt}};
  cst.doc = "a constant tensor";
  cst.infer = [](std::span<const TensorType>, const Attrs& a, const InferCtx&) { return attr_tensor(a, "value").type(); };
  cst.ref = [](std::span<const Tensor>, const Attrs& a, RefCtx&) { return attr_tensor(a, "value"); };
  r.add(std::move(cst));

  OpDef scan;
  scan.name = "scan";
  scan.inputs = {"xs"};
  scan.variadic = true;
  scan.attrs = {{"body", AttrKind::Graph, std::nullopt},
                {"n_carry", AttrKind::Int, std::nullopt},
                {"axis", AttrKind::Int, int64_t(1)},
                {"reverse", AttrKind::Bool, false}};
  scan.doc = "recurrent loop over an axis: (carries, x_t) -> (carries', y_t); returns the stacked y_t";
  scan.infer = scan_infer;
  scan.ref = scan_ref;
  r.add(std::move(scan));
}

}  // namespace starc
