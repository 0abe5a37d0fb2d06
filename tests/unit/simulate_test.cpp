// The simulators (runtime/simulate*.cpp): every task's files have the contract's shapes
// and dtypes; seeds are deterministic and independent; the physics holds where it can
// be measured (emission-line positions, Lyman-alpha forest, 4000 A break, the chirp's
// frequency and amplitude laws and injected SNR, transit depths and durations, PSF
// moments); labels are balanced; and `starc simulate` writes files or fails cleanly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>

#include "runtime/io/npy.h"
#include "runtime/astro/simulate.h"
#include "runtime/astro/simulate_internal.h"
#include "shell_util.h"
#include "temp_dir_test.h"

namespace fs = std::filesystem;
using namespace starc;

namespace {

// The contract's shape text with N and the size symbols replaced.
std::string expected_shape(std::string shape, int64_t n, const std::map<std::string, std::string>& dims) {
  std::string out;
  for (size_t i = 0; i < shape.size(); ++i) {
    char c = shape[i];
    bool symbol = std::isupper(uint8_t(c)) && (shape[i - 1] == '[' || shape[i - 1] == ',') &&
                  (shape[i + 1] == ']' || shape[i + 1] == ',');
    if (!symbol)
      out += c;
    else if (c == 'N')
      out += std::to_string(n);
    else
      out += dims.at(std::string(1, c));
  }
  return out;
}

std::vector<double> values(const Tensor& t) {
  std::vector<double> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i) v[i] = t.get(i);
  return v;
}

double label_fraction(const Tensor& labels, int64_t value) {
  int64_t count = 0;
  for (int64_t i = 0; i < labels.size(); ++i) count += labels.get(i) == double(value);
  return double(count) / double(labels.size());
}

// Index of the grid pixel nearest log10(lambda).
int pixel_of(double loglam) {
  return int(
      std::lround((loglam - sim::kLoglamMin) / (sim::kLoglamMax - sim::kLoglamMin) * (sim::kSpectrumPixels - 1)));
}

}  // namespace

TEST(SimulateShapes, EveryTaskWritesTheContractShapes) {
  struct Case {
    std::string task;
    SimOptions options;
    std::map<std::string, std::string> dims;
  };
  std::vector<Case> cases = {{"spectra", {}, {}},
                             {"spectra", {{"kind", "mixed"}}, {}},
                             {"gw", {}, {{"L", "8192"}}},
                             {"gw", {{"length", "1024"}, {"sample-rate", "2048"}}, {{"L", "1024"}}},
                             {"star_galaxy", {}, {}},
                             {"supernova", {}, {}},
                             {"transients", {}, {}},
                             {"galaxies", {}, {{"S", "64"}}},
                             {"galaxies", {{"size", "32"}}, {{"S", "32"}}},
                             {"lenses", {}, {{"S", "64"}}},
                             {"transits", {}, {{"L", "2001"}}},
                             {"transits", {{"length", "501"}}, {{"L", "501"}}},
                             {"flares", {}, {}},
                             {"seds", {}, {{"B", "16"}}},
                             {"seds", {{"bands", "8"}}, {{"B", "8"}}},
                             {"photoz", {}, {}}};
  std::set<std::string> covered;
  for (auto& c : cases) {
    auto data = simulate(c.task, 3, 1, c.options);
    const SimTaskSpec* spec = find_simulation_task(c.task);
    ASSERT_NE(spec, nullptr);
    EXPECT_EQ(data.size(), spec->files.size()) << c.task;
    for (auto& f : spec->files) {
      ASSERT_TRUE(data.count(f.name)) << c.task << " " << f.name;
      EXPECT_EQ(type_str(data[f.name].type()), expected_shape(f.shape, 3, c.dims)) << c.task << " " << f.name;
      for (double v : values(data[f.name])) ASSERT_TRUE(std::isfinite(v)) << c.task << " " << f.name;
    }
    covered.insert(c.task);
  }
  EXPECT_EQ(covered.size(), simulation_tasks().size());
}

TEST(SimulateDeterminism, SameSeedSameBytesOtherSeedOtherData) {
  for (auto& t : simulation_tasks()) {
    auto a = simulate(t.name, 4, 7, {}), b = simulate(t.name, 4, 7, {}), c = simulate(t.name, 4, 8, {});
    auto prefix = simulate(t.name, 2, 7, {});
    for (auto& f : t.files) {
      EXPECT_EQ(serialize_npy(a[f.name]), serialize_npy(b[f.name])) << t.name << " " << f.name;
      if (f.name == "loglam") continue;  // the wavelength grid is fixed
      // Labels of 4 samples may agree by chance; the data itself must not.
      if (f.name != "label") {
        EXPECT_NE(serialize_npy(a[f.name]), serialize_npy(c[f.name])) << t.name << " " << f.name;
      }
      // Sample i depends only on (seed, i): the first 2 of 4 are the 2 of a run with --n 2.
      const Tensor& p = prefix[f.name];
      for (int64_t i = 0; i < p.size(); ++i) ASSERT_EQ(p.get(i), a[f.name].get(i)) << t.name << " " << f.name;
    }
  }
}

TEST(SimulateOptions, BadValuesGiveOneLineErrors) {
  auto message = [](const std::string& task, int64_t n, SimOptions o) {
    try {
      simulate(task, n, 0, o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("spectrum", 1, {}).find("unknown simulation task 'spectrum'"), std::string::npos);
  EXPECT_NE(message("gw", 0, {}).find("--n must be > 0"), std::string::npos);
  EXPECT_NE(message("gw", 1, {{"snr", "-2"}}).find("gw --snr -2: must be > 0"), std::string::npos);
  EXPECT_NE(message("gw", 1, {{"snr", "abc"}}).find("expected a number"), std::string::npos);
  EXPECT_NE(message("gw", 1, {{"kind", "qso"}}).find("gw has no option --kind"), std::string::npos);
  EXPECT_NE(message("spectra", 1, {{"kind", "star"}}).find("expected one of qso, galaxy, mixed"), std::string::npos);
  EXPECT_NE(message("spectra", 1, {{"z-min", "2"}, {"z-max", "1"}}).find("must be below --z-max"), std::string::npos);
  EXPECT_NE(message("spectra", 1, {{"z-min", "5"}}).find("not below the default --z-max 4 for quasars"),
            std::string::npos);
  EXPECT_NE(message("spectra", 1, {{"kind", "mixed"}, {"z-min", "2"}}).find("default --z-max 1 for galaxies"),
            std::string::npos);
  EXPECT_EQ(message("spectra", 1, {{"kind", "qso"}, {"z-min", "2"}}), "no error");
  EXPECT_NE(message("flares", 1, {{"positive-fraction", "1.5"}}).find("between 0 and 1"), std::string::npos);
  EXPECT_NE(message("galaxies", 1, {{"size", "12.5"}}).find("whole number"), std::string::npos);
}

TEST(SimulateSpectra, QuasarLinesSitAtTheirRedshiftedWavelengths) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    sim::Rng rng(seed, "test", 0);
    for (auto [z, rest] : {std::pair{2.5, 1215.67}, std::pair{1.5, 1549.1}, std::pair{0.6, 2798.8}}) {
      sim::Spectrum s = sim::quasar_spectrum(z, rng);
      int expected = pixel_of(std::log10((1 + z) * rest));
      int lo = expected - 60, hi = expected + 60;
      int peak = int(std::max_element(s.flux.begin() + lo, s.flux.begin() + hi) - s.flux.begin());
      EXPECT_LE(std::abs(peak - expected), 1) << "z " << z << " line " << rest << " seed " << seed;
    }
  }
}

TEST(SimulateSpectra, LymanAlphaForestAbsorbsBlueward) {
  double blue = 0, red = 0;
  int spectra = 20;
  for (int k = 0; k < spectra; ++k) {
    sim::Rng rng(11, "test", uint64_t(k));
    const double z = 3.0;
    sim::Spectrum s = sim::quasar_spectrum(z, rng);
    double b = 0, r = 0;
    int nb = 0, nr = 0;
    for (int i = 0; i < sim::kSpectrumPixels; ++i) {
      double rest = std::pow(10.0, sim::spectrum_loglam(i)) / (1 + z);
      double ratio = s.flux[i] / s.continuum[i];
      if (rest > 1060 && rest < 1170) b += ratio, ++nb;
      if (rest > 1260 && rest < 1370) r += ratio, ++nr;  // between N V and Si IV: little line flux
    }
    blue += b / nb / spectra, red += r / nr / spectra;
  }
  // Mean transmission at z_abs ~ 2.5-2.85: exp(-tau_eff) ~ 0.75 for tau_eff = 0.0018 (1+z)^3.92.
  EXPECT_LT(blue, 0.9);
  EXPECT_GT(blue, 0.55);
  EXPECT_GT(red, 0.98);
  // Without the forest the same region keeps its continuum.
  sim::Rng rng(11, "test", 0);
  sim::Spectrum bare = sim::quasar_spectrum(3.0, rng, false);
  int i = pixel_of(std::log10(4.0 * 1100));
  EXPECT_NEAR(bare.flux[i] / bare.continuum[i], 1.0, 0.05);
}

TEST(SimulateSpectra, GalaxyHasTheFourThousandAngstromBreakInPlace) {
  for (double z : {0.1, 0.3, 0.7}) {
    sim::Rng rng(3, "test", uint64_t(z * 10));
    sim::Spectrum s = sim::galaxy_spectrum(z, rng, 1.0);
    // The largest ratio of the mean flux in 30 pixels after to 30 before.
    int best = 0;
    double best_ratio = 0;
    for (int j = 30; j + 30 < sim::kSpectrumPixels; ++j) {
      double before = std::accumulate(s.flux.begin() + j - 30, s.flux.begin() + j, 0.0);
      double after = std::accumulate(s.flux.begin() + j, s.flux.begin() + j + 30, 0.0);
      if (after / before > best_ratio) best_ratio = after / before, best = j;
    }
    EXPECT_NEAR(sim::spectrum_loglam(best), std::log10(4000 * (1 + z)), 0.005) << "z " << z;
    // D_n(4000): flux in 4000-4100 A over 3850-3950 A (rest).
    double hi = 0, lo = 0;
    for (int i = 0; i < sim::kSpectrumPixels; ++i) {
      double rest = std::pow(10.0, sim::spectrum_loglam(i)) / (1 + z);
      if (rest > 4000 && rest < 4100) hi += s.flux[i];
      if (rest > 3850 && rest < 3950) lo += s.flux[i];
    }
    EXPECT_GT(hi / lo, 1.4) << "z " << z;
  }
}

TEST(SimulateSpectra, FluxIsZeroMeanUnitVarianceAndLabelsMatchKind) {
  auto d = simulate("spectra", 40, 2, {{"kind", "mixed"}});
  for (int s = 0; s < 40; ++s) {
    double mean = 0, var = 0;
    for (int i = 0; i < 4618; ++i) mean += d["flux"].get(s * 4618 + i) / 4618;
    for (int i = 0; i < 4618; ++i) var += std::pow(d["flux"].get(s * 4618 + i) - mean, 2) / 4618;
    EXPECT_NEAR(mean, 0, 1e-4);
    EXPECT_NEAR(var, 1, 1e-3);
    double z = d["z"].get(s);
    if (d["label"].get(s) == 1)
      EXPECT_TRUE(z >= 0.5 && z <= 4) << z;
    else
      EXPECT_TRUE(z >= 0.05 && z <= 1) << z;
  }
  EXPECT_NEAR(label_fraction(d["label"], 1), 0.5, 0.25);
  EXPECT_NEAR(d["loglam"].get(0), 3.5522, 1e-6);
  EXPECT_NEAR(d["loglam"].get(4617), 4.0139, 1e-6);
  auto g = simulate("spectra", 5, 2, {{"kind", "galaxy"}, {"z-min", "0.2"}, {"z-max", "0.3"}});
  for (int s = 0; s < 5; ++s) {
    EXPECT_EQ(g["label"].get(s), 0);
    EXPECT_TRUE(g["z"].get(s) >= 0.2 && g["z"].get(s) <= 0.3);
  }
}

TEST(SimulateGw, ChirpFollowsTheInspiralLaws) {
  const double fs = 8192, t_c = 0.9, mc = 20;
  std::vector<double> h = sim::gw_chirp(mc, t_c, fs, 8192, 0.3);
  // Zero crossings (interpolated) give half periods: f = 1 / (2 dt) at the midpoint.
  std::vector<double> crossings;
  for (int j = 1; j < int(h.size()); ++j)
    if ((h[j - 1] < 0) != (h[j] < 0) && h[j - 1] != 0) crossings.push_back((j - 1 + h[j - 1] / (h[j - 1] - h[j])) / fs);
  std::vector<double> log_tau, log_f, log_amp;
  for (size_t k = 0; k + 1 < crossings.size(); ++k) {
    double t = 0.5 * (crossings[k] + crossings[k + 1]), tau = t_c - t;
    if (t < 0.15 || tau < 0.05) continue;  // away from the tapers
    log_tau.push_back(std::log(tau));
    log_f.push_back(std::log(1 / (2 * (crossings[k + 1] - crossings[k]))));
    double amp = 0;
    for (int j = int(crossings[k] * fs); j <= int(crossings[k + 1] * fs) + 1; ++j) amp = std::max(amp, std::abs(h[j]));
    log_amp.push_back(std::log(amp));
  }
  ASSERT_GT(log_tau.size(), 20u);
  auto slope = [](const std::vector<double>& x, const std::vector<double>& y) {
    double mx = std::accumulate(x.begin(), x.end(), 0.0) / x.size(),
           my = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
    return sxy / sxx;
  };
  EXPECT_NEAR(slope(log_tau, log_f), -3.0 / 8, 0.1 * 3.0 / 8);
  EXPECT_NEAR(slope(log_f, log_amp), 2.0 / 3, 0.1 * 2.0 / 3);
  // The measured frequency matches the formula at some point (the right constant).
  EXPECT_NEAR(std::exp(log_f[log_f.size() / 2]), sim::gw_frequency(mc, std::exp(log_tau[log_tau.size() / 2])),
              0.03 * std::exp(log_f[log_f.size() / 2]));
}

TEST(SimulateGw, InjectionHasTheRequestedSnrInUnitNoise) {
  const double snr = 10, fs = 8192;
  const int L = 8192;
  sim::Rng rng(5, "test", 0);
  sim::GwSample g = sim::gw_sample(15, snr, fs, L, rng);
  double norm = std::sqrt(std::inner_product(g.injection.begin(), g.injection.end(), g.injection.begin(), 0.0));
  ASSERT_GT(norm, 0);
  // Matched filter with the unit template: signal part over the noise's scatter (from
  // 300 noise-only series), and the noise variance per sample.
  double signal = 0;
  for (int j = 0; j < L; ++j) signal += g.injection[j] / norm * g.injection[j];
  double sum2 = 0, var = 0;
  const int trials = 300;
  for (int k = 0; k < trials; ++k) {
    sim::Rng r(6, "test", uint64_t(k));
    sim::GwSample n = sim::gw_sample(0, snr, fs, L, r);
    double proj = 0;
    for (int j = 0; j < L; ++j) proj += n.strain[j] * g.injection[j] / norm, var += n.strain[j] * n.strain[j];
    sum2 += proj * proj;
  }
  double measured = signal / std::sqrt(sum2 / trials);
  EXPECT_NEAR(measured, snr, 0.1 * snr);
  EXPECT_NEAR(var / (double(trials) * L), 1.0, 0.03);
  // The strain is noise plus exactly the injection.
  sim::Rng again(5, "test", 0);
  sim::GwSample same = sim::gw_sample(15, snr, fs, L, again);
  EXPECT_EQ(same.strain, g.strain);
}

TEST(SimulateGw, LabelsAreBalancedAndChirpMassesInRange) {
  auto d = simulate("gw", 300, 4, {{"length", "1024"}, {"sample-rate", "2048"}});
  EXPECT_NEAR(label_fraction(d["label"], 1), 0.5, 0.09);
  for (int s = 0; s < 300; ++s) {
    double mc = d["chirp_mass"].get(s);
    if (d["label"].get(s) == 1)
      EXPECT_TRUE(mc >= 5 && mc <= 40) << mc;
    else
      EXPECT_EQ(mc, 0);
  }
}

TEST(SimulateTransits, DepthIsTheRadiusRatioSquaredAndDurationTheOrbits) {
  const double k = 0.1, b = 0.3, period = 10, rho = 1;
  const int L = 2001;
  std::vector<double> f = sim::transit_model(k, b, period, rho, L);
  EXPECT_NEAR(*std::min_element(f.begin(), f.end()), -k * k, 1e-12);
  EXPECT_EQ(f[0], 0);
  // Duration: the small-angle formula T14/P = (R*/a) sqrt((1+k)^2 - b^2) / pi with a/R*
  // from Kepler's law (a/R* = 17.7 for P = 10 d around the Sun).
  double a_r = std::cbrt(6.674e-8 * 1.41 * std::pow(period * 86400, 2) / (3 * M_PI));
  double t14 = std::sqrt((1 + k) * (1 + k) - b * b) / a_r / M_PI;
  int in_transit = 0;
  for (double v : f) in_transit += v < 0;
  EXPECT_NEAR(in_transit, t14 * L, 2.0);
  EXPECT_NEAR(sim::transit_duration_fraction(k, b, period, rho), t14, 0.01 * t14);
  // With noise, in the task: planets' central bins sit well below the out-of-transit level.
  auto d = simulate("transits", 200, 9, {});
  double planet = 0, other = 0;
  int np = 0, no = 0;
  for (int s = 0; s < 200; ++s) {
    double centre = d["flux"].get(s * L + (L - 1) / 2);
    if (d["label"].get(s) == 1)
      planet += centre, ++np;
    else
      other += centre, ++no;
  }
  EXPECT_NEAR(double(np) / 200, 0.5, 0.11);
  EXPECT_LT(planet / np, -2.0);
}

TEST(SimulateImages, StarsHaveThePsfMomentsAndGalaxiesLarger) {
  for (double sigma : {1.0, 1.5}) {
    sim::Image star(44, 44);
    sim::add_point_source(star, 21.3, 21.8, 100, sigma);
    auto [xx, yy] = sim::second_moments(star);
    double psf = sim::psf_second_moment(sigma) + 1.0 / 12;  // + the pixel's own
    EXPECT_NEAR(xx, psf, 0.02 * psf);
    EXPECT_NEAR(yy, psf, 0.02 * psf);
    // A point source blurred by the PSF is the same as the rendered PSF.
    sim::Image dot(44, 44);
    dot.at(21, 21) = 100;
    auto [cx, cy] = sim::second_moments(sim::convolve_psf(dot, sigma));
    EXPECT_NEAR(cx, psf, 0.02 * psf);
    for (double n : {1.0, 4.0}) {
      sim::Image gal(44, 44);
      sim::add_sersic(gal, 21.5, 21.5, 100, 1.5, n, 0.8, 0.3);
      auto [gx, gy] = sim::second_moments(sim::convolve_psf(gal, sigma));
      EXPECT_GT(gx + gy, 1.3 * 2 * psf) << "n " << n << " sigma " << sigma;
    }
  }
  // Sersic flux normalisation: a small galaxy keeps (nearly) all its flux in the stamp.
  sim::Image gal(44, 44);
  sim::add_sersic(gal, 21.5, 21.5, 100, 2, 1, 0.7, 0.5);
  EXPECT_NEAR(std::accumulate(gal.pix.begin(), gal.pix.end(), 0.0), 100, 1.0);
}

TEST(SimulateImages, StarGalaxyLabelsBalancedAndGalaxiesAreMoreExtended) {
  auto d = simulate("star_galaxy", 300, 5, {});
  EXPECT_NEAR(label_fraction(d["label"], 1), 0.5, 0.09);
  // r-band concentration: the central 3x3 pixels' share of the central 11x11 flux.
  double share[2] = {0, 0};
  int count[2] = {0, 0};
  for (int s = 0; s < 300; ++s) {
    const float* r = d["img"].data<float>() + (s * 5 + 2) * 44 * 44;
    double inner = 0, outer = 0;
    for (int y = 16; y < 27; ++y)
      for (int x = 16; x < 27; ++x) (std::abs(x - 21.5) < 2 && std::abs(y - 21.5) < 2 ? inner : outer) += r[y * 44 + x];
    int lab = int(d["label"].get(s));
    share[lab] += inner / (inner + outer), ++count[lab];
  }
  EXPECT_GT(share[0] / count[0], share[1] / count[1] + 0.03);
}

TEST(SimulateImages, TransientsGalaxiesAndLensesAreBalancedAndSane) {
  auto t = simulate("transients", 300, 6, {});
  EXPECT_NEAR(label_fraction(t["label"], 1), 0.5, 0.09);
  auto l = simulate("lenses", 200, 6, {{"size", "48"}});
  EXPECT_NEAR(label_fraction(l["label"], 1), 0.5, 0.11);
  auto g = simulate("galaxies", 20, 6, {});
  for (int s = 0; s < 20; ++s) {
    const float* img = g["img"].data<float>() + s * 64 * 64;
    const float* mask = g["mask"].data<float>() + s * 64 * 64;
    double on = 0, off = 0, n_on = 0;
    for (int i = 0; i < 64 * 64; ++i) (mask[i] > 0 ? on : off) += img[i], n_on += mask[i];
    EXPECT_GT(n_on, 20) << s;                                    // the galaxy covers pixels
    EXPECT_GT(on / n_on, 5 * std::abs(off) / (64 * 64 - n_on));  // and they are the bright ones
    EXPECT_EQ(mask[(31 * 64) + 31] + mask[32 * 64 + 32] > 0, true);
  }
}

// Axis ratio (minor / major) of an image's light inside its mask, from second moments.
double moment_axis_ratio(const float* img, const float* mask, int S) {
  double w = 0, mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      double v = mask[y * S + x] > 0 ? img[y * S + x] : 0;
      w += v, mx += v * x, my += v * y;
    }
  mx /= w, my /= w;
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      double v = mask[y * S + x] > 0 ? img[y * S + x] : 0;
      xx += v * (x - mx) * (x - mx), yy += v * (y - my) * (y - my), xy += v * (x - mx) * (y - my);
    }
  double tr = (xx + yy) / w, det = (xx * yy - xy * xy) / (w * w), d = std::sqrt(std::max(tr * tr / 4 - det, 0.0));
  return std::sqrt((tr / 2 - d) / (tr / 2 + d));
}

// The morphology classes (GalaxyMobileNet's labels): 0 bulge-dominated, 1 face-on disk,
// 2 edge-on disk in the proportions the parameter draws give (B/T >= 0.6: 0.2 + 0.8 *
// 0.3 / 0.9; axis ratio < 0.5 of the rest: 0.3 / 0.8), and edge-on disks look elongated.
TEST(SimulateImages, GalaxyMorphologyClassesFollowTheShapes) {
  const int n = 600;
  auto g = simulate("galaxies", n, 8, {});
  const Tensor& m = g.at("morphology");
  ASSERT_EQ(m.dtype(), DType::I64);
  EXPECT_NEAR(label_fraction(m, 0), 0.2 + 0.8 * 0.3 / 0.9, 0.05);
  EXPECT_NEAR(label_fraction(m, 2), (1 - (0.2 + 0.8 * 0.3 / 0.9)) * 0.3 / 0.8, 0.05);
  double ratio[3] = {0, 0, 0}, count[3] = {0, 0, 0};
  for (int s = 0; s < n; ++s) {
    int64_t c = m.data<int64_t>()[s];
    ASSERT_TRUE(c >= 0 && c <= 2) << s;
    ratio[c] += moment_axis_ratio(g["img"].data<float>() + s * 64 * 64, g["mask"].data<float>() + s * 64 * 64, 64);
    count[c] += 1;
  }
  for (int c = 0; c < 3; ++c) ratio[c] /= count[c];
  EXPECT_LT(ratio[2], ratio[1] - 0.15) << "edge-on " << ratio[2] << " vs face-on " << ratio[1];
  EXPECT_LT(ratio[2], ratio[0] - 0.15) << "edge-on " << ratio[2] << " vs bulge-dominated " << ratio[0];
}

TEST(SimulateTabular, FlarePositiveFractionAndSupernovaClasses) {
  auto f = simulate("flares", 20000, 3, {});
  EXPECT_NEAR(label_fraction(f["label"], 1), 0.05, 0.005);
  auto f2 = simulate("flares", 5000, 3, {{"positive-fraction", "0.3"}});
  EXPECT_NEAR(label_fraction(f2["label"], 1), 0.3, 0.02);
  // Flaring regions have more unsigned flux (feature 0, USFLUX).
  double mean[2] = {0, 0}, n[2] = {0, 0};
  for (int s = 0; s < 5000; ++s) {
    int lab = int(f2["label"].get(s));
    mean[lab] += f2["features"].get(s * 25), ++n[lab];
  }
  EXPECT_GT(mean[1] / n[1], mean[0] / n[0] + 1.0);
  auto sn = simulate("supernova", 900, 3, {});
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(label_fraction(sn["label"], c), 1.0 / 3, 0.06) << c;
  // Days since the first observation start at 0 and increase; padding rows are zero.
  const float* lc = sn["lc"].data<float>();
  EXPECT_EQ(lc[0], 0.0f);
  EXPECT_GT(lc[13], 0.0f);
  auto p = simulate("photoz", 500, 3, {});
  for (int s = 0; s < 500; ++s) {
    EXPECT_TRUE(p["z"].get(s) >= 0 && p["z"].get(s) <= 1.2);
    EXPECT_TRUE(p["mags"].get(s * 5 + 2) > 15.5 && p["mags"].get(s * 5 + 2) < 22.5) << p["mags"].get(s * 5 + 2);
  }
  auto seds = simulate("seds", 50, 3, {});
  for (int s = 0; s < 50; ++s) {
    double mx = 0;
    for (int b = 0; b < 16; ++b) mx = std::max(mx, seds["sed"].get(s * 16 + b));
    EXPECT_NEAR(mx, 1.0, 0.15);
  }
}

namespace {
class SimulateCli : public test::TempDirTest {
 protected:
  SimulateCli() : TempDirTest("starc_simulate_") {}
};
}  // namespace

TEST_F(SimulateCli, WritesTheTaskFilesAndFailsCleanly) {
  auto r = test::run_starc(STARC_SOURCE_DIR, "simulate spectra --n 4 --seed 3 -o " + test::quote(path("out")));
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"flux", "z", "label", "loglam"})
    EXPECT_TRUE(fs::exists(path("out/" + std::string(f) + ".npy"))) << r.out;
  Tensor flux = read_npy(path("out/flux.npy"));
  EXPECT_EQ(type_str(flux.type()), "f32[4,1,4618]");
  EXPECT_EQ(serialize_npy(flux), serialize_npy(simulate("spectra", 4, 3, {})["flux"]));
  // Task options in any position.
  r = test::run_starc(STARC_SOURCE_DIR,
                      "simulate --snr 5 gw --length 512 --sample-rate 2048 --n 2 -o " + test::quote(path("gw")));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(type_str(read_npy(path("gw/strain.npy")).type()), "f32[2,1,512]");
  r = test::run_starc(STARC_SOURCE_DIR, "simulate --list");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("photoz:"), std::string::npos) << r.out;

  test::expect_starc_error(STARC_SOURCE_DIR, "simulate nebula --n 4 -o " + test::quote(path("x")),
                           "unknown simulation task 'nebula'");
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate gw --n 0 -o " + test::quote(path("x")), "--n must be > 0");
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate gw --n 2 --snr 0 -o " + test::quote(path("x")),
                           "gw --snr 0: must be > 0");
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate flares --n 2 --kind qso -o " + test::quote(path("x")),
                           "flares has no option --kind");
  write("file", "not a folder");
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate flares --n 2 -o " + test::quote(path("file/sub")),
                           "cannot create output folder");
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate flares --n 2", "-o DIR is required");
}
