// NaN and infinity, op by op, as PyTorch 1.13 computes them (issue 31: relu(NaN) was 0
// and maximum(NaN, x) was x, so a NaN in training data vanished behind a ReLU and the
// trainer's NaN guard never fired). One table of special inputs per op with PyTorch's
// outputs, hard-coded next to the torch call that gave them (float64; the f32 runs
// compare with the same numbers at f32 precision), run on the reference kernels and
// through the JIT; the GPU compiles the same MLIR (GpuOps.EveryOpAssemblesForSm90), and
// its kernel library has no elementwise or pooling kernels of its own. A second table
// holds PyTorch's gradients at NaN and infinities.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "grad_test_util.h"
#include "jit_test_util.h"
#include "op_test_util.h"
#include "runtime/jit_executor.h"

namespace starc::test {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

struct In {
  Shape shape;
  std::vector<double> values;
  std::optional<DType> dtype = {};  // nullopt: the run's float type
};

struct NanCase {
  std::string op;
  Attrs attrs;
  std::vector<In> inputs;
  std::vector<double> want;   // PyTorch's
  const char* torch;          // the call that gave `want`
  bool signed_zeros = false;  // the sign of a zero result must match too
};

const std::vector<double> kX = {nan, inf, -inf, 0.0, -0.0, 1.5};
In x6() { return {{6}, kX}; }
// a and b put NaN in each position and against infinities.
In a6() { return {{6}, {nan, 1.0, nan, inf, -inf, inf}}; }
In b6() { return {{6}, {1.0, nan, nan, -inf, inf, inf}}; }
// Rows: NaN among numbers, both infinities, all -inf, +inf twice.
In rows() { return {{4, 3}, {1.0, nan, 3.0, inf, -inf, 2.0, -inf, -inf, -inf, inf, inf, 1.0}}; }
In pool1d() { return {{1, 1, 8}, {1.0, nan, 3.0, 4.0, -inf, -inf, inf, 0.0}}; }
In image() { return {{1, 1, 4, 3}, {1.0, 2.0, 3.0, 4.0, nan, 6.0, 7.0, 8.0, 9.0, 1.0, 1.0, 1.0}}; }
const std::vector<double> kAllNan(12, nan);

std::vector<NanCase> elementwise_cases() {
  // x = torch.tensor([nan, inf, -inf, 0.0, -0.0, 1.5], dtype=torch.float64)
  return {
      {"neg", {}, {x6()}, {nan, -inf, inf, -0.0, 0.0, -1.5}, "torch.neg(x)", true},
      {"exp", {}, {x6()}, {nan, inf, 0.0, 1.0, 1.0, 4.4816890703380645}, "torch.exp(x)"},
      {"log", {}, {x6()}, {nan, inf, nan, -inf, -inf, 0.4054651081081644}, "torch.log(x)"},
      {"tanh", {}, {x6()}, {nan, 1.0, -1.0, 0.0, -0.0, 0.9051482536448664}, "torch.tanh(x)", true},
      {"sigmoid", {}, {x6()}, {nan, 1.0, 0.0, 0.5, 0.5, 0.8175744761936437}, "torch.sigmoid(x)"},
      {"relu", {}, {x6()}, {nan, inf, 0.0, 0.0, -0.0, 1.5}, "torch.relu(x)", true},
      {"leaky_relu", {}, {x6()}, {nan, inf, -inf, 0.0, -0.0, 1.5}, "F.leaky_relu(x, 0.01)", true},
      {"elu", {}, {x6()}, {nan, inf, -1.0, 0.0, 0.0, 1.5}, "F.elu(x)"},
      {"softplus",
       {},
       {x6()},
       {nan, inf, 0.0, 0.6931471805599453, 0.6931471805599453, 1.7014132779827524},
       "F.softplus(x)"},
      {"erf", {}, {x6()}, {nan, 1.0, -1.0, 0.0, -0.0, 0.9661051464753108}, "torch.erf(x)", true},
      {"gelu", {}, {x6()}, {nan, inf, nan, 0.0, -0.0, 1.399789198096713}, "F.gelu(x)", true},
      {"gelu",
       {{"approximate", std::string("tanh")}},
       {x6()},
       {nan, inf, nan, 0.0, -0.0, 1.3995715769802328},
       "F.gelu(x, approximate='tanh')",
       true},
      {"sqrt", {}, {x6()}, {nan, inf, nan, 0.0, -0.0, 1.224744871391589}, "torch.sqrt(x)", true},
      {"rsqrt", {}, {x6()}, {nan, 0.0, nan, inf, -inf, 0.8164965809277261}, "torch.rsqrt(x)"},
      {"abs", {}, {x6()}, {nan, inf, inf, 0.0, 0.0, 1.5}, "torch.abs(x)", true},
      {"sign", {}, {x6()}, {0.0, 1.0, -1.0, 0.0, 0.0, 1.0}, "torch.sign(x)  # sign(NaN) is 0 in 1.13"},
      {"sin", {}, {x6()}, {nan, nan, nan, 0.0, -0.0, 0.9974949866040544}, "torch.sin(x)", true},
      {"cos", {}, {x6()}, {nan, nan, nan, 1.0, 1.0, 0.0707372016677029}, "torch.cos(x)"},
      {"square", {}, {x6()}, {nan, inf, inf, 0.0, 0.0, 2.25}, "torch.square(x)"},
      // a = [nan, 1, nan, inf, -inf, inf], b = [1, nan, nan, -inf, inf, inf]
      {"add", {}, {a6(), b6()}, {nan, nan, nan, nan, nan, inf}, "torch.add(a, b)"},
      {"sub", {}, {a6(), b6()}, {nan, nan, nan, inf, -inf, nan}, "torch.sub(a, b)"},
      {"mul", {}, {a6(), b6()}, {nan, nan, nan, -inf, -inf, inf}, "torch.mul(a, b)"},
      {"div", {}, {a6(), b6()}, {nan, nan, nan, nan, nan, nan}, "torch.div(a, b)"},
      {"pow", {}, {a6(), b6()}, {nan, 1.0, nan, 0.0, inf, inf}, "torch.pow(a, b)"},
      {"pow", {}, {{{2}, {nan, 1.0}}, {{2}, {0.0, nan}}}, {1.0, 1.0}, "torch.pow([nan, 1], [0, nan])"},
      {"maximum", {}, {a6(), b6()}, {nan, nan, nan, inf, inf, inf}, "torch.maximum(a, b)"},
      {"minimum", {}, {a6(), b6()}, {nan, nan, nan, -inf, -inf, inf}, "torch.minimum(a, b)"},
      // a tie of zeros gives the first operand
      {"maximum",
       {},
       {{{2}, {-0.0, 0.0}}, {{2}, {0.0, -0.0}}},
       {-0.0, 0.0},
       "torch.maximum([-0., 0.], [0., -0.])",
       true},
      {"minimum",
       {},
       {{{2}, {-0.0, 0.0}}, {{2}, {0.0, -0.0}}},
       {-0.0, 0.0},
       "torch.minimum([-0., 0.], [0., -0.])",
       true},
      {"eq", {}, {a6(), b6()}, {0, 0, 0, 0, 0, 1}, "torch.eq(a, b)"},
      {"ne", {}, {a6(), b6()}, {1, 1, 1, 1, 1, 0}, "torch.ne(a, b)"},
      {"lt", {}, {a6(), b6()}, {0, 0, 0, 0, 1, 0}, "torch.lt(a, b)"},
      {"le", {}, {a6(), b6()}, {0, 0, 0, 0, 1, 1}, "torch.le(a, b)"},
      {"gt", {}, {a6(), b6()}, {0, 0, 0, 1, 0, 0}, "torch.gt(a, b)"},
      {"ge", {}, {a6(), b6()}, {0, 0, 0, 1, 0, 1}, "torch.ge(a, b)"},
      {"where",
       {},
       {{{2}, {1, 0}, DType::Bool}, {{2}, {nan, nan}}, {{2}, {1.0, 2.0}}},
       {nan, 2.0},
       "torch.where([True, False], [nan, nan], [1., 2.])"},
      {"cast", {{"dtype", DType::Bool}}, {{{3}, {nan, inf, 0.0}}}, {1, 1, 0}, "torch.tensor([nan, inf, 0.]).bool()"},
      {"cast", {{"dtype", DType::F64}}, {{{3}, {nan, inf, -inf}}}, {nan, inf, -inf}, "x.double()"},
  };
}

std::vector<NanCase> reduce_nn_cases() {
  // r = torch.tensor([[1, nan, 3], [inf, -inf, 2], [-inf, -inf, -inf], [inf, inf, 1]], dtype=torch.float64)
  const Attrs ax1 = {{"axes", Ints{1}}};
  const Attrs k2 = {{"kernel", Ints{2}}};
  const Attrs k22 = {{"kernel", Ints{2, 2}}};
  return {
      {"sum", ax1, {rows()}, {nan, nan, -inf, inf}, "r.sum(1)"},
      {"mean", ax1, {rows()}, {nan, nan, -inf, inf}, "r.mean(1)"},
      {"max", ax1, {rows()}, {nan, inf, -inf, inf}, "r.amax(1)"},
      {"min", ax1, {rows()}, {nan, -inf, -inf, 1.0}, "r.amin(1)"},
      {"logsumexp", ax1, {rows()}, {nan, inf, -inf, inf}, "torch.logsumexp(r, 1)"},
      {"argmax", {{"axis", int64_t(1)}}, {rows()}, {1, 0, 0, 0}, "r.argmax(1)"},
      {"argmax",
       {{"axis", int64_t(1)}},
       {{{2, 4}, {1, 3, nan, nan, nan, 3, 5, 1}}},
       {2, 0},
       "torch.tensor([[1, 3, nan, nan], [nan, 3, 5, 1]]).argmax(1)"},
      {"cumsum",
       {{"axis", int64_t(1)}},
       {{{2, 3}, {1.0, nan, 2.0, inf, -inf, 1.0}}},
       {1.0, nan, nan, inf, nan, nan},
       "torch.cumsum([[1, nan, 2], [inf, -inf, 1]], 1)"},
      // s = torch.tensor([3, nan, 1, nan, -inf, 2, inf]): NaN sorts last ascending, first descending
      {"argsort",
       {},
       {{{7}, {3.0, nan, 1.0, nan, -inf, 2.0, inf}}},
       {4, 2, 5, 0, 6, 1, 3},
       "torch.sort(s, stable=True).indices"},
      {"argsort",
       {{"descending", true}},
       {{{7}, {3.0, nan, 1.0, nan, -inf, 2.0, inf}}},
       {1, 3, 6, 0, 5, 2, 4},
       "torch.sort(s, stable=True, descending=True).indices"},
      {"softmax", {{"axis", int64_t(1)}}, {rows()}, kAllNan, "F.softmax(r, 1)"},
      {"log_softmax", {{"axis", int64_t(1)}}, {rows()}, kAllNan, "F.log_softmax(r, 1)"},
      {"layer_norm",
       {},
       {{{2, 3}, {1.0, nan, 3.0, 1.0, 2.0, inf}}},
       {nan, nan, nan, nan, nan, nan},
       "F.layer_norm([[1, nan, 3], [1, 2, inf]], (3,))"},
      {"batch_norm",
       {{"training", true}},
       {{{3, 2}, {1.0, 2.0, nan, 3.0, 2.0, 4.0}}, {{2}, {1, 1}}, {{2}, {0, 0}}, {{2}, {0, 0}}, {{2}, {1, 1}}},
       {nan, -1.22473568590839, nan, 0.0, nan, 1.2247356859083904},
       "F.batch_norm([[1, 2], [nan, 3], [2, 4]], zeros(2), ones(2), training=True)"},
      {"batch_norm",
       {},
       {{{3, 2}, {1.0, 2.0, nan, 3.0, 2.0, 4.0}}, {{2}, {1, 1}}, {{2}, {0, 0}}, {{2}, {0, 0}}, {{2}, {1, 1}}},
       {0.9999950000374997, 1.9999900000749995, nan, 2.999985000112499, 1.9999900000749995, 3.999980000149999},
       "F.batch_norm([[1, 2], [nan, 3], [2, 4]], zeros(2), ones(2), training=False)"},
      // p = [[[1, nan, 3, 4, -inf, -inf, inf, 0]]]: NaN anywhere in a window gives NaN
      {"maxpool1d", k2, {pool1d()}, {nan, 4.0, -inf, inf}, "F.max_pool1d(p, 2)"},
      {"maxpool1d",
       {{"kernel", Ints{3}}, {"stride", Ints{2}}, {"padding", Ints{1}}},
       {pool1d()},
       {nan, nan, 4.0, inf},
       "F.max_pool1d(p, 3, stride=2, padding=1)"},
      {"avgpool1d", k2, {pool1d()}, {nan, 3.5, -inf, inf}, "F.avg_pool1d(p, 2)"},
      // img = [[[[1, 2, 3], [4, nan, 6], [7, 8, 9], [1, 1, 1]]]]
      {"maxpool2d", k22, {image()}, {nan, 8.0}, "F.max_pool2d(img, 2)"},
      {"avgpool2d", k22, {image()}, {nan, 4.25}, "F.avg_pool2d(img, 2)"},
  };
}

std::vector<NanCase> linalg_conv_cases() {
  const In w3 = {{1, 1, 3}, {1.0, 0.0, 1.0}};
  const In signal = {{1, 1, 7}, {1.0, 2.0, nan, 4.0, 5.0, 6.0, inf}};
  return {
      {"matmul",
       {},
       {{{3, 2}, {nan, 1.0, inf, 0.0, 1.0, 2.0}}, {{2, 2}, {0.0, 1.0, 1.0, 0.0}}},
       {nan, nan, nan, inf, 2.0, 1.0},
       "torch.tensor([[nan, 1], [inf, 0], [1, 2]]) @ torch.tensor([[0, 1], [1, 0]])"},
      {"conv1d",
       {{"algo", std::string("direct")}},
       {signal, w3},
       {nan, nan, nan, 10.0, inf},
       "F.conv1d([[[1, 2, nan, 4, 5, 6, inf]]], [[[1, 0, 1]]])"},
      // The FFT kernels take the direct ones when an operand is not finite: a transform
      // spreads a NaN over its whole row.
      {"conv1d",
       {{"algo", std::string("fft")}},
       {signal, w3},
       {nan, nan, nan, 10.0, inf},
       "F.conv1d([[[1, 2, nan, 4, 5, 6, inf]]], [[[1, 0, 1]]])"},
      {"conv2d",
       {{"algo", std::string("fft")}},
       {image(), {{1, 1, 2, 2}, {1, 1, 1, 1}}},
       {nan, nan, nan, nan, 17.0, 19.0},
       "F.conv2d(img, torch.ones(1, 1, 2, 2))"},
      {"conv_transpose1d",
       {{"algo", std::string("fft")}},
       {{{1, 1, 3}, {1.0, nan, 2.0}}, {{1, 1, 2}, {1.0, 1.0}}},
       {1.0, nan, nan, 2.0},
       "F.conv_transpose1d([[[1, nan, 2]]], [[[1, 1]]])"},
      {"conv1d_weight_grad",
       {{"kernel", Ints{3}}, {"algo", std::string("fft")}},
       {{{1, 1, 6}, {nan, 1.0, 2.0, 3.0, 4.0, 5.0}}, {{1, 1, 4}, {1.0, 1.0, 1.0, 1.0}}},
       {nan, 10.0, 14.0},
       "torch.nn.grad.conv1d_weight([[[nan, 1, 2, 3, 4, 5]]], (1, 1, 3), torch.ones(1, 1, 4))"},
      {"conv2d",
       {},
       {image(), {{1, 1, 2, 2}, {1, 1, 1, 1}}},
       {nan, nan, nan, nan, 17.0, 19.0},
       "F.conv2d(img, torch.ones(1, 1, 2, 2))"},
      {"conv_transpose1d",
       {},
       {{{1, 1, 3}, {1.0, nan, 2.0}}, {{1, 1, 2}, {1.0, 1.0}}},
       {1.0, nan, nan, 2.0},
       "F.conv_transpose1d([[[1, nan, 2]]], [[[1, 1]]])"},
  };
}

std::vector<NanCase> all_cases() {
  std::vector<NanCase> all;
  for (auto family : {elementwise_cases, reduce_nn_cases, linalg_conv_cases})
    for (auto& c : family()) all.push_back(c);
  return all;
}

std::vector<Tensor> case_tensors(const NanCase& c, DType ft) {
  std::vector<Tensor> in;
  for (const In& i : c.inputs) in.push_back(Tensor::from_vector(i.dtype.value_or(ft), i.shape, i.values));
  return in;
}

// got equals PyTorch's `want`: NaN where it is NaN, infinities exactly, numbers to the
// float type's precision (and the sign of zeros where the case says so).
void expect_torch_values(const Tensor& got, const NanCase& c, DType ft, const std::string& who) {
  ASSERT_EQ(got.size(), int64_t(c.want.size())) << who << " " << c.torch;
  const double tol = ft == DType::F32 ? 2e-6 : 1e-12;
  for (int64_t i = 0; i < got.size(); ++i) {
    double g = got.get(i), w = c.want[size_t(i)];
    std::string where = fmt::format("{} {} ({}) at {}: got {}, torch {}", who, c.torch, dtype_name(ft), i, g, w);
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << where;
    } else if (std::isinf(w)) {
      EXPECT_EQ(g, w) << where;
    } else {
      EXPECT_LE(std::abs(g - w), tol * std::max(1.0, std::abs(w))) << where;
      if (c.signed_zeros && w == 0) EXPECT_EQ(std::signbit(g), std::signbit(w)) << where << " (sign of zero)";
    }
  }
}

TEST(NanSemantics, EveryOpMatchesPyTorchOnReferenceAndJit) {
  JitExecutor jit;
  for (DType ft : {DType::F32, DType::F64})
    for (const NanCase& c : all_cases()) {
      std::vector<Tensor> in = case_tensors(c, ft);
      Graph g = one_op_graph(c.op, in, c.attrs);
      expect_torch_values(run_graph(g, in, {})[0], c, ft, "reference");
      std::vector<Tensor> got;
      if (jit_run_or_fail(jit, g, in, 0, c.torch, &got)) expect_torch_values(got[0], c, ft, "jit");
    }
}

// Every op with a float input is in the table, or here with the reason it is not.
TEST(NanSemantics, EveryOpIsInTheTableOrExplained) {
  const std::map<std::string, const char*> not_in_table = {
      {"scan", "runs its body's ops"},
      {"scan_result", "a scan's output"},
      {"cast",
       "in the table to f64 and bool; to i64 starc's NaN -> 0 and saturation are documented, PyTorch's is "
       "undefined behaviour (INT64_MIN on x86)"},
      {"dropout", "DropoutNanStaysNan below (random mask)"},
      {"random_normal", "no tensor input"},
      {"random_uniform", "no tensor input"},
      {"full", "no tensor input"},
      {"one_hot", "i64 input"},
      {"check_index", "i64 input"},
      {"conv2d_weight_grad", "a gradient kernel: sums of products, as conv2d"},
      {"conv_transpose2d", "conv_transpose1d's kernel in 2-D"},
      {"maxpool1d_grad", "MaxPoolGradientGoesToTheNan below"},
      {"maxpool2d_grad", "maxpool1d_grad's rule in 2-D"},
      {"maxpool1d_gather", "reads at maxpool1d_grad's positions"},
      {"maxpool2d_gather", "reads at maxpool2d_grad's positions"},
      {"avgpool1d_grad", "spreads dy: sums, as avgpool1d"},
      {"avgpool2d_grad", "spreads dy: sums, as avgpool2d"}};
  std::set<std::string> tested;
  for (auto& c : all_cases()) tested.insert(c.op);
  for (const OpDef* op : all_ops()) {
    if (tested.count(op->name) || not_in_table.count(op->name) || op->inputs.empty()) continue;
    if (op->elementwise || !find_lowering(op->name)) {
      ADD_FAILURE() << "op '" << op->name << "' is not in the NaN table: add PyTorch's values at NaN and inf";
      continue;
    }
    // shape and indexing ops move values without computing on them: a NaN moves along
    static const std::set<std::string> moves = {"reshape",         "transpose", "concat",     "slice",        "pad",
                                                "rot90",           "flip",      "upsample",   "broadcast_to", "gather",
                                                "take_along_axis", "index_add", "scatter_add"};
    if (!moves.count(op->name))
      ADD_FAILURE() << "op '" << op->name << "' is not in the NaN table: add PyTorch's values at NaN and inf";
  }
}

// F.dropout(torch.full((8,), nan), 0.5, training=True) is all NaN: PyTorch multiplies by
// the mask, so a dropped NaN stays NaN (0 * NaN).
TEST(NanSemantics, DropoutNanStaysNan) {
  JitExecutor jit;
  for (DType ft : {DType::F32, DType::F64}) {
    std::vector<Tensor> in = {Tensor::from_vector(ft, {64}, std::vector<double>(64, nan))};
    Graph g = one_op_graph("dropout", in, {{"p", 0.5}});
    std::vector<Tensor> got;
    for (const Tensor& t : {run_graph(g, in, {})[0], jit.run(g, in, {}, 0)[0]})
      for (int64_t i = 0; i < t.size(); ++i) EXPECT_TRUE(std::isnan(t.get(i))) << dtype_name(ft) << " at " << i;
  }
}

// Gradients at NaN and infinities, against torch autograd with dy = 3.
struct GradCase {
  std::string op;
  std::vector<std::vector<double>> inputs;
  std::vector<std::vector<double>> want;  // per input
  const char* torch;
};

std::vector<GradCase> grad_cases() {
  return {
      // x = torch.tensor([nan, inf, -inf, 0, -1, 2], requires_grad=True); torch.relu(x).backward(3 * ones)
      {"relu", {{nan, inf, -inf, 0.0, -1.0, 2.0}}, {{3, 3, 0, 0, 0, 3}}, "relu: dy passes at NaN"},
      // x = [nan, inf, -inf]: F.leaky_relu, F.elu, torch.abs, torch.sqrt, F.softplus, torch.sign
      {"leaky_relu", {{nan, inf, -inf}}, {{0.03, 3, 0.03}}, "F.leaky_relu(x).backward(3)"},
      {"elu", {{nan, inf, -inf}}, {{3, 3, 0}}, "F.elu(x).backward(3)"},
      {"abs", {{nan, inf, -inf}}, {{0, 3, -3}}, "torch.abs(x).backward(3)"},
      {"sqrt", {{nan, inf, -inf}}, {{nan, 0, nan}}, "torch.sqrt(x).backward(3)"},
      {"softplus", {{nan, inf, -inf}}, {{nan, 3, 0}}, "F.softplus(x).backward(3)"},
      {"sign", {{nan, inf, -inf}}, {{0, 0, 0}}, "torch.sign(x).backward(3)"},
      // a = [nan, 1, nan, 1, 3], b = [1, nan, nan, 3, 1]: at a NaN both operands get dy
      {"maximum",
       {{nan, 1, nan, 1, 3}, {1, nan, nan, 3, 1}},
       {{3, 3, 3, 0, 3}, {3, 3, 3, 3, 0}},
       "torch.maximum(a, b).backward(3)"},
      {"minimum",
       {{nan, 1, nan, 1, 3}, {1, nan, nan, 3, 1}},
       {{3, 3, 3, 3, 0}, {3, 3, 3, 0, 3}},
       "torch.minimum(a, b).backward(3)"},
  };
}

TEST(NanSemantics, GradientsAtNanMatchPyTorch) {
  JitExecutor jit;
  for (DType ft : {DType::F32, DType::F64})
    for (const GradCase& c : grad_cases()) {
      std::vector<Tensor> in;
      for (auto& v : c.inputs) in.push_back(Tensor::from_vector(ft, {int64_t(v.size())}, v));
      Graph g = one_op_graph(c.op, in);
      GraphBuilder b(g);
      int dy = add_dy_input(g, b, g.outputs[0]);
      std::vector<int> wrt(g.inputs.begin(), g.inputs.end() - 1);
      g.outputs = append_gradients(g, g.outputs[0], wrt, dy);
      name_outputs_d(g);
      in.push_back(Tensor::from_vector(ft, in[0].shape(), std::vector<double>(size_t(in[0].size()), 3.0)));
      std::vector<Tensor> ref = run_graph(g, in, {}), got;
      if (!jit_run_or_fail(jit, g, in, 0, c.torch, &got)) continue;
      for (size_t k = 0; k < c.want.size(); ++k) {
        NanCase as_values{c.op, {}, {}, c.want[k], c.torch};
        expect_torch_values(ref[k], as_values, ft, fmt::format("reference d{}", k));
        expect_torch_values(got[k], as_values, ft, fmt::format("jit d{}", k));
      }
    }
}

// p = torch.tensor([[[1, nan, 3, 2]]], requires_grad=True); F.max_pool1d(p, 2).sum().backward()
// gives [[[0, 1, 1, 0]]]: each window's gradient goes to its NaN, the window's result.
TEST(NanSemantics, MaxPoolGradientGoesToTheNan) {
  JitExecutor jit;
  for (DType ft : {DType::F32, DType::F64}) {
    std::vector<Tensor> in = {Tensor::from_vector(ft, {1, 1, 4}, {1.0, nan, 3.0, 2.0}),
                              Tensor::from_vector(ft, {1, 1, 2}, {1.0, 1.0})};
    Graph g = one_op_graph("maxpool1d_grad", in, {{"kernel", Ints{2}}});
    NanCase want{"maxpool1d_grad", {}, {}, {0, 1, 1, 0}, "F.max_pool1d(p, 2).sum().backward()"};
    expect_torch_values(run_graph(g, in, {})[0], want, ft, "reference");
    expect_torch_values(jit.run(g, in, {}, 0)[0], want, ft, "jit");
  }
}

}  // namespace
}  // namespace starc::test
