// Gradients through `scan` (recurrence): finite differences over whole recurrent models
// written in the language, w.r.t. the sequence, the initial carries and the captured
// parameters; through final carries; and second-order gradients (a gradient penalty
// through an RNN, std.nn's lstm and gru).
#include <fmt/format.h>

#include "compiler/autodiff/autodiff.h"
#include "dsl/program.h"
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/init.h"

namespace starc::test {
namespace {

std::string with_reverse(bool rev) {
  std::string s = kRnn;
  s.replace(s.find("REV"), 3, rev ? "true" : "false");
  return s;
}

TEST(GradScan, RecurrenceForwardAndReverse) {
  for (bool rev : {false, true}) {
    Graph g = compile(with_reverse(rev), "Rnn");
    TensorMap params = init_params(g, 7);
    expect_gradcheck(g, {random_tensor({2, 5, 3}, DType::F64, 1), random_tensor({2, 3}, DType::F64, 2)}, params, 1e-6,
                     0, rev ? "reverse rnn" : "rnn");
  }
}

TEST(GradScan, ScanAxisZeroAndTwoSequencesOfGradients) {
  // Scan over axis 0 with a scalar-free carry; the gradient graph itself holds a
  // multi-sequence reverse scan.
  Graph g = compile(R"(
model S(x: f64[4, 2, 3]) -> f64[4, 2, 3] {
    param w: f64[2, 3] = normal
    return scan(|h, x_t| (sin(h + x_t * w), h * x_t), x, zeros([2, 3], dtype: f64), axis: 0)
}
)",
                    "S");
  expect_gradcheck(g, {random_tensor({4, 2, 3}, DType::F64, 3)}, init_params(g, 3));
}

// A graph whose output is sum(dx * dx * c) for dx = d sum(g's output * w)/d x, so that
// gradcheck differentiates a gradient (second order); w and c are two more inputs, so
// that no seed is symmetric.
Graph grad_penalty(Graph g) {
  GraphBuilder b(g);
  int x = g.inputs[0];
  int y = g.outputs[0];
  int w = add_dy_input(g, b, y);
  int dx = append_gradients(g, b.sum(b.mul(y, w), {}, false), {x})[0];
  int c = add_dy_input(g, b, x);
  int dxc = b.mul(dx, c);
  g.outputs = {b.sum(b.mul(dxc, dx), {}, false)};
  g.output_names = {"penalty"};
  return g;
}

TEST(GradScan, SecondOrderThroughAScanMatchesFiniteDifferences) {
  // The reverse scan of the gradient reads the forward scan's saved carries and leaves
  // the captures' gradients in its final carries: both are differentiated here.
  for (bool rev : {false, true}) {
    Graph g = grad_penalty(compile(with_reverse(rev), "Rnn"));
    expect_gradcheck(g,
                     {random_tensor({2, 5, 3}, DType::F64, 1), random_tensor({2, 3}, DType::F64, 2),
                      random_tensor({2, 5, 3}, DType::F64, 3), random_tensor({2, 5, 3}, DType::F64, 4)},
                     init_params(g, 7), 1e-6, 0, rev ? "grad of grad, reverse rnn" : "grad of grad, rnn");
  }
}

TEST(GradScan, FinalCarriesHaveGradients) {
  // A scan's final carries (scan_result) used beside its step outputs.
  Graph g = compile(with_reverse(false), "Rnn");
  GraphBuilder b(g);
  int scan = g.outputs[0];
  ASSERT_EQ(g.node(scan).op->name, "scan");
  Ints carry_shape(g.type(g.inputs[1]).shape);
  int h_n = b.op("scan_result", {scan}, {{"index", int64_t(1)}, {"dtype", DType::F64}, {"shape", carry_shape}});
  int c_n = b.op("scan_result", {scan}, {{"index", int64_t(2)}, {"dtype", DType::F64}, {"shape", carry_shape}});
  int hc = b.mul(h_n, b.op("tanh", {c_n}));
  g.outputs = {b.add(b.sum(scan, {}, false), b.sum(hc, {}, false))};
  expect_gradcheck(g, {random_tensor({2, 5, 3}, DType::F64, 3), random_tensor({2, 3}, DType::F64, 4)},
                   init_params(g, 5), 1e-6, 0, "final carries");
}

// A gradient penalty through std.nn's recurrent layers, written in the language (grad of
// a model whose output holds a gradient), against finite differences in f64.
TEST(GradScan, GradOfGradOfLstmAndGru) {
  for (const char* layer : {"lstm(x, 3)", "gru(x, 3, reverse: true)", "lstm(x, 2, num_layers: 2)"}) {
    std::string src = fmt::format(R"(
use std.nn
model P(x: f64[2, 4, 3]) -> f64[2, 4, 3] {{
    return grad(sum(square({})), wrt: x)
}}
)",
                                  layer);
    Graph g = compile(src, "P");
    TensorMap params = init_params(g, 9);
    for (auto& [name, t] : params)  // non-zero biases, so that no gradient vanishes by symmetry
      for (int64_t i = 0; i < t.size(); ++i) t.set(i, t.get(i) + 0.1 * std::sin(1.3 * double(i) + 0.7));
    expect_gradcheck(g, {random_tensor({2, 4, 3}, DType::F64, 6)}, params, 1e-6, 0, layer);
  }
}

}  // namespace
}  // namespace starc::test
