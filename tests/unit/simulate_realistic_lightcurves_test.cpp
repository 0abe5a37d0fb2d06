// The supernova simulator's --difficulty option (runtime/astro/simulate_timeseries.cpp,
// docs/simulators.md "Difficulty"): easy output is byte for byte what it was before the
// option existed; realistic output is deterministic and has the survey properties the
// docs state — long gaps (weather, shutdowns, seasons), a 5-sigma depth that varies
// night to night by the documented scatter, host light in the errors and in the
// subtracted flux, a detection-limited sample that is mostly faint, and missing bands
// filled the way `starc convert` fills real tables.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <vector>

#include "runtime/astro/simulate.h"
#include "runtime/astro/simulate_internal.h"
#include "runtime/io/npy.h"
#include "shell_util.h"
#include "temp_dir_test.h"

using namespace starc;

namespace {

constexpr int kRows = 40, kFeatures = 13;
const SimOptions kRealistic = {{"difficulty", "realistic"}};
// Dark-sky background in the photometry aperture, g r i z (nanomaggies), as the simulator.
constexpr double kApertureSky[4] = {4.8, 11.0, 22.9, 100.0};

uint64_t fnv1a(const void* data, size_t bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < bytes; ++i) h = (h ^ static_cast<const uint8_t*>(data)[i]) * 0x100000001b3ull;
  return h;
}

uint64_t hash_of(const Tensor& t) {
  size_t bytes = size_t(t.size()) * (t.type().dtype == DType::F32 ? sizeof(float) : sizeof(int64_t));
  return t.type().dtype == DType::F32 ? fnv1a(t.data<float>(), bytes) : fnv1a(t.data<int64_t>(), bytes);
}

// Rows that hold an observation: the first, then every row with a time after it.
int rows_of(const float* curve) {
  int rows = 1;
  while (rows < kRows && curve[rows * kFeatures] > 0) ++rows;
  return rows;
}

double longest_gap_days(const float* curve) {
  double gap = 0;
  for (int r = 1, n = rows_of(curve); r < n; ++r)
    gap = std::max(gap, 100.0 * (curve[r * kFeatures] - curve[(r - 1) * kFeatures]));
  return gap;
}

// The largest flux / error over the rows and bands of one curve.
double peak_snr(const float* curve) {
  double best = 0;
  for (int r = 0, n = rows_of(curve); r < n; ++r)
    for (int b = 0; b < 4; ++b) {
      float err = curve[r * kFeatures + 5 + b];
      if (err > 0) best = std::max(best, double(curve[r * kFeatures + 1 + b]) / err);
    }
  return best;
}

double fraction_of(const Tensor& lc, const std::function<bool(const float*)>& pass) {
  int64_t n = lc.type().shape[0], count = 0;
  for (int64_t s = 0; s < n; ++s) count += pass(lc.data<float>() + s * kRows * kFeatures);
  return double(count) / double(n);
}

double stdev(const std::vector<double>& v) {
  double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()), ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / double(v.size() - 1));
}

}  // namespace

// Hashes (FNV-1a of the raw bytes) of `starc simulate supernova` output taken before the
// option was added: the default stays byte-identical for every seed and option.
TEST(SimulateRealisticLightCurves, EasyOutputIsUnchanged) {
  struct Pinned {
    uint64_t seed;
    SimOptions options;
    uint64_t lc, label;
  };
  const Pinned pinned[] = {
      {1, {}, 0x9fb5e0802574d63full, 0x76d774f0f8395ee7ull},
      {7, {{"difficulty", "easy"}}, 0xee1936e229b6524bull, 0x13fc77198b00524ull},
      {3, {{"depth", "23"}}, 0x4cece7d99567b832ull, 0x3e16fa9e80a74284ull},
  };
  for (const Pinned& p : pinned) {
    auto sn = simulate("supernova", 64, p.seed, p.options);
    EXPECT_EQ(hash_of(sn["lc"]), p.lc) << "seed " << p.seed;
    EXPECT_EQ(hash_of(sn["label"]), p.label) << "seed " << p.seed;
  }
}

TEST(SimulateRealisticLightCurves, DeterministicPrefixStableAndBalanced) {
  auto a = simulate("supernova", 900, 5, kRealistic);
  EXPECT_EQ(type_str(a["lc"].type()), "f32[900,40,13]");
  EXPECT_EQ(type_str(a["label"].type()), "i64[900]");
  auto again = simulate("supernova", 900, 5, kRealistic);
  EXPECT_EQ(hash_of(a["lc"]), hash_of(again["lc"]));
  auto prefix = simulate("supernova", 50, 5, kRealistic);
  EXPECT_TRUE(std::equal(prefix["lc"].data<float>(), prefix["lc"].data<float>() + 50 * kRows * kFeatures,
                         a["lc"].data<float>()));
  EXPECT_NE(hash_of(simulate("supernova", 50, 6, kRealistic)["lc"]), hash_of(prefix["lc"]));
  EXPECT_NE(hash_of(simulate("supernova", 50, 5, {})["lc"]), hash_of(prefix["lc"]));
  for (int c = 0; c < 3; ++c) {
    int64_t count = 0;
    for (int s = 0; s < 900; ++s) count += a["label"].data<int64_t>()[s] == c;
    EXPECT_NEAR(double(count) / 900, 1.0 / 3, 0.06) << c;
  }
  // Rows start at day 0, increase, and padding rows are zero.
  for (int s = 0; s < 900; ++s) {
    const float* curve = a["lc"].data<float>() + s * kRows * kFeatures;
    int n = rows_of(curve);
    EXPECT_GE(n, 3) << s;
    EXPECT_EQ(curve[0], 0.0f);
    for (int r = n; r < kRows; ++r)
      for (int f = 0; f < kFeatures; ++f) ASSERT_EQ(curve[r * kFeatures + f], 0.0f) << s << " row " << r;
  }
}

// Weather spells and shutdowns leave gaps of over 20 days in most curves (about 60 %); a
// light curve that runs past its season's end resumes a season later (gaps over 100
// days, about a quarter of the curves). Easy curves have no seasons and fewer long gaps.
TEST(SimulateRealisticLightCurves, LongGapsAndSeasonalGapsInMostCurves) {
  auto real = simulate("supernova", 2000, 11, kRealistic)["lc"];
  auto easy = simulate("supernova", 2000, 11, {})["lc"];
  double over20 = fraction_of(real, [](const float* c) { return longest_gap_days(c) > 20; });
  double seasonal = fraction_of(real, [](const float* c) { return longest_gap_days(c) > 100; });
  EXPECT_GT(over20, 0.55);
  EXPECT_GT(seasonal, 0.10);
  EXPECT_LT(seasonal, 0.45);
  EXPECT_EQ(fraction_of(easy, [](const float* c) { return longest_gap_days(c) > 100; }), 0.0);
  EXPECT_LT(fraction_of(easy, [](const float* c) { return longest_gap_days(c) > 20; }), over20 - 0.3);
}

// The 5-sigma depth implied by the written errors (m5 = 22.5 - 2.5 log10(5 err)) where
// neither the supernova nor the host adds noise, and its night-to-night scatter within a
// curve: about 0.42 mag in g (moon, seeing, cloud) falling to 0.24 in z (seeing, cloud).
TEST(SimulateRealisticLightCurves, DepthVariesNightToNightByTheDocumentedScatter) {
  const double documented[4] = {0.42, 0.32, 0.26, 0.24};
  std::vector<double> scatter[4];
  int checked = 0;
  for (int s = 0; s < 600; ++s) {
    sim::RealisticLightCurve c = sim::realistic_light_curve(s, 21, 24.5);
    for (int b = 0; b < 4; ++b) {
      std::vector<double> m5;
      for (const sim::LightCurveRow& row : c.rows) {
        if (!row.observed[b]) continue;
        m5.push_back(row.m5[b]);
        double quiet = (std::max(row.model[b], 0.0) + c.host_flux[b]) / kApertureSky[b];
        if (quiet > 0.01) continue;
        EXPECT_NEAR(22.5 - 2.5 * std::log10(5 * row.err[b]), row.m5[b], 0.006);
        ++checked;
      }
      if (m5.size() >= 8) scatter[b].push_back(stdev(m5));
    }
  }
  EXPECT_GT(checked, 1000);
  for (int b = 0; b < 4; ++b) {
    std::sort(scatter[b].begin(), scatter[b].end());
    double median = scatter[b][scatter[b].size() / 2];
    EXPECT_NEAR(median, documented[b], 0.03) << "band " << b << ": " << median;
    std::printf("band %d: median night-to-night depth rms %.3f mag\n", b, median);
  }
}

// Every object has a host; its photons inflate the errors, and what the subtraction leaves
// (a constant offset plus nightly residuals, neither in the errors) shows in the flux
// where the supernova is faint: bright hosts (over 3 nanomaggies in the aperture, r < 21.3)
// scatter more than their errors say, faint ones (under 0.3) as their errors say.
TEST(SimulateRealisticLightCurves, HostFluxIsInTheErrorsAndTheFlux) {
  std::vector<double> bright_chi, faint_chi;
  int bright_hosts = 0, inflated = 0, quiet_rows = 0;
  double chi2_about_zero = 0, chi2_about_offset = 0;
  for (int s = 0; s < 4000; ++s) {
    sim::RealisticLightCurve c = sim::realistic_light_curve(s, 31, 24.5);
    const int r_band = 1;
    ASSERT_GT(c.host_flux[r_band], 0.0) << s;
    std::vector<double> pulls;
    double offset_sum = 0, weight = 0;
    for (const sim::LightCurveRow& row : c.rows) {
      if (!row.observed[r_band] || std::abs(row.model[r_band]) > 0.1 * row.err[r_band]) continue;
      double left = row.flux[r_band] - row.model[r_band];
      double sky = std::pow(10.0, -0.4 * (row.m5[r_band] - 22.5)) / 5;
      inflated += c.host_flux[r_band] > 3 && row.err[r_band] > 1.1 * sky;
      quiet_rows += c.host_flux[r_band] > 3;
      pulls.push_back((left - c.host_offset[r_band]) / row.err[r_band]);
      offset_sum += left / (row.err[r_band] * row.err[r_band]), weight += 1 / (row.err[r_band] * row.err[r_band]);
    }
    if (pulls.size() < 4) continue;
    bool bright = c.host_flux[r_band] > 3, faint = c.host_flux[r_band] < 0.3;
    if (faint) faint_chi.push_back(stdev(pulls));
    if (bright) {
      bright_chi.push_back(stdev(pulls));
      ++bright_hosts;
      // The weighted mean of the quiet rows is the constant offset, not 0.
      double mean = offset_sum / weight, spread = std::max(stdev(pulls), 1.0) / std::sqrt(weight);
      chi2_about_offset += std::pow((mean - c.host_offset[r_band]) / spread, 2);
      chi2_about_zero += std::pow(mean / spread, 2);
    }
  }
  ASSERT_GT(bright_hosts, 80);
  ASSERT_GT(faint_chi.size(), 100u);
  std::sort(bright_chi.begin(), bright_chi.end());
  std::sort(faint_chi.begin(), faint_chi.end());
  EXPECT_GT(bright_chi[bright_chi.size() / 2], 1.15);
  EXPECT_NEAR(faint_chi[faint_chi.size() / 2], 1.0, 0.12);
  std::printf("%d bright hosts: chi2/n about the offset %.2f, about 0 %.2f\n", bright_hosts,
              chi2_about_offset / bright_hosts, chi2_about_zero / bright_hosts);
  EXPECT_LT(chi2_about_offset / bright_hosts, 1.5);
  EXPECT_GT(chi2_about_zero / bright_hosts, 2.0);
  EXPECT_EQ(inflated, quiet_rows);  // the host's photons: err > 1.1 x the sky noise
}

// A detection-limited sample: every curve has two nights with a 5-sigma detection, and
// most are faint: peak S/N under 12 for about 56 % (easy: about a third), under 10 for
// 45 % (easy: 18 %).
TEST(SimulateRealisticLightCurves, DetectionLimitedSampleIsMostlyFaint) {
  auto real = simulate("supernova", 2000, 41, kRealistic)["lc"];
  auto easy = simulate("supernova", 2000, 41, {})["lc"];
  auto triggered = [](const float* c) {
    int nights = 0;
    for (int r = 0, n = rows_of(c); r < n; ++r) {
      bool any = false;
      for (int b = 0; b < 4; ++b) any |= c[r * kFeatures + 1 + b] >= 5 * c[r * kFeatures + 5 + b];
      nights += any;
    }
    return nights >= 2;
  };
  EXPECT_GT(fraction_of(real, triggered), 0.99);
  double faint = fraction_of(real, [](const float* c) { return peak_snr(c) < 12; });
  EXPECT_GT(faint, 0.50);
  EXPECT_LT(faint, 0.65);
  EXPECT_LT(fraction_of(easy, [](const float* c) { return peak_snr(c) < 12; }), faint - 0.15);
  EXPECT_NEAR(fraction_of(real, [](const float* c) { return peak_snr(c) < 10; }), 0.45, 0.05);
  // Ia reach further than core collapse: their median redshift is higher.
  std::vector<double> z[2];
  for (int s = 0; s < 1000; ++s) {
    sim::RealisticLightCurve c = sim::realistic_light_curve(s, 41, 24.5);
    z[c.type == 0 ? 0 : 1].push_back(c.z);
  }
  for (auto& v : z) std::sort(v.begin(), v.end());
  EXPECT_GT(z[0][z[0].size() / 2], z[1][z[1].size() / 2] + 0.1);
}

// A tenth of the bands are missed on a night, never all four; a missed band between two
// measured nights is the linear interpolation with the larger error (as starc convert).
TEST(SimulateRealisticLightCurves, MissingBandsAreFilledAsConvertFillsThem) {
  int cells = 0, missed = 0, interior = 0;
  for (int s = 0; s < 500; ++s) {
    sim::RealisticLightCurve c = sim::realistic_light_curve(s, 51, 24.5);
    const auto& rows = c.rows;
    for (size_t r = 0; r < rows.size(); ++r) {
      int taken = 0;
      for (int b = 0; b < 4; ++b) {
        taken += rows[r].observed[b], ++cells, missed += !rows[r].observed[b];
        if (rows[r].observed[b] || r == 0 || r + 1 == rows.size()) continue;
        if (!rows[r - 1].observed[b] || !rows[r + 1].observed[b]) continue;
        double f = (rows[r].t - rows[r - 1].t) / (rows[r + 1].t - rows[r - 1].t);
        EXPECT_NEAR(rows[r].flux[b], rows[r - 1].flux[b] + f * (rows[r + 1].flux[b] - rows[r - 1].flux[b]), 1e-9);
        EXPECT_EQ(rows[r].err[b], std::max(rows[r - 1].err[b], rows[r + 1].err[b]));
        ++interior;
      }
      EXPECT_GE(taken, 1);
    }
  }
  EXPECT_NEAR(double(missed) / cells, 0.1, 0.015);
  EXPECT_GT(interior, 100);
}

namespace {
class SimulateRealisticLightCurvesCli : public test::TempDirTest {
 protected:
  SimulateRealisticLightCurvesCli() : TempDirTest("starc_sim_lc_") {}
};
}  // namespace

TEST_F(SimulateRealisticLightCurvesCli, OptionIsListedAndChecked) {
  auto r = test::run_starc(STARC_SOURCE_DIR,
                           "simulate supernova --difficulty realistic --n 3 --seed 2 -o " + test::quote(path("sn")));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(hash_of(read_npy(path("sn/lc.npy"))), hash_of(simulate("supernova", 3, 2, kRealistic)["lc"]));
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate supernova --difficulty hard --n 2 -o " + test::quote(path("x")),
                           "supernova --difficulty hard: expected one of easy, realistic");
}
