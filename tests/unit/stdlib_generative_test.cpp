// The generative and dense-prediction models of stdlib/astro (MODELS.md #10-13): the
// galaxy VAE, the DCGAN and WGAN-GP, the U-Net and the SED denoising autoencoder. Each
// file checks clean, has the parameter count its header's architecture gives (the
// arithmetic is written out below), and learns: a few updates lower its loss (for the
// GANs: the discriminator's loss falls on its own step for a fixed generator, and each
// step updates only its own network). The forward pass against the reference
// interpreter, one train step like the reference and learning a small batch are the
// generic loops over every stdlib file (jit_models_test.cpp, gpu_test.cpp).
//
// Data: the `galaxies` and `seds` simulators (`starc simulate`).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <set>

#include "compiler/ops/op.h"
#include "dsl/program.h"
#include "runtime/gradcheck.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"
#include "runtime/astro/simulate.h"
#include "runtime/trainer.h"
#include "train_test_util.h"

namespace starc {
namespace {

struct Loaded {
  SourceManager sm;
  DiagEngine diags{sm};
  Program prog{diags};
};

std::string astro(const std::string& file) { return std::string(STARC_SOURCE_DIR) + "/stdlib/astro/" + file; }

std::unique_ptr<Loaded> load(const std::string& file) {
  auto l = std::make_unique<Loaded>();
  EXPECT_TRUE(l->prog.load_file(astro(file))) << l->diags.format_all();
  return l;
}

Graph build(Loaded& l, const std::string& model, bool training = false) {
  std::optional<Graph> g = l.prog.build(model, BuildOptions{training});
  if (!g) throw std::runtime_error("build failed:\n" + l.diags.format_all());
  return std::move(*g);
}

TrainPlan build_train(Loaded& l, const std::string& model) {
  std::optional<TrainPlan> p = l.prog.build_train(model);
  if (!p) throw std::runtime_error("build_train failed:\n" + l.diags.format_all());
  return std::move(*p);
}

struct ParamCounts {
  int64_t trainable = 0, state = 0;
};

ParamCounts count_params(const Graph& g) {
  ParamCounts c;
  for (int id : g.params()) {
    const Node& n = g.node(id);
    (attr_bool(n.attrs, "trainable") ? c.trainable : c.state) += num_elements(n.type.shape);
  }
  return c;
}

std::vector<std::string> output_types(const Graph& g) {
  std::vector<std::string> out;
  for (int id : g.outputs) out.push_back(type_str(g.type(id), &g.symbols));
  return out;
}

bool has_op(const Graph& g, const std::string& op) {
  for (const Node& n : g.nodes)
    if (n.op->name == op) return true;
  return false;
}

// Data from the simulators of the data contract (runtime/astro/simulate.h): `galaxies` gives
// img and mask f32[n, 1, 64, 64], `seds` gives sed f32[n, 16].
Tensor simulated(const std::string& task, const std::string& name, int64_t n, uint64_t seed = 7) {
  return simulate(task, n, seed, {}).at(name);
}

// Training options without progress output; seed 3 unless given.
TrainOptions quiet(int64_t epochs, int64_t batch, uint64_t seed = 3) {
  return test::quiet_options(epochs, batch, seed);
}

// Trains through the JIT; returns the first and last epoch's loss of steps[0].
std::pair<double, double> train_losses(const TrainPlan& plan, const TensorMap& data, int64_t epochs, int64_t batch) {
  JitExecutor jit(JitOptions{.threads = 2});
  auto t0 = std::chrono::steady_clock::now();
  TrainResult r = train(plan, initial_params(plan, 1), data, nullptr, quiet(epochs, batch), &jit);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.status, TrainResult::Status::Done) << r.message;
  if (r.history.empty()) return {0, 0};
  double first = r.history.front().train.at(0), last = r.history.back().train.at(0);
  std::printf("%s: loss %g -> %g over %lld epochs (%.1f s with compiling)\n", plan.model.c_str(), first, last,
              (long long)epochs, s);
  return {first, last};
}

// Runs one step graph: data, then lr and step; outputs by name.
TensorMap run_step(JitExecutor& jit, const TrainStepGraph& s, std::vector<Tensor> data, const TensorMap& params,
                   double lr, int64_t step, uint64_t seed) {
  data.push_back(Tensor::scalar(DType::F32, lr));
  data.push_back(Tensor::scalar(DType::F32, double(step)));
  std::vector<Tensor> out = jit.run(s.graph, data, params, seed);
  TensorMap m;
  for (size_t i = 0; i < out.size(); ++i) m[s.graph.output_names[i]] = out[i];
  return m;
}

std::set<std::string> trainable_names(const Graph& g) {
  std::set<std::string> out;
  for (int id : g.params())
    if (attr_bool(g.node(id).attrs, "trainable")) out.insert(attr_str(g.node(id).attrs, "name"));
  return out;
}

// The trainable parameters a step graph writes.
std::set<std::string> trained_by(const TrainStepGraph& s) {
  std::set<std::string> all = trainable_names(s.graph), out;
  for (const std::string& n : s.graph.output_names)
    if (all.count(n)) out.insert(n);
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.get(i) - b.get(i)));
  return m;
}

const char* const kFiles[] = {"galaxy_vae.net", "galaxy_dcgan.net", "galaxy_wgan_gp.net", "galaxy_unet.net",
                              "sed_denoising_ae.net"};

TEST(StdlibGenerative, FilesCheckClean) {
  for (const char* f : kFiles) {
    std::unique_ptr<Loaded> l = load(f);
    EXPECT_TRUE(l->prog.check_all()) << f << ":\n" << l->diags.format_all();
    EXPECT_EQ(l->diags.format_all(), "") << f;
    EXPECT_EQ(l->prog.trained_models().size(), 1u) << f;
  }
}

// Parameter counts by hand from the architectures in the files' headers (k = kernel
// size squared; a conv or tconv with bias has k * in * out + out parameters).
TEST(StdlibGenerative, ParameterCountsAndOutputsFollowTheArchitectures) {
  auto conv = [](int64_t in, int64_t out, int64_t k, bool bias = true) { return k * in * out + (bias ? out : 0); };
  {
    // VAE: encoder convs 4x4 1->32->64->128->256, two dense 4096->2 (mu, log sigma^2);
    // decoder dense 2->4096, tconvs 4x4 256->128->64->32->1.
    // 544 + 32832 + 131200 + 524544 + 2 * 8194 + 12288 + 524416 + 131136 + 32800 + 513 = 1406661
    std::unique_ptr<Loaded> l = load("galaxy_vae.net");
    Graph g = build(*l, "GalaxyVAE");
    int64_t enc = conv(1, 32, 16) + conv(32, 64, 16) + conv(64, 128, 16) + conv(128, 256, 16) + 2 * (4096 * 2 + 2);
    int64_t dec = (2 * 4096 + 4096) + conv(256, 128, 16) + conv(128, 64, 16) + conv(64, 32, 16) + conv(32, 1, 16);
    EXPECT_EQ(enc + dec, 1406661);
    EXPECT_EQ(count_params(g).trainable, 1406661);
    EXPECT_EQ(count_params(g).state, 0);
    EXPECT_EQ(output_types(g), (std::vector<std::string>{"f32[B,1,64,64]", "f32[B,2]", "f32[B,2]"}));
    EXPECT_EQ(g.output_names, (std::vector<std::string>{"recon", "mu", "logvar"}));
  }
  // The DCGAN generator (width 16): tconvs 4x4 without bias 100->128->64->32->16, each
  // with a batch norm (scale + shift trainable, running mean + variance state), then a
  // tconv 16->1 with bias:
  // 204800 + 131072 + 32768 + 8192 + 257 + 2 * (128 + 64 + 32 + 16) = 377569,
  // state 2 * 240 = 480.
  const int64_t generator = conv(100, 128, 16, false) + conv(128, 64, 16, false) + conv(64, 32, 16, false) +
                            conv(32, 16, 16, false) + conv(16, 1, 16) + 2 * (128 + 64 + 32 + 16);
  EXPECT_EQ(generator, 377569);
  {
    // Discriminator: convs 4x4 1->16 (bias), 16->32, 32->64, 64->128 (no bias, batch
    // norm 2 * C), 128->1 (bias): 272 + 8256 + 32896 + 131328 + 2049 = 174801.
    std::unique_ptr<Loaded> l = load("galaxy_dcgan.net");
    Graph g = build(*l, "GalaxyDCGAN");
    int64_t disc = conv(1, 16, 16) + conv(16, 32, 16, false) + 64 + conv(32, 64, 16, false) + 128 +
                   conv(64, 128, 16, false) + 256 + conv(128, 1, 16);
    EXPECT_EQ(disc, 174801);
    EXPECT_EQ(count_params(g).trainable, generator + disc);  // 552370
    EXPECT_EQ(count_params(g).state, 480);
    EXPECT_EQ(output_types(g), (std::vector<std::string>{"f32[B,1,64,64]", "f32[B,1]", "f32[B,1]"}));
  }
  {
    // WGAN-GP critic: the discriminator without batch norm, biases everywhere:
    // 272 + 8224 + 32832 + 131200 + 2049 = 174577.
    std::unique_ptr<Loaded> l = load("galaxy_wgan_gp.net");
    Graph g = build(*l, "GalaxyWGANGP");
    int64_t critic = conv(1, 16, 16) + conv(16, 32, 16) + conv(32, 64, 16) + conv(64, 128, 16) + conv(128, 1, 16);
    EXPECT_EQ(critic, 174577);
    EXPECT_EQ(count_params(g).trainable, generator + critic);  // 552146
    EXPECT_EQ(count_params(g).state, 480);
    EXPECT_EQ(output_types(g), (std::vector<std::string>{"f32[B,1,64,64]", "f32[B,1]", "f32[B,1]", "f32[B]"}));
  }
  {
    // U-Net: double conv(in, c) = two 3x3 convs in->c, c->c; levels 16, 32, 64, 128,
    // bottom 256; up-convs 2x2, then a double conv on the concatenation (2c -> c); a
    // 1x1 head: 2480 + 13888 + 55424 + 221440 + 885248 + (131200 + 442624) +
    // (32832 + 110720) + (8224 + 27712) + (2064 + 6944) + 17 = 1940817.
    auto dc = [&](int64_t in, int64_t c) { return conv(in, c, 9) + conv(c, c, 9); };
    int64_t encoder = dc(1, 16) + dc(16, 32) + dc(32, 64) + dc(64, 128);
    int64_t decoder = conv(256, 128, 4) + dc(256, 128) + conv(128, 64, 4) + dc(128, 64) + conv(64, 32, 4) + dc(64, 32) +
                      conv(32, 16, 4) + dc(32, 16);
    std::unique_ptr<Loaded> l = load("galaxy_unet.net");
    Graph g = build(*l, "GalaxyUNet");
    EXPECT_EQ(encoder + dc(128, 256) + decoder + conv(16, 1, 1), 1940817);
    EXPECT_EQ(count_params(g).trainable, 1940817);
    EXPECT_EQ(output_types(g), (std::vector<std::string>{"f32[B,1,64,64]"}));
  }
  {
    // SED DAE: dense 16->64->32->2 and 2->32->64->16 (weights + biases):
    // 1088 + 2080 + 66 + 96 + 2112 + 1040 = 6482.
    std::unique_ptr<Loaded> l = load("sed_denoising_ae.net");
    Graph g = build(*l, "SEDDenoisingAE");
    auto dense = [](int64_t in, int64_t out) { return in * out + out; };
    int64_t n = dense(16, 64) + dense(64, 32) + dense(32, 2) + dense(2, 32) + dense(32, 64) + dense(64, 16);
    EXPECT_EQ(n, 6482);
    EXPECT_EQ(count_params(g).trainable, 6482);
    EXPECT_EQ(output_types(g), (std::vector<std::string>{"f32[B,16]", "f32[B,2]"}));
  }
}

// The random draws (the VAE's reparameterisation, the DAE's input noise) exist only in
// the training graph: `starc run` is deterministic, training is not.
TEST(StdlibGenerative, NoiseOnlyWhileTraining) {
  struct Case {
    const char* file;
    const char* model;
    Tensor input;
  };
  std::vector<Case> cases = {{"galaxy_vae.net", "GalaxyVAE", simulated("galaxies", "img", 2)},
                             {"sed_denoising_ae.net", "SEDDenoisingAE", simulated("seds", "sed", 2)}};
  for (const Case& c : cases) {
    std::unique_ptr<Loaded> l = load(c.file);
    Graph run_g = build(*l, c.model, false), train_g = build(*l, c.model, true);
    EXPECT_FALSE(has_op(run_g, "random_normal")) << c.model;
    EXPECT_TRUE(has_op(train_g, "random_normal")) << c.model;
    TensorMap params = init_params(run_g, 4);
    InterpreterExecutor interp;
    Tensor r1 = interp.run(run_g, {c.input}, params, 1)[0], r2 = interp.run(run_g, {c.input}, params, 2)[0];
    EXPECT_EQ(max_abs_diff(r1, r2), 0.0) << c.model << ": the run graph depends on the seed";
    Tensor t1 = interp.run(train_g, {c.input}, params, 1)[0], t2 = interp.run(train_g, {c.input}, params, 2)[0];
    EXPECT_GT(max_abs_diff(t1, t2), 1e-4) << c.model << ": the training graph ignores the seed";
  }
}

TEST(StdlibGenerative, VAELossFalls) {
  std::unique_ptr<Loaded> l = load("galaxy_vae.net");
  TrainPlan plan = build_train(*l, "GalaxyVAE");
  EXPECT_EQ(plan.metric_names, (std::vector<std::string>{"reconstruction", "kl"}));
  auto [first, last] = train_losses(plan, {{"img", simulated("galaxies", "img", 4)}}, 8, 4);
  EXPECT_LT(last, 0.5 * first);
}

// The U-Net beats every constant prediction: its BCE falls below the entropy of the
// masks' pixel fraction (the loss of predicting that fraction everywhere).
TEST(StdlibGenerative, UNetLossFallsBelowTheMaskEntropy) {
  std::unique_ptr<Loaded> l = load("galaxy_unet.net");
  TrainPlan plan = build_train(*l, "GalaxyUNet");
  TensorMap data = simulate("galaxies", 4, 7, {});  // img and mask (and morphology, not a U-Net input)
  data.erase("morphology");
  const Tensor& mask = data.at("mask");
  double p = 0;
  for (int64_t i = 0; i < mask.size(); ++i) p += mask.get(i) / double(mask.size());
  ASSERT_GT(p, 0.0);
  ASSERT_LT(p, 1.0);
  double entropy = -(p * std::log(p) + (1 - p) * std::log(1 - p));
  auto [first, last] = train_losses(plan, data, 25, 4);
  std::printf("GalaxyUNet: mask fraction %.3f, entropy %.3f\n", p, entropy);
  EXPECT_LT(last, entropy);
  EXPECT_LT(last, 0.5 * first);
}

TEST(StdlibGenerative, DenoisingAELossFalls) {
  std::unique_ptr<Loaded> l = load("sed_denoising_ae.net");
  TrainPlan plan = build_train(*l, "SEDDenoisingAE");
  auto [first, last] = train_losses(plan, {{"sed", simulated("seds", "sed", 16)}}, 30, 4);
  EXPECT_LT(last, 0.5 * first);
}

// DCGAN: the discriminator's step lowers its loss for a fixed generator (the generator's
// parameters are not written back and the noise is the same on every run), and each
// step writes only its own network's parameters.
TEST(StdlibGenerative, DCGANDiscriminatorLearnsOnItsStepAndStepsTrainTheirNetworks) {
  std::unique_ptr<Loaded> l = load("galaxy_dcgan.net");
  TrainPlan plan = build_train(*l, "GalaxyDCGAN");
  ASSERT_EQ(plan.steps.size(), 2u);
  const TrainStepGraph &disc = plan.steps[0], &gen = plan.steps[1];
  EXPECT_EQ(disc.name, "disc");
  EXPECT_EQ(gen.name, "gen");
  for (const std::string& n : trained_by(disc)) EXPECT_TRUE(starts_with(n, "disc.")) << n;
  for (const std::string& n : trained_by(gen)) EXPECT_TRUE(starts_with(n, "gen.")) << n;
  EXPECT_EQ(trained_by(disc).size(), 13u);  // w0..w4, b0, b4, 3 x (scale, shift)
  EXPECT_EQ(trained_by(gen).size(), 14u);   // 5 tconv weights, 1 bias, 4 x (scale, shift)

  TensorMap params = initial_params(plan, 1);
  const TensorMap start = params;
  Tensor img = simulated("galaxies", "img", 4);
  JitExecutor jit(JitOptions{.threads = 2});
  std::vector<double> losses;
  for (int64_t k = 1; k <= 6; ++k) {
    TensorMap out = run_step(jit, disc, {img}, params, 2e-4, k, /*seed=*/42);
    losses.push_back(out.at("loss").get(0));
    for (auto& [n, t] : out)
      if (params.count(n) && !starts_with(n, "gen.")) params[n] = t;
  }
  std::printf("DCGAN discriminator loss, fixed generator: %g -> %g\n", losses.front(), losses.back());
  EXPECT_LT(losses.back(), 0.8 * losses.front());
  for (auto& [n, t] : start)
    if (starts_with(n, "gen.")) EXPECT_EQ(max_abs_diff(params.at(n), t), 0.0) << n;

  TensorMap out = run_step(jit, gen, {img}, params, 2e-4, 1, 43);
  EXPECT_TRUE(std::isfinite(out.at("loss").get(0)));
  EXPECT_GT(out.at("loss").get(0), 0.0);
  EXPECT_GT(max_abs_diff(out.at("gen.conv_transpose2d0.weight"), params.at("gen.conv_transpose2d0.weight")), 0.0);
}

// WGAN-GP: n_critic = 5 critic steps, then the generator's; a critic step has a finite
// gradient penalty and changes the critic's parameters only.
TEST(StdlibGenerative, WGANGPCriticStepsTrainOnlyTheCriticWithAFinitePenalty) {
  std::unique_ptr<Loaded> l = load("galaxy_wgan_gp.net");
  TrainPlan plan = build_train(*l, "GalaxyWGANGP");
  std::vector<std::string> names;
  for (auto& s : plan.steps) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"critic1", "critic2", "critic3", "critic4", "critic5", "gen"}));
  for (size_t i = 0; i + 1 < plan.steps.size(); ++i) {
    EXPECT_EQ(trained_by(plan.steps[i]).size(), 10u) << names[i];  // w0..w4, b0..b4
    for (const std::string& n : trained_by(plan.steps[i])) EXPECT_TRUE(starts_with(n, "critic.")) << n;
  }
  for (const std::string& n : trained_by(plan.steps.back())) EXPECT_TRUE(starts_with(n, "gen.")) << n;

  TensorMap params = initial_params(plan, 1);
  JitExecutor jit(JitOptions{.threads = 2});
  TensorMap out = run_step(jit, plan.steps[0], {simulated("galaxies", "img", 4)}, params, 1e-4, 1, 42);
  double penalty = out.at("gradient_penalty").get(0);
  std::printf("WGAN-GP first critic step: loss %g, gradient penalty %g\n", out.at("loss").get(0), penalty);
  EXPECT_TRUE(std::isfinite(penalty));
  EXPECT_GT(penalty, 0.0);
  EXPECT_TRUE(std::isfinite(out.at("loss").get(0)));
  // The critic's last bias cancels in mean D(fake) - mean D(real) and the penalty does
  // not see it: its gradient, hence its Adam step, is exactly zero.
  for (const std::string& n : trainable_names(plan.steps[0].graph)) {
    if (n == "critic.b4")
      EXPECT_EQ(max_abs_diff(out.at(n), params.at(n)), 0.0) << n;
    else if (starts_with(n, "critic."))
      EXPECT_GT(max_abs_diff(out.at(n), params.at(n)), 0.0) << n << " did not change";
    else
      EXPECT_FALSE(out.count(n)) << n << " is written by the critic step";
  }
}

// The penalty's gradient with respect to the critic's weights is a gradient of a
// gradient (through strided convolutions and leaky ReLU): the model's outputs, the
// critic's gradient norm included, differentiated symbolically against finite
// differences, on the same model at width 2 (f64, reference interpreter).
TEST(StdlibGenerative, WGANGPSecondOrderGradientMatchesFiniteDifferences) {
  const char* src = R"(use astro.galaxy_wgan_gp
model TinyWGANGP(img: f32[B, 1, 64, 64]) -> (fake: f32[B, 1, 64, 64], critic_real: f32[B, 1],
                                              critic_fake: f32[B, 1], grad_norm: f32[B]) {
    return GalaxyWGANGP(img, width: 2)
}
)";
  Loaded l;
  ASSERT_TRUE(l.prog.load_text(STARC_SOURCE_DIR "/tests/unit/tiny_wgan_gp.net", src)) << l.diags.format_all();
  Graph g = build(l, "TinyWGANGP");
  // Weights N(0, 1 / fan_in), biases and batch-norm shifts N(0, 0.1^2), scales
  // 1 + N(0, 0.1^2), and N(0, 1) pixels: every layer's pre-activations are of order 1,
  // so that the finite differences (step 1e-6) cross a leaky-ReLU kink (where the
  // gradient norm jumps) with negligible probability; the file's N(0, 0.02) weights
  // shrink them to 1e-5 by the last layer, and a galaxy image's background puts many of
  // them near 0.
  TensorMap params = init_params(g, 6);
  std::mt19937_64 rng(8);
  std::normal_distribution<double> normal(0, 1);
  for (const std::string& name : trainable_names(g)) {
    Tensor& t = params.at(name);
    const Shape& s = t.shape();
    int64_t fan_in = 1;
    for (size_t i = 1; i < s.size(); ++i) fan_in *= s[i];
    bool scale = s.size() == 1 && name.find("batchnorm") != std::string::npos && name.size() > 7 &&
                 name.compare(name.size() - 7, 7, ".weight") == 0;
    for (int64_t i = 0; i < t.size(); ++i)
      t.set(i, s.size() >= 2 ? normal(rng) / std::sqrt(double(fan_in)) : (scale ? 1.0 : 0.0) + 0.1 * normal(rng));
  }
  GradcheckOptions o;
  o.include_inputs = false;
  o.max_samples = 3;
  o.seed = 5;
  o.eps = 1e-6;
  int checked = 0;
  double worst = 0;
  Tensor img(DType::F32, {2, 1, 64, 64});
  for (int64_t i = 0; i < img.size(); ++i) img.set(i, normal(rng));
  for (const GradcheckEntry& e : gradcheck(g, {img}, params, o)) {
    EXPECT_LT(e.max_rel_err, 1e-4) << "d/d" << e.name << ": " << e.analytic << " vs " << e.numeric;
    worst = std::max(worst, e.max_rel_err);
    if (e.name.find("critic.") != std::string::npos) ++checked;
  }
  std::printf("WGAN-GP width 2: worst relative gradient error %.2g\n", worst);
  EXPECT_EQ(checked, 10);
}

}  // namespace
}  // namespace starc
