#include <cmath>
#include <limits>

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

// erf and gelu (both of PyTorch's forms) against PyTorch 1.13 in float64: torch.erf(x),
// F.gelu(x), F.gelu(x, approximate="tanh"). Relative 1e-14: the reference computes gelu
// as x * 0.5 * erfc(-x / sqrt 2) and x * sigmoid(2u), PyTorch as x * 0.5 * (1 + erf(...))
// and 0.5 * x * (1 + tanh(u)), which agree to rounding at these points.
TEST(Elementwise, ErfAndGeluMatchPyTorch) {
  Tensor x = T({6}, {-3.0, -1.5, -0.5, 0.25, 1.0, 2.5});
  auto expect_rel = [](const Tensor& got, const std::vector<double>& want, const char* what) {
    ASSERT_EQ(got.size(), int64_t(want.size()));
    for (int64_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got.get(i), want[size_t(i)], 1e-14 * std::abs(want[size_t(i)])) << what << " at " << i;
  };
  expect_rel(run_op("erf", {x}),
             {-0.9999779095030014, -0.9661051464753108, -0.5204998778130465, 0.27632639016823696, 0.8427007929497149,
              0.999593047982555},
             "erf");
  expect_rel(run_op("gelu", {x}),
             {-0.00404969409489031, -0.10021080190328704, -0.15426876936299344, 0.14967658142073093, 0.841344746068543,
              2.4844758366855597},
             "gelu");
  expect_rel(run_op("gelu", {x}, {{"approximate", std::string("tanh")}}),
             {-0.0036373920817729943, -0.10042842301976707, -0.15428599017485606, 0.149675350701685, 0.8411919906082768,
              2.484915733910001},
             "gelu tanh");
  // The negative tail: PyTorch's 1 + erf cancels (gelu(-10) is -0 there), the reference
  // keeps the value: -10 * Phi(-10) = -7.619853024160527e-23.
  EXPECT_NEAR(run_op("gelu", {T({}, {-10.0})}).get(0), -7.619853024160527e-23, 1e-35);
}

// Special values as PyTorch 1.13 gives them (float64 and float32): erf(+-inf) = +-1,
// erf(-0) = -0; gelu(-inf) = NaN in both forms (-inf * 0, PyTorch's value), gelu(inf) =
// inf, gelu(-0) = -0, and a far negative x gives -0.
TEST(Elementwise, ErfAndGeluSpecialValuesAsPyTorch) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::F64, DType::F32}) {
    Tensor x = T({7}, {-inf, inf, nan, -0.0, 0.0, -40.0, 40.0}, dt);
    struct Want {
      const char* op;
      Attrs attrs;
      std::vector<double> y;
    };
    std::vector<Want> wants = {
        {"erf", {}, {-1, 1, nan, -0.0, 0.0, -1, 1}},
        {"gelu", {}, {nan, inf, nan, -0.0, 0.0, -0.0, 40}},
        {"gelu", {{"approximate", std::string("tanh")}}, {nan, inf, nan, -0.0, 0.0, -0.0, 40}},
    };
    for (const Want& w : wants) {
      Tensor y = run_op(w.op, {x}, w.attrs);
      for (int64_t i = 0; i < y.size(); ++i) {
        double got = y.get(i), want = w.y[size_t(i)];
        std::string at = std::string(w.op) + (w.attrs.empty() ? "" : " tanh") + " " + std::string(dtype_name(dt)) +
                         " at " + std::to_string(x.get(i));
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got)) << at << ": " << got;
        } else {
          EXPECT_EQ(got, want) << at;
          EXPECT_EQ(std::signbit(got), std::signbit(want)) << at << ": " << got;
        }
      }
    }
  }
}

TEST(Elementwise, GeluApproximateMustBeNoneOrTanh) {
  EXPECT_EQ(what([] { infer_op("gelu", {{DType::F32, {3}}}, {{"approximate", std::string("fast")}}); }),
            "gelu: approximate must be \"none\" or \"tanh\", got \"fast\"");
  EXPECT_EQ(what([] { infer_op("erf", {{DType::I64, {3}}}); }), "erf: expected a floating-point tensor, got i64[3]");
  EXPECT_EQ(what([] { infer_op("gelu", {{DType::I64, {3}}}); }), "gelu: expected a floating-point tensor, got i64[3]");
}
