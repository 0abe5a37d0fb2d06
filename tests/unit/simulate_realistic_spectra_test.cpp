// The spectra simulator's --difficulty: easy (the default) keeps the bytes it had before
// realistic mode existed (FNV-1a hashes of files written by the simulator before the
// change), and realistic mode has the properties docs/simulators.md ("Difficulty")
// states: per-object S/N log-normal with median 3, noisier sky-line pixels, ivar-0
// stretches read as 0, the overlapping populations in their shares, deterministic streams.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "runtime/astro/simulate.h"
#include "runtime/astro/simulate_internal.h"
#include "runtime/io/npy.h"
#include "runtime/io/survey_spectra.h"
#include "shell_util.h"
#include "temp_dir_test.h"

namespace fs = std::filesystem;
using namespace starc;
using sim::SpectrumPopulation;

namespace {

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 1469598103934665603ull;
  for (char c : bytes) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return h;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The task's option values with defaults, as simulate() builds them.
sim::SimArgs args_of(const SimOptions& given) {
  std::map<std::string, std::string> values;
  for (auto& o : find_simulation_task("spectra")->options) values[o.name] = o.default_value;
  for (auto& [k, v] : given) values[k] = v;
  return sim::SimArgs(values);
}

const SimOptions kRealisticMixed = {{"kind", "mixed"}, {"difficulty", "realistic"}};

int pixel_of_angstrom(double lam) {
  return int(std::lround((std::log10(lam) - sim::kLoglamMin) / (sim::kLoglamMax - sim::kLoglamMin) *
                         (sim::kSpectrumPixels - 1)));
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

class SpectraDifficultyFiles : public test::TempDirTest {
 protected:
  SpectraDifficultyFiles() : TempDirTest("starc_spectra_difficulty_") {}
};

}  // namespace

TEST(SpectraEasyDifficulty, BytesAreThoseOfBeforeRealisticModeExisted) {
  struct Case {
    SimOptions options;
    uint64_t flux, z, label;
  };
  // `starc simulate spectra --n 6 --seed 11 OPTIONS` of commit 8d5c6ec, hashed file by file.
  const Case cases[] = {
      {{}, 0x785d3d86aea88bdbull, 0xadd3c1b9cac2c3d6ull, 0x9ed491949eaea688ull},
      {{{"kind", "mixed"}}, 0x47c57d16c32876a1ull, 0x89a4d00b0a0b5f0dull, 0xeb1b4a40729de4a9ull},
      {{{"kind", "galaxy"}, {"snr", "3"}}, 0x479b32c5522677c2ull, 0xbd530aeac07bfcddull, 0xe5c29759cfa7a428ull},
      {{{"kind", "mixed"}, {"z-min", "0.2"}, {"z-max", "2"}},
       0x7db8eca2628525e7ull,
       0x996a4aecae3d5063ull,
       0xeb1b4a40729de4a9ull}};
  for (const Case& c : cases) {
    for (bool explicit_easy : {false, true}) {
      SimOptions options = c.options;
      if (explicit_easy) options["difficulty"] = "easy";
      auto d = simulate("spectra", 6, 11, options);
      EXPECT_EQ(fnv1a(serialize_npy(d.at("flux"))), c.flux);
      EXPECT_EQ(fnv1a(serialize_npy(d.at("z"))), c.z);
      EXPECT_EQ(fnv1a(serialize_npy(d.at("label"))), c.label);
      EXPECT_EQ(fnv1a(serialize_npy(d.at("loglam"))), 0xf36a8cc32b88657cull);
    }
  }
}

TEST_F(SpectraDifficultyFiles, EasySdssFilesAreThoseOfBefore) {
  auto paths = simulate_survey_files("spectra", "sdss", 2, 11, {{"kind", "mixed"}}, path("sdss"));
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(fnv1a(file_bytes(paths[0])), 0xa39f743be851032bull);
  EXPECT_EQ(fnv1a(file_bytes(paths[1])), 0x32513f61307f088dull);
}

TEST(SpectraEasyDifficulty, SnrFileIsTheMedianPerPixelSnr) {
  auto d = simulate("spectra", 20, 4, {{"kind", "mixed"}, {"snr", "5"}});
  sim::SimArgs a = args_of({{"kind", "mixed"}, {"snr", "5"}});
  for (int s = 0; s < 20; ++s) {
    sim::NoisySpectrum sp = sim::noisy_spectrum(s, 4, a);
    std::vector<double> r;
    for (int i = 0; i < sim::kSpectrumPixels; ++i) r.push_back(std::abs(sp.model[i]) / sp.sigma[i]);
    EXPECT_NEAR(d.at("snr").get(s), median(r), 1e-4 * median(r));
    // The easy noise: sigma = mean|flux| / snr (blue end boosted), so the median is near 5.
    EXPECT_GT(d.at("snr").get(s), 2);
    EXPECT_LT(d.at("snr").get(s), 10);
  }
}

TEST(SpectraRealistic, SameSeedSameBytesAndSamplesDependOnlyOnTheirIndex) {
  auto a = simulate("spectra", 4, 7, kRealisticMixed), b = simulate("spectra", 4, 7, kRealisticMixed);
  auto prefix = simulate("spectra", 2, 7, kRealisticMixed), other = simulate("spectra", 4, 8, kRealisticMixed);
  auto easy = simulate("spectra", 4, 7, {{"kind", "mixed"}});
  for (const char* f : {"flux", "z", "label", "snr"}) EXPECT_EQ(serialize_npy(a.at(f)), serialize_npy(b.at(f))) << f;
  std::string full = serialize_npy(a.at("flux")), head = serialize_npy(prefix.at("flux"));
  size_t half = 2 * sim::kSpectrumPixels * sizeof(float);
  EXPECT_EQ(full.substr(full.size() - 2 * half, half), head.substr(head.size() - half)) << "first two samples";
  EXPECT_NE(serialize_npy(a.at("flux")), serialize_npy(other.at("flux")));
  EXPECT_NE(serialize_npy(a.at("flux")), serialize_npy(easy.at("flux")));
}

TEST(SpectraRealistic, SnrIsLogNormalWithMedianThreeAndTheNoiseIsSigma) {
  auto d = simulate("spectra", 800, 21, kRealisticMixed);
  std::vector<double> snr;
  for (int s = 0; s < 800; ++s) snr.push_back(d.at("snr").get(s));
  // ln S/N ~ N(ln 3, 0.75): median 3, 5.4 % above 10, 84th percentile 6.4.
  EXPECT_NEAR(median(snr), 3.0, 0.35);
  double above10 = double(std::count_if(snr.begin(), snr.end(), [](double x) { return x > 10; })) / 800;
  double below2 = double(std::count_if(snr.begin(), snr.end(), [](double x) { return x < 2; })) / 800;
  EXPECT_GT(above10, 0.025);
  EXPECT_LT(above10, 0.09);
  EXPECT_GT(below2, 0.22);  // P(ln S/N < ln 2/3) = 29.5 %
  EXPECT_LT(below2, 0.37);
  // The noise drawn is the sigma stated: |flux - model| / sigma has the median of a
  // half-normal (0.6745) away from the sky lines, whose residuals add to it.
  sim::SimArgs a = args_of(kRealisticMixed);
  std::vector<double> away, at_lines;
  for (int s = 0; s < 30; ++s) {
    sim::NoisySpectrum sp = sim::noisy_spectrum(s, 21, a);
    for (int i = 0; i < pixel_of_angstrom(5500); ++i)
      if (!sp.masked[i]) away.push_back(std::abs(sp.flux[i] - sp.model[i]) / sp.sigma[i]);
  }
  EXPECT_NEAR(median(away), 0.6745, 0.02);
}

TEST(SpectraRealistic, SkyLinePixelsAreNoisierThanTheirNeighbours) {
  sim::SimArgs a = args_of(kRealisticMixed);
  for (double line : {5578.9, 6302.0, 8346.9}) {
    int at = pixel_of_angstrom(line);
    double at_line = 0, beside = 0;
    int n = 0;
    for (int s = 0; s < 200; ++s) {
      sim::NoisySpectrum sp = sim::noisy_spectrum(s, 5, a);
      if (sp.masked[at] || sp.masked[at - 20] || sp.masked[at + 20]) continue;
      double ref = 0.5 * (sp.sigma[at - 20] + sp.sigma[at + 20]);  // the continuum's noise here
      at_line += std::pow((sp.flux[at] - sp.model[at]) / ref, 2);
      beside += 0.5 * (std::pow((sp.flux[at - 20] - sp.model[at - 20]) / ref, 2) +
                       std::pow((sp.flux[at + 20] - sp.model[at + 20]) / ref, 2));
      ++n;
    }
    ASSERT_GT(n, 100);
    // Scatter at the line over its neighbours: above the ratio of the line's peak over the sky.
    EXPECT_GT(at_line / beside, 4.0) << line;
    EXPECT_NEAR(beside / n, 1.0, 0.35) << line;
  }
}

TEST(SpectraRealistic, MaskedStretchesAreZeroAndTheRestIsStandardised) {
  const int n = 400, L = sim::kSpectrumPixels;
  auto d = simulate("spectra", n, 9, kRealisticMixed);
  sim::SimArgs a = args_of(kRealisticMixed);
  int interior = 0, legacy = 0;
  for (int s = 0; s < n; ++s) {
    sim::NoisySpectrum sp = sim::noisy_spectrum(s, 9, a);
    ASSERT_EQ(int(sp.masked.size()), L);
    // An interior stretch: a masked run that touches neither end of the coverage.
    int first = int(std::find(sp.masked.begin(), sp.masked.end(), 0) - sp.masked.begin());
    int last = L - 1 - int(std::find(sp.masked.rbegin(), sp.masked.rend(), 0) - sp.masked.rbegin());
    interior += std::count(sp.masked.begin() + first, sp.masked.begin() + last, 1) >= 10;
    legacy += sp.masked[pixel_of_angstrom(3790)] && sp.masked[pixel_of_angstrom(9210)];
    double mean = 0, var = 0, good = 0;
    for (int i = 0; i < L; ++i) {
      double v = d.at("flux").get(int64_t(s) * L + i);
      if (sp.masked[i]) {
        ASSERT_EQ(sp.flux[i], 0.0);
        ASSERT_EQ(v, 0.0) << "sample " << s << " pixel " << i;
      } else {
        mean += v, var += v * v, good += 1;
      }
    }
    EXPECT_NEAR(mean / good, 0, 1e-4);
    EXPECT_NEAR(var / good, 1, 1e-3);
  }
  // One stretch in 30 %, a second in 10 %: 37 % have one or more (a few merge into the ends).
  EXPECT_GT(interior, 0.28 * n);
  EXPECT_LT(interior, 0.45 * n);
  EXPECT_NEAR(double(legacy) / n, 0.2, 0.06);  // the SDSS-I/II spectrograph's 3800-9200 A
}

TEST(SpectraRealistic, OverlappingPopulationsInTheirSharesUnderUnchangedLabels) {
  const int n = 1200;
  auto d = simulate("spectra", n, 13, kRealisticMixed);
  sim::SimArgs a = args_of(kRealisticMixed);
  std::map<SpectrumPopulation, int> count;
  std::vector<double> o3_over_hbeta, d4000_agn, d4000_qso;
  auto excess = [](const sim::NoisySpectrum& sp, double lam) {  // peak over the median 15-40 px away
    int at = pixel_of_angstrom(lam);
    std::vector<double> side;
    for (int k = 15; k <= 40; ++k) side.push_back(sp.model[at - k]), side.push_back(sp.model[at + k]);
    return *std::max_element(sp.model.begin() + at - 2, sp.model.begin() + at + 3) - median(side);
  };
  auto d4000 = [](const sim::NoisySpectrum& sp) {
    double hi = 0, lo = 0;
    for (int i = 0; i < sim::kSpectrumPixels; ++i) {
      double rest = std::pow(10.0, sim::spectrum_loglam(i)) / (1 + sp.z);
      if (rest > 4000 && rest < 4100) hi += sp.model[i];
      if (rest > 3850 && rest < 3950) lo += sp.model[i];
    }
    return hi / lo;
  };
  for (int s = 0; s < n; ++s) {
    sim::NoisySpectrum sp = sim::noisy_spectrum(s, 13, a);
    count[sp.population]++;
    bool quasar_like =
        sp.population == SpectrumPopulation::Quasar || sp.population == SpectrumPopulation::HostDominatedAgn;
    ASSERT_EQ(d.at("label").get(s), quasar_like ? 1 : 0) << "label semantics";
    if (sp.population == SpectrumPopulation::Seyfert2 && sp.z < 0.9)
      o3_over_hbeta.push_back(excess(sp, 5008.2 * (1 + sp.z)) / excess(sp, 4862.7 * (1 + sp.z)));
    if (sp.population == SpectrumPopulation::HostDominatedAgn) {
      EXPECT_TRUE(sp.z >= 0.1 && sp.z <= 0.8) << sp.z;
      d4000_agn.push_back(d4000(sp));
    }
    if (sp.population == SpectrumPopulation::Quasar && sp.z < 1.5) d4000_qso.push_back(d4000(sp));
  }
  int quasars = count[SpectrumPopulation::Quasar] + count[SpectrumPopulation::HostDominatedAgn];
  int galaxies = n - quasars;
  EXPECT_NEAR(double(quasars) / n, 0.5, 0.05);
  EXPECT_NEAR(double(count[SpectrumPopulation::HostDominatedAgn]) / quasars, 0.2, 0.055);
  EXPECT_NEAR(double(count[SpectrumPopulation::StarForming]) / galaxies, 0.2, 0.055);
  EXPECT_NEAR(double(count[SpectrumPopulation::Seyfert2]) / galaxies, 0.2, 0.055);
  // Seyfert 2s carry quasar-like [O III] over H-beta (3-12 in equivalent width).
  ASSERT_GT(o3_over_hbeta.size(), 50u);
  EXPECT_GT(median(o3_over_hbeta), 3.0);
  // Host-dominated AGN show their host's 4000 A break, which quasars lack.
  ASSERT_GT(d4000_agn.size(), 50u);
  EXPECT_GT(median(d4000_agn), 1.1);
  EXPECT_LT(median(d4000_qso), 1.05);
}

TEST_F(SpectraDifficultyFiles, CliTakesDifficultyAndChecksSnrMedian) {
  auto r = test::run_starc(STARC_SOURCE_DIR, "simulate spectra --difficulty realistic --kind mixed --n 3 --seed 2 -o " +
                                                 test::quote(path("out")));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(serialize_npy(read_npy(path("out/flux.npy"))),
            serialize_npy(simulate("spectra", 3, 2, kRealisticMixed)["flux"]));
  EXPECT_EQ(type_str(read_npy(path("out/snr.npy")).type()), "f32[3,1]");
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate spectra --snr-median 5 --n 2 -o " + test::quote(path("x")),
                           "give --difficulty realistic");
  test::expect_starc_error(STARC_SOURCE_DIR, "simulate spectra --difficulty hard --n 2 -o " + test::quote(path("x")),
                           "expected one of easy, realistic");
  // --snr-median moves the realistic distribution.
  auto bright = simulate("spectra", 200, 3, {{"difficulty", "realistic"}, {"snr-median", "12"}});
  std::vector<double> snr;
  for (int s = 0; s < 200; ++s) snr.push_back(bright.at("snr").get(s));
  EXPECT_NEAR(median(snr), 12, 1.8);
}

// The survey files hold what the .npy files hold: a pixel realistic mode left without
// data (flux 0 in flux.npy) has ivar 0 in the SDSS COADD (and the DESI arms stay finite
// around such pixels), so `starc convert` masks it as it masks a real bad pixel.
TEST_F(SpectraDifficultyFiles, RealisticNoDataPixelsHaveIvarZeroInSurveyFiles) {
  sim::SimArgs a = args_of(kRealisticMixed);
  int64_t masked_seen = 0;
  auto paths = simulate_survey_files("spectra", "sdss", 8, 3, kRealisticMixed, path("sdss_real"));
  ASSERT_EQ(paths.size(), 8u);
  for (size_t k = 0; k < paths.size(); ++k) {
    sim::NoisySpectrum sp = sim::noisy_spectrum(int64_t(k), 3, a);
    std::vector<SurveySpectrum> files = read_survey_spectra(paths[k]);
    ASSERT_EQ(files.size(), 1u);
    const SurveySpectrum& f = files[0];
    for (size_t j = 0; j < f.loglam.size(); ++j) {
      int i = int(std::lround((f.loglam[j] - sim::spectrum_loglam(0)) / 1e-4));
      ASSERT_GE(i, 0);
      ASSERT_LT(i, sim::kSpectrumPixels);
      if (!sp.masked[size_t(i)]) continue;
      ++masked_seen;
      EXPECT_EQ(f.ivar[j], 0.0) << paths[k] << " pixel " << j;
    }
  }
  EXPECT_GT(masked_seen, 100);  // the draw has no-data stretches to check
  for (const std::string& p : simulate_survey_files("spectra", "desi", 8, 3, kRealisticMixed, path("desi_real")))
    if (spectrum_file_kind(p) == SpectrumFileKind::Desi)
      for (const SurveySpectrum& f : read_survey_spectra(p))
        for (double v : f.ivar) EXPECT_TRUE(std::isfinite(v)) << f.source();
}
