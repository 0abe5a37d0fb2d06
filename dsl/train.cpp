// dsl: `train` blocks -> TrainPlan. Each step is the model's body (training = true), the
// block's statements and the step's body, elaborated into one graph; the gradient of the
// loss with respect to the step's trainable parameters is appended (autodiff), then one
// optimizer update per parameter (compiler/train/optimizers.h). The eval graph is the
// same elaboration with training = false and no updates.
#include "dsl/train.h"

#include <fmt/format.h>

#include <algorithm>

#include "compiler/autodiff/autodiff.h"
#include "compiler/train/optimizers.h"
#include "compiler/ir/text.h"

namespace starc {

std::vector<std::string> train_builtin_names() {
  std::vector<std::string> out = {"metric"};
  for (auto& d : optimizer_defs()) out.push_back(d.name);
  for (auto& d : schedule_defs()) out.push_back(d.name);
  return out;
}

std::string unknown_config_message(const std::string& var, const std::string& name) {
  std::vector<std::string> names;
  for (auto& d : var == "optimizer" ? optimizer_defs() : schedule_defs()) names.push_back(d.name);
  std::string hint = closest_name(name, names);
  return fmt::format("unknown {} '{}'{} (the {}s are: {})", var, name,
                     hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint), var, fmt::join(names, ", "));
}

static std::string static_desc(const Value& v) {
  switch (v.kind) {
    case Value::Int:
      return fmt::format("int {}", v.i);
    case Value::Float:
      return fmt::format("float {}", v.f);
    case Value::Bool:
      return v.b ? "bool true" : "bool false";
    case Value::Str:
      return fmt::format("string \"{}\"", v.s);
    case Value::Tensor:
      return "a tensor";
    case Value::List:
      return "a list";
    case Value::Tuple:
      return "a tuple";
    case Value::Config:
      return fmt::format("{} {}", find_optimizer(v.s) ? "optimizer" : "schedule", v.s);
    case Value::Func:
    case Value::Prim:
    case Value::Builtin:
      return "a function";
    case Value::Init:
      return fmt::format("initializer {}", v.s);
    default:
      return "nothing";
  }
}

Value make_train_config(const std::string& name, const std::vector<std::pair<Value, SrcLoc>>& pos,
                        const std::vector<std::tuple<std::string, Value, SrcLoc>>& named, SrcLoc loc) {
  const OptimizerDef* def = find_optimizer(name);
  bool is_opt = def != nullptr;
  if (!def) def = find_schedule(name);
  if (!def) throw CompileError(loc, fmt::format("internal: '{}' is neither an optimizer nor a schedule", name));
  std::vector<std::string> arg_names;
  for (auto& a : def->args) arg_names.push_back(a.name);
  std::map<std::string, std::pair<Value, SrcLoc>> given;
  if (pos.size() > def->args.size())
    throw CompileError(pos[def->args.size()].second, fmt::format("too many arguments: {} takes {} ({})", name,
                                                                 def->args.size(), fmt::join(arg_names, ", ")));
  for (size_t i = 0; i < pos.size(); ++i) given[def->args[i].name] = pos[i];
  for (auto& [k, v, l] : named) {
    if (std::find(arg_names.begin(), arg_names.end(), k) == arg_names.end()) {
      std::string hint = closest_name(k, arg_names);
      throw CompileError(l, fmt::format("{} has no argument '{}'{}", name, k,
                                        hint.empty() ? fmt::format(" (it takes: {})", fmt::join(arg_names, ", "))
                                                     : fmt::format(" (did you mean '{}'?)", hint)));
    }
    if (given.count(k)) throw CompileError(l, fmt::format("argument '{}' given twice", k));
    given[k] = {v, l};
  }
  std::map<std::string, double> args;
  for (auto& a : def->args) {
    auto it = given.find(a.name);
    if (it == given.end()) {
      if (a.required)
        throw CompileError(loc, fmt::format("{} needs {}: e.g. {}({}: {})", name, a.name, name, a.name,
                                            a.name == "lr" ? "0.01" : "10"));
      args[a.name] = a.default_value;
      continue;
    }
    const Value& v = it->second.first;
    SrcLoc at = it->second.second;
    switch (a.kind) {
      case HyperArg::Float:
        if (!v.is_num())
          throw CompileError(at, fmt::format("{}: {} must be a number, got {}", name, a.name, static_desc(v)));
        if (v.is_sym_dim()) throw CompileError(at, fmt::format("{}: {} must be known at compile time", name, a.name));
        args[a.name] = v.as_double();
        break;
      case HyperArg::Int:
        if (v.kind != Value::Int || v.sym)
          throw CompileError(at, fmt::format("{}: {} must be a static int, got {}", name, a.name, static_desc(v)));
        args[a.name] = double(v.i);
        break;
      case HyperArg::Bool:
        if (v.kind != Value::Bool)
          throw CompileError(at, fmt::format("{}: {} must be true or false, got {}", name, a.name, static_desc(v)));
        args[a.name] = v.b ? 1 : 0;
        break;
    }
  }
  std::string problem;
  if (is_opt) {
    OptimizerConfig c;
    c.name = name;
    c.args = args;
    problem = check_optimizer(c);
  } else {
    problem = check_schedule(name, args);
  }
  if (!problem.empty()) throw CompileError(loc, problem);
  Value out;
  out.kind = Value::Config;
  out.s = name;
  for (auto& a : def->args) {
    out.names.push_back(a.name);
    out.items.push_back(Value::number(args[a.name]));
  }
  return out;
}

namespace {

// An optimizer or schedule as assigned in the block.
struct ConfigSpec {
  bool set = false;  // assigned (else the default)
  std::string name;
  std::map<std::string, double> args;  // every argument, defaults filled in
  SrcLoc loc;                          // the assigned expression
};

ConfigSpec read_config(const TrainElab& e, const char* var) {
  ConfigSpec c;
  auto it = e.assigned.find(var);
  if (it == e.assigned.end()) return c;
  bool optimizer = std::string(var) == "optimizer";
  Value v = it->second.first;
  c.loc = it->second.second;
  bool ok_name = optimizer ? find_optimizer(v.s) != nullptr : find_schedule(v.s) != nullptr;
  if (v.kind == Value::Builtin && ok_name) v = make_train_config(v.s, {}, {}, c.loc);  // `optimizer = adam`
  if (v.kind != Value::Config || !ok_name) {
    std::vector<std::string> names;
    for (auto& d : optimizer ? optimizer_defs() : schedule_defs()) names.push_back(d.name);
    throw CompileError(
        c.loc, fmt::format("{} must be {} ({}), got {}", var,
                           optimizer ? "an optimizer such as adam(lr: 1e-3)" : "a schedule such as cosine(warmup: 100)",
                           fmt::join(names, ", "), static_desc(v)));
  }
  c.set = true;
  c.name = v.s;
  for (size_t i = 0; i < v.names.size(); ++i) c.args[v.names[i]] = v.items[i].as_double();
  return c;
}

// The loss's node id, checked to be a scalar float tensor; -1 when not assigned.
int read_loss(const TrainElab& e, SrcLoc& loc) {
  auto it = e.assigned.find("loss");
  if (it == e.assigned.end()) return -1;
  const Value& v = it->second.first;
  loc = it->second.second;
  if (v.kind != Value::Tensor)
    throw CompileError(loc, fmt::format("loss must be a scalar float tensor, got {}", static_desc(v)));
  const TensorType& t = e.graph.type(v.id);
  if (!is_float(t.dtype) || t.rank() != 0)
    throw CompileError(
        loc, fmt::format("loss must be a scalar float tensor ({}[]), got {}{}", dtype_name(e.float_type),
                         type_str(t, &e.graph.symbols), t.rank() != 0 ? "; reduce it with mean(...) or sum(...)" : ""));
  return v.id;
}

struct PlanBuilder {
  Program& prog;
  const FnDecl& model;
  const TrainDecl& td;
  bool split = false;  // also build each step's gradient and update graphs (data-parallel runs)

  DiagEngine& diags() { return prog.diags(); }

  Loc graph_loc(SrcLoc l) {
    if (!l.known()) return {};
    auto [line, col] = diags().sources().line_col(l);
    return Loc{diags().sources().file(l.file).path, line, col};
  }

  // Where a data input is declared (the model's signature or the train block's).
  SrcLoc input_loc(const std::string& name) {
    for (auto& p : model.params)
      if (p.name == name) return p.loc;
    for (auto& p : td.params)
      if (p.name == name) return p.loc;
    return td.loc;
  }

  std::string loss_missing(const TrainStep* st) {
    if (st)
      return fmt::format(
          "step '{}' has no loss: assign loss = ... (a scalar float tensor) in the step or in the train "
          "block",
          st->name);
    return fmt::format(
        "the train block of '{}' has no loss: assign loss = ... (a scalar float tensor), e.g. "
        "loss = mse(output, target)",
        model.name);
  }

  int add_input(Graph& g, const std::string& name, DType dt) {
    GraphBuilder b(g);
    int id = b.op("input", {}, {{"name", name}, {"dtype", dt}, {"shape", Ints{}}});
    g.inputs.push_back(id);
    return id;
  }

  void finish(Graph& g, const char* what) {
    try {
      verify_graph(g);
    } catch (const std::exception& e) {
      throw CompileError(td.loc, fmt::format("internal error: the {} graph built for '{}' is invalid: {}", what,
                                             model.name, e.what()));
    }
  }

  TrainStepGraph step_graph(const TrainStep* st) {
    TrainElab e = elaborate_train(prog, model, td, st, /*training=*/true);
    SrcLoc where = st ? st->loc : td.loc;
    SrcLoc loss_loc;
    int loss = read_loss(e, loss_loc);
    if (loss < 0) throw CompileError(where, loss_missing(st));
    ConfigSpec optimizer = read_config(e, "optimizer"), schedule = read_config(e, "schedule");
    Graph& g = e.graph;
    for (const char* reserved : {"lr", "step"})
      if (std::find(e.data_inputs.begin(), e.data_inputs.end(), reserved) != e.data_inputs.end())
        throw CompileError(input_loc(reserved),
                           fmt::format("the input name '{}' is reserved while training (the step "
                                       "graph's {} input); rename this input",
                                       reserved, std::string(reserved) == "lr" ? "learning-rate" : "update-count"));

    // The parameters this step trains.
    std::vector<int> all, chosen;
    for (int id : g.params())
      if (attr_bool(g.node(id).attrs, "trainable")) all.push_back(id);
    auto pname = [&](int id) { return attr_str(g.node(id).attrs, "name"); };
    if (e.prefixes.empty()) {
      chosen = all;
    } else {
      for (auto& [prefix, loc] : e.prefixes) {
        bool any = false;
        for (int id : all)
          if (pname(id).rfind(prefix, 0) == 0) {
            any = true;
            if (std::find(chosen.begin(), chosen.end(), id) == chosen.end()) chosen.push_back(id);
          }
        if (!any) {
          std::vector<std::string> names;
          for (int id : all) names.push_back(pname(id));
          std::string list =
              names.empty()
                  ? "there are none"
                  : fmt::format("they are: {}",
                                fmt::join(names.begin(), names.begin() + std::min<size_t>(names.size(), 12), ", "));
          if (names.size() > 12) list += ", ...";
          throw CompileError(loc,
                             fmt::format("params prefix \"{}\" matches no trainable parameter ({})", prefix, list));
        }
      }
      std::sort(chosen.begin(), chosen.end());  // creation order, like the unprefixed case
    }
    if (chosen.empty())
      throw CompileError(where, fmt::format("model '{}' has no trainable parameters: nothing to train", model.name));

    // Inputs: the data, then lr and step.
    int lr = add_input(g, "lr", e.float_type);
    int step = add_input(g, "step", e.float_type);

    std::vector<int> grads;
    try {
      grads = append_gradients(g, loss, chosen);
    } catch (const GradError& err) {
      throw CompileError(loss_loc, fmt::format("cannot differentiate the loss: {}", err.what()));
    } catch (const OpError& err) {
      throw CompileError(loss_loc, fmt::format("cannot differentiate the loss: {}", err.what()));
    } catch (const std::exception& err) {  // a bug in a gradient rule: say so at the loss
      throw CompileError(loss_loc, fmt::format("cannot differentiate the loss: internal error: {}", err.what()));
    }

    OptimizerConfig opt = default_optimizer("adam");
    if (optimizer.set) opt.name = optimizer.name, opt.args = optimizer.args;
    TrainStepGraph out;
    if (split) {
      out.grad = gradient_graph(g, e, loss, chosen, grads);
      out.update = update_graph(g, opt, chosen);
    }
    std::vector<UpdatedValue> updates;
    {
      GraphBuilder b(g, graph_loc(optimizer.set ? optimizer.loc : where));
      for (size_t i = 0; i < chosen.size(); ++i) {
        std::vector<UpdatedValue> u;
        try {
          u = append_optimizer_update(b, opt, chosen[i], grads[i], lr, step);
        } catch (const std::exception& err) {
          throw CompileError(
              optimizer.set ? optimizer.loc : where,
              fmt::format("internal: the {} update of '{}' failed: {}", opt.name, pname(chosen[i]), err.what()));
        }
        updates.insert(updates.end(), u.begin(), u.end());
      }
    }

    for (auto& m : e.metrics)
      for (int id : g.params())
        if (attr_str(g.node(id).attrs, "name") == m.name)
          throw CompileError(m.loc,
                             fmt::format("metric '{}' has the name of a parameter; give it another name", m.name));

    out.name = st ? st->name : "train";
    g.outputs = {loss};
    g.output_names = {"loss"};
    for (auto& m : e.metrics) g.outputs.push_back(m.value), g.output_names.push_back(m.name);
    for (auto& u : updates) g.outputs.push_back(u.value), g.output_names.push_back(u.name);
    for (auto& s : e.state_updates) g.outputs.push_back(s.value), g.output_names.push_back(s.name);
    out.n_metrics = int(e.metrics.size());
    out.data_inputs = e.data_inputs;
    out.schedule = schedule.set ? make_schedule(schedule.name, schedule.args, opt.arg("lr"))
                                : make_schedule("constant", {}, opt.arg("lr"));
    finish(g, "training step");
    out.graph = std::move(g);
    return out;
  }

  // The step up to its gradients (a copy of `g` before the optimizer): outputs loss,
  // metrics, the gradient of each chosen param named "grad.<param>", the state updates.
  Graph gradient_graph(const Graph& g, const TrainElab& e, int loss, const std::vector<int>& chosen,
                       const std::vector<int>& grads) {
    Graph gg = g;
    gg.name = g.name + ".grad";
    gg.outputs = {loss};
    gg.output_names = {"loss"};
    for (auto& m : e.metrics) gg.outputs.push_back(m.value), gg.output_names.push_back(m.name);
    for (size_t i = 0; i < chosen.size(); ++i)
      gg.outputs.push_back(grads[i]), gg.output_names.push_back("grad." + attr_str(g.node(chosen[i]).attrs, "name"));
    for (auto& s : e.state_updates) gg.outputs.push_back(s.value), gg.output_names.push_back(s.name);
    finish(gg, "gradient");
    return gg;
  }

  // The optimizer alone: inputs "grad.<param>" per chosen param, then lr and step;
  // outputs the new params and slots, named as in the step graph.
  Graph update_graph(const Graph& g, const OptimizerConfig& opt, const std::vector<int>& chosen) {
    Graph ug;
    ug.name = g.name + ".update";
    std::vector<int> grad_in, params;
    {
      GraphBuilder b(ug);
      for (int p : chosen) {
        const Node& n = g.node(p);
        Ints shape(n.type.shape.begin(), n.type.shape.end());
        grad_in.push_back(b.op(
            "input", {}, {{"name", "grad." + attr_str(n.attrs, "name")}, {"dtype", n.type.dtype}, {"shape", shape}}));
        ug.inputs.push_back(grad_in.back());
      }
    }
    const DType ft = g.type(g.inputs[g.inputs.size() - 2]).dtype;  // lr's, the model's float type
    int lr = add_input(ug, "lr", ft), step = add_input(ug, "step", ft);
    for (int p : chosen) params.push_back(ug.add(g.node(p)));
    GraphBuilder b(ug);
    for (size_t i = 0; i < chosen.size(); ++i)
      for (auto& u : append_optimizer_update(b, opt, params[i], grad_in[i], lr, step))
        ug.outputs.push_back(u.value), ug.output_names.push_back(u.name);
    finish(ug, "update");
    return ug;
  }

  Graph eval_graph(const TrainStep* st, std::vector<std::string>& metric_names) {
    TrainElab e = elaborate_train(prog, model, td, st, /*training=*/false);
    SrcLoc loss_loc;
    int loss = read_loss(e, loss_loc);
    if (loss < 0) throw CompileError(st ? st->loc : td.loc, loss_missing(st));
    Graph& g = e.graph;
    g.name = model.name + ".eval";
    g.outputs = {loss};
    g.output_names = {"loss"};
    for (auto& m : e.metrics) {
      g.outputs.push_back(m.value);
      g.output_names.push_back(m.name);
      metric_names.push_back(m.name);
    }
    finish(g, "eval");
    return std::move(g);
  }
};

}  // namespace

std::vector<std::string> Program::trained_models() const {
  std::vector<std::string> out;
  if (modules_.empty()) return out;
  for (auto& t : modules_[0].trains)
    if (std::find(out.begin(), out.end(), t->model) == out.end()) out.push_back(t->model);
  return out;
}

const TrainDecl* Program::train_decl(const std::string& model) const {
  if (modules_.empty()) return nullptr;
  for (auto& t : modules_[0].trains)
    if (t->model == model) return t.get();
  // An imported model brings its train block along (its own module's).
  auto it = globals_[0].find(model);
  if (it == globals_[0].end() || it->second->module <= 0) return nullptr;
  for (auto& t : modules_[size_t(it->second->module)].trains)
    if (t->model == model) return t.get();
  return nullptr;
}

void Program::check_train_decls(int module) {
  std::map<std::string, const TrainDecl*> seen;
  for (auto& t : modules_[module].trains) {
    t->module = module;
    auto& g = globals_[module];
    auto it = g.find(t->model);
    if (it == g.end() || !it->second->is_model) {
      std::vector<std::string> models;
      for (auto& [n, d] : g)
        if (d->is_model) models.push_back(n);
      std::string hint = closest_name(t->model, models);
      diags_.error(t->loc, it != g.end()
                               ? fmt::format("'{}' is a function, not a model: a train block trains a model", t->model)
                               : fmt::format("train block for unknown model '{}'{}", t->model,
                                             hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
      continue;
    }
    if (auto s = seen.find(t->model); s != seen.end()) {
      diags_.add(Diagnostic{t->loc,
                            fmt::format("model '{}' already has a train block (one per model; use named steps for "
                                        "several updates)",
                                        t->model),
                            {{s->second->loc, "the first train block"}}});
      continue;
    }
    seen[t->model] = t.get();
  }
}

std::optional<TrainPlan> Program::build_train(const std::string& model, bool split) {
  if (modules_.empty()) return std::nullopt;
  auto& g = globals_[0];
  auto it = g.find(model);
  const TrainDecl* td = train_decl(model);
  if (it == g.end() || !it->second->is_model) {
    std::vector<std::string> names = trained_models();
    std::string hint = closest_name(model, names);
    diags_.error(SrcLoc{}, fmt::format("no model '{}' with a train block in {}{}; trained models there: {}", model,
                                       modules_[0].path, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint),
                                       names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    return std::nullopt;
  }
  const FnDecl& decl = *it->second;
  if (!td) {
    diags_.error(decl.loc,
                 fmt::format("model '{}' has no train block: add one, e.g. train {}(target: f32[B, 1]) {{ loss = "
                             "mse(output, target) }}",
                             model, model));
    return std::nullopt;
  }
  PlanBuilder pb{*this, decl, *td, split};
  TrainPlan plan;
  plan.model = model;
  try {
    if (td->steps.empty()) {
      plan.steps.push_back(pb.step_graph(nullptr));
    } else {
      for (auto& st : td->steps) plan.steps.push_back(pb.step_graph(&st));
    }
    plan.eval = pb.eval_graph(td->steps.empty() ? nullptr : &td->steps[0], plan.metric_names);

    // Every graph must see the same parameters (a step graph's optimizer slots aside).
    std::map<std::string, std::pair<TensorType, std::string>> seen;
    auto check = [&](const Graph& gr, const std::string& what) {
      for (int id : gr.params()) {
        const Node& n = gr.node(id);
        const std::string& name = attr_str(n.attrs, "name");
        auto [s, fresh] = seen.emplace(name, std::make_pair(n.type, what));
        if (!fresh && s->second.first != n.type)
          throw CompileError(td->loc,
                             fmt::format("parameter '{}' is {} in the {} but {} in the {}: parameter shapes must "
                                         "agree across steps",
                                         name, type_str(s->second.first), s->second.second, type_str(n.type), what));
      }
    };
    for (auto& s : plan.steps) check(s.graph, fmt::format("step '{}'", s.name));
    check(plan.eval, "eval graph");
  } catch (const CompileError& e) {
    diags_.add(e.diag);
    return std::nullopt;
  }
  return plan;
}

}  // namespace starc
