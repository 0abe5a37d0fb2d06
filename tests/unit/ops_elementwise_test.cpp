#include <cmath>

#include "tests/unit/op_test_util.h"

using namespace starc;
using namespace starc::test;

TEST(Elementwise, UnaryMatchesFormula) {
  Tensor x = T({4}, {-2.0, -0.5, 0.5, 3.0});
  expect_near(run_op("relu", {x}), {0, 0, 0.5, 3});
  expect_near(run_op("exp", {x}), {std::exp(-2.0), std::exp(-0.5), std::exp(0.5), std::exp(3.0)});
  expect_near(run_op("sigmoid", {x}),
              {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(0.5)), 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-3.0))});
  expect_near(run_op("leaky_relu", {x}, {{"alpha", 0.1}}), {-0.2, -0.05, 0.5, 3});
  expect_near(run_op("elu", {x}), {std::expm1(-2.0), std::expm1(-0.5), 0.5, 3});
  expect_near(run_op("softplus", {x}), {std::log1p(std::exp(-2.0)), std::log1p(std::exp(-0.5)),
                                        std::log1p(std::exp(0.5)), std::log1p(std::exp(3.0))});
  expect_near(run_op("abs", {x}), {2, 0.5, 0.5, 3});
  expect_near(run_op("neg", {x}), {2, 0.5, -0.5, -3});
  expect_near(run_op("square", {x}), {4, 0.25, 0.25, 9});
}

TEST(Elementwise, BinaryBroadcasts) {
  Tensor a = T({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = T({3}, {10, 20, 30});
  expect_near(run_op("add", {a, b}), {11, 22, 33, 14, 25, 36});
  Tensor c = T({2, 1}, {2, 3});
  expect_near(run_op("mul", {a, c}), {2, 4, 6, 12, 15, 18});
  expect_near(run_op("sub", {b, a}), {9, 18, 27, 6, 15, 24});
  expect_near(run_op("div", {a, c}), {0.5, 1, 1.5, 4.0 / 3, 5.0 / 3, 2});
  expect_near(run_op("maximum", {a, T({}, {3.5})}), {3.5, 3.5, 3.5, 4, 5, 6});
  Tensor lt = run_op("lt", {a, T({}, {3.5})});
  EXPECT_EQ(lt.dtype(), DType::Bool);
  expect_near(lt, {1, 1, 1, 0, 0, 0});
  expect_near(run_op("where", {lt, a, T({}, {0})}), {1, 2, 3, 0, 0, 0});
}

TEST(Elementwise, ShapeErrorsNameBothShapes) {
  try {
    infer_op("add", {{DType::F32, {2, 3}}, {DType::F32, {4}}});
    FAIL() << "expected an error";
  } catch (const OpError& e) {
    EXPECT_NE(std::string(e.what()).find("f32[2,3] and f32[4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(infer_op("add", {{DType::F32, {3}}, {DType::F64, {3}}}), OpError);
  EXPECT_THROW(infer_op("where", {{DType::F32, {3}}, {DType::F32, {3}}, {DType::F32, {3}}}), OpError);
  // A symbolic dim broadcasts against 1 and itself.
  TensorType t = infer_op("add", {{DType::F32, {make_sym(0), 3}}, {DType::F32, {1, 3}}});
  EXPECT_EQ(t.shape[0], make_sym(0));
}
