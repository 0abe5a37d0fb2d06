// Gradients of the elementwise ops against central finite differences (f64).
#include "compiler/autodiff/autodiff.h"
#include "grad_test_util.h"
#include "op_test_util.h"

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
