// runtime/onnx: the exporter's driver and emitter: the forward graph through the compile
// spine's passes (compiler/driver, as `starc run`), its inputs, weights and outputs as
// the ONNX graph's, and each node through the op table (onnx_export_ops.cpp).
#include "runtime/onnx/onnx_export.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "compiler/driver/driver.h"
#include "compiler/ops/op.h"
#include "runtime/init.h"
#include "runtime/onnx/onnx_export_emit.h"

namespace starc {
namespace onnx_export {

std::string Emitter::fresh(const std::string& hint) { return fmt::format("{}.{}", hint, counter_++); }

onnx::NodeProto& Emitter::add(const std::string& op_type, const std::vector<std::string>& inputs,
                              const std::vector<std::string>& outputs) {
  onnx::NodeProto* n = cur_->add_node();
  n->set_op_type(op_type);
  n->set_name(outputs.empty() ? fresh(op_type) : outputs[0]);
  for (const std::string& i : inputs) n->add_input(i);
  for (const std::string& o : outputs) n->add_output(o);
  return *n;
}

std::string Emitter::op(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::function<void(onnx::NodeProto&)>& attrs) {
  std::string out = fresh("%" + op_type);
  onnx::NodeProto& n = add(op_type, inputs, {out});
  if (attrs) attrs(n);
  return out;
}

std::string Emitter::const_tensor(const Tensor& t, const std::string& hint) {
  std::string name = fresh(hint);
  tensor_to_onnx(t, name, main_->add_initializer());
  initializer_bytes += int64_t(t.nbytes());
  return name;
}

std::string Emitter::const_ints(const std::vector<int64_t>& v) {
  std::string key = fmt::format("i64{}", fmt::join(v, ","));
  auto it = consts_.find(key);
  if (it != consts_.end()) return it->second;
  Tensor t(DType::I64, {Dim(v.size())});
  for (size_t i = 0; i < v.size(); ++i) static_cast<int64_t*>(t.raw())[i] = v[i];  // exact beyond 2^53
  return consts_[key] = const_tensor(t, "%const");
}

std::string Emitter::const_scalar(DType dt, double v) {
  std::string key = fmt::format("{}:{}", dtype_name(dt), v);
  auto it = consts_.find(key);
  if (it != consts_.end()) return it->second;
  return consts_[key] = const_tensor(Tensor::scalar(dt, v), "%const");
}

// The size of symbolic dim `d` at run time: Shape then Gather of a main-graph input that
// has it. These nodes go into the main graph even while a Scan body is being filled (the
// body sees them from outside; the Scan node comes after them).
std::string Emitter::dim_tensor(Dim d, const SymbolNames& syms) {
  const std::string& sym = syms.at(size_t(sym_index(d)));
  if (auto it = dims_.find(sym); it != dims_.end()) return it->second;
  for (int in : top_.inputs) {
    const Shape& s = top_.type(in).shape;
    for (size_t j = 0; j < s.size(); ++j) {
      if (!is_sym(s[j]) || top_.symbols.at(size_t(sym_index(s[j]))) != sym) continue;
      Into guard = into(main_);
      std::string shape = op("Shape", {attr_str(top_.node(in).attrs, "name")});
      return dims_[sym] = op("Gather", {shape, const_ints({int64_t(j)})},
                             [](onnx::NodeProto& n) { set_attr(n, "axis", int64_t(0)); });
    }
  }
  throw OnnxExportError(fmt::format("no input of the model has the symbolic dim {}, so its size is unknown", sym));
}

std::string Emitter::shape_tensor(const Shape& shape, const SymbolNames& syms) {
  if (shape_is_static(shape)) return const_ints(shape);
  std::vector<std::string> parts;
  std::vector<int64_t> run;  // static dims since the last symbolic one
  for (Dim d : shape) {
    if (!is_sym(d)) {
      run.push_back(d);
      continue;
    }
    if (!run.empty()) parts.push_back(const_ints(run));
    run.clear();
    parts.push_back(dim_tensor(d, syms));
  }
  if (!run.empty()) parts.push_back(const_ints(run));
  if (parts.size() == 1) return parts[0];
  return op("Concat", parts, [](onnx::NodeProto& n) { set_attr(n, "axis", int64_t(0)); });
}

void Emitter::nodes(const Graph& g, std::vector<std::string>& names, const std::string& prefix) {
  for (size_t id = 0; id < g.nodes.size(); ++id)
    if (names[id].empty()) export_node(g, int(id), names, prefix);
}

void Emitter::export_node(const Graph& g, int id, std::vector<std::string>& names, const std::string& prefix) {
  const Node& n = g.nodes[size_t(id)];
  const std::string& op_name = n.op->name;
  if (op_name == "param") {
    const std::string& name = attr_str(n.attrs, "name");
    if (!params_.count(name)) {
      params_.insert(name);
      const Tensor& w = weights_.at(name);
      tensor_to_onnx(w, name, main_->add_initializer());
      initializer_bytes += int64_t(w.nbytes());
    }
    names[size_t(id)] = name;
    return;
  }
  if (op_name == "const") {
    names[size_t(id)] = const_tensor(attr_tensor(n.attrs, "value"), fmt::format("%const{}", id));
    return;
  }
  if (op_name == "scan_result") {  // the scan's mapping named each of its results
    int64_t index = attr_int(n.attrs, "index");
    const std::string& scan = names[size_t(n.inputs[0])];
    names[size_t(id)] = index == 0 ? scan : fmt::format("{}#{}", scan, index);
    return;
  }
  const std::map<std::string, OpEntry>& table = op_entries();
  auto it = table.find(op_name);
  if (it == table.end() || !it->second.fn)
    throw OnnxExportError(fmt::format("{}: {} has no ONNX export: {}", node_where(g, id, prefix), op_name,
                                      it == table.end() ? "it is not in the exporter's op table" : it->second.refused));
  OpCall c{*this, n, g, {}, fmt::format("{}%{}", prefix, id), id, prefix};
  for (int in : n.inputs) c.in.push_back(names[size_t(in)]);
  it->second.fn(c);
  names[size_t(id)] = c.out;
}

void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, float v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void set_type(onnx::ValueInfoProto& vi, const std::string& name, const TensorType& t, const SymbolNames& syms) {
  vi.set_name(name);
  onnx::TypeProto_Tensor* tt = vi.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(dtype_to_onnx(t.dtype));
  onnx::TensorShapeProto* shape = tt->mutable_shape();
  for (Dim d : t.shape) {
    onnx::TensorShapeProto_Dimension* dim = shape->add_dim();
    if (is_sym(d))
      dim->set_dim_param(syms.at(size_t(sym_index(d))));
    else
      dim->set_dim_value(d);
  }
}

void OpCall::refuse(const std::string& why) const {
  throw OnnxExportError(fmt::format("{}: {}", node_where(graph, id, prefix), why));
}

std::string node_where(const Graph& g, int id, const std::string& prefix) {
  const Node& n = g.node(id);
  std::string loc = n.loc.known() ? fmt::format(", {}:{}:{}", n.loc.file, n.loc.line, n.loc.col) : "";
  return fmt::format("node {}%{} ({}{})", prefix, id, n.op->name, loc);
}

}  // namespace onnx_export

void check_onnx_export_options(const OnnxExportOptions& o) {
  if (o.opset < kOnnxMinOpset || o.opset > kOnnxMaxOpset)
    throw OnnxExportError(fmt::format("{} must be between {} and {} (ONNX 1.12), got {}", param_ref("opset"),
                                      kOnnxMinOpset, kOnnxMaxOpset, o.opset));
  if (o.batch && *o.batch < 1)
    throw OnnxExportError(fmt::format("{} must be at least 1, got {}", param_ref("batch"), *o.batch));
}

namespace {

using onnx_export::Emitter;

// The forward graph as `starc run` compiles it: symbolic dims bound first when a batch
// is given (as the JIT does per run), then the passes.
Graph optimized(const Graph& forward, const OnnxExportOptions& o) {
  CompileOptions co;
  if (o.batch) return compile(forward, std::vector<Dim>(forward.symbols.size(), *o.batch), co, Stage::Opt).optimized;
  return compile(forward, co, Stage::Opt).optimized;
}

std::string typed(const std::string& name, const TensorType& t, const SymbolNames& syms) {
  return fmt::format("{}: {}", name, type_str(t, &syms));
}

// The graph's inputs, nodes and outputs; each output through an Identity so that it has
// the model's name even where it is an input, a weight or another output.
void fill_graph(const Graph& g, const TensorMap& weights, const OnnxExportOptions& o, onnx::GraphProto* gp,
                OnnxExportResult& r) {
  Emitter e(gp, g, weights, o);
  std::vector<std::string> names(g.nodes.size());
  for (int in : g.inputs) {
    names[size_t(in)] = attr_str(g.node(in).attrs, "name");
    onnx_export::set_type(*gp->add_input(), names[size_t(in)], g.type(in), g.symbols);
    r.inputs.push_back(typed(names[size_t(in)], g.type(in), g.symbols));
  }
  e.nodes(g, names, "");
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    int id = g.outputs[i];
    const std::string& name = g.output_names.at(i);
    e.add("Identity", {names[size_t(id)]}, {name});
    onnx_export::set_type(*gp->add_output(), name, g.type(id), g.symbols);
    r.outputs.push_back(typed(name, g.type(id), g.symbols));
  }
  r.nodes = gp->node_size();
  r.initializers = gp->initializer_size();
  r.initializer_bytes = e.initializer_bytes;
}

onnx::ModelProto build_model(const Graph& forward, const TensorMap& weights, const OnnxExportOptions& options,
                             OnnxExportResult& r) {
  check_onnx_export_options(options);
  try {
    check_weights(forward, weights, "weights");
  } catch (const std::runtime_error& e) {
    throw OnnxExportError(e.what());
  }
  Graph g = optimized(forward, options);
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  m.set_producer_name("starc");
  m.set_doc_string(fmt::format("model {}, exported by starc export", g.name));
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  onnx::GraphProto* gp = m.mutable_graph();
  gp->set_name(g.name);
  fill_graph(g, weights, options, gp, r);
  return m;
}

}  // namespace

OnnxExportResult export_onnx(const Graph& forward, const TensorMap& weights, const OnnxExportOptions& options) {
  OnnxExportResult r;
  onnx::ModelProto m = build_model(forward, weights, options, r);
  if (!m.SerializeToString(&r.bytes))
    throw OnnxExportError(fmt::format("model {} does not fit in one ONNX file (2 GiB protobuf limit)", forward.name));
  return r;
}

OnnxExportResult export_onnx_file(const std::string& path, const Graph& forward, const TensorMap& weights,
                                  const OnnxExportOptions& options) {
  OnnxExportResult r;
  onnx::ModelProto m = build_model(forward, weights, options, r);
  write_onnx_model(path, m);
  return r;
}

std::vector<OnnxOpMapping> onnx_op_table() {
  std::vector<OnnxOpMapping> rows;
  const auto& table = onnx_export::op_entries();
  for (const OpDef* d : all_ops()) {
    if (d->name == "input" || d->name == "param" || d->name == "const") continue;  // not in `starc ops`
    auto it = table.find(d->name);
    if (it == table.end())
      rows.push_back({d->name, "", "not in the exporter's op table"});
    else
      rows.push_back({d->name, it->second.onnx, it->second.refused});
  }
  return rows;
}

std::string onnx_op_table_markdown() {
  std::string s = "| op | ONNX |\n|---|---|\n";
  for (const OnnxOpMapping& m : onnx_op_table())
    s += fmt::format("| `{}` | {} |\n", m.op, m.refused.empty() ? m.onnx : "refused: " + m.refused);
  return s;
}

}  // namespace starc
