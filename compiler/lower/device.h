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

// How f32 weights (params) are stored for inference: in full, or rounded to 16 bits
// (IEEE half, or bfloat16: f32's exponent range, 8 bits of mantissa). Narrow weights are
// widened to f32 when a step starts, so every op computes and accumulates in f32; they
// halve the weights' device memory and transfer.
enum class WeightStorage { F32, F16, BF16 };

inline const char* weight_storage_name(WeightStorage w) {
  return w == WeightStorage::F16 ? "f16" : w == WeightStorage::BF16 ? "bf16" : "f32";
}

inline WeightStorage parse_weight_storage(const std::string& s) {
  if (s == "f32") return WeightStorage::F32;
  if (s == "f16") return WeightStorage::F16;
  if (s == "bf16") return WeightStorage::BF16;
  throw std::invalid_argument("unknown weight storage '" + s + "' (expected f32, f16 or bf16)");
}

}  // namespace starc
