// The compile spine (compiler/driver) and the pass registry (compiler/opt/passes.h): each
// stage of compile() produces what the stage's own function produces, and passes run by
// name in the order given.
#include <gtest/gtest.h>

#include "compiler/driver/driver.h"
#include "compiler/ir/text.h"
#include "grad_test_util.h"

namespace starc::test {
namespace {

// x: f32[B,4] -> neg(transpose(transpose(x))) + 0: simplify has two things to do.
Graph small_graph() {
  return parse_graph(
      "graph M(%0: f32[B,4] \"x\") symbols(B) {\n"
      "  %1 = transpose(%0) {perm=[1,0]} : f32[4,B]\n"
      "  %2 = transpose(%1) {perm=[1,0]} : f32[B,4]\n"
      "  %3 = neg(%2) : f32[B,4]\n"
      "  return %3 \"y\"\n"
      "}\n");
}

TEST(PassRegistry, NamesAreUniqueAndDescribed) {
  std::set<std::string> seen;
  for (const Pass& p : all_passes()) {
    EXPECT_TRUE(seen.insert(p.name).second) << p.name;
    EXPECT_FALSE(p.description.empty()) << p.name;
    EXPECT_EQ(find_pass(p.name), &p);
  }
  EXPECT_EQ(pass_names().size(), all_passes().size());
  EXPECT_EQ(find_pass("nope"), nullptr);
}

TEST(PassRegistry, RunsNamedPassesInOrderAndRefusesUnknownOnesFirst) {
  std::vector<PassReport> report;
  Graph g = run_passes(small_graph(), {"dce", "simplify", "dce"}, {}, &report);
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[0].pass, "dce");
  EXPECT_EQ(report[0].removed, 0);
  EXPECT_EQ(report[1].pass, "simplify");
  EXPECT_EQ(report[2].removed, 1);  // the inner transpose, which simplify left without users
  EXPECT_EQ(print_graph(g).find("transpose"), std::string::npos) << print_graph(g);
  report.clear();
  EXPECT_THROW(run_passes(small_graph(), {"simplify", "nope"}, {}, &report), std::invalid_argument);
  EXPECT_TRUE(report.empty()) << "a pass ran before the unknown name was found";
}

TEST(PassRegistry, OptimizeIsEveryPassNotDisabled) {
  std::vector<PassReport> all, some;
  Graph a = optimize(small_graph(), {}, &all);
  Graph b = optimize(small_graph(), OptOptions({"simplify"}), &some);
  ASSERT_EQ(all.size(), pass_names().size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].pass, pass_names()[i]);
  EXPECT_EQ(some.size(), all.size() - 1);
  EXPECT_NE(print_graph(b).find("transpose"), std::string::npos);
  EXPECT_THROW(optimize(small_graph(), OptOptions({"nope"})), std::invalid_argument);
}

TEST(Driver, EachStageIsWhatItsFunctionMakes) {
  Graph g = small_graph();
  CompileOptions o;
  Compilation opt = compile(g, {Dim(3)}, o, Stage::Opt);
  EXPECT_TRUE(opt.mlir.empty());
  EXPECT_EQ(print_graph(opt.optimized), print_graph(optimize(specialize(g, {Dim(3)}))));
  Compilation mlir = compile(g, {Dim(3)}, o, Stage::Mlir);
  EXPECT_EQ(mlir.mlir, emit_mlir(mlir.optimized, "forward"));
  ASSERT_EQ(mlir.sig.input_types.size(), 1u);
  EXPECT_EQ(mlir.sig.input_types[0].shape, (Shape{3, 4}));
  Compilation llvm = compile(g, {Dim(3)}, o, Stage::Llvm);
  EXPECT_NE(llvm.llvm.find("define"), std::string::npos);
  Compilation object = compile(g, {Dim(3)}, o, Stage::Object);
  ASSERT_GT(object.object.size(), 4u);
  EXPECT_EQ(object.object.substr(0, 4),
            "\x7f"
            "ELF");
}

TEST(Driver, UnoptimizedKeepsTheNodeIdsAndPtxIsForTheGpu) {
  CompileOptions o;
  o.optimize = false;
  Compilation c = compile(small_graph(), {Dim(2)}, o, Stage::Mlir);
  EXPECT_EQ(c.optimized.nodes.size(), small_graph().nodes.size());
  EXPECT_TRUE(c.report.empty());
  Compilation ptx = compile(small_graph(), {Dim(2)}, CompileOptions{}, Stage::Ptx);  // device cpu asked: PTX anyway
  ASSERT_FALSE(ptx.ptx.empty());
  EXPECT_NE(ptx.ptx[0].ptx.find(".target sm_90"), std::string::npos);
}

}  // namespace
}  // namespace starc::test
