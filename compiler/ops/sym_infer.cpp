// Shape rules with symbolic dims: InferCtx's arithmetic, and the check that a graph's
// derived dims make sense once its symbols are bound (docs/language.md, symbolic dims).
#include <fmt/format.h>

#include <stdexcept>

#include "compiler/ir/sym_dim.h"
#include "compiler/ops/op.h"

namespace starc {
namespace {

template <class F>
Dim guarded(F f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    throw OpError(e.what());
  } catch (const std::overflow_error& e) {
    throw OpError(e.what());
  }
}

// "L = 3, B = 8": the free symbols' values.
std::string free_values(const SymbolNames& names, const std::vector<Dim>& vals) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < vals.size(); ++i)
    if (!is_derived_symbol(names[i]) && !is_sym(vals[i]))
      s += fmt::format("{}{} = {}", s.empty() ? "" : ", ", names[i], vals[i]);
  return s;
}

std::string loc_prefix(const Loc& l) { return l.known() ? fmt::format("{}:{}:{}: ", l.file, l.line, l.col) : ""; }

}  // namespace

Dim InferCtx::add(Dim a, Dim b) const {
  return guarded([&] { return dim_add({syms, grow}, a, b); });
}
Dim InferCtx::sub(Dim a, Dim b) const {
  return guarded([&] { return dim_sub({syms, grow}, a, b); });
}
Dim InferCtx::mul(Dim a, Dim b) const {
  return guarded([&] { return dim_mul({syms, grow}, a, b); });
}
Dim InferCtx::floordiv(Dim a, int64_t k) const {
  return guarded([&] { return dim_floordiv({syms, grow}, a, k); });
}

void check_bound_shapes(const Graph& g, const std::vector<Dim>& vals) {
  if (!has_derived_symbols(g.symbols)) return;
  std::vector<Dim> all;
  try {
    all = complete_symbols(g.symbols, vals);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", g.name, e.what()));
  }
  // A symbol left unbound is one no input declares: the graph was specialised already
  // (its types no longer mention it), or only in part, and is checked when it is bound.
  for (Dim v : all)
    if (is_sym(v)) return;
  Graph s = specialize(g, all);
  std::string at = free_values(g.symbols, all);
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const Node& n = s.nodes[i];
    if (!n.op) continue;
    std::vector<TensorType> in;
    for (int v : n.inputs) in.push_back(s.type(v));
    TensorType got;
    try {
      got = infer_type(*n.op, in, n.attrs, nullptr);
    } catch (const OpError& e) {
      throw std::runtime_error(fmt::format("{}{} (with {})", loc_prefix(n.loc), e.what(), at));
    }
    for (Dim d : n.type.shape)
      if (d < 0)
        throw std::runtime_error(fmt::format("{}{}: a dim of the result, {}, is {} (with {})", loc_prefix(n.loc),
                                             n.op->name, type_str(g.type(int(i)), &g.symbols), d, at));
    if (got != n.type)
      throw std::runtime_error(fmt::format("{}{}: with {} the result is {}, not {} as compiled for {}",
                                           loc_prefix(n.loc), n.op->name, at, type_str(got), type_str(n.type),
                                           type_str(g.type(int(i)), &g.symbols)));
  }
}

}  // namespace starc
