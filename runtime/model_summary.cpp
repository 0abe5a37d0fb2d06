#include "runtime/model_summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "compiler/backend/cpu/jit.h"
#include "compiler/driver/driver.h"
#include "compiler/ir/attr.h"
#include "compiler/ops/op.h"
#include "runtime/memory_limit.h"

namespace starc {
namespace {

bool shape_only(const std::string& op) {
  static const std::set<std::string> ops = {"reshape", "transpose",   "broadcast_to", "slice", "concat", "pad",
                                            "squeeze", "expand_dims", "input",        "param", "const",  "cast"};
  return ops.count(op) > 0;
}

// 2 per multiply-add for contractions, the input elements for reductions, 1 per output
// element otherwise; nothing for ops that only move data.
double node_flops(const Graph& g, const Node& n) {
  const std::string& op = n.op->name;
  if (shape_only(op)) return 0;
  if (op == "scan") {  // its body once per step of the scanned axis
    const Graph& body = attr_graph(n.attrs, "body");
    const TensorType& xs = g.type(n.inputs[0]);
    int axis = int(attr_int(n.attrs, "axis"));
    double steps = double(xs.shape[size_t(axis < 0 ? axis + xs.rank() : axis)]), per_step = 0;
    for (const Node& b : body.nodes) per_step += node_flops(body, b);
    return steps * per_step;
  }
  const double out = double(num_elements(n.type.shape));
  if (op == "matmul") return 2 * out * double(g.type(n.inputs[0]).shape.back());
  if (op.rfind("conv", 0) == 0 && n.inputs.size() >= 2) {
    const TensorType& w = g.type(n.inputs[1]);  // [Cout, Cin/groups, k...] (transposed: [Cin, Cout, k...])
    double per_output = 1;
    for (size_t i = 1; i < w.shape.size(); ++i) per_output *= double(w.shape[i]);
    return 2 * out * per_output;
  }
  if (n.inputs.size() == 1 && num_elements(g.type(n.inputs[0]).shape) > num_elements(n.type.shape))
    return double(num_elements(g.type(n.inputs[0]).shape));  // a reduction or pooling reads every input element
  return out;
}

// "dense0.weight" -> "dense0"; "" for a name without a scope.
std::string scope_of(const std::string& param) {
  size_t dot = param.rfind('.');
  return dot == std::string::npos ? "" : param.substr(0, dot);
}

// "conv1d2" -> "conv1d", "lstm_0" -> "lstm".
std::string kind_of(const std::string& scope) {
  std::string k = scope.substr(scope.rfind('.') + 1);
  while (!k.empty() && (std::isdigit(static_cast<unsigned char>(k.back())) || k.back() == '_')) k.pop_back();
  return k.empty() ? scope : k;
}

std::vector<SummaryRow> layer_rows(const Graph& g) {
  const std::string model_file = g.inputs.empty() ? "" : g.node(g.inputs[0]).loc.file;
  std::vector<SummaryRow> rows;
  bool in_layer = false;
  for (const Node& n : g.nodes) {
    const std::string& op = n.op->name;
    if (op == "param") {
      std::string scope = scope_of(attr_str(n.attrs, "name"));
      if (!in_layer || rows.back().name != scope) rows.push_back({scope, kind_of(scope), {}, false, 0, 0});
      rows.back().params += num_elements(n.type.shape);
      in_layer = true;
      continue;
    }
    if (op == "input" || op == "const") continue;
    const bool user_code = n.loc.file == model_file;
    if (user_code) in_layer = false;
    if (!in_layer && shape_only(op)) continue;
    // a node of the model's file is named by its place there ("relu @11:12")
    if (!in_layer)
      rows.push_back({user_code ? fmt::format("{} @{}:{}", op, n.loc.line, n.loc.col) : op, op, n.type, 0, 0});
    rows.back().output = n.type, rows.back().has_output = true;
    rows.back().flops += node_flops(g, n);
  }
  return rows;
}

std::string count(double v) {
  std::string digits = fmt::format("{:.0f}", v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

ModelSummary summarize(const Graph& g, int64_t batch) {
  ModelSummary s;
  s.model = g.name;
  s.batch = batch;
  CompileOptions o;
  o.optimize = false;  // the layers as written
  const std::vector<Dim> symbols(g.symbols.size(), batch);
  s.rows = layer_rows(compile(g, symbols, o, Stage::Opt).optimized);
  for (const SummaryRow& r : s.rows) s.params += r.params, s.flops += r.flops;
  for (int id : g.params())
    (attr_bool(g.node(id).attrs, "trainable") ? s.trainable : s.state) += num_elements(g.type(id).shape);
  CpuPlan plan = plan_cpu(compile(g, symbols, CompileOptions{}, Stage::Mlir).mlir, false);
  s.argument_bytes = plan.argument_bytes;
  s.temporary_peak_bytes = plan.temporary_peak_bytes;
  return s;
}

std::string format_summary(const ModelSummary& s) {
  std::string out = fmt::format("model {} at batch {}\n{:<28} {:<14} {:<22} {:>12} {:>16}\n", s.model, s.batch, "layer",
                                "kind", "output", "params", "FLOPs");
  for (const SummaryRow& r : s.rows)
    out += fmt::format("{:<28} {:<14} {:<22} {:>12} {:>16}\n", r.name, r.kind, r.has_output ? type_str(r.output) : "-",
                       count(r.params), count(r.flops));
  out += fmt::format("total: {} parameters ({} trainable, {} state), {} FLOPs per batch of {}\n", count(s.params),
                     count(s.trainable), count(s.state), count(s.flops), s.batch);
  out += fmt::format("memory at batch {}: arguments (inputs, parameters, outputs) {}, temporaries at most {} at once\n",
                     s.batch, format_bytes(s.argument_bytes), format_bytes(s.temporary_peak_bytes));
  return out;
}

}  // namespace starc
