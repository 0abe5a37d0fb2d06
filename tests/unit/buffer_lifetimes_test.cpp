// Buffers are freed after their last use (compiler/backend/cpu/buffer_lifetimes.h): the
// lowered code of a chain of temporaries holds one at a time, and computes the same;
// and the CPU plan (jit.h, plan_cpu) that reports it with the fused kernels.
#include <gtest/gtest.h>

#include <sstream>

#include "compiler/ir/text.h"
#include "compiler/lower/emit.h"
#include "compiler/backend/cpu/jit.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

// Four temporaries, each read twice (so none fuses into its readers) and dead before
// the next is made.
const char* kChain = R"(graph chain(%0: f32[64,1000] "x") {
  %1 = exp(%0) : f32[64,1000]
  %2 = mul(%1, %1) : f32[64,1000]
  %3 = sum(%2) {axes=[1], keepdims=false} : f32[64]
  %4 = sum(%1) {axes=[1], keepdims=false} : f32[64]
  %5 = tanh(%0) : f32[64,1000]
  %6 = mul(%5, %5) : f32[64,1000]
  %7 = sum(%6) {axes=[1], keepdims=false} : f32[64]
  %8 = sum(%5) {axes=[1], keepdims=false} : f32[64]
  %9 = sin(%0) : f32[64,1000]
  %10 = mul(%9, %9) : f32[64,1000]
  %11 = sum(%10) {axes=[1], keepdims=false} : f32[64]
  %12 = sum(%9) {axes=[1], keepdims=false} : f32[64]
  %13 = sigmoid(%0) : f32[64,1000]
  %14 = mul(%13, %13) : f32[64,1000]
  %15 = sum(%14) {axes=[1], keepdims=false} : f32[64]
  %16 = sum(%13) {axes=[1], keepdims=false} : f32[64]
  %17 = add(%3, %4) : f32[64]
  %18 = add(%7, %8) : f32[64]
  %19 = add(%11, %12) : f32[64]
  %20 = add(%15, %16) : f32[64]
  %21 = add(%17, %18) : f32[64]
  %22 = add(%19, %20) : f32[64]
  %23 = add(%21, %22) : f32[64]
  return %23 "y"
})";

// The most [64,1000] buffers allocated and not yet freed at any point of the text.
int peak_live_big_buffers(const std::string& loops) {
  std::istringstream lines(loops);
  int live = 0, peak = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("memref<64x1000x") == std::string::npos) continue;
    if (line.find("memref.alloc(") != std::string::npos) peak = std::max(peak, ++live);
    if (line.find("memref.dealloc ") != std::string::npos) --live;
  }
  return peak;
}

TEST(BufferLifetimes, ChainOfTemporariesHoldsOneAtATime) {
  Graph g = parse_graph(kChain);
  std::string loops = lower_to_cpu_loops(emit_mlir(g, "forward"), false);
  EXPECT_EQ(peak_live_big_buffers(loops), 1) << loops;
  Tensor x = random_tensor({64, 1000}, DType::F32, 7);
  JitExecutor jit;
  std::vector<Tensor> got = jit.run(g, {x}, TensorMap{}, 0);
  std::vector<Tensor> want = run_graph(g, {x}, TensorMap{});
  expect_close(got[0], want[0], 1e-5, "chain");
}

// The plan `starc graph --emit opt` prints: at most one [64,1000] temporary (256000 bytes)
// alive at once, of the four the chain makes; the caller's buffers are x and y.
TEST(CpuPlan, MemoryPlanCountsTemporariesInProgramOrder) {
  CpuPlan plan = plan_cpu(emit_mlir(parse_graph(kChain), "forward"), false);
  EXPECT_EQ(plan.argument_bytes, 64 * 1000 * 4 + 64 * 4);
  EXPECT_GE(plan.temporary_peak_bytes, 256000);
  EXPECT_LT(plan.temporary_peak_bytes, 2 * 256000);
  EXPECT_GE(plan.temporary_total_bytes, 4 * 256000);
  EXPECT_EQ(plan.kept_to_end, 0);
}

// Kernels with the nodes each computes: the bias add and the relu after a matmul are one
// loop nest (the add has no kernel of its own left).
TEST(CpuPlan, KernelsListTheNodesFusedIntoThem) {
  Graph g = parse_graph(R"(graph dense(%0: f32[8,16] "x", %1: f32[16,4] "w", %2: f32[4] "b") {
  %3 = matmul(%0, %1) : f32[8,4]
  %4 = add(%3, %2) : f32[8,4]
  %5 = relu(%4) : f32[8,4]
  return %5 "y"
})");
  CpuPlan plan = plan_cpu(emit_mlir(g, "forward"), false);
  ASSERT_EQ(plan.kernels.size(), 2u);
  EXPECT_EQ(plan.kernels[0].what, "starc_matmul_f32");
  EXPECT_EQ(plan.kernels[0].nodes, (std::vector<std::string>{"%3"}));
  EXPECT_EQ(plan.kernels[1].what, "loop nest");
  EXPECT_EQ(plan.kernels[1].nodes, (std::vector<std::string>{"%4", "%5"}));
}

}  // namespace
}  // namespace starc::test
