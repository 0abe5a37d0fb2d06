// Attribution (runtime/astro/attribution.h) and `starc explain`: saliency against central
// finite differences (f64, reference interpreter) on the photo-z MLP and a small conv
// net, Integrated Gradients exact on a linear model and complete on a smooth one, the
// JIT against the interpreter, the command's output files and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "dsl/program.h"
#include "runtime/astro/attribution.h"
#include "runtime/init.h"
#include "runtime/jit_executor.h"
#include "runtime/io/npy.h"
#include "shell_util.h"
#include "temp_dir_test.h"

namespace starc {
namespace {

const char* kPath = STARC_SOURCE_DIR "/tests/unit/attribution_inline.net";

// A conv net on [C, H, W] images with a smooth head (3 classes), a linear regression,
// a smooth MLP and a model with two inputs.
const char* kModels = R"(use std.nn
model SmallConv(img: f32[B, 2, 6, 6]) -> f32[B, 3] {
    return img |> conv2d(4, kernel: 3, padding: 1) |> tanh |> maxpool2d(2) |> flatten |> dense(3)
}
model Linear(x: f32[B, 5]) -> f32[B, 1] {
    return x |> dense(1)
}
model Smooth(x: f32[B, 4]) -> f32[B, 3] {
    return x |> dense(16) |> tanh |> dense(3) |> softmax
}
model Spectrum(flux: f32[B, 1, 32]) -> f32[B, 1] {
    return flux |> conv1d(3, kernel: 5) |> tanh |> flatten |> dense(1)
}
model Two(a: f32[B, 3], b: f32[B, 3]) -> f32[B, 2] {
    return concat([a, b], axis: 1) |> dense(2)
}
model Labels(k: i64[B, 3]) -> f32[B, 2] {
    return cast(k, f32) |> dense(2)
}
)";

Graph build(const std::string& model, const std::string& src = kModels, const std::string& path = kPath) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  std::optional<Graph> g;
  if (path.ends_with("inline.net") ? prog.load_text(path, src) : prog.load_file(path)) g = prog.build(model);
  if (!g) throw std::runtime_error("compile failed:\n" + diags.format_all());
  return std::move(*g);
}

Graph build_file(const std::string& model, const std::string& file) { return build(model, "", file); }

Tensor random_tensor(DType dt, Shape s, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t(dt, s);
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, u(rng));
  return t;
}

TensorMap params_as(const TensorMap& p, DType dt) {
  TensorMap out;
  for (auto& [k, t] : p) out[k] = is_float(t.dtype()) ? t.cast(dt) : t;
  return out;
}

// The f64 model, its f64 weights and an f64 input, for finite differences.
struct F64Model {
  Graph g;
  TensorMap params;
  F64Model(const Graph& model, uint64_t seed)
      : g(with_float_type(model, DType::F64)), params(params_as(init_params(model, seed), DType::F64)) {}
  double output(const Tensor& x, int64_t row, int64_t col) const {
    Tensor y = run_graph(g, {x}, params).at(0);
    return y.get(row * y.dim(1) + col);
  }
};

// Central differences of output[row, col] with respect to every element of row `row` of x.
std::vector<double> finite_differences(const F64Model& m, const Tensor& x, int64_t row, int64_t col,
                                       double eps = 1e-6) {
  int64_t per_row = x.size() / x.dim(0);
  std::vector<double> d;
  for (int64_t j = row * per_row; j < (row + 1) * per_row; ++j) {
    Tensor xp = x.clone(), xm = x.clone();
    xp.set(j, x.get(j) + eps), xm.set(j, x.get(j) - eps);
    d.push_back((m.output(xp, row, col) - m.output(xm, row, col)) / (2 * eps));
  }
  return d;
}

// Signed saliency of every row equals finite differences of that row's output at the target.
void expect_saliency_matches_fd(const Graph& model, Shape x_shape, int64_t target) {
  F64Model m(model, 7);
  Tensor x = random_tensor(DType::F64, x_shape, 11);
  InterpreterExecutor ref;
  Attributor attr(m.g, 0, 0, ref, m.params);
  AttributionResult r = attr.saliency({x}, {target}, /*signed_gradient=*/true);
  ASSERT_EQ(r.attribution.shape(), x.shape());
  int64_t per_row = x.size() / x.dim(0);
  double worst = 0, scale = 0;
  for (int64_t row = 0; row < x.dim(0); ++row) {
    int64_t col = r.samples[size_t(row)].target;
    if (target >= 0) {
      EXPECT_EQ(col, target);
    }
    EXPECT_NEAR(r.samples[size_t(row)].output, m.output(x, row, col), 1e-12);
    std::vector<double> fd = finite_differences(m, x, row, col);
    for (int64_t j = 0; j < per_row; ++j) {
      worst = std::max(worst, std::abs(r.attribution.get(row * per_row + j) - fd[size_t(j)]));
      scale = std::max(scale, std::abs(fd[size_t(j)]));
    }
  }
  EXPECT_GT(scale, 1e-3);  // the check compares real gradients, not zeros
  EXPECT_LT(worst / scale, 1e-6) << "worst abs err " << worst << " of scale " << scale;

  AttributionResult a = attr.saliency({x}, {target});  // |gradient|
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(a.attribution.get(i), std::abs(r.attribution.get(i)));
}

TEST(Attribution, SaliencyMatchesFiniteDifferencesOnPhotozMlp) {
  expect_saliency_matches_fd(build_file("PhotozMLP", STARC_SOURCE_DIR "/stdlib/astro/photoz.net"), {3, 5}, 0);
}

TEST(Attribution, SaliencyMatchesFiniteDifferencesOnConvNet) {
  expect_saliency_matches_fd(build("SmallConv"), {2, 2, 6, 6}, 2);
  expect_saliency_matches_fd(build("SmallConv"), {2, 2, 6, 6}, -1);  // the predicted class
}

TEST(Attribution, DefaultTargetIsThePredictedClass) {
  F64Model m(build("SmallConv"), 3);
  Tensor x = random_tensor(DType::F64, {4, 2, 6, 6}, 5);
  Tensor y = run_graph(m.g, {x}, m.params).at(0);
  InterpreterExecutor ref;
  Attributor attr(m.g, 0, 0, ref, m.params);
  AttributionResult r = attr.saliency({x}, {});
  for (int64_t i = 0; i < 4; ++i) {
    int64_t best = 0;
    for (int64_t c = 1; c < 3; ++c)
      if (y.get(i * 3 + c) > y.get(i * 3 + best)) best = c;
    EXPECT_EQ(r.samples[size_t(i)].target, best) << "sample " << i;
  }
}

TEST(Attribution, IntegratedGradientsOfALinearModelAreExact) {
  F64Model m(build("Linear"), 1);
  const Tensor* w = nullptr;
  for (auto& [name, t] : m.params)
    if (t.size() == 5) w = &t;
  ASSERT_NE(w, nullptr);
  Tensor x = random_tensor(DType::F64, {3, 5}, 2), baseline = random_tensor(DType::F64, {5}, 3);
  InterpreterExecutor ref;
  Attributor attr(m.g, 0, 0, ref, m.params);
  for (bool given_baseline : {false, true}) {
    IgOptions o;
    o.steps = 4;
    if (given_baseline) o.baseline = baseline;
    AttributionResult r = attr.integrated_gradients({x}, {}, o);
    for (int64_t i = 0; i < 3; ++i) {
      for (int64_t j = 0; j < 5; ++j) {
        double base = given_baseline ? baseline.get(j) : 0;
        EXPECT_NEAR(r.attribution.get(i * 5 + j), (x.get(i * 5 + j) - base) * w->get(j), 1e-14);
      }
      EXPECT_LT(r.samples[size_t(i)].completeness_gap, 1e-12);
      EXPECT_EQ(r.samples[size_t(i)].target, 0);  // one column: the regression output
    }
  }
}

TEST(Attribution, IntegratedGradientsCompletenessGapShrinksWithSteps) {
  F64Model m(build("Smooth"), 4);
  Tensor x = random_tensor(DType::F64, {2, 4}, 9, -3, 3);
  InterpreterExecutor ref;
  Attributor attr(m.g, 0, 0, ref, m.params);
  std::vector<double> gaps;
  for (int steps : {4, 16, 64, 256}) {
    IgOptions o;
    o.steps = steps;
    AttributionResult r = attr.integrated_gradients({x}, {1}, o);
    double gap = 0;
    for (auto& s : r.samples) {
      EXPECT_NEAR(s.output, m.output(x, &s - r.samples.data(), 1), 1e-12);
      EXPECT_GT(std::abs(s.output - s.baseline_output), 1e-3);
      gap = std::max(gap, s.completeness_gap);
    }
    gaps.push_back(gap);
  }
  EXPECT_LT(gaps[2], 0.01) << "64 steps";
  // The midpoint rule's error falls as 1/m^2: at least 4x per 4x more steps.
  for (size_t i = 1; i < gaps.size(); ++i)
    EXPECT_LT(gaps[i], gaps[i - 1] / 4) << "gaps " << gaps[i - 1] << " " << gaps[i];
  EXPECT_GT(gaps[0], 1e-6);  // the smallest m is visibly inexact: the check can fail
}

// max |a - b| / max |b|.
double rel_err(const Tensor& a, const Tensor& b) {
  double num = 0, den = 1e-30;
  for (int64_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::abs(a.get(i) - b.get(i)));
    den = std::max(den, std::abs(b.get(i)));
  }
  return num / den;
}

TEST(Attribution, JitAndReferenceAgree) {
  Graph g = build("SmallConv");
  TensorMap params = init_params(g, 5);
  Tensor x = random_tensor(DType::F32, {3, 2, 6, 6}, 6);
  InterpreterExecutor ref;
  JitExecutor jit;
  Attributor a_ref(g, 0, 0, ref, params), a_jit(g, 0, 0, jit, params);
  AttributionResult s_ref = a_ref.saliency({x}, {}, true), s_jit = a_jit.saliency({x}, {}, true, /*max_batch=*/2);
  EXPECT_LT(rel_err(s_jit.attribution, s_ref.attribution), 1e-5);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(s_jit.samples[i].target, s_ref.samples[i].target);
  IgOptions o;
  o.steps = 8;
  AttributionResult i_ref = a_ref.integrated_gradients({x}, {}, o);
  o.max_batch = 4;  // 10 points in runs of 4 rows: the last run is padded
  AttributionResult i_jit = a_jit.integrated_gradients({x}, {}, o);
  EXPECT_LT(rel_err(i_jit.attribution, i_ref.attribution), 1e-5);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(i_jit.samples[i].completeness_gap, i_ref.samples[i].completeness_gap, 1e-4);
}

TEST(Attribution, OtherInputsAreHeldAtTheSample) {
  Graph g = with_float_type(build("Two"), DType::F64);
  TensorMap params = params_as(init_params(build("Two"), 2), DType::F64);
  Tensor a = random_tensor(DType::F64, {2, 3}, 1), b = random_tensor(DType::F64, {2, 3}, 2);
  InterpreterExecutor ref;
  Attributor attr(g, 1, 0, ref, params);  // explain b, a fixed
  IgOptions o;
  o.steps = 3;
  AttributionResult r = attr.integrated_gradients({a, b}, {1}, o);
  for (auto& s : r.samples) EXPECT_LT(s.completeness_gap, 1e-12);  // linear in b
  EXPECT_EQ(r.attribution.shape(), b.shape());
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const AttributionError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Attribution, BadRequestsNameTheTensorAndShape) {
  Graph g = build("SmallConv");
  TensorMap params = init_params(g, 1);
  InterpreterExecutor ref;
  Attributor attr(g, 0, 0, ref, params);
  Tensor x = random_tensor(DType::F32, {2, 2, 6, 6}, 1);
  EXPECT_EQ(error_of([&] { attr.saliency({x}, {3}); }),
            "target 3 is out of range: output 'output' (f32[B,3]) has 3 columns (0..2)");
  IgOptions bad;
  bad.baseline = Tensor(DType::F32, {2, 5, 5});
  EXPECT_EQ(error_of([&] { attr.integrated_gradients({x}, {}, bad); }),
            "the baseline is f32[2,5,5] but input 'img' (f32[B,2,6,6]) is f32[2,2,6,6]: the baseline must be one float "
            "sample, [2,6,6] or [1,2,6,6]");
  EXPECT_EQ(error_of([&] { select_sample(g, {x}, 0, 2); }),
            "sample index 2 is out of range: input 'img' is f32[2,2,6,6] (2 samples, 0..1)");
  EXPECT_EQ(error_of([&] { attr.saliency({Tensor(DType::I64, {2, 2, 6, 6})}, {}); }),
            "input 'img' is i64[2,2,6,6]; the model declares f32[B,2,6,6]");
  Graph labels = build("Labels");
  EXPECT_EQ(error_of([&] { build_attribution_graph(labels, 0, 0); }),
            "input 'k' (i64[B,3]) is not float: only float inputs can be attributed");
  Graph two = build("Two");
  TensorMap two_params = init_params(two, 1);
  Attributor two_attr(two, 0, 0, ref, two_params);
  EXPECT_EQ(error_of([&] { two_attr.saliency({Tensor(DType::F32, {2, 3}), Tensor(DType::F32, {3, 3})}, {}); }),
            "input 'b' is f32[3,3] but input 'a' (f32[B,3]) has 2 samples (f32[2,3]): batched inputs need one row per "
            "sample");
}

// ---- the command ----

class ExplainCli : public test::TempDirTest {
 protected:
  ExplainCli() : TempDirTest("starc_explain_") {}
  void SetUp() override {
    TempDirTest::SetUp();
    write("m.net", kModels);
  }
  // `starc init` weights for `model` in the folder: w_MODEL.npz.
  std::string weights(const std::string& model) {
    std::string w = path("w_" + model + ".npz");
    test::ShellResult r = run("init m.net --model " + model + " --seed 2 -o " + w);
    EXPECT_EQ(r.code, 0) << r.out;
    return w;
  }
  test::ShellResult run(const std::string& args) { return test::run_starc(dir.string(), args); }
  void expect_error(const std::string& args, const std::string& needle) {
    test::expect_starc_error(dir.string(), args, needle);
  }
  std::string read(const std::string& name) {
    std::ifstream f(path(name));
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
};

TEST_F(ExplainCli, SaliencyOfAnImageWritesTheInputShapeAndAHeatMap) {
  std::string w = weights("SmallConv");
  write_npy(path("img.npy"), random_tensor(DType::F32, {3, 2, 6, 6}, 4));
  test::ShellResult r = run("explain m.net --model SmallConv --weights " + w +
                            " --in img=img.npy -o sal.npy --plot sal.svg --backend ref");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor a = read_npy(path("sal.npy"));
  EXPECT_EQ(a.shape(), (Shape{3, 2, 6, 6}));
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_GE(a.get(i), 0);
  EXPECT_NE(r.out.find("saliency |gradient|"), std::string::npos) << r.out;
  std::string svg = read("sal.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u) << svg.substr(0, 200);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST_F(ExplainCli, IntegratedGradientsOfASpectrumReportCompleteness) {
  std::string w = weights("Spectrum");
  write_npy(path("flux.npy"), random_tensor(DType::F32, {2, 1, 32}, 4));
  Tensor loglam(DType::F64, {32});
  for (int64_t i = 0; i < 32; ++i) loglam.set(i, 3.55 + 1e-4 * double(i));
  write_npy(path("loglam.npy"), loglam);
  test::ShellResult r =
      run("explain m.net --model Spectrum --weights " + w +
          " --in flux.npy --index 1 --method ig --steps 32 -o ig.npy --plot ig.svg --loglam loglam.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor a = read_npy(path("ig.npy"));
  EXPECT_EQ(a.shape(), (Shape{1, 1, 32}));
  EXPECT_NE(r.out.find("completeness: worst relative gap"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(32 steps, zero baseline)"), std::string::npos) << r.out;
  EXPECT_NE(read("ig.svg").find("</svg>"), std::string::npos);

  // The same through the JIT, with a baseline: the attribution sums to f(x) - f(x').
  write_npy(path("base.npy"), random_tensor(DType::F32, {1, 32}, 8));
  r = run("explain m.net --model Spectrum --weights " + w +
          " --in flux.npy --method ig --baseline base.npy -o ig2.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_npy(path("ig2.npy")).shape(), (Shape{2, 1, 32}));
}

TEST_F(ExplainCli, BadArgumentsGiveOneClearLine) {
  std::string w = weights("SmallConv"), w2 = weights("Two");
  write_npy(path("img.npy"), random_tensor(DType::F32, {2, 2, 6, 6}, 4));
  write_npy(path("a.npy"), random_tensor(DType::F32, {2, 3}, 4));
  write_npy(path("ints.npy"), Tensor(DType::I64, {2, 2, 6, 6}));
  write_npy(path("base.npy"), Tensor(DType::F32, {6, 6}));
  std::string sc = "explain m.net --model SmallConv --weights " + w + " -o o.npy ";
  expect_error(sc + "--in img.npy --target 3",
               "--target 3 is out of range: output output: f32[B,3] has 3 columns (0..2)");
  expect_error(sc + "--in img.npy --index 2",
               "sample index 2 is out of range: input 'img' is f32[2,2,6,6] (2 samples, 0..1)");
  expect_error(sc + "--in ints.npy", "input 'img' must be float to be explained, but the file holds i64[2,2,6,6]");
  expect_error(sc + "--in img.npy --method ig --baseline base.npy",
               "the baseline is f32[6,6] but input 'img' (f32[B,2,6,6]) is f32[2,2,6,6]");
  expect_error(sc + "--in img.npy --steps 8", "--steps is for --method ig");
  std::string two = "explain m.net --model Two --weights " + w2 + " -o o.npy ";
  expect_error(two + "--in a.npy", "--in a.npy: the model takes 2 inputs (a, b); write NAME=PATH");
  expect_error(two + "--in a=a.npy b=a.npy",
               "model 'Two' has 2 inputs (a: f32[B,3], b: f32[B,3]): choose the one to explain with --wrt NAME");
  expect_error(two + "--in a=a.npy --wrt a", "missing input 'b' (f32[B,3]): pass --in b=FILE.npy");
  test::ShellResult ok = run(two + "--in a=a.npy b=a.npy --wrt b --target 1 --signed");
  EXPECT_EQ(ok.code, 0) << ok.out;
}

}  // namespace
}  // namespace starc
