#include "compiler/ir/graph.h"

#include <algorithm>

#include "compiler/ir/sym_dim.h"
#include "compiler/ops/op.h"

namespace starc {

int Graph::add(Node n) {
  nodes.push_back(std::move(n));
  return int(nodes.size()) - 1;
}

std::vector<int> Graph::params() const {
  std::vector<int> out;
  for (int i = 0; i < int(nodes.size()); ++i)
    if (is_op(nodes[i], "param")) out.push_back(i);
  return out;
}

std::string Graph::input_name(int i) const { return attr_str(nodes.at(inputs.at(i)).attrs, "name"); }

bool is_op(const Node& n, std::string_view name) { return n.op && n.op->name == name; }

static Dim bind(Dim d, const std::vector<Dim>& vals) {
  if (!is_sym(d)) return d;
  int i = sym_index(d);
  if (i >= int(vals.size()) || is_sym(vals[i])) return d;
  return vals[i];
}

// g with every dim replaced by f(dim): types, int and int-list attributes (slice bounds,
// pads, reshape targets) and scan bodies. The one walk over a graph's dims.
template <class F>
static Graph map_dims(const Graph& g, const F& f) {
  Graph out = g;
  for (Node& n : out.nodes) {
    for (Dim& d : n.type.shape) d = f(d);
    for (auto& [k, a] : n.attrs) {
      if (auto* ints = std::get_if<Ints>(&a))
        for (auto& d : *ints) d = f(d);
      if (auto* i = std::get_if<int64_t>(&a)) *i = f(*i);
      if (auto* body = std::get_if<GraphRef>(&a)) a = std::make_shared<const Graph>(map_dims(**body, f));
    }
  }
  return out;
}

Graph specialize(const Graph& g, const std::vector<Dim>& sym_values) {
  const std::vector<Dim>& vals = has_derived_symbols(g.symbols) ? complete_symbols(g.symbols, sym_values) : sym_values;
  return map_dims(g, [&](Dim d) { return bind(d, vals); });
}

Graph with_float_type(const Graph& g, DType to) {
  Graph out = g;
  for (Node& n : out.nodes) {
    if (n.type.dtype == DType::F32) n.type.dtype = to;
    for (auto& [k, a] : n.attrs) {
      if (auto* dt = std::get_if<DType>(&a); dt && *dt == DType::F32) *dt = to;
      if (auto* t = std::get_if<Tensor>(&a); t && t->dtype() == DType::F32) *t = t->cast(to);
      if (auto* body = std::get_if<GraphRef>(&a)) a = std::make_shared<const Graph>(with_float_type(**body, to));
    }
  }
  return out;
}

void drop_unused_symbols(Graph& g) {
  std::vector<bool> keep(g.symbols.size(), false);
  map_dims(g, [&](Dim d) {  // marks the symbols g uses (the copy map_dims returns is dropped)
    if (is_sym(d) && size_t(sym_index(d)) < keep.size()) keep[size_t(sym_index(d))] = true;
    return d;
  });
  // Free symbols stay; a kept derived one keeps the floor divisions its name is built from.
  for (size_t i = g.symbols.size(); i-- > 0;) {
    if (!is_derived_symbol(g.symbols[i])) keep[i] = true;
    if (!keep[i] || !is_derived_symbol(g.symbols[i])) continue;
    for (size_t j = 0; j < i; ++j)
      if (g.symbols[j].find("//") != std::string::npos && g.symbols[i].find(g.symbols[j]) != std::string::npos)
        keep[j] = true;
  }
  if (std::all_of(keep.begin(), keep.end(), [](bool k) { return k; })) return;
  std::vector<int> to(g.symbols.size(), -1);
  SymbolNames names;
  for (size_t i = 0; i < keep.size(); ++i)
    if (keep[i]) to[i] = int(names.size()), names.push_back(g.symbols[i]);
  g = map_dims(g,
               [&](Dim d) { return is_sym(d) && size_t(sym_index(d)) < to.size() ? make_sym(to[sym_index(d)]) : d; });
  g.symbols = std::move(names);
}

}  // namespace starc
