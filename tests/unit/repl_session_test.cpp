// The REPL engine as a library (tools/repl/repl_session.h): a session fed text in-process,
// its results read from the streams it prints to; :train runs the API's Model::fit on
// session tensors and the model keeps the trained weights; :save/:load of a model's
// weights; numpy-like printing, print(...), `_`, :doc; `;` between statements (issue 32).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "runtime/io/npy.h"
#include "temp_dir_test.h"
#include "tools/repl/repl_session.h"
#include "tools/repl/repl_print.h"
#include "tools/repl/repl_syntax.h"

namespace starc::test {
namespace {

struct Session {
  std::ostringstream out, err;
  ReplSession s{out, err, ReplOptions{}};
  bool feed(const std::string& text) { return s.feed(text); }
  // What one input printed to `out`; a failed input is a test failure.
  std::string said(const std::string& text) {
    size_t before = out.str().size();
    EXPECT_TRUE(s.feed(text)) << text << "\n" << err.str();
    return out.str().substr(before);
  }
  // The value printed for `name = f32[] [v]`.
  double scalar(const std::string& name) {
    std::string text = out.str();
    size_t at = text.rfind(name + " = f32[] [");
    if (at == std::string::npos) return NAN;
    return std::stod(text.substr(at + name.size() + 10));
  }
};

TEST(ReplSession, EvaluatesDefinesAndKeepsValues) {
  Session s;
  ASSERT_TRUE(s.feed("x = ones([2, 3]) * 2.0"));
  ASSERT_TRUE(s.feed("fn twice(a: f32[N, M]) -> f32[N, M] { return a + a }"));
  ASSERT_TRUE(s.feed("total = sum(twice(x))"));
  EXPECT_DOUBLE_EQ(s.scalar("total"), 24.0) << s.out.str();
  EXPECT_FALSE(s.feed("y = x + ones([4])"));  // a shape error: reported, the session goes on
  EXPECT_NE(s.err.str().find("error"), std::string::npos) << s.err.str();
  ASSERT_TRUE(s.feed("again = sum(x)"));
  EXPECT_DOUBLE_EQ(s.scalar("again"), 12.0);
}

TEST(ReplSession, TrainUsesSessionTensorsAndKeepsTheWeights) {
  Session s;
  ASSERT_TRUE(s.feed("model Tiny(x: f32[B, 2]) -> f32[B, 1] {\n  return x |> dense(1)\n}")) << s.err.str();
  ASSERT_TRUE(s.feed("train Tiny(y: f32[B, 1]) {\n  loss = mse(output, y)\n  optimizer = sgd(lr: 0.1)\n}"))
      << s.err.str();
  ASSERT_TRUE(s.feed("x = ones([4, 2]) * 2.0"));
  ASSERT_TRUE(s.feed("y = ones([4, 1]) * 3.0"));
  ASSERT_TRUE(s.feed("before = mean(abs(Tiny(x) - y))"));
  ASSERT_TRUE(s.feed(":train Tiny --data x=x y=y --epochs 20 --batch 4")) << s.err.str();
  EXPECT_NE(s.out.str().find("epoch 20/20  train loss"), std::string::npos) << s.out.str();
  EXPECT_NE(s.out.str().find("Tiny keeps its trained weights"), std::string::npos) << s.out.str();
  ASSERT_TRUE(s.feed("after = mean(abs(Tiny(x) - y))"));
  EXPECT_LT(s.scalar("after"), 0.1 * s.scalar("before")) << s.out.str();

  EXPECT_FALSE(s.feed(":train Tiny --data x=x y=y --epochs zero"));
  EXPECT_NE(s.err.str().find("--epochs: expected a positive integer, got 'zero'"), std::string::npos) << s.err.str();
  EXPECT_FALSE(s.feed(":train Tiny --data x=x"));  // y missing: the trainer's message names it
  EXPECT_NE(s.err.str().find("y"), std::string::npos) << s.err.str();
  EXPECT_FALSE(s.feed(":train Tiny --data x=x y=y --lr 3"));
  EXPECT_NE(s.err.str().find("unknown option '--lr'"), std::string::npos) << s.err.str();
}

const char* kTiny =
    "model Tiny(x: f32[B, 2]) -> f32[B, 1] {\n  return x |> dense(1)\n}\n"
    "train Tiny(y: f32[B, 1]) {\n  loss = mse(output, y)\n  optimizer = sgd(lr: 0.1)\n}";

void define_tiny(Session& s) {
  ASSERT_TRUE(s.feed(kTiny)) << s.err.str();
  ASSERT_TRUE(s.feed("x = ones([4, 2]) * 2.0; y = ones([4, 1]) * 3.0")) << s.err.str();
}

class ReplSessionFiles : public TempDirTest {
 protected:
  ReplSessionFiles() : TempDirTest("starc_repl_session_") {}
};

// Issue 32 item 6: a model's weights are kept, saved and loaded with these spellings.
TEST_F(ReplSessionFiles, SaveAndLoadAModelsWeights) {
  Session a;
  define_tiny(a);
  std::string trained =
      a.said(":train Tiny --data x=x y=y --epochs 20 --batch 4 --progress none --out " + path("o.npz"));
  EXPECT_NE(trained.find("wrote " + path("o.npz")), std::string::npos) << trained;
  EXPECT_EQ(a.said(":save Tiny " + path("s.npz")),
            "wrote " + path("s.npz") + ": the session's weights of Tiny (2 tensors)\n");
  a.said("after = mean(abs(Tiny(x) - y))");
  auto out = read_npz(path("o.npz")), saved = read_npz(path("s.npz"));
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(saved.size(), 2u);
  for (auto& [name, t] : out) {
    ASSERT_TRUE(saved.count(name)) << name;
    for (int64_t i = 0; i < t.size(); ++i) EXPECT_EQ(t.get(i), saved.at(name).get(i)) << name;
  }

  Session b;  // a new session: the saved weights give the trained model's numbers
  define_tiny(b);
  b.said("before = mean(abs(Tiny(x) - y))");
  EXPECT_GT(std::abs(b.scalar("before") - a.scalar("after")), 0.1);
  EXPECT_EQ(b.said(":load Tiny " + path("s.npz")), "Tiny uses the weights of " + path("s.npz") + " (2 tensors)\n");
  b.said("after = mean(abs(Tiny(x) - y))");
  EXPECT_EQ(b.scalar("after"), a.scalar("after"));
  // :train goes on from them (--fresh starts over).
  EXPECT_NE(b.said(":train Tiny --data x=x y=y --epochs 1 --batch 4").find("training from its weights in this session"),
            std::string::npos);
  EXPECT_EQ(b.said(":train Tiny --data x=x y=y --epochs 1 --batch 4 --fresh").find("training from its weights"),
            std::string::npos);

  write_npz(path("bad.npz"), {{"dense0.weight", Tensor(DType::F32, {3, 3})}, {"dense0.bias", Tensor(DType::F32, {1})}});
  EXPECT_FALSE(b.feed(":load Tiny " + path("bad.npz")));
  EXPECT_NE(b.err.str().find("dense0.weight"), std::string::npos) << b.err.str();
  EXPECT_FALSE(b.feed(":load " + path("s.npz")));  // whose weights? the message says how
  EXPECT_NE(b.err.str().find(":load MODEL FILE.npz"), std::string::npos) << b.err.str();
  EXPECT_FALSE(b.feed(":save Tiny " + path("w.txt")));
  EXPECT_FALSE(b.feed(":save Nothing " + path("n.npz")));
  write("more.net", "fn triple(a) {\n  return a * 3.0\n}\n");  // :load FILE.net as before
  EXPECT_NE(b.said(":load " + path("more.net")).find("loaded"), std::string::npos);
  EXPECT_EQ(b.said("sum(triple(x))"), "output = f32[] [48]\n");
  std::string help = b.said(":help");
  EXPECT_NE(help.find(":save MODEL FILE.npz"), std::string::npos) << help;
  EXPECT_NE(help.find(":load MODEL FILE.npz"), std::string::npos) << help;
}

// A checkpoint is written only with --checkpoint, and :train says where.
TEST_F(ReplSessionFiles, TrainSaysWhereItWritesTheCheckpoint) {
  Session s;
  define_tiny(s);
  std::string said = s.said(":train Tiny --data x=x y=y --epochs 2 --batch 4 --checkpoint " + path("ck"));
  EXPECT_NE(said.find("checkpoint: " + path("ck") + "/checkpoint.npz\n"), std::string::npos) << said;
  EXPECT_TRUE(std::filesystem::exists(path("ck") + "/checkpoint.npz"));
  EXPECT_EQ(s.said(":load Tiny " + path("ck") + "/checkpoint.npz"),
            "Tiny uses the weights of " + path("ck") + "/checkpoint.npz (2 tensors)\n");
}

// Issue 32 item 7: every value up to print.threshold elements, in brackets that follow
// the shape; first and last 3 per axis beyond it (with min, max, mean); print(), `_`.
TEST(ReplSession, PrintsValuesLikeNumpy) {
  Session s;
  EXPECT_EQ(s.said("x = ones([10]) * 2.0"), "x = f32[10] [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]\n");
  EXPECT_EQ(s.said("m = ones([2, 3])"), "m = f32[2,3] [[1, 1, 1],\n              [1, 1, 1]]\n");
  EXPECT_EQ(s.said("big = ones([1001])"), "big = f32[1001] [1, 1, 1, ..., 1, 1, 1]  min 1 max 1 mean 1\n");
  EXPECT_EQ(s.said(":set print.threshold 2000"), "");
  EXPECT_EQ(s.said("big").find("..."), std::string::npos);
  EXPECT_EQ(s.said(":set print.precision 3"), "");
  EXPECT_EQ(s.said("third = ones([2]) / 3.0"), "third = f32[2] [0.333, 0.333]\n");
  EXPECT_EQ(s.said(":set"), "print.threshold 2000\nprint.precision 3\n");
  EXPECT_FALSE(s.feed(":set print.precision 0"));
  EXPECT_FALSE(s.feed(":set print.colour 1"));
  EXPECT_EQ(s.said("b = x[0:2] > 1.5"), "b = bool[2] [true, true]\n");

  EXPECT_EQ(s.said("print(x)"), "[2, 2, 2, 2, 2, 2, 2, 2, 2, 2]\n");
  EXPECT_EQ(s.said("print(\"total:\", sum(x), len([1, 2]))"), "total: 20 2\n");
  EXPECT_EQ(s.said("print(m)"), "[[1, 1, 1],\n [1, 1, 1]]\n");

  EXPECT_EQ(s.said("sum(x)"), "output = f32[] [20]\n");  // `_`: the last result
  EXPECT_EQ(s.said("y = _ * 2.0"), "y = f32[] [40]\n");
  EXPECT_EQ(s.said("3 + 4"), "7\n");
  EXPECT_EQ(s.said("_ * 2"), "14\n");
  EXPECT_EQ(s.said("_ + 1"), "15\n");
}

TEST(ReplPrint, MatchesNumpysLayout) {
  auto arange = [](Shape shape) {
    Tensor t(DType::I64, shape);
    for (int64_t i = 0; i < t.size(); ++i) t.set(i, double(i));
    return t;
  };
  repl::PrintOptions o;
  // numpy 1.24: repr(np.arange(24).reshape(2, 3, 4)), without "array(" and ")"; the
  // continuation lines are indented by the 6 columns of "array(".
  EXPECT_EQ(repl::format_values(arange({2, 3, 4}), o, 6),
            "[[[ 0,  1,  2,  3],\n"
            "        [ 4,  5,  6,  7],\n"
            "        [ 8,  9, 10, 11]],\n"
            "\n"
            "       [[12, 13, 14, 15],\n"
            "        [16, 17, 18, 19],\n"
            "        [20, 21, 22, 23]]]");
  // repr(np.arange(2000).reshape(40, 50))
  EXPECT_EQ(repl::format_values(arange({40, 50}), o, 6),
            "[[   0,    1,    2, ...,   47,   48,   49],\n"
            "       [  50,   51,   52, ...,   97,   98,   99],\n"
            "       [ 100,  101,  102, ...,  147,  148,  149],\n"
            "       ...,\n"
            "       [1850, 1851, 1852, ..., 1897, 1898, 1899],\n"
            "       [1900, 1901, 1902, ..., 1947, 1948, 1949],\n"
            "       [1950, 1951, 1952, ..., 1997, 1998, 1999]]");
  // repr(np.arange(30)): a row wraps at 75 columns.
  EXPECT_EQ(repl::format_values(arange({30}), o, 6),
            "[ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16,\n"
            "       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]");
  EXPECT_EQ(repl::format_values(arange({1001}), o, 6), "[   0,    1,    2, ...,  998,  999, 1000]");
  EXPECT_EQ(repl::format_values(arange({2, 0}), o), "[[],\n []]");
  EXPECT_EQ(repl::format_values(Tensor::scalar(DType::F32, 0.5), o), "0.5");
}

// Issue 32 item 7: :doc / :help NAME from the stdlib's comments and the op table; :type of
// a function gives its signature.
TEST(ReplSession, DocShowsSignaturesAndDescriptions) {
  Session s;
  EXPECT_EQ(s.said(":doc dense"),
            "fn dense(x, out: int, bias: bool = true, init = he_uniform)\n"
            "    Fully connected layer: y = x @ weight^T + bias, over the last axis.\n"
            "    defined in std.nn, line 11\n");
  std::string conv = s.said(":help conv1d");
  EXPECT_EQ(conv.rfind("fn conv1d(x: [N, C, L], out: int, kernel: int, stride: int = 1, padding: int = 0", 0), 0u)
      << conv;
  EXPECT_NE(conv.find("    1D convolution over [N, C, L] with a learned bias.\n"), std::string::npos) << conv;
  EXPECT_NE(conv.find("the primitive op is prim.conv1d"), std::string::npos) << conv;
  EXPECT_EQ(s.said(":doc leaky_relu"),
            "leaky_relu(x, alpha: float = 0.01)\n"
            "    x if x > 0 else alpha * x\n"
            "    a primitive op: `starc ops` lists them all\n");
  EXPECT_NE(s.said(":doc prim.conv1d").find("prim.conv1d(x, w, stride: int list = [1]"), std::string::npos);
  EXPECT_EQ(s.said(":type conv1d").rfind("fn conv1d(x: [N, C, L], out: int", 0), 0u);
  EXPECT_EQ(s.said(":type relu"), "relu(x)\n");
  EXPECT_NE(s.said(":doc :train").find("--checkpoint DIR"), std::string::npos);
  EXPECT_NE(s.said(":doc len").find("len(list or tensor)"), std::string::npos);
  ASSERT_TRUE(s.feed(kTiny));
  EXPECT_EQ(s.said(":doc Tiny"), "model Tiny(x: f32[B, 2]) -> f32[B, 1]\n    defined in this session\n");
  EXPECT_EQ(s.said("use astro.photoz; :doc PhotozMLP")
                .find("using astro.photoz\nmodel PhotozMLP(mags: f32[B, 5]) "
                      "-> f32[B, 1]\n    Photometric redshift"),
            0u);
  EXPECT_EQ(s.said("relu = ones([2]); :type relu"), "relu = f32[2] [1, 1]\noutput: f32[2]\n");
  EXPECT_FALSE(s.feed(":doc nothing_of_that_name"));
}

// Issue 32 item 8: `;` separates statements, not inside brackets, braces, strings or
// comments; the first failing one stops the line.
TEST(ReplSession, SemicolonsSeparateStatements) {
  Session s;
  EXPECT_EQ(s.said("x = ones([3]); x * 2"), "x = f32[3] [1, 1, 1]\noutput = f32[3] [2, 2, 2]\n");
  EXPECT_EQ(s.said("s = \"a;b\"; n = [1, 2]; len(n)"), "s = \"a;b\"\nn = [1, 2]\n2\n");
  EXPECT_EQ(s.said("fn f(a) { b = a * 2.0; return b }"), "defined fn f\n");
  EXPECT_EQ(s.said("k = 4 # four; not a statement"), "k = 4\n");
  EXPECT_EQ(s.said("k + 1; sum(f(x))"), "5\noutput = f32[] [6]\n");      // the static replay survives the comment
  EXPECT_EQ(s.s.complete("x; :ty"), std::vector<std::string>{":type"});  // completion sees the last statement
  EXPECT_EQ(s.s.complete("x;  use astro.photo"), std::vector<std::string>{"astro.photoz"});
  EXPECT_FALSE(s.feed("bad = x + ones([4]); never = 1"));
  EXPECT_EQ(s.said(":vars").find("never"), std::string::npos);
  EXPECT_EQ(repl::split_statements("print(\"a;b\"); m = [1, 2];; # c; d"),
            (std::vector<std::string>{"print(\"a;b\")", "m = [1, 2]", "# c; d"}));
}

}  // namespace
}  // namespace starc::test
