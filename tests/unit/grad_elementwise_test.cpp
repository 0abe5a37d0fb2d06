// Gradients of the elementwise ops against central finite differences (f64).
#include <limits>

#include "compiler/autodiff/autodiff.h"
#include "grad_test_util.h"
#include "op_test_util.h"
#include "runtime/interpreter.h"

namespace starc::test {
namespace {

TEST(GradElementwise, UnaryOps) {
  for (const char* op :
       {"neg", "exp", "tanh", "sigmoid", "relu", "leaky_relu", "elu", "softplus", "abs", "sin", "cos", "square"})
    for (Shape s : {Shape{}, Shape{7}, Shape{3, 5}}) expect_op_gradient(op, {random_tensor(s, DType::F64, 11, -2, 2)});
  // Domain-restricted ops on positive inputs.
  for (const char* op : {"log", "sqrt", "rsqrt"})
    expect_op_gradient(op, {random_tensor({4, 3}, DType::F64, 12, 0.3, 3)});
  expect_op_gradient("leaky_relu", {random_tensor({9}, DType::F64, 13, -2, 2)}, {{"alpha", 0.2}});
  expect_op_gradient("elu", {random_tensor({9}, DType::F64, 14, -2, 2)}, {{"alpha", 0.7}});
}

// erf and gelu: finite differences in f64 over [-4, 4] (gelu's tail and both forms), the
// rules' own gradients (they are graph code: erf's uses exp, gelu's erf and sigmoid), and
// PyTorch 1.13's autograd values, d/dx sum(f(x)) in float64, special values included.
TEST(GradElementwise, ErfAndGelu) {
  const Attrs tanh_form = {{"approximate", std::string("tanh")}};
  for (Shape s : {Shape{}, Shape{7}, Shape{3, 5}})
    for (const char* op : {"erf", "gelu"}) expect_op_gradient(op, {random_tensor(s, DType::F64, 15, -4, 4)});
  expect_op_gradient("gelu", {random_tensor({3, 5}, DType::F64, 16, -4, 4)}, tanh_form);
  expect_op_grad_of_grad("erf", {random_tensor({7}, DType::F64, 17, -3, 3)});
  expect_op_grad_of_grad("gelu", {random_tensor({7}, DType::F64, 18, -3, 3)});
  expect_op_grad_of_grad("gelu", {random_tensor({7}, DType::F64, 19, -3, 3)}, tanh_form);

  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = T({13}, {-3.0, -1.5, -0.5, 0.25, 1.0, 2.5, -inf, inf, nan, -0.0, 0.0, -40.0, 40.0});
  struct Want {
    const char* op;
    Attrs attrs;
    std::vector<double> dx;
  };
  std::vector<Want> wants = {
      {"erf",
       {},
       {0.00013925305194674786, 0.11893028922362936, 0.8787825789354448, 1.0600141293761143, 0.4151074974205947,
        0.00217828423035271, 0, 0, nan, 1.1283791670955126, 1.1283791670955126, 0, 0}},
      {"gelu",
       {},
       {-0.01194564720418392, -0.1274691922299796, 0.13250487534383712, 0.695373354883636, 1.0833154705876864,
        1.037611085908145, nan, nan, nan, 0.5, 0.5, 0, 1}},
      {"gelu",
       tanh_form,
       {-0.011584166630969648, -0.12771079315143308, 0.13263009646535764, 0.6953540951510604, 1.0829640838457826,
        1.037951576212666, nan, nan, nan, 0.5, 0.5, 0, 1}},
  };
  for (const Want& w : wants) {
    Graph g = one_op_graph(w.op, {x}, w.attrs);
    GraphBuilder b(g);
    g.outputs = append_gradients(g, b.sum(g.outputs[0], {}, false), {g.inputs[0]});
    Tensor dx = run_graph(g, {x}, {})[0];
    for (int64_t i = 0; i < x.size(); ++i) {
      double got = dx.get(i), want = w.dx[size_t(i)];
      std::string at = std::string(w.op) + (w.attrs.empty() ? "" : " tanh") + " at " + std::to_string(x.get(i));
      if (std::isnan(want))
        EXPECT_TRUE(std::isnan(got)) << at << ": " << got;
      else
        EXPECT_NEAR(got, want, 1e-14 * std::max(1.0, std::abs(want))) << at;
    }
  }
}

TEST(GradElementwise, BinaryOpsWithBroadcasting) {
  std::vector<std::pair<Shape, Shape>> shapes = {{{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{}, {5}}};
  for (const char* op : {"add", "sub", "mul", "div", "maximum", "minimum"})
    for (auto& [sa, sb] : shapes)
      expect_op_gradient(op, {random_tensor(sa, DType::F64, 21, 0.5, 2), random_tensor(sb, DType::F64, 22, -2, -0.5)});
  for (auto& [sa, sb] : shapes)
    expect_op_gradient("pow", {random_tensor(sa, DType::F64, 23, 0.5, 2), random_tensor(sb, DType::F64, 24, -2, 2)});
}

TEST(GradElementwise, WhereAndCast) {
  Tensor c = run_op("gt", {random_tensor({3, 4}, DType::F64, 31), T({}, {0})});
  expect_op_gradient("where", {c, random_tensor({3, 4}, DType::F64, 32), random_tensor({4}, DType::F64, 33)});
  expect_op_gradient("cast", {random_tensor({3, 4}, DType::F64, 34)}, {{"dtype", DType::F64}});
}

TEST(GradElementwise, FanOutAccumulates) {
  // y = x * x + exp(x): x feeds three uses.
  Graph g;
  GraphBuilder b(g);
  int x = b.op("input", {}, {{"name", std::string("x")}, {"dtype", DType::F64}, {"shape", Ints{5}}});
  g.inputs = {x};
  g.outputs = {b.add(b.mul(x, x), b.op("exp", {x}))};
  expect_gradcheck(g, {random_tensor({5}, DType::F64, 41)});
}

TEST(GradElementwise, NonDifferentiablePathIsAnError) {
  Graph g;
  GraphBuilder b(g);
  int x = b.op("input", {}, {{"name", std::string("x")}, {"dtype", DType::F64}, {"shape", Ints{5}}});
  int idx = b.op("argmax", {x}, {{"axis", int64_t(0)}});
  int y = b.cast(idx, DType::F64);
  expect_error([&] { append_gradients(g, y, {x}); }, {"with respect to 'x'", "argmax", "no gradient"});
  int i = b.op("input", {}, {{"name", std::string("i")}, {"dtype", DType::I64}, {"shape", Ints{5}}});
  expect_error([&] { append_gradients(g, y, {i}); }, {"'i'", "only float tensors"});
  // Unconnected: zeros.
  int z = b.op("input", {}, {{"name", std::string("z")}, {"dtype", DType::F64}, {"shape", Ints{2}}});
  int s = b.sum(b.mul(x, x), {}, false);
  EXPECT_EQ(g.node(append_gradients(g, s, {z})[0]).op->name, "full");
}

}  // namespace
}  // namespace starc::test
