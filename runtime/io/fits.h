// runtime: FITS images, binary tables and 1-D spectra over cfitsio (docs/data.md).
//
// `path` may carry cfitsio's extended filename syntax: `file.fits[1]`, `file.fits[COADD]`
// select an HDU; `.gz` files and tile-compressed `.fz` images are read transparently.
// Without an HDU the first HDU with data is used (an empty primary moves to HDU 1, as in
// SDSS spec-*.fits files).
//
// Images: any BITPIX, BSCALE/BZERO applied, BLANK integer pixels and NaN pixels become
// NaN. The tensor is C-ordered: NAXIS1 (the fastest FITS axis) is the last dim, so a
// 2-D image NAXIS1 = W, NAXIS2 = H reads as [H, W] exactly like astropy's `.data`.
//
// Every failure throws std::runtime_error with one line naming the file (and the HDU or
// column) and, where it helps, cfitsio's own message.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

// The HDU's data: an image, or (with `columns`) binary/ASCII table columns; a table
// without `columns` is an error listing the table's columns. `dtype` is F32, F64 or I64
// (I64 requires every value to be an integer).
Tensor read_fits(const std::string& path, const std::vector<std::string>& columns = {}, DType dtype = DType::F32);

// Table columns side by side: [rows, width] where a scalar column adds 1 to the width and
// a vector column its element count; a single column keeps its cell shape ([rows, 1],
// [rows, n], or [rows, d2, d1] for TDIMn = (d1, d2)). Names match case-insensitively.
Tensor read_fits_columns(const std::string& path, const std::vector<std::string>& columns, DType dtype = DType::F32);

// The EXTNAME of each HDU of `file` (a plain path, no extended syntax), "" where an HDU
// has none; throws naming the file when it is not a readable FITS file.
std::vector<std::string> fits_hdu_names(const std::string& file);
// The columns of the table HDU `path` names: TTYPE and whether it holds text.
struct FitsColumnInfo {
  std::string name;
  bool text = false;
};
std::vector<FitsColumnInfo> fits_table_columns(const std::string& path);
// One table column read exactly: text (trailing blanks dropped) or whole numbers as int64
// (a 'K' column past 2^53, such as DESI's TARGETID, keeps every digit). `path` names the
// HDU as above; throws naming the file, HDU and column.
std::vector<std::string> read_fits_text_column(const std::string& path, const std::string& column);
std::vector<int64_t> read_fits_int64_column(const std::string& path, const std::string& column);
// A numeric header keyword of the HDU `path` names (`file.fits[0]`: the primary; with
// `first_data` and no HDU named, the first HDU with data, as read_fits reads), or nullopt
// when the HDU has no such keyword.
std::optional<double> read_fits_key(const std::string& path, const std::string& key, bool first_data = false);

// A 1-D spectrum on a log10-wavelength grid (Angstrom). Read from
//  - a table with `loglam` (or `wave`/`wavelength`/`lambda` in Angstrom) and `flux`
//    columns, one row per pixel (SDSS spec-*.fits COADD, HDU 1), with `ivar` if present;
//  - a 1-D image, or the first row of a 2-D image (SDSS spSpec), with COEFF0/COEFF1
//    (log10 lambda) or CRVAL1/CDELT1 (or CD1_1)/CRPIX1 (log10 lambda when DC-FLAG = 1 or
//    CTYPE1 names a log axis, else Angstrom).
struct FitsSpectrum {
  std::vector<double> loglam, flux, ivar;  // ivar empty when the file has none
  std::string source;                      // "spec.fits[1] (table: loglam, flux, ivar)"
};
FitsSpectrum read_fits_spectrum(const std::string& path);
// Puts a log-lambda grid in ascending order (a descending one is reversed with its flux
// and ivar; an empty ivar stays empty). Returns the first pixel i whose loglam[i] is not
// above loglam[i - 1], or 0 when the grid is strictly increasing. For the readers of
// spectra, which word the error.
size_t ascend_loglam(std::vector<double>& loglam, std::vector<double>& flux, std::vector<double>& ivar);

// Writers replace `path` (through a temporary file renamed over it). Images go into the
// primary HDU: F32 -> BITPIX -32, F64 -> -64, I64 -> 64, Bool -> 8. Tables are a binary
// table in HDU 1 (EXTNAME `extname` when given) after an empty primary; each column's
// values are [rows] (scalar) or [rows, ...] (vector column, TDIM for rank > 2): F32 'E',
// F64 'D', I64 'K', Bool 'L'.
void write_fits_image(const std::string& path, const Tensor& t);
struct FitsColumn {
  std::string name;
  Tensor values;
  std::string unit;  // TUNITn when not empty
};
void write_fits_table(const std::string& path, const std::vector<FitsColumn>& columns, const std::string& extname = "");

}  // namespace starc
