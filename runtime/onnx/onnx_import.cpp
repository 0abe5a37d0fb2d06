#include "runtime/onnx/onnx_import.h"

#include <fmt/format.h>

#include <filesystem>

#include "dsl/program.h"
#include "runtime/api/starc.h"
#include "runtime/io/file_io.h"
#include "runtime/onnx/import_ops.h"

namespace starc {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMinOpset = 11, kMaxOpset = 17;

std::string camel_case(const std::string& stem) {
  std::string out;
  bool upper = true;
  for (char c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      upper = true;
      continue;
    }
    out += upper ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "Model" + out;
  return out;
}

// The functions `use std.nn` brings into the generated source, found as it will find
// them (from the source's folder, then $STARC_PATH, then the installed stdlib).
std::set<std::string> std_nn_names(const std::string& source_path) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program program(diags);
  if (!program.load_text(source_path, "use std.nn\n"))
    throw OnnxError(fmt::format("{}: cannot load std.nn: {}", source_path, diags.format(diags.all().at(0))));
  std::set<std::string> names;
  for (const auto& [name, fn] : program.globals(0)) names.insert(name);
  return names;
}

void check_opset(const onnx::ModelProto& m, const std::string& file) {
  int64_t opset = onnx_default_opset(m);
  if (opset == 0) throw OnnxError(file + ": the model imports no opset of the default ONNX domain");
  if (opset < kMinOpset || opset > kMaxOpset)
    throw OnnxError(
        fmt::format("{}: opset {} is not supported: starc imports opsets {} to {} "
                    "(re-export, e.g. torch.onnx.export(..., opset_version=17))",
                    file, opset, kMinOpset, kMaxOpset));
}

// A graph input's type: dtype and dims, a dim_param (or an unnamed dynamic dim) becoming a
// symbolic dim of the model.
TensorType input_type(Importer& imp, const onnx::ValueInfoProto& in, std::map<std::string, int>& sym_ids) {
  const auto& tt = in.type().tensor_type();
  std::optional<DType> dt = dtype_from_onnx(tt.elem_type());
  if (!in.type().has_tensor_type() || !dt)
    throw OnnxError(fmt::format("{}: input '{}' is not a tensor of a supported element type", imp.file, in.name()));
  TensorType t{*dt, {}};
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value()) {
      t.shape.push_back(d.dim_value());
      continue;
    }
    std::string name = d.has_dim_param() && !d.dim_param().empty() ? Importer::identifier(d.dim_param())
                                                                   : fmt::format("D{}", sym_ids.size());
    if (auto fixed = imp.fixed_dims.find(name); fixed != imp.fixed_dims.end()) {
      t.shape.push_back(fixed->second);
      imp.fixed_dims_used.insert(name);
      continue;
    }
    if (!sym_ids.count(name)) {
      sym_ids[name] = int(imp.symbols.size());
      imp.symbols.push_back(name);
      imp.reserve_name(name);
    }
    t.shape.push_back(make_sym(sym_ids[name]));
  }
  return t;
}

// The nodes that compute from initializers and constants alone (reshaped biases, shape
// arithmetic): converted first, so layer patterns see their values.
std::vector<const onnx::NodeProto*> constant_nodes(const Importer& imp, std::set<std::string> known) {
  std::vector<const onnx::NodeProto*> found;
  for (bool more = true; more;) {
    more = false;
    for (const auto& n : imp.model.graph().node()) {
      if (std::find(found.begin(), found.end(), &n) != found.end()) continue;
      bool all_known = std::all_of(n.input().begin(), n.input().end(),
                                   [&](const std::string& i) { return i.empty() || known.count(i); });
      if (!all_known) continue;
      found.push_back(&n);
      known.insert(n.output().begin(), n.output().end());
      more = true;
    }
  }
  return found;
}

// Nodes in an order where every input is defined first, constant ones leading (ONNX
// requires sorted graphs, but a cycle must be an error, not a hang or a crash).
std::vector<const onnx::NodeProto*> sorted_nodes(const Importer& imp, std::set<std::string> defined,
                                                 const std::set<std::string>& initializers) {
  std::vector<const onnx::NodeProto*> order = constant_nodes(imp, initializers), pending;
  for (const auto* n : order) defined.insert(n->output().begin(), n->output().end());
  for (const auto& n : imp.model.graph().node())
    if (std::find(order.begin(), order.end(), &n) == order.end()) pending.push_back(&n);
  while (!pending.empty()) {
    std::vector<const onnx::NodeProto*> rest;
    for (const auto* n : pending) {
      bool ready = std::all_of(n->input().begin(), n->input().end(),
                               [&](const std::string& i) { return i.empty() || defined.count(i); });
      if (!ready) {
        rest.push_back(n);
        continue;
      }
      order.push_back(n);
      for (const auto& o : n->output()) defined.insert(o);
    }
    if (rest.size() == pending.size()) {
      const auto* n = rest.front();
      for (const auto& i : n->input())
        if (!i.empty() && !defined.count(i))
          throw OnnxError(
              fmt::format("{}: node '{}' ({}) reads '{}', which no node, input or initializer defines "
                          "before it (a cycle, or a missing value)",
                          imp.file, n->name(), n->op_type(), i));
    }
    pending = std::move(rest);
  }
  return order;
}

struct Signature {
  std::vector<std::string> inputs, outputs, returned;
};

Signature convert_graph(Importer& imp) {
  const auto& g = imp.model.graph();
  Signature sig;
  std::set<std::string> defined;
  for (const auto& init : g.initializer()) {
    imp.define_initializer(init);
    defined.insert(init.name());
  }
  std::set<std::string> initializers = defined;
  std::map<std::string, int> sym_ids;
  for (const auto& in : g.input()) {
    if (defined.count(in.name())) continue;  // opsets < 9 list initializers as inputs too
    ImportValue v;
    v.type = input_type(imp, in, sym_ids);
    v.expr = imp.fresh_var(in.name());
    sig.inputs.push_back(fmt::format("{}: {}", v.expr, imp.type_text(v.type)));
    imp.define(in.name(), v);
    defined.insert(in.name());
  }
  if (sig.inputs.empty()) throw OnnxError(imp.file + ": the graph has no inputs besides its initializers");
  for (const auto& [name, size] : imp.fixed_dims) {
    if (size < 1) throw OnnxError(fmt::format("dim {}={}: a size must be positive", name, size));
    if (!imp.fixed_dims_used.count(name))
      throw OnnxError(fmt::format("{}: no input has a dynamic dim named '{}' (they have: {})", imp.file, name,
                                  imp.symbols.empty() ? "none" : fmt::format("{}", fmt::join(imp.symbols, ", "))));
  }
  imp.count_uses();
  for (const auto* n : sorted_nodes(imp, defined, initializers))
    if (!imp.fused.count(n)) convert_node(imp, *n);
  imp.node = nullptr;
  for (const auto& out : g.output()) {
    const ImportValue& v = imp.value(out.name());
    if (v.split())
      throw OnnxError(
          fmt::format("{}: output '{}' has a dim that is a product with a symbolic dim", imp.file, out.name()));
    std::string expr = imp.operand(v);
    std::string label = Importer::identifier(out.name());
    sig.outputs.push_back(fmt::format("{}: {}", label, imp.type_text(v.type)));
    sig.returned.push_back(expr);
  }
  imp.remove_dead(sig.returned);
  return sig;
}

std::string source_text(const Importer& imp, const Signature& sig, const std::string& name,
                        const std::string& producer) {
  std::string s = fmt::format(
      "# {}: imported by `starc import` from {} ({}, opset {}).\n"
      "# Each line names the ONNX node it comes from; the weights are in weights.npz.\n",
      name, fs::path(imp.file).filename().string(), producer.empty() ? "unknown producer" : producer, imp.opset);
  if (imp.uses_std_nn()) s += "use std.nn\n";
  s += fmt::format("\nmodel {}({}) -> ({}) {{\n", name, fmt::join(sig.inputs, ", "), fmt::join(sig.outputs, ", "));
  for (const auto& d : imp.decls) s += "    " + d.text() + "\n";
  if (!imp.decls.empty()) s += "\n";
  for (const auto& line : imp.body) s += "    " + line.text() + "\n";
  if (sig.returned.size() == 1)
    s += fmt::format("    return {}\n}}\n", sig.returned[0]);
  else
    s += fmt::format("    return ({})\n}}\n", fmt::join(sig.returned, ", "));
  return s;
}

// The generated source through starc's front end, with the weights loaded into it: an
// error here is a bug of the importer or a model starc cannot express, reported with
// the generated line (which names its ONNX node).
api::Model checked_model(const ImportedModel& m, const std::string& source_path, const std::string& onnx_path) {
  try {
    api::Model model = api::Program::from_source(m.source, source_path).model(m.name);
    model.init(0);
    for (const auto& [name, t] : m.weights) model.set_weight(name, t);
    if (model.weights().size() != m.weights.size()) throw api::Error("internal: the model has other parameters");
    return model;
  } catch (const api::Error& e) {
    std::string what = e.what();
    if (!e.diagnostics().empty()) what = e.diagnostics()[0].text;
    throw OnnxError(fmt::format("{}: the imported model does not check in starc:\n{}", onnx_path, what));
  }
}

}  // namespace

void convert_node(Importer& imp, const onnx::NodeProto& n) {
  imp.node = &n;
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    imp.fail(fmt::format("operators of domain '{}' are not supported", n.domain()));
  if (n.output_size() == 0 || n.output(0).empty()) imp.fail("the node has no output");
  static const std::set<std::string> split_aware = {
      "Reshape", "Transpose", "MatMul",   "Gemm",  "Softmax", "LogSoftmax", "Add",     "Sub", "Mul",
      "Div",     "Pow",       "Relu",     "Gelu",  "Erf",     "Tanh",       "Sigmoid", "Exp", "Sqrt",
      "Neg",     "Dropout",   "Identity", "Shape", "Where",   "Max",        "Min"};
  for (int i = 0; i < n.input_size(); ++i)
    if (imp.has_in(i) && imp.in(i).split() && !split_aware.count(n.op_type()))
      imp.fail(
          fmt::format("input {} has a dim that is a product with a symbolic dim (a reshape to B * k), which "
                      "this operator cannot take; import with a fixed size for it (dims {}=N)",
                      i, imp.symbols.empty() ? "B" : imp.symbols[0]));
  const OnnxConverter* convert = find_converter(n.op_type());
  if (!convert) imp.fail("this operator is not supported (docs/onnx.md lists the operators starc imports)");
  size_t first = imp.body.size();
  try {
    (*convert)(imp);
  } catch (const std::logic_error& e) {  // a converter's bug on a malformed node: an error, never a crash
    imp.fail(fmt::format("internal error: {} (please report it with the file)", e.what()));
  }
  imp.name_outputs_first(first);
  for (int i = 0; i < n.output_size(); ++i) {
    std::vector<const onnx::NodeProto*> users = imp.consumers(n.output(i));
    bool needed = std::any_of(users.begin(), users.end(), [&](const auto* u) { return !imp.fused.count(u); });
    if (!n.output(i).empty() && needed && !imp.has(n.output(i)))
      imp.fail(fmt::format("output {} is used but was not produced", i));
  }
}

namespace {

std::string model_name(const std::string& onnx_path, const OnnxImportOptions& options) {
  return options.model_name.empty() ? camel_case(fs::path(onnx_path).stem().string()) : options.model_name;
}

// The import and the model starc built from it (whose weights import_onnx_to_dir saves).
std::pair<ImportedModel, api::Model> import_checked(const std::string& onnx_path, const std::string& source_path,
                                                    const OnnxImportOptions& options) {
  onnx::ModelProto proto = read_onnx_model(onnx_path);
  check_opset(proto, onnx_path);
  std::string base_dir = fs::path(onnx_path).parent_path().string();
  Importer imp(proto, onnx_path, base_dir.empty() ? "." : base_dir, std_nn_names(source_path));
  imp.fixed_dims = options.dims;
  ImportedModel m;
  m.name = model_name(onnx_path, options);
  if (Importer::identifier(m.name) != m.name) throw OnnxError(fmt::format("'{}' is not a model name", m.name));
  imp.reserve_name(m.name);
  Signature sig = convert_graph(imp);
  m.opset = imp.opset;
  m.producer = proto.producer_name() + (proto.producer_version().empty() ? "" : " " + proto.producer_version());
  m.source = source_text(imp, sig, m.name, m.producer);
  m.weights = imp.weights;
  api::Model model = checked_model(m, source_path, onnx_path);
  return {std::move(m), std::move(model)};
}

}  // namespace

ImportedModel import_onnx(const std::string& onnx_path, const std::string& source_path,
                          const OnnxImportOptions& options) {
  return import_checked(onnx_path, source_path, options).first;
}

std::string import_onnx_to_dir(const std::string& onnx_path, const std::string& dir, const OnnxImportOptions& options) {
  std::string source_path = (fs::path(dir) / (model_name(onnx_path, options) + ".net")).string();
  auto [m, model] = import_checked(onnx_path, source_path, options);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw OnnxError(fmt::format("{}: cannot create the folder: {}", dir, ec.message()));
  model.save_weights((fs::path(dir) / "weights.npz").string());
  write_file_atomic(source_path, m.source);
  return source_path;
}

}  // namespace starc
