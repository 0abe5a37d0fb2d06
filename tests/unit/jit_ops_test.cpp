// JIT vs reference interpreter, op by op: every lowered op runs through MLIR -> LLVM and
// must agree with its reference kernel. One table; a new op joins by adding a line
// (and the coverage test below fails until it does).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <set>

#include "compiler/lower/emit.h"
#include "gpu_test_util.h"
#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

struct OpCase {
  std::string op;
  std::vector<Shape> shapes;  // one per input
  Attrs attrs = {};
  std::vector<std::optional<DType>> dtypes = {};  // per input; nullopt/absent: the run's float type
  double lo = -2, hi = 2;                         // input range
  double f32_tol = 0;                             // f32 relative tolerance if not the default (long f32 sums)
};

// The table, one function per op family (compiler/lower/lower_<family>.cpp). Shapes
// include odd sizes (1, 3, 17), a long axis (4618) and broadcasting.
std::vector<OpCase> elementwise_cases() {
  std::vector<OpCase> c;
  for (const char* op : {"neg", "exp", "tanh", "sigmoid", "relu", "abs", "sign", "sin", "cos", "square", "softplus",
                         "leaky_relu", "elu", "erf", "gelu"})
    for (Shape s : {Shape{}, Shape{1}, Shape{17}, Shape{3, 4618}}) c.push_back({op, {s}});
  for (const char* op : {"log", "sqrt", "rsqrt"}) c.push_back({op, {{3, 17}}, {}, {}, 0.1, 3});
  c.push_back({"leaky_relu", {{17}}, {{"alpha", 0.2}}});
  c.push_back({"elu", {{17}}, {{"alpha", 0.5}}});
  const Attrs gelu_tanh = {{"approximate", std::string("tanh")}};
  for (Shape s : {Shape{}, Shape{17}, Shape{3, 4618}}) c.push_back({"gelu", {s}, gelu_tanh});
  // erf's saturation and gelu's negative tail (where 1 + erf and 1 + tanh would cancel)
  for (const Attrs& a : {Attrs{}, gelu_tanh}) c.push_back({"gelu", {{3, 17}}, a, {}, -12, 6});
  c.push_back({"erf", {{3, 17}}, {}, {}, -6, 6});
  for (const char* op : {"add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "ne", "lt", "le", "gt", "ge"})
    for (auto sh :
         std::vector<std::vector<Shape>>{{{3, 17}, {3, 17}}, {{3, 17}, {17}}, {{2, 1, 5}, {3, 1}}, {{}, {4618}}})
      c.push_back({op, sh, {}, {}, 0.5, 2});
  for (const char* op : {"add", "sub", "mul", "div", "maximum", "minimum", "lt", "eq"})
    c.push_back({op, {{3, 5}, {5}}, {}, {DType::I64, DType::I64}, 1, 9});
  c.push_back({"where", {{3, 17}, {3, 17}, {17}}, {}, {DType::Bool}});
  for (DType to : {DType::F32, DType::F64, DType::I64, DType::Bool})
    c.push_back({"cast", {{3, 17}}, {{"dtype", to}}, {}, -5, 5});
  c.push_back({"cast", {{3, 17}}, {{"dtype", DType::F32}}, {DType::I64}, -5, 5});
  c.push_back({"cast", {{3, 17}}, {{"dtype", DType::F64}}, {DType::Bool}});
  return c;
}

// Reductions, softmax, normalisation, dropout, random ops (lower_reduce.cpp, lower_nn.cpp, lower_random.cpp).
// Random ops take the run seed 0 here; jit_grad_test.cpp covers other seeds and NaNs.
std::vector<OpCase> reduce_nn_cases() {
  std::vector<OpCase> c;
  auto axes = [](Ints a, bool keep = false) { return Attrs{{"axes", a}, {"keepdims", keep}}; };
  for (const char* op : {"sum", "mean", "max", "min", "logsumexp"}) {
    for (Shape s : {Shape{}, Shape{1}, Shape{17}}) c.push_back({op, {s}});  // all axes
    c.push_back({op, {{3, 4618}}, axes({1})});                              // long axis
    c.push_back({op, {{3, 4618}}, axes({0}, true)});
    c.push_back({op, {{3, 17, 5}}, axes({0, 2})});
    c.push_back({op, {{3, 17, 5}}, axes({-1, 0}, true)});
    c.push_back({op, {{3, 1, 17}}, axes({}, true)});  // all axes, kept
    c.push_back({op, {{2, 3, 4, 5}}, axes({1, 3}, true)});
    c.push_back({op, {{2, 3, 4, 5}}, axes({2})});
  }
  for (const char* op : {"sum", "max", "min"}) {
    c.push_back({op, {{3, 17}}, axes({1}), {DType::I64}, -50, 50});
    c.push_back({op, {{3, 17}}, axes({}, true), {DType::I64}, -50, 50});
  }
  auto axis = [](int64_t a, bool keep = false) { return Attrs{{"axis", a}, {"keepdims", keep}}; };
  c.push_back({"argmax", {{1}}, axis(0)});
  c.push_back({"argmax", {{17}}, axis(0)});
  c.push_back({"argmax", {{3, 4618}}, axis(1)});
  c.push_back({"argmax", {{3, 4618}}, axis(0, true)});
  c.push_back({"argmax", {{3, 17, 5}}, axis(1, true)});
  c.push_back({"argmax", {{3, 17, 5}}, axis(-1)});
  c.push_back({"argmax", {{3, 17, 5}}, axis(1), {DType::I64}, -3, 3});  // many ties: the first index wins
  for (const char* op : {"softmax", "log_softmax"}) {
    for (Shape s : {Shape{}, Shape{1}, Shape{17}}) c.push_back({op, {s}});
    c.push_back({op, {{3, 4618}}});
    c.push_back({op, {{3, 4618}}, {{"axis", int64_t(0)}}});
    c.push_back({op, {{3, 17, 5}}, {{"axis", int64_t(1)}}, {}, -30, 30});
  }
  auto ln = [](Ints a) { return Attrs{{"axes", a}}; };
  c.push_back({"layer_norm", {{17}}});
  c.push_back({"layer_norm", {{3, 4618}}});
  c.push_back({"layer_norm", {{3, 17, 5}}, ln({1, 2})});
  c.push_back({"layer_norm", {{3, 17, 5}}, ln({0})});
  c.push_back({"layer_norm", {{2, 3, 1}}, {{"axes", Ints{-1}}, {"eps", 1e-3}}});  // one value per group
  for (bool training : {true, false}) {
    double lo = training ? -2 : 0.1;  // inference: positive running variance
    c.push_back({"batch_norm", {{4, 3}, {3}, {3}, {3}, {3}}, {{"training", training}}, {}, lo, 2});
    c.push_back({"batch_norm", {{2, 3, 5, 7}, {3}, {3}, {3}, {3}}, {{"training", training}}, {}, lo, 2});
    c.push_back({"batch_norm", {{17, 1, 3}, {1}, {1}, {1}, {1}}, {{"training", training}, {"eps", 0.1}}, {}, lo, 2});
  }
  auto drop = [](double p, int64_t stream) { return Attrs{{"p", p}, {"stream", stream}}; };
  c.push_back({"dropout", {{}}, drop(0.3, 0)});
  c.push_back({"dropout", {{17}}, drop(0.3, 1)});
  c.push_back({"dropout", {{3, 4618}}, drop(0.3, 0)});
  c.push_back({"dropout", {{3, 4618}}, drop(0.3, 7)});
  c.push_back({"dropout", {{3, 17, 5}}, drop(0.5, int64_t(1) << 33)});  // stream's high word
  c.push_back({"dropout", {{17}}, drop(0.0, 2)});
  for (DType dt : {DType::F32, DType::F64}) {
    for (Shape s : {Shape{}, Shape{1}, Shape{17}, Shape{3, 4618}}) {
      c.push_back({"random_normal", {}, {{"shape", Ints(s)}, {"dtype", dt}}});
      c.push_back({"random_uniform", {}, {{"shape", Ints(s)}, {"dtype", dt}}});
    }
    c.push_back({"random_normal",
                 {},
                 {{"shape", Ints{3, 17}}, {"dtype", dt}, {"mean", 1.5}, {"std", 0.25}, {"stream", int64_t(3)}}});
    c.push_back({"random_uniform",
                 {},
                 {{"shape", Ints{3, 17}}, {"dtype", dt}, {"low", -3.0}, {"high", 0.1}, {"stream", int64_t(5)}}});
    c.push_back({"random_uniform", {}, {{"shape", Ints{5}}, {"dtype", dt}, {"low", 2.0}, {"high", 2.0}}});
  }
  return c;
}

// matmul, convolutions, pooling and their gradient ops (lower_linalg.cpp, lower_conv.cpp). The JIT
// accumulates in the element type and the reference in double: f32 cases with long
// reductions (K*C terms) get a looser tolerance (f64 stays at 1e-12).
std::vector<OpCase> linalg_conv_cases() {
  std::vector<OpCase> c;
  auto conv = [](Ints s, Ints p, Ints d) { return Attrs{{"stride", s}, {"padding", p}, {"dilation", d}}; };
  auto convt = [](Ints s, Ints p, Ints d, Ints op) {
    return Attrs{{"stride", s}, {"padding", p}, {"dilation", d}, {"output_padding", op}};
  };
  auto pool = [](Ints k, Ints s, Ints p) { return Attrs{{"kernel", k}, {"stride", s}, {"padding", p}}; };
  // matmul: plain, odd sizes, batch on one side, equal batch, broadcast batch.
  for (auto sh : std::vector<std::vector<Shape>>{{{3, 4}, {4, 5}},
                                                 {{1, 1}, {1, 1}},
                                                 {{17, 3}, {3, 1}},
                                                 {{2, 3, 4}, {4, 5}},
                                                 {{3, 4}, {2, 4, 5}},
                                                 {{2, 3, 4}, {2, 4, 5}},
                                                 {{2, 1, 3, 4}, {3, 4, 5}},
                                                 {{2, 3, 4}, {1, 4, 5}},
                                                 {{1, 3, 4}, {2, 4, 5}},
                                                 {{3, 17, 33}, {33, 17}}})
    // GEMM sums in its own order (OpenBLAS picks a kernel per CPU): 33 f32 products
    // of values in [-2, 2] differ from the reference's sum by up to ~30 ulp.
    c.push_back({"matmul", sh, {}, {}, -2, 2, 1e-5});
  c.push_back({"matmul", {{4, 300}, {300, 3}}, {}, {}, -2, 2, 1e-4});
  // conv1d: odd lengths, stride 2/3, padding, dilation 2, the redshift CNN's first layer.
  c.push_back({"conv1d", {{1, 1, 1}, {1, 1, 1}}, conv({1}, {0}, {1})});
  c.push_back({"conv1d", {{2, 3, 17}, {4, 3, 3}}, conv({1}, {1}, {1})});
  c.push_back({"conv1d", {{2, 3, 17}, {5, 3, 3}}, conv({2}, {1}, {2})});
  c.push_back({"conv1d", {{1, 2, 17}, {3, 2, 4}}, conv({3}, {2}, {1})});
  c.push_back({"conv1d", {{1, 2, 3}, {3, 2, 3}}, conv({3}, {0}, {1})});
  c.push_back({"conv1d", {{2, 1, 4618}, {16, 1, 500}}, conv({1}, {0}, {1}), {}, -2, 2, 1e-4});
  c.push_back({"conv1d", {{2, 16, 301}, {8, 16, 25}}, conv({1}, {0}, {1}), {}, -2, 2, 1e-4});
  // conv2d: per-dim attrs.
  c.push_back({"conv2d", {{2, 3, 7, 6}, {4, 3, 3, 2}}, conv({2, 1}, {1, 0}, {1, 2})});
  c.push_back({"conv2d", {{1, 2, 5, 9}, {2, 2, 2, 3}}, conv({1, 3}, {0, 2}, {2, 1})});
  c.push_back({"conv2d", {{1, 1, 1, 3}, {2, 1, 1, 3}}, conv({1}, {0, 1}, {1})});
  c.push_back({"conv2d", {{2, 3, 17, 17}, {4, 3, 3, 3}}, conv({2}, {1}, {1})});
  // groups: 2 groups; depthwise (the direct row kernel: stride 1 with the 3-tap interior,
  // stride 2, dilation 2); depthwise with multiplier 2 (a GEMM per channel).
  auto grouped = [&](Ints s, Ints p, Ints d, int64_t g) {
    Attrs a = conv(s, p, d);
    a["groups"] = g;
    return a;
  };
  c.push_back({"conv2d", {{2, 4, 7, 6}, {6, 2, 3, 2}}, grouped({2, 1}, {1, 0}, {1, 2}, 2)});
  c.push_back({"conv2d", {{2, 5, 9, 8}, {5, 1, 3, 3}}, grouped({1}, {1}, {1}, 5)});
  c.push_back({"conv2d", {{1, 3, 9, 11}, {3, 1, 3, 5}}, grouped({2, 2}, {1, 2}, {2, 1}, 3)});
  c.push_back({"conv2d", {{1, 3, 6, 6}, {6, 1, 3, 3}}, grouped({1}, {1}, {1}, 3)});
  c.push_back({"conv1d", {{2, 4, 17}, {4, 1, 5}}, grouped({1}, {2}, {2}, 4)});
  // conv_transpose: output_padding, crops (padding beyond the kernel span), dilation.
  c.push_back({"conv_transpose1d", {{2, 2, 1}, {2, 3, 1}}, convt({1}, {0}, {1}, {0})});
  c.push_back({"conv_transpose1d", {{2, 3, 17}, {3, 2, 3}}, convt({2}, {1}, {1}, {1})});
  c.push_back({"conv_transpose1d", {{2, 2, 17}, {2, 3, 3}}, convt({3}, {0}, {2}, {2})});
  c.push_back({"conv_transpose1d", {{1, 2, 17}, {2, 2, 5}}, convt({3}, {2}, {2}, {0})});
  c.push_back({"conv_transpose1d", {{1, 2, 5}, {2, 2, 2}}, convt({1}, {0}, {3}, {2})});
  c.push_back({"conv_transpose1d", {{1, 2, 9}, {2, 2, 2}}, convt({2}, {3}, {1}, {1})});
  c.push_back({"conv_transpose2d", {{2, 2, 3, 4}, {2, 3, 3, 2}}, convt({2, 1}, {1, 0}, {1, 2}, {1, 1})});
  c.push_back({"conv_transpose2d", {{1, 2, 1, 3}, {2, 1, 2, 3}}, convt({3, 2}, {0, 1}, {1}, {2, 0})});
  // conv weight gradients: x [N,P,*L], dy [N,Q,*T] -> [Q,P,*kernel]; reads past x's end
  // (T longer than the windows fit) and the redshift CNN's first layer.
  auto wgrad = [](Ints k, Ints s, Ints p, Ints d) {
    return Attrs{{"kernel", k}, {"stride", s}, {"padding", p}, {"dilation", d}};
  };
  c.push_back({"conv1d_weight_grad", {{2, 3, 17}, {2, 4, 17}}, wgrad({3}, {1}, {1}, {1})});
  c.push_back({"conv1d_weight_grad", {{2, 3, 17}, {2, 5, 8}}, wgrad({3}, {2}, {1}, {2})});
  c.push_back({"conv1d_weight_grad", {{1, 1, 1}, {1, 2, 1}}, wgrad({1}, {1}, {0}, {1})});
  c.push_back({"conv1d_weight_grad", {{1, 2, 5}, {1, 2, 4}}, wgrad({3}, {2}, {0}, {1})});
  c.push_back({"conv1d_weight_grad", {{2, 1, 4618}, {2, 16, 4119}}, wgrad({500}, {1}, {0}, {1}), {}, -2, 2, 1e-3});
  c.push_back({"conv2d_weight_grad", {{2, 3, 7, 6}, {2, 4, 4, 3}}, wgrad({3, 2}, {2, 1}, {1, 0}, {1, 2})});
  c.push_back({"conv2d_weight_grad", {{1, 2, 5, 9}, {1, 2, 4, 3}}, wgrad({2, 3}, {1, 3}, {0, 2}, {1})});
  // Pooling and its gradient ops: odd lengths, overlapping windows (stride < kernel),
  // gaps (stride > kernel), padding, the redshift CNN's maxpool. Unpadded windows with
  // stride >= kernel take the disjoint-window lowerings (tails included: 17 = 8*2 + 1,
  // 17 = 5*3 + 2), small ones the unrolled window; 5x5 = 25 taps is not unrolled.
  struct P {
    Shape x;
    Attrs a;
  };
  std::vector<P> p1 = {{{2, 3, 17}, pool({2}, {}, {0})},  {{1, 2, 17}, pool({3}, {2}, {1})},
                       {{1, 1, 1}, pool({1}, {}, {0})},   {{2, 2, 17}, pool({2}, {3}, {1})},
                       {{1, 2, 17}, pool({5}, {1}, {2})}, {{2, 16, 4119}, pool({2}, {}, {0})},
                       {{2, 2, 17}, pool({2}, {3}, {0})}, {{1, 2, 33}, pool({4}, {}, {0})}};
  std::vector<P> p2 = {{{2, 3, 7, 6}, pool({2}, {}, {0})},
                       {{1, 2, 7, 9}, pool({2, 2}, {3, 4}, {0})},
                       {{1, 2, 11, 12}, pool({5}, {}, {0})},
                       {{1, 2, 7, 9}, pool({3, 2}, {2, 1}, {1, 0})},
                       {{1, 2, 5, 17}, pool({2, 3}, {3, 2}, {1})}};
  for (int nsp : {1, 2})
    for (const P& q : nsp == 1 ? p1 : p2) {
      std::string d = nsp == 1 ? "1d" : "2d";
      TensorType xt{DType::F64, q.x};
      Shape y = infer_type(*find_op("maxpool" + d), {&xt, 1}, q.a, nullptr).shape;
      c.push_back({"maxpool" + d, {q.x}, q.a});
      c.push_back({"avgpool" + d, {q.x}, q.a});
      c.push_back({"maxpool" + d + "_grad", {q.x, y}, q.a});
      c.push_back({"maxpool" + d + "_gather", {q.x, q.x}, q.a});
      Attrs ag = q.a;
      ag["input_size"] = Ints(q.x.begin() + 2, q.x.end());
      c.push_back({"avgpool" + d + "_grad", {y}, ag});
    }
  // Ties everywhere (constant input): every window's gradient goes to its first element.
  c.push_back({"maxpool1d_grad", {{1, 2, 17}, {1, 2, 9}}, pool({3}, {2}, {1}), {}, 1, 1});
  return c;
}

// Shape ops, full/one_hot, scan (lower_shape_ops.cpp, lower_special.cpp). The scan lines carry their body
// graph as an attribute (f64 throughout); scan_result, which needs a scan as its input,
// and whole recurrent models (LSTM, GRU, their gradients) are in jit_scan_test.cpp.
std::vector<OpCase> shape_scan_cases() {
  using I = Ints;
  using i64 = int64_t;
  std::vector<OpCase> c;
  // scan bodies: inputs (carries, x_t's, captures) of the given shapes, outputs from f.
  auto body = [](std::vector<Shape> ins, std::function<std::vector<int>(GraphBuilder&, std::vector<int>)> f) {
    auto g = std::make_shared<Graph>();
    g->name = "step";
    GraphBuilder b(*g);
    std::vector<int> ids;
    for (size_t i = 0; i < ins.size(); ++i) {
      ids.push_back(b.op("input", {}, {{"name", fmt::format("a{}", i)}, {"dtype", DType::F64}, {"shape", I(ins[i])}}));
      g->inputs.push_back(ids.back());
    }
    g->outputs = f(b, ids);
    return GraphRef(g);
  };
  // (h, x_t) -> (tanh(h / 2 + x_t), h' * x_t)
  auto rnn = [&](Shape step) {
    return body({step, step}, [](GraphBuilder& b, std::vector<int> a) {
      int h = b.op("tanh", {b.add(b.mul(a[0], 0.5), a[1])});
      return std::vector<int>{h, b.mul(h, a[1])};
    });
  };
  auto scan = [](GraphRef g, i64 n_carry, i64 axis, bool reverse, i64 n_xs = 1, bool save = false) {
    return Attrs{{"body", g},          {"n_carry", n_carry}, {"axis", axis},
                 {"reverse", reverse}, {"n_xs", n_xs},       {"save_carries", save}};
  };
  std::vector<std::optional<DType>> f64s(4, DType::F64);
  for (bool rev : {false, true}) {
    c.push_back({"scan", {{2, 5, 3}, {2, 3}}, scan(rnn({2, 3}), 1, 1, rev), f64s});
    c.push_back({"scan", {{2, 3, 17}, {2, 3}}, scan(rnn({2, 3}), 1, -1, rev), f64s});
  }
  c.push_back({"scan", {{5, 2, 3}, {2, 3}}, scan(rnn({2, 3}), 1, 0, false), f64s});
  c.push_back({"scan", {{17}, {}}, scan(rnn({}), 1, 0, true), f64s});
  c.push_back({"scan", {{3, 1}, {3}}, scan(rnn({3}), 1, 1, false), f64s});
  // Two sequences, a capture, two step outputs, saved carries; and no carry at all.
  auto two = body({{2, 3}, {2, 3}, {2, 3}, {3}}, [](GraphBuilder& b, std::vector<int> a) {
    int h = b.op("tanh", {b.sub(b.add(b.mul(a[0], a[3]), a[1]), a[2])});
    return std::vector<int>{h, b.mul(h, a[2]), b.op("sin", {a[1]})};
  });
  for (bool rev : {false, true})
    c.push_back({"scan", {{2, 5, 3}, {2, 5, 3}, {2, 3}, {3}}, scan(two, 1, 1, rev, 2, true), f64s});
  auto map = body({{3}}, [](GraphBuilder& b, std::vector<int> a) { return std::vector<int>{b.mul(a[0], a[0])}; });
  c.push_back({"scan", {{4, 3}}, scan(map, 0, 0, true), f64s});
  // reshape: collapse, expand (with -1), split+merge (through 1-D), to/from rank 0, identity.
  // (Zero-size tensors at the entry's boundary fail in the bare-pointer calling convention
  // whatever the op, so none here; the 1-D empty slice below works.)
  c.push_back({"reshape", {{3, 17}}, {{"shape", I{51}}}});
  c.push_back({"reshape", {{51}}, {{"shape", I{3, -1}}}});
  c.push_back({"reshape", {{2, 3, 4}}, {{"shape", I{6, 4}}}});
  c.push_back({"reshape", {{6, 4}}, {{"shape", I{2, 1, 3, 4, 1}}}});
  c.push_back({"reshape", {{3, 17}}, {{"shape", I{17, 3}}}});
  c.push_back({"reshape", {{2, 3, 4}}, {{"shape", I{4, 1, 6}}}});
  c.push_back({"reshape", {{1, 1}}, {{"shape", I{}}}});
  c.push_back({"reshape", {{}}, {{"shape", I{1, 1, 1}}}});
  c.push_back({"reshape", {{3, 17}}, {{"shape", I{3, 17}}}});
  c.push_back({"reshape", {{3, 17}}, {{"shape", I{17, 3}}}, {DType::I64}});
  // transpose: default (reverse), explicit, negative entries, identity, rank 1, bool.
  c.push_back({"transpose", {{2, 3, 17}}});
  c.push_back({"transpose", {{2, 3, 17}}, {{"perm", I{1, 0, 2}}}});
  c.push_back({"transpose", {{2, 3, 17}}, {{"perm", I{-1, 0, 1}}}});
  c.push_back({"transpose", {{3, 17}}, {{"perm", I{0, 1}}}});
  c.push_back({"transpose", {{17}}});
  c.push_back({"transpose", {{3, 1, 17}}, {{"perm", I{2, 0, 1}}}, {DType::Bool}});
  // flip
  for (I axes : {I{0}, I{-1}, I{0, 1}, I{}}) c.push_back({"flip", {{3, 17}}, {{"axes", axes}}});
  c.push_back({"flip", {{17}}, {{"axes", I{0}}}});
  c.push_back({"flip", {{2, 3, 5}}, {{"axes", I{1, -1}}}, {DType::I64}});
  // rot90: k = 0, 1, 2, 3, -1, 5 in the default plane and in others.
  for (i64 k : {0, 1, 2, 3, -1, 5}) c.push_back({"rot90", {{3, 17}}, {{"k", k}}});
  c.push_back({"rot90", {{2, 3, 5}}, {{"k", i64{1}}, {"axes", I{0, 2}}}});
  c.push_back({"rot90", {{2, 3, 5}}, {{"k", i64{3}}, {"axes", I{2, 0}}}});
  c.push_back({"rot90", {{2, 3, 5}}, {{"k", i64{-1}}, {"axes", I{-1, -3}}}});
  c.push_back({"rot90", {{2, 3, 5, 1}}, {{"k", i64{2}}, {"axes", I{1, 2}}}});
  // concat: middle axis, negative axis, leading axis, one input, i64.
  c.push_back({"concat", {{3, 17}, {3, 1}, {3, 5}}, {{"axis", i64{1}}}});
  c.push_back({"concat", {{2, 3, 4}, {2, 3, 1}}, {{"axis", i64{-1}}}});
  c.push_back({"concat", {{1, 4}, {3, 4}, {17, 4}}, {{"axis", i64{0}}}});
  c.push_back({"concat", {{3, 17}}, {{"axis", i64{0}}}});
  c.push_back({"concat", {{5}, {1}, {17}}, {{"axis", i64{0}}}, {DType::I64, DType::I64, DType::I64}});
  // slice: steps 1/2/3, negative start/end/axis, clamping, empty result, whole axis.
  auto sl = [](i64 axis, i64 start, i64 end, i64 step) {
    return Attrs{{"axis", axis}, {"start", start}, {"end", end}, {"step", step}};
  };
  c.push_back({"slice", {{17}}, sl(0, 0, 17, 2)});
  c.push_back({"slice", {{17}}, sl(0, 1, -1, 3)});
  c.push_back({"slice", {{17}}, sl(0, -5, 100, 1)});
  c.push_back({"slice", {{17}}, sl(0, 5, 2, 1)});
  c.push_back({"slice", {{17}}, sl(-1, -100, 100, 1)});
  c.push_back({"slice", {{3, 17}}, sl(-1, 2, 15, 3)});
  c.push_back({"slice", {{3, 17}}, sl(0, -2, 3, 2)});
  c.push_back({"slice", {{2, 3, 17}}, sl(1, 1, 2, 3)});
  c.push_back({"slice", {{3, 17}}, sl(1, 3, 16, 2), {DType::I64}});
  // negative steps: x[::-1], a stride past the start, an inner axis, i64, nothing selected.
  c.push_back({"slice", {{17}}, sl(0, 16, -18, -1)});
  c.push_back({"slice", {{17}}, sl(0, -2, 0, -3)});
  c.push_back({"slice", {{2, 3, 17}}, sl(1, 2, -100, -2)});
  c.push_back({"slice", {{3, 17}}, sl(-1, 100, 2, -4), {DType::I64}});
  c.push_back({"slice", {{17}}, sl(0, 2, 5, -1)});
  // pad: asymmetric, one side only, non-zero value, i64/bool, rank 3, nothing to pad.
  c.push_back({"pad", {{3, 17}}, {{"pads", I{1, 2, 0, 3}}}});
  c.push_back({"pad", {{17}}, {{"pads", I{0, 4}}, {"value", 1.5}}});
  c.push_back({"pad", {{1}}, {{"pads", I{3, 0}}, {"value", -2.0}}});
  c.push_back({"pad", {{2, 3, 4}}, {{"pads", I{0, 0, 1, 0, 2, 1}}, {"value", 7.0}}, {DType::I64}});
  c.push_back({"pad", {{3, 5}}, {{"pads", I{1, 1, 1, 1}}, {"value", 1.0}}, {DType::Bool}});
  c.push_back({"pad", {{3, 5}}, {{"pads", I{0, 0, 0, 0}}}});
  // upsample: 1-D, 2-D with one and two factors, factor 1.
  c.push_back({"upsample", {{2, 3, 5}}, {{"scale", I{2}}}});
  c.push_back({"upsample", {{1, 2, 3, 4}}, {{"scale", I{2, 3}}}});
  c.push_back({"upsample", {{1, 1, 3, 3}}, {{"scale", I{3}}}});
  c.push_back({"upsample", {{2, 3, 5}}, {{"scale", I{1}}}});
  c.push_back({"upsample", {{1, 2, 1, 17}}, {{"scale", I{1, 2}}}, {DType::I64}});
  // broadcast_to: inserted leading dims, size-1 dims, from a scalar, identity.
  c.push_back({"broadcast_to", {{3}}, {{"shape", I{2, 4, 3}}}});
  c.push_back({"broadcast_to", {{3, 1}}, {{"shape", I{2, 3, 17}}}});
  c.push_back({"broadcast_to", {{}}, {{"shape", I{3, 5}}}});
  c.push_back({"broadcast_to", {{1, 17}}, {{"shape", I{1, 3, 17}}}});
  c.push_back({"broadcast_to", {{3, 17}}, {{"shape", I{3, 17}}}});
  c.push_back({"broadcast_to", {{1}}, {{"shape", I{17}}}, {DType::Bool}});
  // full: each dtype, a scalar.
  c.push_back({"full", {}, {{"shape", I{3, 17}}, {"value", 2.5}}});
  c.push_back({"full", {}, {{"shape", I{}}, {"value", -1.25}, {"dtype", DType::F64}}});
  c.push_back({"full", {}, {{"shape", I{2, 3}}, {"value", 7.0}, {"dtype", DType::I64}}});
  c.push_back({"full", {}, {{"shape", I{17}}, {"value", 1.0}, {"dtype", DType::Bool}}});
  // one_hot: labels -3..8 against depth 5 (out-of-range rows are zero), each dtype.
  c.push_back({"one_hot", {{17}}, {{"depth", i64{5}}}, {DType::I64}, -0.3, 0.8});
  c.push_back({"one_hot", {{3, 4}}, {{"depth", i64{3}}, {"dtype", DType::F64}}, {DType::I64}, -0.3, 0.8});
  c.push_back({"one_hot", {{}}, {{"depth", i64{1}}}, {DType::I64}, -0.1, 0.1});
  c.push_back({"one_hot", {{17}}, {{"depth", i64{4}}, {"dtype", DType::I64}}, {DType::I64}, -0.3, 0.8});
  c.push_back({"one_hot", {{3, 1}}, {{"depth", i64{17}}, {"dtype", DType::Bool}}, {DType::I64}, -0.3, 1.9});
  return c;
}

// Index ops (lower_index.cpp). Every input is drawn from [lo, hi) and the i64 ones
// truncated, so hi is at most the indexed axis' length (the executors refuse other
// indices): small ranges give duplicates, which the adds accumulate.
std::vector<OpCase> index_cases() {
  using i64 = int64_t;
  const auto I = DType::I64;
  auto ax = [](i64 a) { return Attrs{{"axis", a}}; };
  std::vector<OpCase> c;
  c.push_back({"gather", {{5, 3}, {2, 4}}, ax(0), {std::nullopt, I}, 0, 5});  // an embedding table
  c.push_back({"gather", {{3, 17, 4}, {6}}, ax(1), {std::nullopt, I}, 0, 3});
  c.push_back({"gather", {{3, 4}, {}}, ax(-1), {std::nullopt, I}, 0, 4});
  c.push_back({"gather", {{7, 2}, {3}}, ax(0), {I, I}, 0, 7});
  c.push_back({"take_along_axis", {{3, 5}, {3, 7}}, ax(1), {std::nullopt, I}, 0, 5});
  c.push_back({"take_along_axis", {{4, 3, 2}, {2, 3, 2}}, ax(0), {std::nullopt, I}, 0, 4});
  c.push_back({"index_add", {{5, 3}, {2, 4}, {2, 4, 3}}, ax(0), {std::nullopt, I}, 0, 5});
  c.push_back({"index_add", {{2, 6, 3}, {9}, {2, 9, 3}}, ax(1), {std::nullopt, I}, 0, 2});
  c.push_back({"scatter_add", {{3, 5}, {3, 7}, {3, 7}}, ax(1), {std::nullopt, I}, 0, 5});
  c.push_back({"scatter_add", {{4, 3}, {6, 3}, {6, 3}}, ax(0), {std::nullopt, I}, 0, 4});
  c.push_back({"check_index", {{17}}, {{"bound", i64{5}}}, {I}, 0, 5});
  return c;
}

// cumsum and argsort (lower_sort_scan.cpp): each axis, both directions, exclusive; i64
// inputs in a small range for many ties (argsort is stable: ties keep their order).
std::vector<OpCase> sort_scan_cases() {
  using i64 = int64_t;
  const auto I = DType::I64;
  auto cs = [](i64 a, bool rev, bool excl) { return Attrs{{"axis", a}, {"reverse", rev}, {"exclusive", excl}}; };
  auto as = [](i64 a, bool desc) { return Attrs{{"axis", a}, {"descending", desc}}; };
  std::vector<OpCase> c;
  c.push_back({"cumsum", {{1}}, cs(0, false, false)});
  c.push_back({"cumsum", {{17}}, cs(0, false, false)});
  c.push_back({"cumsum", {{3, 17}}, cs(1, true, false)});
  c.push_back({"cumsum", {{3, 17, 5}}, cs(1, false, true)});
  c.push_back({"cumsum", {{3, 17, 5}}, cs(-1, true, true)});
  c.push_back({"cumsum", {{2, 600}}, cs(-1, false, false)});
  c.push_back({"cumsum", {{3, 17}}, cs(0, false, false), {I}, -1000, 1000});
  c.push_back({"argsort", {{1}}, as(0, false)});
  c.push_back({"argsort", {{17}}, as(0, false)});
  c.push_back({"argsort", {{3, 17}}, as(0, true)});
  c.push_back({"argsort", {{3, 17, 5}}, as(1, false)});
  c.push_back({"argsort", {{2, 600}}, as(-1, true)});
  c.push_back({"argsort", {{3, 17}}, as(1, false), {I}, -3, 3});
  c.push_back({"argsort", {{3, 17}}, as(1, true), {I}, -3, 3});
  return c;
}

std::vector<OpCase> cases() {
  std::vector<OpCase> all;
  for (auto family :
       {elementwise_cases, reduce_nn_cases, linalg_conv_cases, shape_scan_cases, index_cases, sort_scan_cases})
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

// The random inputs of each case, seeded from what the case is (its description and how
// many cases before it share that description), not from its position: a line added to
// the table leaves every other case's inputs as they were.
std::vector<Tensor> case_inputs(const OpCase& c, DType ft, std::map<std::string, int>& seen) {
  std::string what = describe(c, ft);
  std::string key = what + "#" + std::to_string(seen[what]++);
  uint32_t seed = 2166136261u;  // FNV-1a: the same seeds with every standard library
  for (char ch : key) seed = (seed ^ uint8_t(ch)) * 16777619u;
  std::vector<Tensor> in;
  for (size_t i = 0; i < c.shapes.size(); ++i) {
    DType dt = i < c.dtypes.size() && c.dtypes[i] ? *c.dtypes[i] : ft;
    in.push_back(make_input(c.shapes[i], dt, seed + uint32_t(i), c.lo, c.hi));
  }
  return in;
}

TEST(JitOps, MatchReferenceInF32AndF64) {
  JitExecutor jit;
  std::map<std::string, int> seen;
  for (DType ft : {DType::F32, DType::F64})
    for (const OpCase& c : cases()) {
      std::vector<Tensor> in = case_inputs(c, ft, seen);
      std::string what = describe(c, ft);
      Graph g = one_op_graph(c.op, in, c.attrs);
      std::vector<Tensor> ref = run_graph(g, in, {});
      std::vector<Tensor> got;
      if (!jit_run_or_fail(jit, g, in, 0, what, &got)) continue;
      double tol = ft == DType::F32 && c.f32_tol > 0 ? c.f32_tol : tolerance(ft);
      expect_close(got[0], ref[0], tol, what);
    }
}

// f32 exp, tanh (and sigmoid, elu, softplus built on exp, expm1, log1p) run as MLIR's
// polynomial approximations (jit.cpp, approximate_f32_math), log, erf and erfc (gelu) as
// libm: within a few ulp of the reference over their whole range, and the reference's
// results for infinities, NaN, zeros, denormals and overflow. gelu's f32 argument of
// erfc (x / sqrt 2) or of sigmoid (2u) carries a rounding error that the steep negative
// tail amplifies: there the bound grows as the condition number, x^2 ulp (erfc) and
// 2|2u| ulp (sigmoid), still far inside PyTorch's f32 1 + erf form, which gives 0 below
// about x = -5.5.
TEST(JitOps, F32TranscendentalsStayWithinUlpsAndKeepSpecialValues) {
  JitExecutor jit;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> v = {inf, -inf, nan, 0.0, -0.0, 1e-45, -1e-45, 1e-38, 3e38, -3e38, 88.7, 89.0, -87.3, -104.0};
  for (int i = 0; i <= 4000; ++i) v.push_back(-100.0 + 0.05 * i);        // exp's and tanh's ranges
  for (int i = -40; i <= 40; ++i) v.push_back(std::ldexp(1.37, i * 3));  // log's: 2^-120 .. 2^120
  const double ulp = std::ldexp(1.0, -23);
  auto flat = [](double) { return 8.0; };
  auto gelu_tail = [](double x) { return x < 0 ? 8 + x * x : 8.0; };
  auto gelu_tanh_tail = [](double x) {
    return x < 0 ? 8 + 2 * std::abs(2 * 0.7978845608 * (x + 0.044715 * x * x * x)) : 8.0;
  };
  struct Case {
    const char* op;
    Attrs attrs;
    std::function<double(double)> ulps;  // the bound at x
  };
  std::vector<Case> cases = {{"exp", {}, flat},
                             {"log", {}, flat},
                             {"tanh", {}, flat},
                             {"sigmoid", {}, flat},
                             {"elu", {{"alpha", 1.0}}, flat},
                             {"softplus", {}, flat},
                             {"erf", {}, flat},
                             {"gelu", {}, gelu_tail},
                             {"gelu", {{"approximate", std::string("tanh")}}, gelu_tanh_tail}};
  for (const Case& c : cases) {
    std::string op = std::string(c.op) + (c.attrs.count("approximate") ? " (tanh)" : "");
    std::vector<Tensor> in = {Tensor::from_vector(DType::F32, {int64_t(v.size())}, v)};
    Graph g = one_op_graph(c.op, in, c.attrs);
    std::vector<Tensor> ref = run_graph(g, in, {}), got;
    if (!jit_run_or_fail(jit, g, in, 0, op, &got)) continue;
    double worst = 0, worst_of_bound = 0;
    for (int64_t i = 0; i < ref[0].size(); ++i) {
      double a = got[0].get(i), b = ref[0].get(i);
      if (std::isnan(b) || std::isinf(b) || b == 0) {
        EXPECT_TRUE(std::isnan(b) ? std::isnan(a) : a == b)
            << op << "(" << v[i] << "): jit " << a << ", reference " << b;
        continue;
      }
      // relative to the value; a denormal result may flush to zero (below the smallest
      // normal), and gelu's x * (a denormal flushed to zero) may be 0 below |x| times that
      const double smallest_normal = 1.1754943508222875e-38;
      const double flushed = smallest_normal * (std::string(c.op) == "gelu" ? std::max(1.0, std::abs(v[i])) : 1.0);
      if (std::abs(b) >= flushed) {
        worst = std::max(worst, std::abs(a - b) / std::abs(b) / ulp);
        worst_of_bound = std::max(worst_of_bound, std::abs(a - b) / std::abs(b) / ulp / c.ulps(v[i]));
      }
      EXPECT_TRUE(std::abs(a - b) <= c.ulps(v[i]) * ulp * std::abs(b) || std::abs(a - b) < flushed)
          << op << "(" << v[i] << "): jit " << a << ", reference " << b;
    }
    std::printf("%s: worst %.2f ulp, %.2f of its bound\n", op.c_str(), worst, worst_of_bound);
  }
}

// The GPU target: every case of the table lowers to PTX that ptxas accepts for sm_90,
// in f32 (f64 for the dense kernels and a few others, whose f64 paths differ). Cases
// that make the same kernel module share its check, and ptxas assembles the modules
// in batches (PtxasChecker): one ptxas run per module took most of this test's time.
TEST(GpuOps, EveryOpAssemblesForSm90) {
  if (ptxas_binary().empty()) GTEST_SKIP() << "ptxas not found (CUDA toolkit at $CUDA_HOME or /usr/local/cuda)";
  std::map<std::string, int> seen;
  int cases_run = 0, with_kernels = 0;
  PtxasChecker ptxas;
  const std::set<std::string> f64_too = {"matmul",
                                         "conv1d",
                                         "conv2d",
                                         "conv1d_transpose",
                                         "conv1d_weight_grad",
                                         "conv2d_weight_grad",
                                         "exp",
                                         "tanh",
                                         "pow",
                                         "logsumexp",
                                         "softmax",
                                         "erf",
                                         "gelu"};
  for (DType ft : {DType::F32, DType::F64})
    for (const OpCase& c : cases()) {
      if (ft == DType::F64 && !f64_too.count(c.op)) continue;
      std::vector<Tensor> in = case_inputs(c, ft, seen);
      Graph g = one_op_graph(c.op, in, c.attrs);
      std::string text;
      try {
        text = JitExecutor::mlir_for(g, in, {}, Device::Cuda);
      } catch (const std::exception& e) {
        ADD_FAILURE() << describe(c, ft) << ": " << e.what();
        continue;
      }
      ++cases_run;
      with_kernels += ptxas.add(text, describe(c, ft)) > 0;
    }
  ptxas.flush();
  // Most ops run as GPU kernels; copies (reshape, slice) and rank-0 ops stay on the host.
  EXPECT_GT(with_kernels, cases_run * 2 / 3) << with_kernels << " of " << cases_run << " cases launch a kernel";
}

// Ops with a lowering must appear in the table above.
TEST(JitOps, EveryLoweredOpIsTested) {
  std::set<std::string> tested;
  for (auto& c : cases()) tested.insert(c.op);
  for (const OpDef* op : all_ops())
    if (find_lowering(op->name) && !tested.count(op->name) && op->name != "const" &&
        op->name != "scan_result")  // needs a scan as its input: jit_scan_test.cpp
      ADD_FAILURE() << "op '" << op->name << "' has a lowering but no line in the JIT test table";
}

}  // namespace
}  // namespace starc::test
