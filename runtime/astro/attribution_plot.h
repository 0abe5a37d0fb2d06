// runtime: the picture `starc explain --plot` draws of one sample's attribution, with the
// plots of runtime/astro/plots.h: a spectrum ([L] or [C, L]) as the input above its
// attribution over the pixel axis (or the wavelength), an image ([C, H, W]) as its first
// channel next to the attribution summed over channels.
#pragma once
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

struct AttributionPlot {
  std::string title;              // "saliency of z[0], sample 3"
  std::string input_label;        // "flux"
  std::string attribution_label;  // "|d z / d flux|"
  std::vector<double> loglam;     // spectra: log10 wavelength per pixel (empty: the pixel index)
  bool signed_values = false;     // images: a diverging colour scale around 0
};

// The SVG document for one sample: `input` and `attribution` of the same shape, without
// the batch dim. Throws std::invalid_argument saying what is wrong for other ranks or a
// --loglam of the wrong length.
std::string attribution_svg(const Tensor& input, const Tensor& attribution, const AttributionPlot& p);

}  // namespace starc
