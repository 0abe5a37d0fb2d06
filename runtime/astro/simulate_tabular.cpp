// runtime: the catalogue-like simulators — galaxy SED templates and the `seds` and
// `photoz` tasks built on them, and the SHARP-like `flares` features
// (docs/simulators.md).
#include <algorithm>
#include <cmath>

#include "runtime/astro/simulate_internal.h"

namespace starc::sim {

double galaxy_continuum(double rest, double old_fraction, double d4000);  // simulate_spectra.cpp

namespace {

// Old-population fraction of each template: E, Sbc, Scd, Irr, starburst.
constexpr double kTemplateOld[kSedTemplates] = {1.0, 0.7, 0.45, 0.2, 0.05};

// A galaxy's type and its continuous properties.
struct Galaxy {
  int type;
  double jitter, z, av;
};

Galaxy random_galaxy(Rng& rng, double z_lo, double z_hi) {
  Galaxy g;
  g.type = int(rng.integer(0, kSedTemplates - 1));
  g.jitter = rng.uniform(-0.05, 0.05);
  g.z = rng.uniform(z_lo, z_hi);
  g.av = g.type == 0 ? rng.uniform(0, 0.1) : rng.uniform(0, 0.6);  // ellipticals are nearly dust-free
  return g;
}

}  // namespace

double sed_template(int type, double rest_angstrom, double jitter) {
  double f_old = std::clamp(kTemplateOld[type] + jitter, 0.0, 1.0);
  return galaxy_continuum(rest_angstrom, f_old, 1.9);
}

double sed_band_fnu(int type, double jitter, double z, double av, double lo, double hi) {
  // Average f_nu = f_lambda lambda^2 over the band, sampled uniformly in log lambda.
  constexpr int kSteps = 24;
  double sum = 0;
  for (int k = 0; k < kSteps; ++k) {
    double lam = lo * std::pow(hi / lo, (k + 0.5) / kSteps);
    double rest = lam / (1 + z);
    double dust = std::pow(10.0, -0.4 * av * 5500.0 / rest);  // A_lambda ~ 1/lambda
    sum += sed_template(type, rest, jitter) * dust * lam * lam;
  }
  return sum / kSteps / (5500.0 * 5500.0);
}

TensorsByName simulate_seds(int64_t n, uint64_t seed, const SimArgs& a) {
  int64_t bands = a.integer("bands");
  double snr = a.number("snr");
  Tensor sed(DType::F32, {n, bands});
  std::vector<double> v(bands);
  const double lo = 3500, hi = 22000;  // Angstrom
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "seds", uint64_t(s));
    Galaxy g = random_galaxy(rng, 0.0, 1.5);
    double peak = 0;
    for (int64_t b = 0; b < bands; ++b) {
      double b_lo = lo * std::pow(hi / lo, double(b) / bands), b_hi = lo * std::pow(hi / lo, double(b + 1) / bands);
      v[b] = sed_band_fnu(g.type, g.jitter, g.z, g.av, b_lo, b_hi);
      peak = std::max(peak, v[b]);
    }
    // Photometric noise: sigma = flux/snr, plus a floor of peak/(3 snr) for faint bands.
    for (int64_t b = 0; b < bands; ++b) {
      double sigma = std::hypot(v[b], peak / 3) / snr;
      sed.data<float>()[s * bands + b] = float((v[b] + sigma * rng.normal()) / peak);
    }
  }
  return {{"sed", sed}};
}

TensorsByName simulate_photoz(int64_t n, uint64_t seed, const SimArgs& a) {
  double z_max = a.number("z-max");
  Tensor mags(DType::F32, {n, 5}), zs(DType::F32, {n, 1});
  // 5-sigma depths of one SDSS scan (AB mag), which set each band's noise.
  const double depth[5] = {22.0, 22.2, 22.2, 21.3, 20.5};
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "photoz", uint64_t(s));
    Galaxy g = random_galaxy(rng, 0.0, z_max);
    double r_mag = rng.uniform(16.0, 21.0);
    double fnu[5];
    for (int b = 0; b < 5; ++b)
      fnu[b] = sed_band_fnu(g.type, g.jitter, g.z, g.av, kUgrizCentre[b] - kUgrizWidth[b] / 2,
                            kUgrizCentre[b] + kUgrizWidth[b] / 2);
    for (int b = 0; b < 5; ++b) {
      double flux = std::pow(10.0, -0.4 * r_mag) * fnu[b] / fnu[2];  // maggies
      double sigma = std::pow(10.0, -0.4 * depth[b]) / 5;
      double measured = flux + sigma * rng.normal();
      // SDSS asinh magnitude (Lupton et al. 1999) with softening b = the noise: finite
      // for faint and negative fluxes, equal to the AB magnitude for bright ones.
      double soft = sigma;
      double m = -2.5 / std::log(10.0) * (std::asinh(measured / (2 * soft)) + std::log(soft));
      mags.data<float>()[s * 5 + b] = float(m);
    }
    zs.data<float>()[s] = float(g.z);
  }
  return {{"mags", mags}, {"z", zs}};
}

// ---- flares
namespace {

// SHARP-like features (Bobra et al. 2014, Bobra & Couvidat 2015): how strongly each
// loads on an active region's size (total flux) and on its non-potentiality (currents,
// shear), the two properties that flaring regions have more of.
struct Feature {
  const char* name;
  double size, twist;
};
const Feature kFeatures[25] = {
    {"USFLUX", 0.95, 0.15},  {"MEANGAM", 0.10, 0.45},  {"MEANGBT", 0.20, 0.35}, {"MEANGBZ", 0.25, 0.35},
    {"MEANGBH", 0.15, 0.40}, {"MEANJZD", 0.05, 0.35},  {"TOTUSJZ", 0.85, 0.40}, {"MEANALP", 0.05, 0.45},
    {"MEANJZH", 0.05, 0.40}, {"TOTUSJH", 0.70, 0.60},  {"ABSNJZH", 0.50, 0.70}, {"SAVNCPP", 0.55, 0.65},
    {"MEANPOT", 0.20, 0.60}, {"TOTPOT", 0.75, 0.55},   {"MEANSHR", 0.10, 0.65}, {"SHRGT45", 0.20, 0.70},
    {"R_VALUE", 0.60, 0.55}, {"AREA_ACR", 0.85, 0.25}, {"SIZE", 0.80, 0.10},    {"SIZE_ACR", 0.85, 0.20},
    {"NACR", 0.80, 0.20},    {"NPIX", 0.75, 0.05},     {"LAT_FWT", 0.00, 0.05}, {"LON_FWT", 0.00, 0.00},
    {"EPSZ", -0.10, 0.30}};

}  // namespace

TensorsByName simulate_flares(int64_t n, uint64_t seed, const SimArgs& a) {
  double p = a.number("positive-fraction");
  Tensor features(DType::F32, {n, 25}), labels(DType::I64, {n});
  // The two latent properties of a region are standard normal for quiet regions and
  // shifted for regions that flare within 24 h.
  const double size_shift = 1.3, twist_shift = 1.6;
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "flares", uint64_t(s));
    bool flare = rng.bernoulli(p);
    double size = rng.normal() + (flare ? size_shift : 0), twist = rng.normal() + (flare ? twist_shift : 0);
    // Flaring regions are also more varied.
    if (flare) size *= 1.2, twist *= 1.2;
    for (int j = 0; j < 25; ++j) {
      const Feature& f = kFeatures[j];
      double own = std::sqrt(std::max(0.05, 1 - f.size * f.size - f.twist * f.twist));
      // Extensive quantities are log-normal: the standardised feature is its log.
      features.data<float>()[s * 25 + j] = float(f.size * size + f.twist * twist + own * rng.normal());
    }
    labels.data<int64_t>()[s] = flare ? 1 : 0;
  }
  return {{"features", features}, {"label", labels}};
}

}  // namespace starc::sim
