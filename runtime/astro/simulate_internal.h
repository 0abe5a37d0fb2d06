// runtime: what the simulators share (random streams, option access, image rendering,
// galaxy SED templates) and the physics functions the tests check directly, without noise.
// Not part of the public interface (runtime/astro/simulate.h is).
#pragma once
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"
#include "runtime/astro/simulate.h"

namespace starc::sim {

// One sample's random stream: mt19937_64 seeded from (seed, task, index) through
// splitmix64, with our own distributions (the same numbers with every standard library).
class Rng {
 public:
  Rng(uint64_t seed, std::string_view task, uint64_t index);
  double uniform();  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double log_uniform(double lo, double hi) { return lo * std::pow(hi / lo, uniform()); }
  double normal();  // standard normal (Box-Muller)
  double normal(double mean, double sigma) { return mean + sigma * normal(); }
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }
  bool bernoulli(double p) { return uniform() < p; }
  int64_t integer(int64_t lo, int64_t hi);  // uniform in [lo, hi]

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// A task's option values, already validated against its spec.
class SimArgs {
 public:
  explicit SimArgs(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  double number(const std::string& name) const;
  int64_t integer(const std::string& name) const { return int64_t(number(name)); }
  const std::string& text(const std::string& name) const;
  bool given(const std::string& name) const;  // set (not empty)

 private:
  std::map<std::string, std::string> values_;
};

using TensorsByName = std::map<std::string, Tensor>;

// The task generators (one per contract row).
TensorsByName simulate_spectra(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_gw(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_star_galaxy(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_supernova(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_transients(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_galaxies(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_lenses(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_transits(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_flares(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_seds(int64_t n, uint64_t seed, const SimArgs& a);
TensorsByName simulate_photoz(int64_t n, uint64_t seed, const SimArgs& a);

// ---- spectra (simulate_spectra.cpp)
constexpr int kSpectrumPixels = 4618;
constexpr double kLoglamMin = 3.5522, kLoglamMax = 4.0139;  // log10 Angstrom
inline double spectrum_loglam(int i) { return kLoglamMin + (kLoglamMax - kLoglamMin) * i / (kSpectrumPixels - 1); }

struct Spectrum {
  std::vector<double> flux;       // noiseless observed flux (arbitrary units), per pixel
  std::vector<double> continuum;  // the same without lines and absorption
};
// A quasar at redshift z (random continuum slope, line strengths and widths, Lyman-alpha
// forest); `forest` false leaves out the intergalactic absorption.
Spectrum quasar_spectrum(double z, Rng& rng, bool forest = true);
// A galaxy at redshift z: old (4000 A break, Ca II H&K) and young (blue, emission lines)
// populations mixed with `old_fraction` (< 0: random).
Spectrum galaxy_spectrum(double z, Rng& rng, double old_fraction = -1);
// The kinds of object behind the two labels; --difficulty realistic adds the populations
// that overlap quasars (docs/simulators.md, "Difficulty (spectra)").
enum class SpectrumPopulation { Quasar, HostDominatedAgn, Galaxy, StarForming, Seyfert2 };
// Spectrum `index` of the spectra task as observed, before the .npy file's normalisation:
// what `simulate_spectra` standardises and the survey-file writers (simulate_fits.cpp)
// store in physical units, so both formats hold the same objects.
struct NoisySpectrum {
  bool qso = false;
  double z = 0;
  std::vector<double> model, flux, sigma;  // noiseless, noisy, noise sigma; per grid pixel
  double snr = 0;                          // median over unmasked pixels of |model| / sigma
  SpectrumPopulation population = SpectrumPopulation::Quasar;
  // Realistic mode: 1 where the pixel has no data (outside the spectrograph's range, bad
  // columns): flux 0 there, as `starc convert` reads ivar-0 pixels. Empty in easy mode.
  std::vector<uint8_t> masked;
};
NoisySpectrum noisy_spectrum(int64_t index, uint64_t seed, const SimArgs& a);
// Survey-format writers (simulate_fits.cpp, simulate_fits_desi.cpp): the spectra task's
// objects in SDSS spec-*.fits / DESI coadd-*.fits layout; return the paths written.
std::vector<std::string> write_sdss_spectra(int64_t n, uint64_t seed, const SimArgs& a, const std::string& dir);
std::vector<std::string> write_desi_spectra(int64_t n, uint64_t seed, const SimArgs& a, const std::string& dir);

// ---- galaxy SED templates (simulate_tabular.cpp), shared by seds, photoz, star_galaxy
constexpr int kSedTemplates = 5;  // E, Sbc, Scd, Irr, starburst
// Rest-frame f_lambda of template `type` with old-population fraction jittered by `jitter`.
double sed_template(int type, double rest_angstrom, double jitter = 0);
// Mean f_nu (AB) of a template at redshift z with V-band dust attenuation av (mag) over
// the observed top-hat band [lo, hi] Angstrom.
double sed_band_fnu(int type, double jitter, double z, double av, double lo, double hi);
// SDSS ugriz bands: effective wavelength and top-hat width (Angstrom).
constexpr double kUgrizCentre[5] = {3551, 4686, 6166, 7480, 8932};
constexpr double kUgrizWidth[5] = {570, 1280, 1150, 1300, 1000};

// ---- images (simulate_images.cpp)
struct Image {
  int width = 0, height = 0;
  std::vector<double> pix;  // row-major, pix[y * width + x]
  Image() = default;
  Image(int w, int h) : width(w), height(h), pix(size_t(w) * h, 0.0) {}
  double& at(int x, int y) { return pix[size_t(y) * width + x]; }
  double at(int x, int y) const { return pix[size_t(y) * width + x]; }
};
// The PSF: a core Gaussian (weight 0.9, sigma) plus a wing (0.1, 2 sigma); pixel-integrated.
double psf_second_moment(double sigma);  // per axis, of the PSF alone (no pixel)
// Adds a pixel-integrated point source of total `flux` at (x0, y0) (pixel centres at
// integers) through the PSF.
void add_point_source(Image& img, double x0, double y0, double flux, double sigma);
// Adds a Sersic profile (index n, half-light radius re along the major axis, axis ratio q,
// position angle pa) of total `flux` (before truncation by the image edge), unconvolved.
void add_sersic(Image& img, double x0, double y0, double flux, double re, double n, double q, double pa);
// The image convolved with the PSF of core width sigma (separable Gaussians).
Image convolve_psf(const Image& img, double sigma);
// Unweighted second moments (xx, yy) of an image about its centroid.
std::pair<double, double> second_moments(const Image& img);

// ---- star_galaxy at --difficulty realistic (simulate_images_realistic.cpp; docs/simulators.md,
// "Difficulty"). The PSF: an elliptical Moffat profile, FWHM the geometric mean of its axes.
struct MoffatPsf {
  double fwhm = 3.5;  // pixels
  double q = 1;       // axis ratio b/a
  double pa = 0;      // major-axis angle (radians)
  double beta = 3.5;  // wing index
};
// Adds a pixel-integrated point source of total `flux` at (x0, y0) through the PSF
// (truncated at kMoffatRadius pixels, where it is normalised).
constexpr int kMoffatRadius = 12;
void add_moffat_point_source(Image& img, double x0, double y0, double flux, const MoffatPsf& psf);
// What was drawn for one realistic cut-out, with its images when rendered.
struct RealisticCutout {
  bool galaxy = false;
  double r_mag = 0;            // the central object's r magnitude
  double re_arcsec = 0;        // a galaxy's disk half-light radius (0 for stars)
  double fwhm_arcsec = 0;      // r-band PSF FWHM
  double psf_ellipticity = 0;  // 1 - b/a
  int neighbours = 0;          // other objects centred in the stamp or its 6-pixel margin
  int close_neighbours = 0;    // of them, within 3 arcsec of the central object (blends)
  int cosmic_ray_pixels = 0;   // pixels hit, all bands together
  int bad_columns = 0;         // all bands together
  double gradient = 0;         // r-band background change across the stamp (nominal sky sigma)
  double snr = 0;              // the central object's r-band matched-filter S/N (when rendered)
  Image band[5];               // u g r i z in units of the nominal r-band sky noise (when rendered)
};
// Cut-out `index` of `seed` for an r-band 5-sigma point-source depth `depth_r`; with
// `render` false only the scene is drawn (the same scene: the noise comes after it).
RealisticCutout realistic_star_galaxy_cutout(uint64_t seed, int64_t index, double depth_r, bool render);
// The r-band flux (in nominal sky-noise units) of a 5-sigma point source under the median
// realistic PSF: magnitudes are 22.2 - 2.5 log10(flux / this) at SDSS depth, in both modes.
double star_galaxy_flux_5sigma();
// The star_galaxy task's files at --difficulty realistic.
TensorsByName simulate_star_galaxy_realistic(int64_t n, uint64_t seed, const SimArgs& a);
// What the galaxies task's realistic mode shares with it: a PSF of random seeing
// (FWHM log-normal around `median_fwhm` pixels, 0.2 in ln; ellipticity |N(0, 0.05)|), an
// image convolved with a Moffat PSF, and Gaussian noise of `sigma` on a sky-subtraction
// residual (0.15 sigma rms) and a gradient (0.05-2 sigma across the image), with
// Poisson(`cosmic_rays`) cosmic-ray tracks of 1-6 pixels at 2.5-200 sigma.
MoffatPsf random_seeing(Rng& rng, double median_fwhm);
Image convolve_moffat(const Image& img, const MoffatPsf& psf);
void add_sky_and_artefacts(Image& img, double sigma, double cosmic_rays, Rng& rng);

// ---- time series (simulate_timeseries.cpp)
// The inspiral h(t) of an equal-mass binary of chirp mass mc (solar masses) merging at
// t_c seconds, sampled at fs for `length` samples; amplitude proportional to f^(2/3),
// frequency following (t_c - t)^(-3/8), ending at the ISCO frequency.
std::vector<double> gw_chirp(double mc, double t_c, double fs, int length, double phase);
double gw_frequency(double mc, double tau);  // Hz at tau = t_c - t seconds
struct GwSample {
  std::vector<double> strain;     // whitened, band-passed, unit noise variance
  std::vector<double> injection;  // the signal part of `strain` (zero when absent)
};
// One whitened sample; mc <= 0 means noise only. The injection's optimal (matched-filter)
// SNR against the detector noise is `snr`.
GwSample gw_sample(double mc, double snr, double fs, int length, Rng& rng);

// Relative flux (0 out of transit) of a planet of radius ratio k, impact parameter b,
// period P (days) around a star of density rho (solar), at `length` phases in [-0.5, 0.5).
std::vector<double> transit_model(double k, double b, double period_days, double rho_star, int length);
// Transit duration (first to fourth contact) as a fraction of the period.
double transit_duration_fraction(double k, double b, double period_days, double rho_star);

// Supernova light curve `index` of `starc simulate supernova --difficulty realistic`
// (docs/simulators.md, "Difficulty"), with the truth behind it: what the task writes into
// its `lc` rows, kept for the tests.
struct LightCurveRow {
  double t = 0;                      // observer days since the first row
  double model[4] = {}, m5[4] = {};  // g r i z: noiseless supernova flux, the night's 5-sigma depth
  double flux[4] = {}, err[4] = {};  // as written (a band not observed: filled as starc convert does)
  bool observed[4] = {};
};
struct RealisticLightCurve {
  int type = 0;  // 0 Ia, 1 II, 2 Ibc
  double z = 0, host_z = 0, ra = 0, dec = 0, ebv = 0;
  double host_flux[4] = {}, host_offset[4] = {};  // host in the aperture; its leftover after subtraction
  std::vector<LightCurveRow> rows;
};
RealisticLightCurve realistic_light_curve(int64_t index, uint64_t seed, double depth);

}  // namespace starc::sim
