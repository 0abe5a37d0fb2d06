// Ahead-of-time compilation: `starc compile` builds the redshift CNN into a static and a
// shared library; a plain C program (cc, the generated header only) and a C++ CMake
// consumer (find_package) link it and must reproduce `starc run` (JIT); the libraries
// depend on libc/libm only and export only the model's API; misuse of the API returns
// error codes (tests/aot/bad_use.c), and so does a forward that runs out of memory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "runtime/io/npy.h"
#include "runtime/io/weights_file.h"
#include "shared_fixture.h"
#include "shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

const std::string kSrc = STARC_SOURCE_DIR;
const std::string kModel = kSrc + "/stdlib/astro/redshift.net";

std::vector<double> parse_lines(const std::string& out) {
  std::vector<double> v;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) v.push_back(std::stod(line));
  return v;
}

void expect_close(const std::vector<double>& got, const Tensor& want, double rel, const std::string& what) {
  ASSERT_EQ(int64_t(got.size()), want.size()) << what;
  for (int64_t i = 0; i < want.size(); ++i)
    EXPECT_LE(std::abs(got[size_t(i)] - want.get(i)), rel * std::max(1.0, std::abs(want.get(i))))
        << what << " at " << i << ": " << got[size_t(i)] << " vs JIT " << want.get(i);
}

// The CPUs of OpenBLAS's DYNAMIC_ARCH kernels, as its symbols' suffixes name them.
const std::string kOpenBlasCores =
    "PRESCOTT|CORE2|PENRYN|DUNNINGTON|NEHALEM|OPTERON|OPTERON_SSE3|BARCELONA|BOBCAT|ATOM|NANO|SANDYBRIDGE|"
    "BULLDOZER|PILEDRIVER|STEAMROLLER|EXCAVATOR|HASWELL|ZEN|SKYLAKEX|COOPERLAKE";

// One compiled library for the whole suite, made once per ctest run (shared_fixture.h)
// and linked into each test's own folder.
class AotRedshift : public ::testing::Test {
 protected:
  static fs::path dir;
  static std::string lib;  // the library folder
  static void SetUpTestSuite() {
    dir = fs::temp_directory_path() / ("starc_aot_" + std::to_string(::getpid()));
    fs::path made =
        shared_files(
            "aot_redshift", dir, [](const fs::path& d) {
              ShellResult r = sh(quote(fs::path(STARC_BINARY).parent_path().string() + "/examples/make_spectra") +
                                 " --n 3 --seed 5 -o " + quote((d / "s.npy").string()));
              ASSERT_EQ(r.code, 0) << r.out;
              r = run_starc(d.string(), "init " + quote(kModel) + " --seed 3 -o w.npz");
              ASSERT_EQ(r.code, 0) << r.out;
              r = run_starc(d.string(), "compile " + quote(kModel) + " --weights w.npz -o lib");
              ASSERT_EQ(r.code, 0) << r.out;
              r = run_starc(d.string(), "run " + quote(kModel) + " --in s.npy --weights w.npz --out z.npy");
              ASSERT_EQ(r.code, 0) << r.out;
              std::ofstream(d / "other.net")
                  << "use std.nn\nmodel Other(x: f32[B, 3]) -> f32[B, 2] {\n  return x |> dense(2)\n}\n";
            });
    lib = (made / "lib").string();
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string at(const std::string& name) { return (dir / name).string(); }
};
fs::path AotRedshift::dir;
std::string AotRedshift::lib;

TEST_F(AotRedshift, CProgramMatchesJit) {
  ShellResult cc =
      sh("cc -std=c11 -Wall -Werror " + quote(kSrc + "/examples/aot/redshift.c") + " -I " + quote(lib) + " -I " +
         quote(kSrc + "/examples/aot") + " " + quote(lib + "/libRedshiftCNN.a") + " -lm -o " + quote(at("redshift_c")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  ShellResult r = sh(quote(at("redshift_c")) + " " + quote(at("s.npy")));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_close(parse_lines(r.out), read_npy(at("z.npy")), 1e-5, "C program");
  // Linked with cc alone: no C++ runtime anywhere.
  ShellResult ldd = sh("ldd " + quote(at("redshift_c")));
  EXPECT_EQ(ldd.out.find("libstdc++"), std::string::npos) << ldd.out;
}

TEST_F(AotRedshift, CppCMakeConsumerMatchesJit) {
  std::string build = at("cpp_build");
  ShellResult r = sh("cmake -S " + quote(kSrc + "/examples/aot/cpp") + " -B " + quote(build) +
                     " -G Ninja -DRedshiftCNN_DIR=" + quote(lib) + " && cmake --build " + quote(build));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh(quote(build + "/redshift_cpp") + " " + quote(at("s.npy")));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_close(parse_lines(r.out), read_npy(at("z.npy")), 1e-5, "C++ consumer");
}

// The library folder moved elsewhere: pkg-config (M.pc, relative to its own folder) still
// gives the flags, and the program links libM.so and runs without LD_LIBRARY_PATH.
TEST_F(AotRedshift, PkgConfigWorksFromAMovedFolderWithoutLdLibraryPath) {
  std::string moved = at("moved_lib");
  ASSERT_EQ(sh("cp -r " + quote(lib) + " " + quote(moved)).code, 0);
  ShellResult flags = sh("PKG_CONFIG_PATH=" + quote(moved) + " pkg-config --cflags --libs RedshiftCNN");
  ASSERT_EQ(flags.code, 0) << flags.out;
  EXPECT_NE(flags.out.find(moved), std::string::npos) << flags.out;
  ShellResult cc = sh("cc -std=c11 " + quote(kSrc + "/examples/aot/redshift.c") + " -I " +
                      quote(kSrc + "/examples/aot") + " $(PKG_CONFIG_PATH=" + quote(moved) +
                      " pkg-config --cflags --libs RedshiftCNN) -lm -o " + quote(at("redshift_pc")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  ShellResult r = sh("env -u LD_LIBRARY_PATH " + quote(at("redshift_pc")) + " " + quote(at("s.npy")));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_close(parse_lines(r.out), read_npy(at("z.npy")), 1e-5, "pkg-config program");
  EXPECT_NE(sh("ldd " + quote(at("redshift_pc"))).out.find(moved + "/libRedshiftCNN.so"), std::string::npos);
}

TEST_F(AotRedshift, SharedLibraryNeedsOnlyLibcAndExportsOnlyTheApi) {
  std::string so = lib + "/libRedshiftCNN.so";
  ShellResult ldd = sh("ldd " + quote(so));
  ASSERT_EQ(ldd.code, 0) << ldd.out;
  std::istringstream lines(ldd.out);
  for (std::string line; std::getline(lines, line);) {
    bool allowed = false;
    for (const char* ok : {"linux-vdso", "libc.so", "libm.so", "ld-linux"})
      allowed |= line.find(ok) != std::string::npos;
    EXPECT_TRUE(allowed) << "unexpected dependency: " << line;
  }
  ShellResult nm = sh("nm -D --defined-only " + quote(so) + " | awk '{print $3}'");
  ASSERT_EQ(nm.code, 0) << nm.out;
  int exported = 0;
  std::istringstream syms(nm.out);
  for (std::string s; std::getline(syms, s);) {
    if (s.empty()) continue;
    ++exported;
    EXPECT_EQ(s.rfind("RedshiftCNN_", 0), 0u) << "exported symbol without the model prefix: " << s;
  }
  EXPECT_GE(exported, 20);  // create, forward, shape queries, ...
  ShellResult und = sh("nm -D --undefined-only " + quote(so));
  for (const char* cxx : {"_Znw", "__cxa_throw", "__gxx_personality", "_ZSt", "llvm", "mlir"})
    EXPECT_EQ(und.out.find(cxx), std::string::npos) << cxx << " in:\n" << und.out;
  // The static archive: every global definition carries the prefix too.
  ShellResult ar = sh("nm -g --defined-only " + quote(lib + "/libRedshiftCNN.a") + " | awk 'NF == 3 {print $3}'");
  ASSERT_EQ(ar.code, 0) << ar.out;
  std::istringstream asyms(ar.out);
  for (std::string s; std::getline(asyms, s);)
    if (!s.empty()) {
      EXPECT_EQ(s.rfind("RedshiftCNN_", 0), 0u) << "global symbol without the model prefix: " << s;
    }
}

// The library links the OpenBLAS kernels of one CPU (this machine's: --target host), not
// every CPU's, and FFTW in single precision only (issue 32 item 3): its code is within
// 4 MB of its weights (the 2 MB goal is not met: docs/aot.md, "Size").
TEST_F(AotRedshift, SharedLibraryLinksOneCpusKernels) {
  std::string so = lib + "/libRedshiftCNN.so";
  ShellResult nm = sh("nm " + quote(so) + " | grep -oE '_(" + kOpenBlasCores + ")$' | sort -u");
  ASSERT_EQ(nm.code, 0) << nm.out;
  EXPECT_EQ(std::count(nm.out.begin(), nm.out.end(), '\n'), 1) << "OpenBLAS kernels of:\n" << nm.out;
  EXPECT_EQ(sh("nm " + quote(so) + " | grep -c ' fftw_plan'").out, "0\n");  // no double-precision FFTs
  size_t weights = 0;
  for (auto& [name, t] : read_npz(at("w.npz"))) weights += t.nbytes();
  EXPECT_LT(fs::file_size(so), weights + (4u << 20)) << "weights: " << weights;
}

TEST_F(AotRedshift, MisuseGivesErrorCodesAndMessages) {
  ShellResult r = run_starc(dir.string(), "compile " + quote(kModel) + " --weights w.npz --weights-file -o side");
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_TRUE(fs::exists(at("side/RedshiftCNN.weights")));
  r = run_starc(dir.string(), "compile other.net --weights-file -o other");
  ASSERT_EQ(r.code, 0) << r.out;
  ShellResult cc = sh("cc -std=c11 -Wall -Werror " + quote(kSrc + "/tests/aot/bad_use.c") + " -I " + quote(lib) + " " +
                      quote(lib + "/libRedshiftCNN.a") + " -lm -o " + quote(at("bad_use")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  r = sh(quote(at("bad_use")) + " " + quote(at("side/RedshiftCNN.weights")) + " " + quote(at("other/Other.weights")) +
         " " + quote(dir.string()));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("0 failures"), std::string::npos) << r.out;
}

TEST_F(AotRedshift, OpenMpBuildMatchesAndNeedsOnlyLibomp) {
  ShellResult r = run_starc(dir.string(), "compile " + quote(kModel) + " --weights w.npz --threads 2 -o omp");
  ASSERT_EQ(r.code, 0) << r.out;
  ShellResult ldd = sh("ldd " + quote(at("omp/libRedshiftCNN.so")));
  EXPECT_NE(ldd.out.find("libomp"), std::string::npos) << ldd.out;
  ShellResult cc = sh("cc " + quote(kSrc + "/examples/aot/redshift.c") + " -I " + quote(at("omp")) + " -I " +
                      quote(kSrc + "/examples/aot") + " " + quote(at("omp/libRedshiftCNN.so")) + " -Wl,-rpath," +
                      quote(at("omp")) + " -o " + quote(at("redshift_omp")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  r = sh("OMP_NUM_THREADS=2 " + quote(at("redshift_omp")) + " " + quote(at("s.npy")));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_close(parse_lines(r.out), read_npy(at("z.npy")), 1e-5, "OpenMP shared library");
}

// --batch dynamic: forward takes the batch size; 3 spectra in one call match the JIT.
// A model that mixes the samples of a batch is refused at compile time.
TEST_F(AotRedshift, DynamicBatchMatchesJit) {
  ShellResult r = run_starc(dir.string(), "compile " + quote(kModel) + " --weights w.npz --batch dynamic -o dyn");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ofstream(dir / "dyn.c") << R"C(#include <stdio.h>
#include <stdlib.h>
#include "RedshiftCNN.h"
#include "npy_read.h"
int main(int argc, char** argv) {
  size_t count; int64_t shape[8]; int rank;
  float* flux = npy_read_f32(argv[1], &count, shape, &rank);
  size_t n = count / RedshiftCNN_INPUT_FLUX_COUNT;
  float* z = malloc(n * sizeof *z);
  RedshiftCNN* m;
  if (RedshiftCNN_BATCH != 0 || RedshiftCNN_create(NULL, &m) ||
      RedshiftCNN_forward(m, n, flux, count, z, n) ||
      RedshiftCNN_forward(m, n, flux, count - 1, z, n) != RedshiftCNN_ERR_SIZE) return 1;
  fprintf(stderr, "%s\n", RedshiftCNN_last_error());
  /* batch * count overflows size_t: 2^63 + 1 samples of 4618 values wrap to 4618 */
  if (RedshiftCNN_forward(m, ((size_t)1 << 63) + 1, flux, RedshiftCNN_INPUT_FLUX_COUNT, z, n) != RedshiftCNN_ERR_SIZE)
    return 1;
  fprintf(stderr, "%s\n", RedshiftCNN_last_error());
  for (size_t i = 0; i < n; ++i) printf("%.9g\n", z[i]);
  RedshiftCNN_destroy(m);
  return 0;
}
)C";
  ShellResult cc =
      sh("cc -std=c11 " + quote(at("dyn.c")) + " -I " + quote(at("dyn")) + " -I " + quote(kSrc + "/examples/aot") +
         " " + quote(at("dyn/libRedshiftCNN.a")) + " -lm -o " + quote(at("dyn_prog")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  r = sh(quote(at("dyn_prog")) + " " + quote(at("s.npy")) + " 2>" + quote(at("dyn_err.txt")));
  ASSERT_EQ(r.code, 0) << r.out;
  expect_close(parse_lines(r.out), read_npy(at("z.npy")), 1e-5, "dynamic batch");
  std::string err = sh("cat " + quote(at("dyn_err.txt"))).out;
  EXPECT_NE(err.find("has 13853 elements, expected 13854 (batch 3 of f32[1,1,4618] per sample)"), std::string::npos)
      << err;
  EXPECT_NE(err.find("batch 9223372036854775809 of f32[1,1,4618] per sample does not fit in memory"), std::string::npos)
      << err;
  std::ofstream(dir / "mix.net")
      << "model Mix(x: f32[B, 3]) -> f32[B, 3] {\n  return x - mean(x, axes: [0], keepdims: true)\n}\n";
  expect_starc_error(dir.string(), "compile mix.net --batch dynamic -o mix",
                     "does not treat the samples of a batch independently");
}

// --entry train_step: 3 Adam updates inside the library give the weights `starc train`
// (JIT) gives from the same start on the same one-spectrum batch. (One spectrum, so that
// starc train's shuffling cannot reorder the batch's sums: Adam's g/sqrt(v) amplifies
// such rounding differences in near-cancelling gradients; and one thread on both sides,
// as BLAS splits its sums by thread count. Same code, same order: the tolerance is 1e-5
// of each tensor's scale.)
TEST_F(AotRedshift, TrainStepMatchesStarcTrain) {
  ShellResult r = sh(quote(fs::path(STARC_BINARY).parent_path().string() + "/examples/make_spectra") +
                     " --n 1 --seed 9 -o " + quote(at("tf.npy")) + " --labels " + quote(at("tz.npy")));
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_starc(dir.string(),
                "compile " + quote(kModel) + " --weights w.npz --entry forward,train_step --batch 1 -o tr");
  ASSERT_EQ(r.code, 0) << r.out;
  ShellResult cc = sh("cc -std=c11 -Wall -Werror " + quote(kSrc + "/tests/aot/train_steps.c") + " -I " +
                      quote(at("tr")) + " -I " + quote(kSrc + "/examples/aot") + " " +
                      quote(at("tr/libRedshiftCNN.a")) + " -lm -o " + quote(at("train_steps")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  r = sh(quote(at("train_steps")) + " " + quote(at("tf.npy")) + " " + quote(at("tz.npy")) + " 3 " +
         quote(at("aot.weights")));
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("refused steps changed nothing"), std::string::npos) << r.out;
  ShellResult t =
      run_starc(dir.string(), "train " + quote(kModel) +
                                  " --weights w.npz --data flux=tf.npy --data z=tz.npy --epochs 3 --batch 4 "
                                  "--progress none --threads 1 --out trained.npz");
  ASSERT_EQ(t.code, 0) << t.out;
  std::map<std::string, Tensor> want = read_npz(at("trained.npz"));
  NamedTensors got = read_weights_file(at("aot.weights"));
  int compared = 0;
  for (auto& [name, g] : got) {
    auto it = want.find(name);
    if (it == want.end()) {
      EXPECT_EQ(name.rfind("opt.", 0), 0u) << "unexpected tensor " << name;  // Adam's state
      continue;
    }
    ++compared;
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < g.size(); ++i) {
      scale = std::max(scale, std::abs(it->second.get(i)));
      diff = std::max(diff, std::abs(g.get(i) - it->second.get(i)));
    }
    EXPECT_LE(diff, 1e-5 * scale) << name;
  }
  EXPECT_EQ(compared, int(want.size()));
}

// A forward whose temporaries cannot be had (a 4 GB matmul result under a 2 GB
// address-space limit) returns M_ERR_NOMEM naming the size and the graph node, instead
// of crashing in the generated code; the instance stays usable.
TEST_F(AotRedshift, OutOfMemoryIsAnErrorCode) {
  std::ofstream(dir / "huge.net") << "model Huge(x: f32[B, 1]) -> f32[B] {\n  let h = relu(x @ ones([1, 1000000]))\n"
                                     "  return sum(h * h, axes: [1])\n}\n";
  ShellResult r = run_starc(dir.string(), "compile huge.net --batch 1000 -o huge");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ofstream(dir / "huge.c") << R"C(#include <stdio.h>
#include "Huge.h"
int main(void) {
  static float x[1000], y[1000];
  for (int i = 0; i < 1000; ++i) x[i] = 1;
  Huge* m;
  if (Huge_create(NULL, &m)) return 2;
  int rc = Huge_forward(m, x, 1000, y, 1000);
  printf("code %d: %s\n", rc, Huge_last_error());
  rc = rc == Huge_ERR_NOMEM && Huge_forward(m, x, 1000, y, 1000) == Huge_ERR_NOMEM ? 0 : 1;
  Huge_destroy(m);
  return rc;
}
)C";
  ShellResult cc = sh("cc -std=c11 -Wall -Werror " + quote(at("huge.c")) + " -I " + quote(at("huge")) + " " +
                      quote(at("huge/libHuge.a")) + " -lm -o " + quote(at("huge_prog")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  r = sh("ulimit -v 2000000 && " + quote(at("huge_prog")));
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(
      r.out.find("code 6: Huge_forward: out of memory: cannot allocate 4000000064 bytes for node %2 of the graph"),
      std::string::npos)
      << r.out;
}

TEST_F(AotRedshift, BadCompileOptionsAreClearErrors) {
  expect_starc_error(dir.string(), "compile " + quote(kModel) + " --batch 0 -o x",
                     "--batch 0: expected a positive integer");
  expect_starc_error(dir.string(), "compile " + quote(kModel) + " --target pentium9 -o x",
                     "unknown --target CPU 'pentium9'");
  expect_starc_error(dir.string(), "compile other.net --weights w.npz -o x", "w.npz");
  expect_starc_error(dir.string(), "compile other.net --entry train_step -o x", "train");
  expect_starc_error(dir.string(), "compile " + quote(kModel) + " --entry backward -o x", "--entry backward");
  expect_starc_error(dir.string(), "compile " + quote(kModel) + " --entry train_step --batch dynamic -o x",
                     "needs a fixed --batch");
}

// Library size (issue 32 item 3): the photo-z MLP's matrix products are small, so its
// library has starc's small GEMM instead of OpenBLAS, no FFTW, and only the kernel
// library functions it calls: under 1 MB (it was 30.6 MB with every CPU's BLAS and FFT
// kernels). Its results match the JIT's (ApiLibrary.CProgramLinksTheLibraryAndMatchesRun).
TEST(AotSize, PhotozMlpLibraryIsUnderOneMegabyte) {
  fs::path dir = fs::temp_directory_path() / ("starc_aot_size_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ShellResult r = run_starc(dir.string(), "compile " + quote(kSrc + "/stdlib/astro/photoz.net") + " -o lib");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"lib/libPhotozMLP.so", "lib/libPhotozMLP.a"})
    EXPECT_LT(fs::file_size(dir / f), 1u << 20) << f << ": " << fs::file_size(dir / f) << " bytes";
  ShellResult nm = sh("nm " + quote((dir / "lib/libPhotozMLP.so").string()) + " | grep -ciE 'gotoblas|cblas|fftw'");
  EXPECT_EQ(nm.out, "0\n") << "BLAS or FFT symbols in the library";
  fs::remove_all(dir);
}

// starc's small GEMM (compiler/backend/kernels/starc_gemm.c) against a plain loop on
// shapes that take each of its paths, compiled as the builder compiles it (with the
// target's -march) and for the baseline CPU (tests/aot/gemm_check.c).
TEST(AotSize, SmallGemmMatchesAPlainLoop) {
  std::string kernels = kSrc + "/compiler/backend/kernels", exe = fs::temp_directory_path() / "starc_gemm_check";
  for (const char* march : {"-march=native", ""}) {
    ShellResult cc =
        sh(std::string("cc -std=c11 -O3 -ffp-contract=fast ") + march + " -DSTARC_KERNEL_PREFIX=check_ -I " +
           quote(kernels) + " " + quote(kSrc + "/tests/aot/gemm_check.c") + " " + quote(kernels + "/starc_gemm.c") +
           " -lm -o " + quote(exe));
    ASSERT_EQ(cc.code, 0) << cc.out;
    ShellResult r = sh(quote(exe));
    EXPECT_EQ(r.code, 0) << march << "\n" << r.out;
    EXPECT_NE(r.out.find(" 0 failures"), std::string::npos) << r.out;
  }
  fs::remove(exe);
}

// .npz weights (issue 32 item 5): the photo-z MLP compiled with a fixed batch of 4, once
// for inference and once with its train step, built against tests/aot/npz_weights.c.
class AotNpz : public ::testing::Test {
 protected:
  static fs::path dir;
  static void SetUpTestSuite() {  // made once per ctest run (shared_fixture.h)
    dir = fs::temp_directory_path() / ("starc_aot_npz_" + std::to_string(::getpid()));
    shared_files("aot_npz", dir, [](const fs::path& d) {
      const std::string photoz = quote(kSrc + "/stdlib/astro/photoz.net");
      for (const std::string& args : std::vector<std::string>{
               "simulate photoz --n 64 --seed 1 -o train", "simulate photoz --n 4 --seed 2 -o x",
               "train " + photoz +
                   " --data mags=train/mags.npy --data z=train/z.npy --epochs 2 --batch 8 --progress none "
                   "--checkpoint ck --out trained.npz",
               "init " + photoz + " --seed 7 -o init.npz", "compile " + photoz + " --batch 4 -o lib",
               "compile " + photoz + " --batch 4 --entry forward,train_step -o trlib"}) {
        ShellResult r = run_starc(d.string(), args);
        ASSERT_EQ(r.code, 0) << args << "\n" << r.out;
      }
      for (const char* lib : {"lib", "trlib"}) {
        const std::string at_lib = (d / lib).string();
        ShellResult cc = sh("cc -std=c11 -Wall -Werror " + quote(kSrc + "/tests/aot/npz_weights.c") + " -I " +
                            quote(at_lib) + " -I " + quote(kSrc + "/examples/aot") + " " +
                            quote(at_lib + "/libPhotozMLP.a") + " -lm -o " + quote(at_lib + "/prog"));
        ASSERT_EQ(cc.code, 0) << cc.out;
      }
    });
  }
  static void TearDownTestSuite() { fs::remove_all(dir); }
  static std::string at(const std::string& name) { return (dir / name).string(); }
  // The archives of tests/aot/make_npz.py in DIR/f (numpy needed).
  static bool make_archives(std::string* why) {
    ShellResult np = python_imports("numpy");
    if (np.code != 0) return *why = np.out, false;
    fs::create_directories(dir / "f");
    ShellResult r = sh(std::string(kPython) + " " + quote(kSrc + "/tests/aot/make_npz.py") + " " +
                       quote(at("trained.npz")) + " " + quote(at("f")));
    return *why = r.out, r.code == 0;
  }
  // "FILE: rest" lines of the test program, by FILE.
  static std::map<std::string, std::string> by_file(const std::string& out) {
    std::map<std::string, std::string> m;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);)
      if (size_t colon = line.find(": "); colon != std::string::npos) m[line.substr(0, colon)] = line.substr(colon + 2);
    return m;
  }
};
fs::path AotNpz::dir;

// Archives of starc (train --out, init -o, a checkpoint) and of numpy (savez stored,
// savez_compressed deflated) load into the library, through M_load_weights and
// M_create, and give what `starc run --weights` gives with the same file.
TEST_F(AotNpz, StarcAndNumpyArchivesGiveWhatStarcRunGives) {
  std::vector<std::string> files = {"trained.npz", "init.npz", "ck/checkpoint.npz"};
  std::string why;
  if (make_archives(&why))
    files.insert(files.end(), {"f/stored.npz", "f/compressed.npz"});
  else
    ADD_FAILURE() << "no numpy archives: " << why;
  std::string args;
  for (auto& f : files) args += " " + quote(f);
  ShellResult r = sh("cd " + quote(dir.string()) + " && lib/prog run x/mags.npy" + args);
  ASSERT_EQ(r.code, 0) << r.out;
  std::map<std::string, std::string> got = by_file(r.out);
  for (auto& f : files) {
    ShellResult run = run_starc(dir.string(), "run " + quote(kSrc + "/stdlib/astro/photoz.net") +
                                                  " --in x/mags.npy --weights " + quote(f) + " --out want.npy");
    ASSERT_EQ(run.code, 0) << run.out;
    ASSERT_TRUE(got.count(f)) << r.out;
    std::string values = got[f];
    std::replace(values.begin(), values.end(), ' ', '\n');
    expect_close(parse_lines(values), read_npy(at("want.npy")), 1e-5, f);
  }
}

// Each bad archive is refused with M_ERR_WEIGHTS and a message saying what is wrong,
// and leaves the weights as they were (the program checks the outputs after each).
TEST_F(AotNpz, BadArchivesAreClearErrorsAndChangeNothing) {
  std::string why;
  if (!make_archives(&why)) GTEST_SKIP() << why;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"f/corrupt.npz", "array 'dense1.weight' is damaged"},
      {"f/truncated.npz", "not a zip archive, or a truncated one"},
      {"f/shape.npz", "array 'dense0.weight' has dtype '<f4' and shape (5, 64); model PhotozMLP needs f32[64,5]"},
      {"f/dtype.npz", "has dtype '<f8' and shape (64,); model PhotozMLP needs f32[64] ('<f4')"},
      {"f/extra.npz", "unexpected array 'extra.thing': model PhotozMLP has no such weight"},
      {"f/missing.npz", "missing weight 'dense2.bias' (f32[1]) of model PhotozMLP"},
      {"f/fortran.npz", "array 'dense1.weight' is in Fortran order"},
      {"f/empty.npz",
       "missing weights 'dense0.bias' (f32[64]), 'dense0.weight' (f32[64,5]), 'dense1.bias' (f32[64]) "
       "and 3 more"},
      {"f/bomb.npz",
       "array 'dense0.weight' declares 67108992 bytes uncompressed, but its header and f32[64,5] make "
       "1408: refused unread"},
      {"f/overlong.npz", "array 'dense0.weight' does not end where its zip entry declares (more data follows)"},
      {"f/notzip.npz", "not a zip archive"},
      {"x/mags.npy", "neither an .npz archive nor a starc weights file"}};
  std::string args;
  for (auto& [f, _] : cases) args += " " + quote(f);
  ShellResult r = sh("cd " + quote(dir.string()) + " && lib/prog bad x/mags.npy" + args);
  ASSERT_EQ(r.code, 0) << r.out;
  std::map<std::string, std::string> got = by_file(r.out);
  for (auto& [f, needle] : cases) {
    EXPECT_EQ(got[f].rfind("code 4: " + f + ": ", 0), 0u) << f << ": " << got[f];
    EXPECT_NE(got[f].find(needle), std::string::npos) << f << ": " << got[f];
  }
}

// A library with a train step has the optimizer's slots: a checkpoint's opt.* arrays
// fill them (its starc.* counters are skipped); a plain weights file leaves them as they
// were.
TEST_F(AotNpz, CheckpointFillsTheOptimizerStateOfATrainLibrary) {
  ShellResult r = sh("cd " + quote(dir.string()) + " && trlib/prog save ck/checkpoint.npz b1.w a1.w" +
                     " && trlib/prog save trained.npz b2.w a2.w");
  ASSERT_EQ(r.code, 0) << r.out;
  std::map<std::string, Tensor> ckpt = read_npz(at("ck/checkpoint.npz")), trained = read_npz(at("trained.npz"));
  NamedTensors before = read_weights_file(at("b2.w")), a1 = read_weights_file(at("a1.w")),
               a2 = read_weights_file(at("a2.w"));
  ASSERT_EQ(a1.size(), 18u);  // 6 weights, Adam's exp_avg and exp_avg_sq of each
  auto same = [](const Tensor& x, const Tensor& y) {
    if (x.size() != y.size()) return false;
    for (int64_t i = 0; i < x.size(); ++i)
      if (x.get(i) != y.get(i)) return false;
    return true;
  };
  for (size_t i = 0; i < a1.size(); ++i) {
    const std::string& name = a1[i].first;
    ASSERT_TRUE(ckpt.count(name)) << name;
    EXPECT_TRUE(same(a1[i].second, ckpt.at(name))) << name << " from the checkpoint";
    const Tensor& want = name.rfind("opt.", 0) == 0 ? before[i].second : trained.at(name);
    EXPECT_TRUE(same(a2[i].second, want)) << name << (name.rfind("opt.", 0) == 0 ? " kept" : " from trained.npz");
  }
}

// A model over spectra of any length (symbolic L, issue 31) compiles for one length with
// --dim L=N and then computes what `starc run` computes at that length; without --dim,
// or naming a dim the model lacks, or with a length too short for its convolution, the
// compile is a clear error.
TEST(AotDims, ASymbolicLengthIsFixedByDim) {
  ScratchDir scratch("starc_aot_dims");
  const fs::path& dir = scratch.path;
  std::ofstream(dir / "len.net") << "model Len(x: f32[B, 2, L]) -> f32[B, 3] {\n"
                                    "  param w: [3, 2, 5] = he_uniform(10)\n"
                                    "  return mean(relu(conv1d(x, w, stride: 2)), axes: [2])\n}\n";
  expect_starc_error(dir.string(), "compile len.net -o lib", "the symbolic dim L of Len needs a value in --dim");
  expect_starc_error(dir.string(), "compile len.net --dim T=9 -o lib", "--dim names T, which is not a symbolic dim");
  expect_starc_error(dir.string(), "compile len.net --dim L=x -o lib", "--dim L=x: expected NAME=N");
  expect_starc_error(dir.string(), "compile len.net --dim L=3 -o lib", "with B = 1, L = 3");
  ShellResult r = run_starc(dir.string(), "init len.net --seed 2 -o w.npz");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_starc(dir.string(), "compile len.net --weights w.npz --batch 2 --dim L=21 -o lib");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor x(DType::F32, {2, 2, 21});
  for (int64_t i = 0; i < x.size(); ++i) x.set(i, std::sin(0.37 * double(i)));
  write_npy((dir / "x.npy").string(), x);
  r = run_starc(dir.string(), "run len.net --in x.npy --weights w.npz --out y.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ofstream(dir / "len.c") << R"C(#include <math.h>
#include <stdio.h>
#include "Len.h"
int main(void) {
  float x[84], y[6];
  for (int i = 0; i < 84; ++i) x[i] = (float)sin(0.37 * i);
  Len* m;
  if (Len_create(NULL, &m) || Len_forward(m, x, 84, y, 6)) return 1;
  for (int i = 0; i < 6; ++i) printf("%.9g\n", y[i]);
  Len_destroy(m);
  return 0;
}
)C";
  std::string exe = (dir / "len_prog").string();
  ShellResult cc = sh("cc -std=c11 " + quote((dir / "len.c").string()) + " -I " + quote((dir / "lib").string()) + " " +
                      quote((dir / "lib" / "libLen.a").string()) + " -lm -o " + quote(exe));
  ASSERT_EQ(cc.code, 0) << cc.out;
  ShellResult out = sh(quote(exe));
  ASSERT_EQ(out.code, 0) << out.out;
  expect_close(parse_lines(out.out), read_npy((dir / "y.npy").string()), 1e-5, "AOT vs starc run at L = 21");
}

// An index input out of range (a token id, a class label not ignored) makes M_forward
// and M_train_step return M_ERR_RANGE naming the input, the element and the value before
// the kernel runs, as the executors refuse it; the instance stays usable (issue 31).
TEST(AotIndex, TokenAndLabelOutOfRangeAreErrorCodes) {
  fs::path dir = fs::temp_directory_path() / ("starc_aot_index_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "tok.net") << "use std.nn\nuse std.losses\n"
                                    "model Tok(tokens: i64[B, 3]) -> f32[B, 2] {\n"
                                    "  return mean(embedding(tokens, 5, 4), axes: [1]) |> dense(2)\n}\n"
                                    "train Tok(label: i64[B]) {\n  loss = cross_entropy(output, label)\n"
                                    "  optimizer = sgd(lr: 0.1)\n}\n";
  for (const char* entry : {"forward", "train_step"}) {
    ShellResult r = run_starc(dir.string(), std::string("compile tok.net --batch 2 --entry ") + entry + " -o " + entry);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  std::ofstream(dir / "tok.c") << R"C(#include <stdio.h>
#include "Tok.h"
int main(void) {
  int64_t tok[6] = {0, 4, 2, 1, 5, 3};
  Tok* m;
  if (Tok_create(NULL, &m)) return 2;
#ifdef TRAIN
  int64_t label[2] = {1, -100};
  double loss;
  int rc = Tok_train_step(m, 0.1, 1, tok, 6, label, 2, &loss, NULL);
  printf("code %d: %s\n", rc, Tok_last_error());
  tok[4] = 4;
  int ok = Tok_train_step(m, 0.1, 1, tok, 6, label, 2, &loss, NULL) == Tok_OK;
  label[1] = 2;
  rc = Tok_train_step(m, 0.1, 2, tok, 6, label, 2, &loss, NULL);
  printf("code %d: %s\n", rc, Tok_last_error());
#else
  float y[4];
  int rc = Tok_forward(m, tok, 6, y, 4);
  printf("code %d: %s\n", rc, Tok_last_error());
  tok[4] = -1;
  rc = Tok_forward(m, tok, 6, y, 4);
  printf("code %d: %s\n", rc, Tok_last_error());
  tok[4] = 4;
  int ok = Tok_forward(m, tok, 6, y, 4) == Tok_OK;
#endif
  Tok_destroy(m);
  return ok ? 0 : 1;
}
)C";
  for (const char* entry : {"forward", "train_step"}) {
    std::string e = entry, exe = (dir / (e + "_prog")).string();
    ShellResult cc = sh("cc -std=c11 -Wall -Werror " + std::string(e == "forward" ? "" : "-DTRAIN ") +
                        quote((dir / "tok.c").string()) + " -I " + quote((dir / e).string()) + " " +
                        quote((dir / e / "libTok.a").string()) + " -lm -o " + quote(exe));
    ASSERT_EQ(cc.code, 0) << cc.out;
    ShellResult r = sh(quote(exe));
    EXPECT_EQ(r.code, 0) << r.out;
    const std::string fn = e == "forward" ? "Tok_forward" : "Tok_train_step";
    EXPECT_NE(r.out.find("code 7: " + fn + ": input 'tokens': element 4 is 5, outside [0, 5)"), std::string::npos)
        << r.out;
    if (e == "forward")
      EXPECT_NE(r.out.find("code 7: Tok_forward: input 'tokens': element 4 is -1, outside [0, 5)"), std::string::npos)
          << r.out;
    else
      EXPECT_NE(r.out.find("code 7: Tok_train_step: input 'label': element 1 is 2, outside [0, 2) or -100"),
                std::string::npos)
          << r.out;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace starc::test
