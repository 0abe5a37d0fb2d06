#include "compiler/ops/builder.h"

#include <fmt/format.h>

#include "compiler/ops/common.h"

namespace starc {

int GraphBuilder::op(std::string_view name, std::vector<int> inputs, Attrs attrs) {
  const OpDef* def = find_op(name);
  if (!def) throw OpError(fmt::format("internal: no op '{}'", name));
  std::vector<TensorType> types;
  for (int id : inputs) types.push_back(g.type(id));
  Node n;
  n.op = def;
  n.attrs = complete_attrs(*def, std::move(attrs));
  n.type = infer_type(*def, types, n.attrs, &g.symbols, &g.symbols);
  n.inputs = std::move(inputs);
  n.loc = loc;
  return g.add(std::move(n));
}

// (scalar_of: an i64 saturates as `cast` converts a float, so folding a fill into a
// constant gives the number the fill itself gives)
int GraphBuilder::scalar(double v, DType dt) { return op("const", {}, {{"value", scalar_of(dt, v)}}); }

int GraphBuilder::zeros_like(int x) {
  return op("full", {}, {{"shape", Ints(shape(x))}, {"value", 0.0}, {"dtype", dtype(x)}});
}
int GraphBuilder::ones_like(int x) {
  return op("full", {}, {{"shape", Ints(shape(x))}, {"value", 1.0}, {"dtype", dtype(x)}});
}

int GraphBuilder::sum_to(int x, Shape target) {
  Shape s = shape(x);
  if (s == target) return x;
  int extra = int(s.size()) - int(target.size());
  if (extra < 0) throw OpError(fmt::format("internal: sum_to from rank {} to rank {}", s.size(), target.size()));
  Ints keep_axes;  // broadcast dims of size 1 in the target
  for (int i = 0; i < int(target.size()); ++i)
    if (target[i] == 1 && s[extra + i] != 1) keep_axes.push_back(extra + i);
  int r = x;
  if (!keep_axes.empty()) r = sum(r, keep_axes, true);
  if (extra > 0) {
    Ints lead;
    for (int i = 0; i < extra; ++i) lead.push_back(i);
    r = sum(r, lead, false);
  }
  return r;
}

int GraphBuilder::broadcast_to(int x, Shape s) {
  if (shape(x) == s) return x;
  return op("broadcast_to", {x}, {{"shape", Ints(s)}});
}
int GraphBuilder::reshape(int x, Shape s) {
  if (shape(x) == s) return x;
  return op("reshape", {x}, {{"shape", Ints(s)}});
}
int GraphBuilder::transpose(int x, Ints perm) { return op("transpose", {x}, {{"perm", perm}}); }
int GraphBuilder::sum(int x, Ints axes, bool keepdims) {
  return op("sum", {x}, {{"axes", axes}, {"keepdims", keepdims}});
}
int GraphBuilder::cast(int x, DType dt) { return dtype(x) == dt ? x : op("cast", {x}, {{"dtype", dt}}); }

int GraphBuilder::count(int x, Ints axes, DType dt) {
  Shape s = shape(x);
  Ints all;
  if (axes.empty())
    for (int i = 0; i < int(s.size()); ++i) all.push_back(i);
  const Ints& ax = axes.empty() ? all : axes;
  double n = 1;
  Shape sym_dims;
  for (int64_t a : ax) {
    Dim d = s[normalize_axis("count", a, int(s.size()))];
    if (is_sym(d))
      sym_dims.push_back(d);
    else
      n *= double(d);
  }
  int c = scalar(n, dt);
  // A symbolic dim's size is only known at run time: count it as sum(ones([B])).
  for (Dim d : sym_dims) {
    int ones = op("full", {}, {{"shape", Ints{d}}, {"value", 1.0}, {"dtype", dt}});
    c = mul(c, sum(ones, {}, false));
  }
  return c;
}

}  // namespace starc
