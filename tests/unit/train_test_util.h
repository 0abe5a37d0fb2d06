// Test helpers for the training loop: TrainPlans built by hand (GraphBuilder +
// append_gradients + an SGD/momentum update written as graph ops), small data sets, and
// a bit-exact comparison of weights.
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>

#include "compiler/autodiff/autodiff.h"
#include "compiler/train/train_plan.h"
#include "compiler/ops/builder.h"
#include "runtime/trainer.h"

namespace starc::test {

inline int plan_input(GraphBuilder& b, const std::string& name, DType dt, Shape shape) {
  int id = b.op("input", {}, {{"name", name}, {"dtype", dt}, {"shape", Ints(shape)}});
  b.g.inputs.push_back(id);
  return id;
}

inline int plan_param(GraphBuilder& b, const std::string& name, Shape shape, const std::string& init = "zeros",
                      Floats init_args = {}, bool trainable = true) {
  return b.op("param", {},
              {{"name", name},
               {"dtype", DType::F32},
               {"shape", Ints(shape)},
               {"init", init},
               {"init_args", init_args},
               {"trainable", trainable}});
}

struct DataSpec {
  std::string name;
  DType dtype;
  Shape shape;  // dim 0 is replaced by the symbolic batch dim B
};

struct Forward {
  int loss = -1;
  std::vector<std::pair<std::string, int>> metrics;
  std::vector<std::pair<std::string, int>> state_updates;  // (state param name, new value)
};
// Builds the model and loss on the data inputs; `step` is the step input (-1 in eval).
using ForwardFn = std::function<Forward(GraphBuilder& b, const std::vector<int>& data, bool training, int step)>;

struct PlanOptions {
  double lr = 0.1;
  double momentum = 0;  // > 0: a slot `opt.momentum_buffer.<param>` per param
  Schedule::Kind schedule = Schedule::Kind::Constant;
  std::string step_name = "train";
  Loc loc;  // given to every node
};

inline Graph plan_graph(const std::vector<DataSpec>& specs, const ForwardFn& fwd, bool training, const PlanOptions& o,
                        int* n_metrics) {
  Graph g;
  g.name = training ? o.step_name : "eval";
  g.symbols = {"B"};
  GraphBuilder b(g, o.loc);
  std::vector<int> data;
  for (auto& s : specs) {
    Shape sh = s.shape;
    sh[0] = make_sym(0);
    data.push_back(plan_input(b, s.name, s.dtype, sh));
  }
  int lr = -1, step = -1;
  if (training) {
    lr = plan_input(b, "lr", DType::F32, {});
    step = plan_input(b, "step", DType::F32, {});
  }
  Forward f = fwd(b, data, training, step);
  g.outputs = {f.loss};
  g.output_names = {"loss"};
  for (auto& [n, id] : f.metrics) g.outputs.push_back(id), g.output_names.push_back(n);
  *n_metrics = int(f.metrics.size());
  if (!training) return g;
  std::vector<int> ps;
  for (int id : g.params())
    if (attr_bool(g.node(id).attrs, "trainable")) ps.push_back(id);
  std::vector<int> grads = append_gradients(g, f.loss, ps);
  for (size_t i = 0; i < ps.size(); ++i) {
    std::string name = attr_str(g.node(ps[i]).attrs, "name");
    int d = grads[i];
    if (o.momentum > 0) {
      int v = plan_param(b, "opt.momentum_buffer." + name, g.type(ps[i]).shape, "zeros", {}, false);
      int v2 = b.add(b.mul(v, o.momentum), d);
      d = v2;
      g.outputs.push_back(v2);
      g.output_names.push_back("opt.momentum_buffer." + name);
    }
    g.outputs.push_back(b.sub(ps[i], b.mul(lr, d)));
    g.output_names.push_back(name);
  }
  for (auto& [n, id] : f.state_updates) g.outputs.push_back(id), g.output_names.push_back(n);
  return g;
}

inline TrainPlan make_plan(const std::string& model, const std::vector<DataSpec>& specs, const ForwardFn& fwd,
                           const PlanOptions& o = {}) {
  TrainPlan p;
  p.model = model;
  TrainStepGraph s;
  s.name = o.step_name;
  s.graph = plan_graph(specs, fwd, true, o, &s.n_metrics);
  for (auto& d : specs) s.data_inputs.push_back(d.name);
  s.schedule.kind = o.schedule;
  s.schedule.base_lr = o.lr;
  int n = 0;
  p.eval = plan_graph(specs, fwd, false, o, &n);
  for (size_t i = 1; i < p.eval.output_names.size(); ++i) p.metric_names.push_back(p.eval.output_names[i]);
  p.steps.push_back(std::move(s));
  return p;
}

// y = x @ w + b with mse loss and an mae metric; x f32[B,D], y f32[B,1].
inline TrainPlan linear_regression_plan(int64_t D, const PlanOptions& o = {}) {
  return make_plan(
      "Linear", {{"x", DType::F32, {0, D}}, {"y", DType::F32, {0, 1}}},
      [D](GraphBuilder& b, const std::vector<int>& in, bool, int) {
        int w = plan_param(b, "dense0.weight", {D, 1}, "normal", {0, 0.1});
        int bias = plan_param(b, "dense0.bias", {1});
        int pred = b.add(b.op("matmul", {in[0], w}), bias);
        int err = b.sub(pred, in[1]);
        Forward f;
        f.loss = b.op("mean", {b.op("square", {err})});
        f.metrics = {{"mae", b.op("mean", {b.op("abs", {err})})}};
        return f;
      },
      o);
}

// A 2-layer MLP classifier over K classes with softmax cross-entropy and accuracy;
// x f32[B,F], label i64[B]. Training applies dropout to the input (so the run seed
// matters) and keeps a state buffer `stats.updates` = the step input (so state and
// `step` are checked).
inline TrainPlan classifier_plan(int64_t F, int64_t H, int64_t K, const PlanOptions& o = {}, double dropout = 0.1) {
  return make_plan(
      "Classifier", {{"x", DType::F32, {0, F}}, {"label", DType::I64, {0}}},
      [=](GraphBuilder& b, const std::vector<int>& in, bool training, int step) {
        int x = in[0];
        if (training && dropout > 0) x = b.op("dropout", {x}, {{"p", dropout}, {"stream", int64_t(7)}});
        int w1 = plan_param(b, "dense0.weight", {F, H}, "he_uniform", {double(F)});
        int b1 = plan_param(b, "dense0.bias", {H});
        int w2 = plan_param(b, "dense1.weight", {H, K}, "he_uniform", {double(H)});
        int b2 = plan_param(b, "dense1.bias", {K});
        int count = plan_param(b, "stats.updates", {}, "zeros", {}, false);
        int h = b.op("relu", {b.add(b.op("matmul", {x, w1}), b1)});
        int logits = b.add(b.op("matmul", {h, w2}), b2);
        int onehot = b.op("one_hot", {in[1]}, {{"depth", K}});
        int lse = b.op("logsumexp", {logits}, {{"axes", Ints{1}}});
        int picked = b.op("sum", {b.mul(logits, onehot)}, {{"axes", Ints{1}}});
        Forward f;
        f.loss = b.op("mean", {b.sub(lse, picked)});
        int hit = b.op("eq", {b.op("argmax", {logits}, {{"axis", int64_t(1)}}), in[1]});
        f.metrics = {{"accuracy", b.op("mean", {b.cast(hit, DType::F32)})}};
        (void)count;
        if (training) f.state_updates = {{"stats.updates", step}};
        return f;
      },
      o);
}

// Deterministic pseudo-random numbers in [0, 1).
inline double hash01(uint64_t i, uint64_t salt) {
  uint64_t z = (i + 1) * 0x9E3779B97F4A7C15ull ^ (salt * 0xD1B54A32D192ED03ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return double((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

// x in [-1,1]^D, y = x . coef + 0.3 (+ noise * small).
inline TensorMap regression_data(int64_t n, int64_t D, uint64_t salt = 1, double noise = 0) {
  Tensor x(DType::F32, {n, D}), y(DType::F32, {n, 1});
  for (int64_t i = 0; i < n; ++i) {
    double s = 0.3;
    for (int64_t d = 0; d < D; ++d) {
      double v = 2 * hash01(uint64_t(i * D + d), salt) - 1;
      x.set(i * D + d, v);
      s += v * (1.5 - double(d));
    }
    y.set(i, s + noise * (hash01(uint64_t(i), salt + 99) - 0.5));
  }
  return {{"x", x}, {"y", y}};
}

// K Gaussian-ish blobs in 2-D around points on a circle of radius 2.
inline TensorMap blob_data(int64_t n, int64_t K, uint64_t salt = 3) {
  Tensor x(DType::F32, {n, 2}), label(DType::I64, {n});
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = i % K;
    double a = 2 * M_PI * double(k) / double(K);
    x.set(2 * i, 2 * std::cos(a) + (hash01(uint64_t(i), salt) - 0.5) * 1.6);
    x.set(2 * i + 1, 2 * std::sin(a) + (hash01(uint64_t(i), salt + 1) - 0.5) * 1.6);
    label.data<int64_t>()[i] = k;
  }
  return {{"x", x}, {"label", label}};
}

// Expects the same tensor names with the same types and bit-identical contents.
inline void expect_same_tensors(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (auto& [name, t] : a) {
    auto it = b.find(name);
    ASSERT_NE(it, b.end()) << name;
    ASSERT_EQ(t.type(), it->second.type()) << name;
    EXPECT_EQ(0, std::memcmp(t.raw(), it->second.raw(), t.nbytes())) << name << " differs";
  }
}

inline TrainOptions quiet_options(int64_t epochs, int64_t batch, uint64_t seed = 0) {
  TrainOptions o;
  o.epochs = epochs;
  o.batch = batch;
  o.seed = seed;
  o.progress = ProgressMode::None;
  o.out = nullptr;
  return o;
}

}  // namespace starc::test
