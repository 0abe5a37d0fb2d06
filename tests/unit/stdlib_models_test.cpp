// The astronomy models of stdlib/astro added for MODELS.md #3, #4, #5 (deep), #7, #8, #9,
// #15 and #16, the MobileNet-style galaxy morphology CNN and the spectrum and light-curve
// transformers: each checks clean, has the parameter count of its published architecture
// (worked out by hand below), takes its documented input and gives its documented output,
// and a few training updates on a small batch lower its loss. (The generic loops over
// every stdlib file — jit_models_test.cpp: the JIT against the reference interpreter,
// forward and training; gpu_test.cpp: PTX — cover these models too.)
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "dsl/program.h"
#include "runtime/init.h"
#include "runtime/jit_executor.h"
#include "runtime/astro/simulate.h"
#include "jit_test_util.h"
#include "runtime/trainer.h"
#include "shell_util.h"

namespace starc {
namespace {

using test::quote;
using test::run_starc;

const std::string kAstro = STARC_SOURCE_DIR "/stdlib/astro/";

struct ModelCase {
  std::string file;  // in stdlib/astro
  std::string model;
  int64_t params;     // by hand from the published architecture
  Shape input;        // the documented input, batch dim first (any size)
  Shape output;       // per sample, after the batch dim
  std::string task;   // the simulator (starc simulate) of its data
  SimOptions sim;     // its options
  int updates = 6;    // training updates that lower its loss by 10 % (the small LSTM/GRU
                      // at Adam's lr 1e-3 and the lens finder at 1e-4 learn slowest)
  int64_t state = 0;  // batch-norm running statistics (not trained), beside `params`
};

// Parameter counts, by hand. conv: out*in*k(*k) + out; dense: out*in + out.
// Unpadded conv1d: L - (k-1)*dilation; maxpool by p: floor(L / p).
const std::vector<ModelCase>& cases() {
  static const std::vector<ModelCase> c = {
      // #3, the network of #1 with 2 outputs: 4618 -conv500-> 4119 -pool-> 2059 -conv200-> 1860
      // -> 930 -conv10-> 921 -> 460; conv 16*1*500+16 = 8016, 32*16*200+32 = 102432,
      // 64*32*10+64 = 20544; dense 64*460*256+256 = 7536896, 256*2+2 = 514.
      // 8016 + 102432 + 20544 + 7536896 + 514 = 7668402.
      {"qso_galaxy.net", "QsoGalaxyCNN", 7668402, {2, 1, 4618}, {2}, "spectra", {{"kind", "mixed"}}},
      // #4, the same layers on 8192 samples: 8192 -> 7693 -> 3846 -> 3647 -> 1823 -> 1814 -> 907;
      // dense 64*907*256+256 = 14860544, 256*1+1 = 257.
      // 8016 + 102432 + 20544 + 14860544 + 257 = 14991793.
      {"gw_detector.net", "GWDetectorCNN", 14991793, {2, 1, 8192}, {1}, "gw", {}},
      // #5 deep: 8192 -k16-> 8177 -pool4-> 2044 -k16 d2 (span 31)-> 2014 -> 503 -> 473 -> 118
      // -k32 d2 (span 63)-> 56 -> 14; conv 64*1*16+64 = 1088, 128*64*16+128 = 131200,
      // 256*128*16+256 = 524544, 512*256*32+512 = 4194816; dense 512*14*128+128 = 917632,
      // 128*64+64 = 8256, 64*2+2 = 130. Sum 5777666.
      {"deep_filtering_deep.net", "DeepFilterDeep", 5777666, {2, 1, 8192}, {2}, "gw", {}},
      // #7 LSTM (Keras: one 16-bias per gate): 4*16*(13+16) + 4*16 = 1920,
      // 4*16*(16+16) + 64 = 2112; dense 16*3+3 = 51. Sum 4083.
      {"supernova_lstm.net", "SupernovaLSTM", 4083, {2, 40, 13}, {3}, "supernova", {}, 25},
      // #7 GRU (PyTorch layout, input and recurrent biases): 3*16*(13+16) + 2*48 = 1488,
      // 3*16*(16+16) + 96 = 1632; dense 51. Sum 3171.
      {"supernova_lstm.net", "SupernovaGRU", 3171, {2, 40, 13}, {3}, "supernova", {}, 25},
      // #8, ONE conv stack for the 4 rotations: 32*4*4*4+32 = 2080, 32*32*9+32 = 9248,
      // 64*32*9+64 = 18496, 2 x (64*64*9+64) = 73856 (21 -pad3 k4-> 24 -> 12 -> 6);
      // dense 4*64*6*6 = 9216 inputs: 9216*64+64 = 589888, 64*64+64 = 4160, 64*2+2 = 130.
      // 103680 + 589888 + 4160 + 130 = 697858 (four separate stacks would be 1008898).
      {"deep_hits.net", "DeepHiTS", 697858, {2, 4, 21, 21}, {2}, "transients", {}},
      // #9: 16*1*25+16 = 416, 32*16*9+32 = 4640, 64*32*9+64 = 18496 (64 -> 32 -> 16 -> 8);
      // dense 64*8*8*128+128 = 524416, 128*2+2 = 258. Sum 548226.
      {"lens_finder.net", "LensFinder", 548226, {2, 1, 64, 64}, {2}, "lenses", {}, 20},
      // #15: w . x + b over 25 features: 25 + 1.
      {"flare_svm.net", "FlareSVM", 26, {2, 25}, {1}, "flares", {{"positive-fraction", "0.5"}}},
      // #16 global view: blocks of 2 convs k5 'same' + pool 5 stride 2 (2001 -> 999 -> 498
      // -> 247 -> 122 -> 59): 16*1*5+16 = 96, 16*16*5+16 = 1296, 2592, 5152, 10304, 20544,
      // 41088, 82048, 164096, 327936 (convs 655152); dense 256*59*1024+1024 = 15467520,
      // 3 x (1024*1024+1024) = 3148800, 1024+1 = 1025.
      // 655152 + 15467520 + 3148800 + 1025 = 19272497.
      {"transit_cnn.net", "TransitCNN", 19272497, {2, 1, 2001}, {1}, "transits", {}},
      // MobileNet-style morphology (64 -> 32 -> 16 -> 8 -> 4; no conv bias under batch norm,
      // BN: 2 trainable + 2 state per channel): stem 16*1*9 = 144 + BN 32; units (in -> out)
      // dw in*9 + BN 2*in + pw out*in + BN 2*out: 16->32 752, 32->64 2528, 64->64 4928,
      // 64->128 9152, 128->128 18048, 128->256 34688; dense 256*3+3 = 771. Sum 71043;
      // state 2*(16 + 16+32 + 32+64 + 64+64 + 64+128 + 128+128 + 128+256) = 2240.
      {"galaxy_mobilenet.net", "GalaxyMobileNet", 71043, {2, 1, 64, 64}, {3}, "galaxies", {}, 10, 2240},
      // Spectrum transformer: patch conv 64*1*64+64 = 4160, positions 72*64 = 4608; per
      // encoder layer norm1 128, attention 3*64*64+192 + 64*64+64 = 16640, norm2 128,
      // linear1 128*64+128 = 8320, linear2 64*128+64 = 8256 (33472, two layers 66944);
      // final norm 128, head 64*2+2 = 130. Sum 75970.
      {"spectrum_transformer.net", "SpectrumTransformer", 75970, {2, 1, 4618}, {2}, "spectra", {{"kind", "mixed"}}},
      // Light-curve transformer: embed 10 features -> 64: 10*64+64 = 704; two encoder layers
      // as above 66944; norm 128; head 64*3+3 = 195. Sum 67971. (Its pre-training model
      // LightCurveMAE has two outputs: tests/python/test_stdlib_torch.py trains it.)
      {"lightcurve_transformer.net", "LightCurveTransformer", 67971, {2, 40, 13}, {3}, "supernova", {}, 10},
  };
  return c;
}

// Loads `file` (in stdlib/astro) and calls f(prog); fails the test with the diagnostics.
template <class F>
void with_program(const std::string& file, F f) {
  SourceManager sm;
  DiagEngine diags(sm);
  Program prog(diags);
  ASSERT_TRUE(prog.load_file(kAstro + file)) << diags.format_all();
  f(prog, diags);
}

TEST(StdlibModels, CheckIsClean) {
  for (const ModelCase& c : cases()) {
    test::ShellResult r = run_starc(STARC_SOURCE_DIR, "check " + quote(kAstro + c.file));
    EXPECT_EQ(r.code, 0) << c.file << ":\n" << r.out;
    EXPECT_NE(r.out.find(": ok"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
  }
}

TEST(StdlibModels, ParamCountsMatchThePublishedArchitectures) {
  for (const ModelCase& c : cases()) {
    test::ShellResult r = run_starc(STARC_SOURCE_DIR, "params " + quote(kAstro + c.file) + " --model " + c.model);
    ASSERT_EQ(r.code, 0) << c.model << ":\n" << r.out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(total: (\d+) parameters \((\d+) trainable\))"))) << r.out;
    EXPECT_EQ(std::stoll(m[1]), c.params + c.state) << c.model << "\n" << r.out;
    EXPECT_EQ(std::stoll(m[2]), c.params) << c.model;
  }
}

// N(0, 1) floats: the scale of the simulators' normalised inputs.
Tensor random_input(const Shape& s, std::mt19937_64& rng) {
  Tensor t(DType::F32, s);
  std::normal_distribution<double> n(0, 1);
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, n(rng));
  return t;
}

// The documented input type, and the output at a batch of 2 through the JIT: finite, the
// documented shape; log-probability outputs exponentiate to distributions.
TEST(StdlibModels, ForwardRunsAtTheDocumentedShape) {
  for (const ModelCase& c : cases()) {
    with_program(c.file, [&](Program& prog, DiagEngine& diags) {
      std::optional<Graph> g = prog.build(c.model);
      ASSERT_TRUE(g) << diags.format_all();
      ASSERT_EQ(g->inputs.size(), 1u) << c.model;
      const TensorType& in = g->type(g->inputs[0]);
      EXPECT_EQ(in.dtype, DType::F32) << c.model;
      ASSERT_EQ(in.shape.size(), c.input.size()) << c.model;
      EXPECT_TRUE(is_sym(in.shape[0])) << c.model << ": the batch dim is symbolic";
      for (size_t i = 1; i < c.input.size(); ++i) EXPECT_EQ(in.shape[i], c.input[i]) << c.model << " dim " << i;
      std::mt19937_64 rng(3);
      std::vector<Tensor> x = {random_input(c.input, rng)};
      JitExecutor jit(JitOptions{.threads = 2});
      std::vector<Tensor> out = jit.run(*g, x, init_params(*g, 1), 0);
      ASSERT_EQ(out.size(), 1u);
      Shape want = {c.input[0]};
      want.insert(want.end(), c.output.begin(), c.output.end());
      EXPECT_EQ(out[0].shape(), want) << c.model;
      for (int64_t i = 0; i < out[0].size(); ++i)
        ASSERT_TRUE(std::isfinite(out[0].get(i))) << c.model << " element " << i;
      bool log_probs = c.model != "GWDetectorCNN" && c.model != "FlareSVM" && c.model != "TransitCNN" &&
                       c.model != "DeepFilterDeep" && c.model != "LensFinder" && c.model != "GalaxyMobileNet" &&
                       c.model != "SpectrumTransformer" && c.model != "LightCurveTransformer";
      if (!log_probs) return;
      int64_t k = c.output[0];
      for (int64_t b = 0; b < c.input[0]; ++b) {
        double s = 0;
        for (int64_t j = 0; j < k; ++j) s += std::exp(out[0].get(b * k + j));
        EXPECT_NEAR(s, 1.0, 1e-5) << c.model << ": sample " << b << " probabilities sum to " << s;
      }
    });
    if (HasFatalFailure()) return;
  }
}

// numpy.rot90(x, 1, axes=(2, 3)) of x [N, C, H, H]: out[..., i, j] = x[..., j, H-1-i].
Tensor rot90_hw(const Tensor& x) {
  Tensor out(x.dtype(), x.shape());
  int64_t h = x.dim(2), planes = x.size() / (h * h);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < h; ++j) out.set((p * h + i) * h + j, x.get((p * h + j) * h + (h - 1 - i)));
  return out;
}

// Deep-HiTS runs the 4 rotations through ONE conv stack: with the first dense layer's four
// column blocks (one per rotation) made equal, the network is exactly invariant under a
// 90-degree turn of the stamp, which permutes the 4 feature blocks. (Separate stacks per
// rotation would break this.)
TEST(StdlibModels, DeepHiTSSharedStackMakesEqualBlocksRotationInvariant) {
  with_program("deep_hits.net", [&](Program& prog, DiagEngine& diags) {
    std::optional<Graph> g = prog.build("DeepHiTS");
    ASSERT_TRUE(g) << diags.format_all();
    TensorMap params = init_params(*g, 5);
    Tensor& w = params.at("dense0.weight");
    ASSERT_EQ(w.shape(), (Shape{64, 4 * 2304}));
    for (int64_t r = 0; r < 64; ++r)
      for (int64_t b = 1; b < 4; ++b)
        for (int64_t j = 0; j < 2304; ++j) w.set(r * 9216 + b * 2304 + j, w.get(r * 9216 + j));
    std::mt19937_64 rng(9);
    Tensor stamp = random_input({3, 4, 21, 21}, rng);
    JitExecutor jit(JitOptions{.threads = 2});
    Tensor a = jit.run(*g, {stamp}, params, 0)[0], b = jit.run(*g, {rot90_hw(stamp)}, params, 0)[0];
    for (int64_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a.get(i), b.get(i), 1e-4) << "output " << i;
    // Without equal blocks the turn changes the output: the test can fail.
    TensorMap fresh = init_params(*g, 5);
    Tensor c = jit.run(*g, {stamp}, fresh, 0)[0], d = jit.run(*g, {rot90_hw(stamp)}, fresh, 0)[0];
    double diff = 0;
    for (int64_t i = 0; i < c.size(); ++i) diff = std::max(diff, std::abs(c.get(i) - d.get(i)));
    EXPECT_GT(diff, 1e-3);
  });
}

// lens_finder.net's random_dihedral: each output image is one of the 8 turns / mirror
// images of its input, chosen per image (16 images show several different choices), and
// the same seed repeats the choice.
TEST(StdlibModels, RandomDihedralTurnsEachImageByASymmetryOfTheSquare) {
  Graph g = test::compile(
      "use astro.lens_finder\nmodel Aug(img: f32[B, 1, 5, 5]) -> f32[B, 1, 5, 5] { return random_dihedral(img) }\n",
      "Aug");
  std::mt19937_64 rng(21);
  Tensor x = random_input({16, 1, 5, 5}, rng);
  JitExecutor jit(JitOptions{.threads = 1});
  Tensor y = jit.run(g, {x}, {}, 3)[0];
  EXPECT_EQ(jit.run(g, {x}, {}, 3)[0].get(7), y.get(7));
  // The 8 symmetries of each image: rotations by 0..3 quarter turns, then flipped (axis 3) or not.
  std::vector<Tensor> sym;
  Tensor r = x;
  for (int k = 0; k < 4; ++k, r = rot90_hw(r)) {
    Tensor f(r.dtype(), r.shape());
    for (int64_t p = 0; p < 16 * 5; ++p)
      for (int64_t j = 0; j < 5; ++j) f.set(p * 5 + j, r.get(p * 5 + 4 - j));
    sym.push_back(r);
    sym.push_back(f);
  }
  std::set<int> used;
  for (int64_t b = 0; b < 16; ++b) {
    int match = -1;
    for (int s = 0; s < 8 && match < 0; ++s) {
      bool eq = true;
      for (int64_t i = 0; i < 25 && eq; ++i) eq = sym[s].get(b * 25 + i) == y.get(b * 25 + i);
      if (eq) match = s;
    }
    EXPECT_GE(match, 0) << "image " << b << " is not a rotation / flip of its input";
    used.insert(match);
  }
  EXPECT_GE(used.size(), 3u);
}

// The eval loss (no dropout or augmentation) of `params` on `data` through the JIT.
double eval_loss(const TrainPlan& plan, const TensorMap& params, const TensorMap& data, JitExecutor& jit) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < plan.eval.inputs.size(); ++i) in.push_back(data.at(plan.eval.input_name(int(i))));
  return jit.run(plan.eval, in, params, 0).at(0).get(0);
}

// Simulated data (runtime/astro/simulate.h, what `starc simulate TASK` writes): 4 samples, a few
// updates of a batch of 4 with the train block's loss and optimizer; the eval loss (no
// dropout or augmentation) on those samples falls by at least 10 % (the training loss for
// models with batch norm).
TEST(StdlibModels, AFewTrainStepsOnSimulatedDataLowerTheLoss) {
  for (const ModelCase& c : cases()) {
    with_program(c.file, [&](Program& prog, DiagEngine& diags) {
      std::optional<TrainPlan> plan = prog.build_train(c.model);
      ASSERT_TRUE(plan) << diags.format_all();
      constexpr int64_t n = 4;
      std::map<std::string, Tensor> sim = simulate(c.task, n, 7, c.sim);
      TensorMap data;
      for (const std::string& name : plan->steps.at(0).data_inputs) {
        ASSERT_TRUE(sim.count(name)) << c.model << ": the " << c.task << " simulator writes no '" << name << "'";
        data[name] = sim.at(name);
      }
      TrainOptions opts;
      opts.batch = n;
      opts.epochs = c.updates;
      opts.seed = 4;
      opts.progress = ProgressMode::None;
      opts.out = nullptr;
      TensorMap init = initial_params(*plan, 4);
      JitExecutor jit(JitOptions{.threads = 2});
      double before = eval_loss(*plan, init, data, jit);
      TrainResult r = train(*plan, init, data, nullptr, opts, &jit);
      ASSERT_EQ(r.status, TrainResult::Status::Done) << r.message;
      double after = eval_loss(*plan, r.params, data, jit);
      if (c.state > 0) {
        // Batch norm: after a few updates on 4 samples the running statistics are not yet
        // the batch's, so the training loss (batch statistics) is the one that must fall.
        ASSERT_FALSE(r.history.empty());
        before = r.history.front().train.at(0), after = r.history.back().train.at(0);
      }
      EXPECT_LT(after, 0.9 * before) << c.model << ": loss " << before << " -> " << after;
      std::printf("%s: loss %g -> %g after %d updates on simulated %s data\n", c.model.c_str(), before, after,
                  c.updates, c.task.c_str());
    });
    if (HasFatalFailure()) return;
  }
}

}  // namespace

std::set<std::string> test::models_trained_on_simulated_data() {
  std::set<std::string> names;
  for (const ModelCase& c : cases()) names.insert(c.model);
  return names;
}

}  // namespace starc
