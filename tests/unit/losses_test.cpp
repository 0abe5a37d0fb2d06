// std.losses against PyTorch 1.13 (torch.nn.functional, float64). The expected numbers
// were produced once, offline, with /usr/bin/python3 on the same inputs:
//   X = [[0.5,-1,2],[1.5,0.25,-0.75]], y = [2,0], T = [[0.2,0.7,0.1],[0.9,0,0.4]]
//   cross_entropy(X,y), mse_loss(X,T), l1_loss(X,T), binary_cross_entropy_with_logits(X,T),
//   ... with pos_weight=3, the Gaussian KL (-0.5*(1+T-X^2-e^T)).sum(1).mean(),
//   soft CE -(T*log_softmax(X,1)).sum(1).mean(). The hinge loss is checked against its formula below.
#include <gtest/gtest.h>

#include "dsl/program.h"
#include "runtime/interpreter.h"

using namespace starc;

TEST(Losses, MatchPyTorch) {
  const char* src = R"(use std.losses
model L(x: f64[B, 3], y: i64[B], t: f64[B, 3]) -> (a: f64[], b: f64[], c: f64[], d: f64[], e: f64[], f: f64[], g: f64[], h: f64[]) {
    let pm = t * 2.0 - 1.0
    return (cross_entropy(x, y), mse(x, t), mae(x, t), bce_with_logits(x, t), bce_with_logits(x, t, pos_weight: 3.0),
            kl_normal(x, t), hinge(x, pm, weight_pos: 2.0, weight_neg: 0.5),
            soft_cross_entropy(x, t))
}
)";
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  ASSERT_TRUE(prog.load_text(STARC_SOURCE_DIR "/tests/unit/losses_inline.net", src)) << diags.format_all();
  auto g = prog.build("L");
  ASSERT_TRUE(g) << diags.format_all();
  Tensor x = Tensor::from_vector(DType::F64, {2, 3}, {0.5, -1.0, 2.0, 1.5, 0.25, -0.75});
  Tensor y = Tensor::from_vector(DType::I64, {2}, {2, 0});
  Tensor t = Tensor::from_vector(DType::F64, {2, 3}, {0.2, 0.7, 0.1, 0.9, 0.0, 0.4});
  std::vector<Tensor> out = run_graph(*g, {x, y, t}, {});
  // Hinge with labels 2T-1 in [-1, 1]: mean(w_sign * max(0, 1 - label * x)).
  double hinge = 0;
  double tv[6] = {0.2, 0.7, 0.1, 0.9, 0.0, 0.4}, xv[6] = {0.5, -1.0, 2.0, 1.5, 0.25, -0.75};
  for (int i = 0; i < 6; ++i) {
    double lab = 2 * tv[i] - 1;
    hinge += (lab > 0 ? 2.0 : 0.5) * std::max(0.0, 1 - lab * xv[i]) / 6;
  }
  std::vector<double> want = {0.28599195303219055,
                              1.3891666666666664,
                              0.9833333333333333,
                              0.9464150644529664,
                              1.5006856417308037,
                              2.2791885481261285,
                              hinge,
                              1.9855928444432742};
  ASSERT_EQ(out.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out[i].get(0), want[i], 1e-12) << g->output_names[i];
}
