#include "tools/starc/train_timings.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

namespace starc {
namespace {

// VmHWM of this process (its own peak, not counting what a fork inherited before exec).
double peak_resident_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

}  // namespace

void TrainTimings::watch(JitExecutor& jit) {
  jit.on_run = [this](const Graph& g, const JitRunStats& s) {
    int n = ++runs_of[g.name];
    if (s.cache_hit) cached_runs[g.name].push_back(s.specialize + s.lookup + s.run);
    if (!s.cache_hit || n <= 2) fmt::print(stderr, "timings {} run {}: {}\n", g.name, n, format_timings(s));
  };
}

void TrainTimings::print_summary() {
  for (auto& [name, runs] : cached_runs) {
    std::sort(runs.begin(), runs.end());
    fmt::print(stderr, "timings {}: {} cached runs, median run {:.3f} ms, fastest {:.3f} ms\n", name, runs.size(),
               runs[runs.size() / 2] * 1e3, runs[0] * 1e3);
  }
  fmt::print(stderr, "timings: peak resident memory {:.1f} MiB\n", peak_resident_mib());
}

}  // namespace starc
