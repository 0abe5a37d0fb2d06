// libFuzzer harness: FITS files (runtime/io/fits.cpp over cfitsio): the data of the first
// HDU with data, two table columns, the 1-D spectrum reader, and the SDSS / DESI survey
// readers (runtime/io/survey_spectra.cpp; seeds seed_sdss_spec.fits, seed_desi_coadd.fits),
// the light-curve table and the WCS cut-out readers. Errors are std::runtime_error naming
// the file.
#include "runtime/io/fits.h"
#include "runtime/io/image_cutouts.h"
#include "runtime/io/light_curves.h"
#include "runtime/io/survey_spectra.h"
#include "tests/fuzz/fuzz_util.h"

using namespace starc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fuzz::write_temp(data, size, ".fits");
  auto attempt = [&](auto&& read) {
    try {
      read();
    } catch (const std::runtime_error& e) {
      fuzz::expect_names(e, path);
    }
  };
  attempt([&] { (void)read_fits(path); });
  attempt([&] { (void)read_fits_columns(path, {"loglam", "flux"}, DType::F64); });
  attempt([&] { (void)read_fits_spectrum(path); });
  attempt([&] { (void)read_survey_spectra(path); });
  attempt([&] { (void)read_light_curves({path}, LightCurveLayout{}); });
  attempt([&] { (void)read_cutouts({path}, 8); });
  return 0;
}
