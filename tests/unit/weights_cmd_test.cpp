// `starc weights` (issue 32 item 11): a PyTorch state_dict (numpy.savez of it) converted by
// a module -> scope map runs in starc with PyTorch's numbers; an LSTM's two biases become
// starc's one; a checkpoint's model weights extracted; list and diff.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "runtime/io/npy.h"
#include "shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

const std::string kPhotoz = quote(std::string(STARC_SOURCE_DIR) + "/stdlib/astro/photoz.net");

TEST(WeightsCmd, TorchStateDictConvertsAndRunsWithTorchsNumbers) {
  if (python_imports("torch").code != 0) GTEST_SKIP() << "python3-torch is not installed (scripts/setup.sh)";
  ScratchDir d("starc_weights_cmd");
  ShellResult py = sh("cd " + quote(d.path.string()) + " && " + kPython + " -c \"" +
                      "import numpy as np, torch, torch.nn as nn\n"
                      "torch.manual_seed(0)\n"
                      "m = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))\n"
                      "x = np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32)\n"
                      "np.save('x.npy', x); np.save('want.npy', m(torch.from_numpy(x)).detach().numpy())\n"
                      "np.savez('sd.npz', **{k: v.numpy() for k, v in m.state_dict().items()})\n"
                      "l = nn.LSTM(3, 4, batch_first=True)\n"
                      "np.savez('lstm.npz', **{k: v.detach().numpy() for k, v in l.state_dict().items()})\"");
  ASSERT_EQ(py.code, 0) << py.out;
  std::string dir = d.path.string();
  ShellResult c = run_starc(dir, "weights convert sd.npz --map 0=dense0 2=dense1 4=dense2 -o w.npz --check " + kPhotoz);
  ASSERT_EQ(c.code, 0) << c.out;
  ShellResult r = run_starc(dir, "run " + kPhotoz + " --in x.npy --weights w.npz --out z.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  Tensor got = read_npy(d.at("z.npy")), want = read_npy(d.at("want.npy"));
  ASSERT_EQ(got.size(), want.size());
  for (int64_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got.get(i), want.get(i), 1e-5) << i;

  expect_starc_error(dir, "weights convert sd.npz --map 0=dense0 2=dense1 -o w2.npz",
                     "no starc scope for the module '4' (map it: 4=SCOPE)");
  ShellResult l = run_starc(dir, "weights convert lstm.npz --map =lstm0 -o bad.npz");
  EXPECT_EQ(l.code, 1) << l.out;  // "=lstm0" is not MODULE=SCOPE
  std::ofstream(d.at("map.txt")) << "# PyTorch module = starc scope\nlstm_top = lstm0\n";
  ShellResult py2 = sh("cd " + quote(dir) + " && " + kPython +
                       " -c \"import numpy as np; d = dict(np.load('lstm.npz')); "
                       "np.savez('lstm2.npz', **{'lstm_top.' + k: v for k, v in d.items()})\"");
  ASSERT_EQ(py2.code, 0) << py2.out;
  ShellResult lc = run_starc(dir, "weights convert lstm2.npz --map map.txt -o l.npz");
  ASSERT_EQ(lc.code, 0) << lc.out;
  std::map<std::string, Tensor> sd = read_npz(d.at("lstm.npz")), w = read_npz(d.at("l.npz"));
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(type_str(w.at("lstm0.weight_ih").type()), "f32[16,3]");
  for (int64_t i = 0; i < 16; ++i)
    EXPECT_FLOAT_EQ(float(w.at("lstm0.bias").get(i)), float(sd.at("bias_ih_l0").get(i) + sd.at("bias_hh_l0").get(i)));
}

TEST(WeightsCmd, ExtractListAndDiff) {
  ScratchDir d("starc_weights_cmd");
  std::string dir = d.path.string();
  ASSERT_EQ(run_starc(dir, "simulate photoz --n 32 --seed 1 -o data").code, 0);
  ShellResult t = run_starc(dir, "train " + kPhotoz +
                                     " --data mags=data/mags.npy z=data/z.npy --epochs 1 --batch 16 --progress none "
                                     "--checkpoint ck -o trained.npz");
  ASSERT_EQ(t.code, 0) << t.out;
  ShellResult list = run_starc(dir, "weights list ck/checkpoint.npz");
  ASSERT_EQ(list.code, 0) << list.out;
  EXPECT_NE(list.out.find("(checkpoint: not a model weight)"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("model weights: 4609 elements"), std::string::npos) << list.out;
  ShellResult x = run_starc(dir, "weights extract ck/checkpoint.npz -o w.npz --check " + kPhotoz);
  ASSERT_EQ(x.code, 0) << x.out;
  ShellResult same = run_starc(dir, "weights diff w.npz trained.npz");
  EXPECT_EQ(same.code, 0) << same.out;
  EXPECT_NE(same.out.find("6 equal, 0 different, 0 only in one"), std::string::npos) << same.out;
  ASSERT_EQ(run_starc(dir, "init " + kPhotoz + " --seed 9 -o other.npz").code, 0);
  ShellResult differ = run_starc(dir, "weights diff w.npz other.npz");
  EXPECT_EQ(differ.code, 1) << differ.out;
  EXPECT_NE(differ.out.find("dense0.weight: 320 elements differ"), std::string::npos) << differ.out;
  expect_starc_error(dir, "weights frobnicate w.npz", "unknown action 'frobnicate'");
}

}  // namespace
}  // namespace starc::test
