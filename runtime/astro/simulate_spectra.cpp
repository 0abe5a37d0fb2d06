// runtime: the `spectra` simulator — SDSS-like quasar and galaxy spectra on the
// 4618-pixel grid loglam = linspace(3.5522, 4.0139) (docs/simulators.md, "spectra").
#include <algorithm>
#include <cmath>

#include "runtime/astro/simulate_internal.h"

namespace starc::sim {

namespace {

constexpr double kLyA = 1215.67, kLyB = 1025.72, kLymanLimit = 911.75;  // Angstrom, rest frame
constexpr double kC = 299792.458;                                       // km/s

struct Line {
  double rest;      // Angstrom
  double strength;  // peak over the continuum at the line, typical
  bool broad;       // broad (quasar BLR) or narrow
};

// Quasar emission lines (Vanden Berk et al. 2001 composite, rounded strengths).
const Line kQuasarLines[] = {{1033.8, 0.5, true}, {1215.67, 4.0, true}, {1240.1, 1.0, true},  {1399.8, 0.4, true},
                             {1549.1, 1.6, true}, {1908.7, 0.6, true},  {2798.8, 0.8, true},  {4341.7, 0.2, true},
                             {4862.7, 0.6, true}, {4960.3, 0.3, false}, {5008.2, 0.9, false}, {6564.6, 2.0, true}};
// Galaxy nebular emission lines, strength per unit star formation (young fraction).
const Line kGalaxyEmission[] = {{3727.4, 2.0, false}, {4102.9, 0.2, false}, {4341.7, 0.4, false}, {4862.7, 1.0, false},
                                {4960.3, 0.6, false}, {5008.2, 1.8, false}, {6549.9, 0.4, false}, {6564.6, 3.0, false},
                                {6585.3, 1.1, false}, {6718.3, 0.6, false}, {6732.7, 0.5, false}};
// Absorption of old stars: Ca II K, H, H-delta, G band, Mg b, Na D (depth, width A).
const double kGalaxyAbsorption[][3] = {{3934.8, 0.45, 7},  {3969.6, 0.4, 7},   {4102.9, 0.15, 8},
                                       {4305.0, 0.15, 15}, {5176.7, 0.15, 12}, {5895.6, 0.12, 8}};

double gauss(double x, double mu, double sigma) { return std::exp(-0.5 * (x - mu) * (x - mu) / (sigma * sigma)); }

// Observed wavelength (Angstrom) of each grid pixel.
const std::vector<double>& grid_lambda() {
  static const std::vector<double> lam = [] {
    std::vector<double> v(kSpectrumPixels);
    for (int i = 0; i < kSpectrumPixels; ++i) v[i] = std::pow(10.0, spectrum_loglam(i));
    return v;
  }();
  return lam;
}

// Mean intergalactic Lyman-alpha optical depth at absorber redshift z (Faucher-Giguere
// et al. 2008 fit).
double tau_eff(double z) { return 0.0018 * std::pow(1 + z, 3.92); }

}  // namespace

Spectrum quasar_spectrum(double z, Rng& rng, bool forest) {
  Spectrum s;
  s.flux.resize(kSpectrumPixels);
  s.continuum.resize(kSpectrumPixels);
  double slope = rng.normal(-1.5, 0.3);                                       // f_lambda ~ lambda^slope
  double fwhm = rng.uniform(2500, 6000);                                      // km/s, broad lines
  double sigma_broad = fwhm / 2.3548 / kC, sigma_narrow = 400 / 2.3548 / kC;  // fractional
  double strengths[std::size(kQuasarLines)];
  double baldwin = rng.normal(0, 0.25);  // line strengths vary together (Baldwin effect) and apart
  for (size_t l = 0; l < std::size(kQuasarLines); ++l)
    strengths[l] = kQuasarLines[l].strength * std::exp(baldwin + rng.normal(0, 0.2));
  double tau_ll = rng.uniform(0.5, 4.0);  // Lyman-limit optical depth of the sightline
  // The forest: a lognormal optical-depth field correlated over ~3 pixels (~200 km/s).
  std::vector<double> field(kSpectrumPixels);
  double smooth = 0;
  for (int i = 0; i < kSpectrumPixels; ++i) {
    smooth = 0.6 * smooth + 0.8 * rng.normal();  // AR(1), unit variance
    field[i] = std::exp(1.2 * smooth - 0.72);    // mean 1
  }
  for (int i = 0; i < kSpectrumPixels; ++i) {
    double lam = grid_lambda()[i];
    double rest = lam / (1 + z);
    double cont = std::pow(rest / 1450.0, slope);
    double lines = 0;
    for (size_t l = 0; l < std::size(kQuasarLines); ++l) {
      const Line& ln = kQuasarLines[l];
      double sig = ln.rest * (ln.broad ? sigma_broad : sigma_narrow);
      if (std::abs(rest - ln.rest) < 6 * sig)
        lines += strengths[l] * std::pow(ln.rest / 1450.0, slope) * gauss(rest, ln.rest, sig);
    }
    double f = cont + lines;
    if (forest && rest < kLyA) {
      double tau = tau_eff(lam / kLyA - 1) * field[i];
      if (rest < kLyB) tau += 0.5 * tau_eff(lam / kLyB - 1) * field[(i * 7 + 13) % kSpectrumPixels];
      if (rest < kLymanLimit) tau += tau_ll * std::pow(rest / kLymanLimit, 3);
      f *= std::exp(-tau);
    }
    s.flux[i] = f;
    s.continuum[i] = cont;
  }
  return s;
}

// Rest-frame continuum of a stellar population mix: old stars (cool, 4000 A break of
// strength d4000, little UV) and young stars (blue power law, weak break).
double galaxy_continuum(double rest, double old_fraction, double d4000) {
  double x = rest / 5500.0;
  // Old: f_lambda of a 4500 K black body, stepped down by 1/d4000 below 4000 A over ~60 A.
  double bb =
      std::pow(x, -5) / (std::exp(1.4388e8 / (rest * 4500.0)) - 1) / (1 / (std::exp(1.4388e8 / (5500.0 * 4500.0)) - 1));
  double step = 1.0 / (1 + std::exp(-(rest - 4000.0) / 25.0));
  double old = bb * (1 / d4000 + (1 - 1 / d4000) * step);
  if (rest < 2800) old *= std::pow(rest / 2800.0, 3);
  double young = std::pow(x, -2.0) * (0.9 + 0.1 * step);
  if (rest < kLymanLimit) young *= 0.05;
  return old_fraction * old + (1 - old_fraction) * young;
}

Spectrum galaxy_spectrum(double z, Rng& rng, double old_fraction) {
  Spectrum s;
  s.flux.resize(kSpectrumPixels);
  s.continuum.resize(kSpectrumPixels);
  double f_old = old_fraction >= 0 ? old_fraction : rng.uniform();
  double d4000 = rng.uniform(1.7, 2.2);
  double sfr = (1 - f_old) * rng.log_uniform(0.3, 3);  // emission strength
  double sigma_v = rng.uniform(60, 250) / kC;          // velocity dispersion, fractional
  double o3_ratio = rng.log_uniform(0.3, 3);           // [OIII]/H-beta varies with ionisation
  for (int i = 0; i < kSpectrumPixels; ++i) {
    double lam = grid_lambda()[i];
    double rest = lam / (1 + z);
    double cont = galaxy_continuum(rest, f_old, d4000);
    double f = cont;
    for (auto& a : kGalaxyAbsorption)
      if (std::abs(rest - a[0]) < 6 * a[2]) f -= cont * f_old * a[1] * gauss(rest, a[0], a[2]);
    for (auto& ln : kGalaxyEmission) {
      double sig = ln.rest * sigma_v + 1.0;  // + instrumental ~1 A
      if (std::abs(rest - ln.rest) > 6 * sig) continue;
      double str = ln.strength * ((ln.rest > 4950 && ln.rest < 5010) ? o3_ratio : 1.0);
      f += sfr * str * galaxy_continuum(ln.rest, 0, d4000) * gauss(rest, ln.rest, sig);
    }
    s.flux[i] = f;
    s.continuum[i] = cont;
  }
  return s;
}

NoisySpectrum noisy_spectrum(int64_t index, uint64_t seed, const SimArgs& a) {
  constexpr int L = kSpectrumPixels;
  const std::string& kind = a.text("kind");
  Rng rng(seed, "spectra", uint64_t(index));
  NoisySpectrum out;
  out.qso = kind == "qso" || (kind == "mixed" && rng.bernoulli(0.5));
  double z_lo = a.given("z-min") ? a.number("z-min") : (out.qso ? 0.5 : 0.05);
  double z_hi = a.given("z-max") ? a.number("z-max") : (out.qso ? 4.0 : 1.0);
  out.z = rng.uniform(z_lo, z_hi);
  Spectrum sp = out.qso ? quasar_spectrum(out.z, rng) : galaxy_spectrum(out.z, rng);
  double mean_abs = 0;
  for (double v : sp.flux) mean_abs += std::abs(v) / L;
  // Noise: per-pixel sigma sets the mean S/N; the blue end (low throughput) is noisier.
  double sigma0 = mean_abs / a.number("snr");
  out.flux.resize(L);
  out.sigma.resize(L);
  for (int i = 0; i < L; ++i) {
    double lam = grid_lambda()[i];
    double boost = std::sqrt(1 + std::pow(3900.0 / lam, 4));
    out.sigma[i] = sigma0 * boost / std::sqrt(1.5);
    out.flux[i] = sp.flux[i] + out.sigma[i] * rng.normal();
  }
  out.model = std::move(sp.flux);
  return out;
}

TensorsByName simulate_spectra(int64_t n, uint64_t seed, const SimArgs& a) {
  constexpr int L = kSpectrumPixels;
  Tensor flux(DType::F32, {n, 1, L}), zs(DType::F32, {n, 1}), labels(DType::I64, {n}), loglam(DType::F32, {L});
  for (int i = 0; i < L; ++i) loglam.data<float>()[i] = float(spectrum_loglam(i));
  float* out = flux.data<float>();
  for (int64_t s = 0; s < n; ++s) {
    NoisySpectrum sp = noisy_spectrum(s, seed, a);
    const std::vector<double>& f = sp.flux;
    double mean = 0, var = 0;
    for (double v : f) mean += v / L;
    for (double v : f) var += (v - mean) * (v - mean) / L;
    double inv = var > 0 ? 1 / std::sqrt(var) : 1.0;
    for (int i = 0; i < L; ++i) out[s * L + i] = float((f[i] - mean) * inv);
    zs.data<float>()[s] = float(sp.z);
    labels.data<int64_t>()[s] = sp.qso ? 1 : 0;
  }
  return {{"flux", flux}, {"z", zs}, {"label", labels}, {"loglam", loglam}};
}

}  // namespace starc::sim
