// `starc summary` (runtime/model_summary.h): the photo-z MLP's rows, parameters, FLOPs and
// argument memory, computed by hand below; the command prints the same.
#include <gtest/gtest.h>

#include "dsl/program.h"
#include "runtime/model_summary.h"
#include "shell_util.h"

namespace starc::test {
namespace {

const std::string kPhotoz = std::string(STARC_SOURCE_DIR) + "/stdlib/astro/photoz.net";

Graph photoz() {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  EXPECT_TRUE(prog.load_file(kPhotoz));
  std::optional<Graph> g = prog.build("PhotozMLP", BuildOptions{});
  EXPECT_TRUE(g.has_value());
  return *g;
}

TEST(Summary, PhotozRowsParamsFlopsAndMemory) {
  ModelSummary s = summarize(photoz(), 4);
  std::vector<std::string> names, kinds;
  for (auto& r : s.rows) names.push_back(r.name), kinds.push_back(r.kind);
  EXPECT_EQ(names, (std::vector<std::string>{"dense0", "relu @11:12", "dense1", "relu @11:12", "dense2"}));
  EXPECT_EQ(kinds, (std::vector<std::string>{"dense", "relu", "dense", "relu", "dense"}));
  EXPECT_EQ(s.rows[0].params, 5 * 64 + 64);
  EXPECT_EQ(s.rows[2].params, 64 * 64 + 64);
  EXPECT_EQ(s.rows[4].params, 64 + 1);
  EXPECT_EQ(s.params, 4609);
  EXPECT_EQ(s.trainable, 4609);
  // dense: a multiply-add per weight and sample (the transpose of the weight moves data
  // only), an add per output for the bias; relu: one per element.
  EXPECT_EQ(s.rows[0].flops, 2.0 * 4 * 5 * 64 + 4 * 64);
  EXPECT_EQ(s.rows[1].flops, 4.0 * 64);
  EXPECT_EQ(s.rows[4].flops, 2.0 * 4 * 64 * 1 + 4 * 1);
  EXPECT_EQ(type_str(s.rows[2].output), "f32[4,64]");
  EXPECT_EQ(s.argument_bytes, (4 * 5 + 4609 + 4 * 1) * 4);  // inputs, parameters, outputs in f32

  ShellResult r = sh(quote(STARC_BINARY) + " summary " + quote(kPhotoz) + " --batch 4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, format_summary(s));
  EXPECT_NE(r.out.find("total: 4,609 parameters (4,609 trainable, 0 state)"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace starc::test
