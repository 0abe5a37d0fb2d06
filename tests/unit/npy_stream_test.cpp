// Inputs larger than memory (runtime/io/npy_map.h, runtime/io/npy_rows.h, starc run
// --batch, docs/distributed.md): a mapped .npy reads as read_npy reads it, files that
// cannot be mapped keep read_npy's conversions and messages, row-written files equal
// write_npy's, and `starc train` / `starc run --batch` over a file of 512 MiB add far
// less than its size to starc's own peak RSS while giving the in-memory path's results.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "runtime/io/npy.h"
#include "runtime/io/npy_map.h"
#include "runtime/io/npy_rows.h"
#include "runtime/trainer.h"
#include "tests/unit/error_of.h"
#include "tests/unit/shell_util.h"

namespace starc {
namespace {

using test::error_of;
using test::ScratchDir;

Tensor iota(DType dt, Shape s) {
  Tensor t(dt, s);
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, double(i % 1000) * 0.25 - 7);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void spit(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

TEST(NpyMap, MappedFilesReadAsReadNpy) {
  ScratchDir dir("npy_map");
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    std::string p = dir.at(fmt::format("a_{}.npy", dtype_name(dt)));
    Tensor want = iota(dt, {37, 3, 4});
    write_npy(p, want);
    std::string stored = "x";
    Tensor got = map_npy(p, &stored, 0);
    EXPECT_TRUE(is_mapped(got)) << dtype_name(dt);
    EXPECT_TRUE(same_bytes(got, want)) << dtype_name(dt);
    EXPECT_EQ(stored, "");
    // Rows copied out of the mapping, scattered or contiguous, are the file's rows.
    Tensor rows = gather_rows(got, {36, 0, 5}, 0, 3);
    EXPECT_EQ(rows.get(0), want.get(36 * 12));
    EXPECT_EQ(rows.get(12), want.get(0));
    EXPECT_TRUE(same_bytes(copy_rows(got, 5, 9), gather_rows(want, in_order(37), 5, 9)));
  }
  // Below the threshold: read whole, not mapped.
  std::string p = dir.at("small.npy");
  write_npy(p, iota(DType::F32, {4, 2}));
  EXPECT_FALSE(is_mapped(map_npy(p, nullptr, 1 << 20)));
}

TEST(NpyMap, RowsReadFromTheFileAreTheRows) {
  ScratchDir dir("npy_map_drop");
  std::string p = dir.at("big.npy");
  Tensor want = iota(DType::F32, {4096, 1024});  // 16 MiB
  write_npy(p, want);
  Tensor t = map_npy(p, nullptr, 0);
  ASSERT_TRUE(is_mapped(t));
  std::vector<int64_t> order = epoch_order(3, 0, 4096);
  for (int64_t lo = 0; lo < 4096; lo += 256)
    ASSERT_TRUE(same_bytes(gather_rows(t, order, lo, lo + 256), gather_rows(want, order, lo, lo + 256))) << lo;
}

// What read_npy converts or refuses goes through read_npy: same tensor, same `stored`,
// same message.
TEST(NpyMap, UnmappableFilesKeepReadNpysBehaviour) {
  ScratchDir dir("npy_map_conv");
  std::string good = serialize_npy(iota(DType::F32, {6, 4}));
  auto variant = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos);
    return s.replace(at, from.size(), to);
  };
  std::map<std::string, std::string> files = {
      {"big_endian.npy", variant("'<f4'", "'>f4'")},      {"fortran.npy", variant("False", "True ")},
      {"int32.npy", variant("'<f4'", "'<i4'")},           {"half.npy", variant("'<f4'", "'<f2'")},
      {"truncated.npy", good.substr(0, good.size() - 5)}, {"bad_magic.npy", "\x92NUMPY" + good.substr(6)},
      {"short_header.npy", good.substr(0, 40)},           {"bad_dtype.npy", variant("'<f4'", "'<c8'")},
  };
  for (auto& [name, bytes] : files) {
    std::string p = dir.at(name);
    spit(p, bytes);
    std::string err_read = error_of([&] { read_npy(p); });
    std::string err_map = error_of([&] { map_npy(p, nullptr, 0); });
    EXPECT_EQ(err_map, err_read) << name;
    if (err_read != "(no error)") continue;
    std::string s1, s2;
    Tensor a = read_npy(p, &s1), b = map_npy(p, &s2, 0);
    EXPECT_FALSE(is_mapped(b)) << name;
    EXPECT_TRUE(same_bytes(a, b)) << name;
    EXPECT_EQ(s1, s2) << name;
  }
  EXPECT_NE(error_of([&] { read_npy(dir.at("truncated.npy")); }).find("data shorter than the shape says"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { map_npy(dir.at("missing.npy"), nullptr, 0); }),
            error_of([&] { read_npy(dir.at("missing.npy")); }));
}

TEST(NpyRows, RowsWrittenInAnyOrderMakeWriteNpysFile) {
  ScratchDir dir("npy_rows");
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::Bool}) {
    Tensor full = iota(dt == DType::Bool ? DType::F32 : dt, {10, 3});
    if (dt == DType::Bool) full = full.cast(DType::Bool);
    std::string p = dir.at("rows.npy"), ref = dir.at("ref.npy");
    create_npy_rows(p, dt, full.shape());
    NpyRowWriter w(p, dt, full.shape());
    std::vector<int64_t> ident = in_order(10);
    w.write(7, gather_rows(full, ident, 7, 10));
    w.write(0, gather_rows(full, ident, 0, 4));
    w.write(4, gather_rows(full, ident, 4, 7));
    w.sync();
    write_npy(ref, full);
    EXPECT_EQ(slurp(p), slurp(ref)) << dtype_name(dt);
  }
  std::string p = dir.at("rows.npy");
  create_npy_rows(p, DType::F32, {4, 2});
  NpyRowWriter w(p, DType::F32, {4, 2});
  EXPECT_NE(error_of([&] { w.write(3, iota(DType::F32, {2, 2})); }).find("rows 3..5"), std::string::npos);
  EXPECT_NE(error_of([&] { w.write(0, iota(DType::F64, {1, 2})); }).find("do not fit"), std::string::npos);
}

// ---- the commands over a file larger than their memory ---------------------------------

// Runs STARC_BINARY with `args` in `dir` (STARC_MMAP_MIN_BYTES=`min_bytes` when given);
// its exit status and peak RSS in MiB (wait4's ru_maxrss of the child itself).
struct Child {
  int code = -1;
  double peak_mib = 0;
};
Child run_measured(const std::string& dir, const std::vector<std::string>& args, const char* min_bytes = nullptr) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(127);
    if (min_bytes) ::setenv("STARC_MMAP_MIN_BYTES", min_bytes, 1);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    std::vector<char*> argv = {const_cast<char*>(STARC_BINARY)};
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(STARC_BINARY, argv.data());
    ::_exit(127);
  }
  Child c;
  int status = 0;
  struct rusage ru{};
  if (::wait4(pid, &status, 0, &ru) != pid) return c;
  c.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  c.peak_mib = double(ru.ru_maxrss) / 1024.0;
  return c;
}

// A .npy of `rows` x `cols` f32 written in slabs (the test itself never holds it).
void write_big_npy(const std::string& path, int64_t rows, int64_t cols) {
  create_npy_rows(path, DType::F32, {rows, cols});
  NpyRowWriter w(path, DType::F32, {rows, cols});
  const int64_t slab = 1024;
  for (int64_t lo = 0; lo < rows; lo += slab) {
    int64_t n = std::min(slab, rows - lo);
    Tensor t(DType::F32, {n, cols});
    float* p = t.data<float>();
    for (int64_t i = 0; i < n * cols; ++i) p[i] = float(((lo * cols + i) * 2654435761u) % 2001) / 1000.0f - 1.0f;
    w.write(lo, t);
  }
}

TEST(NpyStream, TrainAndRunOverA512MiBFileStayFarBelowItsSizeInMemory) {
  ScratchDir dir("npy_stream");
  const int64_t rows = 32768, cols = 4096;  // 512 MiB of f32
  write_big_npy(dir.at("x.npy"), rows, cols);
  write_big_npy(dir.at("y.npy"), rows, 1);
  spit(dir.at("wide.net"),
       "use std.nn\nuse std.losses\n"
       "model Wide(x: f32[B, 4096]) -> f32[B, 1] {\n  return x |> dense(8) |> relu |> dense(1)\n}\n"
       "train Wide(y: f32[B, 1]) {\n  loss = mse(output, y)\n  optimizer = sgd(lr: 1e-3)\n}\n");
  const double file_mib = double(rows * cols * 4) / (1 << 20);
  // starc's own peak (the JIT, LLVM's libraries, the compiled step) on 256 samples: what
  // the large file may add to is the batch, not the file.
  write_npy(dir.at("xs.npy"), iota(DType::F32, {256, cols}));
  write_npy(dir.at("ys.npy"), iota(DType::F32, {256, 1}));
  auto train_args = [&](const std::string& x, const std::string& y) {
    return std::vector<std::string>{"train",      "wide.net", "--data",   "x=" + x, "--data",    "y=" + y,
                                    "--batch",    "256",      "--epochs", "1",      "--threads", "2",
                                    "--progress", "none",     "--out",    "w.npz"};
  };
  Child base = run_measured(dir.path.string(), train_args("xs.npy", "ys.npy"));
  ASSERT_EQ(base.code, 0);
  Child tr = run_measured(dir.path.string(), train_args("x.npy", "y.npy"));
  ASSERT_EQ(tr.code, 0);
  EXPECT_LT(tr.peak_mib, base.peak_mib + file_mib / 8)
      << "train: peak RSS " << tr.peak_mib << " MiB over a " << file_mib << " MiB file; " << base.peak_mib
      << " MiB over 256 samples";
  std::vector<std::string> run = {"run",     "wide.net", "--weights", "w.npz",     "--in",
                                  "x=x.npy", "--batch",  "4096",      "--threads", "2"};
  auto with_out = [&](const std::string& out) {
    auto a = run;
    a.insert(a.end(), {"--out", out});
    return a;
  };
  Child mapped = run_measured(dir.path.string(), with_out("z_mapped.npy"));
  ASSERT_EQ(mapped.code, 0);
  // A batch of 4096 samples is 64 MiB in, and a copy or two of it in flight.
  EXPECT_LT(mapped.peak_mib, base.peak_mib + file_mib / 2)
      << "run --batch: peak RSS " << mapped.peak_mib << " MiB; train over 256 samples " << base.peak_mib;
  // The same run with the file read whole: the same bytes (and more memory than the file).
  Child whole = run_measured(dir.path.string(), with_out("z_whole.npy"), "1000000000000");
  ASSERT_EQ(whole.code, 0);
  EXPECT_GT(whole.peak_mib, file_mib);
  std::string a = slurp(dir.at("z_mapped.npy")), b = slurp(dir.at("z_whole.npy"));
  EXPECT_EQ(a.size(), serialize_npy(Tensor(DType::F32, {rows, 1})).size());
  EXPECT_TRUE(a == b);
}

// Misuse of run --batch: a clear error naming what is wrong, no partial file left behind.
TEST(NpyStream, RunBatchMisuseIsACleanError) {
  ScratchDir dir("npy_stream_misuse");
  write_npy(dir.at("x.npy"), iota(DType::F32, {10, 3}));
  spit(dir.at("m.net"),
       "model Rowwise(x: f32[B, 3]) -> f32[B, 3] {\n  return x * 2.0\n}\n"
       "model Total(x: f32[B, 3]) -> f32[] {\n  return sum(x)\n}\n"
       "model Fixed(x: f32[10, 3]) -> f32[10, 3] {\n  return x * 2.0\n}\n");
  const std::string d = dir.path.string();
  test::expect_starc_error(d, "run m.net -m Rowwise --in x=x.npy --batch 4",
                           "--batch writes every output to a file: pass --out output=FILE.npy");
  test::expect_starc_error(d, "run m.net -m Rowwise --in x=x.npy --batch 4 --out y.npy --repeat 2",
                           "--batch runs the data once");
  test::expect_starc_error(d, "run m.net -m Total --in x=x.npy --batch 4 --out y.npy",
                           "output 'output' is f32[] for a batch of 4 samples; --batch needs every output to lead "
                           "with the batch dim");
  test::expect_starc_error(d, "run m.net -m Fixed --in x=x.npy --batch 4 --out y.npy",
                           "the model's input 'x' f32[10,3] has no batch dim to split");
  test::expect_starc_error(d, "run m.net -m Rowwise --in x=x.npy --batch 0 --out y.npy", "--batch");
  EXPECT_FALSE(std::filesystem::exists(dir.at("y.npy")));
  EXPECT_FALSE(std::filesystem::exists(dir.at("y.npy.starc-partial")));
  // And used rightly: 10 rows in batches of 4 (the last one of 2), the values of x * 2.
  test::ShellResult ok = test::run_starc(d, "run m.net -m Rowwise --in x=x.npy --batch 4 --out y.npy");
  ASSERT_EQ(ok.code, 0) << ok.out;
  Tensor y = read_npy(dir.at("y.npy")), x = read_npy(dir.at("x.npy"));
  ASSERT_EQ(y.type(), x.type());
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(y.get(i), 2 * x.get(i)) << i;
}

}  // namespace
}  // namespace starc
