// dsl: elaboration — builtin functions: zeros/ones/full, len, int/float, print, scan,
// grad, assign (state updates), metric, optimizers and schedules (train blocks).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/train/optimizers.h"
#include "compiler/ops/common.h"
#include "dsl/elaborator.h"

namespace starc {

const std::vector<std::string> kBuiltinFns = {"scan",        "zeros",     "ones",    "full",   "len",   "int",
                                              "float",       "print",     "grad",    "assign", "clamp", "masked_fill",
                                              "expand_dims", "unsqueeze", "squeeze", "stack",  "split", "chunk",
                                              "repeat",      "tile",      "tensor",  "sort",   "topk"};

// ---------------------------------------------------------------- builtins
// tensor(values, dtype: f32), as torch.tensor: a static number (rank 0) or list of
// numbers (1-D) as a constant, or a tensor cast to dtype; lets a function take per-class
// numbers as a list or a tensor alike (std.losses' weights).
Value Elaborator::tensor_builtin(Args& args, const Expr& e) {
  if (args.pos.size() != 1) throw CompileError(e.loc, "tensor needs 1 positional argument (a number, list or tensor)");
  DType dt = default_float_;
  for (auto& [k, v, l] : args.named) {
    if (k != "dtype") throw CompileError(l, fmt::format("tensor has no argument '{}'", k));
    Attr a = to_attr(v, l);
    if (!std::holds_alternative<DType>(a))
      throw CompileError(
          l, fmt::format("tensor: dtype must be an element type (f32, f64, i64, bool), got {}", describe(v)));
    dt = std::get<DType>(a);
  }
  const auto& [v, loc] = args.pos[0];
  if (v.kind == Value::Tensor) return type_of(v).dtype == dt ? v : emit("cast", {v}, {{"dtype", dt}}, e.loc);
  std::vector<Value> items = v.kind == Value::List || v.kind == Value::Tuple ? v.items : std::vector<Value>{v};
  std::vector<double> nums;
  for (const Value& x : items) {
    if (!x.is_num() || x.is_sym_dim())
      throw CompileError(loc, fmt::format("tensor needs static numbers, got {}", describe(x)));
    nums.push_back(x.as_double());
  }
  Shape shape = v.kind == Value::List || v.kind == Value::Tuple ? Shape{int64_t(nums.size())} : Shape{};
  return emit("const", {}, {{"value", Tensor::from_vector(dt, shape, nums)}}, e.loc);
}

Value Elaborator::call_builtin(const std::string& name, Args& args, const Expr& e) {
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
    if (v.kind == Value::Tensor && type_of(v).rank() > 0) return Value::dim(type_of(v).shape[0]);
    throw CompileError(args.pos[0].second, fmt::format("len needs a list or a tensor, got {}", describe(v)));
  }
  if (name == "tensor") return tensor_builtin(args, e);
  if (name == "int" || name == "float") {
    need(1);
    const Value& v = args.pos[0].first;
    if (!v.is_num())
      throw CompileError(args.pos[0].second, fmt::format("{} needs a number, got {}", name, describe(v)));
    if (name == "float" || v.kind == Value::Int) {
      if (v.sym)
        throw CompileError(args.pos[0].second, fmt::format("{} needs a static number, got {}", name, describe(v)));
      return name == "int" ? v : Value::number(v.as_double());
    }
    // Truncation toward zero, and only of floats that fit (2^63 is exactly representable).
    double f = v.f;
    if (!(std::fabs(f) < 9223372036854775808.0))
      throw CompileError(args.pos[0].second, fmt::format("int({}) does not fit in a 64-bit integer", f));
    return Value::integer(int64_t(f));
  }
  if (name == "print") {
    std::string out;
    for (auto& [v, l] : args.pos) out += (out.empty() ? "" : " ") + (v.kind == Value::Str ? v.s : describe(v));
    fmt::print(stderr, "{}\n", out);
    return Value{};
  }
  if (name == "scan") return scan(args, e);
  if (is_shape_builtin(name)) return shape_builtin(name, args, e);
  if (name == "grad") return grad(args, e);
  if (name == "assign") return assign_state(args, e);
  if (name == "metric") return metric(args, e);
  if (find_optimizer(name) || find_schedule(name)) return make_train_config(name, args.pos, args.named, e.loc);
  throw CompileError(e.loc, "internal: unknown builtin " + name);
}

// `optimizer = adm(...)`: say "unknown optimizer" and suggest among the optimizers.
void Elaborator::unknown_config_check(const Stmt& s, Scope& scope) {
  const std::string& var = s.targets[0].first;
  if (var != "optimizer" && var != "schedule") return;
  const Expr* callee = s.value->kind == Expr::Call ? s.value->items[0].get() : s.value.get();
  if (callee->kind != Expr::Name || scope.find(callee->name)) return;
  throw CompileError(callee->loc, unknown_config_message(var, callee->name));
}

// grad(y, wrt: x) / grad(y, wrt: [x1, x2]): d sum(y) / d x, appended to the current graph.
Value Elaborator::grad(Args& args, const Expr& e) {
  const Value* wrt = nullptr;
  SrcLoc wloc;
  for (auto& [k, v, l] : args.named) {
    if (k != "wrt") throw CompileError(l, fmt::format("grad has no argument '{}' (it takes: the expression, wrt)", k));
    wrt = &v, wloc = l;
  }
  if (args.pos.empty() || args.pos.size() > 2 || (args.pos.size() == 2 && wrt))
    throw CompileError(
        e.loc, "grad takes the expression to differentiate and wrt: grad(loss, wrt: x) or grad(loss, wrt: [x, y])");
  if (args.pos.size() == 2) wrt = &args.pos[1].first, wloc = args.pos[1].second;
  if (!wrt)
    throw CompileError(
        e.loc,
        "grad needs wrt: the tensor (or list of tensors) to differentiate with respect to, e.g. grad(loss, wrt: x)");
  const Value& y = args.pos[0].first;
  SrcLoc yloc = args.pos[0].second;
  if (y.kind != Value::Tensor)
    throw CompileError(yloc, fmt::format("grad differentiates a tensor, got {}", describe(y)));
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
      throw CompileError(wloc,
                         fmt::format("cannot take a gradient with respect to {}: only float tensors have gradients",
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
Value Elaborator::assign_state(Args& args, const Expr& e) {
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
                                       "tensor {}",
                                       tstr(type_of(st))));
  const Node& n = root_->g.node(st.id);
  std::string name = attr_str(n.attrs, "name");
  TensorType want = n.type;
  if (attr_bool(n.attrs, "trainable"))
    throw CompileError(sl, fmt::format("'{}' is a trainable parameter (the optimizer updates it); assign updates state "
                                       "buffers, declared with 'state'",
                                       name));
  Value nv = as_tensor(args.pos[1].first, want.dtype, args.pos[1].second, "assign");
  if (type_of(nv) != want)
    throw CompileError(args.pos[1].second, fmt::format("assign: the new value of '{}' is {}, but the state is {}", name,
                                                       tstr(type_of(nv)), tstr(want)));
  if (!opts_.training) return Value{};
  for (auto& u : state_updates_)
    if (u.name == name)
      throw CompileError(Diagnostic{e.loc,
                                    fmt::format("state '{}' is assigned twice in one training step", name),
                                    {{u.loc, "first assigned here"}}});
  state_updates_.push_back({name, use(nv), e.loc});
  return Value{};
}

// metric("name", value): a named scalar the training step reports.
Value Elaborator::metric(Args& args, const Expr& e) {
  if (!in_train_) throw CompileError(e.loc, "metric can only be used in a train block");
  if (!args.named.empty())
    throw CompileError(std::get<2>(args.named[0]), "metric takes two positional arguments: metric(\"name\", value)");
  if (args.pos.size() != 2) throw CompileError(e.loc, "metric takes a name and a scalar: metric(\"accuracy\", acc)");
  const Value& n = args.pos[0].first;
  if (n.kind != Value::Str || n.s.empty())
    throw CompileError(args.pos[0].second,
                       fmt::format("a metric's name must be a non-empty string, got {}", describe(n)));
  if (n.s == "loss" || n.s == "lr" || n.s == "step")
    throw CompileError(args.pos[0].second, fmt::format("'{}' is reserved; give the metric another name", n.s));
  for (auto& m : metrics_)
    if (m.name == n.s)
      throw CompileError(Diagnostic{
          args.pos[0].second, fmt::format("metric '{}' is defined twice", n.s), {{m.loc, "first defined here"}}});
  if (cur_ != root_) throw CompileError(e.loc, "metric cannot be used inside a scan step");
  Value v = as_tensor(args.pos[1].first, default_float_, args.pos[1].second, "metric");
  if (type_of(v).rank() != 0)
    throw CompileError(args.pos[1].second, fmt::format("metric '{}' must be a scalar, got {}; reduce it with mean(...)",
                                                       n.s, tstr(type_of(v))));
  if (!is_float(type_of(v).dtype)) v = emit("cast", {v}, {{"dtype", default_float_}}, args.pos[1].second);
  metrics_.push_back({n.s, use(v), args.pos[0].second});
  return Value{};
}

// scan(step, xs, init, axis: 1, reverse: false): step(carries..., x_t) -> (carries'..., y_t).
Value Elaborator::scan(Args& args, const Expr& e) {
  if (args.pos.size() != 3)
    throw CompileError(e.loc,
                       "scan takes (step, xs, init): a step function, the sequence, and the initial carry "
                       "(a tensor or a tuple of tensors)");
  int64_t axis = 1;
  bool reverse = false;
  for (auto& [k, v, l] : args.named) {
    if (k == "axis")
      axis = static_int(v, l, "scan axis");
    else if (k == "reverse") {
      if (v.kind != Value::Bool) throw CompileError(l, "scan reverse must be a bool");
      reverse = v.b;
    } else
      throw CompileError(l, fmt::format("scan has no argument '{}' (it takes axis, reverse)", k));
  }
  Value step = args.pos[0].first, xs = args.pos[1].first, init = args.pos[2].first;
  if (step.kind != Value::Func)
    throw CompileError(args.pos[0].second, "scan needs a step function (a fn or a lambda |h, x| ...)");
  if (xs.kind != Value::Tensor)
    throw CompileError(args.pos[1].second, fmt::format("scan runs over a tensor, got {}", describe(xs)));
  std::vector<Value> carries =
      init.kind == Value::Tuple || init.kind == Value::List ? init.items : std::vector<Value>{init};
  for (auto& c : carries)
    if (c.kind != Value::Tensor)
      throw CompileError(args.pos[2].second, fmt::format("scan carries must be tensors, got {}", describe(c)));
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
    throw CompileError(args.pos[0].second,
                       fmt::format("the scan step must return {} values ({} new carr{} and the step output), got {}",
                                   carries.size() + 1, carries.size(), carries.size() == 1 ? "y" : "ies", outs.size()));
  GraphCtx* saved2 = cur_;
  cur_ = &body;
  for (auto& o : outs) {
    if (o.kind != Value::Tensor) {
      cur_ = saved2;
      throw CompileError(e.loc, fmt::format("the scan step must return tensors, got {}", describe(o)));
    }
    body.g.outputs.push_back(use(o));
    body.g.output_names.push_back(fmt::format("out{}", body.g.outputs.size() - 1));
  }
  cur_ = saved2;
  body.g.symbols = root_->g.symbols;
  std::vector<Value> inputs = {xs};
  inputs.insert(inputs.end(), carries.begin(), carries.end());
  for (int src : body.capture_sources) inputs.push_back(Value::tensor(cur_, src));
  auto graph = std::make_shared<const Graph>(std::move(body.g));
  return emit("scan", inputs,
              {{"body", graph}, {"n_carry", int64_t(carries.size())}, {"axis", axis}, {"reverse", reverse}}, e.loc);
}

}  // namespace starc
