#include "runtime/io/image_cutouts.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>
#include <stdexcept>

#include "runtime/io/file_io.h"
#include "runtime/io/fits.h"

namespace starc {
namespace {

// Pixel scale in arcsec from CD1_1/CD1_2 (or CDELT1), 0 when the file has neither.
double pixel_scale(const std::string& file) {
  std::optional<double> cd11 = read_fits_key(file, "CD1_1", true), cd12 = read_fits_key(file, "CD1_2", true);
  if (cd11 || cd12) return std::hypot(cd11.value_or(0), cd12.value_or(0)) * 3600;
  if (std::optional<double> d = read_fits_key(file, "CDELT1", true)) return std::abs(*d) * 3600;
  return 0;
}

}  // namespace

Cutouts read_cutouts(const std::vector<std::string>& files, int64_t size) {
  if (size <= 0 || size > 100000) throw std::runtime_error(fmt::format("cut-out size {}: must be 1..100000", size));
  Cutouts out;
  std::vector<float> data;
  int64_t bands = -1;
  for (auto& file : files) {
    Tensor img = read_fits(file, {}, DType::F32);
    if (img.rank() != 2 && img.rank() != 3)
      throw std::runtime_error(
          fmt::format("{}: the image is {}: a cut-out is 2-D, or a 3-D cube of bands", file, type_str(img.type())));
    int64_t c = img.rank() == 3 ? img.dim(0) : 1, h = img.dim(-2), w = img.dim(-1);
    if (bands >= 0 && c != bands)
      throw std::runtime_error(fmt::format("{}: {} band(s), but {} has {}", file, c, files[0], bands));
    bands = c;
    CutoutInfo info;
    info.file = file;
    std::optional<double> crpix1 = read_fits_key(file, "CRPIX1", true), crpix2 = read_fits_key(file, "CRPIX2", true);
    if (!crpix1 || !crpix2 || !std::isfinite(*crpix1) || !std::isfinite(*crpix2))
      throw std::runtime_error(fmt::format("{}: no WCS reference pixel (CRPIX1, CRPIX2): the cut-out's centre", file));
    info.centre_x = *crpix1 - 1, info.centre_y = *crpix2 - 1;  // FITS pixels count from 1
    info.scale_arcsec = pixel_scale(file);
    if (!out.info.empty()) {
      double s0 = out.info[0].scale_arcsec, s = info.scale_arcsec;
      if ((s0 > 0) != (s > 0) || (s0 > 0 && std::abs(s - s0) > 0.01 * s0))
        throw std::runtime_error(
            fmt::format("{}: pixel scale {:.4g} arcsec, but {} has {:.4g}: cut-outs must share "
                        "one scale (resample them first)",
                        file, s, files[0], s0));
    }
    // The S x S window whose centre is nearest the reference pixel.
    info.first_x = int64_t(std::llround(info.centre_x - double(size - 1) / 2));
    info.first_y = int64_t(std::llround(info.centre_y - double(size - 1) / 2));
    check_allocation((uint64_t(data.size()) + uint64_t(c * size * size)) * 2 * sizeof(float),
                     fmt::format("{}: {} cut-outs of {} x {} x {}", file, out.info.size() + 1, c, size, size));
    const float* src = img.data<float>();
    for (int64_t b = 0; b < c; ++b)
      for (int64_t y = 0; y < size; ++y)
        for (int64_t x = 0; x < size; ++x) {
          int64_t iy = info.first_y + y, ix = info.first_x + x;
          float v = 0;
          if (iy < 0 || iy >= h || ix < 0 || ix >= w)
            ++info.outside;
          else if (!std::isfinite(v = src[(b * h + iy) * w + ix]))
            v = 0, ++info.blank;
          data.push_back(v);
        }
    out.info.push_back(info);
  }
  out.images = Tensor(DType::F32, {int64_t(files.size()), bands, size, size});
  std::copy(data.begin(), data.end(), out.images.data<float>());
  return out;
}

}  // namespace starc
