// Test helpers for the GPU target: NVIDIA's PTX assembler, and the check that a
// Device::Cuda module's every kernel module assembles for sm_90 (a real check of the
// generated code that needs no GPU).
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "compiler/backend/cpu/jit.h"
#include "shell_util.h"

namespace starc::test {

// ptxas from $CUDA_HOME/bin, /usr/local/cuda/bin or PATH; "" if none.
inline std::string ptxas_binary() {
  static const std::string path = [] {
    for (const char* env : {"CUDA_HOME", "CUDA_PATH"})
      if (const char* d = std::getenv(env); d && *d && std::filesystem::exists(std::string(d) + "/bin/ptxas"))
        return std::string(d) + "/bin/ptxas";
    if (std::filesystem::exists("/usr/local/cuda/bin/ptxas")) return std::string("/usr/local/cuda/bin/ptxas");
    ShellResult r = sh("command -v ptxas");
    return r.code == 0 && !r.out.empty() ? r.out.substr(0, r.out.find('\n')) : std::string();
  }();
  return path;
}

// Lowers `mlir_text` (a Device::Cuda module) to PTX and runs `ptxas -arch=sm_90` on
// every kernel module; failures name `what`. Returns the number of kernel modules.
inline int expect_ptxas_accepts(const std::string& mlir_text, const std::string& what) {
  std::vector<PtxModule> mods;
  try {
    mods = lower_to_ptx(mlir_text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": lowering to PTX failed: " << e.what();
    return 0;
  }
  // No kernel modules is right for some ops: a reshape or slice is a host copy of managed
  // memory, a rank-0 op runs on the host.
  const std::string file =
      (std::filesystem::temp_directory_path() / ("starc_ptx_" + std::to_string(::getpid()) + ".ptx")).string();
  for (const PtxModule& m : mods) {
    std::ofstream(file, std::ios::binary) << m.ptx;
    ShellResult r = sh(quote(ptxas_binary()) + " -arch=sm_90 " + quote(file) + " -o /dev/null");
    EXPECT_EQ(r.code, 0) << what << ": ptxas rejects kernel module " << m.name << ":\n" << r.out;
  }
  std::filesystem::remove(file);
  return int(mods.size());
}

}  // namespace starc::test
