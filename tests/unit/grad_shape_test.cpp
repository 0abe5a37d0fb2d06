// Gradients of the shape and data-movement ops against central finite differences (f64),
// and of their gradient rules in turn (grad of grad).
#include "grad_test_util.h"
#include "op_test_util.h"

namespace starc::test {
namespace {

Tensor rnd(Shape s, uint32_t seed) { return random_tensor(std::move(s), DType::F64, seed, -2, 2); }

// First- and second-order checks of one op application.
void check(const std::string& op, const std::vector<Tensor>& in, Attrs attrs = {}) {
  expect_op_gradient(op, in, attrs);
  expect_op_grad_of_grad(op, in, attrs);
}

TEST(GradShape, Reshape) {
  check("reshape", {rnd({3, 4}, 1)}, {{"shape", Ints{4, 3}}});
  check("reshape", {rnd({2, 3, 4}, 2)}, {{"shape", Ints{6, -1}}});
  check("reshape", {rnd({17}, 3)}, {{"shape", Ints{1, 17, 1}}});
  check("reshape", {rnd({1}, 4)}, {{"shape", Ints{}}});
}

TEST(GradShape, Transpose) {
  check("transpose", {rnd({3, 4}, 5)});
  check("transpose", {rnd({2, 3, 5}, 6)}, {{"perm", Ints{1, 2, 0}}});
  check("transpose", {rnd({2, 3, 5}, 7)}, {{"perm", Ints{-1, 0, -2}}});
  check("transpose", {rnd({1, 17, 3, 2}, 8)}, {{"perm", Ints{3, 1, 0, 2}}});
}

TEST(GradShape, Concat) {
  check("concat", {rnd({2, 3}, 9), rnd({1, 3}, 10), rnd({4, 3}, 11)});
  check("concat", {rnd({2, 3}, 12), rnd({2, 1}, 13), rnd({2, 17}, 14)}, {{"axis", int64_t(-1)}});
  check("concat", {rnd({2, 3, 2}, 15), rnd({2, 1, 2}, 16)}, {{"axis", int64_t(1)}});
  check("concat", {rnd({5}, 17)});
}

TEST(GradShape, Slice) {
  struct Case {
    Shape shape;
    int64_t axis, start, end, step;
  };
  for (Case c : std::vector<Case>{{{7, 3}, 0, 1, 5, 1},
                                  {{7, 3}, 0, 0, 7, 2},
                                  {{17}, 0, 1, 17, 2},   // ends on the last element
                                  {{17}, 0, 2, 16, 3},   // trailing zeros trimmed
                                  {{17}, 0, 0, 100, 3},  // end clamped
                                  {{3, 17}, -1, -9, -1, 2},
                                  {{3, 17}, 1, -100, 5, 3},
                                  {{3, 4, 5}, 1, 1, 3, 1},
                                  {{3, 4, 5}, -2, -3, 4, 2},
                                  {{6, 2}, 0, 4, 6, 5},  // one element with a large step
                                  {{1, 3}, 0, 0, 1, 1},
                                  {{4, 3}, 0, 3, 1, 1},    // empty slice
                                  {{5, 3}, 0, 4, -6, -1},  // x[::-1]
                                  {{17}, 0, 15, 1, -3},    // stops before the first element
                                  {{17}, 0, 100, -100, -4},
                                  {{3, 17}, -1, -2, 3, -2},
                                  {{6, 2}, 0, 1, -10, -5},  // one element
                                  {{4, 3}, 0, 1, 3, -1}})   // empty slice
  {
    Attrs a{{"axis", c.axis}, {"start", c.start}, {"end", c.end}, {"step", c.step}};
    check("slice", {rnd(c.shape, uint32_t(20 + c.step + c.start))}, a);
  }
}

TEST(GradShape, Pad) {
  check("pad", {rnd({3, 4}, 30)}, {{"pads", Ints{1, 2, 0, 3}}});
  check("pad", {rnd({1, 17}, 31)}, {{"pads", Ints{0, 0, 4, 1}}, {"value", 2.5}});
  check("pad", {rnd({2, 3, 1}, 32)}, {{"pads", Ints{2, 0, 0, 0, 1, 1}}});
  check("pad", {rnd({5}, 33)}, {{"pads", Ints{0, 0}}});
}

TEST(GradShape, Rot90) {
  for (int64_t k : {1, 2, 3, -1, 0, 5}) {
    check("rot90", {rnd({3, 4}, 40)}, {{"k", k}});
    check("rot90", {rnd({2, 3, 5}, 41)}, {{"k", k}, {"axes", Ints{0, 2}}});
    check("rot90", {rnd({2, 3, 5}, 42)}, {{"k", k}, {"axes", Ints{-1, -3}}});
  }
}

TEST(GradShape, Flip) {
  check("flip", {rnd({3, 4}, 50)}, {{"axes", Ints{0}}});
  check("flip", {rnd({2, 3, 17}, 51)}, {{"axes", Ints{-1, 0}}});
  check("flip", {rnd({4}, 52)}, {{"axes", Ints{}}});
}

TEST(GradShape, Upsample) {
  check("upsample", {rnd({2, 3, 5}, 60)}, {{"scale", Ints{2}}});
  check("upsample", {rnd({1, 2, 3}, 61)}, {{"scale", Ints{3}}});
  check("upsample", {rnd({1, 1, 4}, 62)}, {{"scale", Ints{1}}});
  check("upsample", {rnd({2, 1, 3, 2}, 63)}, {{"scale", Ints{2}}});
  check("upsample", {rnd({1, 2, 3, 4}, 64)}, {{"scale", Ints{3, 1}}});
  check("upsample", {rnd({1, 2, 2, 3}, 65)}, {{"scale", Ints{1, 2}}});
}

TEST(GradShape, BroadcastTo) {
  check("broadcast_to", {rnd({3, 1}, 70)}, {{"shape", Ints{2, 3, 4}}});
  check("broadcast_to", {rnd({17}, 71)}, {{"shape", Ints{3, 17}}});
}

// A chain of shape ops in one graph: gradients compose (and accumulate over the fan-out
// of x into concat).
TEST(GradShape, ChainWithFanOut) {
  Graph g;
  GraphBuilder b(g);
  int x = b.op("input", {}, {{"name", std::string("x")}, {"dtype", DType::F64}, {"shape", Ints{3, 4}}});
  g.inputs = {x};
  int t = b.transpose(x, {1, 0});  // [4,3]
  int s = b.op("slice", {t}, {{"axis", int64_t(0)}, {"start", int64_t(1)}, {"end", int64_t(4)}, {"step", int64_t(2)}});
  int p = b.op("pad", {s}, {{"pads", Ints{1, 0, 0, 1}}});                  // [3,4]
  int c = b.op("concat", {p, x, b.op("flip", {x}, {{"axes", Ints{1}}})});  // [9,4]
  int r = b.op("rot90", {b.reshape(c, {3, 3, 4})}, {{"k", int64_t(3)}, {"axes", Ints{0, 2}}});
  g.outputs = {b.mul(r, r)};
  g.output_names = {"y"};
  expect_gradcheck(g, {rnd({3, 4}, 80)});
}

// Every shape op's rule on a symbolic batch dim B (left in place by all of them; flip
// and rot90 also act on it), differentiated symbolically and run at B = 3.
TEST(GradShape, SymbolicBatchDim) {
  Dim B = make_sym(0);
  Graph g;
  g.name = "sym_shape";
  g.symbols = {"B"};
  GraphBuilder b(g);
  int x = b.op("input", {}, {{"name", std::string("x")}, {"dtype", DType::F32}, {"shape", Ints{B, 2, 3, 4}}});
  g.inputs = {x};
  int u = b.op("upsample", {x}, {{"scale", Ints{2, 1}}});                 // [B,2,6,4]
  int p = b.op("pad", {u}, {{"pads", Ints{0, 0, 0, 0, 1, 0, 0, 2}}});     // [B,2,7,6]
  int r = b.op("rot90", {p}, {{"k", int64_t(1)}, {"axes", Ints{2, 3}}});  // [B,2,6,7]
  int f = b.op("flip", {r}, {{"axes", Ints{0, 3}}});
  int s = b.op("slice", {f}, {{"axis", int64_t(3)}, {"start", int64_t(0)}, {"end", int64_t(7)}, {"step", int64_t(3)}});
  int t = b.transpose(s, {2, 0, 3, 1});                                     // [6,B,3,2]
  int c = b.op("concat", {t, b.op("tanh", {t})}, {{"axis", int64_t(-1)}});  // [6,B,3,4]
  int q = b.op("rot90", {b.reshape(c, {6, B, 12})}, {{"k", int64_t(2)}, {"axes", Ints{0, 1}}});
  g.outputs = {b.op("mean", {b.mul(q, q)})};
  g.output_names = {"y"};
  Tensor xv = random_tensor({3, 2, 3, 4}, DType::F32, 90, -2, 2);
  expect_symbolic_gradient(g, {xv});
  expect_gradcheck(g, {xv});
}

}  // namespace
}  // namespace starc::test
