// dsl: name resolution for every function, called or not, so that a typo in an unused
// layer is still reported (elaboration only sees what a model actually calls).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "compiler/ops/op.h"
#include "dsl/program.h"
#include "dsl/train.h"

namespace starc {
namespace {

struct Resolver {
  Program& prog;
  int module;
  std::vector<std::set<std::string>> scopes;  // one per enclosing function
  int train_depth = -1;                       // scopes.size() inside a train block's own statements

  bool known(const std::string& n) const {
    for (auto& s : scopes)
      if (s.count(n)) return true;
    if (prog.globals(module).count(n)) return true;
    static const std::set<std::string> builtins = [] {
      auto v = builtin_names();
      return std::set<std::string>(v.begin(), v.end());
    }();
    return builtins.count(n) > 0;
  }

  void report(const Expr& e) {
    std::vector<std::string> cands = builtin_names();
    for (auto& [k, v] : prog.globals(module)) cands.push_back(k);
    for (auto& s : scopes) cands.insert(cands.end(), s.begin(), s.end());
    std::string hint = closest_name(e.name, cands);
    prog.diags().error(e.loc, fmt::format("unknown name '{}'{}", e.name,
                                          hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }

  void collect_binders(const TypeExpr& t, std::set<std::string>& out) {
    for (auto& d : t.dims)
      if (d->kind == Expr::Name) out.insert(d->name);
  }

  // Every name a block can bind, anywhere inside it (function-level scoping).
  void collect_defs(const Block& b, std::set<std::string>& out) {
    for (auto& s : b) {
      for (auto& [n, l] : s->targets) out.insert(n);
      if (s->kind == Stmt::ParamDecl) out.insert(s->name);
      if (s->kind == Stmt::FnDef) out.insert(s->fn->name);
      collect_defs(s->body, out);
      collect_defs(s->else_body, out);
    }
  }

  // Type names are checked here too, so that a typo in a function no model calls is
  // still reported (the elaborator gives the same messages for what it runs).
  void type(const TypeExpr& t) {
    static const std::vector<std::string> kStatic = {"int", "float", "bool", "str", "fn", "list", "dtype"};
    if (t.name.empty()) return;
    if (t.is_tensor) {
      if (!dtype_from_name(t.name))
        prog.diags().error(t.loc, fmt::format("unknown element type '{}' (expected f32, f64, i64 or bool)", t.name));
      return;
    }
    if (std::find(kStatic.begin(), kStatic.end(), t.name) != kStatic.end()) return;
    if (dtype_from_name(t.name)) {
      prog.diags().error(
          t.loc, fmt::format("'{}' is an element type; a tensor type needs a shape, e.g. {}[N]", t.name, t.name));
      return;
    }
    std::string hint = closest_name(t.name, kStatic);
    prog.diags().error(t.loc, fmt::format("unknown type '{}'{}", t.name,
                                          hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }

  void fn(const FnDecl& f) {
    std::set<std::string> defs;
    for (auto& p : f.params) {
      defs.insert(p.name);
      if (p.type) collect_binders(*p.type, defs), type(*p.type);
    }
    for (auto& [n, t] : f.outputs)
      if (t.is_tensor) type(t);
    for (auto& [n, t] : f.outputs) collect_binders(t, defs);
    collect_defs(f.body, defs);
    scopes.push_back(std::move(defs));
    for (auto& p : f.params)
      if (p.default_value) expr(*p.default_value);
    block(f.body);
    scopes.pop_back();
  }

  // A train block sees the model's inputs, symbolic dims and outputs, its own inputs,
  // and the names that exist only in train blocks (metric, optimizers, schedules).
  void train(const TrainDecl& t, const FnDecl* model) {
    std::set<std::string> defs;
    for (auto& n : train_builtin_names()) defs.insert(n);
    if (model) {
      for (auto& p : model->params) {
        defs.insert(p.name);
        if (p.type) collect_binders(*p.type, defs);
      }
      for (size_t i = 0; i < model->outputs.size(); ++i) {
        const std::string& n = model->outputs[i].first;
        defs.insert(!n.empty() ? n : model->outputs.size() == 1 ? "output" : fmt::format("output{}", i));
      }
    }
    for (auto& p : t.params) {
      defs.insert(p.name);
      if (p.type) collect_binders(*p.type, defs), type(*p.type);
    }
    collect_defs(t.body, defs);
    for (auto& st : t.steps) collect_defs(st.body, defs);
    scopes.push_back(std::move(defs));
    train_depth = int(scopes.size());
    block(t.body);
    for (auto& st : t.steps) {
      for (auto& a : st.args) expr(*a.value);
      block(st.body);
    }
    train_depth = -1;
    scopes.pop_back();
  }

  void block(const Block& b) {
    std::map<std::string, SrcLoc> fns;  // nested fns of this block: one definition per name
    for (auto& s : b) {
      if (s->kind == Stmt::FnDef) {
        if (auto it = fns.find(s->fn->name); it != fns.end()) {
          auto [line, col] = prog.diags().sources().line_col(it->second);
          prog.diags().add(Diagnostic{s->fn->loc,
                                      fmt::format("'{}' is already defined at line {}", s->fn->name, line),
                                      {{it->second, "first definition here"}}});
        } else {
          fns[s->fn->name] = s->fn->loc;
        }
      }
      if (int(scopes.size()) == train_depth && s->kind == Stmt::Assign && s->targets.size() == 1 &&
          (s->targets[0].first == "optimizer" || s->targets[0].first == "schedule")) {
        const Expr* callee = s->value->kind == Expr::Call ? s->value->items[0].get() : s->value.get();
        if (callee->kind == Expr::Name && !known(callee->name)) {
          prog.diags().error(callee->loc, unknown_config_message(s->targets[0].first, callee->name));
          for (auto& a : s->value->args) expr(*a.value);
          continue;
        }
      }
      if (s->value) expr(*s->value);
      if (s->value2) expr(*s->value2);
      if (s->kind == Stmt::ParamDecl && s->type) {
        type(*s->type);
        for (auto& d : s->type->dims) expr(*d);
      }
      if (s->kind == Stmt::FnDef) fn(*s->fn);
      block(s->body);
      block(s->else_body);
    }
  }

  void expr(const Expr& e) {
    switch (e.kind) {
      case Expr::Name:
        if (!known(e.name)) report(e);
        return;
      case Expr::Member:
        // `prim.conv1d`: the field is an op name, checked when the call is built.
        if (e.items[0]->kind == Expr::Name && e.items[0]->name == "prim") return;
        expr(*e.items[0]);
        return;
      case Expr::Lambda: {
        std::set<std::string> defs;
        for (auto& [n, l] : e.lambda_params) defs.insert(n);
        scopes.push_back(std::move(defs));
        expr(*e.items[0]);
        scopes.pop_back();
        return;
      }
      default:
        break;
    }
    for (auto& i : e.items) expr(*i);
    for (auto& a : e.args) expr(*a.value);
    for (auto& ix : e.index)
      for (const ExprP* p : {&ix.index, &ix.start, &ix.end, &ix.step})
        if (*p) expr(**p);
  }
};

}  // namespace

void resolve_names(Program& prog, int module, const FnDecl& f) {
  Resolver r{prog, module, {}};
  r.fn(f);
}

void resolve_train_names(Program& prog, int module, const TrainDecl& t) {
  Resolver r{prog, module, {}};
  auto it = prog.globals(module).find(t.model);
  r.train(t, it != prog.globals(module).end() && it->second->is_model ? it->second.get() : nullptr);
}

}  // namespace starc
