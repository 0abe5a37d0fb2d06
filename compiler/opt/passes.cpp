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

namespace {

std::string count_of(int n, const char* what) { return fmt::format("{} node{} {}", n, n == 1 ? "" : "s", what); }

}  // namespace

// The registry: every pass once, in the order `optimize` runs them. Nothing else names a
// pass, so a pass added here is known to --disable-pass, `starc opt --passes` and
// --emit opt at once.
const std::vector<Pass>& all_passes() {
  static const std::vector<Pass> passes = {
      {"simplify", "algebraic rewrites (transposes, reshapes, identities, log(softmax), ...)",
       [](const Graph& g, const OptOptions&, PassReport& r) {
         int n = 0;
         Graph out = simplify(g, &n);
         r.detail = count_of(n, "rewritten");
         return out;
       }},
      {"fold", "constant folding by the reference kernels (results of at most 4096 elements)",
       [](const Graph& g, const OptOptions&, PassReport& r) {
         int n = 0;
         Graph out = fold_constants(g, &n);
         r.detail = count_of(n, "folded");
         return out;
       }},
      {"cse", "common subexpressions are one node",
       [](const Graph& g, const OptOptions&, PassReport& r) { return cse(g, &r.removed); }},
      {"dce", "nodes no output depends on are removed",
       [](const Graph& g, const OptOptions&, PassReport& r) { return dce(g, &r.removed); }},
      {"conv_algo", "direct or FFT convolution per conv node, by a cost model",
       [](const Graph& g, const OptOptions& o, PassReport& r) {
         int fft = 0, direct = 0;
         Graph out = choose_conv_algos(g, o.conv_algo, &fft, &direct);
         r.detail = fmt::format("{} conv{} by FFT, {} direct", fft, fft == 1 ? "" : "s", direct);
         return out;
       }},
  };
  return passes;
}

const Pass* find_pass(const std::string& name) {
  for (const Pass& p : all_passes())
    if (p.name == name) return &p;
  return nullptr;
}

const std::vector<std::string>& pass_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const Pass& p : all_passes()) v.push_back(p.name);
    return v;
  }();
  return names;
}

namespace {

const Pass& pass_named(const std::string& name) {
  if (const Pass* p = find_pass(name)) return *p;
  throw std::invalid_argument(fmt::format("unknown pass '{}' (passes: {})", name, fmt::join(pass_names(), ", ")));
}

}  // namespace

Graph run_passes(const Graph& g, const std::vector<std::string>& names, const OptOptions& options,
                 std::vector<PassReport>* report) {
  std::vector<const Pass*> pipeline;
  for (const std::string& name : names) pipeline.push_back(&pass_named(name));  // all checked before any runs
  Graph cur = g;
  for (const Pass* p : pipeline) {
    PassReport r{p->name, 0, ""};
    cur = p->run(cur, options, r);
    if (report) report->push_back(r);
  }
  return cur;
}

Graph optimize(const Graph& g, const OptOptions& options, std::vector<PassReport>* report) {
  for (const std::string& d : options.disabled) pass_named(d);
  std::vector<std::string> names;
  for (const std::string& name : pass_names())
    if (!options.disabled.count(name)) names.push_back(name);
  return run_passes(g, names, options, report);
}

}  // namespace starc
