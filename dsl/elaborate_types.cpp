// dsl: elaboration — type annotations and shape checking: declared tensor types (model
// and train inputs, `param`), annotations checked against actual values (arguments,
// outputs), static types (int, float, str, ...).
#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "dsl/elaborator.h"

namespace starc {

// ---------------------------------------------------------------- types
// A declared tensor type; in a model signature unknown dim names become symbols.
TensorType Elaborator::declared_type(const TypeExpr& t, Scope& scope, bool new_syms) {
  TensorType out;
  if (t.name.empty())
    out.dtype = default_float_;
  else if (auto dt = dtype_from_name(t.name))
    out.dtype = *dt;
  else
    throw CompileError(t.loc, fmt::format("unknown element type '{}' (expected f32, f64, i64 or bool)", t.name));
  auto self = std::shared_ptr<Scope>(&scope, [](Scope*) {});
  for (auto& d : t.dims) {
    if (d->kind == Expr::Name && new_syms && !scope.find(d->name)) {
      auto& syms = root_->g.symbols;
      int idx = int(syms.size());
      syms.push_back(d->name);
      scope.vars[d->name] = Value::dim(make_sym(idx));
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
void Elaborator::match_type(const TypeExpr& t, const TensorType& actual, Scope& scope, const std::string& what,
                            SrcLoc loc) {
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
    if (!dt)
      throw CompileError(t.loc, fmt::format("unknown element type '{}' (expected f32, f64, i64 or bool)", t.name));
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
      scope.vars[d.name] = Value::dim(actual.shape[i]);
      continue;
    }
    Value v = eval(d, self);
    int64_t want = static_int(v, d.loc, "a dimension", true);
    if (want != actual.shape[i])
      mismatch(fmt::format("dim {} is {}, expected {}", i, dim_str(actual.shape[i], &root_->g.symbols),
                           dim_str(want, &root_->g.symbols)));
  }
}

void Elaborator::check_static_type(const TypeExpr& t, Value& v, const std::string& what, SrcLoc loc) {
  if (t.is_tensor) {
    if (v.kind != Value::Tensor)
      throw CompileError(loc, fmt::format("'{}' must be a tensor, got {}", what, describe(v)));
    return;
  }
  const std::string& n = t.name;
  bool ok = (n == "int" && v.kind == Value::Int) || (n == "float" && v.is_num()) ||
            (n == "bool" && v.kind == Value::Bool) || (n == "str" && v.kind == Value::Str) ||
            (n == "fn" &&
             (v.kind == Value::Func || v.kind == Value::Prim || v.kind == Value::Builtin || v.kind == Value::Init)) ||
            (n == "list" && (v.kind == Value::List || v.kind == Value::Tuple)) ||
            (n == "dtype" && v.kind == Value::DTypeV);
  if (n == "float" && v.kind == Value::Int) v = Value::number(double(v.i));
  if (!ok) {
    static const std::vector<std::string> known = {"int", "float", "bool", "str", "fn", "list", "dtype"};
    if (std::find(known.begin(), known.end(), n) == known.end()) {
      if (dtype_from_name(n))
        throw CompileError(t.loc,
                           fmt::format("'{}' is an element type; a tensor type needs a shape, e.g. {}[N]", n, n));
      std::string hint = closest_name(n, known);
      throw CompileError(
          t.loc, fmt::format("unknown type '{}'{}", n, hint.empty() ? "" : fmt::format(" (did you mean '{}'?)", hint)));
    }
    throw CompileError(loc, fmt::format("'{}' must be {}, got {}", what, n, describe(v)));
  }
}

void Elaborator::bind_outputs(const FnDecl& model, const Value& result, Scope& scope) {
  std::vector<Value> outs = result.kind == Value::Tuple ? result.items : std::vector<Value>{result};
  SrcLoc where = return_loc_ ? *return_loc_ : model.loc;
  if (opts_.any_outputs) {  // the REPL: whatever the expression gave
    bool all_tensors = std::all_of(outs.begin(), outs.end(), [](const Value& v) { return v.kind == Value::Tensor; });
    if (!all_tensors) {
      std::function<std::string(const Value&)> show = [&](const Value& v) -> std::string {
        std::vector<std::string> items;
        switch (v.kind) {
          case Value::Int:
            return v.sym ? dim_str(v.i, &root_->g.symbols) : std::to_string(v.i);
          case Value::Float:
            return fmt::format("{}", v.f);
          case Value::Bool:
            return v.b ? "true" : "false";
          case Value::Str:
            return fmt::format("\"{}\"", v.s);
          case Value::List:
          case Value::Tuple: {
            for (auto& it : v.items) items.push_back(show(it));
            std::string inner = fmt::format("{}", fmt::join(items, ", "));
            return v.kind == Value::List ? "[" + inner + "]" : "(" + inner + ")";
          }
          default:
            return describe(v);
        }
      };
      if (opts_.static_result) *opts_.static_result = show(result);
      return;
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      if (outs[i].g != root_) throw CompileError(where, "internal: output is not in the model graph");
      root_->g.outputs.push_back(outs[i].id);
      root_->g.output_names.push_back(outs.size() == 1 ? "output" : fmt::format("output{}", i));
    }
    return;
  }
  if (outs.size() != model.outputs.size())
    throw CompileError(Diagnostic{
        where,
        fmt::format("model '{}' returns {} value{} but declares {} output{}", model.name, outs.size(),
                    outs.size() == 1 ? "" : "s", model.outputs.size(), model.outputs.size() == 1 ? "" : "s"),
        {{SourceManager::span(model.outputs_loc, model.outputs.back().second.loc), "the outputs are declared here"}}});
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
      if (err.diag.loc.file == at.file && err.diag.loc.offset == at.offset)
        err.diag.notes.emplace_back(type.loc, "the output type is declared here");
      throw;
    }
    root_->g.outputs.push_back(outs[i].id);
    root_->g.output_names.push_back(oname);
  }
}

// A model called from another model: its declared outputs are checked too.
void Elaborator::bind_model_call_outputs(const FnDecl& d, const Value& result, Scope& scope) {
  std::vector<Value> outs = result.kind == Value::Tuple ? result.items : std::vector<Value>{result};
  SrcLoc where = return_loc_ ? *return_loc_ : d.loc;  // the callee's `return` (not yet restored)
  if (outs.size() != d.outputs.size())
    throw CompileError(Diagnostic{
        where,
        fmt::format("model '{}' returns {} value{} but declares {} output{}", d.name, outs.size(),
                    outs.size() == 1 ? "" : "s", d.outputs.size(), d.outputs.size() == 1 ? "" : "s"),
        {{SourceManager::span(d.outputs_loc, d.outputs.back().second.loc), "the outputs are declared here"}}});
  for (size_t i = 0; i < outs.size(); ++i)
    if (outs[i].kind == Value::Tensor)
      match_type(d.outputs[i].second, type_of(outs[i]), scope, fmt::format("output {} of {}", i, d.name), where);
}

}  // namespace starc
