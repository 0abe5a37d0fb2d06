// Symbolic dims beyond the batch (docs/language.md, "Symbolic lengths"): the arithmetic
// of derived dims, one model compiled once and run at several lengths (JIT against the
// reference interpreter and against the same model compiled for a static length), its
// gradients, and the errors when a bound length does not fit.
#include <gtest/gtest.h>

#include <random>

#include "compiler/autodiff/autodiff.h"
#include "compiler/ir/sym_dim.h"
#include "compiler/ir/text.h"
#include "compiler/ops/op.h"
#include "error_of.h"
#include "jit_test_util.h"
#include "runtime/gradcheck.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"

namespace starc {
namespace {

using test::compile;

Tensor random_tensor(DType dt, const Shape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  Tensor t(dt, s);
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, u(rng));
  return t;
}

// ---- the arithmetic --------------------------------------------------------------

TEST(SymDim, DerivedDimsHaveCanonicalNamesAndEvaluate) {
  SymbolNames names = {"B", "L"};
  SymTable t{&names, &names};
  Dim L = make_sym(1);
  Dim conv = dim_add(t, dim_floordiv(t, dim_sub(t, L, 5), 2), 1);  // (L-5)//2+1
  EXPECT_EQ(dim_str(conv, &names), "(L+1)//2-2");                  // a floor division's remainder lies in [0, k)
  // The same expression written another way is the same symbol.
  Dim again = dim_add(t, dim_floordiv(t, dim_add(t, L, -3), 2), 0);  // (L-3)//2 = (L-5)//2 + 1
  EXPECT_EQ(again, conv);
  EXPECT_EQ(dim_sub(t, dim_add(t, L, 7), 7), L);
  EXPECT_EQ(dim_floordiv(t, dim_mul(t, L, 4), 2), dim_mul(t, L, 2));
  EXPECT_EQ(dim_str(dim_mul(t, make_sym(0), L), &names), "B*L");
  // A transposed convolution undoing a stride-2 one gets L back (the conv adjoint's
  // output_padding is the remainder L - 2*((L-5)//2) - 3).
  Dim extra = dim_sub(t, L, dim_add(t, dim_mul(t, dim_sub(t, conv, 1), 2), 3 + 2 - 2));
  EXPECT_EQ(dim_add(t, dim_add(t, dim_mul(t, dim_sub(t, conv, 1), 2), extra), 5 - 2 * 1 - 2 + 2), L);

  std::vector<Dim> vals = complete_symbols(names, {8, 100});
  EXPECT_EQ(vals[size_t(sym_index(conv))], 48);
  EXPECT_EQ(vals[size_t(sym_index(extra))], 100 - 2 * 47 - 3);
  vals = complete_symbols(names, {8, 4});  // floor division rounds down, as on ints
  EXPECT_EQ(vals[size_t(sym_index(conv))], 0);
  EXPECT_TRUE(is_sym(complete_symbols(names, {8, kSymBase})[size_t(sym_index(conv))]));
}

TEST(SymDim, ReshapeFillDividesOneTermExactly) {
  SymbolNames names = {"B", "T"};
  SymTable t{&names, &names};
  Dim B = make_sym(0), T = make_sym(1);
  EXPECT_EQ(dim_str(*reshape_fill(t, {B, T, 16}, {-1, 16}), &names), "B*T");
  EXPECT_EQ(*reshape_fill(t, {dim_mul(t, B, T), 16}, {B, -1, 16}), T);
  EXPECT_EQ(*reshape_fill(t, {B, T, 16}, {B, T, 4, 4}), 0);  // equal counts
  EXPECT_FALSE(reshape_fill(t, {B, T, 16}, {B, 16}));
  EXPECT_FALSE(reshape_fill(t, {B, T, 6}, {B, -1, 4}));
  // Without a table to grow, a derived -1 is an error rather than a silent new symbol.
  SymbolNames fresh = {"B", "T"};
  SymTable fixed{&fresh, nullptr};
  EXPECT_THROW(reshape_fill(fixed, {B, T, 16}, {-1, 16}), std::invalid_argument);
}

// ---- a model over spectra of any length ------------------------------------------

const char* const kConvNet = R"(
model C(x: f64[B, 2, L]) -> f64[B, 3] {
    param w1: f64[4, 2, 5] = normal
    param w2: f64[4, 4, 3] = normal
    param v: f64[4, 3] = normal
    h = relu(conv1d(x, w1, stride: 2, padding: 1))
    h = maxpool1d(h, kernel: 2)
    h = conv_transpose1d(h, w2, stride: 2)
    h = h[:, :, 1:] + h[:, :, :-1]
    return mean(h, axes: [2]) @ v
}
)";

TEST(SymbolicLength, OneModelRunsAtSeveralLengthsAsTheStaticModelDoes) {
  Graph g = compile(kConvNet, "C");
  EXPECT_EQ(type_str(g.type(g.inputs[0]), &g.symbols), "f64[B,2,L]");
  TensorMap params = init_params(g, 3);
  JitExecutor jit;
  for (int64_t L : {64, 97, 10}) {
    SCOPED_TRACE("L = " + std::to_string(L));
    Tensor x = random_tensor(DType::F64, {3, 2, L}, uint64_t(L));
    std::vector<Tensor> ref = run_graph(g, {x}, params);
    std::vector<Tensor> got = jit.run(g, {x}, params, 0);
    test::expect_close(got[0], ref[0], 1e-12, "jit vs reference");
    // The same model written for this one length.
    std::string src = kConvNet;
    src.replace(src.find("f64[B, 2, L]"), 12, "f64[B, 2, " + std::to_string(L) + "]");
    Graph fixed = compile(src, "C");
    test::expect_close(jit.run(fixed, {x}, params, 0)[0], ref[0], 1e-12, "static model vs symbolic");
  }
}

TEST(SymbolicLength, GradientsMatchFiniteDifferencesAtTwoLengths) {
  Graph g = compile(kConvNet, "C");
  TensorMap params = init_params(g, 5);
  for (int64_t L : {23, 40}) {
    SCOPED_TRACE("L = " + std::to_string(L));
    GradcheckOptions opts;
    for (auto& e : gradcheck(g, {random_tensor(DType::F64, {2, 2, L}, uint64_t(L))}, params, opts))
      EXPECT_LT(e.max_rel_err, 1e-6) << "d/d" << e.name;
  }
  // The gradient graph is built once, symbolically, and runs at any length on the JIT.
  Graph d = g;
  NamedGradients grads = append_input_and_param_gradients(d);
  d.outputs = grads.ids;
  d.output_names = grads.names;
  JitExecutor jit;
  for (int64_t L : {31, 50}) {
    Tensor x = random_tensor(DType::F64, {2, 2, L}, uint64_t(L));
    std::vector<Tensor> ref = run_graph(d, {x}, params), got = jit.run(d, {x}, params, 0);
    ASSERT_EQ(got.size(), ref.size());
    EXPECT_EQ(got[0].shape(), (Shape{2, 2, L}));
    for (size_t i = 0; i < ref.size(); ++i) test::expect_close(got[i], ref[i], 1e-10, grads.names[i]);
  }
}

TEST(SymbolicLength, ATooShortInputNamesTheLayerAndTheLength) {
  Graph g = compile(kConvNet, "C");
  TensorMap params = init_params(g, 3);
  std::string msg = test::error_of([&] { run_graph(g, {random_tensor(DType::F64, {1, 2, 2}, 1)}, params); });
  EXPECT_NE(msg.find("inline.net:6:"), std::string::npos) << msg;  // the conv1d line
  EXPECT_NE(msg.find("L = 2"), std::string::npos) << msg;
  msg = test::error_of([&] { JitExecutor().run(g, {random_tensor(DType::F64, {1, 2, 2}, 1)}, params, 0); });
  EXPECT_NE(msg.find("L = 2"), std::string::npos) << msg;
}

TEST(SymbolicLength, ShapeArithmeticIndexingAndReshapeInTheLanguage) {
  Graph g = compile(R"(
model M(x: f64[B, T, 4]) -> (f64[B, 4], f64[B, T - 2, 4], f64[B, 2 * T]) {
    last = x[:, -1]
    inner = x[:, 1:T - 1]
    flat = reshape(x, [-1, 4])
    back = reshape(flat, [B, T, 4])
    halves = reshape(back[:, :, 0:2], [B, 2 * T])
    return (last, inner, halves)
}
)",
                    "M");
  Tensor x = random_tensor(DType::F64, {2, 5, 4}, 7);
  std::vector<Tensor> out = JitExecutor().run(g, {x}, {}, 0);
  std::vector<Tensor> ref = run_graph(g, {x}, {});
  ASSERT_EQ(out[0].shape(), (Shape{2, 4}));
  ASSERT_EQ(out[1].shape(), (Shape{2, 3, 4}));
  ASSERT_EQ(out[2].shape(), (Shape{2, 10}));
  for (int i = 0; i < 3; ++i) test::expect_close(out[size_t(i)], ref[size_t(i)], 0, "output " + std::to_string(i));
  EXPECT_EQ(out[0].get(0), x.get(4 * 4));      // x[0, 4, 0]
  EXPECT_EQ(out[1].get(0), x.get(1 * 4));      // x[0, 1, 0]
  EXPECT_EQ(out[2].get(3), x.get(1 * 4 + 1));  // x[0, 1, 1]
}

TEST(SymbolicLength, AnLstmRunsOverSequencesOfAnyLength) {
  Graph g = compile(R"(
use std.nn
model R(x: f64[B, T, 3]) -> f64[B, 4] {
    h = lstm(x, units: 4)
    return h[:, -1]
}
)",
                    "R");
  TensorMap params = init_params(g, 2);
  JitExecutor jit;
  for (int64_t T : {3, 11}) {
    Tensor x = random_tensor(DType::F64, {2, T, 3}, uint64_t(T));
    test::expect_close(jit.run(g, {x}, params, 0)[0], run_graph(g, {x}, params)[0], 1e-12, "lstm");
    GradcheckOptions opts;
    for (auto& e : gradcheck(g, {x}, params, opts)) EXPECT_LT(e.max_rel_err, 1e-6) << "d/d" << e.name;
  }
}

// A padded batch with its lengths gives, for each sequence, what that sequence alone
// gives at its own length: the padding mask keeps padded keys out of attention and out
// of the pooled mean. One graph serves every T.
TEST(SymbolicLength, APaddedBatchWithLengthsMatchesEachSequenceAlone) {
  Graph g = compile(R"(
use std.nn
model E(x: f64[B, T, 8], lengths: i64[B]) -> f64[B, 8] {
    let pad = padding_mask(lengths, T)
    h = positional_encoding(x)
    h = transformer_encoder_layer(h, nhead: 2, dim_feedforward: 16, dropout: 0.0, key_padding_mask: pad)
    return masked_mean(h, pad)
}
)",
                    "E");
  TensorMap params = init_params(g, 4);
  const int64_t T = 7;
  const std::vector<int64_t> lengths = {7, 3, 5};
  Tensor x = random_tensor(DType::F64, {3, T, 8}, 11), len(DType::I64, {3});
  for (size_t n = 0; n < lengths.size(); ++n) len.set(int64_t(n), double(lengths[n]));
  JitExecutor jit;
  Tensor batch = jit.run(g, {x, len}, params, 0)[0];
  test::expect_close(batch, run_graph(g, {x, len}, params)[0], 1e-12, "jit vs reference");
  for (size_t n = 0; n < lengths.size(); ++n) {
    const int64_t L = lengths[n];
    Tensor one(DType::F64, {1, L, 8}), one_len(DType::I64, {1});
    for (int64_t i = 0; i < L * 8; ++i) one.set(i, x.get(int64_t(n) * T * 8 + i));
    one_len.set(0, double(L));
    Tensor alone = jit.run(g, {one, one_len}, params, 0)[0];
    for (int64_t e = 0; e < 8; ++e)
      EXPECT_NEAR(batch.get(int64_t(n) * 8 + e), alone.get(e), 1e-12) << "sequence " << n << " feature " << e;
  }
}

TEST(SymbolicLength, GraphTextKeepsDerivedDims) {
  Graph g = compile(kConvNet, "C");
  std::string text = print_graph(g);
  Graph back = parse_graph(text);
  EXPECT_EQ(print_graph(back), text);
  TensorMap params = init_params(g, 3);
  Tensor x = random_tensor(DType::F64, {1, 2, 33}, 9);
  test::expect_close(run_graph(back, {x}, params)[0], run_graph(g, {x}, params)[0], 0, "parsed graph");
}

}  // namespace
}  // namespace starc
