// runtime/aot: the ahead-of-time library builder (docs/aot.md). From a model's forward
// graph (and optionally its train plan) and its weights it builds DIR/libM.a, DIR/libM.so,
// the C header DIR/M.h, MConfig.cmake and M.pc: each kernel is compiled to a PIC object by
// the driver (compiler/driver), the same passes and lowering the JIT runs, wrapped in the
// generated C API (compiler/aot/aot_api.h), and linked with the parts of the C kernel
// library (compiler/backend/kernels), OpenBLAS, FFTW and zlib that the kernels use
// (docs/aot.md, "Size"; runtime/aot/aot_objects.h) by the system tools ($CC, $LD,
// $OBJCOPY, $AR; default cc, ld, objcopy, ar).
//
// It lives in runtime/, not compiler/aot/, because it writes weights files and
// initialises optimizer slots (runtime/io, runtime/init).
#pragma once
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/train/train_plan.h"
#include "runtime/interpreter.h"
#include "runtime/param_error.h"

namespace starc {

// A build that cannot be made: bad options, a tool that failed (its command and output),
// a folder that cannot be written.
struct AotError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// An AotError about the options; the message names them as AotOptions does ("batch",
// "dynamic_batch", "threads", "device"; the train plan as "train_step").
using AotArgumentError = ParamError<AotError>;

struct AotOptions {
  std::string out_dir;         // created if missing
  int64_t batch = 1;           // the batch the kernels are specialised to
  bool dynamic_batch = false;  // the batch is given per call: the batch-1 kernel runs per sample
  // Values of the model's other symbolic dims (a spectrum length L): the library is
  // compiled for them; each free symbol but the batch needs one.
  std::map<std::string, int64_t> dims;
  // Also M_train_step (one function per step of the plan), which updates the weights,
  // optimizer slots and state of an instance in place. Needs a fixed batch.
  const TrainPlan* train = nullptr;
  std::string target = "host";  // CPU to generate code for: host or an LLVM CPU name
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
  int threads = 1;            // > 1: parallel loops on OpenMP (the library then needs libomp)
  bool weights_file = false;  // DIR/M.weights instead of weights embedded in the library
  uint64_t seed = 0;          // initialises the optimizer slots and state of the train steps
};

struct AotLibrary {
  std::filesystem::path dir;       // absolute
  std::vector<std::string> files;  // the names written in dir: libM.a, libM.so, M.h, ...
  bool cuda_cubin = false;         // device Cuda: the kernels are also assembled (else PTX only)
};

// Builds the library of `forward` (its name prefixes every symbol and must be a C
// identifier) with `params` (every parameter of the forward graph). With dynamic_batch
// the model must treat the samples of a batch independently (runtime/batch_independence.h).
// Throws AotError (AotArgumentError for the options), or the error of a failed stage.
AotLibrary build_aot_library(const Graph& forward, TensorMap params, const AotOptions& options);

}  // namespace starc
