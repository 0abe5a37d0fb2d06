// runtime: the JIT executor. Specialises a Graph to the concrete shapes of its inputs,
// lowers it to MLIR (compiler/lower/emit.h), compiles it to native code once
// (compiler/backend/cpu/jit.h) and calls it. Compiled code is cached in memory by the text of
// the specialised graph, so the same graph at the same shapes compiles once per process,
// and on disk (an object file per MLIR text, LLVM version and options in the cache
// folder), so a second process skips compilation.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "compiler/driver/driver.h"
#include "compiler/lower/emit.h"
#include "compiler/backend/cpu/jit.h"
#include "runtime/executor.h"
#include "runtime/memory_limit.h"

namespace starc {

// What the last run() did, for `--timings`.
struct JitRunStats {
  bool cache_hit = false;                                          // in memory
  bool disk_hit = false;                                           // loaded from the disk cache instead of compiling
  double specialize = 0, emit = 0, lookup = 0, load = 0, run = 0;  // seconds
  JitTimings compile;                                              // zero on a cache hit
  double compile_seconds() const { return emit + compile.parse + compile.passes + compile.codegen + load + lookup; }
};

// One line for `--timings`: what the run did (compiled, loaded from disk, or an
// in-memory hit) and where its time went.
std::string format_timings(const JitRunStats& s);

// The disk cache folder: $STARC_CACHE_DIR, else $XDG_CACHE_HOME/starc, else
// ~/.cache/starc; "" when STARC_CACHE_DIR is "off" (no disk cache).
std::string default_cache_dir();

// The number of cores this process may use (the default for --threads).
int default_threads();

// The GPU `--device cuda` would use ("NVIDIA H200 (sm_90, 139.8 GiB)"), or "" if there
// is none (no driver, no device).
std::string cuda_device_description();

// The 16-bit bits of f32 value v stored as `w` (F16 or BF16), rounded to nearest even
// (NaN stays NaN, overflow goes to infinity); and the f32 value of such bits.
uint16_t narrow_float(float v, WeightStorage w);
float widen_float(uint16_t bits, WeightStorage w);
// t with every element rounded as narrow weights store it (f32 tensors; others as they are).
Tensor round_like_stored(const Tensor& t, WeightStorage w);

class JitExecutor : public Executor {
 public:
  // `cache_dir` empty: no disk cache. opts.threads > 1 sizes the process's OpenMP pool.
  // opts.device Cuda: throws std::runtime_error saying why when no GPU is usable.
  explicit JitExecutor(JitOptions opts = {}, std::string cache_dir = "");
  std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                          uint64_t seed) override;
  const JitRunStats& last_stats() const { return stats_; }
  // Called after every run with its graph and stats (`starc train --timings`).
  std::function<void(const Graph&, const JitRunStats&)> on_run;
  // The MLIR text run() would compile for these inputs (for --emit mlir).
  static std::string mlir_for(const Graph& g, const std::vector<Tensor>& inputs, const OptOptions& passes = {},
                              Device device = Device::Cpu);

 private:
  struct Compiled {
    std::unique_ptr<JitModule> module;
    JitModule::PackedFn fn = nullptr;
    EntrySignature sig;
    std::optional<MemoryPlan> plan;  // CPU code's (its module's memory_plan)
  };
  std::shared_ptr<Compiled> compile(const Graph& concrete);
  // The code for g at these symbol values: from the in-memory caches, else compiled (or
  // loaded from the disk cache). Sets stats_.specialize (the time since `start`) and
  // stats_.cache_hit.
  std::shared_ptr<Compiled> compiled_for(const Graph& g, const std::vector<Dim>& symbol_values,
                                         std::chrono::steady_clock::time_point start);
  CompileOptions compile_options() const;  // the driver's options for this executor's code
  // Memory (memory_limit.h): refuses a run whose plan and outputs exceed the limit, and
  // turns an allocation that failed in the generated code into an OutOfMemoryError.
  void check_plan(const Graph& g, const std::vector<Dim>& symbols, const Compiled& c) const;
  void throw_if_out_of_memory(const Graph& g, const std::vector<Dim>& symbols) const;
  JitOptions opts_;
  std::string cache_dir_;
  std::map<std::string, std::shared_ptr<Compiled>> cache_;       // key: specialised graph text
  std::map<std::string, std::shared_ptr<Compiled>> fast_cache_;  // key: Fnv128 of the graph + symbol values
  std::mutex mu_;
  JitRunStats stats_;
};

}  // namespace starc
