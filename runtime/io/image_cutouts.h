// runtime: image cut-outs with WCS headers (docs/data.md, "Image cut-outs") into a model's
// image input [N, C, S, S]: each file's image — a 2-D image (one band) or a 3-D cube
// (NAXIS3 bands) — cut to S x S pixels centred on its WCS reference pixel (CRPIX1,
// CRPIX2: where a survey's cut-out service puts the requested position). Pixels beyond
// the image and NaN (BLANK) pixels become 0 and are counted. Every file must have as
// many bands as the first and its pixel scale (CD1_1/CD1_2 or CDELT1) within 1 % of the
// first's: cut-outs of different scales would show the model objects of different sizes.
// Throws std::runtime_error naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

struct CutoutInfo {
  std::string file;
  double centre_x = 0, centre_y = 0;  // the reference pixel, 0-based (x: NAXIS1)
  int64_t first_x = 0, first_y = 0;   // the cut-out's first pixel in the image, 0-based
  double scale_arcsec = 0;            // 0 when the file has no scale keyword
  int64_t outside = 0, blank = 0;     // pixels set to 0
};

struct Cutouts {
  Tensor images;  // f32[N, C, S, S]
  std::vector<CutoutInfo> info;
};

Cutouts read_cutouts(const std::vector<std::string>& files, int64_t size);

}  // namespace starc
