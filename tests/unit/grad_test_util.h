// Test helpers for gradients: a one-op graph checked against central finite differences.
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/ops/builder.h"
#include "runtime/gradcheck.h"

namespace starc::test {

// A graph with one input node per tensor (named x0, x1, ...) feeding op `name`.
inline Graph one_op_graph(const std::string& name, const std::vector<Tensor>& inputs, Attrs attrs = {}) {
  Graph g;
  g.name = name;
  GraphBuilder b(g);
  std::vector<int> ids;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    int id = b.op("input", {}, {{"name", fmt::format("x{}", i)}, {"dtype", t.dtype()}, {"shape", Ints(t.shape())}});
    g.inputs.push_back(id);
    ids.push_back(id);
  }
  g.outputs = {b.op(name, ids, std::move(attrs))};
  g.output_names = {"y"};
  return g;
}

// Checks the gradient of op `name` with respect to every float input in f64 (central
// differences, step 1e-5) to relative error `tol`; `what` labels failures.
inline void expect_gradcheck(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params = {},
                             double tol = 1e-6, uint64_t seed = 0, const std::string& what = "") {
  GradcheckOptions opts;
  opts.seed = seed;
  auto entries = gradcheck(g, inputs, params, opts);
  EXPECT_FALSE(entries.empty()) << what << ": nothing to check";
  for (auto& e : entries)
    EXPECT_LT(e.max_rel_err, tol) << what << " d/d" << e.name << " at flat index " << e.worst_index << ": analytic "
                                  << e.analytic << " vs numeric " << e.numeric;
}

inline void expect_op_gradient(const std::string& name, const std::vector<Tensor>& inputs, Attrs attrs = {},
                               double tol = 1e-6, uint64_t seed = 0) {
  Graph g = one_op_graph(name, inputs, attrs);
  std::string what = name;
  for (auto& t : inputs) what += " " + type_str(t.type());
  expect_gradcheck(g, inputs, {}, tol, seed, what);
}

// Checks that op `name`'s gradient rule is itself differentiable: the graph from
// (inputs..., dy) to the rule's gradients (seeded with input dy) goes through gradcheck,
// so autodiff runs over the nodes the rule emitted (nested gradients).
inline void expect_op_grad_of_grad(const std::string& name, const std::vector<Tensor>& inputs, Attrs attrs = {},
                                   double tol = 1e-6, uint64_t seed = 0) {
  Graph g = one_op_graph(name, inputs, attrs);
  GraphBuilder b(g);
  int y = g.outputs[0];
  TensorType ty = g.type(y);
  int dy = b.op("input", {}, {{"name", std::string("dy")}, {"dtype", ty.dtype}, {"shape", Ints(ty.shape)}});
  g.inputs.push_back(dy);
  std::vector<int> wrt;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (is_float(inputs[i].dtype())) wrt.push_back(g.inputs[i]);
  g.outputs = append_gradients(g, y, wrt, dy);
  g.output_names.clear();
  for (size_t i = 0; i < g.outputs.size(); ++i) g.output_names.push_back(fmt::format("d{}", i));
  std::vector<Tensor> all = inputs;
  Tensor dyv(ty.dtype, ty.shape);
  for (int64_t i = 0; i < dyv.size(); ++i) dyv.set(i, std::sin(double(i) * 1.7 + double(seed)));
  all.push_back(dyv);
  std::string what = "grad of grad of " + name;
  for (auto& t : inputs) what += " " + type_str(t.type());
  expect_gradcheck(g, all, {}, tol, seed, what);
}

// For graphs with symbolic dims: the gradient is built on `g` itself (symbolic), run on
// the reference interpreter with the concrete `inputs` (f64), and compared with central
// differences of g's scalar output (gradcheck specializes before differentiating, so it
// does not see the rules' symbolic-shape code).
inline void expect_symbolic_gradient(const Graph& g, const std::vector<Tensor>& inputs, double tol = 1e-6) {
  Graph fwd = with_float_type(g, DType::F64);
  Graph gg = fwd;
  std::vector<int> wrt;
  for (int id : fwd.inputs)
    if (is_float(fwd.type(id).dtype)) wrt.push_back(id);
  gg.outputs = append_gradients(gg, fwd.outputs.at(0), wrt);
  gg.output_names.clear();
  for (size_t k = 0; k < wrt.size(); ++k) {
    EXPECT_EQ(gg.type(gg.outputs[k]), fwd.type(wrt[k])) << "gradient type of input " << k;
    gg.output_names.push_back(fmt::format("d{}", k));
  }
  std::vector<Tensor> in;
  for (auto& t : inputs) in.push_back(is_float(t.dtype()) ? t.cast(DType::F64) : t);
  std::vector<Tensor> analytic = run_graph(gg, in, {});
  const double eps = 1e-6;
  auto loss = [&](const std::vector<Tensor>& at) { return run_graph(fwd, at, {})[0].get(0); };
  size_t k = 0;
  for (size_t j = 0; j < in.size(); ++j) {
    if (!is_float(in[j].dtype())) continue;
    ASSERT_EQ(analytic[k].shape(), in[j].shape());
    for (int64_t i = 0; i < in[j].size(); ++i) {
      std::vector<Tensor> p = in, q = in;
      p[j] = in[j].clone();
      q[j] = in[j].clone();
      p[j].set(i, in[j].get(i) + eps);
      q[j].set(i, in[j].get(i) - eps);
      double numeric = (loss(p) - loss(q)) / (2 * eps);
      EXPECT_NEAR(analytic[k].get(i), numeric, tol * std::max(1.0, std::abs(numeric)))
          << "input " << j << " at flat index " << i;
    }
    ++k;
  }
}

}  // namespace starc::test
