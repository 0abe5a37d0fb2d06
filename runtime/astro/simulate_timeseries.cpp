// runtime: the time-series simulators — `gw` (inspiral chirps in coloured detector noise,
// whitened), `transits` (phase-folded planet transits and their false positives) and
// `supernova` (Bazin light curves of Ia, II and Ibc in g r i z; `--difficulty realistic`
// adds survey cadence, seasons, nightly depth, hosts and a detection-limited sample)
// (docs/simulators.md).
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>

#include "runtime/astro/simulate_internal.h"

namespace starc::sim {

// ---- gw
namespace {

constexpr double kSunSeconds = 4.925491e-6;  // G M_sun / c^3

// One-sided noise PSD of an Advanced-LIGO-like detector (Ajith 2011 fit to the design
// curve), up to a constant; flat below 10 Hz, where no band-passed signal lives.
double detector_psd(double f) {
  double x = std::max(f, 10.0) / 215.0;
  return std::pow(x, -4.14) - 5 / (x * x) + 111 * (1 - x * x + 0.5 * x * x * x * x) / (1 + 0.5 * x * x);
}

double tau_at_frequency(double mc, double f) {  // inverse of gw_frequency
  double tc = mc * kSunSeconds;
  return 5.0 / 256 * std::pow(M_PI * f, -8.0 / 3) * std::pow(tc, -5.0 / 3);
}

struct FftwDeleter {
  void operator()(void* p) const { fftw_free(p); }
};

}  // namespace

double gw_frequency(double mc, double tau) {
  return std::pow(5.0 / (256 * tau), 3.0 / 8) * std::pow(mc * kSunSeconds, -5.0 / 8) / M_PI;
}

std::vector<double> gw_chirp(double mc, double t_c, double fs, int length, double phase) {
  std::vector<double> h(length, 0.0);
  double tc = mc * kSunSeconds;
  double f_isco = 1 / (std::pow(6.0, 1.5) * M_PI * std::pow(2.0, 1.2) * tc);  // equal masses: M = 2^(6/5) Mc
  double tau_end = tau_at_frequency(mc, f_isco), ramp_end = 2 / f_isco;
  double ramp_start = 0.1 * length / fs;
  // Phase = 2 pi * integral of f dt = phase - (16/5) (5/256)^(3/8) (tau/tc)^(5/8).
  double k = 16.0 / 5 * std::pow(5.0 / 256, 3.0 / 8);
  for (int j = 0; j < length; ++j) {
    double t = j / fs, tau = t_c - t;
    if (tau <= tau_end) break;
    double f = gw_frequency(mc, tau);
    double w = 1;
    if (t < ramp_start) w *= 0.5 * (1 - std::cos(M_PI * t / ramp_start));
    if (tau < tau_end + ramp_end) w *= 0.5 * (1 - std::cos(M_PI * (tau - tau_end) / ramp_end));
    h[j] = w * std::pow(f, 2.0 / 3) * std::cos(phase - k * std::pow(tau / tc, 5.0 / 8));
  }
  return h;
}

GwSample gw_sample(double mc, double snr, double fs, int length, Rng& rng) {
  const int L = length, K = L / 2 + 1;
  std::unique_ptr<double, FftwDeleter> x(static_cast<double*>(fftw_malloc(sizeof(double) * L)));
  std::unique_ptr<fftw_complex, FftwDeleter> noise(static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * K))),
      signal(static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * K)));
  std::vector<double> psd(K);
  std::vector<bool> band(K);
  int band_bins = 0;
  for (int k = 0; k < K; ++k) {
    double f = k * fs / L;
    psd[k] = detector_psd(f);
    band[k] = f >= 20 && f <= 500 && k > 0 && 2 * k < L;
    band_bins += band[k];
  }
  // Coloured Gaussian noise, E|N_k|^2 = L S(f_k), then whitened by 1/sqrt(S).
  for (int k = 0; k < K; ++k) {
    double amp = std::sqrt(L * psd[k] / 2);
    double re = amp * rng.normal(), im = amp * rng.normal();
    double white = 1 / std::sqrt(psd[k]);
    noise.get()[k][0] = band[k] ? re * white : 0;
    noise.get()[k][1] = band[k] ? im * white : 0;
  }
  GwSample out;
  out.injection.assign(L, 0.0);
  double beta = 2.0 * band_bins / L;  // the band's share of the white noise's variance
  for (int k = 0; k < K; ++k) signal.get()[k][0] = signal.get()[k][1] = 0;
  if (mc > 0) {
    double t_c = rng.uniform(0.55, 0.95) * L / fs;
    std::vector<double> h = gw_chirp(mc, t_c, fs, L, rng.uniform(0, 2 * M_PI));
    std::copy(h.begin(), h.end(), x.get());
    fftw_plan p = fftw_plan_dft_r2c_1d(L, x.get(), signal.get(), FFTW_ESTIMATE);
    std::copy(h.begin(), h.end(), x.get());  // planning may overwrite the input
    fftw_execute(p);
    fftw_destroy_plan(p);
    // Whiten and band-pass, then scale to the requested optimal SNR:
    // rho^2 = sum over +-k of |H_k|^2 / (L S_k) (Parseval for the whitened series).
    double rho2 = 0;
    for (int k = 0; k < K; ++k) {
      double w = band[k] ? 1 / std::sqrt(psd[k]) : 0;
      signal.get()[k][0] *= w, signal.get()[k][1] *= w;
      rho2 += 2 * (signal.get()[k][0] * signal.get()[k][0] + signal.get()[k][1] * signal.get()[k][1]) / L;
    }
    double scale = rho2 > 0 ? snr / std::sqrt(rho2) : 0;
    for (int k = 0; k < K; ++k) signal.get()[k][0] *= scale, signal.get()[k][1] *= scale;
  }
  // Back to time: c2r is unnormalised (factor L); unit noise variance after / sqrt(beta).
  auto inverse = [&](fftw_complex* spectrum, std::vector<double>& dst) {
    std::vector<std::complex<double>> copy(K);  // c2r destroys its input
    fftw_plan p = fftw_plan_dft_c2r_1d(L, reinterpret_cast<fftw_complex*>(copy.data()), x.get(), FFTW_ESTIMATE);
    for (int k = 0; k < K; ++k) copy[k] = {spectrum[k][0], spectrum[k][1]};
    fftw_execute(p);
    fftw_destroy_plan(p);
    dst.resize(L);
    for (int j = 0; j < L; ++j) dst[j] = x.get()[j] / (L * std::sqrt(beta));
  };
  for (int k = 0; k < K; ++k) noise.get()[k][0] += signal.get()[k][0], noise.get()[k][1] += signal.get()[k][1];
  inverse(noise.get(), out.strain);
  if (mc > 0) inverse(signal.get(), out.injection);
  return out;
}

TensorsByName simulate_gw(int64_t n, uint64_t seed, const SimArgs& a) {
  int L = int(a.integer("length"));
  double fs = a.number("sample-rate"), snr = a.number("snr");
  double mc_lo = a.number("mc-min"), mc_hi = a.number("mc-max");
  Tensor strain(DType::F32, {n, 1, L}), labels(DType::I64, {n}), chirp_mass(DType::F32, {n, 1});
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "gw", uint64_t(s));
    bool present = rng.bernoulli(0.5);
    double mc = present ? rng.uniform(mc_lo, mc_hi) : 0;
    GwSample g = gw_sample(mc, snr, fs, L, rng);
    float* out = strain.data<float>() + s * L;
    for (int j = 0; j < L; ++j) out[j] = float(g.strain[j]);
    labels.data<int64_t>()[s] = present ? 1 : 0;
    chirp_mass.data<float>()[s] = float(mc);
  }
  return {{"strain", strain}, {"label", labels}, {"chirp_mass", chirp_mass}};
}

// ---- transits
namespace {

// a / R_* from Kepler's third law for a star of density rho (solar units).
double a_over_rstar(double period_days, double rho_star) {
  constexpr double kG = 6.674e-8, kRhoSun = 1.41;  // cgs
  double p = period_days * 86400;
  return std::cbrt(kG * rho_star * kRhoSun * p * p / (3 * M_PI));
}

// Fraction of the period between contacts where the planet's centre is within `reach`
// stellar radii of the disk centre.
double chord_fraction(double reach, double b, double a_r) {
  if (reach <= b) return 0;
  double sin_i = std::sqrt(std::max(0.0, 1 - b * b / (a_r * a_r)));
  return std::asin(std::min(1.0, std::sqrt(reach * reach - b * b) / (a_r * sin_i))) / M_PI;
}

}  // namespace

double transit_duration_fraction(double k, double b, double period_days, double rho_star) {
  return chord_fraction(1 + k, b, a_over_rstar(period_days, rho_star));
}

std::vector<double> transit_model(double k, double b, double period_days, double rho_star, int length) {
  double a_r = a_over_rstar(period_days, rho_star);
  double t14 = chord_fraction(1 + k, b, a_r), t23 = chord_fraction(1 - k, b, a_r);
  // Full depth k^2 between second and third contact; a grazing transit (no second
  // contact) reaches only the overlapping part of k^2.
  double depth = t23 > 0 ? k * k : k * k * std::clamp((1 + k - b) / (2 * k), 0.0, 1.0);
  std::vector<double> f(length, 0.0);
  constexpr int sub = 8;  // each bin is the mean over its phase range
  for (int j = 0; j < length; ++j) {
    double sum = 0;
    for (int i = 0; i < sub; ++i) {
      double phase = std::abs((j - (length - 1) / 2.0 + (i + 0.5) / sub - 0.5) / length);
      if (phase < t23 / 2)
        sum -= depth;
      else if (phase < t14 / 2)
        sum -= depth * (t14 / 2 - phase) / ((t14 - t23) / 2);
    }
    f[j] = sum / sub;
  }
  return f;
}

TensorsByName simulate_transits(int64_t n, uint64_t seed, const SimArgs& a) {
  int L = int(a.integer("length"));
  double snr = a.number("snr");
  Tensor flux(DType::F32, {n, 1, L}), labels(DType::I64, {n});
  std::vector<double> f(L), sorted(L);
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "transits", uint64_t(s));
    double u = rng.uniform();
    int kind = u < 0.5 ? 0 : u < 0.75 ? 1 : 2;  // planet, eclipsing binary, quiet star
    double period = rng.log_uniform(1, 50), rho = rng.log_uniform(0.5, 2);
    std::vector<double> model(L, 0.0);
    double sigma = 1e-3;
    if (kind == 0) {
      model = transit_model(rng.uniform(0.02, 0.15), rng.uniform(0, 0.9), period, rho, L);
    } else if (kind == 1) {
      // An eclipsing binary, often diluted by a brighter star in the aperture to planet-like
      // depths: a V- or U-shaped primary and a secondary eclipse at phase 0.5.
      double k = rng.uniform(0.3, 1.0), b = rng.uniform(0.2, 1.2);
      model = transit_model(k, b, period, rho, L);
      double d = -*std::min_element(model.begin(), model.end());
      if (d <= 0) model = transit_model(k, 0.2, period, rho, L), d = -*std::min_element(model.begin(), model.end());
      double depth = rng.log_uniform(3e-4, 0.1), secondary = rng.uniform(0.05, 0.8);
      for (int j = 0; j < L; ++j) {
        int shifted = (j + L / 2) % L;  // phase + 0.5
        f[j] = depth / d * (model[j] + secondary * model[shifted]);
      }
      model = f;
    }
    double depth = -*std::min_element(model.begin(), model.end());
    if (kind != 2 && depth > 0) {
      int in_transit = 0;
      for (double v : model) in_transit += v < -0.5 * depth;
      double snr_obj = snr * std::pow(2.0, rng.uniform(-1, 1));
      sigma = depth * std::sqrt(std::max(in_transit, 1)) / snr_obj;
    }
    // Residual stellar variability after folding: slow sinusoids of a fraction of sigma.
    double a1 = rng.uniform(0, 0.3) * sigma, p1 = rng.uniform(0, 2 * M_PI), a2 = rng.uniform(0, 0.3) * sigma,
           p2 = rng.uniform(0, 2 * M_PI);
    for (int j = 0; j < L; ++j) {
      double ph = 2 * M_PI * j / L;
      f[j] = 1 + model[j] + a1 * std::sin(ph + p1) + a2 * std::sin(2 * ph + p2) + sigma * rng.normal();
    }
    // Normalise: relative to the median, in units of the robust (MAD) scatter.
    sorted = f;
    std::nth_element(sorted.begin(), sorted.begin() + L / 2, sorted.end());
    double med = sorted[L / 2];
    for (int j = 0; j < L; ++j) sorted[j] = std::abs(f[j] - med);
    std::nth_element(sorted.begin(), sorted.begin() + L / 2, sorted.end());
    double scale = 1.4826 * sorted[L / 2] / med;
    float* out = flux.data<float>() + s * L;
    for (int j = 0; j < L; ++j) out[j] = float((f[j] / med - 1) / scale);
    labels.data<int64_t>()[s] = kind == 0 ? 1 : 0;
  }
  return {{"flux", flux}, {"label", labels}};
}

// ---- supernova
namespace {

constexpr double kBands[4] = {4770, 6215, 7545, 8700};    // g r i z effective wavelengths (A)
constexpr double kExtinctionR[4] = {3.3, 2.3, 1.7, 1.3};  // A_band / E(B-V)

// Luminosity distance modulus, flat LambdaCDM (Omega_m 0.3, H0 70).
double distance_modulus(double z) {
  constexpr int steps = 64;
  double integral = 0;
  for (int i = 0; i < steps; ++i) {
    double zi = z * (i + 0.5) / steps;
    integral += z / steps / std::sqrt(0.3 * std::pow(1 + zi, 3) + 0.7);
  }
  double dl_mpc = (1 + z) * 299792.458 / 70 * integral;
  return 5 * std::log10(dl_mpc) + 25;
}

double bazin(double t, double t0, double rise, double fall) {
  double x = (t - t0);
  return std::exp(-x / fall) / (1 + std::exp(-x / rise));
}

// Rest-frame SED shape at peak: a black body, with the UV line blanketing of Ia and Ibc.
double sn_sed(int type, double rest) {
  const double temp[3] = {10000, 11000, 7500};
  double b = std::pow(rest, -5) / (std::exp(1.4388e8 / (rest * temp[type])) - 1);
  if (type != 1 && rest < 4000) b *= std::pow(rest / 4000, 2);
  return b;
}

}  // namespace

// ---- supernova, --difficulty realistic (docs/simulators.md, "Difficulty")
namespace {

constexpr int kSnRows = 40, kSnFeatures = 13;
constexpr double kYearDays = 365.25, kSynodicMonthDays = 29.53;
// Dark-sky background inside a ~3 arcsec^2 aperture, g r i z (nanomaggies): CTIO sky of
// 22.0, 21.1, 20.3, 18.7 mag/arcsec^2. The supernova's and the host's photons add to it.
constexpr double kApertureSky[4] = {4.8, 11.0, 22.9, 100.0};
// Loss of 5-sigma depth at full moon (mag): half the sky's brightening, largest in g.
constexpr double kMoonDepthLoss[4] = {1.0, 0.6, 0.35, 0.2};
// An Sbc host's flux per band relative to r.
constexpr double kHostColour[4] = {0.55, 1.0, 1.35, 1.6};
constexpr double kTemplateSeeing = 0.9;  // arcsec: the deep template's PSF FWHM

// The kinds of supernova behind each label. Peak M_B and scatter: Richardson et al. 2014
// (AJ 147, 118); the shares within type II: Li et al. 2011 (MNRAS 412, 1441).
struct SnKind {
  int label;
  double share;  // within its label
  double m_peak, m_sigma;
  double rise_lo, rise_hi, fall_lo, fall_hi;  // rest-frame days (Ia: fall 16 x stretch)
  double temperature;                         // K: the black body of the colours at peak
  bool plateau;                               // IIP: the plateau ends, the flux drops
};
constexpr SnKind kSnKinds[] = {
    {0, 1.00, -19.3, 0.30, 1.5, 3.0, 0, 0, 10000, false},      // Ia
    {1, 0.70, -16.8, 1.00, 2.0, 6.0, 60, 140, 11000, true},    // IIP
    {1, 0.15, -17.9, 0.90, 2.0, 5.0, 25, 45, 10000, false},    // IIL
    {1, 0.15, -18.6, 1.20, 5.0, 15.0, 50, 150, 12000, false},  // IIn
    {2, 1.00, -17.4, 1.00, 2.0, 5.0, 10, 25, 7500, false},     // Ibc
};

struct SnParams {
  const SnKind* kind = nullptr;
  double z = 0, m_peak = 0, rise = 0, fall = 0, plateau_end = 0, temperature = 0, av_host = 0, ebv_mw = 0;
  double t_peak = 0;  // observer days (the season starts at 0)
};

double blackbody_sed(double temperature, bool blanketed, double rest) {
  double b = std::pow(rest, -5) / (std::exp(1.4388e8 / (rest * temperature)) - 1);
  if (blanketed && rest < 4000) b *= std::pow(rest / 4000, 2);  // UV line blanketing (Ia, Ibc)
  return b;
}

// Noiseless flux (nanomaggies) of band b at observer time t. Host dust follows
// A_lambda = A_V (5500 A / lambda_rest)^1.25 (close to Cardelli et al. 1989, R_V 3.1),
// relative to rest-frame B: the peak M_B is the observed one, so the dust only reddens.
double sn_model_flux(const SnParams& p, double t, int b) {
  double dilation = 1 + p.z, rest = kBands[b] / dilation;
  bool blanketed = p.kind->label != 1;
  double colour = blackbody_sed(p.temperature, blanketed, rest) / blackbody_sed(p.temperature, blanketed, 4400);
  double dust = kExtinctionR[b] * p.ebv_mw + p.av_host * (std::pow(5500 / rest, 1.25) - std::pow(5500 / 4400.0, 1.25));
  double amp = std::pow(10.0, -0.4 * (p.m_peak - 22.5 + dust)) * colour;
  double red = rest / 4000 - 1, tr = (t - p.t_peak) / dilation;
  double fall = p.fall * (p.kind->plateau ? rest / 4000 : 1 + 0.3 * red);
  double shape = bazin(tr, 1.5 * red, p.rise, fall) / bazin(0, 0, p.rise, fall);
  if (p.kind->label == 0 && rest > 6000) shape += 0.4 * bazin(tr, 25, 4, 15);  // Ia secondary maximum
  if (p.kind->plateau) shape *= 0.25 + 0.75 / (1 + std::exp((tr - p.plateau_end) / 5));
  return amp * shape;
}

double comoving_distance_mpc(double z) {  // flat LambdaCDM, Omega_m 0.3, H0 70
  constexpr int steps = 64;
  double integral = 0;
  for (int i = 0; i < steps; ++i) {
    double zi = z * (i + 0.5) / steps;
    integral += z / steps / std::sqrt(0.3 * std::pow(1 + zi, 3) + 0.7);
  }
  return 299792.458 / 70 * integral;
}

// Redshifts of the supernovae that explode in a light cone: dN/dz proportional to
// R(z) dV/dz / (1+z) on [0.02, z_max], the rate R growing as (1+z)^rate_index. Drawn by
// inverting the tabulated distribution function.
class VolumetricRedshift {
 public:
  VolumetricRedshift(double z_max, double rate_index) {
    constexpr int points = 400;
    z_.resize(points), cdf_.resize(points);
    for (int i = 0; i < points; ++i) {
      z_[i] = 0.02 + (z_max - 0.02) * i / (points - 1);
      double dc = comoving_distance_mpc(z_[i]), ez = std::sqrt(0.3 * std::pow(1 + z_[i], 3) + 0.7);
      double density = std::pow(1 + z_[i], rate_index - 1) * dc * dc / ez;
      cdf_[i] = i == 0 ? 0 : cdf_[i - 1] + density;
    }
    for (double& c : cdf_) c /= cdf_.back();
  }
  double operator()(double u) const {
    size_t i = std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
    i = std::clamp<size_t>(i, 1, cdf_.size() - 1);
    double f = (u - cdf_[i - 1]) / std::max(cdf_[i] - cdf_[i - 1], 1e-300);
    return z_[i - 1] + f * (z_[i] - z_[i - 1]);
  }

 private:
  std::vector<double> z_, cdf_;
};

// Rates: Ia (1+z)^1.5 (Dilday et al. 2010), core collapse follows the star-formation
// history, (1+z)^2.7 (Madau & Dickinson 2014); core-collapse supernovae beyond z 0.8 are
// too faint for a 24.5-mag survey.
double draw_redshift(int label, Rng& rng) {
  static const VolumetricRedshift ia(1.2, 1.5), core_collapse(0.8, 2.7);
  return label == 0 ? ia(rng.uniform()) : core_collapse(rng.uniform());
}

SnParams draw_supernova(int label, Rng& rng) {
  SnParams p;
  double u = rng.uniform(), cumulative = 0;
  for (const SnKind& k : kSnKinds) {
    if (k.label != label) continue;
    p.kind = &k, cumulative += k.share;
    if (u < cumulative) break;
  }
  const SnKind& k = *p.kind;
  p.z = draw_redshift(label, rng);
  double m_abs = k.m_peak + k.m_sigma * std::clamp(rng.normal(), -2.5, 2.5);
  if (label == 0) {
    double stretch = std::clamp(rng.normal(1, 0.1), 0.7, 1.3);
    m_abs -= 1.0 * (stretch - 1);  // Phillips: slower is brighter
    p.fall = 16 * stretch;
  } else {
    p.fall = rng.uniform(k.fall_lo, k.fall_hi);
  }
  p.m_peak = m_abs + distance_modulus(p.z);
  p.rise = rng.uniform(k.rise_lo, k.rise_hi);
  p.plateau_end = rng.uniform(70, 110);
  p.temperature = k.temperature * rng.uniform(0.85, 1.15);
  // Host dust: exponential A_V, scale 0.33 for Ia (Kessler et al. 2009), 0.5 for core
  // collapse (younger, dustier sites).
  p.av_host = rng.exponential(label == 0 ? 0.33 : 0.5);
  return p;
}

// One night of the field: its time and, per band, the 5-sigma depth and whether the band
// was taken.
struct Night {
  double t = 0;
  double m5[4] = {}, seeing = 1;
  bool observed[4] = {};
};

// The field's nights in [from, to] (observer days), at most kSnRows: seasons of 150-210
// days a year starting at 0; a visit every 3-7 days; visits lost to weather as a
// two-state Markov chain (27 % lost, in spells of 2.5 visits on average); in a fifth of
// the curves a 10-30 day shutdown. Each night's depth: seeing (lognormal, median 1",
// 0.2 in ln), moon phase and cloud (exponential, mean 0.1 mag); each band is missed
// with probability 0.1, at least one taken.
std::vector<Night> field_nights(double from, double to, double season, double depth, Rng& rng) {
  double cadence = rng.uniform(3, 7), phase = rng.uniform(0, cadence), moon = rng.uniform(0, 1);
  double down_from = rng.bernoulli(0.2) ? rng.uniform(from, to) : 1e9, down_to = down_from + rng.uniform(10, 30);
  bool bad = rng.bernoulli(0.27);
  std::vector<Night> nights;
  for (double k = std::ceil((from - phase) / cadence);; ++k) {
    double t = phase + k * cadence + rng.uniform(-0.3, 0.3);
    if (t > to || int(nights.size()) == kSnRows) break;
    bad = rng.bernoulli(bad ? 0.6 : 0.15);
    double in_year = t - kYearDays * std::floor(t / kYearDays);
    if (bad || t < from || in_year >= season || (t >= down_from && t < down_to)) continue;
    Night n;
    n.t = t;
    n.seeing = std::exp(rng.normal(0, 0.2));
    double illumination = 0.5 * (1 - std::cos(2 * M_PI * (t / kSynodicMonthDays + moon)));
    double cloud = rng.exponential(0.1);
    int taken = 0;
    for (int b = 0; b < 4; ++b) {
      n.m5[b] = depth - 2.5 * std::log10(n.seeing) - kMoonDepthLoss[b] * illumination - cloud;
      n.observed[b] = !rng.bernoulli(0.1);
      taken += n.observed[b];
    }
    if (taken == 0) n.observed[int(rng.integer(0, 3))] = true;
    nights.push_back(n);
  }
  return nights;
}

// A band missing on a night takes the value `starc convert` gives real tables
// (docs/data.md, "Light curves"): linear in time between the band's neighbouring
// measurements with the larger of their errors, held at the nearest before the first and
// after the last, 0 with error 0 when the band was never measured.
void fill_missing_bands(std::vector<LightCurveRow>& rows) {
  int n = int(rows.size());
  for (int b = 0; b < 4; ++b) {
    int previous = -1;
    for (int r = 0; r < n; ++r) {
      if (rows[r].observed[b]) {
        previous = r;
        continue;
      }
      int next = r + 1;
      while (next < n && !rows[next].observed[b]) ++next;
      LightCurveRow& row = rows[r];
      if (previous < 0 && next == n) {
        row.flux[b] = row.err[b] = 0;
      } else if (previous < 0 || next == n) {
        const LightCurveRow& near = rows[previous < 0 ? next : previous];
        row.flux[b] = near.flux[b], row.err[b] = near.err[b];
      } else {
        const LightCurveRow &lo = rows[previous], &hi = rows[next];
        double f = (row.t - lo.t) / (hi.t - lo.t);
        row.flux[b] = lo.flux[b] + f * (hi.flux[b] - lo.flux[b]);
        row.err[b] = std::max(lo.err[b], hi.err[b]);
      }
    }
  }
}

// The light curve of `p` on `nights`, with its host: the host's photons in the errors, a
// constant leftover of the host in the template subtraction (rms 0.5 % of its aperture flux)
// and nightly subtraction residuals growing with the seeing mismatch, not in the errors.
RealisticLightCurve observe(const SnParams& p, const std::vector<Night>& nights, double host_r, Rng& rng) {
  RealisticLightCurve lc;
  lc.type = p.kind->label, lc.z = p.z;
  for (int b = 0; b < 4; ++b) {
    lc.host_flux[b] = host_r * kHostColour[b];
    lc.host_offset[b] = lc.host_flux[b] * rng.normal(0, 0.005);
  }
  for (const Night& n : nights) {
    LightCurveRow row;
    row.t = n.t;
    double mismatch = std::abs(std::log(n.seeing / kTemplateSeeing));
    for (int b = 0; b < 4; ++b) {
      row.model[b] = sn_model_flux(p, n.t, b);
      row.m5[b] = n.m5[b];
      row.observed[b] = n.observed[b];
      double sky = std::pow(10.0, -0.4 * (n.m5[b] - 22.5)) / 5;
      row.err[b] = sky * std::sqrt(1 + (std::max(row.model[b], 0.0) + lc.host_flux[b]) / kApertureSky[b]);
      double residual = lc.host_flux[b] * rng.normal(0, 0.003 + 0.01 * mismatch);
      row.flux[b] = row.model[b] + lc.host_offset[b] + residual + row.err[b] * rng.normal();
    }
    lc.rows.push_back(row);
  }
  return lc;
}

// A survey's trigger: two nights with a 5-sigma detection in some band.
bool detected(const RealisticLightCurve& lc) {
  int nights = 0;
  for (const LightCurveRow& row : lc.rows) {
    bool any = false;
    for (int b = 0; b < 4; ++b) any |= row.observed[b] && row.flux[b] >= 5 * row.err[b];
    nights += any;
  }
  return nights >= 2;
}

}  // namespace

RealisticLightCurve realistic_light_curve(int64_t index, uint64_t seed, double depth) {
  Rng rng(seed, "supernova-realistic", uint64_t(index));
  int label = int(rng.integer(0, 2));
  double ra = rng.uniform(0, 2 * M_PI), dec = std::asin(rng.uniform(-1, 1)), ebv = rng.exponential(0.04);
  RealisticLightCurve lc;
  // Surveys keep what they detect: redraw everything but the class until the trigger fires.
  for (int tries = 0; tries < 200; ++tries) {
    SnParams p = draw_supernova(label, rng);
    p.ebv_mw = ebv;
    double season = rng.uniform(150, 210);
    p.t_peak = rng.uniform(-30, season + 30);
    double from = p.t_peak - rng.uniform(20, 60), to = p.t_peak + (1 + p.z) * rng.uniform(100, 200);
    std::vector<Night> nights = field_nights(from, to, season, depth, rng);
    // The host: M_r ~ N(-20.5, 1), 5-40 % of its light in the supernova's aperture.
    double host_r =
        std::pow(10.0, -0.4 * (rng.normal(-20.5, 1.0) + distance_modulus(p.z) - 22.5)) * rng.uniform(0.05, 0.4);
    lc = observe(p, nights, host_r, rng);
    if (nights.size() >= 3 && detected(lc)) break;
  }
  lc.ra = ra, lc.dec = dec, lc.ebv = ebv;
  // Host photo-z: sigma 0.05 (1+z), 5 % catastrophic outliers.
  lc.host_z = rng.bernoulli(0.05) ? rng.uniform(0.02, 1.2) : std::max(0.0, lc.z + rng.normal(0, 0.05 * (1 + lc.z)));
  fill_missing_bands(lc.rows);
  if (!lc.rows.empty()) {
    double t0 = lc.rows[0].t;
    for (LightCurveRow& row : lc.rows) row.t -= t0;
  }
  return lc;
}

namespace {

TensorsByName realistic_supernovae(int64_t n, uint64_t seed, double depth) {
  Tensor lc(DType::F32, {n, kSnRows, kSnFeatures}), labels(DType::I64, {n});
  for (int64_t s = 0; s < n; ++s) {
    RealisticLightCurve c = realistic_light_curve(s, seed, depth);
    float* out = lc.data<float>() + s * kSnRows * kSnFeatures;
    for (size_t r = 0; r < c.rows.size(); ++r) {
      float* row = out + r * kSnFeatures;
      row[0] = float(c.rows[r].t / 100);
      for (int b = 0; b < 4; ++b) row[1 + b] = float(c.rows[r].flux[b]), row[5 + b] = float(c.rows[r].err[b]);
      row[9] = float(c.ra), row[10] = float(c.dec), row[11] = float(c.ebv), row[12] = float(c.host_z);
    }
    labels.data<int64_t>()[s] = c.type;
  }
  return {{"lc", lc}, {"label", labels}};
}

}  // namespace

TensorsByName simulate_supernova(int64_t n, uint64_t seed, const SimArgs& a) {
  constexpr int T = 40, F = 13;
  double depth = a.number("depth");
  if (a.text("difficulty") == "realistic") return realistic_supernovae(n, seed, depth);
  Tensor lc(DType::F32, {n, T, F}), labels(DType::I64, {n});
  const double peak_mag[3] = {-19.3, -16.9, -17.5}, mag_scatter[3] = {0.15, 0.8, 0.6};
  double f_lim = std::pow(10.0, -0.4 * (depth - 22.5));  // 5-sigma flux, nanomaggies
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "supernova", uint64_t(s));
    int type = int(rng.integer(0, 2));
    double stretch = type == 0 ? rng.uniform(0.8, 1.2) : 1;
    double m_abs = rng.normal(peak_mag[type], mag_scatter[type]) - (type == 0 ? 1.0 * (stretch - 1) : 0);
    // Surveys find what they can see: redraw z until the peak is above the limit.
    double z = 0.1, m_peak = 0;
    for (int tries = 0; tries < 50; ++tries) {
      z = rng.uniform(0.1, 0.9) * (tries < 25 ? 1 : 0.5);
      z = std::max(z, 0.05);
      m_peak = m_abs + distance_modulus(z);
      if (m_peak < depth - 0.7) break;
    }
    double dilation = 1 + z;
    double rise = type == 0 ? rng.uniform(1.5, 3) : type == 1 ? rng.uniform(2, 6) : rng.uniform(2, 4);
    double fall0 = type == 0 ? 16 * stretch : type == 1 ? rng.uniform(60, 140) : rng.uniform(10, 18);
    double plateau_end = rng.uniform(70, 110);
    // Cadence: irregular nights, with weather gaps; the peak falls somewhere in the season.
    int epochs = int(rng.integer(24, T));
    double t_peak = rng.uniform(-15, 60);
    double ra = rng.uniform(0, 2 * M_PI), dec = std::asin(rng.uniform(-1, 1));
    double ebv = rng.exponential(0.04);
    double host_z = std::max(0.0, z + rng.normal(0, 0.03 * (1 + z)));
    float* out = lc.data<float>() + s * T * F;
    double t = 0;
    for (int e = 0; e < epochs; ++e) {
      if (e > 0) t += 1 + rng.exponential(3) + (rng.bernoulli(0.1) ? rng.uniform(5, 15) : 0);
      double sky = f_lim / 5 * rng.uniform(0.7, 1.4);  // this night's sky noise
      out[e * F + 0] = float(t / 100);
      for (int b = 0; b < 4; ++b) {
        double rest = kBands[b] / dilation;
        double colour = sn_sed(type, rest) / sn_sed(type, 4400);
        double amp = std::pow(10.0, -0.4 * (m_peak - 22.5)) * colour;
        // Rest-frame time since peak; redder bands peak later and decline more slowly.
        double red = rest / 4000 - 1;
        double tr = (t - t_peak) / dilation;
        double fall = fall0 * (type == 1 ? std::pow(rest / 4000, 1.0) : 1 + 0.3 * red);
        double shape = bazin(tr, 1.5 * red, rise, fall) / bazin(0, 0, rise, fall);
        if (type == 0 && rest > 6000) shape += 0.4 * bazin(tr, 25, 4, 15);             // Ia secondary maximum
        if (type == 1) shape *= 0.25 + 0.75 / (1 + std::exp((tr - plateau_end) / 5));  // end of the plateau
        double flux = amp * shape * std::pow(10.0, -0.4 * kExtinctionR[b] * ebv);
        double err = std::sqrt(sky * sky + std::max(flux, 0.0) * sky * sky / f_lim);
        out[e * F + 1 + b] = float(flux + err * rng.normal());
        out[e * F + 5 + b] = float(err);
      }
      out[e * F + 9] = float(ra);
      out[e * F + 10] = float(dec);
      out[e * F + 11] = float(ebv);
      out[e * F + 12] = float(host_z);
    }
    labels.data<int64_t>()[s] = type;
  }
  return {{"lc", lc}, {"label", labels}};
}

}  // namespace starc::sim
