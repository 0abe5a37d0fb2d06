// libFuzzer harness: CSV catalogs (runtime/io/csv.cpp): every numeric column as f32, as i64,
// two named columns as f64, and the file as a light-curve table (runtime/io/light_curves.cpp;
// seed seed_light_curves.csv). Errors are std::runtime_error naming the file.
#include "runtime/io/csv.h"
#include "runtime/io/light_curves.h"
#include "tests/fuzz/fuzz_util.h"

using namespace starc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fuzz::write_temp(data, size, ".csv");
  auto attempt = [&](const std::vector<std::string>& columns, DType dtype) {
    try {
      CsvTable t = read_csv(path, columns, dtype);
      if (t.values.rank() != 2 || t.values.dim(1) != int64_t(t.columns.size()))
        fuzz::fail("the table's shape does not match its columns");
    } catch (const std::runtime_error& e) {
      fuzz::expect_names(e, path);
    }
  };
  attempt({}, DType::F32);
  attempt({}, DType::I64);
  attempt({"flux", "z"}, DType::F64);
  try {
    LightCurves lc = read_light_curves({path}, LightCurveLayout{});
    if (lc.lc.dim(0) != int64_t(lc.objects.size())) fuzz::fail("light curves: one row per object");
  } catch (const std::runtime_error& e) {
    fuzz::expect_names(e, path);
  }
  return 0;
}
