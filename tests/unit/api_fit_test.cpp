// The public API's training and AOT build (runtime/api/starc.h): Model::fit lowers the
// loss and gives the weights `starc train` gives (same data, seed, batch: bit for bit);
// Model::compile_library builds a library, without the starc binary, that a C program
// links and that reproduces Model::run.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "runtime/api/starc.h"
#include "runtime/io/npy.h"
#include "shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;
using api::Model;
using api::Program;

const std::string kPhotoz = std::string(STARC_SOURCE_DIR) + "/stdlib/astro/photoz.net";

// A scratch folder for one test, removed after it.

// Magnitudes and a redshift that depends on their colours: something an MLP can learn.
std::map<std::string, Tensor> photoz_data(int64_t n) {
  Tensor mags(DType::F32, {n, 5}), z(DType::F32, {n, 1});
  for (int64_t i = 0; i < n; ++i) {
    double zi = 0.05 + 0.9 * double((i * 37) % n) / double(n);
    for (int64_t b = 0; b < 5; ++b) mags.set(i * 5 + b, 20.0 + zi * double(b) + 0.1 * std::sin(double(i + b)));
    z.set(i, zi);
  }
  return {{"mags", mags}, {"z", z}};
}

TEST(ApiFit, LossFallsAndWeightsEqualStarcTrain) {
  ScratchDir dir("starc_api_fit");
  std::map<std::string, Tensor> data = photoz_data(64);
  write_npy(dir.at("mags.npy"), data["mags"]);
  write_npy(dir.at("z.npy"), data["z"]);

  Model m = Program::from_file(kPhotoz).model();
  int epochs_seen = 0;
  api::FitOptions o;
  o.epochs = 4, o.batch = 16, o.seed = 7;
  api::FitResult r = m.fit(data, {}, o, [&](const api::Epoch& e) { epochs_seen = int(e.epoch); });
  ASSERT_EQ(r.history.size(), 4u);
  EXPECT_EQ(epochs_seen, 4);
  ASSERT_EQ(r.history[0].train.at(0).first, "loss");
  EXPECT_LT(r.history[3].train[0].second, r.history[0].train[0].second);

  ShellResult cli = run_starc(
      dir.path.string(), "train " + quote(kPhotoz) +
                             " --data mags=mags.npy z=z.npy --epochs 4 --batch 16 --seed 7 --progress none -o w.npz");
  ASSERT_EQ(cli.code, 0) << cli.out;
  std::map<std::string, Tensor> want = read_npz(dir.at("w.npz"));
  ASSERT_EQ(want.size(), m.weights().size());
  for (auto& [name, t] : want) {
    const Tensor& got = m.weights().at(name);
    ASSERT_EQ(got.nbytes(), t.nbytes()) << name;
    EXPECT_EQ(std::memcmp(got.raw(), t.raw(), t.nbytes()), 0) << name << " differs from starc train's";
  }
}

// evaluate() is the validation fit() reports: the same eval graph, batches and averaging.
TEST(ApiFit, EvaluateEqualsTheValidationOfTheLastEpoch) {
  std::map<std::string, Tensor> data = photoz_data(40);
  Model m = Program::from_file(kPhotoz).model();
  api::FitOptions o;
  o.epochs = 2, o.batch = 16, o.seed = 3;
  api::FitResult r = m.fit(data, data, o);
  std::vector<std::pair<std::string, double>> e = m.evaluate(data, 16);
  ASSERT_EQ(e.size(), r.history.back().val.size());
  ASSERT_EQ(e[0].first, "loss");
  for (size_t i = 0; i < e.size(); ++i) EXPECT_EQ(e[i].second, r.history.back().val[i].second) << e[i].first;
  EXPECT_THROW(m.evaluate({{"mags", data["mags"]}}), api::Error);  // z missing
}

TEST(ApiSimulate, TasksAreReproducibleAndUnknownOnesAreErrors) {
  std::vector<std::string> tasks = api::simulation_tasks();
  ASSERT_NE(std::find(tasks.begin(), tasks.end(), "photoz"), tasks.end());
  std::map<std::string, Tensor> a = api::simulate("photoz", 8, 1), b = api::simulate("photoz", 8, 1);
  ASSERT_EQ(a.at("mags").shape(), (Shape{8, 5}));
  ASSERT_EQ(a.at("z").shape(), (Shape{8, 1}));
  EXPECT_EQ(std::memcmp(a.at("mags").raw(), b.at("mags").raw(), a.at("mags").nbytes()), 0);
  EXPECT_THROW(api::simulate("photozz", 8, 1), api::Error);
}

TEST(ApiFit, BadDataAndMissingTrainBlockAreErrors) {
  Model m = Program::from_file(kPhotoz).model();
  std::map<std::string, Tensor> data = photoz_data(8);
  data.erase("z");
  try {
    m.fit(data);
    FAIL() << "fit without the target z";
  } catch (const api::Error& e) {
    EXPECT_NE(std::string(e.what()).find("z"), std::string::npos) << e.what();
  }
  Model plain =
      Program::from_source("use std.nn\nmodel P(x: f32[B, 2]) -> f32[B, 1] { return x |> dense(1) }\n").model();
  EXPECT_THROW(plain.fit(photoz_data(8)), api::Error);
}

// Regression: the photo-z MLP's gradient graph, optimised, has no d_dense2.bias
// computation before its output buffer is needed, and emit.cpp named that buffer %out6,
// the name of the function's output argument ("redefinition of SSA value '%out6'").
TEST(ApiGradients, PhotozThroughTheJitEqualsTheReference) {
  Tensor mags = Tensor::from_vector(DType::F32, {2, 5}, {21.0, 20.5, 20.2, 20.1, 20.0, 19.0, 18.7, 18.5, 18.4, 18.4});
  api::Options ref;
  ref.backend = api::Backend::Reference;
  Model jit = Program::from_file(kPhotoz).model(), interp = Program::from_file(kPhotoz).model("", ref);
  jit.init(6), interp.init(6);
  std::map<std::string, Tensor> got = jit.gradients({mags}), want = interp.gradients({mags});
  ASSERT_EQ(got.size(), want.size());
  for (auto& [name, w] : want)
    for (int64_t i = 0; i < w.size(); ++i)
      ASSERT_NEAR(got.at(name).get(i), w.get(i), 1e-4 * std::max(1.0, std::abs(w.get(i)))) << name << "[" << i << "]";
}

TEST(ApiLibrary, CProgramLinksTheLibraryAndMatchesRun) {
  ScratchDir dir("starc_api_fit");
  Model m = Program::from_file(kPhotoz).model();
  EXPECT_THROW(m.compile_library(dir.at("none")), api::Error);  // no weights yet
  m.init(3);
  std::vector<std::string> files = m.compile_library(dir.at("lib"));
  for (const char* f : {"libPhotozMLP.a", "libPhotozMLP.so", "PhotozMLP.h"}) {
    EXPECT_NE(std::find(files.begin(), files.end(), f), files.end()) << f;
    EXPECT_TRUE(fs::exists(dir.path / "lib" / f)) << f;
  }
  std::ofstream(dir.at("main.c")) << R"(#include <stdio.h>
#include "PhotozMLP.h"
int main(void) {
  const float mags[5] = {21.0f, 20.5f, 20.2f, 20.1f, 20.0f};
  float z;
  PhotozMLP* m;
  if (PhotozMLP_create(NULL, &m) != PhotozMLP_OK) return 2;
  if (PhotozMLP_forward(m, mags, 5, &z, 1) != PhotozMLP_OK) return 3;
  printf("%.9g\n", z);
  PhotozMLP_destroy(m);
  return 0;
}
)";
  ShellResult cc = sh("cc -std=c11 -Wall -Werror " + quote(dir.at("main.c")) + " -I " + quote(dir.at("lib")) + " " +
                      quote(dir.at("lib/libPhotozMLP.a")) + " -lm -o " + quote(dir.at("main")));
  ASSERT_EQ(cc.code, 0) << cc.out;
  ShellResult out = sh(quote(dir.at("main")));
  ASSERT_EQ(out.code, 0) << out.out;
  Tensor x = Tensor::from_vector(DType::F32, {1, 5}, {21.0, 20.5, 20.2, 20.1, 20.0});
  double want = m.run({x})[0].get(0);
  EXPECT_NEAR(std::stod(out.out), want, 1e-5 * std::max(1.0, std::abs(want)));

  api::LibraryOptions bad;
  bad.dynamic_batch = true;
  bad.train_step = true;
  try {
    m.compile_library(dir.at("bad"), bad);
    FAIL() << "train_step with a dynamic batch";
  } catch (const api::Error& e) {
    EXPECT_NE(std::string(e.what()).find("fixed batch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace starc::test
