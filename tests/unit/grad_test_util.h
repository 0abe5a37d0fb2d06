// Test helpers for gradients: a one-op graph checked against central finite differences.
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>

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
    EXPECT_LT(e.max_rel_err, tol) << what << " d/d" << e.name << " at flat index " << e.worst_index
                                  << ": analytic " << e.analytic << " vs numeric " << e.numeric;
}

inline void expect_op_gradient(const std::string& name, const std::vector<Tensor>& inputs, Attrs attrs = {},
                               double tol = 1e-6, uint64_t seed = 0) {
  Graph g = one_op_graph(name, inputs, attrs);
  std::string what = name;
  for (auto& t : inputs) what += " " + type_str(t.type());
  expect_gradcheck(g, inputs, {}, tol, seed, what);
}

}  // namespace starc::test
