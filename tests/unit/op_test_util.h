// Test helpers: run one primitive op on the reference kernel, build tensors quickly, find
// a graph's params by name.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "compiler/ops/op.h"

namespace starc::test {

inline Tensor T(Shape shape, std::vector<double> values, DType dt = DType::F64) {
  return Tensor::from_vector(dt, std::move(shape), values);
}

// Checks attrs and the shape rule, runs the reference kernel, and checks that the
// kernel's result has exactly the inferred type.
inline Tensor run_op(const std::string& name, std::vector<Tensor> in, Attrs attrs = {}, uint64_t seed = 0) {
  const OpDef* op = find_op(name);
  if (!op) throw std::runtime_error("no op " + name);
  Attrs full = complete_attrs(*op, std::move(attrs));
  std::vector<TensorType> types;
  for (auto& t : in) types.push_back(t.type());
  TensorType want = infer_type(*op, types, full, nullptr);
  RefCtx ctx;
  ctx.seed = seed;
  Tensor out = op->ref(in, full, ctx);
  EXPECT_EQ(type_str(out.type()), type_str(want)) << "kernel result type differs from the shape rule for " << name;
  return out;
}

// Shape rule only (for error tests): returns the inferred type or throws OpError.
inline TensorType infer_op(const std::string& name, std::vector<TensorType> in, Attrs attrs = {}) {
  const OpDef* op = find_op(name);
  if (!op) throw std::runtime_error("no op " + name);
  return infer_type(*op, in, complete_attrs(*op, std::move(attrs)), nullptr);
}

// The result type with symbolic dims in `syms`, which gains the derived dims the rule
// computes (a conv's output length), printed by name: "f32[2,4,L-1]".
inline std::string infer_op_sym(const std::string& name, std::vector<TensorType> in, Attrs attrs, SymbolNames& syms) {
  const OpDef* op = find_op(name);
  if (!op) throw std::runtime_error("no op " + name);
  return type_str(infer_type(*op, in, complete_attrs(*op, std::move(attrs)), &syms, &syms), &syms);
}

inline void expect_near(const Tensor& got, const std::vector<double>& want, double tol = 1e-9) {
  ASSERT_EQ(got.size(), int64_t(want.size()));
  for (int64_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got.get(i), want[i], tol) << "at flat index " << i;
}

// Uniform(lo, hi) values (times 10, rounded, for i64), reproducible per seed.
inline Tensor random_tensor(Shape shape, DType dt, uint32_t seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(size_t(num_elements(shape)));
  for (double& x : v) x = dt == DType::I64 ? std::round(u(rng) * 10) : u(rng);
  return Tensor::from_vector(dt, std::move(shape), v);
}

// The message of the OpError that f throws, or "<no OpError>".
inline std::string what(const std::function<void()>& f) {
  try {
    f();
  } catch (const OpError& e) {
    return e.what();
  }
  return "<no OpError>";
}

// Runs f, expecting std::runtime_error (or a subclass) whose message contains every part.
inline void expect_error(const std::function<void()>& f, std::vector<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << parts.front() << "'";
  } catch (const std::runtime_error& e) {
    for (auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "message: " << e.what();
  }
}

// The names of g's params, in g.params() order.
inline std::vector<std::string> param_names(const Graph& g) {
  std::vector<std::string> out;
  for (int id : g.params()) out.push_back(attr_str(g.node(id).attrs, "name"));
  return out;
}

// The param node of g named `name`; throws std::runtime_error where there is none.
inline const Node& param(const Graph& g, const std::string& name) {
  for (int id : g.params())
    if (attr_str(g.node(id).attrs, "name") == name) return g.node(id);
  throw std::runtime_error("no param " + name);
}

}  // namespace starc::test
