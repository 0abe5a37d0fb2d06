// runtime: the image simulators — `star_galaxy` (ugriz cut-outs; its realistic difficulty
// is in simulate_images_realistic.cpp), `transients`
// (difference-imaging stamps), `galaxies` (bulge+disk images and masks) and `lenses`
// (SIS strong lenses) — and the rendering they share: Sersic profiles, point sources and
// a separable double-Gaussian PSF (docs/simulators.md).
#include <algorithm>
#include <cmath>

#include "runtime/astro/simulate_internal.h"

namespace starc::sim {

namespace {

constexpr double kCoreWeight = 0.9, kWingScale = 2.0;  // PSF = 0.9 N(sigma) + 0.1 N(2 sigma)

// Fraction of a unit Gaussian (centre mu, width sigma) inside pixel [i - 0.5, i + 0.5].
double pixel_fraction(int i, double mu, double sigma) {
  double s = sigma * std::sqrt(2.0);
  return 0.5 * (std::erf((i + 0.5 - mu) / s) - std::erf((i - 0.5 - mu) / s));
}

// Sersic b_n (Ciotti & Bertin 1999): half the light inside re.
double sersic_b(double n) { return 2 * n - 1.0 / 3 + 4 / (405 * n) + 46 / (25515 * n * n); }

// Separable blur of `img` by a pixel-integrated Gaussian of width sigma, added into `out`
// with weight w.
void add_blurred(const Image& img, double sigma, double w, Image& out) {
  int r = int(std::ceil(4 * sigma)) + 1;
  std::vector<double> k(2 * r + 1);
  for (int i = -r; i <= r; ++i) k[i + r] = pixel_fraction(i, 0, sigma);
  Image tmp(img.width, img.height);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      double v = img.at(x, y);
      if (v == 0) continue;
      for (int d = -r; d <= r; ++d)
        if (x + d >= 0 && x + d < img.width) tmp.at(x + d, y) += v * k[d + r];
    }
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      double v = tmp.at(x, y);
      if (v == 0) continue;
      for (int d = -r; d <= r; ++d)
        if (y + d >= 0 && y + d < img.height) out.at(x, y + d) += w * v * k[d + r];
    }
}

void add_noise(Image& img, double sigma, Rng& rng) {
  for (double& v : img.pix) v += sigma * rng.normal();
}

// Sum of squares: the matched-filter S/N of a unit-noise image is its L2 norm.
double l2(const Image& img) {
  double s = 0;
  for (double v : img.pix) s += v * v;
  return std::sqrt(s);
}

double peak(const Image& img) { return *std::max_element(img.pix.begin(), img.pix.end()); }

void store(const Image& img, double scale, float* out) {
  for (size_t i = 0; i < img.pix.size(); ++i) out[i] = float(img.pix[i] * scale);
}

}  // namespace

double psf_second_moment(double sigma) {
  return kCoreWeight * sigma * sigma + (1 - kCoreWeight) * std::pow(kWingScale * sigma, 2);
}

void add_point_source(Image& img, double x0, double y0, double flux, double sigma) {
  for (auto [w, s] : {std::pair{kCoreWeight, sigma}, std::pair{1 - kCoreWeight, kWingScale * sigma}}) {
    std::vector<double> fx(img.width), fy(img.height);
    for (int x = 0; x < img.width; ++x) fx[x] = pixel_fraction(x, x0, s);
    for (int y = 0; y < img.height; ++y) fy[y] = pixel_fraction(y, y0, s);
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x) img.at(x, y) += flux * w * fx[x] * fy[y];
  }
}

void add_sersic(Image& img, double x0, double y0, double flux, double re, double n, double q, double pa) {
  double b = sersic_b(n);
  // Surface brightness at re so that the total (untruncated) flux is `flux`.
  double total_over_ie = 2 * M_PI * n * re * re * q * std::exp(b) * std::tgamma(2 * n) / std::pow(b, 2 * n);
  double ie = flux / total_over_ie;
  double c = std::cos(pa), s = std::sin(pa);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      double dx0 = x - x0, dy0 = y - y0;
      // Subsample pixels near the centre, where the profile is steep.
      int sub = dx0 * dx0 + dy0 * dy0 < 9 ? 7 : 3;
      double sum = 0;
      for (int j = 0; j < sub; ++j)
        for (int i = 0; i < sub; ++i) {
          double dx = dx0 + (i + 0.5) / sub - 0.5, dy = dy0 + (j + 0.5) / sub - 0.5;
          double u = dx * c + dy * s, v = -dx * s + dy * c;
          double r = std::sqrt(u * u + v * v / (q * q));
          double x = r / re;
          x = n == 1 ? x : n == 4 ? std::sqrt(std::sqrt(x)) : std::pow(x, 1 / n);
          sum += std::exp(-b * (x - 1));
        }
      img.at(x, y) += ie * sum / (sub * sub);
    }
}

Image convolve_psf(const Image& img, double sigma) {
  Image out(img.width, img.height);
  add_blurred(img, sigma, kCoreWeight, out);
  add_blurred(img, kWingScale * sigma, 1 - kCoreWeight, out);
  return out;
}

std::pair<double, double> second_moments(const Image& img) {
  double sw = 0, sx = 0, sy = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) sw += img.at(x, y), sx += x * img.at(x, y), sy += y * img.at(x, y);
  double mx = sx / sw, my = sy / sw, xx = 0, yy = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      xx += (x - mx) * (x - mx) * img.at(x, y), yy += (y - my) * (y - my) * img.at(x, y);
  return {xx / sw, yy / sw};
}

// ---- star_galaxy
TensorsByName simulate_star_galaxy(int64_t n, uint64_t seed, const SimArgs& a) {
  if (a.text("difficulty") == "realistic") return simulate_star_galaxy_realistic(n, seed, a);
  constexpr int S = 44;
  double snr = a.number("snr");
  Tensor img(DType::F32, {n, 5, S, S}), labels(DType::I64, {n}), mags(DType::F32, {n, 1}), snrs(DType::F32, {n, 1});
  // Relative sky noise per band (u and z are the noisiest in SDSS).
  const double sky[5] = {2.0, 1.0, 1.0, 1.3, 2.5};
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "star_galaxy", uint64_t(s));
    bool galaxy = rng.bernoulli(0.5);
    double seeing = rng.uniform(1.2, 1.6);  // r-band PSF core sigma (pixels)
    double x0 = (S - 1) / 2.0 + rng.uniform(-1, 1), y0 = (S - 1) / 2.0 + rng.uniform(-1, 1);
    double colour[5];  // f_nu per band relative to r
    double re = 0, q = 1, pa = 0, bulge_re = 0, bt = 0;
    if (galaxy) {
      int type = int(rng.integer(0, kSedTemplates - 1));
      double z = rng.uniform(0.02, 0.5), av = rng.uniform(0, 0.4);
      for (int b = 0; b < 5; ++b)
        colour[b] =
            sed_band_fnu(type, 0, z, av, kUgrizCentre[b] - kUgrizWidth[b] / 2, kUgrizCentre[b] + kUgrizWidth[b] / 2);
      // Early types are bulge-dominated, late types disks; sizes shrink with distance.
      bt = std::clamp(1.0 - 0.25 * type + rng.uniform(-0.15, 0.15), 0.0, 1.0);
      re = rng.log_uniform(1.0, 6.0);
      bulge_re = re * rng.uniform(0.3, 0.6);
      q = rng.uniform(0.3, 1.0);
      pa = rng.uniform(0, M_PI);
    } else {
      // Black-body stellar colours, effective temperature 3500-10000 K (cool stars commonest).
      double t = 3500 * std::pow(10000.0 / 3500, rng.uniform() * rng.uniform());
      for (int b = 0; b < 5; ++b) {
        double lam = kUgrizCentre[b] * 1e-8;                                 // cm
        colour[b] = std::pow(lam, -3) / (std::exp(1.4388 / (lam * t)) - 1);  // B_nu up to constants
      }
    }
    double snr_obj = snr * std::pow(3.0, rng.uniform(-1, 1));
    Image unit[5];      // each band's noiseless image of unit r-band flux
    Image model(S, S);  // the galaxy's morphology (the same in every band)
    if (galaxy && bt < 1) add_sersic(model, x0, y0, 1 - bt, re, 1, q, pa);
    if (galaxy && bt > 0) add_sersic(model, x0, y0, bt, bulge_re, 4, std::max(q, 0.6), pa);
    for (int b = 0; b < 5; ++b) {
      double sigma = seeing * std::pow(kUgrizCentre[b] / kUgrizCentre[2], -0.2);
      Image im(S, S);
      double f = colour[b] / colour[2];
      if (galaxy) {
        im = convolve_psf(model, sigma);
        for (double& v : im.pix) v *= f;
      } else {
        add_point_source(im, x0, y0, f, sigma);
      }
      unit[b] = std::move(im);
    }
    double flux = snr_obj / l2(unit[2]);  // r-band matched-filter S/N = snr_obj in unit noise
    for (int b = 0; b < 5; ++b) {
      for (double& v : unit[b].pix) v *= flux;
      add_noise(unit[b], sky[b], rng);
      store(unit[b], 1.0, img.data<float>() + (s * 5 + b) * S * S);
    }
    labels.data<int64_t>()[s] = galaxy ? 1 : 0;
    mags.data<float>()[s] = float(22.2 - 2.5 * std::log10(flux / star_galaxy_flux_5sigma()));
    snrs.data<float>()[s] = float(snr_obj);
  }
  return {{"img", img}, {"label", labels}, {"r_mag", mags}, {"snr", snrs}};
}

// ---- transients
TensorsByName simulate_transients(int64_t n, uint64_t seed, const SimArgs& a) {
  constexpr int S = 21;
  double snr = a.number("snr");
  Tensor stamps(DType::F32, {n, 4, S, S}), labels(DType::I64, {n});
  const double c = (S - 1) / 2.0;
  const double sigma_sci = 1.0, sigma_tpl = 0.5;  // the template is a deeper co-add
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "transients", uint64_t(s));
    bool real = rng.bernoulli(0.5);
    int bogus = real ? -1 : int(rng.integer(0, 3));  // cosmic ray, bad column, dipole, PSF mismatch
    double psf_t = rng.uniform(0.9, 1.4), psf_s = psf_t * rng.uniform(1.05, 1.6);
    // The static scene: sky only, a host galaxy, or a star; dipoles and PSF mismatches
    // need a bright star at the centre.
    Image scene(S, S);
    int scene_kind = bogus >= 2 ? 2 : int(rng.integer(0, 2));
    double sx = c + rng.uniform(-0.5, 0.5), sy = c + rng.uniform(-0.5, 0.5);
    if (scene_kind == 1)
      add_sersic(scene, c + rng.uniform(-3, 3), c + rng.uniform(-3, 3), rng.log_uniform(50, 600), rng.uniform(1, 4), 1,
                 rng.uniform(0.4, 1), rng.uniform(0, M_PI));
    double star_flux = scene_kind == 2 ? rng.log_uniform(300, 5000) : 0;
    Image tpl(S, S), sci(S, S);
    if (scene_kind != 2) {
      tpl = convolve_psf(scene, psf_t);
      sci = convolve_psf(scene, psf_s);
    } else {
      add_point_source(tpl, sx, sy, star_flux, psf_t);
      // Dipole: the science image is misregistered by 0.3-1 pixel.
      double shift = bogus == 2 ? rng.uniform(0.3, 1.0) : 0, ang = rng.uniform(0, 2 * M_PI);
      add_point_source(sci, sx + shift * std::cos(ang), sy + shift * std::sin(ang), star_flux, psf_s);
    }
    if (real) {
      // A new point source near the centre through the science PSF.
      Image unit(S, S);
      add_point_source(unit, c + rng.uniform(-0.7, 0.7), c + rng.uniform(-0.7, 0.7), 1, psf_s);
      double f = snr * std::pow(3.0, rng.uniform(-1, 1)) * sigma_sci / l2(unit);
      for (size_t i = 0; i < sci.pix.size(); ++i) sci.pix[i] += f * unit.pix[i];
    }
    add_noise(tpl, sigma_tpl, rng);
    add_noise(sci, sigma_sci, rng);
    if (bogus == 0) {
      // Cosmic ray: a sharp hit or short track, not blurred by the PSF.
      double amp = rng.log_uniform(8, 80), ang = rng.uniform(0, M_PI);
      int len = int(rng.integer(1, 6));
      double x = c + rng.uniform(-2, 2), y = c + rng.uniform(-2, 2);
      for (int k = 0; k < len; ++k) {
        int px = int(std::lround(x + k * std::cos(ang))), py = int(std::lround(y + k * std::sin(ang)));
        if (px >= 0 && px < S && py >= 0 && py < S) sci.at(px, py) += amp * rng.uniform(0.5, 1.0);
      }
    } else if (bogus == 1) {
      // Bad column (or row): an offset over part or all of the stamp.
      bool row = rng.bernoulli(0.3);
      int at = int(std::lround(c + rng.uniform(-3, 3)));
      int from = rng.bernoulli(0.5) ? 0 : int(rng.integer(0, S / 2));
      double off = rng.log_uniform(3, 30);
      for (int k = from; k < S; ++k) (row ? sci.at(k, at) : sci.at(at, k)) += off;
    }
    // PSF matching: the template blurred to the science PSF (for mismatches, wrongly).
    double k_sigma = std::sqrt(std::max(psf_s * psf_s - psf_t * psf_t, 1e-4));
    if (bogus == 3) k_sigma *= rng.bernoulli(0.5) ? rng.uniform(0.3, 0.6) : rng.uniform(1.5, 2.0);
    Image matched(S, S);
    add_blurred(tpl, k_sigma, 1.0, matched);
    double k2 = 0;  // sum of squares of the matching kernel: the template noise it passes
    for (int i = -8; i <= 8; ++i) k2 += std::pow(pixel_fraction(i, 0, k_sigma), 2);
    double sigma_diff = std::sqrt(sigma_sci * sigma_sci + sigma_tpl * sigma_tpl * k2 * k2);
    float* out = stamps.data<float>() + s * 4 * S * S;
    // Images in units of the science noise.
    store(tpl, 1.0 / sigma_sci, out);
    store(sci, 1.0 / sigma_sci, out + S * S);
    for (int i = 0; i < S * S; ++i) {
      double d = sci.pix[i] - matched.pix[i];
      out[2 * S * S + i] = float(d / sigma_sci);
      out[3 * S * S + i] = float(d / sigma_diff);
    }
    labels.data<int64_t>()[s] = real ? 1 : 0;
  }
  return {{"stamp", stamps}, {"label", labels}};
}

// ---- galaxies and lenses
namespace {

struct BulgeDisk {
  double x0, y0, flux, bt, re_disk, re_bulge, q, pa;
};

BulgeDisk random_bulge_disk(Rng& rng, double scale, double cx, double cy) {
  BulgeDisk g;
  g.x0 = cx + rng.uniform(-2, 2) * scale;
  g.y0 = cy + rng.uniform(-2, 2) * scale;
  g.flux = 1;
  g.bt = rng.uniform() < 0.2 ? 1.0 : rng.uniform(0, 0.9);  // some pure spheroids
  g.re_disk = rng.log_uniform(3, 10) * scale;
  g.re_bulge = g.re_disk * rng.uniform(0.2, 0.5);
  g.q = rng.uniform(0.2, 1.0);
  g.pa = rng.uniform(0, M_PI);
  return g;
}

void add_bulge_disk(Image& img, const BulgeDisk& g, double flux) {
  if (g.bt < 1) add_sersic(img, g.x0, g.y0, flux * (1 - g.bt), g.re_disk, 1, g.q, g.pa);
  if (g.bt > 0) add_sersic(img, g.x0, g.y0, flux * g.bt, g.re_bulge, 4, std::max(g.q, 0.6), g.pa);
}

// Galaxy Zoo's first questions, from the drawn parameters: bulge-dominated (B/T >= 0.6,
// "smooth"), else a disk seen face-on (axis ratio >= 0.5) or edge-on. The classes follow
// the parameters, not the noisy image, so faint or borderline galaxies are ambiguous.
int64_t morphology_class(const BulgeDisk& g) {
  if (g.bt >= 0.6) return 0;
  return g.q >= 0.5 ? 1 : 2;
}

}  // namespace

namespace {

// The galaxies task at --difficulty realistic (docs/simulators.md, "Difficulty (images)"):
// the same galaxies and classes through a Moffat PSF of per-image seeing, at a per-image
// S/N (log-normal, mostly below the easy mode's), with more neighbours (overlapping
// galaxies and stars, not in the mask), cosmic rays and background gradients.
TensorsByName simulate_galaxies_realistic(int64_t n, uint64_t seed, const SimArgs& a) {
  int S = int(a.integer("size"));
  double snr = a.number("snr"), scale = S / 64.0;
  Tensor img(DType::F32, {n, 1, S, S}), mask(DType::F32, {n, 1, S, S}), morphology(DType::I64, {n});
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "galaxies_realistic", uint64_t(s));
    double c = (S - 1) / 2.0;
    MoffatPsf psf = random_seeing(rng, 3.5 * scale);  // the easy mode's PSF FWHM spans 2.4-4.7 px
    Image model(S, S);
    BulgeDisk central_galaxy = random_bulge_disk(rng, scale, c, c);
    add_bulge_disk(model, central_galaxy, 1);
    morphology.data<int64_t>()[s] = morphology_class(central_galaxy);
    Image central = convolve_moffat(model, psf);
    double pk = peak(central), sigma = pk / (snr / 2.5 * std::exp(0.6 * rng.normal()));
    Image neighbours(S, S), stars(S, S);
    for (int k = int(rng.integer(0, 2)); k > 0; --k) {  // 0-2 neighbours, 4-30 px away
      double ang = rng.uniform(0, 2 * M_PI), dist = rng.uniform(4, 30) * scale;
      double x = c + dist * std::cos(ang), y = c + dist * std::sin(ang);
      if (rng.bernoulli(0.25)) {
        add_moffat_point_source(stars, x, y, pk * rng.log_uniform(2, 60), psf);  // a star: flux in peak units
      } else {
        add_bulge_disk(neighbours, random_bulge_disk(rng, scale * 0.6, x, y), rng.uniform(0.1, 1.0));
      }
    }
    Image all = convolve_moffat(neighbours, psf);
    for (size_t i = 0; i < all.pix.size(); ++i) all.pix[i] += central.pix[i] + stars.pix[i];
    add_sky_and_artefacts(all, sigma, 0.1 * scale * scale, rng);
    store(all, 1 / pk, img.data<float>() + s * S * S);
    float* m = mask.data<float>() + s * S * S;
    for (int i = 0; i < S * S; ++i) m[i] = central.pix[i] >= 2 * sigma ? 1.0f : 0.0f;  // the 2-sigma isophote
  }
  return {{"img", img}, {"mask", mask}, {"morphology", morphology}};
}

}  // namespace

TensorsByName simulate_galaxies(int64_t n, uint64_t seed, const SimArgs& a) {
  if (a.text("difficulty") == "realistic") return simulate_galaxies_realistic(n, seed, a);
  int S = int(a.integer("size"));
  double snr = a.number("snr"), scale = S / 64.0;
  Tensor img(DType::F32, {n, 1, S, S}), mask(DType::F32, {n, 1, S, S}), morphology(DType::I64, {n});
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "galaxies", uint64_t(s));
    double c = (S - 1) / 2.0, psf = rng.uniform(1.0, 2.0) * scale;
    Image model(S, S);
    BulgeDisk central_galaxy = random_bulge_disk(rng, scale, c, c);
    add_bulge_disk(model, central_galaxy, 1);
    morphology.data<int64_t>()[s] = morphology_class(central_galaxy);
    Image central = convolve_psf(model, psf);
    double pk = peak(central);
    Image all = central;
    // Sometimes a fainter neighbour (not in the mask: the U-Net learns to deblend).
    if (rng.bernoulli(0.3)) {
      Image nb(S, S);
      double ang = rng.uniform(0, 2 * M_PI), dist = rng.uniform(12, 26) * scale;
      BulgeDisk g = random_bulge_disk(rng, scale * 0.6, c + dist * std::cos(ang), c + dist * std::sin(ang));
      add_bulge_disk(nb, g, rng.uniform(0.1, 0.6));
      Image conv = convolve_psf(nb, psf);
      for (size_t i = 0; i < all.pix.size(); ++i) all.pix[i] += conv.pix[i];
    }
    add_noise(all, pk / snr, rng);
    store(all, 1 / pk, img.data<float>() + s * S * S);
    float* m = mask.data<float>() + s * S * S;
    for (int i = 0; i < S * S; ++i) m[i] = central.pix[i] >= 2 * pk / snr ? 1.0f : 0.0f;  // the 2-sigma isophote
  }
  return {{"img", img}, {"mask", mask}, {"morphology", morphology}};
}

TensorsByName simulate_lenses(int64_t n, uint64_t seed, const SimArgs& a) {
  int S = int(a.integer("size"));
  double snr = a.number("snr"), scale = S / 64.0;
  Tensor img(DType::F32, {n, 1, S, S}), labels(DType::I64, {n});
  for (int64_t s = 0; s < n; ++s) {
    Rng rng(seed, "lenses", uint64_t(s));
    bool lensed = rng.bernoulli(0.5);
    double c = (S - 1) / 2.0 + rng.uniform(-1, 1), psf = rng.uniform(1.0, 1.8) * scale;
    Image model(S, S);
    add_sersic(model, c, c, 1, rng.uniform(3, 6) * scale, 4, rng.uniform(0.6, 1), rng.uniform(0, M_PI));
    // The background source: a small exponential disk.
    double theta_e = rng.uniform(5, 12) * scale;
    double src_re = rng.uniform(0.8, 2.5) * scale, src_q = rng.uniform(0.4, 1), src_pa = rng.uniform(0, M_PI);
    double r = std::sqrt(rng.uniform()) * 0.9 * theta_e, phi = rng.uniform(0, 2 * M_PI);
    double bx = r * std::cos(phi), by = r * std::sin(phi);  // source position relative to the lens
    double lens_peak = peak(convolve_psf(model, psf));
    double src_sb = lens_peak * rng.uniform(0.08, 0.4);  // source central surface brightness
    double b = sersic_b(1), cs = std::cos(src_pa), sn = std::sin(src_pa);
    auto source = [&](double x, double y) {  // surface brightness at source-plane offset (x, y)
      double u = (x - bx) * cs + (y - by) * sn, v = -(x - bx) * sn + (y - by) * cs;
      return src_sb * std::exp(-b * std::sqrt(u * u + v * v / (src_q * src_q)) / src_re);
    };
    constexpr int sub = 3;
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        double sum = 0;
        for (int j = 0; j < sub; ++j)
          for (int i = 0; i < sub; ++i) {
            double tx = x + (i + 0.5) / sub - 0.5 - c, ty = y + (j + 0.5) / sub - 0.5 - c;
            if (lensed) {
              // Singular isothermal sphere: beta = theta - theta_E theta/|theta|
              // (surface brightness is conserved, so arcs appear magnified).
              double t = std::max(std::hypot(tx, ty), 1e-9);
              tx -= theta_e * tx / t, ty -= theta_e * ty / t;
            } else {
              // Unlensed, the same source sits beside the galaxy, outside the Einstein radius.
              tx -= theta_e * std::cos(phi), ty -= theta_e * std::sin(phi);
            }
            sum += source(tx, ty);
          }
        model.at(x, y) += sum / (sub * sub);
      }
    Image conv = convolve_psf(model, psf);
    add_noise(conv, lens_peak / snr, rng);
    store(conv, 1 / lens_peak, img.data<float>() + s * S * S);
    labels.data<int64_t>()[s] = lensed ? 1 : 0;
  }
  return {{"img", img}, {"label", labels}};
}

}  // namespace starc::sim
