// runtime: the spectra task written as SDSS DR17 BOSS spec-PLATE-MJD-FIBER.fits files
// (docs/simulators.md, "Survey file formats"), and the dispatch of `--format`.
//
// The flux is the same noisy spectrum as the .npy files' (noisy_spectrum, before their
// normalisation) in physical units; the file holds the pixels of the simulation grid that
// the simulated spectrograph covers (the grid is SDSS's own log-lambda lattice, step
// 1e-4). Bad pixels are drawn from a stream of their own, so the .npy bytes do not change.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "runtime/astro/simulate_internal.h"
#include "runtime/io/fits_hdus.h"

namespace starc {

namespace fs = std::filesystem;

namespace sim {
namespace {

// SDSS SPPIXMASK bits (sdss idlutils sdssMaskbits.par).
constexpr int32_t kFullReject = 1 << 18, kBrightSky = 1 << 23, kNoData = 1 << 24, kCombineRej = 1 << 25;
// Bright night-sky lines (vacuum Angstrom): [O I] 5577, Na D, [O I] 6300/6364, strong OH.
constexpr double kSkyLines[] = {5578.9, 5891.6, 5897.6, 6302.0, 6365.5, 7343.0, 7795.6, 7915.6,
                                7995.6, 8346.6, 8401.0, 8432.0, 8467.0, 8887.3, 8921.0, 9377.0};

struct SdssPixels {
  int first = 0, count = 0;  // the simulation-grid pixels the file holds
  std::vector<float> flux, loglam, ivar, wdisp, sky, model;
  std::vector<int32_t> and_mask, or_mask;
};

// The object's spectrum as an SDSS coadd: physical units (1e-17 erg/s/cm^2/A), sky-line
// pixels flagged BRIGHTSKY with a sky residual in the flux, maybe a dead stretch
// (NODATA|FULLREJECT, ivar 0, flux 0) and a few rejected pixels (ivar 0, and_mask 0).
SdssPixels sdss_pixels(const NoisySpectrum& sp, Rng& rng) {
  SdssPixels p;
  p.first = int(rng.integer(0, 40));  // BOSS's blue end varies by fibre, ~3560-3600 A
  p.count = kSpectrumPixels - p.first;
  double scale = std::pow(10.0, rng.uniform(0, 1.3));  // flux units per simulation unit
  for (int k = 0; k < p.count; ++k) {
    int i = p.first + k;
    double lam = std::pow(10.0, spectrum_loglam(i));
    double sky = scale * (0.5 + 0.3 * lam / 10000);
    int32_t mask = 0;
    for (double line : kSkyLines) {
      double d = std::abs(lam - line) / (lam * 2.302585 * 1e-4);  // in pixels
      if (d < 2.5) mask = kBrightSky, sky += scale * 20 * std::exp(-0.5 * d * d);
    }
    double f = sp.flux[i] * scale, sigma = sp.sigma[i] * scale;
    if (mask) f += sigma * rng.normal(0, 3);  // sky-subtraction residual
    p.flux.push_back(float(f));
    p.loglam.push_back(float(spectrum_loglam(i)));
    p.ivar.push_back(float(1 / (sigma * sigma)));
    p.and_mask.push_back(mask);
    p.or_mask.push_back(mask);
    p.wdisp.push_back(float(1.0 + 0.2 * (lam - 6000) / 4000));
    p.sky.push_back(float(sky));
    p.model.push_back(float(sp.model[i] * scale));
    if (!sp.masked.empty() && sp.masked[i])  // realistic mode: no data here (flux 0 in the .npy too)
      p.flux.back() = 0, p.ivar.back() = 0, p.and_mask.back() = p.or_mask.back() = kNoData;
  }
  if (rng.bernoulli(0.5)) {  // a dead stretch (bad CCD columns)
    int len = int(rng.integer(20, 80)), at = int(rng.integer(100, p.count - 100 - len));
    for (int k = at; k < at + len; ++k)
      p.flux[k] = 0, p.ivar[k] = 0, p.and_mask[k] = p.or_mask[k] = kNoData | kFullReject;
  }
  for (int r = 0; r < 3; ++r) {  // rejected in every exposure, but no and_mask bit: only ivar says so
    int k = int(rng.integer(0, p.count - 1));
    while (p.and_mask[k] || p.ivar[k] == 0) k = (k + 1) % p.count;
    p.ivar[k] = 0;
    p.or_mask[k] |= kCombineRej;
  }
  return p;
}

std::vector<FitsHdu> sdss_hdus(int64_t index, uint64_t seed, const NoisySpectrum& sp, const SdssPixels& p, int plate,
                               int mjd, int fiber, double ra, double dec) {
  FitsHdu primary;
  double coeff0 = spectrum_loglam(p.first);
  primary.keys = {{"TELESCOP", std::string("SDSS 2.5-M"), ""},
                  {"FLAVOR", std::string("science"), "exposure type"},
                  {"PLATEID", int64_t(plate), "plate number"},
                  {"MJD", int64_t(mjd), "MJD of the last exposure"},
                  {"FIBERID", int64_t(fiber), "fiber number"},
                  {"RUN2D", std::string("v5_13_2"), "spectro-2D reduction name"},
                  {"RUN1D", std::string("v5_13_2"), "spectro-1D reduction name"},
                  {"PLUG_RA", ra, "RA of the object (deg)"},
                  {"PLUG_DEC", dec, "Dec of the object (deg)"},
                  {"COEFF0", coeff0, "log10 lambda (A) of the first pixel"},
                  {"COEFF1", 1e-4, "log10 lambda step per pixel"},
                  {"NWORDER", int64_t(2), "terms in the wavelength solution"},
                  {"WFITTYPE", std::string("LOG-LINEAR"), "wavelength solution"},
                  {"VACUUM", true, "wavelengths are in vacuum"},
                  {"BUNIT", std::string("1E-17 erg/cm^2/s/Ang"), "flux unit"},
                  {"STARCSIM", std::string("simulated by starc simulate spectra, not observed"), ""},
                  {"SIMSEED", int64_t(seed), "starc simulate --seed"},
                  {"SIMINDEX", index, "object index in the simulation"}};
  FitsHdu coadd;
  coadd.extname = "COADD";
  coadd.columns = {{"flux", p.flux},       {"loglam", p.loglam}, {"ivar", p.ivar}, {"and_mask", p.and_mask},
                   {"or_mask", p.or_mask}, {"wdisp", p.wdisp},   {"sky", p.sky},   {"model", p.model}};
  double snr = 0;
  int good = 0;
  for (int k = 0; k < p.count; ++k)
    if (p.ivar[k] > 0 && !p.and_mask[k]) snr += std::abs(p.flux[k]) * std::sqrt(p.ivar[k]), ++good;
  FitsHdu spall;
  spall.extname = "SPALL";
  spall.columns = {{"PROGRAMNAME", std::vector<std::string>{"boss"}, 23},
                   {"PLATE", std::vector<int32_t>{plate}},
                   {"MJD", std::vector<int32_t>{mjd}},
                   {"FIBERID", std::vector<int32_t>{fiber}},
                   {"RUN2D", std::vector<std::string>{"v5_13_2"}, 8},
                   {"CLASS", std::vector<std::string>{sp.qso ? "QSO" : "GALAXY"}, 6},
                   {"SUBCLASS", std::vector<std::string>{""}, 21},
                   {"Z", std::vector<float>{float(sp.z)}},
                   {"Z_ERR", std::vector<float>{float(sp.qso ? 5e-4 * (1 + sp.z) : 3e-5 * (1 + sp.z))}},
                   {"ZWARNING", std::vector<int32_t>{0}},
                   {"PLUG_RA", std::vector<double>{ra}},
                   {"PLUG_DEC", std::vector<double>{dec}},
                   {"SN_MEDIAN_ALL", std::vector<float>{float(good ? snr / good : 0)}},
                   {"OBJTYPE", std::vector<std::string>{sp.qso ? "QSO" : "GALAXY"}, 16}};
  return {primary, coadd, spall};
}

}  // namespace

std::vector<std::string> write_sdss_spectra(int64_t n, uint64_t seed, const SimArgs& a, const std::string& dir) {
  std::vector<std::string> paths;
  for (int64_t s = 0; s < n; ++s) {
    NoisySpectrum sp = noisy_spectrum(s, seed, a);
    Rng rng(seed, "spectra-sdss", uint64_t(s));
    SdssPixels p = sdss_pixels(sp, rng);
    // 1000 fibres a plate (BOSS); plates and fibres rise with the index, so the file
    // names sort in object order.
    int plate = 4000 + int(s / 1000), fiber = int(s % 1000) + 1, mjd = 55500 + int(s / 1000);
    double ra = rng.uniform(0, 360), dec = std::asin(rng.uniform(-0.2, 1)) * 180 / M_PI;
    std::string path = (fs::path(dir) / fmt::format("spec-{:04d}-{:05d}-{:04d}.fits", plate, mjd, fiber)).string();
    write_fits_hdus(path, sdss_hdus(s, seed, sp, p, plate, mjd, fiber, ra, dec));
    paths.push_back(path);
  }
  return paths;
}

}  // namespace sim

std::vector<std::string> simulate_survey_files(const std::string& task, const std::string& format, int64_t n,
                                               uint64_t seed, const SimOptions& options, const std::string& dir) {
  if (format != "sdss" && format != "desi")
    throw std::invalid_argument(fmt::format("--format {}: expected npy, sdss or desi", format));
  if (task != "spectra")
    throw std::invalid_argument(
        fmt::format("--format {} writes spectra; task '{}' has only the .npy format", format, task));
  (void)simulate(task, 1, seed, options);  // checks the task's options, with their messages
  std::map<std::string, std::string> values;
  for (auto& o : find_simulation_task(task)->options) values[o.name] = o.default_value;
  for (auto& [name, v] : options) values[name] = v;
  if (n <= 0) throw std::invalid_argument(fmt::format("{}: --n must be > 0 (got {})", task, n));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw std::runtime_error(
        fmt::format("cannot create output folder '{}': {}", dir, ec ? ec.message() : "a file of that name exists"));
  sim::SimArgs args(values);
  return format == "sdss" ? sim::write_sdss_spectra(n, seed, args, dir) : sim::write_desi_spectra(n, seed, args, dir);
}

}  // namespace starc
