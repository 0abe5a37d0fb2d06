// runtime/onnx: ONNX operators as starc primitive ops (the table at the end; docs/onnx.md
// lists the same). Layers with weights (Gemm, Conv, BatchNormalization, ...) are in
// import_layers.cpp.
#include <fmt/format.h>

#include <cmath>

#include "compiler/ops/common.h"
#include "runtime/onnx/import_ops.h"
#include "runtime/onnx/import_split.h"

namespace starc {

namespace {

ImportValue scalar(double x, DType dt) { return known_value(Tensor::scalar(dt, x)); }

int axis_of(Importer& imp, int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) imp.fail(fmt::format("axis {} is out of range for rank {}", axis, rank));
  return int(axis < 0 ? axis + rank : axis);
}

// ---------------------------------------------------------------- elementwise

void unary(Importer& imp, const std::string& op, Attrs attrs = {}) {
  imp.define_output(0, imp.apply(op, {imp.in(0)}, std::move(attrs)));
}

void binary(Importer& imp, const std::string& op) { imp.define_output(0, imp.apply(op, {imp.in(0), imp.in(1)})); }

// Max, Min, Sum, Mean over any number of inputs.
void variadic(Importer& imp, const std::string& op) {
  ImportValue acc = imp.in(0);
  for (int i = 1; i < imp.node->input_size(); ++i) acc = imp.apply(op == "mean" ? "add" : op, {acc, imp.in(i)});
  if (op == "mean") acc = imp.apply("div", {acc, scalar(imp.node->input_size(), acc.type.dtype)});
  imp.define_output(0, acc);
}

void convert_identity(Importer& imp) {
  imp.define_output(0, imp.in(0));
  if (imp.node->output_size() > 1 && imp.uses(imp.node->output(1)))
    imp.fail("the dropout mask output is used; starc imports models for inference, where there is none");
}

void convert_reciprocal(Importer& imp) {
  imp.define_output(0, imp.apply("div", {scalar(1, imp.in(0).type.dtype), imp.in(0)}));
}

void convert_prelu(Importer& imp) {
  const ImportValue& x = imp.in(0);
  ImportValue neg = imp.apply("minimum", {x, scalar(0, x.type.dtype)});
  ImportValue pos = imp.apply("relu", {x});
  imp.define_output(0, imp.apply("add", {pos, imp.apply("mul", {imp.in(1), neg})}));
}

void convert_not(Importer& imp) {
  ImportValue as_int = imp.apply("cast", {imp.in(0)}, {{"dtype", DType::I64}});
  imp.define_output(0, imp.apply("eq", {as_int, scalar(0, DType::I64)}));
}

void logical(Importer& imp, const std::string& op) {
  ImportValue a = imp.apply("cast", {imp.in(0)}, {{"dtype", DType::I64}});
  ImportValue b = imp.apply("cast", {imp.in(1)}, {{"dtype", DType::I64}});
  ImportValue r = imp.apply(op == "and" ? "minimum" : op == "or" ? "maximum" : "ne", {a, b});
  imp.define_output(0, op == "xor" ? r : imp.apply("ne", {r, scalar(0, DType::I64)}));
}

void convert_clip(Importer& imp) {
  ImportValue x = imp.in(0);
  std::optional<double> lo, hi;
  if (imp.opset < 11) {
    if (imp.attr("min")) lo = imp.attr_float("min", 0);
    if (imp.attr("max")) hi = imp.attr_float("max", 0);
  } else {
    for (int i : {1, 2}) {
      if (!imp.has_in(i)) continue;
      const ImportValue& b = imp.in(i);
      if (!b.known || b.known->size() != 1) imp.fail("Clip bounds must be scalars known at import");
      (i == 1 ? lo : hi) = b.known->get(0);
    }
  }
  if (lo) x = imp.apply("maximum", {x, scalar(*lo, x.type.dtype)});
  if (hi) x = imp.apply("minimum", {x, scalar(*hi, x.type.dtype)});
  imp.define_output(0, x);
}

void convert_cast(Importer& imp) {
  int32_t to = int32_t(imp.attr_int("to", 0));
  std::optional<DType> dt = dtype_from_onnx(to);
  if (!dt) imp.fail(fmt::format("Cast to {} is not supported", onnx_type_name(to)));
  const ImportValue& x = imp.in(0);
  imp.define_output(0, x.type.dtype == *dt ? x : imp.apply("cast", {x}, {{"dtype", *dt}}));
}

void convert_leaky_relu(Importer& imp) { unary(imp, "leaky_relu", {{"alpha", imp.attr_float("alpha", 0.01)}}); }
void convert_elu(Importer& imp) { unary(imp, "elu", {{"alpha", imp.attr_float("alpha", 1.0)}}); }
void convert_gelu(Importer& imp) { unary(imp, "gelu", {{"approximate", imp.attr_str("approximate", "none")}}); }

void convert_softmax(Importer& imp, const std::string& op) {
  const ImportValue& x = imp.in(0);
  int rank = x.onnx_rank();
  int axis = axis_of(imp, imp.attr_int("axis", imp.opset < 13 ? 1 : -1), rank);
  // Before opset 13 the input is seen as 2-D [prod(dims < axis), prod(dims >= axis)].
  if (imp.opset < 13 && axis != rank - 1) {
    imp.fail("Softmax before opset 13 over more than the last axis is not supported; export with opset >= 13");
  }
  unary(imp, op, {{"axis", int64_t(axis)}});
}

// ---------------------------------------------------------------- reductions

void convert_reduce(Importer& imp, const std::string& op) {
  const ImportValue& x = imp.in(0);
  bool axes_input = imp.opset >= 18 || (imp.opset >= 13 && op == "sum");
  Ints axes;
  if (axes_input && imp.has_in(1))
    axes = imp.known_ints(1, "the axes");
  else if (!axes_input)
    axes = imp.attr_ints("axes").value_or(Ints{});
  if (axes.empty() && imp.attr_int("noop_with_empty_axes", 0)) return imp.define_output(0, x);
  for (auto& a : axes) a = axis_of(imp, a, x.type.rank());
  imp.define_output(0, imp.apply(op, {x}, {{"axes", axes}, {"keepdims", imp.attr_int("keepdims", 1) != 0}}));
}

void convert_argmax(Importer& imp) {
  if (imp.attr_int("select_last_index", 0)) imp.fail("ArgMax with select_last_index = 1 is not supported");
  unary(imp, "argmax", {{"axis", imp.attr_int("axis", 0)}, {"keepdims", imp.attr_int("keepdims", 1) != 0}});
}

// The axis is an input (a scalar or a 1-element tensor) known at import.
void convert_cumsum(Importer& imp) {
  Ints axis = imp.known_ints(1, "the axis");
  if (axis.size() != 1) imp.fail(fmt::format("the axis must be one integer, got {}", axis.size()));
  Attrs attrs = {{"axis", int64_t(axis_of(imp, axis[0], imp.in(0).type.rank()))}};
  for (const char* flag : {"exclusive", "reverse"})  // the defaults (0) left out of the source
    if (imp.attr_int(flag, 0)) attrs[flag] = true;
  unary(imp, "cumsum", attrs);
}

// TopK with k known at import: a stable argsort (ties: the lower index first, as ONNX
// defines; NaN counts as the largest, as torch.topk), its first k, and the values they
// pick. `sorted` 0 leaves the order open, so the sorted one is as good.
void convert_topk(Importer& imp) {
  const ImportValue& x = imp.in(0);
  int axis = axis_of(imp, imp.attr_int("axis", -1), x.type.rank());
  Dim n = x.type.shape[axis];
  if (is_sym(n)) imp.fail(fmt::format("TopK along the symbolic dim {}; starc needs a static axis", imp.dim_text(n)));
  Ints k = imp.known_ints(1, "k");
  if (k.size() != 1 || k[0] < 1 || k[0] > n)
    imp.fail(fmt::format("k must be one integer in [1, {}] (the axis length), got {}", n, imp.ints_text(k)));
  bool largest = imp.attr_int("largest", 1) != 0;
  Attrs sort = {{"axis", int64_t(axis)}};
  if (largest) sort["descending"] = true;
  ImportValue idx = imp.apply("argsort", {x}, sort);
  if (k[0] < n) idx = imp.apply("slice", {idx}, {{"axis", int64_t(axis)}, {"start", int64_t(0)}, {"end", k[0]}});
  imp.define_output(0, imp.apply("take_along_axis", {x, idx}, {{"axis", int64_t(axis)}}));
  imp.define_output(1, idx);
}

// ---------------------------------------------------------------- shapes

void convert_shape(Importer& imp) {
  const Shape s = onnx_shape(imp, imp.in(0));
  int64_t rank = int64_t(s.size());
  int64_t start = imp.attr_int("start", 0), end = imp.attr_int("end", rank);
  start = std::clamp(start < 0 ? start + rank : start, int64_t(0), rank);
  end = std::clamp(end < 0 ? end + rank : end, int64_t(0), rank);
  Shape part(s.begin() + start, s.begin() + std::max(start, end));
  Tensor t(DType::I64, {int64_t(part.size())});
  std::copy(part.begin(), part.end(), t.data<int64_t>());
  imp.define_output(0, known_value(t));
}

void convert_size(Importer& imp) {
  const Shape& s = imp.in(0).type.shape;
  if (!shape_is_static(s)) imp.fail("Size of a tensor with a symbolic dim is not known at import");
  imp.define_output(0, scalar(double(num_elements(s)), DType::I64));
}

ImportValue reshape_to(Importer& imp, const ImportValue& x, Shape shape) {
  if (x.type.shape == shape) return x;
  return imp.apply("reshape", {x}, {{"shape", Ints(shape)}});
}

void convert_reshape(Importer& imp) {
  const ImportValue& x = imp.in(0);
  Ints target = imp.opset < 5 ? imp.attr_ints("shape").value_or(Ints{}) : imp.known_ints(1, "the target shape", true);
  bool allow_zero = imp.attr_int("allowzero", 0) != 0;
  Shape in_shape = onnx_shape(imp, x);
  bool products = x.split();
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (i >= in_shape.size()) imp.fail(fmt::format("target dim {} copies a dim the input does not have", i));
      target[i] = in_shape[i];
    }
    products |= target[i] <= Importer::kDerivedBase;
  }
  imp.define_output(0, products ? reshape_split(imp, x, target) : reshape_to(imp, x, target));
}

void convert_flatten(Importer& imp) {
  const ImportValue& x = imp.in(0);
  int rank = x.type.rank();
  int64_t axis = imp.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  auto product = [&](int from, int to) {
    Dim p = 1;
    for (int i = from; i < to; ++i) {
      if (is_sym(x.type.shape[i])) {
        if (to - from == 1) return x.type.shape[i];
        imp.fail("Flatten over a symbolic dim together with others is not supported");
      }
      p *= x.type.shape[i];
    }
    return p;
  };
  Shape target = {product(0, int(axis)), product(int(axis), rank)};
  if (axis == 1 && rank > 2 && !x.known) {  // std.nn's flatten: keeps the batch axis
    return imp.define_output(
        0, imp.emit(fmt::format("flatten({})", imp.operand(x)), {x.type.dtype, target}, "", "flatten"));
  }
  imp.define_output(0, reshape_to(imp, x, target));
}

void convert_transpose(Importer& imp) {
  const ImportValue& x = imp.in(0);
  Ints perm = imp.attr_ints("perm").value_or(Ints{});
  if (perm.empty())
    for (int i = x.onnx_rank() - 1; i >= 0; --i) perm.push_back(i);
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == int64_t(i);
  imp.define_output(0, identity ? x : imp.apply("transpose", {x}, {{"perm", perm}}));
}

void convert_concat(Importer& imp) {
  std::vector<ImportValue> parts;
  for (int i = 0; i < imp.node->input_size(); ++i)
    if (imp.in(i).type.shape != Shape{0}) parts.push_back(imp.in(i));  // torch concatenates empty shapes
  if (parts.empty()) imp.fail("Concat needs at least one non-empty input");
  if (parts.size() == 1) return imp.define_output(0, parts[0]);
  int axis = axis_of(imp, imp.attr_int("axis", 0), parts.at(0).type.rank());
  imp.define_output(0, imp.apply("concat", parts, {{"axis", int64_t(axis)}}));
}

// Squeeze / Unsqueeze: a reshape to the new shape.
void convert_squeeze(Importer& imp, bool unsqueeze) {
  const ImportValue& x = imp.in(0);
  Ints axes = imp.opset >= 13 ? (imp.has_in(1) ? imp.known_ints(1, "the axes") : Ints{})
                              : imp.attr_ints("axes").value_or(Ints{});
  Shape s = x.type.shape;
  if (unsqueeze) {
    int out_rank = int(s.size() + axes.size());
    for (auto& a : axes) a = axis_of(imp, a, out_rank);
    std::sort(axes.begin(), axes.end());
    for (int64_t a : axes) s.insert(s.begin() + a, 1);
  } else {
    for (auto& a : axes) a = axis_of(imp, a, int(s.size()));
    Shape kept;
    for (int i = 0; i < int(s.size()); ++i) {
      bool drop = axes.empty() ? s[i] == 1 : std::count(axes.begin(), axes.end(), i) > 0;
      if (drop && s[i] != 1) imp.fail(fmt::format("cannot squeeze axis {} of size {}", i, dim_str(s[i], &imp.symbols)));
      if (!drop) kept.push_back(s[i]);
    }
    s = kept;
  }
  imp.define_output(0, reshape_to(imp, x, s));
}

// One axis of a Slice: Python semantics over a static dim.
ImportValue slice_axis(Importer& imp, ImportValue x, int axis, int64_t start, int64_t end, int64_t step) {
  Dim dim = x.type.shape[axis];
  if (step == 0) imp.fail("Slice with step 0");
  if (is_sym(dim)) {
    if (start == 0 && end >= (int64_t(1) << 31) && step == 1) return x;
    imp.fail(fmt::format("slices the symbolic dim {}; starc slices static axes only", dim_str(dim, &imp.symbols)));
  }
  if (step < 0) {  // walks backwards: ONNX clamps start to [0, n - 1] and end to [-1, n - 1]
    start = std::clamp(start < 0 ? start + dim : start, int64_t(0), dim - 1);
    end = std::clamp(end < 0 ? end + dim : end, int64_t(-1), dim - 1);
    if (end >= start) imp.fail("the slice selects nothing");
    // ONNX's end -1 is "past the first element", which Python's -1 is not: an end below
    // -n says it (printed as an omitted end, `x[5::-1]`).
    if (end < 0) end = kSliceFromEnd;
    return imp.apply("slice", {x}, {{"axis", int64_t(axis)}, {"start", start}, {"end", end}, {"step", step}});
  }
  auto clamp = [dim](int64_t i) { return std::clamp(i < 0 ? i + dim : i, int64_t(0), dim); };
  start = clamp(start), end = clamp(end);
  if (start == 0 && end == dim && step == 1) return x;
  if (end <= start) imp.fail("the slice selects nothing");
  return imp.apply("slice", {x}, {{"axis", int64_t(axis)}, {"start", start}, {"end", end}, {"step", step}});
}

void convert_slice(Importer& imp) {
  ImportValue x = imp.in(0);
  Ints starts, ends, axes, steps;
  if (imp.opset < 10) {
    starts = imp.attr_ints("starts").value_or(Ints{});
    ends = imp.attr_ints("ends").value_or(Ints{});
    axes = imp.attr_ints("axes").value_or(Ints{});
  } else {
    starts = imp.known_ints(1, "the starts"), ends = imp.known_ints(2, "the ends");
    if (imp.has_in(3)) axes = imp.known_ints(3, "the axes");
    if (imp.has_in(4)) steps = imp.known_ints(4, "the steps");
  }
  if (starts.size() != ends.size()) imp.fail("starts and ends differ in length");
  for (size_t i = 0; i < starts.size(); ++i) {
    int axis = axis_of(imp, axes.empty() ? int64_t(i) : axes.at(i), x.type.rank());
    x = slice_axis(imp, x, axis, starts[i], ends[i], steps.empty() ? 1 : steps.at(i));
  }
  imp.define_output(0, x);
}

void convert_split(Importer& imp) {
  const ImportValue& x = imp.in(0);
  int axis = axis_of(imp, imp.attr_int("axis", 0), x.type.rank());
  Dim dim = x.type.shape[axis];
  if (is_sym(dim)) imp.fail("Split along a symbolic dim is not supported");
  Ints sizes = imp.opset >= 13 ? (imp.has_in(1) ? imp.known_ints(1, "the split sizes") : Ints{})
                               : imp.attr_ints("split").value_or(Ints{});
  int n = imp.node->output_size();
  if (sizes.empty())
    for (int i = 0; i < n; ++i) sizes.push_back((dim + n - 1) / n);
  int64_t start = 0;
  for (int i = 0; i < n; ++i) {
    int64_t end = std::min<int64_t>(start + sizes.at(i), dim);
    imp.define_output(i, slice_axis(imp, x, axis, start, end, 1));
    start = end;
  }
}

// Gather on values known at import (shape vectors, constant tables), any axis.
Tensor gather_known(Importer& imp, const Tensor& data, const Tensor& idx, int axis) {
  Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
  out_shape.insert(out_shape.end(), idx.shape().begin(), idx.shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  if (data.size() && idx.size() > kMaxFolded / data.size() * data.shape()[axis])
    imp.fail("Gather of constants gives more than the 2^20 elements folded at import");
  int64_t outer = 1, inner = 1, n = data.shape()[axis];
  for (int i = 0; i < axis; ++i) outer *= data.shape()[i];
  for (int i = axis + 1; i < data.rank(); ++i) inner *= data.shape()[i];
  Tensor out(data.dtype(), out_shape);
  size_t es = dtype_size(data.dtype());
  auto* src = static_cast<const char*>(data.raw());
  auto* dst = static_cast<char*>(out.raw());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < idx.size(); ++j) {
      int64_t k = idx.data<int64_t>()[j];
      if (k < -n || k >= n) imp.fail(fmt::format("index {} is out of range for a dim of {}", k, n));
      if (k < 0) k += n;
      std::memcpy(dst + (o * idx.size() + j) * inner * es, src + (o * n + k) * inner * es, inner * es);
    }
  return out;
}

void convert_gather(Importer& imp) {
  const ImportValue& data = imp.in(0);
  const ImportValue& idx = imp.in(1);
  int axis = axis_of(imp, imp.attr_int("axis", 0), data.type.rank());
  if (idx.type.dtype != DType::I64) imp.fail("Gather indices must be integers");
  if (data.known && idx.known && data.type.shape[axis] &&
      double(data.known->size()) / double(data.type.shape[axis]) * double(idx.known->size()) <= double(kMaxFolded))
    return imp.define_output(0, known_value(gather_known(imp, *data.known, *idx.known, axis)));
  if (idx.known && idx.known->size() <= 64) {  // fixed indices: slices
    std::vector<ImportValue> parts;
    for (int64_t j = 0; j < idx.known->size(); ++j) {
      int64_t k = idx.known->data<int64_t>()[j];
      parts.push_back(slice_axis(imp, data, axis, k, k == -1 ? (int64_t(1) << 62) : k + 1, 1));
    }
    ImportValue joined = parts.size() == 1 ? parts[0] : imp.apply("concat", parts, {{"axis", int64_t(axis)}});
    Shape s(data.type.shape.begin(), data.type.shape.begin() + axis);
    s.insert(s.end(), idx.type.shape.begin(), idx.type.shape.end());
    s.insert(s.end(), data.type.shape.begin() + axis + 1, data.type.shape.end());
    return imp.define_output(0, reshape_to(imp, joined, s));
  }
  // Indices known only at run time (token ids into an embedding table): starc's gather,
  // which refuses negative indices where ONNX wraps them (an index input is checked
  // before the run).
  imp.define_output(0, imp.apply("gather", {data, idx}, {{"axis", int64_t(axis)}}));
}

// GatherElements is torch.gather: take_along_axis (idx shaped like data except on the axis).
void convert_gather_elements(Importer& imp) {
  const ImportValue& data = imp.in(0);
  const ImportValue& idx = imp.in(1);
  if (idx.type.dtype != DType::I64) imp.fail("GatherElements indices must be integers");
  int axis = axis_of(imp, imp.attr_int("axis", 0), data.type.rank());
  imp.define_output(0, imp.apply("take_along_axis", {data, idx}, {{"axis", int64_t(axis)}}));
}

void convert_expand(Importer& imp) {
  const ImportValue& x = imp.in(0);
  Ints shape = imp.known_ints(1, "the shape", true);
  Shape out(std::max<size_t>(shape.size(), x.type.shape.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {  // NumPy broadcasting of the two shapes, aligned right
    size_t from_end = out.size() - 1 - i;
    Dim a = from_end < x.type.shape.size() ? x.type.shape[x.type.shape.size() - 1 - from_end] : 1;
    Dim b = from_end < shape.size() ? shape[shape.size() - 1 - from_end] : 1;
    out[i] = a == 1 ? b : a;
  }
  imp.define_output(0, out == x.type.shape ? x : imp.apply("broadcast_to", {x}, {{"shape", Ints(out)}}));
}

void convert_constant(Importer& imp) {
  const auto& n = *imp.node;
  if (n.attribute_size() != 1) imp.fail("Constant needs exactly one value attribute");
  const auto& a = n.attribute(0);
  Tensor t;
  if (a.name() == "value")
    t = tensor_from_onnx(a.t(), imp.base_dir, imp.where() + ": value");
  else if (a.name() == "value_float")
    t = Tensor::scalar(DType::F32, a.f());
  else if (a.name() == "value_int")
    t = Tensor::scalar(DType::I64, double(a.i()));
  else if (a.name() == "value_floats" || a.name() == "value_ints") {
    bool ints = a.name() == "value_ints";
    t = Tensor(ints ? DType::I64 : DType::F32, {ints ? a.ints_size() : a.floats_size()});
    for (int64_t i = 0; i < t.size(); ++i) {
      if (ints)
        t.data<int64_t>()[i] = a.ints(int(i));
      else
        t.data<float>()[i] = a.floats(int(i));
    }
  } else {
    imp.fail(fmt::format("Constant attribute '{}' is not supported", a.name()));
  }
  imp.define_output(0, known_value(t));
}

void convert_constant_of_shape(Importer& imp) {
  Ints shape = imp.known_ints(0, "the shape", true);
  double value = 0;
  DType dt = DType::F32;
  if (const auto* a = imp.attr("value")) {
    Tensor t = tensor_from_onnx(a->t(), imp.base_dir, imp.where() + ": value");
    if (t.size() != 1) imp.fail("ConstantOfShape's value must hold one element");
    value = t.get(0), dt = t.dtype();
  }
  if (value == 0 && !shape_is_static(Shape(shape))) {  // written where used (often nowhere: LSTM states)
    ImportValue v;
    v.type = {dt, Shape(shape)};
    v.zeros = true;
    return imp.define_output(0, v);
  }
  imp.define_output(0, imp.apply("full", {}, {{"shape", shape}, {"value", value}, {"dtype", dt}}));
}

void convert_range(Importer& imp) {
  for (int i = 0; i < 3; ++i)
    if (!imp.in(i).known) imp.fail("Range bounds must be known at import");
  double start = imp.in(0).known->get(0), limit = imp.in(1).known->get(0), delta = imp.in(2).known->get(0);
  if (delta == 0) imp.fail("Range with delta 0");
  double steps = std::ceil((limit - start) / delta);
  if (!(steps <= double(kMaxFolded))) imp.fail("Range of more than 2^20 elements");
  int64_t n = std::max<int64_t>(0, int64_t(steps));
  Tensor t(imp.in(0).type.dtype, {n});
  for (int64_t i = 0; i < n; ++i) t.set(i, start + double(i) * delta);
  imp.define_output(0, known_value(t));
}

void convert_where(Importer& imp) { imp.define_output(0, imp.apply("where", {imp.in(0), imp.in(1), imp.in(2)})); }

void convert_pad(Importer& imp) {
  const ImportValue& x = imp.in(0);
  std::string mode = imp.attr_str("mode", "constant");
  if (mode != "constant") imp.fail(fmt::format("Pad mode '{}' is not supported (only constant)", mode));
  Ints pads = imp.opset < 11 ? imp.attr_ints("pads").value_or(Ints{}) : imp.known_ints(1, "the pads");
  double value = imp.opset < 11 ? imp.attr_float("value", 0) : 0;
  if (imp.opset >= 11 && imp.has_in(2)) {
    if (!imp.in(2).known) imp.fail("the pad value must be known at import");
    value = imp.in(2).known->get(0);
  }
  int rank = x.type.rank();
  Ints axes;
  if (imp.opset >= 18 && imp.has_in(3)) axes = imp.known_ints(3, "the axes");
  if (axes.empty())
    for (int i = 0; i < rank; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size()) imp.fail(fmt::format("{} pads for {} axes", pads.size(), axes.size()));
  Ints starc_pads(2 * rank, 0);  // lo0, hi0, lo1, hi1, ...
  for (size_t i = 0; i < axes.size(); ++i) {
    int a = axis_of(imp, axes[i], rank);
    if (pads[i] < 0 || pads[i + axes.size()] < 0) imp.fail("negative pads (cropping) are not supported");
    starc_pads[2 * a] = pads[i], starc_pads[2 * a + 1] = pads[i + axes.size()];
  }
  imp.define_output(0, imp.apply("pad", {x}, {{"pads", starc_pads}, {"value", value}}));
}

void convert_resize(Importer& imp) {
  const ImportValue& x = imp.in(0);
  if (imp.attr_str("mode", "nearest") != "nearest") imp.fail("Resize supports mode 'nearest' only");
  std::string coords = imp.attr_str("coordinate_transformation_mode", "half_pixel");
  std::string rounding = imp.attr_str("nearest_mode", "round_prefer_floor");
  bool floor_like = (coords == "asymmetric" && rounding == "floor") ||
                    ((coords == "half_pixel" || coords == "pytorch_half_pixel") && rounding != "ceil");
  if (!floor_like) imp.fail(fmt::format("Resize with {} / {} is not supported", coords, rounding));
  int rank = x.type.rank();
  Ints scale;
  if (imp.has_in(3) && imp.in(3).known && imp.in(3).known->size()) {
    Ints sizes = imp.known_ints(3, "the sizes", true);
    for (int i = 0; i < rank; ++i) {
      Dim d = x.type.shape[i];
      if (is_sym(d) || sizes.at(i) % d) imp.fail("Resize sizes must be whole multiples of static dims");
      scale.push_back(sizes[i] / d);
    }
  } else {
    int si = imp.opset < 11 ? 1 : 2;
    const ImportValue& s = imp.in(si);
    if (!s.known || s.known->size() != rank) imp.fail("Resize scales must be known at import, one per dim");
    for (int i = 0; i < rank; ++i) {
      double f = s.known->get(i);
      if (f < 1 || f != std::floor(f)) imp.fail(fmt::format("Resize scale {} is not a whole number >= 1", f));
      scale.push_back(int64_t(f));
    }
  }
  if (rank < 3 || scale[0] != 1 || scale[1] != 1) imp.fail("Resize must keep the batch and channel dims");
  imp.define_output(0, imp.apply("upsample", {x}, {{"scale", Ints(scale.begin() + 2, scale.end())}}));
}

const std::map<std::string, OnnxOp>& primitive_table() {
  static const std::map<std::string, OnnxOp> t = {
      {"Relu", {[](Importer& i) { unary(i, "relu"); }, "relu"}},
      {"Sigmoid", {[](Importer& i) { unary(i, "sigmoid"); }, "sigmoid"}},
      {"Tanh", {[](Importer& i) { unary(i, "tanh"); }, "tanh"}},
      {"Exp", {[](Importer& i) { unary(i, "exp"); }, "exp"}},
      {"Log", {[](Importer& i) { unary(i, "log"); }, "log"}},
      {"Sqrt", {[](Importer& i) { unary(i, "sqrt"); }, "sqrt"}},
      {"Abs", {[](Importer& i) { unary(i, "abs"); }, "abs"}},
      {"Neg", {[](Importer& i) { unary(i, "neg"); }, "neg"}},
      {"Sin", {[](Importer& i) { unary(i, "sin"); }, "sin"}},
      {"Cos", {[](Importer& i) { unary(i, "cos"); }, "cos"}},
      {"Erf", {[](Importer& i) { unary(i, "erf"); }, "erf"}},
      {"Sign", {[](Importer& i) { unary(i, "sign"); }, "sign"}},
      {"Softplus", {[](Importer& i) { unary(i, "softplus"); }, "softplus"}},
      {"Reciprocal", {convert_reciprocal, "`1 / x`"}},
      {"LeakyRelu", {convert_leaky_relu, "leaky_relu (alpha)"}},
      {"Elu", {convert_elu, "elu (alpha)"}},
      {"Gelu", {convert_gelu, "gelu (approximate)"}},
      {"PRelu", {convert_prelu, "relu(x) + slope * minimum(x, 0)"}},
      {"Identity", {convert_identity, "nothing (the input)"}},
      {"Dropout", {convert_identity, "nothing (inference: the input; the mask output refused)"}},
      {"Add", {[](Importer& i) { binary(i, "add"); }, "`+`"}},
      {"Sub", {[](Importer& i) { binary(i, "sub"); }, "`-`"}},
      {"Mul", {[](Importer& i) { binary(i, "mul"); }, "`*`"}},
      {"Div", {[](Importer& i) { binary(i, "div"); }, "`/` (integers truncate)"}},
      {"Pow", {[](Importer& i) { binary(i, "pow"); }, "`**`"}},
      {"Equal", {[](Importer& i) { binary(i, "eq"); }, "eq"}},
      {"Less", {[](Importer& i) { binary(i, "lt"); }, "lt"}},
      {"LessOrEqual", {[](Importer& i) { binary(i, "le"); }, "le"}},
      {"Greater", {[](Importer& i) { binary(i, "gt"); }, "gt"}},
      {"GreaterOrEqual", {[](Importer& i) { binary(i, "ge"); }, "ge"}},
      {"Not", {convert_not, "cast to i64, eq 0"}},
      {"And", {[](Importer& i) { logical(i, "and"); }, "minimum of i64 casts"}},
      {"Or", {[](Importer& i) { logical(i, "or"); }, "maximum of i64 casts"}},
      {"Xor", {[](Importer& i) { logical(i, "xor"); }, "ne of i64 casts"}},
      {"Max", {[](Importer& i) { variadic(i, "maximum"); }, "maximum (any number of inputs)"}},
      {"Min", {[](Importer& i) { variadic(i, "minimum"); }, "minimum (any number of inputs)"}},
      {"Sum", {[](Importer& i) { variadic(i, "add"); }, "`+` (any number of inputs)"}},
      {"Mean", {[](Importer& i) { variadic(i, "mean"); }, "`+`, `/` (any number of inputs)"}},
      {"Where", {convert_where, "where"}},
      {"Clip", {convert_clip, "maximum / minimum with the bounds (known at import)"}},
      {"Cast", {convert_cast, "cast (float16 -> f32, integers -> i64)"}},
      {"Softmax",
       {[](Importer& i) { convert_softmax(i, "softmax"); }, "softmax (axis; before opset 13 the last axis only)"}},
      {"LogSoftmax", {[](Importer& i) { convert_softmax(i, "log_softmax"); }, "log_softmax (as Softmax)"}},
      {"ReduceMean", {[](Importer& i) { convert_reduce(i, "mean"); }, "mean (axes, keepdims)"}},
      {"ReduceSum", {[](Importer& i) { convert_reduce(i, "sum"); }, "sum (axes, keepdims)"}},
      {"ReduceMax", {[](Importer& i) { convert_reduce(i, "max"); }, "max (axes, keepdims)"}},
      {"ReduceMin", {[](Importer& i) { convert_reduce(i, "min"); }, "min (axes, keepdims)"}},
      {"ArgMax", {convert_argmax, "argmax (select_last_index 0)"}},
      {"CumSum", {convert_cumsum, "cumsum (axis known at import; exclusive, reverse)"}},
      {"TopK",
       {convert_topk,
        "argsort, slice, take_along_axis (k known at import; ties: the lower index first, NaN the largest)"}},
      {"Shape", {convert_shape, "folded: the dims (a symbolic dim kept as itself)"}},
      {"Size", {convert_size, "folded (static shapes)"}},
      {"Reshape", {convert_reshape, "reshape (0 copies a dim, -1 inferred; the shape known at import)"}},
      {"Flatten", {convert_flatten, "flatten (axis 1) or reshape"}},
      {"Transpose", {convert_transpose, "transpose (one that undoes the previous transpose vanishes)"}},
      {"Concat", {convert_concat, "concat"}},
      {"Squeeze", {[](Importer& i) { convert_squeeze(i, false); }, "reshape"}},
      {"Unsqueeze", {[](Importer& i) { convert_squeeze(i, true); }, "reshape"}},
      {"Slice",
       {convert_slice, "indexing `x[:, a:b:s]` (static axes; a negative step walks backwards, `x[:, 5::-2]`)"}},
      {"Split", {convert_split, "indexing, one per output"}},
      {"Gather", {convert_gather, "folded (known data), indexing (known indices), else gather (indices in [0, n))"}},
      {"GatherElements", {convert_gather_elements, "take_along_axis"}},
      {"Expand", {convert_expand, "broadcast_to"}},
      {"Constant", {convert_constant, "folded"}},
      {"ConstantOfShape", {convert_constant_of_shape, "full (folded when static)"}},
      {"Range", {convert_range, "folded"}},
      {"Pad", {convert_pad, "pad (constant mode)"}},
      {"Resize", {convert_resize, "upsample (nearest, whole scales, N and C kept)"}},
  };
  return t;
}

}  // namespace

const OnnxConverter* find_converter(const std::string& op_type) {
  if (const OnnxOp* op = find_layer_op(op_type)) return &op->convert;
  auto it = primitive_table().find(op_type);
  return it == primitive_table().end() ? nullptr : &it->second.convert;
}

std::string onnx_import_table_markdown() {
  std::map<std::string, std::string> rows;
  for (const auto& [name, op] : primitive_table()) rows[name] = op.becomes;
  for (const auto& [name, op] : layer_ops()) rows[name] = op->becomes;
  std::string s = "| ONNX operator | becomes |\n|---|---|\n";
  for (const auto& [name, becomes] : rows) s += fmt::format("| {} | {} |\n", name, becomes);
  return s;
}

}  // namespace starc
