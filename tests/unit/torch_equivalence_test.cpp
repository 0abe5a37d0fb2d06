// PyTorch equivalence (acceptance criterion): tests/e2e/torch_redshift.py builds the
// redshift CNN (and a small 2D CNN and recurrent layers) in PyTorch, loads the weights
// `starc init` wrote, and compares with `starc run` to 1e-4 relative. Skipped, with the
// reason, where /usr/bin/python3 cannot import torch.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "shell_util.h"

namespace fs = std::filesystem;

namespace {

using starc::test::kPython;
using starc::test::quote;

// Runs the comparison script tests/e2e/SCRIPT with starc, the source folder and a
// scratch folder <temp>/<tmp_name><pid>; it must pass and print `ok_line`. The scratch
// folder is kept on failure for inspection.
void expect_script_passes(const std::string& script, const std::string& tmp_name, const std::string& ok_line) {
  fs::path tmp = fs::temp_directory_path() / fs::path(tmp_name + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::string cmd = std::string(kPython) + " " + quote(STARC_SOURCE_DIR "/tests/e2e/" + script) + " --starc " +
                    quote(STARC_BINARY) + " --source-dir " + quote(STARC_SOURCE_DIR) + " --tmp " + quote(tmp.string());
  auto [rc, out] = starc::test::sh(cmd);
  EXPECT_EQ(rc, 0) << "command: " << cmd << "\n" << out;
  EXPECT_NE(out.find(ok_line), std::string::npos) << out;
  EXPECT_NE(out.find("all comparisons passed"), std::string::npos) << out;
  std::error_code ec;
  if (rc == 0) fs::remove_all(tmp, ec);
}

TEST(TorchEquivalence, RedshiftCnnMatchesPyTorch) {
  if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " not found: cannot run the PyTorch comparison";
  auto probe = starc::test::python_imports("torch, numpy");
  if (probe.code != 0)
    GTEST_SKIP() << kPython << " cannot import torch and numpy (install python3-torch python3-numpy, see "
                 << "scripts/setup.sh); PyTorch comparison skipped:\n"
                 << probe.out;
  expect_script_passes("torch_redshift.py", "starc_torch_eq_",
                       "ok   redshift CNN [2,1,4618] -> [2,1], starc init weights");
}

// Training parity (acceptance criterion): tests/e2e/torch_train.py trains with `starc
// train` and with torch.optim from the same weights and batch: one Adam step of the
// redshift CNN, three steps of SGD-momentum, Nesterov, RMSProp, Adagrad and AdamW on a
// small MLP; the updated weights agree to 1e-4 relative.
TEST(TorchEquivalence, TrainingStepsMatchTorchOptim) {
  auto probe = starc::test::python_imports("torch");
  if (probe.code != 0) GTEST_SKIP() << "PyTorch is not importable by " << kPython << ": " << probe.out;
  expect_script_passes("torch_train.py", "starc_torch_train_",
                       "ok   redshift CNN (f64), one Adam step: conv1d0.weight");
}

}  // namespace
