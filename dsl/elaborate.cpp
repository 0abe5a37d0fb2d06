// dsl: elaboration — runs a model's body once, symbolically, producing its Graph.
// Static values are computed here (loops, ifs, shapes, layer arguments); tensor values
// become graph nodes whose shapes are checked by each op's shape rule as they are added.
// The Elaborator is declared in dsl/elaborator.h; this file holds its entry points (a
// model, a train block) and the helpers that turn values into graph nodes.
#include <fmt/format.h>

#include "compiler/train/optimizers.h"
#include "compiler/ops/common.h"
#include "dsl/elaborator.h"

namespace starc {

const char* kind_name(const Value& v) {
  switch (v.kind) {
    case Value::None:
      return "nothing";
    case Value::Int:
      return "int";
    case Value::Float:
      return "float";
    case Value::Bool:
      return "bool";
    case Value::Str:
      return "str";
    case Value::DTypeV:
      return "dtype";
    case Value::List:
      return "list";
    case Value::Tuple:
      return "tuple";
    case Value::Tensor:
      return "tensor";
    case Value::Func:
    case Value::Prim:
    case Value::Builtin:
      return "function";
    case Value::PrimNamespace:
      return "namespace";
    case Value::Init:
      return "initializer";
    case Value::Config:
      return find_optimizer(v.s) ? "optimizer" : "schedule";
  }
  return "?";
}

// ---------------------------------------------------------------- entry points
std::optional<Graph> Elaborator::build(const FnDecl& model) {
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
TrainElab Elaborator::build_train(const FnDecl& model, const TrainDecl& td, const TrainStep* step) {
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
  auto builtins = new_scope();
  builtins->parent = module_scope_for(td.module);
  for (auto& n : train_builtin_names()) {
    Value v;
    v.kind = Value::Builtin;
    v.s = n;
    builtins->vars[n] = v;
  }
  auto ts = new_scope();
  ts->parent = builtins;
  ts->fn_top = true;
  for (size_t i = 0; i < root.g.symbols.size(); ++i) ts->vars[root.g.symbols[i]] = Value::dim(make_sym(int(i)));
  for (auto& [n, v] : inputs) ts->vars[n] = v;
  for (size_t i = 0; i < outs.size(); ++i) ts->vars[out_names[i]] = outs[i];
  for (auto& p : td.params) {
    if (inputs.count(p.name))
      throw CompileError(p.loc, fmt::format("'{}' is already an input of model '{}'; the train block's inputs are "
                                            "extra data (targets) with other names",
                                            p.name, model.name));
    if (!p.type || !p.type->is_tensor || p.type->name.empty())
      throw CompileError(
          p.type ? p.type->loc : p.loc,
          fmt::format("train input '{}' needs a tensor type with an element type, e.g. {}: f32[B, 1]", p.name, p.name));
    if (p.default_value)
      throw CompileError(p.default_value->loc, "a train block's inputs are data tensors and take no default");
    TensorType t = declared_type(*p.type, *ts, /*new_syms=*/true);
    ts->vars[p.name] = add_graph_input(root, p.name, t, p.loc);
  }
  train_scope_ = ts.get();
  in_train_ = true;
  auto run = [&](const Block& b) {
    try {
      exec_block(b, ts);
    } catch (ReturnSignal&) {
      throw CompileError(return_loc_ ? *return_loc_ : td.loc,
                         "'return' is not allowed in a train block (assign loss = ... instead)");
    }
  };
  run(td.body);
  if (step) {
    for (auto& a : step->args) {
      if (a.name != "params")
        throw CompileError(a.name_loc, fmt::format("step has no argument '{}' (it takes: params)", a.name));
      Value v = eval(*a.value, ts);
      std::vector<Value> items = v.kind == Value::List || v.kind == Value::Tuple ? v.items : std::vector<Value>{v};
      const std::vector<ExprP>* exprs =
          a.value->kind == Expr::List || a.value->kind == Expr::Tuple ? &a.value->items : nullptr;
      if (items.empty())
        throw CompileError(a.value->loc,
                           "params needs at least one name prefix (or leave it out to train every parameter)");
      for (size_t i = 0; i < items.size(); ++i) {
        SrcLoc at = exprs && exprs->size() == items.size() ? (*exprs)[i]->loc : a.value->loc;
        if (items[i].kind != Value::Str)
          throw CompileError(
              at, fmt::format("params takes a name prefix (a string like \"disc.\") or a list of them, got {}",
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

// Declares the model's inputs in a new graph scope (unknown names in their shapes
// become symbolic dims).
std::shared_ptr<Scope> Elaborator::model_inputs(const FnDecl& model) {
  GraphCtx& root = *root_;
  auto module_scope = module_scope_for(model.module);
  auto scope = new_scope();
  scope->parent = module_scope;
  scope->fn_top = true;
  // Inputs: typed tensors become graph inputs; unknown names in their shapes are symbolic dims.
  for (auto& p : model.params) {
    if (p.type && p.type->is_tensor) {
      if (p.type->name.empty())
        throw CompileError(p.type->loc, fmt::format("model input '{}' needs an element type, e.g. f32[B, 16]", p.name));
      TensorType t = declared_type(*p.type, *scope, /*new_syms=*/true);
      if (!default_float_set_ && is_float(t.dtype)) default_float_ = t.dtype, default_float_set_ = true;
      scope->vars[p.name] = add_graph_input(root, p.name, t, p.loc);
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
std::vector<Value> Elaborator::run_model(const FnDecl& model, std::shared_ptr<Scope> scope) {
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

// ---------------------------------------------------------------- helpers
// A new input node of the root graph (a model input or a train block's data input).
Value Elaborator::add_graph_input(GraphCtx& root, const std::string& name, const TensorType& t, SrcLoc loc) {
  Node n;
  n.op = find_op("input");
  n.attrs = {{"name", name}, {"dtype", t.dtype}, {"shape", t.shape}};
  n.type = t;
  n.loc = graph_loc(loc);
  int id = root.g.add(std::move(n));
  root.g.inputs.push_back(id);
  return Value::tensor(&root, id);
}

Loc Elaborator::graph_loc(SrcLoc l) const {
  if (!l.known()) return {};
  auto [line, col] = diags_.sources().line_col(l);
  return Loc{diags_.sources().file(l.file).path, line, col};
}

std::shared_ptr<Scope> Elaborator::new_scope() {
  if (scopes_.size() >= prune_scopes_at_) {  // a loop's body scopes expire each iteration
    std::erase_if(scopes_, [](const std::weak_ptr<Scope>& w) { return w.expired(); });
    prune_scopes_at_ = std::max<size_t>(1024, 2 * scopes_.size());
  }
  auto s = std::make_shared<Scope>();
  scopes_.push_back(s);
  return s;
}

Elaborator::~Elaborator() {
  for (auto& w : scopes_)
    if (std::shared_ptr<Scope> s = w.lock()) {
      s->vars.clear();
      s->parent.reset();
    }
}

std::shared_ptr<Scope> Elaborator::module_scope_for(int module) {
  std::shared_ptr<Scope>& slot = module_scopes_[module];
  if (slot) return slot;
  auto s = slot = new_scope();
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

std::string Elaborator::describe(const Value& v) const {
  switch (v.kind) {
    case Value::Tensor:
      return tstr(type_of(v));
    case Value::Int:
      return v.sym ? fmt::format("dim {}", dim_str(v.i, &root_->g.symbols)) : fmt::format("int {}", v.i);
    case Value::Float:
      return fmt::format("float {}", v.f);
    case Value::Bool:
      return v.b ? "bool true" : "bool false";
    case Value::Str:
      return fmt::format("string \"{}\"", v.s);
    default:
      return kind_name(v);
  }
}

// The id of `v` in the current graph, capturing it from enclosing graphs if needed.
int Elaborator::use(const Value& v) { return use_in(cur_, v); }
int Elaborator::use_in(GraphCtx* ctx, const Value& v) {
  if (v.g == ctx) return v.id;
  if (!ctx->parent) throw CompileError(SrcLoc{}, "internal: a tensor escaped the scan body that created it");
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
Value Elaborator::emit(const OpDef* op, const std::vector<Value>& tensor_args, Attrs attrs, SrcLoc loc) {
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
    n.type = infer_type(*op, types, n.attrs, &root_->g.symbols, &root_->g.symbols);
  } catch (const OpError& e) {
    throw CompileError(loc, e.what());
  }
  n.inputs = std::move(ids);
  n.loc = graph_loc(loc);
  return Value::tensor(cur_, cur_->g.add(std::move(n)));
}
Value Elaborator::emit(const char* op, const std::vector<Value>& args, Attrs attrs, SrcLoc loc) {
  return emit(find_op(op), args, std::move(attrs), loc);
}

Value Elaborator::constant(double v, DType dt, SrcLoc loc) {
  return emit("const", {}, {{"value", Tensor::scalar(dt, v)}}, loc);
}

// A static number used where a tensor is needed takes the other operand's dtype.
Value Elaborator::as_tensor(const Value& v, DType dt, SrcLoc loc, const char* context) {
  if (v.kind == Value::Tensor) return v;
  if (v.kind == Value::Bool) return constant(v.b ? 1 : 0, dt, loc);
  if (v.is_num()) {
    if (v.is_sym_dim())
      throw CompileError(loc, fmt::format("{} is a symbolic dim (known only at run time) and cannot be used as a value",
                                          dim_str(v.i, &root_->g.symbols)));
    if (v.kind == Value::Float && !is_float(dt))
      throw CompileError(loc, fmt::format("{}: cannot use float {} with a {} tensor", context, v.f, dtype_name(dt)));
    return constant(v.as_double(), dt, loc);
  }
  throw CompileError(loc, fmt::format("{}: expected a tensor or a number, got {}", context, describe(v)));
}

int64_t Elaborator::static_int(const Value& v, SrcLoc loc, const char* what, bool allow_sym) {
  if (v.kind != Value::Int) throw CompileError(loc, fmt::format("{} must be a static int, got {}", what, describe(v)));
  if (!allow_sym && v.sym)
    throw CompileError(loc, fmt::format("{} must be known at compile time, but {} is only known at run time", what,
                                        dim_str(v.i, &root_->g.symbols)));
  if (allow_sym && !v.sym && is_sym(v.i)) throw CompileError(loc, fmt::format("{} of {} is out of range", what, v.i));
  return v.i;
}

// Graph attributes encode symbolic dims as integers <= kSymBase: a static int that large
// (negative) would read as one, so it is refused rather than confused.
int64_t Elaborator::attr_int(const Value& v, SrcLoc loc) const {
  if (!v.sym && is_sym(v.i))
    throw CompileError(loc, fmt::format("integer {} is out of range here (operation arguments take |n| < 2^40)", v.i));
  return v.i;
}

Attr Elaborator::to_attr(const Value& v, SrcLoc loc) {
  switch (v.kind) {
    case Value::Int:
      return attr_int(v, loc);
    case Value::Float:
      return v.f;
    case Value::Bool:
      return v.b;
    case Value::Str:
      return v.s;
    case Value::DTypeV:
      return v.dt;
    case Value::List:
    case Value::Tuple: {
      bool all_int = true;
      for (auto& it : v.items) {
        if (!it.is_num())
          throw CompileError(loc, fmt::format("expected a list of numbers, got a list containing {}", describe(it)));
        all_int = all_int && it.kind == Value::Int;
      }
      if (all_int) {
        Ints out;
        for (auto& it : v.items) out.push_back(attr_int(it, loc));
        return out;
      }
      Floats out;
      for (auto& it : v.items) out.push_back(it.as_double());
      return out;
    }
    default:
      throw CompileError(
          loc, fmt::format("expected a static value (number, bool, string, list, dtype), got {}", describe(v)));
  }
}

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

TrainElab elaborate_train(Program& prog, const FnDecl& model, const TrainDecl& td, const TrainStep* step,
                          bool training) {
  Elaborator el(prog, BuildOptions{training});
  return el.build_train(model, td, step);
}

}  // namespace starc
