// FITS reading and writing (runtime/io/fits.h) against an independent implementation:
// astropy under /usr/bin/python3 writes the files and saves what it reads back as .npy,
// starc must read the same numbers (exactly: integers, f32 and f64 alike); starc writes
// files that astropy must read back unchanged. Where astropy is missing these tests skip
// with the reason (scripts/setup.sh installs python3-astropy). Also: spectrum resampling
// against analytic functions, and bad files giving one clear line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "runtime/io/fits.h"
#include "runtime/io/npy.h"
#include "runtime/io/spectrum_resample.h"
#include "runtime/io/tensor_file.h"
#include "error_of.h"
#include "shell_util.h"
#include "temp_dir_test.h"

namespace fs = std::filesystem;
using namespace starc;

namespace {

class Fits : public test::TempDirTest {
 protected:
  Fits() : TempDirTest("starc_fits_") {}

  // Skips the test unless astropy and numpy import.
  bool have_astropy() {
    static const test::ShellResult probe = test::python_imports("astropy.io.fits, numpy");
    return probe.code == 0;
  }
  static std::string astropy_missing() {
    return std::string(test::kPython) +
           " cannot import astropy.io.fits and numpy (install python3-astropy "
           "python3-numpy, see scripts/setup.sh)";
  }
  // Runs a Python script in the test folder; ASSERTs in the caller on its exit code.
  test::ShellResult python(const std::string& script) {
    write("script.py", "import numpy as np\nfrom astropy.io import fits\n" + script);
    return test::sh("cd " + test::quote(dir.string()) + " && " + test::kPython + " script.py");
  }
};

#define REQUIRE_ASTROPY() \
  if (!have_astropy()) GTEST_SKIP() << astropy_missing()

// Equal element by element, NaN where `want` has NaN; `want` is f64 (what astropy read).
void expect_same(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what << ": " << type_str(got.type()) << " vs " << type_str(want.type());
  int bad = 0;
  for (int64_t i = 0; i < want.size() && bad < 5; ++i) {
    double w = got.dtype() == DType::F32 ? double(float(want.get(i))) : want.get(i);
    double g = got.get(i);
    if (std::isnan(w) ? !std::isnan(g) : g != w) {
      ADD_FAILURE() << what << " element " << i << ": starc " << g << ", astropy " << w;
      ++bad;
    }
  }
}

using test::error_of;

// The error of `f` has every needle, names `file`, and is one line.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  std::string msg = error_of(f);
  for (auto& n : needles) EXPECT_NE(msg.find(n), std::string::npos) << "expected '" << n << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
}

}  // namespace

TEST_F(Fits, ImagesOfEveryBitpixWithBscaleBzeroAndBlanks) {
  REQUIRE_ASTROPY();
  auto r = python(R"(
rng = np.random.default_rng(7)
cases = {
  'b8':  (rng.integers(0, 256, (2, 3, 4)).astype(np.uint8), 2.0, -5.0, None),
  'b16': (rng.integers(-30000, 30000, (5, 7)).astype(np.int16), 0.25, 100.0, -32768),
  'b32': (rng.integers(-2**31, 2**31 - 1, (3, 4)).astype(np.int32), 1.0, 2147483648.0, None),
  'b32plain': (rng.integers(-2**20, 2**20, (6,)).astype(np.int32), None, None, None),
  'bm32': (rng.normal(size=(4, 5)).astype(np.float32), None, None, None),
  'bm64': (rng.normal(size=(2, 2, 3)), None, None, None),
}
cases['b16'][0][0, 0] = -32768   # a BLANK pixel
cases['bm32'][0][1, 2] = np.nan
cases['bm64'][0][0, 1, 2] = np.nan
for name, (raw, bscale, bzero, blank) in cases.items():
    fits.PrimaryHDU(raw).writeto(name + '.fits', overwrite=True)
    if bscale is not None:   # raw values stay, the header says how to scale them
        fits.setval(name + '.fits', 'BSCALE', value=bscale)
        fits.setval(name + '.fits', 'BZERO', value=bzero)
    if blank is not None:
        fits.setval(name + '.fits', 'BLANK', value=blank)
    np.save(name + '.npy', np.asarray(fits.getdata(name + '.fits'), dtype=np.float64))
    print(name, fits.getheader(name + '.fits')['BITPIX'])
)");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* bitpix : {"b8 8", "b16 16", "b32 32", "bm32 -32", "bm64 -64"})
    EXPECT_NE(r.out.find(bitpix), std::string::npos) << r.out;
  for (const char* name : {"b8", "b16", "b32", "b32plain", "bm32", "bm64"}) {
    Tensor want = read_npy(path(std::string(name) + ".npy"));
    std::string file = path(std::string(name) + ".fits");
    Tensor f64 = read_fits(file, {}, DType::F64);
    EXPECT_EQ(f64.dtype(), DType::F64);
    expect_same(f64, want, std::string(name) + " f64");
    Tensor f32 = read_tensor_file(file);  // f32 by default
    EXPECT_EQ(f32.dtype(), DType::F32);
    expect_same(f32, want, std::string(name) + " f32");
  }
  EXPECT_TRUE(std::isnan(read_fits(path("b16.fits")).get(0))) << "BLANK must read as NaN";
  EXPECT_TRUE(std::isnan(read_fits(path("bm32.fits")).get(1 * 5 + 2)));
  // BSCALE 2, BZERO -5 on uint8 data: physical values are odd numbers from -5 up.
  Tensor b8 = read_fits(path("b8.fits"), {}, DType::F64);
  EXPECT_EQ(b8.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(int64_t(b8.get(0) + 5) % 2, 0);
  // Integer-valued images read exactly as i64.
  Tensor plain = read_tensor_file(path("b32plain.fits") + ":i64");
  EXPECT_EQ(plain.dtype(), DType::I64);
  expect_same(plain, read_npy(path("b32plain.npy")), "b32plain i64");
  expect_error([&] { read_tensor_file(path("bm64.fits") + ":i64"); }, {"bm64.fits", "not an integer"});
}

TEST_F(Fits, MultiExtensionFileByNumberAndName) {
  REQUIRE_ASTROPY();
  auto r = python(R"(
sci = np.arange(15, dtype=np.float32).reshape(3, 5) * 0.5
err = np.arange(15, dtype=np.int32).reshape(3, 5) - 7
tab = fits.BinTableHDU.from_columns([fits.Column(name='a', format='E', array=np.array([1.5, 2.5], np.float32))], name='CAT')
fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(sci, name='SCI'), fits.ImageHDU(err, name='ERR'), tab]).writeto('m.fits')
np.save('sci.npy', sci.astype(np.float64))
np.save('err.npy', err.astype(np.float64))
)");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor sci = read_npy(path("sci.npy")), err = read_npy(path("err.npy"));
  expect_same(read_tensor_file(path("m.fits")), sci, "first HDU with data");  // the empty primary is passed over
  expect_same(read_tensor_file(path("m.fits[1]")), sci, "[1]");
  expect_same(read_tensor_file(path("m.fits[SCI]")), sci, "[SCI]");
  expect_same(read_tensor_file(path("m.fits[2]")), err, "[2]");
  expect_same(read_tensor_file(path("m.fits[err]")), err, "[err]");
  expect_same(read_tensor_file(path("m.fits[CAT]#a")), Tensor::from_vector(DType::F64, {2, 1}, {1.5, 2.5}), "[CAT]#a");
  expect_error([&] { read_tensor_file(path("m.fits[7]")); }, {"m.fits[7]", "no such HDU"});
  expect_error([&] { read_tensor_file(path("m.fits[NOPE]")); }, {"m.fits[NOPE]", "no such HDU"});
  expect_error([&] { read_tensor_file(path("m.fits[0]")); }, {"m.fits (HDU 0)", "no data"});
  expect_error([&] { read_tensor_file(path("m.fits[3]")); }, {"HDU 3 CAT", "is a table", "it has: a"});
  expect_error([&] { read_tensor_file(path("m.fits[1]#flux")); }, {"HDU 1 SCI", "is an image"});
}

TEST_F(Fits, SdssStyleSpectrumTable) {
  REQUIRE_ASTROPY();
  // As SDSS spec-PLATE-MJD-FIBER.fits: an empty primary, HDU 1 COADD with one row per
  // pixel (flux, loglam, ivar as float32, and_mask as int32).
  auto r = python(R"(
n = 3000
loglam = (3.58005 + 1e-4 * np.arange(n)).astype(np.float32)  # half a pixel off the model grid
flux = (10 + 3 * np.sin(np.arange(n) / 50.0)).astype(np.float32)
ivar = np.full(n, 4.0, np.float32); ivar[100:110] = 0
cols = [fits.Column(name='flux', format='E', array=flux), fits.Column(name='loglam', format='E', array=loglam),
        fits.Column(name='ivar', format='E', array=ivar), fits.Column(name='and_mask', format='J', array=np.zeros(n, np.int32))]
fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name='COADD')]).writeto('spec.fits')
d = fits.getdata('spec.fits', 1)
np.save('want.npy', np.stack([d['loglam'], d['flux'], d['ivar']], axis=1).astype(np.float64))
)");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor want = read_npy(path("want.npy"));  // [3000, 3]
  expect_same(read_tensor_file(path("spec.fits[1]#loglam,flux,ivar")), want, "three columns");
  Tensor flux = read_tensor_file(path("spec.fits[COADD]#FLUX"));  // names match case-insensitively
  ASSERT_EQ(flux.shape(), (Shape{3000, 1}));
  for (int64_t i = 0; i < 3000; ++i) ASSERT_EQ(flux.get(i), double(float(want.get(i * 3 + 1)))) << i;
  // One spectrum as a model input f32[1,1,L]:
  EXPECT_EQ(read_tensor_file(path("spec.fits[1]#flux:f32[1,1,N]")).shape(), (Shape{1, 1, 3000}));

  FitsSpectrum s = read_fits_spectrum(path("spec.fits"));  // no HDU: the first with data is COADD
  ASSERT_EQ(s.loglam.size(), 3000u);
  ASSERT_EQ(s.ivar.size(), 3000u);
  for (size_t i = 0; i < 3000; ++i) {
    ASSERT_EQ(s.loglam[i], want.get(int64_t(i) * 3));
    ASSERT_EQ(s.flux[i], want.get(int64_t(i) * 3 + 1));
  }
  EXPECT_NE(s.source.find("HDU 1 COADD"), std::string::npos) << s.source;
  ResampledSpectrum rs = resample_spectrum(s.loglam, s.flux, s.ivar, LogLamGrid{});
  EXPECT_EQ(rs.masked, 9) << "the model pixels wholly inside the ten ivar = 0 pixels";
  EXPECT_EQ(rs.outside, 278 + 1339) << "model pixels beyond the observed 3.5800..3.8800 (bin edges)";
}

TEST_F(Fits, VectorLogicalAndTextColumns) {
  REQUIRE_ASTROPY();
  auto r = python(R"(
rows = 4
mags = np.arange(rows * 5, dtype=np.float32).reshape(rows, 5) + 0.25
img = np.arange(rows * 12, dtype=np.float64).reshape(rows, 3, 4) / 8
ids = np.array([1, 2**40 + 3, -5, 7], np.int64)
cols = [fits.Column(name='mags', format='5E', array=mags), fits.Column(name='img', format='12D', dim='(4,3)', array=img),
        fits.Column(name='id', format='K', array=ids), fits.Column(name='flag', format='L', array=[True, False, True, True]),
        fits.Column(name='name', format='8A', array=['a', 'b', 'c', 'd'])]
fits.BinTableHDU.from_columns(cols).writeto('t.fits')
d = fits.getdata('t.fits', 1)
np.save('mags.npy', d['mags'].astype(np.float64)); np.save('img.npy', d['img'].astype(np.float64))
print('img shape', d['img'].shape)
)");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same(read_tensor_file(path("t.fits#mags")), read_npy(path("mags.npy")), "vector column");
  expect_same(read_tensor_file(path("t.fits#img:f64")), read_npy(path("img.npy")), "TDIM column [rows,3,4]");
  Tensor ids = read_tensor_file(path("t.fits#id:i64[N]"));
  ASSERT_EQ(ids.shape(), (Shape{4}));
  EXPECT_EQ(ids.data<int64_t>()[1], (int64_t(1) << 40) + 3);
  EXPECT_EQ(ids.data<int64_t>()[2], -5);
  Tensor side = read_tensor_file(path("t.fits#id,mags,flag"));
  ASSERT_EQ(side.shape(), (Shape{4, 7}));
  EXPECT_EQ(side.get(7 * 2 + 0), -5);
  EXPECT_EQ(side.get(7 * 2 + 1), 10.25);  // mags[2][0]
  EXPECT_EQ(side.get(7 * 1 + 6), 0);      // flag[1] false
  EXPECT_EQ(side.get(7 * 3 + 6), 1);
  expect_error([&] { read_tensor_file(path("t.fits#name")); }, {"t.fits (HDU 1", "column 'name'", "text"});
  expect_error([&] { read_tensor_file(path("t.fits#nope")); }, {"no column 'nope'", "mags, img, id, flag, name"});
  expect_error([&] { read_tensor_file(path("t.fits#mags:f32[3,N]")); },
               {"t.fits#mags:f32[3,N]", "not a multiple of 3"});
}

TEST_F(Fits, StarcWritesAstropyReadsTheSameNumbers) {
  REQUIRE_ASTROPY();
  Tensor f32(DType::F32, {2, 3, 4});
  for (int64_t i = 0; i < f32.size(); ++i) f32.set(i, 0.1 * double(i) - 1);
  f32.set(5, std::nan(""));
  Tensor f64 = Tensor::from_vector(DType::F64, {3, 2}, {1e-300, -2.5, 3.25, 1e300, 0, -0.0});
  Tensor i64 = Tensor::from_vector(DType::I64, {4}, {0, -1, double((int64_t(1) << 40) + 1), 42});
  write_fits_image(path("f32.fits"), f32);
  write_fits_image(path("f64.fits"), f64);
  write_fits_image(path("f64.fits"), f64);  // replaces the file
  write_fits_image(path("i64.fits"), i64);
  Tensor vec = Tensor::from_vector(DType::F64, {3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor cube(DType::F32, {3, 2, 4});
  for (int64_t i = 0; i < cube.size(); ++i) cube.set(i, double(i) / 4);
  Tensor flag = Tensor::from_vector(DType::Bool, {3}, {1, 0, 1});
  expect_error([&] { write_fits_table(path("bad.fits"), {{"a", vec, ""}, {"b", i64, ""}}); },
               {"bad.fits", "'b' has 4 rows"});
  write_fits_table(path("t.fits"),
                   {{"flux", Tensor::from_vector(DType::F32, {3}, {1.5, -2, 7}), "1e-17 erg/s/cm2/A"},
                    {"vec", vec, ""},
                    {"cube", cube, ""},
                    {"ok", flag, ""}},
                   "CAT");
  for (auto [name, t] : std::vector<std::pair<std::string, Tensor>>{
           {"f32", f32}, {"f64", f64}, {"i64", i64}, {"vec", vec}, {"cube", cube}, {"flag", flag}})
    write_npy(path(name + ".npy"), t);
  auto r = python(R"(
def same(a, b, what):
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert np.array_equal(a, b, equal_nan=True), (what, a, b)
    print('ok', what, a.dtype)
for name in ['f32', 'f64', 'i64']:
    with fits.open(name + '.fits') as h:
        same(h[0].data, np.load(name + '.npy'), name)
        assert h[0].data.dtype == np.load(name + '.npy').dtype.newbyteorder('>'), h[0].data.dtype
with fits.open('t.fits') as h:
    assert h[1].name == 'CAT', h[1].name
    d = h[1].data
    same(d['flux'], np.array([1.5, -2, 7], np.float32), 'flux')
    assert h[1].columns['flux'].unit == '1e-17 erg/s/cm2/A'
    same(d['vec'], np.load('vec.npy'), 'vec')
    same(d['cube'], np.load('cube.npy'), 'cube')
    same(d['ok'], np.load('flag.npy'), 'ok')
print('all read back')
)");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("all read back"), std::string::npos) << r.out;
  // And starc reads its own files back.
  expect_same(read_fits(path("f32.fits")), f32.cast(DType::F64), "f32 back");
  expect_same(read_tensor_file(path("t.fits[CAT]#cube")), cube.cast(DType::F64), "cube back");
  EXPECT_EQ(read_tensor_file(path("i64.fits:i64")).data<int64_t>()[2], (int64_t(1) << 40) + 1);
}

// The writer alone (no astropy): what starc writes it reads back.
TEST_F(Fits, OwnWriterRoundTripWithoutAstropy) {
  Tensor img(DType::F64, {3, 4});
  for (int64_t i = 0; i < img.size(); ++i) img.set(i, std::exp(double(i)) - 3);
  write_fits_image(path("a.fits"), img);
  Tensor back = read_fits(path("a.fits"), {}, DType::F64);
  expect_same(back, img, "f64 image");
  EXPECT_FALSE(fs::exists(path("a.fits") + ".tmp" + std::to_string(::getpid())));
}

TEST_F(Fits, ResamplingAShiftedGridMatchesTheAnalyticSpectrum) {
  // Observed on a grid of the same step shifted by 0.37 pixel, from 3.58: the model grid
  // (3.5522..4.0139, 4618) sees it on 278 + 839 fewer pixels.
  auto f = [](double x) { return 2 + 0.5 * std::sin(2 * M_PI * (x - 3.6) / 0.05) + 3 * (x - 3.8); };
  std::vector<double> loglam, flux;
  for (int i = 0; i < 3500; ++i) loglam.push_back(3.58 + (i + 0.37) * 1e-4), flux.push_back(f(loglam.back()));
  LogLamGrid grid;
  ResampledSpectrum r = resample_spectrum(loglam, flux, {}, grid);
  ASSERT_EQ(r.flux.size(), 4618u);
  EXPECT_EQ(r.outside, 278 + 839);
  EXPECT_EQ(r.masked, 0);
  double worst = 0;
  for (int64_t i = 0; i < grid.n; ++i) {
    double x = grid.at(i);
    if (!r.covered[size_t(i)]) {
      EXPECT_EQ(r.flux[size_t(i)], 0) << "pixel " << i << " outside the observed range";
      continue;
    }
    if (x < loglam.front() || x > loglam.back()) continue;  // half-covered edge pixels
    worst = std::max(worst, std::fabs(r.flux[size_t(i)] - f(x)));
  }
  // Equal steps: linear interpolation, error <= h^2/8 max|f''| = 1e-8/8 * 0.5 (2 pi/0.05)^2 = 9.87e-6.
  EXPECT_LT(worst, 9.87e-6);
  EXPECT_GT(worst, 1e-9) << "the shift must matter (else the test checks nothing)";

  // A coarser grid (3 input pixels per output pixel) keeps the integral of a narrow line.
  std::vector<double> line(loglam.size(), 1.0);
  line[1500] = 101;  // one pixel 100 above the continuum
  LogLamGrid coarse{3.60, 3.85, 834};
  double step = (coarse.stop - coarse.start) / double(coarse.n - 1);
  ResampledSpectrum c = resample_spectrum(loglam, line, {}, coarse);
  double excess = 0;
  for (double v : c.flux) excess += (v - 1) * step;
  EXPECT_NEAR(excess, 100 * 1e-4, 1e-9) << "flux-conserving: the line's integral in log10 lambda";
}

TEST_F(Fits, ResamplingMasksBadPixelsAndNormalises) {
  std::vector<double> loglam, flux, ivar;
  for (int i = 0; i < 1000; ++i) loglam.push_back(3.6 + i * 1e-4), flux.push_back(5 + i % 7), ivar.push_back(1);
  for (int i = 400; i < 420; ++i) ivar[size_t(i)] = 0, flux[size_t(i)] = 1e30;  // masked: must not leak
  flux[600] = std::nan("");
  LogLamGrid grid{3.6, 3.6999, 1000};  // the input grid itself
  ResampledSpectrum r = resample_spectrum(loglam, flux, ivar, grid);
  EXPECT_EQ(r.masked, 21);
  EXPECT_EQ(r.outside, 0);
  for (int i = 0; i < 1000; ++i)
    if (r.covered[size_t(i)]) ASSERT_NEAR(r.flux[size_t(i)], 5 + i % 7, 1e-9) << i;
  ResampledSpectrum z = r;
  ASSERT_TRUE(normalize_spectrum(z, SpectrumNorm::ZeroMean));
  double sum = 0, sq = 0, n = 0;
  for (size_t i = 0; i < z.flux.size(); ++i)
    if (z.covered[i])
      sum += z.flux[i], sq += z.flux[i] * z.flux[i], n += 1;
    else
      EXPECT_EQ(z.flux[i], 0);
  EXPECT_NEAR(sum / n, 0, 1e-12);
  EXPECT_GT(std::sqrt(sq / n), 1.5) << "zero-mean does not scale";
  ASSERT_TRUE(normalize_spectrum(r, SpectrumNorm::Standardize));
  sum = sq = 0;
  for (size_t i = 0; i < r.flux.size(); ++i)
    if (r.covered[i]) sum += r.flux[i], sq += r.flux[i] * r.flux[i];
  EXPECT_NEAR(sum / n, 0, 1e-12);
  EXPECT_NEAR(std::sqrt(sq / n), 1, 1e-12);
  EXPECT_EQ(parse_loglam_grid("3.5,4.0,11").at(10), 4.0);
  expect_error([] { parse_loglam_grid("3.5,4.0"); }, {"loglam_grid 3.5,4.0", "START,STOP,N"});
  expect_error([] { parse_loglam_grid("4,3,10"); }, {"START < STOP"});
}

TEST_F(Fits, BadFilesGiveOneClearLine) {
  expect_error([&] { read_tensor_file(path("missing.fits")); }, {"missing.fits: no such file"});
  write("garbage.fits", std::string(5000, 'x'));
  expect_error([&] { read_tensor_file(path("garbage.fits")); }, {"garbage.fits: not a FITS file"});
  write("empty.fits", "");
  expect_error([&] { read_tensor_file(path("empty.fits")); }, {"empty.fits: the file is empty"});
  // A valid file cut short: in the header, and in the data.
  Tensor img(DType::F64, {100, 100});
  write_fits_image(path("full.fits"), img);
  std::string bytes;
  {
    std::ifstream in(path("full.fits"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 80000u);
  write("cut_header.fits", bytes.substr(0, 1000));
  expect_error([&] { read_tensor_file(path("cut_header.fits")); }, {"cut_header.fits", "cannot read as FITS"});
  write("cut_data.fits", bytes.substr(0, 20000));
  expect_error([&] { read_tensor_file(path("cut_data.fits")); }, {"cut_data.fits (HDU 0)", "reading the image"});
  write_fits_image(path("cube.fits"), Tensor(DType::F32, {2, 2, 2}));
  expect_error([&] { read_fits_spectrum(path("cube.fits")); }, {"cube.fits (HDU 0)", "a spectrum is 1-D"});
  Tensor one(DType::F32, {50});
  write_fits_image(path("nogrid.fits"), one);
  expect_error([&] { read_fits_spectrum(path("nogrid.fits")); }, {"nogrid.fits (HDU 0)", "without a wavelength grid"});
  write_fits_table(path("notspec.fits"), {{"a", one, ""}});
  expect_error([&] { read_fits_spectrum(path("notspec.fits")); },
               {"notspec.fits (HDU 1)", "'flux' and 'loglam'", "it has: a"});
  expect_error([&] { read_tensor_file(path("notspec.fits[2]")); }, {"notspec.fits[2]", "no such HDU"});
  expect_error([&] { read_tensor_file(path("notspec.fits#b")); }, {"notspec.fits (HDU 1)", "no column 'b'"});
}

TEST_F(Fits, GzipAndTileCompressedFiles) {
  REQUIRE_ASTROPY();
  auto r = python(R"(
import gzip, shutil
img = (np.arange(40 * 30, dtype=np.int32).reshape(40, 30) * 7 - 1000)
fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(img, compression_type='RICE_1')]).writeto('c.fits.fz')
fits.PrimaryHDU(img.astype(np.float32) / 3).writeto('g.fits')
with open('g.fits', 'rb') as a, gzip.open('g.fits.gz', 'wb') as b: shutil.copyfileobj(a, b)
np.save('img.npy', fits.getdata('c.fits.fz', 1).astype(np.float64))
np.save('g.npy', fits.getdata('g.fits.gz').astype(np.float64))
)");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same(read_tensor_file(path("c.fits.fz") + ":f64"), read_npy(path("img.npy")), "RICE tile-compressed image");
  expect_same(read_tensor_file(path("c.fits.fz[1]") + ":i64"), read_npy(path("img.npy")), "[1] as i64");
  expect_same(read_tensor_file(path("g.fits.gz")), read_npy(path("g.npy")), "gzipped image");
}
