// bench/conv_crossover: direct (im2col + GEMM) against FFT convolution, kernel by kernel,
// over the shapes where the choice is close; prints measured seconds next to what the
// conv_algo cost model predicts (compiler/opt/conv_algo.cpp), so its rates can be refitted.
//   build/bench/conv_crossover [--threads N]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "compiler/backend/kernels/starc_kernels.h"
#include "compiler/ops/builder.h"
#include "compiler/opt/conv_algo.h"

using namespace starc;

namespace {

struct Case {
  const char* op;  // conv | adjoint | wgrad
  int64_t n, c, o, l, k, pad, dil;
};

template <class F>
double median_seconds(F f) {
  std::vector<double> t;
  f();  // warm: plans, caches
  for (int r = 0; r < 7; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// The cost model's estimate for the same call, from a one-node graph.
ConvCost predicted(const Case& c, int64_t out_len) {
  Graph g;
  GraphBuilder b(g);
  auto input = [&](const char* name, Shape s) {
    return b.op("input", {}, {{"name", std::string(name)}, {"dtype", DType::F32}, {"shape", Ints(s)}});
  };
  Attrs a = {{"padding", Ints{c.pad}}, {"dilation", Ints{c.dil}}};
  int node;
  if (!strcmp(c.op, "wgrad")) {
    int x = input("x", {c.n, c.c, c.l});
    int dy = input("dy", {c.n, c.o, out_len});
    a["kernel"] = Ints{c.k};
    node = b.op("conv1d_weight_grad", {x, dy}, a);
  } else if (!strcmp(c.op, "adjoint")) {
    int dy = input("dy", {c.n, c.o, out_len});
    int w = input("w", {c.o, c.c, c.k});
    node = b.op("conv_transpose1d", {dy, w}, a);
  } else {
    int x = input("x", {c.n, c.c, c.l});
    int w = input("w", {c.o, c.c, c.k});
    node = b.op("conv1d", {x, w}, a);
  }
  return conv_cost(g, node, true);  // this bench repeats the call: the kernel spectrum is cached
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  for (int i = 1; i + 1 < argc; ++i)
    if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
  starc_set_threads(threads);
  std::vector<Case> cases;
  for (const char* op : {"conv", "adjoint", "wgrad"})
    for (int64_t k : {3, 9, 17, 33, 65, 200, 500})
      for (int64_t n : {1, 64}) {
        cases.push_back({op, n, 16, 32, 1024, k, 0, 1});
        cases.push_back({op, n, 1, 16, 4618, k, 0, 1});
      }
  // The seed models' own short-kernel layers (gw_deepfilter at B 64), where the two are close.
  for (const char* op : {"conv", "adjoint", "wgrad"}) {
    cases.push_back({op, 64, 1, 16, 8192, 16, 0, 1});
    cases.push_back({op, 64, 16, 32, 2044, 8, 0, 4});
    cases.push_back({op, 64, 32, 64, 504, 8, 0, 4});
  }
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  fmt::print("{:>8} {:>3} {:>3} {:>3} {:>5} {:>4} | {:>10} {:>10} | {:>10} {:>10} | {}\n", "op", "n", "c", "o", "L",
             "k", "direct_ms", "fft_ms", "model_dir", "model_fft", "agree");
  int agree = 0;
  for (const Case& c : cases) {
    int64_t out_len = c.l + 2 * c.pad - c.dil * (c.k - 1);
    std::vector<float> x(size_t(c.n * c.c * c.l)), w(size_t(c.o * c.c * c.k)), y(size_t(c.n * c.o * out_len));
    for (auto* v : {&x, &w, &y})
      for (float& e : *v) e = u(rng);
    auto args = [&](auto fn, auto... rest) {
      fn(c.n, c.c, 1, c.l, c.o, 1, c.k, 1, out_len, 1, 1, 0, c.pad, 1, c.dil, int64_t(1), rest...);
    };
    double direct, fft;
    if (!strcmp(c.op, "conv")) {
      direct = median_seconds([&] { args(starc_conv_f32, x.data(), w.data(), y.data()); });
      fft = median_seconds([&] { args(starc_conv_fft_f32, int64_t(1), x.data(), w.data(), y.data()); });
    } else if (!strcmp(c.op, "adjoint")) {
      direct = median_seconds([&] { args(starc_conv_adjoint_f32, y.data(), w.data(), x.data()); });
      fft = median_seconds([&] { args(starc_conv_adjoint_fft_f32, int64_t(1), y.data(), w.data(), x.data()); });
    } else {
      direct = median_seconds([&] { args(starc_conv_weight_grad_f32, x.data(), y.data(), w.data()); });
      fft = median_seconds([&] { args(starc_conv_weight_grad_fft_f32, x.data(), y.data(), w.data()); });
    }
    ConvCost m = predicted(c, out_len);
    // Agreement: the model's pick (with its margin) is the faster kernel, or within 10 % of it.
    double picked = m.prefer_fft() ? fft : direct;
    bool same = picked <= 1.1 * std::min(fft, direct);
    agree += same;
    fmt::print("{:>8} {:>3} {:>3} {:>3} {:>5} {:>4} | {:>10.3f} {:>10.3f} | {:>10.3f} {:>10.3f} | {}\n", c.op, c.n, c.c,
               c.o, c.l, c.k, direct * 1e3, fft * 1e3, m.direct_s * 1e3, m.fft_s * 1e3, same ? "yes" : "NO");
  }
  fmt::print("the cost model picks the faster kernel (or one within 10 %) in {} of {} cases\n", agree, cases.size());
  return 0;
}
