// JIT vs reference interpreter, op by op: every lowered op runs through MLIR -> LLVM and
// must agree with its reference kernel. One table; a new op joins by adding a line
// (and the coverage test below fails until it does).
#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "compiler/lower/emit.h"
#include "grad_test_util.h"
#include "op_test_util.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

struct OpCase {
  std::string op;
  std::vector<Shape> shapes;  // one per input
  Attrs attrs = {};
  std::vector<std::optional<DType>> dtypes = {};  // per input; nullopt/absent: the run's float type
  double lo = -2, hi = 2;          // input range
};

// The table, one function per op family (compiler/lower/lower_<family>.cpp). Shapes
// include odd sizes (1, 3, 17), a long axis (4618) and broadcasting.
std::vector<OpCase> elementwise_cases() {
  std::vector<OpCase> c;
  for (const char* op : {"neg", "exp", "tanh", "sigmoid", "relu", "abs", "sign", "sin", "cos", "square", "softplus",
                         "leaky_relu", "elu"})
    for (Shape s : {Shape{}, Shape{1}, Shape{17}, Shape{3, 4618}}) c.push_back({op, {s}});
  for (const char* op : {"log", "sqrt", "rsqrt"}) c.push_back({op, {{3, 17}}, {}, {}, 0.1, 3});
  c.push_back({"leaky_relu", {{17}}, {{"alpha", 0.2}}});
  c.push_back({"elu", {{17}}, {{"alpha", 0.5}}});
  for (const char* op : {"add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "ne", "lt", "le", "gt", "ge"})
    for (auto sh : std::vector<std::vector<Shape>>{{{3, 17}, {3, 17}}, {{3, 17}, {17}}, {{2, 1, 5}, {3, 1}}, {{}, {4618}}})
      c.push_back({op, sh, {}, {}, 0.5, 2});
  for (const char* op : {"add", "sub", "mul", "div", "maximum", "minimum", "lt", "eq"})
    c.push_back({op, {{3, 5}, {5}}, {}, {DType::I64, DType::I64}, 1, 9});
  c.push_back({"where", {{3, 17}, {3, 17}, {17}}, {}, {DType::Bool}});
  for (DType to : {DType::F32, DType::F64, DType::I64, DType::Bool}) c.push_back({"cast", {{3, 17}}, {{"dtype", to}}, {}, -5, 5});
  c.push_back({"cast", {{3, 17}}, {{"dtype", DType::F32}}, {DType::I64}, -5, 5});
  c.push_back({"cast", {{3, 17}}, {{"dtype", DType::F64}}, {DType::Bool}});
  return c;
}

// Reductions, softmax, normalisation, dropout, random ops (lower_reduce_nn.cpp).
std::vector<OpCase> reduce_nn_cases() { return {}; }

// matmul, convolutions, pooling and their gradient ops (lower_linalg_conv.cpp).
std::vector<OpCase> linalg_conv_cases() { return {}; }

// Shape ops, full/one_hot, scan (lower_shape_scan.cpp).
std::vector<OpCase> shape_scan_cases() { return {}; }

std::vector<OpCase> cases() {
  std::vector<OpCase> all;
  for (auto family : {elementwise_cases, reduce_nn_cases, linalg_conv_cases, shape_scan_cases})
    for (auto& c : family()) all.push_back(c);
  return all;
}

Tensor make_input(const Shape& s, DType dt, uint32_t seed, double lo, double hi) {
  if (dt == DType::Bool) return random_tensor(s, DType::F64, seed).cast(DType::F64).cast(DType::Bool);
  if (dt == DType::I64) return random_tensor(s, DType::F64, seed, lo, hi).cast(DType::I64);
  return random_tensor(s, dt, seed, lo, hi);
}

std::string describe(const OpCase& c, DType ft) {
  std::string s = c.op + "(";
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    DType dt = i < c.dtypes.size() && c.dtypes[i] ? *c.dtypes[i] : ft;
    s += (i ? ", " : "") + type_str(TensorType{dt, c.shapes[i]});
  }
  return s + ")";
}

// Tolerance: f64 near machine precision; f32 a few ulps (libm vs LLVM math expansions).
double tolerance(DType dt) { return dt == DType::F64 ? 1e-12 : 2e-6; }

void expect_close(const Tensor& jit, const Tensor& ref, double tol, const std::string& what) {
  ASSERT_EQ(type_str(jit.type()), type_str(ref.type())) << what;
  for (int64_t i = 0; i < ref.size(); ++i) {
    double a = jit.get(i), b = ref.get(i);
    if (std::isnan(b)) {
      EXPECT_TRUE(std::isnan(a)) << what << " at " << i;
      continue;
    }
    ASSERT_LE(std::abs(a - b), tol * std::max(1.0, std::abs(b))) << what << " at flat index " << i << ": jit " << a
                                                                  << " vs reference " << b;
  }
}

TEST(JitOps, MatchReferenceInF32AndF64) {
  JitExecutor jit;
  uint32_t seed = 1;
  for (DType ft : {DType::F32, DType::F64})
    for (const OpCase& c : cases()) {
      std::vector<Tensor> in;
      for (size_t i = 0; i < c.shapes.size(); ++i) {
        DType dt = i < c.dtypes.size() && c.dtypes[i] ? *c.dtypes[i] : ft;
        in.push_back(make_input(c.shapes[i], dt, seed++, c.lo, c.hi));
      }
      std::string what = describe(c, ft);
      Graph g = one_op_graph(c.op, in, c.attrs);
      std::vector<Tensor> ref = run_graph(g, in, {});
      std::vector<Tensor> got;
      try {
        got = jit.run(g, in, {}, 0);
      } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": " << e.what();
        continue;
      }
      expect_close(got[0], ref[0], tolerance(ft), what);
    }
}

// Ops with a lowering must appear in the table above.
TEST(JitOps, EveryLoweredOpIsTested) {
  std::set<std::string> tested;
  for (auto& c : cases()) tested.insert(c.op);
  for (const OpDef* op : all_ops())
    if (find_lowering(op->name) && !tested.count(op->name) && op->name != "const")
      ADD_FAILURE() << "op '" << op->name << "' has a lowering but no line in the JIT test table";
}

}  // namespace
}  // namespace starc::test
