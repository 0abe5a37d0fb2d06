// runtime: the spectra task written as DESI coadd-main-dark-HPX.fits files (desidatamodel
// "coadd-SURVEY-PROGRAM-PIXNUM.fits", DR1 / iron) with their redrock-*.fits truth
// (docs/simulators.md, "Survey file formats").
//
// Each object's noisy spectrum (noisy_spectrum, the .npy files' objects) is interpolated
// onto DESI's three arm grids (linear 0.8 A). In the two overlaps of the arms each arm
// loses throughput towards its edge (lower ivar), and the two arms scatter around the
// simulated value in opposite directions weighted so that their ivar-weighted mean is
// that value: merging the arms by ivar (as `starc convert` does) gets it back, any other
// rule does not.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <cmath>
#include <filesystem>

#include "runtime/astro/simulate_internal.h"
#include "runtime/io/fits_hdus.h"

namespace starc::sim {

namespace fs = std::filesystem;

namespace {

constexpr int kPerFile = 100;
// desispec specmask bits.
constexpr uint32_t kAllBadPix = 1u << 1, kCosmic = 1u << 2, kBrightSky = 1u << 5;
constexpr int kResolutionDiagonals = 11;
constexpr double kSkyLines[] = {5578.9, 5891.6, 5897.6, 6302.0, 6365.5, 7343.0,
                                7795.6, 7915.6, 7995.6, 8346.6, 8401.0, 8887.3};

struct Arm {
  const char* name;
  double start;       // Angstrom, first pixel
  int pixels;         // step 0.8 A
  double resolution;  // line-spread sigma, pixels
  double at(int k) const { return start + 0.8 * k; }
};
constexpr Arm kArms[3] = {{"B", 3600.0, 2751, 1.1}, {"R", 5760.0, 2326, 1.0}, {"Z", 7520.0, 2881, 1.0}};

// Throughput of arm `a` at lam in [0.2, 1]: falling towards its edges inside the overlaps.
double arm_throughput(int a, double lam) {
  double t = 1;
  if (a == 0 && lam > 5760) t = 0.2 + 0.8 * (5800 - lam) / 40;
  if (a == 1 && lam < 5800) t = 0.2 + 0.8 * (lam - 5760) / 40;
  if (a == 1 && lam > 7520) t = 0.2 + 0.8 * (7620 - lam) / 100;
  if (a == 2 && lam < 7620) t = 0.2 + 0.8 * (lam - 7520) / 100;
  return std::clamp(t, 0.2, 1.0);
}
bool in_overlap(double lam) { return (lam >= 5760 && lam <= 5800) || (lam >= 7520 && lam <= 7620); }

// Linear interpolation in log10 lambda of a simulation-grid quantity.
double on_grid(const std::vector<double>& v, double lam) {
  double x = (std::log10(lam) - kLoglamMin) / (kLoglamMax - kLoglamMin) * (kSpectrumPixels - 1);
  int i = std::clamp(int(x), 0, kSpectrumPixels - 2);
  double t = x - i;
  return (1 - t) * v[i] + t * v[i + 1];
}

struct ArmData {
  std::vector<float> flux, ivar;
  std::vector<uint32_t> mask;
};

// One object in the three arms, physical units; sky-line pixels flagged BRIGHTSKY (with
// a residual), a few COSMIC pixels and maybe a dead stretch (ALLBADPIX), never inside
// the overlaps.
std::array<ArmData, 3> desi_arms(const NoisySpectrum& sp, Rng& rng) {
  std::array<ArmData, 3> out;
  double scale = std::pow(10.0, rng.uniform(0, 1.3));
  std::array<std::vector<double>, 3> sig;
  // Realistic mode's no-data pixels (flux 0 in the .npy): ivar 0 and ALLBADPIX in the arms.
  const std::vector<double> masked(sp.masked.begin(), sp.masked.end());
  for (int a = 0; a < 3; ++a) {
    const Arm& arm = kArms[a];
    for (int k = 0; k < arm.pixels; ++k) {
      double lam = arm.at(k), s = on_grid(sp.sigma, lam) * scale / std::sqrt(arm_throughput(a, lam));
      uint32_t m = 0;
      double f = on_grid(sp.flux, lam) * scale;
      for (double line : kSkyLines)
        if (std::abs(lam - line) < 2.0) m = kBrightSky;
      if (m) f += s * rng.normal(0, 3);
      bool no_data = !masked.empty() && on_grid(masked, lam) > 0.5;
      out[a].flux.push_back(no_data ? 0.0f : float(f));
      out[a].ivar.push_back(no_data ? 0.0f : float(1 / (s * s)));
      out[a].mask.push_back(no_data ? m | kAllBadPix : m);
      sig[a].push_back(s);
    }
  }
  // Overlaps: arm lo is low by delta, arm hi high by delta * w_lo / w_hi.
  for (auto [lo, hi, offset] : {std::tuple{0, 1, 2700}, std::tuple{1, 2, 2200}})
    for (int k = 0; k < kArms[hi].pixels && k + offset < kArms[lo].pixels; ++k) {
      double d = sig[lo][k + offset] * rng.normal();
      double w_lo = out[lo].ivar[k + offset], w_hi = out[hi].ivar[k];
      if (w_lo == 0 || w_hi == 0) continue;  // a no-data pixel: nothing to split
      out[lo].flux[k + offset] += float(d);
      out[hi].flux[k] -= float(d * w_lo / w_hi);
    }
  auto bad = [&](int a, int k, int len, uint32_t bit) {
    for (int j = k; j < k + len; ++j) {
      if (bit == kAllBadPix) out[a].flux[j] = 0;
      if (bit == kCosmic) out[a].flux[j] += float(50 * sig[a][j]);
      out[a].ivar[j] = 0;
      out[a].mask[j] |= bit;
    }
  };
  auto clear_start = [&](int a, int len) {  // a first pixel whose stretch misses the overlaps
    for (;;) {
      int k = int(rng.integer(0, kArms[a].pixels - len));
      if (!in_overlap(kArms[a].at(k)) && !in_overlap(kArms[a].at(k + len - 1))) return k;
    }
  };
  for (int a = 0; a < 3; ++a)
    for (int c = 0; c < 2; ++c) bad(a, clear_start(a, 1), 1, kCosmic);
  if (rng.bernoulli(0.3)) {
    int a = int(rng.integer(0, 2)), len = int(rng.integer(30, 100));
    bad(a, clear_start(a, len), len, kAllBadPix);
  }
  return out;
}

// The arm's Gaussian line-spread function in DESI's band-diagonal layout: [11, pixels].
std::vector<float> resolution_rows(const Arm& arm) {
  std::vector<float> r(size_t(kResolutionDiagonals) * arm.pixels);
  double norm = 0;
  for (int d = 0; d < kResolutionDiagonals; ++d) norm += std::exp(-0.5 * std::pow((d - 5) / arm.resolution, 2));
  for (int d = 0; d < kResolutionDiagonals; ++d)
    std::fill_n(r.begin() + size_t(d) * arm.pixels, arm.pixels,
                float(std::exp(-0.5 * std::pow((d - 5) / arm.resolution, 2)) / norm));
  return r;
}

struct Group {  // the objects of one file
  int64_t first = 0, count = 0;
  int hpx = 0;
  std::vector<NoisySpectrum> spectra;
  std::vector<int64_t> targetid;
  std::vector<double> ra, dec;
  std::array<ArmData, 3> arms;  // rows one after another
};

FitsHdu fibermap(const Group& g) {
  std::vector<int32_t> status(size_t(g.count), 0);
  std::vector<std::string> objtype(size_t(g.count), "TGT");
  std::vector<int64_t> desi_target;
  for (auto& sp : g.spectra) desi_target.push_back(sp.qso ? 4 : 1);  // desi_mask QSO / LRG
  FitsHdu h;
  h.extname = "FIBERMAP";
  h.columns = {{"TARGETID", g.targetid},
               {"COADD_FIBERSTATUS", status},
               {"TARGET_RA", g.ra, 1, "deg"},
               {"TARGET_DEC", g.dec, 1, "deg"},
               {"OBJTYPE", objtype},
               {"DESI_TARGET", desi_target},
               {"COADD_EXPTIME", std::vector<float>(size_t(g.count), 1000.0f), 1, "s"}};
  return h;
}

std::vector<FitsHdu> coadd_hdus(const Group& g, uint64_t seed) {
  FitsHdu primary;
  primary.keys = {{"SPGRP", std::string("healpix"), "spectral grouping"},
                  {"SURVEY", std::string("main"), ""},
                  {"PROGRAM", std::string("dark"), ""},
                  {"SPGRPVAL", int64_t(g.hpx), "healpix pixel"},
                  {"HPXPIXEL", int64_t(g.hpx), "healpix pixel"},
                  {"HPXNSIDE", int64_t(64), ""},
                  {"HPXNEST", true, ""},
                  {"STARCSIM", std::string("simulated by starc simulate spectra, not observed"), ""},
                  {"SIMSEED", int64_t(seed), "starc simulate --seed"},
                  {"SIMFIRST", g.first, "simulation index of the first row"}};
  std::vector<FitsHdu> hdus = {primary, fibermap(g)};
  for (int a = 0; a < 3; ++a) {
    const Arm& arm = kArms[a];
    std::string p = arm.name;
    std::vector<double> wave;
    for (int k = 0; k < arm.pixels; ++k) wave.push_back(arm.at(k));
    std::vector<int64_t> image = {g.count, arm.pixels};
    std::vector<float> res;
    for (int64_t r = 0; r < g.count; ++r) {
      std::vector<float> one = resolution_rows(arm);
      res.insert(res.end(), one.begin(), one.end());
    }
    hdus.push_back({p + "_WAVELENGTH", {{"BUNIT", std::string("Angstrom"), ""}}, wave, {arm.pixels}, {}});
    hdus.push_back(
        {p + "_FLUX", {{"BUNIT", std::string("10**-17 erg/(s cm2 Angstrom)"), ""}}, g.arms[a].flux, image, {}});
    hdus.push_back(
        {p + "_IVAR", {{"BUNIT", std::string("10**+34 (s2 cm4 Angstrom2) / erg2"), ""}}, g.arms[a].ivar, image, {}});
    hdus.push_back({p + "_MASK", {}, g.arms[a].mask, image, {}});
    hdus.push_back({p + "_RESOLUTION", {}, res, {g.count, kResolutionDiagonals, arm.pixels}, {}});
  }
  return hdus;
}

std::vector<FitsHdu> redrock_hdus(const Group& g) {
  std::vector<double> z, zerr, chi2, dchi2;
  std::vector<int64_t> zwarn, npix;
  std::vector<std::string> spectype, subtype;
  for (auto& sp : g.spectra) {
    z.push_back(sp.z);
    zerr.push_back(sp.qso ? 5e-4 * (1 + sp.z) : 3e-5 * (1 + sp.z));
    chi2.push_back(7900), dchi2.push_back(500), zwarn.push_back(0), npix.push_back(7928);
    spectype.push_back(sp.qso ? "QSO" : "GALAXY");
    subtype.push_back("");
  }
  FitsHdu redshifts;
  redshifts.extname = "REDSHIFTS";
  redshifts.columns = {{"TARGETID", g.targetid},
                       {"CHI2", chi2},
                       {"Z", z},
                       {"ZERR", zerr},
                       {"ZWARN", zwarn},
                       {"NPIXELS", npix},
                       {"SPECTYPE", spectype, 6},
                       {"SUBTYPE", subtype, 20},
                       {"DELTACHI2", dchi2}};
  return {FitsHdu{}, redshifts, fibermap(g)};
}

}  // namespace

std::vector<std::string> write_desi_spectra(int64_t n, uint64_t seed, const SimArgs& a, const std::string& dir) {
  std::vector<std::string> paths;
  for (int64_t first = 0; first < n; first += kPerFile) {
    Group g;
    g.first = first;
    g.count = std::min<int64_t>(kPerFile, n - first);
    g.hpx = 10000 + int(first / kPerFile);  // rising with the index: names sort in object order
    for (int64_t s = first; s < first + g.count; ++s) {
      g.spectra.push_back(noisy_spectrum(s, seed, a));
      Rng rng(seed, "spectra-desi", uint64_t(s));
      g.targetid.push_back(39627000000000000 + int64_t(g.hpx) * 1000 + (s - first));  // past 2^53, as DESI's
      g.ra.push_back(rng.uniform(0, 360));
      g.dec.push_back(std::asin(rng.uniform(-0.3, 1)) * 180 / M_PI);
      std::array<ArmData, 3> arms = desi_arms(g.spectra.back(), rng);
      for (int k = 0; k < 3; ++k) {
        g.arms[k].flux.insert(g.arms[k].flux.end(), arms[k].flux.begin(), arms[k].flux.end());
        g.arms[k].ivar.insert(g.arms[k].ivar.end(), arms[k].ivar.begin(), arms[k].ivar.end());
        g.arms[k].mask.insert(g.arms[k].mask.end(), arms[k].mask.begin(), arms[k].mask.end());
      }
    }
    std::string coadd = (fs::path(dir) / fmt::format("coadd-main-dark-{}.fits", g.hpx)).string();
    write_fits_hdus(coadd, coadd_hdus(g, seed));
    write_fits_hdus((fs::path(dir) / fmt::format("redrock-main-dark-{}.fits", g.hpx)).string(), redrock_hdus(g));
    paths.push_back(coadd);
  }
  return paths;
}

}  // namespace starc::sim
