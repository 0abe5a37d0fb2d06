// The C++ side of bench/python_overhead.py: the photo-z MLP's forward pass through the C++
// API (api::Model::run), as the Python module calls it. Prints, for each batch size, the
// median over `chunks` of the mean time of `calls` back-to-back calls, in microseconds:
// "batch 1: 5.12 us". Usage: api_call MODEL.net THREADS CALLS CHUNKS BATCH...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/api/starc.h"

using namespace starc;

namespace {

double median_call_us(api::Model& m, const Tensor& x, int calls, int chunks) {
  for (int i = 0; i < calls; ++i) m.run({x});  // compiled, caches warm
  std::vector<double> means;
  for (int c = 0; c < chunks; ++c) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) m.run({x});
    std::chrono::duration<double, std::micro> d = std::chrono::steady_clock::now() - t0;
    means.push_back(d.count() / calls);
  }
  std::sort(means.begin(), means.end());
  return means[means.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s MODEL.net THREADS CALLS CHUNKS BATCH...\n", argv[0]);
    return 2;
  }
  try {
    api::Options o;
    o.threads = std::atoi(argv[2]);
    api::Model m = api::Program::from_file(argv[1]).model("", o);
    m.init(0);
    const int calls = std::atoi(argv[3]), chunks = std::atoi(argv[4]);
    for (int a = 5; a < argc; ++a) {
      const int64_t batch = std::atoll(argv[a]);
      Tensor x(DType::F32, {batch, 5});
      for (int64_t i = 0; i < x.size(); ++i) x.set(i, 20.0 + 0.01 * double(i % 97));
      const int n = std::max<int>(1, int(calls / std::max<int64_t>(1, batch / 64)));
      std::printf("batch %lld: %.3f us\n", static_cast<long long>(batch), median_call_us(m, x, n, chunks));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "api_call: %s\n", e.what());
    return 1;
  }
  return 0;
}
