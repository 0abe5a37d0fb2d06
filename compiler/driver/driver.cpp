#include "compiler/driver/driver.h"

#include <chrono>

namespace starc {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Compilation compile(const Graph& concrete, const CompileOptions& options, Stage stop_at) {
  CompileOptions o = options;
  if (stop_at == Stage::Ptx) o.device = Device::Cuda;  // PTX exists only for the GPU
  Compilation c;
  auto t0 = std::chrono::steady_clock::now();
  // The GPU has no FFT convolutions: its passes choose direct ones (passes_for).
  c.optimized = o.optimize ? optimize(concrete, passes_for(o.device, o.passes), &c.report) : concrete;
  c.optimize_seconds = seconds_since(t0);
  if (stop_at == Stage::Opt) return c;

  t0 = std::chrono::steady_clock::now();
  c.mlir = emit_mlir(c.optimized, o.entry, &c.sig, o.device, o.weights);
  c.emit_seconds = seconds_since(t0);
  switch (stop_at) {
    case Stage::Opt:
    case Stage::Mlir:
      break;
    case Stage::Llvm:
      c.llvm = lower_to_llvm_ir(c.mlir, o.device);
      break;
    case Stage::Ptx:
      c.ptx = lower_to_ptx(c.mlir);
      break;
    case Stage::Object: {
      ObjectOptions object = o.object;
      object.device = o.device;
      c.object = compile_object(c.mlir, o.entry, object);
      break;
    }
  }
  return c;
}

Compilation compile(const Graph& g, const std::vector<Dim>& symbols, const CompileOptions& o, Stage stop_at) {
  return compile(specialize(g, symbols), o, stop_at);
}

}  // namespace starc
