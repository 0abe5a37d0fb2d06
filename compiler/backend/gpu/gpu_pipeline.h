// compiler/backend/gpu: the NVIDIA GPU pass pipeline (used by jit.cpp only; includes MLIR).
// Takes the module emit_mlir wrote for Device::Cuda and lowers it to the LLVM dialect:
// host code that launches kernels through the mgpu* runtime (kernels/starc_cuda.h)
// and gpu.binary ops holding each kernel module's PTX.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "mlir/IR/BuiltinOps.h"

namespace mlir {
class DialectRegistry;
}

namespace starc {

// The GPU target starc compiles for (sm_90: H100/H200; the driver JITs the PTX for
// newer GPUs).
constexpr const char* kGpuChip = "sm_90";

// The CUDA toolkit for libdevice (math functions): $CUDA_HOME, else /usr/local/cuda;
// "" if neither has nvvm/libdevice.
std::string cuda_toolkit_dir();

// Whether the toolkit can assemble cubins (ptxas and fatbinary in cuda_toolkit_dir()/bin).
bool cuda_toolkit_assembles();

// Runs the pipeline; on failure returns false with the reason in *why (the caller's
// diagnostic handler has MLIR's messages). `fatbin`: embed a fatbin holding the sm_90
// cubin (assembled by the toolkit's ptxas) and the PTX, else the PTX alone, which the
// driver JIT-compiles when the module loads.
bool lower_gpu_module(mlir::ModuleOp module, std::string* why, bool fatbin = false);

// After lower_gpu_module: each kernel module's name and PTX text (NUL stripped).
std::vector<std::pair<std::string, std::string>> gpu_module_ptx(mlir::ModuleOp module);

}  // namespace starc
