// Survey file formats (docs/data.md "Survey spectra", docs/simulators.md "Survey file
// formats"): `starc simulate spectra --format sdss|desi` writes files laid out as SDSS
// DR17 spec-PLATE-MJD-FIBER.fits and DESI coadd-*.fits / redrock-*.fits (checked with
// astropy, an independent reader), `starc convert` reads them back onto the model's grid
// with bad pixels masked, and the converted spectra go through stdlib/astro/redshift.net.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "runtime/io/fits.h"
#include "runtime/io/npy.h"
#include "runtime/io/survey_spectra.h"
#include "shell_util.h"
#include "temp_dir_test.h"

namespace fs = std::filesystem;
using namespace starc;

namespace {

constexpr int64_t kPixels = 4618;

class SurveyFormats : public test::TempDirTest {
 protected:
  SurveyFormats() : TempDirTest("starc_survey_") {}

  test::ShellResult starc(const std::string& args) { return test::run_starc(dir.string(), args); }
  void simulate(const std::string& format, const std::string& out, int n, const std::string& extra = "") {
    test::ShellResult r = starc(fmt_args(format, out, n) + extra);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  static std::string fmt_args(const std::string& format, const std::string& out, int n) {
    return "simulate spectra --kind mixed --seed 7 --n " + std::to_string(n) + " -o " + out + " --format " + format;
  }
  bool have_astropy() { return test::python_imports("astropy.io.fits, numpy").code == 0; }
  // Runs a Python script (numpy as np, astropy's fits imported) in the test folder.
  test::ShellResult python(const std::string& script) {
    write("check.py", "import numpy as np\nfrom astropy.io import fits\n" + script);
    return test::sh("cd " + test::quote(dir.string()) + " && " + test::kPython + " check.py");
  }
};

#define REQUIRE_ASTROPY() \
  if (!have_astropy()) GTEST_SKIP() << test::kPython << " cannot import astropy.io.fits (scripts/setup.sh)"

// Spectrum `k` of a [N,1,L] tensor standardised over the pixels where `covered` is set,
// the rest 0: the .npy simulation normalised as `starc convert --normalize standardize`
// normalises a spectrum with gaps.
std::vector<double> standardize_over(const Tensor& t, int64_t k, const std::vector<bool>& covered) {
  double mean = 0, var = 0, n = 0;
  for (int64_t i = 0; i < kPixels; ++i)
    if (covered[size_t(i)]) mean += t.get(k * kPixels + i), n += 1;
  mean /= n;
  for (int64_t i = 0; i < kPixels; ++i)
    if (covered[size_t(i)]) var += std::pow(t.get(k * kPixels + i) - mean, 2);
  double sd = std::sqrt(var / n);
  std::vector<double> out(kPixels, 0.0);
  for (int64_t i = 0; i < kPixels; ++i)
    if (covered[size_t(i)]) out[size_t(i)] = (t.get(k * kPixels + i) - mean) / sd;
  return out;
}

}  // namespace

// The SDSS files against the DR17 data model (HDU names, column names and TFORMs, header
// keys), read by astropy; the truth in SPALL is the .npy simulation's z and label.
TEST_F(SurveyFormats, SdssFilesHaveTheDr17SpecLayout) {
  REQUIRE_ASTROPY();
  simulate("sdss", "sdss", 4);
  simulate("npy", "npy", 4);
  test::ShellResult r = python(R"(
import glob, os
files = sorted(glob.glob('sdss/spec-*.fits'))
assert len(files) == 4, files
z, label = np.load('npy/z.npy')[:, 0], np.load('npy/label.npy')
for k, f in enumerate(files):
    h = fits.open(f)
    assert [x.name for x in h] == ['PRIMARY', 'COADD', 'SPALL'], [x.name for x in h]
    p = h[0].header
    plate, mjd, fiber = (int(v) for v in os.path.basename(f)[5:-5].split('-'))
    assert (p['PLATEID'], p['MJD'], p['FIBERID']) == (plate, mjd, fiber), (p['PLATEID'], f)
    assert p['COEFF1'] == 1e-4 and p['WFITTYPE'] == 'LOG-LINEAR' and p['VACUUM'] is True
    c = h['COADD']
    want = [('flux', 'E'), ('loglam', 'E'), ('ivar', 'E'), ('and_mask', 'J'), ('or_mask', 'J'), ('wdisp', 'E'),
            ('sky', 'E'), ('model', 'E')]
    assert [(x.name, x.format) for x in c.columns] == want, c.columns
    d = c.data
    assert np.allclose(np.diff(d['loglam']), 1e-4, atol=1e-6), 'log-linear, step 1e-4 (float32)'
    assert abs(d['loglam'][0] - p['COEFF0']) < 1e-6
    bad = d['and_mask'] != 0
    assert 30 < bad.sum() < 400, bad.sum()
    nodata = (d['and_mask'] & (1 << 24)) != 0
    assert np.all(d['ivar'][nodata] == 0) and np.all(d['flux'][nodata] == 0)
    assert ((d['ivar'] == 0) & ~bad).sum() == 3, 'three rejected pixels flagged by ivar alone'
    assert np.all(d['ivar'][~nodata & (d['ivar'] > 0)] > 0)
    s = h['SPALL']
    for name, form in [('PLATE', 'J'), ('MJD', 'J'), ('FIBERID', 'J'), ('CLASS', '6A'), ('Z', 'E'), ('Z_ERR', 'E'),
                       ('ZWARNING', 'J')]:
        assert s.columns[name].format == form, (name, s.columns[name].format)
    row = s.data[0]
    assert len(s.data) == 1 and row['PLATE'] == plate and row['FIBERID'] == fiber
    assert row['Z'] == np.float32(z[k]), (row['Z'], z[k])
    assert row['CLASS'] == ('QSO' if label[k] == 1 else 'GALAXY'), row['CLASS']
print('layout ok')
)");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("layout ok"), std::string::npos) << r.out;
}

// The DESI files against the desidatamodel coadd / redrock layout: per-arm image HDUs of
// the right types and sizes on the 0.8 A lattice, FIBERMAP and REDSHIFTS with 64-bit
// TARGETIDs past 2^53, several objects per file.
TEST_F(SurveyFormats, DesiFilesHaveTheCoaddLayout) {
  REQUIRE_ASTROPY();
  simulate("desi", "desi", 105);
  simulate("npy", "npy", 105);
  test::ShellResult r = python(R"(
import glob
files = sorted(glob.glob('desi/coadd-*.fits'))
assert [f[5:] for f in files] == ['coadd-main-dark-10000.fits', 'coadd-main-dark-10001.fits'], files
z, label = np.load('npy/z.npy')[:, 0], np.load('npy/label.npy')
names = ['PRIMARY', 'FIBERMAP']
for arm in 'BRZ':
    names += [arm + '_' + x for x in ('WAVELENGTH', 'FLUX', 'IVAR', 'MASK', 'RESOLUTION')]
first = 0
for f, rows in zip(files, (100, 5)):
    h = fits.open(f)
    assert [x.name for x in h] == names, [x.name for x in h]
    assert h[0].header['SPGRP'] == 'healpix' and h[0].header['SURVEY'] == 'main'
    fm = h['FIBERMAP'].data
    assert h['FIBERMAP'].columns['TARGETID'].format == 'K' and len(fm) == rows
    assert fm['TARGETID'].min() > 2**53 and len(set(fm['TARGETID'])) == rows
    for arm, start, n in (('B', 3600.0, 2751), ('R', 5760.0, 2326), ('Z', 7520.0, 2881)):
        w = h[arm + '_WAVELENGTH']
        assert w.data.dtype == np.dtype('>f8') and w.header['BUNIT'] == 'Angstrom'
        assert np.allclose(w.data, start + 0.8 * np.arange(n)), arm
        assert h[arm + '_FLUX'].data.shape == (rows, n) and h[arm + '_FLUX'].data.dtype == np.dtype('>f4')
        assert h[arm + '_IVAR'].data.shape == (rows, n)
        m = h[arm + '_MASK'].data
        assert m.dtype == np.uint32 and m.shape == (rows, n), m.dtype
        cosmic_or_dead = (m & 0b110) != 0  # COSMIC, ALLBADPIX: no data
        assert ((m & 4) != 0).sum() >= rows and np.all(h[arm + '_IVAR'].data[cosmic_or_dead] == 0), arm
        assert h[arm + '_RESOLUTION'].data.shape == (rows, 11, n)
        assert np.allclose(h[arm + '_RESOLUTION'].data.sum(axis=1), 1, atol=1e-5)
    rr = fits.open(f.replace('coadd-', 'redrock-'))
    red = rr['REDSHIFTS'].data
    assert rr['REDSHIFTS'].columns['Z'].format == 'D' and rr['REDSHIFTS'].columns['TARGETID'].format == 'K'
    assert np.array_equal(red['TARGETID'], fm['TARGETID'])
    assert np.allclose(red['Z'], z[first:first + rows], rtol=1e-6), 'the .npy simulation of the same seed'
    assert list(red['SPECTYPE']) == ['QSO' if l == 1 else 'GALAXY' for l in label[first:first + rows]]
    # The arms overlap on shared wavelengths (B/R 5760-5800 A, R/Z 7520-7620 A).
    assert np.allclose(h['B_WAVELENGTH'].data[2700:], h['R_WAVELENGTH'].data[:51])
    assert np.allclose(h['R_WAVELENGTH'].data[2200:], h['Z_WAVELENGTH'].data[:126])
    first += rows
print('layout ok')
)");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("layout ok"), std::string::npos) << r.out;
}

// Every pixel an SDSS file marks bad (and_mask != 0 or ivar == 0) is 0 after conversion;
// every other pixel is the file's flux exactly (the file's grid is the model's lattice).
TEST_F(SurveyFormats, ConvertMasksSdssBadPixels) {
  simulate("sdss", "sdss", 3);
  test::ShellResult r = starc("convert sdss -o flux.npy --resample-loglam sdss");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("marked bad"), std::string::npos) << r.out;
  Tensor flux = read_npy(path("flux.npy"));
  ASSERT_EQ(type_str(flux.type()), "f32[3,1,4618]");
  std::vector<std::string> files;
  for (auto& e : fs::directory_iterator(dir / "sdss")) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 3u);
  for (int64_t k = 0; k < 3; ++k) {
    Tensor cols = read_fits_columns(files[size_t(k)] + "[COADD]", {"loglam", "flux", "ivar", "and_mask"}, DType::F64);
    int64_t rows = cols.dim(0), first = std::llround((cols.get(0) - 3.5522) / 1e-4), bad = 0;
    for (int64_t i = 0; i < first; ++i) EXPECT_EQ(flux.get(k * kPixels + i), 0) << "outside, pixel " << i;
    for (int64_t p = 0; p < rows; ++p) {
      double got = flux.get(k * kPixels + first + p), f = cols.get(p * 4 + 1);
      if (cols.get(p * 4 + 2) == 0 || cols.get(p * 4 + 3) != 0) {
        EXPECT_EQ(got, 0) << files[size_t(k)] << " bad pixel " << p;
        ++bad;
      } else {
        EXPECT_NEAR(got, f, 1e-6 * std::abs(f) + 1e-9) << files[size_t(k)] << " pixel " << p;
      }
    }
    EXPECT_GT(bad, 20) << "sky lines and rejected pixels";
  }
}

// The clause of issue 34: an SDSS-format and a DESI-format file of the same simulated
// objects as the .npy files go through `starc convert` and `starc run
// stdlib/astro/redshift.net`. Tolerances, against the .npy flux standardised over the
// pixels the conversion covers: SDSS (the model's own grid, float32 flux) 1e-5 at every
// pixel; DESI (interpolated onto the arms' 0.8 A grids by the simulator, averaged back by
// the converter: the two smooth pixel-scale noise and the Lyman-alpha forest) an RMS
// under 0.15 and a correlation above 0.98 per spectrum, and under 0.1 inside the arms'
// overlaps, where the ivar-weighted merge gets the simulated value back (measured
// 0.03-0.07; DesiArmsMergeByInverseVariance checks the merge itself).
TEST_F(SurveyFormats, SdssAndDesiFilesRunThroughConvertAndRedshiftNet) {
  const int n = 6;
  simulate("npy", "npy", n);
  simulate("sdss", "sdss", n);
  simulate("desi", "desi", n);
  Tensor truth = read_npy(path("npy/flux.npy")), z = read_npy(path("npy/z.npy")),
         label = read_npy(path("npy/label.npy"));
  test::ShellResult init =
      test::run_starc(STARC_SOURCE_DIR, "init stdlib/astro/redshift.net --seed 3 -o " + path("w.npz"));
  ASSERT_EQ(init.code, 0) << init.out;
  for (const char* format : {"sdss", "desi"}) {
    std::string f = format, in = f == "sdss" ? "sdss" : "'desi/coadd-*.fits'";
    test::ShellResult r =
        starc("convert " + in + " -o " + f + ".npy --resample-loglam sdss --normalize standardize -q" + " --out-z " +
              f + "_z.npy --out-class " + f + "_class.npy");
    ASSERT_EQ(r.code, 0) << r.out;
    Tensor x = read_npy(path(f + ".npy")), zz = read_npy(path(f + "_z.npy")), cls = read_npy(path(f + "_class.npy"));
    ASSERT_EQ(type_str(x.type()), "f32[6,1,4618]") << f;
    ASSERT_EQ(type_str(zz.type()), "f32[6,1]") << f;
    for (int64_t k = 0; k < n; ++k) {
      EXPECT_EQ(zz.get(k), z.get(k)) << f << " z of object " << k;
      EXPECT_EQ(cls.get(k), label.get(k)) << f << " class of object " << k;
      std::vector<bool> covered(kPixels);
      for (int64_t i = 0; i < kPixels; ++i) covered[size_t(i)] = x.get(k * kPixels + i) != 0;
      std::vector<double> want = standardize_over(truth, k, covered);
      double sq = 0, sq_overlap = 0, sxy = 0, sxx = 0, syy = 0, max_diff = 0;
      int64_t count = 0, overlap = 0;
      for (int64_t i = 0; i < kPixels; ++i) {
        if (!covered[size_t(i)]) continue;
        double got = x.get(k * kPixels + i), w = want[size_t(i)], lam = std::pow(10.0, 3.5522 + 1e-4 * double(i));
        sq += (got - w) * (got - w), sxy += got * w, sxx += got * got, syy += w * w, ++count;
        max_diff = std::max(max_diff, std::abs(got - w));
        if ((lam > 5762 && lam < 5798) || (lam > 7525 && lam < 7615)) sq_overlap += (got - w) * (got - w), ++overlap;
      }
      EXPECT_GT(count, f == "sdss" ? 4400 : 4200) << f << " object " << k;
      if (f == "sdss") {
        EXPECT_LT(max_diff, 1e-5) << "object " << k;
      } else {
        EXPECT_LT(std::sqrt(sq / double(count)), 0.15) << "object " << k;
        EXPECT_GT(sxy / std::sqrt(sxx * syy), 0.98) << "object " << k;
        ASSERT_GT(overlap, 50);
        EXPECT_LT(std::sqrt(sq_overlap / double(overlap)), 0.1) << "object " << k << " in the arms' overlaps";
      }
    }
    r = test::run_starc(STARC_SOURCE_DIR, "run stdlib/astro/redshift.net --in flux=" + path(f + ".npy") +
                                              " --weights " + path("w.npz") + " --out " + path(f + "_pred.npy"));
    ASSERT_EQ(r.code, 0) << r.out;
    Tensor pred = read_npy(path(f + "_pred.npy"));
    ASSERT_EQ(type_str(pred.type()), "f32[6,1]") << f;
    for (int64_t k = 0; k < n; ++k) EXPECT_TRUE(std::isfinite(pred.get(k))) << f << " prediction " << k;
    EXPECT_NE(pred.get(0), pred.get(1)) << "different spectra, different outputs";
  }
}

// The conversion record: grid, masking rule, normalisation, and the rows' sources in
// order, next to the output.
TEST_F(SurveyFormats, ConvertWritesTheSidecarJson) {
  REQUIRE_ASTROPY();
  simulate("desi", "desi", 3);
  test::ShellResult r = starc("convert desi -o x.npy --resample-loglam 3.6,3.9,1000 --normalize zero-mean -q");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("redrock-main-dark-10000.fits: left out"), std::string::npos) << r.out;
  r = python(R"(
import json
j = json.load(open('x.json'))
assert j['grid'] == {'log10_lambda_start': 3.6, 'log10_lambda_stop': 3.9, 'pixels': 1000,
                     'step': (3.9 - 3.6) / 999, 'unit': 'log10 Angstrom (vacuum)'}, j['grid']
assert j['normalize'] == 'zero-mean' and j['shape'] == [3, 1, 1000] and 'and_mask' in j['masking']
ids = fits.open('desi/coadd-main-dark-10000.fits')['FIBERMAP'].data['TARGETID']
assert [s['id'] for s in j['spectra']] == [str(i) for i in ids], j['spectra']
assert [s['row'] for s in j['spectra']] == [0, 1, 2]
assert all(s['format'] == 'desi' and s['bad_pixels'] > 0 for s in j['spectra'])
print('sidecar ok')
)");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("sidecar ok"), std::string::npos) << r.out;
}

// DESI's B and R arms share 51 wavelengths (5760-5800 A): the merged spectrum has each of
// them once, with the ivar-weighted mean of the two arms' fluxes and the summed ivar —
// which differs from a plain mean, since the simulated arms disagree there.
TEST_F(SurveyFormats, DesiArmsMergeByInverseVariance) {
  simulate("desi", "desi", 2);
  std::string file = path("desi/coadd-main-dark-10000.fits");
  std::vector<SurveySpectrum> s = read_survey_spectra(file);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].id, "39627000010000001");
  EXPECT_EQ(s[0].loglam.size(), size_t(2751 + 2326 + 2881 - 51 - 126));
  Tensor bf = read_fits(file + "[B_FLUX]", {}, DType::F64), bi = read_fits(file + "[B_IVAR]", {}, DType::F64);
  Tensor rf = read_fits(file + "[R_FLUX]", {}, DType::F64), ri = read_fits(file + "[R_IVAR]", {}, DType::F64);
  for (int64_t row = 0; row < 2; ++row) {
    const SurveySpectrum& sp = s[size_t(row)];
    double plain_gap = 0;
    for (int64_t k = 0; k < 51; ++k) {  // B pixel 2700 + k is R pixel k
      double lam = 5760 + 0.8 * double(k);
      auto it = std::lower_bound(sp.loglam.begin(), sp.loglam.end(), std::log10(lam) - 1e-9);
      ASSERT_NE(it, sp.loglam.end());
      size_t at = size_t(it - sp.loglam.begin());
      ASSERT_NEAR(std::pow(10.0, sp.loglam[at]), lam, 1e-6);
      ASSERT_LT(std::pow(10.0, sp.loglam[at + 1]), lam + 0.81) << "one pixel per shared wavelength";
      double fb = bf.get(row * 2751 + 2700 + k), wb = bi.get(row * 2751 + 2700 + k);
      double fr = rf.get(row * 2326 + k), wr = ri.get(row * 2326 + k);
      EXPECT_NEAR(sp.flux[at], (fb * wb + fr * wr) / (wb + wr), 1e-9 * (std::abs(fb) + std::abs(fr))) << lam;
      EXPECT_NEAR(sp.ivar[at], wb + wr, 1e-9 * (wb + wr)) << lam;
      plain_gap += std::abs(sp.flux[at] - (fb + fr) / 2) * std::sqrt(wb + wr) / 51;  // in sigmas
    }
    EXPECT_GT(plain_gap, 0.3) << "a plain mean would be this many sigmas off: the weights must matter here";
  }
}

// Broken survey files: one line naming the file and the HDU or column, never a crash.
TEST_F(SurveyFormats, BadSurveyFilesNameTheFileAndHdu) {
  REQUIRE_ASTROPY();
  simulate("sdss", "sdss", 1);
  simulate("desi", "desi", 2);
  test::ShellResult r = python(R"(
import shutil
spec = 'sdss/spec-4000-55500-0001.fits'
h = fits.open(spec)
cols = [c for c in h['COADD'].columns if c.name != 'and_mask']
fits.HDUList([h[0], fits.BinTableHDU.from_columns(cols, name='COADD'), h['SPALL']]).writeto('no_mask.fits')
fits.HDUList([h[0], h['COADD']]).writeto('no_spall.fits')
d = fits.open('desi/coadd-main-dark-10000.fits')
fits.HDUList([x for x in d if x.name != 'R_IVAR']).writeto('no_ivar.fits')
fits.HDUList([x for x in d if not x.name.endswith('_MASK')]).writeto('no_masks.fits')
d2 = fits.HDUList([x.copy() for x in d])
d2['Z_FLUX'].data = d2['Z_FLUX'].data[:, :-1]
d2.writeto('short_flux.fits')
d3 = fits.HDUList([x.copy() for x in d])
d3['R_WAVELENGTH'].data = d3['R_WAVELENGTH'].data + 0.4
d3.writeto('shifted_arm.fits')
os_dir = 'mism'
import os
os.mkdir(os_dir)
shutil.copy('desi/coadd-main-dark-10000.fits', 'mism/coadd-x.fits')
rr = fits.open('desi/redrock-main-dark-10000.fits')
rr['REDSHIFTS'].data['TARGETID'][1] += 1
rr.writeto('mism/redrock-x.fits')
open('trunc.fits', 'wb').write(open(spec, 'rb').read()[:20000])
)");
  ASSERT_EQ(r.code, 0) << r.out;
  auto error = [&](const std::string& args, const std::string& needle) {
    test::expect_starc_error(dir.string(), "convert " + args + " -o o.npy --resample-loglam sdss", needle);
  };
  error("no_mask.fits", "no_mask.fits (HDU 1 COADD): no column 'and_mask'");
  error("no_spall.fits --out-z z.npy", "no_spall.fits: no labels for --out-z");
  error("no_ivar.fits", "no_ivar.fits: has R_FLUX but no R_IVAR HDU");
  error("short_flux.fits", "short_flux.fits[Z_FLUX]: is f64[2,2880]");
  error("shifted_arm.fits", "arms B and R overlap");
  error("mism/coadd-x.fits --out-z z.npy", "mism/redrock-x.fits[REDSHIFTS]: TARGETIDs");
  error("trunc.fits", "trunc.fits");
  error("'nothing-*.fits'", "nothing-*.fits: no file matches the pattern");
  test::expect_starc_error(dir.string(), "convert sdss -o o.json --resample-loglam sdss", "must not end in .json");
  test::expect_starc_error(dir.string(), "convert sdss -o o.npy", "needs --resample-loglam");
  // Without _MASK HDUs (they are optional): ivar alone marks the bad pixels.
  test::ShellResult ok = starc("convert no_masks.fits -o ok.npy --resample-loglam sdss");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_EQ(type_str(read_npy(path("ok.npy")).type()), "f32[2,1,4618]");
}

// Light-curve tables (docs/data.md, "Light curves"): the supernova simulation written as
// one CSV table of observations (object_id, mjd, band, flux, flux_err and metadata) and
// as FITS tables, one per object, converts back to the simulation's own [N, 40, 13]
// tensor; a band missing from an epoch is interpolated in time, or held before the band's
// first observation.
TEST_F(SurveyFormats, LightCurveTablesAlignIntoTheSupernovaLayout) {
  REQUIRE_ASTROPY();
  test::ShellResult r = starc("simulate supernova --n 4 --seed 3 -o sn");
  ASSERT_EQ(r.code, 0) << r.out;
  r = python(R"(
lc = np.load('sn/lc.npy')
rows = []
for k in range(lc.shape[0]):
    cols = {n: [] for n in ('mjd', 'band', 'flux', 'flux_err', 'ra', 'decl', 'mwebv', 'hostgal_photoz')}
    for e in range(lc.shape[1]):
        if e > 0 and lc[k, e, 0] == 0:
            break
        for b, name in enumerate('griz'):
            if (k, e, b) in ((0, 5, 1), (0, 0, 0)):  # r at epoch 5 and g at epoch 0 of object 0: not observed
                continue
            v = [59000 + 100 * float(lc[k, e, 0]), name, repr(float(lc[k, e, 1 + b])), repr(float(lc[k, e, 5 + b]))]
            v += [repr(float(x)) for x in lc[k, e, 9:13]]
            rows.append('%d,%r,%s,%s,%s,%s,%s,%s,%s' % tuple([1000 + k] + v))
            for n, x in zip(cols, v[:2] + [float(v[2]), float(v[3])] + [float(x) for x in lc[k, e, 9:13]]):
                cols[n].append(x)
    if k >= 2:  # objects 2 and 3 also as FITS tables, one object each
        fits.BinTableHDU.from_columns([
            fits.Column(name='MJD', format='D', array=cols['mjd']), fits.Column(name='BAND', format='1A', array=cols['band']),
            fits.Column(name='FLUX', format='E', array=cols['flux']), fits.Column(name='FLUX_ERR', format='E', array=cols['flux_err']),
            fits.Column(name='RA', format='E', array=cols['ra']), fits.Column(name='DECL', format='E', array=cols['decl']),
            fits.Column(name='MWEBV', format='E', array=cols['mwebv']),
            fits.Column(name='HOSTGAL_PHOTOZ', format='E', array=cols['hostgal_photoz'])]).writeto('sn%d.fits' % k)
open('lc.csv', 'w').write('object_id,mjd,band,flux,flux_err,ra,decl,mwebv,hostgal_photoz\n' + '\n'.join(rows) + '\n')
)");
  ASSERT_EQ(r.code, 0) << r.out;
  r = starc("convert --light-curves lc.csv sn2.fits sn3.fits -o lc.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("lc.csv object 1000: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(1 values interpolated, 1 held)"), std::string::npos) << r.out;
  Tensor want = read_npy(path("sn/lc.npy")), got = read_npy(path("lc.npy"));
  ASSERT_EQ(type_str(got.type()), "f32[6,40,13]");
  auto at = [](const Tensor& t, int64_t k, int64_t e, int64_t c) { return double(t.get((k * 40 + e) * 13 + c)); };
  for (int64_t k = 0; k < 6; ++k) {
    int64_t src = k < 4 ? k : k - 2;  // rows 4, 5: objects 2, 3 from their FITS tables
    for (int64_t e = 0; e < 40; ++e)
      for (int64_t c = 0; c < 13; ++c) {
        if (src == 0 && ((e == 5 && (c == 2 || c == 6)) || (e == 0 && (c == 1 || c == 5)))) continue;
        double w = at(want, src, e, c);
        EXPECT_NEAR(at(got, k, e, c), w, 1e-6 * std::abs(w) + 1e-7) << "object " << k << " epoch " << e << " col " << c;
      }
  }
  double u = (at(want, 0, 5, 0) - at(want, 0, 4, 0)) / (at(want, 0, 6, 0) - at(want, 0, 4, 0));
  EXPECT_NEAR(at(got, 0, 5, 2), (1 - u) * at(want, 0, 4, 2) + u * at(want, 0, 6, 2), 1e-4) << "r interpolated";
  EXPECT_FLOAT_EQ(at(got, 0, 5, 6), std::max(at(want, 0, 4, 6), at(want, 0, 6, 6))) << "the larger error";
  EXPECT_FLOAT_EQ(at(got, 0, 0, 1), at(want, 0, 1, 1)) << "g held from epoch 1";
  write("bad.csv", "object_id,mjd,band,flux\n1,59000,g,1\n");
  test::expect_starc_error(dir.string(), "convert --light-curves bad.csv -o x.npy", "bad.csv: no column 'flux_err'");
  write("bad2.csv", "mjd,band,flux,flux_err\n59000,g,1,0.1\n59001,r,abc,0.1\n");
  test::expect_starc_error(dir.string(), "convert --light-curves bad2.csv -o x.npy",
                           "bad2.csv:3: column 'flux' is 'abc'");
  write("bad3.csv", "mjd,band,flux,flux_err\n59000,g,1,0\n");
  test::expect_starc_error(dir.string(), "convert --light-curves bad3.csv -o x.npy",
                           "bad3.csv:2: flux 1 with flux_err 0");
}

// Image cut-outs (docs/data.md, "Image cut-outs"): the star_galaxy simulation's 5-band
// images placed in larger WCS cubes (astropy) come back from `--cutout 44` centred on
// CRPIX; a pixel beyond the image and a NaN pixel are 0; a cube of another pixel scale,
// another band count, or without CRPIX is an error naming it.
TEST_F(SurveyFormats, ImageCutoutsCentreOnTheWcsReferencePixel) {
  REQUIRE_ASTROPY();
  test::ShellResult r = starc("simulate star_galaxy --n 3 --seed 2 -o sg");
  ASSERT_EQ(r.code, 0) << r.out;
  r = python(R"(
img = np.load('sg/img.npy')
def cube(data, crpix, scale=0.396):
    h = fits.ImageHDU(data)
    if crpix:
        h.header['CRPIX1'], h.header['CRPIX2'] = crpix  # 1-based
    h.header['CRVAL1'], h.header['CRVAL2'] = 150.0, 2.0
    h.header['CD1_1'], h.header['CD1_2'], h.header['CD2_1'], h.header['CD2_2'] = -scale / 3600, 0.0, 0.0, scale / 3600
    h.header['CTYPE1'], h.header['CTYPE2'] = 'RA---TAN', 'DEC--TAN'
    return fits.HDUList([fits.PrimaryHDU(), h])
def placed(k, ox, oy, bands=5):  # object k at columns ox.., rows oy.. of a 64 x 64 cube
    c = np.zeros((bands, 64, 64), np.float32)
    c[:, oy:oy + 44, ox:ox + 44] = img[k, :bands]
    return c
cube(placed(0, 3, 11), (3 + 22.5, 11 + 22.5)).writeto('c0.fits')
c = np.zeros((5, 64, 64), np.float32)
c[:, 0:43, 20:64] = img[1, :, 1:44, :]  # object 1 with its first row beyond the cube's top edge
c[2, 9, 30] = np.nan                    # band 2, cut-out row 10, column 10: blank
cube(c, (20 + 22.5, -1 + 22.5)).writeto('c1.fits')
cube(placed(2, 10, 10), (32.5, 32.5), scale=0.262).writeto('other_scale.fits')
cube(placed(2, 10, 10, bands=3), (32.5, 32.5)).writeto('three_bands.fits')
cube(placed(2, 10, 10), None).writeto('no_crpix.fits')
)");
  ASSERT_EQ(r.code, 0) << r.out;
  r = starc("convert --cutout 44 c0.fits c1.fits -o cut.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("c1.fits: centre pixel (41.5, 20.5), 0.396 arcsec/pixel; 220 pixels outside the image, 1 blank"),
            std::string::npos)
      << r.out;
  Tensor want = read_npy(path("sg/img.npy")), got = read_npy(path("cut.npy"));
  ASSERT_EQ(type_str(got.type()), "f32[2,5,44,44]");
  for (int64_t b = 0; b < 5; ++b)
    for (int64_t y = 0; y < 44; ++y)
      for (int64_t x = 0; x < 44; ++x) {
        int64_t i = (b * 44 + y) * 44 + x;
        EXPECT_EQ(got.get(i), want.get(i)) << "object 0 band " << b << " (" << x << ", " << y << ")";
        // Object 1's cut-out row 0 lies beyond the top of c1.fits; one pixel is blank.
        double w1 = y == 0 || (b == 2 && y == 10 && x == 10) ? 0.0 : want.get(5 * 44 * 44 + i);
        EXPECT_EQ(got.get(5 * 44 * 44 + i), w1) << "object 1 band " << b << " (" << x << ", " << y << ")";
      }
  test::expect_starc_error(dir.string(), "convert --cutout 44 c0.fits other_scale.fits -o x.npy",
                           "other_scale.fits: pixel scale 0.262 arcsec, but c0.fits has 0.396");
  test::expect_starc_error(dir.string(), "convert --cutout 44 c0.fits three_bands.fits -o x.npy",
                           "three_bands.fits: 3 band(s), but c0.fits has 5");
  test::expect_starc_error(dir.string(), "convert --cutout 44 no_crpix.fits -o x.npy",
                           "no_crpix.fits: no WCS reference pixel (CRPIX1, CRPIX2)");
}
