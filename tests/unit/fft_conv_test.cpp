// FFT convolution (kernels/starc_fft_conv.c, chosen by the conv_algo pass): the FFT and
// direct kernels against the reference interpreter over a table of shapes (kernels 3 to
// 1000, odd lengths, padding, dilation, 2-D), forward and both gradients; central
// differences through the FFT path; the kernel-spectrum cache; the pass's choices.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "compiler/backend/kernels/starc_kernels.h"
#include "compiler/opt/passes.h"
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

struct FftCase {
  std::string op;
  Shape x, w;
  Ints pad, dil;
};

// Stated tolerances, relative to max(1, |ref|, rms(ref)) per element: an FFT's rounding
// error scales with the norm of the whole signal, not with each output.
constexpr double kF64Tol = 1e-11, kF32Tol = 2e-5;

std::vector<FftCase> fft_cases() {
  return {
      {"conv1d", {2, 1, 4618}, {16, 1, 500}, {0}, {1}},  // the redshift CNN's first layer
      {"conv1d", {2, 3, 1999}, {4, 3, 1000}, {0}, {1}},  // kernel 1000, odd length
      {"conv1d", {3, 2, 101}, {5, 2, 3}, {1}, {1}},
      {"conv1d", {1, 4, 257}, {3, 4, 33}, {16}, {1}},  // "same" padding
      {"conv1d", {2, 2, 301}, {2, 2, 17}, {5}, {3}},   // padding and dilation
      {"conv1d", {2, 3, 64}, {2, 3, 64}, {0}, {1}},    // the kernel as long as the input
      {"conv1d", {1, 1, 9}, {1, 1, 3}, {4}, {2}},      // windows reaching into both paddings
      {"conv2d", {2, 2, 31, 29}, {3, 2, 7, 5}, {3, 2}, {1, 1}},
      {"conv2d", {1, 3, 17, 40}, {2, 3, 3, 9}, {1, 0}, {2, 3}},
      {"conv_transpose1d", {2, 4, 150}, {4, 3, 51}, {7}, {2}},
      {"conv_transpose2d", {1, 2, 12, 13}, {2, 3, 5, 4}, {2, 1}, {1, 2}},
  };
}

// (x, w, dy) -> (y, dx, dw): the op and both gradients in one graph.
Graph with_gradients(const FftCase& c, const std::vector<Tensor>& in) {
  Graph g = one_op_graph(c.op, in, {{"padding", c.pad}, {"dilation", c.dil}});
  GraphBuilder b(g);
  int y = g.outputs[0];
  int dy = add_dy_input(g, b, y);
  std::vector<int> grads = append_gradients(g, y, {g.inputs[0], g.inputs[1]}, dy);
  g.outputs = {y, grads[0], grads[1]};
  g.output_names = {"y", "dx", "dw"};
  return g;
}

// The lines of `text` holding `what` and, if given, `also`.
int count(const std::string& text, const std::string& what, const std::string& also = "") {
  int n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    n += line.find(what) != std::string::npos && line.find(also) != std::string::npos;
  return n;
}

TEST(FftConv, AgreesWithDirectAndReferenceAcrossShapes) {
  JitOptions fft_opts, direct_opts;
  fft_opts.passes.conv_algo = ConvAlgo::Fft;
  direct_opts.passes.conv_algo = ConvAlgo::Direct;
  uint32_t seed = 1;
  for (int threads : {1, 2}) {
    fft_opts.threads = direct_opts.threads = threads;
    JitExecutor fft(fft_opts), direct(direct_opts);
    for (DType ft : {DType::F64, DType::F32})
      for (const FftCase& c : fft_cases()) {
        std::vector<Tensor> in = {random_tensor(c.x, ft, seed++), random_tensor(c.w, ft, seed++)};
        Graph g = with_gradients(c, in);
        in.push_back(random_tensor(g.type(g.inputs[2]).shape, ft, seed++));
        std::string what = fmt::format("{} x{} w{} pad {} dil {} {} threads {}", c.op, type_str(in[0].type()),
                                       type_str(in[1].type()), c.pad[0], c.dil[0], dtype_name(ft), threads);
        // Every conv of the graph (the op, its adjoint, its weight gradient) is an FFT call.
        std::string mlir = JitExecutor::mlir_for(g, in, OptOptions({}, ConvAlgo::Fft));
        EXPECT_EQ(count(mlir, "func.call @starc_conv"), count(mlir, "func.call @starc_conv", "_fft_f")) << what;
        EXPECT_EQ(count(mlir, "func.call @starc_conv"), 3) << what;
        std::vector<Tensor> ref = run_graph(g, in, {}), by_fft, by_direct;
        ASSERT_TRUE(jit_run_or_fail(fft, g, in, 0, what, &by_fft));
        ASSERT_TRUE(jit_run_or_fail(direct, g, in, 0, what, &by_direct));
        double tol = ft == DType::F64 ? kF64Tol : kF32Tol;
        for (size_t i = 0; i < ref.size(); ++i) {
          expect_close_rms(by_fft[i], ref[i], tol, what + ", fft " + g.output_names[i]);
          expect_close_rms(by_fft[i], by_direct[i], tol, what + ", fft vs direct " + g.output_names[i]);
        }
      }
  }
}

// d/d(x, w) of sum(conv(x, w) * R) from the FFT path's gradient graph against central
// differences of the FFT path's forward pass, in f64.
TEST(FftConv, GradcheckThroughTheFftPath) {
  JitOptions o;
  o.passes.conv_algo = ConvAlgo::Fft;
  JitExecutor jit(o);
  Tensor x = random_tensor({2, 3, 203}, DType::F64, 11), w = random_tensor({4, 3, 51}, DType::F64, 12);
  Attrs a = {{"padding", Ints{7}}, {"dilation", Ints{2}}};
  Graph fwd = one_op_graph("conv1d", {x, w}, a);
  Tensor r = random_tensor(fwd.type(fwd.outputs[0]).shape, DType::F64, 13);
  auto loss = [&](const Tensor& xv, const Tensor& wv) {
    Tensor y = jit.run(fwd, {xv, wv}, {}, 0)[0];
    double s = 0;
    for (int64_t i = 0; i < y.size(); ++i) s += y.get(i) * r.get(i);
    return s;
  };
  FftCase c{"conv1d", x.shape(), w.shape(), {7}, {2}};
  Graph g = with_gradients(c, {x, w});
  std::vector<Tensor> grads = jit.run(g, {x, w, r}, {}, 0);
  const double eps = 1e-5;
  for (int which : {0, 1}) {
    const Tensor& base = which == 0 ? x : w;
    for (int64_t k = 0; k < base.size(); k += base.size() / 23 + 1) {
      Tensor up = base.clone(), down = base.clone();
      up.set(k, base.get(k) + eps);
      down.set(k, base.get(k) - eps);
      double numeric =
          which == 0 ? (loss(up, w) - loss(down, w)) / (2 * eps) : (loss(x, up) - loss(x, down)) / (2 * eps);
      double analytic = grads[size_t(1 + which)].get(k);
      EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << (which ? "dw" : "dx") << " at " << k;
    }
  }
}

// The cache keys spectra by the weight's exact bytes: a changed weight is never served an
// old spectrum, and replaces it rather than piling up.
TEST(FftConv, KernelSpectrumCacheIsExact) {
  JitOptions o;
  o.passes.conv_algo = ConvAlgo::Fft;
  JitExecutor jit(o);
  Tensor x = random_tensor({2, 2, 300}, DType::F32, 21);
  Tensor w1 = random_tensor({3, 2, 40}, DType::F32, 22), w2 = w1.clone();
  w2.set(17, w2.get(17) + 0.5);  // one element differs
  Graph g = one_op_graph("conv1d", {x, w1}, {});
  starc_fft_cache_clear();
  Tensor a = jit.run(g, {x, w1}, {}, 0)[0];
  EXPECT_EQ(starc_fft_cache_entries(), 1);
  Tensor b = jit.run(g, {x, w1}, {}, 0)[0];
  EXPECT_EQ(starc_fft_cache_entries(), 1);
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.get(i), b.get(i));
  Tensor c = jit.run(g, {x, w2}, {}, 0)[0];
  EXPECT_EQ(starc_fft_cache_entries(), 1);
  expect_close_rms(c, run_graph(g, {x, w2}, {})[0], kF32Tol, "after the weight changed");
  starc_fft_cache_clear();
  EXPECT_EQ(starc_fft_cache_entries(), 0);
}

// ---- the conv_algo pass ----

int input(GraphBuilder& b, const std::string& name, Shape shape) {
  int id = b.op("input", {}, {{"name", name}, {"dtype", DType::F32}, {"shape", Ints(shape)}});
  b.g.inputs.push_back(id);
  return id;
}

std::string algo_of(const Graph& g, int id) { return attr_str(g.node(id).attrs, "algo"); }

TEST(ConvAlgoPass, LongKernelsTakeFftShortOnesAndStridesStayDirect) {
  Graph g;
  GraphBuilder b(g);
  int x = input(b, "x", {64, 1, 4618}), w500 = input(b, "w500", {16, 1, 500});
  int im = input(b, "im", {64, 5, 64, 64}), w3 = input(b, "w3", {32, 5, 3, 3});
  int w200 = input(b, "w200", {4, 1, 200});
  int long_conv = b.op("conv1d", {x, w500});
  int short_conv = b.op("conv2d", {im, w3}, {{"padding", Ints{1}}});
  int strided = b.op("conv1d", {x, w200}, {{"stride", Ints{2}}});
  g.outputs = {long_conv, short_conv, strided};
  g.output_names = {"a", "b", "c"};
  EXPECT_EQ(algo_of(g, long_conv), "auto");  // before the pass

  std::vector<PassReport> report;
  Graph o = optimize(g, {}, &report);
  EXPECT_EQ(algo_of(o, long_conv), "fft");
  EXPECT_EQ(algo_of(o, short_conv), "direct");
  EXPECT_EQ(algo_of(o, strided), "direct");
  EXPECT_EQ(describe(report.back()), "pass conv_algo: 1 conv by FFT, 2 direct");
  ConvCost c = conv_cost(o, long_conv, true);
  EXPECT_TRUE(c.fft_possible);
  EXPECT_LT(c.fft_s * 3, c.direct_s);  // a k500 conv: FFT by far

  Graph forced = optimize(g, OptOptions({}, ConvAlgo::Fft));
  EXPECT_EQ(algo_of(forced, short_conv), "fft");
  EXPECT_EQ(algo_of(forced, strided), "direct");  // no FFT path for stride 2
  Graph none = optimize(g, OptOptions({}, ConvAlgo::Direct));
  EXPECT_EQ(algo_of(none, long_conv), "direct");
  Graph off = optimize(g, OptOptions({"conv_algo"}));
  EXPECT_EQ(algo_of(off, long_conv), "auto");  // lowered as direct
}

// gw_deepfilter's third conv at B 64 (32->64, L 504, k 8, dilation 4): the model calls it
// a tie and measured direct is faster, so the margin keeps it direct; its 1->16 k16 layer
// on 8192 samples is clearly direct too.
TEST(ConvAlgoPass, ANearTieStaysDirect) {
  Graph g;
  GraphBuilder b(g);
  int x = input(b, "x", {64, 32, 504}), w = input(b, "w", {64, 32, 8});
  int tie = b.op("conv1d", {x, w}, {{"dilation", Ints{4}}});
  int strain = input(b, "strain", {64, 1, 8192}), w16 = input(b, "w16", {16, 1, 16});
  int first = b.op("conv1d", {strain, w16});
  g.outputs = {tie, first};
  g.output_names = {"y", "z"};
  ConvCost c = conv_cost(g, tie, true);
  ASSERT_TRUE(c.fft_possible);
  EXPECT_LT(c.fft_s, c.direct_s * 1.1);  // a near tie by the model ...
  EXPECT_GT(c.fft_s, c.direct_s * ConvCost::kFftMargin);
  EXPECT_FALSE(c.prefer_fft());  // ... which direct wins
  EXPECT_FALSE(conv_cost(g, first, true).prefer_fft());
  Graph o = optimize(g);
  EXPECT_EQ(algo_of(o, tie), "direct");
  EXPECT_EQ(algo_of(o, first), "direct");
}

TEST(ConvAlgoPass, APinnedAlgoStaysAndFftNeedsStrideOne) {
  Graph g;
  GraphBuilder b(g);
  int x = input(b, "x", {64, 1, 4618}), w = input(b, "w", {16, 1, 500});
  int pinned = b.op("conv1d", {x, w}, {{"algo", std::string("direct")}});
  g.outputs = {pinned};
  g.output_names = {"y"};
  EXPECT_EQ(algo_of(optimize(g, OptOptions({}, ConvAlgo::Fft)), pinned), "direct");
  EXPECT_THROW(
      {
        try {
          b.op("conv1d", {x, w}, {{"algo", std::string("fft")}, {"stride", Ints{2}}});
        } catch (const OpError& e) {
          EXPECT_STREQ(e.what(), "conv1d: algo \"fft\" needs stride 1, got stride [2]");
          throw;
        }
      },
      OpError);
  EXPECT_THROW(b.op("conv1d", {x, w}, {{"algo", std::string("winograd")}}), OpError);
  EXPECT_THROW(parse_conv_algo("fast"), std::invalid_argument);
}

}  // namespace
}  // namespace starc::test
