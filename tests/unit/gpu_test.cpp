// The NVIDIA GPU target without a GPU: every stdlib model's forward pass and train step
// lowers to PTX that NVIDIA's assembler accepts for sm_90 (skipped where ptxas is
// absent), the dense kernels tile through shared memory, and `--device cuda` on a
// machine without a driver fails with a clear message. (jit_ops_test.cpp does the same
// PTX check for every op of its table.)
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "compiler/lower/emit.h"
#include "compiler/backend/cpu/jit.h"
#include "compiler/opt/passes.h"
#include "dsl/program.h"
#include "gpu_test_util.h"
#include "jit_test_util.h"
#include "runtime/init.h"
#include "runtime/jit_executor.h"
#include "runtime/io/npy.h"
#include "shell_util.h"
#include "temp_dir_test.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

// g at batch 2, optimised as the CUDA executor does, as a Device::Cuda module.
std::string cuda_module(const Graph& g) {
  Graph concrete = specialize(g, std::vector<Dim>(g.symbols.size(), 2));
  return emit_mlir(optimize(concrete, passes_for(Device::Cuda, {})), "forward", nullptr, Device::Cuda);
}

// One instance per stdlib file (test::stdlib_test_name), so ctest spreads them over cores.
class GpuStdlibFile : public test::StdlibFileTest {};
INSTANTIATE_TEST_SUITE_P(Stdlib, GpuStdlibFile, ::testing::ValuesIn(stdlib_files()), test::stdlib_test_name);

TEST_P(GpuStdlibFile, EveryModelAndTrainStepAssemblesForSm90) {
  if (ptxas_binary().empty()) GTEST_SKIP() << "ptxas not found (CUDA toolkit at $CUDA_HOME or /usr/local/cuda)";
  PtxasChecker ptxas;  // the file's modules in as few ptxas runs as can be
  with_program([&](const std::string& file, Program& prog, DiagEngine& diags) {
    std::string name = fs::path(file).filename().string();
    for (const std::string& model : prog.model_names()) {
      std::optional<Graph> g = prog.build(model);
      ASSERT_TRUE(g) << diags.format_all();
      ptxas.add(cuda_module(*g), name + " " + model + " forward");
    }
    std::set<std::string> assembled;  // WGAN-GP's five critic steps are one graph: assemble it once
    for (const std::string& model : prog.trained_models()) {
      std::optional<TrainPlan> plan = prog.build_train(model);
      ASSERT_TRUE(plan) << diags.format_all();
      for (const TrainStepGraph& step : plan->steps) {
        std::string module = cuda_module(step.graph);
        if (assembled.insert(module).second) ptxas.add(module, name + " " + model + " train step " + step.name);
      }
    }
  });
}

// The batched check itself: modules whose kernels and variables share names assemble
// together, and one that ptxas rejects fails the check naming that module and its case,
// the others passing.
TEST(PtxasChecker, ABatchWithOneBadModuleNamesItAndPassesTheRest) {
  if (ptxas_binary().empty()) GTEST_SKIP() << "ptxas not found (CUDA toolkit at $CUDA_HOME or /usr/local/cuda)";
  auto module = [](const std::string& body) {
    return ".version 8.0\n.target sm_90\n.address_size 64\n"
           ".global .align 4 .b8 table[8];\n"
           ".func (.param .b32 r) helper(.param .b32 x)\n{\n.reg .b32 %r<2>;\n"
           "ld.param.b32 %r1, [x];\nst.param.b32 [r], %r1;\nret;\n}\n"
           ".visible .entry forward_kernel(.param .u64 p)\n{\n.reg .b64 %rd<3>;\n" +
           body + "ret;\n}\n";
  };
  const std::string good = "mov.u64 %rd1, table;\nld.param.u64 %rd2, [p];\n";
  {
    PtxasChecker ok;
    ok.add_ptx({"a", module(good)}, "case a");
    ok.add_ptx({"b", module(good + "add.u64 %rd2, %rd2, 1;\n")}, "case b");
    ok.add_ptx({"a again", module(good)}, "case a, again");
    ok.flush();
    EXPECT_EQ(ok.ptxas_runs(), 1);  // the two distinct modules together: renamed apart, they link
  }
  EXPECT_NONFATAL_FAILURE(
      {
        PtxasChecker bad;
        bad.add_ptx({"a", module(good)}, "case a");
        bad.add_ptx({"broken", module(good + "add.u64 %rd9, %rd2, 1;\n")}, "case broken");
        bad.add_ptx({"b", module(good + "add.u64 %rd2, %rd2, 1;\n")}, "case b");
      },
      "case broken: ptxas rejects kernel module broken");
}

// matmul and convolution are tiled GEMMs staged through shared memory, not one thread
// per output reading global memory: their kernels declare .shared arrays.
TEST(GpuKernels, DenseKernelsTileThroughSharedMemory) {
  Graph g = compile(R"(
model M(x: f32[B, 2, 64]) -> f32[B, 8] {
    param w: f32[4, 2, 5] = normal
    param v: f32[8, 120] = normal
    return matmul(reshape(prim.conv1d(x, w, stride: 1, padding: 0), [B, 240])[:, 0:120], transpose(v))
}
)",
                    "M");
  std::string text = cuda_module(g);
  EXPECT_NE(text.find("gpu.container_module"), std::string::npos);
  std::vector<PtxModule> mods = lower_to_ptx(text);
  bool saw_shared = false;
  for (const PtxModule& m : mods)
    if (m.name == "starc_gpu_kernels") saw_shared = m.ptx.find(".shared") != std::string::npos;
  EXPECT_TRUE(saw_shared) << "the dense kernel module declares no shared memory";
  if (!ptxas_binary().empty()) expect_ptxas_accepts(text, "conv + matmul");
}

// Float sums, means, maxima and minima are tree reductions: their kernels combine partial
// results in shared memory between barriers.
TEST(GpuKernels, ReductionsCombineThroughSharedMemory) {
  Graph g = compile(R"(
model R(x: f32[B, 3, 4618]) -> f32[B, 3] {
    return max(x, axes: [2]) + mean(x, axes: [2]) + sum(x, axes: [0, 2])
}
)",
                    "R");
  std::string text = cuda_module(g);
  for (const char* fn : {"starc_reduce_max_f32", "starc_reduce_sum_f32"})
    EXPECT_NE(text.find(std::string("call @") + fn), std::string::npos) << fn;
  for (const PtxModule& m : lower_to_ptx(text)) {
    if (m.name != "starc_gpu_kernels") continue;
    for (const char* entry : {".entry starc_gpu_reduce_max_f32(", ".entry starc_gpu_reduce_sum_f32("}) {
      size_t at = m.ptx.find(entry);
      ASSERT_NE(at, std::string::npos) << entry;
      std::string body = m.ptx.substr(at, m.ptx.find(".entry", at + 1) - at);
      EXPECT_NE(body.find("bar.sync"), std::string::npos) << entry << " has no barrier";
      EXPECT_NE(body.find("ld.shared"), std::string::npos) << entry << " reads no shared memory";
    }
  }
}

// Where no GPU is usable, the CUDA executor refuses at construction, saying why.
TEST(GpuDriver, NoDriverIsAClearError) {
  if (!cuda_device_description().empty()) GTEST_SKIP() << "this machine has a GPU: " << cuda_device_description();
  try {
    JitExecutor jit(JitOptions{.device = Device::Cuda});
    ADD_FAILURE() << "expected an error without a GPU";
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("device cuda: no CUDA", 0), 0u) << msg;  // the parameter, not the CLI flag
  }
}

class GpuCli : public TempDirTest {
 protected:
  GpuCli() : TempDirTest("starc_gpu_") {}
};

// The CLI, with the driver it loads pointed at a library that does not exist.
TEST_F(GpuCli, RunWithoutDriverFailsCleanly) {
  write_npy(path("mags.npy"), Tensor(DType::F32, {2, 5}));
  std::string net = STARC_SOURCE_DIR "/stdlib/astro/photoz.net";
  ShellResult r = sh("cd " + quote(dir.string()) + " && STARC_CUDA_DRIVER=/nonexistent/libcuda.so.1 timeout 120 " +
                     quote(STARC_BINARY) + " run " + quote(net) + " --device cuda --in mags.npy");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("no CUDA driver: cannot load /nonexistent/libcuda.so.1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
}

// ---- 16-bit weight storage (--gpu-weights): the same emitted code runs on the CPU here ----

TEST(WeightStorage, RoundsToNearestEven) {
  EXPECT_EQ(narrow_float(1.0f / 3, WeightStorage::F16), 0x3555);
  EXPECT_EQ(narrow_float(1.0f, WeightStorage::BF16), 0x3f80);
  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  EXPECT_EQ(narrow_float(from_bits(0x3f808000u), WeightStorage::BF16), 0x3f80);  // a tie goes to even
  EXPECT_EQ(narrow_float(from_bits(0x3f818000u), WeightStorage::BF16), 0x3f82);
  EXPECT_EQ(narrow_float(from_bits(0x3f808001u), WeightStorage::BF16), 0x3f81);
  EXPECT_EQ(narrow_float(65520.0f, WeightStorage::F16), 0x7c00);  // overflow: infinity
  EXPECT_TRUE(std::isnan(widen_float(narrow_float(std::nanf(""), WeightStorage::BF16), WeightStorage::BF16)));
  EXPECT_TRUE(std::isnan(widen_float(narrow_float(std::nanf(""), WeightStorage::F16), WeightStorage::F16)));
  for (float v : {0.1f, -3.75f, 1e-3f, 12345.678f})
    for (WeightStorage w : {WeightStorage::F16, WeightStorage::BF16}) {
      float back = widen_float(narrow_float(v, w), w);
      EXPECT_LE(std::abs(back - v), std::abs(v) * (w == WeightStorage::F16 ? 0x1p-11 : 0x1p-8)) << v;
    }
}

// With 16-bit weights a model computes exactly what f32 weights rounded to 16 bits give
// (the widening is exact and everything after it is f32), which differs from the
// unrounded model by about the format's precision.
TEST(WeightStorage, ModelsComputeInF32OnTheRoundedWeights) {
  for (const char* file : {"photoz.net", "redshift.net"}) {
    SourceManager sm;
    DiagEngine diags(sm);
    Program prog(diags);
    ASSERT_TRUE(prog.load_file(std::string(STARC_SOURCE_DIR "/stdlib/astro/") + file)) << diags.format_all();
    std::optional<Graph> g = prog.build(prog.model_names().at(0));
    ASSERT_TRUE(g) << diags.format_all();
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<Tensor> in;
    for (int id : g->inputs) {
      Shape s = g->type(id).shape;
      for (Dim& d : s)
        if (is_sym(d)) d = 2;
      Tensor x(DType::F32, s);
      for (int64_t k = 0; k < x.size(); ++k) x.set(k, u(rng));
      in.push_back(x);
    }
    TensorMap params = init_params(*g, 5);
    JitExecutor full;
    std::vector<Tensor> exact = full.run(*g, in, params, 0);
    for (WeightStorage w : {WeightStorage::F16, WeightStorage::BF16}) {
      TensorMap rounded;
      for (auto& [name, t] : params) rounded[name] = round_like_stored(t, w);
      std::vector<Tensor> want = full.run(*g, in, rounded, 0);
      JitExecutor narrow(JitOptions{.weights = w});
      std::vector<Tensor> got = narrow.run(*g, in, params, 0);
      double same = 0, apart = 0, scale = 1e-30;
      for (int64_t k = 0; k < got[0].size(); ++k) {
        same = std::max(same, std::abs(got[0].get(k) - want[0].get(k)));
        apart = std::max(apart, std::abs(got[0].get(k) - exact[0].get(k)));
        scale = std::max(scale, std::abs(exact[0].get(k)));
      }
      std::string what = std::string(file) + " " + weight_storage_name(w);
      EXPECT_LE(same, 1e-6 * scale) << what;
      EXPECT_GT(apart, 0) << what << ": the weights were not narrowed";
      EXPECT_LT(apart, (w == WeightStorage::F16 ? 5e-3 : 3e-2) * scale) << what;
    }
  }
}

TEST(WeightStorage, NarrowWeightsAssembleForSm90) {
  if (ptxas_binary().empty()) GTEST_SKIP() << "ptxas not found (CUDA toolkit at $CUDA_HOME or /usr/local/cuda)";
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  ASSERT_TRUE(prog.load_file(STARC_SOURCE_DIR "/stdlib/astro/redshift.net")) << diags.format_all();
  std::optional<Graph> g = prog.build(prog.model_names().at(0));
  ASSERT_TRUE(g);
  Graph concrete = optimize(specialize(*g, std::vector<Dim>(g->symbols.size(), 2)), passes_for(Device::Cuda, {}));
  PtxasChecker ptxas;
  for (WeightStorage w : {WeightStorage::F16, WeightStorage::BF16}) {
    std::string text = emit_mlir(concrete, "forward", nullptr, Device::Cuda, w);
    EXPECT_NE(text.find(std::string("x") + weight_storage_name(w) + ">"), std::string::npos);
    ptxas.add(text, std::string("redshift, ") + weight_storage_name(w) + " weights");
  }
}

// ---- the host side against a stand-in driver (tests/gpu/fake_libcuda.c) ----------------

// `starc ARGS` in the test folder with the fake driver, its calls logged to cuda.log.
ShellResult starc_on_fake_gpu(const std::string& dir, const std::string& args, const std::string& fail = "") {
  return sh("cd " + quote(dir) + " && STARC_CUDA_DRIVER=" + quote(STARC_FAKE_CUDA) + " FAKE_CUDA_LOG=cuda.log" +
            (fail.empty() ? "" : " FAKE_CUDA_FAIL=" + fail) + " timeout 300 " + quote(STARC_BINARY) + " " + args);
}

struct DriverLog {
  int loads = 0;
  std::set<std::string> functions;
  std::vector<std::vector<long>> launches;  // gx gy gz bx by bz params
  std::vector<std::string> launched;
};

DriverLog read_driver_log(const std::string& path) {
  DriverLog log;
  std::ifstream in(path);
  std::string kind;
  while (in >> kind) {
    if (kind == "load") {
      std::string format;
      long bytes;
      in >> format >> bytes;
      ++log.loads;
    } else if (kind == "function") {
      std::string name;
      in >> name;
      log.functions.insert(name);
    } else if (kind == "launch") {
      std::string name;
      std::vector<long> v(7);
      in >> name;
      for (long& x : v) in >> x;
      log.launched.push_back(name);
      log.launches.push_back(v);
    }
  }
  return log;
}

TEST_F(GpuCli, ForwardPassLoadsItsModulesAndLaunchesTheirKernels) {
  write_npy(path("mags.npy"), Tensor(DType::F32, {3, 5}));
  ShellResult r = starc_on_fake_gpu(dir.string(), "run " + quote(STARC_SOURCE_DIR "/stdlib/astro/photoz.net") +
                                                      " --device cuda --in mags.npy --out y.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  DriverLog log = read_driver_log(path("cuda.log"));
  EXPECT_GE(log.loads, 2) << "the dense kernels' module and at least one outlined kernel";
  // 3 dense layers (one GEMM launch each) plus their bias and relu loops.
  EXPECT_GE(log.launches.size(), 5u);
  for (size_t i = 0; i < log.launches.size(); ++i) {
    EXPECT_TRUE(log.functions.count(log.launched[i])) << log.launched[i] << " was launched but never looked up";
    const auto& v = log.launches[i];
    EXPECT_GT(v[6], 0) << log.launched[i] << " has no parameters (PTX modules: the driver reads their signatures)";
    EXPECT_LE(v[3] * v[4] * v[5], 1024) << log.launched[i];
  }
  EXPECT_GE(std::count_if(log.launched.begin(), log.launched.end(),
                          [](const std::string& n) { return n.find("matmul") != std::string::npos; }),
            3);
  EXPECT_TRUE(fs::exists(path("y.npy")));
}

TEST_F(GpuCli, SixteenBitWeightsRunAndNeedTheGpu) {
  write_npy(path("mags.npy"), Tensor(DType::F32, {3, 5}));
  std::string run = "run " + quote(STARC_SOURCE_DIR "/stdlib/astro/photoz.net") + " --in mags.npy";
  ShellResult r = starc_on_fake_gpu(dir.string(), run + " --device cuda --gpu-weights bf16");
  EXPECT_EQ(r.code, 0) << r.out;
  r = starc_on_fake_gpu(dir.string(), run + " --gpu-weights f16");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--gpu-weights f16 needs --device cuda"), std::string::npos) << r.out;
}

TEST_F(GpuCli, TrainingKeepsWeightsInManagedMemoryAndFinishes) {
  write_npy(path("mags.npy"), Tensor(DType::F32, {4, 5}));
  write_npy(path("z.npy"), Tensor(DType::F32, {4, 1}));
  ShellResult r = starc_on_fake_gpu(dir.string(), "train " + quote(STARC_SOURCE_DIR "/stdlib/astro/photoz.net") +
                                                      " --device cuda --data mags=mags.npy --data z=z.npy --batch 2 "
                                                      "--epochs 2 --progress none -o w.npz");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(fs::exists(path("w.npz")));
  EXPECT_GE(read_driver_log(path("cuda.log")).launches.size(), 20u);
}

// `starc run` of the photo-z MLP on 2 samples through the stand-in driver, failing `fail`.
ShellResult photoz_on_fake_gpu(const std::string& dir, const std::string& fail) {
  write_npy(dir + "/mags.npy", Tensor(DType::F32, {2, 5}));
  return starc_on_fake_gpu(
      dir, "run " + quote(STARC_SOURCE_DIR "/stdlib/astro/photoz.net") + " --device cuda --in mags.npy", fail);
}

TEST_F(GpuCli, AFailingKernelIsReportedWithTheDriversMessage) {
  ShellResult r = photoz_on_fake_gpu(dir.string(), "launch");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("CUDA: the step failed on the GPU: cuLaunchKernel(grid "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access was encountered"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
}

TEST_F(GpuCli, PtxTheDriverRejectsIsReportedWithItsLog) {
  ShellResult r = photoz_on_fake_gpu(dir.string(), "load");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("cuModuleLoadDataEx (loading the GPU kernels): ptxas fatal"), std::string::npos) << r.out;
}

// starc compile --device cuda: a C program links the library; it refuses without a driver,
// and on the stand-in driver runs forward and train steps through its embedded PTX.
TEST_F(GpuCli, CompiledLibraryStagesBuffersThroughTheDriver) {
  ShellResult r = run_starc(dir.string(), "compile " + quote(STARC_SOURCE_DIR "/stdlib/astro/photoz.net") +
                                              " --device cuda --batch 4 --entry forward,train_step -o lib");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("CUDA: PTX for sm_90"), std::string::npos) << r.out;
  r = sh("cc -std=c11 -Wall -Werror " + quote(STARC_SOURCE_DIR "/tests/aot/cuda_photoz.c") + " -I " +
         quote(path("lib")) + " " + quote(path("lib/libPhotozMLP.a")) + " -lm -o " + quote(path("prog")));
  ASSERT_EQ(r.code, 0) << r.out;
  r = sh("STARC_CUDA_DRIVER=/nonexistent/libcuda.so.1 " + quote(path("prog")) + " no-device");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("create: 9 PhotozMLP_create: no CUDA driver"), std::string::npos) << r.out;
  r = sh("cd " + quote(dir.string()) + " && STARC_CUDA_DRIVER=" + quote(STARC_FAKE_CUDA) + " FAKE_CUDA_LOG=cuda.log " +
         quote(path("prog")) + " run w.weights");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("train_step 2: 0"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(path("w.weights")));
  DriverLog log = read_driver_log(path("cuda.log"));
  EXPECT_GE(log.loads, 2);
  EXPECT_GE(log.launches.size(), 30u);
  r = sh("STARC_CUDA_DRIVER=" + quote(STARC_FAKE_CUDA) + " FAKE_CUDA_FAIL=launch " + quote(path("prog")) + " run");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("forward: 9 PhotozMLP_forward: the GPU failed: cuLaunchKernel(grid"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace starc::test
