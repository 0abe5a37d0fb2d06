// tests/gpu: prints the GPU kernel library (compiler/backend/gpu/gpu_kernels.h) for every
// kernel-library name, the input of the CPU emulation test (emulate_kernels.sh).
#include <cstdio>
#include <exception>
#include <set>
#include <string>

#include "compiler/backend/gpu/gpu_kernels.h"

int main() {
  std::set<std::string> names;
  for (const char* t : {"f32", "f64"})
    for (const char* base :
         {"matmul", "conv", "conv_adjoint", "conv_weight_grad", "conv_fft", "conv_adjoint_fft", "conv_weight_grad_fft"})
      names.insert(std::string("starc_") + base + "_" + t);
  for (const char* t : {"f32", "f64"})
    for (const char* kind : {"sum", "max", "min"}) names.insert(std::string("starc_reduce_") + kind + "_" + t);
  try {
    std::string text = starc::gpu_kernel_library(names);
    std::fwrite(text.data(), 1, text.size(), stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_kernels_gen: %s\n", e.what());
    return 1;
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
