// Run-time faults (issue 25, docs/reliability.md): i64 arithmetic on every edge value
// gives the numbers docs/language.md defines ("Integer arithmetic at run time") on the
// JIT and the reference interpreter alike, with no trap, and lowers for the GPU; memory
// that a run cannot have is refused before it starts or reported when an allocation of
// the generated code fails, naming the tensor and its size, and the executor goes on.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "compiler/backend/cpu/jit.h"
#include "compiler/backend/kernels/starc_kernels.h"
#include "compiler/opt/passes.h"
#include "gpu_test_util.h"
#include "jit_test_util.h"
#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"
#include "runtime/memory_limit.h"

namespace starc::test {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
const std::vector<int64_t> kEdges = {0, 1, -1, 2, -2, 7, -7, 3037000500, kMin + 1, kMax, kMin};

// The documented semantics, written out apart from both backends.
int64_t wrap(uint64_t v) { return int64_t(v); }
int64_t want_div(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (a == kMin && b == -1) return kMin;
  return a / b;
}
int64_t want_pow(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
  uint64_t r = 1, base = uint64_t(a);  // a^b mod 2^64, bit by bit of b
  for (int bit = 0; bit < 63; ++bit, base *= base)
    if ((b >> bit) & 1) r *= base;
  return wrap(r);
}
int64_t want_cast(double x) {
  if (std::isnan(x)) return 0;
  if (x >= 9223372036854775808.0) return kMax;
  if (x < -9223372036854775808.0) return kMin;
  return int64_t(x);
}

Tensor ints(Shape shape, const std::vector<int64_t>& v) {
  Tensor t(DType::I64, std::move(shape));
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

// The graph run by both backends: each result element by element against want(i).
void expect_both(const Graph& g, const std::vector<Tensor>& inputs,
                 const std::function<int64_t(size_t out, int64_t i)>& want) {
  JitExecutor jit(JitOptions{}, "");
  std::vector<Tensor> got_jit = jit.run(g, inputs, {}, 0), got_ref = run_graph(g, inputs, {});
  ASSERT_EQ(got_jit.size(), g.outputs.size());
  for (size_t o = 0; o < got_jit.size(); ++o)
    for (int64_t i = 0; i < got_jit[o].size(); ++i) {
      int64_t w = want(o, i);
      EXPECT_EQ(got_jit[o].data<int64_t>()[i], w) << "JIT, output " << g.output_names[o] << " at " << i;
      EXPECT_EQ(got_ref[o].data<int64_t>()[i], w) << "reference, output " << g.output_names[o] << " at " << i;
    }
}

const char* const kIntOps = R"(
model Ints(a: i64[11, 1], b: i64[1, 11]) -> (add: i64[11, 11], sub: i64[11, 11], mul: i64[11, 11],
                                             div: i64[11, 11], pow: i64[11, 11], sel: i64[11, 11]) {
    return (a + b, a - b, a * b, a / b, a ** b, where(a > b, a, b))
}
)";

// Every pair of edge values (0, +-1, INT64_MIN, INT64_MAX, ...): x / 0 = 0, INT64_MIN / -1
// = INT64_MIN, + - * ** wrap, a negative exponent truncates, `where` keeps all 64 bits.
TEST(IntegerFaults, EdgeValuesGiveTheDocumentedNumbersOnBothBackends) {
  Graph g = compile(kIntOps, "Ints");
  const int64_t n = int64_t(kEdges.size());
  expect_both(g, {ints({n, 1}, kEdges), ints({1, n}, kEdges)}, [&](size_t out, int64_t i) -> int64_t {
    int64_t a = kEdges[size_t(i / n)], b = kEdges[size_t(i % n)];
    switch (out) {
      case 0:
        return wrap(uint64_t(a) + uint64_t(b));
      case 1:
        return wrap(uint64_t(a) - uint64_t(b));
      case 2:
        return wrap(uint64_t(a) * uint64_t(b));
      case 3:
        return want_div(a, b);
      case 4:
        return want_pow(a, b);
      default:
        return a > b ? a : b;
    }
  });
}

TEST(IntegerFaults, DivisionAndPowerSpotValues) {
  EXPECT_EQ(want_div(-7, 2), -3);  // truncating, as C (not floor division)
  EXPECT_EQ(want_div(kMin, -1), kMin);
  EXPECT_EQ(want_div(5, 0), 0);
  EXPECT_EQ(want_pow(2, 63), kMin);  // wraps
  EXPECT_EQ(want_pow(-1, -3), -1);
  EXPECT_EQ(want_pow(0, -1), 0);
  EXPECT_EQ(want_pow(3, 4), 81);
}

// A sum wraps; float -> i64 truncates, saturates and maps NaN to 0 (f32 and f64).
TEST(IntegerFaults, SumWrapsAndFloatCastsSaturate) {
  Graph g = compile(R"(
model S(a: i64[3], x: f64[12], y: f32[12]) -> (s: i64[], cx: i64[12], cy: i64[12]) {
    return (sum(a), cast(x, i64), cast(y, i64))
}
)",
                    "S");
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  const std::vector<double> xs = {
      nan, inf, -inf, 1e19, -1e19, 9.2e18, -9.3e18, 2.5, -2.5, -0.0, 9223372036854775808.0, -9223372036854775808.0};
  Tensor x(DType::F64, {12}), y(DType::F32, {12});
  for (size_t i = 0; i < xs.size(); ++i) x.data<double>()[i] = xs[i], y.data<float>()[i] = float(xs[i]);
  expect_both(g, {ints({3}, {kMax, kMax, 2}), x, y}, [&](size_t out, int64_t i) -> int64_t {
    if (out == 0) return 0;  // 2 * INT64_MAX + 2 = 2^64
    return out == 1 ? want_cast(xs[size_t(i)]) : want_cast(double(float(xs[size_t(i)])));
  });
}

// A fill's float value becomes an i64 as `cast` converts it, whether the fill runs, is
// folded into a constant by the graph passes, or runs on the reference.
TEST(IntegerFaults, FillsConvertTheirValueAsCastDoes) {
  Graph g = compile(R"(
model F(a: i64[2]) -> (big: i64[2], small: i64[2], frac: i64[2]) {
    return (a + full([2], 1e30, dtype: i64), a + full([2], -1e30, dtype: i64), a + full([2], -2.7, dtype: i64))
}
)",
                    "F");
  expect_both(g, {ints({2}, {0, 1})}, [&](size_t out, int64_t i) -> int64_t {
    int64_t fill = out == 0 ? kMax : out == 1 ? kMin : -2;
    return wrap(uint64_t(fill) + uint64_t(i));
  });
}

// Tensor::cast (data read with `--in x.npy:i64`, constants the passes fold) converts as
// the `cast` op does, not through C++'s undefined out-of-range conversion.
TEST(IntegerFaults, TensorCastToI64Saturates) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor f = Tensor::from_vector(DType::F64, {5}, {1e30, -1e30, nan, -2.7, 9007199254740993.0});
  Tensor i = f.cast(DType::I64);
  const int64_t* v = i.data<int64_t>();
  EXPECT_EQ(v[0], kMax);
  EXPECT_EQ(v[1], kMin);
  EXPECT_EQ(v[2], 0);
  EXPECT_EQ(v[3], -2);
  EXPECT_EQ(v[4], 9007199254740992);  // the f64 nearest 2^53 + 1
  Tensor f32 = Tensor::from_vector(DType::F32, {1}, {3e38}).cast(DType::I64);
  EXPECT_EQ(f32.data<int64_t>()[0], kMax);
}

// The GPU target runs the same elementwise lowering: the guarded division, the power
// and the saturating cast lower to PTX (and ptxas accepts it, where it is installed).
TEST(IntegerFaults, GpuLoweringAssembles) {
  Graph g = compile(kIntOps, "Ints");
  std::string text =
      emit_mlir(optimize(specialize(g, {}), passes_for(Device::Cuda, {})), "forward", nullptr, Device::Cuda);
  if (!ptxas_binary().empty()) {
    expect_ptxas_accepts(text, "i64 edge-value ops");
  } else {
    std::vector<PtxModule> mods;
    EXPECT_NO_THROW(mods = lower_to_ptx(text));
    bool divides = false;
    for (const PtxModule& m : mods) divides |= m.ptx.find("div.s64") != std::string::npos;
    EXPECT_TRUE(divides) << "no 64-bit division in the kernels";
  }
}

// ---- memory ------------------------------------------------------------------------

// Sets the memory limit for one test.
struct LimitGuard {
  explicit LimitGuard(int64_t bytes) : saved(memory_limit()) { set_memory_limit(bytes); }
  ~LimitGuard() { set_memory_limit(saved); }
  int64_t saved;
};

// Temporaries of B * n * 4 bytes: the matmul's result (node %2) before the reduction.
std::string huge_model(int64_t n) {
  return "model Huge(x: f32[B, 1]) -> f32[B] {\n    let h = relu(x @ ones([1, " + std::to_string(n) +
         "]))\n    return sum(h * h, axes: [1])\n}\n";
}

Tensor column(int64_t rows, float v) {
  Tensor t(DType::F32, {rows, 1});
  std::fill(t.data<float>(), t.data<float>() + rows, v);
  return t;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(MemoryFaults, PlanOverTheLimitIsRefusedBeforeRunning) {
  LimitGuard limit(int64_t(1) << 30);
  Graph g = compile(huge_model(1000000), "Huge");
  JitExecutor jit(JitOptions{}, "");
  try {
    jit.run(g, {column(1000, 1)}, {}, 0);
    FAIL() << "not refused";
  } catch (const MemoryLimitError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("model Huge needs 3.7 GiB at B=1000"), std::string::npos) << m;
    EXPECT_NE(m.find("the largest: node %2 (matmul at"), std::string::npos) << m;
    EXPECT_NE(m.find("f32[1000,1000000]"), std::string::npos) << m;
    EXPECT_NE(m.find("1.0 GiB allowed"), std::string::npos) << m;
    EXPECT_TRUE(e.user_limit);
    EXPECT_EQ(e.available, int64_t(1) << 30);
  }
  // A batch that fits runs on the same executor.
  std::vector<Tensor> out = jit.run(g, {column(2, 1)}, {}, 0);
  EXPECT_EQ(out[0].data<float>()[1], 1e6f);
}

// The interpreter keeps every value: its refusal counts them all.
TEST(MemoryFaults, InterpreterRefusesBeforeRunning) {
  LimitGuard limit(int64_t(1) << 30);
  Graph g = compile(huge_model(1000000), "Huge");
  std::string m = message_of([&] { run_graph(g, {column(1000, 1)}, {}); });
  EXPECT_NE(m.find("model Huge needs"), std::string::npos) << m;
  EXPECT_NE(m.find("reference interpreter"), std::string::npos) << m;
  EXPECT_NE(m.find("f32[1000,1000000]"), std::string::npos) << m;
}

// With no limit, a temporary larger than any address space (4e5 x 1e8 floats, 145 TiB)
// reaches the generated code's malloc: the code returns at once and the executor names
// the node and the size; the buffers the call held are released, and the executor
// keeps working.
TEST(MemoryFaults, FailedAllocationInGeneratedCodeIsAnError) {
  LimitGuard limit(kNoMemoryLimit);
  Graph g = compile(huge_model(100000000), "Huge");
  JitExecutor jit(JitOptions{}, "");
  std::string m = message_of([&] { jit.run(g, {column(400000, 1)}, {}, 0); });
  EXPECT_NE(m.find("out of memory: cannot allocate 145.5 TiB for node %2 (matmul at"), std::string::npos) << m;
  EXPECT_NE(m.find("f32[400000,100000000]) in model Huge"), std::string::npos) << m;
  Graph small = compile(huge_model(3), "Huge");
  std::vector<Tensor> out = jit.run(small, {column(2, 2)}, {}, 0);
  EXPECT_EQ(out[0].data<float>()[0], 12.0f);
}

// The allocator generated code calls: a failure is recorded once, with its node, on the
// calling thread, and taking it clears it.
TEST(MemoryFaults, KernelLibraryAllocatorRecordsTheFirstFailure) {
  void* a = starc_mem_alloc(100, 1);
  ASSERT_NE(a, nullptr);
  starc_mem_free(a);
  EXPECT_EQ(starc_mem_failed(3), 0);
  EXPECT_EQ(starc_mem_alloc(-1, 4), nullptr);
  EXPECT_EQ(starc_mem_alloc(kMax, 5), nullptr);
  EXPECT_EQ(starc_mem_failed(6), 1);
  int64_t bytes = 0, node = 0;
  ASSERT_EQ(starc_mem_take_failure(&bytes, &node), 1);
  EXPECT_EQ(bytes, -1);
  EXPECT_EQ(node, 4);
  EXPECT_EQ(starc_mem_take_failure(&bytes, &node), 0);
  starc_mem_note_failure(64, -1);  // a kernel's workspace: the next check names its node
  EXPECT_EQ(starc_mem_failed(9), 1);
  ASSERT_EQ(starc_mem_take_failure(&bytes, &node), 1);
  EXPECT_EQ(node, 9);
}

// Generated code checks allocations only in the entry's own control flow: none may sit
// inside a parallel loop (an OpenMP region), where a failure could not return. The
// redshift CNN's train step (convolutions) and an LSTM's (a scan), at a batch big enough
// for parallel loops.
TEST(MemoryFaults, NoAllocationInsideParallelLoops) {
  for (const char* file : {"/stdlib/astro/redshift.net", "/stdlib/astro/supernova.net"}) {
    SourceManager sm;
    DiagEngine diags(sm);
    Program prog(diags);
    ASSERT_TRUE(prog.load_file(STARC_SOURCE_DIR + std::string(file))) << diags.format_all();
    for (const std::string& model : prog.trained_models()) {
      std::optional<TrainPlan> plan = prog.build_train(model);
      ASSERT_TRUE(plan) << diags.format_all();
      const Graph& step = plan->steps[0].graph;
      std::string loops = lower_to_cpu_loops(
          emit_mlir(optimize(specialize(step, std::vector<Dim>(step.symbols.size(), 4096)), {}), "forward"), true);
      std::vector<size_t> parallel;  // indentation of the scf.parallel loops we are in
      int nested = 0, loops_seen = 0;
      std::istringstream in(loops);
      for (std::string line; std::getline(in, line);) {
        size_t indent = line.find_first_not_of(' ');
        if (indent == std::string::npos) continue;
        if (line.compare(indent, 1, "}") == 0 && !parallel.empty() && parallel.back() == indent) parallel.pop_back();
        if (line.find("scf.parallel") != std::string::npos) parallel.push_back(indent), ++loops_seen;
        if (line.find("memref.alloc(") != std::string::npos || line.find("memref.alloc()") != std::string::npos)
          nested += !parallel.empty();
      }
      EXPECT_GT(loops_seen, 0) << file << " " << model;
      EXPECT_EQ(nested, 0) << file << " " << model;
    }
  }
}

}  // namespace
}  // namespace starc::test
