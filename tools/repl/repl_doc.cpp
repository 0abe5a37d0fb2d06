// tools/repl: `:doc NAME` (also `:help NAME`) and `:type NAME` for a function: the
// signature and doc comment of a function or model (the `#` lines above its `fn` or
// `model` in its .net file), a primitive op's entry of the op table (inputs, attributes
// with defaults, its one-line doc), a builtin's line, a :command's usage.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <ostream>

#include "compiler/ir/share_dir.h"
#include "compiler/ops/op.h"
#include "tools/repl/repl_internal.h"

namespace fs = std::filesystem;

namespace starc {
namespace {

// The builtins that are not ops, and the REPL's own forms.
const std::map<std::string, std::pair<std::string, std::string>> kBuiltinDocs = {
    {"zeros", {"zeros(shape, dtype: f32)", "a tensor of zeros"}},
    {"ones", {"ones(shape, dtype: f32)", "a tensor of ones"}},
    {"full", {"full(shape, value, dtype: f32)", "a tensor filled with value"}},
    {"len", {"len(list or tensor)", "the length of a list, or of a tensor's first axis"}},
    {"int", {"int(x)", "a static number as an int (a float is truncated toward zero)"}},
    {"float", {"float(x)", "a static number as a float"}},
    {"print",
     {"print(x, ...)",
      "at the prompt: the values of tensors and static values; in a function: "
      "the types, when the function is built"}},
    {"grad", {"grad(y, wrt: x)", "the gradient of sum(y) with respect to x (or a list of tensors)"}},
    {"assign", {"assign(state, value)", "in a train block: write value into a state buffer"}},
    {"load", {"load(\"FILE\"[, \"NAME\"])", "at the prompt: a tensor file (.npy, FITS, CSV specs; NAME of an .npz)"}},
    {"save", {"save(x, \"FILE.npy\")", "at the prompt: write a tensor as .npy"}},
};

std::string attr_value(const Attr& a) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) return fmt::format("{}", v);
        if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        if constexpr (std::is_same_v<T, std::string>) return fmt::format("\"{}\"", v);
        if constexpr (std::is_same_v<T, Ints> || std::is_same_v<T, Floats>)
          return fmt::format("[{}]", fmt::join(v, ", "));
        if constexpr (std::is_same_v<T, DType>) return std::string(dtype_name(v));
        return "?";
      },
      a);
}

std::string op_signature(const OpDef& op, const std::string& shown_name) {
  std::vector<std::string> args = op.inputs;
  if (op.variadic && !args.empty()) args.back() += "...";
  for (const AttrSpec& a : op.attrs)
    args.push_back(fmt::format("{}: {}{}", a.name, attr_kind_name(a.kind),
                               a.default_value ? " = " + attr_value(*a.default_value) : ""));
  return fmt::format("{}({})", shown_name, fmt::join(args, ", "));
}

// The declaration's text from its keyword to the `{` of its body, on one line.
std::string decl_signature(const std::string& text, size_t line_start) {
  std::string sig;
  int depth = 0;
  bool space = false;
  for (size_t i = line_start; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' && depth == 0) break;
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !sig.empty() && sig.back() != '(' && sig.back() != '[' && c != ')' && c != ']') sig += ' ';
    space = false;
    sig += c;
  }
  return sig;
}

// The `#` lines right above `line_start` (no blank line between), without the `# `.
std::vector<std::string> comment_above(const std::string& text, size_t line_start) {
  std::vector<std::string> lines;
  while (line_start > 0) {
    size_t end = line_start - 1;  // the '\n' ending the line above
    size_t begin = end == 0 ? 0 : text.rfind('\n', end - 1);
    begin = begin == std::string::npos || end == 0 ? 0 : begin + 1;
    std::string line = repl::trim(text.substr(begin, end - begin));
    if (line.empty() || line[0] != '#') break;
    line = line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1);
    lines.insert(lines.begin(), line);
    line_start = begin;
  }
  return lines;
}

// The file's leading comment block: a model's description when none sits above it.
std::vector<std::string> file_comment(const std::string& text) {
  size_t end = 0;
  while (end < text.size() && text[end] == '#') {
    size_t nl = text.find('\n', end);
    end = nl == std::string::npos ? text.size() : nl + 1;
  }
  return end == 0 ? std::vector<std::string>{} : comment_above(text + "\n", end);
}

// "std.nn" for a stdlib file, the path otherwise.
std::string module_name(const std::string& path) {
  std::error_code ec;
  fs::path rel = fs::relative(path, stdlib_dir(), ec);
  if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) return path;
  std::string dotted;
  for (auto& part : rel.replace_extension()) dotted += (dotted.empty() ? "" : ".") + part.string();
  return dotted;
}

}  // namespace

// Signature, doc lines and where it is defined, of NAME as the session sees it; false
// when NAME is none of a function, a model, an op or a builtin.
bool repl::describe_name(const std::string& session_text, const std::string& name, Description& d) {
  std::string op_name = name.rfind("prim.", 0) == 0 ? name.substr(5) : name;
  const OpDef* op = find_op(op_name);
  Loaded l;
  if (name == op_name && l.prog.load_text(kSessionPath, session_text)) {
    const auto& globals = l.prog.globals(0);
    if (auto it = globals.find(name); it != globals.end()) {
      const FnDecl& f = *it->second;
      const Module& m = l.prog.modules().at(size_t(f.module));
      const std::string& text = l.sm.file(m.file).text;
      size_t line_start = text.rfind('\n', f.loc.offset);
      line_start = line_start == std::string::npos ? 0 : line_start + 1;
      d.signature = decl_signature(text, line_start);
      d.doc = comment_above(text, line_start);
      if (d.doc.empty() && f.is_model) d.doc = file_comment(text);
      d.where = m.path == kSessionPath
                    ? "defined in this session"
                    : fmt::format("defined in {}, line {}", module_name(m.path), l.sm.line_col(f.loc).first);
      if (op) d.where += fmt::format("; the primitive op is prim.{}", name);
      return true;
    }
  }
  if (op) {
    d.signature = op_signature(*op, name);
    d.doc = {op->doc};
    d.where = "a primitive op: `starc ops` lists them all";
    return true;
  }
  if (auto it = kBuiltinDocs.find(name); it != kBuiltinDocs.end()) {
    d.signature = it->second.first;
    d.doc = {it->second.second};
    d.where = "a builtin of the language (docs/language.md)";
    return true;
  }
  return false;
}

bool ReplSession::doc(const std::string& name) {
  repl::Description d;
  if (name[0] == ':') {
    for (auto& [c, what] : repl::commands())
      if (repl::words(c)[0] == name) {
        out_ << c << "\n    " << what << "\n";
        return true;
      }
  } else if (vars_.count(name)) {
    out_ << name << ": a session tensor, " << type_str(vars_.at(name).type()) << "\n";
    return true;
  } else if (std::any_of(statics_.begin(), statics_.end(), [&](auto& s) { return s.rfind(name + " = ", 0) == 0; })) {
    out_ << name << ": a static value of this session (:vars shows how it was made)\n";
    return true;
  } else if (repl::describe_name(session_text(), name, d)) {
    out_ << d.signature << "\n";
    for (const std::string& line : d.doc) out_ << (line.empty() ? "" : "    " + line) << "\n";
    out_ << "    " << d.where << "\n";
    return true;
  }
  err_ << "error: no function, model, op, builtin or command named '" << name << "'\n";
  return false;
}

}  // namespace starc
