// verify_graph: structural and type checks of the Graph IR (see text.h).
#include <fmt/format.h>

#include <map>
#include <set>

#include "compiler/ir/text.h"
#include "compiler/ops/op.h"

namespace starc {
namespace {

struct Verifier {
  // `where`: "" for the top graph, else "in the body of scan node %5: " (nested).
  void graph(const Graph& g, const SymbolNames* outer, const std::string& where) {
    const SymbolNames* syms = g.symbols.empty() ? outer : &g.symbols;
    size_t n_syms = syms ? syms->size() : 0;
    auto fail = [&](const std::string& msg) {
      throw std::runtime_error(fmt::format("verify_graph: {}{}{}", where, g.name.empty() ? "" : g.name + ": ", msg));
    };
    std::map<std::string, int> param_names;
    std::set<int> listed(g.inputs.begin(), g.inputs.end());
    for (int id = 0; id < int(g.nodes.size()); ++id) {
      const Node& n = g.nodes[id];
      std::string opname = n.op ? n.op->name : "?";
      auto node_fail = [&](const std::string& msg) { fail(fmt::format("node %{} ({}): {}", id, opname, msg)); };
      if (!n.op) node_fail("the node has no op");
      std::vector<TensorType> in_types;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        int in = n.inputs[i];
        if (in < 0 || in >= id)
          node_fail(
              fmt::format("input {} refers to %{}, which is not defined before this node "
                          "(nodes must be in topological order)",
                          i, in));
        in_types.push_back(g.nodes[in].type);
      }
      for (Dim d : n.type.shape) {
        if (d < 0 && !is_sym(d)) node_fail(fmt::format("type {} has a negative dimension", type_str(n.type, syms)));
        if (is_sym(d) && (kSymBase - d > INT32_MAX || sym_index(d) >= int(n_syms)))
          node_fail(fmt::format("type {} uses a symbolic dim the graph does not declare ({} symbols declared)",
                                type_str(n.type, syms), n_syms));
      }
      for (auto& [k, v] : n.attrs) {
        if (auto* body = std::get_if<GraphRef>(&v)) {
          if (!*body) node_fail(fmt::format("attribute '{}' holds no graph", k));
          graph(**body, syms, fmt::format("{}in attribute '{}' of node %{} ({}): ", where, k, id, opname));
        }
        if (auto* t = std::get_if<Tensor>(&v); t && !t->defined())
          node_fail(fmt::format("attribute '{}' holds an undefined tensor", k));
      }
      for (const AttrSpec& spec : n.op->attrs)
        if (!n.attrs.count(spec.name))
          node_fail(fmt::format("attribute '{}' is missing (attrs must be completed)", spec.name));
      TensorType inferred;
      try {
        Attrs full = complete_attrs(*n.op, n.attrs);
        // Shape arithmetic may pass through derived dims the graph no longer keeps
        // (drop_unused_symbols): they go to a scratch copy; the result must use its own.
        SymbolNames scratch = syms ? *syms : SymbolNames{};
        inferred = infer_type(*n.op, in_types, full, syms ? &scratch : nullptr, syms ? &scratch : nullptr);
      } catch (const std::exception& e) {
        node_fail(fmt::format("the shape rule fails: {}", e.what()));
      }
      if (inferred != n.type)
        node_fail(
            fmt::format("type is {} but the shape rule gives {}", type_str(n.type, syms), type_str(inferred, syms)));
      if (is_op(n, "param")) {
        const std::string& name = attr_str(n.attrs, "name");
        auto [it, fresh] = param_names.emplace(name, id);
        if (!fresh) node_fail(fmt::format("param name '{}' is already used by %{}", name, it->second));
      }
      if (is_op(n, "input") && !listed.count(id)) node_fail("an input node that is not listed in the graph's inputs");
    }
    std::set<int> seen;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      int id = g.inputs[i];
      if (id < 0 || id >= int(g.nodes.size()))
        fail(fmt::format("graph input {} refers to %{}, which does not exist", i, id));
      if (!is_op(g.nodes[id], "input"))
        fail(fmt::format("graph input {} refers to %{}, which is a {} node, not an input", i, id,
                         g.nodes[id].op ? g.nodes[id].op->name : "?"));
      if (!seen.insert(id).second) fail(fmt::format("graph input {} lists %{} a second time", i, id));
    }
    for (size_t i = 0; i < g.outputs.size(); ++i)
      if (g.outputs[i] < 0 || g.outputs[i] >= int(g.nodes.size()))
        fail(fmt::format("output {} refers to %{}, which does not exist", i, g.outputs[i]));
    if (g.output_names.size() != g.outputs.size())
      fail(fmt::format("{} outputs but {} output names", g.outputs.size(), g.output_names.size()));
  }
};

}  // namespace

void verify_graph(const Graph& g) { Verifier().graph(g, nullptr, ""); }

}  // namespace starc
