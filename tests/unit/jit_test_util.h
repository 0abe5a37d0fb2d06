// Test helpers for the JIT tests: compile a model from .net text, build a gradient graph
// seeded with an input `dy`, run a graph through the JIT with failures reported, and
// compare its results with the reference interpreter's.
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/autodiff/autodiff.h"
#include "compiler/lower/emit.h"
#include "compiler/ops/builder.h"
#include "dsl/program.h"
#include "runtime/jit_executor.h"

namespace starc::test {

// The stdlib models StdlibModels.AFewTrainStepsOnSimulatedDataLowerTheLoss trains on their
// simulators' data (stdlib_models_test.cpp): a loss that falls there needs no second
// check on random data.
std::set<std::string> models_trained_on_simulated_data();

// Every .net file of the standard library, sorted.
inline std::vector<std::string> stdlib_files() {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(STARC_SOURCE_DIR "/stdlib"))
    if (e.path().extension() == ".net") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A stdlib file as a test name ("astro_redshift"): the per-file instances of the
// parameterised model tests (INSTANTIATE_TEST_SUITE_P over stdlib_files()), so ctest
// runs them in parallel and a failure names its file.
inline std::string stdlib_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string rel = std::filesystem::relative(info.param, STARC_SOURCE_DIR "/stdlib").replace_extension().string();
  for (char& c : rel)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return rel;
}

// Base of the per-file suites: with_program(f) calls f(file, prog, diags) with the
// parameter's file loaded, and skips files that define no model.
class StdlibFileTest : public ::testing::TestWithParam<std::string> {
 protected:
  template <class F>
  void with_program(F f) {
    const std::string& file = GetParam();
    SourceManager sm;
    DiagEngine diags(sm);
    Program prog(diags);
    ASSERT_TRUE(prog.load_file(file)) << diags.format_all();
    if (prog.model_names().empty()) GTEST_SKIP() << file << " defines no model (a library of layers or losses)";
    f(file, prog, diags);
  }
};

// The graph of `model` in the .net source text `src`; throws with the diagnostics if it
// does not compile.
inline Graph compile(const std::string& src, const std::string& model) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  std::optional<Graph> g;
  if (prog.load_text(STARC_SOURCE_DIR "/tests/unit/inline.net", src)) g = prog.build(model);
  if (!g) throw std::runtime_error("compile failed:\n" + diags.format_all());
  return std::move(*g);
}

// An elementwise RNN over axis 1 with two carries and a step output; REV stands for the
// scan's `reverse` flag (true/false), to be substituted.
inline const char* const kRnn = R"(
model Rnn(x: f64[B, 5, 3], h0: f64[B, 3]) -> f64[B, 5, 3] {
    param w: f64[3] = normal
    param u: f64[3] = normal
    fn step(h, c, x_t) {
        h2 = tanh(h * w + x_t * u + c)
        c2 = c * 0.5 + h2
        return (h2, c2, h2 * c2)
    }
    return scan(step, x, (h0, h0 * 0.3), axis: 1, reverse: REV)
}
)";

// Adds an input `dy` with the type of g's output `y`, and appends to g.inputs.
inline int add_dy_input(Graph& g, GraphBuilder& b, int y) {
  TensorType ty = g.type(y);
  int dy = b.op("input", {}, {{"name", std::string("dy")}, {"dtype", ty.dtype}, {"shape", Ints(ty.shape)}});
  g.inputs.push_back(dy);
  return dy;
}

// Names g's outputs d0, d1, ...
inline void name_outputs_d(Graph& g) {
  g.output_names.clear();
  for (size_t i = 0; i < g.outputs.size(); ++i) g.output_names.push_back(fmt::format("d{}", i));
}

// Ops of g that have no MLIR lowering (yet).
inline std::set<std::string> unlowered_ops(const Graph& g) {
  std::set<std::string> missing;
  for (const Node& n : g.nodes)
    if (n.op->name != "input" && n.op->name != "param" && n.op->name != "const" && !find_lowering(n.op->name))
      missing.insert(n.op->name);
  return missing;
}

// Tolerance: f64 near machine precision; f32 a few ulps (libm vs LLVM math expansions).
inline double tolerance(DType dt) { return dt == DType::F64 ? 1e-12 : 2e-6; }

// |jit - ref| <= tol * max(1, |ref|) elementwise; NaN in ref must be NaN in jit (with
// `nan_shows_jit`, the failure message includes the JIT's value).
inline void expect_close(const Tensor& jit, const Tensor& ref, double tol, const std::string& what,
                         bool nan_shows_jit = false) {
  ASSERT_EQ(type_str(jit.type()), type_str(ref.type())) << what;
  for (int64_t i = 0; i < ref.size(); ++i) {
    double a = jit.get(i), b = ref.get(i);
    if (std::isnan(b)) {
      if (nan_shows_jit)
        EXPECT_TRUE(std::isnan(a)) << what << " at " << i << ": jit " << a;
      else
        EXPECT_TRUE(std::isnan(a)) << what << " at " << i;
      continue;
    }
    ASSERT_LE(std::abs(a - b), tol * std::max(1.0, std::abs(b)))
        << what << " at flat index " << i << ": jit " << a << " vs reference " << b;
  }
}

// Runs g through `jit` into *got; on an exception, adds a failure "<what>: <message>"
// and returns false.
inline bool jit_run_or_fail(JitExecutor& jit, const Graph& g, const std::vector<Tensor>& in, uint64_t seed,
                            const std::string& what, std::vector<Tensor>* got) {
  try {
    *got = jit.run(g, in, {}, seed);
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": " << e.what();
    return false;
  }
  return true;
}

// |jit - ref| <= tol * max(1, |ref|, rms(ref)): a long f32 sum's rounding error scales
// with the magnitude of its terms (about the output's RMS), not with a result that happens
// to cancel to near 0.
inline void expect_close_rms(const Tensor& jit, const Tensor& ref, double tol, const std::string& what) {
  ASSERT_EQ(type_str(jit.type()), type_str(ref.type())) << what;
  double ss = 0;
  int64_t finite = 0;
  for (int64_t i = 0; i < ref.size(); ++i)
    if (std::isfinite(ref.get(i))) ss += ref.get(i) * ref.get(i), ++finite;
  const double scale = std::max(1.0, finite ? std::sqrt(ss / double(finite)) : 0.0);
  for (int64_t i = 0; i < ref.size(); ++i) {
    double a = jit.get(i), b = ref.get(i);
    if (a == b) continue;  // infinities
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(a)) << what << " at " << i;
      continue;
    }
    ASSERT_LE(std::abs(a - b), tol * std::max(scale, std::abs(b)))
        << what << " at flat index " << i << ": jit " << a << " vs reference " << b << " (output rms " << scale << ")";
  }
}

}  // namespace starc::test
