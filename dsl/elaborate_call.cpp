// dsl: elaboration — calls: primitive ops, functions and layers (each call opens a
// parameter scope), lambdas; `param` declarations and their initializers.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/ops/common.h"
#include "dsl/elaborator.h"

namespace starc {
namespace {

constexpr int kMaxCallDepth = 100;

}  // namespace

// ---------------------------------------------------------------- calls
Value Elaborator::call(const Expr& e, const std::shared_ptr<Scope>& scope) {
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

Value Elaborator::call_prim(const OpDef* op, Args& args, SrcLoc loc) {
  std::vector<Value> tensors;
  Attrs attrs;
  size_t n_in = op->inputs.size();
  size_t p = 0;
  // A variadic op (concat) also takes its tensors as one list: concat([a, b], axis: 1).
  if (op->variadic && !args.pos.empty() &&
      (args.pos[0].first.kind == Value::List || args.pos[0].first.kind == Value::Tuple)) {
    for (auto& v : args.pos[0].first.items) tensors.push_back(v);
    p = 1;
  } else {
    while (p < args.pos.size() &&
           (tensors.size() < n_in || (op->variadic && args.pos[p].first.kind == Value::Tensor))) {
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
      throw CompileError(args.pos[p].second,
                         fmt::format("{} takes {} tensor input{} and {} other argument{}; this one is extra", op->name,
                                     n_in, n_in == 1 ? "" : "s", settable.size(), settable.size() == 1 ? "" : "s"));
    attrs[settable[ai]->name] = to_attr(args.pos[p].first, args.pos[p].second);
    attr_locs[settable[ai]->name] = args.pos[p].second;
  }
  for (auto& [name, v, l] : args.named) {
    auto in_it = std::find(op->inputs.begin(), op->inputs.end(), name);
    if (in_it != op->inputs.end() && !op->variadic) {
      size_t k = size_t(in_it - op->inputs.begin());
      if (tensors.size() > k) throw CompileError(l, fmt::format("{}: input '{}' given twice", op->name, name));
      if (tensors.size() != k)
        throw CompileError(l, fmt::format("{}: give the inputs before '{}' first", op->name, name));
      tensors.push_back(v);
      continue;
    }
    bool known = std::any_of(op->attrs.begin(), op->attrs.end(), [&](auto& s) { return s.name == name; });
    if (!known) {
      std::vector<std::string> names(op->inputs.begin(), op->inputs.end());
      for (auto& s : op->attrs) names.push_back(s.name);
      std::string hint = closest_name(name, names);
      throw CompileError(l, fmt::format("{} has no argument '{}'{}", op->name, name,
                                        hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
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
    if (t.kind == Value::Tensor && type_of(t).dtype != DType::Bool) {
      dt = type_of(t).dtype;
      break;
    }
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
int64_t Elaborator::auto_stream(const std::string& opname) {
  std::string key = dotted(opname) + "#" + std::to_string(counters_[dotted(opname) + "/#rng"]++);
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (char c : key) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return int64_t(h & 0x7fffffffffffffffull);
}

// An error inside a called function gets a note at the call, so that an error in a
// library layer (std.nn) also shows where the user's code called it.
// The callee and its arguments (without the `a |>` of a pipeline), and `as NAME` if given.
SrcLoc Elaborator::call_site(const Expr& e) {
  return SourceManager::span(e.items[0]->loc, e.as_name.empty() ? e.loc : e.as_loc);
}
void Elaborator::add_call_note(CompileError& err, const Expr& e, const std::string& callee) {
  constexpr size_t kMaxCallNotes = 8;
  SrcLoc at = SourceManager::span(e.items[0]->loc, e.loc);
  std::string msg = fmt::format("in {}, called here", callee);
  auto same = [&](const SrcLoc& l) { return l.file == at.file && l.offset == at.offset; };
  if (same(err.diag.loc)) return;  // the error already points at this call
  if (!err.diag.notes.empty() && same(err.diag.notes.back().first) && err.diag.notes.back().second == msg) return;
  if (err.diag.notes.size() < kMaxCallNotes) err.diag.notes.emplace_back(at, std::move(msg));
}

Value Elaborator::call_fn(const Closure& fn, Args& args, const Expr& e, bool scoped) {
  // Lambdas are not on call_stack_ (they cannot be named in a cycle), so count all calls.
  if (int(call_stack_.size()) >= kMaxCallDepth || call_depth_ >= kMaxCallDepth)
    throw CompileError(e.loc, fmt::format("calls nested more than {} deep{}", kMaxCallDepth,
                                          fn.lambda ? " (does a lambda call itself?)" : ""));
  ++call_depth_;
  struct Leave {
    int& d;
    ~Leave() { --d; }
  } leave{call_depth_};
  auto scope = new_scope();
  scope->parent = fn.env;
  scope->fn_top = true;
  if (fn.lambda) {
    const auto& ps = fn.lambda->lambda_params;
    if (!args.named.empty()) throw CompileError(std::get<2>(args.named[0]), "a lambda takes positional arguments only");
    if (args.pos.size() != ps.size())
      throw CompileError(e.loc, fmt::format("the lambda takes {} argument{}, got {}", ps.size(),
                                            ps.size() == 1 ? "" : "s", args.pos.size()));
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
                                            "cannot call itself; use a for loop)",
                                            chain, d.name));
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
      if (v.kind == Value::Tensor)
        match_type(*p.type, type_of(v), *scope, fmt::format("argument '{}' of {}", p.name, d.name), vloc);
      else
        check_static_type(*p.type, v, p.name, vloc);
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

// ---------------------------------------------------------------- parameters
// Initializers a `param` may name, with their argument names.
const std::map<std::string, std::vector<std::string>> kInits = {{"zeros", {}},
                                                                {"ones", {}},
                                                                {"constant", {"value"}},
                                                                {"normal", {"mean", "std"}},
                                                                {"uniform", {"low", "high"}},
                                                                {"he_uniform", {"fan_in"}},
                                                                {"he_normal", {"fan_in"}},
                                                                {"glorot_uniform", {"fan_in", "fan_out"}},
                                                                {"glorot_normal", {"fan_in", "fan_out"}},
                                                                {"lecun_uniform", {"fan_in"}},
                                                                {"lecun_normal", {"fan_in"}}};

std::string Elaborator::dotted(const std::string& leaf) const {
  std::string out;
  for (auto& p : path_) out += p + ".";
  return out + leaf;
}

void Elaborator::declare_param(const Stmt& s, Scope& scope) {
  TensorType t = declared_type(*s.type, scope, false);
  for (size_t i = 0; i < t.shape.size(); ++i)
    if (is_sym(t.shape[i]))
      throw CompileError(s.type->dims[i]->loc,
                         fmt::format("parameter shapes must be static, but {} is only known at run time",
                                     dim_str(t.shape[i], &root_->g.symbols)));
  std::string name = dotted(s.name);
  if (auto it = param_names_.find(name); it != param_names_.end()) {
    const ParamSeen& first = it->second;
    // The first enclosing call that differs made the clash: report it there (in the
    // user's code, not in the library layer that declares the parameter).
    size_t k = 0;
    while (k < sites_.size() && k < first.sites.size() && sites_[k].id == first.sites[k].id) ++k;
    if (k < sites_.size() && k < first.sites.size())
      throw CompileError(Diagnostic{
          sites_[k].loc,
          fmt::format("parameter '{}' is declared twice: an earlier call has the same "
                      "name (give this layer call its own name with 'as')",
                      name),
          {{first.sites[k].loc, "the earlier call"}, {s.loc, fmt::format("'{}' is declared here", s.name)}}});
    if (first.decl.file == s.loc.file && first.decl.offset == s.loc.offset)
      throw CompileError(s.loc, fmt::format("parameter '{}' is declared twice: this declaration runs more than once "
                                            "(in a loop?); give each its own name",
                                            name));
    throw CompileError(Diagnostic{
        s.loc, fmt::format("parameter '{}' is declared twice", name), {{first.decl, "first declared here"}}});
  }
  param_names_[name] = ParamSeen{s.loc, sites_};
  auto [init, args] = init_spec(s.value.get(), t.shape, scope);
  Node n;
  n.op = find_op("param");
  n.attrs = {{"name", name}, {"dtype", t.dtype},  {"shape", t.shape},
             {"init", init}, {"init_args", args}, {"trainable", s.trainable}};
  n.type = t;
  n.loc = graph_loc(s.loc);
  int id = root_->g.add(std::move(n));
  scope.vars[s.name] = Value::tensor(root_, id);
}

// `he_uniform(fan_in: 10)`: an initializer value with its arguments bound by name.
Value Elaborator::bind_init(Value init, Args& args) {
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
      throw CompileError(
          args.pos.empty() ? SrcLoc{} : args.pos[0].second,
          fmt::format("initializer argument '{}' must be a number, got {}", init.names[i], describe(init.items[i])));
  return init;
}

// Resolves an initializer expression to its name and arguments; fan_in/fan_out default
// to PyTorch's convention for the parameter's shape.
std::pair<std::string, Floats> Elaborator::init_spec(const Expr* e, const Shape& shape, Scope& scope) {
  if (!e) return {"zeros", {}};
  auto self = std::shared_ptr<Scope>(&scope, [](Scope*) {});
  Value init = eval(*e, self);
  if (init.kind != Value::Init) {
    std::vector<std::string> names;
    for (auto& [k, v] : kInits) names.push_back(k);
    throw CompileError(e->loc,
                       fmt::format("expected an initializer ({}), got {}", fmt::join(names, ", "), describe(init)));
  }
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  double fan_in = shape.size() >= 2 ? double(shape[1] * receptive) : shape.empty() ? 1.0 : double(shape[0]);
  double fan_out = shape.size() >= 2 ? double(shape[0] * receptive) : fan_in;
  std::map<std::string, double> vals = {{"mean", 0}, {"std", 1},         {"low", 0},
                                        {"high", 1}, {"fan_in", fan_in}, {"fan_out", fan_out}};
  for (size_t i = 0; i < init.items.size(); ++i) vals[init.names[i]] = init.items[i].as_double();
  if (init.s == "constant" && !vals.count("value"))
    throw CompileError(e->loc, "constant initializer needs a value, e.g. constant(0.1)");
  if (vals["fan_in"] <= 0 || vals["fan_out"] <= 0)
    throw CompileError(e->loc, "initializer fan_in/fan_out must be positive (is a dimension zero?)");
  Floats out;
  for (auto& n : kInits.at(init.s)) out.push_back(vals[n]);
  return {init.s, out};
}

}  // namespace starc
