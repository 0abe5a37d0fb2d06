#include <random>

#include "tests/unit/op_test_util.h"

using namespace starc;
using namespace starc::test;

namespace {

// Naive reference: batch dims broadcast by hand (index modulo a size-1 dim -> 0), then a
// triple loop in double.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b, Shape& out_shape) {
  int ra = a.rank(), rb = b.rank();
  int nb = std::max(ra, rb) - 2;
  auto bdim = [&](const Tensor& t, int i) -> int64_t {  // batch dim i of nb, right-aligned, 1 if absent
    int j = i - (nb - (t.rank() - 2));
    return j < 0 ? 1 : t.dim(j);
  };
  Shape batch(nb);
  for (int i = 0; i < nb; ++i) batch[i] = std::max(bdim(a, i), bdim(b, i));
  int64_t M = a.dim(-2), K = a.dim(-1), N = b.dim(-1);
  out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  int64_t nbatch = num_elements(batch);
  std::vector<double> out;
  for (int64_t bi = 0; bi < nbatch; ++bi) {
    // Decompose bi into a batch multi-index; map it into a's and b's batch offsets.
    int64_t rem = bi, offa = 0, offb = 0, mula = 1, mulb = 1;
    for (int i = nb - 1; i >= 0; --i) {
      int64_t idx = rem % batch[i];
      rem /= batch[i];
      int64_t da = bdim(a, i), db = bdim(b, i);
      offa += (da == 1 ? 0 : idx) * mula;
      offb += (db == 1 ? 0 : idx) * mulb;
      mula *= da;
      mulb *= db;
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += a.get(offa * M * K + m * K + k) * b.get(offb * K * N + k * N + n);
        out.push_back(s);
      }
  }
  return out;
}

}  // namespace

TEST(Matmul, HandComputed) {
  Tensor a = T({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = T({3, 2}, {7, 8, 9, 10, 11, 12});
  Tensor c = run_op("matmul", {a, b});
  EXPECT_EQ(c.shape(), (Shape{2, 2}));
  expect_near(c, {58, 64, 139, 154});
}

TEST(Matmul, MatchesNaiveLoopOnRandomData) {
  struct Case {
    Shape a, b, want;
  };
  std::vector<Case> cases = {
      {{1, 1}, {1, 1}, {1, 1}},
      {{3, 5}, {5, 7}, {3, 7}},
      {{17, 33}, {33, 9}, {17, 9}},
      {{1, 65}, {65, 1}, {1, 1}},
      {{2, 3, 4}, {4, 5}, {2, 3, 5}},
      {{3, 4}, {2, 4, 5}, {2, 3, 5}},
      {{2, 3, 4}, {2, 4, 5}, {2, 3, 5}},
      {{4, 1, 3, 5}, {2, 5, 6}, {4, 2, 3, 6}},
      {{1, 3, 2, 7}, {5, 1, 7, 3}, {5, 3, 2, 3}},
      {{3, 0}, {0, 4}, {3, 4}},
      {{0, 3}, {3, 4}, {0, 4}},
  };
  uint32_t seed = 1;
  for (DType dt : {DType::F32, DType::F64}) {
    double tol = dt == DType::F32 ? 2e-5 : 1e-12;
    for (const Case& c : cases) {
      Tensor a = random_tensor(c.a, dt, seed++), b = random_tensor(c.b, dt, seed++);
      SCOPED_TRACE(type_str(a.type()) + " @ " + type_str(b.type()));
      Tensor got = run_op("matmul", {a, b});
      EXPECT_EQ(got.dtype(), dt);
      EXPECT_EQ(got.shape(), c.want);
      Shape want_shape;
      std::vector<double> want = naive_matmul(a, b, want_shape);
      EXPECT_EQ(want_shape, c.want);
      expect_near(got, want, tol * double(std::max<int64_t>(1, a.dim(-1))));
    }
  }
}

TEST(Matmul, SymbolicDims) {
  Dim B = make_sym(0), L = make_sym(1);
  EXPECT_EQ(infer_op("matmul", {{DType::F32, {B, 256}}, {DType::F32, {256, 1}}}).shape, (Shape{B, 1}));
  EXPECT_EQ(infer_op("matmul", {{DType::F32, {B, 3, 4}}, {DType::F32, {4, 5}}}).shape, (Shape{B, 3, 5}));
  EXPECT_EQ(infer_op("matmul", {{DType::F32, {B, 3, 4}}, {DType::F32, {1, 4, 5}}}).shape, (Shape{B, 3, 5}));
  // A symbolic inner dim is fine when it is the same symbol on both sides.
  EXPECT_EQ(infer_op("matmul", {{DType::F64, {3, L}}, {DType::F64, {L, 2}}}), (TensorType{DType::F64, {3, 2}}));
  EXPECT_THROW(infer_op("matmul", {{DType::F32, {3, L}}, {DType::F32, {B, 2}}}), OpError);
  EXPECT_THROW(infer_op("matmul", {{DType::F32, {B, 3, 4}}, {DType::F32, {L, 4, 5}}}), OpError);
}

TEST(Matmul, Errors) {
  const OpDef* op = find_op("matmul");
  ASSERT_NE(op, nullptr);
  SymbolNames syms = {"B"};
  std::vector<TensorType> in = {{DType::F32, {make_sym(0), 256}}, {DType::F32, {128, 1}}};
  std::string m = what([&] { infer_type(*op, in, {}, &syms); });
  EXPECT_EQ(m, "matmul: inner dims differ: f32[B,256] @ f32[128,1]");

  m = what([&] { infer_op("matmul", {{DType::F32, {4}}, {DType::F32, {4, 2}}}); });
  EXPECT_EQ(m.rfind("matmul: operands must have rank >= 2, got ", 0), 0u) << m;
  EXPECT_NE(m.find("f32[4] @ f32[4,2]"), std::string::npos) << m;

  m = what([&] { infer_op("matmul", {{DType::F32, {2, 3, 4}}, {DType::F32, {3, 4, 5}}}); });
  EXPECT_NE(m.find("f32[2,3,4]"), std::string::npos) << m;
  EXPECT_NE(m.find("f32[3,4,5]"), std::string::npos) << m;
  EXPECT_NE(m.find("batch"), std::string::npos) << m;

  m = what([&] { infer_op("matmul", {{DType::F32, {2, 3}}, {DType::F64, {3, 4}}}); });
  EXPECT_NE(m.find("f32[2,3] vs f64[3,4]"), std::string::npos) << m;
  EXPECT_THROW(infer_op("matmul", {{DType::I64, {2, 3}}, {DType::I64, {3, 4}}}), OpError);
  EXPECT_THROW(infer_op("matmul", {{DType::F32, {2, 3}}}), OpError);
}
