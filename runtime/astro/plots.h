// runtime: small self-contained SVG plots (hand-written: no plotting dependency) for
// `starc eval` (predicted vs true, confusion matrix, ROC), `starc explain` (a line over
// an x axis such as a spectrum's wavelength, a heat map of an image) and the training
// learning curve (runtime/train_history.cpp shares the helpers at the top).
//
// Every function returns the whole document: "<svg ...>...</svg>\n", white background,
// sans-serif, labels XML-escaped. Non-finite values are skipped (lines break at them).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace starc::plot {

// ---- shared helpers -------------------------------------------------------------------

std::string xml_escape(const std::string& s);
// "Nice" linear tick positions (steps of 1, 2, 2.5, 5 x 10^k) covering [lo, hi].
std::vector<double> linear_ticks(double lo, double hi, int target = 6);
std::string tick_label(double v);  // "%.4g"; whole numbers below 10^7 in full
// The colour of series i in every plot ("#1f77b4", ...; ten colours, then repeating).
const char* series_color(size_t i);

// ---- generic plots ------------------------------------------------------------------

struct Series {
  std::string label{};           // legend entry (empty: none)
  std::vector<double> x{}, y{};  // equal lengths
  std::string color{};           // empty: series_color(index)
  bool dashed = false;
  bool markers = false;  // a dot at every point (else a line only)
};

struct LinePlot {
  std::string title{}, x_label{}, y_label{};
  std::vector<Series> series{};
  double width = 720, height = 440;
};

// Lines over a shared x axis, e.g. an attribution over a spectrum's wavelengths:
//   line_plot_svg({.title = "saliency", .x_label = "wavelength [Å]", .y_label = "|dz/dflux|",
//                  .series = {{.label = "spectrum 0", .x = wavelengths, .y = saliency}}})
std::string line_plot_svg(const LinePlot& p);

struct HeatMap {
  std::string title{}, x_label{}, y_label{};
  int64_t rows = 0, cols = 0;
  std::vector<double> values{};  // rows * cols, row-major; row 0 is drawn at the top
  // Diverging: a blue-white-red scale symmetric around 0 (signed attributions);
  // otherwise a sequential light-to-dark scale from the minimum to the maximum.
  bool diverging = false;
  // Text in each cell (e.g. counts); empty: none. Size rows * cols when given.
  std::vector<std::string> cell_text{};
  // Tick labels at cell centres (size rows / cols); empty: numeric pixel indices.
  std::vector<std::string> row_labels{}, col_labels{};
  std::string colorbar_label{};
  // Fixed ends of the colour scale (NaN: the data's minimum / maximum, or +-max|v| when
  // diverging), e.g. 0 and 1 for fractions.
  double vmin = NAN, vmax = NAN;
  double cell = 0;  // cell size in pixels; 0: fit about 480 pixels
};

// An image as a grid of cells with a colour bar, e.g. an attribution map of one channel.
std::string heat_map_svg(const HeatMap& h);

// ---- evaluation plots ---------------------------------------------------------------

struct PredVsTrue {
  std::string title = "predicted vs true", x_label = "true", y_label = "predicted";
  std::vector<double> truth{}, pred{};  // equal lengths
  // > 0: shade the band |pred - true| <= band * (1 + true) (redshift outliers lie outside).
  double band = 0;
  size_t max_points = 20000;  // more are thinned to an even stride (the title says so)
};

// Scatter of pred against truth on equal axes with the 1:1 line (and the band).
std::string pred_vs_true_svg(const PredVsTrue& p);

// confusion[true][pred] as a heat map coloured by the row fraction, with the counts.
std::string confusion_matrix_svg(const std::vector<std::vector<int64_t>>& confusion,
                                 const std::vector<std::string>& class_names = {},
                                 const std::string& title = "confusion matrix");

struct RocCurve {
  std::string label{};                              // "class 1"
  std::vector<std::pair<double, double>> points{};  // (FPR, TPR)
  double auc = 0;                                   // shown in the legend
};

// ROC curves with the chance diagonal; the legend gives each curve's AUC.
std::string roc_svg(const std::vector<RocCurve>& curves, const std::string& title = "ROC curve");

}  // namespace starc::plot
