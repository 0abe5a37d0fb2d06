// Evaluation metrics (runtime/astro/metrics.h) against hand-computed values, the SVG plots
// (runtime/astro/plots.h) for well-formedness and content, and `starc eval` end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "runtime/astro/metrics.h"
#include "runtime/io/npy.h"
#include "runtime/astro/plots.h"
#include "shell_util.h"
#include "temp_dir_test.h"

using namespace starc;

namespace {

Tensor f64(Shape s, const std::vector<double>& v) { return Tensor::from_vector(DType::F64, std::move(s), v); }
Tensor i64(const std::vector<double>& v) { return Tensor::from_vector(DType::I64, {int64_t(v.size())}, v); }

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const MetricsError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---- regression ----------------------------------------------------------------------

TEST(Metrics, RegressionMseMaeBias) {
  // residuals -0.5, 0, 1, -1
  RegressionMetrics m = regression_metrics({1, 2, 3, 4}, {1.5, 2, 2, 5});
  EXPECT_EQ(m.n, 4);
  EXPECT_DOUBLE_EQ(m.mse, 0.5625);
  EXPECT_DOUBLE_EQ(m.rmse, 0.75);
  EXPECT_DOUBLE_EQ(m.mae, 0.625);
  EXPECT_DOUBLE_EQ(m.bias, -0.125);
  EXPECT_FALSE(m.redshift);
}

TEST(Metrics, MedianOddEvenAndEmpty) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(median({})));
}

TEST(Metrics, RedshiftSigmaNmadAndOutliersOnAConstructedSet) {
  // Chosen dz = (pred - z) / (1 + z): 0.01, -0.02, 0.03, 0.10, -0.004. median 0.01;
  // |dz - 0.01| = 0, 0.03, 0.02, 0.09, 0.014 -> median 0.02 -> sigma_NMAD = 1.4826 * 0.02.
  std::vector<double> z = {0, 1, 3, 0, 1}, dz = {0.01, -0.02, 0.03, 0.10, -0.004}, pred;
  for (size_t i = 0; i < z.size(); ++i) pred.push_back(z[i] + dz[i] * (1 + z[i]));
  RegressionMetrics m = regression_metrics(pred, z, true);
  EXPECT_TRUE(m.redshift);
  EXPECT_NEAR(m.sigma_nmad, 1.4826 * 0.02, 1e-12);
  EXPECT_NEAR(m.dz_bias, 0.116 / 5, 1e-12);
  EXPECT_DOUBLE_EQ(m.outlier_fraction, 0.2);  // only |0.10| > 0.05
  EXPECT_DOUBLE_EQ(m.accurate_fraction, 0.8);
  RegressionMetrics tight = regression_metrics(pred, z, true, 0.025);
  EXPECT_DOUBLE_EQ(tight.outlier_fraction, 0.4);  // 0.03 and 0.10
  EXPECT_DOUBLE_EQ(tight.outlier_threshold, 0.025);
  EXPECT_NEAR(sigma_nmad(dz), 1.4826 * 0.02, 1e-12);
}

TEST(Metrics, RegressionErrorsNameTheTensors) {
  EXPECT_NE(error_of([] {
              regression_metrics({1, 2}, {1}, false, 0.05, "p.npy", "t.npy");
            }).find("p.npy has 2 values but t.npy has 1"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              regression_metrics({1, NAN, 3}, {1, 2, 3}, false, 0.05, "p.npy");
            }).find("p.npy: sample 1 is nan (1 non-finite value of 3)"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              regression_metrics({1, 2}, {0.5, -1}, true, 0.05, "p", "t.npy");
            }).find("t.npy: sample 1 is z = -1"),
            std::string::npos);
}

// ---- ROC AUC and TSS -------------------------------------------------------------------

TEST(Metrics, RocAucWithTiesByAverageRanks) {
  // Positives 0.4, 0.8, 0.9; negatives 0.1, 0.4, 0.4. Pairs won: 0.4 -> 1 + 2 * 0.5,
  // 0.8 -> 3, 0.9 -> 3: 8 of 9.
  std::vector<double> s = {0.1, 0.4, 0.4, 0.8, 0.4, 0.9};
  std::vector<bool> pos = {false, false, true, true, false, true};
  EXPECT_NEAR(roc_auc(s, pos), 8.0 / 9.0, 1e-15);
  // The curve's tie group is one straight segment; its trapezoid area is the same AUC.
  auto c = roc_curve(s, pos);
  std::vector<std::pair<double, double>> want = {{0, 0}, {0, 1.0 / 3}, {0, 2.0 / 3}, {2.0 / 3, 1}, {1, 1}};
  ASSERT_EQ(c.size(), want.size());
  double area = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    EXPECT_NEAR(c[i].first, want[i].first, 1e-15) << i;
    EXPECT_NEAR(c[i].second, want[i].second, 1e-15) << i;
    if (i) area += (c[i].first - c[i - 1].first) * (c[i].second + c[i - 1].second) / 2;
  }
  EXPECT_NEAR(area, 8.0 / 9.0, 1e-15);
  EXPECT_DOUBLE_EQ(roc_auc({0.3, 0.3, 0.3, 0.3}, {true, false, true, false}), 0.5);  // all tied
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.2}, {false, true}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.2}, {true, false}), 0.0);
  EXPECT_TRUE(std::isnan(roc_auc({0.1, 0.2}, {true, true})));
}

TEST(Metrics, TssOnAnImbalancedBinaryProblem) {
  // 950 negatives (10 scored 0.9, 940 scored 0.1), 50 positives (30 at 0.8, 20 at 0.3):
  // confusion [[940, 10], [20, 30]], TPR 0.6, FPR 10/950.
  std::vector<double> p, y;
  for (int i = 0; i < 950; ++i) p.push_back(i < 10 ? 0.9 : 0.1), y.push_back(0);
  for (int i = 0; i < 50; ++i) p.push_back(i < 30 ? 0.8 : 0.3), y.push_back(1);
  ClassificationMetrics m = classification_metrics(f64({1000, 1}, p), i64(y));
  EXPECT_EQ(m.scores, ScoreKind::Probabilities);  // every value in [0, 1]
  EXPECT_EQ(m.classes, 2);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{940, 10}, {20, 30}}));
  EXPECT_NEAR(m.tss, 0.6 - 10.0 / 950, 1e-15);
  EXPECT_NEAR(true_skill_statistic(m.confusion), 0.6 - 10.0 / 950, 1e-15);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.97);
  EXPECT_DOUBLE_EQ(m.precision[1], 0.75);
  EXPECT_DOUBLE_EQ(m.recall[1], 0.6);
  EXPECT_NEAR(m.f1[1], 2 * 0.75 * 0.6 / 1.35, 1e-15);
  double p0 = 940.0 / 960, r0 = 940.0 / 950;
  EXPECT_NEAR(m.f1[0], 2 * p0 * r0 / (p0 + r0), 1e-15);
  EXPECT_NEAR(m.macro_f1, (m.f1[0] + m.f1[1]) / 2, 1e-15);
  EXPECT_EQ(m.support, (std::vector<int64_t>{950, 50}));
  // Pairs: each positive beats the 940 negatives at 0.1, loses to the 10 at 0.9.
  EXPECT_NEAR(m.roc_auc, 50.0 * 940 / (50.0 * 950), 1e-15);
  // Accuracy would call "always no flare" 95% right; TSS says it has no skill.
  ClassificationMetrics none = classification_metrics(f64({1000, 1}, std::vector<double>(1000, 0.01)), i64(y));
  EXPECT_DOUBLE_EQ(none.accuracy, 0.95);
  EXPECT_DOUBLE_EQ(none.tss, 0);
  EXPECT_DOUBLE_EQ(none.precision[1], 0);  // 0 / 0 -> 0
}

TEST(Metrics, BinaryLogitPairsAndThreshold) {
  // l1 - l0 = 1, -1, 0.5, -2; labels 1, 0, 0, 1.
  Tensor logits = f64({4, 2}, {0, 1, 1, 0, 0, 0.5, 2, 0});
  Tensor y = i64({1, 0, 0, 1});
  ClassificationMetrics m = classification_metrics(logits, y);
  EXPECT_EQ(m.scores, ScoreKind::Logits);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{1, 1}, {1, 1}}));  // argmax
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.tss, 0);
  EXPECT_DOUBLE_EQ(m.roc_auc, 0.5);  // positive 1 beats both negatives, -2 neither
  // P(class 1) > 0.7 <=> l1 - l0 > logit(0.7) = 0.847: only the first sample.
  ClassificationMetrics t = classification_metrics(logits, y, ScoreKind::Auto, 0.7);
  EXPECT_EQ(t.confusion, (std::vector<std::vector<int64_t>>{{2, 0}, {1, 1}}));
  EXPECT_DOUBLE_EQ(t.tss, 0.5);
  EXPECT_DOUBLE_EQ(t.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(t.roc_auc, 0.5);  // the threshold does not move the AUC
}

TEST(Metrics, SingleLogitDecidesInLogitSpace) {
  // A logit of 1e-20 is above 0.5 in probability even though sigmoid rounds it to 0.5.
  Tensor s = f64({3}, {1e-20, -3, 40});
  ClassificationMetrics m = classification_metrics(s, i64({1, 0, 1}));
  EXPECT_EQ(m.scores, ScoreKind::Logits);
  EXPECT_DOUBLE_EQ(m.accuracy, 1);
  EXPECT_DOUBLE_EQ(m.roc_auc, 1);
  // Read as logits on request even though every value lies in [0, 1].
  ClassificationMetrics l = classification_metrics(f64({2, 1}, {0.2, 0.6}), i64({0, 1}), ScoreKind::Logits);
  EXPECT_EQ(l.confusion, (std::vector<std::vector<int64_t>>{{0, 1}, {0, 1}}));  // both logits > 0
}

TEST(Metrics, MulticlassConfusionF1AndOneVsRestAuc) {
  Tensor p = f64({6, 3}, {0.7, 0.2, 0.1,    // true 0, pred 0
                          0.2, 0.5, 0.3,    // true 1, pred 1
                          0.1, 0.2, 0.7,    // true 2, pred 2
                          0.2, 0.5, 0.3,    // true 2, pred 1
                          0.6, 0.3, 0.1,    // true 1, pred 0
                          0.3, 0.2, 0.5});  // true 0, pred 2
  ClassificationMetrics m = classification_metrics(p, i64({0, 1, 2, 2, 1, 0}));
  EXPECT_EQ(m.scores, ScoreKind::Probabilities);
  EXPECT_EQ(m.classes, 3);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{1, 0, 1}, {1, 1, 0}, {0, 1, 1}}));
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  for (int k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(m.precision[size_t(k)], 0.5);
    EXPECT_DOUBLE_EQ(m.recall[size_t(k)], 0.5);
    EXPECT_DOUBLE_EQ(m.f1[size_t(k)], 0.5);
  }
  EXPECT_DOUBLE_EQ(m.macro_f1, 0.5);
  // One-vs-rest, hand-counted pairs (ties count one half): 7/8, 6.5/8, 6.5/8.
  ASSERT_EQ(m.auc_per_class.size(), 3u);
  EXPECT_DOUBLE_EQ(m.auc_per_class[0], 0.875);
  EXPECT_DOUBLE_EQ(m.auc_per_class[1], 0.8125);
  EXPECT_DOUBLE_EQ(m.auc_per_class[2], 0.8125);
  EXPECT_NEAR(m.roc_auc, 2.5 / 3, 1e-15);
  EXPECT_TRUE(std::isnan(m.tss));
  EXPECT_EQ(m.roc_curves.size(), 3u);
  // The same scores as logits: softmax keeps each row's argmax; the AUCs are of softmax.
  ClassificationMetrics l = classification_metrics(p, i64({0, 1, 2, 2, 1, 0}), ScoreKind::Logits);
  EXPECT_EQ(l.confusion, m.confusion);
}

TEST(Metrics, ClassificationErrorsNameTensorsAndShapes) {
  Tensor two = f64({3, 2}, {0.1, 0.9, 0.5, 0.5, 0.2, 0.8});
  EXPECT_NE(error_of([&] {
              classification_metrics(two, i64({0, 2, 1}), ScoreKind::Auto, 0.5, "p.npy", "y.npy");
            }).find("y.npy i64[3]: sample 1 has label 2, outside [0, 2) for p.npy f64[3,2]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { classification_metrics(two, i64({0, -1, 1}), ScoreKind::Auto, 0.5); }).find("label -1"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              classification_metrics(two, i64({0, 1}), ScoreKind::Auto, 0.5, "p.npy", "y.npy");
            }).find("p.npy f64[3,2] and y.npy i64[2] have different sample counts"),
            std::string::npos);
  Tensor nan = f64({2, 2}, {0.1, 0.9, NAN, 0.5});
  EXPECT_NE(error_of([&] {
              classification_metrics(nan, i64({0, 1}), ScoreKind::Auto, 0.5, "p.npy");
            }).find("p.npy f64[2,2]: element [1,0] is nan (1 non-finite value of 4)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              classification_metrics(two, f64({3}, {0, 1, 1}), ScoreKind::Auto, 0.5, "p", "y.npy");
            }).find("y.npy f64[3]: class labels must be integers (i64)"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              classification_metrics(i64({0, 1}), i64({0, 1}), ScoreKind::Auto, 0.5, "p.npy");
            }).find("p.npy i64[2]: class scores must be floats"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              classification_metrics(f64({2, 1}, {2, 0.5}), i64({0, 1}), ScoreKind::Probabilities);
            }).find("read as probabilities, but a value is outside [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { classification_metrics(two, i64({0, 1, 1}), ScoreKind::Auto, 1.5); }).find("threshold 1.5"),
            std::string::npos);
}

// ---- plots ---------------------------------------------------------------------------

namespace {

// Parse-lite: the document is one <svg> element whose tags nest and close properly.
::testing::AssertionResult well_formed_svg(const std::string& s) {
  if (s.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) != 0)
    return ::testing::AssertionFailure() << "no <svg at start";
  if (s.size() < 7 || s.substr(s.size() - 7) != "</svg>\n") return ::testing::AssertionFailure() << "no </svg> at end";
  std::vector<std::string> stack;
  for (size_t i = s.find('<'); i != std::string::npos; i = s.find('<', i + 1)) {
    size_t end = s.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unclosed tag at " << i;
    std::string tag = s.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) return ::testing::AssertionFailure() << "'<' inside a tag at " << i;
    bool closing = tag[0] == '/', self = tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" /", 1) - (closing ? 1 : 0));
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return ::testing::AssertionFailure()
               << "</" << name << "> closes " << (stack.empty() ? "nothing" : stack.back());
      stack.pop_back();
    } else if (!self) {
      stack.push_back(name);
    }
  }
  if (!stack.empty()) return ::testing::AssertionFailure() << "<" << stack.back() << "> never closed";
  return ::testing::AssertionSuccess();
}

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t i = s.find(needle); i != std::string::npos; i = s.find(needle, i + 1)) ++n;
  return n;
}

}  // namespace

TEST(Plots, PredVsTrueHasOnePointPerSampleTheDiagonalAndTheBand) {
  std::string s = plot::pred_vs_true_svg(
      {.title = "z <test> & co", .truth = {0.5, 1, 2, 3}, .pred = {0.6, 1.1, 1.7, 3.4}, .band = 0.05});
  EXPECT_TRUE(well_formed_svg(s));
  EXPECT_EQ(count(s, "<circle"), 4u);
  EXPECT_NE(s.find(">1:1<"), std::string::npos);
  EXPECT_NE(s.find("±0.05(1+z)"), std::string::npos);
  EXPECT_NE(s.find("<polygon"), std::string::npos);
  EXPECT_NE(s.find("z &lt;test&gt; &amp; co"), std::string::npos);
  std::string plain = plot::pred_vs_true_svg({.truth = {1, 2}, .pred = {1, 2}});
  EXPECT_TRUE(well_formed_svg(plain));
  EXPECT_EQ(plain.find("<polygon"), std::string::npos);  // no band for plain regression
  // Thinned beyond max_points, and the title says so.
  std::vector<double> many(50);
  for (size_t i = 0; i < many.size(); ++i) many[i] = double(i);
  std::string thin = plot::pred_vs_true_svg({.truth = many, .pred = many, .max_points = 10});
  EXPECT_EQ(count(thin, "<circle"), 10u);
  EXPECT_NE(thin.find("(10 of 50 points)"), std::string::npos);
}

TEST(Plots, ConfusionMatrixShowsCountsAndClassNames) {
  std::string s = plot::confusion_matrix_svg({{940, 10}, {20, 30}}, {"quiet", "flare"});
  EXPECT_TRUE(well_formed_svg(s));
  for (const char* want : {">940<", ">10<", ">20<", ">30<", ">quiet<", ">flare<", ">predicted class<", ">true class<"})
    EXPECT_NE(s.find(want), std::string::npos) << want;
  EXPECT_THROW(plot::confusion_matrix_svg({{1, 2}, {3}}), std::invalid_argument);
}

TEST(Plots, RocCurveLegendCarriesTheAuc) {
  std::string s = plot::roc_svg({{"class 1", {{0, 0}, {0, 2.0 / 3}, {2.0 / 3, 1}, {1, 1}}, 8.0 / 9}});
  EXPECT_TRUE(well_formed_svg(s));
  EXPECT_NE(s.find("class 1 (AUC 0.889)"), std::string::npos);
  EXPECT_NE(s.find(">chance<"), std::string::npos);
  EXPECT_NE(s.find(">false positive rate<"), std::string::npos);
}

TEST(Plots, LinePlotAndHeatMapForAttributions) {
  std::vector<double> wl, sal;
  for (int i = 0; i < 100; ++i) wl.push_back(3600 + 10 * i), sal.push_back(i == 50 ? NAN : std::sin(0.1 * i));
  std::string s = plot::line_plot_svg({.title = "saliency",
                                       .x_label = "wavelength [Å]",
                                       .y_label = "|dz/dflux|",
                                       .series = {{.label = "spectrum 0", .x = wl, .y = sal}}});
  EXPECT_TRUE(well_formed_svg(s));
  EXPECT_EQ(count(s, "<polyline"), 2u);  // the NaN breaks the line
  EXPECT_NE(s.find(">spectrum 0<"), std::string::npos);
  EXPECT_NE(s.find(">wavelength [Å]<"), std::string::npos);
  EXPECT_THROW(plot::line_plot_svg({.series = {{.x = {1, 2}, .y = {1}}}}), std::invalid_argument);

  plot::HeatMap h{.title = "attribution", .rows = 3, .cols = 4, .values = {-1, 0, 1, 2, 0, 0, 0, 0, -2, 1, 0.5, 0}};
  h.diverging = true;
  std::string m = plot::heat_map_svg(h);
  EXPECT_TRUE(well_formed_svg(m));
  // background + 12 cells + frame + colour bar
  EXPECT_EQ(count(m, "<rect"), 15u);
  EXPECT_NE(m.find("fill=\"#ffffff\""), std::string::npos);  // 0 is white on the diverging scale
  h.values.pop_back();
  EXPECT_THROW(plot::heat_map_svg(h), std::invalid_argument);
}

// ---- starc eval ----------------------------------------------------------------------

namespace {

class EvalCli : public test::TempDirTest {
 protected:
  EvalCli() : TempDirTest("starc_eval_") {}
  test::ShellResult starc(const std::string& args) { return test::run_starc(STARC_SOURCE_DIR, args); }
  void expect_error(const std::string& args, const std::string& needle) {
    test::expect_starc_error(STARC_SOURCE_DIR, args, needle);
  }
  std::string read(const std::string& name) {
    std::ifstream f(path(name));
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  // A JSON value through Python's json module (so the file must parse), printed with repr.
  std::string json_field(const std::string& file, const std::string& expr) {
    test::ShellResult r = test::sh(std::string(test::kPython) + " -c " +
                                   test::quote("import json,sys; d=json.load(open(sys.argv[1])); print(" + expr + ")") +
                                   " " + test::quote(path(file)));
    EXPECT_EQ(r.code, 0) << r.out;
    return r.out.substr(0, r.out.find_last_not_of('\n') + 1);
  }
};

}  // namespace

TEST_F(EvalCli, RedshiftFromSavedPredictions) {
  std::vector<double> z = {0, 1, 3, 0, 1}, dz = {0.01, -0.02, 0.03, 0.10, -0.004}, pred;
  for (size_t i = 0; i < z.size(); ++i) pred.push_back(z[i] + dz[i] * (1 + z[i]));
  write_npy(path("p.npy"), Tensor::from_vector(DType::F64, {5, 1}, pred));
  write_npy(path("z.npy"), Tensor::from_vector(DType::F64, {5, 1}, z));
  test::ShellResult r = starc("eval --pred " + path("p.npy") + " --truth " + path("z.npy") +
                              " --task redshift --json " + path("m.json") + " --plots " + path("plots"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("sigma_nmad         0.029652"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("outlier_fraction   0.2"), std::string::npos) << r.out;
  EXPECT_EQ(json_field("m.json",
                       "d['task'], d['n'], round(d['sigma_nmad'], 9), d['outlier_fraction'], d['accurate_fraction']"),
            "redshift 5 0.029652 0.2 0.8");
  std::string svg = read("plots/pred_vs_true.svg");
  EXPECT_TRUE(well_formed_svg(svg));
  EXPECT_EQ(count(svg, "<circle"), 5u);
}

TEST_F(EvalCli, ClassificationFromSavedLogitsIsTheDefaultForLabels) {
  write_npy(path("p.npy"), Tensor::from_vector(DType::F32, {4, 2}, {0, 1, 1, 0, 0, 0.5, 2, 0}));
  write_npy(path("y.npy"), i64({1, 0, 0, 1}));
  test::ShellResult r =
      starc("eval --pred " + path("p.npy") + " --truth " + path("y.npy") + " --threshold 0.7 --json " + path("m.json") +
            " --plots " + path("plots") + " --class-names noise,chirp");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("task classification"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("scores read as logits"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accuracy   0.75"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tss        0.5"), std::string::npos) << r.out;
  EXPECT_EQ(json_field("m.json", "d['accuracy'], d['tss'], d['roc_auc'], d['confusion'], d['per_class'][1]['name']"),
            "0.75 0.5 0.5 [[2, 0], [1, 1]] chirp");
  EXPECT_TRUE(well_formed_svg(read("plots/confusion.svg")));
  std::string roc = read("plots/roc.svg");
  EXPECT_TRUE(well_formed_svg(roc));
  EXPECT_NE(roc.find("chirp (AUC 0.500)"), std::string::npos);
}

TEST_F(EvalCli, PhotozModelInBatchesMatchesStarcRun) {
  // 600 samples in batches of 256, 256 and 88: the metrics equal those of one `starc run`.
  Tensor mags(DType::F32, {600, 5}), z(DType::F32, {600, 1});
  for (int64_t i = 0; i < mags.size(); ++i) mags.set(i, std::sin(0.37 * double(i)));
  for (int64_t i = 0; i < z.size(); ++i) z.set(i, 0.5 + 0.4 * std::cos(0.11 * double(i)));
  write_npy(path("mags.npy"), mags);
  write_npy(path("z.npy"), z);
  test::ShellResult run =
      starc("run stdlib/astro/photoz.net --in mags=" + path("mags.npy") + " --seed 4 --out " + path("y.npy"));
  ASSERT_EQ(run.code, 0) << run.out;
  test::ShellResult r = starc("eval stdlib/astro/photoz.net --in mags=" + path("mags.npy") + " --seed 4 --truth " +
                              path("z.npy") + " --batch 256 --task redshift --json " + path("m.json"));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("no --weights given"), std::string::npos) << r.out;
  Tensor y = read_npy(path("y.npy"));
  double se = 0;
  for (int64_t i = 0; i < 600; ++i) se += (y.get(i) - z.get(i)) * (y.get(i) - z.get(i));
  double mse = std::stod(json_field("m.json", "d['mse']"));
  EXPECT_NEAR(mse, se / 600, 1e-6 * se / 600);
  EXPECT_EQ(json_field("m.json", "d['n'], d['predictions'], d['source']"), "600 f32[600,1] stdlib/astro/photoz.net");
}

TEST_F(EvalCli, BadInputGivesOneClearLine) {
  write_npy(path("p3.npy"), Tensor::from_vector(DType::F32, {3, 1}, {0.1, 0.2, 0.3}));
  write_npy(path("z4.npy"), Tensor::from_vector(DType::F32, {4, 1}, {0.1, 0.2, 0.3, 0.4}));
  write_npy(path("pnan.npy"), Tensor::from_vector(DType::F32, {3, 1}, {0.1, NAN, 0.3}));
  write_npy(path("z3.npy"), Tensor::from_vector(DType::F32, {3, 1}, {0.1, 0.2, 0.3}));
  write_npy(path("y3.npy"), i64({0, 1, 2}));
  write_npy(path("l3.npy"), Tensor::from_vector(DType::F32, {3, 2}, {1, 0, 0, 1, 1, 0}));
  std::string p3 = path("p3.npy"), z4 = path("z4.npy");
  expect_error("eval --pred " + p3 + " --truth " + z4,
               "--pred " + p3 + " f32[3,1] and --truth " + z4 + " f32[4,1] have different sample counts");
  expect_error("eval --pred " + path("pnan.npy") + " --truth " + path("z3.npy"),
               "--pred " + path("pnan.npy") + ": sample 1 is nan");
  expect_error("eval --pred " + path("l3.npy") + " --truth " + path("y3.npy"), "sample 2 has label 2, outside [0, 2)");
  expect_error("eval --pred " + path("l3.npy") + " --truth " + path("z3.npy") + " --task classification",
               "f32[3,1]: classification needs integer labels (i64)");
  expect_error("eval --pred " + p3 + " --truth " + path("z4.npy") + " --in x=" + p3, "--in feeds a model");
  expect_error("eval --truth " + z4, "give a model");
  expect_error("eval stdlib/astro/photoz.net --pred " + p3 + " --truth " + z4, "not both");
  expect_error("eval stdlib/astro/photoz.net --truth " + z4, "missing input 'mags' (f32[B,5])");
  expect_error("eval stdlib/astro/photoz.net --in mags=" + p3 + " --truth " + z4, "mags");
  expect_error("eval stdlib/astro/photoz.net --output q --truth " + z4, "has no output 'q'");
}

TEST_F(EvalCli, ModelOutputChoiceClassificationAndAFixedBatch) {
  write("two.net", R"(use std.nn
model Two(x: f32[B, 3]) -> (logits: f32[B, 2], score: f32[B, 1]) {
    return (x |> dense(2), x |> dense(1))
}
model Fixed(x: f32[4, 3]) -> f32[4, 1] {
    return x |> dense(1)
}
)");
  Tensor x(DType::F32, {20, 3});
  for (int64_t i = 0; i < x.size(); ++i) x.set(i, std::sin(1.3 * double(i)));
  std::vector<double> labels;
  for (int i = 0; i < 20; ++i) labels.push_back(i % 3 == 0);
  write_npy(path("x.npy"), x);
  write_npy(path("y.npy"), i64(labels));
  std::string net = path("two.net"), xs = " --in x=" + path("x.npy"), ys = " --truth " + path("y.npy");
  expect_error("eval " + net + " --model Two" + xs + ys,
               "model 'Two' has 2 outputs (logits, score); choose one with --output");
  // 20 samples in batches of 7, 7, 6 give the numbers of the whole set run at once.
  ASSERT_EQ(starc("run " + net + " --model Two --seed 2" + xs + " --out logits=" + path("l.npy")).code, 0);
  test::ShellResult a =
      starc("eval " + net + " --model Two --seed 2 --output logits --batch 7" + xs + ys + " --json " + path("a.json"));
  ASSERT_EQ(a.code, 0) << a.out;
  test::ShellResult b = starc("eval --pred " + path("l.npy") + ys + " --json " + path("b.json"));
  ASSERT_EQ(b.code, 0) << b.out;
  std::string fields = "d['n'], d['classes'], d['accuracy'], round(d['roc_auc'], 12), d['confusion']";
  EXPECT_EQ(json_field("a.json", fields), json_field("b.json", fields));
  EXPECT_EQ(json_field("a.json", "d['n'], d['classes'], d['scores']"), "20 2 logits");
  // A model whose first dim is fixed runs in one piece whatever --batch says.
  write_npy(path("x4.npy"), Tensor::from_vector(DType::F32, {4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2}));
  write_npy(path("z4.npy"), Tensor::from_vector(DType::F32, {4, 1}, {0.1, 0.2, 0.3, 0.4}));
  test::ShellResult f =
      starc("eval " + net + " --model Fixed --batch 2 --in x=" + path("x4.npy") + " --truth " + path("z4.npy"));
  EXPECT_EQ(f.code, 0) << f.out;
  EXPECT_NE(f.out.find("4 values"), std::string::npos) << f.out;
}
