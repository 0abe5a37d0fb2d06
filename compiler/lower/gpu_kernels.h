// compiler/lower: the kernel library (kernels/starc_kernels.h) for the NVIDIA GPU target,
// written as MLIR text. No MLIR headers here: like emit.cpp, this only prints text.
//
// On the GPU the module keeps the CPU's call sites (func.call @starc_conv_f32(...) with
// i64 sizes and memref<1xT> views of whole dense buffers), but instead of declaring the
// externs it defines them: each becomes a host func.func that launches a kernel from one
// gpu.module. Matmul and the three convolutions are all one shared-memory tiled GEMM
// (64x64 block tile, K tile 16, 16x16 threads with 4x4 register micro-tiles); the
// convolutions are implicit GEMMs that do the im2col / col2im address arithmetic while
// loading tiles. Buffers are CUDA managed memory, so the host passes its pointers on.
// Weight gradients (K = n*oh*ow, M x N small) split K over the grid and sum the parts.
//
// When to add the text: after buffer-deallocation-pipeline, not before (e.g. parse it
// into its own module and move its ops into the lowered one, replacing the extern
// declarations emit wrote): ownership-based deallocation rejects gpu.launch_func ("ops
// with unknown memory side effects are not supported"), and the text frees its own
// scratch buffer. Later passes of the GPU pipeline (gpu_pipeline.cpp) lower it as is.
#pragma once
#include <set>
#include <string>

namespace starc {

// The symbol of the gpu.module holding the kernels.
constexpr const char* kGpuKernelModule = "starc_gpu_kernels";

// The MLIR text that defines, for the GPU target, each kernel-library function in
// `names` ("starc_matmul_f32", "starc_conv_adjoint_fft_f64", ...): a `func.func private`
// host function per name with the CPU extern's signature, plus one
// `gpu.module @starc_gpu_kernels { ... }` holding the kernels they launch. It goes inside
// the top-level `module attributes {gpu.container_module}`. The FFT variants run the
// direct algorithm (their `site` argument is ignored). "" for an empty set.
// Throws std::invalid_argument for a name that is not a kernel-library function.
std::string gpu_kernel_library(const std::set<std::string>& names);

// The argument types of kernel-library function `name`, as the CPU extern declares them:
// "(i64, i64, ..., memref<1xf32>, i64, ...)". Throws std::invalid_argument as above.
std::string gpu_kernel_signature(const std::string& name);

}  // namespace starc
