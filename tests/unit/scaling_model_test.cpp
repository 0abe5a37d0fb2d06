// docs/distributed.md's expected-scaling table is bench/scaling_model.py's output for the
// stdlib models as `starc summary` describes them now: a model whose FLOPs or parameters
// change, or a new bench/results.md GEMM rate, makes this fail until the table is
// regenerated (the script's message says how).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/unit/shell_util.h"

namespace starc {
namespace {

TEST(ScalingModel, DocTableIsTheScriptsOutput) {
  test::ShellResult probe = test::sh(fmt::format("{} -c 'import argparse'", test::kPython));
  if (probe.code != 0) GTEST_SKIP() << test::kPython << " is missing: " << probe.out;
  test::ShellResult r =
      test::sh(fmt::format("cd {} && {} bench/scaling_model.py --starc {} --check docs/distributed.md",
                           test::quote(STARC_SOURCE_DIR), test::kPython, test::quote(STARC_BINARY)));
  EXPECT_EQ(r.code, 0) << r.out;
}

// The model's arithmetic on one row, by hand: PhotozMLP (4,609 parameters, 9,217 forward
// FLOPs a sample) at 64 nodes on 10 Gb/s with 50 us latency, 64 samples a rank, at the
// 48.5 GFLOP/s the doc states: compute 3*9217*64/48.5e9 = 0.0365 ms; all-reduce
// 2*63/64*4609*8*8/1e10 + 50e-6*6 = 0.0581 + 0.300 ms; step 0.395 ms, efficiency 9 %.
TEST(ScalingModel, PhotozRowIsTheFormula) {
  test::ShellResult r = test::sh(fmt::format("cd {} && {} bench/scaling_model.py --starc {}",
                                             test::quote(STARC_SOURCE_DIR), test::kPython, test::quote(STARC_BINARY)));
  ASSERT_EQ(r.code, 0) << r.out;
  if (r.out.find("Single-core rate: 48.5 GFLOP/s") == std::string::npos)
    GTEST_SKIP() << "bench/results.md's GEMM rate changed; the hand computation assumes 48.5 GFLOP/s";
  EXPECT_NE(r.out.find("| PhotozMLP | 4,609 | 0.0365 | 0.181 / 0.292 / 0.395 (9%) |"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace starc
