#include "compiler/opt/conv_algo.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "compiler/ops/op.h"

namespace starc {
namespace {

// Rates of the kernels (kernels/starc_kernels*.c, starc_fft_conv*.c) on one core of the
// development machine (AMD EPYC, AVX-512, f32), fitted to `build/bench/conv_crossover`:
constexpr double kDirectFlops = 60e9;  // im2col + sgemm, FLOP/s
constexpr double kDirectCallS = 5e-6;  // per call
constexpr double kFftUnitS = 2.1e-10;  // one real transform (with its copies) costs this * M log2 M
constexpr double kMixMacs = 3.1e9;     // complex multiply-adds per second in the mixing
constexpr double kFftCallS = 30e-6;    // per call: plans, buffers, thread fan-out

// The same rule as kernels/starc_fft_conv.c smooth_size: 2^a 3^b 5^c 7^d, even.
int64_t smooth_size(int64_t n) {
  for (int64_t m = n < 2 ? 2 : n + (n & 1);; m += 2) {
    int64_t r = m;
    for (int64_t p = 2; p <= 7; ++p)
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

bool is_conv_family(const Node& n) {
  if (!n.op) return false;
  const std::string& op = n.op->name;
  return op == "conv1d" || op == "conv2d" || op == "conv_transpose1d" || op == "conv_transpose2d" ||
         op == "conv1d_weight_grad" || op == "conv2d_weight_grad";
}

int64_t concrete(Dim d) { return is_sym(d) ? 1 : d; }

}  // namespace

ConvAlgo parse_conv_algo(const std::string& s) {
  if (s == "auto") return ConvAlgo::Auto;
  if (s == "direct") return ConvAlgo::Direct;
  if (s == "fft") return ConvAlgo::Fft;
  throw std::invalid_argument(fmt::format("conv_algo must be auto, direct or fft, got '{}'", s));
}

ConvCost conv_cost(const Graph& g, int id, bool kernel_cached) {
  const Node& n = g.nodes[size_t(id)];
  ConvCost cost;
  if (!is_conv_family(n)) return cost;
  const std::string& op = n.op->name;
  const Shape &a = g.nodes[size_t(n.inputs[0])].type.shape, &b = g.nodes[size_t(n.inputs[1])].type.shape,
              &out = n.type.shape;
  const int nsp = int(a.size()) - 2;
  // The forward conv's geometry: input [N,C,*L], kernel [O,C,*K], output [N,O,*T].
  int64_t N = concrete(a[0]), C, O, transforms_per_batch, weight_transforms;
  Shape L, K, T;
  const Ints& stride = attr_ints(n.attrs, "stride");
  const Ints& pad = attr_ints(n.attrs, "padding");
  const Ints& dil = attr_ints(n.attrs, "dilation");
  auto per = [&](const Ints& v, int i) { return v.size() == 1 ? v[0] : v[size_t(i)]; };
  const bool weight_grad = op.find("weight_grad") != std::string::npos;
  if (op.rfind("conv_transpose", 0) == 0) {  // x is the forward output, out its input
    C = out[1], O = a[1];
    L.assign(out.begin() + 2, out.end()), K.assign(b.begin() + 2, b.end()), T.assign(a.begin() + 2, a.end());
  } else if (weight_grad) {
    C = a[1], O = b[1];
    const Ints& k = attr_ints(n.attrs, "kernel");
    L.assign(a.begin() + 2, a.end()), T.assign(b.begin() + 2, b.end());
    for (int i = 0; i < nsp; ++i) K.push_back(per(k, i));
  } else {
    C = a[1], O = out[1];
    L.assign(a.begin() + 2, a.end()), K.assign(b.begin() + 2, b.end()), T.assign(out.begin() + 2, out.end());
  }
  // Each output channel mixes only its group's C / groups inputs.
  const int64_t groups = n.attrs.count("groups") ? std::max<int64_t>(attr_int(n.attrs, "groups"), 1) : 1;
  transforms_per_batch = C + O;
  // wgrad transforms its result back; conv and conv_adjoint transform the kernel, once
  // per train step for the two of them, never again in inference.
  weight_transforms = weight_grad ? O * C / groups : kernel_cached ? 0 : O * C / groups / 2;
  double window = 1, outputs = 1, period = 1, spectrum = 1;
  cost.fft_possible = true;
  for (int i = 0; i < nsp; ++i) {
    int64_t s = per(stride, i), p = per(pad, i), d = per(dil, i);
    cost.fft_possible &= s == 1;
    window *= double(K[size_t(i)]);
    outputs *= double(T[size_t(i)]);
    int64_t m = smooth_size(std::max(L[size_t(i)] + 2 * p, T[size_t(i)] + d * (K[size_t(i)] - 1)));
    period *= double(m);
    spectrum *= i == nsp - 1 ? double(m / 2 + 1) : double(m);
  }
  double macs = double(N) * double(O) * double(C) / double(groups);
  cost.direct_s = 2 * macs * window * outputs / kDirectFlops + kDirectCallS;
  double transforms = double(N * transforms_per_batch + weight_transforms);
  cost.fft_s =
      transforms * kFftUnitS * period * std::log2(std::max(2.0, period)) + macs * spectrum / kMixMacs + kFftCallS;
  return cost;
}

Graph choose_conv_algos(const Graph& g, ConvAlgo mode, int* fft, int* direct) {
  Graph out = g;
  int n_fft = 0, n_direct = 0;
  bool training = false;  // a train step: its kernels change every step
  for (const Node& n : g.nodes) training |= n.op && n.op->name.find("weight_grad") != std::string::npos;
  for (size_t id = 0; id < out.nodes.size(); ++id) {
    Node& n = out.nodes[id];
    if (!is_conv_family(n) || !n.attrs.count("algo")) continue;
    std::string algo = attr_str(n.attrs, "algo");
    if (algo == "auto") {
      ConvCost c = conv_cost(out, int(id), !training);
      bool take_fft = c.fft_possible && (mode == ConvAlgo::Fft || (mode == ConvAlgo::Auto && c.prefer_fft()));
      algo = take_fft ? "fft" : "direct";
      n.attrs["algo"] = algo;
    }
    (algo == "fft" ? n_fft : n_direct)++;
  }
  if (fft) *fft = n_fft;
  if (direct) *direct = n_direct;
  return out;
}

}  // namespace starc
