// Gradients of the index ops against finite differences (f64), their rules
// differentiated again, and PyTorch 1.13's autograd values with duplicated indices.
#include "grad_test_util.h"
#include "op_test_util.h"

namespace starc::test {
namespace {

Tensor rnd(Shape s, uint32_t seed) { return random_tensor(std::move(s), DType::F64, seed, -2, 2); }
Tensor I(Shape s, std::vector<double> v) { return Tensor::from_vector(DType::I64, std::move(s), v); }
Attrs axis(int64_t a) { return {{"axis", a}}; }

void check(const std::string& op, const std::vector<Tensor>& in, Attrs attrs) {
  expect_op_gradient(op, in, attrs);
  expect_op_grad_of_grad(op, in, attrs);
}

// d sum(dy * op(x, ...)) / d x, by the op's gradient rule (reference interpreter).
Tensor grad_x(const std::string& op, const std::vector<Tensor>& in, Attrs attrs, const Tensor& dy) {
  Graph g = one_op_graph(op, in, std::move(attrs));
  GraphBuilder b(g);
  int dyn = b.op("input", {}, {{"name", std::string("dy")}, {"dtype", dy.dtype()}, {"shape", Ints(dy.shape())}});
  g.inputs.push_back(dyn);
  g.outputs = append_gradients(g, g.outputs[0], {g.inputs[0]}, dyn);
  g.output_names = {"dx"};
  std::vector<Tensor> all = in;
  all.push_back(dy);
  return run_graph(g, all, {})[0];
}

Tensor table() {
  return Tensor::from_vector(DType::F64, {5, 3},
                             {0.5, -1.25, 2.0, 3.0, 0.25, -0.75, 1.5, -2.0, 0.125, 4.0, -3.5, 0.0, -0.5, 1.0, 2.5});
}

TEST(GradIndex, Gather) {
  check("gather", {rnd({5, 3}, 1), I({2, 3}, {4, 0, 4, 1, 1, 2})}, axis(0));
  check("gather", {rnd({2, 4, 3}, 2), I({5}, {3, 3, 0, 2, 3})}, axis(1));
  check("gather", {rnd({3, 4}, 3), I({}, {1})}, axis(-1));
}

TEST(GradIndex, TakeAlongAxis) {
  check("take_along_axis", {rnd({3, 4}, 4), I({3, 5}, {0, 3, 3, 1, 0, 2, 2, 2, 2, 2, 1, 0, 3, 0, 1})}, axis(1));
  check("take_along_axis", {rnd({4, 2}, 5), I({3, 2}, {3, 0, 3, 3, 1, 0})}, axis(0));
}

TEST(GradIndex, IndexAddAndScatterAdd) {
  check("index_add", {rnd({4, 2}, 6), I({3}, {2, 0, 2}), rnd({3, 2}, 7)}, axis(0));
  check("index_add", {rnd({2, 3, 2}, 8), I({2, 2}, {1, 1, 0, 2}), rnd({2, 2, 2, 2}, 9)}, axis(1));
  check("scatter_add", {rnd({3, 4}, 10), I({3, 3}, {0, 3, 0, 1, 1, 2, 3, 2, 3}), rnd({3, 3}, 11)}, axis(1));
  check("scatter_add", {rnd({3, 2}, 12), I({4, 2}, {2, 0, 2, 2, 1, 0, 0, 1}), rnd({4, 2}, 13)}, axis(0));
}

// torch: x.requires_grad_(); (torch.index_select(x, 0, tensor([3, 0, 3, 4])) * w).sum().backward()
// with w = arange(12).reshape(4, 3) * 0.5 - 1: row 3 gathers twice and accumulates.
TEST(GradIndex, MatchesPyTorch) {
  Tensor w(DType::F64, {4, 3});
  for (int64_t i = 0; i < 12; ++i) w.set(i, double(i) * 0.5 - 1);
  expect_near(grad_x("gather", {table(), I({4}, {3, 0, 3, 4})}, axis(0), w),
              {0.5, 1.0, 1.5, 0, 0, 0, 0, 0, 0, 1.0, 2.0, 3.0, 3.5, 4.0, 4.5});
  // F.embedding(tensor([[1, 3], [3, 3]]), x) * w2: row 3 three times.
  Tensor w2 = Tensor::from_vector(DType::F64, {2, 2, 3}, {1, 2, 3, 4, 5, 6, -1, 0.5, 2, 0.25, -3, 1});
  expect_near(grad_x("gather", {table(), I({2, 2}, {1, 3, 3, 3})}, axis(0), w2),
              {0, 0, 0, 1, 2, 3, 0, 0, 0, 3.25, 2.5, 9.0, 0, 0, 0});
  // torch.gather(x, 1, idx) * w3, w3 = [[1, 2], [3, 4], ..., [9, 10]].
  Tensor w3 = Tensor::from_vector(DType::F64, {5, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  expect_near(grad_x("take_along_axis", {table(), I({5, 2}, {2, 2, 0, 1, 1, 1, 0, 0, 2, 0})}, axis(1), w3),
              {0, 0, 3, 3, 4, 0, 0, 11, 0, 15, 0, 0, 10, 0, 9});
}

}  // namespace
}  // namespace starc::test
