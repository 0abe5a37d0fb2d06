// compiler/backend/gpu: the kernel library (kernels/starc_kernels.h) for the NVIDIA GPU target,
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
// The reductions exist on the GPU only (lower_util.h gpu_reduction() calls them there; their
// generator is gpu_reduce_kernels.cpp):
//   starc_reduce_{sum,max,min}_{f32,f64}(i64 n_out, i64 n_red, i64 d0, ..., i64 d5,
//                                        i64 mask, memref<1xT> x, memref<1xR> out)
// x is dense row-major [d0, ..., d5] (leading 1s for lower ranks), axis i is reduced
// where bit i of mask is set; n_red / n_out = the product of the reduced / kept dims.
// out[o] (dense over the kept dims, row-major) = the reduction over the reduced dims of
// x. sum: R = f64, accumulated in f64; max / min: R = T, from -inf / +inf, NaN once any
// element is NaN. Deterministic (no atomics): one 256-thread block reduces one or more
// outputs through a shared-memory tree; a reduction too short of outputs to fill the GPU
// is split over blocks into a partials buffer, summed by a second pass in order.
// n_out == 0 or n_red == 0 launches nothing (out is left as is).
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
// `names` ("starc_matmul_f32", "starc_conv_adjoint_fft_f64", "starc_reduce_max_f32",
// ...): a `func.func private` host function per name with the CPU extern's signature
// (for the reductions, the one above), plus one `gpu.module @starc_gpu_kernels { ... }`
// holding the kernels they launch, and for the reductions one more host helper,
// `starc_gpu_reduce_groups`. It goes inside the top-level `module attributes
// {gpu.container_module}`. The FFT variants run the direct algorithm (their `site`
// argument is ignored). "" for an empty set.
// Throws std::invalid_argument for a name that is not a kernel-library function.
std::string gpu_kernel_library(const std::set<std::string>& names);

}  // namespace starc
