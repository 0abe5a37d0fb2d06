// compiler/opt: the conv_algo pass. Chooses, for every convolution node (conv*,
// conv_transpose*, conv*_weight_grad) whose `algo` attribute is "auto", how the
// generated code computes it: "direct" (im2col + GEMM) or "fft" (FFTW transforms and
// channel mixing per frequency; stride 1 only). The choice is a cost model over the
// node's static shapes, with rates measured on the development machine
// (build/bench/conv_crossover; the table is in docs/performance.md). A node the user pinned to
// "direct" or "fft" keeps its value.
#pragma once
#include <string>

#include "compiler/ir/graph.h"

namespace starc {

enum class ConvAlgo { Auto, Direct, Fft };
// "auto" | "direct" | "fft"; throws std::invalid_argument otherwise.
ConvAlgo parse_conv_algo(const std::string& s);

// Estimated seconds of one call each way (one thread), and whether FFT is possible.
struct ConvCost {
  double direct_s = 0, fft_s = 0;
  bool fft_possible = false;
  // Auto takes FFT only when it is predicted clearly faster: the fit is off by up to ~25 %
  // on single shapes (bench/conv_crossover), and on a near tie direct wins — no plans,
  // no spectra buffers (gw_deepfilter's 32->64 k8 layer at B 64: model 16.6 vs 16.6 ms,
  // measured direct 11.3-11.8 vs fft 9.5-12.2 ms over runs, and the whole model's b64
  // inference slower with FFT there: 24.5 vs 22.3 ms).
  static constexpr double kFftMargin = 0.8;
  bool prefer_fft() const { return fft_possible && fft_s < kFftMargin * direct_s; }
};
// For a conv-family node (zero for anything else); a symbolic batch counts as 1.
// `kernel_cached`: the kernel's spectrum is already there (inference after the first
// call), so conv and conv_adjoint transform only their data.
ConvCost conv_cost(const Graph& g, int id, bool kernel_cached);

// `mode` Auto: the cost model decides; Direct / Fft: every "auto" node takes that
// (Fft where the stride allows). Counts the nodes set to fft and to direct.
Graph choose_conv_algos(const Graph& g, ConvAlgo mode, int* fft = nullptr, int* direct = nullptr);

}  // namespace starc
