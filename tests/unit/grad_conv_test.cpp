// Gradients of the convolution and pooling ops against central finite differences (f64),
// of their gradient rules in turn (grad of grad), on graphs with a symbolic batch dim,
// and against PyTorch autograd (tests/e2e/torch_grads.py; skipped without torch).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "grad_test_util.h"
#include "op_test_util.h"
#include "runtime/io/npy.h"
#include "shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

Tensor rnd(Shape s, uint32_t seed) { return random_tensor(std::move(s), DType::F64, seed, -1, 1); }

Attrs conv_attrs(Ints stride, Ints pad, Ints dil, Ints out_pad = {}, int64_t groups = 1) {
  Attrs a{{"stride", stride}, {"padding", pad}, {"dilation", dil}, {"groups", groups}};
  if (!out_pad.empty()) a["output_padding"] = out_pad;
  return a;
}

Attrs pool_attrs(Ints kernel, Ints stride, Ints pad) {
  return {{"kernel", kernel}, {"stride", stride}, {"padding", pad}};
}

int input(GraphBuilder& b, const std::string& name, Shape shape, DType dt = DType::F64) {
  int id = b.op("input", {}, {{"name", name}, {"dtype", dt}, {"shape", Ints(shape)}});
  b.g.inputs.push_back(id);
  return id;
}

struct Conv1dCase {
  int64_t N, C, O, L, K, s, p, d, op;  // op: output_padding (transposed conv only)
};

// Odd lengths (1, 3, 17), stride 1/2/3, padding, dilation 2, kernel larger than / equal
// to the stride.
const std::vector<Conv1dCase> kConv1d = {
    {2, 2, 3, 1, 1, 1, 0, 1, 0},  {1, 2, 2, 3, 3, 1, 1, 1, 0},  {2, 3, 2, 17, 3, 2, 1, 1, 1},
    {2, 2, 3, 17, 3, 3, 0, 2, 2}, {1, 2, 2, 17, 2, 2, 0, 1, 1}, {2, 1, 2, 17, 5, 3, 2, 2, 0},
    {1, 2, 1, 3, 1, 3, 0, 1, 2},  {1, 1, 2, 17, 4, 1, 3, 1, 0},
};

TEST(GradConv, Conv1d) {
  for (const auto& c : kConv1d) {
    Attrs a = conv_attrs({c.s}, {c.p}, {c.d});
    expect_op_gradient("conv1d", {rnd({c.N, c.C, c.L}, 1), rnd({c.O, c.C, c.K}, 2)}, a);
  }
}

TEST(GradConv, ConvTranspose1d) {
  for (const auto& c : kConv1d) {
    Attrs a = conv_attrs({c.s}, {c.p}, {c.d}, {c.op});
    expect_op_gradient("conv_transpose1d", {rnd({c.N, c.C, c.L}, 3), rnd({c.C, c.O, c.K}, 4)}, a);
  }
  // output_padding >= stride (allowed since it is below the dilation): dx is cropped.
  expect_op_gradient("conv_transpose1d", {rnd({1, 2, 5}, 5), rnd({2, 2, 2}, 6)}, conv_attrs({1}, {0}, {3}, {2}));
}

TEST(GradConv, Conv2dPerDimAttrs) {
  expect_op_gradient("conv2d", {rnd({2, 2, 7, 6}, 7), rnd({3, 2, 3, 2}, 8)}, conv_attrs({2, 1}, {1, 0}, {1, 2}));
  expect_op_gradient("conv2d", {rnd({1, 2, 5, 9}, 9), rnd({2, 2, 2, 3}, 10)}, conv_attrs({1, 3}, {0, 2}, {2, 1}));
  expect_op_gradient("conv2d", {rnd({1, 1, 1, 3}, 11), rnd({2, 1, 1, 3}, 12)}, conv_attrs({1}, {0, 1}, {1}));
}

TEST(GradConv, ConvTranspose2dPerDimAttrs) {
  expect_op_gradient("conv_transpose2d", {rnd({2, 2, 3, 4}, 13), rnd({2, 3, 3, 2}, 14)},
                     conv_attrs({2, 1}, {1, 0}, {1, 2}, {1, 1}));
  expect_op_gradient("conv_transpose2d", {rnd({1, 2, 1, 3}, 15), rnd({2, 1, 2, 3}, 16)},
                     conv_attrs({3, 2}, {0, 1}, {1}, {2, 0}));
}

// Grouped and depthwise convolutions (groups = channels, multiplier 1 and 2): every
// gradient is the same op kind with the same groups.
TEST(GradConv, Grouped) {
  expect_op_gradient("conv1d", {rnd({2, 4, 9}, 41), rnd({6, 2, 3}, 42)}, conv_attrs({2}, {1}, {1}, {}, 2));
  expect_op_gradient("conv2d", {rnd({2, 3, 5, 4}, 43), rnd({3, 1, 3, 3}, 44)}, conv_attrs({1}, {1}, {1}, {}, 3));
  expect_op_gradient("conv2d", {rnd({1, 2, 5, 6}, 45), rnd({4, 1, 2, 3}, 46)},
                     conv_attrs({2, 1}, {0, 1}, {1, 2}, {}, 2));
  expect_op_gradient("conv_transpose1d", {rnd({2, 4, 5}, 47), rnd({4, 3, 3}, 48)}, conv_attrs({2}, {1}, {1}, {1}, 2));
  expect_op_gradient("conv_transpose2d", {rnd({1, 4, 3, 3}, 49), rnd({4, 1, 3, 2}, 50)},
                     conv_attrs({2, 1}, {1, 0}, {1, 2}, {1, 1}, 4));
  Attrs wg = {
      {"kernel", Ints{3}}, {"stride", Ints{2}}, {"padding", Ints{1}}, {"dilation", Ints{1}}, {"groups", int64_t(2)}};
  expect_op_gradient("conv1d_weight_grad", {rnd({2, 4, 9}, 51), rnd({2, 6, 5}, 52)}, wg);
  expect_op_grad_of_grad("conv2d", {rnd({1, 4, 4, 3}, 53), rnd({6, 2, 2, 2}, 54)}, conv_attrs({1}, {1}, {1}, {}, 2));
  expect_op_grad_of_grad("conv_transpose1d", {rnd({1, 4, 5}, 55), rnd({4, 1, 3}, 56)},
                         conv_attrs({2}, {0}, {1}, {0}, 4));
}

TEST(GradConv, GroupsShapesAndErrors) {
  Attrs a = conv_attrs({1}, {0}, {1}, {}, 2);
  TensorType x{DType::F64, {2, 6, 9}}, w{DType::F64, {4, 3, 3}}, wt{DType::F64, {6, 5, 3}};
  EXPECT_EQ(infer_op("conv1d", {x, w}, a), (TensorType{DType::F64, {2, 4, 7}}));
  EXPECT_EQ(infer_op("conv_transpose1d", {x, wt}, a), (TensorType{DType::F64, {2, 10, 11}}));
  Attrs wg = {{"kernel", Ints{3}}, {"groups", int64_t(2)}};
  EXPECT_EQ(infer_op("conv1d_weight_grad", {x, TensorType{DType::F64, {2, 4, 7}}}, wg),
            (TensorType{DType::F64, {4, 3, 3}}));
  Attrs four = conv_attrs({1}, {0}, {1}, {}, 4), zero = conv_attrs({1}, {0}, {1}, {}, 0);
  EXPECT_EQ(what([&] { infer_op("conv1d", {x, w}, four); }), "conv1d: groups 4 must divide the input channels, got 6");
  EXPECT_EQ(what([&] { infer_op("conv1d", {x, TensorType{DType::F64, {3, 3, 3}}}, a); }),
            "conv1d: groups 2 must divide the output channels, got 3");
  EXPECT_EQ(what([&] { infer_op("conv1d", {x, TensorType{DType::F64, {4, 6, 3}}}, a); }),
            "conv1d: input has 6 channels but the weight expects 12 (2 groups): f64[2,6,9] vs weight f64[4,6,3]");
  EXPECT_EQ(what([&] { infer_op("conv_transpose1d", {x, wt}, zero); }),
            "conv_transpose1d: groups must be positive, got 0");
  EXPECT_EQ(what([&] { infer_op("conv1d_weight_grad", {x, TensorType{DType::F64, {2, 3, 7}}}, wg); }),
            "conv1d_weight_grad: groups 2 must divide the output channels, got 3");
}

// The weight-gradient op is bilinear: its rule (conv adjoint of dy, conv of x) is
// gradchecked on its own, including dy longer than the windows of x reach.
TEST(GradConv, WeightGrad) {
  auto a = [](Ints k, Ints s, Ints p, Ints d) {
    return Attrs{{"kernel", k}, {"stride", s}, {"padding", p}, {"dilation", d}};
  };
  expect_op_gradient("conv1d_weight_grad", {rnd({2, 3, 17}, 31), rnd({2, 2, 17}, 32)}, a({3}, {1}, {1}, {1}));
  expect_op_gradient("conv1d_weight_grad", {rnd({2, 2, 17}, 33), rnd({2, 3, 8}, 34)}, a({3}, {2}, {1}, {2}));
  expect_op_gradient("conv1d_weight_grad", {rnd({1, 2, 5}, 35), rnd({1, 2, 4}, 36)}, a({3}, {2}, {0}, {1}));
  expect_op_gradient("conv1d_weight_grad", {rnd({1, 2, 9}, 37), rnd({1, 1, 3}, 38)}, a({2}, {3}, {0}, {1}));
  expect_op_gradient("conv2d_weight_grad", {rnd({2, 2, 7, 6}, 39), rnd({2, 3, 4, 3}, 40)},
                     a({3, 2}, {2, 1}, {1, 0}, {1, 2}));
}

TEST(GradConv, WeightGradShapesAndErrors) {
  Attrs a = {{"kernel", Ints{3}}, {"stride", Ints{2}}, {"padding", Ints{1}}, {"dilation", Ints{1}}};
  TensorType x{DType::F64, {2, 3, 17}}, dy{DType::F64, {2, 4, 9}};
  EXPECT_EQ(infer_op("conv1d_weight_grad", {x, dy}, a), (TensorType{DType::F64, {4, 3, 3}}));
  TensorType other_batch{DType::F64, {5, 4, 9}}, f32{DType::F32, {2, 4, 9}}, flat{DType::F64, {2, 4}};
  EXPECT_EQ(what([&] { infer_op("conv1d_weight_grad", {x, other_batch}, a); }),
            "conv1d_weight_grad: x and dy must have the same batch dim: f64[2,3,17] vs f64[5,4,9]");
  EXPECT_NE(what([&] { infer_op("conv1d_weight_grad", {x, f32}, a); }).find("conv1d_weight_grad"), std::string::npos);
  EXPECT_EQ(what([&] { infer_op("conv1d_weight_grad", {x, flat}, a); }),
            "conv1d_weight_grad: dy must have rank 3, got f64[2,4]");
  Attrs zero = a;
  zero["kernel"] = Ints{0};
  EXPECT_EQ(what([&] { infer_op("conv1d_weight_grad", {x, dy}, zero); }),
            "conv1d_weight_grad: kernel, stride and dilation must be positive and padding non-negative");
}

// The rules are written with conv/conv_transpose/transpose/slice, so differentiating
// them again must work: dx and dw are gradchecked w.r.t. x, w and dy.
TEST(GradConv, GradOfGrad) {
  for (size_t i : {1, 2, 5}) {
    const auto& c = kConv1d[i];
    expect_op_grad_of_grad("conv1d", {rnd({c.N, c.C, c.L}, 17), rnd({c.O, c.C, c.K}, 18)},
                           conv_attrs({c.s}, {c.p}, {c.d}));
    expect_op_grad_of_grad("conv_transpose1d", {rnd({c.N, c.C, c.L}, 19), rnd({c.C, c.O, c.K}, 20)},
                           conv_attrs({c.s}, {c.p}, {c.d}, {c.op}));
  }
  expect_op_grad_of_grad("conv2d", {rnd({2, 2, 5, 4}, 21), rnd({3, 2, 3, 2}, 22)}, conv_attrs({2, 1}, {1, 0}, {1, 2}));
  expect_op_grad_of_grad("conv_transpose2d", {rnd({1, 2, 3, 2}, 23), rnd({2, 2, 2, 3}, 24)},
                         conv_attrs({2, 1}, {1, 0}, {1, 2}, {1, 0}));
}

// The graph whose output is d(sum(conv1d(x, w) * R))/dx (resp. /dw) is gradchecked
// w.r.t. w (resp. x).
TEST(GradConv, NestedConv1d) {
  for (int wrt : {0, 1}) {
    Graph g;
    g.name = "nested";
    GraphBuilder b(g);
    int x = input(b, "x", {2, 3, 17});
    int w = input(b, "w", {2, 3, 4});
    int y = b.op("conv1d", {x, w}, conv_attrs({2}, {1}, {2}));
    int r = b.op("const", {}, {{"value", rnd(b.shape(y), 25)}});
    int loss = b.sum(b.mul(y, r), {}, false);
    g.outputs = {append_gradients(g, loss, {wrt == 0 ? x : w})[0]};
    g.output_names = {"d"};
    expect_gradcheck(g, {rnd({2, 3, 17}, 26), rnd({2, 3, 4}, 27)}, {}, 1e-6, 0, wrt == 0 ? "d/dw dL/dx" : "d/dx dL/dw");
  }
}

// ---- pooling ----

struct Pool1dCase {
  Shape x;
  Ints k, s, p;
};

const std::vector<Pool1dCase> kPool1d = {
    {{2, 2, 1}, {1}, {}, {0}},  {{1, 2, 3}, {3}, {}, {1}},   {{2, 2, 17}, {3}, {2}, {1}},
    {{1, 3, 17}, {2}, {}, {0}}, {{2, 1, 17}, {4}, {3}, {2}}, {{1, 2, 17}, {5}, {1}, {2}},
};

TEST(GradPool, Pool1d) {
  for (const char* op : {"maxpool1d", "avgpool1d"})
    for (const auto& c : kPool1d) expect_op_gradient(op, {rnd(c.x, 30)}, pool_attrs(c.k, c.s, c.p));
}

TEST(GradPool, Pool2dPerDimAttrs) {
  for (const char* op : {"maxpool2d", "avgpool2d"}) {
    expect_op_gradient(op, {rnd({2, 2, 7, 6}, 31)}, pool_attrs({3, 2}, {2, 1}, {1, 0}));
    expect_op_gradient(op, {rnd({1, 2, 5, 5}, 32)}, pool_attrs({2}, {}, {0}));
    expect_op_gradient(op, {rnd({1, 1, 3, 8}, 33)}, pool_attrs({3, 4}, {1, 3}, {1, 2}));
  }
}

// The gradient goes to the first maximal element of each window (like PyTorch).
TEST(GradPool, MaxPoolTiesGoToTheFirstMaximum) {
  Graph g;
  GraphBuilder b(g);
  int x = input(b, "x", {1, 1, 6});
  int y = b.op("maxpool1d", {x}, pool_attrs({2}, {1}, {0}));
  g.outputs = append_gradients(g, y, {x});
  g.output_names = {"dx"};
  // Windows (1,3) (3,3) (3,2) (2,3) (3,3): maxima at 1, 1, 2, 4, 4.
  Tensor dx = run_graph(g, {T({1, 1, 6}, {1, 3, 3, 2, 3, 3})}, {})[0];
  expect_near(dx, {0, 2, 1, 0, 2, 0});

  Graph g2;
  GraphBuilder b2(g2);
  int x2 = input(b2, "x", {1, 1, 3, 3});
  int y2 = b2.op("maxpool2d", {x2}, pool_attrs({2}, {1}, {0}));
  g2.outputs = append_gradients(g2, y2, {x2});
  g2.output_names = {"dx"};
  Tensor dx2 = run_graph(g2, {T({1, 1, 3, 3}, {5, 5, 1, 5, 5, 5, 0, 5, 5})}, {})[0];
  // Windows at (0,0) and (1,1) are all 5s: each takes its top-left element.
  expect_near(dx2, {1, 1, 0, 1, 1, 0, 0, 0, 0});
}

// A graph from a constant x and an input v to one of the pooling-gradient ops.
Graph pool_grad_graph(const std::string& op, const Tensor& x, const Tensor& v, const Attrs& a) {
  Graph g;
  g.name = op;
  GraphBuilder b(g);
  int xc = b.op("const", {}, {{"value", x}});
  int vi = input(b, "v", v.shape());
  g.outputs = {b.op(op, {xc, vi}, a)};
  g.output_names = {"y"};
  return g;
}

// maxpool_grad (linear in dy) and maxpool_gather are each other's adjoints; avgpool_grad
// and avgpool likewise. x (the argmax positions) gets no gradient.
TEST(GradPool, PoolGradOpsAreDifferentiable) {
  for (const auto& c : kPool1d) {
    Attrs a = pool_attrs(c.k, c.s, c.p);
    Tensor x = rnd(c.x, 34);
    Tensor y = run_op("maxpool1d", {x}, a);
    expect_gradcheck(pool_grad_graph("maxpool1d_grad", x, rnd(y.shape(), 35), a), {rnd(y.shape(), 35)}, {}, 1e-6, 0,
                     "maxpool1d_grad");
    expect_gradcheck(pool_grad_graph("maxpool1d_gather", x, rnd(c.x, 36), a), {rnd(c.x, 36)}, {}, 1e-6, 0,
                     "maxpool1d_gather");
    expect_op_grad_of_grad("avgpool1d", {x}, a);
    Attrs ag = a;
    ag["input_size"] = Ints{c.x[2]};
    expect_op_gradient("avgpool1d_grad", {rnd(y.shape(), 37)}, ag);
    // <gather(x, v), dy> = <v, maxpool_grad(x, dy)>
    Tensor v = rnd(c.x, 38), dy = rnd(y.shape(), 39);
    Tensor gv = run_op("maxpool1d_gather", {x, v}, a), gd = run_op("maxpool1d_grad", {x, dy}, a);
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < gv.size(); ++i) lhs += gv.get(i) * dy.get(i);
    for (int64_t i = 0; i < gd.size(); ++i) rhs += v.get(i) * gd.get(i);
    EXPECT_NEAR(lhs, rhs, 1e-12);
  }
  Attrs a2 = pool_attrs({3, 2}, {2, 1}, {1, 0});
  Tensor x2 = rnd({2, 2, 7, 6}, 40);
  Shape ys = run_op("maxpool2d", {x2}, a2).shape();
  expect_gradcheck(pool_grad_graph("maxpool2d_grad", x2, rnd(ys, 41), a2), {rnd(ys, 41)}, {}, 1e-6, 0,
                   "maxpool2d_grad");
  expect_gradcheck(pool_grad_graph("maxpool2d_gather", x2, rnd(x2.shape(), 42), a2), {rnd(x2.shape(), 42)}, {}, 1e-6, 0,
                   "maxpool2d_gather");
  expect_op_grad_of_grad("avgpool2d", {x2}, a2);
}

// Grad of grad through maxpool: dL/dx for L = sum(maxpool(x * w)^2 * R), gradchecked
// w.r.t. x and w.
TEST(GradPool, NestedMaxPool) {
  Graph g;
  g.name = "nested_maxpool";
  GraphBuilder b(g);
  int x = input(b, "x", {2, 2, 9});
  int w = input(b, "w", {1, 2, 1});
  int y = b.op("maxpool1d", {b.mul(x, w)}, pool_attrs({3}, {2}, {1}));
  int r = b.op("const", {}, {{"value", rnd(b.shape(y), 43)}});
  int loss = b.sum(b.mul(b.mul(y, y), r), {}, false);
  g.outputs = {append_gradients(g, loss, {x})[0]};
  g.output_names = {"dx"};
  // x reaches dx through y (differentiable) and through the argmax positions (no gradient,
  // piecewise constant): the finite differences see the same.
  std::vector<Tensor> in = {rnd({2, 2, 9}, 44), rnd({1, 2, 1}, 45)};
  expect_gradcheck(g, in, {}, 1e-6, 0, "d/d(x,w) dL/dx through maxpool");
}

// ---- symbolic batch dim ----

// Builds op(x, [w]) on x with a symbolic batch dim B, appends the gradients seeded with an
// input dy, runs at the concrete batch of `x`, and compares with the same graph built
// with a static batch (checked numerically above).
void expect_symbolic_batch_matches(const std::string& op, const Tensor& x, const std::vector<Tensor>& rest,
                                   const Attrs& a) {
  std::vector<Tensor> results[2];
  for (int sym : {0, 1}) {
    Graph g;
    g.name = op;
    if (sym) g.symbols = {"B"};
    GraphBuilder b(g);
    Shape xs = x.shape();
    if (sym) xs[0] = make_sym(0);
    std::vector<int> ins = {input(b, "x", xs)};
    for (size_t i = 0; i < rest.size(); ++i) ins.push_back(input(b, fmt::format("p{}", i), rest[i].shape()));
    int y = b.op(op, ins, a);
    int dy = input(b, "dy", b.shape(y));
    g.outputs = append_gradients(g, y, ins, dy);
    for (size_t i = 0; i < ins.size(); ++i) {
      ASSERT_EQ(g.type(g.outputs[i]), g.type(ins[i])) << op;
      g.output_names.push_back(fmt::format("d{}", i));
    }
    std::vector<Tensor> in = {x};
    in.insert(in.end(), rest.begin(), rest.end());
    Shape dys = run_op(op, in, a).shape();
    in.push_back(rnd(dys, 50));
    results[sym] = run_graph(g, in, {});
  }
  for (size_t i = 0; i < results[0].size(); ++i) {
    ASSERT_EQ(results[0][i].shape(), results[1][i].shape()) << op;
    for (int64_t j = 0; j < results[0][i].size(); ++j)
      EXPECT_NEAR(results[0][i].get(j), results[1][i].get(j), 1e-12) << op << " d" << i << " at " << j;
  }
}

TEST(GradConv, SymbolicBatchDim) {
  for (size_t i : {0, 2, 3, 5}) {
    const auto& c = kConv1d[i];
    expect_symbolic_batch_matches("conv1d", rnd({3, c.C, c.L}, 51), {rnd({c.O, c.C, c.K}, 52)},
                                  conv_attrs({c.s}, {c.p}, {c.d}));
    expect_symbolic_batch_matches("conv_transpose1d", rnd({3, c.C, c.L}, 53), {rnd({c.C, c.O, c.K}, 54)},
                                  conv_attrs({c.s}, {c.p}, {c.d}, {c.op}));
  }
  expect_symbolic_batch_matches("conv2d", rnd({3, 2, 7, 6}, 55), {rnd({3, 2, 3, 2}, 56)},
                                conv_attrs({2, 1}, {1, 0}, {1, 2}));
  expect_symbolic_batch_matches("conv_transpose2d", rnd({2, 2, 3, 4}, 57), {rnd({2, 3, 3, 2}, 58)},
                                conv_attrs({2, 1}, {1, 0}, {1, 2}, {1, 1}));
  for (const char* op : {"maxpool1d", "avgpool1d"})
    expect_symbolic_batch_matches(op, rnd({3, 2, 17}, 59), {}, pool_attrs({3}, {2}, {1}));
  for (const char* op : {"maxpool2d", "avgpool2d"})
    expect_symbolic_batch_matches(op, rnd({3, 2, 7, 6}, 60), {}, pool_attrs({3, 2}, {2, 1}, {1, 0}));
}

// With a symbolic batch the weight gradient (conv*_weight_grad, reducing over B) must be
// differentiable too: gradcheck binds B and differentiates the gradient graph again.
TEST(GradConv, SymbolicBatchGradOfGrad) {
  struct Case {
    std::string op;
    Shape x, w;
    Attrs a;
  };
  for (const Case& c : std::vector<Case>{{"conv1d", {2, 2, 9}, {3, 2, 3}, conv_attrs({2}, {1}, {2})},
                                         {"conv_transpose1d", {2, 2, 4}, {2, 3, 3}, conv_attrs({3}, {1}, {1}, {2})},
                                         {"conv2d", {2, 1, 5, 4}, {2, 1, 2, 3}, conv_attrs({1, 2}, {1, 0}, {2, 1})}}) {
    Graph g;
    g.name = c.op;
    g.symbols = {"B"};
    GraphBuilder b(g);
    Shape xs = c.x;
    xs[0] = make_sym(0);
    int x = input(b, "x", xs), w = input(b, "w", c.w);
    int y = b.op(c.op, {x, w}, c.a);
    int dy = input(b, "dy", b.shape(y));
    g.outputs = append_gradients(g, y, {x, w}, dy);
    g.output_names = {"dx", "dw"};
    Shape ys = run_op(c.op, {rnd(c.x, 1), rnd(c.w, 2)}, c.a).shape();
    expect_gradcheck(g, {rnd(c.x, 61), rnd(c.w, 62), rnd(ys, 63)}, {}, 1e-6, 0, "symbolic-batch grad of grad " + c.op);
  }
}

TEST(GradPool, PoolGradOpShapeErrors) {
  TensorType x{DType::F64, {2, 3, 9}}, dy{DType::F64, {2, 3, 4}};
  Attrs a = pool_attrs({3}, {2}, {0});
  EXPECT_EQ(infer_op("maxpool1d_grad", {x, dy}, a), x);
  EXPECT_EQ(infer_op("maxpool1d_gather", {x, x}, a), dy);
  Attrs ag = a;
  ag["input_size"] = Ints{9};
  EXPECT_EQ(infer_op("avgpool1d_grad", {dy}, ag), x);
  ag["input_size"] = Ints{10};  // pools to length 4 as well
  EXPECT_EQ(infer_op("avgpool1d_grad", {dy}, ag).shape, (Shape{2, 3, 10}));
  EXPECT_EQ(what([&] { infer_op("maxpool1d_grad", {x, x}, a); }),
            "maxpool1d_grad: dy must be f64[2,3,4], got f64[2,3,9]");
  EXPECT_EQ(what([&] { infer_op("maxpool1d_gather", {x, dy}, a); }),
            "maxpool1d_gather: v must be f64[2,3,9], got f64[2,3,4]");
  ag["input_size"] = Ints{12};
  EXPECT_EQ(what([&] { infer_op("avgpool1d_grad", {dy}, ag); }),
            "avgpool1d_grad: dy must be f64[2,3,5], got f64[2,3,4]");
  ag["input_size"] = Ints{9, 9};
  EXPECT_EQ(what([&] { infer_op("avgpool1d_grad", {dy}, ag); }),
            "avgpool1d_grad: input_size must have one value per spatial dim (1), got [9,9]");
}

// ---- PyTorch ----

// Gradients of conv1d, conv_transpose1d, maxpool1d (with ties), avgpool1d, conv2d and
// maxpool2d w.r.t. every input for a given dy, vs torch.autograd in float64.
TEST(GradConv, MatchesPyTorch) {
  ShellResult probe = fs::exists(kPython) ? python_imports("torch, numpy") : ShellResult{};
  if (probe.code != 0)
    GTEST_SKIP() << kPython << " cannot import torch and numpy; PyTorch gradient comparison skipped: " << probe.out;
  struct Case {
    std::string op;
    std::vector<Tensor> in;
    Attrs attrs;
    std::string spec;  // for the script: op and its arguments
  };
  Tensor ties(DType::F64, {2, 2, 9});
  for (int64_t i = 0; i < ties.size(); ++i) ties.set(i, double((i * 7) % 5));  // many tied maxima
  Tensor ties2(DType::F64, {1, 2, 6, 5});
  for (int64_t i = 0; i < ties2.size(); ++i) ties2.set(i, double((i * 3) % 4));
  std::vector<Case> cases = {
      {"conv1d", {rnd({2, 3, 17}, 70), rnd({2, 3, 4}, 71)}, conv_attrs({2}, {1}, {2}), "conv1d 2 1 2 0"},
      {"conv1d", {rnd({1, 2, 3}, 72), rnd({3, 2, 3}, 73)}, conv_attrs({3}, {1}, {1}), "conv1d 3 1 1 0"},
      {"conv_transpose1d",
       {rnd({2, 3, 5}, 74), rnd({3, 2, 3}, 75)},
       conv_attrs({3}, {1}, {2}, {2}),
       "conv_transpose1d 3 1 2 2"},
      {"maxpool1d", {ties}, pool_attrs({3}, {2}, {1}), "maxpool1d 3 2 1"},
      {"maxpool1d", {rnd({2, 2, 17}, 76)}, pool_attrs({4}, {3}, {2}), "maxpool1d 4 3 2"},
      {"avgpool1d", {rnd({2, 2, 17}, 77)}, pool_attrs({5}, {2}, {2}), "avgpool1d 5 2 2"},
      {"conv2d",
       {rnd({2, 2, 7, 6}, 78), rnd({3, 2, 3, 2}, 79)},
       conv_attrs({2, 1}, {1, 0}, {1, 2}),
       "conv2d 2,1 1,0 1,2 0"},
      {"maxpool2d", {ties2}, pool_attrs({3, 2}, {2, 1}, {1, 0}), "maxpool2d 3,2 2,1 1,0"},
      // Grouped (2 and 4 groups) and depthwise (groups = channels, multiplier 1 and 2).
      {"conv2d", {rnd({2, 4, 6, 5}, 90), rnd({4, 1, 3, 3}, 91)}, conv_attrs({1}, {1}, {1}, {}, 4), "conv2d 1 1 1 0 4"},
      {"conv2d",
       {rnd({1, 3, 7, 6}, 92), rnd({6, 1, 3, 2}, 93)},
       conv_attrs({2, 1}, {1, 0}, {1, 2}, {}, 3),
       "conv2d 2,1 1,0 1,2 0 3"},
      {"conv2d", {rnd({2, 4, 5, 5}, 94), rnd({6, 2, 3, 3}, 95)}, conv_attrs({1}, {0}, {1}, {}, 2), "conv2d 1 0 1 0 2"},
      {"conv1d", {rnd({2, 8, 11}, 96), rnd({4, 2, 3}, 97)}, conv_attrs({2}, {1}, {1}, {}, 4), "conv1d 2 1 1 0 4"},
      {"conv_transpose1d",
       {rnd({2, 4, 6}, 98), rnd({4, 3, 3}, 99)},
       conv_attrs({2}, {1}, {1}, {1}, 2),
       "conv_transpose1d 2 1 1 1 2"},
      {"conv_transpose2d",
       {rnd({1, 4, 3, 4}, 100), rnd({4, 2, 3, 2}, 101)},
       conv_attrs({2, 1}, {1, 0}, {1, 2}, {1, 0}, 2),
       "conv_transpose2d 2,1 1,0 1,2 1,0 2"},
  };
  fs::path tmp = fs::temp_directory_path() / fs::path("starc_torch_grads_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::ofstream spec(tmp / "cases.txt");
  std::vector<std::vector<Tensor>> ours;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    Graph g;
    GraphBuilder b(g);
    std::vector<int> ins;
    for (size_t i = 0; i < c.in.size(); ++i) ins.push_back(input(b, fmt::format("x{}", i), c.in[i].shape()));
    int y = b.op(c.op, ins, c.attrs);
    int dy = input(b, "dy", b.shape(y));
    g.outputs = append_gradients(g, y, ins, dy);
    for (size_t i = 0; i < ins.size(); ++i) g.output_names.push_back(fmt::format("d{}", i));
    g.outputs.push_back(y);  // the forward value too: torch_grads.py writes it after the gradients
    g.output_names.push_back("y");
    std::vector<Tensor> in = c.in;
    in.push_back(rnd(b.shape(y), uint32_t(80 + k)));
    ours.push_back(run_graph(g, in, {}));
    for (size_t i = 0; i < in.size(); ++i) write_npy((tmp / fmt::format("c{}_in{}.npy", k, i)).string(), in[i]);
    spec << c.spec << "\n";
  }
  spec.close();
  std::string cmd = std::string(kPython) + " " STARC_SOURCE_DIR "/tests/e2e/torch_grads.py " + tmp.string();
  ShellResult r = sh(cmd);
  ASSERT_EQ(r.code, 0) << cmd << "\n" << r.out;
  for (size_t k = 0; k < cases.size(); ++k)
    for (size_t i = 0; i < ours[k].size(); ++i) {
      Tensor want = read_npy((tmp / fmt::format("c{}_grad{}.npy", k, i)).string());
      ASSERT_EQ(want.shape(), ours[k][i].shape()) << cases[k].spec;
      for (int64_t j = 0; j < want.size(); ++j)
        EXPECT_NEAR(ours[k][i].get(j), want.get(j), 1e-10) << cases[k].spec << " d/dinput" << i << " at " << j;
    }
  std::error_code ec;
  if (!HasFailure()) fs::remove_all(tmp, ec);
}

}  // namespace
}  // namespace starc::test
