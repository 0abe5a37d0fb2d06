// runtime: the time-series simulators — `gw` (inspiral chirps in coloured detector noise,
// whitened), `transits` (phase-folded planet transits and their false positives) and
// `supernova` (Bazin light curves of Ia, II and Ibc in g r i z) (docs/simulators.md).
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

TensorsByName simulate_supernova(int64_t n, uint64_t seed, const SimArgs& a) {
  constexpr int T = 40, F = 13;
  double depth = a.number("depth");
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
