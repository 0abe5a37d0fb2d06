// runtime: the simulator registry (tasks, their files and options), option checking,
// the per-sample random streams, and writing a task's files.
#include "runtime/astro/simulate.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <tuple>

#include "runtime/io/npy.h"
#include "runtime/astro/simulate_internal.h"

namespace starc {

namespace fs = std::filesystem;
using K = SimOptionKind;

namespace {

SimOptionSpec snr(const std::string& def, const std::string& help) { return {"snr", def, K::Positive, help, {}}; }

std::vector<SimTaskSpec> make_tasks() {
  return {
      {"spectra",
       "SDSS-like spectra of quasars and galaxies on the 4618-pixel log-lambda grid",
       {{"flux", "f32[N,1,4618]", "zero-mean unit-variance flux"},
        {"z", "f32[N,1]", "redshift"},
        {"label", "i64[N]", "0 galaxy, 1 quasar"},
        {"loglam", "f32[4618]", "log10 wavelength (Angstrom) of each pixel"},
        {"snr", "f32[N,1]", "median per-pixel S/N (|noiseless flux| / sigma) of each spectrum"}},
       {{"kind", "qso", K::Choice, "qso, galaxy or mixed (half each)", {"qso", "galaxy", "mixed"}},
        snr("10", "mean signal-to-noise ratio per pixel (easy difficulty)"),
        {"z-min", "", K::Number, "lowest redshift (default 0.5 for quasars, 0.05 for galaxies)", {}},
        {"z-max", "", K::Number, "highest redshift (default 4 for quasars, 1 for galaxies)", {}},
        {"difficulty",
         "easy",
         K::Choice,
         "easy, or realistic: SDSS/BOSS S/N, sky lines, masks, calibration, overlapping AGN and star-forming "
         "galaxies (docs/simulators.md)",
         {"easy", "realistic"}},
        {"snr-median", "", K::Positive, "realistic: median per-object S/N (log-normal; default 3)", {}}}},
      {"gw",
       "whitened detector strain, half with a binary inspiral chirp",
       {{"strain", "f32[N,1,L]", "whitened, band-passed 20-500 Hz, unit noise variance"},
        {"label", "i64[N]", "1 when a chirp is present"},
        {"chirp_mass", "f32[N,1]", "chirp mass (solar masses), 0 when absent"}},
       {snr("10", "optimal matched-filter SNR of each injection"),
        {"length", "8192", K::PositiveInt, "samples per series (L)", {}},
        {"sample-rate", "8192", K::Positive, "samples per second (Hz)", {}},
        {"mc-min", "5", K::Positive, "lowest chirp mass (solar masses)", {}},
        {"mc-max", "40", K::Positive, "highest chirp mass (solar masses)", {}}}},
      {"star_galaxy",
       "ugriz cut-outs of stars (the PSF) and Sersic galaxies, half each",
       {{"img", "f32[N,5,44,44]", "u g r i z, in units of the r-band sky noise"},
        {"label", "i64[N]", "0 star, 1 galaxy"},
        {"r_mag", "f32[N,1]", "the central object's r magnitude (at SDSS depth: 5-sigma point source r = 22.2)"},
        {"snr", "f32[N,1]", "the central object's r-band matched-filter S/N"}},
       {snr("30",
            "easy: median r-band matched-filter S/N (each object: log-uniform in [snr/3, 3 snr]); realistic: "
            "the depth, 30 = SDSS (5-sigma point source at r = 22.2), 60 = 0.75 mag deeper"),
        {"difficulty",
         "easy",
         K::Choice,
         "easy, or realistic: SDSS-like magnitudes, seeing, blends, cosmic rays, bad columns, background "
         "gradients",
         {"easy", "realistic"}}}},
      {"supernova",
       "multi-band light curves of type Ia, II and Ibc supernovae, a third each",
       {{"lc", "f32[N,40,13]",
         "per epoch: days/100 since the first observation, g r i z flux, 4 errors, RA, Dec, "
         "E(B-V), host photo-z; epochs past the last are zero"},
        {"label", "i64[N]", "0 Ia, 1 II, 2 Ibc"}},
       {{"depth",
         "24.5",
         K::Positive,
         "5-sigma limiting magnitude of one epoch (realistic: on a dark night, 1\" seeing)",
         {}},
        {"difficulty",
         "easy",
         K::Choice,
         "easy (regular nights, clean photometry) or realistic (survey cadence and seasons, nightly depth, hosts, "
         "missing bands, a detection-limited sample)",
         {"easy", "realistic"}}}},
      {"transients",
       "difference-imaging stamps of real point-source transients and artefacts, half each",
       {{"stamp", "f32[N,4,21,21]", "template, science, difference, difference/noise"},
        {"label", "i64[N]", "1 real, 0 bogus"}},
       {snr("15", "median S/N of real transients (each: log-uniform in [snr/3, 3 snr])")}},
      {"galaxies",
       "bulge+disk galaxy images with segmentation masks and morphology classes",
       {{"img", "f32[N,1,S,S]", "noiseless peak 1"},
        {"mask", "f32[N,1,S,S]", "1 on the central galaxy's pixels"},
        {"morphology", "i64[N]", "0 bulge-dominated (B/T >= 0.6), 1 face-on disk (axis ratio >= 0.5), 2 edge-on disk"}},
       {snr("50", "peak signal-to-noise ratio (realistic: each image log-normal around snr/2.5)"),
        {"size", "64", K::PositiveInt, "image side S (pixels)", {}},
        {"difficulty",
         "easy",
         K::Choice,
         "easy, or realistic: seeing varying per image, fainter images, more neighbours, cosmic rays, "
         "background gradients",
         {"easy", "realistic"}}}},
      {"lenses",
       "elliptical galaxies, half of them strongly lensing a background source (SIS)",
       {{"img", "f32[N,1,S,S]", "noiseless lens peak 1"}, {"label", "i64[N]", "1 lensed"}},
       {snr("50", "peak signal-to-noise ratio of the lens galaxy"),
        {"size", "64", K::PositiveInt, "image side S (pixels)", {}}}},
      {"transits",
       "phase-folded light curves: planets, eclipsing binaries and quiet stars",
       {{"flux", "f32[N,1,L]", "relative flux / robust noise, phase -0.5..0.5"}, {"label", "i64[N]", "1 planet"}},
       {snr("15", "median transit S/N (each: log-uniform in [snr/2, 2 snr])"),
        {"length", "2001", K::PositiveInt, "phase bins (L)", {}}}},
      {"flares",
       "25 SHARP-like active-region features, few of which flare",
       {{"features", "f32[N,25]", "standardised features"}, {"label", "i64[N]", "1 flare within 24 h"}},
       {{"positive-fraction", "0.05", K::Fraction, "probability that a region flares", {}}}},
      {"seds",
       "galaxy SEDs from five templates, redshifted and dust-reddened",
       {{"sed", "f32[N,B]", "f_nu in B log-spaced bands 0.35-2.2 um, maximum 1"}},
       {snr("30", "signal-to-noise ratio per band"), {"bands", "16", K::PositiveInt, "number of bands (B)", {}}}},
      {"photoz",
       "ugriz asinh magnitudes of galaxies and their redshifts",
       {{"mags", "f32[N,5]", "u g r i z asinh magnitudes (SDSS-like depths)"}, {"z", "f32[N,1]", "redshift"}},
       {{"z-max", "1.2", K::Positive, "highest redshift", {}}}},
  };
}

using Generator = sim::TensorsByName (*)(int64_t, uint64_t, const sim::SimArgs&);

Generator generator_for(const std::string& task) {
  static const std::map<std::string, Generator> table = {{"spectra", sim::simulate_spectra},
                                                         {"gw", sim::simulate_gw},
                                                         {"star_galaxy", sim::simulate_star_galaxy},
                                                         {"supernova", sim::simulate_supernova},
                                                         {"transients", sim::simulate_transients},
                                                         {"galaxies", sim::simulate_galaxies},
                                                         {"lenses", sim::simulate_lenses},
                                                         {"transits", sim::simulate_transits},
                                                         {"flares", sim::simulate_flares},
                                                         {"seds", sim::simulate_seds},
                                                         {"photoz", sim::simulate_photoz}};
  return table.at(task);
}

bool parse_double(const std::string& s, double& out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end && std::isfinite(out);
}

// Checks one option value against its kind; throws naming the option.
void check_value(const SimTaskSpec& t, const SimOptionSpec& o, const std::string& v) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument(fmt::format("{} --{} {}: {}", t.name, o.name, v, why));
  };
  if (o.kind == K::Choice) {
    if (std::find(o.choices.begin(), o.choices.end(), v) == o.choices.end())
      throw bad(fmt::format("expected one of {}", fmt::join(o.choices, ", ")));
    return;
  }
  double x;
  if (!parse_double(v, x)) throw bad("expected a number");
  if ((o.kind == K::Positive || o.kind == K::PositiveInt) && x <= 0) throw bad("must be > 0");
  if (o.kind == K::PositiveInt && x != std::floor(x)) throw bad("must be a whole number");
  if (o.kind == K::PositiveInt && x > 1e7) throw bad("must be at most 10000000");
  if (o.kind == K::Fraction && !(x > 0 && x < 1)) throw bad("must be between 0 and 1 (exclusive)");
}

}  // namespace

const std::vector<SimTaskSpec>& simulation_tasks() {
  static const std::vector<SimTaskSpec> tasks = make_tasks();
  return tasks;
}

const SimTaskSpec* find_simulation_task(std::string_view name) {
  for (auto& t : simulation_tasks())
    if (t.name == name) return &t;
  return nullptr;
}

std::map<std::string, Tensor> simulate(const std::string& task, int64_t n, uint64_t seed, const SimOptions& options) {
  const SimTaskSpec* t = find_simulation_task(task);
  if (!t) {
    std::vector<std::string> names;
    for (auto& s : simulation_tasks()) names.push_back(s.name);
    throw std::invalid_argument(fmt::format("unknown simulation task '{}' (tasks: {})", task, fmt::join(names, ", ")));
  }
  if (n <= 0) throw std::invalid_argument(fmt::format("{}: --n must be > 0 (got {})", task, n));
  std::map<std::string, std::string> values;
  for (auto& o : t->options) values[o.name] = o.default_value;
  for (auto& [name, v] : options) {
    auto it = std::find_if(t->options.begin(), t->options.end(), [&](auto& o) { return o.name == name; });
    if (it == t->options.end()) {
      std::vector<std::string> known;
      for (auto& o : t->options) known.push_back("--" + o.name);
      throw std::invalid_argument(fmt::format("{} has no option --{} (its options: {})", task, name,
                                              known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
    }
    check_value(*t, *it, v);
    values[name] = v;
  }
  sim::SimArgs args(values);
  // Cross-option checks: ranges whose ends are separate options.
  auto check_range = [&](const char* lo, const char* hi) {
    if (args.given(lo) && args.given(hi) && !(args.number(lo) < args.number(hi)))
      throw std::invalid_argument(
          fmt::format("{}: --{} ({}) must be below --{} ({})", task, lo, args.text(lo), hi, args.text(hi)));
  };
  if (task == "spectra") {
    check_range("z-min", "z-max");
    if (args.given("snr-median") && args.text("difficulty") != "realistic")
      throw std::invalid_argument(
          "spectra: --snr-median sets the realistic S/N distribution; give --difficulty realistic");
    if (args.given("z-min") && args.number("z-min") < 0)
      throw std::invalid_argument(fmt::format("spectra: --z-min must be >= 0 (got {})", args.text("z-min")));
    // One end given: it must fit the other end's default for every kind generated.
    const std::string& kind = args.text("kind");
    for (auto [name, lo, hi] : {std::tuple{"quasars", 0.5, 4.0}, std::tuple{"galaxies", 0.05, 1.0}}) {
      if ((kind == "qso" && name[0] != 'q') || (kind == "galaxy" && name[0] != 'g')) continue;
      if (args.given("z-min") && !args.given("z-max") && args.number("z-min") >= hi)
        throw std::invalid_argument(
            fmt::format("spectra: --z-min {} is not below the default --z-max {} for {}; give --z-max too",
                        args.text("z-min"), hi, name));
      if (args.given("z-max") && !args.given("z-min") && args.number("z-max") <= lo)
        throw std::invalid_argument(
            fmt::format("spectra: --z-max {} is not above the default --z-min {} for {}; give --z-min too",
                        args.text("z-max"), lo, name));
    }
  }
  if (task == "gw") {
    check_range("mc-min", "mc-max");
    if (args.number("sample-rate") < 1100)
      throw std::invalid_argument("gw: --sample-rate must be at least 1100 Hz (the band is 20-500 Hz)");
    if (args.integer("length") < 256) throw std::invalid_argument("gw: --length must be at least 256");
  }
  if ((task == "galaxies" || task == "lenses") && args.integer("size") < 16)
    throw std::invalid_argument(fmt::format("{}: --size must be at least 16", task));
  if (task == "transits" && args.integer("length") < 101)
    throw std::invalid_argument("transits: --length must be at least 101");
  if (task == "seds" && args.integer("bands") < 2) throw std::invalid_argument("seds: --bands must be at least 2");
  return generator_for(task)(n, seed, args);
}

std::vector<std::pair<std::string, TensorType>> simulate_to_dir(const std::string& task, int64_t n, uint64_t seed,
                                                                const SimOptions& options, const std::string& dir) {
  auto tensors = simulate(task, n, seed, options);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw std::runtime_error(
        fmt::format("cannot create output folder '{}': {}", dir, ec ? ec.message() : "a file of that name exists"));
  std::vector<std::pair<std::string, TensorType>> paths;
  for (auto& f : find_simulation_task(task)->files) {
    std::string path = (fs::path(dir) / (f.name + ".npy")).string();
    write_npy(path, tensors.at(f.name));
    paths.emplace_back(path, tensors.at(f.name).type());
    tensors.erase(f.name);  // free each file's memory once written
  }
  return paths;
}

namespace sim {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace

Rng::Rng(uint64_t seed, std::string_view task, uint64_t index) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the task name: streams differ per task
  for (char c : task) h = (h ^ uint8_t(c)) * 1099511628211ull;
  uint64_t x = seed ^ splitmix64(h);
  uint64_t a = splitmix64(x);
  x ^= index * 0xD1B54A32D192ED03ull;
  uint64_t b = splitmix64(x);
  std::seed_seq seq{uint32_t(a), uint32_t(a >> 32), uint32_t(b), uint32_t(b >> 32)};
  engine_.seed(seq);
}

double Rng::uniform() { return double(engine_() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 1.0 - uniform(), u2 = uniform();  // u1 in (0, 1]
  double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2 * M_PI * u2);
}

int64_t Rng::integer(int64_t lo, int64_t hi) {
  return lo + std::min<int64_t>(hi - lo, int64_t(uniform() * double(hi - lo + 1)));
}

double SimArgs::number(const std::string& name) const {
  double x = 0;
  parse_double(text(name), x);
  return x;
}

const std::string& SimArgs::text(const std::string& name) const { return values_.at(name); }

bool SimArgs::given(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

}  // namespace sim
}  // namespace starc
