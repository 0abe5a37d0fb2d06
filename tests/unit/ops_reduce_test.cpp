#include <cmath>
#include <limits>
#include <random>

#include "tests/unit/op_test_util.h"

using namespace starc;
using namespace starc::test;

namespace {

// Independent reference: explicit triple loop over a [D0,D1,D2] tensor; each output cell
// collects its values, then the reduction is applied to the collected list.
std::vector<double> reduce3(const Tensor& x, unsigned mask, const std::string& op) {
  int64_t D[3] = {x.dim(0), x.dim(1), x.dim(2)};
  int64_t O[3];
  for (int i = 0; i < 3; ++i) O[i] = (mask >> i & 1) ? 1 : D[i];
  std::vector<std::vector<double>> cells(size_t(O[0] * O[1] * O[2]));
  for (int64_t i = 0; i < D[0]; ++i)
    for (int64_t j = 0; j < D[1]; ++j)
      for (int64_t k = 0; k < D[2]; ++k) {
        int64_t oi = (mask & 1) ? 0 : i, oj = (mask & 2) ? 0 : j, ok = (mask & 4) ? 0 : k;
        cells[size_t((oi * O[1] + oj) * O[2] + ok)].push_back(x.get((i * D[1] + j) * D[2] + k));
      }
  std::vector<double> out;
  for (auto& c : cells) {
    double r = 0;
    if (op == "sum" || op == "mean") {
      for (double v : c) r += v;
      if (op == "mean") r /= double(c.size());
    } else if (op == "max") {
      r = *std::max_element(c.begin(), c.end());
    } else if (op == "min") {
      r = *std::min_element(c.begin(), c.end());
    } else if (op == "logsumexp") {
      for (double v : c) r += std::exp(v);
      r = std::log(r);
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace

TEST(ReduceOps, HandComputed) {
  Tensor x = T({2, 3}, {1, 5, 3, 4, 2, 6});
  expect_near(run_op("sum", {x}), {21});
  expect_near(run_op("sum", {x}, {{"axes", Ints{0}}}), {5, 7, 9});
  expect_near(run_op("sum", {x}, {{"axes", Ints{-1}}}), {9, 12});
  expect_near(run_op("mean", {x}, {{"axes", Ints{1}}}), {3, 4});
  expect_near(run_op("max", {x}, {{"axes", Ints{0}}}), {4, 5, 6});
  expect_near(run_op("min", {x}, {{"axes", Ints{1}}}), {1, 2});
  expect_near(run_op("logsumexp", {x}, {{"axes", Ints{1}}}), {std::log(std::exp(1.0) + std::exp(5.0) + std::exp(3.0)),
                                                              std::log(std::exp(4.0) + std::exp(2.0) + std::exp(6.0))});
  // A single int promotes to an axes list.
  expect_near(run_op("sum", {x}, {{"axes", int64_t(1)}}), {9, 12});
  // Scalar input with the default axes.
  expect_near(run_op("sum", {T({}, {2.5})}), {2.5});
}

TEST(ReduceOps, OutputShapes) {
  Tensor x = random_tensor({2, 3, 4}, DType::F64, 1, -3, 3);
  EXPECT_EQ(run_op("sum", {x}).shape(), Shape{});
  EXPECT_EQ(run_op("sum", {x}, {{"keepdims", true}}).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(run_op("mean", {x}, {{"axes", Ints{0, 2}}}).shape(), (Shape{3}));
  EXPECT_EQ(run_op("mean", {x}, {{"axes", Ints{2, 0}}, {"keepdims", true}}).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(run_op("max", {x}, {{"axes", Ints{-2}}}).shape(), (Shape{2, 4}));
  EXPECT_EQ(run_op("argmax", {x}, {{"axis", int64_t(1)}}).shape(), (Shape{2, 4}));
  EXPECT_EQ(run_op("argmax", {x}, {{"axis", int64_t(1)}, {"keepdims", true}}).shape(), (Shape{2, 1, 4}));
}

TEST(ReduceOps, AllAxisSubsetsMatchNaiveLoops) {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = random_tensor({3, 4, 5}, dt, 7, -3, 3);
    double tol = dt == DType::F32 ? 1e-4 : 1e-11;
    for (std::string op : {"sum", "mean", "max", "min", "logsumexp"}) {
      for (unsigned mask = 0; mask < 8; ++mask) {
        Ints axes;
        for (int i = 0; i < 3; ++i)
          if (mask >> i & 1) axes.push_back(i - (i % 2) * 3);  // mix positive and negative axes
        for (bool keep : {false, true}) {
          if (mask == 0 && !keep) continue;  // empty axes = all axes, handled below
          Tensor got = run_op(op, {x}, {{"axes", axes}, {"keepdims", keep}});
          EXPECT_EQ(got.dtype(), dt);
          SCOPED_TRACE(op + " mask " + std::to_string(mask));
          std::vector<double> want = reduce3(x, mask == 0 ? 7 : mask, op);  // empty axes = all
          expect_near(got, want, tol * std::max(1.0, std::abs(want[0])));
        }
      }
      expect_near(run_op(op, {x}), reduce3(x, 7, op), tol * 10);
    }
  }
}

TEST(ReduceOps, IntegerSumMaxMin) {
  Tensor x = T({2, 3}, {3, -7, 2, 10, 0, -1}, DType::I64);
  Tensor s = run_op("sum", {x}, {{"axes", Ints{1}}});
  EXPECT_EQ(s.dtype(), DType::I64);
  EXPECT_EQ(s.data<int64_t>()[0], -2);
  EXPECT_EQ(s.data<int64_t>()[1], 9);
  expect_near(run_op("max", {x}), {10});
  expect_near(run_op("min", {x}, {{"axes", Ints{0}}}), {3, -7, -1});
  // Large values stay exact (no float round trip).
  int64_t big = (int64_t(1) << 60) + 1;
  Tensor y(DType::I64, {2});
  y.data<int64_t>()[0] = big;
  y.data<int64_t>()[1] = 2;
  EXPECT_EQ(run_op("sum", {y}).data<int64_t>()[0], big + 2);
  EXPECT_EQ(run_op("max", {y}).data<int64_t>()[0], big);
  Tensor am = run_op("argmax", {x}, {{"axis", int64_t(-1)}});
  EXPECT_EQ(am.data<int64_t>()[0], 0);
  EXPECT_EQ(am.data<int64_t>()[1], 0);
}

TEST(ReduceOps, LogSumExpIsStable) {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor big = T({3}, {1000, 1000, 1000}, dt);
    expect_near(run_op("logsumexp", {big}), {1000 + std::log(3.0)}, 1e-3);
    Tensor small = T({2}, {-1000, -1001}, dt);
    expect_near(run_op("logsumexp", {small}), {-1000 + std::log1p(std::exp(-1.0))}, 1e-3);
    double inf = std::numeric_limits<double>::infinity();
    Tensor ninf = T({2}, {-inf, -inf}, dt);
    EXPECT_EQ(run_op("logsumexp", {ninf}).get(0), -inf);
    Tensor mixed = T({3}, {-inf, 0, 0}, dt);
    expect_near(run_op("logsumexp", {mixed}), {std::log(2.0)}, 1e-6);
    Tensor pinf = T({2}, {inf, 1}, dt);
    EXPECT_EQ(run_op("logsumexp", {pinf}).get(0), inf);
  }
}

TEST(ReduceOps, MaxMinPropagateNaN) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = T({2, 3}, {1, nan, 3, 4, 5, 6});
  Tensor m = run_op("max", {x}, {{"axes", Ints{1}}});
  EXPECT_TRUE(std::isnan(m.get(0)));
  EXPECT_EQ(m.get(1), 6);
  Tensor n = run_op("min", {x}, {{"axes", Ints{1}}});
  EXPECT_TRUE(std::isnan(n.get(0)));
  EXPECT_EQ(n.get(1), 4);
  Tensor am = run_op("argmax", {x}, {{"axis", int64_t(1)}});
  EXPECT_EQ(am.data<int64_t>()[0], 1);  // NumPy: the first NaN
}

TEST(ReduceOps, ArgmaxFirstOfTies) {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = T({2, 4}, {1, 3, 3, 0, 7, 2, 7, 7}, dt);
    Tensor a1 = run_op("argmax", {x}, {{"axis", int64_t(1)}});
    EXPECT_EQ(a1.dtype(), DType::I64);
    expect_near(a1, {1, 0});
    expect_near(run_op("argmax", {x}, {{"axis", int64_t(0)}}), {1, 0, 1, 1});
  }
  // Against a naive loop along the middle axis of random data.
  Tensor x = random_tensor({3, 5, 4}, DType::F32, 3, -3, 3);
  Tensor a = run_op("argmax", {x}, {{"axis", int64_t(-2)}});
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 4; ++k) {
      int best = 0;
      for (int j = 1; j < 5; ++j)
        if (x.get((i * 5 + j) * 4 + k) > x.get((i * 5 + best) * 4 + k)) best = j;
      EXPECT_EQ(a.data<int64_t>()[i * 4 + k], best);
    }
}

TEST(ReduceOps, SymbolicDims) {
  Dim B = make_sym(0);
  EXPECT_EQ(infer_op("sum", {{DType::F32, {B, 3}}}, {{"axes", Ints{1}}}).shape, (Shape{B}));
  EXPECT_EQ(infer_op("sum", {{DType::F32, {B, 3}}}, {{"axes", Ints{0}}}).shape, (Shape{3}));
  EXPECT_EQ(infer_op("mean", {{DType::F32, {B, 3}}}, {{"keepdims", true}}).shape, (Shape{1, 1}));
  EXPECT_EQ(infer_op("max", {{DType::F32, {B, 3}}}, {{"axes", Ints{0}}, {"keepdims", true}}).shape, (Shape{1, 3}));
  EXPECT_EQ(infer_op("argmax", {{DType::F32, {B, 3}}}, {{"axis", int64_t(1)}}), (TensorType{DType::I64, {B}}));
  EXPECT_EQ(infer_op("argmax", {{DType::F32, {B, 3}}}, {{"axis", int64_t(0)}}).shape, (Shape{3}));
}

TEST(ReduceOps, Errors) {
  TensorType x{DType::F32, {2, 3}};
  std::string m = what([&] { infer_op("sum", {x}, {{"axes", Ints{1, -1}}}); });
  EXPECT_NE(m.find("sum: axis 1 appears twice"), std::string::npos) << m;
  m = what([&] { infer_op("mean", {x}, {{"axes", Ints{2}}}); });
  EXPECT_NE(m.find("mean: axis 2 is out of range"), std::string::npos) << m;
  EXPECT_THROW(infer_op("max", {x}, {{"axes", Ints{-3}}}), OpError);
  m = what([&] { infer_op("mean", {{DType::I64, {4}}}); });
  EXPECT_NE(m.find("mean: expected a floating-point tensor, got i64[4]"), std::string::npos) << m;
  EXPECT_THROW(infer_op("logsumexp", {{DType::I64, {4}}}), OpError);
  EXPECT_THROW(infer_op("sum", {{DType::Bool, {4}}}), OpError);
  EXPECT_THROW(infer_op("argmax", {{DType::Bool, {4}}}, {{"axis", int64_t(0)}}), OpError);
  m = what([&] { infer_op("max", {{DType::F32, {3, 0}}}, {{"axes", Ints{1}}}); });
  EXPECT_NE(m.find("f32[3,0]"), std::string::npos) << m;
  EXPECT_THROW(infer_op("argmax", {{DType::F32, {0, 2}}}, {{"axis", int64_t(0)}}), OpError);
  EXPECT_THROW(infer_op("argmax", {x}, {{"axis", int64_t(2)}}), OpError);
  m = what([&] { infer_op("argmax", {x}); });
  EXPECT_NE(m.find("missing required argument 'axis'"), std::string::npos) << m;
  // Empty sum is 0, as in NumPy.
  expect_near(run_op("sum", {Tensor(DType::F64, {3, 0})}, {{"axes", Ints{1}}}), {0, 0, 0});
}
