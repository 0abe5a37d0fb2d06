#include "runtime/io/spectrum_resample.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "runtime/io/file_io.h"
#include "runtime/param_error.h"

namespace starc {
namespace {

// Bin edges of pixel centres `x` (n + 1 values): half-way between centres, the outer
// ones half a step beyond the first and last centre.
std::vector<double> edges_of(const std::vector<double>& x) {
  size_t n = x.size();
  std::vector<double> e(n + 1);
  for (size_t i = 1; i < n; ++i) e[i] = 0.5 * (x[i - 1] + x[i]);
  e[0] = x[0] - 0.5 * (x[1] - x[0]);
  e[n] = x[n - 1] + 0.5 * (x[n - 1] - x[n - 2]);
  return e;
}

}  // namespace

LogLamGrid parse_loglam_grid(const std::string& text) {
  if (text == "sdss") return {};
  auto bad = [&](const char* why) {
    return ParamError<std::runtime_error>(
        fmt::format("{} {}: {} (expected START,STOP,N in log10 Angstrom, e.g. "
                    "3.5522,4.0139,4618, or sdss)",
                    param_ref("loglam_grid"), text, why));
  };
  double v[3] = {0, 0, 0};
  size_t start = 0;
  for (int k = 0; k < 3; ++k) {
    size_t end = k < 2 ? text.find(',', start) : text.size();
    if (end == std::string::npos) throw bad("three numbers needed");
    auto [p, ec] = std::from_chars(text.data() + start, text.data() + end, v[k]);
    if (ec != std::errc() || p != text.data() + end) throw bad("not a number");
    start = end + 1;
  }
  if (!(v[2] >= 2 && v[2] <= 9007199254740992.0) || !std::isfinite(v[0]) || !std::isfinite(v[1]))
    throw bad("needs START < STOP and a whole N >= 2");
  LogLamGrid g{v[0], v[1], int64_t(v[2])};
  if (double(g.n) != v[2] || !(g.stop > g.start)) throw bad("needs START < STOP and a whole N >= 2");
  // Per pixel: its centre, its bin edge, its flux (doubles) and a coverage byte, before the
  // output's own copy: checked here, not met as std::bad_alloc.
  try {
    check_allocation(uint64_t(g.n) * 33,
                     fmt::format("{} {}: a grid of {} pixels", param_ref("loglam_grid"), text, g.n));
  } catch (const std::runtime_error& e) {
    throw ParamError<std::runtime_error>(e.what());
  }
  return g;
}

ResampledSpectrum resample_spectrum(const std::vector<double>& loglam, const std::vector<double>& flux,
                                    const std::vector<double>& ivar, const LogLamGrid& grid) {
  if (loglam.size() < 2 || loglam.size() != flux.size() || (!ivar.empty() && ivar.size() != flux.size()))
    throw std::runtime_error("resample_spectrum: loglam, flux (and ivar) must have the same length >= 2");
  std::vector<double> centres(size_t(grid.n));
  for (int64_t i = 0; i < grid.n; ++i) centres[size_t(i)] = grid.at(i);
  std::vector<double> in_edges = edges_of(loglam), out_edges = edges_of(centres);
  ResampledSpectrum r;
  r.flux.assign(size_t(grid.n), 0);
  r.covered.assign(size_t(grid.n), 0);
  size_t j = 0, n_in = flux.size();
  for (size_t i = 0; i < size_t(grid.n); ++i) {
    double a = out_edges[i], b = out_edges[i + 1];
    // Overlaps below 1e-9 of a pixel come from edges that coincide up to rounding (the
    // same grid written twice): not data.
    double sliver = 1e-9 * (b - a);
    if (b <= in_edges.front() + sliver || a >= in_edges.back() - sliver) {
      ++r.outside;
      continue;
    }
    while (j < n_in && in_edges[j + 1] <= a) ++j;  // first input bin ending after a
    double weight = 0, sum = 0;
    for (size_t k = j; k < n_in && in_edges[k] < b; ++k) {
      bool usable = std::isfinite(flux[k]) && (ivar.empty() || (std::isfinite(ivar[k]) && ivar[k] > 0));
      if (!usable) continue;
      double w = std::min(b, in_edges[k + 1]) - std::max(a, in_edges[k]);
      if (w > sliver) weight += w, sum += w * flux[k];
    }
    if (weight > 0) {
      r.flux[i] = sum / weight;
      r.covered[i] = 1;
    } else {
      ++r.masked;
    }
  }
  return r;
}

SpectrumNorm parse_spectrum_norm(const std::string& text) {
  if (text == "none") return SpectrumNorm::None;
  if (text == "zero-mean") return SpectrumNorm::ZeroMean;
  if (text == "standardize") return SpectrumNorm::Standardize;
  throw ParamError<std::runtime_error>(
      fmt::format("{} {}: expected none, zero-mean or standardize", param_ref("spectrum_norm"), text));
}

bool normalize_spectrum(ResampledSpectrum& s, SpectrumNorm norm) {
  if (norm == SpectrumNorm::None) return true;
  double n = 0, mean = 0;
  for (size_t i = 0; i < s.flux.size(); ++i)
    if (s.covered[i]) n += 1, mean += s.flux[i];
  if (n == 0) return true;
  mean /= n;
  double var = 0;
  for (size_t i = 0; i < s.flux.size(); ++i)
    if (s.covered[i]) s.flux[i] -= mean, var += s.flux[i] * s.flux[i];
  if (norm == SpectrumNorm::ZeroMean) return true;
  double sd = std::sqrt(var / n);
  if (!(sd > 0)) return false;
  for (size_t i = 0; i < s.flux.size(); ++i)
    if (s.covered[i]) s.flux[i] /= sd;
  return true;
}

}  // namespace starc
