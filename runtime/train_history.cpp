// runtime: the training history as CSV and the learning curve as a self-contained SVG
// (hand-written: no plotting dependency; the SVG helpers are runtime/plots.h's).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "runtime/plots.h"
#include "runtime/trainer.h"

namespace starc {

namespace {

struct Column {
  std::string name;
  bool train;    // from EpochRecord::train (else ::val)
  size_t index;  // into that vector
};

std::vector<Column> value_columns(const TrainPlan& plan) {
  std::vector<std::string> tn = train_value_names(plan), vn = val_value_names(plan);
  auto is_loss = [](const std::string& n) { return n == "loss" || n.rfind("loss.", 0) == 0; };
  std::vector<Column> cols;
  for (size_t i = 0; i < tn.size(); ++i)
    if (is_loss(tn[i])) cols.push_back({"train_" + tn[i], true, i});
  if (!vn.empty()) cols.push_back({"val_loss", false, 0});
  for (size_t i = 0; i < tn.size(); ++i)
    if (!is_loss(tn[i])) cols.push_back({"train_" + tn[i], true, i});
  for (size_t i = 1; i < vn.size(); ++i) cols.push_back({"val_" + vn[i], false, i});
  return cols;
}

std::string num(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

using plot::linear_ticks;
using plot::tick_label;
using plot::xml_escape;

}  // namespace

std::vector<std::string> history_columns(const TrainPlan& plan) {
  std::vector<std::string> out = {"epoch", "step"};
  for (auto& c : value_columns(plan)) out.push_back(c.name);
  out.push_back("lr");
  out.push_back("seconds");
  return out;
}

std::string history_csv(const TrainPlan& plan, const std::vector<EpochRecord>& h) {
  std::vector<Column> cols = value_columns(plan);
  std::string out = fmt::format("{}\n", fmt::join(history_columns(plan), ","));
  for (auto& r : h) {
    out += fmt::format("{},{}", r.epoch, r.updates);
    for (auto& c : cols) {
      const std::vector<double>& v = c.train ? r.train : r.val;
      out += ",";
      if (c.index < v.size()) out += num(v[c.index]);
    }
    out += fmt::format(",{},{:.3f}\n", num(r.lr), r.seconds);
  }
  return out;
}

std::string learning_curve_svg(const TrainPlan& plan, const std::vector<EpochRecord>& h) {
  struct Series {
    std::string label, color;
    bool dashed;
    std::vector<std::pair<double, double>> pts;  // (epoch, loss)
  };
  static const char* kColors[] = {"#1f77b4", "#2ca02c", "#9467bd", "#8c564b"};
  std::vector<Series> series;
  std::vector<std::string> tn = train_value_names(plan);
  size_t color = 0;
  for (size_t i = 0; i < tn.size(); ++i) {
    if (tn[i] != "loss" && tn[i].rfind("loss.", 0) != 0) continue;
    Series s{tn[i] == "loss" ? "train loss" : "train " + tn[i], kColors[color++ % 4], false, {}};
    for (auto& r : h)
      if (i < r.train.size()) s.pts.push_back({double(r.epoch), r.train[i]});
    series.push_back(s);
  }
  Series val{"val loss", "#ff7f0e", true, {}};
  for (auto& r : h)
    if (!r.val.empty()) val.pts.push_back({double(r.epoch), r.val[0]});
  if (!val.pts.empty()) series.push_back(val);

  // Ranges over the finite values.
  double x0 = 1, x1 = 1, y0 = INFINITY, y1 = -INFINITY;
  for (auto& r : h) x1 = std::max(x1, double(r.epoch)), x0 = std::min(x0, double(r.epoch));
  for (auto& s : series)
    for (auto& [x, y] : s.pts)
      if (std::isfinite(y)) y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (!std::isfinite(y0)) y0 = 0, y1 = 1;
  bool logy = y0 > 0 && y1 / y0 > 20;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  double ly0 = logy ? std::floor(std::log10(y0)) : 0, ly1 = logy ? std::ceil(std::log10(y1)) : 0;
  if (!logy) {
    if (y1 == y0) y0 -= std::max(std::abs(y0) * 0.1, 0.5), y1 += std::max(std::abs(y1) * 0.1, 0.5);
    double pad = (y1 - y0) * 0.05;
    y1 += pad;
    y0 = y0 >= 0 && y0 - pad < 0 ? 0 : y0 - pad;
  }
  if (logy && ly1 == ly0) ly1 += 1;

  const double W = 720, H = 440, L = 80, R = 170, T = 40, Bm = 56;
  const double pw = W - L - R, ph = H - T - Bm;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) {
    double f = logy ? (std::log10(y) - ly0) / (ly1 - ly0) : (y - y0) / (y1 - y0);
    return T + (1 - f) * ph;
  };

  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      W, H);
  s += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n", L + pw / 2,
                   xml_escape(plan.model.empty() ? "learning curve" : plan.model + ": learning curve"));
  // Grid and ticks.
  std::vector<double> xt = linear_ticks(x0, x1, std::min<int>(10, int(x1 - x0) + 1));
  for (double x : xt) {
    if (std::abs(x - std::round(x)) > 1e-9) continue;  // whole epochs only
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>\n", px(x), T,
                     T + ph);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px(x), T + ph + 18,
                     tick_label(x));
  }
  std::vector<std::pair<double, bool>> yt;  // value, labelled
  if (logy) {
    int decades = int(ly1 - ly0);
    for (int d = int(ly0); d <= int(ly1); ++d)
      for (int m = 1; m < 10; ++m) {
        double v = double(m) * std::pow(10.0, d);
        if (v < std::pow(10.0, ly0) * 0.999 || v > std::pow(10.0, ly1) * 1.001) continue;
        bool label = m == 1 || (decades <= 2 && (m == 2 || m == 5));
        if (m == 1 || decades <= 4) yt.push_back({v, label});
      }
  } else {
    for (double v : linear_ticks(y0, y1)) yt.push_back({v, true});
  }
  for (auto [v, label] : yt) {
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n", L, py(v), L + pw, py(v),
                     label ? "#e5e5e5" : "#f3f3f3");
    if (label)
      s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", L - 6, py(v) + 4, tick_label(v));
  }
  s +=
      fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", L, T, pw, ph);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">epoch</text>\n", L + pw / 2, H - 16);
  s += fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">loss{1}</text>\n",
                   T + ph / 2, logy ? " (log scale)" : "");
  // Curves (non-finite points break the line), markers, legend.
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& se = series[i];
    std::string dash = se.dashed ? " stroke-dasharray=\"6 4\"" : "";
    std::vector<std::string> run;
    auto flush = [&] {
      if (run.size() > 1)
        s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", se.color, dash,
                         fmt::join(run, " "));
      run.clear();
    };
    for (auto& [x, y] : se.pts) {
      if (!std::isfinite(y) || (logy && y <= 0)) {
        flush();
        continue;
      }
      run.push_back(fmt::format("{:.1f},{:.1f}", px(x), py(y)));
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>epoch {}: {}</title></circle>\n",
                       px(x), py(y), se.color, x, fmt::format("{:.6g}", y));
    }
    flush();
    double ly = T + 16 + 22 * double(i);
    s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                     L + pw + 14, ly, L + pw + 44, ly, se.color, dash);
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", L + pw + 50, ly + 4, xml_escape(se.label));
  }
  s += "</svg>\n";
  return s;
}

}  // namespace starc
