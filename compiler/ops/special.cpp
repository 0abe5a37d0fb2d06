// Ops with no tensor computation of their own (graph inputs, parameters, constants)
// and `scan`, the recurrent loop whose body is a sub-graph.
#include "compiler/autodiff/autodiff.h"
#include "compiler/ops/builder.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

TensorType type_from_attrs(std::span<const TensorType>, const Attrs& a, const InferCtx&) {
  return TensorType{attr_dtype(a, "dtype"), attr_ints(a, "shape")};
}

Tensor no_kernel(const char* what) {
  throw std::runtime_error(std::string(what) + " nodes are bound by the executor, not computed");
}

// scan inputs: xs_0..xs_{n_xs-1}, carry_0..carry_{k-1}, captures...
// body inputs: carry_0..carry_{k-1}, x_t_0..x_t_{n_xs-1}, captures...
// body outputs: carry'_0..carry'_{k-1}, y_t_0..y_t_{n_ys-1} (n_ys >= 1).
// Results: the stacked ys, then the final carries, then (save_carries) the carries
// entering each step, stacked. The node's own value is result 0; `scan_result` nodes
// select the others. All xs are scanned along `axis`; a y (or saved carry) of rank r is
// stacked along min(axis, r).
struct ScanSig {
  int n_xs, k, n_caps, n_ys;
  bool save;
};

ScanSig scan_sig(size_t n_inputs, const Attrs& a) {
  const Graph& body = attr_graph(a, "body");
  ScanSig s;
  s.n_xs = int(attr_int(a, "n_xs"));
  s.k = int(attr_int(a, "n_carry"));
  s.save = attr_bool(a, "save_carries");
  s.n_caps = int(n_inputs) - s.n_xs - s.k;
  s.n_ys = int(body.outputs.size()) - s.k;
  if (s.n_xs < 1 || s.k < 0) throw OpError("scan: needs n_xs >= 1 and n_carry >= 0");
  if (s.n_caps < 0)
    throw OpError(fmt::format("scan: {} inputs, fewer than {} sequences + {} carries", n_inputs, s.n_xs, s.k));
  if (int(body.inputs.size()) != s.k + s.n_xs + s.n_caps)
    throw OpError(fmt::format("scan: body takes {} inputs, expected {} (carries, x_t, captures)", body.inputs.size(),
                              s.k + s.n_xs + s.n_caps));
  if (s.n_ys < 1)
    throw OpError(fmt::format("scan: body returns {} values, expected {} carries and at least one step output",
                              body.outputs.size(), s.k));
  return s;
}

TensorType stacked(TensorType t, int axis, Dim len) {
  t.shape.insert(t.shape.begin() + std::min(axis, t.rank()), len);
  return t;
}

std::vector<TensorType> scan_result_types(std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
  const Graph& body = attr_graph(a, "body");
  ScanSig s = scan_sig(in.size(), a);
  const TensorType& xs = in[0];
  int axis = normalize_axis("scan", attr_int(a, "axis"), xs.rank());
  Dim T = xs.shape[axis];
  auto expect = [&](int body_in, const TensorType& t, const std::string& what) {
    if (body.type(body.inputs[body_in]) != t)
      throw OpError(fmt::format("scan: {} is {} but the body expects {}", what, ctx.t(t),
                                ctx.t(body.type(body.inputs[body_in]))));
  };
  for (int i = 0; i < s.k; ++i) {
    const TensorType& c = in[s.n_xs + i];
    expect(i, c, fmt::format("initial carry {}", i));
    if (body.type(body.outputs[i]) != c)
      throw OpError(
          fmt::format("scan: the step returns carry {} as {} but it came in as {}; a carry must keep its type", i,
                      ctx.t(body.type(body.outputs[i])), ctx.t(c)));
  }
  for (int j = 0; j < s.n_xs; ++j) {
    const TensorType& x = in[j];
    if (x.rank() <= axis || x.shape[axis] != T)
      throw OpError(fmt::format("scan: sequence {} is {} but sequence 0 has length {} along axis {}", j, ctx.t(x),
                                dim_str(T, ctx.syms), axis));
    TensorType xt = x;
    xt.shape.erase(xt.shape.begin() + axis);
    expect(s.k + j, xt,
           s.n_xs == 1 ? std::string("a time step of the sequence") : fmt::format("a time step of sequence {}", j));
  }
  for (int i = 0; i < s.n_caps; ++i)
    expect(s.k + s.n_xs + i, in[s.n_xs + s.k + i], fmt::format("captured value {}", i));
  std::vector<TensorType> out;
  for (int j = 0; j < s.n_ys; ++j) out.push_back(stacked(body.type(body.outputs[s.k + j]), axis, T));
  for (int i = 0; i < s.k; ++i) out.push_back(in[s.n_xs + i]);
  if (s.save)
    for (int i = 0; i < s.k; ++i) out.push_back(stacked(in[s.n_xs + i], axis, T));
  return out;
}

TensorType scan_infer(std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
  return scan_result_types(in, a, ctx)[0];
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
  for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * inner * es, src + (o * len + t) * inner * es, inner * es);
  return out;
}

// Stacks per-step tensors (all of type `step_type`) along min(axis, rank).
Tensor stack_steps(const std::vector<Tensor>& steps, const TensorType& step_type, int axis) {
  int64_t T = int64_t(steps.size());
  Shape ys_shape = steps.empty() ? step_type.shape : steps[0].shape();
  int out_axis = std::min<int>(axis, int(ys_shape.size()));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < out_axis; ++i) outer *= ys_shape[i];
  for (int i = out_axis; i < int(ys_shape.size()); ++i) inner *= ys_shape[i];
  Shape out_shape = ys_shape;
  out_shape.insert(out_shape.begin() + out_axis, T);
  Tensor out(step_type.dtype, out_shape);
  size_t es = dtype_size(out.dtype());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(static_cast<std::byte*>(out.raw()) + ((o * T + t) * inner) * es,
                  static_cast<const std::byte*>(steps[t].raw()) + o * inner * es, inner * es);
  return out;
}

std::vector<Tensor> scan_ref_all(std::span<const Tensor> in, const Attrs& a, RefCtx& ctx) {
  const Graph& body = attr_graph(a, "body");
  ScanSig s = scan_sig(in.size(), a);
  int axis = normalize_axis("scan", attr_int(a, "axis"), in[0].rank());
  bool reverse = attr_bool(a, "reverse");
  int64_t T = in[0].dim(axis);
  // Body arguments: carries, x_t's, captures.
  std::vector<Tensor> args(in.begin() + s.n_xs, in.begin() + s.n_xs + s.k);
  args.resize(size_t(s.k + s.n_xs));
  args.insert(args.end(), in.begin() + s.n_xs + s.k, in.end());
  std::vector<std::vector<Tensor>> ys(size_t(s.n_ys), std::vector<Tensor>(size_t(T)));
  std::vector<std::vector<Tensor>> saved(s.save ? size_t(s.k) : 0, std::vector<Tensor>(size_t(T)));
  for (int64_t step = 0; step < T; ++step) {
    int64_t t = reverse ? T - 1 - step : step;
    for (int j = 0; j < s.n_xs; ++j) args[s.k + j] = take_step(in[j], axis, t);
    for (size_t i = 0; i < saved.size(); ++i) saved[i][t] = args[i];
    std::vector<Tensor> res = ctx.run_graph(body, args);
    for (int i = 0; i < s.k; ++i) args[i] = res[i];
    for (int j = 0; j < s.n_ys; ++j) ys[j][t] = res[s.k + j];
  }
  std::vector<Tensor> out;
  for (int j = 0; j < s.n_ys; ++j) out.push_back(stack_steps(ys[j], body.type(body.outputs[s.k + j]), axis));
  for (int i = 0; i < s.k; ++i) out.push_back(args[i]);
  for (size_t i = 0; i < saved.size(); ++i) out.push_back(stack_steps(saved[i], in[s.n_xs + i].type(), axis));
  return out;
}

// Appends to `dst` a copy of `src`'s computation with src's inputs bound to `args`;
// returns the ids of src's outputs in dst.
std::vector<int> inline_graph(Graph& dst, const Graph& src, const std::vector<int>& args) {
  std::vector<int> map(src.nodes.size(), -1);
  for (size_t i = 0; i < src.inputs.size(); ++i) map[src.inputs[i]] = args[i];
  for (size_t id = 0; id < src.nodes.size(); ++id) {
    if (map[id] >= 0) continue;
    Node n = src.nodes[id];
    for (int& in : n.inputs) in = map[in];
    map[id] = dst.add(std::move(n));
  }
  std::vector<int> out;
  for (int o : src.outputs) out.push_back(map[o]);
  return out;
}

int scan_result(GraphBuilder& b, int scan, int index, const TensorType& t) {
  return b.op("scan_result", {scan}, {{"index", int64_t(index)}, {"dtype", t.dtype}, {"shape", Ints(t.shape)}});
}

}  // namespace

// Reverse-mode through a scan: the forward scan is told to save the carry entering each
// step; a second scan runs backwards over (xs, saved carries, dy) with a body that
// recomputes the step and applies its vector-Jacobian product. Its carries are the
// gradient of the carry (starting from the gradient of the final carries) and the running
// sums of the captures' gradients; its step output is the gradient of x_t. A gradient of
// the saved carries (a second-order gradient reaches them through the reverse scan that
// reads them) is one more sequence, added to the carry's gradient at its step.
std::vector<int> scan_gradient(GraphBuilder& b, const Node& n, int y, const std::vector<std::pair<int, int>>& seeds) {
  const Graph& body = attr_graph(n.attrs, "body");
  std::vector<TensorType> in_types;
  for (int i : n.inputs) in_types.push_back(b.type(i));
  ScanSig s = scan_sig(n.inputs.size(), n.attrs);
  int axis = normalize_axis("scan", attr_int(n.attrs, "axis"), in_types[0].rank());
  int dy = -1;
  std::vector<int> d_final(size_t(s.k), -1), d_saved(size_t(s.k), -1);
  for (auto [index, d] : seeds) {
    if (index == 0)
      dy = d;
    else if (index < s.n_ys)
      throw OpError(
          "the gradient of a scan with several step outputs is not supported (its step outputs after the first "
          "are used)");
    else if (index < s.n_ys + s.k)
      d_final[size_t(index - s.n_ys)] = d;
    else
      d_saved[size_t(index - s.n_ys - s.k)] = d;
  }
  if (s.n_ys != 1)
    throw OpError(
        "the gradient of a scan with several step outputs is not supported (the reverse scan of a gradient "
        "differentiated again with several float sequences)");
  for (int i = 0; i < s.k; ++i)
    if (in_types[s.n_xs + i].rank() < axis)
      throw OpError(fmt::format("scan gradient: carry {} ({}) has fewer dims than the scan axis {}", i,
                                type_str(in_types[s.n_xs + i], &b.g.symbols), axis));
  if (dy < 0) dy = b.zeros_like(y);
  // 1. The forward scan saves its carries (in place: its existing results keep their indices).
  b.g.nodes[y].attrs["save_carries"] = true;
  Attrs fwd_attrs = b.g.nodes[y].attrs;
  std::vector<TensorType> fwd_types = scan_result_types(in_types, fwd_attrs, InferCtx{&b.g.symbols, &b.g.symbols});
  std::vector<int> saved;
  for (int i = 0; i < s.k; ++i) saved.push_back(scan_result(b, y, s.n_ys + s.k + i, fwd_types[s.n_ys + s.k + i]));

  // 2. The reverse body: carries (dc for float carries, dcap sums for float captures),
  //    x_t's (each xs, each saved carry, dy, the saved carries' gradients), captures.
  auto is_f = [&](int input) { return is_float(in_types[input].dtype); };
  std::vector<int> fc, fcap, fx, fs;  // indices (into carries/captures/xs/carries) that get gradients
  for (int i = 0; i < s.k; ++i)
    if (is_f(s.n_xs + i)) fc.push_back(i);
  for (int i = 0; i < s.n_caps; ++i)
    if (is_f(s.n_xs + s.k + i)) fcap.push_back(i);
  for (int j = 0; j < s.n_xs; ++j)
    if (is_f(j)) fx.push_back(j);
  Graph rb;
  rb.name = body.name + "_grad";
  rb.symbols = body.symbols;
  auto add_input = [&](const std::string& name, const TensorType& t) {
    Node in;
    in.op = find_op("input");
    in.attrs = {{"name", name}, {"dtype", t.dtype}, {"shape", Ints(t.shape)}};
    in.type = t;
    int id = rb.add(std::move(in));
    rb.inputs.push_back(id);
    return id;
  };
  auto body_in = [&](int i) { return body.type(body.inputs[i]); };
  std::vector<int> r_dc, r_dcap, r_x, r_c, r_cap, r_ds(size_t(s.k), -1);
  for (int i : fc) r_dc.push_back(add_input(fmt::format("d_carry{}", i), body_in(i)));
  for (int i : fcap) r_dcap.push_back(add_input(fmt::format("d_capture{}", i), body_in(s.k + s.n_xs + i)));
  for (int j = 0; j < s.n_xs; ++j) r_x.push_back(add_input(fmt::format("x_t{}", j), body_in(s.k + j)));
  for (int i = 0; i < s.k; ++i) r_c.push_back(add_input(fmt::format("carry{}", i), body_in(i)));
  int r_dy = add_input("d_y_t", body.type(body.outputs[s.k]));
  for (int i : fc)
    if (d_saved[size_t(i)] >= 0) fs.push_back(i), r_ds[size_t(i)] = add_input(fmt::format("d_saved{}", i), body_in(i));
  for (int i = 0; i < s.n_caps; ++i) r_cap.push_back(add_input(fmt::format("capture{}", i), body_in(s.k + s.n_xs + i)));
  std::vector<int> args = r_c;
  args.insert(args.end(), r_x.begin(), r_x.end());
  args.insert(args.end(), r_cap.begin(), r_cap.end());
  std::vector<int> outs = inline_graph(rb, body, args);
  // Seeds: dc for the new carries, dy for y_t.
  std::vector<int> ys, dys, wrt;
  for (size_t q = 0; q < fc.size(); ++q) ys.push_back(outs[fc[q]]), dys.push_back(r_dc[q]);
  ys.push_back(outs[s.k]), dys.push_back(r_dy);
  for (int i : fc) wrt.push_back(r_c[i]);
  for (int i : fcap) wrt.push_back(r_cap[i]);
  for (int j : fx) wrt.push_back(r_x[j]);
  std::vector<int> g = append_gradients(rb, ys, dys, wrt, GradOptions{.cut_is_error = false});
  GraphBuilder rbb(rb, b.loc);
  std::vector<int> r_out;
  for (size_t q = 0; q < fc.size(); ++q)  // d carry entering the step
    r_out.push_back(r_ds[size_t(fc[q])] >= 0 ? rbb.add(g[q], r_ds[size_t(fc[q])]) : g[q]);
  for (size_t q = 0; q < fcap.size(); ++q) r_out.push_back(rbb.add(r_dcap[q], g[fc.size() + q]));
  for (size_t q = 0; q < fx.size(); ++q) r_out.push_back(g[fc.size() + fcap.size() + q]);
  if (fx.empty()) r_out.push_back(rbb.scalar(0, DType::F32));  // a scan needs one step output
  rb.outputs = r_out;
  rb.output_names.clear();
  for (int i : fc) rb.output_names.push_back(fmt::format("d_carry{}", i));
  for (int i : fcap) rb.output_names.push_back(fmt::format("d_capture{}", i));
  for (int j : fx) rb.output_names.push_back(fmt::format("d_x_t{}", j));
  if (fx.empty()) rb.output_names.push_back("unused");

  // 3. The reverse scan.
  std::vector<int> r_inputs;
  for (int j = 0; j < s.n_xs; ++j) r_inputs.push_back(n.inputs[j]);
  for (int i = 0; i < s.k; ++i) r_inputs.push_back(saved[i]);
  r_inputs.push_back(dy);
  for (int i : fs) r_inputs.push_back(d_saved[size_t(i)]);
  for (int i : fc)
    r_inputs.push_back(d_final[size_t(i)] >= 0 ? d_final[size_t(i)] : b.zeros_like(n.inputs[s.n_xs + i]));
  for (int i : fcap) r_inputs.push_back(b.zeros_like(n.inputs[s.n_xs + s.k + i]));
  for (int i = 0; i < s.n_caps; ++i) r_inputs.push_back(n.inputs[s.n_xs + s.k + i]);
  int rev = b.op("scan", r_inputs,
                 {{"body", std::make_shared<const Graph>(std::move(rb))},
                  {"n_xs", int64_t(s.n_xs + s.k + 1 + int(fs.size()))},
                  {"n_carry", int64_t(fc.size() + fcap.size())},
                  {"axis", int64_t(axis)},
                  {"reverse", !attr_bool(n.attrs, "reverse")}});
  std::vector<TensorType> r_types;
  for (int i : r_inputs) r_types.push_back(b.type(i));
  std::vector<TensorType> rt = scan_result_types(r_types, b.g.nodes[rev].attrs, InferCtx{&b.g.symbols, &b.g.symbols});
  int n_rys = std::max<int>(1, int(fx.size()));

  std::vector<int> grads(n.inputs.size(), kNoGrad);
  for (size_t q = 0; q < fx.size(); ++q) grads[fx[q]] = q == 0 ? rev : scan_result(b, rev, int(q), rt[q]);
  for (size_t q = 0; q < fc.size(); ++q) grads[s.n_xs + fc[q]] = scan_result(b, rev, n_rys + int(q), rt[n_rys + q]);
  for (size_t q = 0; q < fcap.size(); ++q)
    grads[s.n_xs + s.k + fcap[q]] = scan_result(b, rev, n_rys + int(fc.size() + q), rt[n_rys + fc.size() + q]);
  return grads;
}

namespace {

std::vector<int> scan_grad(GraphBuilder& b, const Node& n, int y, int dy) { return scan_gradient(b, n, y, {{0, dy}}); }

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
  param.attrs = {{"name", AttrKind::String, std::nullopt},  {"dtype", AttrKind::DType, std::nullopt},
                 {"shape", AttrKind::Ints, std::nullopt},   {"init", AttrKind::String, std::string("zeros")},
                 {"init_args", AttrKind::Floats, Floats{}}, {"trainable", AttrKind::Bool, true}};
  param.doc = "a model parameter (trainable) or state buffer, bound by its dotted name";
  param.infer = type_from_attrs;
  param.ref = [](std::span<const Tensor>, const Attrs&, RefCtx&) { return no_kernel("param"); };
  r.add(std::move(param));

  OpDef cst;
  cst.name = "const";
  cst.attrs = {{"value", AttrKind::Tensor, std::nullopt}};
  cst.doc = "a constant tensor";
  cst.infer = [](std::span<const TensorType>, const Attrs& a, const InferCtx&) {
    return attr_tensor(a, "value").type();
  };
  cst.ref = [](std::span<const Tensor>, const Attrs& a, RefCtx&) { return attr_tensor(a, "value"); };
  r.add(std::move(cst));

  OpDef scan;
  scan.name = "scan";
  scan.inputs = {"xs"};
  scan.variadic = true;
  scan.attrs = {{"body", AttrKind::Graph, std::nullopt}, {"n_carry", AttrKind::Int, std::nullopt},
                {"axis", AttrKind::Int, int64_t(1)},     {"reverse", AttrKind::Bool, false},
                {"n_xs", AttrKind::Int, int64_t(1)},     {"save_carries", AttrKind::Bool, false}};
  scan.doc = "recurrent loop over an axis: (carries, x_t) -> (carries', y_t); returns the stacked y_t";
  scan.infer = scan_infer;
  scan.ref = [](std::span<const Tensor> in, const Attrs& a, RefCtx& ctx) { return scan_ref_all(in, a, ctx)[0]; };
  scan.ref_multi = scan_ref_all;
  scan.grad = scan_grad;
  r.add(std::move(scan));

  OpDef result;
  result.name = "scan_result";
  result.inputs = {"scan"};
  result.attrs = {{"index", AttrKind::Int, std::nullopt},
                  {"dtype", AttrKind::DType, std::nullopt},
                  {"shape", AttrKind::Ints, std::nullopt}};
  result.doc = "result `index` of a scan (its stacked step outputs, then final carries, then saved carries)";
  result.infer = type_from_attrs;
  result.ref = [](std::span<const Tensor>, const Attrs&, RefCtx&) { return no_kernel("scan_result"); };
  r.add(std::move(result));
}

}  // namespace starc
