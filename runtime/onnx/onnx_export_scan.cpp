// runtime/onnx: `scan` as ONNX's Scan. starc's scan takes (xs..., carries..., captures...)
// and its body (carries, x_t..., captures) -> (carries', y_t...); its results are the
// stacked ys, the final carries, then (save_carries) the carries entering each step.
// ONNX's Scan takes (states..., scan inputs...) and its body (states, elements) ->
// (states', scan outputs); its results are the final states, then the stacked outputs.
// Captures need no inputs: a Scan body reads values of the outer graph by name.
#include <fmt/format.h>

#include "compiler/ops/common.h"
#include "compiler/ops/op.h"
#include "runtime/onnx/onnx_export_emit.h"

namespace starc::onnx_export {
namespace {

struct Sig {
  int n_xs, k, n_caps, n_ys, axis;
  bool save, reverse;
};

Sig signature(const OpCall& c, const Graph& body) {
  const Attrs& a = c.node.attrs;
  Sig s;
  s.n_xs = int(attr_int(a, "n_xs"));
  s.k = int(attr_int(a, "n_carry"));
  s.n_caps = int(c.in.size()) - s.n_xs - s.k;
  s.n_ys = int(body.outputs.size()) - s.k;
  s.axis = normalize_axis("scan", attr_int(a, "axis"), c.in_type(0).rank());
  s.save = attr_bool(a, "save_carries");
  s.reverse = attr_bool(a, "reverse");
  return s;
}

// The name of starc result `index` of the scan whose result 0 is `out` (export_node names
// scan_result nodes the same way).
std::string result_name(const std::string& out, int index) {
  return index == 0 ? out : fmt::format("{}#{}", out, index);
}

// Fills `bp` with the body: its inputs (carries, then x_t's), its nodes, and its outputs
// (carries', y_t's, then the carries it came in with when they are saved), each output
// through an Identity (a body may return one value twice, or an input).
void fill_body(OpCall& c, const Graph& body, const Sig& s, onnx::GraphProto* bp) {
  const std::string prefix = c.out + "/";
  std::vector<std::string> names(body.nodes.size());
  for (int i = 0; i < s.k + s.n_xs; ++i) {
    int id = body.inputs[size_t(i)];
    names[size_t(id)] = fmt::format("{}%{}", prefix, id);
    set_type(*bp->add_input(), names[size_t(id)], body.type(id), body.symbols);
  }
  for (int q = 0; q < s.n_caps; ++q)
    names[size_t(body.inputs[size_t(s.k + s.n_xs + q)])] = c.in[size_t(s.n_xs + s.k + q)];
  Emitter::Into guard = c.e.into(bp);
  c.e.nodes(body, names, prefix);
  auto output = [&](int id) {
    std::string name = c.e.fresh(prefix + "out");
    c.e.add("Identity", {names[size_t(id)]}, {name});
    set_type(*bp->add_output(), name, body.type(id), body.symbols);
  };
  for (int o : body.outputs) output(o);
  if (s.save)
    for (int i = 0; i < s.k; ++i) output(body.inputs[size_t(i)]);
}

}  // namespace

void export_scan(OpCall& c) {
  const Graph& body = attr_graph(c.node.attrs, "body");
  Sig s = signature(c, body);
  onnx::GraphProto bp;
  bp.set_name(fmt::format("{}_body", c.out));
  fill_body(c, body, s, &bp);

  std::vector<std::string> inputs(c.in.begin() + s.n_xs, c.in.begin() + s.n_xs + s.k);  // initial carries
  inputs.insert(inputs.end(), c.in.begin(), c.in.begin() + s.n_xs);                     // sequences
  std::vector<std::string> outputs;
  for (int i = 0; i < s.k; ++i) outputs.push_back(result_name(c.out, s.n_ys + i));  // final carries
  for (int j = 0; j < s.n_ys; ++j) outputs.push_back(result_name(c.out, j));        // stacked ys
  std::vector<int64_t> out_axes;  // a step output of rank r is stacked along min(axis, r)
  for (int j = 0; j < s.n_ys; ++j)
    out_axes.push_back(std::min(s.axis, body.type(body.outputs[size_t(s.k + j)]).rank()));
  if (s.save) {
    for (int i = 0; i < s.k; ++i) {
      outputs.push_back(result_name(c.out, s.n_ys + s.k + i));
      out_axes.push_back(std::min(s.axis, body.type(body.inputs[size_t(i)]).rank()));
    }
  }
  onnx::NodeProto& n = c.e.add("Scan", inputs, outputs);
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name("body");
  a->set_type(onnx::AttributeProto::GRAPH);
  *a->mutable_g() = std::move(bp);
  set_attr(n, "num_scan_inputs", int64_t(s.n_xs));
  set_attr(n, "scan_input_axes", std::vector<int64_t>(size_t(s.n_xs), s.axis));
  // reverse: the steps run from the end, and each step's output lands at its own position.
  set_attr(n, "scan_input_directions", std::vector<int64_t>(size_t(s.n_xs), s.reverse));
  set_attr(n, "scan_output_axes", out_axes);
  set_attr(n, "scan_output_directions", std::vector<int64_t>(out_axes.size(), s.reverse));
}

}  // namespace starc::onnx_export
