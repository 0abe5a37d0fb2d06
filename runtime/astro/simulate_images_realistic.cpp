// runtime: `star_galaxy --difficulty realistic` — ugriz cut-outs with what makes SDSS
// cut-outs hard (docs/simulators.md, "Difficulty"): a magnitude distribution from number
// counts (most objects faint, faint galaxies small), a Moffat PSF whose size and
// ellipticity vary from cut-out to cut-out, neighbours blended into the stamp, cosmic
// rays and bad columns, sky-subtraction residuals and background gradients, sky noise
// varying per cut-out and the objects' own Poisson noise.
#include <algorithm>
#include <cmath>

#include "runtime/astro/simulate_internal.h"

namespace starc::sim {

namespace {

constexpr int kStamp = 44;
constexpr double kPixelArcsec = 0.396;  // SDSS imaging pixel
constexpr double kSdssDepthR = 22.2;    // r-band 5-sigma point-source depth, one 54 s scan
// r-band seeing: log-normal, median 1.4 arcsec FWHM (SDSS imaging's median in r).
constexpr double kMedianFwhmArcsec = 1.4, kFwhmLnScatter = 0.2;
constexpr double kPsfEllipticityRms = 0.05, kPsfEllipticityMax = 0.25;
constexpr double kMagBright = 15, kMagFaint = 22.5, kNeighbourMagFaint = 23;
// Number-count slopes d log10 N / dm: galaxies 0.45 (Yasuda et al. 2001, SDSS r 16-21),
// stars at high Galactic latitude ~0.15 (Bahcall & Soneira 1980).
constexpr double kGalaxyCountSlope = 0.45, kStarCountSlope = 0.15;
// Objects with 15 < r < 23 per square degree (galaxies and stars, ~80 % galaxies).
constexpr double kObjectDensity = 15000, kNeighbourGalaxyFraction = 0.8;
constexpr int kNeighbourMargin = 6;          // pixels beyond the stamp whose light spills in
constexpr double kBlendRadiusArcsec = 3;     // a neighbour this close is a blend
constexpr double kCosmicRaysPerBand = 0.05;  // hits per band per cut-out
constexpr double kBadColumnPerBand = 0.02;   // probability of a bad column per band
constexpr double kSkyElectrons = 600;        // sky electrons per pixel: the objects' Poisson noise
// Relative sky noise per band (u and z are the noisiest in SDSS), as in the easy mode.
constexpr double kSkyNoise[5] = {2.0, 1.0, 1.0, 1.3, 2.5};

double moffat_alpha(const MoffatPsf& p) { return p.fwhm / (2 * std::sqrt(std::pow(2.0, 1 / p.beta) - 1)); }

// The PSF's pixel-integrated value (4 x 4 sub-pixels) at offset (dx, dy), unnormalised.
double moffat_pixel(const MoffatPsf& p, double alpha, double dx, double dy) {
  double c = std::cos(p.pa), s = std::sin(p.pa), sq = std::sqrt(p.q), sum = 0;
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < 4; ++i) {
      double x = dx + (i + 0.5) / 4 - 0.5, y = dy + (j + 0.5) / 4 - 0.5;
      double u = (x * c + y * s) * sq, v = (-x * s + y * c) / sq;  // axes a = alpha/sqrt(q), b = alpha sqrt(q)
      sum += std::pow(1 + (u * u + v * v) / (alpha * alpha), -p.beta);
    }
  return sum / 16;
}

// A PSF ready to render: its (2R+1)^2 kernel centred on a pixel, summing to 1, and the
// raw sum that normalises it (point sources off the pixel grid use the same).
struct PsfModel {
  MoffatPsf psf;
  double alpha = 1, norm = 1;
  std::vector<double> kernel;
};

PsfModel psf_model(const MoffatPsf& p) {
  constexpr int R = kMoffatRadius, W = 2 * R + 1;
  PsfModel m{p, moffat_alpha(p), 0, std::vector<double>(W * W)};
  for (int y = -R; y <= R; ++y)
    for (int x = -R; x <= R; ++x) m.norm += m.kernel[(y + R) * W + x + R] = moffat_pixel(p, m.alpha, x, y);
  for (double& v : m.kernel) v /= m.norm;
  return m;
}

void add_star(Image& img, double x0, double y0, double flux, const PsfModel& m) {
  int xc = int(std::lround(x0)), yc = int(std::lround(y0));
  for (int y = std::max(0, yc - kMoffatRadius); y <= std::min(img.height - 1, yc + kMoffatRadius); ++y)
    for (int x = std::max(0, xc - kMoffatRadius); x <= std::min(img.width - 1, xc + kMoffatRadius); ++x)
      img.at(x, y) += flux * moffat_pixel(m.psf, m.alpha, x - x0, y - y0) / m.norm;
}

// `scene` convolved with the kernel, added into `out`.
void add_convolved(const Image& scene, const std::vector<double>& kernel, Image& out) {
  constexpr int R = kMoffatRadius, W = 2 * R + 1;
  for (int y = 0; y < scene.height; ++y)
    for (int x = 0; x < scene.width; ++x) {
      double v = scene.at(x, y);
      if (v == 0) continue;
      for (int ky = std::max(-R, -y); ky <= std::min(R, out.height - 1 - y); ++ky)
        for (int kx = std::max(-R, -x); kx <= std::min(R, out.width - 1 - x); ++kx)
          out.at(x + kx, y + ky) += v * kernel[(ky + R) * W + kx + R];
    }
}

double l2(const Image& img) {
  double s = 0;
  for (double v : img.pix) s += v * v;
  return std::sqrt(s);
}

int poisson(Rng& rng, double mean) {
  double p = std::exp(-mean), cdf = p, u = rng.uniform();
  int k = 0;
  while (u > cdf && k < 100) p *= mean / ++k, cdf += p;
  return k;
}

// A magnitude in [lo, hi] from counts N(m) proportional to 10^(slope m).
double counts_magnitude(Rng& rng, double slope, double lo, double hi) {
  double k = slope * std::log(10.0);
  return lo + std::log1p(rng.uniform() * std::expm1(k * (hi - lo))) / k;
}

struct SkyObject {
  bool galaxy = false;
  double x = 0, y = 0, r_mag = 0, colour[5] = {};  // colour: f_nu per band relative to r
  double re = 0, bulge_re = 0, bt = 0, q = 1, pa = 0;
};

// An object's colours and (for galaxies) shape. Fainter galaxies are further away and
// smaller: median redshift 0.1 at r = 17.5 (the SDSS main sample) rising 0.25 dex a
// magnitude, median half-light radius 1.5 arcsec at r = 18 shrinking 0.15 dex a magnitude
// (0.4 arcsec at r = 22, below the seeing: the faint galaxies look like stars).
SkyObject draw_object(Rng& rng, bool galaxy, double r_mag, double x, double y) {
  SkyObject o;
  o.galaxy = galaxy, o.r_mag = r_mag, o.x = x, o.y = y;
  if (galaxy) {
    int type = int(rng.integer(0, kSedTemplates - 1));
    double z = std::clamp(0.1 * std::pow(10.0, 0.25 * (r_mag - 17.5) + rng.normal(0, 0.12)), 0.01, 1.2);
    double av = rng.uniform(0, 0.4);
    for (int b = 0; b < 5; ++b)
      o.colour[b] =
          sed_band_fnu(type, 0, z, av, kUgrizCentre[b] - kUgrizWidth[b] / 2, kUgrizCentre[b] + kUgrizWidth[b] / 2);
    o.bt = std::clamp(1.0 - 0.25 * type + rng.uniform(-0.15, 0.15), 0.0, 1.0);
    double re_arcsec = std::clamp(1.5 * std::pow(10.0, -0.15 * (r_mag - 18) + rng.normal(0, 0.2)), 0.15, 8.0);
    o.re = re_arcsec / kPixelArcsec;
    o.bulge_re = o.re * rng.uniform(0.3, 0.6);
    o.q = rng.uniform(0.3, 1.0);
    o.pa = rng.uniform(0, M_PI);
  } else {
    double t = 3500 * std::pow(10000.0 / 3500, rng.uniform() * rng.uniform());  // cool stars commonest
    for (int b = 0; b < 5; ++b) {
      double lam = kUgrizCentre[b] * 1e-8;
      o.colour[b] = std::pow(lam, -3) / (std::exp(1.4388 / (lam * t)) - 1);
    }
  }
  for (int b : {0, 1, 3, 4}) o.colour[b] /= o.colour[2];
  o.colour[2] = 1;
  return o;
}

struct Track {
  int band;
  std::vector<std::pair<int, int>> pixels;
  std::vector<double> values;  // in units of the band's sky noise
};

// Everything drawn for a cut-out before its noise.
struct Scene {
  SkyObject central;
  std::vector<SkyObject> neighbours;
  MoffatPsf psf[5];
  double sky[5] = {}, offset[5] = {}, slope[5] = {}, slope_angle = 0;  // sky sigma; background (sky sigma)
  std::vector<Track> cosmic_rays;
  int bad_column[5] = {-1, -1, -1, -1, -1};
  bool hot_column[5] = {};
  double hot_offset[5] = {};
};

void draw_psfs(Rng& rng, Scene& sc) {
  double fwhm_r = kMedianFwhmArcsec * std::exp(kFwhmLnScatter * rng.normal()) / kPixelArcsec;
  double e = std::min(std::abs(rng.normal(0, kPsfEllipticityRms)), kPsfEllipticityMax);
  double pa = rng.uniform(0, M_PI), beta = rng.uniform(2.5, 4.5);
  for (int b = 0; b < 5; ++b) {
    // Seeing falls as lambda^-0.2; the bands are exposed minutes apart, so it drifts 5 %.
    double fwhm = fwhm_r * std::pow(kUgrizCentre[b] / kUgrizCentre[2], -0.2) * (b == 2 ? 1 : 1 + rng.normal(0, 0.05));
    sc.psf[b] = {fwhm, 1 - e, pa, beta};
  }
}

void draw_neighbours(Rng& rng, Scene& sc) {
  double side_deg = (kStamp + 2 * kNeighbourMargin) * kPixelArcsec / 3600;
  int count = poisson(rng, kObjectDensity * side_deg * side_deg);
  for (int i = 0; i < count; ++i) {
    bool galaxy = rng.bernoulli(kNeighbourGalaxyFraction);
    double m = counts_magnitude(rng, galaxy ? kGalaxyCountSlope : kStarCountSlope, kMagBright, kNeighbourMagFaint);
    double x = rng.uniform(-kNeighbourMargin, kStamp + kNeighbourMargin) - 0.5;
    double y = rng.uniform(-kNeighbourMargin, kStamp + kNeighbourMargin) - 0.5;
    sc.neighbours.push_back(draw_object(rng, galaxy, m, x, y));
  }
}

// Cosmic rays (sharp, not PSF-blurred: hits or short tracks) and bad columns (drift
// scanning smears a hot pixel into a column; dead ones are interpolated over).
void draw_defects(Rng& rng, Scene& sc) {
  for (int b = 0; b < 5; ++b) {
    int hits = poisson(rng, kCosmicRaysPerBand);
    for (int h = 0; h < hits; ++h) {
      Track t{b, {}, {}};
      double x = rng.uniform(0, kStamp), y = rng.uniform(0, kStamp), ang = rng.uniform(0, M_PI);
      double amp = rng.log_uniform(5, 200);
      int len = int(rng.integer(1, 6));
      // One pixel a step along the track's longer axis, so no pixel is hit twice.
      double step = 1 / std::max(std::abs(std::cos(ang)), std::abs(std::sin(ang)));
      for (int k = 0; k < len; ++k) {
        int px = int(std::floor(x + k * step * std::cos(ang))), py = int(std::floor(y + k * step * std::sin(ang)));
        double v = amp * rng.uniform(0.5, 1.0);
        if (px >= 0 && px < kStamp && py >= 0 && py < kStamp) t.pixels.emplace_back(px, py), t.values.push_back(v);
      }
      sc.cosmic_rays.push_back(std::move(t));
    }
    if (rng.bernoulli(kBadColumnPerBand)) {
      sc.bad_column[b] = int(rng.integer(0, kStamp - 1));
      sc.hot_column[b] = rng.bernoulli(0.5);
      sc.hot_offset[b] = rng.log_uniform(2, 20);
    }
  }
}

// Sky noise varying 10 % between cut-outs (Moon, airmass); a sky-subtraction residual
// offset of 0.15 sigma rms and a gradient of 0.05-2 sigma across the stamp (scattered
// light, bright neighbours off the stamp), in one direction for all bands.
void draw_background(Rng& rng, Scene& sc) {
  double grad_r = rng.log_uniform(0.05, 2.0);
  sc.slope_angle = rng.uniform(0, 2 * M_PI);
  for (int b = 0; b < 5; ++b) {
    sc.sky[b] = kSkyNoise[b] * std::exp(rng.normal(0, 0.1));
    sc.offset[b] = rng.normal(0, 0.15);
    sc.slope[b] = (b == 2 ? grad_r : grad_r * rng.uniform(0.5, 1.5)) / kStamp;  // sky sigma per pixel
  }
}

Scene draw_scene(Rng& rng) {
  Scene sc;
  bool galaxy = rng.bernoulli(0.5);
  double m = counts_magnitude(rng, galaxy ? kGalaxyCountSlope : kStarCountSlope, kMagBright, kMagFaint);
  double c = (kStamp - 1) / 2.0;
  sc.central = draw_object(rng, galaxy, m, c + rng.uniform(-0.5, 0.5), c + rng.uniform(-0.5, 0.5));
  draw_psfs(rng, sc);
  draw_neighbours(rng, sc);
  draw_defects(rng, sc);
  draw_background(rng, sc);
  return sc;
}

// The r-band flux (nominal sky-noise units) of magnitude m at 5-sigma depth `depth`.
double flux_of(double m, double depth) { return star_galaxy_flux_5sigma() * std::pow(10.0, -0.4 * (m - depth)); }

// Adds objects' light to each band: stars through the PSF directly, galaxies (all of
// them, one unit-flux morphology each) into an unconvolved scene convolved once a band.
void add_objects(const std::vector<const SkyObject*>& objects, const PsfModel* psf, double depth, Image* bands) {
  Image unconvolved[5];
  bool any_galaxy = false;
  for (int b = 0; b < 5; ++b) unconvolved[b] = Image(kStamp, kStamp);
  for (const SkyObject* o : objects) {
    double f = flux_of(o->r_mag, depth);
    if (!o->galaxy) {
      for (int b = 0; b < 5; ++b) add_star(bands[b], o->x, o->y, f * o->colour[b], psf[b]);
      continue;
    }
    Image morph(kStamp, kStamp);
    if (o->bt < 1) add_sersic(morph, o->x, o->y, 1 - o->bt, o->re, 1, o->q, o->pa);
    if (o->bt > 0) add_sersic(morph, o->x, o->y, o->bt, o->bulge_re, 4, std::max(o->q, 0.6), o->pa);
    for (int b = 0; b < 5; ++b)
      for (size_t i = 0; i < morph.pix.size(); ++i) unconvolved[b].pix[i] += f * o->colour[b] * morph.pix[i];
    any_galaxy = true;
  }
  if (any_galaxy)
    for (int b = 0; b < 5; ++b) add_convolved(unconvolved[b], psf[b].kernel, bands[b]);
}

// Background, noise (sky plus the objects' Poisson noise), cosmic rays, bad columns.
void observe(const Scene& sc, Rng& rng, Image* bands) {
  double c = (kStamp - 1) / 2.0, ca = std::cos(sc.slope_angle), sa = std::sin(sc.slope_angle);
  for (int b = 0; b < 5; ++b) {
    Image& im = bands[b];
    double sky = sc.sky[b];
    for (int y = 0; y < kStamp; ++y)
      for (int x = 0; x < kStamp; ++x) {
        double v = im.at(x, y);
        double sigma = std::sqrt(sky * sky + std::max(v, 0.0) * sky / std::sqrt(kSkyElectrons));
        double background = sc.offset[b] + sc.slope[b] * ((x - c) * ca + (y - c) * sa);
        im.at(x, y) = v + sky * background + sigma * rng.normal();
      }
    int col = sc.bad_column[b];
    if (col >= 0)
      for (int y = 0; y < kStamp; ++y) {
        double left = im.at(std::max(col - 1, 0), y), right = im.at(std::min(col + 1, kStamp - 1), y);
        im.at(col, y) = sc.hot_column[b] ? im.at(col, y) + sc.hot_offset[b] * sky : (left + right) / 2;
      }
  }
  for (const Track& t : sc.cosmic_rays)
    for (size_t k = 0; k < t.pixels.size(); ++k)
      bands[t.band].at(t.pixels[k].first, t.pixels[k].second) += t.values[k] * sc.sky[t.band];
}

void summarise(const Scene& sc, RealisticCutout& out) {
  out.galaxy = sc.central.galaxy;
  out.r_mag = sc.central.r_mag;
  out.re_arcsec = sc.central.re * kPixelArcsec;
  out.fwhm_arcsec = sc.psf[2].fwhm * kPixelArcsec;
  out.psf_ellipticity = 1 - sc.psf[2].q;
  out.neighbours = int(sc.neighbours.size());
  for (const SkyObject& o : sc.neighbours)
    out.close_neighbours += std::hypot(o.x - sc.central.x, o.y - sc.central.y) * kPixelArcsec < kBlendRadiusArcsec;
  for (const Track& t : sc.cosmic_rays) out.cosmic_ray_pixels += int(t.pixels.size());
  for (int col : sc.bad_column) out.bad_columns += col >= 0;
  out.gradient = sc.slope[2] * kStamp * sc.sky[2];
}

}  // namespace

void add_moffat_point_source(Image& img, double x0, double y0, double flux, const MoffatPsf& psf) {
  add_star(img, x0, y0, flux, psf_model(psf));
}

double star_galaxy_flux_5sigma() {
  static const double flux = [] {
    Image star(kStamp, kStamp);
    add_moffat_point_source(star, 21.5, 21.5, 1, {kMedianFwhmArcsec / kPixelArcsec, 1, 0, 3.5});
    return 5 / l2(star);
  }();
  return flux;
}

RealisticCutout realistic_star_galaxy_cutout(uint64_t seed, int64_t index, double depth_r, bool render) {
  Rng rng(seed, "star_galaxy_realistic", uint64_t(index));
  Scene sc = draw_scene(rng);
  RealisticCutout out;
  summarise(sc, out);
  if (!render) return out;
  PsfModel psf[5];
  Image central[5];
  for (int b = 0; b < 5; ++b) psf[b] = psf_model(sc.psf[b]), central[b] = Image(kStamp, kStamp);
  add_objects({&sc.central}, psf, depth_r, central);
  out.snr = l2(central[2]) / sc.sky[2];
  std::vector<const SkyObject*> others;
  for (const SkyObject& o : sc.neighbours) others.push_back(&o);
  for (int b = 0; b < 5; ++b) out.band[b] = central[b];
  add_objects(others, psf, depth_r, out.band);
  observe(sc, rng, out.band);
  return out;
}

MoffatPsf random_seeing(Rng& rng, double median_fwhm) {
  double e = std::min(std::abs(rng.normal(0, kPsfEllipticityRms)), kPsfEllipticityMax);
  return {median_fwhm * std::exp(kFwhmLnScatter * rng.normal()), 1 - e, rng.uniform(0, M_PI), rng.uniform(2.5, 4.5)};
}

Image convolve_moffat(const Image& img, const MoffatPsf& psf) {
  Image out(img.width, img.height);
  add_convolved(img, psf_model(psf).kernel, out);
  return out;
}

void add_sky_and_artefacts(Image& img, double sigma, double cosmic_rays, Rng& rng) {
  double grad = rng.log_uniform(0.05, 2.0) / img.width, ang = rng.uniform(0, 2 * M_PI);
  double offset = rng.normal(0, 0.15), cx = (img.width - 1) / 2.0, cy = (img.height - 1) / 2.0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      double background = offset + grad * ((x - cx) * std::cos(ang) + (y - cy) * std::sin(ang));
      img.at(x, y) += sigma * (background + rng.normal());
    }
  int hits = poisson(rng, cosmic_rays);
  for (int h = 0; h < hits; ++h) {
    double x = rng.uniform(0, img.width), y = rng.uniform(0, img.height), ang_cr = rng.uniform(0, M_PI);
    double amp = rng.log_uniform(5, 200), step = 1 / std::max(std::abs(std::cos(ang_cr)), std::abs(std::sin(ang_cr)));
    int len = int(rng.integer(1, 6));
    for (int k = 0; k < len; ++k) {
      int px = int(std::floor(x + k * step * std::cos(ang_cr))), py = int(std::floor(y + k * step * std::sin(ang_cr)));
      double v = amp * rng.uniform(0.5, 1.0);
      if (px >= 0 && px < img.width && py >= 0 && py < img.height) img.at(px, py) += v * sigma;
    }
  }
}

TensorsByName simulate_star_galaxy_realistic(int64_t n, uint64_t seed, const SimArgs& a) {
  // --snr scales the depth: 30 (the default) is SDSS's r = 22.2.
  double depth = kSdssDepthR + 2.5 * std::log10(a.number("snr") / 30);
  Tensor img(DType::F32, {n, 5, kStamp, kStamp}), labels(DType::I64, {n});
  Tensor mags(DType::F32, {n, 1}), snrs(DType::F32, {n, 1});
  for (int64_t s = 0; s < n; ++s) {
    RealisticCutout cut = realistic_star_galaxy_cutout(seed, s, depth, true);
    float* out = img.data<float>() + s * 5 * kStamp * kStamp;
    for (int b = 0; b < 5; ++b)
      for (size_t i = 0; i < cut.band[b].pix.size(); ++i) out[b * kStamp * kStamp + i] = float(cut.band[b].pix[i]);
    labels.data<int64_t>()[s] = cut.galaxy ? 1 : 0;
    mags.data<float>()[s] = float(cut.r_mag);
    snrs.data<float>()[s] = float(cut.snr);
  }
  return {{"img", img}, {"label", labels}, {"r_mag", mags}, {"snr", snrs}};
}

}  // namespace starc::sim
