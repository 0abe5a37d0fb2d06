// The JIT executor's in-memory cache: a graph changed in place (same object, same
// shapes) must be recompiled, never served the old code.
#include <gtest/gtest.h>

#include "grad_test_util.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

TEST(JitCache, GraphChangedInPlaceIsRecompiled) {
  JitExecutor jit;
  Graph g = one_op_graph("full", {}, {{"dtype", DType::F32}, {"shape", Ints{3}}, {"value", 1.0}});
  EXPECT_EQ(jit.run(g, {}, {}, 0)[0].get(2), 1.0);
  EXPECT_TRUE(!jit.last_stats().cache_hit);
  EXPECT_EQ(jit.run(g, {}, {}, 0)[0].get(2), 1.0);
  EXPECT_TRUE(jit.last_stats().cache_hit);
  g.nodes.back().attrs["value"] = 2.5;  // an attribute value only: same ops, wiring and types
  EXPECT_EQ(jit.run(g, {}, {}, 0)[0].get(2), 2.5);
  EXPECT_TRUE(!jit.last_stats().cache_hit);
  Graph copy = g;  // an equal graph built apart shares the compile
  EXPECT_EQ(jit.run(copy, {}, {}, 0)[0].get(0), 2.5);
  EXPECT_TRUE(jit.last_stats().cache_hit);
}

}  // namespace
}  // namespace starc::test
