#include "runtime/interpreter.h"

#include <fmt/format.h>

#include "compiler/ops/op.h"

namespace starc {

static void check_tensor(const std::string& what, const TensorType& want, const Tensor& got, const SymbolNames* syms) {
  bool ok = want.dtype == got.dtype() && want.shape.size() == got.shape().size();
  for (size_t i = 0; ok && i < want.shape.size(); ++i) ok = want.shape[i] == got.shape()[i];
  if (!ok)
    throw std::runtime_error(fmt::format("{}: expected {}, got {}", what, type_str(want, syms), type_str(got.type())));
}

std::vector<Dim> bind_symbols(const Graph& g, const std::vector<Tensor>& inputs) {
  if (inputs.size() != g.inputs.size())
    throw std::runtime_error(fmt::format("{}: expected {} inputs, got {}", g.name, g.inputs.size(), inputs.size()));
  std::vector<Dim> vals(g.symbols.size(), kSymBase);
  std::vector<size_t> bound_by(g.symbols.size(), 0);  // the input that fixed each symbol
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& want = g.type(g.inputs[i]);
    const Tensor& got = inputs[i];
    std::string what = fmt::format("input '{}'", g.input_name(int(i)));
    if (want.rank() != got.rank() || want.dtype != got.dtype())
      check_tensor(what, want, got, &g.symbols);
    for (int d = 0; d < want.rank(); ++d) {
      Dim w = want.shape[d], h = got.shape()[d];
      if (!is_sym(w)) {
        if (w != h) check_tensor(what, want, got, &g.symbols);
        continue;
      }
      Dim& v = vals[sym_index(w)];
      if (is_sym(v)) {
        v = h;
        bound_by[sym_index(w)] = i;
      } else if (v != h) {
        size_t j = bound_by[sym_index(w)];
        throw std::runtime_error(fmt::format("{}: expected {}, got {}: dim {} is {} here but {} in input '{}' ({})", what,
                                             type_str(want, &g.symbols), type_str(got.type()), dim_str(w, &g.symbols),
                                             h, v, g.input_name(int(j)), type_str(inputs[j].type())));
      }
    }
  }
  return vals;
}

static std::vector<Tensor> run_static(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                                      RefCtx& ctx) {
  std::vector<Tensor> vals(g.nodes.size());
  for (size_t i = 0; i < g.inputs.size(); ++i) vals[g.inputs[i]] = inputs[i];
  std::vector<Tensor> args;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& n = g.nodes[id];
    if (is_op(n, "input")) continue;
    if (is_op(n, "param")) {
      const std::string& name = attr_str(n.attrs, "name");
      auto it = params.find(name);
      if (it == params.end()) throw std::runtime_error(fmt::format("missing weight '{}' ({})", name, type_str(n.type)));
      check_tensor(fmt::format("weight '{}'", name), n.type, it->second, &g.symbols);
      vals[id] = it->second;
      continue;
    }
    args.clear();
    for (int in : n.inputs) args.push_back(vals[in]);
    try {
      vals[id] = n.op->ref(args, n.attrs, ctx);
    } catch (const std::exception& e) {
      std::string where = n.loc.known() ? fmt::format("{}:{}:{}: ", n.loc.file, n.loc.line, n.loc.col) : "";
      throw std::runtime_error(fmt::format("{}{} (node %{}): {}", where, n.op->name, id, e.what()));
    }
  }
  std::vector<Tensor> out;
  for (int o : g.outputs) out.push_back(vals[o]);
  return out;
}

std::vector<Tensor> run_graph(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                              const RunOptions& opts) {
  std::vector<Dim> syms = bind_symbols(g, inputs);
  Graph concrete = specialize(g, syms);
  for (size_t i = 0; i < inputs.size(); ++i)
    check_tensor(fmt::format("input '{}'", g.input_name(int(i))), concrete.type(concrete.inputs[i]), inputs[i], nullptr);
  RefCtx ctx;
  ctx.seed = opts.seed;
  ctx.run_graph = [&](const Graph& body, const std::vector<Tensor>& args) {
    return run_static(body, args, params, ctx);
  };
  return run_static(concrete, inputs, params, ctx);
}

}  // namespace starc
