#include "compiler/autodiff/autodiff.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "compiler/ops/builder.h"

namespace starc {

static std::string where(const Loc& loc) {
  return loc.known() ? fmt::format(" at {}:{}:{}", loc.file, loc.line, loc.col) : "";
}

static std::string value_name(const Graph& g, int id) {
  const Node& n = g.node(id);
  if (is_op(n, "input") || is_op(n, "param")) return fmt::format("'{}'", attr_str(n.attrs, "name"));
  return fmt::format("%{} ({}{})", id, n.op ? n.op->name : "?", where(n.loc));
}

std::vector<int> append_gradients(Graph& g, int y, const std::vector<int>& wrt, int dy) {
  if (y < 0 || y >= int(g.nodes.size())) throw GradError(fmt::format("internal: gradient of unknown value %{}", y));
  if (dy < 0) {
    GraphBuilder b(g, g.node(y).loc);
    dy = b.ones_like(y);
  }
  return append_gradients(g, std::vector<int>{y}, std::vector<int>{dy}, wrt);
}

std::vector<int> append_gradients(Graph& g, const std::vector<int>& ys, const std::vector<int>& dys,
                                  const std::vector<int>& wrt, const GradOptions& opts) {
  const int n_fwd = int(g.nodes.size());
  int y = ys.empty() ? -1 : *std::max_element(ys.begin(), ys.end());  // the last value that matters
  for (int v : ys) {
    if (v < 0 || v >= n_fwd) throw GradError(fmt::format("internal: gradient of unknown value %{}", v));
    if (!is_float(g.type(v).dtype))
      throw GradError(fmt::format("cannot differentiate {}: it is {}, not a float tensor", value_name(g, v),
                                  type_str(g.type(v), &g.symbols)));
  }
  for (int w : wrt) {
    if (w < 0 || w >= n_fwd) throw GradError(fmt::format("internal: gradient with respect to unknown value %{}", w));
    if (!is_float(g.type(w).dtype))
      throw GradError(
          fmt::format("cannot take a gradient with respect to {}: it is {}; only float tensors have gradients",
                      value_name(g, w), type_str(g.type(w), &g.symbols)));
  }

  // relevant = depends on some wrt value and lies on a path to y.
  std::vector<char> depends(n_fwd, 0), needed(n_fwd, 0);
  for (int w : wrt) depends[w] = 1;
  for (int i = 0; i < n_fwd; ++i)
    for (int in : g.nodes[i].inputs) depends[i] |= depends[in];
  for (int v : ys) needed[v] = 1;
  for (int i = y; i >= 0; --i)  // (not through bool values: see below)
    if (needed[i] && g.type(i).dtype != DType::Bool)
      for (int in : g.nodes[i].inputs) needed[in] = 1;
  auto relevant = [&](int i) { return depends[i] && needed[i] && is_float(g.type(i).dtype); };

  std::map<int, int> adj;             // value -> accumulated gradient
  std::map<int, std::string> cut_by;  // value -> the non-differentiable op that stopped its gradient
  for (size_t k = 0; k < ys.size(); ++k) {
    int v = ys[k], d = dys.at(k);
    if (g.type(d) != g.type(v))
      throw GradError(fmt::format("internal: seed gradient {} does not match {}", type_str(g.type(d), &g.symbols),
                                  type_str(g.type(v), &g.symbols)));
    if (auto it = adj.find(v); it != adj.end()) {
      GraphBuilder b(g, g.node(v).loc);
      it->second = b.add(it->second, d);
    } else {
      adj[v] = d;
    }
  }
  // A scan's results other than its own value (scan_result nodes): their gradients, by
  // scan node and result index, handed to the scan's rule together.
  std::map<int, std::map<int, int>> result_adj;
  for (int i = y; i >= 0; --i) {
    // An integer result (argmax, cast to i64) stops gradients, and asking for one through
    // it is an error. A bool result (a comparison, a mask) also stops them, but as a
    // piecewise-constant function: the gradient through it is zero, not an error
    // (relu's gradient holds x > 0, so the second derivative of relu is 0).
    if (depends[i] && needed[i] && g.type(i).dtype == DType::I64)
      for (int in : g.nodes[i].inputs)
        if (relevant(in)) cut_by.emplace(in, fmt::format("'{}'{}", g.nodes[i].op->name, where(g.nodes[i].loc)));
    if (!relevant(i) || (!adj.count(i) && !result_adj.count(i))) continue;
    const Node n = g.nodes[i];  // a copy: the rule appends to g.nodes
    if (is_op(n, "input") || is_op(n, "param") || is_op(n, "const")) continue;
    if (is_op(n, "scan_result")) {
      auto [it, fresh] = result_adj[n.inputs[0]].emplace(int(attr_int(n.attrs, "index")), adj[i]);
      if (!fresh) it->second = GraphBuilder(g, n.loc).add(it->second, adj[i]);
      continue;
    }
    if (!n.op->grad)
      throw GradError(
          fmt::format("no gradient rule for op '{}'{}: cannot differentiate through it", n.op->name, where(n.loc)));
    GraphBuilder b(g, n.loc);
    std::vector<int> grads;
    try {
      if (auto r = result_adj.find(i); r != result_adj.end()) {
        std::map<int, int> seeds = r->second;
        if (auto a = adj.find(i); a != adj.end()) seeds[0] = seeds.count(0) ? b.add(seeds[0], a->second) : a->second;
        grads = scan_gradient(b, n, i, {seeds.begin(), seeds.end()});
      } else {
        grads = n.op->grad(b, n, i, adj[i]);
      }
    } catch (const OpError& e) {
      throw GradError(fmt::format("cannot differentiate through '{}'{}: {}", n.op->name, where(n.loc), e.what()));
    }
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      int in = n.inputs[k];
      if (!relevant(in)) continue;
      int d = k < grads.size() ? grads[k] : kNoGrad;
      if (d == kNoGrad) {
        cut_by.emplace(in, fmt::format("'{}'{}", n.op->name, where(n.loc)));
        continue;
      }
      if (g.type(d) != g.type(in))
        throw GradError(fmt::format("internal: gradient rule of '{}'{} gave {} for input {} of type {}", n.op->name,
                                    where(n.loc), type_str(g.type(d), &g.symbols), k,
                                    type_str(g.type(in), &g.symbols)));
      auto it = adj.find(in);
      if (it == adj.end())
        adj[in] = d;
      else
        it->second = b.add(it->second, d);
    }
  }

  std::vector<int> out;
  for (int w : wrt) {
    if (auto it = adj.find(w); it != adj.end()) {
      out.push_back(it->second);
      continue;
    }
    if (relevant(w) && opts.cut_is_error) {
      // y depends on w, but every path passes through a non-differentiable op.
      std::string op = "a non-differentiable op";
      for (int i = w; i < n_fwd; ++i)
        if (auto c = cut_by.find(i); c != cut_by.end() && depends[i]) {
          op = c->second;
          break;
        }
      throw GradError(
          fmt::format("the gradient of {} with respect to {} is undefined: every path between them passes "
                      "through {}, which has no gradient",
                      value_name(g, y), value_name(g, w), op));
    }
    GraphBuilder b(g, g.node(w).loc);
    out.push_back(b.zeros_like(w));
  }
  return out;
}

int sum_of_float_outputs(GraphBuilder& b) {
  int y = -1;
  for (int o : std::vector<int>(b.g.outputs))
    if (is_float(b.g.type(o).dtype)) {
      int s = b.sum(o, {}, false);
      y = y < 0 ? s : b.add(y, s);
    }
  return y;
}

NamedGradients append_input_and_param_gradients(Graph& g) {
  GraphBuilder b(g);
  int y = sum_of_float_outputs(b);
  if (y < 0) throw std::invalid_argument(fmt::format("model '{}' has no float output to differentiate", g.name));
  std::vector<int> wrt;
  NamedGradients out;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (is_float(g.type(g.inputs[i]).dtype))
      wrt.push_back(g.inputs[i]), out.names.push_back("d_" + g.input_name(int(i)));
  for (int p : g.params())
    if (attr_bool(g.node(p).attrs, "trainable"))
      wrt.push_back(p), out.names.push_back("d_" + attr_str(g.node(p).attrs, "name"));
  out.ids = append_gradients(g, y, wrt);
  drop_unused_symbols(g);  // the intermediate steps of the rules' shape arithmetic
  return out;
}

}  // namespace starc
