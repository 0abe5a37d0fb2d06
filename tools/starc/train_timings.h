// tools/starc: `starc train --timings`: per step graph, every compile or disk load and the
// first in-memory hit as they happen, and at the end the median time of each graph's
// cached runs (specialise, lookup, run) and the process's peak resident memory.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "runtime/jit_executor.h"

namespace starc {

struct TrainTimings {
  std::map<std::string, std::vector<double>> cached_runs;
  std::map<std::string, int> runs_of;

  void watch(JitExecutor& jit);  // the JIT reports its runs here; *this must outlive it
  void print_summary();
};

}  // namespace starc
