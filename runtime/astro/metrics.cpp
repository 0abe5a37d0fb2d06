// runtime: evaluation metrics (metrics.h).
#include "runtime/astro/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/io/file_io.h"

namespace starc {

namespace {

std::string index_str(const Tensor& t, int64_t flat) {
  std::vector<int64_t> idx(size_t(t.rank()));
  for (int d = t.rank() - 1; d >= 0; --d) {
    idx[size_t(d)] = flat % std::max<int64_t>(t.dim(d), 1);
    flat /= std::max<int64_t>(t.dim(d), 1);
  }
  return fmt::format("[{}]", fmt::join(idx, ","));
}

// Throws naming the first non-finite element of `t` and how many there are.
void check_finite(const Tensor& t, const std::string& name) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < t.size(); ++i)
    if (!std::isfinite(t.get(i))) {
      if (first < 0) first = i;
      ++bad;
    }
  if (bad)
    throw MetricsError(fmt::format("{} {}: element {} is {} ({} non-finite value{} of {})", name, type_str(t.type()),
                                   index_str(t, first), t.get(first), bad, bad == 1 ? "" : "s", t.size()));
}

void check_finite(const std::vector<double>& v, const std::string& name) {
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) {
      if (first < 0) first = int64_t(i);
      ++bad;
    }
  if (bad)
    throw MetricsError(fmt::format("{}: sample {} is {} ({} non-finite value{} of {})", name, first, v[size_t(first)],
                                   bad, bad == 1 ? "" : "s", v.size()));
}

double safe_div(double a, double b) { return b == 0 ? 0.0 : a / b; }

double logit(double p) { return std::log(p) - std::log1p(-p); }

}  // namespace

const char* score_kind_name(ScoreKind k) {
  switch (k) {
    case ScoreKind::Auto:
      return "auto";
    case ScoreKind::Logits:
      return "logits";
    case ScoreKind::Probabilities:
      return "probabilities";
  }
  return "?";
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + long(mid), v.end());
  double hi = v[mid];
  if (v.size() % 2) return hi;
  double lo = *std::max_element(v.begin(), v.begin() + long(mid));
  return 0.5 * (lo + hi);
}

double sigma_nmad(const std::vector<double>& v) {
  double m = median(v);
  std::vector<double> dev(v.size());
  for (size_t i = 0; i < v.size(); ++i) dev[i] = std::abs(v[i] - m);
  return 1.4826 * median(std::move(dev));
}

RegressionMetrics regression_metrics(const std::vector<double>& pred, const std::vector<double>& truth, bool redshift,
                                     double outlier_threshold, const std::string& pred_name,
                                     const std::string& truth_name) {
  if (pred.size() != truth.size())
    throw MetricsError(fmt::format("{} has {} values but {} has {}", pred_name, pred.size(), truth_name, truth.size()));
  if (pred.empty()) throw MetricsError(fmt::format("{} is empty: nothing to evaluate", pred_name));
  check_finite(pred, pred_name);
  check_finite(truth, truth_name);
  RegressionMetrics m;
  m.n = int64_t(pred.size());
  m.redshift = redshift;
  m.outlier_threshold = outlier_threshold;
  double se = 0, ae = 0, e = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    double d = pred[i] - truth[i];
    se += d * d, ae += std::abs(d), e += d;
  }
  double n = double(m.n);
  m.mse = se / n, m.rmse = std::sqrt(m.mse), m.mae = ae / n, m.bias = e / n;
  if (!redshift) return m;
  std::vector<double> dz(pred.size());
  int64_t outliers = 0;
  double dz_sum = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    if (!(truth[i] > -1))
      throw MetricsError(fmt::format("{}: sample {} is z = {}; the redshift metrics divide by 1 + z, which must be > 0",
                                     truth_name, i, truth[i]));
    dz[i] = (pred[i] - truth[i]) / (1 + truth[i]);
    dz_sum += dz[i];
    if (std::abs(dz[i]) > outlier_threshold) ++outliers;
  }
  m.dz_bias = dz_sum / n;
  m.sigma_nmad = sigma_nmad(dz);
  m.outlier_fraction = double(outliers) / n;
  m.accurate_fraction = 1 - m.outlier_fraction;
  return m;
}

double roc_auc(const std::vector<double>& score, const std::vector<bool>& positive) {
  size_t n = score.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double rank_sum = 0, pos = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && score[order[j]] == score[order[i]]) ++j;
    double avg_rank = 0.5 * double(i + 1 + j);  // ranks i+1 .. j, 1-based
    for (size_t k = i; k < j; ++k)
      if (positive[order[k]]) rank_sum += avg_rank, pos += 1;
    i = j;
  }
  double neg = double(n) - pos;
  if (pos == 0 || neg == 0) return NAN;
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

std::vector<std::pair<double, double>> roc_curve(const std::vector<double>& score, const std::vector<bool>& positive) {
  size_t n = score.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  double pos = double(std::count(positive.begin(), positive.end(), true)), neg = double(n) - pos;
  std::vector<std::pair<double, double>> pts = {{0, 0}};
  double tp = 0, fp = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && score[order[j]] == score[order[i]]) {
      (positive[order[j]] ? tp : fp) += 1;
      ++j;
    }
    pts.push_back({neg ? fp / neg : 0, pos ? tp / pos : 0});
    i = j;
  }
  if (pts.back() != std::pair<double, double>{1, 1}) pts.push_back({1, 1});
  return pts;
}

double true_skill_statistic(const std::vector<std::vector<int64_t>>& c) {
  double tn = double(c[0][0]), fp = double(c[0][1]), fn = double(c[1][0]), tp = double(c[1][1]);
  if (tp + fn == 0 || fp + tn == 0) return NAN;
  return tp / (tp + fn) - fp / (fp + tn);
}

namespace {

// Scores read as a matrix [N][C] (C >= 2) of probabilities, and a ranking score per
// class that orders samples as the probability does but does not saturate (log p for
// logits: a probability rounded to 1 would make ties of distinct logits).
struct ReadScores {
  std::vector<std::vector<double>> prob, rank;
  ScoreKind kind = ScoreKind::Logits;
  bool single = false;  // one binary score per sample
};

ReadScores read_scores(const Tensor& scores, ScoreKind kind, const std::string& name) {
  if (!is_float(scores.dtype()))
    throw MetricsError(
        fmt::format("{} {}: class scores must be floats (logits or probabilities)", name, type_str(scores.type())));
  if (scores.rank() != 1 && scores.rank() != 2)
    throw MetricsError(fmt::format("{} {}: expected class scores [N, C] or one binary score [N, 1] / [N]", name,
                                   type_str(scores.type())));
  check_finite(scores, name);
  int64_t n = scores.dim(0), c = scores.rank() == 2 ? scores.dim(1) : 1;
  if (c < 1) throw MetricsError(fmt::format("{} {}: no classes", name, type_str(scores.type())));
  ReadScores r;
  r.single = c == 1;
  bool unit = true, rows_sum_to_one = true;
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int64_t k = 0; k < c; ++k) {
      double v = scores.get(i * c + k);
      unit = unit && v >= 0 && v <= 1;
      sum += v;
    }
    rows_sum_to_one = rows_sum_to_one && std::abs(sum - 1) <= 1e-3;
  }
  bool probs_ok = unit && (r.single || rows_sum_to_one);
  if (kind == ScoreKind::Auto) kind = probs_ok ? ScoreKind::Probabilities : ScoreKind::Logits;
  if (kind == ScoreKind::Probabilities && !probs_ok)
    throw MetricsError(fmt::format("{} {}: read as probabilities, but {}", name, type_str(scores.type()),
                                   !unit ? "a value is outside [0, 1]" : "a row does not sum to 1 (within 1e-3)"));
  r.kind = kind;
  int64_t classes = std::max<int64_t>(c, 2);
  // Probabilities and ranking scores as doubles: 16 bytes per score, checked before
  // allocating (scores of millions of classes would otherwise end in std::bad_alloc).
  check_allocation(
      uint64_t(n) * uint64_t(classes) * 16 + uint64_t(n) * 48,
      fmt::format("{} {}: the probabilities of {} samples x {} classes", name, type_str(scores.type()), n, classes));
  r.prob.assign(size_t(n), std::vector<double>(size_t(classes)));
  r.rank = r.prob;
  for (int64_t i = 0; i < n; ++i) {
    auto& p = r.prob[size_t(i)];
    auto& q = r.rank[size_t(i)];
    if (r.single) {
      double s = scores.get(i);
      if (kind == ScoreKind::Logits) {
        p[1] = 1 / (1 + std::exp(-s)), p[0] = 1 / (1 + std::exp(s));
        q[1] = s, q[0] = -s;
      } else {
        p[1] = s, p[0] = 1 - s;
        q = p;
      }
      continue;
    }
    if (kind == ScoreKind::Probabilities) {
      for (int64_t k = 0; k < c; ++k) p[size_t(k)] = scores.get(i * c + k);
      q = p;
      continue;
    }
    double mx = -INFINITY;
    for (int64_t k = 0; k < c; ++k) mx = std::max(mx, scores.get(i * c + k));
    double z = 0;
    for (int64_t k = 0; k < c; ++k) z += std::exp(scores.get(i * c + k) - mx);
    for (int64_t k = 0; k < c; ++k) {
      q[size_t(k)] = scores.get(i * c + k) - mx - std::log(z);  // log-softmax
      p[size_t(k)] = std::exp(q[size_t(k)]);
    }
  }
  return r;
}

}  // namespace

std::vector<std::vector<double>> class_probabilities(const Tensor& scores, ScoreKind kind, ScoreKind* used,
                                                     const std::string& name) {
  ReadScores r = read_scores(scores, kind, name);
  if (used) *used = r.kind;
  return std::move(r.prob);
}

namespace {

// Labels and scores pair up and the threshold is a probability; the metrics' memory is
// checked before anything is allocated.
void check_classification_inputs(const Tensor& scores, const Tensor& labels, double threshold,
                                 const std::string& scores_name, const std::string& labels_name) {
  if (labels.dtype() != DType::I64)
    throw MetricsError(fmt::format("{} {}: class labels must be integers (i64)", labels_name, type_str(labels.type())));
  if (labels.rank() != 1 && !(labels.rank() == 2 && labels.dim(1) == 1))
    throw MetricsError(fmt::format("{} {}: expected labels [N] or [N, 1]", labels_name, type_str(labels.type())));
  if (scores.rank() < 1 || scores.dim(0) != labels.dim(0))
    throw MetricsError(fmt::format("{} {} and {} {} have different sample counts", scores_name, type_str(scores.type()),
                                   labels_name, type_str(labels.type())));
  if (labels.dim(0) == 0) throw MetricsError(fmt::format("{} is empty: nothing to evaluate", labels_name));
  if (!(threshold >= 0 && threshold <= 1))
    throw MetricsError(fmt::format("threshold {} is not a probability in [0, 1]", threshold));
  // The confusion matrix (classes^2 counts) and one ROC curve per class (up to samples + 1
  // points each), besides the probabilities.
  uint64_t n = uint64_t(labels.dim(0)), c = scores.rank() == 2 ? uint64_t(std::max<int64_t>(scores.dim(1), 2)) : 2;
  uint64_t conf = 0, curves = 0, total = 0;
  if (!checked_mul(c, c, &conf) || !checked_mul(conf, 8, &conf) || !checked_mul(c, (n + 1) * 16 + 64, &curves) ||
      !checked_add(conf, curves, &total))
    total = UINT64_MAX;
  check_allocation(total, fmt::format("{} {}: the metrics of {} classes (a {} x {} confusion matrix, a ROC curve per "
                                      "class)",
                                      scores_name, type_str(scores.type()), c, c, c));
}

// Each sample's class, checked to be one of m.classes.
std::vector<int64_t> read_labels(const Tensor& labels, const ClassificationMetrics& m, const Tensor& scores,
                                 const std::string& scores_name, const std::string& labels_name) {
  std::vector<int64_t> y(size_t(m.n));
  for (int64_t i = 0; i < m.n; ++i) {
    y[size_t(i)] = int64_t(labels.get(i));
    if (y[size_t(i)] < 0 || y[size_t(i)] >= m.classes)
      throw MetricsError(fmt::format("{} {}: sample {} has label {}, outside [0, {}) for {} {}", labels_name,
                                     type_str(labels.type()), i, y[size_t(i)], m.classes, scores_name,
                                     type_str(scores.type())));
  }
  return y;
}

// The confusion matrix and the accuracy: binary problems predict class 1 above the
// threshold, others the most probable class.
void count_predictions(const ReadScores& r, const std::vector<int64_t>& y, double threshold, ClassificationMetrics& m) {
  size_t c = size_t(m.classes);
  m.confusion.assign(c, std::vector<int64_t>(c, 0));
  m.threshold = c == 2 ? threshold : NAN;
  // Binary decisions compare the ranking score with the threshold in its own space
  // (logit for logits) so that a logit of 1e-20 still counts as above 0.5.
  double cut = c == 2 && r.kind == ScoreKind::Logits ? logit(threshold) : threshold;
  int64_t correct = 0;
  for (size_t i = 0; i < size_t(m.n); ++i) {
    size_t pred = 0;
    if (c == 2) {
      double s = r.kind == ScoreKind::Logits ? (r.single ? r.rank[i][1] : r.rank[i][1] - r.rank[i][0]) : r.prob[i][1];
      pred = s > cut ? 1 : 0;
    } else {
      pred = size_t(std::max_element(r.prob[i].begin(), r.prob[i].end()) - r.prob[i].begin());
    }
    m.confusion[size_t(y[i])][pred] += 1;
    correct += int64_t(pred) == y[i];
  }
  m.accuracy = double(correct) / double(m.n);
}

// Support, precision, recall and F1 of each class from the confusion matrix, and the
// macro F1.
void per_class_scores(ClassificationMetrics& m) {
  size_t c = size_t(m.classes);
  m.support.assign(c, 0);
  m.precision.assign(c, 0), m.recall.assign(c, 0), m.f1.assign(c, 0);
  for (size_t k = 0; k < c; ++k) {
    int64_t tp = m.confusion[k][k], predicted = 0;
    for (size_t t = 0; t < c; ++t) m.support[k] += m.confusion[k][t], predicted += m.confusion[t][k];
    m.precision[k] = safe_div(double(tp), double(predicted));
    m.recall[k] = safe_div(double(tp), double(m.support[k]));
    m.f1[k] = safe_div(2 * m.precision[k] * m.recall[k], m.precision[k] + m.recall[k]);
  }
  m.macro_f1 = std::accumulate(m.f1.begin(), m.f1.end(), 0.0) / double(c);
}

// ROC curves and AUC (binary: of class 1, with the TSS; else each class against the rest).
void roc_metrics(const ReadScores& r, const std::vector<int64_t>& y, ClassificationMetrics& m) {
  size_t c = size_t(m.classes);
  auto class_roc = [&](size_t k) {
    std::vector<double> s(size_t(m.n));
    std::vector<bool> pos(size_t(m.n));
    for (size_t i = 0; i < size_t(m.n); ++i) {
      // Binary logits [N, 2]: l1 - l0 orders samples as P(class 1) does.
      s[i] = c == 2 && r.kind == ScoreKind::Logits ? r.rank[i][1] - r.rank[i][0] : r.rank[i][k];
      pos[i] = size_t(y[i]) == k;
    }
    m.roc_curves.push_back(roc_curve(s, pos));
    return roc_auc(s, pos);
  };
  if (c == 2) {
    m.roc_auc = class_roc(1);
    m.tss = true_skill_statistic(m.confusion);
  } else {
    m.tss = NAN;
    double sum = 0;
    int defined = 0;
    for (size_t k = 0; k < c; ++k) {
      m.auc_per_class.push_back(class_roc(k));
      if (std::isfinite(m.auc_per_class.back())) sum += m.auc_per_class.back(), ++defined;
    }
    m.roc_auc = defined ? sum / defined : NAN;
  }
}

}  // namespace

ClassificationMetrics classification_metrics(const Tensor& scores, const Tensor& labels, ScoreKind kind,
                                             double threshold, const std::string& scores_name,
                                             const std::string& labels_name) {
  check_classification_inputs(scores, labels, threshold, scores_name, labels_name);
  ReadScores r = read_scores(scores, kind, scores_name);
  ClassificationMetrics m;
  m.n = labels.dim(0);
  m.classes = int64_t(r.prob[0].size());
  m.scores = r.kind;
  std::vector<int64_t> y = read_labels(labels, m, scores, scores_name, labels_name);
  count_predictions(r, y, threshold, m);
  per_class_scores(m);
  roc_metrics(r, y, m);
  return m;
}

}  // namespace starc
