// PyTorch equivalence of std.nn layers beyond the ops (issue 31): tests/e2e/torch_layers.py
// builds multi_head_attention, transformer_encoder_layer (post- and pre-norm, padding and
// causal masks) and the positional encodings in starc (through the Python module) and in
// torch.nn with the same weights, and compares outputs and every gradient (f64 to 1e-10,
// f32 to 1e-5); then trains a small transformer with `starc train` and wants its loss to
// fall. Skipped, with the reason, where /usr/bin/python3 cannot import torch or the starc
// module (not built in sanitizer builds).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "shell_util.h"

namespace fs = std::filesystem;

namespace {

using starc::test::kPython;
using starc::test::quote;

// The folder of the Python package beside the starc binary (build/python).
std::string python_path() { return (fs::path(STARC_BINARY).parent_path() / "python").string(); }

// Runs tests/e2e/SCRIPT with the starc module importable; it must exit 0 and print its
// last line, "all comparisons passed". Skips where torch or the module is missing.
void expect_script_passes(const std::string& script) {
  std::string env = "PYTHONPATH=" + quote(python_path()) + " ";
  auto probe = starc::test::sh(env + kPython + " -c 'import torch, numpy, starc' 2>&1");
  if (probe.code != 0) GTEST_SKIP() << kPython << " cannot import torch, numpy and starc:\n" << probe.out;
  fs::path tmp = fs::temp_directory_path() / fs::path("starc_torch_layers_" + std::to_string(::getpid()));
  std::string cmd = env + kPython + " " + quote(STARC_SOURCE_DIR "/tests/e2e/" + script) + " --starc " +
                    quote(STARC_BINARY) + " --tmp " + quote(tmp.string());
  auto [rc, out] = starc::test::sh(cmd);
  EXPECT_EQ(rc, 0) << "command: " << cmd << "\n" << out;
  EXPECT_NE(out.find("all comparisons passed"), std::string::npos) << out;
  std::error_code ec;
  if (rc == 0) fs::remove_all(tmp, ec);
}

TEST(TorchLayers, AttentionAndTransformerMatchPyTorch) { expect_script_passes("torch_layers.py"); }

}  // namespace
