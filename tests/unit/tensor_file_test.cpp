// CSV catalogs (runtime/io/csv.h), the tensor spec syntax and its dispatch
// (runtime/io/tensor_file.h), and the commands that read through it: `starc run --in` with
// CSV and FITS specs, `starc convert` of FITS spectra into one [N,1,L] .npy.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "runtime/io/csv.h"
#include "runtime/io/fits.h"
#include "runtime/io/npy.h"
#include "runtime/io/tensor_file.h"
#include "error_of.h"
#include "shell_util.h"
#include "temp_dir_test.h"

using namespace starc;

namespace {

class Csv : public test::TempDirTest {
 protected:
  Csv() : TempDirTest("starc_csv_") {}
};
class TensorFile : public test::TempDirTest {
 protected:
  TensorFile() : TempDirTest("starc_tensor_file_") {}
};

using test::error_of;

void expect_error(const std::function<void()>& f, const std::string& needle) {
  std::string msg = error_of(f);
  EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
}

const char* kCatalog =
    "# SDSS-like photometry\n"
    "objid,\"class\",u,g,r,i,z,redshift\n"
    "1237645,QSO,19.5,19.25,19.0,18.875,18.75,1.5\r\n"
    "\n"
    "1237646,\"GAL, red\",20.5, 19.5 ,18.5,18.0,17.75,0.125\n"
    "1237647,STAR,+17,16.5,16.25,16,15.875,-1e-4\n";

}  // namespace

TEST_F(Csv, ChosenColumnsInOrder) {
  write("cat.csv", kCatalog);
  CsvTable t = read_csv(path("cat.csv"), {"redshift", "g", "r"});
  ASSERT_EQ(t.values.shape(), (Shape{3, 3}));
  EXPECT_EQ(t.values.dtype(), DType::F32);
  std::vector<double> want{1.5, 19.25, 19.0, 0.125, 19.5, 18.5, -1e-4, 16.5, 16.25};
  for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(t.values.get(i), double(float(want[size_t(i)]))) << i;
  Tensor f64 = read_csv(path("cat.csv"), {"z"}, DType::F64).values;
  EXPECT_EQ(f64.shape(), (Shape{3, 1}));
  EXPECT_EQ(f64.get(2), 15.875);
  Tensor ids = read_csv(path("cat.csv"), {"objid"}, DType::I64).values;
  EXPECT_EQ(ids.data<int64_t>()[1], 1237646);
}

TEST_F(Csv, AllNumericColumnsLeaveOutText) {
  write("cat.csv", kCatalog);
  CsvTable t = read_csv(path("cat.csv"));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"objid", "u", "g", "r", "i", "z", "redshift"}));
  EXPECT_EQ(t.skipped, (std::vector<std::string>{"class"}));
  ASSERT_EQ(t.values.shape(), (Shape{3, 7}));
  EXPECT_EQ(t.values.get(7 * 2 + 1), 17);  // "+17"
  // pandas' index column has no name: left out.
  write("pd.csv", ",a,b\n0,1.5,nan\n1,2.5,inf\n");
  CsvTable p = read_csv(path("pd.csv"));
  EXPECT_EQ(p.columns, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(std::isnan(p.values.get(1)));
  EXPECT_TRUE(std::isinf(p.values.get(3)));
}

TEST_F(Csv, ErrorsNameFileAndLine) {
  write("ragged.csv", "a,b,c\n1,2,3\n4,5\n");
  expect_error([&] { read_csv(path("ragged.csv"), {"a"}); },
               "ragged.csv:3: 2 fields, but the header (line 1) has 3 columns");
  write("text.csv", "# comment\na,g\n1,2\n2,abc\n");
  expect_error([&] { read_csv(path("text.csv"), {"g"}); }, "text.csv:4: column 'g' is 'abc', not a number");
  expect_error([&] { read_csv(path("text.csv")); }, "text.csv:4: column 'g' is 'abc', not a number");
  expect_error([&] { read_csv(path("text.csv"), {"x"}); }, "text.csv:2: no column 'x' (the header has: a, g)");
  write("empty_cell.csv", "a,b\n1,\n");
  expect_error([&] { read_csv(path("empty_cell.csv"), {"b"}); }, "empty_cell.csv:2: column 'b' is empty");
  write("half.csv", "label\n1\n0.5\n");
  expect_error([&] { read_csv(path("half.csv"), {"label"}, DType::I64); },
               "half.csv:3: column 'label' is '0.5', not an integer");
  write("quote.csv", "a\n\"1\n");
  expect_error([&] { read_csv(path("quote.csv")); }, "quote.csv:2: a quoted field is not closed");
  write("header_only.csv", "a,b\n");
  expect_error([&] { read_csv(path("header_only.csv")); }, "header_only.csv: no data rows");
  write("dup.csv", "a,a\n1,2\n");
  expect_error([&] { read_csv(path("dup.csv")); }, "dup.csv:1: column 'a' appears twice");
  expect_error([&] { read_csv(path("nope.csv")); }, "nope.csv: no such file");
  write("bin.csv", std::string("a\n\0\x01", 4));
  expect_error([&] { read_csv(path("bin.csv")); }, "bin.csv: not a text file");
}

TEST_F(TensorFile, SpecSyntax) {
  write("cat.csv", kCatalog);
  TensorSpec s = parse_tensor_spec(path("cat.csv") + "#g, r,i:f64[N,3]");
  EXPECT_EQ(s.path, path("cat.csv"));
  EXPECT_EQ(s.format, TensorFormat::Csv);
  EXPECT_EQ(s.columns, (std::vector<std::string>{"g", "r", "i"}));
  ASSERT_TRUE(s.dtype.has_value());
  EXPECT_EQ(*s.dtype, DType::F64);
  EXPECT_EQ(s.dims, (std::vector<std::string>{"N", "3"}));
  TensorSpec f = parse_tensor_spec("spec-0266-51602-0001.fits[COADD]#flux");
  EXPECT_EQ(f.file, "spec-0266-51602-0001.fits[COADD]");
  EXPECT_EQ(f.path, "spec-0266-51602-0001.fits");
  EXPECT_EQ(f.format, TensorFormat::Fits);
  EXPECT_EQ(parse_tensor_spec("a.fits.gz").format, TensorFormat::Fits);
  EXPECT_EQ(parse_tensor_spec("a.FTS").format, TensorFormat::Fits);
  EXPECT_EQ(parse_tensor_spec("img.fits.fz[1]").file, "img.fits.fz[1]");

  Tensor label = read_tensor_file(path("cat.csv") + "#objid:i64[N]");
  EXPECT_EQ(type_str(label.type()), "i64[3]");
  Tensor mags = read_tensor_file(path("cat.csv") + "#u,g,r,i,z");
  EXPECT_EQ(type_str(mags.type()), "f32[3,5]");
  EXPECT_EQ(type_str(read_tensor_file(path("cat.csv") + "#u,g,r,i,z:f32[15]").type()), "f32[15]");
}

TEST_F(TensorFile, NpyNpzAndSniffing) {
  Tensor x = Tensor::from_vector(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  write_npy(path("x.npy"), x);
  Tensor back = read_tensor_file(path("x.npy"));
  EXPECT_EQ(type_str(back.type()), "f32[2,3]");
  EXPECT_EQ(back.get(5), 6);
  EXPECT_EQ(type_str(read_tensor_file(path("x.npy") + ":f64[3,N]").type()), "f64[3,2]");
  // Any other extension: recognised by its bytes.
  std::filesystem::copy_file(path("x.npy"), path("x.data"));
  EXPECT_EQ(read_tensor_file(path("x.data")).get(4), 5);
  write_fits_image(path("x.img"), x);
  EXPECT_EQ(read_tensor_file(path("x.img")).get(4), 5);
  write_npz(path("w.npz"), {{"a", x}, {"conv1d0.weight", x.reshaped({6})}});
  EXPECT_EQ(type_str(read_tensor_file(path("w.npz") + "#conv1d0.weight").type()), "f32[6]");
  // A file whose name has '#' in it is read as it is.
  write_npy(path("run#3.npy"), x);
  EXPECT_EQ(read_tensor_file(path("run#3.npy")).get(0), 1);

  expect_error([&] { read_tensor_file(path("w.npz")); }, "holds 2 arrays; name one");
  expect_error([&] { read_tensor_file(path("w.npz") + "#b"); }, "no array 'b' (it holds: a, conv1d0.weight)");
  expect_error([&] { read_tensor_file(path("x.npy") + "#a"); }, "a .npy file holds one array");
  write("cat.csv", "a\n1\n");
  expect_error([&] { read_tensor_file(path("cat.csv") + "[1]"); }, "selects a FITS HDU, but");
  write("notes.txt", "hello");
  expect_error([&] { read_tensor_file(path("notes.txt")); }, "notes.txt: unknown format");
  expect_error([&] { read_tensor_file(path("gone.dat")); }, "gone.dat: no such file");
  expect_error([&] { read_tensor_file(path("x.npy") + ":f32[4,N]"); }, "not a multiple of 4");
  expect_error([&] { read_tensor_file(path("x.npy") + ":f32[7]"); }, "cannot be viewed as [7]: 6 elements, not 7");
  expect_error([&] { read_tensor_file(path("x.npy") + ":f32[N,M]"); }, "at most one named dim");
  EXPECT_EQ(type_str(read_tensor_file(path("x.npy") + ":i64").type()), "i64[2,3]");  // whole numbers convert
  write_npy(path("half.npy"), Tensor::from_vector(DType::F32, {2}, {1, 0.5}));
  expect_error([&] { read_tensor_file(path("half.npy") + ":i64"); }, "element 1 is 0.5, not an integer");
}

TEST_F(TensorFile, RunTakesCsvAndFitsInputs) {
  write("tiny.net", "model Sum(x: f32[B, 3]) -> f32[B, 1] {\n    return sum(x, axes: [1], keepdims: true)\n}\n");
  write("cat.csv", "id,a,b,c\n1,1.5,2,3\n2,-1,0.25,4\n");
  test::ShellResult r = test::run_starc(dir.string(), "run tiny.net --in x=cat.csv#a,b,c --out y.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor y = read_npy(path("y.npy"));
  ASSERT_EQ(type_str(y.type()), "f32[2,1]");
  EXPECT_EQ(y.get(0), 6.5);
  EXPECT_EQ(y.get(1), 3.25);
  write_fits_table(path("cat.fits"), {{"abc", Tensor::from_vector(DType::F32, {2, 3}, {1, 2, 3, 10, 20, 30}), ""}});
  r = test::run_starc(dir.string(), "run tiny.net --in 'x=cat.fits[1]#abc' --out y2.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor y2 = read_npy(path("y2.npy"));
  EXPECT_EQ(y2.get(0), 6);
  EXPECT_EQ(y2.get(1), 60);
  test::expect_starc_error(dir.string(), "run tiny.net --in x=cat.csv#a,d", "cat.csv:1: no column 'd'");
  test::expect_starc_error(dir.string(), "run tiny.net --in x=cat.fits[4]#abc", "no such HDU");
}

TEST_F(TensorFile, ConvertSpectraIntoOneModelInput) {
  // Two spectra tables on different log-lambda grids, one with bad pixels.
  for (int k = 0; k < 2; ++k) {
    int n = 2000 + 500 * k;
    Tensor loglam(DType::F32, {n}), flux(DType::F32, {n}), ivar(DType::F32, {n});
    for (int i = 0; i < n; ++i) {
      loglam.set(i, 3.60 + 0.00013 * k + 1e-4 * i);
      flux.set(i, 10 + k + std::sin(i / 40.0));
      ivar.set(i, k == 1 && i < 30 ? 0 : 1);
    }
    write_fits_table(path("spec" + std::to_string(k) + ".fits"),
                     {{"flux", flux, ""}, {"loglam", loglam, ""}, {"ivar", ivar, ""}}, "COADD");
  }
  write("list.txt", "# spectra\nspec0.fits\nspec1.fits[COADD]\n");
  test::ShellResult r =
      test::run_starc(dir.string(), "convert @list.txt -o flux.npy --resample-loglam sdss --normalize zero-mean");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("spec0.fits (HDU 1 COADD) (table: loglam, flux, ivar): 2000 pixels"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("outside the observed range"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wrote f32[2,1,4618] to flux.npy"), std::string::npos) << r.out;
  Tensor f = read_npy(path("flux.npy"));
  ASSERT_EQ(type_str(f.type()), "f32[2,1,4618]");
  for (int k = 0; k < 2; ++k) {
    double sum = 0;
    int64_t zeros = 0;
    for (int64_t i = 0; i < 4618; ++i) sum += f.get(k * 4618 + i), zeros += f.get(k * 4618 + i) == 0;
    EXPECT_NEAR(sum, 0, 1e-2) << "zero mean over the covered pixels, spectrum " << k;
    // f32 log-lambdas on the model's own grid may touch one more pixel at each end.
    EXPECT_GE(zeros, 4618 - 2000 - 500 * k - 2) << "pixels outside the observed range are 0";
  }
  // Without resampling: one input as read, several stacked.
  r = test::run_starc(dir.string(), "convert 'spec0.fits[1]#flux:f32[1,N]' -o one.npy --dtype f64");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(type_str(read_npy(path("one.npy")).type()), "f64[1,2000]");
  write("labels.csv", "class\n1\n0\n");
  r = test::run_starc(dir.string(), "convert labels.csv#class:i64[N] -o label.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(type_str(read_npy(path("label.npy")).type()), "i64[2]");
  test::expect_starc_error(dir.string(), "convert 'spec0.fits[1]#flux' 'spec1.fits[1]#flux' -o s.npy",
                           "stacked inputs need one shape");
  test::expect_starc_error(dir.string(), "convert missing.fits -o m.npy --resample-loglam sdss",
                           "missing.fits: no such file");
  test::expect_starc_error(dir.string(), "convert labels.csv -o m.npy --resample-loglam 1,2", "START,STOP,N");
  test::expect_starc_error(dir.string(), "convert spec0.fits -o m.npy --normalize zero-mean", "give --resample-loglam");
  test::expect_starc_error(dir.string(), "convert spec0.fits -o m.npy --resample-loglam 2.0,2.5,100",
                           "no pixel of the spectrum");
}
