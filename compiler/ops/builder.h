// compiler/ops: GraphBuilder appends op nodes to a Graph, running each op's shape rule,
// so that gradient rules, optimizers and passes can write graph code as plainly as
// arithmetic: b.mul(dy, b.op("sigmoid", {x})).
#pragma once
#include <string_view>
#include <vector>

#include "compiler/ops/op.h"

namespace starc {

class GraphBuilder {
 public:
  // Nodes are appended to `g`; each gets `loc` (the source of the forward node that a
  // gradient belongs to, so errors in derived code still point at the user's line).
  explicit GraphBuilder(Graph& g, Loc loc = {}) : g(g), loc(std::move(loc)) {}

  Graph& g;
  Loc loc;

  // By value: emitting a node may reallocate g.nodes, so references would dangle.
  TensorType type(int id) const { return g.type(id); }
  Shape shape(int id) const { return g.type(id).shape; }
  int rank(int id) const { return g.type(id).rank(); }
  // Arithmetic on (possibly symbolic) dims of g: dims().add(L, 1).
  InferCtx dims() { return InferCtx{&g.symbols, &g.symbols}; }
  DType dtype(int id) const { return g.type(id).dtype; }

  // Any op by name; attrs are completed with defaults; throws OpError from the shape rule.
  int op(std::string_view name, std::vector<int> inputs, Attrs attrs = {});

  // A scalar constant of the given dtype (broadcasts against anything).
  int scalar(double v, DType dt);
  int scalar_like(double v, int like) { return scalar(v, dtype(like)); }
  int zeros_like(int x);  // `full` (symbolic dims allowed)
  int ones_like(int x);

  int add(int a, int b) { return op("add", {a, b}); }
  int sub(int a, int b) { return op("sub", {a, b}); }
  int mul(int a, int b) { return op("mul", {a, b}); }
  int div(int a, int b) { return op("div", {a, b}); }
  int neg(int a) { return op("neg", {a}); }
  int mul(int a, double c) { return mul(a, scalar_like(c, a)); }
  int add(int a, double c) { return add(a, scalar_like(c, a)); }

  // Sums `x` down to `shape` (undoing NumPy broadcasting): the gradient of a broadcast.
  int sum_to(int x, Shape shape);
  // Broadcasts x (e.g. a reduction kept with keepdims) to `shape`.
  int broadcast_to(int x, Shape shape);
  int reshape(int x, Shape shape);
  int transpose(int x, Ints perm);
  int sum(int x, Ints axes, bool keepdims);
  int cast(int x, DType dt);
  // The number of elements along `axes` of x as a scalar of dtype `dt` (a symbolic
  // dim is counted at run time).
  int count(int x, Ints axes, DType dt);
};

}  // namespace starc
