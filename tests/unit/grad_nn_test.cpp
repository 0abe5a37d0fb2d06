// Gradients of the neural-network ops (softmax, log_softmax, batch_norm, layer_norm,
// dropout) against central finite differences (f64), of their rules in turn (grad of
// grad), and on graphs with a symbolic batch dim.
#include "grad_test_util.h"
#include "op_test_util.h"

namespace starc::test {
namespace {

Tensor rnd(Shape s, uint32_t seed, double lo = -2, double hi = 2) {
  return random_tensor(std::move(s), DType::F64, seed, lo, hi);
}

int input(GraphBuilder& b, const std::string& name, Shape shape) {
  int id = b.op("input", {}, {{"name", name}, {"dtype", DType::F64}, {"shape", Ints(shape)}});
  b.g.inputs.push_back(id);
  return id;
}

TEST(GradNN, SoftmaxAndLogSoftmax) {
  for (const char* op : {"softmax", "log_softmax"}) {
    for (int64_t axis : {0, -1}) {
      Attrs a{{"axis", axis}};
      expect_op_gradient(op, {rnd({5}, 1)}, a);
      expect_op_gradient(op, {rnd({3, 4}, 2)}, a);
      expect_op_gradient(op, {rnd({2, 3, 4}, 3)}, a);
      expect_op_gradient(op, {rnd({1, 7}, 4)}, a);
      expect_op_grad_of_grad(op, {rnd({3, 4}, 5)}, a);
    }
    expect_op_gradient(op, {rnd({2, 3, 4}, 6)}, {{"axis", int64_t(1)}});
    expect_op_gradient(op, {rnd({}, 7)}, {{"axis", int64_t(0)}});
  }
}

TEST(GradNN, LayerNorm) {
  expect_op_gradient("layer_norm", {rnd({3, 5}, 10)});
  expect_op_gradient("layer_norm", {rnd({2, 3, 4}, 11)}, {{"axes", Ints{-1}}});
  expect_op_gradient("layer_norm", {rnd({2, 3, 4}, 12)}, {{"axes", Ints{1, 2}}});
  expect_op_gradient("layer_norm", {rnd({2, 3, 4}, 13)}, {{"axes", Ints{-1, 0}}, {"eps", 1e-3}});
  expect_op_gradient("layer_norm", {rnd({4, 1}, 14)}, {{"axes", Ints{0}}});
  expect_op_grad_of_grad("layer_norm", {rnd({3, 5}, 15)});
  expect_op_grad_of_grad("layer_norm", {rnd({2, 3, 4}, 16)}, {{"axes", Ints{1, 2}}});
}

// batch_norm(x, gamma, beta, running_mean, running_var): gradients w.r.t. x, gamma and
// beta (inputs); the running statistics are constants (state, no gradient).
Graph batch_norm_graph(const Shape& xs, bool training, double eps, Dim batch = 0, uint32_t seed = 0) {
  Graph g;
  g.name = "batch_norm";
  if (batch) g.symbols = {"B"};
  GraphBuilder b(g);
  Shape s = xs;
  if (batch) s[0] = batch;
  int C = int(xs[1]);
  int x = input(b, "x", s), gamma = input(b, "gamma", {C}), beta = input(b, "beta", {C});
  int rm = b.op("const", {}, {{"value", rnd({C}, seed + 1, -1, 1)}});
  int rv = b.op("const", {}, {{"value", rnd({C}, seed + 2, 0.5, 2)}});
  g.outputs = {b.op("batch_norm", {x, gamma, beta, rm, rv}, {{"training", training}, {"eps", eps}})};
  g.output_names = {"y"};
  return g;
}

TEST(GradNN, BatchNorm) {
  for (bool training : {true, false})
    for (Shape xs : {Shape{4, 3, 5}, Shape{2, 3, 4, 3}, Shape{5, 2}, Shape{1, 2, 3}}) {
      std::string what = fmt::format("batch_norm training={} {}", training, shape_str(xs));
      Graph g = batch_norm_graph(xs, training, training ? 1e-5 : 1e-3, 0, 20);
      expect_gradcheck(g, {rnd(xs, 21), rnd({xs[1]}, 22), rnd({xs[1]}, 23)}, {}, 1e-6, 0, what);
    }
}

// The graph of batch_norm's gradients (w.r.t. x, gamma, beta, seeded with an input dy)
// is gradchecked in turn.
TEST(GradNN, BatchNormGradOfGrad) {
  for (bool training : {true, false}) {
    Shape xs = {3, 2, 4};
    Graph g = batch_norm_graph(xs, training, 1e-5, 0, 30);
    GraphBuilder b(g);
    int y = g.outputs[0];
    int dy = input(b, "dy", xs);
    std::vector<int> wrt(g.inputs.begin(), g.inputs.begin() + 3);
    g.outputs = append_gradients(g, y, wrt, dy);
    g.output_names = {"dx", "dgamma", "dbeta"};
    expect_gradcheck(g, {rnd(xs, 31), rnd({2}, 32), rnd({2}, 33), rnd(xs, 34)}, {}, 1e-6, 0,
                     fmt::format("grad of grad of batch_norm training={}", training));
  }
}

// Running statistics as graph inputs: no gradient through them.
TEST(GradNN, BatchNormRunningStatsGetNoGradient) {
  Graph g = one_op_graph("batch_norm", {rnd({4, 3}, 40), rnd({3}, 41), rnd({3}, 42), rnd({3}, 43), rnd({3}, 44, 1, 2)});
  expect_error([&] { append_gradients(g, g.outputs[0], {g.inputs[3]}); }, {"x3", "batch_norm"});
}

// The gradients built on a graph with a symbolic batch dim B agree with the static ones.
TEST(GradNN, SymbolicBatchDim) {
  auto grads = [](Graph g, const std::vector<Tensor>& in, std::vector<int> wrt) {
    GraphBuilder b(g);
    int y = g.outputs[0];
    int dy = input(b, "dy", b.shape(y));
    g.outputs = append_gradients(g, y, wrt, dy);
    g.output_names.clear();
    for (size_t i = 0; i < wrt.size(); ++i) g.output_names.push_back(fmt::format("d{}", i));
    std::vector<Tensor> all = in;
    all.push_back(rnd(in[0].shape(), 99));
    return run_graph(g, all, {});
  };
  auto compare = [](const std::vector<Tensor>& a, const std::vector<Tensor>& b, const std::string& what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      for (int64_t j = 0; j < a[i].size(); ++j) EXPECT_NEAR(a[i].get(j), b[i].get(j), 1e-12) << what << " d" << i;
  };
  const Dim B = make_sym(0);
  for (bool training : {true, false}) {
    Shape xs = {3, 2, 5};
    std::vector<Tensor> in = {rnd(xs, 50), rnd({2}, 51), rnd({2}, 52)};
    Graph gs = batch_norm_graph(xs, training, 1e-5, B, 53), gc = batch_norm_graph(xs, training, 1e-5, 0, 53);
    compare(grads(gs, in, {gs.inputs[0], gs.inputs[1], gs.inputs[2]}),
            grads(gc, in, {gc.inputs[0], gc.inputs[1], gc.inputs[2]}), "batch_norm");
  }
  struct Case {
    std::string op;
    Attrs attrs;
  };
  for (const Case& c : std::vector<Case>{{"softmax", {{"axis", int64_t(0)}}},
                                         {"log_softmax", {{"axis", int64_t(0)}}},
                                         {"softmax", {}},
                                         {"layer_norm", {{"axes", Ints{0, 2}}}},
                                         {"layer_norm", {}},
                                         {"dropout", {{"p", 0.3}}}}) {
    std::vector<Graph> gr(2);
    for (int sym : {0, 1}) {
      Graph& g = gr[size_t(sym)];
      g.name = c.op;
      if (sym) g.symbols = {"B"};
      GraphBuilder b(g);
      int x = input(b, "x", {sym ? B : 3, 4, 2});
      g.outputs = {b.op(c.op, {x}, c.attrs)};
      g.output_names = {"y"};
    }
    std::vector<Tensor> in = {rnd({3, 4, 2}, 60)};
    compare(grads(gr[1], in, {gr[1].inputs[0]}), grads(gr[0], in, {gr[0].inputs[0]}), c.op);
  }
}

// dropout's gradient is dropout of dy with the same p and stream: mask / (1 - p), the
// mask the forward kernel drew for the same run seed.
TEST(GradNN, Dropout) {
  for (uint64_t seed : {0, 7}) {
    for (int64_t stream : {0, 3}) {
      Attrs a{{"p", 0.3}, {"stream", stream}};
      Shape xs = {5, 40};
      expect_op_gradient("dropout", {rnd(xs, 70)}, a, 1e-6, seed);
      expect_op_grad_of_grad("dropout", {rnd(xs, 71)}, a, 1e-6, seed);

      Graph g = one_op_graph("dropout", {rnd(xs, 72)}, a);
      g.outputs = append_gradients(g, g.outputs[0], {g.inputs[0]});
      g.output_names = {"dx"};
      Tensor dx = run_graph(g, {rnd(xs, 72)}, {}, RunOptions{seed})[0];
      Tensor ones(DType::F64, xs);
      for (int64_t i = 0; i < ones.size(); ++i) ones.set(i, 1.0);
      Tensor mask = run_op("dropout", {ones}, a, seed);  // mask / (1 - p)
      int64_t dropped = 0;
      for (int64_t i = 0; i < dx.size(); ++i) {
        EXPECT_DOUBLE_EQ(dx.get(i), mask.get(i)) << "seed " << seed << " stream " << stream << " at " << i;
        EXPECT_TRUE(mask.get(i) == 0 || std::abs(mask.get(i) - 1 / 0.7) < 1e-12);
        dropped += mask.get(i) == 0;
      }
      EXPECT_GT(dropped, 30);  // about 0.3 * 200 = 60
      EXPECT_LT(dropped, 90);
    }
  }
}

}  // namespace
}  // namespace starc::test
