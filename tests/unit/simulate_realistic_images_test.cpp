// `star_galaxy --difficulty realistic` (runtime/astro/simulate_images_realistic.cpp,
// docs/simulators.md "Difficulty"): the easy mode's bytes are unchanged (checksums taken
// before the realistic mode existed); realistic cut-outs are deterministic; and what makes
// them hard holds in distribution as documented: the seeing spread, the PSF's rendered
// width, the magnitude counts and sizes, the blend fraction, the cosmic-ray pixel
// fraction (also found in the pixels) and background gradients (measured in the pixels).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "runtime/astro/simulate.h"
#include "runtime/astro/simulate_internal.h"
#include "runtime/io/npy.h"
#include "shell_util.h"
#include "temp_dir_test.h"

using namespace starc;

namespace {

constexpr int kS = 44;
const SimOptions kRealistic = {{"difficulty", "realistic"}};

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (char c : bytes) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return h;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

std::vector<sim::RealisticCutout> scenes(int n, uint64_t seed) {
  std::vector<sim::RealisticCutout> out;
  for (int i = 0; i < n; ++i) out.push_back(sim::realistic_star_galaxy_cutout(seed, i, 22.2, false));
  return out;
}

// Least-squares plane through the r-band pixels away from the centre and below 3 sky
// sigma (objects clipped); returns the change across the stamp along its steepest slope.
double fitted_gradient(const float* r) {
  double sxx = 0, syy = 0, sxy = 0, sx = 0, sy = 0, n = 0, sxv = 0, syv = 0, sv = 0;
  for (int y = 0; y < kS; ++y)
    for (int x = 0; x < kS; ++x) {
      double v = r[y * kS + x], dx = x - 21.5, dy = y - 21.5;
      if (std::hypot(dx, dy) < 10 || std::abs(v) > 3) continue;
      sxx += dx * dx, syy += dy * dy, sxy += dx * dy, sx += dx, sy += dy, n += 1;
      sxv += dx * v, syv += dy * v, sv += v;
    }
  // Centre the sums, then solve the 2 x 2 normal equations for the slopes.
  double cxx = sxx - sx * sx / n, cyy = syy - sy * sy / n, cxy = sxy - sx * sy / n;
  double cxv = sxv - sx * sv / n, cyv = syv - sy * sv / n, det = cxx * cyy - cxy * cxy;
  double gx = (cxv * cyy - cyv * cxy) / det, gy = (cyv * cxx - cxv * cxy) / det;
  return std::hypot(gx, gy) * kS;
}

// Pixels that stand far above their 3 x 3 neighbourhood's median: cosmic-ray hits (not
// PSF-blurred) do, stars' cores (spread over several pixels) do not. Each column's median
// is taken off first, so that a hot column is not a column of hits.
int sharp_pixels(const float* band_in, double sky) {
  std::vector<double> band(band_in, band_in + kS * kS);
  for (int x = 0; x < kS; ++x) {
    std::vector<double> column;
    for (int y = 0; y < kS; ++y) column.push_back(band[y * kS + x]);
    double m = median(column);
    for (int y = 0; y < kS; ++y) band[y * kS + x] -= m;
  }
  int count = 0;
  for (int y = 1; y < kS - 1; ++y)
    for (int x = 1; x < kS - 1; ++x) {
      std::vector<double> around;
      for (int j = -1; j <= 1; ++j)
        for (int i = -1; i <= 1; ++i) around.push_back(band[(y + j) * kS + x + i]);
      double med = median(around), v = band[y * kS + x];
      count += v - med > 6 * sky && v > 3 * std::max(med, 0.0);
    }
  return count;
}

}  // namespace

// FNV-1a of the .npy bytes `starc simulate star_galaxy` wrote before --difficulty existed.
TEST(StarGalaxyDifficulty, EasyIsByteIdenticalToBefore) {
  auto a = simulate("star_galaxy", 6, 3, {});
  EXPECT_EQ(fnv1a(serialize_npy(a["img"])), 0xe86e96b37c4f14ecull);
  EXPECT_EQ(fnv1a(serialize_npy(a["label"])), 0x5966ddcd88feaa88ull);
  auto b = simulate("star_galaxy", 6, 11, {{"snr", "8"}, {"difficulty", "easy"}});
  EXPECT_EQ(fnv1a(serialize_npy(b["img"])), 0x1ffd261c10d8f201ull);
  EXPECT_EQ(fnv1a(serialize_npy(b["label"])), 0x6ed142d59688d868ull);
  // The new truth files: the S/N is the one drawn, the magnitude follows from the flux.
  for (int64_t s = 0; s < 6; ++s) {
    EXPECT_GE(a["snr"].get(s), 10 - 1e-4);
    EXPECT_LE(a["snr"].get(s), 90 + 1e-4);
    EXPECT_GT(a["r_mag"].get(s), 14);
    EXPECT_LT(a["r_mag"].get(s), 23);
  }
}

TEST(StarGalaxyDifficulty, RealisticIsDeterministicWithTheContractShapes) {
  auto a = simulate("star_galaxy", 4, 7, kRealistic), b = simulate("star_galaxy", 4, 7, kRealistic);
  auto c = simulate("star_galaxy", 4, 8, kRealistic), prefix = simulate("star_galaxy", 2, 7, kRealistic);
  EXPECT_EQ(type_str(a["img"].type()), "f32[4,5,44,44]");
  EXPECT_EQ(type_str(a["label"].type()), "i64[4]");
  EXPECT_EQ(type_str(a["r_mag"].type()), "f32[4,1]");
  for (const char* f : {"img", "label", "r_mag", "snr"}) {
    EXPECT_EQ(serialize_npy(a[f]), serialize_npy(b[f])) << f;
    for (int64_t i = 0; i < prefix[f].size(); ++i) ASSERT_EQ(prefix[f].get(i), a[f].get(i)) << f;
  }
  EXPECT_NE(serialize_npy(a["img"]), serialize_npy(c["img"]));
  EXPECT_NE(serialize_npy(a["img"]), serialize_npy(simulate("star_galaxy", 4, 7, {})["img"]));
  // Drawing the scene alone gives the scene the rendered cut-out had.
  for (int i = 0; i < 4; ++i) {
    auto drawn = sim::realistic_star_galaxy_cutout(7, i, 22.2, false);
    EXPECT_FLOAT_EQ(float(drawn.r_mag), a["r_mag"].get(i));
    EXPECT_EQ(drawn.galaxy, a["label"].get(i) == 1);
  }
}

// Seeing: log-normal, median 1.4 arcsec, 0.2 in ln; PSF ellipticity |N(0, 0.05)|.
TEST(StarGalaxyDifficulty, SeeingSpreadsAsDocumented) {
  auto all = scenes(4000, 1);
  std::vector<double> ln_fwhm, e;
  for (auto& c : all) ln_fwhm.push_back(std::log(c.fwhm_arcsec)), e.push_back(c.psf_ellipticity);
  double mean = std::accumulate(ln_fwhm.begin(), ln_fwhm.end(), 0.0) / double(all.size()), var = 0;
  for (double v : ln_fwhm) var += (v - mean) * (v - mean) / double(all.size());
  EXPECT_NEAR(std::exp(median(ln_fwhm)), 1.4, 0.03);
  EXPECT_NEAR(std::sqrt(var), 0.2, 0.01);
  EXPECT_NEAR(std::accumulate(e.begin(), e.end(), 0.0) / double(all.size()), 0.05 * std::sqrt(2 / M_PI), 0.003);
  EXPECT_LE(*std::max_element(e.begin(), e.end()), 0.25);
}

// Full width at half maximum along the row (dx 1, dy 0) or column through the peak
// pixel (x0, y0), with linear interpolation between pixels.
double width_at_half_max(const sim::Image& img, int x0, int y0, int dx, int dy) {
  double half = img.at(x0, y0) / 2, width = 0;
  for (int sign : {-1, 1}) {
    int k = 0;
    while (img.at(x0 + sign * (k + 1) * dx, y0 + sign * (k + 1) * dy) > half) ++k;
    double inner = img.at(x0 + sign * k * dx, y0 + sign * k * dy);
    double outer = img.at(x0 + sign * (k + 1) * dx, y0 + sign * (k + 1) * dy);
    width += k + (inner - half) / (inner - outer);
  }
  return width;
}

// The rendered Moffat PSF has the FWHM (the geometric mean of its axes) and the axis ratio
// asked for, and unit flux. Pixel integration widens a narrow one slightly.
TEST(StarGalaxyDifficulty, MoffatPsfHasItsWidthAndFlux) {
  for (double fwhm : {3.0, 5.0, 8.0})
    for (double q : {1.0, 0.8}) {
      sim::Image star(kS, kS);
      sim::add_moffat_point_source(star, 22, 22, 1, {fwhm, q, 0.0, 3.0});
      double major = width_at_half_max(star, 22, 22, 1, 0), minor = width_at_half_max(star, 22, 22, 0, 1);
      EXPECT_NEAR(std::sqrt(major * minor) / fwhm, 1.0, fwhm < 4 ? 0.1 : 0.04) << fwhm << " " << q;
      EXPECT_NEAR(minor / major, q, fwhm < 4 ? 0.05 : 0.02) << fwhm << " " << q;
      EXPECT_NEAR(std::accumulate(star.pix.begin(), star.pix.end(), 0.0), 1.0, 0.02) << fwhm << " " << q;
    }
}

// Number counts: most objects are faint (galaxies 0.45 dex/mag, stars 0.15, r 15-22.5), and
// faint galaxies are smaller than the seeing.
TEST(StarGalaxyDifficulty, MostObjectsAreFaintAndFaintGalaxiesSmall) {
  auto all = scenes(4000, 2);
  std::vector<double> gal_mag, star_mag, faint_re, faint_fwhm;
  for (auto& c : all) {
    ASSERT_GE(c.r_mag, 15);
    ASSERT_LE(c.r_mag, 22.5);
    (c.galaxy ? gal_mag : star_mag).push_back(c.r_mag);
    if (c.galaxy && c.r_mag > 21.5) faint_re.push_back(c.re_arcsec), faint_fwhm.push_back(c.fwhm_arcsec);
  }
  // Medians of truncated exponential counts: hi - ln((1 + e^{-k span}) / 2) / k.
  auto expected_median = [](double slope) {
    double k = slope * std::log(10.0);
    return 15 + std::log1p(0.5 * std::expm1(k * 7.5)) / k;
  };
  EXPECT_NEAR(median(gal_mag), expected_median(0.45), 0.06);
  EXPECT_NEAR(median(star_mag), expected_median(0.15), 0.15);
  EXPECT_GT(median(gal_mag), 21.5);
  EXPECT_NEAR(double(gal_mag.size()) / double(all.size()), 0.5, 0.03);
  // Half the faint galaxies' disks are below half the seeing FWHM.
  EXPECT_LT(median(faint_re), 0.5 * median(faint_fwhm));
}

// Blends: neighbours at 15000 per square degree over the stamp and a 6-pixel margin
// (Poisson, mean 0.569), 0.0327 of them within 3 arcsec of the centre.
TEST(StarGalaxyDifficulty, BlendFractionFollowsTheObjectDensity) {
  auto all = scenes(20000, 3);
  double side = 56 * 0.396 / 3600, any = 0, close = 0;
  for (auto& c : all) any += c.neighbours > 0, close += c.close_neighbours > 0;
  EXPECT_NEAR(any / double(all.size()), 1 - std::exp(-15000 * side * side), 0.012);
  EXPECT_NEAR(close / double(all.size()), 1 - std::exp(-15000 * M_PI * std::pow(3.0 / 3600, 2)), 0.004);
}

// Cosmic rays: 0.05 hits per band, 1-6 pixels each (fewer where a track leaves the stamp,
// and the border pixels, where the 3 x 3 test cannot look, are not counted as found);
// in the pixels they are sharp, which easy cut-outs never are.
TEST(StarGalaxyDifficulty, CosmicRayPixelFractionAsDocumented) {
  auto all = scenes(20000, 4);
  double pixels = 0;
  for (auto& c : all) pixels += c.cosmic_ray_pixels;
  double fraction = pixels / (double(all.size()) * 5 * kS * kS), nominal = 0.05 * 3.5 / (kS * kS);
  EXPECT_GT(fraction, 0.88 * nominal);
  EXPECT_LT(fraction, 1.01 * nominal);

  const int n = 300;
  auto real = simulate("star_galaxy", n, 5, kRealistic), easy = simulate("star_galaxy", n, 5, {});
  double truth = 0, found_real = 0, found_easy = 0;
  const double sky[5] = {2.0, 1.0, 1.0, 1.3, 2.5};
  for (int s = 0; s < n; ++s) {
    truth += sim::realistic_star_galaxy_cutout(5, s, 22.2, false).cosmic_ray_pixels;
    for (int b = 0; b < 5; ++b) {
      found_real += sharp_pixels(real["img"].data<float>() + (s * 5 + b) * kS * kS, sky[b]);
      found_easy += sharp_pixels(easy["img"].data<float>() + (s * 5 + b) * kS * kS, sky[b]);
    }
  }
  ASSERT_GT(truth, 20);
  EXPECT_GT(found_real, 0.5 * truth);
  EXPECT_LT(found_real, 1.5 * truth + 5);
  EXPECT_LT(found_easy, 0.1 * truth);
}

// Background gradients: a plane fitted to the r-band sky recovers the drawn change across
// the stamp (0.05-2 sigma, log-uniform); easy cut-outs have none beyond the fit's noise.
TEST(StarGalaxyDifficulty, BackgroundGradientIsInThePixels) {
  const int n = 200;
  auto real = simulate("star_galaxy", n, 6, kRealistic), easy = simulate("star_galaxy", n, 6, {});
  std::vector<double> ratio, easy_grad;
  for (int s = 0; s < n; ++s) {
    double truth = sim::realistic_star_galaxy_cutout(6, s, 22.2, false).gradient;
    const float* r = real["img"].data<float>() + (s * 5 + 2) * kS * kS;
    if (truth > 0.5) ratio.push_back(fitted_gradient(r) / truth);
    easy_grad.push_back(fitted_gradient(easy["img"].data<float>() + (s * 5 + 2) * kS * kS));
  }
  ASSERT_GT(ratio.size(), 40u);
  EXPECT_NEAR(median(ratio), 1.0, 0.15);
  EXPECT_LT(median(easy_grad), 0.2);
}

// Realistic cut-outs are fainter: a third have S/N below 10, none of the easy ones do.
TEST(StarGalaxyDifficulty, RealisticSnrIsLowerAndLabelsBalanced) {
  auto d = simulate("star_galaxy", 300, 9, kRealistic);
  int low = 0, galaxies = 0;
  for (int64_t s = 0; s < 300; ++s) low += d["snr"].get(s) < 10, galaxies += d["label"].get(s) == 1;
  EXPECT_GT(low, 90);
  EXPECT_NEAR(galaxies / 300.0, 0.5, 0.09);
  // A deeper survey (--snr 60: 0.75 mag deeper) sees the same objects at higher S/N.
  auto deep = simulate("star_galaxy", 50, 9, {{"difficulty", "realistic"}, {"snr", "60"}});
  for (int64_t s = 0; s < 50; ++s) {
    EXPECT_EQ(deep["r_mag"].get(s), d["r_mag"].get(s));
    EXPECT_NEAR(deep["snr"].get(s) / d["snr"].get(s), 2.0, 1e-3);
  }
}

namespace {
class StarGalaxyDifficultyCli : public test::TempDirTest {
 protected:
  StarGalaxyDifficultyCli() : TempDirTest("starc_sg_difficulty_") {}
};
}  // namespace

TEST_F(StarGalaxyDifficultyCli, SimulateTakesTheOption) {
  auto r = test::run_starc(STARC_SOURCE_DIR,
                           "simulate star_galaxy --difficulty realistic --n 3 --seed 2 -o " + test::quote(path("sg")));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(serialize_npy(read_npy(path("sg/img.npy"))),
            serialize_npy(simulate("star_galaxy", 3, 2, kRealistic)["img"]));
  test::expect_starc_error(STARC_SOURCE_DIR,
                           "simulate star_galaxy --difficulty hard --n 2 -o " + test::quote(path("x")),
                           "star_galaxy --difficulty hard: expected one of easy, realistic");
}

// The galaxies task: easy unchanged (checksums from before the option); realistic images
// keep the contract, are deterministic, and their noise varies from image to image
// around peak/(snr/2.5) (log-normal, 0.6 in ln) where the easy mode's is peak/snr.
TEST(GalaxiesDifficulty, EasyIsByteIdenticalAndRealisticNoiseVaries) {
  auto a = simulate("galaxies", 4, 3, {});
  EXPECT_EQ(fnv1a(serialize_npy(a["img"])), 0x9b9f8eb2f9a5ab79ull);
  EXPECT_EQ(fnv1a(serialize_npy(a["mask"])), 0xce860bc1507c5c2cull);
  EXPECT_EQ(fnv1a(serialize_npy(a["morphology"])), 0x3acc5fd0877d9701ull);
  auto b = simulate("galaxies", 3, 5, {{"size", "32"}, {"snr", "20"}, {"difficulty", "easy"}});
  EXPECT_EQ(fnv1a(serialize_npy(b["img"])), 0x8202f8454bf638b9ull);
  EXPECT_EQ(fnv1a(serialize_npy(b["mask"])), 0xac7da575fb4a8108ull);
  EXPECT_EQ(fnv1a(serialize_npy(b["morphology"])), 0x5cbb607e282483a0ull);

  const SimOptions real = {{"difficulty", "realistic"}, {"size", "48"}};
  auto r = simulate("galaxies", 120, 4, real);
  EXPECT_EQ(type_str(r["img"].type()), "f32[120,1,48,48]");
  EXPECT_EQ(serialize_npy(r["img"]), serialize_npy(simulate("galaxies", 120, 4, real)["img"]));
  auto noise_of = [](const float* img, int S) {  // robust sigma of the 6-pixel border
    std::vector<double> v, dev;
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x)
        if (x < 6 || y < 6 || x >= S - 6 || y >= S - 6) v.push_back(img[y * S + x]);
    double m = median(v);
    for (double x : v) dev.push_back(std::abs(x - m));
    return 1.4826 * median(dev);
  };
  std::vector<double> ln_noise;
  for (int s = 0; s < 120; ++s) ln_noise.push_back(std::log(noise_of(r["img"].data<float>() + s * 48 * 48, 48)));
  double mean = std::accumulate(ln_noise.begin(), ln_noise.end(), 0.0) / 120, var = 0;
  for (double v : ln_noise) var += (v - mean) * (v - mean) / 120;
  EXPECT_NEAR(std::exp(median(ln_noise)), 2.5 / 50, 0.012);  // noiseless peak 1: sigma = 1 / S/N
  EXPECT_NEAR(std::sqrt(var), 0.6, 0.12);
  auto e = simulate("galaxies", 20, 4, {{"size", "48"}});
  for (int s = 0; s < 20; ++s) EXPECT_NEAR(noise_of(e["img"].data<float>() + s * 48 * 48, 48), 1.0 / 50, 0.004);
  // Classes keep their proportions (B/T >= 0.6: 0.2 + 0.8 * 0.3 / 0.9).
  double bulge = 0;
  for (int s = 0; s < 120; ++s) bulge += r["morphology"].get(s) == 0;
  EXPECT_NEAR(bulge / 120, 0.2 + 0.8 * 0.3 / 0.9, 0.12);
}
