// compiler/opt: simplify and fold, rule by rule. Each test gives a graph in the text form
// (before), runs the pass and dce, and checks the printed result (after) and that the
// reference interpreter computes the same values from both.
#include <gtest/gtest.h>

#include "compiler/ir/text.h"
#include "compiler/opt/passes.h"
#include "op_test_util.h"
#include "runtime/interpreter.h"

namespace starc::test {
namespace {

// The body lines of a printed graph (header and closing brace dropped), for compact
// expectations.
std::string body(const Graph& g) {
  std::string text = print_graph(g), out;
  size_t start = text.find("{\n") + 2, end = text.rfind("}");
  return text.substr(start, end - start);
}

// Runs `pass` then dce on `before`; checks the values on random inputs and returns the
// optimized graph.
template <class Pass>
Graph rewrite(const std::string& before, Pass pass, int* count) {
  Graph g = parse_graph(before);
  Graph o = dce(pass(g, count));
  verify_graph(o);
  std::vector<Tensor> in;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    in.push_back(random_tensor(g.type(g.inputs[i]).shape, DType::F32, uint64_t(i + 1)));
  auto a = run_graph(g, in, {}), b = run_graph(o, in, {});
  EXPECT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    EXPECT_EQ(a[i].type(), b[i].type());
    for (int64_t k = 0; k < a[i].size(); ++k) EXPECT_NEAR(a[i].get(k), b[i].get(k), 1e-6) << g.output_names[i];
  }
  return o;
}

TEST(OptSimplify, TransposeOfTransposeCancelsOrComposes) {
  int n = 0;
  Graph o = rewrite(R"(graph t(%0: f32[2,3,4] "x") {
  %1 = transpose(%0) {perm=[1,0,2]} : f32[3,2,4]
  %2 = transpose(%1) {perm=[1,0,2]} : f32[2,3,4]
  %3 = transpose(%0) {perm=[2,0,1]} : f32[4,2,3]
  %4 = transpose(%3) {perm=[]} : f32[3,2,4]
  %5 = exp(%2) : f32[2,3,4]
  return %5 "same", %4 "composed"
})",
                    simplify, &n);
  EXPECT_EQ(body(o), R"(  %1 = transpose(%0) {perm=[1,0,2]} : f32[3,2,4]
  %2 = exp(%0) : f32[2,3,4]
  return %2 "same", %1 "composed"
)");
  EXPECT_EQ(n, 2);
}

// A dense layer's weight gradient as autodiff writes it, (x^T @ dy)^T, becomes dy^T @ x:
// the GEMM reads both operands transposed in place and the [out, in] gradient is never
// copied. The weight's own double transpose in the data gradient cancels.
TEST(OptSimplify, DenseWeightGradientIsComputedInTheWeightsLayout) {
  int n = 0;
  Graph o = rewrite(R"(graph dense(%0: f32[4,3] "x", %1: f32[4,2] "dy", %2: f32[2,3] "w") {
  %3 = transpose(%0) {perm=[1,0]} : f32[3,4]
  %4 = matmul(%3, %1) : f32[3,2]
  %5 = transpose(%4) {perm=[1,0]} : f32[2,3]
  %6 = transpose(%2) {perm=[]} : f32[3,2]
  %7 = transpose(%6) {perm=[1,0]} : f32[2,3]
  %8 = matmul(%1, %7) : f32[4,3]
  return %5 "dw", %8 "dx"
})",
                    simplify, &n);
  EXPECT_EQ(body(o), R"(  %3 = transpose(%1) {perm=[1,0]} : f32[2,4]
  %4 = matmul(%3, %0) : f32[2,3]
  %5 = matmul(%1, %2) : f32[4,3]
  return %4 "dw", %5 "dx"
)");
  EXPECT_EQ(n, 2);
}

// The transpose of a matmul with another user is left alone: rewriting it would
// compute the product twice.
TEST(OptSimplify, SharedMatmulIsNotRecomputedTransposed) {
  int n = 0;
  Graph o = rewrite(R"(graph shared(%0: f32[4,3] "a", %1: f32[3,2] "b") {
  %2 = matmul(%0, %1) : f32[4,2]
  %3 = transpose(%2) {perm=[1,0]} : f32[2,4]
  return %3 "t", %2 "p"
})",
                    simplify, &n);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(o.nodes.size(), 4u);
}

TEST(OptSimplify, ReshapeChainsAndIdentitiesGo) {
  int n = 0;
  Graph o = rewrite(R"(graph ids(%0: f32[2,6] "x") {
  %1 = reshape(%0) {shape=[3,4]} : f32[3,4]
  %2 = reshape(%1) {shape=[12]} : f32[12]
  %3 = reshape(%2) {shape=[2,6]} : f32[2,6]
  %4 = const {value=tensor<f32[]>[0]} : f32[]
  %5 = const {value=tensor<f32[]>[1]} : f32[]
  %6 = add(%3, %4) : f32[2,6]
  %7 = mul(%5, %6) : f32[2,6]
  %8 = div(%7, %5) : f32[2,6]
  %9 = sub(%4, %8) : f32[2,6]
  %10 = neg(%9) : f32[2,6]
  %11 = const {value=tensor<f32[]>[2]} : f32[]
  %12 = pow(%10, %11) : f32[2,6]
  %13 = full {dtype=f32, shape=[3,2,6], value=0.0} : f32[3,2,6]
  %14 = add(%0, %13) : f32[3,2,6]
  return %12 "y", %14 "broadcast"
})",
                    simplify, &n);
  // x + zeros of a larger shape broadcasts x: the zeros are read as a scalar, never
  // materialised, and the sum is broadcast after it.
  EXPECT_EQ(body(o), R"(  %1 = square(%0) : f32[2,6]
  %2 = const {value=tensor<f32[]>[0]} : f32[]
  %3 = add(%0, %2) : f32[2,6]
  %4 = broadcast_to(%3) {shape=[3,2,6]} : f32[3,2,6]
  return %1 "y", %4 "broadcast"
)");
}

TEST(OptSimplify, LogOfSoftmaxIsLogSoftmax) {
  int n = 0;
  Graph o = rewrite(R"(graph ce(%0: f32[3,5] "logits") {
  %1 = softmax(%0) {axis=1} : f32[3,5]
  %2 = log(%1) : f32[3,5]
  return %2 "logp"
})",
                    simplify, &n);
  EXPECT_EQ(body(o), R"(  %1 = log_softmax(%0) {axis=1} : f32[3,5]
  return %1 "logp"
)");
}

// Elementwise work moves below broadcast_to: the loss seed of a mean, 1/B broadcast to
// [B,1] and scaled, is computed once as a scalar and the broadcast disappears where the
// other operand has the full shape.
// A per-channel bias moves below a max-pool (exact: max(x_i + c) = max(x_i) + c); a bias
// that varies along the pooled axis, or an add the pool does not read alone, stays.
TEST(OptSimplify, ChannelBiasMovesBelowMaxPool) {
  int n = 0;
  Graph o = rewrite(R"(graph p(%0: f32[2,3,8] "x", %1: f32[3,1] "b", %2: f32[1,8] "v") {
  %3 = add(%0, %1) : f32[2,3,8]
  %4 = maxpool1d(%3) {kernel=[2], padding=[0], stride=[]} : f32[2,3,4]
  %5 = relu(%4) : f32[2,3,4]
  %6 = add(%0, %2) : f32[2,3,8]
  %7 = maxpool1d(%6) {kernel=[2], padding=[0], stride=[]} : f32[2,3,4]
  %8 = add(%1, %0) : f32[2,3,8]
  %9 = maxpool1d(%8) {kernel=[2], padding=[0], stride=[]} : f32[2,3,4]
  %10 = exp(%8) : f32[2,3,8]
  return %5 "pooled", %7 "varying", %9 "shared", %10 "other_user"
})",
                    simplify, &n);
  EXPECT_EQ(body(o), R"(  %3 = maxpool1d(%0) {kernel=[2], padding=[0], stride=[]} : f32[2,3,4]
  %4 = add(%3, %1) : f32[2,3,4]
  %5 = relu(%4) : f32[2,3,4]
  %6 = add(%0, %2) : f32[2,3,8]
  %7 = maxpool1d(%6) {kernel=[2], padding=[0], stride=[]} : f32[2,3,4]
  %8 = add(%1, %0) : f32[2,3,8]
  %9 = maxpool1d(%8) {kernel=[2], padding=[0], stride=[]} : f32[2,3,4]
  %10 = exp(%8) : f32[2,3,8]
  return %5 "pooled", %7 "varying", %9 "shared", %10 "other_user"
)");
  EXPECT_EQ(n, 1);
}

TEST(OptSimplify, BroadcastSinksBelowElementwiseOps) {
  int n = 0;
  Graph o = rewrite(R"(graph seed(%0: f32[8,1] "err") {
  %1 = const {value=tensor<f32[1,1]>[1]} : f32[1,1]
  %2 = broadcast_to(%1) {shape=[8,1]} : f32[8,1]
  %3 = const {value=tensor<f32[]>[8]} : f32[]
  %4 = div(%2, %3) : f32[8,1]
  %5 = exp(%4) : f32[8,1]
  %6 = mul(%5, %0) : f32[8,1]
  return %6 "dy"
})",
                    simplify, &n);
  EXPECT_EQ(body(o), R"(  %1 = const {value=tensor<f32[1,1]>[1]} : f32[1,1]
  %2 = const {value=tensor<f32[]>[8]} : f32[]
  %3 = div(%1, %2) : f32[1,1]
  %4 = exp(%3) : f32[1,1]
  %5 = mul(%4, %0) : f32[8,1]
  return %5 "dy"
)");
}

TEST(OptFold, ConstantSubgraphsAreEvaluatedOnce) {
  int n = 0;
  Graph o = rewrite(R"(graph fold(%0: f32[4] "x") {
  %1 = full {dtype=f32, shape=[4], value=1.0} : f32[4]
  %2 = sum(%1) {axes=[], keepdims=false} : f32[]
  %3 = const {value=tensor<f32[]>[2]} : f32[]
  %4 = mul(%2, %3) : f32[]
  %5 = sqrt(%4) : f32[]
  %6 = mul(%0, %5) : f32[4]
  %7 = random_normal {shape=[4]} : f32[4]
  %8 = exp(%7) : f32[4]
  %9 = add(%6, %8) : f32[4]
  return %9 "y"
})",
                    fold_constants, &n);
  EXPECT_EQ(n, 3);  // sum, mul, sqrt; random numbers are drawn at run time
  EXPECT_EQ(body(o), R"(  %1 = const {value=tensor<f32[]>[2.828427]} : f32[]
  %2 = mul(%0, %1) : f32[4]
  %3 = random_normal {dtype=f32, mean=0.0, shape=[4], std=1.0, stream=0} : f32[4]
  %4 = exp(%3) : f32[4]
  %5 = add(%2, %4) : f32[4]
  return %5 "y"
)");
}

// A symbolic dim is known only when the JIT specialises the graph: folding waits.
TEST(OptFold, SymbolicShapesAreNotFolded) {
  Graph g = parse_graph(R"(graph sym(%0: f32[B] "x") symbols(B) {
  %1 = full {dtype=f32, shape=[B], value=1.0} : f32[B]
  %2 = sum(%1) {axes=[], keepdims=false} : f32[]
  %3 = div(%0, %2) : f32[B]
  return %3 "y"
})");
  int n = 0;
  fold_constants(g, &n);
  EXPECT_EQ(n, 0);
  fold_constants(specialize(g, {5}), &n);
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace starc::test
