// compiler/opt: each pass on small graphs (before/after), and the passes on real
// training graphs, which must compute exactly what the unoptimized graph computes.
#include <gtest/gtest.h>

#include "compiler/ir/text.h"
#include "compiler/ops/builder.h"
#include "compiler/opt/passes.h"
#include "dsl/program.h"
#include "op_test_util.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"

namespace starc::test {
namespace {

int input(GraphBuilder& b, const std::string& name, Shape shape) {
  int id = b.op("input", {}, {{"name", name}, {"dtype", DType::F32}, {"shape", Ints(shape)}});
  b.g.inputs.push_back(id);
  return id;
}

int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (auto& node : g.nodes) n += node.op->name == op;
  return n;
}

TEST(OptCse, MergesEqualNodesAndKeepsDifferentOnes) {
  Graph g;
  g.name = "cse";
  GraphBuilder b(g);
  int x = input(b, "x", {2, 3});
  int e1 = b.op("exp", {x}), e2 = b.op("exp", {x});            // equal
  int s1 = b.sum(e1, {1}, false), s2 = b.sum(e2, {1}, false);  // equal once e2 is e1
  int s3 = b.sum(e1, {0}, false);                              // other attributes
  int c1 = b.scalar(2, DType::F32), c2 = b.scalar(2, DType::F32), c3 = b.scalar(3, DType::F32);
  g.outputs = {b.add(b.mul(s1, c1), b.mul(s2, c2)), b.mul(s3, c3)};
  g.output_names = {"a", "b"};
  int removed = 0;
  Graph o = cse(g, &removed);
  verify_graph(o);
  EXPECT_EQ(count_op(o, "exp"), 1) << print_graph(o);
  EXPECT_EQ(count_op(o, "sum"), 2) << print_graph(o);  // axes [1] once, axes [0]
  EXPECT_EQ(count_op(o, "mul"), 2) << print_graph(o);  // s1*2 once, s3*3
  EXPECT_GE(removed, 4);
  Tensor xv = random_tensor({2, 3}, DType::F32, 1);
  auto before = run_graph(g, {xv}, {}), after = run_graph(o, {xv}, {});
  for (size_t i = 0; i < before.size(); ++i)
    for (int64_t k = 0; k < before[i].size(); ++k) EXPECT_EQ(before[i].get(k), after[i].get(k));
}

TEST(OptCse, NeverMergesInputsOrParams) {
  Graph g;
  g.name = "params";
  GraphBuilder b(g);
  int x = input(b, "x", {3}), y = input(b, "y", {3});
  Attrs p = {{"name", std::string("w")},     {"dtype", DType::F32},   {"shape", Ints{3}},
             {"init", std::string("zeros")}, {"init_args", Floats{}}, {"trainable", true}};
  int w1 = b.op("param", {}, p);
  p["name"] = std::string("v");
  int w2 = b.op("param", {}, p);
  g.outputs = {b.add(b.mul(x, w1), b.mul(y, w2))};
  g.output_names = {"out"};
  Graph o = cse(g);
  EXPECT_EQ(o.inputs.size(), 2u);
  EXPECT_EQ(o.params().size(), 2u);
  EXPECT_EQ(count_op(o, "mul"), 2);
}

TEST(OptDce, RemovesWhatNoOutputNeedsAndKeepsTheInputs) {
  Graph g;
  g.name = "dce";
  GraphBuilder b(g);
  int x = input(b, "x", {4});
  int unused_in = input(b, "unused", {2});
  (void)unused_in;
  int dead = b.op("tanh", {b.op("exp", {x})});
  (void)dead;
  g.outputs = {b.op("sigmoid", {x})};
  g.output_names = {"y"};
  int removed = 0;
  Graph o = dce(g, &removed);
  verify_graph(o);
  EXPECT_EQ(removed, 2);
  EXPECT_EQ(o.inputs.size(), 2u);  // the entry's positional inputs stay
  EXPECT_EQ(count_op(o, "exp") + count_op(o, "tanh"), 0);
  EXPECT_EQ(o.node(o.outputs[0]).op->name, "sigmoid");
  EXPECT_EQ(print_graph(o).find("tanh"), std::string::npos);
}

TEST(OptPasses, UnknownPassIsAnError) {
  Graph g;
  EXPECT_THROW(optimize(g, OptOptions({"nope"})), std::invalid_argument);
  std::vector<PassReport> r;
  optimize(g, OptOptions({"cse"}), &r);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].pass, "simplify");
  EXPECT_EQ(r[1].pass, "fold");
  EXPECT_EQ(r[2].pass, "dce");
  EXPECT_EQ(r[3].pass, "conv_algo");
}

// The redshift CNN's training step: the passes shrink it, and the reference interpreter
// computes the same loss and updated weights, bit for bit, before and after.
TEST(OptPasses, RedshiftTrainStepIsSmallerAndComputesTheSame) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  ASSERT_TRUE(prog.load_file(STARC_SOURCE_DIR "/stdlib/astro/redshift.net")) << diags.format_all();
  std::optional<TrainPlan> plan = prog.build_train("RedshiftCNN");
  ASSERT_TRUE(plan) << diags.format_all();
  Graph g = specialize(plan->steps[0].graph, {2});
  std::vector<PassReport> report;
  Graph o = optimize(g, {}, &report);
  verify_graph(o);
  EXPECT_LT(o.nodes.size(), g.nodes.size());
  std::vector<Tensor> in = {random_tensor({2, 1, 4618}, DType::F32, 3), random_tensor({2, 1}, DType::F32, 4),
                            Tensor::scalar(DType::F32, 1e-3), Tensor::scalar(DType::F32, 1)};
  TensorMap params = init_params(g, 1);
  auto before = run_graph(g, in, params, RunOptions{5}), after = run_graph(o, in, params, RunOptions{5});
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i)
    for (int64_t k = 0; k < before[i].size(); k += 97)
      ASSERT_EQ(before[i].get(k), after[i].get(k)) << g.output_names[i];
  // The dense layers' weight gradients are computed in the weights' layout: no transpose
  // of a matmul's result is left.
  for (auto& n : o.nodes)
    if (is_op(n, "transpose")) EXPECT_FALSE(is_op(o.node(n.inputs[0]), "matmul")) << print_graph(o);
  std::printf("redshift train step: %zu -> %zu nodes (%s; %s)\n", g.nodes.size(), o.nodes.size(),
              describe(report[0]).c_str(), describe(report[2]).c_str());
}

}  // namespace
}  // namespace starc::test
