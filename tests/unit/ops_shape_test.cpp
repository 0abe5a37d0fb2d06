#include <fmt/format.h>

#include <numeric>
#include <random>

#include "tests/unit/op_test_util.h"

using namespace starc;
using namespace starc::test;

namespace {

// 0, 1, 2, ... in the given shape.
Tensor iota(Shape shape, DType dt = DType::F64) {
  std::vector<double> v(size_t(num_elements(shape)));
  std::iota(v.begin(), v.end(), 0.0);
  return Tensor::from_vector(dt, std::move(shape), v);
}

#define EXPECT_MSG_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

const Dim B = make_sym(0);
const Dim L = make_sym(1);

}  // namespace

// ---- reshape ----

TEST(ShapeOps, Reshape) {
  Tensor x = iota({2, 3});
  Tensor y = run_op("reshape", {x}, {{"shape", Ints{3, 2}}});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  expect_near(y, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(run_op("reshape", {x}, {{"shape", Ints{-1}}}).shape(), (Shape{6}));
  EXPECT_EQ(run_op("reshape", {x}, {{"shape", Ints{3, -1, 1}}}).shape(), (Shape{3, 2, 1}));
  EXPECT_EQ(run_op("reshape", {T({}, {7})}, {{"shape", Ints{1, 1}}}).shape(), (Shape{1, 1}));
  EXPECT_EQ(run_op("reshape", {iota({1})}, {{"shape", Ints{}}}).shape(), Shape{});
  // The result does not alias the input.
  y.set(0, 42);
  EXPECT_EQ(x.get(0), 0);
}

TEST(ShapeOps, ReshapeSymbolic) {
  EXPECT_EQ(infer_op("reshape", {{DType::F32, {B, 4, 6}}}, {{"shape", Ints{B, 24}}}).shape, (Shape{B, 24}));
  EXPECT_EQ(infer_op("reshape", {{DType::F32, {B, 4, 6}}}, {{"shape", Ints{B, -1}}}).shape, (Shape{B, 24}));
  EXPECT_EQ(infer_op("reshape", {{DType::F32, {B, 4, 6}}}, {{"shape", Ints{2, -1, B, 3}}}).shape, (Shape{2, 4, B, 3}));
  EXPECT_EQ(infer_op("reshape", {{DType::F32, {B, 4, L}}}, {{"shape", Ints{L, 2, B, 2}}}).shape, (Shape{L, 2, B, 2}));
  // Symbolic dims merge and split ([B, T, F] -> [-1, F] -> [B, T, F]); the counts must agree.
  SymbolNames grown = {"B", "L"};
  EXPECT_EQ(infer_op_sym("reshape", {{DType::F32, {B, 4}}}, {{"shape", Ints{-1}}}, grown), "f32[4*B]");
  EXPECT_EQ(infer_op_sym("reshape", {{DType::F32, {B, L, 4}}}, {{"shape", Ints{-1, 4}}}, grown), "f32[B*L,4]");
  Dim bl = make_sym(int(grown.size()) - 1);
  EXPECT_EQ(infer_op_sym("reshape", {{DType::F32, {bl, 4}}}, {{"shape", Ints{B, -1, 4}}}, grown), "f32[B,L,4]");
  // Without a table to add B*4 to, the -1 is an error rather than a silent new dim.
  std::string m = what([] { infer_op("reshape", {{DType::F32, {B, 4}}}, {{"shape", Ints{-1}}}); });
  EXPECT_MSG_HAS(m, "f32[?0,4]");
  // Symbolic dims cannot be dropped, introduced or duplicated.
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {B, 4}}}, {{"shape", Ints{2, 2}}}), OpError);
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {4}}}, {{"shape", Ints{B, 4}}}), OpError);
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {B, 4}}}, {{"shape", Ints{B, B, 4}}}), OpError);
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {B, 4}}}, {{"shape", Ints{L, 4}}}), OpError);
  // Static parts must agree.
  m = what([] { infer_op("reshape", {{DType::F32, {B, 4}}}, {{"shape", Ints{B, 5}}}); });
  EXPECT_MSG_HAS(m, "[?0,5]");
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {B, 6}}}, {{"shape", Ints{B, -1, 4}}}), OpError);
}

TEST(ShapeOps, ReshapeErrors) {
  std::string m = what([] { infer_op("reshape", {{DType::F32, {2, 3}}}, {{"shape", Ints{4, 2}}}); });
  EXPECT_MSG_HAS(m, "reshape");
  EXPECT_MSG_HAS(m, "f32[2,3]");
  EXPECT_MSG_HAS(m, "[4,2]");
  EXPECT_MSG_HAS(m, "element counts differ (6 vs 8)");
  m = what([] { infer_op("reshape", {{DType::F32, {2, 3}}}, {{"shape", Ints{-1, -1}}}); });
  EXPECT_MSG_HAS(m, "at most one");
  m = what([] { infer_op("reshape", {{DType::F32, {2, 3}}}, {{"shape", Ints{-1, 4}}}); });
  EXPECT_MSG_HAS(m, "not divisible");
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {0, 3}}}, {{"shape", Ints{-1, 0}}}), OpError);
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {2, 3}}}, {{"shape", Ints{-2, -3}}}), OpError);
  EXPECT_THROW(infer_op("reshape", {{DType::F32, {2, 3}}}), OpError);  // shape is required
}

// ---- transpose ----

TEST(ShapeOps, Transpose) {
  Tensor x = iota({2, 3});
  Tensor y = run_op("transpose", {x});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  expect_near(y, {0, 3, 1, 4, 2, 5});
  expect_near(run_op("transpose", {x}, {{"perm", Ints{0, 1}}}), {0, 1, 2, 3, 4, 5});

  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    Tensor z = iota({2, 3, 5}, dt);
    Tensor t = run_op("transpose", {z}, {{"perm", Ints{1, -1, 0}}});
    EXPECT_EQ(t.shape(), (Shape{3, 5, 2}));
    EXPECT_EQ(t.dtype(), dt);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 5; ++k) EXPECT_EQ(t.get((j * 5 + k) * 2 + i), z.get((i * 3 + j) * 5 + k));
  }
  EXPECT_EQ(infer_op("transpose", {{DType::F32, {B, 3, L}}}).shape, (Shape{L, 3, B}));
  EXPECT_EQ(infer_op("transpose", {{DType::F32, {B, 3, 4}}}, {{"perm", Ints{0, 2, 1}}}).shape, (Shape{B, 4, 3}));
  std::string m = what([] { infer_op("transpose", {{DType::F32, {2, 3}}}, {{"perm", Ints{1, 1}}}); });
  EXPECT_MSG_HAS(m, "not a permutation");
  EXPECT_MSG_HAS(m, "f32[2,3]");
  EXPECT_THROW(infer_op("transpose", {{DType::F32, {2, 3}}}, {{"perm", Ints{0}}}), OpError);
  EXPECT_THROW(infer_op("transpose", {{DType::F32, {2, 3}}}, {{"perm", Ints{0, 2}}}), OpError);
  EXPECT_THROW(infer_op("transpose", {{DType::F32, {2, 3}}}, {{"perm", Ints{0, 1, 2}}}), OpError);
}

// ---- concat ----

TEST(ShapeOps, Concat) {
  Tensor a = T({2, 2}, {1, 2, 3, 4});
  Tensor b = T({2, 1}, {5, 6});
  Tensor c = T({1, 2}, {7, 8});
  Tensor y = run_op("concat", {a, b}, {{"axis", int64_t(1)}});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  expect_near(y, {1, 2, 5, 3, 4, 6});
  expect_near(run_op("concat", {a, c}), {1, 2, 3, 4, 7, 8});
  expect_near(run_op("concat", {b, a, b}, {{"axis", int64_t(-1)}}), {5, 1, 2, 5, 6, 3, 4, 6});
  expect_near(run_op("concat", {a}), {1, 2, 3, 4});
  // Empty pieces and other dtypes.
  expect_near(run_op("concat", {Tensor(DType::F64, {2, 0}), b}, {{"axis", int64_t(1)}}), {5, 6});
  for (DType dt : {DType::F32, DType::I64, DType::Bool}) {
    Tensor y2 = run_op("concat", {T({2, 2}, {1, 0, 0, 1}, dt), T({2, 1}, {1, 0}, dt)}, {{"axis", int64_t(1)}});
    EXPECT_EQ(y2.dtype(), dt);
    expect_near(y2, {1, 0, 1, 0, 1, 0});
  }
  // Middle axis of a 3-d tensor against a naive loop.
  Tensor p = iota({2, 3, 4}), q = random_tensor({2, 1, 4}, DType::F64, 5);
  Tensor r = run_op("concat", {p, q}, {{"axis", int64_t(1)}});
  EXPECT_EQ(r.shape(), (Shape{2, 4, 4}));
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 4; ++k)
        EXPECT_EQ(r.get((i * 4 + j) * 4 + k), j < 3 ? p.get((i * 3 + j) * 4 + k) : q.get(i * 4 + k));
}

TEST(ShapeOps, ConcatShapeRule) {
  EXPECT_EQ(infer_op("concat", {{DType::F32, {B, 2}}, {DType::F32, {B, 3}}}, {{"axis", int64_t(1)}}).shape,
            (Shape{B, 5}));
  std::string m = what([] { infer_op("concat", {{DType::F32, {B, 2}}, {DType::F32, {B, 2}}}); });
  EXPECT_MSG_HAS(m, "must be static");
  m = what([] { infer_op("concat", {{DType::F32, {2, 3}}, {DType::F32, {2, 4}}}); });
  EXPECT_MSG_HAS(m, "f32[2,3]");
  EXPECT_MSG_HAS(m, "f32[2,4]");
  m = what([] { infer_op("concat", {{DType::F32, {B, 3}}, {DType::F32, {L, 3}}}, {{"axis", int64_t(1)}}); });
  EXPECT_MSG_HAS(m, "dim 0 differs");
  EXPECT_THROW(infer_op("concat", {{DType::F32, {2, 3}}, {DType::F64, {2, 3}}}), OpError);
  EXPECT_THROW(infer_op("concat", {{DType::F32, {2, 3}}, {DType::F32, {2, 3, 1}}}), OpError);
  EXPECT_THROW(infer_op("concat", {{DType::F32, {}}, {DType::F32, {}}}), OpError);
  EXPECT_THROW(infer_op("concat", {{DType::F32, {2}}}, {{"axis", int64_t(1)}}), OpError);
  EXPECT_THROW(infer_op("concat", {}), OpError);
}

// ---- slice ----

TEST(ShapeOps, SlicePythonSemantics) {
  Tensor x = iota({10});
  auto sl = [&](int64_t s, int64_t e, int64_t st = 1) {
    return run_op("slice", {x}, {{"axis", int64_t(0)}, {"start", s}, {"end", e}, {"step", st}});
  };
  expect_near(sl(2, 7), {2, 3, 4, 5, 6});
  expect_near(sl(-3, 100), {7, 8, 9});
  expect_near(sl(1, -1, 3), {1, 4, 7});
  expect_near(sl(0, 10, 4), {0, 4, 8});
  expect_near(sl(-100, 3), {0, 1, 2});
  EXPECT_EQ(sl(5, 2).shape(), (Shape{0}));
  EXPECT_EQ(sl(20, 30).shape(), (Shape{0}));
  EXPECT_EQ(sl(-1, 10, 1000).shape(), (Shape{1}));
  // Every (start, end, step) in a range, against a membership test: i is selected iff
  // s <= i < e and (i - s) % step == 0, with s, e normalised as Python does.
  for (int64_t s = -13; s <= 13; ++s)
    for (int64_t e = -13; e <= 13; ++e)
      for (int64_t st = 1; st <= 4; ++st) {
        int64_t ns = s < 0 ? std::max<int64_t>(s + 10, 0) : std::min<int64_t>(s, 10);
        int64_t ne = e < 0 ? std::max<int64_t>(e + 10, 0) : std::min<int64_t>(e, 10);
        std::vector<double> want;
        for (int64_t i = 0; i < 10; ++i)
          if (i >= ns && i < ne && (i - ns) % st == 0) want.push_back(double(i));
        SCOPED_TRACE(fmt::format("[{}:{}:{}]", s, e, st));
        expect_near(sl(s, e, st), want);
      }
}

// Negative steps, Python's values (x = list(range(10))): x[::-1] is x[9:-11:-1],
// x[7:2:-2] [7, 5, 3], x[-1:-12:-3] [9, 6, 3, 0], x[2::-1] [2, 1, 0], x[5:100:-1] [],
// x[100:5:-2] [9, 7], x[-100:-200:-1] [], x[3:-11:-1] [3, 2, 1, 0].
TEST(ShapeOps, SliceNegativeStepsAsPython) {
  Tensor x = iota({10});
  auto sl = [&](int64_t s, int64_t e, int64_t st) {
    return run_op("slice", {x}, {{"axis", int64_t(0)}, {"start", s}, {"end", e}, {"step", st}});
  };
  expect_near(sl(9, -11, -1), {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  expect_near(sl(7, 2, -2), {7, 5, 3});
  expect_near(sl(-1, -12, -3), {9, 6, 3, 0});
  expect_near(sl(2, -11, -1), {2, 1, 0});
  EXPECT_EQ(sl(5, 100, -1).shape(), (Shape{0}));
  expect_near(sl(100, 5, -2), {9, 7});
  EXPECT_EQ(sl(-100, -200, -1).shape(), (Shape{0}));
  expect_near(sl(3, -11, -1), {3, 2, 1, 0});
  // Every (start, end, step < 0) in a range, against membership: i is selected iff
  // e < i <= s and (s - i) % -step == 0, with s, e clamped to [-1, 9] as Python does.
  for (int64_t s = -13; s <= 13; ++s)
    for (int64_t e = -13; e <= 13; ++e)
      for (int64_t st = -4; st <= -1; ++st) {
        int64_t ns = std::clamp<int64_t>(s < 0 ? s + 10 : s, -1, 9),
                ne = std::clamp<int64_t>(e < 0 ? e + 10 : e, -1, 9);
        std::vector<double> want;
        for (int64_t i = 9; i >= 0; --i)
          if (i <= ns && i > ne && (ns - i) % -st == 0) want.push_back(double(i));
        SCOPED_TRACE(fmt::format("[{}:{}:{}]", s, e, st));
        expect_near(sl(s, e, st), want);
      }
  // Along an inner axis of an i64 tensor: x[:, 4:0:-3] of iota [2, 5].
  Tensor y = run_op("slice", {iota({2, 5}, DType::I64)},
                    {{"axis", int64_t(1)}, {"start", int64_t(4)}, {"end", int64_t(0)}, {"step", int64_t(-3)}});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  expect_near(y, {4, 1, 9, 6});
}

TEST(ShapeOps, SliceAlongAxis) {
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    Tensor x = iota({3, 5, 2}, dt);
    Tensor y =
        run_op("slice", {x}, {{"axis", int64_t(-2)}, {"start", int64_t(1)}, {"end", int64_t(5)}, {"step", int64_t(2)}});
    EXPECT_EQ(y.shape(), (Shape{3, 2, 2}));
    EXPECT_EQ(y.dtype(), dt);
    expect_near(y, {2, 3, 6, 7, 12, 13, 16, 17, 22, 23, 26, 27});
  }
  Attrs a = {{"axis", int64_t(1)}, {"start", int64_t(1)}, {"end", int64_t(-1)}};
  EXPECT_EQ(infer_op("slice", {{DType::F32, {B, 8}}}, a).shape, (Shape{B, 6}));
  // A symbolic axis gives a derived length, checked when the axis is bound.
  SymbolNames grown = {"B"};
  EXPECT_EQ(infer_op_sym("slice", {{DType::F32, {B, 8}}},
                         {{"axis", int64_t(0)}, {"start", int64_t(1)}, {"end", int64_t(-1)}}, grown),
            "f32[B-2,8]");
  std::string m = what([] {
    infer_op("slice", {{DType::F32, {B, 8}}},
             {{"axis", int64_t(0)}, {"start", int64_t(0)}, {"end", int64_t(2)}, {"step", int64_t(-1)}});
  });
  EXPECT_MSG_HAS(m, "positive step");
  a["step"] = int64_t(0);
  m = what([&] { infer_op("slice", {{DType::F32, {4, 8}}}, a); });
  EXPECT_MSG_HAS(m, "step must not be 0");
  a["step"] = int64_t(-1);  // x[:, 1:-1:-1] selects nothing, as in Python
  EXPECT_EQ(infer_op("slice", {{DType::F32, {4, 8}}}, a).shape, (Shape{4, 0}));
  a["step"] = int64_t(1);
  a["axis"] = int64_t(2);
  EXPECT_THROW(infer_op("slice", {{DType::F32, {4, 8}}}, a), OpError);
}

// ---- pad ----

TEST(ShapeOps, Pad) {
  Tensor x = T({2, 2}, {1, 2, 3, 4});
  Tensor y = run_op("pad", {x}, {{"pads", Ints{1, 0, 0, 2}}, {"value", 9.0}});
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
  expect_near(y, {9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9});
  for (DType dt : {DType::F32, DType::I64}) {
    Tensor z = run_op("pad", {T({3}, {1, 2, 3}, dt)}, {{"pads", Ints{2, 1}}});
    EXPECT_EQ(z.dtype(), dt);
    expect_near(z, {0, 0, 1, 2, 3, 0});
  }
  // 3-d against a naive loop.
  Tensor p = random_tensor({2, 3, 1}, DType::F32, 2);
  Tensor q = run_op("pad", {p}, {{"pads", Ints{0, 1, 2, 0, 1, 1}}, {"value", -1}});
  EXPECT_EQ(q.shape(), (Shape{3, 5, 3}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 3; ++k) {
        bool inside = i < 2 && j >= 2 && k == 1;
        EXPECT_EQ(q.get((i * 5 + j) * 3 + k), inside ? p.get(i * 3 + (j - 2)) : -1.0);
      }
  EXPECT_EQ(infer_op("pad", {{DType::F32, {B, 4}}}, {{"pads", Ints{0, 0, 1, 1}}}).shape, (Shape{B, 6}));
  SymbolNames grown = {"B"};  // padding a symbolic dim gives a derived one
  EXPECT_EQ(infer_op_sym("pad", {{DType::F32, {B, 4}}}, {{"pads", Ints{1, 0, 0, 0}}}, grown), "f32[B+1,4]");
  std::string m = what([] { infer_op("pad", {{DType::F32, {2, 4}}}, {{"pads", Ints{1, 1}}}); });
  EXPECT_MSG_HAS(m, "f32[2,4]");
  m = what([] { infer_op("pad", {{DType::F32, {2, 4}}}, {{"pads", Ints{0, 0, -1, 0}}}); });
  EXPECT_MSG_HAS(m, "non-negative");
}

// ---- rot90 / flip ----

TEST(ShapeOps, Rot90MatchesNumpy) {
  Tensor x = T({2, 3}, {1, 2, 3, 4, 5, 6});
  auto rot = [&](int64_t k, Ints axes = {-2, -1}) { return run_op("rot90", {x}, {{"k", k}, {"axes", axes}}); };
  // Values from numpy.rot90(np.array([[1,2,3],[4,5,6]]), k).
  Tensor r1 = rot(1);
  EXPECT_EQ(r1.shape(), (Shape{3, 2}));
  expect_near(r1, {3, 6, 2, 5, 1, 4});
  expect_near(rot(2), {6, 5, 4, 3, 2, 1});
  expect_near(rot(3), {4, 1, 5, 2, 6, 3});
  expect_near(rot(-1), {4, 1, 5, 2, 6, 3});
  expect_near(rot(-3), {3, 6, 2, 5, 1, 4});
  expect_near(rot(0), {1, 2, 3, 4, 5, 6});
  expect_near(rot(4), {1, 2, 3, 4, 5, 6});
  expect_near(rot(5), {3, 6, 2, 5, 1, 4});
  expect_near(rot(-6), {6, 5, 4, 3, 2, 1});
  expect_near(rot(1, {1, 0}), {4, 1, 5, 2, 6, 3});        // rot90(m, k, (1,0)) == rot90(m, -k, (0,1))
  expect_near(run_op("rot90", {x}), {3, 6, 2, 5, 1, 4});  // defaults k=1, axes (-2,-1)
  // numpy docs: np.rot90(np.arange(8).reshape((2,2,2)), 1, (1,2)).
  expect_near(run_op("rot90", {iota({2, 2, 2})}, {{"axes", Ints{1, 2}}}), {1, 3, 0, 2, 5, 7, 4, 6});
}

TEST(ShapeOps, Rot90GeneralAxes) {
  // k=1 in the plane (a0, a1): out[.., i@a0, .., j@a1, ..] = m[.., j@a0, .., (n1-1-i)@a1, ..].
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor m = random_tensor({2, 3, 4}, dt, 9);
    Tensor y = run_op("rot90", {m}, {{"axes", Ints{0, 2}}});
    EXPECT_EQ(y.shape(), (Shape{4, 3, 2}));
    for (int i = 0; i < 4; ++i)
      for (int b = 0; b < 3; ++b)
        for (int j = 0; j < 2; ++j) EXPECT_EQ(y.get((i * 3 + b) * 2 + j), m.get((j * 3 + b) * 4 + (3 - i)));
    // Four quarter turns are the identity, and k=2 equals two k=1 turns.
    Tensor z = m;
    for (int t = 0; t < 4; ++t) z = run_op("rot90", {z}, {{"axes", Ints{0, 2}}});
    EXPECT_EQ(z.shape(), m.shape());
    for (int64_t i = 0; i < m.size(); ++i) EXPECT_EQ(z.get(i), m.get(i));
    Tensor two = run_op("rot90", {run_op("rot90", {m}, {{"axes", Ints{2, 1}}})}, {{"axes", Ints{2, 1}}});
    Tensor k2 = run_op("rot90", {m}, {{"k", int64_t(2)}, {"axes", Ints{2, 1}}});
    for (int64_t i = 0; i < m.size(); ++i) EXPECT_EQ(two.get(i), k2.get(i));
  }
  EXPECT_EQ(infer_op("rot90", {{DType::F32, {B, 3, 4}}}).shape, (Shape{B, 4, 3}));
  EXPECT_EQ(infer_op("rot90", {{DType::F32, {B, 3, 4}}}, {{"k", int64_t(2)}}).shape, (Shape{B, 3, 4}));
  std::string m = what([] { infer_op("rot90", {{DType::F32, {3, 4}}}, {{"axes", Ints{0, -2}}}); });
  EXPECT_MSG_HAS(m, "axes must be different");
  EXPECT_THROW(infer_op("rot90", {{DType::F32, {3, 4}}}, {{"axes", Ints{0}}}), OpError);
  EXPECT_THROW(infer_op("rot90", {{DType::F32, {3, 4}}}, {{"axes", Ints{0, 2}}}), OpError);
  m = what([] { infer_op("rot90", {{DType::F32, {3}}}); });
  EXPECT_MSG_HAS(m, "f32[3]");
}

TEST(ShapeOps, Flip) {
  Tensor x = T({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_near(run_op("flip", {x}, {{"axes", Ints{0}}}), {4, 5, 6, 1, 2, 3});
  expect_near(run_op("flip", {x}, {{"axes", Ints{-1}}}), {3, 2, 1, 6, 5, 4});
  expect_near(run_op("flip", {x}, {{"axes", Ints{0, 1}}}), {6, 5, 4, 3, 2, 1});
  expect_near(run_op("flip", {x}, {{"axes", Ints{}}}), {1, 2, 3, 4, 5, 6});
  Tensor i = run_op("flip", {T({4}, {1, 2, 3, 4}, DType::I64)}, {{"axes", int64_t(0)}});
  EXPECT_EQ(i.dtype(), DType::I64);
  expect_near(i, {4, 3, 2, 1});
  EXPECT_EQ(run_op("flip", {Tensor(DType::F32, {0, 2})}, {{"axes", Ints{0, 1}}}).shape(), (Shape{0, 2}));
  EXPECT_EQ(infer_op("flip", {{DType::F32, {B, 3}}}, {{"axes", Ints{0}}}).shape, (Shape{B, 3}));
  std::string m = what([] { infer_op("flip", {{DType::F32, {2, 3}}}, {{"axes", Ints{1, -1}}}); });
  EXPECT_MSG_HAS(m, "appears twice");
  EXPECT_THROW(infer_op("flip", {{DType::F32, {2, 3}}}, {{"axes", Ints{2}}}), OpError);
}

// ---- upsample ----

TEST(ShapeOps, UpsampleNearest) {
  expect_near(run_op("upsample", {T({1, 1, 3}, {1, 2, 3})}, {{"scale", Ints{2}}}), {1, 1, 2, 2, 3, 3});
  Tensor x = T({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor y = run_op("upsample", {x}, {{"scale", int64_t(2)}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  expect_near(y, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  expect_near(run_op("upsample", {x}, {{"scale", Ints{1, 3}}}), {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4});
  // torch.nn.Upsample(scale_factor=(3, 2), mode='nearest'): out[n,c,h,w] = x[n,c,h/3,w/2].
  for (DType dt : {DType::F32, DType::F64}) {
    Tensor r = random_tensor({2, 3, 5, 4}, dt, 4);
    Tensor u = run_op("upsample", {r}, {{"scale", Ints{3, 2}}});
    EXPECT_EQ(u.shape(), (Shape{2, 3, 15, 8}));
    for (int nc = 0; nc < 6; ++nc)
      for (int h = 0; h < 15; ++h)
        for (int w = 0; w < 8; ++w) EXPECT_EQ(u.get((nc * 15 + h) * 8 + w), r.get((nc * 5 + h / 3) * 4 + w / 2));
  }
  EXPECT_EQ(infer_op("upsample", {{DType::F32, {B, 4, 7}}}, {{"scale", Ints{3}}}).shape, (Shape{B, 4, 21}));
  std::string m = what([] { infer_op("upsample", {{DType::F32, {2, 4}}}, {{"scale", Ints{2}}}); });
  EXPECT_MSG_HAS(m, "f32[2,4]");
  EXPECT_THROW(infer_op("upsample", {{DType::F32, {1, 1, 4}}}, {{"scale", Ints{2, 2}}}), OpError);
  EXPECT_THROW(infer_op("upsample", {{DType::F32, {1, 1, 4, 4}}}, {{"scale", Ints{2, 2, 2}}}), OpError);
  EXPECT_THROW(infer_op("upsample", {{DType::F32, {1, 1, 4}}}, {{"scale", Ints{0}}}), OpError);
  EXPECT_THROW(infer_op("upsample", {{DType::F32, {1, 1, L}}}, {{"scale", Ints{2}}}), OpError);
}

// ---- broadcast_to ----

TEST(ShapeOps, BroadcastTo) {
  expect_near(run_op("broadcast_to", {T({3}, {1, 2, 3})}, {{"shape", Ints{2, 3}}}), {1, 2, 3, 1, 2, 3});
  expect_near(run_op("broadcast_to", {T({2, 1}, {1, 2})}, {{"shape", Ints{2, 3}}}), {1, 1, 1, 2, 2, 2});
  Tensor s = run_op("broadcast_to", {T({}, {5}, DType::I64)}, {{"shape", Ints{2, 2}}});
  EXPECT_EQ(s.dtype(), DType::I64);
  expect_near(s, {5, 5, 5, 5});
  EXPECT_EQ(run_op("broadcast_to", {T({1}, {1})}, {{"shape", Ints{2, 0}}}).shape(), (Shape{2, 0}));
  Tensor r = random_tensor({3, 1, 2}, DType::F32, 8);
  Tensor y = run_op("broadcast_to", {r}, {{"shape", Ints{2, 3, 4, 2}}});
  for (int a = 0; a < 2; ++a)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 2; ++k) EXPECT_EQ(y.get(((a * 3 + i) * 4 + j) * 2 + k), r.get(i * 2 + k));

  EXPECT_EQ(infer_op("broadcast_to", {{DType::F32, {1, 3}}}, {{"shape", Ints{B, 3}}}).shape, (Shape{B, 3}));
  EXPECT_EQ(infer_op("broadcast_to", {{DType::F32, {B, 1}}}, {{"shape", Ints{2, B, 4}}}).shape, (Shape{2, B, 4}));
  std::string m = what([] { infer_op("broadcast_to", {{DType::F32, {3}}}, {{"shape", Ints{2, 4}}}); });
  EXPECT_MSG_HAS(m, "f32[3]");
  EXPECT_MSG_HAS(m, "[2,4]");
  EXPECT_THROW(infer_op("broadcast_to", {{DType::F32, {2, 3}}}, {{"shape", Ints{3}}}), OpError);
  EXPECT_THROW(infer_op("broadcast_to", {{DType::F32, {2, 3}}}, {{"shape", Ints{B, 3}}}), OpError);
  EXPECT_THROW(infer_op("broadcast_to", {{DType::F32, {B, 3}}}, {{"shape", Ints{4, 3}}}), OpError);
  EXPECT_THROW(infer_op("broadcast_to", {{DType::F32, {3}}}, {{"shape", Ints{-1, 3}}}), OpError);
}

// ---- full / one_hot ----

TEST(ShapeOps, Full) {
  Tensor a = run_op("full", {}, {{"shape", Ints{2, 3}}, {"value", 1.5}});
  EXPECT_EQ(a.type(), (TensorType{DType::F32, {2, 3}}));
  expect_near(a, std::vector<double>(6, 1.5));
  expect_near(run_op("full", {}, {{"shape", Ints{2}}}), {0, 0});
  Tensor i = run_op("full", {}, {{"shape", Ints{2}}, {"value", int64_t(3)}, {"dtype", DType::I64}});
  EXPECT_EQ(i.dtype(), DType::I64);
  expect_near(i, {3, 3});
  expect_near(run_op("full", {}, {{"shape", Ints{2}}, {"value", 2.0}, {"dtype", DType::Bool}}), {1, 1});
  expect_near(run_op("full", {}, {{"shape", Ints{}}, {"value", -4.0}, {"dtype", DType::F64}}), {-4});
  EXPECT_EQ(infer_op("full", {}, {{"shape", Ints{B, 3}}}).shape, (Shape{B, 3}));
  EXPECT_THROW(infer_op("full", {}, {{"shape", Ints{-2}}}), OpError);
  EXPECT_THROW(infer_op("full", {{DType::F32, {2}}}, {{"shape", Ints{2}}}), OpError);
}

TEST(ShapeOps, OneHot) {
  Tensor x = T({2, 2}, {0, 2, -1, 3}, DType::I64);
  Tensor y = run_op("one_hot", {x}, {{"depth", int64_t(3)}});
  EXPECT_EQ(y.type(), (TensorType{DType::F32, {2, 2, 3}}));
  expect_near(y, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});  // out-of-range labels give zero rows
  Tensor z = run_op("one_hot", {T({3}, {1, 0, 1}, DType::I64)}, {{"depth", int64_t(2)}, {"dtype", DType::F64}});
  EXPECT_EQ(z.dtype(), DType::F64);
  expect_near(z, {0, 1, 1, 0, 0, 1});
  EXPECT_EQ(infer_op("one_hot", {{DType::I64, {B}}}, {{"depth", int64_t(10)}}).shape, (Shape{B, 10}));
  std::string m = what([] { infer_op("one_hot", {{DType::F32, {3}}}, {{"depth", int64_t(3)}}); });
  EXPECT_MSG_HAS(m, "f32[3]");
  EXPECT_THROW(infer_op("one_hot", {{DType::I64, {3}}}, {{"depth", int64_t(0)}}), OpError);
  EXPECT_THROW(infer_op("one_hot", {{DType::I64, {3}}}), OpError);
}

TEST(ShapeOps, EveryOpHasADoc) {
  for (std::string name : {"reshape", "transpose", "concat", "slice", "pad", "rot90", "flip", "upsample",
                           "broadcast_to", "full", "one_hot"}) {
    const OpDef* op = find_op(name);
    ASSERT_NE(op, nullptr) << name;
    EXPECT_FALSE(op->doc.empty()) << name;
  }
}
