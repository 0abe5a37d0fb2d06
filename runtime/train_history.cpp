// runtime: the training history as CSV and the learning curve as a self-contained SVG
// (hand-written: no plotting dependency; the SVG helpers are runtime/astro/plots.h's).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "runtime/astro/plots.h"
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

// The shortest text that reads back as the value at the precision the model computes in:
// an f32 model's loss is an f32 mean, so 0.751 rather than 0.7510000004768371.
std::string num(double v, bool f32) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  return f32 ? fmt::format("{}", float(v)) : fmt::format("{}", v);
}

bool computes_in_f32(const TrainPlan& plan) {
  const Graph& g = plan.steps.at(0).graph;
  return !g.outputs.empty() && g.type(g.outputs[0]).dtype == DType::F32;
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

std::optional<double> history_value(const TrainPlan& plan, const EpochRecord& r, const std::string& column) {
  for (auto& c : value_columns(plan)) {
    if (c.name != column) continue;
    const std::vector<double>& v = c.train ? r.train : r.val;
    if (c.index < v.size()) return v[c.index];
  }
  return std::nullopt;
}

std::string history_csv(const TrainPlan& plan, const std::vector<EpochRecord>& h) {
  std::vector<Column> cols = value_columns(plan);
  const bool f32 = computes_in_f32(plan);
  std::string out = fmt::format("{}\n", fmt::join(history_columns(plan), ","));
  for (auto& r : h) {
    out += fmt::format("{},{}", r.epoch, r.updates);
    for (auto& c : cols) {
      const std::vector<double>& v = c.train ? r.train : r.val;
      out += ",";
      if (c.index < v.size()) out += num(v[c.index], f32);
    }
    out += fmt::format(",{},{:.3f}\n", num(r.lr, f32), r.seconds);
  }
  return out;
}

namespace {

// A curve of the learning-curve plot: (epoch, loss) points.
struct Series {
  std::string label, color;
  bool dashed;
  std::vector<std::pair<double, double>> pts;
};

// Each step's training loss, then the validation loss (dashed) if any epoch has one.
std::vector<Series> loss_series(const TrainPlan& plan, const std::vector<EpochRecord>& h) {
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
  return series;
}

// One plot of the learning curve: a y label and its curves.
struct Panel {
  std::string y_label;
  std::vector<Series> series;
};

// A panel per metric (accuracy, mae, ...): its training value, and its validation value
// (dashed) when the eval graph computes the same metric.
std::vector<Panel> metric_panels(const TrainPlan& plan, const std::vector<EpochRecord>& h) {
  std::vector<std::string> tn = train_value_names(plan), vn = val_value_names(plan);
  std::vector<Panel> panels;
  for (size_t i = 0; i < tn.size(); ++i) {
    if (tn[i] == "loss" || tn[i].rfind("loss.", 0) == 0) continue;
    Panel p{tn[i], {{"train " + tn[i], "#1f77b4", false, {}}}};
    for (auto& r : h)
      if (i < r.train.size()) p.series[0].pts.push_back({double(r.epoch), r.train[i]});
    std::string metric = tn[i].substr(0, tn[i].find('.'));  // without a step's suffix
    auto v = std::find(vn.begin(), vn.end(), metric);
    if (v != vn.end() && v != vn.begin()) {
      Series val{"val " + metric, "#ff7f0e", true, {}};
      size_t j = size_t(v - vn.begin());
      for (auto& r : h)
        if (j < r.val.size()) val.pts.push_back({double(r.epoch), r.val[j]});
      if (!val.pts.empty()) p.series.push_back(val);
    }
    panels.push_back(std::move(p));
  }
  return panels;
}

// The plot area and its scales: epochs across, the finite losses up (on a log scale of
// whole decades when they span more than 20x).
struct CurveAxes {
  static constexpr double W = 720, H = 440, L = 80, R = 170, T = 40, Bm = 56;
  static constexpr double pw = W - L - R, ph = H - T - Bm;
  double x0 = 1, x1 = 1, y0 = INFINITY, y1 = -INFINITY;
  bool logy = false;
  double ly0 = 0, ly1 = 0;

  double px(double x) const { return L + (x - x0) / (x1 - x0) * pw; }
  double py(double y) const {
    double f = logy ? (std::log10(y) - ly0) / (ly1 - ly0) : (y - y0) / (y1 - y0);
    return T + (1 - f) * ph;
  }
};

CurveAxes curve_axes(const std::vector<EpochRecord>& h, const std::vector<Series>& series) {
  CurveAxes a;
  double &x0 = a.x0, &x1 = a.x1, &y0 = a.y0, &y1 = a.y1;
  for (auto& r : h) x1 = std::max(x1, double(r.epoch)), x0 = std::min(x0, double(r.epoch));
  for (auto& s : series)
    for (auto& [x, y] : s.pts)
      if (std::isfinite(y)) y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (!std::isfinite(y0)) y0 = 0, y1 = 1;
  a.logy = y0 > 0 && y1 / y0 > 20;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  a.ly0 = a.logy ? std::floor(std::log10(y0)) : 0, a.ly1 = a.logy ? std::ceil(std::log10(y1)) : 0;
  if (!a.logy) {
    if (y1 == y0) y0 -= std::max(std::abs(y0) * 0.1, 0.5), y1 += std::max(std::abs(y1) * 0.1, 0.5);
    double pad = (y1 - y0) * 0.05;
    y1 += pad;
    y0 = y0 >= 0 && y0 - pad < 0 ? 0 : y0 - pad;
  }
  if (a.logy && a.ly1 == a.ly0) a.ly1 += 1;
  return a;
}

// Vertical grid lines and labels at whole epochs.
std::string epoch_grid(const CurveAxes& a) {
  std::string s;
  std::vector<double> xt = linear_ticks(a.x0, a.x1, std::min<int>(10, int(a.x1 - a.x0) + 1));
  for (double x : xt) {
    if (std::abs(x - std::round(x)) > 1e-9) continue;  // whole epochs only
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>\n", a.px(x), a.T,
                     a.T + a.ph);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", a.px(x), a.T + a.ph + 18,
                     tick_label(x));
  }
  return s;
}

// The loss axis' ticks: (value, labelled). On a log scale 1, 2, 5 per decade while few
// decades are shown, fainter unlabelled ones between.
std::vector<std::pair<double, bool>> loss_ticks(const CurveAxes& a) {
  std::vector<std::pair<double, bool>> yt;
  if (a.logy) {
    int decades = int(a.ly1 - a.ly0);
    for (int d = int(a.ly0); d <= int(a.ly1); ++d)
      for (int m = 1; m < 10; ++m) {
        double v = double(m) * std::pow(10.0, d);
        if (v < std::pow(10.0, a.ly0) * 0.999 || v > std::pow(10.0, a.ly1) * 1.001) continue;
        bool label = m == 1 || (decades <= 2 && (m == 2 || m == 5));
        if (m == 1 || decades <= 4) yt.push_back({v, label});
      }
  } else {
    for (double v : linear_ticks(a.y0, a.y1)) yt.push_back({v, true});
  }
  return yt;
}

std::string loss_grid(const CurveAxes& a) {
  std::string s;
  for (auto [v, label] : loss_ticks(a)) {
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n", a.L, a.py(v),
                     a.L + a.pw, a.py(v), label ? "#e5e5e5" : "#f3f3f3");
    if (label)
      s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", a.L - 6, a.py(v) + 4,
                       tick_label(v));
  }
  return s;
}

// The plot's frame and the axis titles.
std::string frame(const CurveAxes& a, const std::string& y_label) {
  std::string s = fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
                              a.L, a.T, a.pw, a.ph);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">epoch</text>\n", a.L + a.pw / 2, a.H - 16);
  s += fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">{1}{2}</text>\n",
                   a.T + a.ph / 2, xml_escape(y_label), a.logy ? " (log scale)" : "");
  return s;
}

// Series i: its line (broken by non-finite points), markers and legend entry.
std::string curve(const Series& se, size_t i, const CurveAxes& a) {
  std::string s;
  std::string dash = se.dashed ? " stroke-dasharray=\"6 4\"" : "";
  std::vector<std::string> run;
  auto flush = [&] {
    if (run.size() > 1)
      s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{} points=\"{}\"/>\n", se.color, dash,
                       fmt::join(run, " "));
    run.clear();
  };
  for (auto& [x, y] : se.pts) {
    if (!std::isfinite(y) || (a.logy && y <= 0)) {
      flush();
      continue;
    }
    run.push_back(fmt::format("{:.1f},{:.1f}", a.px(x), a.py(y)));
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>epoch {}: {}</title></circle>\n",
                     a.px(x), a.py(y), se.color, x, fmt::format("{:.6g}", y));
  }
  flush();
  double ly = a.T + 16 + 22 * double(i);
  s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                   a.L + a.pw + 14, ly, a.L + a.pw + 44, ly, se.color, dash);
  s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", a.L + a.pw + 50, ly + 4, xml_escape(se.label));
  return s;
}

}  // namespace

std::string learning_curve_svg(const TrainPlan& plan, const std::vector<EpochRecord>& h) {
  std::vector<Panel> panels = {{"loss", loss_series(plan, h)}};
  for (Panel& p : metric_panels(plan, h)) panels.push_back(std::move(p));
  const double W = CurveAxes::W, H = CurveAxes::H * double(panels.size());
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      W, H);
  s += fmt::format("<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
                   CurveAxes::L + CurveAxes::pw / 2,
                   xml_escape(plan.model.empty() ? "learning curve" : plan.model + ": learning curve"));
  for (size_t k = 0; k < panels.size(); ++k) {
    const CurveAxes a = curve_axes(h, panels[k].series);
    s += fmt::format("<g transform=\"translate(0 {})\">\n", CurveAxes::H * double(k));
    s += epoch_grid(a) + loss_grid(a) + frame(a, panels[k].y_label);
    for (size_t i = 0; i < panels[k].series.size(); ++i) s += curve(panels[k].series[i], i, a);
    s += "</g>\n";
  }
  return s + "</svg>\n";
}

}  // namespace starc
