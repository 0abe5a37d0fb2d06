// tools/repl: the REPL session's :commands (:type, :graph, :grad, :opt, :mlir, :llvm,
// :params, :time, :load, :set, :vars, :reset, :help, :quit; :train, :save and weights in
// repl_train.cpp, :doc in repl_doc.cpp) and the completion of typed words; the session
// core (evaluation, declarations) is repl_session.cpp.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>

#include "compiler/autodiff/autodiff.h"
#include "compiler/driver/driver.h"
#include "compiler/ir/text.h"
#include "compiler/ops/builder.h"
#include "compiler/opt/passes.h"
#include "compiler/ir/share_dir.h"
#include "runtime/io/npy.h"
#include "tools/repl/repl_internal.h"

namespace fs = std::filesystem;

namespace starc {

using repl::kSessionPath;
using repl::trim;
using repl::words;

namespace {

const std::vector<std::pair<std::string, std::string>> kCommands = {
    {":help [NAME]", "this list, or what :doc NAME shows"},
    {":doc NAME", "a function's, model's or op's signature and description (also :help NAME)"},
    {":type EXPR", "shape and dtype of EXPR, without running it; of a function: its signature"},
    {":graph EXPR", "the Graph IR of EXPR"},
    {":grad EXPR wrt NAME", "the symbolic gradient graph of sum(EXPR) w.r.t. a session tensor or a parameter"},
    {":opt EXPR", "the graph after the optimizer passes (cse, dce): what the JIT compiles"},
    {":mlir EXPR", "the MLIR module of EXPR"},
    {":llvm EXPR", "the LLVM IR of EXPR"},
    {":params MODEL", "a model's parameters"},
    {":time EXPR", "evaluate EXPR and show compile vs run time (a repeat hits the compile cache)"},
    {":train MODEL OPTIONS",
     "train with the model's train block, from the session's weights of MODEL: --data NAME=VAR|FILE ... "
     "[--val ...] [--epochs N] [--batch B] [--seed S] [--progress plain|none] [--checkpoint DIR] [--out W.npz] "
     "[--fresh]"},
    {":save MODEL FILE.npz", "write the session's weights of MODEL (trained, loaded or initial)"},
    {":load MODEL FILE.npz", "MODEL uses these weights from now on (from :save, starc train --out or a checkpoint)"},
    {":load FILE.net", "add a file's definitions"},
    {":set [NAME VALUE]", "print.threshold N (more elements are summarised; 1000), print.precision P (digits; 6)"},
    {":vars", "the session's tensors and static values"},
    {":reset", "forget every definition and value"},
    {":quit", "leave (also :q, :exit, Ctrl-D)"},
};

std::vector<std::string> stdlib_modules() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(stdlib_dir(), ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().extension() != ".net") continue;
    fs::path rel = fs::relative(it->path(), stdlib_dir(), ec);
    std::string dotted;
    for (auto& part : rel.replace_extension()) dotted += (dotted.empty() ? "" : ".") + part.string();
    out.push_back(dotted);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

namespace repl {

const std::vector<std::pair<std::string, std::string>>& commands() { return kCommands; }

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool any = false;
  char quote = 0;
  for (char c : s) {
    if (quote) {
      if (c == quote)
        quote = 0;
      else
        cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c, any = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (any || !cur.empty()) out.push_back(cur);
      cur.clear(), any = false;
    } else {
      cur += c;
    }
  }
  if (any || !cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace repl

bool ReplSession::show(const std::string& what, const std::string& expr) {
  Built b;
  if (!build(expr, b)) return false;
  if (!b.static_result.empty()) {
    out_ << b.static_result << "\n";
    return true;
  }
  try {
    if (what == "type") {
      for (size_t i = 0; i < b.g.outputs.size(); ++i)
        out_ << b.g.output_names[i] << ": " << type_str(b.g.type(b.g.outputs[i])) << "\n";
    } else if (what == "graph") {
      out_ << print_graph(b.g);
    } else if (what == "opt") {
      CompileOptions o;
      o.passes = OptOptions({}, opts_.conv_algo);
      Compilation c = compile(b.g, o, Stage::Opt);
      for (auto& r : c.report) out_ << "# " << describe(r) << "\n";
      out_ << print_graph(c.optimized);
    } else {
      CompileOptions o;
      o.device = opts_.device;
      o.passes = OptOptions({}, opts_.conv_algo);
      Compilation c = compile(b.g, bind_symbols(b.g, b.inputs), o, what == "mlir" ? Stage::Mlir : Stage::Llvm);
      out_ << (what == "mlir" ? c.mlir : c.llvm);
    }
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
    return false;
  }
  return true;
}

bool ReplSession::grad(const std::string& args) {
  size_t at = args.rfind(" wrt ");
  if (at == std::string::npos) {
    err_ << "error: write :grad EXPR wrt NAME (a session tensor or a parameter's dotted name)\n";
    return false;
  }
  std::string expr = trim(args.substr(0, at)), wrt = trim(args.substr(at + 5));
  Built b;
  if (!build(expr, b, true)) return false;
  Graph& g = b.g;
  int target = -1;
  std::vector<std::string> names;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    names.push_back(g.input_name(int(i)));
    if (names.back() == wrt) target = g.inputs[i];
  }
  for (int p : g.params()) {
    names.push_back(attr_str(g.node(p).attrs, "name"));
    if (names.back() == wrt) target = p;
  }
  if (target < 0) {
    std::string hint = closest_name(wrt, names);
    err_ << fmt::format("error: '{}' is neither an input nor a parameter of the expression{} (it has: {})\n", wrt,
                        hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint), fmt::join(names, ", "));
    return false;
  }
  try {
    GraphBuilder gb(g);
    int y = sum_of_float_outputs(gb);
    if (y < 0) throw std::runtime_error("the expression has no float result to differentiate");
    g.outputs = {append_gradients(g, y, {target})[0]};
    g.output_names = {"d_" + wrt};
    out_ << "# d sum(" << trim(expr) << ") / d " << wrt << "\n" << print_graph(g);
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
    return false;
  }
  return true;
}

bool ReplSession::help(const std::string& name) {
  if (!name.empty()) return doc(name);
  out_ << "Type a statement of the language (x = expr, an expression, fn/model/train/use declarations; `;` "
          "separates several) or:\n";
  for (auto& [c, what] : kCommands) out_ << fmt::format("  {:<22} {}\n", c, what);
  out_ << "Session tensors become inputs of what you type; _ is the last result; load(\"file.npy\") and "
          "save(expr, \"out.npy\") move them to and from files; print(x, ...) prints values.\n";
  return true;
}

bool ReplSession::params(const std::string& model) {
  repl::Loaded l;
  std::optional<Graph> g;
  if (l.prog.load_text(kSessionPath, session_text())) g = l.prog.build(model);
  if (!g) {
    err_ << l.diags.format_all();
    return false;
  }
  for (int id : g->params())
    out_ << fmt::format("{:<28} {:<20}{}\n", attr_str(g->node(id).attrs, "name"), type_str(g->node(id).type),
                        attr_bool(g->node(id).attrs, "trainable") ? "" : "  (state)");
  return true;
}

// `:set NAME VALUE`: the print settings; `:set` alone lists them.
bool ReplSession::set(const std::string& args) {
  std::vector<std::string> w = words(args);
  if (w.empty()) {
    out_ << "print.threshold " << print_.threshold << "\nprint.precision " << print_.precision << "\n";
    return true;
  }
  auto number = [&](int64_t lo, int64_t hi) -> std::optional<int64_t> {
    try {
      size_t used = 0;
      int64_t v = std::stoll(w.at(1), &used);
      if (used == w[1].size() && v >= lo && v <= hi) return v;
    } catch (const std::exception&) {}
    return std::nullopt;
  };
  if (w.size() == 2 && w[0] == "print.threshold") {
    if (auto v = number(0, std::numeric_limits<int64_t>::max())) return print_.threshold = *v, true;
  } else if (w.size() == 2 && w[0] == "print.precision") {
    if (auto v = number(1, 17)) return print_.precision = int(*v), true;
  }
  err_ << "error: write :set print.threshold N (N >= 0) or :set print.precision P (1 to 17)\n";
  return false;
}

// `:type NAME` of a function, model or op: its signature (a tensor or static of that
// name, or any other expression, is typed as an expression).
bool ReplSession::type_of(const std::string& expr) {
  bool ident = !expr.empty() && std::all_of(expr.begin(), expr.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  });
  bool session_value = vars_.count(expr) || std::any_of(statics_.begin(), statics_.end(),
                                                        [&](auto& s) { return s.rfind(expr + " = ", 0) == 0; });
  repl::Description d;
  if (ident && !session_value && repl::describe_name(session_text(), expr, d)) {
    out_ << d.signature << "\n";
    return true;
  }
  return show("type", expr);
}

bool ReplSession::command(const std::string& text) {
  size_t sp = text.find_first_of(" \t\n");
  std::string name = text.substr(0, sp), rest = sp == std::string::npos ? "" : trim(text.substr(sp));
  auto need = [&](const char* what) {
    if (!rest.empty()) return true;
    err_ << "error: " << name << " needs " << what << "\n";
    return false;
  };
  if (name == ":quit" || name == ":q" || name == ":exit") return quit_ = true;
  if (name == ":help") return help(rest);
  if (name == ":doc") return need("a name") && doc(rest);
  if (name == ":type") return need("an expression") && type_of(rest);
  if (name == ":graph" || name == ":opt" || name == ":mlir" || name == ":llvm")
    return need("an expression") && show(name.substr(1), rest);
  if (name == ":time") return need("an expression") && evaluate(rest, {}, true);
  if (name == ":grad") return need("EXPR wrt NAME") && grad(rest);
  if (name == ":train") return train(rest);
  if (name == ":save") return save_command(rest);
  if (name == ":load") return need("FILE.net or MODEL FILE.npz") && load_command(rest);
  if (name == ":set") return set(rest);
  if (name == ":params") return need("a model name") && params(rest);
  if (name == ":vars") {
    for (auto& [n, t] : vars_) out_ << fmt::format("{:<12} {}\n", n, type_str(t.type()));
    for (auto& s : statics_) out_ << s << "\n";
    return true;
  }
  if (name == ":reset") {
    uses_ = {"use std.nn", "use std.losses"};
    defs_.clear(), statics_.clear(), vars_.clear(), trained_.clear();
    out_ << "session reset\n";
    return true;
  }
  std::vector<std::string> names;
  for (auto& [c, what] : kCommands) names.push_back(words(c)[0]);
  std::string hint = closest_name(name, names);
  err_ << "error: unknown command " << name << (hint.empty() ? "" : "; did you mean " + hint + "?")
       << " (:help lists them)\n";
  return false;
}

std::vector<std::string> ReplSession::complete(const std::string& typed) const {
  std::string line = typed.substr(typed.rfind(';') + 1);  // the statement being typed (npos + 1 = 0)
  line.erase(0, line.find_first_not_of(" \t"));
  size_t b = line.size();
  while (b > 0 && (std::isalnum(static_cast<unsigned char>(line[b - 1])) || line[b - 1] == '_' || line[b - 1] == '.' ||
                   line[b - 1] == ':'))
    --b;
  std::string word = line.substr(b);
  std::vector<std::string> pool;
  if (trim(line.substr(0, b)) == "use") {
    pool = stdlib_modules();
  } else if (b == 0 && !word.empty() && word[0] == ':') {
    for (auto& [c, what] : kCommands) pool.push_back(words(c)[0]);
  } else {
    for (auto& [n, t] : vars_) pool.push_back(n);
    for (auto& s : statics_) pool.push_back(s.substr(0, s.find(' ')));
    repl::Loaded l;
    if (l.prog.load_text(kSessionPath, session_text()))
      for (auto& [n, d] : l.prog.globals(0)) pool.push_back(n);
    for (auto& n : builtin_names()) pool.push_back(n);
  }
  std::vector<std::string> out;
  for (auto& p : pool)
    if (p.rfind(word, 0) == 0) out.push_back(p);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace starc
