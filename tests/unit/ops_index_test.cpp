// The index ops' reference kernels (compiler/ops/index.cpp) against PyTorch 1.13, their
// shape and index errors, and the executors' check of index inputs.
#include "compiler/ops/index.h"

#include "dsl/program.h"
#include "runtime/init.h"
#include "runtime/jit_executor.h"
#include "tests/unit/grad_test_util.h"
#include "tests/unit/op_test_util.h"

using namespace starc;
using namespace starc::test;

namespace {

#define EXPECT_MSG_HAS(msg, part) EXPECT_NE((msg).find(part), std::string::npos) << (msg)

Tensor I(Shape s, std::vector<double> v) { return T(std::move(s), std::move(v), DType::I64); }

// The table of the PyTorch cases below.
Tensor table() {
  return T({5, 3}, {0.5, -1.25, 2.0, 3.0, 0.25, -0.75, 1.5, -2.0, 0.125, 4.0, -3.5, 0.0, -0.5, 1.0, 2.5});
}

Attrs axis(int64_t a) { return {{"axis", a}}; }

}  // namespace

// torch.index_select(x, 0, tensor([3, 0, 3, 4])).
TEST(IndexOps, GatherIsIndexSelect) {
  Tensor y = run_op("gather", {table(), I({4}, {3, 0, 3, 4})}, axis(0));
  EXPECT_EQ(type_str(y.type()), "f64[4,3]");
  expect_near(y, {4.0, -3.5, 0.0, 0.5, -1.25, 2.0, 4.0, -3.5, 0.0, -0.5, 1.0, 2.5});
}

// torch.nn.functional.embedding(tensor([[1, 3], [3, 3]]), x): idx [2, 2] into [5, 3].
TEST(IndexOps, GatherIsEmbedding) {
  Tensor y = run_op("gather", {table(), I({2, 2}, {1, 3, 3, 3})}, axis(0));
  EXPECT_EQ(type_str(y.type()), "f64[2,2,3]");
  expect_near(y, {3.0, 0.25, -0.75, 4.0, -3.5, 0.0, 4.0, -3.5, 0.0, 4.0, -3.5, 0.0});
}

// numpy.take along a middle axis, i64 data and a rank-0 index.
TEST(IndexOps, GatherAlongOtherAxes) {
  Tensor x = T({2, 3, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, DType::I64);
  Tensor y = run_op("gather", {x, I({2}, {2, 0})}, axis(1));
  EXPECT_EQ(type_str(y.type()), "i64[2,2,2]");
  expect_near(y, {4, 5, 0, 1, 10, 11, 6, 7});
  Tensor z = run_op("gather", {table(), I({}, {2})}, axis(-1));
  EXPECT_EQ(type_str(z.type()), "f64[5]");
  expect_near(z, {2.0, -0.75, 0.125, 0.0, 2.5});
}

// torch.gather(x, 1, tensor([[2, 2], [0, 1], [1, 1], [0, 0], [2, 0]])).
TEST(IndexOps, TakeAlongAxisIsTorchGather) {
  Tensor y = run_op("take_along_axis", {table(), I({5, 2}, {2, 2, 0, 1, 1, 1, 0, 0, 2, 0})}, axis(1));
  expect_near(y, {2.0, 2.0, 3.0, 0.25, -2.0, -2.0, 4.0, 4.0, 2.5, -0.5});
}

// torch.zeros(3, 4).scatter_add(1, idx, src); torch.zeros(4, 2).index_add(0, [2, 0, 2], src):
// duplicated indices accumulate.
TEST(IndexOps, ScatterAddAndIndexAddAccumulate) {
  Tensor src = T({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor y = run_op("scatter_add",
                    {T({3, 4}, std::vector<double>(12, 0.0)), I({3, 3}, {0, 3, 0, 1, 1, 2, 3, 2, 3}), src}, axis(1));
  expect_near(y, {4, 0, 0, 2, 0, 9, 6, 0, 0, 0, 8, 16});
  Tensor z = run_op("index_add",
                    {T({4, 2}, {1, 1, 1, 1, 1, 1, 1, 1}), I({3}, {2, 0, 2}), T({3, 2}, {1, 2, 3, 4, 5, 6})}, axis(0));
  expect_near(z, {4, 5, 1, 1, 7, 9, 1, 1});  // torch's [[3, 4], [0, 0], [6, 8], [0, 0]] plus the ones
}

// PyTorch: "index out of range in self" (index_select, embedding), "index 3 is out of
// bounds for dimension 1 with size 3" (gather). Negative indices are refused as by PyTorch.
TEST(IndexOps, IndicesOutOfRangeAreErrors) {
  EXPECT_MSG_HAS(what([&] { run_op("gather", {table(), I({2}, {1, 5})}, axis(0)); }),
                 "gather: index 5 at position [1] of idx is outside [0, 5)");
  EXPECT_MSG_HAS(what([&] { run_op("gather", {table(), I({1}, {-1})}, axis(0)); }), "index -1");
  EXPECT_MSG_HAS(what([&] { run_op("take_along_axis", {table(), I({5, 1}, {0, 0, 3, 0, 0})}, axis(1)); }),
                 "index 3 at position [2, 0] of idx is outside [0, 3)");
  Tensor src = T({2}, {1, 2});
  EXPECT_MSG_HAS(what([&] { run_op("index_add", {T({3}, {0, 0, 0}), I({2}, {0, 3}), src}); }), "index 3");
  EXPECT_MSG_HAS(what([&] { run_op("scatter_add", {T({3}, {0, 0, 0}), I({2}, {-2, 0}), src}); }), "index -2");
  EXPECT_MSG_HAS(
      what([&] { run_op("check_index", {I({3}, {0, -100, 4})}, {{"bound", int64_t(4)}, {"ignore", Ints{-100}}}); }),
      "check_index: element [2] is 4, outside [0, 4) or -100");
  Tensor ok = run_op("check_index", {I({3}, {0, -100, 3})}, {{"bound", int64_t(4)}, {"ignore", Ints{-100}}});
  expect_near(ok, {0, -100, 3});
}

TEST(IndexOps, ShapeErrors) {
  TensorType x{DType::F32, {5, 3}}, i1{DType::I64, {4}}, f1{DType::F32, {4}};
  EXPECT_MSG_HAS(what([&] { infer_op("gather", {x, f1}); }), "gather: idx must be i64, got f32[4]");
  EXPECT_MSG_HAS(what([&] { infer_op("gather", {x, i1}, axis(2)); }), "axis");
  EXPECT_MSG_HAS(what([&] { infer_op("take_along_axis", {x, i1}, axis(1)); }), "idx must have the rank of x");
  EXPECT_MSG_HAS(what([&] { infer_op("take_along_axis", {x, {DType::I64, {4, 2}}}, axis(1)); }),
                 "differ in dim 0 (only axis 1 may differ)");
  EXPECT_MSG_HAS(what([&] { infer_op("index_add", {x, i1, {DType::F32, {4, 2}}}); }),
                 "index_add: src must be f32[4,3]");
  EXPECT_MSG_HAS(what([&] { infer_op("scatter_add", {x, {DType::I64, {2, 3}}, {DType::F32, {2, 2}}}); }),
                 "scatter_add: src must have x's dtype and idx's shape");
  EXPECT_MSG_HAS(what([&] { infer_op("index_add", {{DType::I64, {5}}, i1, {DType::I64, {4}}}); }), "float");
  EXPECT_MSG_HAS(what([&] { infer_op("check_index", {i1}, {{"bound", int64_t(0)}}); }), "bound must be a static size");
}

// An index input out of range is refused before the run by both executors, naming the
// input, the element and the value (the compiled code only clamps).
TEST(IndexOps, ExecutorsCheckIndexInputs) {
  Tensor x = random_tensor({5, 3}, DType::F32, 1);
  Tensor bad = I({2, 2}, {1, 3, 5, 0});
  Graph g = one_op_graph("gather", {x, bad}, axis(0));
  auto check = [&](const std::string& msg) {
    EXPECT_MSG_HAS(msg, "input 'x1': element [1, 0] is 5, outside [0, 5) (the index of gather");
  };
  try {
    run_graph(g, {x, bad}, {});
    ADD_FAILURE() << "reference: no error";
  } catch (const IndexError& e) {
    check(e.what());
    EXPECT_EQ(e.element, 2);
    EXPECT_EQ(e.value, 5);
  }
  JitExecutor jit;
  try {
    jit.run(g, {x, bad}, {}, 0);
    ADD_FAILURE() << "jit: no error";
  } catch (const IndexError& e) {
    check(e.what());
  }
  // In range: both give torch's embedding rows.
  Tensor good = I({2, 2}, {1, 3, 4, 0});
  Tensor want = run_graph(g, {x, good}, {})[0];
  Tensor got = jit.run(g, {x, good}, {}, 0)[0];
  for (int64_t i = 0; i < want.size(); ++i) EXPECT_EQ(got.get(i), want.get(i));
  EXPECT_EQ(want.get(0), x.get(3));
}

// std.nn embedding: a [num, dim] parameter `weight` initialised N(0, 1) as
// torch.nn.Embedding's, whose rows the tokens pick.
TEST(IndexOps, StdNnEmbeddingPicksRowsOfANormalTable) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  ASSERT_TRUE(prog.load_text(STARC_SOURCE_DIR "/tests/unit/embedding_inline.net",
                             "use std.nn\nmodel E(tokens: i64[B, 3]) -> f32[B, 3, 4] {\n"
                             "    return embedding(tokens, 1000, 4)\n}\n"))
      << diags.format_all();
  auto g = prog.build("E");
  ASSERT_TRUE(g) << diags.format_all();
  TensorMap params = init_params(*g, 7);
  ASSERT_EQ(params.size(), 1u);
  const Tensor& w = params.begin()->second;
  EXPECT_EQ(params.begin()->first, "embedding0.weight");  // the layer scope, as dense0
  EXPECT_EQ(type_str(w.type()), "f32[1000,4]");
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < w.size(); ++i) sum += w.get(i), sq += w.get(i) * w.get(i);
  double mean = sum / double(w.size()), var = sq / double(w.size()) - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.05);  // 4000 draws: standard error 0.016
  EXPECT_NEAR(var, 1.0, 0.08);
  Tensor tokens = I({2, 3}, {999, 0, 999, 5, 5, 1});
  Tensor y = run_graph(*g, {tokens}, params)[0];
  for (int64_t n = 0; n < 6; ++n)
    for (int64_t d = 0; d < 4; ++d)
      EXPECT_EQ(y.get(n * 4 + d), w.get(tokens.data<int64_t>()[n] * 4 + d)) << n << ", " << d;
}
