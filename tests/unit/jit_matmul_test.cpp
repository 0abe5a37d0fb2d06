// matmul with a transposed operand: GEMM reads transpose(w) in place (no linalg.transpose
// in the module) and computes what the reference interpreter does, for a and b
// transposed, batched and broadcast; a transpose something else also reads stays.
#include <gtest/gtest.h>

#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

int input(GraphBuilder& b, const std::string& name, const Tensor& t) {
  int id = b.op("input", {}, {{"name", name}, {"dtype", t.dtype()}, {"shape", Ints(t.shape())}});
  b.g.inputs.push_back(id);
  return id;
}

struct Case {
  Shape a, b;
  bool trans_a, trans_b;
  Ints perm;  // of the transposes ({} = reversed dims)
};

TEST(JitMatmul, TransposedOperandsAreReadInPlace) {
  JitExecutor jit;
  uint32_t seed = 1;
  for (DType ft : {DType::F32, DType::F64})
    for (const Case& c : std::vector<Case>{{{5, 7}, {3, 7}, false, true, {}},  // x @ transpose(w): dense
                                           {{7, 5}, {7, 3}, true, false, {}},  // transpose(x) @ y
                                           {{7, 5}, {3, 7}, true, true, {}},
                                           {{2, 4, 6}, {2, 5, 6}, false, true, {0, 2, 1}},  // batched
                                           {{2, 6, 4}, {2, 6, 5}, true, false, {0, 2, 1}},
                                           {{2, 4, 6}, {5, 6}, false, true, {}}}) {  // broadcast b
      Tensor ta = random_tensor(c.a, ft, seed++), tb = random_tensor(c.b, ft, seed++);
      Graph g;
      GraphBuilder b(g);
      int a = input(b, "a", ta), bb = input(b, "b", tb);
      if (c.trans_a) a = b.transpose(a, c.perm);
      if (c.trans_b) bb = b.transpose(bb, c.b.size() == 2 ? Ints{} : c.perm);
      g.outputs = {b.op("matmul", {a, bb})};
      g.output_names = {"y"};
      std::string mlir = JitExecutor::mlir_for(g, {ta, tb});
      std::string what = fmt::format("{} {} {} {}", type_str(ta.type()), c.trans_a, type_str(tb.type()), c.trans_b);
      EXPECT_EQ(mlir.find("linalg.transpose"), std::string::npos) << what;
      std::vector<Tensor> got;
      ASSERT_TRUE(jit_run_or_fail(jit, g, {ta, tb}, 0, what, &got));
      expect_close_rms(got[0], run_graph(g, {ta, tb}, {})[0], ft == DType::F64 ? 1e-12 : 1e-5, what);
    }
}

// transpose(w) used by a matmul and as an output: written out once, read by both.
TEST(JitMatmul, ATransposeWithOtherUsersIsMaterialised) {
  Tensor x = random_tensor({3, 4}, DType::F32, 1), w = random_tensor({5, 4}, DType::F32, 2);
  Graph g;
  GraphBuilder b(g);
  int xi = input(b, "x", x), wi = input(b, "w", w);
  int wt = b.transpose(wi, {});
  g.outputs = {b.op("matmul", {xi, wt}), wt};
  g.output_names = {"y", "wt"};
  EXPECT_NE(JitExecutor::mlir_for(g, {x, w}).find("linalg.transpose"), std::string::npos);
  JitExecutor jit;
  std::vector<Tensor> got, ref = run_graph(g, {x, w}, {});
  ASSERT_TRUE(jit_run_or_fail(jit, g, {x, w}, 0, "shared transpose", &got));
  for (size_t i = 0; i < ref.size(); ++i) expect_close_rms(got[i], ref[i], 1e-5, g.output_names[i]);
}

}  // namespace
}  // namespace starc::test
