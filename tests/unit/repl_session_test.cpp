// The REPL engine as a library (tools/repl/repl_session.h): a session fed text in-process,
// its results read from the streams it prints to; :train runs the API's Model::fit on
// session tensors and the model keeps the trained weights.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "tools/repl/repl_session.h"

namespace starc::test {
namespace {

struct Session {
  std::ostringstream out, err;
  ReplSession s{out, err, ReplOptions{}};
  bool feed(const std::string& text) { return s.feed(text); }
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

}  // namespace
}  // namespace starc::test
