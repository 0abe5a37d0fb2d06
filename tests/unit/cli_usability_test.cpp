// The CLI as a new user meets it (issue 32): a misspelt command, option or simulation task
// gets the nearest name; `starc train` without --out says before training where the
// weights will go and writes them there; a training checkpoint is accepted as weights.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

TEST(CliUsability, MisspeltNamesGetTheNearestOne) {
  ScratchDir s("starc_cli_usability");
  std::string d = s.path.string();
  expect_starc_error(d, "trian m.net", "unknown command 'trian'; did you mean 'train'?");
  expect_starc_error(d, "--verbose", "unknown option '--verbose'");
  expect_starc_error(d, "simulate photozz -o out", "unknown simulation task 'photozz'; did you mean 'photoz'?");
  ShellResult ok = run_starc(d, "--max-errors 3 --version");
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("stdlib: "), std::string::npos) << ok.out;
}

TEST(CliUsability, TrainWithoutOutSavesAndACheckpointServesAsWeights) {
  ScratchDir s("starc_cli_usability");
  std::string d = s.path.string();
  const std::string photoz = quote(std::string(STARC_SOURCE_DIR) + "/stdlib/astro/photoz.net");
  ShellResult sim = run_starc(d, "simulate photoz --n 64 --seed 1 -o data");
  ASSERT_EQ(sim.code, 0) << sim.out;
  ShellResult r = run_starc(d, "train " + photoz +
                                   " --data mags=data/mags.npy z=data/z.npy --epochs 2 --batch 16 --progress none "
                                   "--checkpoint ckpt");
  ASSERT_EQ(r.code, 0) << r.out;
  size_t note = r.out.find("note: no --out given; the trained weights will be written to ckpt/PhotozMLP.weights.npz");
  ASSERT_NE(note, std::string::npos) << r.out;
  EXPECT_LT(note, r.out.find("epoch 1/2")) << "said before training:\n" << r.out;
  ASSERT_TRUE(fs::exists(s.path / "ckpt" / "PhotozMLP.weights.npz")) << r.out;

  // The checkpoint (with optimizer slots and counters) runs as the weights it holds.
  ShellResult from_weights =
      run_starc(d, "run " + photoz + " --in data/mags.npy --weights ckpt/PhotozMLP.weights.npz --out a.npy");
  ASSERT_EQ(from_weights.code, 0) << from_weights.out;
  ShellResult from_ckpt =
      run_starc(d, "run " + photoz + " --in data/mags.npy --weights ckpt/checkpoint.npz --out b.npy");
  ASSERT_EQ(from_ckpt.code, 0) << from_ckpt.out;
  EXPECT_EQ(sh("cmp " + quote(d + "/a.npy") + " " + quote(d + "/b.npy")).code, 0);
}

}  // namespace
}  // namespace starc::test
