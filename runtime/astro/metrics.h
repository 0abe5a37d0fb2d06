// runtime: evaluation metrics for `starc eval` — regression (MSE, MAE, bias and, for
// redshifts, the normalised residual dz = (pred - true) / (1 + true): sigma_NMAD, outlier
// and accurate fractions) and classification from scores [N, C] or one binary score
// [N, 1] against integer labels (accuracy, per-class precision/recall/F1, macro F1,
// confusion matrix, ROC AUC by average ranks, TSS). Pure C++ over doubles.
//
// Bad input (sizes that differ, NaN, labels outside [0, C), z <= -1) throws
// MetricsError naming the tensor (the caller's names) and the offending element.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

struct MetricsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- regression --------------------------------------------------------------------

struct RegressionMetrics {
  int64_t n = 0;
  double mse = 0, rmse = 0, mae = 0;
  double bias = 0;  // mean(pred - true)
  // Redshift only (`redshift` true): dz_i = (pred_i - true_i) / (1 + true_i).
  bool redshift = false;
  double dz_bias = 0;               // mean(dz)
  double sigma_nmad = 0;            // 1.4826 * median(|dz - median(dz)|)
  double outlier_threshold = 0.05;  // |dz| > this is an outlier
  double outlier_fraction = 0;      // share of samples with |dz| > threshold
  double accurate_fraction = 0;     // 1 - outlier_fraction
};

// `pred` and `truth` have equal sizes (one value per sample, or flattened outputs).
// With `redshift`, every truth must be > -1 (1 + z > 0).
// The names go into error messages.
RegressionMetrics regression_metrics(const std::vector<double>& pred, const std::vector<double>& truth,
                                     bool redshift = false, double outlier_threshold = 0.05,
                                     const std::string& pred_name = "predictions",
                                     const std::string& truth_name = "truth");

// The median (the mean of the two middle values for an even count); NaN when empty.
double median(std::vector<double> v);
// 1.4826 * median(|v - median(v)|): the normalised median absolute deviation.
double sigma_nmad(const std::vector<double>& v);

// ---- classification ----------------------------------------------------------------

// How the scores are read. Logits: [N, C] softmax to probabilities, [N, 1] sigmoid.
// Auto: probabilities when every value is in [0, 1] (and, for C > 1, every row sums to
// 1 within 1e-3), else logits.
enum class ScoreKind { Auto, Logits, Probabilities };

struct ClassificationMetrics {
  int64_t n = 0, classes = 0;            // classes >= 2 (a [N, 1] score is binary)
  ScoreKind scores = ScoreKind::Logits;  // how they were read (never Auto)
  double threshold = 0.5;                // binary: class 1 when P(class 1) > threshold; C > 2: argmax
  double accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::vector<int64_t> support;                 // samples per true class
  std::vector<double> precision, recall, f1;    // per class; 0 where undefined (0 / 0)
  double macro_f1 = 0;                          // mean of f1 over classes
  // Binary: AUC of P(class 1). C > 2: per class one-vs-rest, roc_auc their mean over the
  // classes present with both positives and negatives. NaN where no class has both.
  double roc_auc = 0;
  std::vector<double> auc_per_class;  // C > 2 only; NaN for a class absent or alone
  // roc_curve of class 1 (binary), or of each class against the rest (C > 2).
  std::vector<std::vector<std::pair<double, double>>> roc_curves;
  // Binary only (NaN for C > 2): TPR - FPR of class 1 at the threshold.
  double tss = 0;
};

// Class probabilities [N, C] (C >= 2) from scores [N, C] or [N, 1] / [N]; `kind` Auto
// is resolved into *used.
std::vector<std::vector<double>> class_probabilities(const Tensor& scores, ScoreKind kind, ScoreKind* used,
                                                     const std::string& name = "predictions");

// `scores`: float [N, C] (C >= 2), [N, 1] or [N]; `labels`: integers [N] or [N, 1] in
// [0, C) (C = 2 for a single score). `threshold` applies to binary problems only.
ClassificationMetrics classification_metrics(const Tensor& scores, const Tensor& labels,
                                             ScoreKind kind = ScoreKind::Auto, double threshold = 0.5,
                                             const std::string& scores_name = "predictions",
                                             const std::string& labels_name = "truth");

// Area under the ROC curve of `score` for `positive[i]` true vs false: the Mann-Whitney
// statistic with average ranks for tied scores (= the trapezoid area of the curve
// through the tie groups). NaN when either class is empty.
double roc_auc(const std::vector<double>& score, const std::vector<bool>& positive);
// The ROC curve: (FPR, TPR) points from (0, 0) to (1, 1), one per distinct score
// (descending), so tie groups are straight segments.
std::vector<std::pair<double, double>> roc_curve(const std::vector<double>& score, const std::vector<bool>& positive);
// TPR - FPR from a binary confusion matrix [[TN, FP], [FN, TP]]; NaN when a row is empty.
double true_skill_statistic(const std::vector<std::vector<int64_t>>& confusion);

const char* score_kind_name(ScoreKind k);  // "auto", "logits", "probabilities"

}  // namespace starc
