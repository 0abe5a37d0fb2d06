// Training, front-end side: `train` blocks (parsing, elaboration, errors at file:line:col),
// the `grad` builtin (closed forms, nested grad, finite differences), `assign` for state
// buffers (batch-norm running statistics), the optimizers against PyTorch (torch.optim,
// three updates on small tensors), learning-rate schedules, and a small MLP trained on
// the reference interpreter until its loss is low.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "compiler/train/optimizers.h"
#include "compiler/ir/text.h"
#include "dsl/program.h"
#include "runtime/gradcheck.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "tests/unit/op_test_util.h"
#include "tests/unit/shell_util.h"

namespace fs = std::filesystem;

namespace starc {
namespace {

using test::param;
using test::param_names;
using test::T;

const char* kPath = STARC_SOURCE_DIR "/tests/unit/train_inline.net";

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE(std::string(hay).find(needle), std::string::npos) << "in: " << (hay)

struct Compiled {
  SourceManager sm;
  DiagEngine diags{sm};
  Program prog{diags};
};

TrainPlan train_plan(const std::string& src, const std::string& model) {
  Compiled c;
  std::optional<TrainPlan> plan;
  if (c.prog.load_text(kPath, src)) plan = c.prog.build_train(model);
  if (!plan) throw std::runtime_error("build_train failed:\n" + c.diags.format_all());
  return std::move(*plan);
}

Graph compile(const std::string& src, const std::string& model, bool training = false) {
  Compiled c;
  std::optional<Graph> g;
  if (c.prog.load_text(kPath, src)) g = c.prog.build(model, BuildOptions{training});
  if (!g) throw std::runtime_error("compile failed:\n" + c.diags.format_all());
  return std::move(*g);
}

// The diagnostics of a program whose train plan (or loading) must fail.
std::string train_error(const std::string& src, const std::string& model) {
  Compiled c;
  if (c.prog.load_text(kPath, src) && c.prog.build_train(model)) return "<no error>";
  return c.diags.format_all();
}

// Like train_error, through check_all (as `starc check` does).
std::string check_error(const std::string& src) {
  Compiled c;
  if (c.prog.load_text(kPath, src) && c.prog.check_all()) return "<no error>";
  return c.diags.format_all();
}

std::vector<std::string> input_names(const Graph& g) {
  std::vector<std::string> out;
  for (size_t i = 0; i < g.inputs.size(); ++i) out.push_back(g.input_name(int(i)));
  return out;
}

// Runs one step graph: data inputs, then lr and step; returns outputs by name.
TensorMap run_step(const TrainStepGraph& s, std::vector<Tensor> data, const TensorMap& params, double lr, int64_t step,
                   DType ft = DType::F32) {
  data.push_back(Tensor::scalar(ft, lr));
  data.push_back(Tensor::scalar(ft, double(step)));
  std::vector<Tensor> out = run_graph(s.graph, data, params);
  TensorMap m;
  for (size_t i = 0; i < out.size(); ++i) m[s.graph.output_names[i]] = out[i];
  return m;
}

// Feeds the outputs named like params back into the params.
void write_back(TensorMap& params, const TensorMap& outs) {
  for (auto& [k, v] : outs)
    if (params.count(k)) params[k] = v;
}

// ------------------------------------------------------------------ train blocks

const char* kRegression = R"(use std.nn
use std.losses

model Reg(x: f32[B, 2]) -> f32[B, 1] {
    return x |> dense(8) |> tanh |> dense(1)
}

train Reg(y: f32[B, 1]) {
    loss = mse(output, y)
    optimizer = sgd(lr: 0.1, momentum: 0.9)
    schedule = cosine(warmup: 10, min_lr: 0.001)
    metric("mae", mae(output, y))
}
)";

TEST(TrainBlock, StepGraphFollowsThePlanInterface) {
  TrainPlan plan = train_plan(kRegression, "Reg");
  EXPECT_EQ(plan.model, "Reg");
  ASSERT_EQ(plan.steps.size(), 1u);
  const TrainStepGraph& s = plan.steps[0];
  EXPECT_EQ(s.name, "train");
  EXPECT_EQ(s.data_inputs, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(input_names(s.graph), (std::vector<std::string>{"x", "y", "lr", "step"}));
  EXPECT_EQ(s.graph.type(s.graph.inputs[2]), (TensorType{DType::F32, {}}));
  EXPECT_EQ(s.n_metrics, 1);
  EXPECT_EQ(
      s.graph.output_names,
      (std::vector<std::string>{"loss", "mae", "dense0.weight", "opt.momentum_buffer.dense0.weight", "dense0.bias",
                                "opt.momentum_buffer.dense0.bias", "dense1.weight", "opt.momentum_buffer.dense1.weight",
                                "dense1.bias", "opt.momentum_buffer.dense1.bias"}));
  // Every output after the metrics replaces a param of the same type.
  for (size_t i = 2; i < s.graph.outputs.size(); ++i) {
    const Node& p = param(s.graph, s.graph.output_names[i]);
    EXPECT_EQ(s.graph.type(s.graph.outputs[i]), p.type) << s.graph.output_names[i];
  }
  const Node& slot = param(s.graph, "opt.momentum_buffer.dense0.weight");
  EXPECT_FALSE(attr_bool(slot.attrs, "trainable"));
  EXPECT_EQ(attr_str(slot.attrs, "init"), "zeros");
  EXPECT_EQ(s.schedule.kind, Schedule::Kind::Cosine);
  EXPECT_DOUBLE_EQ(s.schedule.base_lr, 0.1);
  EXPECT_EQ(s.schedule.warmup_steps, 10);
  EXPECT_DOUBLE_EQ(s.schedule.min_lr, 0.001);
  EXPECT_NO_THROW(verify_graph(s.graph));
  // Eval: the data inputs only, loss and metrics, no slots.
  EXPECT_EQ(input_names(plan.eval), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(plan.eval.output_names, (std::vector<std::string>{"loss", "mae"}));
  EXPECT_EQ(plan.metric_names, (std::vector<std::string>{"mae"}));
  EXPECT_EQ(param_names(plan.eval),
            (std::vector<std::string>{"dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"}));
  EXPECT_NO_THROW(verify_graph(plan.eval));
}

TEST(TrainBlock, SameParamNamesAsTheInferenceModel) {
  TrainPlan plan = train_plan(kRegression, "Reg");
  Graph inf = compile(kRegression, "Reg");
  std::vector<std::string> trained;
  for (auto& n : param_names(plan.steps[0].graph))
    if (n.rfind("opt.", 0) != 0) trained.push_back(n);
  EXPECT_EQ(trained, param_names(inf));
}

TEST(TrainBlock, DefaultsAreAdamAndConstant) {
  TrainPlan plan = train_plan(R"(use std.nn
model M(x: f32[B, 3]) -> f32[B, 1] { return dense(x, 1) }
train M(t: f32[B, 1]) { loss = mean(square(output - t)) }
)",
                              "M");
  const TrainStepGraph& s = plan.steps[0];
  EXPECT_EQ(s.schedule.kind, Schedule::Kind::Constant);
  EXPECT_DOUBLE_EQ(s.schedule.base_lr, 1e-3);
  EXPECT_EQ(s.graph.output_names, (std::vector<std::string>{"loss", "dense0.weight", "opt.exp_avg.dense0.weight",
                                                            "opt.exp_avg_sq.dense0.weight", "dense0.bias",
                                                            "opt.exp_avg.dense0.bias", "opt.exp_avg_sq.dense0.bias"}));
  EXPECT_TRUE(plan.metric_names.empty());
}

TEST(TrainBlock, ParsesAndPrintsNamedSteps) {
  const char* src = R"(use std.nn
fn make_critic() {
    param w: [2] = ones
    return |v| sum(v * reshape(w, [1, 2]), axes: [1])
}
model G(z: f32[B, 4]) -> f32[B, 2] { return dense(z, 2) as gen }
train G(real: f32[B, 2]) {
    let critic = make_critic() as critic
    optimizer = adam(lr: 2e-4, beta1: 0.5)
    step disc(params: "critic.") { loss = mean(critic(output)) - mean(critic(real)) }
    step gen(params: ["gen."]) { loss = -mean(critic(output)); optimizer = sgd(lr: 0.01) }
}
)";
  Compiled c;
  ASSERT_TRUE(c.prog.load_text(kPath, src)) << c.diags.format_all();
  ASSERT_EQ(c.prog.modules()[0].trains.size(), 1u);
  const TrainDecl& td = *c.prog.modules()[0].trains[0];
  EXPECT_EQ(td.model, "G");
  ASSERT_EQ(td.steps.size(), 2u);
  EXPECT_EQ(td.steps[0].name, "disc");
  EXPECT_EQ(td.steps[1].name, "gen");
  EXPECT_EQ(td.body.size(), 2u);
  EXPECT_EQ(c.prog.trained_models(), (std::vector<std::string>{"G"}));
  auto plan = c.prog.build_train("G");
  ASSERT_TRUE(plan) << c.diags.format_all();
  ASSERT_EQ(plan->steps.size(), 2u);
  const TrainStepGraph& d = plan->steps[0];
  const TrainStepGraph& g = plan->steps[1];
  EXPECT_EQ(d.name, "disc");
  EXPECT_EQ(d.graph.output_names,
            (std::vector<std::string>{"loss", "critic.w", "opt.exp_avg.critic.w", "opt.exp_avg_sq.critic.w"}));
  // The generator step trains gen.* with its own optimizer (sgd without momentum: no slots).
  EXPECT_EQ(g.graph.output_names, (std::vector<std::string>{"loss", "gen.weight", "gen.bias"}));
  EXPECT_DOUBLE_EQ(d.schedule.base_lr, 2e-4);
  EXPECT_DOUBLE_EQ(g.schedule.base_lr, 0.01);
  EXPECT_EQ(d.data_inputs, (std::vector<std::string>{"z", "real"}));
  EXPECT_EQ(plan->eval.output_names, (std::vector<std::string>{"loss"}));
}

// ------------------------------------------------------------------ errors

// (line, col), 1-based, of the n-th occurrence of `needle` in `src`.
std::pair<int, int> loc_of(const std::string& src, const std::string& needle, int n = 0) {
  size_t at = src.find(needle);
  for (int i = 0; i < n && at != std::string::npos; ++i) at = src.find(needle, at + 1);
  if (at == std::string::npos) throw std::runtime_error("test bug: no '" + needle + "' in the source");
  int line = 1, col = 1;
  for (size_t i = 0; i < at; ++i) {
    if (src[i] == '\n')
      ++line, col = 1;
    else
      ++col;
  }
  return {line, col};
}

// The diagnostics must hold an error at the location of `needle` whose message contains `msg`.
void expect_error_at(const std::string& diags, const std::string& src, const std::string& needle,
                     const std::string& msg, int occurrence = 0) {
  auto [line, col] = loc_of(src, needle, occurrence);
  std::string head = fmt::format("train_inline.net:{}:{}: error: ", line, col);
  size_t at = diags.find(head);
  ASSERT_NE(at, std::string::npos) << "no error at " << line << ":" << col << " ('" << needle << "'); got:\n" << diags;
  std::string first_line = diags.substr(at, diags.find('\n', at) - at);
  EXPECT_CONTAINS(first_line, msg);
}

const char* kModel = R"(use std.nn
use std.losses
model M(x: f32[B, 3]) -> f32[B, 2] {
    return x |> dense(4) |> relu |> dense(2)
}
)";

struct ErrorCase {
  std::string body;    // the train block (appended to kModel)
  std::string needle;  // where the error must point
  std::string msg;
  int occurrence = 0;  // of the needle in the whole source
};

TEST(TrainErrors, ReportedAtTheirSourceLocation) {
  std::vector<ErrorCase> cases = {
      {"train M(t: f32[B, 2]) {\n    optimizer = adam(lr: 0.1)\n}\n", "M(t", "the train block of 'M' has no loss"},
      {"train M(t: f32[B, 2]) {\n    loss = square(output - t)\n}\n", "square(output",
       "loss must be a scalar float tensor (f32[]), got f32[B,2]"},
      {"train M(t: f32[B, 2]) {\n    loss = 3\n}\n", "3\n}", "loss must be a scalar float tensor, got int 3"},
      {"train M(t: i64[B]) {\n    loss = sum(t)\n}\n", "sum(t)",
       "loss must be a scalar float tensor (f32[]), got i64[]"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    optimizer = adm(lr: 0.1)\n}\n", "adm",
       "unknown optimizer 'adm' (did you mean 'adam'?) (the optimizers are: sgd, rmsprop, adagrad, adam, adamw)"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    optimizer = adam(betas: 0.5)\n}\n", "betas",
       "adam has no argument 'betas'"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    optimizer = adam(lr: \"fast\")\n}\n", "lr: \"fast\"",
       "adam: lr must be a number, got string \"fast\""},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    optimizer = adam(beta1: 1.0)\n}\n", "adam(beta1",
       "adam: beta1 must be in [0, 1), got 1"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    optimizer = sgd(momentum: 0.9)\n}\n", "sgd(",
       "sgd needs lr"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    optimizer = sgd(lr: 0.1, nesterov: true)\n}\n", "sgd(",
       "nesterov momentum needs momentum > 0"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    optimizer = 3\n}\n", "3\n}",
       "optimizer must be an optimizer such as adam(lr: 1e-3) (sgd, rmsprop, adagrad, adam, adamw), got int 3"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    schedule = adam()\n}\n", "adam()",
       "schedule must be a schedule such as cosine(warmup: 100) (constant, step, cosine), got optimizer adam"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    schedule = step(gamma: 0.5)\n}\n", "step(gamma",
       "step needs every"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    schedule = cosine(warmup: 1.5)\n}\n", "warmup: 1.5",
       "cosine: warmup must be a static int, got float 1.5"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    step a(params: \"dens.\") { }\n}\n", "\"dens.\"",
       "params prefix \"dens.\" matches no trainable parameter (they are: dense0.weight, dense0.bias, dense1.weight, "
       "dense1.bias)"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    step a(params: [\"dense0.\", 3]) { }\n}\n", "3]) {",
       "params takes a name prefix"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    step a(prefix: \"dense0.\") { }\n}\n",
       "prefix:", "step has no argument 'prefix' (it takes: params)"},
      {"train M(t: f32[B, 2]) {\n    step a { loss = mse(output, t) }\n    step b { optimizer = sgd(lr: 0.1) }\n}\n",
       "b {", "step 'b' has no loss"},
      {"train M(t: f32[B, 2]) {\n    step a { loss = mse(output, t) }\n    step a { loss = mae(output, t) }\n}\n",
       "a {", "step 'a' is defined twice", 1},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    metric(\"err\", abs(output - t))\n}\n", "abs(output",
       "metric 'err' must be a scalar, got f32[B,2]"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    metric(\"err\", mse(output, t))\n    metric(\"err\", "
       "mae(output, t))\n}\n",
       "\"err\"", "metric 'err' is defined twice", 1},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    metric(\"loss\", mae(output, t))\n}\n", "\"loss\"",
       "'loss' is reserved"},
      {"train M(t: f32[B, 2]) {\n    loss = mean(cast(argmax(output, axis: 1), f32))\n}\n", "mean(cast",
       "cannot differentiate the loss: the gradient of"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    return loss\n}\n", "loss\n}",
       "'return' is not allowed in a train block"},
      {"train M(lr: f32[B, 2]) {\n    loss = mse(output, lr)\n}\n",
       "lr:", "the input name 'lr' is reserved while training"},
      {"train M(x: f32[B, 2]) {\n    loss = mse(output, x)\n}\n", "x: f32[B, 2]",
       "'x' is already an input of model 'M'"},
      {"train M(t) {\n    loss = mse(output, t)\n}\n", "t)",
       "train input 't' needs a tensor type with an element type"},
      {"train M(t: f32[C, 2]) {\n    loss = mean(square(output - t))\n}\n", "output - t",
       "sub: cannot broadcast f32[B,2] and f32[C,2]"},
      {"train Mm(t: f32[B, 2]) {\n    loss = mse(output, t)\n}\n", "Mm",
       "train block for unknown model 'Mm' (did you mean 'M'?)"},
      {"train dense(t: f32[B, 2]) {\n    loss = mse(output, t)\n}\n", "dense(t", "'dense' is a function, not a model"},
      {"train M(t: f32[B, 2]) { loss = mse(output, t) }\ntrain M(u: f32[B, 2]) { loss = mae(output, u) }\n", "M(u",
       "model 'M' already has a train block"},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    assign(t, t)\n}\n", "t, t)",
       "assign updates a state buffer (declared with 'state'), but this is a computed tensor f32[B,2]", 1},
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    x2 = grad(loss, wrt: 3)\n}\n", "wrt: 3",
       "wrt must be a tensor or a list of tensors, got int 3"},
      {"model N(loss: f32[B, 2]) -> f32[B, 2] { return loss }\ntrain N(t: f32[B, 2]) {\n    metric(\"m\", "
       "mean(t))\n}\n",
       "N(t", "the train block of 'N' has no loss"},  // a model input named loss is not the loss
      {"train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    metric(\"dense0.bias\", mean(t))\n}\n",
       "\"dense0.bias\"", "metric 'dense0.bias' has the name of a parameter"},
      {"train M(t: f32[B, 2]) {\n    step a { param s: [2] = ones\n loss = mse(output * s, t) }\n    step b { param s: "
       "[3] = ones\n loss = mse(output, t) + sum(s) }\n}\n",
       "M(t", "parameter 's' is f32[2] in the step 'a' but f32[3] in the step 'b'"},
  };
  for (auto& c : cases) {
    std::string src = std::string(kModel) + c.body;
    SCOPED_TRACE(c.body);
    std::string model = c.body.rfind("model N", 0) == 0 ? "N" : "M";
    expect_error_at(train_error(src, model), src, c.needle, c.msg, c.occurrence);
  }
}

TEST(TrainErrors, CheckReportsTrainBlocksOnce) {
  std::string src = std::string(kModel) + "train M(t: f32[B, 2]) {\n    loss = square(output - t)\n}\n";
  std::string d = check_error(src);
  expect_error_at(d, src, "square(output", "loss must be a scalar");
  EXPECT_EQ(d.find("error:"), d.rfind("error:")) << "exactly one error:\n" << d;
  // A model that does not build reports its error once, not again for its train block.
  std::string bad =
      "model M(x: f32[B, 3]) -> f32[B, 2] { return x @ x }\ntrain M(t: f32[B, 2]) { loss = mean(output) }\n";
  d = check_error(bad);
  EXPECT_EQ(d.find("error:"), d.rfind("error:")) << "exactly one error:\n" << d;
  EXPECT_EQ(check_error(std::string(kModel) + "train M(t: f32[B, 2]) { loss = mse(output, t) }\n"), "<no error>");
  // Names are resolved in code that never runs, too.
  src = std::string(kModel) +
        "train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    if false { metric(\"m\", mae(outptu, t)) }\n}\n";
  expect_error_at(check_error(src), src, "outptu", "unknown name 'outptu' (did you mean 'output'?)");
  src = std::string(kModel) +
        "train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n    if false { schedule = cosin() }\n}\n";
  expect_error_at(check_error(src), src, "cosin", "unknown schedule 'cosin' (did you mean 'cosine'?)");
}

TEST(TrainErrors, ParseErrors) {
  std::string src = std::string(kModel) + "train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n";
  std::string d = train_error(src, "M");
  EXPECT_CONTAINS(d, "expected '}' to close the train block, found end of file");
  src = std::string(kModel) + "train M(t: f32[B, 2]) {\n    step a(params \"x\") { loss = mse(output, t) }\n}\n";
  expect_error_at(train_error(src, "M"), src, "\"x\"", "expected ':' after the step argument's name");
  // `train` and `step` stay ordinary names elsewhere.
  Graph g = compile(
      "fn step(x) { return x }\nmodel M(train: f32[3]) -> f32[3] { let step2 = step\n return step2(train) }\n", "M");
  EXPECT_EQ(g.outputs.size(), 1u);
  Compiled c;
  ASSERT_TRUE(c.prog.load_text(kPath, kModel));
  EXPECT_FALSE(c.prog.build_train("M"));
  EXPECT_CONTAINS(c.diags.format_all(), "model 'M' has no train block");
}

// ------------------------------------------------------------------ grad

std::vector<double> values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.size(); ++i) v.push_back(t.get(i));
  return v;
}

TEST(GradBuiltin, ClosedForms) {
  Graph g = compile(R"(
fn cube_grad(x) { return grad(sum(x * x * x), wrt: x) }
model M(x: f64[4], y: f64[4]) -> (d1: f64[4], d2: f64[4], gx: f64[4], gy: f64[4], sq: f64[4], z: f64[4]) {
    let d1 = cube_grad(x)
    let d2 = grad(sum(grad(sum(x * x * x), wrt: x)), wrt: x)
    (gx, gy) = grad(sum(x * y), wrt: [x, y])
    let sq = grad(x * x, wrt: x)
    let z = grad(sum(y * y), wrt: x)
    return (d1, d2, gx, gy, sq, z)
}
)",
                    "M");
  EXPECT_NO_THROW(verify_graph(g));
  Tensor x = T({4}, {-1.5, 0.5, 2, 3}), y = T({4}, {4, -3, 0.25, 1});
  auto out = run_graph(g, {x, y}, {});
  test::expect_near(out[0], {6.75, 0.75, 12, 27});  // 3x^2
  test::expect_near(out[1], {-9, 3, 12, 18});       // 6x (nested grad)
  test::expect_near(out[2], values(y));             // d(x.y)/dx = y
  test::expect_near(out[3], values(x));
  test::expect_near(out[4], {-3, 1, 4, 6});  // non-scalar: grad of sum(x*x)
  test::expect_near(out[5], {0, 0, 0, 0});   // independent: zeros
}

// grad inside a scan step: h' = h + d(sum(h * h * x_t))/dh = h + 2 h x_t.
TEST(GradBuiltin, InsideAScanStep) {
  Graph g = compile(R"(
model M(xs: f64[2, 3]) -> f64[2, 3] {
    fn step(h, x_t) {
        let h2 = h + grad(sum(h * h * x_t), wrt: h)
        return (h2, h2)
    }
    return scan(step, xs, ones([2], dtype: f64), axis: 1)
}
)",
                    "M");
  Tensor xs = T({2, 3}, {0.5, -1, 2, 0.25, 1, -0.5});
  auto out = run_graph(g, {xs}, {});
  std::vector<double> want(6);
  for (int b = 0; b < 2; ++b) {
    double h = 1;
    for (int t = 0; t < 3; ++t) want[b * 3 + t] = h = h + 2 * h * xs.get(b * 3 + t);
  }
  test::expect_near(out[0], want);
}

// d/dx of a small network's output, checked against central differences of the forward
// model; then the gradient graph itself is checked by gradcheck (second derivatives).
TEST(GradBuiltin, SaliencyMatchesFiniteDifferences) {
  const char* src = R"(use std.nn
fn net(x) { return x |> dense(5) |> tanh |> dense(1) |> sigmoid }
model F(x: f64[B, 3]) -> f64[] { return sum(net(x)) }
model S(x: f64[B, 3]) -> f64[B, 3] { return grad(sum(net(x)), wrt: x) }
)";
  Graph f = compile(src, "F"), s = compile(src, "S");
  EXPECT_EQ(param_names(f), param_names(s));
  TensorMap params = init_params(s, 7);
  Tensor x = test::random_tensor({2, 3}, DType::F64, 5);
  Tensor sal = run_graph(s, {x}, params)[0];
  for (int64_t i = 0; i < x.size(); ++i) {
    Tensor xp = x.clone(), xm = x.clone();
    double h = 1e-6;
    xp.set(i, x.get(i) + h);
    xm.set(i, x.get(i) - h);
    double num = (run_graph(f, {xp}, params)[0].get(0) - run_graph(f, {xm}, params)[0].get(0)) / (2 * h);
    EXPECT_NEAR(sal.get(i), num, 1e-8) << "at " << i;
  }
  for (auto& e : gradcheck(s, {x}, params))
    EXPECT_LT(e.max_rel_err, 1e-6) << "d/d" << e.name << ": " << e.analytic << " vs " << e.numeric;
}

TEST(GradBuiltin, ErrorsAtTheCall) {
  auto err = [](const std::string& body) {
    Compiled c;
    std::string src = "model M(x: f32[3], i: i64[3]) -> f32[3] {\n" + body + "\n}\n";
    if (c.prog.load_text(kPath, src) && c.prog.build("M")) return std::string("<no error>");
    return c.diags.format_all();
  };
  EXPECT_CONTAINS(err("    return grad(i, wrt: x)"), "2:17: error: grad differentiates a float tensor, got i64[3]");
  EXPECT_CONTAINS(err("    return grad(sum(x), wrt: i)"), "2:25: error: cannot take a gradient with respect to i64[3]");
  EXPECT_CONTAINS(err("    return grad(sum(x))"), "2:12: error: grad needs wrt");
  EXPECT_CONTAINS(err("    return grad(sum(x), wrt: x, at: 1)"), "2:33: error: grad has no argument 'at'");
  EXPECT_CONTAINS(err("    return grad(sum(cast(argmax(x, axis: 0), f32)), wrt: x)"),
                  "2:12: error: grad: the gradient of");
  EXPECT_CONTAINS(err("    return grad(3, wrt: x)"), "2:17: error: grad differentiates a tensor, got int 3");
}

// WGAN-GP: the critic's loss holds the gradient penalty, a grad of the critic; training
// it differentiates through that grad (double backward).
TEST(GradBuiltin, GradientPenaltyTrainsThroughGrad) {
  const char* src = R"(use std.nn
fn make_critic() {
    param w1: [4, 2] = he_uniform
    param b1: [4] = zeros
    param w2: [1, 4] = he_uniform
    return |v| tanh(v @ transpose(w1) + b1) @ transpose(w2)
}
model G(z: f64[B, 2]) -> f64[B, 2] { return dense(z, 2) as gen }
train G(real: f64[B, 2], eps: f64[B, 1]) {
    let critic = make_critic() as critic
    step disc(params: "critic.") {
        let x_hat = eps * real + (1.0 - eps) * output
        let g = grad(critic(x_hat), wrt: x_hat)
        let penalty = mean(square(sqrt(sum(square(g), axes: [1])) - 1.0))
        loss = mean(critic(output)) - mean(critic(real)) + 10.0 * penalty
        metric("penalty", penalty)
    }
    step gen(params: "gen.") { loss = -mean(critic(output)) }
}
)";
  TrainPlan plan = train_plan(src, "G");
  ASSERT_EQ(plan.steps.size(), 2u);
  // The disc step's loss (output 0) differentiated by gradcheck w.r.t. the critic's
  // params: checks the second-order gradient that the step graph's update uses.
  Graph lossg = plan.steps[0].graph;
  lossg.outputs = {lossg.outputs[0]};
  lossg.output_names = {"loss"};
  TensorMap params = init_params(plan.steps[0].graph, 3);
  for (auto& [k, v] : init_params(plan.steps[1].graph, 3)) params.emplace(k, v);
  Tensor z = test::random_tensor({3, 2}, DType::F64, 1), real = test::random_tensor({3, 2}, DType::F64, 2);
  Tensor eps = test::random_tensor({3, 1}, DType::F64, 3, 0, 1);
  GradcheckOptions o;
  o.include_inputs = false;
  for (auto& e :
       gradcheck(lossg, {z, real, eps, Tensor::scalar(DType::F64, 0.1), Tensor::scalar(DType::F64, 1)}, params, o))
    EXPECT_LT(e.max_rel_err, 1e-6) << "d/d" << e.name << ": " << e.analytic << " vs " << e.numeric;
  // One update of each step runs and changes only its own params.
  TensorMap p = params;
  TensorMap d = run_step(plan.steps[0], {z, real, eps}, p, 1e-2, 1, DType::F64);
  EXPECT_TRUE(d.count("critic.w1") && !d.count("gen.weight"));
  EXPECT_TRUE(std::isfinite(d.at("penalty").get(0)));
  write_back(p, d);
  TensorMap gstep = run_step(plan.steps[1], {z, real, eps}, p, 1e-2, 1, DType::F64);
  EXPECT_TRUE(gstep.count("gen.weight") && !gstep.count("critic.w1"));
}

// The GAN example of docs/language.md builds, and each of its steps runs.
TEST(TrainBlock, DocsGanExampleBuildsAndRuns) {
  std::ifstream in(STARC_SOURCE_DIR "/docs/language.md");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  size_t sec = doc.find("### Named steps (GANs)");
  ASSERT_NE(sec, std::string::npos);
  size_t open = doc.find("```\n", sec);
  size_t close = doc.find("```", open + 4);
  ASSERT_NE(close, std::string::npos);
  std::string src = "use std.nn\n" + doc.substr(open + 4, close - open - 4);
  TrainPlan plan = train_plan(src, "Gen");
  ASSERT_EQ(plan.steps.size(), 2u);
  TensorMap params;
  for (auto& s : plan.steps)
    for (auto& [k, v] : init_params(s.graph, 0)) params.emplace(k, v);
  Tensor z = test::random_tensor({4, 16}, DType::F32, 1), real = test::random_tensor({4, 2}, DType::F32, 2);
  Tensor eps = test::random_tensor({4, 1}, DType::F32, 3, 0, 1);
  for (auto& s : plan.steps) {
    TensorMap out = run_step(s, {z, real, eps}, params, 2e-4, 1);
    EXPECT_TRUE(std::isfinite(out.at("loss").get(0))) << s.name;
    write_back(params, out);
  }
}

// Two stacked bidirectional LSTMs (the supernova classifier's shape): the reverse scan
// of each layer's gradient has a complete body (its outputs are named), and a few SGD
// steps lower the loss.
TEST(TrainBlock, StackedBidirectionalLstmsTrain) {
  std::string src =
      "use std.nn\nuse std.losses\n"
      "model SN(lc: f32[B, 5, 3]) -> f32[B, 2] {\n"
      "  h = bidirectional(lc, |s, r| lstm(s, units: 4, reverse: r)) as layer0\n"
      "  h = bidirectional(h, |s, r| lstm(s, units: 4, reverse: r)) as layer1\n"
      "  return mean(h, axes: [1]) |> dense(2)\n}\n"
      "train SN(label: i64[B]) {\n  loss = cross_entropy(output, label)\n  optimizer = sgd(lr: 0.5)\n}\n";
  TrainPlan plan = train_plan(src, "SN");
  TensorMap params = init_params(plan.steps[0].graph, 0);
  Tensor x = test::random_tensor({4, 5, 3}, DType::F32, 1);
  Tensor labels(DType::I64, {4});
  for (int i = 0; i < 4; ++i) labels.data<int64_t>()[i] = i % 2;
  double first = 0, last = 0;
  for (int step = 1; step <= 5; ++step) {
    TensorMap out = run_step(plan.steps[0], {x, labels}, params, 0.5, step);
    (step == 1 ? first : last) = out.at("loss").get(0);
    write_back(params, out);
  }
  EXPECT_LT(last, first);
}

// ------------------------------------------------------------------ state updates, losses

TEST(TrainState, BatchNormRunningStatisticsMatchPyTorch) {
  const char* src = R"(use std.nn
model M(x: f64[B, 2, 3]) -> f64[B, 2, 3] { return batchnorm(x) }
train M(t: f64[B, 2, 3]) { loss = mean(square(output - t)) }
)";
  TrainPlan plan = train_plan(src, "M");
  const TrainStepGraph& s = plan.steps[0];
  auto& on = s.graph.output_names;
  ASSERT_NE(std::find(on.begin(), on.end(), "batchnorm0.running_mean"), on.end());
  ASSERT_NE(std::find(on.begin(), on.end(), "batchnorm0.running_var"), on.end());
  EXPECT_EQ(std::find(on.begin(), on.end(), "opt.exp_avg.batchnorm0.running_mean"), on.end());
  Tensor x = test::random_tensor({4, 2, 3}, DType::F64, 9, -2, 3);
  TensorMap params = init_params(s.graph, 0);
  TensorMap out = run_step(s, {x, x}, params, 1e-3, 1, DType::F64);
  // PyTorch: running = 0.9 * running + 0.1 * batch statistic (unbiased variance).
  for (int c = 0; c < 2; ++c) {
    double sum = 0, sq = 0;
    int n = 0;
    for (int b = 0; b < 4; ++b)
      for (int l = 0; l < 3; ++l) sum += x.get((b * 2 + c) * 3 + l), ++n;
    double m = sum / n;
    for (int b = 0; b < 4; ++b)
      for (int l = 0; l < 3; ++l) sq += std::pow(x.get((b * 2 + c) * 3 + l) - m, 2);
    EXPECT_NEAR(out.at("batchnorm0.running_mean").get(c), 0.1 * m, 1e-12);
    EXPECT_NEAR(out.at("batchnorm0.running_var").get(c), 0.9 + 0.1 * sq / (n - 1), 1e-12);
  }
  // Inference and eval ignore assign.
  EXPECT_EQ(compile(src, "M").outputs.size(), 1u);
  EXPECT_EQ(plan.eval.output_names, (std::vector<std::string>{"loss"}));
}

TEST(TrainState, AssignErrors) {
  auto err = [](const std::string& body) {
    Compiled c;
    std::string src = "model M(x: f32[3]) -> f32[3] {\n    param w: [3] = ones\n    state s: [3] = zeros\n" + body +
                      "\n    return x\n}\n";
    if (c.prog.load_text(kPath, src) && c.prog.build("M", BuildOptions{true})) return std::string("<no error>");
    return c.diags.format_all();
  };
  EXPECT_EQ(err("    assign(s, s * 0.5 + x)"), "<no error>");
  EXPECT_CONTAINS(err("    assign(w, x)"), "4:12: error: 'w' is a trainable parameter");
  EXPECT_CONTAINS(err("    assign(s, sum(x))"),
                  "4:15: error: assign: the new value of 's' is f32[], but the state is f32[3]");
  EXPECT_CONTAINS(err("    assign(s, x)\n    assign(s, x)"),
                  "5:5: error: state 's' is assigned twice in one training step");
  EXPECT_CONTAINS(err("    assign(s)"), "4:5: error: assign takes two arguments");
}

TEST(TrainLosses, ClassWeightsMatchPyTorch) {
  const char* src = R"(use std.losses
model L(x: f64[B, 3], y: i64[B]) -> (a: f64[], b: f64[], c: f64[]) {
    return (cross_entropy(x, y, weight: [1.0, 3, 0.5]), nll(log_softmax(x, axis: 1), y, weight: [1.0, 3, 0.5]),
            cross_entropy(x, y))
}
)";
  Graph g = compile(src, "L");
  Tensor x = T({4, 3}, {0.5, -1, 2, 1.5, 0.25, -0.75, 0.1, 0.2, 0.3, -1, 2, 0.5});
  Tensor y = Tensor::from_vector(DType::I64, {4}, {2, 0, 1, 1});
  auto out = run_graph(g, {x, y}, {});
  // torch.nn.functional.cross_entropy(X, y, weight=[1, 3, 0.5]) (torch 1.13, float64).
  EXPECT_NEAR(out[0].get(0), 0.5974787589860007, 1e-12);
  EXPECT_NEAR(out[1].get(0), 0.5974787589860007, 1e-12);
  EXPECT_NEAR(out[2].get(0), 0.47880951273769556, 1e-12);
  Compiled c;
  ASSERT_TRUE(c.prog.load_text(kPath,
                               "use std.losses\nmodel L(x: f64[B, 3], y: i64[B]) -> f64[] {\n"
                               "    return cross_entropy(x, y, weight: [1.0, 2.0])\n}\n"));
  EXPECT_FALSE(c.prog.build("L"));
  EXPECT_CONTAINS(c.diags.format_all(), "weight needs one number per class");
}

// An imported function sees its own module's names, not the importer's: nll's `[N, C]`
// binds C even when the importing file defines a model named C.
TEST(TrainLosses, ImportedFunctionsDoNotSeeTheImportersNames) {
  Graph g = compile("use std.losses\nmodel C(x: f64[B, 3], y: i64[B]) -> f64[] { return cross_entropy(x, y) }\n", "C");
  auto out = run_graph(g,
                       {T({4, 3}, {0.5, -1, 2, 1.5, 0.25, -0.75, 0.1, 0.2, 0.3, -1, 2, 0.5}),
                        Tensor::from_vector(DType::I64, {4}, {2, 0, 1, 1})},
                       {});
  EXPECT_NEAR(out[0].get(0), 0.47880951273769556, 1e-12);
}

// ------------------------------------------------------------------ schedules

TEST(TrainSchedule, LearningRates) {
  Schedule c = make_schedule("constant", {{"warmup", 4}}, 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 0, 100), 0.025);
  EXPECT_DOUBLE_EQ(learning_rate(c, 1, 0, 100), 0.05);
  EXPECT_DOUBLE_EQ(learning_rate(c, 3, 0, 100), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 50, 3, 100), 0.1);
  Schedule st = make_schedule("step", {{"every", 3}, {"gamma", 0.5}}, 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(st, 10, 2, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(st, 10, 3, 100), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(st, 10, 7, 100), 0.25);
  Schedule co = make_schedule("cosine", {{"warmup", 10}, {"min_lr", 0.0}}, 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(co, 0, 0, 111), 0.1);      // warm-up: 1/10 of lr
  EXPECT_DOUBLE_EQ(learning_rate(co, 9, 0, 111), 1.0);      // end of warm-up
  EXPECT_DOUBLE_EQ(learning_rate(co, 10, 0, 111), 1.0);     // cosine starts at lr
  EXPECT_NEAR(learning_rate(co, 60, 0, 111), 0.5, 1e-12);   // half-way
  EXPECT_NEAR(learning_rate(co, 110, 0, 111), 0.0, 1e-12);  // min_lr at the last update
  EXPECT_NEAR(learning_rate(co, 500, 0, 111), 0.0, 1e-12);  // and after
  // The plan carries the schedule given in the block.
  TrainPlan plan =
      train_plan(std::string(kModel) +
                     "train M(t: f32[B, 2]) {\n    loss = mse(output, t)\n"
                     "    optimizer = rmsprop(lr: 0.5)\n    schedule = step(every: 2, gamma: 0.3, warmup: 5)\n}\n",
                 "M");
  const Schedule& s = plan.steps[0].schedule;
  EXPECT_EQ(s.kind, Schedule::Kind::Step);
  EXPECT_DOUBLE_EQ(s.base_lr, 0.5);
  EXPECT_EQ(s.every_epochs, 2);
  EXPECT_DOUBLE_EQ(s.gamma, 0.3);
  EXPECT_EQ(s.warmup_steps, 5);
}

// ------------------------------------------------------------------ optimizers vs PyTorch

using test::kPython;
using test::ShellResult;

// Why the comparison `what` with PyTorch cannot run here (the skip reason), or "".
std::string torch_missing(const std::string& what) {
  if (!fs::exists(kPython)) return std::string(kPython) + " not found: cannot compare with PyTorch";
  ShellResult probe = test::python_imports("torch");
  if (probe.code != 0)
    return std::string(kPython) + " cannot import torch (see scripts/setup.sh); " + what + " skipped:\n" + probe.out;
  return "";
}

// Runs the Python program `py` with kPython from the file <temp>/starc_NAME_<pid>.py (removed
// when it succeeds); stdout and stderr together.
ShellResult run_python(const std::string& py, const std::string& name) {
  fs::path script = fs::temp_directory_path() / fmt::format("starc_{}_{}.py", name, ::getpid());
  std::ofstream(script) << py;
  ShellResult r = test::sh(std::string(kPython) + " " + script.string());
  if (r.code == 0) fs::remove(script);
  return r;
}

std::string py_list(const std::vector<double>& v) {
  std::string s = "[";
  for (double x : v) s += fmt::format("{:.17g},", x);
  return s + "]";
}

struct OptCase {
  std::string name;
  std::map<std::string, double> args;  // given (the rest: defaults)
};

// torch.optim constructor call for a config with every argument filled in.
std::string torch_ctor(const OptimizerConfig& c) {
  auto a = [&](const char* n) { return fmt::format("{:.17g}", c.arg(n)); };
  auto b = [&](const char* n) { return c.arg(n) != 0 ? "True" : "False"; };
  if (c.name == "sgd")
    return fmt::format("torch.optim.SGD([p], lr={}, momentum={}, dampening={}, nesterov={}, weight_decay={})", a("lr"),
                       a("momentum"), a("dampening"), b("nesterov"), a("weight_decay"));
  if (c.name == "rmsprop")
    return fmt::format("torch.optim.RMSprop([p], lr={}, alpha={}, eps={}, momentum={}, centered={}, weight_decay={})",
                       a("lr"), a("alpha"), a("eps"), a("momentum"), b("centered"), a("weight_decay"));
  if (c.name == "adagrad")
    return fmt::format(
        "torch.optim.Adagrad([p], lr={}, lr_decay={}, weight_decay={}, initial_accumulator_value={}, eps={})", a("lr"),
        a("lr_decay"), a("weight_decay"), a("initial_accumulator_value"), a("eps"));
  return fmt::format("torch.optim.{}([p], lr={}, betas=({}, {}), eps={}, weight_decay={}, amsgrad={})",
                     c.name == "adam" ? "Adam" : "AdamW", a("lr"), a("beta1"), a("beta2"), a("eps"), a("weight_decay"),
                     b("amsgrad"));
}

TEST(Optimizers, ThreeUpdatesMatchPyTorch) {
  if (std::string why = torch_missing("optimizer comparison"); !why.empty()) GTEST_SKIP() << why;

  std::vector<OptCase> cases = {
      {"sgd", {{"lr", 0.1}}},
      {"sgd", {{"lr", 0.1}, {"momentum", 0.9}}},
      {"sgd", {{"lr", 0.1}, {"momentum", 0.9}, {"dampening", 0.3}, {"weight_decay", 0.01}}},
      {"sgd", {{"lr", 0.05}, {"momentum", 0.8}, {"nesterov", 1}}},
      {"rmsprop", {}},
      {"rmsprop", {{"lr", 0.02}, {"momentum", 0.5}, {"centered", 1}, {"weight_decay", 0.1}}},
      {"adagrad", {}},
      {"adagrad", {{"lr", 0.1}, {"initial_accumulator_value", 0.5}, {"weight_decay", 0.2}, {"lr_decay", 0.1}}},
      {"adam", {}},
      {"adam", {{"lr", 0.01}, {"beta1", 0.5}, {"weight_decay", 0.1}}},
      {"adam", {{"lr", 0.01}, {"amsgrad", 1}}},
      {"adamw", {}},
      {"adamw", {{"lr", 0.05}, {"weight_decay", 0.3}, {"beta2", 0.9}}},
  };
  const Shape shape = {2, 3};
  Tensor p0 = test::random_tensor(shape, DType::F64, 41, -1, 1);
  std::vector<Tensor> grads = {test::random_tensor(shape, DType::F64, 42, -1, 1),
                               test::random_tensor(shape, DType::F64, 43, -2, 2),
                               test::random_tensor(shape, DType::F64, 44, -0.5, 0.5)};
  const double lr_scale[3] = {1.0, 0.7, 0.4};  // the lr input changes between updates (a schedule)

  std::string py = "import torch\ntorch.set_default_dtype(torch.float64)\n";
  py += fmt::format("p0 = torch.tensor({}).reshape(2, 3)\n", py_list(values(p0)));
  py += "grads = [";
  for (auto& g : grads) py += fmt::format("torch.tensor({}).reshape(2, 3), ", py_list(values(g)));
  py += "]\n";
  std::vector<std::vector<std::vector<double>>> ours;  // case, update, values
  for (auto& c : cases) {
    OptimizerConfig cfg = default_optimizer(c.name);
    for (auto& [k, v] : c.args) cfg.args[k] = v;
    ASSERT_EQ(check_optimizer(cfg), "");
    // Graph: param p, inputs grad, lr, step; outputs the new p and slots.
    Graph g;
    GraphBuilder b(g);
    int p = b.op("param", {}, {{"name", std::string("p")}, {"dtype", DType::F64}, {"shape", Ints(shape)}});
    int gi = b.op("input", {}, {{"name", std::string("g")}, {"dtype", DType::F64}, {"shape", Ints(shape)}});
    int lr = b.op("input", {}, {{"name", std::string("lr")}, {"dtype", DType::F64}, {"shape", Ints{}}});
    int st = b.op("input", {}, {{"name", std::string("step")}, {"dtype", DType::F64}, {"shape", Ints{}}});
    g.inputs = {gi, lr, st};
    for (auto& u : append_optimizer_update(b, cfg, p, gi, lr, st))
      g.outputs.push_back(u.value), g.output_names.push_back(u.name);
    ASSERT_NO_THROW(verify_graph(g));
    ASSERT_EQ(g.output_names[0], "p");
    TensorMap params = init_params(g, 0);
    params["p"] = p0;
    std::vector<std::vector<double>> traj;
    for (int k = 0; k < 3; ++k) {
      auto out = run_graph(
          g, {grads[k], Tensor::scalar(DType::F64, cfg.arg("lr") * lr_scale[k]), Tensor::scalar(DType::F64, k + 1)},
          params);
      for (size_t i = 0; i < out.size(); ++i) params[g.output_names[i]] = out[i];
      traj.push_back(values(out[0]));
    }
    ours.push_back(traj);
    py += fmt::format("p = p0.clone().requires_grad_(True)\nopt = {}\n", torch_ctor(cfg));
    py += "for k, s in enumerate([1.0, 0.7, 0.4]):\n";
    py += fmt::format("    for grp in opt.param_groups: grp['lr'] = {:.17g} * s\n", cfg.arg("lr"));
    py += "    p.grad = grads[k].clone()\n    opt.step()\n";
    py += "    print(' '.join(repr(v) for v in p.detach().flatten().tolist()))\n";
  }
  auto [rc, out] = run_python(py, "opt");
  ASSERT_EQ(rc, 0) << out << "\nscript:\n" << py;
  std::istringstream in(out);
  for (size_t c = 0; c < cases.size(); ++c)
    for (int k = 0; k < 3; ++k) {
      std::string line;
      ASSERT_TRUE(std::getline(in, line)) << "PyTorch printed too little:\n" << out;
      std::istringstream ls(line);
      std::vector<double> want;
      double v;
      while (ls >> v) want.push_back(v);
      ASSERT_EQ(want.size(), ours[c][k].size()) << line;
      for (size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR(ours[c][k][i], want[i], 1e-12 * std::max(1.0, std::abs(want[i])))
            << cases[c].name << " case " << c << " update " << k + 1 << " element " << i;
    }
}

// A whole train block against PyTorch is covered by the MLP below (loss falls); here the
// gradient wiring: one sgd step of a linear model equals the closed-form update.
TEST(Optimizers, TrainBlockSgdStepIsTheClosedFormUpdate) {
  TrainPlan plan = train_plan(R"(
model Lin(x: f64[B, 2]) -> f64[B] {
    param w: [2] = ones
    return sum(x * reshape(w, [1, 2]), axes: [1])
}
train Lin(y: f64[B]) {
    loss = mean(square(output - y))
    optimizer = sgd(lr: 0.1)
}
)",
                              "Lin");
  Tensor x = T({3, 2}, {1, 2, -1, 0.5, 3, -2}), y = T({3}, {1, 0, 2});
  TensorMap params = {{"w", T({2}, {0.5, -0.25})}};
  TensorMap out = run_step(plan.steps[0], {x, y}, params, 0.1, 1, DType::F64);
  // loss = mean((x w - y)^2); dL/dw = 2/N * x^T (x w - y)
  double r[3], gw[2] = {0, 0}, loss = 0;
  for (int i = 0; i < 3; ++i) {
    r[i] = x.get(2 * i) * 0.5 + x.get(2 * i + 1) * -0.25 - y.get(i);
    loss += r[i] * r[i] / 3;
    for (int j = 0; j < 2; ++j) gw[j] += 2.0 / 3 * x.get(2 * i + j) * r[i];
  }
  EXPECT_NEAR(out.at("loss").get(0), loss, 1e-12);
  EXPECT_NEAR(out.at("w").get(0), 0.5 - 0.1 * gw[0], 1e-12);
  EXPECT_NEAR(out.at("w").get(1), -0.25 - 0.1 * gw[1], 1e-12);
}

// A whole train block (MLP, mse, AdamW with a warm-up) against the same network in
// PyTorch from the same initial weights: the weights after 3 updates agree.
TEST(Optimizers, TrainBlockMatchesPyTorchForThreeUpdates) {
  if (std::string why = torch_missing("comparison"); !why.empty()) GTEST_SKIP() << why;
  TrainPlan plan = train_plan(R"(use std.nn
use std.losses
model Net(x: f64[B, 3]) -> f64[B, 1] { return x |> dense(4) |> tanh |> dense(1) }
train Net(y: f64[B, 1]) {
    loss = mse(output, y)
    optimizer = adamw(lr: 0.05, weight_decay: 0.1)
    schedule = constant(warmup: 2)
}
)",
                              "Net");
  const TrainStepGraph& s = plan.steps[0];
  TensorMap params = init_params(s.graph, 5);
  const std::vector<std::string> names = {"dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"};
  // dense initialises biases to zero: give them values so their updates are checked well.
  params["dense0.bias"] = T({4}, {0.1, -0.2, 0.3, 0.05});
  params["dense1.bias"] = T({1}, {-0.1});
  Tensor x = test::random_tensor({5, 3}, DType::F64, 61), y = test::random_tensor({5, 1}, DType::F64, 62);
  std::string py = "import torch\ntorch.set_default_dtype(torch.float64)\nF = torch.nn.functional\n";
  for (auto& n : names) {
    std::string v = n;
    std::replace(v.begin(), v.end(), '.', '_');
    py += fmt::format("{} = torch.tensor({}).reshape({}).requires_grad_(True)\n", v, py_list(values(params.at(n))),
                      fmt::format("{}", fmt::join(params.at(n).shape(), ", ")));
  }
  py += fmt::format("x = torch.tensor({}).reshape(5, 3)\ny = torch.tensor({}).reshape(5, 1)\n", py_list(values(x)),
                    py_list(values(y)));
  py +=
      "ps = [dense0_weight, dense0_bias, dense1_weight, dense1_bias]\n"
      "opt = torch.optim.AdamW(ps, lr=0.05, weight_decay=0.1)\n"
      "for k in range(3):\n"
      "    for g in opt.param_groups: g['lr'] = 0.05 * min(1.0, (k + 1) / 2)\n"
      "    opt.zero_grad()\n"
      "    out = F.linear(torch.tanh(F.linear(x, dense0_weight, dense0_bias)), dense1_weight, dense1_bias)\n"
      "    loss = F.mse_loss(out, y)\n"
      "    loss.backward()\n"
      "    print(repr(loss.item()))\n"
      "    opt.step()\n"
      "for p in ps: print(' '.join(repr(v) for v in p.detach().flatten().tolist()))\n";
  std::vector<double> losses;
  for (int k = 0; k < 3; ++k) {
    TensorMap out = run_step(s, {x, y}, params, learning_rate(s.schedule, k, 0, 3), k + 1, DType::F64);
    losses.push_back(out.at("loss").get(0));
    write_back(params, out);
  }
  auto [rc, out] = run_python(py, "net");
  ASSERT_EQ(rc, 0) << out << "\nscript:\n" << py;
  std::istringstream in(out);
  for (int k = 0; k < 3; ++k) {
    double want;
    ASSERT_TRUE(in >> want) << out;
    EXPECT_NEAR(losses[k], want, 1e-12) << "loss of update " << k + 1;
  }
  for (auto& n : names)
    for (int64_t i = 0; i < params.at(n).size(); ++i) {
      double want;
      ASSERT_TRUE(in >> want) << out;
      EXPECT_NEAR(params.at(n).get(i), want, 1e-12) << n << "[" << i << "]";
    }
}

// ------------------------------------------------------------------ end to end

// A 2-16-1 MLP learns y = x0 * x1 + 0.5 * sin(pi * x0) from 64 points with Adam and a
// cosine schedule: after 300 full-batch updates the mse is below 5e-3 (it starts near 0.2).
TEST(TrainEndToEnd, MlpLossFallsBelowThreshold) {
  TrainPlan plan = train_plan(R"(use std.nn
use std.losses
model Mlp(x: f32[B, 2]) -> f32[B, 1] {
    return x |> dense(16) |> tanh |> dense(16) |> tanh |> dense(1)
}
train Mlp(y: f32[B, 1]) {
    loss = mse(output, y)
    optimizer = adam(lr: 0.02)
    schedule = cosine(warmup: 20, min_lr: 0.001)
    metric("mae", mae(output, y))
}
)",
                              "Mlp");
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  const int n = 64;
  std::vector<double> xs, ys;
  for (int i = 0; i < n; ++i) {
    double a = u(rng), b = u(rng);
    xs.push_back(a), xs.push_back(b);
    ys.push_back(a * b + 0.5 * std::sin(M_PI * a));
  }
  Tensor x = Tensor::from_vector(DType::F32, {n, 2}, xs), y = Tensor::from_vector(DType::F32, {n, 1}, ys);
  const TrainStepGraph& s = plan.steps[0];
  TensorMap params = init_params(s.graph, 1);
  const int steps = 300;
  double first = 0, last = 0;
  for (int k = 0; k < steps; ++k) {
    double lr = learning_rate(s.schedule, k, 0, steps);
    TensorMap out = run_step(s, {x, y}, params, lr, k + 1);
    if (k == 0) first = out.at("loss").get(0);
    last = out.at("loss").get(0);
    write_back(params, out);
  }
  EXPECT_GT(first, 0.05);
  EXPECT_LT(last, 5e-3) << "first loss " << first;
  // The eval graph agrees with the trained weights.
  TensorMap weights;
  for (auto& n : param_names(plan.eval)) weights[n] = params.at(n);
  auto ev = run_graph(plan.eval, {x, y}, weights);
  EXPECT_LT(ev[0].get(0), 5e-3);
  EXPECT_EQ(plan.eval.output_names[1], "mae");
}

}  // namespace
}  // namespace starc
