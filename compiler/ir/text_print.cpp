// Graph IR -> text (print_graph) and -> Graphviz DOT (to_dot). See text.h for the form.
#include <fmt/format.h>

#include <climits>
#include <set>

#include "compiler/ir/sym_dim.h"
#include "compiler/ir/text.h"
#include "compiler/ir/text_util.h"
#include "compiler/ops/op.h"

namespace starc {
namespace {

using text_detail::is_ident;
using text_detail::is_keyword;

std::string quote(std::string_view s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      case '\r':
        o += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          o += fmt::format("\\x{:02x}", c);
        else
          o += char(c);
    }
  }
  return o + "\"";
}

// An identifier when possible, else a quoted string.
std::string name_str(std::string_view s) { return is_ident(s) && !is_keyword(s) ? std::string(s) : quote(s); }

// Shortest representation that reads back to the same double, always recognisably a float.
std::string float_str(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // 'n': inf, nan
  return s;
}

// The symbol names can be used to print dims only if each is unique and a non-keyword
// identifier or a derived dim's expression (compiler/ir/sym_dim.h; printed quoted).
const SymbolNames* usable(const SymbolNames& s) {
  std::set<std::string_view> seen;
  for (const std::string& n : s)
    if (((!is_ident(n) || is_keyword(n)) && !is_derived_symbol(n)) || !seen.insert(n).second) return nullptr;
  return &s;
}

std::string loc_str(const Loc& l) {
  if (l.line == 0 && l.col == 0 && l.file.empty()) return "";
  bool plain = !l.file.empty() && l.file.front() != ' ' && l.file.front() != '"' &&
               l.file.find_first_of("\n\r\"") == std::string::npos;
  return fmt::format("  # {}:{}:{}", plain ? l.file : quote(l.file), l.line, l.col);
}

// An int attribute: symbolic dims by name; values far below kSymBase stay plain numbers.
std::string dim_text(Dim d, const SymbolNames* syms) {
  if (is_sym(d) && kSymBase - d > INT32_MAX) return std::to_string(d);
  std::string s = dim_str(d, syms);
  return is_sym(d) && is_derived_symbol(s) ? quote(s) : s;
}

// A type as the text format writes it: derived dims quoted (f32[B,"(L+1)//2"]).
std::string type_text(const TensorType& t, const SymbolNames* syms) {
  std::string o = std::string(dtype_name(t.dtype)) + "[";
  for (size_t i = 0; i < t.shape.size(); ++i) o += (i ? "," : "") + dim_text(t.shape[i], syms);
  return o + "]";
}

std::string ints_str(const Ints& v, const SymbolNames* syms) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? "," : "") + dim_text(v[i], syms);
  return o + "]";
}

std::string tensor_str(const Tensor& t) {
  if (!t.defined()) return "tensor<none>";
  std::string o = fmt::format("tensor<{}>[", type_str(t.type()));
  for (int64_t i = 0, n = t.size(); i < n; ++i) {
    if (i) o += ",";
    switch (t.dtype()) {
      case DType::F32:
        o += fmt::format("{}", t.data<float>()[i]);
        break;
      case DType::F64:
        o += fmt::format("{}", t.data<double>()[i]);
        break;
      case DType::I64:
        o += fmt::format("{}", t.data<int64_t>()[i]);
        break;
      case DType::Bool:
        o += t.data<uint8_t>()[i] ? "true" : "false";
        break;
    }
  }
  return o + "]";
}

// A graph input that the header can describe completely (type, name and loc).
bool header_input(const Node& n) {
  if (!is_op(n, "input") || n.attrs.size() != 3) return false;
  auto nm = n.attrs.find("name"), dt = n.attrs.find("dtype"), sh = n.attrs.find("shape");
  if (nm == n.attrs.end() || dt == n.attrs.end() || sh == n.attrs.end()) return false;
  auto* d = std::get_if<DType>(&dt->second);
  auto* s = std::get_if<Ints>(&sh->second);
  return std::holds_alternative<std::string>(nm->second) && d && s && *d == n.type.dtype && *s == n.type.shape;
}

class Printer {
 public:
  std::string out;

  // `scope`: the names of the enclosing graph, used when `g` declares no symbols.
  void graph(const Graph& g, const SymbolNames* scope, int indent) {
    const SymbolNames* syms = g.symbols.empty() ? scope : usable(g.symbols);
    std::string pad(indent, ' ');
    std::vector<bool> in_header(g.nodes.size(), false);
    std::vector<std::string> entries, locs;
    for (int id : g.inputs) {
      std::string e = fmt::format("%{}", id), loc;
      if (id >= 0 && id < int(g.nodes.size()) && !in_header[id] && header_input(g.nodes[id])) {
        in_header[id] = true;
        const Node& n = g.nodes[id];
        e += fmt::format(": {} {}", type_text(n.type, syms), quote(attr_str(n.attrs, "name")));
        loc = loc_str(n.loc);
      }
      entries.push_back(e);
      locs.push_back(loc);
    }
    bool multiline = false;
    for (auto& l : locs) multiline |= !l.empty();
    out += "graph " + name_str(g.name) + "(";
    for (size_t i = 0; i < entries.size(); ++i) {
      bool last = i + 1 == entries.size();
      if (multiline)
        out += "\n" + pad + "    " + entries[i] + (last ? "" : ",") + locs[i];
      else
        out += (i ? ", " : "") + entries[i];
    }
    if (multiline) out += "\n" + pad;
    out += ")";
    if (!g.symbols.empty()) {
      out += " symbols(";
      for (size_t i = 0; i < g.symbols.size(); ++i) out += (i ? ", " : "") + name_str(g.symbols[i]);
      out += ")";
    }
    out += " {\n";
    for (size_t id = 0; id < g.nodes.size(); ++id)
      if (!in_header[id]) node(g, int(id), syms, indent + 2);
    out += pad + "  return";
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      out += fmt::format("{} %{}", i ? "," : "", g.outputs[i]);
      if (i < g.output_names.size()) out += " " + quote(g.output_names[i]);
    }
    out += "\n" + pad + "}";
  }

 private:
  void node(const Graph& g, int id, const SymbolNames* syms, int indent) {
    const Node& n = g.nodes[id];
    out += fmt::format("{}%{} = {}", std::string(indent, ' '), id, n.op ? name_str(n.op->name) : quote("<no op>"));
    if (!n.inputs.empty()) {
      out += "(";
      for (size_t i = 0; i < n.inputs.size(); ++i) out += fmt::format("{}%{}", i ? ", " : "", n.inputs[i]);
      out += ")";
    }
    if (!n.attrs.empty()) {
      out += " {";
      bool first = true;
      for (auto& [k, v] : n.attrs) {
        out += (first ? "" : ", ") + name_str(k) + "=";
        first = false;
        value(v, syms, indent);
      }
      out += "}";
    }
    out += " : " + type_text(n.type, syms) + loc_str(n.loc) + "\n";
  }

  void value(const Attr& a, const SymbolNames* syms, int indent) {
    switch (attr_kind(a)) {
      case AttrKind::Int:
        out += dim_text(std::get<int64_t>(a), syms);
        break;
      case AttrKind::Float:
        out += float_str(std::get<double>(a));
        break;
      case AttrKind::Bool:
        out += std::get<bool>(a) ? "true" : "false";
        break;
      case AttrKind::String:
        out += quote(std::get<std::string>(a));
        break;
      case AttrKind::Ints:
        out += ints_str(std::get<Ints>(a), syms);
        break;
      case AttrKind::Floats: {
        const Floats& f = std::get<Floats>(a);
        out += "[";
        for (size_t i = 0; i < f.size(); ++i) out += (i ? "," : "") + float_str(f[i]);
        out += "]";
        break;
      }
      case AttrKind::DType:
        out += dtype_name(std::get<DType>(a));
        break;
      case AttrKind::Tensor:
        out += tensor_str(std::get<Tensor>(a));
        break;
      case AttrKind::Graph: {
        const GraphRef& g = std::get<GraphRef>(a);
        if (!g)
          out += "null";
        else
          graph(*g, syms, indent + 2);
        break;
      }
    }
  }
};

// ---- DOT -------------------------------------------------------------------------

std::string dot_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

void dot_graph(std::string& out, const Graph& g, const std::string& prefix, const SymbolNames* scope, int indent) {
  const SymbolNames* syms = g.symbols.empty() ? scope : usable(g.symbols);
  std::string pad(indent, ' ');
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& n = g.nodes[id];
    std::string nid = fmt::format("{}n{}", prefix, id);
    std::string opname = n.op ? n.op->name : "<no op>";
    std::string label = fmt::format("%{} {}", id, opname), style;
    if (is_op(n, "input") || is_op(n, "param")) {
      auto it = n.attrs.find("name");
      if (it != n.attrs.end() && std::holds_alternative<std::string>(it->second))
        label += " " + std::get<std::string>(it->second);
    }
    label += "\n" + type_str(n.type, syms);
    if (is_op(n, "input"))
      style = ", shape=ellipse, style=filled, fillcolor=\"#cfe2ff\"";
    else if (is_op(n, "param"))
      style = ", shape=box, style=\"filled,dashed\", fillcolor=\"#fff3bf\"";
    else if (is_op(n, "const"))
      style = ", shape=box, style=filled, fillcolor=\"#e9ecef\"";
    out += fmt::format("{}{} [label=\"{}\"{}];\n", pad, nid, dot_escape(label), style);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      std::string elabel;
      if (n.inputs.size() > 1 && n.op && !n.op->inputs.empty())
        elabel = i < n.op->inputs.size() ? n.op->inputs[i] : fmt::format("{}{}", n.op->inputs.back(), i);
      out += fmt::format("{}{}n{} -> {}{};\n", pad, prefix, n.inputs[i], nid,
                         elabel.empty() ? "" : fmt::format(" [label=\"{}\"]", dot_escape(elabel)));
    }
    for (auto& [k, v] : n.attrs) {
      auto* body = std::get_if<GraphRef>(&v);
      if (!body || !*body) continue;
      std::string sub = nid + "_";
      out += fmt::format("{}subgraph cluster_{} {{\n{}  label=\"{} of %{} ({})\";\n{}  style=dashed;\n", pad, sub, pad,
                         dot_escape(k), id, dot_escape(opname), pad);
      dot_graph(out, **body, sub, syms, indent + 2);
      out += pad + "}\n";
      for (int o : (*body)->outputs) out += fmt::format("{}{}n{} -> {} [style=dotted];\n", pad, sub, o, nid);
    }
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    std::string name = i < g.output_names.size() ? g.output_names[i] : fmt::format("output {}", i);
    out += fmt::format("{}{}out{} [label=\"{}\", shape=plaintext];\n{}{}n{} -> {}out{};\n", pad, prefix, i,
                       dot_escape(name), pad, prefix, g.outputs[i], prefix, i);
  }
}

}  // namespace

std::string print_graph(const Graph& g) {
  Printer p;
  p.graph(g, nullptr, 0);
  return p.out + "\n";
}

std::string to_dot(const Graph& g) {
  std::string out = fmt::format("digraph \"{}\" {{\n  node [shape=box, fontname=\"Helvetica\"];\n", dot_escape(g.name));
  dot_graph(out, g, "", nullptr, 2);
  return out + "}\n";
}

}  // namespace starc
