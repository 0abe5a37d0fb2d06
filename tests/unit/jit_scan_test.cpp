// JIT vs reference interpreter for `scan` and `scan_result`: recurrent models written in
// the language (elementwise RNNs, std.nn's lstm/gru/bidirectional), scans built by hand
// with several sequences, carries and step outputs (all results read through
// scan_result), a scan nested in a scan body, and the gradient graphs of recurrent
// models, whose reverse scans hold n_xs > 1, save_carries and scan_result.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "compiler/autodiff/autodiff.h"
#include "compiler/lower/emit.h"
#include "dsl/program.h"
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/init.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

// Distinct non-zero values for parameters that init to zeros (biases), so they matter.
void perturb_zeros(TensorMap& p) {
  for (auto& [name, t] : p) {
    bool all_zero = true;
    for (int64_t i = 0; i < t.size(); ++i) all_zero = all_zero && t.get(i) == 0;
    if (all_zero)
      for (int64_t i = 0; i < t.size(); ++i) t.set(i, 0.05 * double(i % 7) - 0.15);
  }
}

enum class Outcome { Same, MissingLowering };

// Runs g on the reference interpreter and the JIT and compares every output. An op that
// has no MLIR lowering yet (another op family) is reported as MissingLowering with the
// message in *why; any other failure is a test failure.
Outcome compare(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params, double tol,
                const std::string& what, std::string* why = nullptr, JitExecutor* executor = nullptr) {
  std::vector<Tensor> ref = run_graph(g, inputs, params);
  JitExecutor local;
  JitExecutor& jit = executor ? *executor : local;
  std::vector<Tensor> got;
  try {
    got = jit.run(g, inputs, params, 0);
  } catch (const EmitError& e) {
    std::string msg = e.what();
    if (msg.find("has no MLIR lowering") != std::string::npos) {
      if (why) *why = msg;
      return Outcome::MissingLowering;
    }
    ADD_FAILURE() << what << ": " << msg;
    return Outcome::Same;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": " << e.what();
    return Outcome::Same;
  }
  EXPECT_EQ(got.size(), ref.size()) << what;
  for (size_t o = 0; o < std::min(got.size(), ref.size()); ++o) {
    EXPECT_EQ(type_str(got[o].type()), type_str(ref[o].type())) << what << " output " << o;
    if (got[o].type() != ref[o].type()) continue;
    double worst = 0;
    int64_t at = -1;
    for (int64_t i = 0; i < ref[o].size(); ++i) {
      double a = got[o].get(i), b = ref[o].get(i);
      double err = std::abs(a - b) / std::max(1.0, std::abs(b));
      if (!(err <= worst)) worst = err, at = i;
    }
    EXPECT_LE(worst, tol) << what << " output " << o << " at flat index " << at << ": jit " << got[o].get(at)
                          << " vs reference " << ref[o].get(at);
  }
  return Outcome::Same;
}

#define COMPARE_OR_SKIP(...)                                                                              \
  do {                                                                                                    \
    std::string why_;                                                                                     \
    if (compare(__VA_ARGS__, &why_) == Outcome::MissingLowering)                                          \
      GTEST_SKIP() << "an op of another family has no MLIR lowering yet (re-run when it does): " << why_; \
  } while (0)

// The source with every f64 turned into `ft`'s name.
std::string in_float_type(std::string s, DType ft) {
  if (ft == DType::F64) return s;
  for (size_t at = s.find("f64"); at != std::string::npos; at = s.find("f64", at)) s.replace(at, 3, "f32");
  return s;
}

Graph rnn(bool reverse, DType ft = DType::F64) {
  std::string s = kRnn;
  s.replace(s.find("REV"), 3, reverse ? "true" : "false");
  return compile(in_float_type(s, ft), "Rnn");
}

TEST(JitScan, ElementwiseRnnForwardAndReverseInF64AndF32) {
  for (bool rev : {false, true})
    for (DType ft : {DType::F64, DType::F32}) {
      Graph g = rnn(rev, ft);
      TensorMap params = init_params(g, 7);
      std::vector<Tensor> in = {random_tensor({3, 5, 3}, ft, 1), random_tensor({3, 3}, ft, 2)};
      compare(g, in, params, ft == DType::F64 ? 1e-12 : 1e-5, rev ? "reverse rnn" : "rnn");
    }
}

TEST(JitScan, ScanOverAxisZero) {
  Graph g = compile(R"(
model S(x: f64[4, 2, 3]) -> f64[4, 2, 3] {
    param w: f64[2, 3] = normal
    return scan(|h, x_t| (sin(h + x_t * w), h * x_t), x, zeros([2, 3], dtype: f64), axis: 0, reverse: true)
}
)",
                    "S");
  compare(g, {random_tensor({4, 2, 3}, DType::F64, 3)}, init_params(g, 3), 1e-12, "scan over axis 0");
}

// A graph input of type t named `name`.
int add_input(Graph& g, const std::string& name, const TensorType& t) {
  GraphBuilder b(g);
  int id = b.op("input", {}, {{"name", name}, {"dtype", t.dtype}, {"shape", Ints(t.shape)}});
  g.inputs.push_back(id);
  return id;
}

int scan_result(GraphBuilder& b, int scan, int index, const TensorType& t) {
  return b.op("scan_result", {scan}, {{"index", int64_t(index)}, {"dtype", t.dtype}, {"shape", Ints(t.shape)}});
}

// Every result of a scan as a graph output: result 0 is the node, the rest scan_result.
// Types of results (ys stacked, final carries, saved carries) come from the caller.
void output_all(Graph& g, int scan, const std::vector<TensorType>& types) {
  GraphBuilder b(g);
  g.outputs = {scan};
  for (size_t i = 1; i < types.size(); ++i) g.outputs.push_back(scan_result(b, scan, int(i), types[i]));
  for (size_t i = 0; i < g.outputs.size(); ++i) g.output_names.push_back(fmt::format("r{}", i));
}

TEST(JitScan, SeveralSequencesCarriesOutputsAndSavedCarries) {
  const DType f = DType::F64;
  for (int64_t axis : {0, 1, 2})
    for (bool rev : {false, true}) {
      // xs: [4, 5, 3] scanned along `axis`; step slices have the other two dims.
      Shape xs_shape{4, 5, 3}, step = xs_shape;
      int64_t T = xs_shape[size_t(axis)];
      step.erase(step.begin() + axis);
      Shape vec{step.back()};
      auto body = std::make_shared<Graph>();
      body->name = "step";
      int h = add_input(*body, "h", {f, step}), c = add_input(*body, "c", {f, vec});
      int x1 = add_input(*body, "x1", {f, step}), x2 = add_input(*body, "x2", {f, step});
      int w = add_input(*body, "w", {f, vec});
      {
        GraphBuilder b(*body);
        int h2 = b.op("tanh", {b.add(b.mul(h, w), b.sub(x1, b.mul(x2, c)))});
        int c2 = b.add(b.mul(c, 0.5), w);
        int y0 = b.mul(h2, x2);
        int y1 = b.op("exp", {c2});  // rank 1: stacked along min(axis, 1)
        int y2 = b.op("full", {}, {{"shape", Ints{}}, {"value", 1.5}, {"dtype", f}});  // rank 0: along 0
        body->outputs = {h2, c2, y0, y1, b.add(y2, b.op("sin", {x1}))};
      }
      Graph g;
      g.name = "multi";
      int xs1 = add_input(g, "xs1", {f, xs_shape}), xs2 = add_input(g, "xs2", {f, xs_shape});
      int h0 = add_input(g, "h0", {f, step}), c0 = add_input(g, "c0", {f, vec});
      int wv = add_input(g, "w", {f, vec});
      GraphBuilder b(g);
      int s = b.op("scan", {xs1, xs2, h0, c0, wv},
                   {{"body", GraphRef(body)},
                    {"n_carry", int64_t(2)},
                    {"axis", axis},
                    {"reverse", rev},
                    {"n_xs", int64_t(2)},
                    {"save_carries", true}});
      auto stacked = [&](Shape sh) {
        sh.insert(sh.begin() + std::min<int64_t>(axis, int64_t(sh.size())), T);
        return TensorType{f, sh};
      };
      Shape y2_shape = step;  // y2 = 1.5 + sin(x1) broadcasts to the step shape
      std::vector<TensorType> types = {stacked(step), stacked(vec),  stacked(y2_shape), {f, step},
                                       {f, vec},      stacked(step), stacked(vec)};
      output_all(g, s, types);
      std::vector<Tensor> in = {random_tensor(xs_shape, f, 1), random_tensor(xs_shape, f, 2), random_tensor(step, f, 3),
                                random_tensor(vec, f, 4), random_tensor(vec, f, 5)};
      compare(g, in, {}, 1e-12, fmt::format("multi-result scan, axis {}{}", axis, rev ? ", reverse" : ""));
    }
}

TEST(JitScan, CarriesSwappedPassedThroughAndReturnedAsOutputs) {
  const DType f = DType::F64;
  // (a, b, c, x_t) -> (b (through reshapes), a, c, a * b + x_t, b): carries swap places,
  // one passes through, a step output is an old carry; the carries entering each step
  // are saved.
  auto body = std::make_shared<Graph>();
  int a = add_input(*body, "a", {f, {2, 3}}), bb = add_input(*body, "b", {f, {2, 3}});
  int c = add_input(*body, "c", {f, {3}}), x = add_input(*body, "x", {f, {2, 3}});
  {
    GraphBuilder b(*body);
    int b_view = b.reshape(b.reshape(bb, {6}), {2, 3});  // a view of b's buffer
    body->outputs = {b_view, a, c, b.add(b.mul(a, bb), x), bb};
  }
  Graph g;
  int xs = add_input(g, "xs", {f, {2, 5, 3}});
  int a0 = add_input(g, "a0", {f, {2, 3}}), b0 = add_input(g, "b0", {f, {2, 3}}), c0 = add_input(g, "c0", {f, {3}});
  GraphBuilder b(g);
  int s = b.op("scan", {xs, a0, b0, c0},
               {{"body", GraphRef(body)}, {"n_carry", int64_t(3)}, {"axis", int64_t(1)}, {"save_carries", true}});
  output_all(g, s,
             {{f, {2, 5, 3}},
              {f, {2, 5, 3}},
              {f, {2, 3}},
              {f, {2, 3}},
              {f, {3}},
              {f, {2, 5, 3}},
              {f, {2, 5, 3}},
              {f, {3, 5}}});
  compare(g,
          {random_tensor({2, 5, 3}, f, 1), random_tensor({2, 3}, f, 2), random_tensor({2, 3}, f, 3),
           random_tensor({3}, f, 4)},
          {}, 1e-12, "swapped carries");
}

TEST(JitScan, ScanNestedInAScanBody) {
  const DType f = DType::F64;
  // inner: over x_t [3, 2] along axis 0 with carry h [2]; returns (h', h' * x).
  auto inner = std::make_shared<Graph>();
  {
    int h = add_input(*inner, "h", {f, {2}}), x = add_input(*inner, "x", {f, {2}});
    GraphBuilder b(*inner);
    int h2 = b.op("tanh", {b.add(h, x)});
    inner->outputs = {h2, b.mul(h2, x)};
  }
  // outer: over xs [4, 3, 2] along axis 0 with carry h [2]; the step runs the inner scan
  // from h over x_t and returns (its final carry, its stacked outputs reversed in time).
  auto outer = std::make_shared<Graph>();
  {
    int h = add_input(*outer, "h", {f, {2}}), x = add_input(*outer, "x", {f, {3, 2}});
    GraphBuilder b(*outer);
    int s = b.op("scan", {x, h}, {{"body", GraphRef(inner)}, {"n_carry", int64_t(1)}, {"axis", int64_t(0)}});
    int last = scan_result(b, s, 1, {f, {2}});
    outer->outputs = {last, b.op("flip", {s}, {{"axes", Ints{0}}})};
  }
  Graph g;
  int xs = add_input(g, "xs", {f, {4, 3, 2}}), h0 = add_input(g, "h0", {f, {2}});
  GraphBuilder b(g);
  int s = b.op("scan", {xs, h0}, {{"body", GraphRef(outer)}, {"n_carry", int64_t(1)}, {"axis", int64_t(0)}});
  output_all(g, s, {{f, {4, 3, 2}}, {f, {2}}});
  compare(g, {random_tensor({4, 3, 2}, f, 1), random_tensor({2}, f, 2)}, {}, 1e-12, "nested scan");
}

// The gradient graph of g's first output w.r.t. its params and first input, seeded with
// a `dy` input; outputs: y, then the gradients.
Graph with_gradients(Graph g) {
  int y = g.outputs[0];
  int dy = add_input(g, "dy", g.type(y));
  std::vector<int> wrt = g.params();
  wrt.push_back(g.inputs[0]);
  std::vector<int> grads = append_gradients(g, y, wrt, dy);
  g.outputs = {y};
  g.outputs.insert(g.outputs.end(), grads.begin(), grads.end());
  g.output_names.clear();
  for (size_t i = 0; i < g.outputs.size(); ++i) g.output_names.push_back(fmt::format("o{}", i));
  return g;
}

TEST(JitScan, ElementwiseRnnGradient) {
  for (bool rev : {false, true}) {
    Graph g = with_gradients(rnn(rev));
    std::vector<Tensor> in = {random_tensor({2, 5, 3}, DType::F64, 1), random_tensor({2, 3}, DType::F64, 2),
                              random_tensor({2, 5, 3}, DType::F64, 3)};
    COMPARE_OR_SKIP(g, in, init_params(g, 7), 1e-11, rev ? "reverse rnn gradient" : "rnn gradient");
  }
}

const char* kRecurrent = R"(
use std.nn
model Lstm(x: f64[B, 7, 5]) -> f64[B, 7, 8] {
    return lstm(x, 8)
}
model LstmRev(x: f64[B, 7, 5]) -> f64[B, 7, 8] {
    return lstm(x, 8, reverse: true)
}
model Gru(x: f64[B, 7, 5]) -> f64[B, 7, 8] {
    return gru(x, 8)
}
model BiLstm(x: f64[B, 7, 5]) -> f64[B, 7, 16] {
    return bidirectional(x, |s, r| lstm(s, 8, reverse: r))
}
model BiGru(x: f64[B, 7, 5]) -> f64[B, 7, 8] {
    return bidirectional(x, |s, r| gru(s, 8, reverse: r), merge: "sum")
}
)";

void check_recurrent(const std::string& model, DType ft, bool gradient) {
  Graph g = compile(in_float_type(kRecurrent, ft), model);
  TensorMap params = init_params(g, 11);
  perturb_zeros(params);
  if (gradient) g = with_gradients(std::move(g));
  std::vector<Tensor> in = {random_tensor({3, 7, 5}, ft, 1)};
  if (gradient) in.push_back(random_tensor({3, 7, model == "BiLstm" ? 16 : 8}, ft, 2));
  std::string what = model + (gradient ? " gradient" : "") + (ft == DType::F32 ? " f32" : " f64");
  std::string why;
  if (compare(g, in, params, ft == DType::F64 ? 1e-10 : 2e-5, what, &why) == Outcome::MissingLowering)
    throw std::runtime_error(why);
}

#define CHECK_RECURRENT_OR_SKIP(model, ft, grad)                                                  \
  do {                                                                                            \
    try {                                                                                         \
      check_recurrent(model, ft, grad);                                                           \
    } catch (const std::runtime_error& e) {                                                       \
      if (std::string(e.what()).find("has no MLIR lowering") == std::string::npos) throw;         \
      GTEST_SKIP() << "an op of another family has no MLIR lowering yet (matmul?): " << e.what(); \
    }                                                                                             \
  } while (0)

TEST(JitScan, LstmFromTheObjectCache) {
  // The second executor loads the object the first one wrote: the strided copies that
  // stack steps along axis 1 resolve to the JIT's own memrefCopy both ways.
  Graph g = compile(kRecurrent, "BiLstm");
  TensorMap params = init_params(g, 11);
  perturb_zeros(params);
  std::vector<Tensor> in = {random_tensor({3, 7, 5}, DType::F64, 1)};
  std::string dir = ::testing::TempDir() + "starc_jit_scan_cache_" + std::to_string(::getpid());
  for (int pass = 0; pass < 2; ++pass) {
    JitExecutor jit(JitOptions{}, dir);
    std::string why;
    if (compare(g, in, params, 1e-10, fmt::format("BiLstm, object cache, pass {}", pass), &why, &jit) ==
        Outcome::MissingLowering)
      GTEST_SKIP() << why;
    if (pass == 1) EXPECT_TRUE(jit.last_stats().disk_hit) << "the second executor should load the object";
  }
  std::filesystem::remove_all(dir);
}

TEST(JitScan, Lstm) {
  for (DType ft : {DType::F64, DType::F32}) {
    CHECK_RECURRENT_OR_SKIP("Lstm", ft, false);
    CHECK_RECURRENT_OR_SKIP("LstmRev", ft, false);
  }
}

TEST(JitScan, Gru) {
  for (DType ft : {DType::F64, DType::F32}) CHECK_RECURRENT_OR_SKIP("Gru", ft, false);
}

TEST(JitScan, Bidirectional) {
  CHECK_RECURRENT_OR_SKIP("BiLstm", DType::F64, false);
  CHECK_RECURRENT_OR_SKIP("BiGru", DType::F32, false);
}

TEST(JitScan, LstmGradient) {
  // The gradient graph's reverse scan has n_xs = 4 (x, both saved carries, dy), reads
  // the forward scan's saved carries and its own extra results through scan_result.
  Graph g = with_gradients(compile(kRecurrent, "Lstm"));
  int scans = 0, saving = 0, multi_xs = 0, results = 0;
  for (auto& n : g.nodes) {
    if (is_op(n, "scan")) {
      ++scans;
      saving += attr_bool(n.attrs, "save_carries");
      multi_xs += attr_int(n.attrs, "n_xs") > 1;
    }
    results += is_op(n, "scan_result");
  }
  EXPECT_EQ(scans, 2);
  EXPECT_EQ(saving, 1);
  EXPECT_EQ(multi_xs, 1);
  EXPECT_GE(results, 4);
  CHECK_RECURRENT_OR_SKIP("Lstm", DType::F64, true);
  CHECK_RECURRENT_OR_SKIP("Gru", DType::F32, true);
}

// Second order: the gradient of a model whose output is a gradient through a (stacked,
// state-returning) LSTM. Its gradient graph differentiates the reverse scan, and so the
// forward scan's saved carries and the reverse scan's final carries: JIT vs reference.
TEST(JitScan, GradientOfAGradientThroughAnLstm) {
  Graph g = with_gradients(compile(R"(
use std.nn
model P(x: f64[B, 4, 3], h0: f64[2, B, 3]) -> f64[B, 4, 3] {
    (ys, hc) = lstm(x, 3, initial: (h0, h0), num_layers: 2, return_state: true)
    (h, c) = hc
    return grad(sum(square(ys)) + sum(h * c), wrt: x)
}
)",
                                   "P"));
  TensorMap params = init_params(g, 13);
  perturb_zeros(params);
  COMPARE_OR_SKIP(g,
                  {random_tensor({2, 4, 3}, DType::F64, 1), random_tensor({2, 2, 3}, DType::F64, 2),
                   random_tensor({2, 4, 3}, DType::F64, 3)},
                  params, 1e-10, "grad of grad, lstm");
}

}  // namespace
}  // namespace starc::test
