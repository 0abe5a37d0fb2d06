// JIT vs reference interpreter on the gradient graphs of matmul, the convolutions and
// pooling (autodiff's rules: conv_transpose/conv/transpose/slice for the convolutions,
// the *pool*_grad/_gather ops for pooling), in f32 and f64, and on pooling inputs with
// special values (NaN, -inf, ties, signed zeros) where the reference's exact rule matters.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include "compiler/lower/emit.h"
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

struct GradCase {
  std::string op;
  std::vector<Shape> shapes;
  Attrs attrs;
  double f32_tol = 2e-5;
};

Attrs conv(Ints s, Ints p, Ints d, int64_t groups = 1) {
  return {{"stride", s}, {"padding", p}, {"dilation", d}, {"groups", groups}};
}
Attrs convt(Ints s, Ints p, Ints d, Ints op, int64_t groups = 1) {
  return {{"stride", s}, {"padding", p}, {"dilation", d}, {"output_padding", op}, {"groups", groups}};
}
Attrs pool(Ints k, Ints s, Ints p) { return {{"kernel", k}, {"stride", s}, {"padding", p}}; }

std::vector<GradCase> cases() {
  return {
      {"matmul", {{3, 4}, {4, 5}}, {}},
      {"matmul", {{2, 3, 4}, {4, 5}}, {}},
      {"matmul", {{3, 4}, {2, 4, 5}}, {}},
      {"matmul", {{2, 1, 3, 4}, {3, 4, 5}}, {}},
      {"conv1d", {{2, 3, 17}, {4, 3, 3}}, conv({1}, {1}, {1})},
      {"conv1d", {{2, 3, 17}, {2, 3, 3}}, conv({2}, {1}, {1})},
      {"conv1d", {{2, 2, 17}, {3, 2, 3}}, conv({3}, {0}, {2})},
      {"conv1d", {{1, 2, 17}, {2, 2, 5}}, conv({3}, {2}, {2})},
      {"conv1d", {{1, 1, 1}, {2, 1, 1}}, conv({1}, {0}, {1})},
      {"conv1d", {{2, 1, 4618}, {16, 1, 500}}, conv({1}, {0}, {1})},  // the redshift CNN's first layer
      {"conv2d", {{2, 2, 7, 6}, {3, 2, 3, 2}}, conv({2, 1}, {1, 0}, {1, 2})},
      {"conv2d", {{1, 2, 5, 9}, {2, 2, 2, 3}}, conv({1, 3}, {0, 2}, {2, 1})},
      {"conv_transpose1d", {{2, 3, 17}, {3, 2, 3}}, convt({2}, {1}, {1}, {1})},
      {"conv_transpose1d", {{2, 2, 17}, {2, 3, 3}}, convt({3}, {0}, {2}, {2})},
      {"conv_transpose1d", {{1, 2, 5}, {2, 2, 2}}, convt({1}, {0}, {3}, {2})},
      {"conv_transpose2d", {{2, 2, 3, 4}, {2, 3, 3, 2}}, convt({2, 1}, {1, 0}, {1, 2}, {1, 1})},
      {"conv_transpose2d", {{1, 2, 1, 3}, {2, 1, 2, 3}}, convt({3, 2}, {0, 1}, {1}, {2, 0})},
      // Grouped and depthwise (groups = channels, multiplier 1 and 2); the stride-1 ones
      // also through the FFT kernels below.
      {"conv1d", {{2, 4, 17}, {6, 2, 3}}, conv({1}, {1}, {1}, 2)},
      {"conv1d", {{2, 4, 13}, {4, 1, 3}}, conv({2}, {1}, {2}, 4)},
      {"conv2d", {{2, 4, 6, 5}, {4, 1, 3, 3}}, conv({1}, {1}, {1}, 4)},
      {"conv2d", {{1, 3, 6, 6}, {6, 1, 3, 3}}, conv({1}, {1}, {1}, 3)},
      {"conv2d", {{1, 4, 5, 6}, {6, 2, 3, 2}}, conv({2, 1}, {1, 0}, {1, 2}, 2)},
      {"conv_transpose1d", {{2, 4, 7}, {4, 3, 3}}, convt({2}, {1}, {1}, {1}, 2)},
      {"conv_transpose2d", {{1, 4, 4, 4}, {4, 2, 3, 3}}, convt({1}, {1}, {1}, {0}, 2)},
      {"conv_transpose2d", {{1, 4, 3, 4}, {4, 1, 3, 2}}, convt({2, 1}, {1, 0}, {1, 2}, {1, 1}, 4)},
      {"maxpool1d", {{2, 3, 17}}, pool({2}, {}, {0})},
      {"maxpool1d",
       {
           {1, 2, 17},
       },
       pool({3}, {2}, {1})},
      {"maxpool1d", {{2, 16, 4119}}, pool({2}, {}, {0})},  // the redshift CNN's pooling
      {"maxpool2d", {{1, 2, 7, 9}}, pool({3, 2}, {2, 1}, {1, 0})},
      {"avgpool1d", {{1, 2, 17}}, pool({3}, {2}, {1})},
      {"avgpool1d", {{2, 2, 17}}, pool({2}, {3}, {1})},
      {"avgpool2d", {{1, 2, 5, 17}}, pool({2, 3}, {3, 2}, {1})},
  };
}

// The graph (inputs..., dy) -> d(<op(inputs), dy>)/d(inputs); with `order2`, the graph of
// the gradient of <grads, dd> w.r.t. (inputs..., dy) in turn (nested gradients).
Graph grad_graph(const GradCase& c, const std::vector<Tensor>& in, bool order2) {
  Graph g = one_op_graph(c.op, in, c.attrs);
  GraphBuilder b(g);
  int dy = add_dy_input(g, b, g.outputs[0]);
  std::vector<int> wrt(g.inputs.begin(), g.inputs.end() - 1);
  g.outputs = append_gradients(g, g.outputs[0], wrt, dy);
  if (order2) {
    std::vector<int> dds;
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      TensorType t = g.type(g.outputs[i]);
      int dd = b.op("input", {}, {{"name", fmt::format("dd{}", i)}, {"dtype", t.dtype}, {"shape", Ints(t.shape)}});
      g.inputs.push_back(dd);
      dds.push_back(dd);
    }
    std::vector<int> all(g.inputs.begin(), g.inputs.end() - long(dds.size()));
    GradOptions opts;
    opts.cut_is_error = false;  // maxpool_grad's x only selects positions: no gradient
    g.outputs = append_gradients(g, g.outputs, dds, all, opts);
  }
  name_outputs_d(g);
  return g;
}

std::string describe(const GradCase& c, bool order2, DType ft) {
  std::string s = std::string(order2 ? "grad of grad of " : "grad of ") + c.op;
  for (auto& sh : c.shapes) s += " " + type_str(TensorType{ft, sh});
  return s;
}

void run_cases(bool order2, int threads = 1, ConvAlgo algo = ConvAlgo::Auto) {
  JitOptions opts;
  opts.threads = threads;
  opts.passes.conv_algo = algo;
  JitExecutor jit(opts);
  std::set<std::string> missing;
  uint32_t seed = 100;
  for (DType ft : {DType::F32, DType::F64})
    for (const GradCase& c : cases()) {
      if (order2 && num_elements(c.shapes[0]) > 2000) continue;  // keep it quick
      std::vector<Tensor> in;
      for (auto& s : c.shapes) in.push_back(random_tensor(s, ft, seed++, -2, 2));
      Graph g = grad_graph(c, in, order2);
      for (size_t i = c.shapes.size(); i < g.inputs.size(); ++i) {
        TensorType t = g.type(g.inputs[i]);
        in.push_back(random_tensor(t.shape, ft, seed++, -2, 2));
      }
      std::string what = describe(c, order2, ft);
      auto miss = unlowered_ops(g);
      if (!miss.empty()) {
        missing.insert(miss.begin(), miss.end());
        continue;
      }
      std::vector<Tensor> ref = run_graph(g, in, {});
      std::vector<Tensor> got;
      if (!jit_run_or_fail(jit, g, in, 0, what, &got)) continue;
      ASSERT_EQ(got.size(), ref.size()) << what;
      for (size_t i = 0; i < ref.size(); ++i)
        expect_close_rms(got[i], ref[i], ft == DType::F64 ? 1e-12 : c.f32_tol, what + fmt::format(", output {}", i));
    }
  if (!missing.empty()) {
    std::string list;
    for (auto& m : missing) list += " " + m;
    GTEST_SKIP() << "some gradient graphs need ops without a lowering yet:" << list;
  }
}

TEST(JitConvGrad, GradientGraphsMatchReference) { run_cases(false); }

// The pooling gradient ops differentiated again (maxpool_grad <-> maxpool_gather,
// avgpool_grad -> avgpool), and the conv rules' own gradients.
TEST(JitConvGrad, SecondOrderGradientGraphsMatchReference) { run_cases(true); }

// The same graphs with the parallel dims of each op on OpenMP threads.
TEST(JitConvGrad, GradientGraphsOnThreadsMatchReference) { run_cases(false, 2); }

// Every stride-1 conv of the gradient graphs (and of their gradients) through the FFT
// kernels, on one thread and on two.
TEST(JitConvGrad, GradientGraphsByFftMatchReference) {
  run_cases(false, 1, ConvAlgo::Fft);
  run_cases(true, 2, ConvAlgo::Fft);
}

// Max pooling's exact rule: NaN wins and stays, ties (incl. -0 vs +0) keep the first
// element, -inf windows still pick their first element, padding never wins.
TEST(JitConvGrad, MaxPoolSpecialValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::vector<double> xv = {1, nan, 3, 2, -inf, -inf, -inf, 0.0, -0.0, 5, 5, nan, nan, 7, -0.0, 0.0, -inf, 4};
  JitExecutor jit;
  for (DType ft : {DType::F32, DType::F64})
    for (const Attrs& a : {pool({2}, {}, {0}), pool({3}, {1}, {1}), pool({3}, {2}, {1}), pool({2}, {3}, {1}),
                           pool({3}, {}, {0}), pool({2}, {3}, {0})}) {
      Tensor x = Tensor::from_vector(ft, {1, 1, int64_t(xv.size())}, xv);
      Graph fwd = one_op_graph("maxpool1d", {x}, a);
      Shape ys = fwd.type(fwd.outputs[0]).shape;
      Tensor dy = random_tensor(ys, ft, 7, -2, 2), v = random_tensor(x.shape(), ft, 8, -2, 2);
      std::vector<std::pair<std::string, std::vector<Tensor>>> runs = {
          {"maxpool1d", {x}}, {"maxpool1d_grad", {x, dy}}, {"maxpool1d_gather", {x, v}}};
      for (auto& [op, in] : runs) {
        Graph g = one_op_graph(op, in, a);
        std::string what = fmt::format("{} {} {}", op, type_str(TensorType{ft, {}}), attr_ints(a, "kernel")[0]);
        std::vector<Tensor> ref = run_graph(g, in, {}), got = jit.run(g, in, {}, 0);
        expect_close_rms(got[0], ref[0], 1e-6, what);
        for (int64_t i = 0; i < ref[0].size(); ++i)  // signed zeros too
          if (ref[0].get(i) == 0) EXPECT_EQ(std::signbit(got[0].get(i)), std::signbit(ref[0].get(i))) << what << i;
      }
    }
}

// Run time of the redshift CNN's first layer (conv1d, x [2,1,4618], w [16,1,500], f32):
// JIT (compiled once, best of 5) vs the reference kernel. Informational.
TEST(JitConvGrad, DISABLED_RedshiftConv1dTiming) {
  using Clock = std::chrono::steady_clock;
  Tensor x = random_tensor({2, 1, 4618}, DType::F32, 1, -1, 1), w = random_tensor({16, 1, 500}, DType::F32, 2, -1, 1);
  Graph g = one_op_graph("conv1d", {x, w}, conv({1}, {0}, {1}));
  JitExecutor jit;
  jit.run(g, {x, w}, {}, 0);
  double best_jit = 1e9, best_ref = 1e9;
  for (int i = 0; i < 5; ++i) {
    jit.run(g, {x, w}, {}, 0);
    best_jit = std::min(best_jit, jit.last_stats().run);
    auto t0 = Clock::now();
    run_graph(g, {x, w}, {});
    best_ref = std::min(best_ref, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::printf("redshift conv1d layer 1 (f32, batch 2): jit %.2f ms, reference %.2f ms\n", best_jit * 1e3,
              best_ref * 1e3);
}

}  // namespace
}  // namespace starc::test
