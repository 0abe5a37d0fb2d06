// compiler/driver: the compile spine. Every client that turns a Graph into code (the JIT
// executor, `starc graph --emit`, `starc compile`, the REPL's :mlir/:llvm) runs the same
// stages through compile() below, so they cannot drift apart:
//
//   Graph --specialize--> concrete Graph --passes (compiler/opt)--> optimized Graph
//         --emit_mlir (compiler/lower)--> MLIR text --CPU/GPU pipeline--> LLVM IR | PTX | object
//
// Each stage's product is kept in the returned Compilation, so `--emit` prints whichever
// one it asked for. The JIT loads the MLIR text itself (JitModule, with its disk cache).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/lower/emit.h"
#include "compiler/backend/cpu/jit.h"
#include "compiler/opt/passes.h"

namespace starc {

// Where compile() stops: each stage includes those before it.
enum class Stage {
  Opt,     // the optimized Graph (and the passes' report)
  Mlir,    // MLIR text of the entry function (and its signature)
  Llvm,    // LLVM IR of the module after the device's pipeline
  Ptx,     // the GPU kernel modules' PTX (compiles for Device::Cuda whatever the options say)
  Object,  // a relocatable ELF object (ahead-of-time compilation)
};

struct CompileOptions {
  Device device = Device::Cpu;
  OptOptions passes = {};                      // which graph passes to skip, the conv algorithm
  bool optimize = true;                        // false: the graph is optimized already (its node ids are kept)
  WeightStorage weights = WeightStorage::F32;  // f32 weights stored in 16 bits (inference)
  std::string entry = "forward";               // the entry function's name
  ObjectOptions object = {};                   // Stage::Object (its device is `device`)
};

// What each stage produced, up to the one asked for.
struct Compilation {
  Graph optimized;
  std::vector<PassReport> report;  // one per pass run
  std::string mlir;
  EntrySignature sig;
  std::string llvm;
  std::vector<PtxModule> ptx;
  std::string object;
  double optimize_seconds = 0, emit_seconds = 0;  // passes; MLIR emission
};

// Runs the stages from a graph with concrete shapes up to `stop_at`. Throws
// std::invalid_argument (an unknown pass) and LowerError (MLIR/LLVM).
Compilation compile(const Graph& concrete, const CompileOptions& options, Stage stop_at);
// The same after binding the graph's symbolic dims (the batch) to `symbols`.
Compilation compile(const Graph& g, const std::vector<Dim>& symbols, const CompileOptions& options, Stage stop_at);

}  // namespace starc
