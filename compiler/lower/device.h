// compiler/lower: where generated code runs. No MLIR here (emit.h and jit.h use it).
#pragma once
#include <stdexcept>
#include <string>

namespace starc {

// Cpu: native code for this machine. Cuda: NVIDIA GPU kernels (PTX, JIT-compiled by the
// driver) launched from native host code; every buffer is CUDA managed memory.
enum class Device { Cpu, Cuda };

inline const char* device_name(Device d) { return d == Device::Cuda ? "cuda" : "cpu"; }

inline Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::Cpu;
  if (s == "cuda" || s == "gpu") return Device::Cuda;
  throw std::invalid_argument("unknown device '" + s + "' (expected cpu or cuda)");
}

}  // namespace starc
