// Which CPU loops run on several threads (compiler/backend/cpu/parallel_loops.h): the loop
// structure after shape_parallel_loops, and the results it must not change.
#include <gtest/gtest.h>

#include <regex>

#include "compiler/lower/emit.h"
#include "compiler/backend/cpu/jit.h"
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string loops_of(const std::string& op, const std::vector<Tensor>& in, Attrs attrs = {}) {
  return lower_to_cpu_loops(emit_mlir(one_op_graph(op, in, std::move(attrs)), "forward"), true);
}

// A big elementwise op: only the leading dimension (64 >= 32 iterations) stays parallel;
// the other two are scf.for loops inside it, the innermost one contiguous.
TEST(ParallelLoops, BigLoopKeepsOnlyItsLeadingDimsParallel) {
  Tensor x = Tensor(DType::F32, {64, 16, 513});
  std::string text = loops_of("relu", {x});
  ASSERT_EQ(count(text, "scf.parallel"), 1) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(scf\.parallel \(%\w+\) = )"))) << "one induction variable:\n"
                                                                                   << text;
  EXPECT_EQ(count(text, "scf.for"), 2) << text;
}

// Leading dims are kept until they give 32 iterations: [4, 16, 4097] keeps two.
TEST(ParallelLoops, ShortLeadingDimsAreKeptTogether) {
  std::string text = loops_of("relu", {Tensor(DType::F32, {4, 16, 4097})});
  ASSERT_EQ(count(text, "scf.parallel"), 1) << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(R"(scf\.parallel \(%\w+, %\w+\) = )"))) << text;
  EXPECT_EQ(count(text, "scf.for"), 1) << text;
}

// Too little work for a fork/join: no parallel loop at all.
TEST(ParallelLoops, SmallLoopRunsOnOneThread) {
  std::string text = loops_of("relu", {Tensor(DType::F32, {64, 64})});
  EXPECT_EQ(count(text, "scf.parallel"), 0) << text;
  EXPECT_EQ(count(text, "scf.for"), 2) << text;
}

// The reshaped loops compute what the reference does, on 1 and 2 threads, for ops with
// reduction loops inside the parallel ones and for broadcasting operands.
TEST(ParallelLoops, ResultsMatchTheReferenceOnOneAndTwoThreads) {
  Tensor a = random_tensor({33, 7, 1153}, DType::F32, 3), b = random_tensor({7, 1}, DType::F32, 4);
  std::vector<std::pair<Graph, std::vector<Tensor>>> cases = {
      {one_op_graph("sum", {a}, {{"axes", Ints{0, 2}}}), {a}},
      {one_op_graph("mul", {a, b}), {a, b}},
      {one_op_graph("maxpool1d", {a}, {{"kernel", Ints{4}}}), {a}},
      {one_op_graph("softmax", {a}, {{"axis", int64_t(1)}}), {a}},
  };
  for (int threads : {1, 2}) {
    JitOptions opts;
    opts.threads = threads;
    JitExecutor jit(opts);
    for (auto& [g, in] : cases) {
      Tensor got = jit.run(g, in, {}, 0)[0], ref = run_graph(g, in, {})[0];
      expect_close_rms(got, ref, 1e-6, g.nodes.back().op->name + " on " + std::to_string(threads) + " threads");
    }
  }
}

}  // namespace
}  // namespace starc::test
