// dsl: elaboration — builtins that are sugar over primitive ops (issue 31): clamp,
// masked_fill, expand_dims/unsqueeze, squeeze, stack, split, chunk, repeat, tile, and
// sort/topk over argsort and take_along_axis.
// Each builds existing ops (where, reshape, concat, slice, broadcast_to), so gradients,
// the lowerings and every backend come with them at no extra cost: reshape is a view,
// and stack/repeat copy once, as a dedicated op would.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "compiler/ops/common.h"
#include "dsl/elaborator.h"

namespace starc {

const std::vector<std::string> kShapeBuiltinFns = {"clamp",   "masked_fill", "expand_dims", "unsqueeze",
                                                   "squeeze", "stack",       "split",       "chunk",
                                                   "repeat",  "tile",        "sort",        "topk"};

bool is_shape_builtin(const std::string& name) {
  return std::find(kShapeBuiltinFns.begin(), kShapeBuiltinFns.end(), name) != kShapeBuiltinFns.end();
}

// One call of a shape builtin: its arguments bound by name, and the ops it emits.
struct ShapeBuiltins {
  Elaborator& el;
  Elaborator::Args& args;
  const Expr& e;
  std::string name;

  struct Arg {
    Value v;
    SrcLoc loc;
    bool given = false;
  };

  // Positional arguments in the order of `params`, then keywords; the first `required`
  // must be given.
  std::vector<Arg> bind(const std::vector<std::string>& params, size_t required) {
    std::string sig = fmt::format("{}({})", name, fmt::join(params, ", "));
    if (args.pos.size() > params.size())
      throw CompileError(args.pos[params.size()].second,
                         fmt::format("{} takes {} arguments ({}); this one is extra", name, params.size(), sig));
    std::vector<Arg> out(params.size());
    for (size_t i = 0; i < args.pos.size(); ++i) out[i] = {args.pos[i].first, args.pos[i].second, true};
    for (auto& [k, v, l] : args.named) {
      auto it = std::find(params.begin(), params.end(), k);
      if (it == params.end())
        throw CompileError(l, fmt::format("{} has no argument '{}' (it takes: {})", name, k, sig));
      Arg& a = out[size_t(it - params.begin())];
      if (a.given) throw CompileError(l, fmt::format("{}: argument '{}' given twice", name, k));
      a = {v, l, true};
    }
    for (size_t i = 0; i < required; ++i)
      if (!out[i].given) throw CompileError(e.loc, fmt::format("{} needs the argument '{}': {}", name, params[i], sig));
    return out;
  }

  const Value& tensor(const Arg& a, const char* what) {
    if (a.v.kind != Value::Tensor)
      throw CompileError(a.loc, fmt::format("{}: {} must be a tensor, got {}", name, what, el.describe(a.v)));
    return a.v;
  }

  const TensorType& type(const Value& v) { return el.type_of(v); }
  std::string tstr(const Value& v) { return el.tstr(type(v)); }

  // A static int, or a list of them (one int is a list of one when `list_ok`).
  std::vector<int64_t> ints(const Arg& a, const char* what) {
    if (a.v.kind == Value::Int) return {el.static_int(a.v, a.loc, what)};
    if (a.v.kind != Value::List && a.v.kind != Value::Tuple)
      throw CompileError(a.loc,
                         fmt::format("{}: {} must be an int or a list of ints, got {}", name, what, el.describe(a.v)));
    std::vector<int64_t> out;
    for (auto& it : a.v.items) out.push_back(el.static_int(it, a.loc, what));
    return out;
  }

  int64_t axis_arg(const Arg& a, int64_t dflt) { return a.given ? el.static_int(a.v, a.loc, "axis") : dflt; }

  // `axis` in [-rank, rank) (or [-(rank+1), rank] for a new axis), as Python counts.
  int norm_axis(int64_t axis, int rank, const Value& x, SrcLoc loc) {
    if (axis < -rank || axis >= rank)
      throw CompileError(loc, fmt::format("{}: axis {} is out of range for {} (it must be in [{}, {}])", name, axis,
                                          tstr(x), -rank, rank - 1));
    return int(axis < 0 ? axis + rank : axis);
  }

  Value emit(const char* op, const std::vector<Value>& in, Attrs attrs = {}) {
    return el.emit(op, in, std::move(attrs), e.loc);
  }
  Value reshape(const Value& x, const Shape& s) { return emit("reshape", {x}, {{"shape", Ints(s.begin(), s.end())}}); }
  Value slice(const Value& x, int axis, int64_t start, int64_t end) {
    return emit("slice", {x}, {{"axis", int64_t(axis)}, {"start", start}, {"end", end}, {"step", int64_t(1)}});
  }
  Value tuple(std::vector<Value> items) {
    Value v;
    v.kind = Value::Tuple;
    v.items = std::move(items);
    return v;
  }

  // torch.clamp: min(max(x, lo), hi) in that order (so lo > hi gives hi), NaN kept.
  Value clamp() {
    auto a = bind({"x", "min", "max"}, 1);
    const Value& x = tensor(a[0], "x");
    DType dt = type(x).dtype;
    if (dt == DType::Bool) throw CompileError(a[0].loc, fmt::format("clamp needs numbers, got {}", tstr(x)));
    if (!a[1].given && !a[2].given)
      throw CompileError(e.loc, "clamp needs min or max (or both): clamp(x, 0.0, 1.0) or clamp(x, min: 0.0)");
    Value out = x;
    if (a[1].given) {
      Value lo = el.as_tensor(a[1].v, dt, a[1].loc, "clamp");
      out = emit("where", {emit("lt", {out, lo}), lo, out});
    }
    if (a[2].given) {
      Value hi = el.as_tensor(a[2].v, dt, a[2].loc, "clamp");
      out = emit("where", {emit("gt", {out, hi}), hi, out});
    }
    // A NaN compares false and passes through the selects above; take it from a NaN
    // constant instead, so its gradient is 0 as torch.clamp's (masked by min <= x <= max).
    if (is_float(dt)) out = emit("where", {emit("ne", {x, x}), el.constant(NAN, dt, e.loc), out});
    return out;
  }

  // torch.Tensor.masked_fill: value where mask is true; the result has x's shape.
  Value masked_fill() {
    auto a = bind({"x", "mask", "value"}, 3);
    const Value& x = tensor(a[0], "x");
    const Value& mask = tensor(a[1], "mask");
    if (type(mask).dtype != DType::Bool)
      throw CompileError(a[1].loc, fmt::format("masked_fill: mask must be bool (e.g. x > 0), got {}", tstr(mask)));
    Value v = el.as_tensor(a[2].v, type(x).dtype, a[2].loc, "masked_fill");
    if (type(v).rank() != 0)
      throw CompileError(a[2].loc,
                         fmt::format("masked_fill: value must be a number or a 0-dim tensor, got {}", tstr(v)));
    Value out = emit("where", {mask, v, x});
    if (type(out).shape != type(x).shape)
      throw CompileError(
          a[1].loc, fmt::format("masked_fill: mask {} does not broadcast to the shape of x {}", tstr(mask), tstr(x)));
    return out;
  }

  Value expand_dims() {
    auto a = bind({"x", "axis"}, 2);
    const Value& x = tensor(a[0], "x");
    Shape s = type(x).shape;
    int ax = norm_axis(el.static_int(a[1].v, a[1].loc, "axis"), int(s.size()) + 1, x, a[1].loc);
    s.insert(s.begin() + ax, 1);
    return reshape(x, s);
  }

  // numpy.squeeze: the named size-1 axes (all static size-1 axes when none is named); a
  // named axis of another length is an error, not torch's silent no-op.
  Value squeeze() {
    auto a = bind({"x", "axis"}, 1);
    const Value& x = tensor(a[0], "x");
    Shape s = type(x).shape;
    std::vector<bool> drop(s.size(), false);
    if (!a[1].given)
      for (size_t i = 0; i < s.size(); ++i) drop[i] = s[i] == 1;
    else
      for (int64_t ax : ints(a[1], "axis")) {
        int k = norm_axis(ax, int(s.size()), x, a[1].loc);
        if (s[size_t(k)] != 1)
          throw CompileError(a[1].loc, fmt::format("squeeze: axis {} of {} has length {}, not 1", ax, tstr(x),
                                                   dim_str(s[size_t(k)], &el.root_->g.symbols)));
        drop[size_t(k)] = true;
      }
    Shape out;
    for (size_t i = 0; i < s.size(); ++i)
      if (!drop[i]) out.push_back(s[i]);
    return out == s ? x : reshape(x, out);
  }

  // The tensors of a list argument (or of all positional arguments).
  std::vector<Value> tensor_list(const Arg& a) {
    if (a.v.kind != Value::List && a.v.kind != Value::Tuple)
      throw CompileError(a.loc, fmt::format("{} needs a list of tensors, got {}", name, el.describe(a.v)));
    if (a.v.items.empty())
      throw CompileError(a.loc, fmt::format("{} needs at least one tensor, got an empty list", name));
    for (size_t i = 0; i < a.v.items.size(); ++i)
      if (a.v.items[i].kind != Value::Tensor)
        throw CompileError(a.loc, fmt::format("{}: item {} is {}, not a tensor", name, i, el.describe(a.v.items[i])));
    return a.v.items;
  }

  // torch.stack: equal shapes, joined along a new axis (each gets a size-1 axis there).
  Value stack() {
    auto a = bind({"xs", "axis"}, 1);
    std::vector<Value> xs = tensor_list(a[0]);
    for (size_t i = 1; i < xs.size(); ++i)
      if (type(xs[i]) != type(xs[0]))
        throw CompileError(a[0].loc, fmt::format("stack: tensor {} is {} but tensor 0 is {} (stack needs equal "
                                                 "shapes and dtypes)",
                                                 i, tstr(xs[i]), tstr(xs[0])));
    Shape s = type(xs[0]).shape;
    int ax = norm_axis(axis_arg(a[1], 0), int(s.size()) + 1, xs[0], a[1].given ? a[1].loc : e.loc);
    s.insert(s.begin() + ax, 1);
    for (auto& x : xs) x = reshape(x, s);
    return xs.size() == 1 ? xs[0] : emit("concat", xs, {{"axis", int64_t(ax)}});
  }

  // The static length of `axis` of x, for splitting it.
  int64_t static_len(const Value& x, int ax, SrcLoc loc) {
    Dim n = type(x).shape[size_t(ax)];
    if (is_sym(n))
      throw CompileError(
          loc, fmt::format("{}: axis {} of {} is symbolic; only a static axis can be split", name, ax, tstr(x)));
    return n;
  }

  Value split_sizes(const Value& x, int ax, const std::vector<int64_t>& sizes) {
    std::vector<Value> out;
    int64_t off = 0;
    for (int64_t n : sizes) {
      out.push_back(slice(x, ax, off, off + n));
      off += n;
    }
    return tuple(std::move(out));
  }

  // torch.split: pieces of one size (the last may be shorter), or of the listed sizes.
  Value split() {
    auto a = bind({"x", "sizes", "axis"}, 2);
    const Value& x = tensor(a[0], "x");
    if (type(x).rank() == 0) throw CompileError(a[0].loc, fmt::format("split: cannot split a scalar {}", tstr(x)));
    int ax = norm_axis(axis_arg(a[2], 0), type(x).rank(), x, a[2].given ? a[2].loc : e.loc);
    int64_t n = static_len(x, ax, a[0].loc);
    std::vector<int64_t> sizes = ints(a[1], "sizes");
    for (int64_t s : sizes)
      if (s < 0) throw CompileError(a[1].loc, fmt::format("split: size {} is negative", s));
    if (a[1].v.kind == Value::Int) {
      if (sizes[0] == 0) throw CompileError(a[1].loc, "split: the piece size must be at least 1");
      int64_t size = sizes[0];
      sizes.clear();
      for (int64_t off = 0; off < n || (n == 0 && sizes.empty()); off += size) sizes.push_back(std::min(size, n - off));
    } else if (int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(0)); total != n) {
      throw CompileError(a[1].loc, fmt::format("split: the sizes [{}] add up to {}, but axis {} of {} has length {}",
                                               fmt::join(sizes, ", "), total, ax, tstr(x), n));
    }
    return split_sizes(x, ax, sizes);
  }

  // torch.chunk: pieces of ceil(n / chunks) (so there may be fewer than `chunks`).
  Value chunk() {
    auto a = bind({"x", "chunks", "axis"}, 2);
    const Value& x = tensor(a[0], "x");
    if (type(x).rank() == 0) throw CompileError(a[0].loc, fmt::format("chunk: cannot split a scalar {}", tstr(x)));
    int64_t chunks = el.static_int(a[1].v, a[1].loc, "chunks");
    if (chunks < 1) throw CompileError(a[1].loc, fmt::format("chunk: chunks must be at least 1, got {}", chunks));
    int ax = norm_axis(axis_arg(a[2], 0), type(x).rank(), x, a[2].given ? a[2].loc : e.loc);
    int64_t n = static_len(x, ax, a[0].loc), size = std::max<int64_t>((n + chunks - 1) / chunks, 1);
    std::vector<int64_t> sizes;
    for (int64_t off = 0; off < n || sizes.empty(); off += size) sizes.push_back(std::min(size, n - off));
    return split_sizes(x, ax, sizes);
  }

  // torch.Tensor.repeat: x (with leading 1s up to len(reps) dims) repeated reps[i] times
  // along each dim. [d] -> [1, d] -> broadcast [r, d] -> [r * d]: one copy.
  Value repeat_reps(const Value& x, const std::vector<int64_t>& reps, SrcLoc loc) {
    Shape xs = type(x).shape;
    if (reps.size() < xs.size())
      throw CompileError(loc, fmt::format("repeat: reps [{}] has fewer entries than the rank {} of {} (tile "
                                          "prepends 1s instead)",
                                          fmt::join(reps, ", "), xs.size(), tstr(x)));
    xs.insert(xs.begin(), reps.size() - xs.size(), 1);
    Shape split, bcast, out;
    for (size_t i = 0; i < reps.size(); ++i) {
      if (reps[i] < 0)
        throw CompileError(loc, fmt::format("{}: reps [{}] has a negative entry", name, fmt::join(reps, ", ")));
      if (reps[i] != 1 && is_sym(xs[i]))
        throw CompileError(loc, fmt::format("{}: dim {} of {} is symbolic and cannot be repeated {} times", name,
                                            int(i) - int(reps.size() - type(x).shape.size()), tstr(x), reps[i]));
      if (reps[i] != 1) split.push_back(1), bcast.push_back(reps[i]);
      split.push_back(xs[i]), bcast.push_back(xs[i]);
      out.push_back(reps[i] == 1 ? xs[i] : reps[i] * xs[i]);
    }
    if (split == xs && out == type(x).shape) return x;
    return reshape(emit("broadcast_to", {reshape(x, split)}, {{"shape", Ints(bcast.begin(), bcast.end())}}), out);
  }

  Value repeat() {
    auto a = bind({"x", "reps"}, 2);
    return repeat_reps(tensor(a[0], "x"), ints(a[1], "reps"), a[1].loc);
  }

  // numpy.tile: reps shorter than the rank is prepended with 1s.
  Value tile() {
    auto a = bind({"x", "reps"}, 2);
    const Value& x = tensor(a[0], "x");
    std::vector<int64_t> reps = ints(a[1], "reps");
    if (reps.size() < size_t(type(x).rank())) reps.insert(reps.begin(), size_t(type(x).rank()) - reps.size(), 1);
    return repeat_reps(x, reps, a[1].loc);
  }

  bool bool_arg(const Arg& a, bool dflt) {
    if (!a.given) return dflt;
    if (a.v.kind != Value::Bool)
      throw CompileError(a.loc, fmt::format("{}: expected a bool, got {}", name, el.describe(a.v)));
    return a.v.b;
  }

  // (values, indices) of the first `k` of x's order along `axis` (all when k < 0): the
  // indices from argsort, the values read there, so their gradient is take_along_axis's.
  Value sorted(const Value& x, int64_t axis, bool descending, int64_t k) {
    Value idx = emit("argsort", {x}, {{"axis", axis}, {"descending", descending}});
    if (k >= 0) idx = slice(idx, normalize_axis(name, axis, type(x).rank()), 0, k);
    return tuple({emit("take_along_axis", {x, idx}, {{"axis", axis}}), idx});
  }

  // torch.sort(x, dim, descending, stable=True): (values, i64 indices).
  Value sort() {
    auto a = bind({"x", "axis", "descending"}, 1);
    const Value& x = tensor(a[0], "x");
    return sorted(x, axis_arg(a[1], -1), bool_arg(a[2], false), -1);
  }

  // torch.topk(x, k, dim, largest): the k largest (smallest) in order, (values, indices).
  Value topk() {
    auto a = bind({"x", "k", "axis", "largest"}, 2);
    const Value& x = tensor(a[0], "x");
    if (type(x).rank() == 0) throw CompileError(a[0].loc, fmt::format("topk: x must have rank >= 1, got {}", tstr(x)));
    int ax = norm_axis(axis_arg(a[2], -1), type(x).rank(), x, a[2].given ? a[2].loc : e.loc);
    int64_t k = el.static_int(a[1].v, a[1].loc, "k");
    Dim n = type(x).shape[size_t(ax)];
    if (is_sym(n))
      throw CompileError(a[0].loc,
                         fmt::format("topk: axis {} of {} is symbolic; topk needs a static axis", ax, tstr(x)));
    if (k < 0 || k > n)
      throw CompileError(
          a[1].loc, fmt::format("topk: k = {} is outside [0, {}], the length of axis {} of {}", k, n, ax, tstr(x)));
    return sorted(x, ax, bool_arg(a[3], true), k);
  }

  Value call() {
    if (name == "clamp") return clamp();
    if (name == "masked_fill") return masked_fill();
    if (name == "expand_dims" || name == "unsqueeze") return expand_dims();
    if (name == "squeeze") return squeeze();
    if (name == "stack") return stack();
    if (name == "split") return split();
    if (name == "chunk") return chunk();
    if (name == "repeat") return repeat();
    if (name == "tile") return tile();
    if (name == "sort") return sort();
    if (name == "topk") return topk();
    throw CompileError(e.loc, "internal: unknown shape builtin " + name);
  }
};

Value Elaborator::shape_builtin(const std::string& name, Args& args, const Expr& e) {
  return ShapeBuiltins{*this, args, e, name}.call();
}

}  // namespace starc
