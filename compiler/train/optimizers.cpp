#include "compiler/train/optimizers.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace starc {

const std::vector<OptimizerDef>& optimizer_defs() {
  using K = HyperArg::Kind;
  static const std::vector<OptimizerDef> defs = {
      {"sgd",
       {{"lr", 0, K::Float, true}, {"momentum", 0}, {"dampening", 0}, {"nesterov", 0, K::Bool}, {"weight_decay", 0}},
       "stochastic gradient descent with optional (Nesterov) momentum (torch.optim.SGD)"},
      {"rmsprop",
       {{"lr", 0.01}, {"alpha", 0.99}, {"eps", 1e-8}, {"momentum", 0}, {"centered", 0, K::Bool}, {"weight_decay", 0}},
       "RMSprop (torch.optim.RMSprop)"},
      {"adagrad",
       {{"lr", 0.01}, {"eps", 1e-10}, {"weight_decay", 0}, {"initial_accumulator_value", 0}, {"lr_decay", 0}},
       "Adagrad (torch.optim.Adagrad)"},
      {"adam",
       {{"lr", 1e-3}, {"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8}, {"weight_decay", 0}, {"amsgrad", 0, K::Bool}},
       "Adam; weight_decay is L2 added to the gradient (torch.optim.Adam)"},
      {"adamw",
       {{"lr", 1e-3}, {"beta1", 0.9}, {"beta2", 0.999}, {"eps", 1e-8}, {"weight_decay", 0.01}, {"amsgrad", 0, K::Bool}},
       "Adam with decoupled weight decay (torch.optim.AdamW)"},
  };
  return defs;
}

const std::vector<OptimizerDef>& schedule_defs() {
  using K = HyperArg::Kind;
  static const std::vector<OptimizerDef> defs = {
      {"constant", {{"warmup", 0, K::Int}}, "the optimizer's lr throughout"},
      {"step", {{"every", 1, K::Int, true}, {"gamma", 0.1}, {"warmup", 0, K::Int}}, "lr * gamma^(epoch / every)"},
      {"cosine", {{"min_lr", 0}, {"warmup", 0, K::Int}}, "cosine decay from lr to min_lr over the run"},
  };
  return defs;
}

static const OptimizerDef* find_in(const std::vector<OptimizerDef>& defs, std::string_view name) {
  for (auto& d : defs)
    if (d.name == name) return &d;
  return nullptr;
}
const OptimizerDef* find_optimizer(std::string_view name) { return find_in(optimizer_defs(), name); }
const OptimizerDef* find_schedule(std::string_view name) { return find_in(schedule_defs(), name); }

double OptimizerConfig::arg(const std::string& n) const {
  auto it = args.find(n);
  if (it == args.end())
    throw std::invalid_argument(fmt::format("internal: optimizer {} has no argument '{}'", name, n));
  return it->second;
}

OptimizerConfig default_optimizer(const std::string& name) {
  const OptimizerDef* d = find_optimizer(name);
  if (!d) throw std::invalid_argument(fmt::format("unknown optimizer '{}'", name));
  OptimizerConfig c;
  c.name = name;
  for (auto& a : d->args) c.args[a.name] = a.default_value;
  return c;
}

std::string check_optimizer(const OptimizerConfig& c) {
  auto has = [&](const char* n) { return c.args.count(n) > 0; };
  auto get = [&](const char* n) { return c.args.at(n); };
  for (const char* n : {"lr", "eps", "weight_decay", "momentum", "initial_accumulator_value", "lr_decay"})
    if (has(n) && !(get(n) >= 0)) return fmt::format("{}: {} must be >= 0, got {}", c.name, n, get(n));
  for (const char* n : {"beta1", "beta2"})
    if (has(n) && !(get(n) >= 0 && get(n) < 1))
      return fmt::format("{}: {} must be in [0, 1), got {}", c.name, n, get(n));
  if (has("alpha") && !(get("alpha") >= 0)) return fmt::format("{}: alpha must be >= 0, got {}", c.name, get("alpha"));
  if (c.name == "sgd" && get("nesterov") != 0 && (get("momentum") <= 0 || get("dampening") != 0))
    return "sgd: nesterov momentum needs momentum > 0 and dampening 0";
  return "";
}

std::string check_schedule(const std::string& name, const std::map<std::string, double>& args) {
  if (auto it = args.find("warmup"); it != args.end() && it->second < 0)
    return fmt::format("{}: warmup must be >= 0 steps, got {}", name, it->second);
  if (name == "step") {
    if (args.at("every") < 1) return fmt::format("step: every must be >= 1 epoch, got {}", args.at("every"));
    if (!(args.at("gamma") > 0)) return fmt::format("step: gamma must be > 0, got {}", args.at("gamma"));
  }
  if (name == "cosine" && !(args.at("min_lr") >= 0))
    return fmt::format("cosine: min_lr must be >= 0, got {}", args.at("min_lr"));
  return "";
}

Schedule make_schedule(const std::string& name, const std::map<std::string, double>& args, double base_lr) {
  Schedule s;
  s.base_lr = base_lr;
  auto get = [&](const char* n, double dflt) {
    auto it = args.find(n);
    return it == args.end() ? dflt : it->second;
  };
  s.warmup_steps = int64_t(get("warmup", 0));
  if (name == "constant") {
    s.kind = Schedule::Kind::Constant;
  } else if (name == "step") {
    s.kind = Schedule::Kind::Step;
    s.every_epochs = int64_t(get("every", 1));
    s.gamma = get("gamma", 0.1);
  } else if (name == "cosine") {
    s.kind = Schedule::Kind::Cosine;
    s.min_lr = get("min_lr", 0);
  } else {
    throw std::invalid_argument(fmt::format("unknown schedule '{}'", name));
  }
  return s;
}

namespace {

// Graph code for one update, all in the parameter's dtype.
struct Updater {
  GraphBuilder& b;
  const OptimizerConfig& opt;
  int p, g, lr, step;
  std::string name;
  std::vector<UpdatedValue> out;

  double a(const char* n) const { return opt.arg(n); }
  int c(double v) { return b.scalar_like(v, p); }
  int slot(const std::string& s, double init = 0) {
    TensorType t = b.type(p);
    Attrs attrs = {{"name", fmt::format("opt.{}.{}", s, name)},
                   {"dtype", t.dtype},
                   {"shape", Ints(t.shape)},
                   {"init", std::string(init == 0 ? "zeros" : "constant")},
                   {"trainable", false}};
    if (init != 0) attrs["init_args"] = Floats{init};
    return b.op("param", {}, std::move(attrs));
  }
  void write(const std::string& s, int v) { out.push_back({fmt::format("opt.{}.{}", s, name), v}); }
  int mul(int x, double k) { return b.mul(x, c(k)); }
  int sqrt(int x) { return b.op("sqrt", {x}); }
  // PyTorch's `grad = grad.add(param, alpha=weight_decay)` (L2 in the gradient).
  int l2(int grad) { return a("weight_decay") != 0 ? b.add(grad, mul(p, a("weight_decay"))) : grad; }

  void sgd() {
    int d = l2(g);
    double mom = a("momentum");
    if (mom != 0) {
      int buf = slot("momentum_buffer");
      double damp = a("dampening");
      // PyTorch: the first step sets buf = grad (no dampening), later ones
      // buf = momentum * buf + (1 - dampening) * grad. With buf = 0 at first, the two
      // agree unless dampening != 0: then the first step is selected by `step == 1`.
      int later = b.add(mul(buf, mom), damp != 0 ? mul(d, 1 - damp) : d);
      int nbuf = damp != 0 ? b.op("where", {b.op("eq", {step, c(1)}), d, later}) : later;
      write("momentum_buffer", nbuf);
      d = a("nesterov") != 0 ? b.add(d, mul(nbuf, mom)) : nbuf;
      out.insert(out.begin(), {name, b.sub(p, b.mul(lr, d))});
      return;
    }
    out.insert(out.begin(), {name, b.sub(p, b.mul(lr, d))});
  }

  void rmsprop() {
    int d = l2(g);
    double alpha = a("alpha");
    int sq = slot("square_avg");
    int nsq = b.add(mul(sq, alpha), mul(b.mul(d, d), 1 - alpha));
    write("square_avg", nsq);
    int avg;
    if (a("centered") != 0) {
      int ga = slot("grad_avg");
      int nga = b.add(mul(ga, alpha), mul(d, 1 - alpha));
      write("grad_avg", nga);
      avg = sqrt(b.sub(nsq, b.mul(nga, nga)));
    } else {
      avg = sqrt(nsq);
    }
    avg = b.add(avg, c(a("eps")));
    int np;
    if (a("momentum") > 0) {
      int buf = slot("momentum_buffer");
      int nbuf = b.add(mul(buf, a("momentum")), b.div(d, avg));
      write("momentum_buffer", nbuf);
      np = b.sub(p, b.mul(lr, nbuf));
    } else {
      np = b.sub(p, b.mul(lr, b.div(d, avg)));
    }
    out.insert(out.begin(), {name, np});
  }

  void adagrad() {
    int d = l2(g);
    int sum = slot("sum", a("initial_accumulator_value"));
    // clr = lr / (1 + (step - 1) * lr_decay)
    int clr = lr;
    if (a("lr_decay") != 0) clr = b.div(lr, b.add(c(1), mul(b.sub(step, c(1)), a("lr_decay"))));
    int nsum = b.add(sum, b.mul(d, d));
    write("sum", nsum);
    int std = b.add(sqrt(nsum), c(a("eps")));
    out.insert(out.begin(), {name, b.sub(p, b.mul(clr, b.div(d, std)))});
  }

  void adam(bool decoupled) {
    int d = g;
    int q = p;
    if (decoupled) {
      if (a("weight_decay") != 0) q = b.mul(p, b.sub(c(1), mul(lr, a("weight_decay"))));  // p *= 1 - lr * wd
    } else {
      d = l2(g);
    }
    double b1 = a("beta1"), b2 = a("beta2");
    int m = slot("exp_avg"), v = slot("exp_avg_sq");
    int nm = b.add(mul(m, b1), mul(d, 1 - b1));
    int nv = b.add(mul(v, b2), mul(b.mul(d, d), 1 - b2));
    write("exp_avg", nm);
    write("exp_avg_sq", nv);
    int bc1 = b.sub(c(1), b.op("pow", {c(b1), step}));
    int bc2 = b.sub(c(1), b.op("pow", {c(b2), step}));
    int step_size = b.div(lr, bc1);
    int vv = nv;
    if (a("amsgrad") != 0) {
      int mx = slot("max_exp_avg_sq");
      vv = b.op("maximum", {mx, nv});
      write("max_exp_avg_sq", vv);
    }
    int denom = b.add(b.div(sqrt(vv), sqrt(bc2)), c(a("eps")));
    out.insert(out.begin(), {name, b.sub(q, b.mul(step_size, b.div(nm, denom)))});
  }
};

}  // namespace

std::vector<UpdatedValue> append_optimizer_update(GraphBuilder& b, const OptimizerConfig& opt, int param, int grad,
                                                  int lr, int step) {
  const Node& pn = b.g.node(param);
  if (!is_op(pn, "param")) throw std::invalid_argument("internal: append_optimizer_update needs a param node");
  std::string name = attr_str(pn.attrs, "name");
  if (b.type(grad) != b.type(param))
    throw std::invalid_argument(fmt::format("internal: gradient of '{}' is {}, the parameter {}", name,
                                            type_str(b.type(grad)), type_str(b.type(param))));
  DType dt = b.dtype(param);
  Updater u{b, opt, param, grad, b.cast(lr, dt), b.cast(step, dt), name, {}};
  if (opt.name == "sgd")
    u.sgd();
  else if (opt.name == "rmsprop")
    u.rmsprop();
  else if (opt.name == "adagrad")
    u.adagrad();
  else if (opt.name == "adam")
    u.adam(false);
  else if (opt.name == "adamw")
    u.adam(true);
  else
    throw std::invalid_argument(fmt::format("unknown optimizer '{}'", opt.name));
  return u.out;
}

}  // namespace starc
