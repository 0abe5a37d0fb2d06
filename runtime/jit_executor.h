// runtime: the JIT executor. Specialises a Graph to the concrete shapes of its inputs,
// lowers it to MLIR (compiler/lower/emit.h), compiles it to native code once
// (compiler/lower/jit.h) and calls it. Compiled code is cached in memory by the text of
// the specialised graph, so the same graph at the same shapes compiles once per process.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "compiler/lower/emit.h"
#include "compiler/lower/jit.h"
#include "runtime/executor.h"

namespace starc {

// What the last run() did, for `--timings`.
struct JitRunStats {
  bool cache_hit = false;
  double specialize = 0, emit = 0, lookup = 0, run = 0;  // seconds
  JitTimings compile;                                     // zero on a cache hit
};

class JitExecutor : public Executor {
 public:
  explicit JitExecutor(JitOptions opts = {}) : opts_(opts) {}
  std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                          uint64_t seed) override;
  const JitRunStats& last_stats() const { return stats_; }
  // The MLIR text run() would compile for these inputs (for --emit mlir).
  static std::string mlir_for(const Graph& g, const std::vector<Tensor>& inputs);

 private:
  struct Compiled {
    std::unique_ptr<JitModule> module;
    JitModule::PackedFn fn = nullptr;
    EntrySignature sig;
  };
  JitOptions opts_;
  std::map<std::string, std::shared_ptr<Compiled>> cache_;  // key: specialised graph text
  std::mutex mu_;
  JitRunStats stats_;
};

}  // namespace starc
