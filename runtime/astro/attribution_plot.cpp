#include "runtime/astro/attribution_plot.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "runtime/astro/plots.h"
#include "runtime/param_error.h"

namespace starc {
namespace {

// The number after `attr="` in the opening tag of an SVG document.
double svg_size(const std::string& doc, const std::string& attr) {
  size_t at = doc.find(" " + attr + "=\"");
  if (at == std::string::npos || at > doc.find('>')) throw std::logic_error("plot without " + attr);
  return std::stod(doc.substr(at + attr.size() + 3));
}

// SVG documents placed next to each other (left to right, or top to bottom) in one.
std::string combine(const std::vector<std::string>& docs, bool vertical) {
  double w = 0, h = 0;
  std::string body;
  for (const std::string& d : docs) {
    double dw = svg_size(d, "width"), dh = svg_size(d, "height");
    std::string placed = d;
    placed.insert(4, fmt::format(" x=\"{}\" y=\"{}\"", vertical ? 0.0 : w, vertical ? h : 0.0));  // after "<svg"
    body += placed;
    if (vertical)
      w = std::max(w, dw), h += dh;
    else
      w += dw, h = std::max(h, dh);
  }
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n{2}</svg>\n",
      w, h, body);
}

std::vector<double> values(const Tensor& t, int64_t begin, int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = t.get(begin + i);
  return v;
}

std::string spectrum_svg(const Tensor& input, const Tensor& attribution, const AttributionPlot& p) {
  int64_t channels = input.rank() == 2 ? input.dim(0) : 1, L = input.dim(-1);
  std::vector<double> axis(static_cast<size_t>(L));
  std::string x_label = "pixel";
  if (!p.loglam.empty()) {
    if (int64_t(p.loglam.size()) != L)
      throw ParamError<std::invalid_argument>(fmt::format("{} has {} values but the spectrum has {} pixels ({})",
                                                          param_ref("loglam"), p.loglam.size(), L,
                                                          shape_str(input.shape())));
    for (int64_t i = 0; i < L; ++i) {
      double ll = p.loglam[size_t(i)];
      if (!(ll > 0 && ll < 10))
        throw ParamError<std::invalid_argument>(
            fmt::format("{} value {} (pixel {}) is not a log10 wavelength in Å", param_ref("loglam"), ll, i));
      axis[size_t(i)] = std::pow(10.0, ll);
    }
    x_label = "wavelength [Å]";
  } else {
    for (int64_t i = 0; i < L; ++i) axis[size_t(i)] = double(i);
  }
  plot::LinePlot top{.title = p.title, .x_label = x_label, .y_label = p.input_label, .height = 300};
  plot::LinePlot bottom{.title = "", .x_label = x_label, .y_label = p.attribution_label, .height = 300};
  for (int64_t c = 0; c < channels; ++c) {
    std::string label = channels > 1 ? fmt::format("channel {}", c) : "";
    top.series.push_back({.label = label, .x = axis, .y = values(input, c * L, L)});
    bottom.series.push_back({.label = label, .x = axis, .y = values(attribution, c * L, L)});
  }
  return combine({plot::line_plot_svg(top), plot::line_plot_svg(bottom)}, true);
}

std::string image_svg(const Tensor& input, const Tensor& attribution, const AttributionPlot& p) {
  int64_t C = input.dim(0), H = input.dim(1), W = input.dim(2), plane = H * W;
  std::vector<double> summed(static_cast<size_t>(plane), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < plane; ++i) summed[size_t(i)] += attribution.get(c * plane + i);
  plot::HeatMap image{.title = fmt::format("{}, channel 0", p.input_label),
                      .rows = H,
                      .cols = W,
                      .values = values(input, 0, plane),
                      .colorbar_label = p.input_label};
  plot::HeatMap attr{.title = p.title + (C > 1 ? " (sum over channels)" : ""),
                     .rows = H,
                     .cols = W,
                     .values = summed,
                     .diverging = p.signed_values,
                     .colorbar_label = p.attribution_label};
  return combine({plot::heat_map_svg(image), plot::heat_map_svg(attr)}, false);
}

}  // namespace

std::string attribution_svg(const Tensor& input, const Tensor& attribution, const AttributionPlot& p) {
  if (input.shape() != attribution.shape())
    throw std::invalid_argument(fmt::format("plot: the input is {} but the attribution {}", shape_str(input.shape()),
                                            shape_str(attribution.shape())));
  if (input.size() == 0) throw std::invalid_argument("plot: the sample is empty");
  if (input.rank() == 1 || input.rank() == 2) return spectrum_svg(input, attribution, p);
  if (input.rank() == 3) return image_svg(input, attribution, p);
  throw ParamError<std::invalid_argument>(
      fmt::format("{} draws a sample of shape [L] or [C, L] (spectra) or [C, H, W] (images); this one is {}",
                  param_ref("plot"), shape_str(input.shape())));
}

}  // namespace starc
