// runtime: writing FITS files of several HDUs with typed header keys, typed table columns
// (int32, uint32, int64, float, double, fixed-width text) and typed images — the layout
// survey files have (SDSS spec-*.fits, DESI coadd-*.fits; docs/data.md), which the one-HDU
// writers of runtime/io/fits.h cannot express. Used by `starc simulate --format`.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace starc {

using FitsKeyValue = std::variant<bool, int64_t, double, std::string>;
struct FitsKey {
  std::string name;
  FitsKeyValue value;
  std::string comment;
};

// One column's (or one image's) values, flattened in C order. Text: one string a row,
// written as TFORM `<width>A` with the width of the longest.
using FitsValues = std::variant<std::vector<float>, std::vector<double>, std::vector<int32_t>, std::vector<uint32_t>,
                                std::vector<int64_t>, std::vector<std::string>>;

struct FitsTableColumn {
  std::string name;
  FitsValues values;   // rows * repeat values
  int64_t repeat = 1;  // values per cell; for text, the least width (the longest string's otherwise)
  std::string unit;    // TUNITn when not empty
};

struct FitsHdu {
  std::string extname;  // EXTNAME; ignored for the primary HDU
  std::vector<FitsKey> keys;
  // An image HDU: `shape` C-ordered (last dim = NAXIS1); empty shape: no data (NAXIS 0).
  // f32 -> BITPIX -32, f64 -> -64, i32 -> 32, u32 -> 32 with BZERO 2^31, i64 -> 64.
  FitsValues image;
  std::vector<int64_t> shape;
  // A binary table HDU when `columns` is not empty (then the image is unused).
  std::vector<FitsTableColumn> columns;
};

// Writes `hdus` (the first one the primary HDU, which must be an image or empty) to
// `path`, replaced atomically. Throws std::runtime_error naming the file and the HDU.
void write_fits_hdus(const std::string& path, const std::vector<FitsHdu>& hdus);

}  // namespace starc
