// cumsum and argsort (compiler/ops/sort_scan.cpp) on the reference kernels: PyTorch 1.13's
// values (the torch call above each), special values, and the shape-rule errors.
#include <cmath>

#include "op_test_util.h"

namespace starc::test {
namespace {

#define EXPECT_MSG_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

const double kNan = std::nan(""), kInf = INFINITY;

Tensor cumsum(const Tensor& x, int64_t axis, bool reverse = false, bool exclusive = false) {
  return run_op("cumsum", {x}, {{"axis", axis}, {"reverse", reverse}, {"exclusive", exclusive}});
}

// torch.cumsum(x, 1) for x = [[1, 5, 2], [4, 3, 6]]; torch.cumsum(y.flip(0), 0).flip(0)
// (reverse) and cumsum(y) - y (exclusive) for y = [1, 2, 3, 4].
TEST(SortScanOps, CumsumAsTorch) {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    Tensor x = T({2, 3}, {1, 5, 2, 4, 3, 6}, dt);
    expect_near(cumsum(x, 1), {1, 6, 8, 4, 7, 13});
    expect_near(cumsum(x, -2), {1, 5, 2, 5, 8, 8});
    Tensor y = T({4}, {1, 2, 3, 4}, dt);
    expect_near(cumsum(y, 0, true), {10, 9, 7, 4});
    expect_near(cumsum(y, 0, false, true), {0, 1, 3, 6});
    expect_near(cumsum(y, 0, true, true), {9, 7, 4, 0});
    EXPECT_EQ(cumsum(y, 0).dtype(), dt);
  }
}

// torch.cumsum([1, inf, -inf, 2]) = [1, inf, nan, nan]; a NaN spreads to every later sum;
// cumsum([-0.]) = [0.] (the sum starts from +0); i64 wraps as torch's
// (cumsum([1, 2^62, 2^62, 2^62]) = [1, 2^62 + 1, -2^63 + 1, -2^62 + 1]).
TEST(SortScanOps, CumsumSpecialValues) {
  Tensor s = cumsum(T({4}, {1, kInf, -kInf, 2}), 0);
  EXPECT_EQ(s.get(1), kInf);
  EXPECT_TRUE(std::isnan(s.get(2)) && std::isnan(s.get(3)));
  Tensor n = cumsum(T({3}, {kNan, 1, 2}, DType::F32), 0), nr = cumsum(T({3}, {kNan, 1, 2}, DType::F32), 0, true);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(n.get(i))) << i;
  EXPECT_TRUE(std::isnan(nr.get(0)));  // walking backwards, only the sum that reaches x[0] is NaN
  EXPECT_EQ(nr.get(1), 3);
  EXPECT_EQ(nr.get(2), 2);
  Tensor z = cumsum(T({1}, {-0.0}), 0);
  EXPECT_FALSE(std::signbit(z.get(0)));
  Tensor big(DType::I64, {4});
  int64_t* p = big.data<int64_t>();
  p[0] = 1, p[1] = p[2] = p[3] = int64_t(1) << 62;
  Tensor c = cumsum(big, 0);
  const int64_t* q = c.data<int64_t>();
  EXPECT_EQ(q[1], (int64_t(1) << 62) + 1);
  EXPECT_EQ(q[2], std::numeric_limits<int64_t>::min() + 1);
  EXPECT_EQ(q[3], -(int64_t(1) << 62) + 1);
}

// torch.sort(x, stable=True) and descending=True for
// x = [3, nan, 1, 3, -0., 0., -inf, nan, 2]: NaN sorts last (first descending), ties keep
// their order, -0. and 0. tie.
TEST(SortScanOps, ArgsortIsTorchsStableOrderWithNan) {
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor x = T({9}, {3, kNan, 1, 3, -0.0, 0.0, -kInf, kNan, 2}, dt);
    Tensor up = run_op("argsort", {x});
    EXPECT_EQ(up.dtype(), DType::I64);
    expect_near(up, {6, 4, 5, 2, 8, 0, 3, 1, 7});
    expect_near(run_op("argsort", {x}, {{"descending", true}}), {1, 7, 0, 3, 8, 2, 4, 5, 6});
  }
  // torch.sort(x, dim=0, stable=True) of an i64 [3, 2] tensor: per column.
  Tensor k = T({3, 2}, {5, 1, -2, 1, 5, 0}, DType::I64);
  expect_near(run_op("argsort", {k}, {{"axis", int64_t(0)}}), {1, 2, 0, 0, 2, 1});
}

TEST(SortScanOps, ShapeErrors) {
  EXPECT_MSG_HAS(what([] { infer_op("cumsum", {{DType::F32, {3, 4}}}, {{"axis", int64_t(2)}}); }), "axis");
  EXPECT_MSG_HAS(what([] { infer_op("cumsum", {{DType::Bool, {3}}}, {{"axis", int64_t(0)}}); }),
                 "cumsum: x must be a float or i64 tensor, got bool[3]");
  EXPECT_MSG_HAS(what([] { infer_op("argsort", {{DType::F32, {}}}); }), "argsort: x must have rank >= 1");
  EXPECT_MSG_HAS(what([] { infer_op("argsort", {{DType::F32, {3}}}, {{"axis", int64_t(-2)}}); }), "axis");
}

}  // namespace
}  // namespace starc::test
