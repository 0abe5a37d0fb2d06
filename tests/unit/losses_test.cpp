// std.losses against PyTorch 1.13 (torch.nn.functional, float64). The expected numbers
// were produced once, offline, with /usr/bin/python3 on the same inputs:
//   X = [[0.5,-1,2],[1.5,0.25,-0.75]], y = [2,0], T = [[0.2,0.7,0.1],[0.9,0,0.4]]
//   cross_entropy(X,y), mse_loss(X,T), l1_loss(X,T), binary_cross_entropy_with_logits(X,T),
//   ... with pos_weight=3, the Gaussian KL (-0.5*(1+T-X^2-e^T)).sum(1).mean(),
//   soft CE -(T*log_softmax(X,1)).sum(1).mean(). The hinge loss is checked against its formula below.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "compiler/autodiff/autodiff.h"
#include "compiler/ops/index.h"
#include "dsl/program.h"
#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"

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

// ---- torch.nn.functional's options (issue 31): ignore_index, label_smoothing, weights,
// reduction, pos_weight per class, huber, smooth_l1, gaussian_nll. The numbers come from
// PyTorch 1.13 in float64 (/usr/bin/python3), e.g. for ce_w_ls:
//   X = tensor(kX).reshape(6, 3).requires_grad_(); y = tensor([2, -100, 1, 0, -100, 1])
//   out = F.cross_entropy(X, y, weight=tensor([1., 3., .5]), label_smoothing=0.1)
//   out.sum().backward(); X.grad
// ("none" losses are differentiated as their sum.)

namespace {

const std::vector<double> kX = {0.5, -1.0, 2.0, 1.5, 0.25, -0.75, -0.3, 0.8, 0.1,
                                2.2, -1.4, 0.6, 0.0, 0.9,  -2.1,  1.1,  1.2, -0.4};
const std::vector<double> kY = {2, -100, 1, 0, -100, 1};  // two labels ignored

struct LossRun {
  std::vector<double> value, dx;  // the loss (flattened) and d sum(loss) / d x
};

// Builds `model L(x: ..., ...) -> ... { return EXPR }` with std.losses and runs it on the
// reference interpreter (and, with jit, the JIT too, which must agree to 1e-12).
LossRun run_loss(const std::string& header, const std::string& expr, const std::vector<Tensor>& in, bool jit = false) {
  std::string src = "use std.losses\nmodel L(" + header + " {\n    return " + expr + "\n}\n";
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  EXPECT_TRUE(prog.load_text(STARC_SOURCE_DIR "/tests/unit/losses_inline.net", src)) << diags.format_all();
  auto g = prog.build("L");
  if (!g) {
    ADD_FAILURE() << diags.format_all();
    return {};
  }
  int y = g->outputs[0];
  g->outputs.push_back(append_gradients(*g, y, {g->inputs[0]})[0]);
  g->output_names.push_back("dx");
  std::vector<Tensor> out = run_graph(*g, in, {});
  if (jit) {
    JitExecutor ex;
    std::vector<Tensor> got = ex.run(*g, in, {}, 0);
    for (size_t k = 0; k < out.size(); ++k)
      for (int64_t i = 0; i < out[k].size(); ++i)
        EXPECT_NEAR(got[k].get(i), out[k].get(i), 1e-12) << expr << " output " << k << " at " << i;
  }
  LossRun r;
  for (int64_t i = 0; i < out[0].size(); ++i) r.value.push_back(out[0].get(i));
  for (int64_t i = 0; i < out[1].size(); ++i) r.dx.push_back(out[1].get(i));
  return r;
}

void expect_all_near(const std::vector<double>& got, const std::vector<double>& want, const std::string& what,
                     double tol = 1e-12) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::abs(want[i]))) << what << " at " << i;
}

LossRun ce(const std::string& args, bool jit = false) {
  Tensor x = Tensor::from_vector(DType::F64, {6, 3}, kX), y = Tensor::from_vector(DType::I64, {6}, kY);
  std::string out = args.find("\"none\"") != std::string::npos ? "f64[6]" : "f64[]";
  return run_loss("x: f64[6, 3], y: i64[6]) -> " + out, "cross_entropy(x, y" + args + ")", {x, y}, jit);
}

}  // namespace

// Two of six labels are -100: they count neither in the sum nor in the denominator.
TEST(Losses, CrossEntropyIgnoresLabelsAsPyTorch) {
  LossRun r = ce("", true);
  expect_all_near(r.value, {0.44921225787429925}, "ce");
  expect_all_near(r.dx,
                  {0.04382259803500917, 0.009778143317671862, -0.05360074135268103, 0, 0, 0, 0.04548770415823756,
                   -0.11334738466049585, 0.0678596805022583, -0.046619033941292604, 0.005557125067650349,
                   0.041061908873642215, 0, 0, 0, 0.10737442950921482, -0.13133290316145219, 0.02395847365223739},
                  "d ce");
  // ignore_index inside [0, C): class 0's labels are ignored (nll of log_softmax).
  Tensor x = Tensor::from_vector(DType::F64, {6, 3}, kX);
  Tensor y0 = Tensor::from_vector(DType::I64, {6}, {0, 1, 0, 2, 2, 0});
  LossRun n =
      run_loss("x: f64[6, 3], y: i64[6]) -> f64[]", "nll(log_softmax(x, axis: 1), y, ignore_index: 0)", {x, y0});
  expect_all_near(n.value, {2.2543301840780208}, "nll ignore_index 0");
  expect_all_near(n.dx,
                  {0, 0, 0, 0.23948011371702163, -0.2647211320007828, 0.02524101828376117, 0, 0, 0, 0.27117462141160986,
                   0.0074095000902004654, -0.2785841215018104, 0.09305633523563456, 0.22888165165843083,
                   -0.3219379868940654, 0, 0, 0},
                  "d nll ignore_index 0");
}

// Class weights [1, 3, 0.5] (a list, or the same as a tensor) with label smoothing 0.1,
// "mean" (weighted denominator) and "sum"; "none" with weights; smoothing 0.2 "none".
TEST(Losses, CrossEntropyWeightsSmoothingAndReductionsAsPyTorch) {
  LossRun m = ce(", weight: [1.0, 3.0, 0.5], label_smoothing: 0.1", true);
  expect_all_near(m.value, {0.6695447054403006}, "ce weights smoothing mean");
  expect_all_near(m.dx,
                  {0.009578786926758492, -0.010204327471678336, 0.0006255405449198441, 0, 0, 0, 0.06469686587607665,
                   -0.16562135801728703, 0.1009244921412104, -0.010551103451568325, -0.010221343295449136,
                   0.020772446747017417, 0, 0, 0, 0.15876468840956207, -0.19295934613874066, 0.03419465772917861},
                  "d ce weights smoothing mean");
  LossRun t = ce(", weight: tensor([1.0, 3.0, 0.5], dtype: f64), label_smoothing: 0.1");
  expect_all_near(t.value, m.value, "a tensor of weights");
  LossRun s = ce(", weight: [1.0, 3.0, 0.5], label_smoothing: 0.1, reduction: \"sum\"");
  expect_all_near(s.value, {5.021585290802255}, "ce sum");
  expect_all_near(s.dx,
                  {0.07184090195068868, -0.07653245603758754, 0.004691554086898835, 0, 0, 0, 0.48522649407057483,
                   -1.2421601851296529, 0.7569336910590779, -0.07913327588676225, -0.07666007471586854,
                   0.15579335060263064, 0, 0, 0, 1.1907351630717156, -1.447195096040555, 0.25645993296883957},
                  "d ce sum");
  LossRun n = ce(", weight: [1.0, 3.0, 0.5], reduction: \"none\"", true);
  expect_all_near(n.value, {0.12065564832857852, 0, 1.8120566001203362, 0.20638001749230742, 0, 2.235416551922861},
                  "ce none");
  expect_all_near(n.dx,
                  {0.08764519607001835, 0.019556286635343725, -0.10720148270536206, 0, 0, 0, 0.5458524498988507,
                   -1.36016861592595, 0.8143161660270996, -0.18647613576517041, 0.022228500270601397,
                   0.16424763549456886, 0, 0, 0, 1.2884931541105777, -1.575994837937426, 0.2875016838268487},
                  "d ce none");
  LossRun ls = ce(", label_smoothing: 0.2, reduction: \"none\"");
  expect_all_near(ls.value, {0.541311296657157, 0, 0.7240188667067787, 0.5530466841589742, 0, 0.8584721839742872},
                  "ce smoothing none");
  expect_all_near(ls.dx,
                  {0.10862372547337003, -0.027554093395979216, -0.08106963207739082, 0, 0, 0, 0.11528414996628357,
                   -0.3200562053086501, 0.20477205534236653, -0.05314280243183711, -0.044438166396065265,
                   0.0975809688279022, 0, 0, 0, 0.3628310513701926, -0.3919982793124754, 0.029167227942282895},
                  "d ce smoothing none");
}

// A label outside [0, C) that is not ignore_index: an error naming the input and the
// element on both executors (PyTorch: "Target 3 is out of bounds"), before the run.
TEST(Losses, LabelOutOfRangeIsAnError) {
  for (bool jit : {false, true}) {
    SourceManager sm;
    DiagEngine diags(sm);
    Program prog(diags);
    ASSERT_TRUE(prog.load_text(STARC_SOURCE_DIR "/tests/unit/losses_inline.net",
                               "use std.losses\nmodel L(x: f64[B, 3], labels: i64[B]) -> f64[] {\n"
                               "    return cross_entropy(x, labels)\n}\n"))
        << diags.format_all();
    auto g = prog.build("L");
    ASSERT_TRUE(g) << diags.format_all();
    Tensor x = Tensor::from_vector(DType::F64, {4, 3}, std::vector<double>(12, 0.5));
    for (double bad : {3.0, -1.0}) {
      Tensor y = Tensor::from_vector(DType::I64, {4}, {0, -100, bad, 1});
      try {
        if (jit)
          JitExecutor().run(*g, {x, y}, {}, 0);
        else
          run_graph(*g, {x, y}, {});
        ADD_FAILURE() << "no error for label " << bad;
      } catch (const IndexError& e) {
        EXPECT_NE(std::string(e.what()).find(
                      fmt::format("input 'labels': element [2] is {}, outside [0, 3) or -100", int64_t(bad))),
                  std::string::npos)
            << e.what();
      }
    }
  }
}

// pos_weight per class as a list and as a tensor (broadcast along the last axis).
TEST(Losses, BceWithLogitsPosWeightPerClassAsPyTorch) {
  Tensor x = Tensor::from_vector(DType::F64, {2, 3}, {0.5, -1.0, 2.0, 1.5, 0.25, -0.75});
  Tensor t = Tensor::from_vector(DType::F64, {2, 3}, {0.2, 0.7, 0.1, 0.9, 0.0, 0.4});
  const std::string h = "x: f64[2, 3], t: f64[2, 3]) -> ";
  LossRun m = run_loss(h + "f64[]", "bce_with_logits(x, t, pos_weight: [3.0, 0.5, 2.0])", {x, t}, true);
  expect_all_near(m.value, {1.0397441156129457}, "bce pos_weight");
  expect_all_near(m.dx,
                  {0.04524051061376607, -0.029198012684917188, 0.12814613096261174, -0.06846524444296631,
                   0.09369608348096635, -0.05847502980759171},
                  "d bce pos_weight");
  LossRun n =
      run_loss(h + "f64[2, 3]",
               "bce_with_logits(x, t, pos_weight: tensor([3.0, 0.5, 2.0], dtype: f64), reduction: \"none\")", {x, t});
  expect_all_near(n.value,
                  {1.0637077778521493, 0.5536200968868448, 1.93962081214727, 0.7139571783517069, 0.8259394198788437,
                   1.1416194085608597},
                  "bce none");
}

TEST(Losses, HuberAndSmoothL1AsPyTorch) {
  Tensor x = Tensor::from_vector(DType::F64, {2, 3}, {0.5, -1.0, 2.0, 1.5, 0.25, -0.75});
  Tensor t = Tensor::from_vector(DType::F64, {2, 3}, {0.2, 0.7, 0.1, 0.9, 0.0, 0.4});
  const std::string h = "x: f64[2, 3], t: f64[2, 3]) -> f64[]";
  struct Case {
    std::string expr;
    double value;
    std::vector<double> dx;
  };
  const double s = 1.0 / 6, s12 = 1.0 / 12;
  for (const Case& c : std::vector<Case>{
           {"huber(x, t, delta: 0.5)", 0.3752083333333333, {0.3 / 6, -0.5 / 6, 0.5 / 6, 0.5 / 6, 0.25 / 6, -0.5 / 6}},
           {"huber(x, t, delta: 1.5, reduction: \"sum\")", 4.067499999999999, {0.3, -1.5, 1.5, 0.6, 0.25, -1.15}},
           {"smooth_l1(x, t, beta: 0.5)", 0.7504166666666666, {0.6 * s, -s, s, s, s12, -s}},
           {"smooth_l1(x, t, beta: 0.0, reduction: \"sum\")", 5.8999999999999995, {1, -1, 1, 1, 1, -1}}}) {
    LossRun r = run_loss(h, c.expr, {x, t}, true);
    expect_all_near(r.value, {c.value}, c.expr);
    expect_all_near(r.dx, c.dx, "d " + c.expr);
  }
}

// F.gaussian_nll_loss(X, T, V) with V = [[0.5, 1e-8, 2], [0.1, 3, 0.7]]: 1e-8 is clamped
// to eps. The gradient with respect to the mean (x) is PyTorch's.
TEST(Losses, GaussianNllAsPyTorch) {
  Tensor x = Tensor::from_vector(DType::F64, {2, 3}, {0.5, -1.0, 2.0, 1.5, 0.25, -0.75});
  Tensor t = Tensor::from_vector(DType::F64, {2, 3}, {0.2, 0.7, 0.1, 0.9, 0.0, 0.4});
  Tensor v = Tensor::from_vector(DType::F64, {2, 3}, {0.5, 1e-8, 2.0, 0.1, 3.0, 0.7});
  const std::string h = "x: f64[2, 3], t: f64[2, 3], v: f64[2, 3]) -> ";
  LossRun m = run_loss(h + "f64[]", "gaussian_nll(x, t, v)", {x, t, v}, true);
  expect_all_near(m.value, {240832.6765800618}, "gaussian_nll");
  expect_all_near(m.dx,
                  {0.09999999999999999, -283333.3333333333, 0.15833333333333333, 0.9999999999999999,
                   0.013888888888888888, -0.2738095238095238},
                  "d gaussian_nll");
  LossRun f = run_loss(h + "f64[2, 3]", "gaussian_nll(x, t, v, full: true, eps: 1e-3, reduction: \"none\")", {x, t, v});
  expect_all_near(f.value,
                  {0.6623649429247, 1442.4650608937134, 2.1680121234846452, 1.5676459867076498, 1.4786613442053942,
                   1.6852439183781636},
                  "gaussian_nll full none");
  expect_all_near(f.dx, {0.6, -1700.0, 0.95, 6.0, 0.08333333333333333, -1.6428571428571428}, "d gaussian_nll full");
  // One variance per sample ([N], as torch's var of one dim fewer).
  Tensor v1 = Tensor::from_vector(DType::F64, {2}, {0.5, 2.0});
  LossRun p = run_loss("x: f64[2, 3], t: f64[2, 3], v: f64[2]) -> f64[]", "gaussian_nll(x, t, v)", {x, t, v1});
  expect_all_near(p.value, {1.1710416666666668}, "gaussian_nll per-sample var");
}
