// Data-parallel training (runtime/dist, docs/distributed.md): the split step graphs
// (gradient, then update) make the step graph's updates; one rank's parallel step is
// the plain step; and under mpirun, 2 ranks x global batch 32 train the photo-z MLP to
// the weights of 1 process x batch 32 (1e-5 relative). The MPI tests skip, saying why,
// in a build without MPI or without mpirun.
#include <cmath>
#include <fstream>
#include <optional>

#include "dsl/program.h"
#include "runtime/dist/comm.h"
#include "runtime/dist/data_parallel.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "runtime/io/npy.h"
#include "runtime/trainer.h"
#include "tests/unit/shell_util.h"

namespace starc {
namespace {

using test::quote;
using test::ScratchDir;
using test::sh;

const std::string kPhotoz = std::string(STARC_SOURCE_DIR) + "/stdlib/astro/photoz.net";

// One rank alone: a world of size 1.
struct Solo : Communicator {
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(double*, size_t) override {}
  void barrier() override {}
};

TrainPlan photoz_plan(bool split) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  EXPECT_TRUE(prog.load_file(kPhotoz)) << diags.format_all();
  std::optional<TrainPlan> p = prog.build_train("PhotozMLP", split);
  EXPECT_TRUE(p) << diags.format_all();
  return std::move(*p);
}

Tensor pseudo_random(Shape s, uint32_t salt) {
  Tensor t(DType::F32, s);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<float>()[i] = float((uint32_t(i + 1) * 2654435761u ^ salt) % 10007) / 10007.0f * 4.0f - 2.0f;
  return t;
}

TEST(DataParallel, SplitStepGraphsAreThePlainStep) {
  TrainPlan plan = photoz_plan(true);
  const TrainStepGraph& s = plan.steps.at(0);
  ASSERT_FALSE(s.grad.nodes.empty());
  ASSERT_FALSE(s.update.nodes.empty());
  EXPECT_EQ(s.grad.output_names.at(0), "loss");
  EXPECT_EQ(s.update.input_name(0), "grad." + s.update.output_names.at(0));
  TensorMap params = initial_params(plan, 5);
  std::vector<Tensor> inputs = {pseudo_random({24, 5}, 1), pseudo_random({24, 1}, 2), Tensor::scalar(DType::F32, 1e-2),
                                Tensor::scalar(DType::F32, 1)};
  InterpreterExecutor exec;
  std::vector<Tensor> plain = exec.run(s.graph, inputs, params, 9);
  Solo solo;
  std::vector<Tensor> split = run_parallel_step(s, inputs, 24, params, 9, exec, solo);
  ASSERT_EQ(plain.size(), split.size());
  for (size_t o = 0; o < plain.size(); ++o) {
    ASSERT_EQ(plain[o].type(), split[o].type()) << s.graph.output_names[o];
    for (int64_t i = 0; i < plain[o].size(); ++i)
      EXPECT_NEAR(plain[o].get(i), split[o].get(i), 1e-6 * (1 + std::fabs(plain[o].get(i))))
          << s.graph.output_names[o] << "[" << i << "]";
  }
  // The step moved the weights (a test that could not fail otherwise).
  EXPECT_GT(std::fabs(split[1].get(0) - params.at(s.graph.output_names[1]).get(0)), 1e-4);
}

TEST(DataParallel, APlanWithoutSplitGraphsIsRefused) {
  TrainPlan plan = photoz_plan(false);
  Solo solo;
  InterpreterExecutor exec;
  try {
    run_parallel_step(plan.steps[0], {}, 1, {}, 0, exec, solo);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no gradient/update graphs"), std::string::npos) << e.what();
  }
}

TEST(DataParallel, RankRangesCoverTheBatchOnce) {
  struct Rank : Solo {
    int r, n;
    Rank(int r, int n) : r(r), n(n) {}
    int rank() const override { return r; }
    int size() const override { return n; }
  };
  for (int n : {1, 2, 3, 7})
    for (int64_t rows : {0, 1, 5, 32, 33}) {
      int64_t next = 0;
      for (int r = 0; r < n; ++r) {
        auto [a, b] = rank_range(Rank(r, n), rows);
        EXPECT_EQ(a, next);
        EXPECT_LE(b - a, (rows + n - 1) / n);
        next = b;
      }
      EXPECT_EQ(next, rows);
    }
}

// ---- under mpirun -----------------------------------------------------------------------

std::string mpi_missing() {
  if (!mpi_built()) return "starc was built without MPI (install libopenmpi-dev openmpi-bin, re-run cmake)";
  if (sh("command -v mpirun").code != 0) return "mpirun is not on PATH (Debian: openmpi-bin)";
  return "";
}

// mpirun of `starc ARGS` on `np` local ranks, killed after 100 s.
test::ShellResult mpirun_starc(const std::string& dir, int np, const std::string& args) {
  return sh("cd " + quote(dir) + " && timeout 100 mpirun --allow-run-as-root --oversubscribe -np " +
            std::to_string(np) + " " + quote(STARC_BINARY) + " " + args);
}

TEST(DataParallelMpi, TwoRanksTrainThePhotozMlpAsOneProcess) {
  if (std::string why = mpi_missing(); !why.empty()) GTEST_SKIP() << why;
  ScratchDir dir("dp_photoz");
  write_npy(dir.at("mags.npy"), pseudo_random({200, 5}, 11));  // 7 batches of 32: the last one of 8
  Tensor mags = read_npy(dir.at("mags.npy")), z(DType::F32, {200, 1});
  for (int64_t i = 0; i < 200; ++i) z.data<float>()[i] = 0.3f * mags.data<float>()[i * 5] - 0.1f;
  write_npy(dir.at("z.npy"), z);
  const std::string args = "train " + quote(kPhotoz) +
                           " --data mags=mags.npy --data z=z.npy --val mags=mags.npy --val z=z.npy --batch 32 "
                           "--epochs 2 --seed 7 --threads 1 --progress none --out ";
  test::ShellResult one = test::run_starc(dir.path.string(), args + "one.npz");
  ASSERT_EQ(one.code, 0) << one.out;
  test::ShellResult two = mpirun_starc(dir.path.string(), 2, args + "two.npz --checkpoint ck");
  ASSERT_EQ(two.code, 0) << two.out;
  EXPECT_NE(two.out.find("data-parallel: 2 ranks, global batch 32"), std::string::npos) << two.out;
  // Rank 0 alone reports: one summary line per epoch.
  size_t lines = 0;
  for (size_t at = 0; (at = two.out.find("epoch 2/2", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 1u) << two.out;
  EXPECT_TRUE(std::filesystem::exists(dir.at("ck/checkpoint.npz")));
  auto a = read_npz(dir.at("one.npz")), b = read_npz(dir.at("two.npz"));
  TensorMap init = initial_params(photoz_plan(false), 7);
  ASSERT_EQ(a.size(), b.size());
  double moved = 0;
  for (auto& [name, t] : a) {
    const Tensor& u = b.at(name);
    ASSERT_EQ(t.type(), u.type()) << name;
    for (int64_t i = 0; i < t.size(); ++i) {
      EXPECT_NEAR(u.get(i), t.get(i), 1e-5 * std::fabs(t.get(i)) + 1e-7) << name << "[" << i << "]";
      moved = std::max(moved, std::fabs(t.get(i) - init.at(name).get(i)));
    }
  }
  EXPECT_GT(moved, 1e-3);  // two epochs of Adam at 1e-3 moved the weights
}

TEST(DataParallelMpi, ShardedRunWritesTheSingleProcessFile) {
  if (std::string why = mpi_missing(); !why.empty()) GTEST_SKIP() << why;
  ScratchDir dir("dp_run");
  write_npy(dir.at("mags.npy"), pseudo_random({203, 5}, 5));
  const std::string args = quote(kPhotoz) + " --seed 3 --threads 1 --in mags=mags.npy --out ";
  test::ShellResult one = test::run_starc(dir.path.string(), "run " + args + "one.npy");
  ASSERT_EQ(one.code, 0) << one.out;
  const Tensor want = read_npy(dir.at("one.npy"));
  // The rows of every share and batch, in place. Equal up to rounding, not always in
  // every bit: a GEMM's kernel (OpenBLAS's small-matrix path, edge tiles) and so its
  // order of summation depends on how many rows it gets (docs/distributed.md).
  for (const std::string batch : {"", " --batch 64", " --batch 16"}) {
    test::ShellResult two = mpirun_starc(dir.path.string(), 2, "run " + args + "two.npy" + batch);
    ASSERT_EQ(two.code, 0) << two.out;
    EXPECT_NE(two.out.find("f32[203,1] -> two.npy"), std::string::npos) << two.out;
    EXPECT_FALSE(std::filesystem::exists(dir.at("two.npy.starc-partial")));
    Tensor got = read_npy(dir.at("two.npy"));
    ASSERT_EQ(got.type(), want.type());
    for (int64_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got.get(i), want.get(i), 1e-6 * (1 + std::fabs(want.get(i)))) << "batch '" << batch << "' row " << i;
  }
}

// kill -9 of rank 1 mid-epoch: mpirun ends the job, non-zero, naming the rank, in time.
TEST(DataParallelMpi, AKilledRankEndsTheJobNamingIt) {
  if (std::string why = mpi_missing(); !why.empty()) GTEST_SKIP() << why;
  ScratchDir dir("dp_kill");
  write_npy(dir.at("mags.npy"), pseudo_random({4096, 5}, 3));
  write_npy(dir.at("z.npy"), pseudo_random({4096, 1}, 4));
  // Rank 1 (OMPI_COMM_WORLD_RANK=1 in its environment) is killed once the first epoch
  // line shows that training is under way.
  const std::string script =
      "cd " + quote(dir.path.string()) + " || exit 1; (timeout 100 mpirun --allow-run-as-root --oversubscribe -np 2 " +
      quote(STARC_BINARY) + " train " + quote(kPhotoz) +
      " --data mags=mags.npy --data z=z.npy --batch 8 --epochs 1000 --threads 1 --progress none --out w.npz "
      "> log.txt 2>&1; echo $? > rc.txt) & "
      "for i in $(seq 600); do grep -q 'epoch 1/1000' log.txt 2>/dev/null && break; sleep 0.1; done; "
      "for p in $(pgrep -f " +
      quote(std::string(STARC_BINARY) + " train") +
      "); do "
      "  tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && kill -9 $p; done; "
      "start=$(date +%s); for i in $(seq 600); do [ -s rc.txt ] && break; sleep 0.2; done; "
      "echo elapsed=$(( $(date +%s) - start )) rc=$(cat rc.txt); cat log.txt";
  test::ShellResult r = sh(script);
  EXPECT_EQ(r.out.find("rc=0"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("rc=124"), std::string::npos) << "the job hung:\n" << r.out;
  size_t at = r.out.find("elapsed=");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_LT(std::stoi(r.out.substr(at + 8)), 60) << r.out;
  EXPECT_NE(r.out.find("rank 1"), std::string::npos) << r.out;
}

// A checkpoint holds the global position and seed only: 1 epoch on 2 ranks, resumed by one
// process for the second, ends where 2 epochs of one process do.
TEST(DataParallelMpi, OneProcessResumesATwoRankCheckpoint) {
  if (std::string why = mpi_missing(); !why.empty()) GTEST_SKIP() << why;
  ScratchDir dir("dp_resume");
  write_npy(dir.at("mags.npy"), pseudo_random({120, 5}, 21));
  write_npy(dir.at("z.npy"), pseudo_random({120, 1}, 22));
  const std::string args = "train " + quote(kPhotoz) +
                           " --data mags=mags.npy --data z=z.npy --batch 32 --seed 4 --threads 1 --progress none ";
  ASSERT_EQ(test::run_starc(dir.path.string(), args + "--epochs 2 --out one.npz").code, 0);
  test::ShellResult first = mpirun_starc(dir.path.string(), 2, args + "--epochs 1 --checkpoint ck --out half.npz");
  ASSERT_EQ(first.code, 0) << first.out;
  test::ShellResult rest =
      test::run_starc(dir.path.string(), args + "--epochs 2 --checkpoint ck --resume --out two.npz");
  ASSERT_EQ(rest.code, 0) << rest.out;
  auto a = read_npz(dir.at("one.npz")), b = read_npz(dir.at("two.npz")), h = read_npz(dir.at("half.npz"));
  double moved = 0;
  for (auto& [name, t] : a)
    for (int64_t i = 0; i < t.size(); ++i) {
      EXPECT_NEAR(b.at(name).get(i), t.get(i), 1e-5 * std::fabs(t.get(i)) + 1e-7) << name << "[" << i << "]";
      moved = std::max(moved, std::fabs(t.get(i) - h.at(name).get(i)));
    }
  EXPECT_GT(moved, 1e-4);  // the resumed epoch did train
}

}  // namespace
}  // namespace starc
