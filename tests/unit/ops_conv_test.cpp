// Convolution and pooling ops vs independently computed values: hard-coded PyTorch
// results, naive loops written differently from the kernels (explicitly padded input
// buffers; transposed conv as a stride-1 conv of the zero-stuffed input with the flipped
// kernel), the adjoint identity <conv_t(x), y> = <x, conv(y)>, and hand-computed pools.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "tests/unit/op_test_util.h"

using namespace starc;
using namespace starc::test;

namespace {

// Deterministic inputs. Int(): small integers (so PyTorch results are exact and can be
// hard-coded); Rand(): pseudo-random values in [-1, 1).
Tensor Int(Shape shape, int a = 7, int m = 11, int off = 5, DType dt = DType::F64) {
  Tensor t(dt, shape);
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, double((i * a) % m - off));
  return t;
}
Tensor IntW(Shape shape) { return Int(std::move(shape), 5, 7, 3); }

Tensor Rand(Shape shape, uint64_t seed, DType dt = DType::F64) {
  Tensor t(dt, shape);
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < t.size(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    t.set(i, double(s >> 11) * 0x1p-53 * 2 - 1);
  }
  return t;
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(size_t(t.size()));
  for (int64_t i = 0; i < t.size(); ++i) v[size_t(i)] = t.get(i);
  return v;
}

double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (int64_t i = 0; i < a.size(); ++i) s += a.get(i) * b.get(i);
  return s;
}

// conv1d by first building the zero-padded input, then sliding the dilated kernel.
std::vector<double> naive_conv1d(const Tensor& x, const Tensor& w, int64_t s, int64_t p, int64_t d) {
  int64_t N = x.dim(0), C = x.dim(1), L = x.dim(2), O = w.dim(0), K = w.dim(2), Lp = L + 2 * p;
  std::vector<double> xp(size_t(N * C * Lp), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t l = 0; l < L; ++l) xp[size_t((n * C + c) * Lp + l + p)] = x.get((n * C + c) * L + l);
  int64_t Lout = (Lp - d * (K - 1) - 1) / s + 1;
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t t = 0; t < Lout; ++t) {
        double acc = 0;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t k = 0; k < K; ++k)
            acc += xp[size_t((n * C + c) * Lp + t * s + k * d)] * w.get((o * C + c) * K + k);
        y.push_back(acc);
      }
  return y;
}

// conv2d likewise (padded buffer per image).
std::vector<double> naive_conv2d(const Tensor& x, const Tensor& w, Ints s, Ints p, Ints d) {
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), O = w.dim(0), KH = w.dim(2), KW = w.dim(3);
  int64_t Hp = H + 2 * p[0], Wp = W + 2 * p[1];
  auto xp = [&](int64_t n, int64_t c, int64_t i, int64_t j) {
    int64_t h = i - p[0], v = j - p[1];
    return (h < 0 || h >= H || v < 0 || v >= W) ? 0.0 : x.get(((n * C + c) * H + h) * W + v);
  };
  int64_t OH = (Hp - d[0] * (KH - 1) - 1) / s[0] + 1, OW = (Wp - d[1] * (KW - 1) - 1) / s[1] + 1;
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t a = 0; a < OH; ++a)
        for (int64_t b = 0; b < OW; ++b) {
          double acc = 0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j)
                acc += xp(n, c, a * s[0] + i * d[0], b * s[1] + j * d[1]) * w.get(((o * C + c) * KH + i) * KW + j);
          y.push_back(acc);
        }
  return y;
}

// conv_transpose1d as a stride-1 convolution of the zero-stuffed input (x[i] placed at
// i*s), padded by d*(K-1)-p on the left, with the kernel flipped and in/out swapped.
std::vector<double> naive_conv_transpose1d(const Tensor& x, const Tensor& w, int64_t s, int64_t p, int64_t op,
                                           int64_t d) {
  int64_t N = x.dim(0), C = x.dim(1), L = x.dim(2), O = w.dim(1), K = w.dim(2);
  int64_t Ls = (L - 1) * s + 1, padL = d * (K - 1) - p;
  int64_t Lout = (L - 1) * s - 2 * p + d * (K - 1) + op + 1;
  auto stuffed = [&](int64_t n, int64_t c, int64_t j) {  // j indexes the padded stuffed signal
    int64_t i = j - padL;
    return (i < 0 || i >= Ls || i % s) ? 0.0 : x.get((n * C + c) * L + i / s);
  };
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t t = 0; t < Lout; ++t) {
        double acc = 0;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t k = 0; k < K; ++k) acc += stuffed(n, c, t + k * d) * w.get((c * O + o) * K + (K - 1 - k));
        y.push_back(acc);
      }
  return y;
}

// Pooling over a buffer padded with `fill` (-inf for max, 0 for avg), 2-D.
std::vector<double> naive_pool2d(const Tensor& x, Ints k, Ints s, Ints p, bool is_max) {
  int64_t NC = x.dim(0) * x.dim(1), H = x.dim(2), W = x.dim(3);
  double fill = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
  auto xp = [&](int64_t nc, int64_t i, int64_t j) {
    int64_t h = i - p[0], v = j - p[1];
    return (h < 0 || h >= H || v < 0 || v >= W) ? fill : x.get((nc * H + h) * W + v);
  };
  int64_t OH = (H + 2 * p[0] - k[0]) / s[0] + 1, OW = (W + 2 * p[1] - k[1]) / s[1] + 1;
  std::vector<double> y;
  for (int64_t nc = 0; nc < NC; ++nc)
    for (int64_t a = 0; a < OH; ++a)
      for (int64_t b = 0; b < OW; ++b) {
        double m = fill, sum = 0;
        for (int64_t i = 0; i < k[0]; ++i)
          for (int64_t j = 0; j < k[1]; ++j) {
            double v = xp(nc, a * s[0] + i, b * s[1] + j);
            m = std::max(m, v);
            sum += v;
          }
        y.push_back(is_max ? m : sum / double(k[0] * k[1]));
      }
  return y;
}

std::string error_of(const std::string& op, std::vector<TensorType> in, Attrs attrs = {},
                     const SymbolNames* syms = nullptr) {
  try {
    const OpDef* d = find_op(op);
    infer_type(*d, in, complete_attrs(*d, std::move(attrs)), syms);
  } catch (const OpError& e) {
    return e.what();
  }
  return "(no error)";
}

const Dim B = make_sym(0);

}  // namespace

// ---- convolution --------------------------------------------------------------------

// Expected values: torch 1.13, F.conv*(X, W, ...) in float64 with X = Int(shape) and
// W = IntW(shape) (same formulas as above), printed with .flatten().tolist().
TEST(Conv, Conv1dMatchesPyTorch) {
  Tensor y = run_op("conv1d", {Int({2, 3, 10}), IntW({4, 3, 3})},
                    {{"stride", int64_t(2)}, {"padding", int64_t(1)}, {"dilation", int64_t(2)}});
  EXPECT_EQ(y.shape(), (Shape{2, 4, 4}));
  expect_near(y, {-6, 14,  -33, 19, 18,  -37, 1,  28, -14, 38, 28,  -26, 3,   -34, 20, -3,
                  -1, -31, 32,  29, -20, 5,   -1, 4,  3,   20, -34, 0,   -23, 28,  38, -18});
}

TEST(Conv, Conv2dMatchesPyTorch) {
  Tensor y = run_op("conv2d", {Int({1, 2, 7, 6}), IntW({3, 2, 3, 2})},
                    {{"stride", Ints{2, 1}}, {"padding", Ints{1, 0}}, {"dilation", Ints{1, 2}}});
  EXPECT_EQ(y.shape(), (Shape{1, 3, 4, 4}));
  expect_near(y, {28,  -3,  -45, 23,  -36, -36, 41,  -36, -36, 41,  -36, -14, 28,  -40, 24, 33,
                  33,  -13, 29,  -28, 2,   17,  -23, 3,   17,  -23, 3,   7,   -33, 15,  -3, -32,
                  -32, 5,   -2,  -9,  -23, 7,   4,   -21, 7,   4,   -21, 42,  32,  -35, 19, 29});
}

TEST(Conv, ConvTranspose1dMatchesPyTorch) {
  Tensor y = run_op("conv_transpose1d", {Int({2, 3, 5}), IntW({3, 2, 3})},
                    {{"stride", int64_t(2)}, {"padding", int64_t(1)}, {"output_padding", int64_t(1)}});
  EXPECT_EQ(y.shape(), (Shape{2, 2, 10}));
  expect_near(y, {0,   -18, -3, 31,  -6, -19, 24,  -3, -12, -9, -9, -26, -2, 32,  -6, -20, 23, 5, -3, 0,
                  -12, 2,   -4, -15, 26, 1,   -10, 6,  -2,  -4, -3, 8,   -7, -22, 22, 3,   -4, 6, -8, -10});
}

TEST(Conv, ConvTranspose2dMatchesPyTorch) {
  Tensor y = run_op(
      "conv_transpose2d", {Int({1, 2, 3, 3}), IntW({2, 1, 2, 2})},
      {{"stride", Ints{2, 3}}, {"padding", Ints{1, 0}}, {"output_padding", Ints{1, 1}}, {"dilation", Ints{1, 2}}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 5, 10}));
  expect_near(y, {-3, 0,  1, 1,  0, -1, 5, 0, 19, 0, -9, 0,  12, -9, 0, 0,  24, 0,   -1, 0, -2, 0,  -16, 2,  0,
                  4,  -5, 0, -9, 0, -9, 0, 9, -9, 0, -3, 24, 0,  -4, 0, -1, 0,  -11, 3,  0, 9,  -4, 0,   -4, 0});
}

TEST(Conv, Conv1dMatchesNaiveLoopOverGeometries) {
  int cases = 0;
  for (int64_t L : {1, 4, 7, 13})
    for (int64_t K : {1, 2, 3, 5})
      for (int64_t s : {1, 2, 3})
        for (int64_t p : {0, 1, 2})
          for (int64_t d : {1, 2, 3}) {
            Tensor x = Rand({2, 3, L}, uint64_t(L * 1000 + K * 100 + s * 10 + p + d));
            Tensor w = Rand({4, 3, K}, uint64_t(K + 77 * d));
            Attrs a = {{"stride", s}, {"padding", p}, {"dilation", d}};
            if (L + 2 * p < d * (K - 1) + 1) {
              EXPECT_THROW(run_op("conv1d", {x, w}, a), OpError);
              continue;
            }
            SCOPED_TRACE(fmt::format("L={} K={} s={} p={} d={}", L, K, s, p, d));
            expect_near(run_op("conv1d", {x, w}, a), naive_conv1d(x, w, s, p, d), 1e-12);
            ++cases;
          }
  EXPECT_GT(cases, 300);
}

TEST(Conv, Conv2dMatchesNaiveLoopOverGeometries) {
  for (Ints hw : {Ints{5, 6}, Ints{7, 3}, Ints{1, 8}})
    for (Ints k : {Ints{1, 1}, Ints{3, 2}, Ints{2, 3}})
      for (Ints s : {Ints{1, 1}, Ints{2, 1}, Ints{1, 3}})
        for (Ints p : {Ints{0, 0}, Ints{1, 2}})
          for (Ints d : {Ints{1, 1}, Ints{2, 1}, Ints{1, 3}}) {
            if (hw[0] + 2 * p[0] < d[0] * (k[0] - 1) + 1 || hw[1] + 2 * p[1] < d[1] * (k[1] - 1) + 1) continue;
            Tensor x = Rand({2, 3, hw[0], hw[1]}, uint64_t(hw[0] * 31 + k[0] * 7 + s[1] + p[1] * 3 + d[0]));
            Tensor w = Rand({2, 3, k[0], k[1]}, uint64_t(k[1] * 5 + 1));
            SCOPED_TRACE(fmt::format("hw={},{} k={},{} s={},{} p={},{} d={},{}", hw[0], hw[1], k[0], k[1], s[0], s[1],
                                     p[0], p[1], d[0], d[1]));
            expect_near(run_op("conv2d", {x, w}, {{"stride", s}, {"padding", p}, {"dilation", d}}),
                        naive_conv2d(x, w, s, p, d), 1e-12);
          }
}

TEST(Conv, ConvTranspose1dMatchesStuffedConvolution) {
  for (int64_t L : {1, 3, 6})
    for (int64_t K : {1, 2, 4})
      for (int64_t s : {1, 2, 3})
        for (int64_t p : {0, 1, 2})
          for (int64_t d : {1, 2})
            for (int64_t op : {0, 1, 2}) {
              Attrs a = {{"stride", s}, {"padding", p}, {"output_padding", op}, {"dilation", d}};
              Tensor x = Rand({2, 3, L}, uint64_t(L * 100 + K * 10 + s + p * 7 + d * 3 + op * 11));
              Tensor w = Rand({3, 2, K}, uint64_t(K * 13 + d));
              int64_t Lout = (L - 1) * s - 2 * p + d * (K - 1) + op + 1;
              if ((op >= s && op >= d) || Lout <= 0) {
                EXPECT_THROW(run_op("conv_transpose1d", {x, w}, a), OpError);
                continue;
              }
              SCOPED_TRACE(fmt::format("L={} K={} s={} p={} d={} op={}", L, K, s, p, d, op));
              expect_near(run_op("conv_transpose1d", {x, w}, a), naive_conv_transpose1d(x, w, s, p, op, d), 1e-12);
            }
}

// conv_transpose is the adjoint of conv (same weight, stride, padding, dilation):
// <conv_transpose(x, w), y> == <x, conv(y, w)> for every x and y.
TEST(Conv, ConvTranspose2dIsAdjointOfConv2d) {
  for (Ints s : {Ints{1, 1}, Ints{2, 3}})
    for (Ints p : {Ints{0, 0}, Ints{1, 0}})
      for (Ints d : {Ints{1, 1}, Ints{1, 2}, Ints{3, 1}})
        for (Ints op : {Ints{0, 0}, Ints{1, 0}}) {
          if (op[0] >= s[0]) continue;  // then conv would not map back onto x's shape
          Tensor x = Rand({2, 3, 4, 3}, 11);
          Tensor w = Rand({3, 2, 3, 2}, 12);  // conv_transpose: [C=3, O=2, ...]; conv: [O=3, C=2, ...]
          Tensor z = run_op("conv_transpose2d", {x, w},
                            {{"stride", s}, {"padding", p}, {"output_padding", op}, {"dilation", d}});
          Tensor y = Rand(z.shape(), 13);
          Tensor cy = run_op("conv2d", {y, w}, {{"stride", s}, {"padding", p}, {"dilation", d}});
          ASSERT_EQ(cy.shape(), x.shape()) << "conv must map the transposed output shape back to the input shape";
          EXPECT_NEAR(dot(z, y), dot(x, cy), 1e-10);
        }
}

TEST(Conv, Float32AndSymbolicBatch) {
  Tensor x64 = Rand({3, 2, 9}, 5), w64 = Rand({4, 2, 3}, 6);
  Tensor y = run_op("conv1d", {x64.cast(DType::F32), w64.cast(DType::F32)}, {{"padding", int64_t(1)}});
  EXPECT_EQ(y.dtype(), DType::F32);
  expect_near(y, naive_conv1d(x64, w64, 1, 1, 1), 1e-5);
  TensorType t = infer_op("conv2d", {{DType::F32, {B, 3, 32, 20}}, {DType::F32, {8, 3, 5, 5}}},
                          {{"stride", int64_t(2)}, {"padding", int64_t(2)}});
  EXPECT_EQ(t.shape, (Shape{B, 8, 16, 10}));
  t = infer_op("conv_transpose1d", {{DType::F32, {B, 8, 50}}, {DType::F32, {8, 4, 4}}},
               {{"stride", int64_t(2)}, {"padding", int64_t(1)}});
  EXPECT_EQ(t.shape, (Shape{B, 4, 100}));
}

TEST(Conv, ShapeErrors) {
  SymbolNames syms = {"B"};
  EXPECT_EQ(error_of("conv1d", {{DType::F32, {B, 3, 100}}, {DType::F32, {16, 4, 5}}}, {}, &syms),
            "conv1d: input has 3 channels but the weight expects 4: f32[B,3,100] vs weight f32[16,4,5]");
  EXPECT_EQ(error_of("conv_transpose2d", {{DType::F32, {2, 3, 5, 5}}, {DType::F32, {4, 3, 2, 2}}}),
            "conv_transpose2d: input has 3 channels but the weight expects 4: f32[2,3,5,5] vs weight f32[4,3,2,2]");
  EXPECT_NE(error_of("conv2d", {{DType::F32, {2, 3, 5}}, {DType::F32, {4, 3, 2, 2}}}).find("input must have rank 4"),
            std::string::npos);
  EXPECT_NE(error_of("conv1d", {{DType::F32, {2, 3, 5}}, {DType::F64, {4, 3, 2}}}).find("element types differ"),
            std::string::npos);
  // A symbolic length gives a derived one (docs/language.md, "Symbolic lengths"); a
  // symbolic channel dim is refused.
  SymbolNames grown = {"B"};
  EXPECT_EQ(infer_op_sym("conv1d", {{DType::F32, {2, 3, B}}, {DType::F32, {4, 3, 2}}}, {}, grown), "f32[2,4,B-1]");
  EXPECT_EQ(infer_op_sym("conv1d", {{DType::F32, {2, 3, B}}, {DType::F32, {4, 3, 5}}}, {{"stride", Ints{2}}}, grown),
            "f32[2,4,(B+1)//2-2]");
  EXPECT_NE(error_of("conv1d", {{DType::F32, {2, B, 5}}, {DType::F32, {4, 3, 2}}}, {}, &syms)
                .find("the channel dim of the input must be static"),
            std::string::npos);
  EXPECT_NE(error_of("conv1d", {{DType::I64, {2, 3, 5}}, {DType::I64, {4, 3, 2}}}).find("floating-point"),
            std::string::npos);
  EXPECT_NE(error_of("conv2d", {{DType::F32, {2, 3, 5, 5}}, {DType::F32, {4, 3, 2, 2}}}, {{"stride", Ints{1, 2, 3}}})
                .find("'stride' takes 1 or 2 values"),
            std::string::npos);
  EXPECT_NE(error_of("conv1d", {{DType::F32, {2, 3, 4}}, {DType::F32, {4, 3, 3}}}, {{"dilation", int64_t(2)}})
                .find("longer than the padded input"),
            std::string::npos);
  EXPECT_NE(error_of("conv1d", {{DType::F32, {2, 3, 4}}, {DType::F32, {4, 3, 3}}}, {{"stride", int64_t(0)}})
                .find("must be positive"),
            std::string::npos);
  EXPECT_NE(error_of("conv_transpose1d", {{DType::F32, {2, 3, 4}}, {DType::F32, {3, 3, 3}}},
                     {{"stride", int64_t(2)}, {"output_padding", int64_t(2)}})
                .find("output_padding 2 must be smaller than either stride 2 or dilation 1"),
            std::string::npos);
  EXPECT_NE(error_of("conv_transpose1d", {{DType::F32, {2, 3, 1}}, {DType::F32, {3, 3, 1}}}, {{"padding", int64_t(1)}})
                .find("output length would be -1"),
            std::string::npos);
}

// ---- pooling ------------------------------------------------------------------------

TEST(Pool, MaxPoolHandComputed) {
  expect_near(run_op("maxpool1d", {T({1, 1, 5}, {1, 3, 2, 5, 4})}, {{"kernel", int64_t(2)}}), {3, 5});
  expect_near(run_op("maxpool1d", {T({1, 1, 5}, {1, 3, 2, 5, 4})}, {{"kernel", int64_t(2)}, {"stride", int64_t(1)}}),
              {3, 3, 5, 5});
  // Padding is -inf, not 0: windows [-inf,-1,-2] and [-2,-3,-inf].
  expect_near(run_op("maxpool1d", {T({1, 1, 3}, {-1, -2, -3})},
                     {{"kernel", int64_t(3)}, {"stride", int64_t(2)}, {"padding", int64_t(1)}}),
              {-1, -2});
  // 2x2 windows, stride 2 (default), floor mode drops the last row and column.
  expect_near(run_op("maxpool2d", {T({1, 1, 3, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})},
                     {{"kernel", int64_t(2)}}),
              {7, 9});
  // NaN propagates like torch.max_pool.
  double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor y = run_op("maxpool1d", {T({1, 1, 4}, {1, nan, 3, 0})}, {{"kernel", int64_t(2)}});
  EXPECT_TRUE(std::isnan(y.get(0)));
  EXPECT_EQ(y.get(1), 3);
}

TEST(Pool, AvgPoolHandComputed) {
  expect_near(run_op("avgpool1d", {T({1, 1, 5}, {1, 3, 2, 5, 4})}, {{"kernel", int64_t(2)}}), {2, 3.5});
  // count_include_pad: zeros of the padding count in the divisor.
  expect_near(run_op("avgpool1d", {T({1, 1, 3}, {-1, -2, -3})},
                     {{"kernel", int64_t(3)}, {"stride", int64_t(2)}, {"padding", int64_t(1)}}),
              {-1, -5.0 / 3});
  expect_near(run_op("avgpool2d", {T({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})},
                     {{"kernel", Ints{2, 2}}, {"stride", Ints{1, 2}}}),
              {3.5, 5.5});
}

// Expected values: torch 1.13 F.max_pool1d(X,3,2,1), F.max_pool2d(X,(3,2),None,(1,1)),
// F.avg_pool1d(X,3,2,1), F.avg_pool2d(X,3,2,1) in float64 with X = Int(shape).
TEST(Pool, MatchesPyTorch) {
  expect_near(
      run_op("maxpool1d", {Int({1, 2, 9})}, {{"kernel", int64_t(3)}, {"stride", int64_t(2)}, {"padding", int64_t(1)}}),
      {2, 5, 5, 4, 0, 3, 2, 5, 5, 4});
  expect_near(run_op("maxpool2d", {Int({1, 1, 5, 6})}, {{"kernel", Ints{3, 2}}, {"padding", Ints{1, 1}}}),
              {4, 2, 5, -3, 2, 5, 4, 4});
  expect_near(
      run_op("avgpool1d", {Int({1, 2, 7})}, {{"kernel", int64_t(3)}, {"stride", int64_t(2)}, {"padding", int64_t(1)}}),
      {-1.0, 1.6666666666666667, 1.0, 0.3333333333333333, -1.3333333333333333, -0.6666666666666666, -1.3333333333333333,
       0.0},
      1e-15);
  expect_near(run_op("avgpool2d", {Int({1, 1, 5, 5})},
                     {{"kernel", int64_t(3)}, {"stride", int64_t(2)}, {"padding", int64_t(1)}}),
              {-0.2222222222222222, 0.5555555555555556, 0.5555555555555556, -0.7777777777777778, -0.4444444444444444,
               -0.2222222222222222, 0.0, -0.3333333333333333, -0.4444444444444444},
              1e-15);
}

TEST(Pool, MatchesNaiveLoopOverGeometries) {
  for (bool is_max : {true, false})
    for (Ints hw : {Ints{5, 7}, Ints{6, 3}, Ints{1, 9}})
      for (Ints k : {Ints{1, 1}, Ints{2, 3}, Ints{3, 2}, Ints{1, 3}})
        for (Ints s : {Ints{}, Ints{1, 1}, Ints{2, 3}})
          for (Ints p : {Ints{0, 0}, Ints{0, 1}, Ints{1, 1}}) {
            Ints st = s.empty() ? k : s;
            if (p[0] > k[0] / 2 || p[1] > k[1] / 2 || hw[0] + 2 * p[0] < k[0] || hw[1] + 2 * p[1] < k[1]) continue;
            Tensor x = Rand({2, 3, hw[0], hw[1]}, uint64_t(hw[0] * 17 + k[0] * 5 + k[1] + p[1] * 3));
            SCOPED_TRACE(fmt::format("max={} hw={},{} k={},{} s={},{} p={},{}", is_max, hw[0], hw[1], k[0], k[1], st[0],
                                     st[1], p[0], p[1]));
            Tensor y = run_op(is_max ? "maxpool2d" : "avgpool2d", {x}, {{"kernel", k}, {"stride", s}, {"padding", p}});
            expect_near(y, naive_pool2d(x, k, st, p, is_max), 1e-12);
            // The 1-D op on a single row agrees with the 2-D op with a 1-high window.
            if (hw[0] == 1 && k[0] == 1 && p[0] == 0) {
              Tensor y1 = run_op(is_max ? "maxpool1d" : "avgpool1d", {x.reshaped({2, 3, hw[1]})},
                                 {{"kernel", k[1]}, {"stride", s.empty() ? Ints{} : Ints{st[1]}}, {"padding", p[1]}});
              expect_near(y1, values(y), 1e-15);
            }
          }
}

TEST(Pool, ShapesAndErrors) {
  SymbolNames syms = {"B"};
  EXPECT_EQ(infer_op("maxpool2d", {{DType::F32, {B, 4, 9, 8}}}, {{"kernel", int64_t(2)}}).shape, (Shape{B, 4, 4, 4}));
  EXPECT_EQ(infer_op("avgpool1d", {{DType::F64, {B, 4, 10}}}, {{"kernel", int64_t(3)}, {"padding", int64_t(1)}}).shape,
            (Shape{B, 4, 4}));
  EXPECT_NE(error_of("maxpool1d", {{DType::F32, {2, 3, 8}}}, {{"kernel", int64_t(3)}, {"padding", int64_t(2)}})
                .find("padding must be at most half the kernel size"),
            std::string::npos);
  EXPECT_NE(error_of("maxpool1d", {{DType::F32, {2, 3, 8}}}).find("missing required argument 'kernel'"),
            std::string::npos);
  EXPECT_NE(error_of("avgpool2d", {{DType::F32, {2, 3, 8}}}, {{"kernel", int64_t(2)}}).find("input must have rank 4"),
            std::string::npos);
  EXPECT_NE(error_of("avgpool1d", {{DType::F32, {2, 3, 2}}}, {{"kernel", int64_t(3)}}).find("longer than the padded"),
            std::string::npos);
  SymbolNames grown = {"B"};
  EXPECT_EQ(infer_op_sym("maxpool2d", {{DType::F32, {2, 3, B, 4}}}, {{"kernel", int64_t(2)}}, grown),
            "f32[2,3,B//2,2]");
  EXPECT_NE(error_of("maxpool2d", {{DType::F32, {2, 3, 8, 8}}}, {{"kernel", Ints{2, 2, 2}}})
                .find("'kernel' takes 1 or 2 values"),
            std::string::npos);
}
