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

namespace {

// Median over unmasked pixels of |model| / sigma: the per-pixel S/N of SDSS's SN_MEDIAN,
// of the noiseless spectrum.
double median_snr(const NoisySpectrum& sp) {
  std::vector<double> r;
  r.reserve(sp.model.size());
  for (size_t i = 0; i < sp.model.size(); ++i)
    if (sp.masked.empty() || !sp.masked[i]) r.push_back(std::abs(sp.model[i]) / sp.sigma[i]);
  if (r.empty()) return 0;
  std::nth_element(r.begin(), r.begin() + r.size() / 2, r.end());
  return r[r.size() / 2];
}

// The easy mode (the default): its bytes are pinned by tests/unit/simulate_realistic_spectra_test.cpp.
NoisySpectrum easy_spectrum(int64_t index, uint64_t seed, const SimArgs& a) {
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
  out.population = out.qso ? SpectrumPopulation::Quasar : SpectrumPopulation::Galaxy;
  out.snr = median_snr(out);
  return out;
}

// ---- --difficulty realistic (docs/simulators.md, "Difficulty (spectra)"): what makes SDSS/BOSS
// spectra hard. Each object draws, from its own stream, its population, its observation
// (resolution, calibration, S/N, sky, coverage, bad columns) and its noise.

// Shares of the populations that overlap quasars, within each label.
constexpr double kHostDominatedShare = 0.2;      // of quasars: low-z broad-line AGN, host dominates
constexpr double kStarFormingShare = 0.2;        // of galaxies: strong emission lines
constexpr double kSeyfert2Share = 0.2;           // of galaxies: narrow-line AGN
constexpr double kLegacyShare = 0.2;             // SDSS-I/II spectrograph, 3800-9200 A
constexpr double kPixelLn = 2.302585093 * 1e-4;  // ln(lambda) step of one pixel

// A narrow line: rest wavelength and equivalent width relative to H-beta's.
struct NarrowLine {
  double rest, ew_ratio;
};

// Adds Gaussian lines of rest equivalent width ew_hbeta * ratio on the local continuum.
void add_narrow_lines(Spectrum& s, double z, const std::vector<NarrowLine>& lines, double ew_hbeta, double sigma_v) {
  for (int i = 0; i < kSpectrumPixels; ++i) {
    double rest = grid_lambda()[i] / (1 + z);
    for (const NarrowLine& ln : lines) {
      double sig = ln.rest * sigma_v / kC;
      if (std::abs(rest - ln.rest) > 6 * sig) continue;
      double area = ew_hbeta * ln.ew_ratio * s.continuum[i];
      s.flux[i] += area / (std::sqrt(2 * M_PI) * sig) * gauss(rest, ln.rest, sig);
    }
  }
}

// Seyfert 2: an older host, a weak featureless continuum and narrow lines of AGN
// ionisation ([O III]/H-beta 3-12, [N II]/H-alpha 0.6-1.5, [Ne V], He II; Kewley et al. 2006).
Spectrum seyfert2_spectrum(double z, Rng& rng) {
  Spectrum s = galaxy_spectrum(z, rng, rng.uniform(0.4, 1.0));
  double fc = rng.uniform(0, 0.3);  // scattered-light power law, share of the continuum at 5500 A
  for (int i = 0; i < kSpectrumPixels; ++i) {
    double add = fc * std::pow(grid_lambda()[i] / (1 + z) / 5500.0, -1.5);
    s.flux[i] += add, s.continuum[i] += add;
  }
  double o3 = rng.log_uniform(3, 12), ha = rng.uniform(3, 5), n2 = ha * rng.uniform(0.6, 1.5);
  double s2 = ha * rng.uniform(0.2, 0.4);
  std::vector<NarrowLine> lines = {{3426.9, rng.uniform(0.05, 0.15) * o3},
                                   {3727.4, rng.uniform(1.5, 4)},
                                   {3869.9, rng.uniform(0.3, 1.2)},
                                   {4102.9, 0.26},
                                   {4341.7, 0.47},
                                   {4687.0, rng.uniform(0.1, 0.35)},
                                   {4862.7, 1},
                                   {4960.3, o3 / 2.98},
                                   {5008.2, o3},
                                   {6302.0, ha * rng.uniform(0.05, 0.15)},
                                   {6549.9, n2 / 2.95},
                                   {6564.6, ha},
                                   {6585.3, n2},
                                   {6718.3, s2 * 0.55},
                                   {6732.7, s2 * 0.45}};
  add_narrow_lines(s, z, lines, rng.log_uniform(1, 15), rng.uniform(300, 800) / 2.3548);
  return s;
}

// A strongly star-forming galaxy: young continuum, H-alpha equivalent widths of ~30-300 A
// and H II-region line ratios ([O III]/H-beta 0.3-6: low metallicity reaches quasar-like
// [O III]).
Spectrum star_forming_spectrum(double z, Rng& rng) {
  Spectrum s = galaxy_spectrum(z, rng, rng.uniform(0, 0.3));
  double o3 = rng.log_uniform(0.3, 6), ha = rng.uniform(2.86, 4), n2 = ha * rng.uniform(0.03, 0.4);
  double s2 = ha * rng.uniform(0.1, 0.3);
  std::vector<NarrowLine> lines = {{3727.4, rng.uniform(1, 4)},
                                   {3869.9, rng.uniform(0.05, 0.5)},
                                   {4102.9, 0.26},
                                   {4341.7, 0.47},
                                   {4862.7, 1},
                                   {4960.3, o3 / 2.98},
                                   {5008.2, o3},
                                   {6549.9, n2 / 2.95},
                                   {6564.6, ha},
                                   {6585.3, n2},
                                   {6718.3, s2 * 0.55},
                                   {6732.7, s2 * 0.45}};
  add_narrow_lines(s, z, lines, rng.log_uniform(10, 80), rng.uniform(30, 100));
  return s;
}

// A low-luminosity broad-line AGN in a host that dominates: the AGN is 10-50 % of the
// continuum over the observed range (Vanden Berk et al. 2006 find hosts dominating
// SDSS quasars at low luminosity and z < 0.75).
Spectrum host_dominated_agn(double z, Rng& rng) {
  Spectrum host = galaxy_spectrum(z, rng, rng.uniform(0.4, 1.0));
  Spectrum agn = quasar_spectrum(z, rng, false);
  double share = rng.uniform(0.1, 0.5), host_mean = 0, agn_mean = 0;
  for (int i = 0; i < kSpectrumPixels; ++i) host_mean += host.continuum[i], agn_mean += agn.continuum[i];
  double k = share / (1 - share) * host_mean / agn_mean;
  for (int i = 0; i < kSpectrumPixels; ++i) host.flux[i] += k * agn.flux[i], host.continuum[i] += k * agn.continuum[i];
  return host;
}

SpectrumPopulation draw_population(bool qso, Rng& rng) {
  if (qso)
    return rng.bernoulli(kHostDominatedShare) ? SpectrumPopulation::HostDominatedAgn : SpectrumPopulation::Quasar;
  double u = rng.uniform();
  if (u < kStarFormingShare) return SpectrumPopulation::StarForming;
  if (u < kStarFormingShare + kSeyfert2Share) return SpectrumPopulation::Seyfert2;
  return SpectrumPopulation::Galaxy;
}

Spectrum population_spectrum(SpectrumPopulation p, double z, Rng& rng) {
  switch (p) {
    case SpectrumPopulation::Quasar:
      return quasar_spectrum(z, rng);
    case SpectrumPopulation::HostDominatedAgn:
      return host_dominated_agn(z, rng);
    case SpectrumPopulation::StarForming:
      return star_forming_spectrum(z, rng);
    case SpectrumPopulation::Seyfert2:
      return seyfert2_spectrum(z, rng);
    case SpectrumPopulation::Galaxy:
      break;
  }
  return galaxy_spectrum(z, rng);
}

// The spectrograph's line-spread function: a Gaussian of sigma_pix pixels (BOSS resolves
// R = 1560-2650, Smee et al. 2013: sigma 0.7-1.2 pixels of 69 km/s).
void convolve_resolution(std::vector<double>& f, double sigma_pix) {
  int half = int(std::ceil(4 * sigma_pix));
  std::vector<double> kernel(2 * half + 1), out(f.size());
  for (int k = -half; k <= half; ++k) kernel[k + half] = gauss(k, 0, sigma_pix);
  for (int i = 0; i < int(f.size()); ++i) {
    double sum = 0, weight = 0;
    for (int k = std::max(-half, -i); k <= half && i + k < int(f.size()); ++k)
      sum += kernel[k + half] * f[i + k], weight += kernel[k + half];
    out[i] = sum / weight;
  }
  f.swap(out);
}

// Night-sky emission lines (vacuum Angstrom, approximate) and their peak over the sky
// continuum: [O I] 5577/6300/6364, Na D and the strongest OH bands (Osterbrock et al. 1996).
const double kSkyLines[][2] = {{5578.9, 40}, {5891.6, 10}, {5897.6, 10}, {6302.0, 15}, {6365.5, 5},  {6865.9, 8},
                               {7318.3, 10}, {7342.9, 10}, {7752.7, 8},  {7796.2, 8},  {7915.8, 12}, {7995.5, 12},
                               {8346.9, 20}, {8401.5, 15}, {8432.5, 15}, {8467.7, 15}, {8829.5, 20}, {8888.3, 20},
                               {8922.1, 15}, {9378.5, 15}, {9442.4, 12}, {9794.2, 15}};
// Telluric O2 bands (rest of the correction): A band 7594-7700 A, B band 6867-6950 A.
const double kTelluric[][3] = {{7594, 7700, 0.10}, {6867, 6950, 0.05}};  // from, to, residual rms

// One object's observation: noise shape (relative sigma) and additive sky residuals.
struct Observation {
  std::vector<double> sigma_shape, residual_shape;  // residual in units of that pixel's sigma
  std::vector<uint8_t> masked;
};

Observation observe(Rng& rng, double sigma_pix) {
  constexpr int L = kSpectrumPixels;
  Observation o;
  o.sigma_shape.assign(L, 0);
  o.residual_shape.assign(L, 0);
  o.masked.assign(L, 0);
  double blue_edge = rng.uniform(3700, 4300);  // throughput falls blueward of it
  double red_sky = rng.uniform(0.5, 2.0);      // OH pseudo-continuum over the red arm
  for (int i = 0; i < L; ++i) {
    double lam = grid_lambda()[i];
    double var = 1 + std::pow(blue_edge / lam, 4);
    var *= 1 + red_sky * std::clamp((lam - 6800) / 3000, 0.0, 1.2) + std::pow(std::max(0.0, lam - 9300) / 700, 2);
    o.sigma_shape[i] = std::sqrt(var);
  }
  for (auto& line : kSkyLines) {
    double r1 = rng.normal(0, 1.5), r2 = rng.normal(0, 1.5);  // over- or under-subtracted, shifted
    int centre = int(std::lround(std::log(line[0] / grid_lambda()[0]) / kPixelLn));
    for (int i = std::max(0, centre - 6); i <= std::min(L - 1, centre + 6); ++i) {
      double d = std::log(grid_lambda()[i] / line[0]) / kPixelLn / sigma_pix, g = std::exp(-0.5 * d * d);
      o.sigma_shape[i] *= std::sqrt(1 + line[1] * g);
      o.residual_shape[i] += (r1 + r2 * d) * g;
    }
  }
  for (int i = 0; i < L; ++i)  // less light through the A band
    if (grid_lambda()[i] > kTelluric[0][0] && grid_lambda()[i] < kTelluric[0][1]) o.sigma_shape[i] *= 1.3;
  // Coverage: the legacy spectrograph 3800-9200 A, BOSS from 3570-3650 A to the grid's end.
  bool legacy = rng.bernoulli(kLegacyShare);
  double lo = legacy ? 3800 : rng.uniform(3570, 3650), hi = legacy ? 9200 : 1e9;
  for (int i = 0; i < L; ++i) o.masked[i] = grid_lambda()[i] < lo || grid_lambda()[i] > hi;
  // Bad columns / fully rejected stretches: 30 % of objects one, 10 % a second.
  for (double p : {0.3, 0.1})
    if (rng.bernoulli(p)) {
      int len = int(rng.integer(10, 100)), at = int(rng.integer(0, L - len));
      std::fill(o.masked.begin() + at, o.masked.begin() + at + len, 1);
    }
  return o;
}

// Smooth spectrophotometric calibration error: exp(a1 x + a2 (x^2 - 1/3)), x in [-1, 1]
// over the grid (BOSS quasar spectra are off by 10-20 % in slope; Margala et al. 2016),
// and what the telluric correction leaves of the O2 bands.
std::vector<double> calibration(Rng& rng) {
  double a1 = rng.normal(0, 0.15), a2 = rng.normal(0, 0.08);
  std::vector<double> t(kSpectrumPixels);
  for (int i = 0; i < kSpectrumPixels; ++i) {
    double x = 2.0 * i / (kSpectrumPixels - 1) - 1;
    t[i] = std::exp(a1 * x + a2 * (x * x - 1.0 / 3));
  }
  for (auto& band : kTelluric) {
    double eps = rng.normal(0, band[2]);
    for (int i = 0; i < kSpectrumPixels; ++i)
      if (grid_lambda()[i] > band[0] && grid_lambda()[i] < band[1]) t[i] *= 1 + eps;
  }
  return t;
}

NoisySpectrum realistic_spectrum(int64_t index, uint64_t seed, const SimArgs& a) {
  constexpr int L = kSpectrumPixels;
  const std::string& kind = a.text("kind");
  Rng rng(seed, "spectra", uint64_t(index));
  NoisySpectrum out;
  out.qso = kind == "qso" || (kind == "mixed" && rng.bernoulli(0.5));
  out.population = draw_population(out.qso, rng);
  // Host-dominated AGN are low-z ones, unless a redshift range is asked for.
  bool low_z_agn = out.population == SpectrumPopulation::HostDominatedAgn && !a.given("z-min") && !a.given("z-max");
  double z_lo = a.given("z-min") ? a.number("z-min") : (low_z_agn ? 0.1 : out.qso ? 0.5 : 0.05);
  double z_hi = a.given("z-max") ? a.number("z-max") : (low_z_agn ? 0.8 : out.qso ? 4.0 : 1.0);
  out.z = rng.uniform(z_lo, z_hi);
  Spectrum sp = population_spectrum(out.population, out.z, rng);
  double sigma_pix = kC / (rng.uniform(1560, 2650) * 2.3548 * 69.0);
  convolve_resolution(sp.flux, sigma_pix);
  std::vector<double> t = calibration(rng);
  Observation obs = observe(rng, sigma_pix);
  // Per-object S/N: log-normal, median --snr-median (default 3), 0.75 in ln.
  double target = (a.given("snr-median") ? a.number("snr-median") : 3.0) * std::exp(0.75 * rng.normal());
  out.model.resize(L);
  out.sigma.resize(L);
  out.flux.resize(L);
  out.masked = obs.masked;
  for (int i = 0; i < L; ++i) out.model[i] = sp.flux[i] * t[i], out.sigma[i] = obs.sigma_shape[i];
  double sigma0 = median_snr(out) / target;  // the shape's S/N, scaled to the target
  for (int i = 0; i < L; ++i) {
    out.sigma[i] *= sigma0;
    double noise = out.sigma[i] * (rng.normal() + obs.residual_shape[i]);
    out.flux[i] = out.masked[i] ? 0.0 : out.model[i] + noise;
  }
  out.snr = median_snr(out);
  return out;
}

}  // namespace

NoisySpectrum noisy_spectrum(int64_t index, uint64_t seed, const SimArgs& a) {
  if (a.text("difficulty") == "realistic") return realistic_spectrum(index, seed, a);
  return easy_spectrum(index, seed, a);
}

namespace {

// Zero mean, unit variance over all pixels (easy mode; the order of operations is pinned).
void standardize(const std::vector<double>& f, float* out) {
  constexpr int L = kSpectrumPixels;
  double mean = 0, var = 0;
  for (double v : f) mean += v / L;
  for (double v : f) var += (v - mean) * (v - mean) / L;
  double inv = var > 0 ? 1 / std::sqrt(var) : 1.0;
  for (int i = 0; i < L; ++i) out[i] = float((f[i] - mean) * inv);
}

// As `starc convert --normalize standardize` reads a file with ivar-0 pixels: mean and
// variance over the pixels with data, 0 (the mean) at the others.
void standardize_unmasked(const std::vector<double>& f, const std::vector<uint8_t>& masked, float* out) {
  double n = 0, mean = 0, var = 0;
  for (size_t i = 0; i < f.size(); ++i)
    if (!masked[i]) n += 1, mean += f[i];
  mean = n > 0 ? mean / n : 0;
  for (size_t i = 0; i < f.size(); ++i)
    if (!masked[i]) var += (f[i] - mean) * (f[i] - mean);
  double inv = var > 0 ? 1 / std::sqrt(var / n) : 1.0;
  for (size_t i = 0; i < f.size(); ++i) out[i] = masked[i] ? 0.0f : float((f[i] - mean) * inv);
}

}  // namespace

TensorsByName simulate_spectra(int64_t n, uint64_t seed, const SimArgs& a) {
  constexpr int L = kSpectrumPixels;
  Tensor flux(DType::F32, {n, 1, L}), zs(DType::F32, {n, 1}), labels(DType::I64, {n}), loglam(DType::F32, {L});
  Tensor snr(DType::F32, {n, 1});
  for (int i = 0; i < L; ++i) loglam.data<float>()[i] = float(spectrum_loglam(i));
  float* out = flux.data<float>();
  for (int64_t s = 0; s < n; ++s) {
    NoisySpectrum sp = noisy_spectrum(s, seed, a);
    if (sp.masked.empty())
      standardize(sp.flux, out + s * L);
    else
      standardize_unmasked(sp.flux, sp.masked, out + s * L);
    zs.data<float>()[s] = float(sp.z);
    labels.data<int64_t>()[s] = sp.qso ? 1 : 0;
    snr.data<float>()[s] = float(sp.snr);
  }
  return {{"flux", flux}, {"z", zs}, {"label", labels}, {"loglam", loglam}, {"snr", snr}};
}

}  // namespace starc::sim
