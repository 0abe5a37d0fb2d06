// Issue 25, the file side (docs/reliability.md "Data files", "The JIT disk cache",
// "Writing outputs"): hostile data files end in errors naming the file, never in
// std::bad_alloc or a crash; a damaged JIT disk cache costs a compile, never a wrong or
// failed run; outputs keep links, devices and FIFOs what they are.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

#include "error_of.h"
#include "jit_test_util.h"
#include "runtime/io/csv.h"
#include "runtime/io/file_io.h"
#include "runtime/io/fits.h"
#include "runtime/init.h"
#include "runtime/jit_cache.h"
#include "runtime/astro/metrics.h"
#include "runtime/io/npy.h"
#include "runtime/io/spectrum_resample.h"
#include "runtime/io/tensor_file.h"
#include "runtime/io/weights_file.h"
#include "shell_util.h"
#include "temp_dir_test.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

void expect_error_has(const std::function<void()>& f, const std::string& needle) {
  std::string e = error_of(f);
  EXPECT_NE(e.find(needle), std::string::npos) << "expected '" << needle << "' in: " << e;
}

// A pid that no process has now: a child's, after it exited.
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// ---- the JIT disk cache --------------------------------------------------------------

class JitDiskCache : public TempDirTest {
 protected:
  JitDiskCache() : TempDirTest("starc_jitcache_") {}

  void SetUp() override {
    TempDirTest::SetUp();
    g = compile(R"(
model M(x: f32[B, 8]) -> f32[B, 4] {
    param w: f32[8, 4] = normal
    return tanh(x @ w) * 2.0 + exp(x[:, 0:4]) - sum(x, axes: [1], keepdims: true)
}
)",
                "M");
    params = init_params(g, 3);
    x = Tensor(DType::F32, {5, 8});
    for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = float(std::sin(double(i)) * 0.7);
    cache = path("cache");
  }

  // A run in a fresh executor (empty in-memory cache) over the disk cache.
  Tensor run(bool* disk_hit = nullptr) {
    JitExecutor jit(JitOptions{}, cache);
    Tensor y = jit.run(g, {x}, params, 0)[0];
    if (disk_hit) *disk_hit = jit.last_stats().disk_hit;
    return y;
  }

  // The one entry in the cache folder.
  std::string entry() {
    std::vector<std::string> found;
    for (auto& e : fs::directory_iterator(cache))
      if (e.path().extension() == ".jit") found.push_back(e.path().string());
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? "" : found[0];
  }

  Graph g;
  TensorMap params;
  Tensor x;
  std::string cache;
};

TEST_F(JitDiskCache, CleanEntryIsLoaded) {
  Tensor clean = run();
  bool hit = false;
  EXPECT_TRUE(same_bits(run(&hit), clean));
  EXPECT_TRUE(hit);
}

TEST_F(JitDiskCache, EncodeDecodeRejectsEveryFlippedByte) {
  std::string key = "the key", object(4000, '\0');
  for (size_t i = 0; i < object.size(); ++i) object[i] = char(i * 7 + 3);
  std::string e = jit_cache::encode(key, object), why;
  ASSERT_EQ(e.size(), jit_cache::kHeaderBytes + object.size());
  auto ok = jit_cache::decode(e, key, &why);
  ASSERT_TRUE(ok) << why;
  EXPECT_EQ(*ok, object);
  for (size_t at = 0; at < e.size(); ++at) {
    std::string bad = e;
    bad[at] = char(bad[at] ^ (1 << (at % 8)));
    EXPECT_FALSE(jit_cache::decode(bad, key, &why)) << "a flip at byte " << at << " passed";
  }
  EXPECT_FALSE(jit_cache::decode(e, "another key", &why));
  EXPECT_NE(why.find("key mismatch"), std::string::npos) << why;
  for (size_t n : {size_t(0), size_t(10), jit_cache::kHeaderBytes, e.size() - 1}) {
    EXPECT_FALSE(jit_cache::decode(std::string_view(e).substr(0, n), key, &why)) << n;
    EXPECT_FALSE(why.empty());
  }
  EXPECT_FALSE(jit_cache::decode(e + "x", key, &why));
}

// The regression of issue 25: a byte flipped anywhere in a real entry (header, ELF
// headers, code, relocations, symbols) must give the clean run's numbers, every time.
TEST_F(JitDiskCache, FlippedByteAnywhereGivesTheCleanNumbers) {
  Tensor clean = run();
  const std::string path = entry(), good = slurp(path);
  ASSERT_GT(good.size(), jit_cache::kHeaderBytes + 1000);
  std::vector<size_t> offsets;
  for (size_t at = 0; at < jit_cache::kHeaderBytes; at += 5) offsets.push_back(at);
  const size_t step = (good.size() - jit_cache::kHeaderBytes) / 60;
  for (size_t at = jit_cache::kHeaderBytes; at < good.size(); at += step) offsets.push_back(at);
  offsets.push_back(good.size() - 1);
  for (size_t at : offsets) {
    std::string bad = good;
    bad[at] = char(bad[at] ^ 0x5a);
    spit(path, bad);
    bool hit = true;
    Tensor y = run(&hit);
    EXPECT_FALSE(hit) << "a corrupt entry (byte " << at << ") was loaded";
    EXPECT_TRUE(same_bits(y, clean)) << "byte " << at << ": " << y.get(0) << " vs " << clean.get(0);
    EXPECT_EQ(slurp(path), good) << "the compile did not replace the corrupt entry (byte " << at << ")";
  }
}

TEST_F(JitDiskCache, TruncatedOrForeignEntryIsRecompiled) {
  Tensor clean = run();
  const std::string path = entry(), good = slurp(path);
  for (size_t n : {size_t(0), size_t(50), good.size() / 2, good.size() - 1}) {
    spit(path, good.substr(0, n));
    bool hit = true;
    EXPECT_TRUE(same_bits(run(&hit), clean)) << n;
    EXPECT_FALSE(hit);
  }
  // A valid entry of another key, under this key's name (as a hash collision would be).
  spit(path, jit_cache::encode("another key", good.substr(jit_cache::kHeaderBytes)));
  bool hit = true;
  EXPECT_TRUE(same_bits(run(&hit), clean));
  EXPECT_FALSE(hit);
}

TEST_F(JitDiskCache, SymlinkToDevZeroAndFifoAreSkippedAndReplaced) {
  Tensor clean = run();
  const std::string path = entry();
  fs::remove(path);
  fs::create_symlink("/dev/zero", path);
  testing::internal::CaptureStderr();
  bool hit = true;
  EXPECT_TRUE(same_bits(run(&hit), clean));
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(hit);
  EXPECT_NE(err.find("warning: JIT disk cache: "), std::string::npos) << err;
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path))) << "the link was not replaced by an entry";
  EXPECT_TRUE(fs::is_character_file("/dev/zero"));

  fs::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(same_bits(run(&hit), clean));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30);  // no hang
  EXPECT_FALSE(hit);
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path)));
}

TEST_F(JitDiskCache, UnwritableFolderOnlyWarns) {
  // A cache "folder" that cannot be made: a path below a regular file, and one in /proc
  // (which even root cannot write).
  spit(path("file"), "x");
  Tensor want;
  for (std::string folder : {path("file") + "/cache", std::string("/proc/starc-no-cache")}) {
    cache = folder;
    testing::internal::CaptureStderr();
    Tensor y = run();
    std::string err = testing::internal::GetCapturedStderr();
    if (!want.defined()) want = y;
    EXPECT_TRUE(same_bits(y, want));
    EXPECT_NE(err.find("warning: JIT disk cache: cannot create the folder"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << "one line: " << err;
  }
}

// ---- writing outputs -----------------------------------------------------------------

class WriteOutput : public TempDirTest {
 protected:
  WriteOutput() : TempDirTest("starc_write_") {}
  std::vector<std::string> names() {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(WriteOutput, ReplacesARegularFileKeepingItsMode) {
  spit(path("a.txt"), "old");
  ::chmod(path("a.txt").c_str(), 0600);
  write_file_atomic(path("a.txt"), "new");
  EXPECT_EQ(slurp(path("a.txt")), "new");
  struct stat st{};
  ASSERT_EQ(::stat(path("a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(names(), std::vector<std::string>{"a.txt"});  // no temporary left
}

TEST_F(WriteOutput, FollowsSymlinksAndKeepsThem) {
  fs::create_directories(dir / "real");
  spit(path("real/w.npy"), "old");
  fs::create_symlink("real/w.npy", dir / "link.npy");        // relative
  fs::create_symlink(dir / "link.npy", dir / "link2.npy");   // a chain, absolute
  fs::create_symlink("real/new.npy", dir / "dangling.npy");  // target not there yet
  write_file_atomic(path("link2.npy"), "via link");
  EXPECT_TRUE(fs::is_symlink(dir / "link.npy"));
  EXPECT_TRUE(fs::is_symlink(dir / "link2.npy"));
  EXPECT_EQ(slurp(path("real/w.npy")), "via link");
  write_file_atomic(path("dangling.npy"), "created");
  EXPECT_TRUE(fs::is_symlink(dir / "dangling.npy"));
  EXPECT_EQ(slurp(path("real/new.npy")), "created");
  Tensor t = Tensor::from_vector(DType::F32, {2}, {1, 2});
  write_npy(path("link.npy"), t);
  EXPECT_TRUE(fs::is_symlink(dir / "link.npy"));
  EXPECT_TRUE(same_bits(read_npy(path("real/w.npy")), t));
}

TEST_F(WriteOutput, WritesThroughDevicesAndFifos) {
  Tensor t = Tensor::from_vector(DType::F32, {3}, {1, 2, 3});
  write_npy("/dev/null", t);
  EXPECT_TRUE(fs::is_character_file("/dev/null")) << "/dev/null was replaced";
  write_npz("/dev/null", {{"t", t}});
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  expect_error_has([&] { write_file_atomic("/dev/full", "x"); }, "No space left on device");
  EXPECT_TRUE(fs::is_character_file("/dev/full"));

  std::string fifo = path("out.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });
  write_npy(fifo, t);
  reader.join();
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(got, serialize_npy(t));
}

TEST_F(WriteOutput, RefusesFoldersAndReportsMissingOnes) {
  fs::create_directories(dir / "sub");
  expect_error_has([&] { write_file_atomic(path("sub"), "x"); }, "is a folder");
  expect_error_has([&] { write_file_atomic(path("nope/x.npy"), "x"); }, "nope/x.npy: cannot open for writing");
}

TEST_F(WriteOutput, RemovesTemporariesOfDeadWritersOnly) {
  pid_t dead = dead_pid(), alive = ::getppid();
  spit(path(fmt::format("history.svg.tmp{}", dead)), "left by a killed run");
  spit(path(fmt::format("history.svg.tmp{}", alive)), "a live writer's");
  spit(path(fmt::format("other.svg.tmp{}", dead)), "another file's");
  write_file_atomic(path("history.svg"), "<svg/>");
  EXPECT_FALSE(fs::exists(path(fmt::format("history.svg.tmp{}", dead))));
  EXPECT_TRUE(fs::exists(path(fmt::format("history.svg.tmp{}", alive))));
  EXPECT_TRUE(fs::exists(path(fmt::format("other.svg.tmp{}", dead))));
}

// A writer killed at random moments leaves the old or the new file, and (O_TMPFILE) no
// temporary of its own except in the few microseconds between link and rename.
TEST_F(WriteOutput, KilledWriterLeavesNoTornFile) {
  std::string target = path("big.npy");
  int leftovers = 0;
  for (int round = 0; round < 12; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int v = 1;; ++v) write_file_atomic(target, std::string(1 << 20, char('a' + v % 26)));
    }
    ::usleep(useconds_t(3000 + 2500 * round));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (fs::exists(target)) {
      std::string s = slurp(target);
      ASSERT_EQ(s.size(), size_t(1) << 20);
      EXPECT_EQ(s.find_first_not_of(s[0]), std::string::npos) << "a torn file";
    }
    leftovers += int(names().size()) - (fs::exists(target) ? 1 : 0);
    write_file_atomic(target, std::string(1 << 20, 'z'));  // removes what the killed writer left
    EXPECT_EQ(names(), std::vector<std::string>{"big.npy"});
  }
  EXPECT_LE(leftovers, 2);
}

// ---- data files ------------------------------------------------------------------------

class DataFiles : public TempDirTest {
 protected:
  DataFiles() : TempDirTest("starc_datafiles_") {}
};

// "\x93NUMPY" v1.0 with `dict` as the header (padded as numpy pads it), then `data`.
std::string npy_bytes(const std::string& dict, std::string_view data) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += char(h.size() & 0xff);
  out += char(h.size() >> 8);
  return out + h + std::string(data);
}

TEST_F(DataFiles, NpyShapeOverflowIsAnError) {
  for (const char* shape :
       {"(4294967296, 4294967296, 4)", "(0, 9223372036854775807, 9223372036854775807)", "(9223372036854775807,)"}) {
    spit(path("x.npy"),
         npy_bytes(fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape), "abcd"));
    std::string e = error_of([&] { read_npy(path("x.npy")); });
    EXPECT_NE(e.find("x.npy"), std::string::npos) << e;
    EXPECT_EQ(e.find("bad_alloc"), std::string::npos) << e;
    EXPECT_NE(e, "(no error)") << shape;
  }
}

TEST_F(DataFiles, DevicesAreNotDataFiles) {
  expect_error_has([] { read_npy("/dev/zero"); }, "/dev/zero: is a character device, not a data file");
  expect_error_has([] { read_csv("/dev/zero"); }, "is a character device");
  expect_error_has([] { read_weights_file("/dev/zero"); }, "/dev/zero");
  expect_error_has([&] { read_npy(dir.string()); }, "is a folder");
}

TEST_F(DataFiles, FifoIsReadToItsEnd) {
  Tensor t = Tensor::from_vector(DType::F64, {2, 2}, {1, 2, 3, 4});
  std::string fifo = path("in.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  std::thread writer([&] { spit(fifo, serialize_npy(t)); });
  Tensor got = read_npy(fifo);
  writer.join();
  EXPECT_TRUE(same_bits(got, t));
}

// An .npz entry whose .npy header says 10 floats but which inflates to 64 MB (a zip
// bomb): refused from the header, without inflating the rest.
TEST_F(DataFiles, NpzBombIsRefusedFromItsHeader) {
  std::string member =
      npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (10,), }", std::string(64 << 20, '\0'));
  int err = 0;
  zip_t* za = zip_open(path("bomb.npz").c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_TRUE(za);
  zip_source_t* src = zip_source_buffer(za, member.data(), member.size(), 0);
  zip_int64_t idx = zip_file_add(za, "x.npy", src, 0);
  ASSERT_GE(idx, 0);
  zip_set_file_compression(za, zip_uint64_t(idx), ZIP_CM_DEFLATE, 9);
  ASSERT_EQ(zip_close(za), 0);
  EXPECT_LT(fs::file_size(path("bomb.npz")), 1u << 20);
  auto t0 = std::chrono::steady_clock::now();
  expect_error_has([&] { read_npz(path("bomb.npz")); }, "bomb.npz:x.npy: the zip says the entry is");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5);
  // The same entry with its data as the header says is read.
  Tensor t = Tensor::from_vector(DType::F32, {10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  write_npz(path("ok.npz"), {{"x", t}});
  EXPECT_TRUE(same_bits(read_npz(path("ok.npz")).at("x"), t));
}

TEST_F(DataFiles, StoredDtypeIsReported) {
  spit(path("i4.npy"), npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", std::string(8, '\1')));
  spit(path("u1.npy"), npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "\1\2"));
  std::string stored;
  Tensor t = read_tensor_file(path("i4.npy"), &stored);
  EXPECT_EQ(t.dtype(), DType::I64);
  EXPECT_EQ(stored, "int32");
  read_tensor_file(path("u1.npy"), &stored);
  EXPECT_EQ(stored, "uint8");
  read_tensor_file(path("i4.npy") + ":f32", &stored);
  EXPECT_EQ(stored, "");  // converted on request
  write_npy(path("f.npy"), Tensor::from_vector(DType::F32, {1}, {1}));
  read_tensor_file(path("f.npy"), &stored);
  EXPECT_EQ(stored, "");
  write_npz(path("i.npz"), {{"a", t}});
  read_tensor_file(path("i.npz"), &stored);
  EXPECT_EQ(stored, "");
}

// A FITS primary header claiming NAXIS1 x NAXIS2 = 4e9 x 4e9 floats with one block of
// data: an error naming the sizes, not std::bad_alloc.
std::string fits_header(const std::vector<std::pair<std::string, std::string>>& cards) {
  std::string h;
  for (auto& [k, v] : cards)  // strings start in column 11, numbers end in column 30
    h +=
        fmt::format(fmt::runtime(v[0] == '\'' ? "{:<8}= {:<20}" : "{:<8}= {:>20}"), k, v).append(80, ' ').substr(0, 80);
  h += std::string("END").append(77, ' ');
  h.append((2880 - h.size() % 2880) % 2880, ' ');
  return h;
}

TEST_F(DataFiles, FitsHeaderSizesAreChecked) {
  spit(path("huge.fits"),
       fits_header(
           {{"SIMPLE", "T"}, {"BITPIX", "-32"}, {"NAXIS", "2"}, {"NAXIS1", "4000000000"}, {"NAXIS2", "4000000000"}}) +
           std::string(2880, '\0'));
  std::string e = error_of([&] { read_fits(path("huge.fits")); });
  EXPECT_NE(e.find("huge.fits (HDU 0)"), std::string::npos) << e;
  EXPECT_NE(e.find("NAXISn = 4000000000 x 4000000000"), std::string::npos) << e;
  e = error_of([&] { read_fits_spectrum(path("huge.fits")); });
  EXPECT_NE(e.find("huge.fits"), std::string::npos) << e;
  EXPECT_EQ(e.find("bad_alloc"), std::string::npos) << e;
  // A binary table of 10^12 rows in one block.
  std::string table = fits_header({{"SIMPLE", "T"}, {"BITPIX", "8"}, {"NAXIS", "0"}, {"EXTEND", "T"}}) +
                      fits_header({{"XTENSION", "'BINTABLE'"},
                                   {"BITPIX", "8"},
                                   {"NAXIS", "2"},
                                   {"NAXIS1", "8"},
                                   {"NAXIS2", "1000000000000"},
                                   {"PCOUNT", "0"},
                                   {"GCOUNT", "1"},
                                   {"TFIELDS", "1"},
                                   {"TTYPE1", "'flux'"},
                                   {"TFORM1", "'1D'"}}) +
                      std::string(2880, '\0');
  spit(path("rows.fits"), table);
  e = error_of([&] { read_fits(path("rows.fits"), {"flux"}); });
  EXPECT_NE(e.find("rows.fits"), std::string::npos) << e;
  EXPECT_EQ(e.find("bad_alloc"), std::string::npos) << e;
  EXPECT_NE(e, "(no error)");
}

TEST_F(DataFiles, FitsWritesGoThroughLinks) {
  fs::create_symlink("target.fits", dir / "link.fits");
  Tensor img = Tensor::from_vector(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  write_fits_image(path("link.fits"), img);
  EXPECT_TRUE(fs::is_symlink(dir / "link.fits"));
  EXPECT_TRUE(same_bits(read_fits(path("target.fits")), img));
  EXPECT_EQ(fs::file_size(path("target.fits")) % 2880, 0u);
}

TEST_F(DataFiles, WeightsFileShapesAreChecked) {
  // STARCWT1, one tensor "w" of f32 with dims {2^40, 2^40}.
  std::string b = "STARCWT1";
  auto put = [&](auto v) { b.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(uint64_t(1));
  put(uint64_t(1));
  b += "w";
  put(uint32_t(dtype_code(DType::F32)));
  put(uint32_t(2));
  put(int64_t(1) << 40);
  put(int64_t(1) << 40);
  put(uint64_t(0));
  spit(path("w.weights"), b);
  std::string e = error_of([&] { read_weights_file(path("w.weights")); });
  EXPECT_NE(e.find("w.weights"), std::string::npos) << e;
  EXPECT_NE(e.find("'w'"), std::string::npos) << e;
}

TEST_F(DataFiles, CsvWithByteOrderMark) {
  spit(path("bom.csv"),
       "\xEF\xBB\xBF"
       "a,b\n1,2\n3,4\n");
  CsvTable t = read_csv(path("bom.csv"), {"a"});
  EXPECT_EQ(t.columns, std::vector<std::string>{"a"});
  EXPECT_EQ(t.values.get(1), 3);
  EXPECT_EQ(read_csv(path("bom.csv")).columns, (std::vector<std::string>{"a", "b"}));
}

TEST_F(DataFiles, SizesFromOptionsAreChecked) {
  expect_error_has([] { parse_loglam_grid("3.5,4.0,1e12"); },
                   "loglam_grid 3.5,4.0,1e12: a grid of 1000000000000 pixels: needs");
  expect_error_has([] { parse_loglam_grid("3.5,4.0,1e300"); }, "whole N");
  // Scores of 3 million classes for one sample: a confusion matrix of 9e12 counts.
  Tensor scores(DType::F32, {1, 3000000}), labels = Tensor::from_vector(DType::I64, {1}, {0});
  expect_error_has([&] { classification_metrics(scores, labels, ScoreKind::Logits, 0.5, "--pred p.npy"); },
                   "--pred p.npy f32[1,3000000]: the metrics of 3000000 classes");
}

}  // namespace
}  // namespace starc::test
