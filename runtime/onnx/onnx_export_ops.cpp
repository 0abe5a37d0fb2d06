// runtime/onnx: the exporter's op table: one entry per primitive op (`starc ops`), the
// ONNX nodes it becomes (opsets 13-17: ReduceSum's axes as an input, the other reductions'
// as an attribute), or why it is refused. Each mapping computes the op's formula; where
// ONNX's op differs from starc's at the edges (OneHot wraps negative labels, integer Div
// traps on zero) the mapping is a composition that keeps starc's rule.
#include <fmt/format.h>

#include <array>
#include <cmath>

#include "compiler/ops/common.h"
#include "compiler/ops/op.h"
#include "runtime/onnx/onnx_export_emit.h"

namespace starc::onnx_export {
namespace {

using Attrs1 = std::function<void(onnx::NodeProto&)>;

// The node writing c.out.
onnx::NodeProto& emit_out(OpCall& c, const std::string& op_type, const std::vector<std::string>& inputs) {
  return c.e.add(op_type, inputs, {c.out});
}

MapFn same(const std::string& op_type) {
  return [op_type](OpCall& c) { emit_out(c, op_type, c.in); };
}

int axis_of(OpCall& c, const std::string& attr, int rank) {
  return normalize_axis(c.node.op->name, attr_int(c.node.attrs, attr), rank);
}

std::vector<int64_t> axes_of(OpCall& c) {
  std::vector<int64_t> axes;
  for (int64_t a : attr_ints(c.node.attrs, "axes"))
    axes.push_back(normalize_axis(c.node.op->name, a, c.in_type(0).rank()));
  return axes;
}

// ---- elementwise ----

MapFn with_alpha(const std::string& op_type) {
  return
      [op_type](OpCall& c) { set_attr(emit_out(c, op_type, c.in), "alpha", float(attr_float(c.node.attrs, "alpha"))); };
}

void rsqrt(OpCall& c) { emit_out(c, "Reciprocal", {c.e.op("Sqrt", c.in)}); }

void square(OpCall& c) { emit_out(c, "Mul", {c.in[0], c.in[0]}); }

// x * 0.5 * (1 + erf(x / sqrt 2)), or the tanh form (PyTorch's; opset 20's Gelu is newer
// than ONNX 1.12).
void gelu(OpCall& c) {
  DType t = c.type().dtype;
  const std::string& x = c.in[0];
  std::string inner;
  if (attr_str(c.node.attrs, "approximate") == "tanh") {
    std::string x3 = c.e.op("Mul", {x, c.e.op("Mul", {x, x})});
    std::string u = c.e.op("Add", {x, c.e.op("Mul", {x3, c.e.const_scalar(t, 0.044715)})});
    inner = c.e.op("Tanh", {c.e.op("Mul", {u, c.e.const_scalar(t, std::sqrt(2.0 / M_PI))})});
  } else {
    inner = c.e.op("Erf", {c.e.op("Mul", {x, c.e.const_scalar(t, M_SQRT1_2)})});
  }
  std::string half_x = c.e.op("Mul", {x, c.e.const_scalar(t, 0.5)});
  emit_out(c, "Mul", {half_x, c.e.op("Add", {inner, c.e.const_scalar(t, 1.0)})});
}

// Integer division truncates and x / 0 = 0 (ONNX's Div traps on a zero divisor).
void div(OpCall& c) {
  DType t = c.type().dtype;
  if (is_float(t)) return (void)emit_out(c, "Div", c.in);
  std::string zero = c.e.const_scalar(t, 0), is_zero = c.e.op("Equal", {c.in[1], zero});
  std::string safe = c.e.op("Where", {is_zero, c.e.const_scalar(t, 1), c.in[1]});
  emit_out(c, "Where", {is_zero, zero, c.e.op("Div", {c.in[0], safe})});
}

void ne(OpCall& c) { emit_out(c, "Not", {c.e.op("Equal", c.in)}); }

// where(c, a, b) on bools as (c and a) or (not c and b): ONNX Runtime's CPU Where has no
// bool kernel ("Could not find an implementation for Where(16)").
void where(OpCall& c) {
  if (c.type().dtype != DType::Bool) return (void)emit_out(c, "Where", c.in);
  std::string picked_a = c.e.op("And", {c.in[0], c.in[1]});
  std::string picked_b = c.e.op("And", {c.e.op("Not", {c.in[0]}), c.in[2]});
  emit_out(c, "Or", {picked_a, picked_b});
}

void cast(OpCall& c) {
  set_attr(emit_out(c, "Cast", c.in), "to", int64_t(dtype_to_onnx(attr_dtype(c.node.attrs, "dtype"))));
}

// ---- reductions ----

// ReduceSum takes its axes as an input from opset 13; the others as an attribute until 18.
MapFn reduce(const std::string& op_type) {
  return [op_type](OpCall& c) {
    std::vector<int64_t> axes = axes_of(c);  // empty: all (the axes are left out)
    std::vector<std::string> in = c.in;
    if (op_type == "ReduceSum" && !axes.empty()) in.push_back(c.e.const_ints(axes));
    onnx::NodeProto& n = emit_out(c, op_type, in);
    if (op_type != "ReduceSum" && !axes.empty()) set_attr(n, "axes", axes);
    set_attr(n, "keepdims", int64_t(attr_bool(c.node.attrs, "keepdims")));
  };
}

void argmax(OpCall& c) {
  onnx::NodeProto& n = emit_out(c, "ArgMax", c.in);
  set_attr(n, "axis", int64_t(axis_of(c, "axis", c.in_type(0).rank())));
  set_attr(n, "keepdims", int64_t(attr_bool(c.node.attrs, "keepdims")));
}

// ---- convolution and pooling ----

// An attribute with one value per spatial dim (a single value is repeated); an empty list
// gives `if_empty`.
std::vector<int64_t> per_dim(OpCall& c, const std::string& name, int nsp, const Ints& if_empty = {}) {
  const Ints& v = attr_ints(c.node.attrs, name);
  if (v.empty()) return if_empty;
  return v.size() == 1 ? std::vector<int64_t>(size_t(nsp), v[0]) : v;
}

// starc pads symmetrically: ONNX's pads are all begins, then all ends.
std::vector<int64_t> both_ends(const std::vector<int64_t>& p) {
  std::vector<int64_t> out = p;
  out.insert(out.end(), p.begin(), p.end());
  return out;
}

void conv(OpCall& c, bool transpose) {
  int nsp = c.in_type(0).rank() - 2;
  const TensorType& w = c.in_type(1);
  onnx::NodeProto& n = emit_out(c, transpose ? "ConvTranspose" : "Conv", c.in);
  set_attr(n, "kernel_shape", std::vector<int64_t>(w.shape.begin() + 2, w.shape.end()));
  set_attr(n, "strides", per_dim(c, "stride", nsp));
  set_attr(n, "pads", both_ends(per_dim(c, "padding", nsp)));
  set_attr(n, "dilations", per_dim(c, "dilation", nsp));
  if (transpose) set_attr(n, "output_padding", per_dim(c, "output_padding", nsp));
  if (int64_t groups = attr_int(c.node.attrs, "groups"); groups != 1) set_attr(n, "group", groups);
}

// Max pooling pads with -inf and average pooling counts the zero padding, floor mode.
MapFn pool(const std::string& op_type) {
  return [op_type](OpCall& c) {
    int nsp = c.in_type(0).rank() - 2;
    std::vector<int64_t> kernel = per_dim(c, "kernel", nsp);
    onnx::NodeProto& n = emit_out(c, op_type, c.in);
    set_attr(n, "kernel_shape", kernel);
    set_attr(n, "strides", per_dim(c, "stride", nsp, kernel));
    set_attr(n, "pads", both_ends(per_dim(c, "padding", nsp)));
    if (op_type == "AveragePool") set_attr(n, "count_include_pad", int64_t(1));
  };
}

// ---- shapes ----

void reshape(OpCall& c) {
  onnx::NodeProto& n =
      emit_out(c, "Reshape", {c.in[0], c.e.shape_tensor(attr_ints(c.node.attrs, "shape"), c.graph.symbols)});
  if (c.e.opset() >= 14) set_attr(n, "allowzero", int64_t(1));  // a 0 in the shape is a 0, not "copy"
}

void transpose(OpCall& c) {
  onnx::NodeProto& n = emit_out(c, "Transpose", c.in);
  const Ints& perm = attr_ints(c.node.attrs, "perm");
  if (!perm.empty()) {
    std::vector<int64_t> p;
    for (int64_t a : perm) p.push_back(normalize_axis("transpose", a, c.in_type(0).rank()));
    set_attr(n, "perm", p);
  }  // empty: ONNX reverses the dims too
}

void concat(OpCall& c) { set_attr(emit_out(c, "Concat", c.in), "axis", int64_t(axis_of(c, "axis", c.type().rank()))); }

void slice(OpCall& c) {
  const Attrs& a = c.node.attrs;
  int axis = axis_of(c, "axis", c.in_type(0).rank());
  emit_out(c, "Slice",
           {c.in[0], c.e.const_ints({attr_int(a, "start")}), c.e.const_ints({attr_int(a, "end")}),
            c.e.const_ints({axis}), c.e.const_ints({attr_int(a, "step")})});
}

// ONNX's CumSum has starc's reverse and exclusive forms; the axis is a 0-d input.
void cumsum(OpCall& c) {
  int axis = axis_of(c, "axis", c.in_type(0).rank());
  onnx::NodeProto& n = emit_out(c, "CumSum", {c.in[0], c.e.const_scalar(DType::I64, axis)});
  set_attr(n, "exclusive", int64_t(attr_bool(c.node.attrs, "exclusive")));
  set_attr(n, "reverse", int64_t(attr_bool(c.node.attrs, "reverse")));
}

// starc's pads are lo0,hi0,lo1,hi1,...; ONNX's all the begins, then all the ends.
void pad(OpCall& c) {
  const Ints& p = attr_ints(c.node.attrs, "pads");
  std::vector<int64_t> begins, ends;
  for (size_t i = 0; i + 1 < p.size(); i += 2) begins.push_back(p[i]), ends.push_back(p[i + 1]);
  begins.insert(begins.end(), ends.begin(), ends.end());
  std::string value = c.e.const_scalar(c.type().dtype, attr_float(c.node.attrs, "value"));
  set_attr(emit_out(c, "Pad", {c.in[0], c.e.const_ints(begins), value}), "mode", std::string("constant"));
}

// Reversed along `axes`: a Slice with step -1 from the end to before the start.
std::string flipped(Emitter& e, const std::string& x, const std::vector<int64_t>& axes) {
  std::vector<int64_t> starts(axes.size(), -1), ends(axes.size(), INT64_MIN), steps(axes.size(), -1);
  return e.op("Slice", {x, e.const_ints(starts), e.const_ints(ends), e.const_ints(axes), e.const_ints(steps)});
}

void flip(OpCall& c) {
  std::vector<int64_t> axes = axes_of(c);
  if (axes.empty()) return (void)emit_out(c, "Identity", c.in);
  emit_out(c, "Identity", {flipped(c.e, c.in[0], axes)});
}

// numpy.rot90: k = 1 is transpose(flip(x, a1)), 2 flips both axes, 3 is flip(transpose(x), a1).
void rot90(OpCall& c) {
  int rank = c.in_type(0).rank();
  const Ints& ax = attr_ints(c.node.attrs, "axes");
  int64_t a0 = normalize_axis("rot90", ax.at(0), rank), a1 = normalize_axis("rot90", ax.at(1), rank);
  int64_t k = ((attr_int(c.node.attrs, "k") % 4) + 4) % 4;
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  for (int i = 0; i < rank; ++i) perm[size_t(i)] = i;
  std::swap(perm[size_t(a0)], perm[size_t(a1)]);
  auto transposed = [&](const std::string& x) {
    return c.e.op("Transpose", {x}, [&](onnx::NodeProto& n) { set_attr(n, "perm", perm); });
  };
  std::string y = c.in[0];
  if (k == 1) y = transposed(flipped(c.e, y, {a1}));
  if (k == 2) y = flipped(c.e, y, {a0, a1});
  if (k == 3) y = flipped(c.e, transposed(y), {a1});
  emit_out(c, "Identity", {y});
}

// out[i] = x[i / scale]: Resize's nearest mode with asymmetric coordinates and floor.
void upsample(OpCall& c) {
  int rank = c.in_type(0).rank();
  const Ints& s = attr_ints(c.node.attrs, "scale");
  Tensor scales(DType::F32, {Dim(rank)});
  for (int i = 0; i < rank; ++i) scales.set(i, i < 2 ? 1.0 : double(s.size() == 1 ? s[0] : s.at(size_t(i - 2))));
  onnx::NodeProto& n = emit_out(c, "Resize", {c.in[0], "", c.e.const_tensor(scales, "%scales")});
  set_attr(n, "mode", std::string("nearest"));
  set_attr(n, "coordinate_transformation_mode", std::string("asymmetric"));
  set_attr(n, "nearest_mode", std::string("floor"));
}

void broadcast_to(OpCall& c) {
  emit_out(c, "Expand", {c.in[0], c.e.shape_tensor(attr_ints(c.node.attrs, "shape"), c.graph.symbols)});
}

void full(OpCall& c) {
  const TensorType& t = c.type();
  Tensor value(t.dtype, {1});
  value.set(0, attr_float(c.node.attrs, "value"));
  onnx::NodeProto& n = emit_out(c, "ConstantOfShape", {c.e.shape_tensor(t.shape, c.graph.symbols)});
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  tensor_to_onnx(value, "value", a->mutable_t());
}

// A row of `depth` with 1 at the label and all zeros for a label outside [0, depth)
// (ONNX's OneHot counts negative labels from the end).
void one_hot(OpCall& c) {
  int64_t depth = attr_int(c.node.attrs, "depth");
  std::vector<int64_t> range(static_cast<size_t>(depth));
  for (int64_t i = 0; i < depth; ++i) range[size_t(i)] = i;
  std::string labels = c.e.op("Unsqueeze", {c.in[0], c.e.const_ints({-1})});
  std::string hit = c.e.op("Equal", {labels, c.e.const_ints(range)});
  set_attr(emit_out(c, "Cast", {hit}), "to", int64_t(dtype_to_onnx(attr_dtype(c.node.attrs, "dtype"))));
}

// ---- nn ----

std::string mean_over(Emitter& e, const std::string& x, const std::vector<int64_t>& axes) {
  return e.op("ReduceMean", {x}, [&](onnx::NodeProto& n) {
    set_attr(n, "axes", axes);
    set_attr(n, "keepdims", int64_t(1));
  });
}

MapFn softmax(const std::string& op_type) {
  return [op_type](OpCall& c) {
    set_attr(emit_out(c, op_type, c.in), "axis", int64_t(axis_of(c, "axis", c.type().rank())));
  };
}

// Running statistics: BatchNormalization. Batch statistics (a model that always
// normalises with its batch's, e.g. a GAN's discriminator): the mean and biased variance
// over every axis but 1, as starc's kernel, with gamma and beta as [C, 1, ...].
void batch_norm(OpCall& c) {
  float eps = float(attr_float(c.node.attrs, "eps"));
  if (!attr_bool(c.node.attrs, "training")) return set_attr(emit_out(c, "BatchNormalization", c.in), "epsilon", eps);
  int rank = c.in_type(0).rank();
  std::vector<int64_t> axes = {0}, per_channel = {c.in_type(0).shape[1]};
  for (int i = 2; i < rank; ++i) axes.push_back(i), per_channel.push_back(1);
  std::string d = c.e.op("Sub", {c.in[0], mean_over(c.e, c.in[0], axes)});
  std::string var = mean_over(c.e, c.e.op("Mul", {d, d}), axes);
  std::string sd = c.e.op("Sqrt", {c.e.op("Add", {var, c.e.const_scalar(c.type().dtype, eps)})});
  auto channels = [&](const std::string& v) { return c.e.op("Reshape", {v, c.e.const_ints(per_channel)}); };
  std::string scaled = c.e.op("Mul", {channels(c.in[1]), c.e.op("Div", {d, sd})});
  emit_out(c, "Add", {scaled, channels(c.in[2])});
}

// (x - mean) / sqrt(var + eps) over any axes (LayerNormalization wants trailing axes and
// a scale).
void layer_norm(OpCall& c) {
  std::vector<int64_t> axes = axes_of(c);
  std::string d = c.e.op("Sub", {c.in[0], mean_over(c.e, c.in[0], axes)});
  std::string var = mean_over(c.e, c.e.op("Mul", {d, d}), axes);
  double eps = attr_float(c.node.attrs, "eps");
  emit_out(c, "Div", {d, c.e.op("Sqrt", {c.e.op("Add", {var, c.e.const_scalar(c.type().dtype, eps)})})});
}

// gather and take_along_axis are ONNX's Gather and GatherElements on indices in [0, n)
// (ONNX would also wrap negative ones, which starc refuses before the run).
MapFn along_axis(const std::string& op_type) {
  return [op_type](OpCall& c) {
    set_attr(emit_out(c, op_type, c.in), "axis", int64_t(axis_of(c, "axis", c.in_type(0).rank())));
  };
}

// ONNX's generators draw other numbers than starc's Philox streams: exported only when
// the caller accepts that (OnnxExportOptions::random_ops), as the *Like ops on a tensor of
// the result's shape (whose batch may be dynamic).
MapFn random(const std::string& op_type, std::array<const char*, 2> onnx_attrs, std::array<const char*, 2> attrs) {
  return [=](OpCall& c) {
    if (!c.e.options().random_ops)
      c.refuse(
          fmt::format("{} draws starc's Philox random numbers, which ONNX cannot reproduce (with {} it becomes "
                      "ONNX's {}: the same distribution, other numbers)",
                      c.node.op->name, param_ref("random_ops"), op_type));
    const TensorType& t = c.type();
    std::string shaped = c.e.op("ConstantOfShape", {c.e.shape_tensor(t.shape, c.graph.symbols)});
    onnx::NodeProto& n = emit_out(c, op_type, {shaped});
    set_attr(n, "dtype", int64_t(dtype_to_onnx(t.dtype)));
    for (size_t i = 0; i < 2; ++i) set_attr(n, onnx_attrs[i], float(attr_float(c.node.attrs, attrs[i])));
  };
}

const char* const kGradOp = "a gradient op: it appears in training graphs, never in a forward pass";

std::map<std::string, OpEntry> make_table() {
  std::map<std::string, OpEntry> t;
  auto map = [&](const std::string& op, const std::string& onnx, MapFn fn) { t[op] = {onnx, std::move(fn), ""}; };
  auto refuse = [&](const std::string& op, const std::string& why) { t[op] = {"", nullptr, why}; };
  map("scan", "Scan (the body as its graph; captures read from the outer graph)", export_scan);
  map("scan_result", "an output of the Scan", [](OpCall&) {});  // named by the scan's mapping (export_node)
  for (auto [op, onnx] : std::initializer_list<std::pair<const char*, const char*>>{
           {"neg", "Neg"},         {"exp", "Exp"},        {"log", "Log"},           {"tanh", "Tanh"},
           {"sigmoid", "Sigmoid"}, {"relu", "Relu"},      {"softplus", "Softplus"}, {"erf", "Erf"},
           {"sqrt", "Sqrt"},       {"abs", "Abs"},        {"sign", "Sign"},         {"sin", "Sin"},
           {"cos", "Cos"},         {"add", "Add"},        {"sub", "Sub"},           {"mul", "Mul"},
           {"pow", "Pow"},         {"maximum", "Max"},    {"minimum", "Min"},       {"eq", "Equal"},
           {"lt", "Less"},         {"le", "LessOrEqual"}, {"gt", "Greater"},        {"ge", "GreaterOrEqual"},
           {"matmul", "MatMul"}})
    map(op, onnx, same(onnx));
  map("leaky_relu", "LeakyRelu", with_alpha("LeakyRelu"));
  map("elu", "Elu", with_alpha("Elu"));
  map("gelu", "Erf or Tanh with Mul, Add", gelu);
  map("rsqrt", "Reciprocal(Sqrt)", rsqrt);
  map("square", "Mul(x, x)", square);
  map("div", "Div (integers: Where for x / 0 = 0)", div);
  map("ne", "Not(Equal)", ne);
  map("where", "Where (bools: And, Or, Not)", where);
  map("cast", "Cast", cast);
  map("sum", "ReduceSum", reduce("ReduceSum"));
  map("mean", "ReduceMean", reduce("ReduceMean"));
  map("max", "ReduceMax", reduce("ReduceMax"));
  map("min", "ReduceMin", reduce("ReduceMin"));
  map("logsumexp", "ReduceLogSumExp", reduce("ReduceLogSumExp"));
  map("argmax", "ArgMax", argmax);
  map("conv1d", "Conv", [](OpCall& c) { conv(c, false); });
  map("conv2d", "Conv", [](OpCall& c) { conv(c, false); });
  map("conv_transpose1d", "ConvTranspose", [](OpCall& c) { conv(c, true); });
  map("conv_transpose2d", "ConvTranspose", [](OpCall& c) { conv(c, true); });
  map("maxpool1d", "MaxPool", pool("MaxPool"));
  map("maxpool2d", "MaxPool", pool("MaxPool"));
  map("avgpool1d", "AveragePool (count_include_pad)", pool("AveragePool"));
  map("avgpool2d", "AveragePool (count_include_pad)", pool("AveragePool"));
  for (const char* op : {"conv1d_weight_grad", "maxpool1d_grad", "maxpool1d_gather", "avgpool1d_grad",
                         "conv2d_weight_grad", "maxpool2d_grad", "maxpool2d_gather", "avgpool2d_grad"})
    refuse(op, kGradOp);
  map("reshape", "Reshape (a symbolic dim read with Shape, Gather)", reshape);
  map("transpose", "Transpose", transpose);
  map("concat", "Concat", concat);
  map("slice", "Slice", slice);
  map("pad", "Pad (constant)", pad);
  map("rot90", "Slice (step -1), Transpose", rot90);
  map("flip", "Slice (step -1)", flip);
  map("upsample", "Resize (nearest, asymmetric, floor)", upsample);
  map("broadcast_to", "Expand", broadcast_to);
  map("full", "ConstantOfShape", full);
  map("one_hot", "Equal with a constant range, Cast", one_hot);
  map("softmax", "Softmax", softmax("Softmax"));
  map("log_softmax", "LogSoftmax", softmax("LogSoftmax"));
  map("batch_norm", "BatchNormalization (running statistics); batch statistics: ReduceMean, Sub, Mul, Sqrt, Div",
      batch_norm);
  map("layer_norm", "ReduceMean, Sub, Mul, Add, Sqrt, Div", layer_norm);
  map("gather", "Gather", along_axis("Gather"));
  map("take_along_axis", "GatherElements", along_axis("GatherElements"));
  refuse("index_add", "not exported yet (gather's gradient; ONNX's ScatterND with reduction add)");
  refuse("scatter_add", "not exported yet (take_along_axis's gradient; ONNX's ScatterElements with reduction add)");
  map("check_index", "Identity (the range check is the caller's)", same("Identity"));
  map("cumsum", "CumSum", cumsum);
  refuse("argsort", "ONNX's TopK leaves the order of ties and NaN open (argsort is stable, NaN last)");
  refuse("dropout", "dropout is active only in training mode, which an exported forward pass does not have");
  map("random_normal", "refused unless random ops are allowed: then RandomNormalLike (other numbers)",
      random("RandomNormalLike", {"mean", "scale"}, {"mean", "std"}));
  map("random_uniform", "refused unless random ops are allowed: then RandomUniformLike (other numbers)",
      random("RandomUniformLike", {"low", "high"}, {"low", "high"}));
  return t;
}

}  // namespace

const std::map<std::string, OpEntry>& op_entries() {
  static const std::map<std::string, OpEntry> table = make_table();
  return table;
}

}  // namespace starc::onnx_export
