// runtime/onnx: ONNX operators with weights, written as std.nn layers where the pattern is
// plain (Gemm / MatMul(+Add) -> dense, Conv -> conv1d/conv2d, BatchNormalization ->
// batchnorm, LayerNormalization -> layernorm, pools with stride = window -> maxpool1d...),
// so that the imported source reads like a hand-written model and its weights get layer
// names (`fc1.weight`). Anything else falls back to primitive ops on model-level params.
#include <fmt/format.h>

#include "runtime/onnx/import_ops.h"

namespace starc {

namespace {

// The value of an initializer that only this node uses (a layer may own it), else nullptr.
const Tensor* owned_weight(Importer& imp, int i) {
  if (!imp.has_in(i) || imp.subgraph_depth > 0) return nullptr;
  const ImportValue& v = imp.in(i);
  if (v.initializer.empty() || !v.known || imp.uses(imp.node->input(i)) != 1) return nullptr;
  return &*v.known;
}

Tensor transposed(const Tensor& w) { return evaluate("transpose", {w}, {{"perm", Ints{1, 0}}}); }

// `y = layer(x, args) as scope` with the given weights under `scope.<name>`.
}  // namespace

ImportValue emit_layer(Importer& imp, const std::string& layer, const ImportValue& x, const std::string& args,
                       const std::string& scope, const std::vector<std::pair<std::string, Tensor>>& weights,
                       const TensorType& out, const std::string& hint) {
  std::vector<std::string> names;
  for (const auto& [name, t] : weights) {
    names.push_back(scope + "." + name);
    imp.add_weight(names.back(), t);
  }
  std::string call = fmt::format("{}({}{}{}) as {}", layer, imp.operand(x), args.empty() ? "" : ", ", args, scope);
  return imp.emit(call, out, hint, layer, names);
}

namespace {

std::string bias_arg(bool has_bias) { return has_bias ? "" : ", bias: false"; }

// ---------------------------------------------------------------- dense

// The Add reading `y` alone, when its other input is an initializer of shape `shape` only
// it uses (a bias that an exporter, starc's own included, wrote as a separate node).
const onnx::NodeProto* bias_add(Importer& imp, const std::string& y, const Shape& shape, const Tensor** bias) {
  std::vector<const onnx::NodeProto*> users = imp.consumers(y);
  if (users.size() != 1 || users[0]->op_type() != "Add" || users[0]->input_size() != 2 || users[0]->output_size() < 1 ||
      users[0]->output(0).empty())
    return nullptr;
  const onnx::NodeProto* add = users[0];
  for (const std::string& other : add->input()) {
    if (other == y || !imp.has(other) || imp.uses(other) != 1) continue;
    const ImportValue& b = imp.value(other);
    if (!b.initializer.empty() && b.known && b.known->shape() == shape) {
      *bias = &*b.known;
      return add;
    }
  }
  return nullptr;
}

ImportValue dense(Importer& imp, const ImportValue& x, const Tensor& weight_out_in, const Tensor* bias,
                  const std::string& initializer) {
  Dim out = weight_out_in.shape()[0];
  if (x.type.rank() == 0 || x.type.shape.back() != weight_out_in.shape()[1] || weight_out_in.dtype() != x.type.dtype)
    imp.fail(fmt::format("weight {} does not fit the input {}", type_str(weight_out_in.type()), imp.type_text(x.type)));
  Shape s = x.type.shape;
  s.back() = out;
  std::vector<std::pair<std::string, Tensor>> w = {{"weight", weight_out_in}};
  if (bias) w.push_back({"bias", *bias});
  std::string scope = imp.scope_name(initializer, "dense");
  ImportValue y = emit_layer(imp, "dense", x, fmt::format("{}{}", out, bias_arg(bias)), scope, w, {x.type.dtype, s});
  y.groups = x.groups;  // over the last axis: split leading axes stay split
  return y;
}

void convert_matmul_layer(Importer& imp) {
  const ImportValue& x = imp.in(0);
  const Tensor* w = owned_weight(imp, 1);
  if (!w || w->rank() != 2 || x.onnx_rank() < 2 || x.known) {
    return imp.define_output(0, imp.apply("matmul", {x, imp.in(1)}));
  }
  const Tensor* bias = nullptr;
  const onnx::NodeProto* add = bias_add(imp, imp.node->output(0), {w->shape()[1]}, &bias);
  ImportValue y = dense(imp, x, transposed(*w), bias, imp.in(1).initializer);
  if (!add) return imp.define_output(0, y);
  imp.fused.insert(add);
  imp.define(add->output(0), y);
}

void convert_gemm(Importer& imp) {
  ImportValue a = imp.in(0);
  if (a.onnx_rank() != 2 || imp.in(1).onnx_rank() != 2) imp.fail("Gemm multiplies 2-D matrices");
  double alpha = imp.attr_float("alpha", 1), beta = imp.attr_float("beta", 1);
  bool trans_a = imp.attr_int("transA", 0), trans_b = imp.attr_int("transB", 0);
  const Tensor* w = owned_weight(imp, 1);
  if (w && w->rank() == 2 && !trans_a && alpha == 1 && beta == 1) {
    Dim out = w->shape()[trans_b ? 0 : 1];
    bool row_bias = imp.has_in(2) && imp.in(2).type.shape == Shape{out};
    if (!imp.has_in(2) || row_bias) {
      // A bias another node shares (exporters merge equal initializers) stays a separate add.
      const Tensor* c = owned_weight(imp, 2);
      ImportValue y = dense(imp, a, trans_b ? *w : transposed(*w), c, imp.in(1).initializer);
      return imp.define_output(0, imp.has_in(2) && !c ? imp.apply("add", {y, imp.in(2)}) : y);
    }
  }
  ImportValue b = imp.in(1);
  if (trans_a) a = imp.apply("transpose", {a}, {{"perm", Ints{1, 0}}});
  if (trans_b) b = imp.apply("transpose", {b}, {{"perm", Ints{1, 0}}});
  ImportValue y = imp.apply("matmul", {a, b});
  DType dt = y.type.dtype;
  if (alpha != 1) y = imp.apply("mul", {y, known_value(Tensor::scalar(dt, alpha))});
  if (imp.has_in(2)) {
    ImportValue cv = imp.in(2);
    if (beta != 1) cv = imp.apply("mul", {cv, known_value(Tensor::scalar(dt, beta))});
    y = imp.apply("add", {y, cv});
  }
  imp.define_output(0, y);
}

// ---------------------------------------------------------------- convolutions and pools

struct Window {
  Ints kernel, stride, pad_lo, pad_hi, dilation;
  bool symmetric() const { return pad_lo == pad_hi; }
  static bool uniform(const Ints& v) {
    return std::adjacent_find(v.begin(), v.end(), std::not_equal_to<>()) == v.end();
  }
};

Window window_attrs(Importer& imp, int spatial, const Ints& kernel, int64_t default_stride_is_kernel) {
  Window w;
  w.kernel = kernel;
  w.stride = imp.attr_ints("strides").value_or(default_stride_is_kernel ? kernel : Ints(spatial, 1));
  w.dilation = imp.attr_ints("dilations").value_or(Ints(spatial, 1));
  Ints pads = imp.attr_ints("pads").value_or(Ints(2 * spatial, 0));
  std::string auto_pad = imp.attr_str("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    imp.fail(fmt::format("auto_pad '{}' is not supported; export with explicit pads", auto_pad));
  if (int(pads.size()) != 2 * spatial || int(w.stride.size()) != spatial || int(w.dilation.size()) != spatial)
    imp.fail("pads, strides or dilations do not match the kernel's rank");
  w.pad_lo.assign(pads.begin(), pads.begin() + spatial);
  w.pad_hi.assign(pads.begin() + spatial, pads.end());
  return w;
}

// Input x padded by the asymmetric part of the window's padding, so that the op itself
// pads symmetrically (min of the two sides).
ImportValue pad_asymmetric(Importer& imp, ImportValue x, Window& w, double value) {
  if (w.symmetric()) return x;
  Ints pads(2 * x.type.rank(), 0);
  for (size_t i = 0; i < w.kernel.size(); ++i) {
    int64_t common = std::min(w.pad_lo[i], w.pad_hi[i]);
    pads[2 * (i + 2)] = w.pad_lo[i] - common, pads[2 * (i + 2) + 1] = w.pad_hi[i] - common;
    w.pad_lo[i] = w.pad_hi[i] = common;
  }
  return imp.apply("pad", {x}, {{"pads", pads}, {"value", value}});
}

void convert_conv(Importer& imp, bool transpose) {
  ImportValue x = imp.in(0);
  const ImportValue& wv = imp.in(1);
  int spatial = x.type.rank() - 2;
  if (spatial != 1 && spatial != 2)
    imp.fail(fmt::format("{}-D convolutions are not supported (1-D and 2-D are)", spatial));
  int64_t groups = imp.attr_int("group", 1);
  if (transpose && imp.attr("output_shape")) imp.fail("ConvTranspose with output_shape is not supported; give pads");
  if (wv.type.rank() != x.type.rank())
    imp.fail(fmt::format("the weight {} does not fit the input {}", imp.type_text(wv.type), imp.type_text(x.type)));
  Ints kernel(wv.type.shape.begin() + 2, wv.type.shape.end());
  Window w = window_attrs(imp, spatial, kernel, false);
  Ints out_pad = imp.attr_ints("output_padding").value_or(Ints(spatial, 0));
  if (transpose && !w.symmetric()) imp.fail("ConvTranspose with asymmetric pads is not supported");
  x = pad_asymmetric(imp, x, w, 0);
  std::string op = fmt::format("{}{}d", transpose ? "conv_transpose" : "conv", spatial);
  Attrs attrs = {{"stride", w.stride}, {"padding", w.pad_lo}, {"dilation", w.dilation}};
  if (groups != 1) attrs["groups"] = groups;
  if (transpose) attrs["output_padding"] = out_pad;
  const Tensor* weight = owned_weight(imp, 1);
  const Tensor* bias = owned_weight(imp, 2);
  TensorType out = imp.infer(op, {x.type, wv.type}, attrs);
  bool layer_form = weight && (bias || !imp.has_in(2)) && Window::uniform(kernel) && Window::uniform(w.stride) &&
                    Window::uniform(w.pad_lo) && Window::uniform(w.dilation) && Window::uniform(out_pad) &&
                    (!transpose || w.dilation[0] == 1);
  if (layer_form) {
    std::string args = fmt::format("out: {}, kernel: {}", out.shape[1], kernel[0]);
    if (w.stride[0] != 1) args += fmt::format(", stride: {}", w.stride[0]);
    if (w.pad_lo[0] != 0) args += fmt::format(", padding: {}", w.pad_lo[0]);
    if (!transpose && w.dilation[0] != 1) args += fmt::format(", dilation: {}", w.dilation[0]);
    if (transpose && out_pad[0] != 0) args += fmt::format(", output_padding: {}", out_pad[0]);
    if (groups != 1) args += fmt::format(", groups: {}", groups);
    const onnx::NodeProto* add = nullptr;
    Tensor fused_bias;
    if (!imp.has_in(2)) {  // Conv, then Add of a [out, 1, ...] initializer: the layer's bias
      Shape bshape(size_t(spatial + 1), 1);
      bshape[0] = out.shape[1];
      if ((add = bias_add(imp, imp.node->output(0), bshape, &bias))) fused_bias = bias->reshaped({out.shape[1]});
      if (add) bias = &fused_bias;
    }
    args += bias_arg(bias);
    std::vector<std::pair<std::string, Tensor>> weights = {{"weight", *weight}};
    if (bias) weights.push_back({"bias", *bias});
    ImportValue y = emit_layer(imp, op, x, args, imp.scope_name(wv.initializer, op), weights, out);
    if (add) imp.fused.insert(add), imp.define(add->output(0), y);
    return imp.define_output(0, y);
  }
  ImportValue y = imp.apply(op, {x, wv}, attrs);
  if (imp.has_in(2)) {
    Shape bshape(size_t(spatial + 1), 1);
    bshape[0] = out.shape[1];
    y = imp.apply("add", {y, imp.apply("reshape", {imp.in(2)}, {{"shape", Ints(bshape)}})});
  }
  imp.define_output(0, y);
}

void convert_pool(Importer& imp, bool max) {
  ImportValue x = imp.in(0);
  int spatial = x.type.rank() - 2;
  if (spatial != 1 && spatial != 2) imp.fail(fmt::format("{}-D pooling is not supported (1-D and 2-D are)", spatial));
  if (imp.attr_int("ceil_mode", 0)) imp.fail("ceil_mode = 1 is not supported (starc pools in floor mode)");
  if (imp.node->output_size() > 1 && imp.uses(imp.node->output(1))) imp.fail("the indices output is not supported");
  Window w = window_attrs(imp, spatial, imp.attr_ints("kernel_shape").value_or(Ints{}), false);
  if (int(w.kernel.size()) != spatial) imp.fail("kernel_shape does not match the input's rank");
  for (int64_t d : w.dilation)
    if (d != 1) imp.fail("pooling with dilations is not supported");
  bool padded = std::any_of(w.pad_lo.begin(), w.pad_lo.end(), [](int64_t p) { return p; }) || !w.symmetric();
  if (!max && padded && !imp.attr_int("count_include_pad", 0))
    imp.fail("AveragePool with pads and count_include_pad = 0 is not supported (starc counts the padding)");
  if (max)
    x = pad_asymmetric(imp, x, w, -INFINITY);
  else if (!w.symmetric())
    imp.fail("AveragePool with asymmetric pads is not supported");
  std::string op = fmt::format("{}pool{}d", max ? "max" : "avg", spatial);
  Attrs attrs = {{"kernel", w.kernel}, {"stride", w.stride}, {"padding", w.pad_lo}};
  TensorType out = imp.infer(op, {x.type}, attrs);
  if (Window::uniform(w.kernel) && w.stride == w.kernel && !padded && !x.known) {  // std.nn's maxpool2d(x, 2)
    return imp.define_output(0, imp.emit(fmt::format("{}({}, {})", op, imp.operand(x), w.kernel[0]), out, "", op));
  }
  imp.define_output(0, imp.apply(op, {x}, attrs));
}

void convert_global_pool(Importer& imp, const std::string& op) {
  const ImportValue& x = imp.in(0);
  Ints axes;
  for (int i = 2; i < x.type.rank(); ++i) axes.push_back(i);
  imp.define_output(0, imp.apply(op, {x}, {{"axes", axes}, {"keepdims", true}}));
}

// ---------------------------------------------------------------- normalisation

void convert_batch_norm(Importer& imp) {
  const ImportValue& x = imp.in(0);
  if (imp.attr_int("training_mode", 0)) imp.fail("training_mode = 1 is not supported (import is for inference)");
  double eps = imp.attr_float("epsilon", 1e-5), momentum = imp.attr_float("momentum", 0.9);
  const Tensor* p[4] = {owned_weight(imp, 1), owned_weight(imp, 2), owned_weight(imp, 3), owned_weight(imp, 4)};
  TensorType out =
      imp.infer("batch_norm", {x.type, imp.in(1).type, imp.in(2).type, imp.in(3).type, imp.in(4).type}, {{"eps", eps}});
  if (p[0] && p[1] && p[2] && p[3] && x.type.rank() >= 2) {
    // ONNX's momentum weighs the running value; starc's (PyTorch's) the batch statistic.
    std::string args = fmt::format("eps: {}", number_text(eps, true));
    if (std::abs((1 - momentum) - 0.1) > 1e-6) args += fmt::format(", momentum: {}", number_text(1 - momentum, true));
    std::vector<std::pair<std::string, Tensor>> w = {
        {"weight", *p[0]}, {"bias", *p[1]}, {"running_mean", *p[2]}, {"running_var", *p[3]}};
    return imp.define_output(
        0, emit_layer(imp, "batchnorm", x, args, imp.scope_name(imp.in(1).initializer, "bn"), w, out));
  }
  imp.define_output(0, imp.apply("batch_norm", {x, imp.in(1), imp.in(2), imp.in(3), imp.in(4)}, {{"eps", eps}}));
}

void convert_layer_norm(Importer& imp) {
  const ImportValue& x = imp.in(0);
  int rank = x.type.rank();
  int64_t axis = imp.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  double eps = imp.attr_float("epsilon", 1e-5);
  const Tensor* scale = owned_weight(imp, 1);
  const Tensor* bias = owned_weight(imp, 2);
  for (int i = 1; i < imp.node->output_size(); ++i)
    if (imp.uses(imp.node->output(i)))
      imp.fail("LayerNormalization's mean and inverse-deviation outputs are not supported");
  if (axis == rank - 1 && scale && bias && scale->rank() == 1) {
    std::string args = fmt::format("eps: {}", number_text(eps, true));
    return imp.define_output(0, emit_layer(imp, "layernorm", x, args, imp.scope_name(imp.in(1).initializer, "ln"),
                                           {{"weight", *scale}, {"bias", *bias}}, x.type));
  }
  Ints axes;
  for (int64_t i = axis; i < rank; ++i) axes.push_back(i);
  ImportValue y = imp.apply("layer_norm", {x}, {{"axes", axes}, {"eps", eps}});
  y = imp.apply("mul", {y, imp.in(1)});
  if (imp.has_in(2)) y = imp.apply("add", {y, imp.in(2)});
  imp.define_output(0, y);
}

const std::map<std::string, OnnxOp>& layer_table() {
  static const std::map<std::string, OnnxOp> t = {
      {"Gemm", {convert_gemm, "`dense` (a weight initializer, alpha = beta = 1), else matmul, transpose, `*`, `+`"}},
      {"MatMul", {convert_matmul_layer, "`dense` (a 2-D weight initializer, with the following bias Add), else `@`"}},
      {"Conv",
       {[](Importer& i) { convert_conv(i, false); },
        "`conv1d` / `conv2d` (uniform kernel, stride, padding, dilation), else prim.conv (asymmetric pads via pad); "
        "groups: one conv per group"}},
      {"ConvTranspose",
       {[](Importer& i) { convert_conv(i, true); },
        "`conv_transpose1d` / `conv_transpose2d` (symmetric pads, groups; no output_shape)"}},
      {"MaxPool",
       {[](Importer& i) { convert_pool(i, true); },
        "`maxpool1d` / `maxpool2d` (stride = window), else prim.maxpool (ceil_mode 0, no dilations)"}},
      {"AveragePool",
       {[](Importer& i) { convert_pool(i, false); },
        "`avgpool1d` / `avgpool2d` (as MaxPool; with pads, count_include_pad 1)"}},
      {"GlobalAveragePool",
       {[](Importer& i) { convert_global_pool(i, "mean"); }, "mean over the spatial axes (keepdims)"}},
      {"GlobalMaxPool", {[](Importer& i) { convert_global_pool(i, "max"); }, "max over the spatial axes (keepdims)"}},
      {"BatchNormalization",
       {convert_batch_norm, "`batchnorm` (inference; running statistics as state), else batch_norm"}},
      {"LayerNormalization",
       {convert_layer_norm, "`layernorm` (last axis, scale and bias initializers), else layer_norm, `*`, `+`"}},
      {"LSTM",
       {convert_lstm,
        "`lstm` per direction (default activations, no sequence_lens, clip or peepholes); initial_h/_c as "
        "`initial:`, Y_h/Y_c by `return_state: true`"}},
      {"Scan",
       {convert_scan,
        "`scan(step, xs, (states...), axis, reverse)` with the body as a nested `fn` (one scan input and output, final "
        "states unused)"}},
      {"GRU", {convert_gru, "`gru` per direction (linear_before_reset 1, defaults as LSTM)"}},
  };
  return t;
}

}  // namespace

const OnnxOp* find_layer_op(const std::string& op_type) {
  auto it = layer_table().find(op_type);
  return it == layer_table().end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, const OnnxOp*>> layer_ops() {
  std::vector<std::pair<std::string, const OnnxOp*>> ops;
  for (const auto& [name, op] : layer_table()) ops.push_back({name, &op});
  return ops;
}

}  // namespace starc
