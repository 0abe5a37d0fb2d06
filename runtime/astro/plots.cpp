// runtime: SVG plots (plots.h).
#include "runtime/astro/plots.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace starc::plot {

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> linear_ticks(double lo, double hi, int target) {
  double span = hi - lo;
  if (!(span > 0)) return {lo};
  double raw = span / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}

std::string tick_label(double v) {
  // Whole numbers up to 10^7 in full ("10000", not "1e+04": wavelengths, pixel indices).
  if (std::abs(v) < 1e7 && v == std::round(v)) return fmt::format("{:.0f}", v);
  return fmt::format("{:.4g}", v);
}

const char* series_color(size_t i) {
  static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[i % 10];
}

namespace {

// The plotting area of a document and its data ranges.
struct Frame {
  double W, H, L, R, T, B;  // document size; left, right, top, bottom margins
  double x0, x1, y0, y1;
  double pw() const { return W - L - R; }
  double ph() const { return H - T - B; }
  double px(double x) const { return L + (x - x0) / (x1 - x0) * pw(); }
  double py(double y) const { return T + (1 - (y - y0) / (y1 - y0)) * ph(); }
};

std::string svg_open(double W, double H) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      W, H);
}

// [lo, hi] over the finite values, widened when empty or a single value, padded by 5%.
std::pair<double, double> data_range(const std::vector<const std::vector<double>*>& vs, bool pad = true) {
  double lo = INFINITY, hi = -INFINITY;
  for (auto* v : vs)
    for (double x : *v)
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!std::isfinite(lo)) return {0, 1};
  if (hi == lo) {
    double d = std::max(std::abs(lo) * 0.1, 0.5);
    return {lo - d, hi + d};
  }
  if (!pad) return {lo, hi};
  double p = (hi - lo) * 0.05;
  return {lo - p, hi + p};
}

std::string title_text(const Frame& f, const std::string& title) {
  return fmt::format("<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n", f.L + f.pw() / 2,
                     xml_escape(title));
}

std::string axis_labels(const Frame& f, const std::string& xl, const std::string& yl) {
  return fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", f.L + f.pw() / 2, f.H - 14,
                     xml_escape(xl)) +
         fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">{1}</text>\n",
                     f.T + f.ph() / 2, xml_escape(yl));
}

// Title, grid, numeric ticks, the frame box and the axis labels.
std::string axes(const Frame& f, const std::string& title, const std::string& xl, const std::string& yl) {
  std::string s = title_text(f, title);
  for (double x : linear_ticks(f.x0, f.x1)) {
    if (x < f.x0 || x > f.x1) continue;
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e5e5e5\"/>\n", f.px(x), f.T,
                     f.T + f.ph());
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", f.px(x), f.T + f.ph() + 18,
                     tick_label(x));
  }
  for (double y : linear_ticks(f.y0, f.y1)) {
    if (y < f.y0 || y > f.y1) continue;
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>\n", f.L, f.py(y),
                     f.L + f.pw(), f.py(y));
    s +=
        fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", f.L - 6, f.py(y) + 4, tick_label(y));
  }
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", f.L, f.T,
                   f.pw(), f.ph());
  return s + axis_labels(f, xl, yl);
}

struct LegendEntry {
  std::string label, color;
  bool dashed = false, box = false;  // box: a filled square (a shaded band)
};

// Legend entries stacked in the right margin.
std::string legend(const Frame& f, const std::vector<LegendEntry>& entries) {
  std::string s;
  for (size_t i = 0; i < entries.size(); ++i) {
    const LegendEntry& e = entries[i];
    double ly = f.T + 16 + 22 * double(i), lx = f.L + f.pw() + 14;
    if (e.box)
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"30\" height=\"10\" fill=\"{}\"/>\n", lx, ly - 5, e.color);
    else
      s += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", lx, ly,
                       lx + 30, ly, e.color, e.dashed ? " stroke-dasharray=\"6 4\"" : "");
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", lx + 36, ly + 4, xml_escape(e.label));
  }
  return s;
}

// A polyline through the finite points (broken at the others).
std::string polyline(const Frame& f, const std::vector<double>& x, const std::vector<double>& y,
                     const std::string& color, bool dashed, double width = 2) {
  std::string s;
  std::vector<std::string> run;
  auto flush = [&] {
    if (run.size() > 1)
      s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} points=\"{}\"/>\n", color, width,
                       dashed ? " stroke-dasharray=\"6 4\"" : "", fmt::join(run, " "));
    run.clear();
  };
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      flush();
      continue;
    }
    run.push_back(fmt::format("{:.2f},{:.2f}", f.px(x[i]), f.py(y[i])));
  }
  flush();
  return s;
}

std::string rgb(double r, double g, double b) {
  auto c = [](double v) { return int(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
  return fmt::format("#{:02x}{:02x}{:02x}", c(r), c(g), c(b));
}

// t in [0, 1]: sequential, near-white to dark blue (viridis-free: prints well in grey).
std::string sequential_color(double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  return rgb(0.97 - 0.90 * t, 0.98 - 0.68 * t, 1.0 - 0.45 * t);
}
// t in [-1, 1]: blue (negative) - white - red (positive).
std::string diverging_color(double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, -1.0, 1.0);
  if (t < 0) return rgb(1 + 0.85 * t, 1 + 0.55 * t, 1 + 0.2 * t);
  return rgb(1 - 0.2 * t, 1 - 0.85 * t, 1 - 0.85 * t);
}

}  // namespace

std::string line_plot_svg(const LinePlot& p) {
  std::vector<const std::vector<double>*> xs, ys;
  for (auto& se : p.series) {
    if (se.x.size() != se.y.size())
      throw std::invalid_argument(
          fmt::format("line plot series '{}': {} x values but {} y values", se.label, se.x.size(), se.y.size()));
    xs.push_back(&se.x), ys.push_back(&se.y);
  }
  bool any_label = std::any_of(p.series.begin(), p.series.end(), [](const Series& s) { return !s.label.empty(); });
  auto [x0, x1] = data_range(xs, false);
  auto [y0, y1] = data_range(ys);
  Frame f{p.width, p.height, 80, any_label ? 170.0 : 30.0, 40, 56, x0, x1, y0, y1};
  std::string s = svg_open(f.W, f.H) + axes(f, p.title, p.x_label, p.y_label);
  std::vector<LegendEntry> entries;
  for (size_t i = 0; i < p.series.size(); ++i) {
    const Series& se = p.series[i];
    std::string color = se.color.empty() ? series_color(i) : se.color;
    s += polyline(f, se.x, se.y, color, se.dashed, se.x.size() > 500 ? 1.2 : 2);
    if (se.markers)
      for (size_t k = 0; k < se.x.size(); ++k)
        if (std::isfinite(se.x[k]) && std::isfinite(se.y[k]))
          s += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"{}\"/>\n", f.px(se.x[k]), f.py(se.y[k]),
                           color);
    if (!se.label.empty()) entries.push_back({se.label, color, se.dashed});
  }
  return s + legend(f, entries) + "</svg>\n";
}

namespace {

// A heat map's frame (its margins; x0..x1 the columns, y0..y1 the rows downwards) and
// its cells' size and extent.
struct HeatLayout {
  Frame f;
  double cell, plot_w, ph;
};

HeatLayout heat_layout(const HeatMap& h) {
  double cell = h.cell > 0 ? h.cell : std::clamp(480.0 / double(std::max(h.rows, h.cols)), 0.5, 90.0);
  double L = h.row_labels.empty() ? 70 : 110;
  Frame f{0, 0, L, 130, 44, 60, 0, double(h.cols), double(h.rows), 0};
  f.W = f.L + f.R + cell * double(h.cols);
  f.H = f.T + f.B + cell * double(h.rows);
  f.W = std::max(f.W, 360.0);
  double plot_w = cell * double(h.cols);
  f.R = f.W - f.L - plot_w;
  return {f, cell, plot_w, cell * double(h.rows)};
}

// The colour scale: lo..hi over the finite values (symmetric around 0, +-amax, when
// diverging) unless vmin / vmax fix an end.
struct HeatScale {
  double lo, hi, amax;
  bool diverging;
  std::string color(double v) const {
    return diverging ? diverging_color(amax > 0 ? v / amax : 0) : sequential_color((v - lo) / (hi - lo));
  }
};

HeatScale heat_scale(const HeatMap& h) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : h.values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  double amax = std::max(std::abs(lo), std::abs(hi));
  if (h.diverging) lo = -amax, hi = amax;
  if (std::isfinite(h.vmin)) lo = h.vmin;
  if (std::isfinite(h.vmax)) hi = h.vmax;
  if (h.diverging) amax = std::max(std::abs(lo), std::abs(hi));
  if (!(hi > lo)) hi = lo + 1;
  return {lo, hi, amax, h.diverging};
}

// The cells (non-finite values in magenta) and their texts, white on dark cells.
std::string heat_cells(const HeatMap& h, const HeatLayout& l, const HeatScale& sc) {
  std::string s;
  const double cell = l.cell;
  for (int64_t r = 0; r < h.rows; ++r)
    for (int64_t c = 0; c < h.cols; ++c) {
      double v = h.values[size_t(r * h.cols + c)];
      double x = l.f.L + cell * double(c), y = l.f.T + cell * double(r);
      s += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"/>\n", x, y,
                       cell + 0.02, cell + 0.02, std::isfinite(v) ? sc.color(v) : "#ff00ff");
      if (!h.cell_text.empty()) {
        double t = sc.diverging ? std::abs(v) / (sc.amax > 0 ? sc.amax : 1) : (v - sc.lo) / (sc.hi - sc.lo);
        s +=
            fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"{}\">{}</text>\n", x + cell / 2,
                        y + cell / 2 + 4, t > 0.6 ? "white" : "black", xml_escape(h.cell_text[size_t(r * h.cols + c)]));
      }
    }
  return s;
}

// Tick labels along one side: names at cell centres, or pixel indices.
std::string heat_ticks(const HeatLayout& l, int64_t count, const std::vector<std::string>& names, bool is_x) {
  std::string s;
  std::vector<std::pair<double, std::string>> t;
  if (!names.empty()) {
    for (int64_t i = 0; i < count && i < int64_t(names.size()); ++i) t.push_back({double(i) + 0.5, names[size_t(i)]});
  } else {
    for (double v : linear_ticks(0, double(count - 1), 6))
      if (v >= 0 && v <= double(count - 1) && std::abs(v - std::round(v)) < 1e-9) t.push_back({v + 0.5, tick_label(v)});
  }
  for (auto& [pos, label] : t) {
    if (is_x)
      s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", l.f.L + pos * l.cell,
                       l.f.T + l.ph + 16, xml_escape(label));
    else
      s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", l.f.L - 6,
                       l.f.T + pos * l.cell + 4, xml_escape(label));
  }
  return s;
}

// The border of the cells, their ticks and the axis labels.
std::string heat_axes(const HeatMap& h, const HeatLayout& l) {
  const Frame& f = l.f;
  std::string s = fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n",
                              f.L, f.T, l.plot_w, l.ph);
  s += heat_ticks(l, h.cols, h.col_labels, true);
  s += heat_ticks(l, h.rows, h.row_labels, false);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", f.L + l.plot_w / 2, f.T + l.ph + 40,
                   xml_escape(h.x_label));
  s += fmt::format("<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0})\">{1}</text>\n",
                   f.T + l.ph / 2, xml_escape(h.y_label));
  return s;
}

// The colour bar: 11 stops of the scale, labelled at nice ticks.
std::string colour_bar(const HeatMap& h, const HeatLayout& l, const HeatScale& sc) {
  const Frame& f = l.f;
  const double lo = sc.lo, hi = sc.hi;
  double bx = f.L + l.plot_w + 24, bh = std::max(l.ph, 120.0);
  std::string s = "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int i = 0; i <= 10; ++i) {
    double v = lo + (hi - lo) * i / 10.0;
    s += fmt::format("<stop offset=\"{}\" stop-color=\"{}\"/>", i / 10.0, sc.color(v));
  }
  s += "</linearGradient></defs>\n";
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"{}\" fill=\"url(#scale)\" stroke=\"#333\"/>\n", bx,
                   f.T, bh);
  for (double v : linear_ticks(lo, hi, 5)) {
    if (v < lo || v > hi) continue;
    double y = f.T + (1 - (v - lo) / (hi - lo)) * bh;
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}</text>\n", bx + 22, y + 4, tick_label(v));
  }
  if (!h.colorbar_label.empty())
    s += fmt::format("<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" transform=\"rotate(-90 {0} {1})\">{2}</text>\n",
                     bx + 80, f.T + bh / 2, xml_escape(h.colorbar_label));
  return s;
}

}  // namespace

std::string heat_map_svg(const HeatMap& h) {
  if (h.rows <= 0 || h.cols <= 0 || int64_t(h.values.size()) != h.rows * h.cols)
    throw std::invalid_argument(
        fmt::format("heat map '{}': {} values for {} x {} cells", h.title, h.values.size(), h.rows, h.cols));
  if (!h.cell_text.empty() && h.cell_text.size() != h.values.size())
    throw std::invalid_argument(
        fmt::format("heat map '{}': {} cell texts for {} cells", h.title, h.cell_text.size(), h.values.size()));
  const HeatLayout l = heat_layout(h);
  const HeatScale sc = heat_scale(h);
  std::string s = svg_open(l.f.W, l.f.H) + title_text(l.f, h.title);
  s += heat_cells(h, l, sc);
  s += heat_axes(h, l);
  s += colour_bar(h, l, sc);
  return s + "</svg>\n";
}

std::string pred_vs_true_svg(const PredVsTrue& p) {
  if (p.truth.size() != p.pred.size())
    throw std::invalid_argument(
        fmt::format("predicted vs true: {} true but {} predicted values", p.truth.size(), p.pred.size()));
  auto [lo, hi] = data_range({&p.truth, &p.pred});
  Frame f{630, 476, 80, 170, 40, 56, lo, hi, lo, hi};  // a square plotting area: equal axes
  size_t n = p.truth.size(), stride = p.max_points > 0 && n > p.max_points ? (n + p.max_points - 1) / p.max_points : 1;
  std::string title = stride > 1 ? fmt::format("{} ({} of {} points)", p.title, (n + stride - 1) / stride, n) : p.title;
  std::string s = svg_open(f.W, f.H);
  s += fmt::format("<clipPath id=\"area\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath>\n", f.L, f.T,
                   f.pw(), f.ph());
  s += axes(f, title, p.x_label, p.y_label);
  std::vector<LegendEntry> entries;
  if (p.band > 0) {
    // The band edges are straight lines: x +- band * (1 + x).
    auto edge = [&](double x, double sign) { return x + sign * p.band * (1 + x); };
    s += fmt::format(
        "<polygon clip-path=\"url(#area)\" fill=\"#c6d9ef\" points=\"{:.2f},{:.2f} {:.2f},{:.2f} {:.2f},{:.2f} "
        "{:.2f},{:.2f}\"/>\n",
        f.px(lo), f.py(edge(lo, -1)), f.px(hi), f.py(edge(hi, -1)), f.px(hi), f.py(edge(hi, 1)), f.px(lo),
        f.py(edge(lo, 1)));
    entries.push_back({fmt::format("±{:g}(1+z)", p.band), "#c6d9ef", false, true});
  }
  s += fmt::format(
      "<line clip-path=\"url(#area)\" x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" "
      "stroke=\"#333\" stroke-dasharray=\"6 4\"/>\n",
      f.px(lo), f.py(lo), f.px(hi), f.py(hi));
  entries.push_back({"1:1", "#333", true});
  s += "<g fill=\"#1f77b4\" fill-opacity=\"0.5\">\n";
  for (size_t i = 0; i < n; i += stride)
    if (std::isfinite(p.truth[i]) && std::isfinite(p.pred[i]))
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2\"/>\n", f.px(p.truth[i]), f.py(p.pred[i]));
  s += "</g>\n";
  if (p.band > 0)  // the band's edges again, above the points that may hide it
    for (double sign : {-1.0, 1.0})
      s += fmt::format(
          "<line clip-path=\"url(#area)\" x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" "
          "stroke=\"#4a7fc0\" stroke-width=\"1\"/>\n",
          f.px(lo), f.py(lo + sign * p.band * (1 + lo)), f.px(hi), f.py(hi + sign * p.band * (1 + hi)));
  entries.push_back({"samples", "#1f77b4", false, true});
  return s + legend(f, entries) + "</svg>\n";
}

std::string confusion_matrix_svg(const std::vector<std::vector<int64_t>>& confusion,
                                 const std::vector<std::string>& class_names, const std::string& title) {
  HeatMap h;
  h.title = title;
  h.x_label = "predicted class";
  h.y_label = "true class";
  h.colorbar_label = "fraction of the true class";
  h.rows = h.cols = int64_t(confusion.size());
  for (size_t r = 0; r < confusion.size(); ++r) {
    if (confusion[r].size() != confusion.size())
      throw std::invalid_argument(fmt::format("confusion matrix: row {} has {} entries for {} classes", r,
                                              confusion[r].size(), confusion.size()));
    int64_t total = 0;
    for (int64_t v : confusion[r]) total += v;
    for (int64_t v : confusion[r]) {
      h.values.push_back(total ? double(v) / double(total) : 0);
      h.cell_text.push_back(fmt::format("{}", v));
    }
    h.row_labels.push_back(r < class_names.size() ? class_names[r] : fmt::format("{}", r));
  }
  h.col_labels = h.row_labels;
  h.vmin = 0, h.vmax = 1;
  h.cell = std::clamp(420.0 / double(std::max<int64_t>(h.rows, 1)), 28.0, 120.0);
  return heat_map_svg(h);
}

std::string roc_svg(const std::vector<RocCurve>& curves, const std::string& title) {
  Frame f{600, 500, 70, 190, 40, 56, 0, 1, 0, 1};
  std::string s = svg_open(f.W, f.H) + axes(f, title, "false positive rate", "true positive rate");
  s += polyline(f, {0, 1}, {0, 1}, "#999", true, 1);
  std::vector<LegendEntry> entries;
  for (size_t i = 0; i < curves.size(); ++i) {
    std::vector<double> x, y;
    for (auto& [a, b] : curves[i].points) x.push_back(a), y.push_back(b);
    std::string color = series_color(i);
    s += polyline(f, x, y, color, false);
    entries.push_back({fmt::format("{} (AUC {:.3f})", curves[i].label, curves[i].auc), color});
  }
  entries.push_back({"chance", "#999", true});
  return s + legend(f, entries) + "</svg>\n";
}

}  // namespace starc::plot
