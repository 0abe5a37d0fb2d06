// runtime/npy: .npy/.npz round trips, files written by numpy, and malformed inputs.
#include "runtime/io/npy.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/unit/op_test_util.h"
#include <unistd.h>
#include <zip.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "npy_fixtures.h"

namespace starc {
namespace {

using test::expect_error;

namespace fs = std::filesystem;
using namespace npy_fixtures;

// A fresh directory per test.
fs::path temp_dir() {
  auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path p =
      fs::temp_directory_path() / fmt::format("starc_npy_{}_{}_{}", info->test_suite_name(), info->name(), getpid());
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write_bytes(const fs::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

void expect_values(const Tensor& t, DType dt, Shape shape, const std::vector<double>& want) {
  EXPECT_EQ(t.dtype(), dt);
  EXPECT_EQ(t.shape(), shape);
  ASSERT_EQ(t.size(), int64_t(want.size()));
  for (int64_t i = 0; i < t.size(); ++i) EXPECT_EQ(t.get(i), want[i]) << "at flat index " << i;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

TEST(NpyRoundTrip, EveryWrittenDType) {
  std::vector<Tensor> ts = {
      Tensor::from_vector(DType::F32, {2, 3}, {1.5, -2, 3e38, 1e-40, INFINITY, -0.0}),
      Tensor::from_vector(DType::F64, {3, 1}, {0.1, -1e308, NAN}),
      Tensor::from_vector(DType::I64, {4}, {-1, 0, 9007199254740993.0, -9e18}),
      Tensor::from_vector(DType::Bool, {2, 2}, {1, 0, 0, 1}),
  };
  for (const Tensor& t : ts) {
    Tensor back = parse_npy(serialize_npy(t), "mem");
    EXPECT_TRUE(same_bytes(t, back)) << type_str(t.type());
  }
}

TEST(NpyRoundTrip, ZeroDAndEmpty) {
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::Bool}) {
    Tensor s = Tensor::scalar(dt, 1);
    Tensor back = parse_npy(serialize_npy(s), "mem");
    EXPECT_TRUE(same_bytes(s, back)) << dtype_name(dt);
    EXPECT_EQ(back.rank(), 0);
    for (Shape shape : {Shape{0}, Shape{2, 0, 3}}) {
      Tensor e(dt, shape);
      Tensor eb = parse_npy(serialize_npy(e), "mem");
      EXPECT_EQ(eb.shape(), shape);
      EXPECT_EQ(eb.dtype(), dt);
      EXPECT_EQ(eb.size(), 0);
    }
  }
}

TEST(NpyRoundTrip, BytesIdenticalToNumpySave) {
  Tensor t = Tensor::from_vector(DType::F32, {2, 3}, {1.5, -2, 3, 4, 5, 6.25});
  std::string bytes = serialize_npy(t);
  EXPECT_EQ(bytes, kNumpyF4);
  EXPECT_EQ(bytes.find('\n') + 1, 128u);  // header padded to a multiple of 64 bytes
}

TEST(NpyRoundTrip, FilesAreWrittenAtomically) {
  fs::path d = temp_dir();
  std::string p = (d / "w.npy").string();
  Tensor t = Tensor::from_vector(DType::F64, {2}, {1, 2});
  write_npy(p, t);
  write_npy(p, t);  // overwrite
  EXPECT_TRUE(same_bytes(read_npy(p), t));
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  expect_error([&] { write_npy((d / "no_such_dir" / "x.npy").string(), t); }, {"no_such_dir", "cannot open"});
  fs::remove_all(d);
}

TEST(NpyNumpy, ReadsFloat32AndHalf) {
  expect_values(parse_npy(kNumpyF4, "f4"), DType::F32, {2, 3}, {1.5, -2, 3, 4, 5, 6.25});
  Tensor h = parse_npy(kNumpyF2, "f2");
  expect_values(h, DType::F32, {6}, {1.5, -2, 65504, std::ldexp(1.0, -24), INFINITY, 0.0});
  EXPECT_TRUE(std::signbit(h.data<float>()[5])) << "-0.0 keeps its sign";
}

TEST(NpyNumpy, ReadsBigEndian) {
  expect_values(parse_npy(kNumpyBigF8, "be"), DType::F64, {2, 2}, {1.25, -2.5, 1e300, 0.1});
  expect_values(parse_npy(kNumpyBigI4, "be"), DType::I64, {3}, {1, -2, 70000});
}

TEST(NpyNumpy, FortranOrderBecomesCOrder) {
  expect_values(parse_npy(kNumpyFortranF4, "fortran"), DType::F32, {2, 3}, {0, 1, 2, 3, 4, 5});
  std::vector<double> want(24);
  for (int i = 0; i < 24; ++i) want[i] = i;
  expect_values(parse_npy(kNumpyFortranI8, "fortran"), DType::I64, {2, 3, 4}, want);
}

TEST(NpyNumpy, IntegersBecomeI64AndBoolStaysBool) {
  expect_values(parse_npy(kNumpyI1, "i1"), DType::I64, {3}, {-128, 5, 127});
  expect_values(parse_npy(kNumpyI2, "i2"), DType::I64, {2}, {-32768, 7});
  expect_values(parse_npy(kNumpyU1, "u1"), DType::I64, {2}, {0, 255});
  expect_values(parse_npy(kNumpyU2, "u2"), DType::I64, {2}, {65535, 1});
  expect_values(parse_npy(kNumpyU4, "u4"), DType::I64, {2}, {4294967295.0, 2});
  expect_values(parse_npy(kNumpyU8, "u8"), DType::I64, {2}, {1099511627776.0, 3});
  expect_values(parse_npy(kNumpyBool, "b1"), DType::Bool, {2, 2}, {1, 0, 0, 1});
}

TEST(NpyNumpy, ScalarEmptyAndHeaderVersions) {
  expect_values(parse_npy(kNumpyScalarF8, "0d"), DType::F64, {}, {2.5});
  expect_values(parse_npy(kNumpyEmptyF4, "empty"), DType::F32, {0, 3}, {});
  expect_values(parse_npy(kNumpyV2, "v2"), DType::F32, {2}, {1, 2});
  expect_values(parse_npy(kNumpyV3, "v3"), DType::I64, {2}, {7, 8});
}

TEST(NpyNumpy, ReadsFromFile) {
  fs::path d = temp_dir();
  write_bytes(d / "a.npy", kNumpyBigF8);
  expect_values(read_npy((d / "a.npy").string()), DType::F64, {2, 2}, {1.25, -2.5, 1e300, 0.1});
  fs::remove_all(d);
}

// kNumpyF4 with its header text replaced (same length, so the padding still lines up).
std::string with_header(std::string_view dict) {
  std::string b = kNumpyF4;
  size_t start = 10, end = b.find('\n');
  std::string h(dict);
  h.resize(end - start, ' ');
  b.replace(start, end - start, h);
  return b;
}

TEST(NpyErrors, MalformedHeaders) {
  expect_error([] { parse_npy("PK\3\4 not numpy at all", "x.npy"); }, {"x.npy", "bad magic"});
  expect_error([] { parse_npy("", "x.npy"); }, {"x.npy", "bad magic"});
  expect_error([] { parse_npy(kNumpyF4.substr(0, 9), "x.npy"); }, {"x.npy", "truncated header"});
  expect_error([] { parse_npy(kNumpyF4.substr(0, 40), "x.npy"); }, {"x.npy", "truncated header"});
  std::string v9 = kNumpyF4;
  v9[6] = 9;
  expect_error([&] { parse_npy(v9, "x.npy"); }, {"x.npy", "version 9.0"});
  expect_error([] { parse_npy(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}"), "x.npy"); },
               {"x.npy", "cannot parse the header dict"});
  expect_error([] { parse_npy(with_header("{'descr': '<f4', 'shape': (2, 3), }"), "x.npy"); },
               {"x.npy", "'fortran_order'"});
  expect_error([] { parse_npy(with_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }"), "x.npy"); },
               {"x.npy", "fortran_order"});
  expect_error([] { parse_npy(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }"), "x.npy"); },
               {"x.npy", "non-negative"});
  expect_error(
      [] { parse_npy(with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), "x.npy"); },
      {"x.npy", "structured"});
  expect_error([] { parse_npy(with_header("[1, 2]"), "x.npy"); }, {"x.npy", "not a dict"});
  expect_error([] { parse_npy(with_header("(((((((((((((((((((((((((((((((("), "x.npy"); },
               {"x.npy", "nested too deeply"});
}

TEST(NpyErrors, UnsupportedDTypes) {
  expect_error([] { parse_npy(kNumpyC8, "c.npy"); }, {"c.npy", "unsupported dtype '<c8'", "complex"});
  expect_error([] { parse_npy(kNumpyObject, "o.npy"); }, {"o.npy", "unsupported dtype '|O'", "objects"});
  expect_error([] { parse_npy(with_header("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }"), "u.npy"); },
               {"u.npy", "unsupported dtype '<U3'"});
  expect_error([] { parse_npy(with_header("{'descr': '<f16', 'fortran_order': False, 'shape': (2,), }"), "u.npy"); },
               {"u.npy", "unsupported dtype '<f16'"});
}

TEST(NpyErrors, DataShorterThanShape) {
  expect_error([] { parse_npy(kNumpyF4.substr(0, kNumpyF4.size() - 1), "x.npy"); },
               {"x.npy", "data shorter than the shape says", "needs 24 bytes, got 23"});
  expect_error(
      [] {
        parse_npy(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"),
                  "x.npy");
      },
      {"x.npy", "data shorter than the shape says"});
}

TEST(NpyErrors, MissingFile) {
  expect_error([] { read_npy("/nonexistent/dir/w.npy"); }, {"/nonexistent/dir/w.npy", "No such file"});
}

// Every truncation and many single-byte corruptions either parse or throw runtime_error.
TEST(NpyErrors, NeverCrashesOnDamagedInput) {
  for (const std::string* f : {&kNumpyF4, &kNumpyF2, &kNumpyFortranI8, &kNumpyV2, &kNumpyV3, &kNumpyBool}) {
    for (size_t n = 0; n < f->size(); ++n) {
      try {
        parse_npy(f->substr(0, n), "cut");
      } catch (const std::runtime_error&) {}
    }
    for (size_t i = 0; i < f->size(); ++i) {
      for (char c : {'\0', '\xff', '(', '\'', '9', ','}) {
        std::string b = *f;
        b[i] = c;
        try {
          parse_npy(b, "flip");
        } catch (const std::runtime_error&) {}
      }
    }
  }
}

std::string entry_compression(const std::string& path, const std::string& name) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) return "open failed";
  zip_stat_t st;
  std::string out =
      zip_stat(z, name.c_str(), 0, &st) == 0 ? (st.comp_method == ZIP_CM_DEFLATE ? "deflate" : "other") : "missing";
  zip_discard(z);
  return out;
}

TEST(NpzRoundTrip, DottedNamesCompressedAtomic) {
  fs::path d = temp_dir();
  std::string p = (d / "weights.npz").string();
  std::map<std::string, Tensor> m = {
      {"conv1d0.weight", Tensor::from_vector(DType::F32, {2, 1, 3}, {1, 2, 3, 4, 5, 6})},
      {"conv1d0.bias", Tensor::from_vector(DType::F32, {2}, {0.5, -0.5})},
      {"bn.running_mean.v2", Tensor::from_vector(DType::F64, {}, {3})},
      {"step", Tensor::scalar(DType::I64, 1000)},
      {"mask", Tensor::from_vector(DType::Bool, {3}, {1, 0, 1})},
      {"empty", Tensor(DType::F32, {0, 4})},
  };
  write_npz(p, m);
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  EXPECT_EQ(entry_compression(p, "conv1d0.weight.npy"), "deflate");
  auto back = read_npz(p);
  ASSERT_EQ(back.size(), m.size());
  for (auto& [k, t] : m) {
    ASSERT_TRUE(back.count(k)) << k;
    EXPECT_TRUE(same_bytes(back[k], t)) << k;
  }
  write_npz(p, {{"only", Tensor::scalar(DType::F32, 1)}});  // overwrite replaces the archive
  EXPECT_EQ(read_npz(p).size(), 1u);
  write_npz(p, {});
  EXPECT_TRUE(read_npz(p).empty());
  fs::remove_all(d);
}

TEST(NpzNumpy, ReadsCompressedAndStoredArchives) {
  fs::path d = temp_dir();
  write_bytes(d / "c.npz", kNumpyNpz);
  auto m = read_npz((d / "c.npz").string());
  ASSERT_EQ(m.size(), 2u);
  expect_values(m.at("conv1d0.weight"), DType::F32, {2, 2}, {0, 1, 2, 3});
  expect_values(m.at("step"), DType::I64, {}, {3});
  write_bytes(d / "s.npz", kNumpyNpzStored);
  auto s = read_npz((d / "s.npz").string());
  ASSERT_EQ(s.size(), 1u);
  expect_values(s.at("a.b.c"), DType::Bool, {2}, {1, 0});
  fs::remove_all(d);
}

TEST(NpzErrors, MissingNotZipCorruptEntries) {
  fs::path d = temp_dir();
  expect_error([&] { read_npz((d / "missing.npz").string()); }, {"missing.npz", "No such file"});
  write_bytes(d / "text.npz", "this is not a zip file, just some text that is long enough");
  expect_error([&] { read_npz((d / "text.npz").string()); }, {"text.npz", "not a zip archive"});
  write_bytes(d / "empty.npz", "");
  expect_error([&] { read_npz((d / "empty.npz").string()); }, {"empty.npz", "not a zip archive"});
  write_bytes(d / "half.npz", std::string_view(kNumpyNpz).substr(0, kNumpyNpz.size() / 2));
  expect_error([&] { read_npz((d / "half.npz").string()); }, {"half.npz"});
  // A valid zip whose entry is not an .npy: the message names the archive and the entry.
  {
    int err = 0;
    std::string p = (d / "junk.npz").string();
    zip_t* z = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    ASSERT_TRUE(z);
    static const char junk[] = "definitely not npy";
    zip_file_add(z, "w.npy", zip_source_buffer(z, junk, sizeof junk - 1, 0), 0);
    ASSERT_EQ(zip_close(z), 0);
    expect_error([&] { read_npz(p); }, {"junk.npz:w.npy", "bad magic"});
  }
  // A stored entry whose data was damaged: the CRC check or the npy parser reports it.
  {
    std::string b = kNumpyNpzStored;
    size_t at = b.find("\223NUMPY");
    ASSERT_NE(at, std::string::npos);
    b[at + 1] = 'X';
    write_bytes(d / "crc.npz", b);
    expect_error([&] { read_npz((d / "crc.npz").string()); }, {"crc.npz:a.b.c.npy"});
  }
  fs::remove_all(d);
}

}  // namespace
}  // namespace starc
