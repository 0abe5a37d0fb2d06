// compiler/aot: the C face of an ahead-of-time compiled model (starc compile). From
// the entry's signature this writes the C header, the C source of the API around the
// kernel object (instances, weights loading and saving, argument checks, error codes and
// messages), the assembler stub that embeds the weights, and the CMake / pkg-config
// files. No MLIR here: the kernel object itself comes from compile_object (jit.h).
// The API is described in docs/aot.md; the weights format in docs/weights.md.
#pragma once
#include <string>
#include <vector>

#include "compiler/lower/emit.h"

namespace starc {

// One training step compiled into the library: NAME_train_step (NAME_train_step_STEP
// when the train block has several named steps). Its kernel NAME_KERNEL takes the data
// inputs, lr and step (scalars), the params (sig order), then loss, metrics and the
// updated tensors (output_names: "loss", metrics, then the names of the tensors).
// An i64 input read as an index (compiler/ops/index.h): each value must lie in
// [0, bound) or in `ignore`, else the call returns NAME_ERR_RANGE before the kernel runs
// (the kernel itself only clamps).
struct AotIndexCheck {
  size_t input = 0;  // position among the function's (data) inputs
  int64_t bound = 0;
  std::vector<int64_t> ignore;
};

struct AotStep {
  std::string function, kernel;
  EntrySignature sig;
  std::vector<std::string> data_inputs, output_names;
  int n_metrics = 0;
  std::vector<AotIndexCheck> index_checks;
};

struct AotModel {
  std::string name;    // the C prefix: every exported symbol is NAME_*
  EntrySignature sig;  // of the forward kernel (kernel NAME_kernel)
  std::vector<std::string> input_names, output_names;
  std::vector<AotIndexCheck> index_checks;  // of the forward's inputs
  // The instance's tensors, in weights-file order: every param of every kernel (with
  // training: the optimizer slots and state too). Each kernel's params are a subset.
  std::vector<std::string> param_names;
  std::vector<TensorType> param_types;
  std::vector<AotStep> steps;
  std::vector<std::string> metric_names;
  int64_t batch = 1;
  bool embedded_weights = true;  // else the weights come from a file at create time
  std::string omp_library;       // absolute path of libomp when the kernel uses OpenMP, else ""
  int threads = 1;               // threads of the BLAS behind matmul and conv
  // The kernels run on an NVIDIA GPU (starc compile --device cuda): weights live in CUDA
  // managed memory, each call stages the caller's buffers through it (kernels/starc_cuda.h).
  bool cuda = false;
};

// Throws EmitError when `name` is not a C identifier.
void check_c_identifier(const std::string& name);

std::string aot_header(const AotModel& m);
std::string aot_source(const AotModel& m);
// Assembler that places the file `blob_path` in .rodata as NAME_weights_blob.
std::string aot_weights_asm(const AotModel& m, const std::string& blob_path);
// NAMEConfig.cmake (imported targets NAME::NAME static, NAME::shared) and NAME.pc.
std::string aot_cmake_config(const AotModel& m);
std::string aot_pkgconfig(const AotModel& m);  // relative to its own folder (${pcfiledir})

}  // namespace starc
