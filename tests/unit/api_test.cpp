// The public C++ API (runtime/api/starc.h): a program from source, a model's specs,
// weights, runs on both backends, gradients against finite differences, compile stages,
// and an Error (with located diagnostics) for every misuse.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "runtime/api/starc.h"

namespace starc::test {
namespace {

using api::Error;
using api::Model;
using api::Program;

const char* kSource = R"(use std.nn
model Mlp(x: f64[B, 3], scale: f64[]) -> (y: f64[B, 2], n: f64[]) {
    let h = x |> dense(4) |> tanh
    let y = h |> dense(2)
    return (y * scale, sum(y * y))
}
)";

Tensor filled(DType dt, Shape s, double start, double step) {
  Tensor t(dt, s);
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, start + step * double(i));
  return t;
}

TEST(Api, SpecsNamesAndTypes) {
  Program p = Program::from_source(kSource, "mlp.net");
  ASSERT_EQ(p.models(), std::vector<std::string>{"Mlp"});
  Model m = p.model();
  EXPECT_EQ(m.name(), "Mlp");
  ASSERT_EQ(m.inputs().size(), 2u);
  EXPECT_EQ(m.inputs()[0].name, "x");
  EXPECT_EQ(m.inputs()[0].dims, (std::vector<std::string>{"B", "3"}));
  EXPECT_EQ(m.inputs()[1].dims, std::vector<std::string>{});
  ASSERT_EQ(m.outputs().size(), 2u);
  EXPECT_EQ(m.outputs()[1].name, "n");
  std::vector<std::string> params;
  for (auto& s : m.params()) params.push_back(s.name);
  EXPECT_EQ(params.size(), 4u);  // two dense layers: weight and bias each
  EXPECT_TRUE(std::is_sorted(params.begin(), params.end()));
}

TEST(Api, JitAndReferenceAgreeAndNamedInputsWork) {
  Program p = Program::from_source(kSource, "mlp.net");
  Model jit = p.model("Mlp", {.disk_cache = false});
  Model ref = p.model("Mlp", {.backend = api::Backend::Reference});
  jit.init(7);
  ref.init(7);
  Tensor x = filled(DType::F64, {5, 3}, -1.0, 0.1), s = filled(DType::F64, {}, 2.0, 0);
  std::vector<Tensor> a = jit.run({x, s});
  std::vector<Tensor> b = ref.run({x, s});
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].shape(), (Shape{5, 2}));
  for (int64_t i = 0; i < a[0].size(); ++i) EXPECT_NEAR(a[0].get(i), b[0].get(i), 1e-12);
  EXPECT_NEAR(a[1].get(0), b[1].get(0), 1e-12);
  std::map<std::string, Tensor> named = jit.run_named(std::map<std::string, Tensor>{{"x", x}, {"scale", s}});
  EXPECT_NEAR(named.at("n").get(0), a[1].get(0), 0);
}

TEST(Api, GradientsMatchFiniteDifferences) {
  Model m = Program::from_source(kSource, "mlp.net").model("", {.disk_cache = false});
  m.init(3);
  Tensor x = filled(DType::F64, {2, 3}, 0.3, -0.2), s = filled(DType::F64, {}, 1.5, 0);
  std::map<std::string, Tensor> g = m.gradients({x, s});
  ASSERT_TRUE(g.count("d_x") && g.count("d_scale"));
  EXPECT_EQ(g.size(), 2u + m.params().size());
  auto loss = [&](const Tensor& xv) {
    std::vector<Tensor> out = m.run({xv, s});
    double total = out[1].get(0);
    for (int64_t i = 0; i < out[0].size(); ++i) total += out[0].get(i);
    return total;
  };
  const double eps = 1e-6;
  for (int64_t i = 0; i < x.size(); ++i) {
    Tensor hi = filled(DType::F64, {2, 3}, 0.3, -0.2), lo = filled(DType::F64, {2, 3}, 0.3, -0.2);
    hi.set(i, x.get(i) + eps);
    lo.set(i, x.get(i) - eps);
    double fd = (loss(hi) - loss(lo)) / (2 * eps);
    EXPECT_NEAR(g.at("d_x").get(i), fd, 1e-6 * std::max(1.0, std::abs(fd))) << "element " << i;
  }
}

TEST(Api, WeightsRoundTripThroughNpz) {
  Model m = Program::from_source(kSource, "mlp.net").model();
  m.init(1);
  std::string file =
      (std::filesystem::temp_directory_path() / ("starc_api_" + std::to_string(::getpid()) + ".npz")).string();
  m.save_weights(file);
  Model n = Program::from_source(kSource, "mlp.net").model();
  n.load_weights(file);
  std::filesystem::remove(file);
  for (auto& [name, t] : m.weights()) {
    ASSERT_TRUE(n.weights().count(name)) << name;
    for (int64_t i = 0; i < t.size(); ++i) EXPECT_EQ(n.weights().at(name).get(i), t.get(i));
  }
  EXPECT_THROW(n.set_weight(m.params()[0].name, Tensor(DType::F64, {1})), Error);  // wrong shape
}

TEST(Api, EveryStageCanBePrinted) {
  Model m = Program::from_source(kSource, "mlp.net").model();
  EXPECT_NE(m.emit(Stage::Opt, 4).find("graph Mlp"), std::string::npos);
  EXPECT_NE(m.emit(Stage::Mlir, 4).find("tensor<4x3xf64>"), std::string::npos);
  EXPECT_NE(m.emit(Stage::Llvm).find("define"), std::string::npos);
  EXPECT_THROW(m.emit(Stage::Mlir, 0), Error);
}

TEST(Api, SourceErrorsCarryTheirLocations) {
  try {
    // Loading parses and resolves imports; a model's body is checked when it is built.
    Program::from_source("model M(x: f32[4]) -> f32[4] {\n    return x + y\n}\n", "bad.net").model();
    FAIL() << "no error";
  } catch (const Error& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    const api::Diagnostic& d = e.diagnostics()[0];
    EXPECT_EQ(d.file, "bad.net");
    EXPECT_EQ(d.line, 2);
    EXPECT_EQ(d.col, 16);
    EXPECT_NE(d.message.find("'y'"), std::string::npos) << d.message;
    EXPECT_NE(d.text.find("^"), std::string::npos) << d.text;
    EXPECT_NE(std::string(e.what()).find("bad.net:2:16"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Program::from_file("/nonexistent/m.net"), Error);
  EXPECT_THROW(Program::from_source("model M(x: f32[4]) -> f32[4] {\n    return x +\n}\n", "syntax.net"), Error);
}

TEST(Api, MisuseIsAnErrorNamingWhatIsWrong) {
  Program p = Program::from_source(kSource, "mlp.net");
  EXPECT_THROW(p.model("Nope"), Error);
  Model m = p.model();
  Tensor x = filled(DType::F64, {2, 3}, 0, 1), s = filled(DType::F64, {}, 1, 0);
  auto message = [&](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message([&] { m.run({x, s}); }).find("no weights"), std::string::npos);
  m.init(0);
  EXPECT_NE(message([&] { m.run({x}); }).find("takes 2 inputs, got 1"), std::string::npos);
  EXPECT_NE(message([&] { m.run({filled(DType::F32, {2, 3}, 0, 1), s}); }).find("x"), std::string::npos);
  EXPECT_NE(message([&] { m.run({filled(DType::F64, {2, 4}, 0, 1), s}); }).find("x"), std::string::npos);
  EXPECT_NE(message([&] { m.run_named(std::map<std::string, Tensor>{{"x", x}}); }).find("'scale' is missing"),
            std::string::npos);
  EXPECT_NE(message([&] {
              m.run_named(std::map<std::string, Tensor>{{"x", x}, {"scale", s}, {"z", s}});
            }).find("no input 'z'"),
            std::string::npos);
  EXPECT_THROW(m.load_weights("/nonexistent/w.npz"), Error);
}

}  // namespace
}  // namespace starc::test
