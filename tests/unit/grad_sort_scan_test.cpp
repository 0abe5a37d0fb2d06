// Gradients of cumsum (compiler/ops/sort_scan.cpp) against central finite differences
// (f64) and of its rule in turn, and PyTorch's autograd values for cumsum and for the
// sort/topk builtins (whose values' gradient is take_along_axis's scatter_add).
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/interpreter.h"

namespace starc::test {
namespace {

Tensor rnd(Shape s, uint32_t seed) { return random_tensor(std::move(s), DType::F64, seed, -2, 2); }

TEST(GradSortScan, CumsumFiniteDifferences) {
  for (bool reverse : {false, true})
    for (bool exclusive : {false, true})
      for (int64_t axis : {0, 1, -1}) {
        Attrs a{{"axis", axis}, {"reverse", reverse}, {"exclusive", exclusive}};
        expect_op_gradient("cumsum", {rnd({3, 5, 2}, uint32_t(7 + axis))}, a);
        expect_op_grad_of_grad("cumsum", {rnd({3, 5, 2}, uint32_t(9 + axis))}, a);
      }
}

// PyTorch: x = [[1, 5, 2], [4, 3, 6]] (f64, requires_grad), w = [[1, 2, 3], [4, 5, 6]]:
//   (torch.cumsum(x, 1) * w).sum().backward()         -> [[6, 5, 3], [15, 11, 6]]
//   v, i = torch.sort(x, dim=1, descending=True, stable=True); (v * w).sum().backward()
//                                                     -> [[3, 1, 2], [5, 6, 4]], i [[1, 2, 0], [2, 0, 1]]
//   v, i = torch.topk(x, 2, 1); (v * w[:, :2]).sum()  -> [[0, 1, 2], [5, 0, 4]], i [[1, 2], [2, 0]]
//   v, i = torch.topk(x, 1, 0, largest=False); (v * w[:1]).sum() -> [[1, 0, 3], [0, 2, 0]]
TEST(GradSortScan, CumsumSortAndTopkMatchTorchAutograd) {
  Graph g = compile(R"(
model M(x: f64[2, 3], w: f64[2, 3]) -> (dc: f64[2, 3], v: f64[2, 3], i: i64[2, 3], ds: f64[2, 3], t: f64[2, 2],
                                       ti: i64[2, 2], dt: f64[2, 3], dm: f64[2, 3]) {
    (v, i) = sort(x, axis: 1, descending: true)
    (t, ti) = topk(x, 2)
    (m, mi) = topk(x, 1, axis: 0, largest: false)
    return (grad(sum(cumsum(x, axis: 1) * w), wrt: x), v, i, grad(sum(v * w), wrt: x), t, ti,
            grad(sum(t * w[:, 0:2]), wrt: x), grad(sum(m * w[0:1]), wrt: x))
}
)",
                    "M");
  std::vector<Tensor> in = {T({2, 3}, {1, 5, 2, 4, 3, 6}), T({2, 3}, {1, 2, 3, 4, 5, 6})};
  std::vector<std::vector<double>> want = {{6, 5, 3, 15, 11, 6}, {5, 2, 1, 6, 4, 3}, {1, 2, 0, 2, 0, 1},
                                           {3, 1, 2, 5, 6, 4},   {5, 2, 6, 4},       {1, 2, 2, 0},
                                           {0, 1, 2, 5, 0, 4},   {1, 0, 3, 0, 2, 0}};
  auto ref = run_graph(g, in, {});
  JitExecutor jit;
  std::vector<Tensor> got;
  ASSERT_TRUE(jit_run_or_fail(jit, g, in, 0, "jit", &got));
  for (size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE(fmt::format("output {}", k));
    expect_near(ref[k], want[k]);
    expect_near(got[k], want[k]);
  }
}

// NaN, infinities, signed zeros and ties (which the JIT table's random inputs do not
// draw) give the reference's order and sums on the JIT: torch.sort(x, stable=True) of
// [3, nan, 1, 3, -0., 0., -inf, nan, 2] is [6, 4, 5, 2, 8, 0, 3, 1, 7], descending
// [1, 7, 0, 3, 8, 2, 4, 5, 6].
TEST(SortScanJit, NanTiesAndInfinitiesAsTheReference) {
  Graph g = compile(R"(
model M(x: f32[9]) -> (up: i64[9], down: i64[9], c: f32[9], r: f32[9]) {
    return (argsort(x), argsort(x, descending: true), cumsum(x, axis: 0), cumsum(x, axis: 0, reverse: true))
}
)",
                    "M");
  const double nan = std::nan(""), inf = INFINITY;
  std::vector<Tensor> in = {T({9}, {3, nan, 1, 3, -0.0, 0.0, -inf, nan, 2}, DType::F32)};
  auto ref = run_graph(g, in, {});
  JitExecutor jit;
  std::vector<Tensor> got;
  ASSERT_TRUE(jit_run_or_fail(jit, g, in, 0, "jit", &got));
  expect_near(ref[0], {6, 4, 5, 2, 8, 0, 3, 1, 7});
  expect_near(ref[1], {1, 7, 0, 3, 8, 2, 4, 5, 6});
  for (size_t k = 0; k < ref.size(); ++k) expect_close(got[k], ref[k], 0, fmt::format("output {}", k));
}

}  // namespace
}  // namespace starc::test
