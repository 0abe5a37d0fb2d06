// Writes simulated SDSS-like quasar spectra as an .npy of shape [N, 1, 4618] (and, with
// --labels, their redshifts as an .npy of shape [N, 1]): flux on
// the log-uniform grid 360-1032.5 nm, a power-law continuum, broad emission lines
// redshifted by a random z in [0.5, 4], Lyman-alpha forest absorption blueward of
// Lya, Gaussian noise, then zero-mean unit-variance normalisation per spectrum.
// (The full simulator with galaxies and labels is stdlib work; this feeds the example.)
#include <fmt/format.h>

#include <cmath>
#include <random>
#include <string>

#include "runtime/npy.h"

int main(int argc, char** argv) {
  int n = 2;
  uint64_t seed = 0;
  std::string out = "flux.npy", labels;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--n") n = std::stoi(argv[i + 1]);
    else if (a == "--seed") seed = std::stoull(argv[i + 1]);
    else if (a == "-o") out = argv[i + 1];
    else if (a == "--labels") labels = argv[i + 1];
    else { fmt::print(stderr, "usage: make_spectra [--n N] [--seed S] [-o FILE.npy] [--labels Z.npy]\n"); return 1; }
  }
  const int L = 4618;
  const double lo = std::log10(3600.0), hi = std::log10(10325.0);  // Angstrom
  const double lines[][2] = {{1215.7, 8}, {1549.0, 3}, {1908.7, 1.5}, {2799.1, 2}, {4862.7, 1}, {6564.6, 2}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uz(0.5, 4.0);
  std::normal_distribution<double> noise(0, 1);
  starc::Tensor flux(starc::DType::F32, {n, 1, L}), zs(starc::DType::F32, {n, 1});
  for (int s = 0; s < n; ++s) {
    double z = uz(rng);
    zs.set(s, z);
    std::vector<double> f(L);
    for (int i = 0; i < L; ++i) {
      double lam = std::pow(10.0, lo + (hi - lo) * i / (L - 1));
      double rest = lam / (1 + z);
      double v = std::pow(rest / 1450.0, -1.5);
      for (auto& [l0, amp] : lines) v += amp * std::exp(-0.5 * std::pow((rest - l0) / (l0 * 0.01), 2));
      if (rest < 1215.7) v *= std::exp(-0.3 * std::pow(1 + z, 1.5) * std::abs(noise(rng)));
      f[i] = v + 0.05 * noise(rng);
    }
    double mean = 0, var = 0;
    for (double v : f) mean += v / L;
    for (double v : f) var += (v - mean) * (v - mean) / L;
    for (int i = 0; i < L; ++i) flux.set(int64_t(s) * L + i, (f[i] - mean) / std::sqrt(var));
    if (n <= 8) fmt::print("spectrum {}: true z = {:.3f}\n", s, z);
  }
  starc::write_npy(out, flux);
  fmt::print("wrote {} ({} spectra x 4618 pixels)\n", out, n);
  if (!labels.empty()) {
    starc::write_npy(labels, zs);
    fmt::print("wrote {} (their redshifts)\n", labels);
  }
  return 0;
}
