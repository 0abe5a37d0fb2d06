// The builtins that are sugar over primitive ops (dsl/elaborate_shape_builtins.cpp):
// clamp, masked_fill, expand_dims/unsqueeze, squeeze, stack, split, chunk, repeat, tile.
// Values and gradients are PyTorch 1.13's (the torch call is written above each), run on
// the reference interpreter and the JIT; misuse gives an error at the call.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/interpreter.h"
#include "tests/unit/jit_test_util.h"
#include "tests/unit/op_test_util.h"

namespace starc {
namespace {

using test::T;

const double kNan = std::nan("");
const double kInf = INFINITY;

// Runs g on the reference interpreter and the JIT; both must give `want` per output
// (NaN where want is NaN).
void expect_outputs(const Graph& g, const std::vector<Tensor>& in, const std::vector<std::vector<double>>& want) {
  auto ref = run_graph(g, in, {});
  JitExecutor jit;
  std::vector<Tensor> got;
  ASSERT_TRUE(test::jit_run_or_fail(jit, g, in, 0, "jit", &got));
  ASSERT_EQ(ref.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k)
    for (const Tensor* t : {&ref[k], &got[k]}) {
      ASSERT_EQ(t->size(), int64_t(want[k].size())) << "output " << k;
      for (int64_t i = 0; i < t->size(); ++i) {
        double w = want[k][size_t(i)], v = t->get(i);
        if (std::isnan(w))
          EXPECT_TRUE(std::isnan(v)) << "output " << k << " at " << i << ": " << v;
        else
          EXPECT_DOUBLE_EQ(v, w) << "output " << k << " at " << i << (t == &ref[k] ? " (reference)" : " (jit)");
      }
    }
}

std::string compile_error(const std::string& src) {
  try {
    test::compile(src, "M");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<compiled>";
}

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE(std::string(hay).find(needle), std::string::npos) << "in: " << (hay)

// torch.clamp(x, -1., 1.) and the gradient of sum(y * w), w = [[1, 2, 3], [4, 5, 6]]:
// y [[nan, -1, 0.5], [1, 1, -1]], dx [[0, 0, 3], [4, 0, 0]] (NaN gets 0; the bounds
// themselves pass the gradient).
TEST(ShapeBuiltins, ClampMatchesTorchWithNanAndBounds) {
  Graph g = test::compile(R"(
model M(x: f64[2, 3], w: f64[2, 3]) -> (y: f64[2, 3], dx: f64[2, 3]) {
    y = clamp(x, -1.0, 1.0)
    return (y, grad(sum(y * w), wrt: x))
}
)",
                          "M");
  Tensor w = T({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_outputs(g, {T({2, 3}, {kNan, -3, 0.5, 1, 2, -kInf}), w}, {{kNan, -1, 0.5, 1, 1, -1}, {0, 0, 3, 4, 0, 0}});
  // torch.clamp(x, -1., 1.) at the bounds: x [0, -1, 0.5, 1, 2, 3] -> dx [1, 2, 3, 4, 0, 0].
  expect_outputs(g, {T({2, 3}, {0, -1, 0.5, 1, 2, 3}), w}, {{0, -1, 0.5, 1, 1, 1}, {1, 2, 3, 4, 0, 0}});
}

// torch.clamp(x, min=0.) (one bound), torch.clamp(x, 2., 1.) (min > max: max everywhere,
// zero gradient), and an i64 clamp.
TEST(ShapeBuiltins, ClampOneBoundCrossedBoundsAndIntegers) {
  Graph g = test::compile(R"(
model M(x: f64[4], k: i64[4]) -> (a: f64[4], b: f64[4], db: f64[4], c: i64[4]) {
    a = clamp(x, min: 0.0)
    b = clamp(x, 2.0, 1.0)
    return (a, b, grad(sum(b), wrt: x), clamp(k, max: 2))
}
)",
                          "M");
  expect_outputs(g, {T({4}, {kNan, -1, 0.5, 5}), T({4}, {-3, 1, 2, 7}, DType::I64)},
                 {{kNan, 0, 0.5, 5}, {kNan, 1, 1, 1}, {0, 0, 0, 0}, {-3, 1, 2, 2}});
}

// x.masked_fill(torch.tensor([True, False, True]), -5.) for x = arange(6).reshape(2, 3);
// d sum(y * x) / dx is y + x dy/dx: -5 where the mask is set (no gradient through the
// fill), 2x elsewhere.
TEST(ShapeBuiltins, MaskedFillBroadcastsTheMask) {
  Graph g = test::compile(R"(
model M(x: f64[2, 3], m: bool[3]) -> (y: f64[2, 3], dx: f64[2, 3]) {
    y = masked_fill(x, m, -5.0)
    return (y, grad(sum(y * x), wrt: x))
}
)",
                          "M");
  expect_outputs(g, {T({2, 3}, {0, 1, 2, 3, 4, 5}), T({3}, {1, 0, 1}, DType::Bool)},
                 {{-5, 1, -5, -5, 4, -5}, {-5, 2, -5, -5, 8, -5}});
}

TEST(ShapeBuiltins, ExpandDimsUnsqueezeAndSqueezeKeepSymbolicDims) {
  Graph g = test::compile(R"(
model M(x: f32[B, 1, 3]) -> (a: f32[B, 1, 3, 1], b: f32[1, B, 1, 3], c: f32[B, 3], d: f32[B, 3]) {
    return (expand_dims(x, -1), unsqueeze(x, 0), squeeze(x), squeeze(x, axis: 1))
}
)",
                          "M");
  EXPECT_EQ(type_str(g.type(g.outputs[0]), &g.symbols), "f32[B,1,3,1]");
  expect_outputs(g, {T({2, 1, 3}, {1, 2, 3, 4, 5, 6}, DType::F32)},
                 {{1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6}});
}

// torch.stack([a, a + 10], dim=1) and dim=-1 for a = arange(6).reshape(2, 3).
TEST(ShapeBuiltins, StackAlongNewAxes) {
  Graph g = test::compile(R"(
model M(a: f64[2, 3]) -> (s1: f64[2, 2, 3], s2: f64[2, 3, 2], da: f64[2, 3]) {
    s1 = stack([a, a + 10.0], axis: 1)
    s2 = stack((a, a + 10.0), axis: -1)
    return (s1, s2, grad(sum(s2 * s2), wrt: a))
}
)",
                          "M");
  expect_outputs(g, {T({2, 3}, {0, 1, 2, 3, 4, 5})},
                 {{0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15},
                  {0, 10, 1, 11, 2, 12, 3, 13, 4, 14, 5, 15},
                  {20, 24, 28, 32, 36, 40}});  // 2a + 2(a + 10)
}

// torch.split(arange(7).reshape(1, 7), 3, dim=1) -> [0 1 2], [3 4 5], [6];
// torch.split(x, [2, 5], dim=1); torch.chunk(arange(5.), 3) -> [0 1], [2 3], [4];
// torch.chunk(arange(6.), 4) -> three pieces of 2.
TEST(ShapeBuiltins, SplitAndChunkAsTorch) {
  Graph g = test::compile(R"(
model M(x: f64[1, 7], v: f64[5], u: f64[6]) -> (a: f64[1, 3], b: f64[1, 3], c: f64[1, 1], d: f64[1, 5],
                                                 e: f64[1], f: f64[2], dx: f64[1, 7]) {
    (a, b, c) = split(x, 3, axis: 1)
    (p, d) = split(x, [2, 5], axis: -1)
    parts = chunk(v, 3)
    assert len(parts) == 3, "chunk(5, 3) gives 3 pieces"
    assert len(chunk(u, 4)) == 3, "chunk(6, 4) gives 3 pieces of 2"
    assert len(split(u, 6)) == 1, "one piece"
    return (a, b, c, d, parts[2], chunk(u, 4)[1], grad(sum(b * b) + sum(p), wrt: x))
}
)",
                          "M");
  expect_outputs(g, {T({1, 7}, {0, 1, 2, 3, 4, 5, 6}), T({5}, {0, 1, 2, 3, 4}), T({6}, {0, 1, 2, 3, 4, 5})},
                 {{0, 1, 2}, {3, 4, 5}, {6}, {2, 3, 4, 5, 6}, {4}, {2, 3}, {1, 1, 0, 6, 8, 10, 0}});
}

// b.repeat(2, 1, 3) for b = [[1, 2], [3, 4]] (a leading dim added), numpy.tile(b, 3)
// (reps prepended with 1s), and the gradient of sum(b.repeat(2, 3) * arange(24).reshape(4, 6)):
// torch gives [[48, 54], [84, 90]].
TEST(ShapeBuiltins, RepeatAndTileAsTorchAndNumpy) {
  Graph g = test::compile(R"(
model M(b: f64[2, 2], w: f64[4, 6]) -> (r: f64[2, 2, 6], t: f64[2, 6], db: f64[2, 2]) {
    return (repeat(b, [2, 1, 3]), tile(b, 3), grad(sum(repeat(b, [2, 3]) * w), wrt: b))
}
)",
                          "M");
  std::vector<double> w(24);
  for (size_t i = 0; i < w.size(); ++i) w[i] = double(i);
  std::vector<double> row1 = {1, 2, 1, 2, 1, 2}, row2 = {3, 4, 3, 4, 3, 4}, r;
  for (int k = 0; k < 2; ++k) r.insert(r.end(), row1.begin(), row1.end()), r.insert(r.end(), row2.begin(), row2.end());
  std::vector<double> t(r.begin(), r.begin() + 12);
  expect_outputs(g, {T({2, 2}, {1, 2, 3, 4}), T({4, 6}, w)}, {r, t, {48, 54, 84, 90}});
}

TEST(ShapeBuiltins, RepeatKeepsASymbolicDimRepeatedOnce) {
  Graph g = test::compile(R"(
model M(x: f32[B, 2]) -> f32[B, 4] {
    return tile(x, [1, 2])
}
)",
                          "M");
  expect_outputs(g, {T({1, 2}, {5, 6}, DType::F32)}, {{5, 6, 5, 6}});
}

// Negative slice steps in indexing, as Python/numpy: x[:, ::-1], x[:, 3:0:-2], x[::-1]
// over a list; the gradient of sum(x[:, ::-2] * w) puts w back at columns 4, 2, 0.
TEST(ShapeBuiltins, NegativeStepIndexing) {
  Graph g = test::compile(R"(
model M(x: f64[2, 5], w: f64[2, 3]) -> (r: f64[2, 5], s: f64[2, 2], t: f64[2, 2], dx: f64[2, 5]) {
    let l = [0, 1, 2, 3][::-1]
    assert l[0] == 3 and l[3] == 0 and len([0, 1, 2, 3][-1:0:-2]) == 2, "list reversal"
    return (x[:, ::-1], x[:, 3:0:-2], x[::-1, l[3]:l[1]], grad(sum(x[:, ::-2] * w), wrt: x))
}
)",
                          "M");
  expect_outputs(g, {T({2, 5}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), T({2, 3}, {1, 2, 3, 4, 5, 6})},
                 {{4, 3, 2, 1, 0, 9, 8, 7, 6, 5}, {3, 1, 8, 6}, {5, 6, 0, 1}, {3, 0, 2, 0, 1, 6, 0, 5, 0, 4}});
}

// Misuse: an error at the call naming the tensor and what is wrong.
TEST(ShapeBuiltins, MisuseIsACompileError) {
  auto err = [](const std::string& body, const std::string& inputs = "x: f32[B, 2, 3]") {
    return compile_error(
        fmt::format("model M({}) -> f32[1] {{\n    y = {}\n    return zeros([1])\n}}\n", inputs, body));
  };
  EXPECT_CONTAINS(err("squeeze(x, axis: 2)"), "squeeze: axis 2 of f32[B,2,3] has length 3, not 1");
  EXPECT_CONTAINS(err("squeeze(x, axis: 0)"), "squeeze: axis 0 of f32[B,2,3] has length B, not 1");
  EXPECT_CONTAINS(err("expand_dims(x, 4)"),
                  "expand_dims: axis 4 is out of range for f32[B,2,3] (it must be in [-4, 3])");
  EXPECT_CONTAINS(err("split(x, [1, 1], axis: 2)"),
                  "split: the sizes [1, 1] add up to 2, but axis 2 of f32[B,2,3] has length 3");
  EXPECT_CONTAINS(err("split(x, 2, axis: 0)"), "split: axis 0 of f32[B,2,3] is symbolic");
  EXPECT_CONTAINS(err("split(x, 0, axis: 1)"), "split: the piece size must be at least 1");
  EXPECT_CONTAINS(err("chunk(x, 0, axis: 1)"), "chunk: chunks must be at least 1, got 0");
  EXPECT_CONTAINS(err("stack([x, x[:, 0:1]])"),
                  "stack: tensor 1 is f32[B,1,3] but tensor 0 is f32[B,2,3] (stack needs equal shapes and dtypes)");
  EXPECT_CONTAINS(err("stack([])"), "stack needs at least one tensor");
  EXPECT_CONTAINS(err("masked_fill(x, x, 0.0)"), "masked_fill: mask must be bool");
  EXPECT_CONTAINS(err("masked_fill(x, m, 0.0)", "x: f32[B, 2, 3], m: bool[4]"), "where");
  EXPECT_CONTAINS(err("masked_fill(x[0:1], m, 0.0)", "x: f32[2, 3], m: bool[5, 2, 3]"),
                  "masked_fill: mask bool[5,2,3] does not broadcast to the shape of x f32[1,3]");
  EXPECT_CONTAINS(err("clamp(x)"), "clamp needs min or max (or both)");
  EXPECT_CONTAINS(err("clamp(x, lo: 1.0)"), "clamp has no argument 'lo' (it takes: clamp(x, min, max))");
  EXPECT_CONTAINS(err("repeat(x, [1, 2])"), "repeat: reps [1, 2] has fewer entries than the rank 3 of f32[B,2,3]");
  EXPECT_CONTAINS(err("repeat(x, [2, 1, 1])"),
                  "repeat: dim 0 of f32[B,2,3] is symbolic and cannot be repeated 2 times");
  EXPECT_CONTAINS(err("tile(x, [-1])"), "tile: reps [1, 1, -1] has a negative entry");
}

}  // namespace
}  // namespace starc
