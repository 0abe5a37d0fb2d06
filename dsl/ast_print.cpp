// dsl: prints the AST (starc graph --emit ast), one node per line with its line:col.
#include <fmt/format.h>

#include "dsl/ast_print.h"

namespace starc {
namespace {

struct Printer {
  const SourceManager& sm;
  std::string out;

  std::string at(SrcLoc l) const {
    if (!l.known()) return "";
    auto [line, col] = sm.line_col(l);
    return fmt::format("  @{}:{}", line, col);
  }
  void line(int depth, const std::string& s, SrcLoc l) { out += std::string(depth * 2, ' ') + s + at(l) + "\n"; }

  std::string type(const TypeExpr& t) {
    if (!t.is_tensor) return t.name;
    std::string s = t.name + "[";
    for (size_t i = 0; i < t.dims.size(); ++i) {
      const Expr& d = *t.dims[i];
      s += (i ? "," : "") + (d.kind == Expr::Name ? d.name : d.kind == Expr::Int ? std::to_string(d.ival) : "<expr>");
    }
    return s + "]";
  }

  void expr(const Expr& e, int d, const std::string& label = "") {
    std::string p = label.empty() ? "" : label + ": ";
    switch (e.kind) {
      case Expr::Int:
        line(d, fmt::format("{}Int {}", p, e.ival), e.loc);
        return;
      case Expr::Float:
        line(d, fmt::format("{}Float {}", p, e.fval), e.loc);
        return;
      case Expr::Str:
        line(d, fmt::format("{}Str \"{}\"", p, e.name), e.loc);
        return;
      case Expr::Bool:
        line(d, fmt::format("{}Bool {}", p, e.bval), e.loc);
        return;
      case Expr::Name:
        line(d, fmt::format("{}Name {}", p, e.name), e.loc);
        return;
      case Expr::Tuple:
        line(d, p + "Tuple", e.loc);
        break;
      case Expr::List:
        line(d, p + "List", e.loc);
        break;
      case Expr::Unary:
        line(d, fmt::format("{}Unary {}", p, e.name), e.loc);
        break;
      case Expr::Binary:
        line(d, fmt::format("{}Binary {}", p, e.name), e.loc);
        break;
      case Expr::Member:
        line(d, fmt::format("{}Member .{}", p, e.name), e.loc);
        break;
      case Expr::Index:
        line(d, p + "Index", e.loc);
        break;
      case Expr::Call:
        line(d, p + "Call" + (e.as_name.empty() ? "" : " as " + e.as_name), e.loc);
        break;
      case Expr::Lambda: {
        std::string ps;
        for (auto& [n, l] : e.lambda_params) ps += (ps.empty() ? "" : ", ") + n;
        line(d, fmt::format("{}Lambda |{}|", p, ps), e.loc);
        break;
      }
    }
    for (auto& i : e.items) expr(*i, d + 1);
    for (auto& a : e.args) expr(*a.value, d + 1, a.name.empty() ? "arg" : a.name);
    for (auto& ix : e.index) {
      if (!ix.is_slice) {
        expr(*ix.index, d + 1, "index");
        continue;
      }
      line(d + 1, "Slice", ix.loc);
      if (ix.start) expr(*ix.start, d + 2, "start");
      if (ix.end) expr(*ix.end, d + 2, "end");
      if (ix.step) expr(*ix.step, d + 2, "step");
    }
  }

  void block(const Block& b, int d) {
    for (auto& s : b) stmt(*s, d);
  }

  void stmt(const Stmt& s, int d) {
    switch (s.kind) {
      case Stmt::Assign: {
        std::string t;
        for (auto& [n, l] : s.targets) t += (t.empty() ? "" : ", ") + n;
        line(d, fmt::format("{} {}", s.is_let ? "Let" : "Assign", t), s.loc);
        expr(*s.value, d + 1);
        return;
      }
      case Stmt::ParamDecl:
        line(d, fmt::format("{} {}: {}", s.trainable ? "Param" : "State", s.name, type(*s.type)), s.loc);
        if (s.value) expr(*s.value, d + 1, "init");
        return;
      case Stmt::Return:
        line(d, "Return", s.loc);
        if (s.value) expr(*s.value, d + 1);
        return;
      case Stmt::For:
        line(d, "For " + s.targets[0].first, s.loc);
        expr(*s.value, d + 1, s.value2 ? "from" : "in");
        if (s.value2) expr(*s.value2, d + 1, "to");
        block(s.body, d + 1);
        return;
      case Stmt::If:
        line(d, "If", s.loc);
        expr(*s.value, d + 1, "cond");
        block(s.body, d + 1);
        if (!s.else_body.empty()) {
          line(d, "Else", s.loc);
          block(s.else_body, d + 1);
        }
        return;
      case Stmt::FnDef:
        fn(*s.fn, d);
        return;
      case Stmt::Assert:
        line(d, "Assert", s.loc);
        expr(*s.value, d + 1);
        return;
      case Stmt::ExprStmt:
        line(d, "Expr", s.loc);
        expr(*s.value, d + 1);
        return;
    }
  }

  void fn(const FnDecl& f, int d) {
    std::string ps;
    for (auto& p : f.params)
      ps +=
          (ps.empty() ? "" : ", ") + p.name + (p.type ? ": " + type(*p.type) : "") + (p.default_value ? " = ..." : "");
    std::string outs;
    for (auto& [n, t] : f.outputs) outs += (outs.empty() ? "" : ", ") + (n.empty() ? "" : n + ": ") + type(t);
    line(d, fmt::format("{} {}({}){}", f.is_model ? "Model" : "Fn", f.name, ps, outs.empty() ? "" : " -> " + outs),
         f.loc);
    block(f.body, d + 1);
  }

  void train(const TrainDecl& t, int d) {
    std::string ps;
    for (auto& p : t.params) ps += (ps.empty() ? "" : ", ") + p.name + (p.type ? ": " + type(*p.type) : "");
    line(d, fmt::format("Train {}({})", t.model, ps), t.loc);
    block(t.body, d + 1);
    for (auto& st : t.steps) {
      line(d + 1, "Step " + st.name, st.loc);
      for (auto& a : st.args) expr(*a.value, d + 2, a.name);
      block(st.body, d + 2);
    }
  }
};

}  // namespace

std::string print_ast(const Module& m, const SourceManager& sm) {
  Printer p{sm, {}};
  p.out = fmt::format("Module {}\n", m.path);
  for (auto& u : m.uses) p.line(1, fmt::format("Use {}", fmt::join(u.path, ".")), u.loc);
  for (auto& d : m.decls) p.fn(*d, 1);
  for (auto& t : m.trains) p.train(*t, 1);
  return p.out;
}

}  // namespace starc
