// PyTorch equivalence (acceptance criterion): tests/e2e/torch_redshift.py builds the
// redshift CNN (and a small 2D CNN and recurrent layers) in PyTorch, loads the weights
// `starc init` wrote, and compares with `starc run` to 1e-4 relative. Skipped, with the
// reason, where /usr/bin/python3 cannot import torch.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

namespace {

const char* kPython = "/usr/bin/python3";

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command, returning its exit status and its combined stdout/stderr.
int run(const std::string& cmd, std::string& output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(TorchEquivalence, RedshiftCnnMatchesPyTorch) {
  if (!fs::exists(kPython)) GTEST_SKIP() << kPython << " not found: cannot run the PyTorch comparison";
  std::string probe;
  if (run(std::string(kPython) + " -c 'import torch, numpy'", probe) != 0)
    GTEST_SKIP() << kPython << " cannot import torch and numpy (install python3-torch python3-numpy, see "
                 << "scripts/setup.sh); PyTorch comparison skipped:\n" << probe;

  fs::path tmp = fs::temp_directory_path() / fs::path("starc_torch_eq_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::string cmd = std::string(kPython) + " " + quote(STARC_SOURCE_DIR "/tests/e2e/torch_redshift.py") +
                    " --starc " + quote(STARC_BINARY) + " --source-dir " + quote(STARC_SOURCE_DIR) + " --tmp " +
                    quote(tmp.string());
  std::string out;
  int rc = run(cmd, out);
  EXPECT_EQ(rc, 0) << "command: " << cmd << "\n" << out;
  EXPECT_NE(out.find("ok   redshift CNN [2,1,4618] -> [2,1], starc init weights"), std::string::npos) << out;
  EXPECT_NE(out.find("all comparisons passed"), std::string::npos) << out;
  std::error_code ec;
  if (rc == 0) fs::remove_all(tmp, ec);  // kept on failure for inspection
}

}  // namespace

namespace {

// Training parity (acceptance criterion): tests/e2e/torch_train.py trains with `starc
// train` and with torch.optim from the same weights and batch: one Adam step of the
// redshift CNN, three steps of SGD-momentum, Nesterov, RMSProp, Adagrad and AdamW on a
// small MLP; the updated weights agree to 1e-4 relative.
TEST(TorchEquivalence, TrainingStepsMatchTorchOptim) {
  std::string probe;
  if (run(std::string(kPython) + " -c 'import torch'", probe) != 0)
    GTEST_SKIP() << "PyTorch is not importable by " << kPython << ": " << probe;
  fs::path tmp = fs::temp_directory_path() / ("starc_torch_train_" + std::to_string(::getpid()));
  std::string cmd = std::string(kPython) + " " + quote(STARC_SOURCE_DIR "/tests/e2e/torch_train.py") + " --starc " +
                    quote(STARC_BINARY) + " --source-dir " + quote(STARC_SOURCE_DIR) + " --tmp " + quote(tmp.string());
  std::string out;
  int rc = run(cmd, out);
  EXPECT_EQ(rc, 0) << "command: " << cmd << "\n" << out;
  EXPECT_NE(out.find("ok   redshift CNN (f64), one Adam step: conv1d0.weight"), std::string::npos) << out;
  EXPECT_NE(out.find("all comparisons passed"), std::string::npos) << out;
  std::error_code ec;
  if (rc == 0) fs::remove_all(tmp, ec);
}

}  // namespace
