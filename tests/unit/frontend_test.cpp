// Front end: small .net programs compiled from strings, checked on the Graph they build
// (parameter names, shapes, outputs) and on the numbers the reference interpreter
// computes from them (hand values, or an independent implementation written here).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "compiler/ops/philox.h"
#include "dsl/program.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "tests/unit/op_test_util.h"

namespace starc {
namespace {

using test::param;
using test::param_names;
using test::T;

// A path inside the repository so that `use std.nn` finds the standard library.
const char* kPath = STARC_SOURCE_DIR "/tests/unit/inline.net";

Graph compile(const std::string& src, const std::string& model, BuildOptions opts = {}) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  std::optional<Graph> g;
  if (prog.load_text(kPath, src)) g = prog.build(model, opts);
  if (!g) throw std::runtime_error("compile failed:\n" + diags.format_all());
  return std::move(*g);
}

// Compiles a program that must fail; returns the formatted diagnostics.
std::string compile_error(const std::string& src, const std::string& model) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  if (prog.load_text(kPath, src) && prog.build(model)) return "";
  return diags.format_all();
}

std::string out_type(const Graph& g, int i) { return type_str(g.type(g.outputs.at(i)), &g.symbols); }

bool has_op(const Graph& g, const std::string& op) {
  for (auto& n : g.nodes)
    if (is_op(n, op)) return true;
  return false;
}

std::string run_error(const Graph& g, const std::vector<Tensor>& in, const TensorMap& params) {
  try {
    run_graph(g, in, params);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_CONTAINS(hay, needle) EXPECT_NE(std::string(hay).find(needle), std::string::npos) << "in: " << (hay)

// ------------------------------------------------------------------ parameter names

TEST(FrontendNames, DenseLayersAreNumberedInCallOrder) {
  Graph g = compile(R"(
use std.nn
model M(x: f32[B, 4]) -> f32[B, 2] {
    h = x |> dense(3) |> relu
    return dense(h, 2)
}
)",
                    "M");
  EXPECT_EQ(param_names(g), (std::vector<std::string>{"dense0.weight", "dense0.bias", "dense1.weight", "dense1.bias"}));
  EXPECT_EQ(type_str(param(g, "dense0.weight").type), "f32[3,4]");  // PyTorch layout [out, in]
  EXPECT_EQ(type_str(param(g, "dense0.bias").type), "f32[3]");
  EXPECT_EQ(type_str(param(g, "dense1.weight").type), "f32[2,3]");
  for (int id : g.params()) EXPECT_TRUE(attr_bool(g.node(id).attrs, "trainable"));
  EXPECT_EQ(attr_str(param(g, "dense0.weight").attrs, "init"), "he_uniform");
  EXPECT_EQ(attr_str(param(g, "dense0.bias").attrs, "init"), "zeros");
}

TEST(FrontendNames, AsNamesALayer) {
  Graph g = compile(R"(
use std.nn
model M(x: f32[B, 4]) -> f32[B, 1] {
    h = dense(x, 3) as body
    h = h |> relu |> dense(2)
    return h |> dense(1) as head
}
)",
                    "M");
  EXPECT_EQ(param_names(g), (std::vector<std::string>{"body.weight", "body.bias", "dense0.weight", "dense0.bias",
                                                      "head.weight", "head.bias"}));
  EXPECT_EQ(type_str(param(g, "head.weight").type), "f32[1,2]");
}

TEST(FrontendNames, NestedCallsGiveDottedNames) {
  Graph g = compile(R"(
use std.nn
fn block(x, n: int) {
    return x |> dense(n) |> relu |> dense(n)
}
fn tower(x) {
    return block(block(x, 4), 4)
}
model M(x: f32[B, 4]) -> f32[B, 4] {
    h = block(x, 4)
    h = block(h, 4) as second
    h = block(h, 4)
    return tower(h)
}
)",
                    "M");
  std::vector<std::string> want;
  for (std::string p : {"block0.", "second.", "block1.", "tower0.block0.", "tower0.block1."})
    for (std::string l : {"dense0.", "dense1."})
      for (std::string w : {"weight", "bias"}) want.push_back(p + l + w);
  EXPECT_EQ(param_names(g), want);
}

TEST(FrontendNames, LoopUnitsGetDistinctNames) {
  Graph g = compile(R"(
use std.nn
fn unit(x) {
    return x + dense(relu(dense(x, 4)), 4)
}
model M(x: f32[B, 4]) -> f32[B, 4] {
    h = x
    for i in 0..5 { h = unit(h) }
    return h
}
)",
                    "M");
  auto names = param_names(g);
  ASSERT_EQ(names.size(), 20u);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 20u);
  for (int i = 0; i < 5; ++i)
    for (std::string l : {"dense0.", "dense1."})
      for (std::string w : {"weight", "bias"})
        EXPECT_NE(std::find(names.begin(), names.end(), fmt::format("unit{}.{}{}", i, l, w)), names.end())
            << "unit" << i << "." << l << w;
}

TEST(FrontendNames, StdlibResidualUnitsInALoop) {
  Graph g = compile(R"(
use std.nn
model M(x: f32[B, 2, 8]) -> f32[B, 4, 8] {
    h = x
    for i in 0..5 { h = residual1d(h, out: 4) }
    return h
}
)",
                    "M");
  auto names = param_names(g);
  std::set<std::string> uniq(names.begin(), names.end());
  EXPECT_EQ(uniq.size(), names.size());
  // 3 conv + 3 batchnorm per unit (2 + 4 tensors), plus a 1x1 shortcut conv in the
  // first unit only (2 -> 4 channels).
  EXPECT_EQ(names.size(), 5u * 18u + 2u);
  EXPECT_TRUE(uniq.count("residual1d0.shortcut.weight"));
  EXPECT_FALSE(uniq.count("residual1d1.shortcut.weight"));
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(uniq.count(fmt::format("residual1d{}.conv1d2.bias", i)));
    EXPECT_TRUE(uniq.count(fmt::format("residual1d{}.batchnorm2.running_var", i)));
  }
  EXPECT_EQ(type_str(param(g, "residual1d0.conv1d0.weight").type), "f32[4,2,3]");
  EXPECT_EQ(type_str(param(g, "residual1d0.shortcut.weight").type), "f32[4,2,1]");
  EXPECT_FALSE(attr_bool(param(g, "residual1d3.batchnorm1.running_mean").attrs, "trainable"));
  EXPECT_TRUE(attr_bool(param(g, "residual1d3.batchnorm1.weight").attrs, "trainable"));
  // And it runs: shapes [B, 4, 8] for B = 3.
  Tensor x(DType::F32, {3, 2, 8});
  for (int64_t i = 0; i < x.size(); ++i) x.set(i, std::sin(double(i)));
  auto y = run_graph(g, {x}, init_params(g, 1));
  EXPECT_EQ(type_str(y[0].type()), "f32[3,4,8]");
}

TEST(FrontendNames, DeterministicAcrossBuildsAndIndependentOfOrder) {
  const char* src = R"(
use std.nn
fn unit(x) { return x + dense(relu(dense(x, 4)), 4) }
model M(x: f32[B, 4]) -> f32[B, 4] {
    h = x
    for i in 0..5 { h = unit(h) }
    return h
}
model N(x: f32[B, 4]) -> f32[B, 4] {
    h = dense(x, 4) as extra
    return unit(h)
}
)";
  Graph a = compile(src, "M"), b = compile(src, "M");
  EXPECT_EQ(param_names(a), param_names(b));
  TensorMap pa = init_params(a, 42), pb = init_params(b, 42);
  ASSERT_EQ(pa.size(), pb.size());
  for (auto& [name, t] : pa) {
    ASSERT_EQ(t.type(), pb.at(name).type()) << name;
    EXPECT_EQ(std::memcmp(t.raw(), pb.at(name).raw(), t.nbytes()), 0) << name;
  }
  // The initial value of a parameter depends on its name and the seed only, not on the
  // model it is in nor on what was declared before it.
  Graph n = compile(src, "N");
  TensorMap pn = init_params(n, 42);
  EXPECT_EQ(std::memcmp(pn.at("unit0.dense1.weight").raw(), pa.at("unit0.dense1.weight").raw(),
                        pa.at("unit0.dense1.weight").nbytes()),
            0);
  // Another seed gives other values.
  TensorMap pc = init_params(a, 43);
  EXPECT_NE(std::memcmp(pc.at("unit0.dense1.weight").raw(), pa.at("unit0.dense1.weight").raw(),
                        pa.at("unit0.dense1.weight").nbytes()),
            0);
}

TEST(FrontendNames, SameLayerNameTwiceIsAnError) {
  std::string err = compile_error(R"(
use std.nn
model M(x: f32[B, 4]) -> f32[B, 4] {
    h = dense(x, 4) as a
    return dense(h, 4) as a
}
)",
                                  "M");
  EXPECT_CONTAINS(err, "parameter 'a.weight' is declared twice");
}

// FNV-1a, 64 bit, written out here independently of runtime/init.cpp.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

TEST(FrontendInit, ValuesArePhiloxKeyedBySeedAndFnv1aOfTheName) {
  ASSERT_EQ(fnv1a("a"), 0xaf63dc4c8601ec8cull);  // published FNV-1a test vector
  Graph g = compile(R"(
use std.nn
model M(x: f32[B, 4]) -> f32[B, 3] {
    param n: [5] = normal(1.0, 0.5)
    return dense(x, 3) + reshape(lstm(reshape(x, [x.shape[0], 2, 2]), 3), [x.shape[0], 6])[:, 0:3] + n[0:3]
}
)",
                    "M");
  const uint64_t seed = 1234;
  TensorMap p = init_params(g, seed);
  // dense0.weight [3, 4]: he_uniform with fan_in = 4
  const Tensor& w = p.at("dense0.weight");
  double b = std::sqrt(6.0 / 4);
  for (int64_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(w.get(i), double(float(-b + 2 * b * uniform01(seed, fnv1a("dense0.weight"), uint64_t(i))))) << i;
  // lstm0.weight_hh [12, 3]: glorot_uniform with fan_in = 3, fan_out = 12
  const Tensor& wh = p.at("lstm0.weight_hh");
  double bg = std::sqrt(6.0 / (3 + 12));
  for (int64_t i = 0; i < wh.size(); ++i)
    EXPECT_EQ(wh.get(i), double(float(-bg + 2 * bg * uniform01(seed, fnv1a("lstm0.weight_hh"), uint64_t(i))))) << i;
  // n [5]: normal(mean 1, std 0.5)
  const Tensor& n = p.at("n");
  for (int64_t i = 0; i < n.size(); ++i)
    EXPECT_EQ(n.get(i), double(float(1.0 + 0.5 * standard_normal(seed, fnv1a("n"), uint64_t(i))))) << i;
  for (double v : {p.at("dense0.bias").get(0), p.at("lstm0.bias").get(11)}) EXPECT_EQ(v, 0.0);
}

// ------------------------------------------------------------------ shapes and static values

TEST(FrontendShapes, SymbolicBatchPassesThrough) {
  Graph g = compile(R"(
use std.nn
model M(x: f32[B, 4]) -> f32[B, 2] {
    return x |> dense(3) |> relu |> dense(2)
}
)",
                    "M");
  ASSERT_EQ(g.symbols, (SymbolNames{"B"}));
  EXPECT_EQ(type_str(g.type(g.inputs[0]), &g.symbols), "f32[B,4]");
  EXPECT_EQ(out_type(g, 0), "f32[B,2]");
  EXPECT_EQ(g.output_names, (std::vector<std::string>{"output"}));
  TensorMap p = init_params(g, 0);
  for (int64_t b : {1, 3, 7}) {
    auto y = run_graph(g, {Tensor(DType::F32, {b, 4})}, p);
    EXPECT_EQ(type_str(y[0].type()), fmt::format("f32[{},2]", b));
  }
}

TEST(FrontendShapes, NamedOutputs) {
  Graph g = compile(R"(
model M(x: f32[B, 4]) -> (z: f32[B, 1], p: f32[B, 2]) {
    z = x[:, 0:1] * 2.0
    p = x[:, 1:3] + 1.0
    return (z, p)
}
model U(x: f32[B, 4]) -> (f32[B, 4], f32[B, 4]) {
    return (x, -x)
}
)",
                    "M");
  EXPECT_EQ(g.output_names, (std::vector<std::string>{"z", "p"}));
  EXPECT_EQ(out_type(g, 0), "f32[B,1]");
  EXPECT_EQ(out_type(g, 1), "f32[B,2]");
  auto y = run_graph(g, {T({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}, DType::F32)}, {});
  test::expect_near(y[0], {2, 10});
  test::expect_near(y[1], {3, 4, 7, 8});

  Graph u = compile(R"(
model U(x: f32[B, 4]) -> (f32[B, 4], f32[B, 4]) {
    return (x, -x)
}
)",
                    "U");
  EXPECT_EQ(u.output_names, (std::vector<std::string>{"output0", "output1"}));
}

// Issue 31: a long header may be broken before `->` and before `{` (it used to fail with
// "needs a declared output type"); a newline elsewhere still ends the statement.
TEST(FrontendShapes, HeaderMayContinueOnTheNextLine) {
  Graph g = compile(R"(
fn twice(x)
{
    return x * 2.0
}
model M(x: f32[B, 4])
    -> (z: f32[B, 1],
        p: f32[B, 2])
{
    return (twice(x[:, 0:1]), x[:, 1:3] + 1.0)
}
)",
                    "M");
  EXPECT_EQ(g.output_names, (std::vector<std::string>{"z", "p"}));
  EXPECT_EQ(out_type(g, 1), "f32[B,2]");
  auto y = run_graph(g, {T({1, 4}, {1, 2, 3, 4}, DType::F32)}, {});
  test::expect_near(y[0], {2});
  test::expect_near(y[1], {3, 4});
  EXPECT_CONTAINS(compile_error("model M(x: f32[B, 4])\n    f32[B, 4] {\n    return x\n}\n", "M"),
                  "needs a declared output type");
}

TEST(FrontendShapes, WrongDeclaredOutputIsACompileError) {
  std::string err = compile_error(R"(
model M(x: f32[B, 4]) -> f32[B, 3] {
    return x
}
)",
                                  "M");
  EXPECT_CONTAINS(err, "output 'output' is f32[B,4]");
}

TEST(FrontendShapes, TuplesAndDestructuring) {
  Graph g = compile(R"(
fn halves(x) {
    let n = x.shape[-1] / 2
    return (x[:, 0:n], x[:, n:2 * n])
}
model M(x: f32[B, 4]) -> f32[B, 2] {
    (a, b) = halves(x)
    let t = (1.0, 3.0)
    (s, u) = t
    pair = (a, b)
    return pair[0] * s + pair[1] * u
}
)",
                    "M");
  auto y = run_graph(g, {T({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}, DType::F32)}, {});
  // a + 3 b: [1 + 9, 2 + 12], [5 + 21, 6 + 24]
  test::expect_near(y[0], {10, 14, 26, 30});
}

TEST(FrontendShapes, ShapeMembersAndStaticArithmetic) {
  Graph g = compile(R"(
model M(x: f32[B, 3, 4]) -> f32[B, 12] {
    let n = x.shape[-1] * x.shape[-2]
    assert n == 12, "n"
    assert x.rank == 3, "rank"
    assert len(x.shape[1:]) == 2 and x.shape[1:][0] == 3, "shape slice"
    assert len(x.shape) == 3, "len"
    assert 7 / 2 == 3, "floor"
    assert -7 / 2 == -4, "floor of a negative"
    assert 7 % 3 == 1, "mod"
    assert -7 % 3 == 2, "mod of a negative"
    assert 7.0 / 2 == 3.5, "float division"
    assert 2 ** 10 == 1024, "power"
    assert (4618 - 500) / 1 + 1 == 4119, "conv length"
    assert 4119 / 2 == 2059, "pool length"
    return reshape(x, [x.shape[0], n])
}
)",
                    "M");
  EXPECT_EQ(out_type(g, 0), "f32[B,12]");
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[i] = i;
  auto y = run_graph(g, {T({2, 3, 4}, v, DType::F32)}, {});
  test::expect_near(y[0], v);
}

TEST(FrontendShapes, FailedAssertIsACompileError) {
  std::string err = compile_error(R"(
model M(x: f32[B, 4]) -> f32[B, 4] {
    assert x.shape[-1] / 3 == 2, "four channels"
    return x
}
)",
                                  "M");
  EXPECT_CONTAINS(err, "assertion failed: four channels");
}

TEST(FrontendShapes, SlicingAndIntegerIndexValues) {
  Graph g = compile(R"(
model M(x: f32[B, 4]) -> (mid: f32[B, 2], first: f32[B], last: f32[B], even: f32[B, 2], tail: f32[B, 3]) {
    return (x[:, 1:3], x[:, 0], x[:, -1], x[:, ::2], x[:, 1:])
}
)",
                    "M");
  auto y = run_graph(g, {T({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}, DType::F32)}, {});
  test::expect_near(y[0], {2, 3, 6, 7});
  EXPECT_EQ(type_str(y[1].type()), "f32[2]");
  test::expect_near(y[1], {1, 5});
  test::expect_near(y[2], {4, 8});
  test::expect_near(y[3], {1, 3, 5, 7});
  test::expect_near(y[4], {2, 3, 4, 6, 7, 8});
}

// A symbolic axis can be indexed like a static one (x[:, -1] is the last step of a
// sequence of any length); the index is checked when the axis is bound.
TEST(FrontendShapes, IndexOnASymbolicAxisTakesOneElement) {
  Graph g = compile(R"(
model M(x: f32[B, 4]) -> f32[4] {
    return x[-1]
}
)",
                    "M");
  EXPECT_EQ(type_str(g.type(g.outputs[0]), &g.symbols), "f32[4]");
}

TEST(FrontendShapes, Lambdas) {
  Graph g = compile(R"(
fn apply(x, f: fn) { return f(x) }
model M(x: f32[B, 2]) -> (a: f32[B, 2], b: f32[B, 2], c: f32[B, 2]) {
    double_plus_one = |v| v * 2.0 + 1.0
    let k = 10.0
    scale = |v| v * k
    add = |u, v| u + v
    return (double_plus_one(x), apply(x, scale), apply(x, |v| add(v, v)))
}
)",
                    "M");
  auto y = run_graph(g, {T({1, 2}, {1, -3}, DType::F32)}, {});
  test::expect_near(y[0], {3, -5});
  test::expect_near(y[1], {10, -30});
  test::expect_near(y[2], {2, -6});
}

TEST(FrontendShapes, IfElseOnStaticValues) {
  const char* src = R"(
fn act(x, kind: str) {
    if kind == "relu" {
        return relu(x)
    } else if kind == "neg" {
        return -x
    } else {
        return x
    }
}
model M(x: f32[B, 3], big: bool = false) -> f32[B, 3] {
    y = act(x, "relu")
    if x.shape[-1] > 2 {
        y = y + act(x, "neg")
    } else {
        y = y * 0.0
    }
    if big { y = y * 100.0 }
    if len([1, 2, 3]) == 3 and not big { y = y + act(x, "id") }
    return y
}
)";
  Graph g = compile(src, "M");
  auto y = run_graph(g, {T({1, 3}, {-2, 0.5, 3}, DType::F32)}, {});
  // relu(x) - x + x
  test::expect_near(y[0], {0, 0.5, 3});
}

TEST(FrontendShapes, TrainingIsFalseByDefault) {
  const char* src = R"(
model M(x: f32[B, 2]) -> f32[B, 2] {
    if training { return x * 3.0 } else { return x }
}
)";
  Tensor x = T({1, 2}, {1, 2}, DType::F32);
  test::expect_near(run_graph(compile(src, "M"), {x}, {})[0], {1, 2});
  test::expect_near(run_graph(compile(src, "M", BuildOptions{true}), {x}, {})[0], {3, 6});
}

TEST(FrontendShapes, ZerosAndOnesAreBothInitializersAndTensorBuiltins) {
  // Regression: `zeros(shape)` used to resolve to the initializer `zeros` ("too many
  // arguments for initializer zeros"), which broke std.nn's lstm and gru.
  Graph g = compile(R"(
model M(x: f64[B, 2]) -> f64[B, 2] {
    param a: [2] = ones
    param b: [2] = zeros
    return x * a + b + zeros([B, 2], dtype: f64) + ones([2], dtype: f64) + full([2], 0.5, dtype: f64)
}
)",
                    "M");
  EXPECT_EQ(attr_str(param(g, "a").attrs, "init"), "ones");
  EXPECT_EQ(attr_str(param(g, "b").attrs, "init"), "zeros");
  test::expect_near(run_graph(g, {T({1, 2}, {1, 2})}, init_params(g, 0))[0], {2.5, 3.5});
}

// ------------------------------------------------------------------ numbers

TEST(FrontendNumbers, TinyDenseReluByHand) {
  Graph g = compile(R"(
use std.nn
model M(x: f32[B, 3]) -> f32[B, 2] {
    param w: [2, 3] = zeros
    param b: [2] = zeros
    return relu(x @ transpose(w) + b)
}
model D(x: f32[B, 3]) -> f32[B, 2] {
    return relu(dense(x, 2))
}
)",
                    "M");
  EXPECT_EQ(param_names(g), (std::vector<std::string>{"w", "b"}));
  Tensor x = T({2, 3}, {1, 2, 3, -1, 0, -2}, DType::F32);
  Tensor w = T({2, 3}, {1, 0, -1, 0.5, 0.5, 0.5}, DType::F32);
  Tensor b = T({2}, {0.5, -1}, DType::F32);
  // row 0: [1-3+0.5, 3-1] = [-1.5, 2] -> [0, 2]; row 1: [-1+2+0.5, -1.5-1] -> [1.5, 0]
  test::expect_near(run_graph(g, {x}, {{"w", w}, {"b", b}})[0], {0, 2, 1.5, 0}, 1e-6);

  Graph d = compile(R"(
use std.nn
model D(x: f32[B, 3]) -> f32[B, 2] {
    return relu(dense(x, 2))
}
)",
                    "D");
  test::expect_near(run_graph(d, {x}, {{"dense0.weight", w}, {"dense0.bias", b}})[0], {0, 2, 1.5, 0}, 1e-6);
}

TEST(FrontendNumbers, Broadcasting) {
  Graph g = compile(R"(
model M(a: f32[2, 1], b: f32[3], c: f32[B, 2, 3]) -> (y: f32[B, 2, 3], z: f32[B, 2, 3]) {
    return (c * a + b, 1 - c / 2)
}
)",
                    "M");
  auto y = run_graph(
      g,
      {T({2, 1}, {1, 2}, DType::F32), T({3}, {10, 20, 30}, DType::F32), T({1, 2, 3}, {1, 2, 3, 4, 5, 6}, DType::F32)},
      {});
  test::expect_near(y[0], {11, 22, 33, 18, 30, 42});
  test::expect_near(y[1], {0.5, 0, -0.5, -1, -1.5, -2});
}

TEST(FrontendNumbers, ScanCumulativeSum) {
  Graph g = compile(R"(
model S(x: f32[B, 4]) -> (fwd: f32[B, 4], bwd: f32[B, 4]) {
    let c0 = zeros([B])
    fwd = scan(|c, v| (c + v, c + v), x, c0, axis: 1)
    bwd = scan(|c, v| (c + v, c + v), x, c0, axis: 1, reverse: true)
    return (fwd, bwd)
}
)",
                    "S");
  auto y = run_graph(g, {T({2, 4}, {1, 2, 3, 4, 0, -1, 5, 2}, DType::F32)}, {});
  test::expect_near(y[0], {1, 3, 6, 10, 0, -1, 4, 6});
  // reverse: suffix sums, each kept at its own time step
  test::expect_near(y[1], {10, 9, 7, 4, 6, 6, 7, 2});
}

TEST(FrontendNumbers, ScanWithTwoCarriesAndACapturedTensor) {
  Graph g = compile(R"(
model S(x: f64[B, 3], w: f64[B]) -> f64[B, 3] {
    # carries: running sum s and step count k; output s * w + k
    step = |s, k, v| (s + v, k + 1.0, (s + v) * w + k)
    return scan(step, x, (zeros([B], dtype: f64), zeros([B], dtype: f64)), axis: 1)
}
)",
                    "S");
  auto y = run_graph(g, {T({2, 3}, {1, 2, 3, 4, 5, 6}), T({2}, {1, 10})}, {});
  // row 0 (w=1): s = 1,3,6; k before = 0,1,2 -> 1, 4, 8
  // row 1 (w=10): s = 4,9,15 -> 40, 91, 152
  test::expect_near(y[0], {1, 4, 8, 40, 91, 152});
}

// Independent recurrent cells in plain loops (PyTorch's formulas and gate order).
double sig(double v) { return 1 / (1 + std::exp(-v)); }

// xs [N, T, F]; w_ih [G*U, F]; w_hh [G*U, U]. Output [N, T, U] (states kept at their time step).
std::vector<double> ref_lstm(const Tensor& xs, const Tensor& wih, const Tensor& whh, const Tensor& b, int64_t U,
                             bool reverse) {
  int64_t N = xs.dim(0), Tn = xs.dim(1), F = xs.dim(2);
  std::vector<double> out(N * Tn * U);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> h(U, 0), c(U, 0), g(4 * U);
    for (int64_t s = 0; s < Tn; ++s) {
      int64_t t = reverse ? Tn - 1 - s : s;
      for (int64_t r = 0; r < 4 * U; ++r) {
        double acc = b.get(r);
        for (int64_t f = 0; f < F; ++f) acc += wih.get(r * F + f) * xs.get((n * Tn + t) * F + f);
        for (int64_t k = 0; k < U; ++k) acc += whh.get(r * U + k) * h[k];
        g[r] = acc;
      }
      for (int64_t k = 0; k < U; ++k) {
        double i = sig(g[k]), f = sig(g[U + k]), gg = std::tanh(g[2 * U + k]), o = sig(g[3 * U + k]);
        c[k] = f * c[k] + i * gg;
        h[k] = o * std::tanh(c[k]);
        out[(n * Tn + t) * U + k] = h[k];
      }
    }
  }
  return out;
}

std::vector<double> ref_gru(const Tensor& xs, const Tensor& wih, const Tensor& whh, const Tensor& bih,
                            const Tensor& bhh, int64_t U, bool reverse) {
  int64_t N = xs.dim(0), Tn = xs.dim(1), F = xs.dim(2);
  std::vector<double> out(N * Tn * U);
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> h(U, 0), gi(3 * U), gh(3 * U);
    for (int64_t s = 0; s < Tn; ++s) {
      int64_t t = reverse ? Tn - 1 - s : s;
      for (int64_t r = 0; r < 3 * U; ++r) {
        gi[r] = bih.get(r);
        gh[r] = bhh.get(r);
        for (int64_t f = 0; f < F; ++f) gi[r] += wih.get(r * F + f) * xs.get((n * Tn + t) * F + f);
        for (int64_t k = 0; k < U; ++k) gh[r] += whh.get(r * U + k) * h[k];
      }
      std::vector<double> h2(U);
      for (int64_t k = 0; k < U; ++k) {
        double rr = sig(gi[k] + gh[k]), z = sig(gi[U + k] + gh[U + k]);
        double nn = std::tanh(gi[2 * U + k] + rr * gh[2 * U + k]);
        h2[k] = (1 - z) * nn + z * h[k];
      }
      h = h2;
      for (int64_t k = 0; k < U; ++k) out[(n * Tn + t) * U + k] = h[k];
    }
  }
  return out;
}

// Replaces the (zero-initialised) biases by distinct non-zero values so they are tested.
void perturb(TensorMap& p, const std::string& name) {
  Tensor& t = p.at(name);
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, 0.05 * double(i % 7) - 0.15);
}

Tensor sequence(int64_t N, int64_t Tn, int64_t F) {
  Tensor xs(DType::F64, {N, Tn, F});
  for (int64_t i = 0; i < xs.size(); ++i) xs.set(i, std::sin(0.7 * double(i) + 0.3));
  return xs;
}

TEST(FrontendNumbers, LstmMatchesIndependentImplementation) {
  Graph g = compile(R"(
use std.nn
model L(xs: f64[B, 4, 3]) -> (f: f64[B, 4, 5], r: f64[B, 4, 5]) {
    return (lstm(xs, 5), lstm(xs, 5, reverse: true))
}
)",
                    "L");
  EXPECT_EQ(param_names(g), (std::vector<std::string>{"lstm0.weight_ih", "lstm0.weight_hh", "lstm0.bias",
                                                      "lstm1.weight_ih", "lstm1.weight_hh", "lstm1.bias"}));
  EXPECT_EQ(type_str(param(g, "lstm0.weight_ih").type), "f64[20,3]");
  EXPECT_EQ(type_str(param(g, "lstm0.weight_hh").type), "f64[20,5]");
  TensorMap p = init_params(g, 3);
  perturb(p, "lstm0.bias");
  perturb(p, "lstm1.bias");
  Tensor xs = sequence(2, 4, 3);
  auto y = run_graph(g, {xs}, p);
  test::expect_near(y[0], ref_lstm(xs, p.at("lstm0.weight_ih"), p.at("lstm0.weight_hh"), p.at("lstm0.bias"), 5, false),
                    1e-12);
  test::expect_near(y[1], ref_lstm(xs, p.at("lstm1.weight_ih"), p.at("lstm1.weight_hh"), p.at("lstm1.bias"), 5, true),
                    1e-12);
}

TEST(FrontendNumbers, GruMatchesIndependentImplementation) {
  Graph g = compile(R"(
use std.nn
model G(xs: f64[B, 4, 3]) -> (f: f64[B, 4, 2], r: f64[B, 4, 2]) {
    return (gru(xs, 2), gru(xs, 2, reverse: true) as back)
}
)",
                    "G");
  EXPECT_EQ(param_names(g),
            (std::vector<std::string>{"gru0.weight_ih", "gru0.weight_hh", "gru0.bias_ih", "gru0.bias_hh",
                                      "back.weight_ih", "back.weight_hh", "back.bias_ih", "back.bias_hh"}));
  EXPECT_EQ(type_str(param(g, "gru0.weight_ih").type), "f64[6,3]");
  TensorMap p = init_params(g, 5);
  for (auto n : {"gru0.bias_ih", "gru0.bias_hh", "back.bias_ih", "back.bias_hh"}) perturb(p, n);
  p.at("gru0.bias_hh").set(4, 0.4);  // make bias_ih and bias_hh differ
  Tensor xs = sequence(3, 4, 3);
  auto y = run_graph(g, {xs}, p);
  test::expect_near(
      y[0],
      ref_gru(xs, p.at("gru0.weight_ih"), p.at("gru0.weight_hh"), p.at("gru0.bias_ih"), p.at("gru0.bias_hh"), 2, false),
      1e-12);
  test::expect_near(
      y[1],
      ref_gru(xs, p.at("back.weight_ih"), p.at("back.weight_hh"), p.at("back.bias_ih"), p.at("back.bias_hh"), 2, true),
      1e-12);
}

TEST(FrontendNumbers, LstmInF32) {
  Graph g = compile(R"(
use std.nn
model L(xs: f32[B, 3, 2]) -> f32[B, 3, 4] {
    return lstm(xs, 4)
}
)",
                    "L");
  EXPECT_EQ(type_str(param(g, "lstm0.weight_ih").type), "f32[16,2]");
  TensorMap p = init_params(g, 9);
  perturb(p, "lstm0.bias");
  Tensor xs = sequence(2, 3, 2).cast(DType::F32);
  auto y = run_graph(g, {xs}, p);
  EXPECT_EQ(type_str(y[0].type()), "f32[2,3,4]");
  test::expect_near(y[0], ref_lstm(xs, p.at("lstm0.weight_ih"), p.at("lstm0.weight_hh"), p.at("lstm0.bias"), 4, false),
                    1e-5);
}

TEST(FrontendNumbers, BidirectionalLstm) {
  const char* src = R"(
use std.nn
model Bi(xs: f64[B, 4, 2]) -> f64[B, 4, 6] {
    return bidirectional(xs, |s, r| lstm(s, 3, reverse: r))
}
model Sum(xs: f64[B, 4, 2]) -> f64[B, 4, 3] {
    return bidirectional(xs, |s, r| gru(s, 3, reverse: r), merge: "sum")
}
)";
  Graph g = compile(src, "Bi");
  std::vector<std::string> want;
  for (std::string d : {"forward", "backward"})
    for (std::string w : {"weight_ih", "weight_hh", "bias"}) want.push_back("bidirectional0." + d + ".lstm0." + w);
  EXPECT_EQ(param_names(g), want);
  EXPECT_EQ(out_type(g, 0), "f64[B,4,6]");
  TensorMap p = init_params(g, 11);
  perturb(p, "bidirectional0.forward.lstm0.bias");
  perturb(p, "bidirectional0.backward.lstm0.bias");
  Tensor xs = sequence(2, 4, 2);
  auto y = run_graph(g, {xs}, p);
  auto w = [&](const std::string& d, const char* n) { return p.at("bidirectional0." + d + ".lstm0." + n); };
  auto f = ref_lstm(xs, w("forward", "weight_ih"), w("forward", "weight_hh"), w("forward", "bias"), 3, false);
  auto b = ref_lstm(xs, w("backward", "weight_ih"), w("backward", "weight_hh"), w("backward", "bias"), 3, true);
  std::vector<double> want_y;
  for (int64_t nt = 0; nt < 2 * 4; ++nt) {
    for (int k = 0; k < 3; ++k) want_y.push_back(f[nt * 3 + k]);
    for (int k = 0; k < 3; ++k) want_y.push_back(b[nt * 3 + k]);
  }
  test::expect_near(y[0], want_y, 1e-12);

  Graph s = compile(src, "Sum");
  EXPECT_EQ(out_type(s, 0), "f64[B,4,3]");
  EXPECT_EQ(param_names(s).size(), 8u);
  EXPECT_EQ(param_names(s)[0], "bidirectional0.forward.gru0.weight_ih");
}

TEST(FrontendNumbers, BatchnormInferenceUsesRunningStats) {
  const char* src = R"(
use std.nn
model M(x: f64[B, 2, 3]) -> f64[B, 2, 3] {
    return batchnorm(x)
}
)";
  Graph g = compile(src, "M");
  EXPECT_EQ(param_names(g), (std::vector<std::string>{"batchnorm0.weight", "batchnorm0.bias", "batchnorm0.running_mean",
                                                      "batchnorm0.running_var"}));
  EXPECT_FALSE(attr_bool(param(g, "batchnorm0.running_mean").attrs, "trainable"));
  EXPECT_EQ(attr_str(param(g, "batchnorm0.running_var").attrs, "init"), "ones");
  TensorMap p = {{"batchnorm0.weight", T({2}, {2, 1})},
                 {"batchnorm0.bias", T({2}, {0, 0.5})},
                 {"batchnorm0.running_mean", T({2}, {1, -1})},
                 {"batchnorm0.running_var", T({2}, {4, 0.25})}};
  Tensor x = T({2, 2, 3}, {1, 3, 5, -1, 0, 1, 0, 2, 4, 1, 2, 3});
  std::vector<double> want;
  double mean[2] = {1, -1}, var[2] = {4, 0.25}, w[2] = {2, 1}, b[2] = {0, 0.5};
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 2; ++c)
      for (int l = 0; l < 3; ++l)
        want.push_back((x.get((n * 2 + c) * 3 + l) - mean[c]) / std::sqrt(var[c] + 1e-5) * w[c] + b[c]);
  test::expect_near(run_graph(g, {x}, p)[0], want, 1e-12);

  // Training: the batch's own statistics (per channel over N and L, biased variance).
  Graph t = compile(src, "M", BuildOptions{true});
  auto y = run_graph(t, {x}, p)[0];
  for (int c = 0; c < 2; ++c) {
    double m = 0, v = 0;
    for (int n = 0; n < 2; ++n)
      for (int l = 0; l < 3; ++l) m += x.get((n * 2 + c) * 3 + l) / 6;
    for (int n = 0; n < 2; ++n)
      for (int l = 0; l < 3; ++l) v += std::pow(x.get((n * 2 + c) * 3 + l) - m, 2) / 6;
    for (int n = 0; n < 2; ++n)
      for (int l = 0; l < 3; ++l) {
        int64_t i = (n * 2 + c) * 3 + l;
        EXPECT_NEAR(y.get(i), (x.get(i) - m) / std::sqrt(v + 1e-5) * w[c] + b[c], 1e-12) << i;
      }
  }
}

TEST(FrontendNumbers, DropoutIsIdentityWhenNotTraining) {
  const char* src = R"(
use std.nn
model M(x: f32[B, 64]) -> f32[B, 64] {
    return dropout(x, 0.5)
}
)";
  Tensor x(DType::F32, {2, 64});
  for (int64_t i = 0; i < x.size(); ++i) x.set(i, 1 + double(i));
  Graph g = compile(src, "M");
  EXPECT_FALSE(has_op(g, "dropout"));
  auto y = run_graph(g, {x}, {})[0];
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(y.get(i), x.get(i));

  Graph t = compile(src, "M", BuildOptions{true});
  EXPECT_TRUE(has_op(t, "dropout"));
  auto d = run_graph(t, {x}, {})[0];
  int dropped = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    if (d.get(i) == 0)
      ++dropped;
    else
      EXPECT_FLOAT_EQ(d.get(i), 2 * x.get(i)) << "inverted dropout scales kept values by 1/(1-p)";
  }
  EXPECT_GT(dropped, 20);
  EXPECT_LT(dropped, 108);
}

// ------------------------------------------------------------------ runtime errors

const char* kTwoInputs = R"(
use std.nn
model M(a: f32[B, 2], b: f32[B, 3]) -> f32[B, 1] {
    return dense(concat([a, b], axis: 1), 1)
}
)";

TEST(FrontendRuntimeErrors, WrongInputShapeNamesInputAndBothShapes) {
  Graph g = compile(kTwoInputs, "M");
  TensorMap p = init_params(g, 0);
  std::string err = run_error(g, {Tensor(DType::F32, {2, 2}), Tensor(DType::F32, {2, 4})}, p);
  EXPECT_CONTAINS(err, "input 'b'");
  EXPECT_CONTAINS(err, "f32[B,3]");
  EXPECT_CONTAINS(err, "f32[2,4]");
  // wrong rank
  err = run_error(g, {Tensor(DType::F32, {2, 2, 1}), Tensor(DType::F32, {2, 3})}, p);
  EXPECT_CONTAINS(err, "input 'a'");
  EXPECT_CONTAINS(err, "f32[B,2]");
  EXPECT_CONTAINS(err, "f32[2,2,1]");
  // wrong number of inputs
  err = run_error(g, {Tensor(DType::F32, {2, 2})}, p);
  EXPECT_CONTAINS(err, "expected 2 inputs, got 1");
}

TEST(FrontendRuntimeErrors, WrongInputDtype) {
  Graph g = compile(kTwoInputs, "M");
  std::string err = run_error(g, {Tensor(DType::F64, {2, 2}), Tensor(DType::F32, {2, 3})}, init_params(g, 0));
  EXPECT_CONTAINS(err, "input 'a'");
  EXPECT_CONTAINS(err, "f32[B,2]");
  EXPECT_CONTAINS(err, "f64[2,2]");
}

TEST(FrontendRuntimeErrors, InconsistentBatchBetweenInputs) {
  Graph g = compile(kTwoInputs, "M");
  std::string err = run_error(g, {Tensor(DType::F32, {2, 2}), Tensor(DType::F32, {3, 3})}, init_params(g, 0));
  EXPECT_CONTAINS(err, "input 'b'");
  EXPECT_CONTAINS(err, "f32[3,3]");   // the shape given for b
  EXPECT_CONTAINS(err, "input 'a'");  // where B was bound ...
  EXPECT_CONTAINS(err, "f32[2,2]");   // ... and its shape
  EXPECT_CONTAINS(err, "B");
}

TEST(FrontendRuntimeErrors, MissingAndMisshapenWeights) {
  Graph g = compile(R"(
use std.nn
model M(x: f32[B, 3]) -> f32[B, 2] {
    return dense(x, 2)
}
)",
                    "M");
  TensorMap good = init_params(g, 0);
  EXPECT_NO_THROW(check_weights(g, good, "w.npz"));

  auto check_error = [&](const TensorMap& w) -> std::string {
    try {
      check_weights(g, w, "w.npz");
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  TensorMap missing = good;
  missing.erase("dense0.bias");
  std::string err = check_error(missing);
  EXPECT_CONTAINS(err, "w.npz");
  EXPECT_CONTAINS(err, "missing weight 'dense0.bias'");
  EXPECT_CONTAINS(err, "f32[2]");
  EXPECT_CONTAINS(run_error(g, {Tensor(DType::F32, {1, 3})}, missing), "missing weight 'dense0.bias'");

  TensorMap transposed = good;
  transposed["dense0.weight"] = Tensor(DType::F32, {3, 2});
  err = check_error(transposed);
  EXPECT_CONTAINS(err, "weight 'dense0.weight' has the wrong shape: expected f32[2,3], got f32[3,2]");
  err = run_error(g, {Tensor(DType::F32, {1, 3})}, transposed);
  EXPECT_CONTAINS(err, "'dense0.weight'");
  EXPECT_CONTAINS(err, "expected f32[2,3], got f32[3,2]");

  TensorMap wrong_dtype = good;
  wrong_dtype["dense0.weight"] = Tensor(DType::F64, {2, 3});
  err = check_error(wrong_dtype);
  EXPECT_CONTAINS(err, "weight 'dense0.weight' has the wrong dtype: expected f32[2,3], got f64[2,3]");

  TensorMap extra = good;
  extra["dense9.weight"] = Tensor(DType::F32, {1});
  EXPECT_CONTAINS(check_error(extra), "unexpected weight 'dense9.weight'");
}

// Every primitive op is a builtin name (name suggestions, the REPL's completion) without
// a list to keep: builtin_names() reads the op registry. erf and gelu, called from the
// language with gelu's string attribute by keyword, give PyTorch 1.13's values
// (torch.erf + F.gelu + F.gelu(approximate="tanh"), float64).
TEST(FrontendBuiltins, EveryOpIsABuiltinNameAndErfGeluAreCallable) {
  std::vector<std::string> names = builtin_names();
  std::set<std::string> have(names.begin(), names.end());
  for (const OpDef* op : all_ops())
    if (op->name != "input" && op->name != "param" && op->name != "const")
      EXPECT_TRUE(have.count(op->name)) << op->name << " is not a builtin name";
  Graph g = compile(R"(
model M(x: f64[3]) -> f64[3] {
    return erf(x) + gelu(x) + gelu(x, approximate: "tanh")
}
)",
                    "M");
  Tensor y = run_graph(g, {T({3}, {-1.5, 0.25, 1.0})}, {})[0];
  test::expect_near(y,
                    {-0.9661051464753108 - 0.10021080190328704 - 0.10042842301976707,
                     0.27632639016823696 + 0.14967658142073093 + 0.149675350701685,
                     0.8427007929497149 + 0.841344746068543 + 0.8411919906082768},
                    1e-14);
}

}  // namespace
}  // namespace starc
