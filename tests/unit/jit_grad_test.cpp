// JIT vs reference interpreter for the gradient graphs of the reduction / softmax /
// normalisation / dropout ops (their rules emit other primitive ops, which must lower
// too), plus the cases the op table (jit_ops_test.cpp) cannot express: NaNs and ties in
// reductions, and random ops under run seeds other than 0.
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "compiler/lower/emit.h"
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

// Bit-for-bit equality (random ops, and everything computed by the same formula).
void expect_identical(const Tensor& jit, const Tensor& ref, const std::string& what) {
  ASSERT_EQ(type_str(jit.type()), type_str(ref.type())) << what;
  ASSERT_EQ(jit.nbytes(), ref.nbytes()) << what;
  for (int64_t i = 0; i < ref.size(); ++i) {
    double a = jit.get(i), b = ref.get(i);
    if (std::isnan(a) && std::isnan(b)) continue;
    ASSERT_EQ(a, b) << what << " at flat index " << i;
  }
}

struct GradCase {
  std::string op;
  std::vector<Shape> shapes;
  Attrs attrs = {};
  double lo = -2, hi = 2;
};

std::vector<GradCase> grad_cases() {
  std::vector<GradCase> c;
  auto axes = [](Ints a, bool keep) { return Attrs{{"axes", a}, {"keepdims", keep}}; };
  for (const char* op : {"sum", "mean", "max", "min", "logsumexp"}) {
    c.push_back({op, {{17}}, axes({}, false)});
    c.push_back({op, {{3, 17, 5}}, axes({0, 2}, false)});
    c.push_back({op, {{3, 17, 5}}, axes({1}, true)});
  }
  for (const char* op : {"softmax", "log_softmax"}) {
    c.push_back({op, {{17}}});
    c.push_back({op, {{3, 17, 5}}, {{"axis", int64_t(1)}}});
  }
  c.push_back({"layer_norm", {{3, 17}}});
  c.push_back({"layer_norm", {{3, 17, 5}}, {{"axes", Ints{0, 2}}}});
  for (bool training : {true, false})
    c.push_back({"batch_norm", {{4, 3, 5}, {3}, {3}, {3}, {3}}, {{"training", training}}, training ? -2.0 : 0.1, 2});
  c.push_back({"dropout", {{3, 17}}, {{"p", 0.3}, {"stream", int64_t(4)}}});
  return c;
}

// The graph (inputs..., dy) -> gradients of op `c` with respect to its float inputs.
Graph gradient_graph(const GradCase& c, const std::vector<Tensor>& in) {
  Graph g = one_op_graph(c.op, in, c.attrs);
  GraphBuilder b(g);
  int y = g.outputs[0];
  int dy = add_dy_input(g, b, y);
  std::vector<int> wrt;
  // batch_norm's running statistics are state, not trained: no gradient.
  size_t n_wrt = c.op == "batch_norm" ? 3 : in.size();
  for (size_t i = 0; i < n_wrt; ++i) wrt.push_back(g.inputs[i]);
  g.outputs = append_gradients(g, y, wrt, dy);
  name_outputs_d(g);
  return g;
}

TEST(JitGrad, ReduceNnGradientGraphsMatchReference) {
  JitExecutor jit;
  uint32_t seed = 100;
  int checked = 0;
  for (DType ft : {DType::F32, DType::F64})
    for (const GradCase& c : grad_cases()) {
      std::vector<Tensor> in;
      for (const Shape& s : c.shapes) in.push_back(random_tensor(s, ft, seed++, c.lo, c.hi));
      Graph g = gradient_graph(c, in);
      std::string what = "gradient of " + c.op;
      for (auto& t : in) what += " " + type_str(t.type());
      if (auto missing = unlowered_ops(g); !missing.empty()) {
        ADD_FAILURE() << what << ": the gradient graph uses ops without a lowering: "
                      << fmt::format("{}", fmt::join(missing, ", "));
        continue;
      }
      ++checked;
      TensorType ty = g.type(g.inputs.back());
      Tensor dy(ty.dtype, ty.shape);
      for (int64_t i = 0; i < dy.size(); ++i) dy.set(i, std::sin(double(i) * 1.7 + 0.3));
      in.push_back(dy);
      for (uint64_t run_seed : {uint64_t(0), uint64_t(12345)}) {
        std::vector<Tensor> ref = run_graph(g, in, {}, RunOptions{run_seed});
        std::vector<Tensor> got;
        if (!jit_run_or_fail(jit, g, in, run_seed, what, &got)) break;
        ASSERT_EQ(got.size(), ref.size()) << what;
        for (size_t k = 0; k < ref.size(); ++k)
          expect_close(got[k], ref[k], tolerance(ft), what + fmt::format(" d{}", k), true);
      }
    }
  EXPECT_EQ(checked, 2 * int(grad_cases().size()));
}

Tensor with_values(Shape s, DType dt, std::vector<double> v) { return Tensor::from_vector(dt, std::move(s), v); }

// NaN propagation in max/min, NaN counting as largest in argmax, first index on ties,
// infinities in logsumexp/softmax: the JIT gives the reference's results exactly.
TEST(JitGrad, ReductionsWithNaNsInfinitiesAndTies) {
  JitExecutor jit;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::vector<double> v = {1, nan, 3, 3, -1, 2, 5, 5, 0, -inf, -inf, -inf, inf, 1, inf, 2, nan, 7, 7, nan};
  struct C {
    std::string op;
    Attrs attrs;
  };
  std::vector<C> cases = {
      {"max", {{"axes", Ints{1}}}},
      {"min", {{"axes", Ints{1}}}},
      {"max", {{"axes", Ints{0}}}},
      {"min", {{"axes", Ints{}}}},
      {"sum", {{"axes", Ints{1}}}},
      {"logsumexp", {{"axes", Ints{1}}}},
      {"logsumexp", {{"axes", Ints{0}}}},
      {"argmax", {{"axis", int64_t(1)}}},
      {"argmax", {{"axis", int64_t(0)}}},
      {"softmax", {{"axis", int64_t(1)}}},
      {"log_softmax", {{"axis", int64_t(1)}}},
      {"softmax", {{"axis", int64_t(0)}}},
      {"mean", {{"axes", Ints{1}}}},
      {"layer_norm", {{"axes", Ints{1}}}},
  };
  for (DType dt : {DType::F32, DType::F64})
    for (auto& c : cases) {
      std::vector<Tensor> in = {with_values({5, 4}, dt, v)};
      Graph g = one_op_graph(c.op, in, c.attrs);
      std::string what = c.op + " " + type_str(in[0].type());
      std::vector<Tensor> ref = run_graph(g, in, {});
      std::vector<Tensor> got;
      if (!jit_run_or_fail(jit, g, in, 0, what, &got)) continue;
      expect_identical(got[0], ref[0], what);
    }
  // argmax on i64 with ties, and on rows that are all -inf.
  std::vector<Tensor> in = {with_values({2, 5}, DType::I64, {4, 9, 9, 1, 9, -3, -3, -3, -3, -3})};
  Graph g = one_op_graph("argmax", in, {{"axis", int64_t(1)}});
  expect_identical(jit.run(g, in, {}, 0)[0], run_graph(g, in, {})[0], "argmax i64 ties");
}

// With OpenMP threads (parallel loops outermost), every result is still accumulated in
// the reference's order: bit-identical.
TEST(JitGrad, ReduceNnOpsWithThreadsAreExact) {
  JitOptions opts;
  opts.threads = 2;
  JitExecutor jit(opts);
  struct C {
    std::string op;
    std::vector<Shape> shapes;
    Attrs attrs;
  };
  std::vector<C> cases = {
      {"sum", {{4618, 3}}, {{"axes", Ints{0}}}},
      {"mean", {{3, 17, 5}}, {{"axes", Ints{0, 2}}, {"keepdims", true}}},
      {"max", {{17, 4618}}, {{"axes", Ints{1}}}},
      {"logsumexp", {{17, 33}}, {{"axes", Ints{0}}}},
      {"argmax", {{17, 33, 2}}, {{"axis", int64_t(1)}}},
      {"softmax", {{4618, 3}}, {{"axis", int64_t(0)}}},
      {"log_softmax", {{3, 4618}}, {}},
      {"layer_norm", {{33, 17}}, {{"axes", Ints{0}}}},
      {"batch_norm", {{8, 3, 17}, {3}, {3}, {3}, {3}}, {{"training", true}}},
      {"dropout", {{3, 4618}}, {{"p", 0.3}, {"stream", int64_t(2)}}},
      {"random_normal", {}, {{"shape", Ints{3, 4618}}, {"dtype", DType::F64}}},
  };
  uint32_t s = 50;
  for (DType dt : {DType::F32, DType::F64})
    for (auto& c : cases) {
      std::vector<Tensor> in;
      for (auto& sh : c.shapes) in.push_back(random_tensor(sh, dt, s++));
      Graph g = one_op_graph(c.op, in, c.attrs);
      std::string what = c.op + " (2 threads)";
      for (auto& t : in) what += " " + type_str(t.type());
      try {
        expect_identical(jit.run(g, in, {}, 77)[0], run_graph(g, in, {}, RunOptions{77})[0], what);
      } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": " << e.what();
      }
    }
}

// Philox in the JIT draws the reference's numbers bit for bit for any run seed
// (including seeds with a high word) and stream.
TEST(JitGrad, RandomOpsMatchReferenceForAnySeed) {
  JitExecutor jit;
  for (uint64_t seed : {uint64_t(0), uint64_t(1), uint64_t(0xDEADBEEFCAFEF00Dull), uint64_t(1) << 40})
    for (DType dt : {DType::F32, DType::F64}) {
      std::vector<std::pair<std::string, Attrs>> ops = {
          {"random_normal", {{"shape", Ints{3, 1, 17}}, {"dtype", dt}, {"mean", -0.5}, {"std", 3.0}}},
          {"random_uniform", {{"shape", Ints{4618}}, {"dtype", dt}, {"stream", int64_t(9)}}},
          {"random_uniform", {{"shape", Ints{2, 3}}, {"dtype", dt}, {"low", -1e-30}, {"high", 1e-30}}},
      };
      for (auto& [op, attrs] : ops) {
        Graph g = one_op_graph(op, {}, attrs);
        std::string what = fmt::format("{} {} seed {}", op, dtype_name(dt), seed);
        expect_identical(jit.run(g, {}, {}, seed)[0], run_graph(g, {}, {}, RunOptions{seed})[0], what);
      }
      std::vector<Tensor> in = {random_tensor({3, 4618}, dt, 7)};
      for (int64_t stream : {int64_t(0), int64_t(5), int64_t(-1)}) {
        Graph g = one_op_graph("dropout", in, {{"p", 0.3}, {"stream", stream}});
        std::string what = fmt::format("dropout {} seed {} stream {}", dtype_name(dt), seed, stream);
        expect_identical(jit.run(g, in, {}, seed)[0], run_graph(g, in, {}, RunOptions{seed})[0], what);
      }
    }
}

}  // namespace
}  // namespace starc::test
