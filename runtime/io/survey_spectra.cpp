#include "runtime/io/survey_spectra.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "compiler/ir/tensor.h"
#include "runtime/io/fits.h"

namespace starc {

namespace fs = std::filesystem;

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool has_hdu(const std::vector<std::string>& names, const std::string& name) {
  for (auto& n : names)
    if (upper(n) == name) return true;
  return false;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", where, what));
}

// Marks bad pixels (mask bits, ivar <= 0 or not finite, flux not finite) with ivar 0 and
// counts them.
int64_t mark_bad(std::vector<double>& flux, std::vector<double>& ivar, const std::vector<double>& mask) {
  int64_t bad = 0;
  for (size_t i = 0; i < flux.size(); ++i)
    if ((!mask.empty() && mask[i] != 0) || !(ivar[i] > 0) || !std::isfinite(ivar[i]) || !std::isfinite(flux[i])) {
      ivar[i] = 0;
      flux[i] = 0;
      ++bad;
    }
  return bad;
}

// Ascending log-lambda (a descending grid is reversed); a non-monotonic one is an error.
void check_grid(SurveySpectrum& s, const std::string& where) {
  if (s.loglam.size() < 2)
    fail(where, fmt::format("the spectrum has {} pixel(s); at least 2 are needed", s.loglam.size()));
  if (size_t i = ascend_loglam(s.loglam, s.flux, s.ivar))
    fail(where, fmt::format("the wavelength grid is not strictly increasing at pixel {} ({} after {})", i, s.loglam[i],
                            s.loglam[i - 1]));
}

// SDSS stores loglam as float32: near log10 lambda = 4 that is +-2.4e-7, a quarter of a
// percent of a pixel, enough for the resampler to give a masked pixel a sliver of its
// neighbour. The grid is log-linear, COEFF0 + COEFF1 * i (primary header): where those
// agree with the column to 1e-5 (float32 rounding, not a different grid), they are used.
void exact_sdss_grid(std::vector<double>& loglam, const std::string& file) {
  std::optional<double> c0 = read_fits_key(file + "[0]", "COEFF0"), c1 = read_fits_key(file + "[0]", "COEFF1");
  if (!c0 || !c1 || !(*c1 > 0)) return;
  for (size_t i = 0; i < loglam.size(); ++i)
    if (!(std::abs(loglam[i] - (*c0 + *c1 * double(i))) < 1e-5)) return;
  for (size_t i = 0; i < loglam.size(); ++i) loglam[i] = *c0 + *c1 * double(i);
}

std::vector<SurveySpectrum> read_sdss(const std::string& file, const std::vector<std::string>& hdus) {
  std::string coadd = file + "[COADD]";
  Tensor t = read_fits_columns(coadd, {"loglam", "flux", "ivar", "and_mask"}, DType::F64);
  SurveySpectrum s;
  s.file = file;
  int64_t rows = t.dim(0);
  const double* v = t.data<double>();
  std::vector<double> mask;
  for (int64_t r = 0; r < rows; ++r) {
    s.loglam.push_back(v[r * 4]);
    s.flux.push_back(v[r * 4 + 1]);
    s.ivar.push_back(v[r * 4 + 2]);
    mask.push_back(v[r * 4 + 3]);
  }
  for (double l : s.loglam)
    if (!std::isfinite(l)) fail(coadd, fmt::format("column 'loglam' holds {}: every pixel needs a wavelength", l));
  exact_sdss_grid(s.loglam, file);
  s.bad_pixels = mark_bad(s.flux, s.ivar, mask);
  check_grid(s, coadd);
  // Labels: DR17 BOSS files have SPALL, DR8-DR16 SPECOBJ; one row.
  for (const char* name : {"SPALL", "SPECOBJ"}) {
    if (!has_hdu(hdus, name)) continue;
    std::string hdu = fmt::format("{}[{}]", file, name);
    Tensor z = read_fits_columns(hdu, {"Z"}, DType::F64);
    std::vector<std::string> cls = read_fits_text_column(hdu, "CLASS");
    if (z.dim(0) != 1) fail(hdu, fmt::format("has {} rows; a spec file's {} has one", z.dim(0), name));
    s.z = z.get(0);
    s.spectype = cls.at(0);
    s.labels_from = hdu;
    std::vector<int64_t> plate = read_fits_int64_column(hdu, "PLATE"), mjd = read_fits_int64_column(hdu, "MJD"),
                         fiber = read_fits_int64_column(hdu, "FIBERID");
    s.id = fmt::format("{:04d}-{:05d}-{:04d}", plate.at(0), mjd.at(0), fiber.at(0));
    break;
  }
  return {s};
}

struct ArmPixels {
  std::vector<double> wave;  // Angstrom
  Tensor flux, ivar, mask;   // [rows, pixels]
  bool has_mask = false;     // the file has X_MASK
};

ArmPixels read_arm(const std::string& file, const std::vector<std::string>& hdus, const std::string& arm,
                   int64_t rows) {
  auto hdu = [&](const char* what) { return fmt::format("{}[{}_{}]", file, arm, what); };
  ArmPixels a;
  for (const char* what : {"WAVELENGTH", "IVAR"})
    if (!has_hdu(hdus, arm + "_" + what))
      fail(file, fmt::format("has {}_FLUX but no {}_{} HDU (DESI coadd: each arm has _WAVELENGTH, _FLUX, _IVAR)", arm,
                             arm, what));
  Tensor wave = read_fits(hdu("WAVELENGTH"), {}, DType::F64);
  if (wave.rank() != 1)
    fail(hdu("WAVELENGTH"), fmt::format("is {}: one wavelength a pixel expected", type_str(wave.type())));
  a.wave.assign(wave.data<double>(), wave.data<double>() + wave.size());
  if (a.wave.empty()) fail(hdu("WAVELENGTH"), "has no pixels");
  Shape want{rows, int64_t(a.wave.size())};
  auto image = [&](const char* what) {
    Tensor t = read_fits(hdu(what), {}, DType::F64);
    if (t.shape() != want)
      fail(hdu(what), fmt::format("is {}, but FIBERMAP has {} rows and {}_WAVELENGTH {} pixels: f64[{},{}] expected",
                                  type_str(t.type()), rows, arm, a.wave.size(), rows, a.wave.size()));
    return t;
  };
  a.flux = image("FLUX");
  a.ivar = image("IVAR");
  if (has_hdu(hdus, arm + "_MASK")) a.mask = image("MASK"), a.has_mask = true;
  for (double w : a.wave)
    if (!(w > 0)) fail(hdu("WAVELENGTH"), fmt::format("holds {}: wavelengths must be positive", w));
  return a;
}

// The arms of one row merged: pixels sorted by wavelength; pixels of two arms at the same
// wavelength (within 1e-6 of it) combined by ivar. Overlapping arms must share pixels.
void merge_arms(SurveySpectrum& s, const std::vector<ArmPixels>& arms, const std::vector<std::string>& names,
                int64_t row, const std::string& file) {
  struct Px {
    double lam, f, w;
    size_t arm;
  };
  std::vector<Px> all;
  for (size_t a = 0; a < arms.size(); ++a) {
    int64_t n = int64_t(arms[a].wave.size());
    std::vector<double> f(arms[a].flux.data<double>() + row * n, arms[a].flux.data<double>() + (row + 1) * n);
    std::vector<double> w(arms[a].ivar.data<double>() + row * n, arms[a].ivar.data<double>() + (row + 1) * n);
    std::vector<double> m;
    if (arms[a].has_mask) m.assign(arms[a].mask.data<double>() + row * n, arms[a].mask.data<double>() + (row + 1) * n);
    s.bad_pixels += mark_bad(f, w, m);
    for (int64_t k = 0; k < n; ++k) all.push_back({arms[a].wave[size_t(k)], f[size_t(k)], w[size_t(k)], a});
  }
  std::stable_sort(all.begin(), all.end(), [](const Px& x, const Px& y) { return x.lam < y.lam; });
  std::vector<Px> out;
  std::vector<unsigned> arms_at;  // bit a: arm a has this pixel
  for (const Px& p : all) {
    if (!out.empty() && std::abs(p.lam - out.back().lam) <= 1e-6 * p.lam && !(arms_at.back() & (1u << p.arm))) {
      Px& q = out.back();
      double w = q.w + p.w;
      q.f = w > 0 ? (q.f * q.w + p.f * p.w) / w : 0;
      q.w = w;
      arms_at.back() |= 1u << p.arm;
      continue;
    }
    out.push_back(p);
    arms_at.push_back(1u << p.arm);
  }
  // Inside the overlap of two arms every pixel must be in both.
  for (size_t a = 0; a < arms.size(); ++a)
    for (size_t b = a + 1; b < arms.size(); ++b) {
      double lo = std::max(arms[a].wave.front(), arms[b].wave.front()),
             hi = std::min(arms[a].wave.back(), arms[b].wave.back());
      for (size_t i = 0; i < out.size(); ++i)
        if (out[i].lam >= lo && out[i].lam <= hi && arms_at[i] != ((1u << a) | (1u << b)))
          fail(file, fmt::format("arms {} and {} overlap ({:.1f}..{:.1f} A) on different pixel grids (at {:.3f} A): "
                                 "DESI's arms share one wavelength lattice",
                                 names[a], names[b], lo, hi, out[i].lam));
    }
  for (const Px& p : out) {
    s.loglam.push_back(std::log10(p.lam));
    s.flux.push_back(p.f);
    s.ivar.push_back(p.w);
  }
}

// Z and SPECTYPE by row from a REDSHIFTS table whose TARGETIDs must be FIBERMAP's.
void desi_labels(std::vector<SurveySpectrum>& out, const std::vector<int64_t>& targetid, const std::string& hdu) {
  std::vector<int64_t> ids = read_fits_int64_column(hdu, "TARGETID");
  if (ids != targetid)
    fail(hdu, fmt::format("TARGETIDs ({} rows) are not the coadd FIBERMAP's ({} rows) in the same order", ids.size(),
                          targetid.size()));
  Tensor z = read_fits_columns(hdu, {"Z"}, DType::F64);
  std::vector<std::string> type = read_fits_text_column(hdu, "SPECTYPE");
  for (size_t r = 0; r < out.size(); ++r) {
    out[r].z = z.get(int64_t(r));
    out[r].spectype = type[r];
    out[r].labels_from = hdu;
  }
}

std::vector<SurveySpectrum> read_desi(const std::string& file, const std::vector<std::string>& hdus) {
  if (!has_hdu(hdus, "FIBERMAP")) fail(file, "has arm HDUs (B_FLUX, ...) but no FIBERMAP HDU: the rows' TARGETIDs");
  std::vector<int64_t> targetid = read_fits_int64_column(file + "[FIBERMAP]", "TARGETID");
  int64_t rows = int64_t(targetid.size());
  std::vector<ArmPixels> arms;
  std::vector<std::string> names;
  for (const char* arm : {"B", "R", "Z"})
    if (has_hdu(hdus, std::string(arm) + "_FLUX")) {
      arms.push_back(read_arm(file, hdus, arm, rows));
      names.push_back(arm);
    }
  std::vector<SurveySpectrum> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    SurveySpectrum& s = out[size_t(r)];
    s.file = file;
    s.row = r;
    s.id = std::to_string(targetid[size_t(r)]);
    merge_arms(s, arms, names, r, file);
    check_grid(s, fmt::format("{} row {}", file, r));
  }
  std::string name = fs::path(file).filename().string();
  fs::path redrock = fs::path(file).parent_path() / ("redrock-" + name.substr(name.rfind("coadd-", 0) == 0 ? 6 : 0));
  if (has_hdu(hdus, "REDSHIFTS"))
    desi_labels(out, targetid, file + "[REDSHIFTS]");
  else if (name.rfind("coadd-", 0) == 0 && fs::exists(redrock))
    desi_labels(out, targetid, redrock.string() + "[REDSHIFTS]");
  return out;
}

// SDSS: a COADD HDU in a file that says it is a spec file (a SPALL / SPECOBJ HDU or a
// PLATEID in the primary header); a bare COADD table is any spectrum table (docs/data.md).
SpectrumFileKind kind_of(const std::string& file, const std::vector<std::string>& hdus) {
  if (has_hdu(hdus, "COADD") &&
      (has_hdu(hdus, "SPALL") || has_hdu(hdus, "SPECOBJ") || read_fits_key(file + "[0]", "PLATEID")))
    return SpectrumFileKind::Sdss;
  for (const char* arm : {"B_FLUX", "R_FLUX", "Z_FLUX"})
    if (has_hdu(hdus, arm)) return SpectrumFileKind::Desi;
  return SpectrumFileKind::Other;
}

}  // namespace

std::string SurveySpectrum::source() const {
  if (row < 0) return file;
  return fmt::format("{} row {} (TARGETID {})", file, row, id);
}

SpectrumFileKind spectrum_file_kind(const std::string& file) { return kind_of(file, fits_hdu_names(file)); }

std::vector<SurveySpectrum> read_survey_spectra(const std::string& file) {
  std::vector<std::string> hdus = fits_hdu_names(file);
  switch (kind_of(file, hdus)) {
    case SpectrumFileKind::Sdss:
      return read_sdss(file, hdus);
    case SpectrumFileKind::Desi:
      return read_desi(file, hdus);
    default:
      break;
  }
  for (auto& h : hdus)
    if (h.empty()) h = "-";
  fail(file, fmt::format("is neither an SDSS spec file (HDU COADD, and SPALL, SPECOBJ or PLATEID) nor a DESI coadd "
                         "(HDUs B_FLUX, R_FLUX, Z_FLUX); its HDUs: {}",
                         fmt::join(hdus, ", ")));
}

}  // namespace starc
