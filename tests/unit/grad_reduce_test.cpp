// Gradients of the reductions against central finite differences (f64), and the
// tie-splitting of max/min gradients (where finite differences are undefined).
#include "compiler/autodiff/autodiff.h"
#include "grad_test_util.h"
#include "op_test_util.h"
#include "runtime/interpreter.h"

namespace starc::test {
namespace {

struct Red {
  Shape shape;
  Ints axes;
  bool keepdims;
};

const std::vector<Red> kCases = {
    {{7}, {}, false},         {{7}, {0}, true},
    {{3, 4}, {}, true},       {{3, 4}, {1}, false},
    {{3, 4}, {-2}, true},     {{3, 1, 17}, {0, 2}, false},
    {{3, 1, 17}, {-1}, true}, {{2, 3, 4}, {2, 0, 1}, false},
    {{1, 1}, {0, 1}, true},   {{}, {}, false},
};

TEST(GradReduce, SmoothReductions) {
  uint32_t seed = 500;
  for (const char* op : {"sum", "mean", "logsumexp"})
    for (const Red& c : kCases) {
      Tensor x = random_tensor(c.shape, DType::F64, ++seed, -2, 2);
      Attrs a{{"axes", c.axes}, {"keepdims", c.keepdims}};
      expect_op_gradient(op, {x}, a);
      expect_op_grad_of_grad(op, {x}, a);
    }
}

TEST(GradReduce, MaxMinWithoutTies) {
  uint32_t seed = 600;
  for (const char* op : {"max", "min"})
    for (const Red& c : kCases) {
      // Distinct values (a shuffled ramp) so the extremum is unique and finite
      // differences are well defined.
      Tensor x = random_tensor(c.shape, DType::F64, ++seed, -2, 2);
      for (int64_t i = 0; i < x.size(); ++i) x.set(i, double((i * 7919) % (x.size() + 1)) * 0.1 + x.get(i) * 1e-3);
      expect_op_gradient(op, {x}, {{"axes", c.axes}, {"keepdims", c.keepdims}});
    }
}

// d/dx of op(x) seeded with dy, run on the reference interpreter.
Tensor grad_of(const std::string& op, const Tensor& x, Attrs attrs, const Tensor& dy) {
  Graph g = one_op_graph(op, {x}, std::move(attrs));
  GraphBuilder b(g);
  int dyn = b.op("input", {}, {{"name", std::string("dy")}, {"dtype", dy.dtype()}, {"shape", Ints(dy.shape())}});
  g.inputs.push_back(dyn);
  g.outputs = append_gradients(g, g.outputs[0], {g.inputs[0]}, dyn);
  g.output_names = {"dx"};
  return run_graph(g, {x, dy}, {})[0];
}

TEST(GradReduce, MaxMinSplitTiesEqually) {
  Tensor x = T({2, 3}, {1, 3, 3, 2, 2, 0});
  // max over axis 1: row 0 ties at 3 (two), row 1 at 2 (two).
  expect_near(grad_of("max", x, {{"axes", Ints{1}}}, T({2}, {2, 4})), {0, 1, 1, 2, 2, 0});
  expect_near(grad_of("max", x, {{"axes", Ints{-1}}, {"keepdims", true}}, T({2, 1}, {2, 4})), {0, 1, 1, 2, 2, 0});
  // min over axis 0: columns 0 and 2 tie, column 1 has a unique minimum.
  Tensor y = T({2, 3}, {1, 5, 0, 1, 2, 0});
  expect_near(grad_of("min", y, {{"axes", Ints{0}}}, T({3}, {6, 3, 8})), {3, 0, 4, 3, 3, 4});
  // All axes: three-way tie for the max.
  Tensor z = T({2, 3}, {4, 1, 4, 0, 4, -1});
  expect_near(grad_of("max", z, {}, T({}, {3})), {1, 0, 1, 0, 1, 0});
  expect_near(grad_of("max", z, {{"keepdims", true}}, T({1, 1}, {3})), {1, 0, 1, 0, 1, 0});
  // All equal: the gradient is spread over every element.
  Tensor e = T({4}, {2, 2, 2, 2});
  expect_near(grad_of("min", e, {}, T({}, {1})), {0.25, 0.25, 0.25, 0.25});
}

}  // namespace
}  // namespace starc::test
