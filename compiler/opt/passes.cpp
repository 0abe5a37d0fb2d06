#include "compiler/opt/passes.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

#include "compiler/ops/op.h"

namespace starc {
namespace {

// The node with its inputs renumbered by `remap`.
Node remapped(const Node& n, const std::vector<int>& remap) {
  Node m = n;
  for (int& i : m.inputs) i = remap.at(size_t(i));
  return m;
}

// Graph `g` keeping the nodes with keep[id], renumbered in order; `remap` (old id ->
// new id, -1 for dropped) is filled in. A kept node's inputs must be kept.
Graph rebuild(const Graph& g, const std::vector<bool>& keep, std::vector<int>& remap) {
  Graph out;
  out.name = g.name;
  out.symbols = g.symbols;
  out.output_names = g.output_names;
  remap.assign(g.nodes.size(), -1);
  for (size_t id = 0; id < g.nodes.size(); ++id)
    if (keep[id]) remap[id] = out.add(remapped(g.nodes[id], remap));
  for (int i : g.inputs) out.inputs.push_back(remap.at(size_t(i)));
  for (int o : g.outputs) out.outputs.push_back(remap.at(size_t(o)));
  return out;
}

// A text key for a node's attributes, or "" when CSE should not merge the node (a
// sub-graph, or a constant tensor too large to compare cheaply).
std::string attr_key(const Attrs& attrs) {
  std::string key;
  for (auto& [name, a] : attrs) {
    key += name + "=";
    bool ok = std::visit(
        [&](const auto& v) -> bool {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double> || std::is_same_v<T, bool>)
            key += fmt::format("{}", v);
          else if constexpr (std::is_same_v<T, std::string>)
            key += fmt::format("{:?}", v);
          else if constexpr (std::is_same_v<T, Ints> || std::is_same_v<T, Floats>)
            key += fmt::format("[{}]", fmt::join(v, ","));
          else if constexpr (std::is_same_v<T, DType>)
            key += std::string(dtype_name(v));
          else if constexpr (std::is_same_v<T, Tensor>) {
            if (v.size() > 64) return false;
            key += type_str(v.type()) + ":";
            key.append(static_cast<const char*>(v.raw()), size_t(v.size()) * dtype_size(v.dtype()));
          } else {
            return false;  // a sub-graph
          }
          return true;
        },
        a);
    if (!ok) return "";
    key += ";";
  }
  return key;
}

}  // namespace

Graph cse(const Graph& g, int* removed) {
  // Nodes are in topological order: one forward walk maps each node to the first equal
  // one, and later uses read the representative.
  std::vector<int> rep(g.nodes.size());
  std::map<std::string, int> seen;
  std::vector<bool> keep(g.nodes.size(), true);
  int merged = 0;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    rep[id] = int(id);
    const Node& n = g.nodes[id];
    if (is_op(n, "input") || is_op(n, "param") || is_op(n, "scan")) continue;
    std::string attrs = attr_key(n.attrs);
    if (attrs.empty() && !n.attrs.empty()) continue;
    std::string key = n.op->name + "(";
    for (int i : n.inputs) key += std::to_string(rep[size_t(i)]) + ",";
    key += ")" + attrs + type_str(n.type);
    auto [it, fresh] = seen.emplace(key, int(id));
    if (!fresh) rep[id] = it->second, keep[id] = false, ++merged;
  }
  Graph with_reps = g;  // uses point at the representatives, so the copies are dead
  for (Node& n : with_reps.nodes)
    for (int& i : n.inputs) i = rep[size_t(i)];
  for (int& o : with_reps.outputs) o = rep[size_t(o)];
  std::vector<int> remap;
  Graph out = rebuild(with_reps, keep, remap);
  if (removed) *removed = merged;
  return out;
}

Graph dce(const Graph& g, int* removed) {
  std::vector<bool> live(g.nodes.size(), false);
  for (int o : g.outputs) live[size_t(o)] = true;
  for (int i : g.inputs) live[size_t(i)] = true;
  for (size_t id = g.nodes.size(); id-- > 0;)
    if (live[id])
      for (int i : g.nodes[id].inputs) live[size_t(i)] = true;
  int dead = 0;
  for (bool l : live) dead += !l;
  std::vector<int> remap;
  Graph out = rebuild(g, live, remap);
  if (removed) *removed = dead;
  return out;
}

std::string describe(const PassReport& r) {
  if (!r.detail.empty()) return fmt::format("pass {}: {}", r.pass, r.detail);
  return fmt::format("pass {}: {} node{} removed", r.pass, r.removed, r.removed == 1 ? "" : "s");
}

const std::vector<std::string>& pass_names() {
  static const std::vector<std::string> names = {"simplify", "fold", "cse", "dce", "conv_algo"};
  return names;
}

Graph optimize(const Graph& g, const OptOptions& options, std::vector<PassReport>* report) {
  const std::set<std::string>& disabled = options.disabled;
  for (auto& d : disabled)
    if (std::find(pass_names().begin(), pass_names().end(), d) == pass_names().end())
      throw std::invalid_argument(fmt::format("unknown pass '{}' (passes: {})", d, fmt::join(pass_names(), ", ")));
  Graph cur = g;
  for (auto& name : pass_names()) {
    if (disabled.count(name)) continue;
    PassReport r{name, 0, ""};
    if (name == "conv_algo") {
      int fft = 0, direct = 0;
      cur = choose_conv_algos(cur, options.conv_algo, &fft, &direct);
      r.detail = fmt::format("{} conv{} by FFT, {} direct", fft, fft == 1 ? "" : "s", direct);
    } else if (name == "simplify" || name == "fold") {
      int n = 0;
      cur = name == "simplify" ? simplify(cur, &n) : fold_constants(cur, &n);
      r.detail = fmt::format("{} node{} {}", n, n == 1 ? "" : "s", name == "simplify" ? "rewritten" : "folded");
    } else {
      cur = name == "cse" ? cse(cur, &r.removed) : dce(cur, &r.removed);
    }
    if (report) report->push_back(r);
  }
  return cur;
}

}  // namespace starc
