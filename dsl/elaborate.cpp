// dsl: elaboration — runs a model's body once, symbolically, producing its Graph.
// Static values are computed here (loops, ifs, shapes, layer arguments); tensor values
// become graph nodes whose shapes are checked by each op's shape rule as they are added.
#include <fmt/format.h>

#include <cmath>
#include <functional>

#include "compiler/autodiff/autodiff.h"
#include "compiler/autodiff/optimizers.h"
#include "compiler/ops/common.h"
#include "dsl/program.h"
#include "dsl/train.h"
#include "dsl/value.h"

namespace starc {
namespace {

constexpr int kMaxCallDepth = 100;
constexpr int64_t kMaxLoopIterations = 100000;

const char* kind_name(const Value& v) {
  switch (v.kind) {
    case Value::None: return "nothing";
    case Value::Int: return "int";
    case Value::Float: return "float";
    case Value::Bool: return "bool";
    case Value::Str: return "str";
    case Value::DTypeV: return "dtype";
    case Value::List: return "list";
    case Value::Tuple: return "tuple";
    case Value::Tensor: return "tensor";
    case Value::Func: case Value::Prim: case Value::Builtin: return "function";
    case Value::PrimNamespace: return "namespace";
    case Value::Init: return "initializer";
    case Value::Config: return find_optimizer(v.s) ? "optimizer" : "schedule";
  }
  return "?";
}

// Initializers a `param` may name, with their argument names.
const std::map<std::string, std::vector<std::string>> kInits = {
    {"zeros", {}},          {"ones", {}},           {"constant", {"value"}},
    {"normal", {"mean", "std"}}, {"uniform", {"low", "high"}},
    {"he_uniform", {"fan_in"}}, {"he_normal", {"fan_in"}},
    {"glorot_uniform", {"fan_in", "fan_out"}}, {"glorot_normal", {"fan_in", "fan_out"}},
    {"lecun_uniform", {"fan_in"}}, {"lecun_normal", {"fan_in"}}};

const std::vector<std::string> kBuiltinFns = {"scan", "zeros", "ones", "full", "len", "int", "float", "print", "grad", "assign"};

struct ReturnSignal {
  Value value;
};

class Elaborator {
 public:
  Elaborator(Program& prog, const BuildOptions& opts) : prog_(prog), diags_(prog.diags()), opts_(opts) {}

  std::optional<Graph> build(const FnDecl& model) {
    GraphCtx root;
    root.g.name = model.name;
    root_ = cur_ = &root;
    try {
      auto scope = model_inputs(model);
      run_model(model, scope);
      return std::move(root.g);
    } catch (const CompileError& e) {
      diags_.add(e.diag);
      return std::nullopt;
    }
  }

  // The model's body, then the train block's statements and one step's body, in one graph.
  TrainElab build_train(const FnDecl& model, const TrainDecl& td, const TrainStep* step) {
    GraphCtx root;
    root.g.name = step ? fmt::format("{}.{}", model.name, step->name) : model.name + ".train";
    root_ = cur_ = &root;
    TrainElab out;
    auto scope = model_inputs(model);
    // The inputs as declared (the body may reassign their names).
    std::map<std::string, Value> inputs;
    for (auto& p : model.params) inputs[p.name] = *scope->find(p.name);
    std::vector<Value> outs = run_model(model, scope);
    std::vector<std::string> out_names = root.g.output_names;
    root.g.outputs.clear();
    root.g.output_names.clear();

    // The train scope (symbolic dims, the model's inputs and outputs, the block's inputs,
    // then what its statements assign) sees the names of train blocks (metric, optimizers,
    // schedules), then the module's names.
    auto builtins = std::make_shared<Scope>();
    builtins->parent = module_scope_for(td.module);
    for (auto& n : train_builtin_names()) {
      Value v;
      v.kind = Value::Builtin;
      v.s = n;
      builtins->vars[n] = v;
    }
    auto ts = std::make_shared<Scope>();
    ts->parent = builtins;
    ts->fn_top = true;
    for (size_t i = 0; i < root.g.symbols.size(); ++i) ts->vars[root.g.symbols[i]] = Value::integer(make_sym(int(i)));
    for (auto& [n, v] : inputs) ts->vars[n] = v;
    for (size_t i = 0; i < outs.size(); ++i) ts->vars[out_names[i]] = outs[i];
    for (auto& p : td.params) {
      if (inputs.count(p.name))
        throw CompileError(p.loc, fmt::format("'{}' is already an input of model '{}'; the train block's inputs are "
                                              "extra data (targets) with other names", p.name, model.name));
      if (!p.type || !p.type->is_tensor || p.type->name.empty())
        throw CompileError(p.type ? p.type->loc : p.loc,
                           fmt::format("train input '{}' needs a tensor type with an element type, e.g. {}: f32[B, 1]",
                                       p.name, p.name));
      if (p.default_value) throw CompileError(p.default_value->loc, "a train block's inputs are data tensors and take no default");
      TensorType t = declared_type(*p.type, *ts, /*new_syms=*/true);
      Node n;
      n.op = find_op("input");
      n.attrs = {{"name", p.name}, {"dtype", t.dtype}, {"shape", t.shape}};
      n.type = t;
      n.loc = graph_loc(p.loc);
      int id = root.g.add(std::move(n));
      root.g.inputs.push_back(id);
      ts->vars[p.name] = Value::tensor(&root, id);
    }
    train_scope_ = ts.get();
    in_train_ = true;
    auto run = [&](const Block& b) {
      try {
        exec_block(b, ts);
      } catch (ReturnSignal&) {
        throw CompileError(return_loc_ ? *return_loc_ : td.loc, "'return' is not allowed in a train block (assign loss = ... instead)");
      }
    };
    run(td.body);
    if (step) {
      for (auto& a : step->args) {
        if (a.name != "params")
          throw CompileError(a.name_loc, fmt::format("step has no argument '{}' (it takes: params)", a.name));
        Value v = eval(*a.value, ts);
        std::vector<Value> items = v.kind == Value::List || v.kind == Value::Tuple ? v.items : std::vector<Value>{v};
        const std::vector<ExprP>* exprs = a.value->kind == Expr::List || a.value->kind == Expr::Tuple ? &a.value->items : nullptr;
        if (items.empty())
          throw CompileError(a.value->loc, "params needs at least one name prefix (or leave it out to train every parameter)");
        for (size_t i = 0; i < items.size(); ++i) {
          SrcLoc at = exprs && exprs->size() == items.size() ? (*exprs)[i]->loc : a.value->loc;
          if (items[i].kind != Value::Str)
            throw CompileError(at, fmt::format("params takes a name prefix (a string like \"disc.\") or a list of them, got {}",
                                               describe(items[i])));
          out.prefixes.emplace_back(items[i].s, at);
        }
      }
      run(step->body);
    }
    in_train_ = false;

    // What the statements assigned to the names train.cpp reads (not, say, a model input
    // named `loss`).
    for (const char* n : {"loss", "optimizer", "schedule"}) {
      auto it = ts->vars.find(n);
      if (it == ts->vars.end() || !assigned_at_.count(n)) continue;
      Value v = it->second;
      if (v.kind == Value::Tensor && v.g != root_)
        throw CompileError(assigned_at_[n], fmt::format("{} must be computed outside scan steps", n));
      v.g = nullptr;
      out.assigned[n] = {v, assigned_at_[n]};
    }
    out.metrics = metrics_;
    out.state_updates = state_updates_;
    out.float_type = default_float_;
    for (size_t i = 0; i < root.g.inputs.size(); ++i) out.data_inputs.push_back(root.g.input_name(int(i)));
    out.graph = std::move(root.g);
    return out;
  }

 private:
  // Declares the model's inputs in a new graph scope (unknown names in their shapes
  // become symbolic dims).
  std::shared_ptr<Scope> model_inputs(const FnDecl& model) {
    GraphCtx& root = *root_;
    auto module_scope = module_scope_for(model.module);
    auto scope = std::make_shared<Scope>();
    scope->parent = module_scope;
    scope->fn_top = true;
    // Inputs: typed tensors become graph inputs; unknown names in their shapes are symbolic dims.
    for (auto& p : model.params) {
      if (p.type && p.type->is_tensor) {
        if (p.type->name.empty())
          throw CompileError(p.type->loc, fmt::format("model input '{}' needs an element type, e.g. f32[B, 16]", p.name));
        TensorType t = declared_type(*p.type, *scope, /*new_syms=*/true);
        if (!default_float_set_ && is_float(t.dtype)) default_float_ = t.dtype, default_float_set_ = true;
        Node n;
        n.op = find_op("input");
        n.attrs = {{"name", p.name}, {"dtype", t.dtype}, {"shape", t.shape}};
        n.type = t;
        n.loc = graph_loc(p.loc);
        int id = root.g.add(std::move(n));
        root.g.inputs.push_back(id);
        scope->vars[p.name] = Value::tensor(&root, id);
      } else {
        if (!p.default_value)
          throw CompileError(p.loc, fmt::format("model parameter '{}' is static and needs a default value", p.name));
        Value v = eval(*p.default_value, scope);
        if (p.type) check_static_type(*p.type, v, p.name, p.default_value->loc);
        scope->vars[p.name] = v;
      }
    }
    return scope;
  }

  // Runs the model's body and binds its outputs (the graph's outputs); returns them.
  std::vector<Value> run_model(const FnDecl& model, std::shared_ptr<Scope> scope) {
    Value result;
    call_stack_.push_back(&model);
    try {
      exec_block(model.body, scope);
      throw CompileError(model.loc, fmt::format("model '{}' has no 'return' statement", model.name));
    } catch (ReturnSignal& r) {
      result = std::move(r.value);
    }
    call_stack_.pop_back();
    bind_outputs(model, result, *scope);
    return result.kind == Value::Tuple ? result.items : std::vector<Value>{result};
  }

  Program& prog_;
  DiagEngine& diags_;
  BuildOptions opts_;
  GraphCtx* root_ = nullptr;
  GraphCtx* cur_ = nullptr;
  DType default_float_ = DType::F32;
  bool default_float_set_ = false;
  std::vector<std::string> path_;                 // dotted parameter scope
  std::map<std::string, int> counters_;           // "<path>/<fn>" -> calls so far
  std::vector<const FnDecl*> call_stack_;
  int call_depth_ = 0;  // calls in progress, lambdas included
  // The call that opened each parameter scope of path_ (for "declared twice" errors).
  struct Site {
    SrcLoc loc;
    int64_t id;  // distinct for every call
  };
  std::vector<Site> sites_;
  int64_t next_site_ = 0;
  struct ParamSeen {
    SrcLoc decl;
    std::vector<Site> sites;
  };
  std::map<std::string, ParamSeen> param_names_;
  std::map<int, std::shared_ptr<Scope>> module_scopes_;
  const SrcLoc* return_loc_ = nullptr;
  const Expr* return_expr_ = nullptr;  // the value of the last executed `return`
  // Training (build_train): the train block's scope, what its statements recorded.
  bool in_train_ = false;
  Scope* train_scope_ = nullptr;
  std::map<std::string, SrcLoc> assigned_at_;  // train-scope variable -> its last assigned expression
  std::vector<TrainElab::Metric> metrics_;
  std::vector<TrainElab::StateUpdate> state_updates_;

  struct Args {
    std::vector<std::pair<Value, SrcLoc>> pos;
    std::vector<std::tuple<std::string, Value, SrcLoc>> named;
  };


  // ---------------------------------------------------------------- helpers
  Loc graph_loc(SrcLoc l) const {
    if (!l.known()) return {};
    auto [line, col] = diags_.sources().line_col(l);
    return Loc{diags_.sources().file(l.file).path, line, col};
  }

  std::shared_ptr<Scope> module_scope_for(int module) {
    std::shared_ptr<Scope>& slot = module_scopes_[module];
    if (slot) return slot;
    auto s = slot = std::make_shared<Scope>();
    for (auto& [name, decl] : prog_.globals(module)) {
      Value v;
      v.kind = Value::Func;
      // An imported function sees the names of the module that defines it, not those of
      // the importer (imports are not transitive).
      std::shared_ptr<Scope> env = decl->module == module || decl->module < 0 ? s : module_scope_for(decl->module);
      v.fn = std::make_shared<Closure>(Closure{decl, nullptr, env});
      s->vars[name] = v;
    }
    return s;
  }

  std::string tstr(const TensorType& t) const { return type_str(t, &root_->g.symbols); }
  const TensorType& type_of(const Value& v) const { return v.g->g.type(v.id); }

  std::string describe(const Value& v) const {
    switch (v.kind) {
      case Value::Tensor: return tstr(type_of(v));
      case Value::Int: return is_sym(v.i) ? fmt::format("dim {}", dim_str(v.i, &root_->g.symbols)) : fmt::format("int {}", v.i);
      case Value::Float: return fmt::format("float {}", v.f);
      case Value::Bool: return v.b ? "bool true" : "bool false";
      case Value::Str: return fmt::format("string \"{}\"", v.s);
      default: return kind_name(v);
    }
  }

  // The id of `v` in the current graph, capturing it from enclosing graphs if needed.
  int use(const Value& v) { return use_in(cur_, v); }
  int use_in(GraphCtx* ctx, const Value& v) {
    if (v.g == ctx) return v.id;
    if (!ctx->parent)
      throw CompileError(SrcLoc{}, "internal: a tensor escaped the scan body that created it");
    int outer = use_in(ctx->parent, v);
    if (auto it = ctx->captured.find(outer); it != ctx->captured.end()) return it->second;
    Node n;
    n.op = find_op("input");
    const TensorType& t = ctx->parent->g.type(outer);
    n.attrs = {{"name", fmt::format("capture{}", ctx->capture_sources.size())}, {"dtype", t.dtype}, {"shape", t.shape}};
    n.type = t;
    int id = ctx->g.add(std::move(n));
    ctx->g.inputs.push_back(id);
    ctx->captured[outer] = id;
    ctx->capture_sources.push_back(outer);
    return id;
  }

  // Adds a primitive op node to the current graph; shape errors are located at `loc`.
  Value emit(const OpDef* op, const std::vector<Value>& tensor_args, Attrs attrs, SrcLoc loc) {
    std::vector<int> ids;
    std::vector<TensorType> types;
    for (auto& a : tensor_args) {
      ids.push_back(use(a));
      types.push_back(cur_->g.type(ids.back()));
    }
    Node n;
    n.op = op;
    try {
      n.attrs = complete_attrs(*op, std::move(attrs));
      n.type = infer_type(*op, types, n.attrs, &root_->g.symbols);
    } catch (const OpError& e) {
      throw CompileError(loc, e.what());
    }
    n.inputs = std::move(ids);
    n.loc = graph_loc(loc);
    return Value::tensor(cur_, cur_->g.add(std::move(n)));
  }
  Value emit(const char* op, const std::vector<Value>& args, Attrs attrs, SrcLoc loc) {
    return emit(find_op(op), args, std::move(attrs), loc);
  }

  Value constant(double v, DType dt, SrcLoc loc) {
    return emit("const", {}, {{"value", Tensor::scalar(dt, v)}}, loc);
  }

  // A static number used where a tensor is needed takes the other operand's dtype.
  Value as_tensor(const Value& v, DType dt, SrcLoc loc, const char* context) {
    if (v.kind == Value::Tensor) return v;
    if (v.kind == Value::Bool) return constant(v.b ? 1 : 0, dt, loc);
    if (v.is_num()) {
      if (v.kind == Value::Int && is_sym(v.i))
        throw CompileError(loc, fmt::format("{} is a symbolic dim (known only at run time) and cannot be used as a value",
                                            dim_str(v.i, &root_->g.symbols)));
      if (v.kind == Value::Float && !is_float(dt))
        throw CompileError(loc, fmt::format("{}: cannot use float {} with a {} tensor", context, v.f, dtype_name(dt)));
      return constant(v.as_double(), dt, loc);
    }
    throw CompileError(loc, fmt::format("{}: expected a tensor or a number, got {}", context, describe(v)));
  }

  int64_t static_int(const Value& v, SrcLoc loc, const char* what, bool allow_sym = false) {
    if (v.kind != Value::Int)
      throw CompileError(loc, fmt::format("{} must be a static int, got {}", what, describe(v)));
    if (!allow_sym && is_sym(v.i))
      throw CompileError(loc, fmt::format("{} must be known at compile time, but {} is only known at run time", what,
                                          dim_str(v.i, &root_->g.symbols)));
    return v.i;
  }

  Attr to_attr(const Value& v, SrcLoc loc) {
    switch (v.kind) {
      case Value::Int: return v.i;
      case Value::Float: return v.f;
      case Value::Bool: return v.b;
      case Value::Str: return v.s;
      case Value::DTypeV: return v.dt;
      case Value::List:
      case Value::Tuple: {
        bool all_int = true;
        for (auto& it : v.items) {
          if (!it.is_num()) throw CompileError(loc, fmt::format("expected a list of numbers, got a list containing {}", describe(it)));
          all_int = all_int && it.kind == Value::Int;
        }
        if (all_int) {
          Ints out;
          for (auto& it : v.items) out.push_back(it.i);
          return out;
        }
        Floats out;
        for (auto& it : v.items) out.push_back(it.as_double());
        return out;
      }
      default:
        throw CompileError(loc, fmt::format("expected a static value (number, bool, string, list, dtype), got {}", describe(v)));
    }
  }

  // ---------------------------------------------------------------- types
  Value lookup_dim_name(const std::string& n, Scope& scope) {
    if (Value* v = scope.find(n)) return *v;
    return Value{};
  }

  // A declared tensor type; in a model signature unknown dim names become symbols.
  TensorType declared_type(const TypeExpr& t, Scope& scope, bool new_syms) {
    TensorType out;
    if (t.name.empty()) out.dtype = default_float_;
    else if (auto dt = dtype_from_name(t.name)) out.dtype = *dt;
    else throw CompileError(t.loc, fmt::format("unknown element type '{}' (expected f32, f64, i64 or bool)", t.name));
    auto self = std::shared_ptr<Scope>(&scope, [](Scope*) {});
    for (auto& d : t.dims) {
      if (d->kind == Expr::Name && new_syms && !scope.find(d->name)) {
        auto& syms = root_->g.symbols;
        int idx = int(syms.size());
        syms.push_back(d->name);
        scope.vars[d->name] = Value::integer(make_sym(idx));
      }
      Value v = eval(*d, self);
      int64_t dim = static_int(v, d->loc, "a dimension", /*allow_sym=*/true);
      if (!is_sym(dim) && dim < 0) throw CompileError(d->loc, fmt::format("dimension must be non-negative, got {}", dim));
      out.shape.push_back(dim);
    }
    int64_t count = 1;
    for (Dim d : out.shape)
      if (!is_sym(d) && __builtin_mul_overflow(count, d, &count))
        throw CompileError(t.loc, fmt::format("{} has too many elements (the count overflows 64 bits)", tstr(out)));
    return out;
  }

  // Checks a tensor against a type annotation; unbound names in it are bound to the
  // actual dims (so `x: f32[B, N]` makes N available in the function body).
  void match_type(const TypeExpr& t, const TensorType& actual, Scope& scope, const std::string& what, SrcLoc loc) {
    auto mismatch = [&](const std::string& why) {
      std::string want = t.name.empty() ? "" : t.name;
      want += "[";
      for (size_t i = 0; i < t.dims.size(); ++i) {
        if (i) want += ",";
        const SourceFile& f = diags_.sources().file(t.dims[i]->loc.file);
        want += f.text.substr(t.dims[i]->loc.offset, t.dims[i]->loc.length);
      }
      want += "]";
      throw CompileError(loc, fmt::format("{} is {} but is declared {} ({})", what, tstr(actual), want, why));
    };
    if (!t.is_tensor)
      throw CompileError(loc, fmt::format("{} is a tensor ({}) but is declared '{}'", what, tstr(actual), t.name));
    if (!t.name.empty()) {
      auto dt = dtype_from_name(t.name);
      if (!dt) throw CompileError(t.loc, fmt::format("unknown element type '{}' (expected f32, f64, i64 or bool)", t.name));
      if (*dt != actual.dtype) mismatch("element types differ");
    }
    if (int(t.dims.size()) != actual.rank()) mismatch(fmt::format("rank {} vs {}", actual.rank(), t.dims.size()));
    auto self = std::shared_ptr<Scope>(&scope, [](Scope*) {});
    for (size_t i = 0; i < t.dims.size(); ++i) {
      const Expr& d = *t.dims[i];
      if (d.kind == Expr::Name && d.name == "_") continue;
      // An unbound name binds; so does one bound to something that cannot be a dim (a
      // layer or model called `C` elsewhere must not break `x: [N, C]`).
      const Value* bound = d.kind == Expr::Name ? scope.find(d.name) : nullptr;
      if (d.kind == Expr::Name && (!bound || (bound->kind != Value::Int && bound->kind != Value::Float))) {
        scope.vars[d.name] = Value::integer(actual.shape[i]);
        continue;
      }
      Value v = eval(d, self);
      int64_t want = static_int(v, d.loc, "a dimension", true);
      if (want != actual.shape[i])
        mismatch(fmt::format("dim {} is {}, expected {}", i, dim_str(actual.shape[i], &root_->g.symbols),
                             dim_str(want, &root_->g.symbols)));
    }
  }

  void check_static_type(const TypeExpr& t, Value& v, const std::string& what, SrcLoc loc) {
    if (t.is_tensor) {
      if (v.kind != Value::Tensor)
        throw CompileError(loc, fmt::format("'{}' must be a tensor, got {}", what, describe(v)));
      return;
    }
    const std::string& n = t.name;
    bool ok = (n == "int" && v.kind == Value::Int) || (n == "float" && v.is_num()) || (n == "bool" && v.kind == Value::Bool) ||
              (n == "str" && v.kind == Value::Str) || (n == "fn" && (v.kind == Value::Func || v.kind == Value::Prim || v.kind == Value::Builtin || v.kind == Value::Init)) ||
              (n == "list" && (v.kind == Value::List || v.kind == Value::Tuple)) || (n == "dtype" && v.kind == Value::DTypeV);
    if (n == "float" && v.kind == Value::Int) v = Value::number(double(v.i));
    if (!ok) {
      static const std::vector<std::string> known = {"int", "float", "bool", "str", "fn", "list", "dtype"};
      if (std::find(known.begin(), known.end(), n) == known.end()) {
        if (dtype_from_name(n))
          throw CompileError(t.loc, fmt::format("'{}' is an element type; a tensor type needs a shape, e.g. {}[N]", n, n));
        std::string hint = closest_name(n, known);
        throw CompileError(t.loc, fmt::format("unknown type '{}'{}", n, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
      }
      throw CompileError(loc, fmt::format("'{}' must be {}, got {}", what, n, describe(v)));
    }
  }

  void bind_outputs(const FnDecl& model, const Value& result, Scope& scope) {
    std::vector<Value> outs = result.kind == Value::Tuple ? result.items : std::vector<Value>{result};
    SrcLoc where = return_loc_ ? *return_loc_ : model.loc;
    if (outs.size() != model.outputs.size())
      throw CompileError(Diagnostic{where, fmt::format("model '{}' returns {} value{} but declares {} output{}", model.name,
                                                       outs.size(), outs.size() == 1 ? "" : "s", model.outputs.size(),
                                                       model.outputs.size() == 1 ? "" : "s"),
                                    {{SourceManager::span(model.outputs_loc, model.outputs.back().second.loc),
                                      "the outputs are declared here"}}});
    for (size_t i = 0; i < outs.size(); ++i) {
      auto& [name, type] = model.outputs[i];
      std::string oname = !name.empty() ? name : model.outputs.size() == 1 ? "output" : fmt::format("output{}", i);
      // `return (a, b)`: point at the element that is wrong.
      SrcLoc at = where;
      if (return_expr_ && return_expr_->kind == Expr::Tuple && return_expr_->items.size() == outs.size())
        at = return_expr_->items[i]->loc;
      if (outs[i].kind != Value::Tensor)
        throw CompileError(at, fmt::format("output '{}' must be a tensor, got {}", oname, describe(outs[i])));
      if (outs[i].g != root_) throw CompileError(at, "internal: output is not in the model graph");
      try {
        match_type(type, type_of(outs[i]), scope, fmt::format("output '{}'", oname), at);
      } catch (CompileError& err) {
        if (err.diag.loc.file == at.file && err.diag.loc.offset == at.offset) err.diag.notes.emplace_back(type.loc, "the output type is declared here");
        throw;
      }
      root_->g.outputs.push_back(outs[i].id);
      root_->g.output_names.push_back(oname);
    }
  }

  // ---------------------------------------------------------------- statements
  void exec_block(const Block& b, std::shared_ptr<Scope> scope) {
    for (auto& s : b) exec(*s, scope);
  }

  void assign(const std::string& name, Value v, Scope& scope, bool is_let) {
    if (!is_let)
      for (Scope* s = &scope; s; s = s->parent.get()) {
        if (auto it = s->vars.find(name); it != s->vars.end()) {
          it->second = std::move(v);
          return;
        }
        if (s->fn_top) break;
      }
    Scope* target = &scope;
    if (!is_let)
      while (!target->fn_top && target->parent) target = target->parent.get();
    target->vars[name] = std::move(v);
  }

  void exec(const Stmt& s, std::shared_ptr<Scope> scope) {
    switch (s.kind) {
      case Stmt::Assign: {
        if (in_train_ && s.targets.size() == 1) unknown_config_check(s, *scope);
        Value v = eval(*s.value, scope);
        if (in_train_) {
          Scope* top = scope.get();
          while (top && !top->fn_top) top = top->parent.get();
          if (top == train_scope_)
            for (auto& t : s.targets) assigned_at_[t.first] = s.value->loc;
        }
        if (s.targets.size() == 1) {
          if (v.kind == Value::None)
            throw CompileError(s.value->loc, "this expression has no value to assign (the function returns nothing)");
          assign(s.targets[0].first, std::move(v), *scope, s.is_let);
          return;
        }
        if (v.kind != Value::Tuple && v.kind != Value::List)
          throw CompileError(s.value->loc, fmt::format("cannot unpack {} into {} names", describe(v), s.targets.size()));
        if (v.items.size() != s.targets.size())
          throw CompileError(s.value->loc, fmt::format("cannot unpack {} values into {} names", v.items.size(), s.targets.size()));
        for (size_t i = 0; i < s.targets.size(); ++i) assign(s.targets[i].first, v.items[i], *scope, s.is_let);
        return;
      }
      case Stmt::ParamDecl:
        declare_param(s, *scope);
        return;
      case Stmt::Return: {
        return_loc_ = s.value ? &s.value->loc : &s.loc;
        return_expr_ = s.value.get();
        throw ReturnSignal{s.value ? eval(*s.value, scope) : Value{}};
      }
      case Stmt::For: {
        std::vector<Value> seq;
        if (s.value2) {
          int64_t lo = static_int(eval(*s.value, scope), s.value->loc, "a loop bound");
          int64_t hi = static_int(eval(*s.value2, scope), s.value2->loc, "a loop bound");
          if (hi - lo > kMaxLoopIterations)
            throw CompileError(s.value2->loc, fmt::format("loop of {} iterations is too long (limit {})", hi - lo, kMaxLoopIterations));
          for (int64_t i = lo; i < hi; ++i) seq.push_back(Value::integer(i));
        } else {
          Value it = eval(*s.value, scope);
          if (it.kind != Value::List && it.kind != Value::Tuple)
            throw CompileError(s.value->loc, fmt::format("a for loop runs over a range 'a..b' or a list, got {}", describe(it)));
          seq = it.items;
        }
        for (auto& v : seq) {
          auto body = std::make_shared<Scope>();
          body->parent = scope;
          body->vars[s.targets[0].first] = v;
          exec_block(s.body, body);
        }
        return;
      }
      case Stmt::If: {
        Value c = eval(*s.value, scope);
        if (c.kind == Value::Tensor)
          throw CompileError(s.value->loc, fmt::format("'if' needs a static bool, got a tensor {}; use where(cond, a, b) to "
                                                       "choose between tensors elementwise", tstr(type_of(c))));
        if (c.kind != Value::Bool) throw CompileError(s.value->loc, fmt::format("'if' needs a bool, got {}", describe(c)));
        auto body = std::make_shared<Scope>();
        body->parent = scope;
        exec_block(c.b ? s.body : s.else_body, body);
        return;
      }
      case Stmt::FnDef: {
        Value v;
        v.kind = Value::Func;
        v.fn = std::make_shared<Closure>(Closure{s.fn, nullptr, scope});
        scope->vars[s.fn->name] = v;
        return;
      }
      case Stmt::Assert: {
        Value c = eval(*s.value, scope);
        if (c.kind != Value::Bool) throw CompileError(s.value->loc, fmt::format("assert needs a static bool, got {}", describe(c)));
        if (!c.b) {
          std::string msg = "assertion failed";
          if (s.value2) {
            Value m = eval(*s.value2, scope);
            msg += ": " + (m.kind == Value::Str ? m.s : describe(m));
          }
          throw CompileError(s.value->loc, msg);
        }
        return;
      }
      case Stmt::ExprStmt: {
        Value v = eval(*s.value, scope);
        if (v.kind != Value::None)
          throw CompileError(s.value->loc, fmt::format("the value of this expression ({}) is unused; assign it or return it", describe(v)));
        return;
      }
    }
  }

  std::string dotted(const std::string& leaf) const {
    std::string out;
    for (auto& p : path_) out += p + ".";
    return out + leaf;
  }

  void declare_param(const Stmt& s, Scope& scope) {
    TensorType t = declared_type(*s.type, scope, false);
    for (size_t i = 0; i < t.shape.size(); ++i)
      if (is_sym(t.shape[i]))
        throw CompileError(s.type->dims[i]->loc, fmt::format("parameter shapes must be static, but {} is only known at run time",
                                                             dim_str(t.shape[i], &root_->g.symbols)));
    std::string name = dotted(s.name);
    if (auto it = param_names_.find(name); it != param_names_.end()) {
      const ParamSeen& first = it->second;
      // The first enclosing call that differs made the clash: report it there (in the
      // user's code, not in the library layer that declares the parameter).
      size_t k = 0;
      while (k < sites_.size() && k < first.sites.size() && sites_[k].id == first.sites[k].id) ++k;
      if (k < sites_.size() && k < first.sites.size())
        throw CompileError(Diagnostic{sites_[k].loc,
                                      fmt::format("parameter '{}' is declared twice: an earlier call has the same "
                                                  "name (give this layer call its own name with 'as')", name),
                                      {{first.sites[k].loc, "the earlier call"}, {s.loc, fmt::format("'{}' is declared here", s.name)}}});
      if (first.decl.file == s.loc.file && first.decl.offset == s.loc.offset)
        throw CompileError(s.loc, fmt::format("parameter '{}' is declared twice: this declaration runs more than once "
                                              "(in a loop?); give each its own name", name));
      throw CompileError(Diagnostic{s.loc, fmt::format("parameter '{}' is declared twice", name),
                                    {{first.decl, "first declared here"}}});
    }
    param_names_[name] = ParamSeen{s.loc, sites_};
    auto [init, args] = init_spec(s.value.get(), t.shape, scope);
    Node n;
    n.op = find_op("param");
    n.attrs = {{"name", name}, {"dtype", t.dtype}, {"shape", t.shape}, {"init", init}, {"init_args", args},
               {"trainable", s.trainable}};
    n.type = t;
    n.loc = graph_loc(s.loc);
    int id = root_->g.add(std::move(n));
    scope.vars[s.name] = Value::tensor(root_, id);
  }

  // `he_uniform(fan_in: 10)`: an initializer value with its arguments bound by name.
  Value bind_init(Value init, Args& args) {
    const auto& arg_names = kInits.at(init.s);
    size_t pos = init.names.size();
    for (auto& [v, l] : args.pos) {
      if (pos >= arg_names.size()) throw CompileError(l, fmt::format("too many arguments for initializer {}", init.s));
      init.names.push_back(arg_names[pos++]);
      init.items.push_back(v);
    }
    for (auto& [n, v, l] : args.named) {
      if (std::find(arg_names.begin(), arg_names.end(), n) == arg_names.end())
        throw CompileError(l, fmt::format("initializer {} has no argument '{}' (it takes: {})", init.s, n,
                                          arg_names.empty() ? "nothing" : fmt::format("{}", fmt::join(arg_names, ", "))));
      init.names.push_back(n);
      init.items.push_back(v);
    }
    for (size_t i = 0; i < init.items.size(); ++i)
      if (!init.items[i].is_num())
        throw CompileError(args.pos.empty() ? SrcLoc{} : args.pos[0].second,
                           fmt::format("initializer argument '{}' must be a number, got {}", init.names[i], describe(init.items[i])));
    return init;
  }

  // Resolves an initializer expression to its name and arguments; fan_in/fan_out default
  // to PyTorch's convention for the parameter's shape.
  std::pair<std::string, Floats> init_spec(const Expr* e, const Shape& shape, Scope& scope) {
    if (!e) return {"zeros", {}};
    auto self = std::shared_ptr<Scope>(&scope, [](Scope*) {});
    Value init = eval(*e, self);
    if (init.kind != Value::Init) {
      std::vector<std::string> names;
      for (auto& [k, v] : kInits) names.push_back(k);
      throw CompileError(e->loc, fmt::format("expected an initializer ({}), got {}", fmt::join(names, ", "), describe(init)));
    }
    int64_t receptive = 1;
    for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
    double fan_in = shape.size() >= 2 ? double(shape[1] * receptive) : shape.empty() ? 1.0 : double(shape[0]);
    double fan_out = shape.size() >= 2 ? double(shape[0] * receptive) : fan_in;
    std::map<std::string, double> vals = {{"mean", 0}, {"std", 1}, {"low", 0}, {"high", 1}, {"fan_in", fan_in},
                                          {"fan_out", fan_out}};
    for (size_t i = 0; i < init.items.size(); ++i) vals[init.names[i]] = init.items[i].as_double();
    if (init.s == "constant" && !vals.count("value"))
      throw CompileError(e->loc, "constant initializer needs a value, e.g. constant(0.1)");
    if (vals["fan_in"] <= 0 || vals["fan_out"] <= 0)
      throw CompileError(e->loc, "initializer fan_in/fan_out must be positive (is a dimension zero?)");
    Floats out;
    for (auto& n : kInits.at(init.s)) out.push_back(vals[n]);
    return {init.s, out};
  }

  // ---------------------------------------------------------------- expressions
  Value eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
    switch (e.kind) {
      case Expr::Int: return Value::integer(e.ival);
      case Expr::Float: return Value::number(e.fval);
      case Expr::Bool: return Value::boolean(e.bval);
      case Expr::Str: { Value v; v.kind = Value::Str; v.s = e.name; return v; }
      case Expr::Name: return lookup(e.name, e.loc, *scope);
      case Expr::Tuple:
      case Expr::List: {
        Value v;
        v.kind = e.kind == Expr::Tuple ? Value::Tuple : Value::List;
        for (auto& it : e.items) v.items.push_back(eval(*it, scope));
        return v;
      }
      case Expr::Unary: return unary(e, eval(*e.items[0], scope));
      case Expr::Binary: return binary(e, scope);
      case Expr::Call: return call(e, scope);
      case Expr::Index: return index(e, scope);
      case Expr::Member: return member(e, scope);
      case Expr::Lambda: {
        Value v;
        v.kind = Value::Func;
        v.fn = std::make_shared<Closure>(Closure{nullptr, &e, scope});
        return v;
      }
    }
    throw CompileError(e.loc, "internal: unknown expression");
  }

  Value lookup(const std::string& n, SrcLoc loc, Scope& scope) {
    if (Value* v = scope.find(n)) return *v;
    if (auto dt = dtype_from_name(n)) { Value v; v.kind = Value::DTypeV; v.dt = *dt; return v; }
    if (n == "training") return Value::boolean(opts_.training);
    if (n == "pi") return Value::number(M_PI);
    if (n == "inf") return Value::number(INFINITY);
    if (n == "prim") { Value v; v.kind = Value::PrimNamespace; return v; }
    if (kInits.count(n)) { Value v; v.kind = Value::Init; v.s = n; return v; }
    if (std::find(kBuiltinFns.begin(), kBuiltinFns.end(), n) != kBuiltinFns.end()) {
      Value v; v.kind = Value::Builtin; v.s = n; return v;
    }
    if (const OpDef* op = find_op(n); op && n != "input" && n != "param" && n != "const") {
      Value v; v.kind = Value::Prim; v.op = op; return v;
    }
    std::vector<std::string> cands = builtin_names();
    for (Scope* s = &scope; s; s = s->parent.get())
      for (auto& [k, _] : s->vars) cands.push_back(k);
    std::string hint = closest_name(n, cands);
    throw CompileError(loc, fmt::format("unknown name '{}'{}", n, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
  }

  Value unary(const Expr& e, Value a) {
    if (e.name == "not") {
      if (a.kind != Value::Bool) throw CompileError(e.loc, fmt::format("'not' needs a static bool, got {}", describe(a)));
      return Value::boolean(!a.b);
    }
    if (a.kind == Value::Tensor) return emit("neg", {a}, {}, e.loc);
    if (a.kind == Value::Int && !is_sym(a.i)) return Value::integer(-a.i);
    if (a.kind == Value::Float) return Value::number(-a.f);
    throw CompileError(e.loc, fmt::format("cannot negate {}", describe(a)));
  }

  Value binary(const Expr& e, const std::shared_ptr<Scope>& scope) {
    const std::string& op = e.name;
    if (op == "and" || op == "or") {
      Value a = eval(*e.items[0], scope);
      if (a.kind != Value::Bool) throw CompileError(e.items[0]->loc, fmt::format("'{}' needs static bools, got {}", op, describe(a)));
      if (op == "and" ? !a.b : a.b) return a;  // short-circuit
      Value b = eval(*e.items[1], scope);
      if (b.kind != Value::Bool) throw CompileError(e.items[1]->loc, fmt::format("'{}' needs static bools, got {}", op, describe(b)));
      return b;
    }
    Value a = eval(*e.items[0], scope), b = eval(*e.items[1], scope);
    if (a.kind == Value::Tensor || b.kind == Value::Tensor) {
      static const std::map<std::string, const char*> ops = {
          {"+", "add"}, {"-", "sub"}, {"*", "mul"}, {"/", "div"}, {"@", "matmul"}, {"**", "pow"}, {"==", "eq"},
          {"!=", "ne"}, {"<", "lt"}, {"<=", "le"}, {">", "gt"}, {">=", "ge"}};
      auto it = ops.find(op);
      if (it == ops.end()) throw CompileError(e.loc, fmt::format("operator '{}' is not defined for tensors", op));
      DType dt = a.kind == Value::Tensor ? type_of(a).dtype : type_of(b).dtype;
      Value ta = as_tensor(a, dt, e.items[0]->loc, it->second), tb = as_tensor(b, dt, e.items[1]->loc, it->second);
      return emit(it->second, {ta, tb}, {}, e.loc);
    }
    return static_binary(e, a, b);
  }

  Value static_binary(const Expr& e, const Value& a, const Value& b) {
    const std::string& op = e.name;
    if ((a.kind == Value::Int && is_sym(a.i)) || (b.kind == Value::Int && is_sym(b.i))) {
      if (op == "==" || op == "!=") return Value::boolean((a.i == b.i) == (op == "=="));
      const Value& s = a.kind == Value::Int && is_sym(a.i) ? a : b;
      throw CompileError(e.loc, fmt::format("cannot compute '{}' with {}: it is a symbolic dim, known only at run time",
                                            op, dim_str(s.i, &root_->g.symbols)));
    }
    if (a.kind == Value::Str && b.kind == Value::Str) {
      if (op == "+") { Value v; v.kind = Value::Str; v.s = a.s + b.s; return v; }
      if (op == "==" || op == "!=") return Value::boolean((a.s == b.s) == (op == "=="));
    }
    if (a.kind == Value::Bool && b.kind == Value::Bool && (op == "==" || op == "!="))
      return Value::boolean((a.b == b.b) == (op == "=="));
    if ((a.kind == Value::List || a.kind == Value::Tuple) && (b.kind == Value::List || b.kind == Value::Tuple) && op == "+") {
      Value v = a;
      v.items.insert(v.items.end(), b.items.begin(), b.items.end());
      return v;
    }
    if (!a.is_num() || !b.is_num())
      throw CompileError(e.loc, fmt::format("operator '{}' is not defined for {} and {}", op, describe(a), describe(b)));
    if (a.kind == Value::Int && b.kind == Value::Int) {
      int64_t x = a.i, y = b.i;
      if (op == "+") return Value::integer(x + y);
      if (op == "-") return Value::integer(x - y);
      if (op == "*") return Value::integer(x * y);
      if (op == "/" || op == "%") {
        if (y == 0) throw CompileError(e.loc, "integer division by zero");
        // Floor division, like Python's //, so sizes like (n - k) / s + 1 are exact.
        int64_t q = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) --q, r += y;
        return Value::integer(op == "/" ? q : r);
      }
      if (op == "**") {
        if (y < 0) return Value::number(std::pow(double(x), double(y)));
        int64_t r = 1;
        for (int64_t k = 0; k < y; ++k) r *= x;
        return Value::integer(r);
      }
    } else {
      double x = a.as_double(), y = b.as_double();
      if (op == "+") return Value::number(x + y);
      if (op == "-") return Value::number(x - y);
      if (op == "*") return Value::number(x * y);
      if (op == "/") return Value::number(x / y);
      if (op == "**") return Value::number(std::pow(x, y));
      if (op == "%") return Value::number(std::fmod(x, y));
    }
    double x = a.as_double(), y = b.as_double();
    if (op == "==") return Value::boolean(x == y);
    if (op == "!=") return Value::boolean(x != y);
    if (op == "<") return Value::boolean(x < y);
    if (op == "<=") return Value::boolean(x <= y);
    if (op == ">") return Value::boolean(x > y);
    if (op == ">=") return Value::boolean(x >= y);
    throw CompileError(e.loc, fmt::format("operator '{}' is not defined for numbers", op));
  }

  Value member(const Expr& e, const std::shared_ptr<Scope>& scope) {
    Value base = eval(*e.items[0], scope);
    if (base.kind == Value::PrimNamespace) {
      const OpDef* op = find_op(e.name);
      if (!op) {
        std::vector<std::string> names;
        for (auto* o : all_ops()) names.push_back(o->name);
        std::string hint = closest_name(e.name, names);
        throw CompileError(e.loc, fmt::format("no primitive op '{}'{}", e.name, hint.empty() ? "" : fmt::format(" (did you mean 'prim.{}'?)", hint)));
      }
      Value v; v.kind = Value::Prim; v.op = op; return v;
    }
    if (base.kind == Value::Tensor) {
      const TensorType& t = type_of(base);
      if (e.name == "shape") {
        Value v; v.kind = Value::List;
        for (Dim d : t.shape) v.items.push_back(Value::integer(d));
        return v;
      }
      if (e.name == "rank") return Value::integer(t.rank());
      if (e.name == "dtype") { Value v; v.kind = Value::DTypeV; v.dt = t.dtype; return v; }
      throw CompileError(e.loc, fmt::format("a tensor has no field '{}' (it has: shape, rank, dtype)", e.name));
    }
    throw CompileError(e.loc, fmt::format("{} has no field '{}'", describe(base), e.name));
  }

  Value index(const Expr& e, const std::shared_ptr<Scope>& scope) {
    Value base = eval(*e.items[0], scope);
    if (base.kind == Value::List || base.kind == Value::Tuple) {
      if (e.index.size() != 1) throw CompileError(e.loc, "a list or tuple takes a single index or slice");
      if (e.index[0].is_slice) {
        const IndexItem& it = e.index[0];
        int64_t n = int64_t(base.items.size());
        auto bound = [&](const ExprP& p, int64_t dflt) {
          if (!p) return dflt;
          int64_t v = static_int(eval(*p, scope), p->loc, "a slice bound");
          return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n);
        };
        int64_t step = it.step ? static_int(eval(*it.step, scope), it.step->loc, "a slice step") : 1;
        if (step <= 0) throw CompileError(it.loc, "slice step must be positive");
        Value out;
        out.kind = base.kind;
        for (int64_t k = bound(it.start, 0); k < bound(it.end, n); k += step) out.items.push_back(base.items[k]);
        return out;
      }
      int64_t i = static_int(eval(*e.index[0].index, scope), e.index[0].loc, "an index");
      int64_t n = int64_t(base.items.size());
      if (i < -n || i >= n) throw CompileError(e.index[0].loc, fmt::format("index {} is out of range for {} of {} items", i, kind_name(base), n));
      return base.items[i < 0 ? i + n : i];
    }
    if (base.kind != Value::Tensor) throw CompileError(e.loc, fmt::format("cannot index {}", describe(base)));
    TensorType t = type_of(base);
    if (int(e.index.size()) > t.rank())
      throw CompileError(e.loc, fmt::format("too many indices ({}) for {}", e.index.size(), tstr(t)));
    Value cur = base;
    Shape keep;
    bool drop = false;
    for (int ax = 0; ax < t.rank(); ++ax) {
      if (ax >= int(e.index.size())) { keep.push_back(type_of(cur).shape[ax]); continue; }
      const IndexItem& it = e.index[ax];
      Dim len = type_of(cur).shape[ax];
      auto opt = [&](const ExprP& p, int64_t dflt) {
        return p ? static_int(eval(*p, scope), p->loc, "a slice bound") : dflt;
      };
      if (!it.is_slice) {
        int64_t i = static_int(eval(*it.index, scope), it.loc, "an index");
        if (is_sym(len)) throw CompileError(it.loc, fmt::format("cannot index the symbolic axis {}", dim_str(len, &root_->g.symbols)));
        if (i < -len || i >= len) throw CompileError(it.loc, fmt::format("index {} is out of range for axis {} of {}", i, ax, tstr(t)));
        if (i < 0) i += len;
        cur = emit("slice", {cur}, {{"axis", int64_t(ax)}, {"start", i}, {"end", i + 1}, {"step", int64_t(1)}}, it.loc);
        drop = true;
        continue;
      }
      if (!it.start && !it.end && !it.step) { keep.push_back(len); continue; }
      if (is_sym(len)) throw CompileError(it.loc, fmt::format("cannot slice the symbolic axis {}", dim_str(len, &root_->g.symbols)));
      int64_t start = opt(it.start, 0), end = opt(it.end, len);
      cur = emit("slice", {cur}, {{"axis", int64_t(ax)}, {"start", start}, {"end", end}, {"step", opt(it.step, 1)}}, it.loc);
      // Python semantics clamp the bounds; a slice that is left with nothing is a mistake.
      if (type_of(cur).shape[ax] == 0 && len > 0)
        throw CompileError(it.loc, fmt::format("slice {}:{} selects nothing from axis {} of {} (length {})", start, end, ax,
                                               tstr(t), len));
      keep.push_back(type_of(cur).shape[ax]);
    }
    if (drop) cur = emit("reshape", {cur}, {{"shape", Ints(keep.begin(), keep.end())}}, e.loc);
    return cur;
  }

  // ---------------------------------------------------------------- calls
  Value call(const Expr& e, const std::shared_ptr<Scope>& scope) {
    Value callee = eval(*e.items[0], scope);
    Args args;
    for (auto& a : e.args) {
      Value v = eval(*a.value, scope);
      if (a.name.empty()) {
        if (!args.named.empty()) throw CompileError(a.value->loc, "positional argument after a keyword argument");
        args.pos.emplace_back(std::move(v), a.value->loc);
      } else {
        for (auto& [n, _, l] : args.named)
          if (n == a.name) throw CompileError(a.name_loc, fmt::format("argument '{}' given twice", a.name));
        // `name: value`, so that an error about the value underlines it too.
        args.named.emplace_back(a.name, std::move(v), SourceManager::span(a.name_loc, a.value->loc));
      }
    }
    switch (callee.kind) {
      case Value::Prim:
        if (!e.as_name.empty()) throw CompileError(e.as_loc, "'as' names a layer's parameters; a primitive op has none");
        return call_prim(callee.op, args, e.loc);
      case Value::Builtin:
        return call_builtin(callee.s, args, e);
      case Value::Func:
        return call_fn(*callee.fn, args, e);
      case Value::Init:
        // `zeros`/`ones` name both an initializer (no arguments) and the builtin that
        // makes a tensor of a shape: called with arguments, they are the builtin.
        if ((!args.pos.empty() || !args.named.empty()) &&
            std::find(kBuiltinFns.begin(), kBuiltinFns.end(), callee.s) != kBuiltinFns.end())
          return call_builtin(callee.s, args, e);
        return bind_init(callee, args);
      default:
        throw CompileError(e.items[0]->loc, fmt::format("{} is not a function", describe(callee)));
    }
  }

  Value call_prim(const OpDef* op, Args& args, SrcLoc loc) {
    std::vector<Value> tensors;
    Attrs attrs;
    size_t n_in = op->inputs.size();
    size_t p = 0;
    // A variadic op (concat) also takes its tensors as one list: concat([a, b], axis: 1).
    if (op->variadic && !args.pos.empty() && (args.pos[0].first.kind == Value::List || args.pos[0].first.kind == Value::Tuple)) {
      for (auto& v : args.pos[0].first.items) tensors.push_back(v);
      p = 1;
    } else {
      while (p < args.pos.size() && (tensors.size() < n_in || (op->variadic && args.pos[p].first.kind == Value::Tensor))) {
        tensors.push_back(args.pos[p].first);
        ++p;
      }
    }
    std::vector<const AttrSpec*> settable;
    for (auto& s : op->attrs) settable.push_back(&s);
    std::map<std::string, SrcLoc> attr_locs;  // where each argument was written
    size_t ai = 0;
    for (; p < args.pos.size(); ++p, ++ai) {
      if (ai >= settable.size())
        throw CompileError(args.pos[p].second, fmt::format("{} takes {} tensor input{} and {} other argument{}; this one is extra",
                                                           op->name, n_in, n_in == 1 ? "" : "s", settable.size(),
                                                           settable.size() == 1 ? "" : "s"));
      attrs[settable[ai]->name] = to_attr(args.pos[p].first, args.pos[p].second);
      attr_locs[settable[ai]->name] = args.pos[p].second;
    }
    for (auto& [name, v, l] : args.named) {
      auto in_it = std::find(op->inputs.begin(), op->inputs.end(), name);
      if (in_it != op->inputs.end() && !op->variadic) {
        size_t k = size_t(in_it - op->inputs.begin());
        if (tensors.size() > k) throw CompileError(l, fmt::format("{}: input '{}' given twice", op->name, name));
        if (tensors.size() != k) throw CompileError(l, fmt::format("{}: give the inputs before '{}' first", op->name, name));
        tensors.push_back(v);
        continue;
      }
      bool known = std::any_of(op->attrs.begin(), op->attrs.end(), [&](auto& s) { return s.name == name; });
      if (!known) {
        std::vector<std::string> names(op->inputs.begin(), op->inputs.end());
        for (auto& s : op->attrs) names.push_back(s.name);
        std::string hint = closest_name(name, names);
        throw CompileError(l, fmt::format("{} has no argument '{}'{}", op->name, name, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
      }
      if (attrs.count(name)) throw CompileError(l, fmt::format("{}: argument '{}' given twice", op->name, name));
      attrs[name] = to_attr(v, l);
      attr_locs[name] = l;
    }
    if (tensors.size() < n_in)
      throw CompileError(loc, fmt::format("{} takes {} tensor input{} ({}), got {}", op->name, n_in, n_in == 1 ? "" : "s",
                                          fmt::join(op->inputs, ", "), tensors.size()));
    // Numbers where tensors are expected take the dtype of the first non-bool tensor
    // argument (so where(cond, x, 0.0) gives 0.0 the dtype of x), else the model's float type.
    DType dt = default_float_;
    for (auto& t : tensors)
      if (t.kind == Value::Tensor && type_of(t).dtype != DType::Bool) { dt = type_of(t).dtype; break; }
    for (auto& t : tensors) t = as_tensor(t, dt, loc, op->name.c_str());
    bool has_stream = std::any_of(op->attrs.begin(), op->attrs.end(), [](auto& s) { return s.name == "stream"; });
    if (has_stream && !attrs.count("stream")) attrs["stream"] = auto_stream(op->name);
    for (auto& s : op->attrs)
      if (s.name == "dtype" && !attrs.count("dtype") && tensors.empty()) attrs["dtype"] = default_float_;
    // An argument of the wrong kind (stride: 1.5) is reported at that argument.
    try {
      attrs = complete_attrs(*op, std::move(attrs));
    } catch (const OpError& err) {
      std::string msg = err.what();
      SrcLoc at = loc;
      for (auto& [n, l] : attr_locs)
        if (msg.find("'" + n + "'") != std::string::npos) at = l;
      throw CompileError(at, msg);
    }
    return emit(op, tensors, std::move(attrs), loc);
  }

  // A deterministic random stream per call site: hash of the parameter scope and a counter.
  int64_t auto_stream(const std::string& opname) {
    std::string key = dotted(opname) + "#" + std::to_string(counters_[dotted(opname) + "/#rng"]++);
    uint64_t h = 14695981039346656037ull;  // FNV-1a
    for (char c : key) h = (h ^ uint8_t(c)) * 1099511628211ull;
    return int64_t(h & 0x7fffffffffffffffull);
  }

  Value call_builtin(const std::string& name, Args& args, const Expr& e) {
    auto need = [&](size_t n) {
      if (args.pos.size() < n)
        throw CompileError(e.loc, fmt::format("{} needs {} positional argument{}", name, n, n == 1 ? "" : "s"));
    };
    auto named = [&](const std::string& n) -> Value* {
      for (auto& [k, v, l] : args.named)
        if (k == n) return &v;
      return nullptr;
    };
    auto only_named = [&](std::initializer_list<const char*> allowed) {
      for (auto& [k, v, l] : args.named)
        if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }))
          throw CompileError(l, fmt::format("{} has no argument '{}'", name, k));
    };
    if (name == "zeros" || name == "ones" || name == "full") {
      only_named({"dtype", "value"});
      need(name == "full" ? 2 : 1);
      Attrs a{{"shape", to_attr(args.pos[0].first, args.pos[0].second)}};
      if (!std::holds_alternative<Ints>(a["shape"]))
        throw CompileError(args.pos[0].second, fmt::format("{} needs a shape: a list of ints", name));
      double value = name == "ones" ? 1 : 0;
      if (name == "full") {
        if (!args.pos[1].first.is_num()) throw CompileError(args.pos[1].second, "full needs a number to fill with");
        value = args.pos[1].first.as_double();
      }
      a["value"] = value;
      a["dtype"] = default_float_;
      if (Value* d = named("dtype")) a["dtype"] = to_attr(*d, e.loc);
      return emit("full", {}, std::move(a), e.loc);
    }
    if (name == "len") {
      need(1);
      only_named({});
      const Value& v = args.pos[0].first;
      if (v.kind == Value::List || v.kind == Value::Tuple) return Value::integer(int64_t(v.items.size()));
      if (v.kind == Value::Tensor && type_of(v).rank() > 0) return Value::integer(type_of(v).shape[0]);
      throw CompileError(args.pos[0].second, fmt::format("len needs a list or a tensor, got {}", describe(v)));
    }
    if (name == "int" || name == "float") {
      need(1);
      const Value& v = args.pos[0].first;
      if (!v.is_num()) throw CompileError(args.pos[0].second, fmt::format("{} needs a number, got {}", name, describe(v)));
      return name == "int" ? Value::integer(int64_t(v.as_double())) : Value::number(v.as_double());
    }
    if (name == "print") {
      std::string out;
      for (auto& [v, l] : args.pos) out += (out.empty() ? "" : " ") + (v.kind == Value::Str ? v.s : describe(v));
      fmt::print(stderr, "{}\n", out);
      return Value{};
    }
    if (name == "scan") return scan(args, e);
    if (name == "grad") return grad(args, e);
    if (name == "assign") return assign_state(args, e);
    if (name == "metric") return metric(args, e);
    if (find_optimizer(name) || find_schedule(name)) return make_train_config(name, args.pos, args.named, e.loc);
    throw CompileError(e.loc, "internal: unknown builtin " + name);
  }

  // `optimizer = adm(...)`: say "unknown optimizer" and suggest among the optimizers.
  void unknown_config_check(const Stmt& s, Scope& scope) {
    const std::string& var = s.targets[0].first;
    if (var != "optimizer" && var != "schedule") return;
    const Expr* callee = s.value->kind == Expr::Call ? s.value->items[0].get() : s.value.get();
    if (callee->kind != Expr::Name || scope.find(callee->name)) return;
    throw CompileError(callee->loc, unknown_config_message(var, callee->name));
  }

  // grad(y, wrt: x) / grad(y, wrt: [x1, x2]): d sum(y) / d x, appended to the current graph.
  Value grad(Args& args, const Expr& e) {
    const Value* wrt = nullptr;
    SrcLoc wloc;
    for (auto& [k, v, l] : args.named) {
      if (k != "wrt") throw CompileError(l, fmt::format("grad has no argument '{}' (it takes: the expression, wrt)", k));
      wrt = &v, wloc = l;
    }
    if (args.pos.empty() || args.pos.size() > 2 || (args.pos.size() == 2 && wrt))
      throw CompileError(e.loc, "grad takes the expression to differentiate and wrt: grad(loss, wrt: x) or grad(loss, wrt: [x, y])");
    if (args.pos.size() == 2) wrt = &args.pos[1].first, wloc = args.pos[1].second;
    if (!wrt) throw CompileError(e.loc, "grad needs wrt: the tensor (or list of tensors) to differentiate with respect to, e.g. grad(loss, wrt: x)");
    const Value& y = args.pos[0].first;
    SrcLoc yloc = args.pos[0].second;
    if (y.kind != Value::Tensor) throw CompileError(yloc, fmt::format("grad differentiates a tensor, got {}", describe(y)));
    if (!is_float(type_of(y).dtype))
      throw CompileError(yloc, fmt::format("grad differentiates a float tensor, got {}", tstr(type_of(y))));
    bool single = wrt->kind == Value::Tensor;
    std::vector<Value> ws = single ? std::vector<Value>{*wrt} : wrt->items;
    if (!single && wrt->kind != Value::List && wrt->kind != Value::Tuple)
      throw CompileError(wloc, fmt::format("wrt must be a tensor or a list of tensors, got {}", describe(*wrt)));
    if (ws.empty()) throw CompileError(wloc, "wrt is an empty list: name the tensors to differentiate with respect to");
    for (auto& w : ws) {
      if (w.kind != Value::Tensor) throw CompileError(wloc, fmt::format("wrt must hold tensors, got {}", describe(w)));
      if (!is_float(type_of(w).dtype))
        throw CompileError(wloc, fmt::format("cannot take a gradient with respect to {}: only float tensors have gradients",
                                             tstr(type_of(w))));
    }
    int yid = use(y);
    std::vector<int> wids;
    for (auto& w : ws) wids.push_back(use(w));
    std::vector<int> gids;
    try {
      gids = append_gradients(cur_->g, yid, wids);
    } catch (const GradError& err) {
      throw CompileError(e.loc, fmt::format("grad: {}", err.what()));
    } catch (const OpError& err) {
      throw CompileError(e.loc, fmt::format("grad: {}", err.what()));
    } catch (const std::exception& err) {  // a bug in a gradient rule: say so at the call
      throw CompileError(e.loc, fmt::format("grad: internal error: {}", err.what()));
    }
    if (single) return Value::tensor(cur_, gids[0]);
    Value out;
    out.kind = Value::Tuple;
    for (int id : gids) out.items.push_back(Value::tensor(cur_, id));
    return out;
  }

  // assign(state, value): the training step writes `value` back to the state buffer.
  Value assign_state(Args& args, const Expr& e) {
    if (!args.named.empty())
      throw CompileError(std::get<2>(args.named[0]), "assign takes two positional arguments: assign(state, new_value)");
    if (args.pos.size() != 2) throw CompileError(e.loc, "assign takes two arguments: assign(state, new_value)");
    const Value& st = args.pos[0].first;
    SrcLoc sl = args.pos[0].second;
    if (st.kind != Value::Tensor)
      throw CompileError(sl, fmt::format("assign updates a state buffer (declared with 'state'), got {}", describe(st)));
    if (cur_ != root_)
      throw CompileError(e.loc, "assign cannot be used inside a scan step (a state is updated once per training step)");
    if (st.g != root_ || !is_op(root_->g.node(st.id), "param"))
      throw CompileError(sl, fmt::format("assign updates a state buffer (declared with 'state'), but this is a computed "
                                         "tensor {}", tstr(type_of(st))));
    const Node& n = root_->g.node(st.id);
    std::string name = attr_str(n.attrs, "name");
    TensorType want = n.type;
    if (attr_bool(n.attrs, "trainable"))
      throw CompileError(sl, fmt::format("'{}' is a trainable parameter (the optimizer updates it); assign updates state "
                                         "buffers, declared with 'state'", name));
    Value nv = as_tensor(args.pos[1].first, want.dtype, args.pos[1].second, "assign");
    if (type_of(nv) != want)
      throw CompileError(args.pos[1].second, fmt::format("assign: the new value of '{}' is {}, but the state is {}", name,
                                                         tstr(type_of(nv)), tstr(want)));
    if (!opts_.training) return Value{};
    for (auto& u : state_updates_)
      if (u.name == name)
        throw CompileError(Diagnostic{e.loc, fmt::format("state '{}' is assigned twice in one training step", name),
                                      {{u.loc, "first assigned here"}}});
    state_updates_.push_back({name, use(nv), e.loc});
    return Value{};
  }

  // metric("name", value): a named scalar the training step reports.
  Value metric(Args& args, const Expr& e) {
    if (!in_train_) throw CompileError(e.loc, "metric can only be used in a train block");
    if (!args.named.empty())
      throw CompileError(std::get<2>(args.named[0]), "metric takes two positional arguments: metric(\"name\", value)");
    if (args.pos.size() != 2) throw CompileError(e.loc, "metric takes a name and a scalar: metric(\"accuracy\", acc)");
    const Value& n = args.pos[0].first;
    if (n.kind != Value::Str || n.s.empty())
      throw CompileError(args.pos[0].second, fmt::format("a metric's name must be a non-empty string, got {}", describe(n)));
    if (n.s == "loss" || n.s == "lr" || n.s == "step")
      throw CompileError(args.pos[0].second, fmt::format("'{}' is reserved; give the metric another name", n.s));
    for (auto& m : metrics_)
      if (m.name == n.s)
        throw CompileError(Diagnostic{args.pos[0].second, fmt::format("metric '{}' is defined twice", n.s), {{m.loc, "first defined here"}}});
    if (cur_ != root_) throw CompileError(e.loc, "metric cannot be used inside a scan step");
    Value v = as_tensor(args.pos[1].first, default_float_, args.pos[1].second, "metric");
    if (type_of(v).rank() != 0)
      throw CompileError(args.pos[1].second, fmt::format("metric '{}' must be a scalar, got {}; reduce it with mean(...)", n.s,
                                                         tstr(type_of(v))));
    if (!is_float(type_of(v).dtype)) v = emit("cast", {v}, {{"dtype", default_float_}}, args.pos[1].second);
    metrics_.push_back({n.s, use(v), args.pos[0].second});
    return Value{};
  }

  // scan(step, xs, init, axis: 1, reverse: false): step(carries..., x_t) -> (carries'..., y_t).
  Value scan(Args& args, const Expr& e) {
    if (args.pos.size() != 3)
      throw CompileError(e.loc, "scan takes (step, xs, init): a step function, the sequence, and the initial carry "
                                "(a tensor or a tuple of tensors)");
    int64_t axis = 1;
    bool reverse = false;
    for (auto& [k, v, l] : args.named) {
      if (k == "axis") axis = static_int(v, l, "scan axis");
      else if (k == "reverse") {
        if (v.kind != Value::Bool) throw CompileError(l, "scan reverse must be a bool");
        reverse = v.b;
      } else throw CompileError(l, fmt::format("scan has no argument '{}' (it takes axis, reverse)", k));
    }
    Value step = args.pos[0].first, xs = args.pos[1].first, init = args.pos[2].first;
    if (step.kind != Value::Func) throw CompileError(args.pos[0].second, "scan needs a step function (a fn or a lambda |h, x| ...)");
    if (xs.kind != Value::Tensor) throw CompileError(args.pos[1].second, fmt::format("scan runs over a tensor, got {}", describe(xs)));
    std::vector<Value> carries = init.kind == Value::Tuple || init.kind == Value::List ? init.items : std::vector<Value>{init};
    for (auto& c : carries)
      if (c.kind != Value::Tensor) throw CompileError(args.pos[2].second, fmt::format("scan carries must be tensors, got {}", describe(c)));
    TensorType xt = type_of(xs);
    int ax;
    try {
      ax = normalize_axis("scan", axis, xt.rank());
    } catch (const OpError& err) {
      throw CompileError(e.loc, err.what());
    }
    xt.shape.erase(xt.shape.begin() + ax);

    GraphCtx body;
    body.parent = cur_;
    body.g.name = "scan_body";
    body.g.symbols = root_->g.symbols;
    GraphCtx* saved = cur_;
    Args inner;
    auto add_input = [&](const std::string& n, const TensorType& t) {
      Node node;
      node.op = find_op("input");
      node.attrs = {{"name", n}, {"dtype", t.dtype}, {"shape", t.shape}};
      node.type = t;
      int id = body.g.add(std::move(node));
      body.g.inputs.push_back(id);
      inner.pos.emplace_back(Value::tensor(&body, id), e.loc);
    };
    for (size_t i = 0; i < carries.size(); ++i) add_input(fmt::format("carry{}", i), type_of(carries[i]));
    add_input("x_t", xt);
    cur_ = &body;
    Value res;
    try {
      res = call_fn(*step.fn, inner, e, /*scoped=*/false);
    } catch (...) {
      cur_ = saved;
      throw;
    }
    cur_ = saved;
    std::vector<Value> outs = res.kind == Value::Tuple ? res.items : std::vector<Value>{res};
    if (outs.size() != carries.size() + 1)
      throw CompileError(args.pos[0].second, fmt::format("the scan step must return {} values ({} new carr{} and the step output), got {}",
                                            carries.size() + 1, carries.size(), carries.size() == 1 ? "y" : "ies", outs.size()));
    GraphCtx* saved2 = cur_;
    cur_ = &body;
    for (auto& o : outs) {
      if (o.kind != Value::Tensor) { cur_ = saved2; throw CompileError(e.loc, fmt::format("the scan step must return tensors, got {}", describe(o))); }
      body.g.outputs.push_back(use(o));
      body.g.output_names.push_back(fmt::format("out{}", body.g.outputs.size() - 1));
    }
    cur_ = saved2;
    body.g.symbols = root_->g.symbols;
    std::vector<Value> inputs = {xs};
    inputs.insert(inputs.end(), carries.begin(), carries.end());
    for (int src : body.capture_sources) inputs.push_back(Value::tensor(cur_, src));
    auto graph = std::make_shared<const Graph>(std::move(body.g));
    return emit("scan", inputs, {{"body", graph}, {"n_carry", int64_t(carries.size())}, {"axis", axis}, {"reverse", reverse}}, e.loc);
  }

  // An error inside a called function gets a note at the call, so that an error in a
  // library layer (std.nn) also shows where the user's code called it.
  // The callee and its arguments (without the `a |>` of a pipeline), and `as NAME` if given.
  static SrcLoc call_site(const Expr& e) {
    return SourceManager::span(e.items[0]->loc, e.as_name.empty() ? e.loc : e.as_loc);
  }
  static void add_call_note(CompileError& err, const Expr& e, const std::string& callee) {
    constexpr size_t kMaxCallNotes = 8;
    SrcLoc at = SourceManager::span(e.items[0]->loc, e.loc);
    std::string msg = fmt::format("in {}, called here", callee);
    auto same = [&](const SrcLoc& l) { return l.file == at.file && l.offset == at.offset; };
    if (same(err.diag.loc)) return;  // the error already points at this call
    if (!err.diag.notes.empty() && same(err.diag.notes.back().first) && err.diag.notes.back().second == msg) return;
    if (err.diag.notes.size() < kMaxCallNotes) err.diag.notes.emplace_back(at, std::move(msg));
  }

  Value call_fn(const Closure& fn, Args& args, const Expr& e, bool scoped = true) {
    // Lambdas are not on call_stack_ (they cannot be named in a cycle), so count all calls.
    if (int(call_stack_.size()) >= kMaxCallDepth || call_depth_ >= kMaxCallDepth)
      throw CompileError(e.loc, fmt::format("calls nested more than {} deep{}", kMaxCallDepth,
                                            fn.lambda ? " (does a lambda call itself?)" : ""));
    ++call_depth_;
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{call_depth_};
    auto scope = std::make_shared<Scope>();
    scope->parent = fn.env;
    scope->fn_top = true;
    if (fn.lambda) {
      const auto& ps = fn.lambda->lambda_params;
      if (!args.named.empty()) throw CompileError(std::get<2>(args.named[0]), "a lambda takes positional arguments only");
      if (args.pos.size() != ps.size())
        throw CompileError(e.loc, fmt::format("the lambda takes {} argument{}, got {}", ps.size(), ps.size() == 1 ? "" : "s", args.pos.size()));
      for (size_t i = 0; i < ps.size(); ++i) scope->vars[ps[i].first] = args.pos[i].first;
      bool named_scope = !e.as_name.empty();
      if (named_scope) path_.push_back(e.as_name), sites_.push_back({call_site(e), next_site_++});
      Value v;
      try {
        v = eval(*fn.lambda->items[0], scope);
      } catch (CompileError& err) {
        add_call_note(err, e, "the lambda");
        throw;
      }
      if (named_scope) path_.pop_back(), sites_.pop_back();
      return v;
    }
    const FnDecl& d = *fn.decl;
    for (const FnDecl* f : call_stack_)
      if (f == &d) {
        std::string chain;
        for (const FnDecl* g : call_stack_) chain += g->name + " -> ";
        throw CompileError(e.loc, fmt::format("recursive call: {}{} (layers are expanded at compile time, so a function "
                                              "cannot call itself; use a for loop)", chain, d.name));
      }
    if (args.pos.size() > d.params.size())
      throw CompileError(args.pos[d.params.size()].second,
                         fmt::format("too many arguments: {} takes {} parameter{}, got {} positional", d.name,
                                     d.params.size(), d.params.size() == 1 ? "" : "s", args.pos.size()));
    std::vector<const Value*> given(d.params.size(), nullptr);
    std::vector<SrcLoc> given_loc(d.params.size());
    for (size_t i = 0; i < args.pos.size(); ++i) given[i] = &args.pos[i].first, given_loc[i] = args.pos[i].second;
    for (auto& [k, v, l] : args.named) {
      auto it = std::find_if(d.params.begin(), d.params.end(), [&](const Param& p) { return p.name == k; });
      if (it == d.params.end()) {
        std::vector<std::string> names;
        for (auto& p : d.params) names.push_back(p.name);
        std::string hint = closest_name(k, names);
        throw CompileError(l, fmt::format("{} has no parameter '{}'{}", d.name, k,
                                          hint.empty() ? fmt::format(" (it takes: {})", fmt::join(names, ", "))
                                                       : fmt::format(" (did you mean '{}'?)", hint)));
      }
      size_t i = size_t(it - d.params.begin());
      if (given[i]) throw CompileError(l, fmt::format("argument '{}' given twice", k));
      given[i] = &v;
      given_loc[i] = l;
    }
    for (size_t i = 0; i < d.params.size(); ++i) {
      const Param& p = d.params[i];
      Value v;
      SrcLoc vloc = given_loc[i];
      if (given[i]) {
        v = *given[i];
      } else if (p.default_value) {
        v = eval(*p.default_value, scope);
        vloc = p.default_value->loc;
      } else {
        throw CompileError(e.loc, fmt::format("missing argument '{}' in call to {}", p.name, d.name));
      }
      if (p.type) {
        if (v.kind == Value::Tensor) match_type(*p.type, type_of(v), *scope, fmt::format("argument '{}' of {}", p.name, d.name), vloc);
        else check_static_type(*p.type, v, p.name, vloc);
      }
      scope->vars[p.name] = std::move(v);
    }
    bool push_scope = scoped || !e.as_name.empty();
    if (push_scope) {
      std::string name = e.as_name;
      if (name.empty()) {
        std::string key = dotted("") + "/" + d.name;
        name = d.name + std::to_string(counters_[key]++);
      }
      path_.push_back(name);
      sites_.push_back({call_site(e), next_site_++});
    }
    call_stack_.push_back(&d);
    Value result;
    const SrcLoc* saved_ret = return_loc_;
    const Expr* saved_ret_expr = return_expr_;
    try {
      exec_block(d.body, scope);
    } catch (ReturnSignal& r) {
      result = std::move(r.value);
    } catch (CompileError& err) {
      add_call_note(err, e, fmt::format("'{}'", d.name));
      throw;
    }
    call_stack_.pop_back();
    if (push_scope) path_.pop_back(), sites_.pop_back();
    if (d.is_model) {
      try {
        bind_model_call_outputs(d, result, *scope);
      } catch (CompileError& err) {
        add_call_note(err, e, fmt::format("'{}'", d.name));
        throw;
      }
    }
    return_loc_ = saved_ret;
    return_expr_ = saved_ret_expr;
    return result;
  }

  // A model called from another model: its declared outputs are checked too.
  void bind_model_call_outputs(const FnDecl& d, const Value& result, Scope& scope) {
    std::vector<Value> outs = result.kind == Value::Tuple ? result.items : std::vector<Value>{result};
    SrcLoc where = return_loc_ ? *return_loc_ : d.loc;  // the callee's `return` (not yet restored)
    if (outs.size() != d.outputs.size())
      throw CompileError(Diagnostic{where, fmt::format("model '{}' returns {} value{} but declares {} output{}", d.name,
                                                       outs.size(), outs.size() == 1 ? "" : "s", d.outputs.size(),
                                                       d.outputs.size() == 1 ? "" : "s"),
                                    {{SourceManager::span(d.outputs_loc, d.outputs.back().second.loc),
                                      "the outputs are declared here"}}});
    for (size_t i = 0; i < outs.size(); ++i)
      if (outs[i].kind == Value::Tensor) match_type(d.outputs[i].second, type_of(outs[i]), scope, fmt::format("output {} of {}", i, d.name), where);
  }
};

}  // namespace

std::vector<std::string> builtin_names() {
  std::vector<std::string> out = kBuiltinFns;
  for (const char* c : {"f32", "f64", "i64", "bool", "training", "pi", "inf", "prim"}) out.push_back(c);
  for (auto* op : all_ops())
    if (op->name != "input" && op->name != "param" && op->name != "const") out.push_back(op->name);
  for (auto& [k, v] : kInits) out.push_back(k);
  return out;
}

std::optional<Graph> elaborate_model(Program& prog, const FnDecl& model, const BuildOptions& opts) {
  Elaborator el(prog, opts);
  return el.build(model);
}

TrainElab elaborate_train(Program& prog, const FnDecl& model, const TrainDecl& td, const TrainStep* step, bool training) {
  Elaborator el(prog, BuildOptions{training});
  return el.build_train(model, td, step);
}

}  // namespace starc
