// compiler/backend/cpu: the MLIR JIT and object emission. Takes the MLIR module text that
// emit_mlir produced, runs the CPU pass pipeline (bufferize, lower to loops, to LLVM),
// and compiles it with LLVM ORC through mlir::ExecutionEngine, or to a relocatable
// object for ahead-of-time libraries. jit.cpp, gpu_pipeline.cpp, parallel_loops.cpp and
// buffer_lifetimes.cpp are the only files in starc that include MLIR/LLVM headers (they
// cost 10-20 s each to compile; docs/toolchain.md).
#pragma once
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/backend/cpu/buffer_lifetimes.h"
#include "compiler/lower/device.h"
#include "compiler/opt/passes.h"

namespace starc {

// An MLIR/LLVM failure: parse, verification, a pass, or code generation. The message
// holds MLIR's diagnostics, which carry the .net source locations the emitter wrote.
struct LowerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The graph passes as `device` runs them: the GPU has no FFT convolutions (its convs are
// tiled implicit GEMMs), so there the conv_algo pass chooses direct.
inline OptOptions passes_for(Device device, OptOptions passes) {
  if (device == Device::Cuda) passes.conv_algo = ConvAlgo::Direct;
  return passes;
}

struct JitOptions {
  // LLVM optimisation level for the generated code. 2, not 3: O3's extra loop passes
  // (non-trivial unswitching) made train-step compiles 2.6x slower (DeepFilter 5.1 vs
  // 1.9 s) for no measurable run-time gain; `starc compile` (AOT) uses 3.
  int opt_level = 2;
  OptOptions passes = {};  // the graph passes (compiler/opt): which to skip, the conv algorithm
  // > 1: parallel loops run on OpenMP threads (the process's libomp, sized with
  // omp_set_num_threads by the caller); 1: plain sequential loops.
  int threads = 1;
  // Cuda: the module is emit_mlir's Device::Cuda form; host code launches PTX kernels
  // through kernels/starc_cuda.h (the caller checks starc_cuda_init first).
  Device device = Device::Cpu;
  // Inference: f32 weights in 16 bits (emit_mlir's `weights`); the executor rounds them.
  WeightStorage weights = WeightStorage::F32;
};

// A compiled module's object code can be written to and reloaded from a file (the
// on-disk compile cache): loading skips MLIR and LLVM code generation entirely.

// Seconds spent in each phase of one compilation (for `starc run --timings`).
struct JitTimings {
  double parse = 0, passes = 0, codegen = 0;
};

class JitModule {
 public:
  ~JitModule();
  // Compiles MLIR text; throws LowerError. With `object_out`, also returns the object code
  // there (empty where it could not be captured): for the disk cache, which stores it
  // (runtime/jit_cache.h). Capturing it never fails the compile.
  static std::unique_ptr<JitModule> compile(const std::string& mlir_text, const JitOptions& opts = {},
                                            JitTimings* timings = nullptr, std::string* object_out = nullptr);
  // Loads object code that compile() returned (`name` labels it in messages); throws
  // LowerError if it is not a loadable object holding `entry`. Only objects whose
  // integrity was checked may come here: LLVM trusts what it links.
  static std::unique_ptr<JitModule> load_object(std::string_view object, const std::string& name,
                                                const std::string& entry);
  // The packed entry of function `name`: call with an array holding, for each argument,
  // a pointer to the argument's value (for a memref argument under the bare-pointer
  // convention: a pointer to the data pointer).
  using PackedFn = void (*)(void**);
  PackedFn lookup(const std::string& name) const;
  // The memory plan compiled into CPU code (buffer_lifetimes.h: peak and largest temporary);
  // none for GPU code. The code's allocations are checked: after a call, a failure is
  // read with starc_mem_take_failure (kernels/starc_kernels.h).
  std::optional<MemoryPlan> memory_plan() const;

 private:
  JitModule() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The module after the CPU (or GPU) pass pipeline (LLVM dialect), or as LLVM IR; for --emit.
std::string lower_to_llvm_dialect(const std::string& mlir_text, Device device = Device::Cpu);
std::string lower_to_llvm_ir(const std::string& mlir_text, Device device = Device::Cpu);
// The CPU module as loops (scf/memref), after shape_parallel_loops when `threads`: which
// loops run in parallel (parallel_loops.h; tests).
// What makes CPU code from MLIR text (the pass pipelines, the loop policy, the optimiser's
// target, the compiler binary's size and mtime): part of the JIT disk cache's key.
std::string cpu_pipeline_id();
std::string lower_to_cpu_loops(const std::string& mlir_text, bool threads);

// What the CPU code of a module does, for `starc graph --emit opt`: its kernels (each a
// loop nest after MLIR's elementwise fusion, or a call into the kernel library) with the
// graph nodes each computes, and its memory plan (temporaries in program order, each
// freed after its last use, compiler/backend/cpu/buffer_lifetimes.h).
struct CpuPlan {
  struct Kernel {
    std::string what;                // "loop nest" or the library function ("starc_conv2d_f32")
    std::vector<std::string> nodes;  // "%7", "%12/3" (a scan body's node), in the graph's order
  };
  std::vector<Kernel> kernels;
  int64_t argument_bytes = 0;                    // the caller's buffers: inputs, parameters, outputs
  int64_t temporary_peak_bytes = 0;              // most temporary bytes alive at once
  int64_t temporary_total_bytes = 0;             // all temporaries: the peak if nothing were freed early
  int temporaries = 0, kept_to_end = 0;          // allocations; those not freed before the end
  int64_t largest_bytes = 0, largest_node = -1;  // the largest temporary and its graph node
};
CpuPlan plan_cpu(const std::string& mlir_text, bool threads);

// A Device::Cuda module's GPU kernels: per kernel module, its name and PTX (for
// --emit ptx, ptxas checks and AOT embedding). Throws LowerError.
struct PtxModule {
  std::string name, ptx;
};
std::vector<PtxModule> lower_to_ptx(const std::string& mlir_text);
// Whether compile_object embeds sm_90 cubins in GPU objects (the CUDA toolkit's ptxas and
// fatbinary are present); else PTX only.
bool cuda_assembles_cubins();

// Ahead-of-time compilation (starc compile).
struct ObjectOptions {
  std::string prefix;           // symbol prefix (the model name): PREFIX_memrefCopy
  std::string kernel;           // the entry's symbol (default PREFIX_kernel)
  std::string cpu = "host";     // "host" or an LLVM CPU name (x86-64-v3, skylake-avx512, ...)
  bool threads = false;         // parallel loops as OpenMP (the library then needs libomp)
  Device device = Device::Cpu;  // Cuda: the object embeds the kernels (PTX, and a cubin: cuda_assembles_cubins) and
                                // calls PREFIX_mgpu*
};
// Lowers MLIR text and returns a relocatable, position-independent ELF object holding
// function `entry` as the kernel symbol (bare-pointer memref arguments, then the seed) and
// nothing else exported. Its only undefined symbols are libc/libm (and libomp with
// threads) and PREFIX_memrefCopy, which the caller defines. Throws LowerError.
std::string compile_object(const std::string& mlir_text, const std::string& entry, const ObjectOptions& opts);

// "LLVM 22.1.x": part of the disk cache key (objects from another LLVM are not reused).
std::string llvm_version();

}  // namespace starc
