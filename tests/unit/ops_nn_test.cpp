// softmax / log_softmax, batch_norm, layer_norm and dropout vs their formulas computed
// here directly, hard-coded PyTorch values, and shape-rule errors.
#include <cmath>

#include "compiler/ops/philox.h"
#include "tests/unit/op_test_util.h"

using namespace starc;
using namespace starc::test;

namespace {

std::string error_of(const std::string& op, std::vector<TensorType> in, Attrs attrs = {}) {
  try {
    infer_op(op, std::move(in), std::move(attrs));
  } catch (const OpError& e) {
    return e.what();
  }
  return "(no error)";
}

const Dim B = make_sym(0);

}  // namespace

// ---- softmax ------------------------------------------------------------------------

TEST(NN, SoftmaxLastAxis) {
  Tensor x = T({2, 3}, {1, 2, 3, -1, 0, 0.5});
  double s0 = std::exp(1) + std::exp(2) + std::exp(3), s1 = std::exp(-1) + std::exp(0) + std::exp(0.5);
  expect_near(run_op("softmax", {x}),
              {std::exp(1) / s0, std::exp(2) / s0, std::exp(3) / s0, std::exp(-1) / s1, 1 / s1, std::exp(0.5) / s1},
              1e-15);
  expect_near(
      run_op("log_softmax", {x}),
      {1 - std::log(s0), 2 - std::log(s0), 3 - std::log(s0), -1 - std::log(s1), -std::log(s1), 0.5 - std::log(s1)},
      1e-14);
}

TEST(NN, SoftmaxOtherAxes) {
  // [2,3,2] along axis 1 (middle): each (i, k) column of 3 values sums to 1.
  std::vector<double> v = {0.1, -2, 3, 0.5, 1, 1, -0.3, 4, 2, 2, 0, -1};
  Tensor x = T({2, 3, 2}, v);
  Tensor y = run_op("softmax", {x}, {{"axis", int64_t(1)}});
  Tensor ly = run_op("log_softmax", {x}, {{"axis", int64_t(-2)}});
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 2; ++k) {
      double s = 0;
      for (int j = 0; j < 3; ++j) s += std::exp(v[(i * 3 + j) * 2 + k]);
      for (int j = 0; j < 3; ++j) {
        int idx = (i * 3 + j) * 2 + k;
        EXPECT_NEAR(y.get(idx), std::exp(v[idx]) / s, 1e-15);
        EXPECT_NEAR(ly.get(idx), v[idx] - std::log(s), 1e-14);
      }
    }
  // Axis 0 of a [2,2].
  expect_near(run_op("softmax", {T({2, 2}, {0, 1, 0, 3})}, {{"axis", int64_t(0)}}),
              {0.5, 1 / (1 + std::exp(2)), 0.5, 1 / (1 + std::exp(-2))}, 1e-15);
  // A 0-d tensor: softmax 1, log_softmax 0 (PyTorch accepts axis 0 or -1).
  expect_near(run_op("softmax", {T({}, {7})}), {1});
  expect_near(run_op("log_softmax", {T({}, {7})}, {{"axis", int64_t(0)}}), {0});
}

TEST(NN, SoftmaxIsNumericallyStable) {
  Tensor x = T({3}, {1000, 1001, 1002}, DType::F32);
  double s = 1 + std::exp(1) + std::exp(2);
  expect_near(run_op("softmax", {x}), {1 / s, std::exp(1) / s, std::exp(2) / s}, 1e-6);
  expect_near(run_op("log_softmax", {x}), {-std::log(s), 1 - std::log(s), 2 - std::log(s)}, 1e-5);
  expect_near(run_op("log_softmax", {T({2}, {-1000, 0})}), {-1000, 0}, 1e-12);  // no log(0) = -inf
}

TEST(NN, SoftmaxShapeRules) {
  EXPECT_EQ(infer_op("softmax", {{DType::F32, {B, 10}}}).shape, (Shape{B, 10}));
  EXPECT_EQ(error_of("softmax", {{DType::F32, {4, 10}}}, {{"axis", int64_t(2)}}),
            "softmax: axis 2 is out of range for a tensor of rank 2");
  EXPECT_NE(error_of("log_softmax", {{DType::I64, {4}}}).find("floating-point"), std::string::npos);
  EXPECT_NE(error_of("softmax", {{DType::F32, {}}}, {{"axis", int64_t(1)}}).find("out of range"), std::string::npos);
}

// ---- batch_norm ---------------------------------------------------------------------

namespace {
// x = Int-like values / 4 on [2,3,2,2]: ((i*7) % 11 - 5) / 4.
Tensor bn_x() {
  Tensor t(DType::F64, {2, 3, 2, 2});
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, double((i * 7) % 11 - 5) / 4);
  return t;
}
const std::vector<double> kGamma = {1.0, 2.0, -0.5}, kBeta = {0.5, 0.0, 1.0}, kRMean = {0.1, -0.2, 0.3},
                          kRVar = {1.5, 0.5, 2.0};
std::vector<Tensor> bn_inputs() { return {bn_x(), T({3}, kGamma), T({3}, kBeta), T({3}, kRMean), T({3}, kRVar)}; }
}  // namespace

TEST(NN, BatchNormEvalUsesRunningStats) {
  Tensor x = bn_x();
  Tensor y = run_op("batch_norm", bn_inputs());
  for (int64_t i = 0; i < x.size(); ++i) {
    int c = int((i / 4) % 3);
    EXPECT_NEAR(y.get(i), kGamma[c] * (x.get(i) - kRMean[c]) / std::sqrt(kRVar[c] + 1e-5) + kBeta[c], 1e-14);
  }
  // torch 1.13: F.batch_norm(x, rm, rv, g, b, training=False, eps=1e-5) in float64.
  expect_near(y,
              {-0.6022667100361869, 0.8265975437144257, 0.010103684428361348, 1.4389679381789742,   1.27277947840464,
               -1.55561936249456,   3.39407860907904,   0.56567976817984,     1.4596182587270454,   0.8409013719790998,
               1.1944538786922116,  1.5480063854053234, 0.8265975437144257,   0.010103684428361348, 1.4389679381789742,
               0.6224740788929097,  -1.55561936249456,  3.39407860907904,     0.56567976817984,     -2.26271907271936,
               0.8409013719790998,  1.1944538786922116, 1.5480063854053234,   0.9292894986573778},
              1e-13);
}

TEST(NN, BatchNormTrainingUsesBatchStats) {
  Tensor x = bn_x();
  Tensor y = run_op("batch_norm", bn_inputs(), {{"training", true}, {"eps", 1e-3}});
  for (int c = 0; c < 3; ++c) {
    // Statistics over n and the two spatial axes: elements (n*3 + c)*4 + k.
    double m = 0, v = 0;
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 4; ++k) m += x.get((n * 3 + c) * 4 + k) / 8;
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 4; ++k) v += std::pow(x.get((n * 3 + c) * 4 + k) - m, 2) / 8;  // biased
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 4; ++k) {
        int i = (n * 3 + c) * 4 + k;
        EXPECT_NEAR(y.get(i), kGamma[c] * (x.get(i) - m) / std::sqrt(v + 1e-3) + kBeta[c], 1e-14);
      }
  }
  // torch 1.13: F.batch_norm(x, rm, rv, g, b, training=True, eps=1e-5) in float64.
  expect_near(run_op("batch_norm", bn_inputs(), {{"training", true}}),
              {-1.2386238590972969,
               0.8779617084994125,
               -0.33151575869870725,
               1.7850698088980022,
               0.778200414685749,
               -1.988734393085803,
               2.8534015205144128,
               0.086466712742861,
               1.4685176289571307,
               0.3753098280571593,
               1.0,
               1.6246901719428408,
               0.8779617084994125,
               -0.33151575869870725,
               1.7850698088980022,
               0.5755923416998825,
               -1.988734393085803,
               2.8534015205144128,
               0.086466712742861,
               -2.680468095028691,
               0.3753098280571593,
               1.0,
               1.6246901719428408,
               0.5314823710428696},
              1e-13);
  // Rank 2 ([N,C], BatchNorm1d on features): per-column statistics.
  Tensor y2 =
      run_op("batch_norm", {T({2, 2}, {1, 10, 3, 30}), T({2}, {1, 1}), T({2}, {0, 0}), T({2}, {0, 0}), T({2}, {1, 1})},
             {{"training", true}, {"eps", 0.0}});
  expect_near(y2, {-1, -1, 1, 1}, 1e-12);
}

TEST(NN, BatchNormShapeErrors) {
  TensorType x{DType::F32, {B, 3, 8}}, c3{DType::F32, {3}}, c4{DType::F32, {4}};
  EXPECT_EQ(infer_op("batch_norm", {x, c3, c3, c3, c3}).shape, (Shape{B, 3, 8}));
  EXPECT_EQ(infer_op("batch_norm", {x, c3, c3, c3, c3}, {{"training", true}}).shape, (Shape{B, 3, 8}));
  EXPECT_EQ(error_of("batch_norm", {{DType::F32, {2, 3, 8}}, c3, c4, c3, c3}),
            "batch_norm: beta must have shape [C] = [3] for input f32[2,3,8], got f32[4]");
  EXPECT_NE(error_of("batch_norm", {x, c3, c3, {DType::F32, {1, 3}}, c3}).find("running_mean must have shape [C]"),
            std::string::npos);
  EXPECT_NE(error_of("batch_norm", {x, c3, c3, c3, {DType::F64, {3}}}).find("running_var has element type f64"),
            std::string::npos);
  EXPECT_NE(error_of("batch_norm", {{DType::F32, {3}}, c3, c3, c3, c3}).find("rank >= 2"), std::string::npos);
  EXPECT_NE(error_of("batch_norm", {{DType::F32, {2, B}}, c3, c3, c3, c3}).find("channel dim must be static"),
            std::string::npos);
  EXPECT_NE(error_of("batch_norm", {{DType::F32, {1, 3}}, c3, c3, c3, c3}, {{"training", true}})
                .find("more than 1 value per channel"),
            std::string::npos);
}

// ---- layer_norm ---------------------------------------------------------------------

TEST(NN, LayerNormLastAxis) {
  Tensor y = run_op("layer_norm", {T({2, 3}, {1, 2, 3, 10, 10, 40})});
  double s0 = std::sqrt(2.0 / 3 + 1e-5), s1 = std::sqrt(200.0 + 1e-5);  // biased variances 2/3 and 200
  expect_near(y, {-1 / s0, 0, 1 / s0, -10 / s1, -10 / s1, 20 / s1}, 1e-12);
}

TEST(NN, LayerNormSeveralAxes) {
  std::vector<double> v = {0.5, -1, 2, 3, 0, 1, -2, 4, 1.5, 2.5, -0.5, 0.25};
  Tensor x = T({2, 3, 2}, v);
  for (Ints axes : {Ints{1, 2}, Ints{-1, -2}, Ints{2, 1}}) {
    Tensor y = run_op("layer_norm", {x}, {{"axes", axes}, {"eps", 1e-3}});
    for (int n = 0; n < 2; ++n) {
      double m = 0, var = 0;
      for (int j = 0; j < 6; ++j) m += v[n * 6 + j] / 6;
      for (int j = 0; j < 6; ++j) var += (v[n * 6 + j] - m) * (v[n * 6 + j] - m) / 6;
      for (int j = 0; j < 6; ++j) EXPECT_NEAR(y.get(n * 6 + j), (v[n * 6 + j] - m) / std::sqrt(var + 1e-3), 1e-13);
    }
  }
  // Over axis 0 only: statistics per (j, k) pair of the two rows.
  Tensor y0 = run_op("layer_norm", {x}, {{"axes", Ints{0}}, {"eps", 0.0}});
  for (int j = 0; j < 6; ++j) {
    double a = v[j], b = v[6 + j];
    if (a == b) continue;
    EXPECT_NEAR(y0.get(j), a < b ? -1 : 1, 1e-12);
    EXPECT_NEAR(y0.get(6 + j), a < b ? 1 : -1, 1e-12);
  }
  // Float32 with a symbolic batch dim in the shape rule.
  EXPECT_EQ(infer_op("layer_norm", {{DType::F32, {B, 5, 7}}}, {{"axes", Ints{1, 2}}}).shape, (Shape{B, 5, 7}));
}

TEST(NN, LayerNormErrors) {
  EXPECT_EQ(error_of("layer_norm", {{DType::F32, {4, 5}}}, {{"axes", Ints{1, -1}}}),
            "layer_norm: axis -1 is listed twice");
  EXPECT_EQ(error_of("layer_norm", {{DType::F32, {4, 5}}}, {{"axes", Ints{2}}}),
            "layer_norm: axis 2 is out of range for a tensor of rank 2");
  EXPECT_NE(error_of("layer_norm", {{DType::I64, {4, 5}}}).find("floating-point"), std::string::npos);
}

// ---- dropout ------------------------------------------------------------------------

TEST(NN, DropoutMaskFollowsPhilox) {
  Tensor x(DType::F64, {4, 25});
  for (int64_t i = 0; i < x.size(); ++i) x.set(i, double(i) - 37.5);
  double p = 0.3;
  Tensor y = run_op("dropout", {x}, {{"p", p}, {"stream", int64_t(5)}}, /*seed=*/42);
  for (int64_t i = 0; i < x.size(); ++i) {
    bool keep = uniform01(42, 5, uint64_t(i)) >= p;
    EXPECT_DOUBLE_EQ(y.get(i), keep ? x.get(i) / (1 - p) : 0.0) << i;
  }
  // u == p keeps the element (mask is u >= p): take p equal to element 0's draw.
  double p0 = uniform01(42, 5, 0);
  EXPECT_DOUBLE_EQ(run_op("dropout", {x}, {{"p", p0}, {"stream", int64_t(5)}}, 42).get(0), x.get(0) / (1 - p0));
  // Deterministic for a given (seed, stream); other seeds or streams give other masks.
  expect_near(
      run_op("dropout", {x}, {{"p", p}, {"stream", int64_t(5)}}, 42),
      [&] {
        std::vector<double> v;
        for (int64_t i = 0; i < y.size(); ++i) v.push_back(y.get(i));
        return v;
      }(),
      0.0);
  auto differs = [&](const Tensor& z) {
    for (int64_t i = 0; i < z.size(); ++i)
      if (z.get(i) != y.get(i)) return true;
    return false;
  };
  EXPECT_TRUE(differs(run_op("dropout", {x}, {{"p", p}, {"stream", int64_t(6)}}, 42)));
  EXPECT_TRUE(differs(run_op("dropout", {x}, {{"p", p}, {"stream", int64_t(5)}}, 43)));
}

TEST(NN, DropoutStatistics) {
  const int64_t n = 100000;
  Tensor x(DType::F32, {n});
  for (int64_t i = 0; i < n; ++i) x.set(i, 1.0);
  for (double p : {0.1, 0.5, 0.9}) {
    Tensor y = run_op("dropout", {x}, {{"p", p}}, 7);
    int64_t dropped = 0;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      double v = y.get(i);
      if (v == 0)
        ++dropped;
      else
        EXPECT_FLOAT_EQ(float(v), float(1 / (1 - p)));
      sum += v;
    }
    double sd = std::sqrt(p * (1 - p) / double(n));  // of the dropped fraction
    EXPECT_NEAR(double(dropped) / double(n), p, 5 * sd) << "p=" << p;
    EXPECT_NEAR(sum / double(n), 1.0, 5 * sd / (1 - p)) << "p=" << p;  // unbiased in expectation
  }
  // p = 0 is the identity.
  Tensor x2 = T({5}, {1, -2, 3, 0.5, 7});
  expect_near(run_op("dropout", {x2}, {{"p", 0.0}}, 3), {1, -2, 3, 0.5, 7}, 0.0);
}

TEST(NN, DropoutErrors) {
  EXPECT_EQ(infer_op("dropout", {{DType::F32, {B, 16}}}, {{"p", 0.25}}).shape, (Shape{B, 16}));
  EXPECT_EQ(error_of("dropout", {{DType::F32, {4}}}, {{"p", 1.0}}), "dropout: p must be in [0, 1), got 1");
  EXPECT_EQ(error_of("dropout", {{DType::F32, {4}}}, {{"p", -0.1}}), "dropout: p must be in [0, 1), got -0.1");
  EXPECT_NE(error_of("dropout", {{DType::F32, {4}}}).find("missing required argument 'p'"), std::string::npos);
  EXPECT_NE(error_of("dropout", {{DType::I64, {4}}}, {{"p", 0.5}}).find("floating-point"), std::string::npos);
}
