// dsl: elaboration — statements and expressions. Static values are computed; operators
// on tensors become graph nodes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compiler/ops/common.h"
#include "dsl/elaborator.h"

namespace starc {
namespace {

constexpr int64_t kMaxLoopIterations = 100000;
// The whole compile-time budget of one model: expressions evaluated plus static list items
// and string bytes built. A model is run once, symbolically, so this bounds the time (about
// a second at the limit) and memory a hostile or mistaken program can take.
constexpr int64_t kMaxElabSteps = 10'000'000;
constexpr size_t kMaxStaticItems = 1'000'000;  // items of one static list, bytes of one string

}  // namespace

// ---------------------------------------------------------------- statements
void Elaborator::exec_block(const Block& b, std::shared_ptr<Scope> scope) {
  for (auto& s : b) exec(*s, scope);
}

void Elaborator::assign(const std::string& name, Value v, Scope& scope, bool is_let) {
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

void Elaborator::exec(const Stmt& s, std::shared_ptr<Scope> scope) {
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
        throw CompileError(s.value->loc,
                           fmt::format("cannot unpack {} values into {} names", v.items.size(), s.targets.size()));
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
        int64_t count = 0;
        if (__builtin_sub_overflow(hi, lo, &count))
          throw CompileError(s.value2->loc,
                             fmt::format("loop {}..{} is too long (limit {} iterations)", lo, hi, kMaxLoopIterations));
        if (count > kMaxLoopIterations)
          throw CompileError(s.value2->loc,
                             fmt::format("loop of {} iterations is too long (limit {})", count, kMaxLoopIterations));
        for (int64_t i = lo; i < hi; ++i) seq.push_back(Value::integer(i));
      } else {
        Value it = eval(*s.value, scope);
        if (it.kind != Value::List && it.kind != Value::Tuple)
          throw CompileError(s.value->loc,
                             fmt::format("a for loop runs over a range 'a..b' or a list, got {}", describe(it)));
        seq = it.items;
      }
      for (auto& v : seq) {
        auto body = new_scope();
        body->parent = scope;
        body->vars[s.targets[0].first] = v;
        exec_block(s.body, body);
      }
      return;
    }
    case Stmt::If: {
      Value c = eval(*s.value, scope);
      if (c.kind == Value::Tensor)
        throw CompileError(s.value->loc,
                           fmt::format("'if' needs a static bool, got a tensor {}; use where(cond, a, b) to "
                                       "choose between tensors elementwise",
                                       tstr(type_of(c))));
      if (c.kind != Value::Bool)
        throw CompileError(s.value->loc, fmt::format("'if' needs a bool, got {}", describe(c)));
      auto body = new_scope();
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
      if (c.kind != Value::Bool)
        throw CompileError(s.value->loc, fmt::format("assert needs a static bool, got {}", describe(c)));
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
        throw CompileError(
            s.value->loc,
            fmt::format("the value of this expression ({}) is unused; assign it or return it", describe(v)));
      return;
    }
  }
}

// ---------------------------------------------------------------- expressions
void Elaborator::spend(int64_t work, SrcLoc loc) {
  steps_ += work;
  if (steps_ > kMaxElabSteps)
    throw CompileError(loc,
                       fmt::format("compile-time work exceeds the budget of {} steps (static loops, calls and lists "
                                   "are evaluated when the model is built); is a loop or a list unbounded?",
                                   kMaxElabSteps));
}

Value Elaborator::eval(const Expr& e, const std::shared_ptr<Scope>& scope) {
  spend(1, e.loc);
  switch (e.kind) {
    case Expr::Int:
      return Value::integer(e.ival);
    case Expr::Float:
      return Value::number(e.fval);
    case Expr::Bool:
      return Value::boolean(e.bval);
    case Expr::Str: {
      Value v;
      v.kind = Value::Str;
      v.s = e.name;
      return v;
    }
    case Expr::Name:
      return lookup(e.name, e.loc, *scope);
    case Expr::Tuple:
    case Expr::List: {
      Value v;
      v.kind = e.kind == Expr::Tuple ? Value::Tuple : Value::List;
      for (auto& it : e.items) v.items.push_back(eval(*it, scope));
      return v;
    }
    case Expr::Unary:
      return unary(e, eval(*e.items[0], scope));
    case Expr::Binary:
      return binary(e, scope);
    case Expr::Call:
      return call(e, scope);
    case Expr::Index:
      return index(e, scope);
    case Expr::Member:
      return member(e, scope);
    case Expr::Lambda: {
      Value v;
      v.kind = Value::Func;
      v.fn = std::make_shared<Closure>(Closure{nullptr, &e, scope});
      return v;
    }
  }
  throw CompileError(e.loc, "internal: unknown expression");
}

Value Elaborator::lookup(const std::string& n, SrcLoc loc, Scope& scope) {
  if (Value* v = scope.find(n)) return *v;
  if (auto dt = dtype_from_name(n)) {
    Value v;
    v.kind = Value::DTypeV;
    v.dt = *dt;
    return v;
  }
  if (n == "training") return Value::boolean(opts_.training);
  if (n == "pi") return Value::number(M_PI);
  if (n == "inf") return Value::number(INFINITY);
  if (n == "prim") {
    Value v;
    v.kind = Value::PrimNamespace;
    return v;
  }
  if (kInits.count(n)) {
    Value v;
    v.kind = Value::Init;
    v.s = n;
    return v;
  }
  if (std::find(kBuiltinFns.begin(), kBuiltinFns.end(), n) != kBuiltinFns.end()) {
    Value v;
    v.kind = Value::Builtin;
    v.s = n;
    return v;
  }
  if (const OpDef* op = find_op(n); op && n != "input" && n != "param" && n != "const") {
    Value v;
    v.kind = Value::Prim;
    v.op = op;
    return v;
  }
  std::vector<std::string> cands = builtin_names();
  for (Scope* s = &scope; s; s = s->parent.get())
    for (auto& [k, _] : s->vars) cands.push_back(k);
  std::string hint = closest_name(n, cands);
  throw CompileError(
      loc, fmt::format("unknown name '{}'{}", n, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
}

Value Elaborator::unary(const Expr& e, Value a) {
  if (e.name == "not") {
    if (a.kind != Value::Bool) throw CompileError(e.loc, fmt::format("'not' needs a static bool, got {}", describe(a)));
    return Value::boolean(!a.b);
  }
  if (a.kind == Value::Tensor) return emit("neg", {a}, {}, e.loc);
  if (a.kind == Value::Int && !a.sym) {
    if (a.i == INT64_MIN)
      throw CompileError(e.loc, fmt::format("integer overflow: -({}) does not fit in 64 bits", a.i));
    return Value::integer(-a.i);
  }
  if (a.kind == Value::Float) return Value::number(-a.f);
  throw CompileError(e.loc, fmt::format("cannot negate {}", describe(a)));
}

Value Elaborator::binary(const Expr& e, const std::shared_ptr<Scope>& scope) {
  const std::string& op = e.name;
  if (op == "and" || op == "or") {
    Value a = eval(*e.items[0], scope);
    if (a.kind != Value::Bool)
      throw CompileError(e.items[0]->loc, fmt::format("'{}' needs static bools, got {}", op, describe(a)));
    if (op == "and" ? !a.b : a.b) return a;  // short-circuit
    Value b = eval(*e.items[1], scope);
    if (b.kind != Value::Bool)
      throw CompileError(e.items[1]->loc, fmt::format("'{}' needs static bools, got {}", op, describe(b)));
    return b;
  }
  Value a = eval(*e.items[0], scope), b = eval(*e.items[1], scope);
  if (a.kind == Value::Tensor || b.kind == Value::Tensor) {
    static const std::map<std::string, const char*> ops = {{"+", "add"},    {"-", "sub"},  {"*", "mul"}, {"/", "div"},
                                                           {"@", "matmul"}, {"**", "pow"}, {"==", "eq"}, {"!=", "ne"},
                                                           {"<", "lt"},     {"<=", "le"},  {">", "gt"},  {">=", "ge"}};
    auto it = ops.find(op);
    if (it == ops.end()) throw CompileError(e.loc, fmt::format("operator '{}' is not defined for tensors", op));
    DType dt = a.kind == Value::Tensor ? type_of(a).dtype : type_of(b).dtype;
    Value ta = as_tensor(a, dt, e.items[0]->loc, it->second), tb = as_tensor(b, dt, e.items[1]->loc, it->second);
    return emit(it->second, {ta, tb}, {}, e.loc);
  }
  return static_binary(e, a, b);
}

// Shape arithmetic on symbolic dims (L - 4, L / 2, B * T): a derived dim, bound when L
// is (compiler/ir/sym_dim.h). `/` divides by a static int, rounding down as on ints.
// Returns a None value for what is not shape arithmetic.
Value Elaborator::symbolic_dim_binary(const std::string& op, SrcLoc loc, const Value& a, const Value& b) {
  if (a.kind != Value::Int || b.kind != Value::Int) return {};
  InferCtx ctx{&root_->g.symbols, &root_->g.symbols};
  try {
    if (op == "+") return Value::dim(ctx.add(a.i, b.i));
    if (op == "-") return Value::dim(ctx.sub(a.i, b.i));
    if (op == "*") return Value::dim(ctx.mul(a.i, b.i));
    if (op == "/" && !b.sym) {
      if (b.i <= 0)
        throw CompileError(loc,
                           fmt::format("a symbolic dim can be divided by a positive static int only, got {}", b.i));
      return Value::dim(ctx.floordiv(a.i, b.i));
    }
  } catch (const OpError& err) {
    throw CompileError(loc, err.what());
  }
  return {};
}

Value Elaborator::static_binary(const Expr& e, const Value& a, const Value& b) {
  const std::string& op = e.name;
  if (a.is_sym_dim() || b.is_sym_dim()) {
    bool same = a.kind == b.kind && a.sym == b.sym && a.i == b.i;
    if (op == "==" || op == "!=") return Value::boolean(same == (op == "=="));
    if (Value d = symbolic_dim_binary(op, e.loc, a, b); d.kind == Value::Int) return d;
    const Value& s = a.is_sym_dim() ? a : b;
    throw CompileError(e.loc, fmt::format("cannot compute '{}' with {}: it is a symbolic dim, known only at run time",
                                          op, dim_str(s.i, &root_->g.symbols)));
  }
  if (a.kind == Value::Str && b.kind == Value::Str) {
    if (op == "+") {
      if (a.s.size() + b.s.size() > kMaxStaticItems)
        throw CompileError(
            e.loc, fmt::format("string of {} bytes is too long (limit {})", a.s.size() + b.s.size(), kMaxStaticItems));
      spend(int64_t(a.s.size() + b.s.size()) / 64, e.loc);
      Value v;
      v.kind = Value::Str;
      v.s = a.s + b.s;
      return v;
    }
    if (op == "==" || op == "!=") return Value::boolean((a.s == b.s) == (op == "=="));
  }
  if (a.kind == Value::Bool && b.kind == Value::Bool && (op == "==" || op == "!="))
    return Value::boolean((a.b == b.b) == (op == "=="));
  // Element types compare, so a layer can take a bool or a float mask (`m.dtype == bool`).
  if (a.kind == Value::DTypeV && b.kind == Value::DTypeV && (op == "==" || op == "!="))
    return Value::boolean((a.dt == b.dt) == (op == "=="));
  if ((a.kind == Value::List || a.kind == Value::Tuple) && (b.kind == Value::List || b.kind == Value::Tuple) &&
      op == "+") {
    size_t n = a.items.size() + b.items.size();
    if (n > kMaxStaticItems)
      throw CompileError(e.loc, fmt::format("list of {} items is too long (limit {})", n, kMaxStaticItems));
    spend(int64_t(n), e.loc);
    Value v = a;
    v.items.insert(v.items.end(), b.items.begin(), b.items.end());
    return v;
  }
  if (!a.is_num() || !b.is_num())
    throw CompileError(e.loc, fmt::format("operator '{}' is not defined for {} and {}", op, describe(a), describe(b)));
  if (a.kind == Value::Int && b.kind == Value::Int) {
    if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%" || op == "**")
      return static_int_binary(e, a.i, b.i);
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

// Static int arithmetic is exact or an error: int64 overflow is reported at the operator,
// never wrapped.
Value Elaborator::static_int_binary(const Expr& e, int64_t x, int64_t y) {
  const std::string& op = e.name;
  int64_t r = 0;
  auto overflow = [&] {
    return CompileError(e.loc, fmt::format("integer overflow: {} {} {} does not fit in 64 bits", x, op, y));
  };
  if (op == "+" && __builtin_add_overflow(x, y, &r)) throw overflow();
  if (op == "-" && __builtin_sub_overflow(x, y, &r)) throw overflow();
  if (op == "*" && __builtin_mul_overflow(x, y, &r)) throw overflow();
  if (op == "+" || op == "-" || op == "*") return Value::integer(r);
  if (op == "/" || op == "%") {
    if (y == 0) throw CompileError(e.loc, "integer division by zero");
    if (x == INT64_MIN && y == -1) {
      if (op == "%") return Value::integer(0);
      throw overflow();
    }
    // Floor division, like Python's //, so sizes like (n - k) / s + 1 are exact.
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) --q, m += y;
    return Value::integer(op == "/" ? q : m);
  }
  // "**": a negative exponent gives a float, as in Python; otherwise by squaring.
  if (y < 0) return Value::number(std::pow(double(x), double(y)));
  int64_t base = x;
  r = 1;
  for (int64_t k = y; k > 0; k >>= 1) {
    if ((k & 1) && __builtin_mul_overflow(r, base, &r)) throw overflow();
    if (k > 1 && __builtin_mul_overflow(base, base, &base)) throw overflow();
  }
  return Value::integer(r);
}

Value Elaborator::member(const Expr& e, const std::shared_ptr<Scope>& scope) {
  Value base = eval(*e.items[0], scope);
  if (base.kind == Value::PrimNamespace) {
    const OpDef* op = find_op(e.name);
    if (!op) {
      std::vector<std::string> names;
      for (auto* o : all_ops()) names.push_back(o->name);
      std::string hint = closest_name(e.name, names);
      throw CompileError(e.loc, fmt::format("no primitive op '{}'{}", e.name,
                                            hint.empty() ? "" : fmt::format(" (did you mean 'prim.{}'?)", hint)));
    }
    Value v;
    v.kind = Value::Prim;
    v.op = op;
    return v;
  }
  if (base.kind == Value::Tensor) {
    const TensorType& t = type_of(base);
    if (e.name == "shape") {
      Value v;
      v.kind = Value::List;
      for (Dim d : t.shape) v.items.push_back(Value::dim(d));
      return v;
    }
    if (e.name == "rank") return Value::integer(t.rank());
    if (e.name == "dtype") {
      Value v;
      v.kind = Value::DTypeV;
      v.dt = t.dtype;
      return v;
    }
    throw CompileError(e.loc, fmt::format("a tensor has no field '{}' (it has: shape, rank, dtype)", e.name));
  }
  throw CompileError(e.loc, fmt::format("{} has no field '{}'", describe(base), e.name));
}

Value Elaborator::index(const Expr& e, const std::shared_ptr<Scope>& scope) {
  Value base = eval(*e.items[0], scope);
  if (base.kind == Value::List || base.kind == Value::Tuple) {
    if (e.index.size() != 1) throw CompileError(e.loc, "a list or tuple takes a single index or slice");
    if (e.index[0].is_slice) {
      const IndexItem& it = e.index[0];
      int64_t n = int64_t(base.items.size());
      int64_t step = it.step ? static_int(eval(*it.step, scope), it.step->loc, "a slice step") : 1;
      if (step == 0) throw CompileError(it.loc, "slice step must not be 0");
      // Python's clamping: to [0, n] walking forwards, to [-1, n - 1] walking backwards.
      auto bound = [&](const ExprP& p, int64_t dflt) {
        if (!p) return dflt;
        int64_t v = static_int(eval(*p, scope), p->loc, "a slice bound");
        return std::clamp<int64_t>(v < 0 ? v + n : v, step > 0 ? 0 : -1, step > 0 ? n : n - 1);
      };
      Value out;
      out.kind = base.kind;
      if (step > 0)
        for (int64_t k = bound(it.start, 0), e = bound(it.end, n); k < e; k += step) out.items.push_back(base.items[k]);
      else
        for (int64_t k = bound(it.start, n - 1), e = bound(it.end, -1); k > e; k += step)
          out.items.push_back(base.items[k]);
      return out;
    }
    int64_t i = static_int(eval(*e.index[0].index, scope), e.index[0].loc, "an index");
    int64_t n = int64_t(base.items.size());
    if (i < -n || i >= n)
      throw CompileError(e.index[0].loc,
                         fmt::format("index {} is out of range for {} of {} items", i, kind_name(base), n));
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
    if (ax >= int(e.index.size())) {
      keep.push_back(type_of(cur).shape[ax]);
      continue;
    }
    const IndexItem& it = e.index[ax];
    Dim len = type_of(cur).shape[ax];
    auto opt = [&](const ExprP& p, int64_t dflt) {
      return p ? static_int(eval(*p, scope), p->loc, "a slice bound") : dflt;
    };
    if (!it.is_slice) {
      int64_t i = static_int(eval(*it.index, scope), it.loc, "an index");
      if (is_sym(len)) {  // x[:, -1] of a sequence of length T: positions T-1 .. T
        Dim start = i < 0 ? symbolic_dim_binary("+", it.loc, Value::dim(len), Value::integer(i)).i : i;
        Dim end = symbolic_dim_binary("+", it.loc, Value::dim(start), Value::integer(1)).i;
        cur =
            emit("slice", {cur}, {{"axis", int64_t(ax)}, {"start", start}, {"end", end}, {"step", int64_t(1)}}, it.loc);
        drop = true;
        continue;
      }
      if (i < -len || i >= len)
        throw CompileError(it.loc, fmt::format("index {} is out of range for axis {} of {}", i, ax, tstr(t)));
      if (i < 0) i += len;
      cur = emit("slice", {cur}, {{"axis", int64_t(ax)}, {"start", i}, {"end", i + 1}, {"step", int64_t(1)}}, it.loc);
      drop = true;
      continue;
    }
    if (!it.start && !it.end && !it.step) {
      keep.push_back(len);
      continue;
    }
    if (is_sym(len)) {  // bounds may be symbolic (x[:, :, 2:L-2]); negative static ones count from the end
      auto bound = [&](const ExprP& p, Dim dflt) {
        return p ? static_int(eval(*p, scope), p->loc, "a slice bound", true) : dflt;
      };
      int64_t step = opt(it.step, 1);
      if (step <= 0)
        throw CompileError(it.loc, fmt::format("the symbolic axis {} can be sliced with a positive step only",
                                               dim_str(len, &root_->g.symbols)));
      cur = emit("slice", {cur},
                 {{"axis", int64_t(ax)}, {"start", bound(it.start, 0)}, {"end", bound(it.end, len)}, {"step", step}},
                 it.loc);
      keep.push_back(type_of(cur).shape[ax]);
      continue;
    }
    // An omitted bound is the axis end the step walks from or to: x[::-1] is [len-1 : -len-1 : -1].
    int64_t step = opt(it.step, 1);
    int64_t start = opt(it.start, step > 0 ? 0 : len - 1), end = opt(it.end, step > 0 ? len : -len - 1);
    cur = emit("slice", {cur}, {{"axis", int64_t(ax)}, {"start", start}, {"end", end}, {"step", step}}, it.loc);
    // Python semantics clamp the bounds; a slice that is left with nothing is a mistake.
    if (type_of(cur).shape[ax] == 0 && len > 0)
      throw CompileError(it.loc, fmt::format("slice {}:{} selects nothing from axis {} of {} (length {})", start, end,
                                             ax, tstr(t), len));
    keep.push_back(type_of(cur).shape[ax]);
  }
  if (drop) cur = emit("reshape", {cur}, {{"shape", Ints(keep.begin(), keep.end())}}, e.loc);
  return cur;
}

}  // namespace starc
