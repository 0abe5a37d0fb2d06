// Gradients of matmul (with broadcast batch dims) against central finite differences
// (f64); gradients through a symbolic batch dim; nested gradients (grad of a graph that
// already contains gradient nodes).
#include "compiler/autodiff/autodiff.h"
#include "grad_test_util.h"
#include "op_test_util.h"

namespace starc::test {
namespace {

Tensor rnd(Shape s, uint32_t seed) { return random_tensor(std::move(s), DType::F64, seed, -2, 2); }

int input(GraphBuilder& b, const std::string& name, DType dt, Ints shape) {
  int id = b.op("input", {}, {{"name", name}, {"dtype", dt}, {"shape", shape}});
  b.g.inputs.push_back(id);
  return id;
}

TEST(GradLinalg, Matmul) {
  std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {4, 5}},       {{1, 1}, {1, 1}},
      {{17, 3}, {3, 1}},      {{1, 17}, {17, 3}},
      {{2, 3, 4}, {4, 5}},    {{3, 4}, {2, 4, 5}},
      {{1, 3, 4}, {2, 4, 2}}, {{2, 1, 3, 4}, {5, 4, 1}},
      {{2, 3, 4}, {2, 4, 3}}, {{3, 1, 2, 3}, {1, 2, 3, 2}},
  };
  uint32_t seed = 100;
  for (auto& [sa, sb] : shapes) {
    std::vector<Tensor> in = {rnd(sa, seed), rnd(sb, seed + 1)};
    seed += 2;
    expect_op_gradient("matmul", in);
    expect_op_grad_of_grad("matmul", in);
  }
}

// d/dx mean(reshape/transpose/matmul chain) on a graph with a symbolic batch dim B
// (input f32[B,3]): the gradient graph is built symbolically, then run at B = 4 on the
// reference interpreter (in f64) and compared with central differences of the forward
// graph; then gradcheck at B = 4 and B = 1.
TEST(GradLinalg, SymbolicBatchDim) {
  Dim B = make_sym(0);
  Graph g;
  g.name = "sym";
  g.symbols = {"B"};
  GraphBuilder b(g);
  int x = input(b, "x", DType::F32, {B, 3});
  int w = input(b, "w", DType::F32, {2, 5});
  int t = b.transpose(b.reshape(x, {B, 3, 1}), {0, 2, 1});                 // [B,1,3]
  int c = b.op("concat", {t, b.op("tanh", {t})}, {{"axis", int64_t(1)}});  // [B,2,3]
  int m = b.op("matmul", {b.transpose(c, {0, 2, 1}), w});                  // [B,3,5]
  int s = b.op("slice", {m}, {{"axis", int64_t(2)}, {"start", int64_t(-4)}, {"end", int64_t(5)}, {"step", int64_t(2)}});
  int y = b.op("mean", {b.mul(s, s)});
  g.outputs = {y};
  g.output_names = {"y"};

  {  // Symbolic gradient types in f32.
    Graph g32 = g;
    std::vector<int> grads = append_gradients(g32, y, {x, w});
    EXPECT_EQ(type_str(g32.type(grads[0]), &g32.symbols), "f32[B,3]");
    EXPECT_EQ(type_str(g32.type(grads[1]), &g32.symbols), "f32[2,5]");
  }

  std::vector<Tensor> in = {rnd({4, 3}, 200), rnd({2, 5}, 201)};
  expect_symbolic_gradient(g, in);
  // The same through gradcheck on the f32 graph with f32 inputs, at B = 4 and B = 1.
  expect_gradcheck(g, {in[0].cast(DType::F32), in[1].cast(DType::F32)}, {}, 1e-6, 0, "symbolic B=4");
  expect_gradcheck(g, {rnd({1, 3}, 202).cast(DType::F32), rnd({2, 5}, 203).cast(DType::F32)}, {}, 1e-6, 0,
                   "symbolic B=1");
  // Second order: the symbolic gradient graph differentiated again.
  Graph gg = g;
  gg.outputs = append_gradients(gg, y, {x, w});
  gg.output_names = {"dx", "dw"};
  expect_gradcheck(gg, in, {}, 1e-6, 0, "symbolic grad of grad");
}

// Nested gradients: dx = d/dx f(x, w) for a matmul chain, then d/dw sum(dx^2) by
// append_gradients on the graph that already holds the first gradient's nodes.
TEST(GradLinalg, NestedGradient) {
  Graph g;
  g.name = "nested";
  GraphBuilder b(g);
  int x = input(b, "x", DType::F64, {3, 4});
  int w = input(b, "w", DType::F64, {2, 4, 5});
  int v = input(b, "v", DType::F64, {5, 3});
  int h = b.op("tanh", {b.op("matmul", {x, w})});     // [2,3,5]
  int z = b.op("matmul", {h, b.op("sigmoid", {v})});  // [2,3,3]
  int f = b.sum(b.mul(z, b.transpose(z, {0, 2, 1})), {}, false);
  int dx = append_gradients(g, f, {x})[0];
  g.outputs = {dx};
  g.output_names = {"dx"};
  std::vector<Tensor> in = {rnd({3, 4}, 300), rnd({2, 4, 5}, 301), rnd({5, 3}, 302)};
  // The graph whose output is the first gradient: gradcheck differentiates it again.
  expect_gradcheck(g, in, {}, 1e-6, 0, "graph with output dx");

  // Explicitly: d/dw sum(dx^2), against central differences of sum(dx^2).
  int sq = b.sum(b.op("square", {dx}), {}, false);
  int dw = append_gradients(g, sq, {w})[0];
  Graph fwd = g, grad = g;
  fwd.outputs = {sq};
  fwd.output_names = {"sq"};
  grad.outputs = {dw};
  grad.output_names = {"dw"};
  expect_gradcheck(fwd, in, {}, 1e-6, 0, "sum(dx^2)");
  Tensor analytic = run_graph(grad, in, {})[0];
  const double eps = 1e-6;
  for (int64_t i = 0; i < in[1].size(); ++i) {
    std::vector<Tensor> p = in, q = in;
    p[1] = in[1].clone();
    q[1] = in[1].clone();
    p[1].set(i, in[1].get(i) + eps);
    q[1].set(i, in[1].get(i) - eps);
    double numeric = (run_graph(fwd, p, {})[0].get(0) - run_graph(fwd, q, {})[0].get(0)) / (2 * eps);
    EXPECT_NEAR(analytic.get(i), numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << "dw index " << i;
  }
}

}  // namespace
}  // namespace starc::test
