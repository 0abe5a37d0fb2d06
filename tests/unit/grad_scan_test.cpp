// Gradients through `scan` (recurrence): finite differences over whole recurrent models
// written in the language, w.r.t. the sequence, the initial carries and the captured
// parameters.
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

TEST(GradScan, SecondOrderThroughScanIsAClearError) {
  Graph g = compile(with_reverse(false), "Rnn");
  int x = g.inputs[0];
  GraphBuilder b(g);
  int loss = b.sum(g.outputs[0], {}, false);
  int dx = append_gradients(g, loss, {x})[0];
  int loss2 = b.sum(b.mul(dx, dx), {}, false);
  expect_error([&] { append_gradients(g, loss2, {x}); }, {"scan", "not supported"});
}

}  // namespace
}  // namespace starc::test
