// runtime/onnx: ONNX Scan as the language's `scan`: the body graph becomes a nested
// `fn step(states..., x_t) { ...; return (states'..., y_t) }` (it reads outer values by
// name, as the nested fn captures enclosing variables), then
// `ys = scan(step, xs, (init...), axis: A, reverse: R)`. This is how `starc export` writes
// LSTM and GRU layers, so their models come back. The language's scan takes one sequence
// and returns one stacked output, so Scans with more, or whose final states are used, are
// refused.
#include <fmt/format.h>

#include "runtime/onnx/import_ops.h"

namespace starc {

namespace {

struct ScanShape {
  int n_states = 0;
  int64_t axis = 0;
  bool reverse = false;
};

ScanShape scan_shape(Importer& imp, const onnx::GraphProto& body) {
  ScanShape s;
  int64_t m = imp.attr_int("num_scan_inputs", 0);
  if (imp.opset < 9) imp.fail("Scan before opset 9 is not supported");
  if (m != 1) imp.fail(fmt::format("Scan with {} scan inputs is not supported (the language's scan takes one)", m));
  s.n_states = imp.node->input_size() - 1;
  if (s.n_states < 1) imp.fail("Scan needs at least one state");
  if (body.input_size() != s.n_states + 1 || body.output_size() != s.n_states + 1)
    imp.fail(
        fmt::format("the body must have {} inputs and outputs (the states, then one scan input and output), has "
                    "{} and {}",
                    s.n_states + 1, body.input_size(), body.output_size()));
  auto one = [&](const char* name) {
    std::optional<Ints> v = imp.attr_ints(name);
    if (v && v->size() != 1) imp.fail(fmt::format("{} must have one entry", name));
    return v ? (*v)[0] : 0;
  };
  int rank = imp.in(s.n_states).onnx_rank();
  s.axis = one("scan_input_axes");
  if (s.axis < -rank || s.axis >= rank) imp.fail(fmt::format("scan axis {} is out of range", s.axis));
  if (s.axis < 0) s.axis += rank;
  int64_t out_axis = one("scan_output_axes");
  if (out_axis < 0) out_axis += rank;
  if (out_axis != s.axis) imp.fail("Scan with the output stacked along another axis than the input is not supported");
  s.reverse = one("scan_input_directions") != 0;
  if ((one("scan_output_directions") != 0) != s.reverse)
    imp.fail("Scan whose outputs run in another direction than its input is not supported");
  for (int i = 0; i < s.n_states; ++i)
    if (i < imp.node->output_size() && imp.uses(imp.node->output(i)))
      imp.fail("the final states of a Scan are not supported (the language's scan returns the stacked outputs)");
  return s;
}

// The body's statements as a nested fn; returns the fn's name and the step output's type.
std::pair<std::string, TensorType> body_fn(Importer& imp, const onnx::GraphProto& body, const ScanShape& s) {
  const onnx::NodeProto* scan_node = imp.node;
  std::vector<std::string> params;
  for (int i = 0; i <= s.n_states; ++i) {
    ImportValue v;
    v.type = imp.in(i).type;
    if (i == s.n_states) v.type.shape.erase(v.type.shape.begin() + s.axis);  // one time step
    v.expr = imp.fresh_var(body.input(i).name());
    params.push_back(v.expr);
    imp.define(body.input(i).name(), v);
  }
  for (const auto& init : body.initializer()) imp.define_initializer(init);
  std::vector<Statement> outer = std::move(imp.body);
  imp.body.clear();
  ++imp.subgraph_depth;
  for (const auto& n : body.node()) convert_node(imp, n);
  imp.node = scan_node;
  std::vector<std::string> returned;
  TensorType y;
  for (const auto& o : body.output()) {
    const ImportValue& v = imp.value(o.name());
    if (v.split()) imp.fail("a Scan body output has a dim that is a product with a symbolic dim");
    returned.push_back(imp.operand(v));
    y = v.type;
  }
  for (int i = 0; i < s.n_states; ++i)
    if (imp.value(body.output(i).name()).type != imp.in(i).type)
      imp.fail(fmt::format("the body's state {} changes type ({} -> {})", i, imp.type_text(imp.in(i).type),
                           imp.type_text(imp.value(body.output(i).name()).type)));
  --imp.subgraph_depth;
  std::string name = imp.fresh_var("step");
  std::string text = fmt::format("fn {}({}) {{  # the body of {} (Scan)\n", name, fmt::join(params, ", "),
                                 scan_node->name().empty() ? scan_node->output(0) : scan_node->name());
  for (const auto& st : imp.body) text += "        " + st.text() + "\n";
  text += fmt::format("        return ({})\n    }}", fmt::join(returned, ", "));
  imp.body = std::move(outer);
  Statement fn{name, text, "", {}, "", true};
  imp.body.push_back(fn);
  return {name, y};
}

}  // namespace

void convert_scan(Importer& imp) {
  const onnx::AttributeProto* body_attr = imp.attr("body");
  if (!body_attr || !body_attr->has_g()) imp.fail("Scan needs a body graph");
  if (imp.subgraph_depth > 4) imp.fail("Scans nested more than 4 deep are not supported");
  ScanShape s = scan_shape(imp, body_attr->g());
  const ImportValue& xs = imp.in(s.n_states);
  std::vector<std::string> init;
  for (int i = 0; i < s.n_states; ++i) init.push_back(imp.operand(imp.in(i)));
  std::string xs_text = imp.operand(xs);
  auto [fn, y] = body_fn(imp, body_attr->g(), s);
  Shape out = y.shape;
  if (s.axis > int64_t(out.size())) imp.fail("the body's output has too few dims for the scan axis");
  out.insert(out.begin() + s.axis, xs.type.shape[size_t(s.axis)]);
  std::string states = init.size() == 1 ? init[0] : fmt::format("({})", fmt::join(init, ", "));
  std::string call =
      fmt::format("scan({}, {}, {}, axis: {}{})", fn, xs_text, states, s.axis, s.reverse ? ", reverse: true" : "");
  imp.define_output(s.n_states, imp.emit(call, {y.dtype, out}, imp.node->output(s.n_states)));
}

}  // namespace starc
