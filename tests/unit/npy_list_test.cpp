// A dataset split over many .npy files (runtime/io/npy_map.h map_npy_files, `--data
// x=@files.txt`, `--data x=DIR/`, docs/distributed.md): the files' rows one after another,
// read by rows from the files, equal to the one concatenated file for the library, for
// `starc train` and for `starc run`; files that do not fit together are refused by name.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/dist/comm.h"
#include "runtime/io/npy.h"
#include "runtime/io/npy_map.h"
#include "runtime/trainer.h"
#include "tests/unit/error_of.h"
#include "tests/unit/shell_util.h"

namespace starc {
namespace {

using test::error_of;
using test::ScratchDir;

// Rows r of a [rows, 3, 2] tensor hold 100 * (r + first) + element: every row differs.
Tensor rows_from(DType dt, int64_t first, int64_t rows, Shape tail = {3, 2}) {
  Shape s = {rows};
  s.insert(s.end(), tail.begin(), tail.end());
  Tensor t(dt, s);
  int64_t per = rows ? t.size() / rows : 0;
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, double(100 * (first + i / per) + i % per));
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.type() == b.type() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void spit(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Parts of 5, 0, 7 and 4 rows (an empty part included) and the whole they make.
struct Parts {
  std::vector<std::string> paths;
  Tensor whole;
};
Parts write_parts(const ScratchDir& dir, DType dt) {
  Parts p;
  int64_t first = 0;
  for (int64_t n : {5, 0, 7, 4}) {
    p.paths.push_back(dir.at(fmt::format("part_{:02}.npy", p.paths.size())));
    write_npy(p.paths.back(), rows_from(dt, first, n));
    first += n;
  }
  p.whole = rows_from(dt, 0, first);
  return p;
}

TEST(NpyList, FilesReadByRowsAreTheConcatenation) {
  ScratchDir dir("npy_list");
  for (DType dt : {DType::F32, DType::F64, DType::I64}) {
    Parts p = write_parts(dir, dt);
    Tensor t = map_npy_files(p.paths, "@list", nullptr, 0);  // 0: never read whole
    ASSERT_TRUE(is_file_list(t)) << dtype_name(dt);
    EXPECT_EQ(t.shape(), p.whole.shape());
    EXPECT_TRUE(same_bytes(copy_rows(t, 0, 16), p.whole)) << dtype_name(dt);
    EXPECT_TRUE(same_bytes(copy_rows(t, 3, 13), copy_rows(p.whole, 3, 13))) << dtype_name(dt);
    // A shuffled epoch crosses every file boundary, in both directions.
    std::vector<int64_t> order = epoch_order(7, 1, 16);
    for (int64_t lo = 0; lo < 16; lo += 6) {
      int64_t hi = std::min<int64_t>(lo + 6, 16);
      EXPECT_TRUE(same_bytes(gather_rows(t, order, lo, hi), gather_rows(p.whole, order, lo, hi))) << lo;
    }
    // Below the mapping threshold the files are read whole and concatenated.
    Tensor small = map_npy_files(p.paths, "@list");
    EXPECT_FALSE(is_file_list(small));
    EXPECT_TRUE(same_bytes(small, p.whole)) << dtype_name(dt);
  }
}

TEST(NpyList, FilesThatDoNotFitTogetherAreRefusedByName) {
  ScratchDir dir("npy_list_bad");
  std::string a = dir.at("a.npy"), b64 = dir.at("b64.npy"), wide = dir.at("wide.npy"), scalar = dir.at("s.npy");
  write_npy(a, rows_from(DType::F32, 0, 4));
  write_npy(b64, rows_from(DType::F64, 4, 4));
  write_npy(wide, rows_from(DType::F32, 4, 4, {3, 5}));
  write_npy(scalar, Tensor::from_vector(DType::F32, {}, std::vector<double>{1}));
  for (uint64_t min_bytes : {uint64_t(0), uint64_t(1) << 40}) {  // by rows, and read whole
    std::string e = error_of([&] { map_npy_files({a, b64}, "@x.txt", nullptr, min_bytes); });
    EXPECT_NE(e.find("@x.txt: " + b64 + " holds f64 but " + a + " holds f32"), std::string::npos) << e;
    e = error_of([&] { map_npy_files({a, wide}, "@x.txt", nullptr, min_bytes); });
    EXPECT_NE(e.find(wide + " has shape [4,3,5] but " + a + " has [4,3,2]"), std::string::npos) << e;
    e = error_of([&] { map_npy_files({a, scalar}, "@x.txt", nullptr, min_bytes); });
    EXPECT_NE(e.find(scalar + " holds a scalar"), std::string::npos) << e;
    e = error_of([&] { map_npy_files({a, dir.at("missing.npy")}, "@x.txt", nullptr, min_bytes); });
    EXPECT_NE(e.find(dir.at("missing.npy") + ": cannot open it: No such file"), std::string::npos) << e;
  }
  EXPECT_EQ(error_of([&] { map_npy_files({}, "@x.txt"); }), "@x.txt: names no .npy files");
}

// ---- starc train and starc run over a list and a folder ---------------------------------

constexpr const char* kModel =
    "use std.nn\nuse std.losses\n"
    "model M(x: f32[B, 3, 2]) -> f32[B, 1] {\n  return x |> flatten |> dense(4) |> tanh |> dense(1)\n}\n"
    "train M(y: f32[B, 1]) {\n  loss = mse(output, y)\n  optimizer = adam(lr: 1e-2)\n}\n";

// Scaled to keep tanh away from saturation: rows_from's values reach 1600.
void scaled_parts(const ScratchDir& dir, Parts& p) {
  int64_t first = 0;
  for (size_t i = 0; i < p.paths.size(); ++i) {
    Tensor t = read_npy(p.paths[i]);
    for (int64_t k = 0; k < t.size(); ++k) t.set(k, t.get(k) * 1e-3);
    write_npy(p.paths[i], t);
    first += t.dim(0);
  }
  for (int64_t k = 0; k < p.whole.size(); ++k) p.whole.set(k, p.whole.get(k) * 1e-3);
  write_npy(dir.at("whole.npy"), p.whole);
  Tensor y = rows_from(DType::F32, 0, first, {1});
  for (int64_t k = 0; k < y.size(); ++k) y.set(k, std::sin(double(k)));
  write_npy(dir.at("y.npy"), y);
}

TEST(NpyList, TrainAndRunOverAListOrFolderAreTheConcatenatedFile) {
  ScratchDir dir("npy_list_cli");
  std::filesystem::create_directories(dir.at("parts"));
  std::filesystem::create_directories(dir.at("lists"));
  Parts p = write_parts(dir, DType::F32);
  scaled_parts(dir, p);
  // The list names its files relative to itself, with a comment and a blank line.
  std::string list = "# x in four parts\n";
  for (auto& path : p.paths) {
    std::string name = std::filesystem::path(path).filename().string();
    std::filesystem::copy_file(path, dir.at("parts/" + name));
    list += "../parts/" + name + "\n\n";
  }
  spit(dir.at("lists/x.txt"), list);
  spit(dir.at("m.net"), kModel);
  for (const char* env : {"STARC_MMAP_MIN_BYTES=0", ""}) {  // by rows; read whole
    auto run = [&](const std::string& args) {
      return test::sh(fmt::format("cd {} && {} timeout 120 {} {}", test::quote(dir.path.string()), env,
                                  test::quote(STARC_BINARY), args));
    };
    std::string common = "--data y=y.npy --batch 5 --epochs 3 --seed 4 --threads 1";
    test::ShellResult r = run("train m.net --data x=whole.npy " + common + " --out w_whole.npz");
    ASSERT_EQ(r.code, 0) << r.out;
    for (const char* x : {"@lists/x.txt", "parts/", "parts"}) {
      r = run(fmt::format("train m.net --data x={} {} --out w_list.npz", x, common));
      ASSERT_EQ(r.code, 0) << x << "\n" << r.out;
      EXPECT_EQ(slurp(dir.at("w_list.npz")), slurp(dir.at("w_whole.npz"))) << x << " " << env;
    }
    ASSERT_EQ(run("run m.net --weights w_whole.npz --in x=whole.npy --out z_whole.npy").code, 0);
    for (const char* args : {"--in x=@lists/x.txt", "--in x=parts/", "--in x=parts/ --batch 4"}) {
      r = run(fmt::format("run m.net --weights w_whole.npz {} --out z.npy", args));
      ASSERT_EQ(r.code, 0) << args << "\n" << r.out;
      Tensor want = read_npy(dir.at("z_whole.npy")), got = read_npy(dir.at("z.npy"));
      ASSERT_EQ(got.shape(), want.shape()) << args;
      for (int64_t k = 0; k < want.size(); ++k)  // --batch 4 runs other GEMM sizes: rounding
        EXPECT_NEAR(got.get(k), want.get(k), 1e-6 * (1 + std::abs(want.get(k)))) << args << " " << k;
    }
  }
}

// Under mpirun every rank reads its share of the list by rows: 2 ranks train to the
// weights of one process over the concatenated file (1e-5 relative, the summation order
// differs), and a sharded run writes its values.
TEST(NpyList, TwoRanksReadAListAsOneProcessReadsTheFile) {
  if (!mpi_built()) GTEST_SKIP() << "starc was built without MPI (install libopenmpi-dev openmpi-bin, re-run cmake)";
  if (test::sh("command -v mpirun").code != 0) GTEST_SKIP() << "mpirun is not on PATH (Debian: openmpi-bin)";
  ScratchDir dir("npy_list_mpi");
  Parts p = write_parts(dir, DType::F32);
  scaled_parts(dir, p);
  std::string d = test::quote(dir.path.string()), bin = test::quote(STARC_BINARY);
  std::string train = "train m.net --data y=y.npy --batch 8 --epochs 3 --seed 4 --threads 1 --progress none";
  spit(dir.at("m.net"), kModel);
  auto sh_in_dir = [&](const std::string& cmd) {
    return test::sh(fmt::format("cd {} && export STARC_MMAP_MIN_BYTES=0 && timeout 100 {}", d, cmd));
  };
  auto mpirun = [&](const std::string& args) {
    return sh_in_dir(
        fmt::format("mpirun --allow-run-as-root --oversubscribe -x STARC_MMAP_MIN_BYTES -np 2 {} {}", bin, args));
  };
  test::ShellResult r = sh_in_dir(fmt::format("{} {} --data x=whole.npy --out one.npz", bin, train));
  ASSERT_EQ(r.code, 0) << r.out;
  // The scratch folder itself holds y.npy beside x's parts: refused by name on every rank.
  r = mpirun(fmt::format("{} --data x=. --out two.npz", train));
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("y.npy has shape [16,1] but"), std::string::npos) << r.out;
  std::filesystem::create_directories(dir.at("parts"));
  for (auto& path : p.paths)
    std::filesystem::rename(path, dir.at("parts/" + std::filesystem::path(path).filename().string()));
  r = mpirun(fmt::format("{} --data x=parts/ --out two.npz", train));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("data-parallel: 2 ranks, global batch 8"), std::string::npos) << r.out;
  auto a = read_npz(dir.at("one.npz")), b = read_npz(dir.at("two.npz"));
  ASSERT_EQ(a.size(), b.size());
  for (auto& [name, t] : a)
    for (int64_t i = 0; i < t.size(); ++i)
      EXPECT_NEAR(b.at(name).get(i), t.get(i), 1e-5 * std::fabs(t.get(i)) + 1e-7) << name << "[" << i << "]";
  r = sh_in_dir(fmt::format("{} run m.net --weights one.npz --in x=whole.npy --out z1.npy", bin));
  ASSERT_EQ(r.code, 0) << r.out;
  r = mpirun("run m.net --weights one.npz --in x=parts/ --out z2.npy --batch 3");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor want = read_npy(dir.at("z1.npy")), got = read_npy(dir.at("z2.npy"));
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got.get(k), want.get(k), 1e-6 * (1 + std::fabs(want.get(k))));
}

TEST(NpyList, BadListsAndFoldersFailNamingTheFile) {
  ScratchDir dir("npy_list_cli_bad");
  spit(dir.at("m.net"), kModel);
  write_npy(dir.at("y.npy"), rows_from(DType::F32, 0, 8, {1}));
  write_npy(dir.at("a.npy"), rows_from(DType::F32, 0, 4));
  write_npy(dir.at("b.npy"), rows_from(DType::F32, 4, 4, {2, 3}));
  spit(dir.at("mixed.txt"), "a.npy\nb.npy\n");
  spit(dir.at("empty.txt"), "# nothing yet\n");
  spit(dir.at("gone.txt"), "a.npy\nc.npy\n");
  std::filesystem::create_directories(dir.at("none"));
  std::string d = dir.path.string(), train = "train m.net --data y=y.npy --batch 4 --data x=";
  test::expect_starc_error(d, train + "@mixed.txt", "b.npy has shape [4,2,3] but a.npy has [4,3,2]");
  test::expect_starc_error(d, train + "@empty.txt", "@empty.txt: names no .npy files");
  test::expect_starc_error(d, train + "@gone.txt", "c.npy: cannot open it: No such file or directory");
  test::expect_starc_error(d, train + "@nolist.txt", "cannot open the list file 'nolist.txt'");
  test::expect_starc_error(d, train + "none/", "none/: names no .npy files");
  test::expect_starc_error(d, train + "absent/", "absent/: 'absent/' is not a folder");
  test::expect_starc_error(d, "run m.net --in x=@mixed.txt", "b.npy has shape [4,2,3] but a.npy has [4,3,2]");
}

}  // namespace
}  // namespace starc
