// The training loop (runtime/trainer.h) on hand-built TrainPlans: convergence of a
// linear regression and a classifier, bit-identical resume (from epoch ends and from the
// middle of an epoch), checkpoints that survive SIGKILL at any moment, NaN detection that
// names the node, data/weight/resume checks, schedules, history CSV and SVG.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "runtime/io/npy.h"
#include "temp_dir_test.h"
#include "train_test_util.h"

namespace fs = std::filesystem;
using namespace starc;
using namespace starc::test;

namespace {

class Trainer : public TempDirTest {
 protected:
  Trainer() : TempDirTest("starc_trainer_") {}
};

template <class F>
void expect_train_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected a TrainError containing '" << needle << "'";
  } catch (const TrainError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "expected '" << needle << "' in: " << e.what();
  }
}

}  // namespace

TEST(TrainPieces, EpochOrderIsADeterministicPermutationPerEpoch) {
  auto a = epoch_order(5, 0, 100), b = epoch_order(5, 0, 100), c = epoch_order(5, 1, 100), d = epoch_order(6, 0, 100);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  auto s = a;
  std::sort(s.begin(), s.end());
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(s[size_t(i)], i);
  EXPECT_NE(update_seed(1, 0), update_seed(1, 1));
  EXPECT_NE(update_seed(1, 0), update_seed(2, 0));
}

TEST(TrainPieces, LearningRateSchedules) {
  Schedule c{.base_lr = 0.1};
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 0, 100), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 99, 9, 100), 0.1);
  c.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 0, 100), 0.025);
  EXPECT_DOUBLE_EQ(learning_rate(c, 3, 0, 100), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 4, 0, 100), 0.1);
  Schedule st{.kind = Schedule::Kind::Step, .base_lr = 1, .every_epochs = 2, .gamma = 0.5};
  EXPECT_DOUBLE_EQ(learning_rate(st, 0, 1, 100), 1);
  EXPECT_DOUBLE_EQ(learning_rate(st, 0, 2, 100), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(st, 0, 5, 100), 0.25);
  Schedule cos{.kind = Schedule::Kind::Cosine, .base_lr = 1, .min_lr = 0.1};
  EXPECT_DOUBLE_EQ(learning_rate(cos, 0, 0, 11), 1);
  EXPECT_NEAR(learning_rate(cos, 5, 0, 11), 0.55, 1e-12);
  EXPECT_NEAR(learning_rate(cos, 10, 0, 11), 0.1, 1e-12);
}

TEST_F(Trainer, LinearRegressionLossFallsBelow1e4) {
  TrainPlan plan = linear_regression_plan(3);
  TensorMap data = regression_data(64, 3);
  TrainResult r = train(plan, initial_params(plan, 0), data, nullptr, quiet_options(40, 16));
  ASSERT_EQ(r.status, TrainResult::Status::Done) << r.message;
  ASSERT_EQ(r.history.size(), 40u);
  EXPECT_EQ(r.history.back().updates, 160);
  EXPECT_GT(r.history[0].train[0], 0.1);
  EXPECT_LT(r.history.back().train[0], 1e-4) << "final mse";
  // The weights approach the generating coefficients 1.5, 0.5, -0.5 and the bias 0.3.
  const Tensor& w = r.params.at("dense0.weight");
  EXPECT_NEAR(w.get(0), 1.5, 0.02);
  EXPECT_NEAR(w.get(1), 0.5, 0.02);
  EXPECT_NEAR(w.get(2), -0.5, 0.02);
  EXPECT_NEAR(r.params.at("dense0.bias").get(0), 0.3, 0.02);
}

TEST_F(Trainer, ClassifierReaches95PercentValidationAccuracy) {
  PlanOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  TrainPlan plan = classifier_plan(2, 16, 3, o);
  TensorMap data = blob_data(150, 3, 3), val = blob_data(60, 3, 11);
  TrainResult r = train(plan, initial_params(plan, 1), data, &val, quiet_options(15, 16, 1));
  ASSERT_EQ(r.status, TrainResult::Status::Done) << r.message;
  const EpochRecord& last = r.history.back();
  ASSERT_EQ(last.val.size(), 2u);
  EXPECT_GE(last.val[1], 0.95) << "validation accuracy";
  EXPECT_LT(last.train[0], r.history[0].train[0] / 2) << "training loss fell";
  // 150 samples in batches of 16 -> 10 batches (the last one of 6); the step input counts updates.
  EXPECT_EQ(last.updates, 150);
  EXPECT_EQ(r.params.at("stats.updates").get(0), 150);
  EXPECT_TRUE(r.params.count("opt.momentum_buffer.dense0.weight"));
}

TEST_F(Trainer, ResumeFromEpochEndAndMidEpochIsBitIdentical) {
  PlanOptions o;
  o.momentum = 0.9;
  o.lr = 0.05;
  o.schedule = Schedule::Kind::Cosine;
  TrainPlan plan = classifier_plan(2, 8, 3, o, 0.2);
  TensorMap data = blob_data(50, 3), val = blob_data(20, 3, 9);
  TensorMap init = initial_params(plan, 4);

  TrainOptions straight = quiet_options(3, 8, 4);
  TrainResult ref = train(plan, init, data, &val, straight);
  ASSERT_EQ(ref.status, TrainResult::Status::Done);

  // 2 epochs, then --resume to 3 (the cosine schedule always uses the 3-epoch total).
  TrainOptions a = quiet_options(3, 8, 4);
  a.checkpoint_dir = (dir / "a").string();
  a.stop_after_batches = 2 * 7;  // 50 samples / 8 = 7 batches per epoch
  TrainResult first = train(plan, init, data, &val, a);
  ASSERT_EQ(first.status, TrainResult::Status::Stopped);
  EXPECT_EQ(first.epoch, 2);
  EXPECT_EQ(first.batch, 0);
  a.stop_after_batches = -1;
  a.resume = true;
  TrainResult second = train(plan, {}, data, &val, a);
  ASSERT_EQ(second.status, TrainResult::Status::Done);
  expect_same_tensors(ref.params, second.params);
  ASSERT_EQ(second.history.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_EQ(second.history[e].train, ref.history[e].train) << "epoch " << e + 1;
    EXPECT_EQ(second.history[e].val, ref.history[e].val) << "epoch " << e + 1;
  }

  // Stopped in the middle of epoch 2 (batch 3 of 7), resumed, stopped again in epoch 3, resumed.
  TrainOptions b = quiet_options(3, 8, 4);
  b.checkpoint_dir = (dir / "b").string();
  b.stop_after_batches = 10;
  TrainResult p1 = train(plan, init, data, &val, b);
  ASSERT_EQ(p1.status, TrainResult::Status::Stopped);
  EXPECT_EQ(p1.epoch, 1);
  EXPECT_EQ(p1.batch, 3);
  Checkpoint c = read_checkpoint(checkpoint_path(b.checkpoint_dir));
  EXPECT_EQ(c.epoch, 1);
  EXPECT_EQ(c.batch, 3);
  EXPECT_EQ(c.updates.at("train"), 10);
  EXPECT_EQ(c.seed, 4u);
  b.resume = true;
  b.stop_after_batches = 5;
  TrainResult p2 = train(plan, {}, data, &val, b);
  ASSERT_EQ(p2.status, TrainResult::Status::Stopped);
  EXPECT_EQ(p2.epoch, 2);
  EXPECT_EQ(p2.batch, 1);
  b.stop_after_batches = -1;
  TrainResult p3 = train(plan, {}, data, &val, b);
  ASSERT_EQ(p3.status, TrainResult::Status::Done);
  expect_same_tensors(ref.params, p3.params);
  for (size_t e = 0; e < 3; ++e) EXPECT_EQ(p3.history[e].train, ref.history[e].train) << "epoch " << e + 1;

  // Resuming a finished run does nothing more.
  TrainResult again = train(plan, {}, data, &val, b);
  EXPECT_EQ(again.status, TrainResult::Status::Done);
  expect_same_tensors(ref.params, again.params);
}

// shuffle = false: every epoch takes the samples in the data's order. Training on the
// data rows in epoch 0's shuffled order without shuffling must therefore give the
// shuffled run's weights bit for bit (same batches, same update seeds), and shuffling
// must change them.
TEST_F(Trainer, NoShuffleTakesTheSamplesInTheDatasOrder) {
  TrainPlan plan = linear_regression_plan(3);
  TensorMap data = regression_data(40, 3);
  TrainOptions o = quiet_options(1, 8, 3);
  TrainResult shuffled = train(plan, initial_params(plan, 0), data, nullptr, o);
  std::vector<int64_t> order = epoch_order(3, 0, 40);
  TensorMap permuted;
  for (auto& [name, t] : data) permuted[name] = gather_rows(t, order, 0, 40);
  o.shuffle = false;
  TrainResult in_order_run = train(plan, initial_params(plan, 0), permuted, nullptr, o);
  expect_same_tensors(shuffled.params, in_order_run.params);
  TrainResult other = train(plan, initial_params(plan, 0), data, nullptr, o);
  EXPECT_NE(other.params.at("dense0.weight").get(0), shuffled.params.at("dense0.weight").get(0));
  EXPECT_EQ(in_order(4), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST_F(Trainer, DropoutDependsOnTheSeed) {
  TrainPlan plan = classifier_plan(2, 8, 3, {}, 0.5);
  TensorMap data = blob_data(30, 3);
  TensorMap init = initial_params(plan, 0);
  TrainResult a = train(plan, init, data, nullptr, quiet_options(1, 10, 0));
  TrainResult b = train(plan, init, data, nullptr, quiet_options(1, 10, 0));
  TrainResult c = train(plan, init, data, nullptr, quiet_options(1, 10, 1));
  expect_same_tensors(a.params, b.params);
  EXPECT_NE(0, std::memcmp(a.params.at("dense0.weight").raw(), c.params.at("dense0.weight").raw(),
                           a.params.at("dense0.weight").nbytes()));
}

TEST_F(Trainer, CheckpointRoundTrip) {
  Checkpoint c;
  c.params["a.b"] = Tensor::from_vector(DType::F32, {2}, {1.5, -2});
  c.params["opt.exp_avg.a.b"] = Tensor::from_vector(DType::F32, {2}, {0.25, 0});
  c.seed = 0x8000000000000005ull;  // does not fit in a double
  c.epoch = 3;
  c.batch = 7;
  c.updates = {{"disc", 40}, {"gen", 39}};
  c.batch_size = 16;
  c.samples = 1000;
  c.epochs = 10;
  c.epoch_sums = {112, 3.5, 0.25};
  c.history = {{1, 63, 0.5, NAN, 0.1, 2.0}, {2, 126, 0.25, 0.3, 0.1, 2.5}};
  std::string path = (dir / "ck" / "checkpoint.npz").string();
  write_checkpoint(path, c);
  Checkpoint r = read_checkpoint(path);
  expect_same_tensors(c.params, r.params);
  EXPECT_EQ(r.seed, c.seed);
  EXPECT_EQ(r.epoch, 3);
  EXPECT_EQ(r.batch, 7);
  EXPECT_EQ(r.updates, c.updates);
  EXPECT_EQ(r.batch_size, 16);
  EXPECT_EQ(r.samples, 1000);
  EXPECT_EQ(r.epochs, 10);
  EXPECT_EQ(r.epoch_sums, c.epoch_sums);
  ASSERT_EQ(r.history.size(), 2u);
  EXPECT_TRUE(std::isnan(r.history[0][3]));
  EXPECT_EQ(r.history[1], c.history[1]);
  // Counters are i64 scalars with a starc. prefix, readable by numpy.
  TensorMap raw = read_npz(path);
  EXPECT_EQ(raw.at("starc.epoch").dtype(), DType::I64);
  EXPECT_EQ(raw.at("starc.epoch").rank(), 0);
  EXPECT_EQ(raw.at("starc.updates.gen").data<int64_t>()[0], 39);
  // Not a checkpoint.
  write_npz((dir / "w.npz").string(), c.params);
  expect_train_error([&] { read_checkpoint((dir / "w.npz").string()); }, "not a starc training checkpoint");
}

// A child rewrites the checkpoint in a loop (each version internally consistent: every
// element equals the version number); the parent SIGKILLs it at random moments. The file
// must always load, and be one whole version.
TEST_F(Trainer, CheckpointSurvivesSigkillAtAnyMoment) {
  std::string path = (dir / "checkpoint.npz").string();
  std::mt19937 rng(12345);
  int versions_seen = 0;
  for (int round = 0; round < 16; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int64_t v = round * 1000 + 1;; ++v) {
        Checkpoint c;
        Tensor big(DType::F32, {200000});
        for (int64_t i = 0; i < big.size(); ++i) big.data<float>()[i] = float(v);
        c.params["big"] = big;
        c.params["small"] = Tensor::from_vector(DType::F32, {3}, {double(v), double(v), double(v)});
        c.epoch = v;
        c.updates["train"] = v;
        write_checkpoint(path, c);
      }
    }
    ::usleep(useconds_t(std::uniform_int_distribution<int>(2000, 40000)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    if (!fs::exists(path)) continue;       // killed before the first rename
    Checkpoint c = read_checkpoint(path);  // throws if torn
    int64_t v = c.epoch;
    EXPECT_EQ(c.updates.at("train"), v);
    const Tensor& big = c.params.at("big");
    ASSERT_EQ(big.size(), 200000);
    for (int64_t i = 0; i < big.size(); i += 997) ASSERT_EQ(big.data<float>()[i], float(v));
    EXPECT_EQ(c.params.at("small").get(2), double(v));
    ++versions_seen;
  }
  EXPECT_GT(versions_seen, 8);
  // The next write removes the temp files the killed writers left behind.
  write_checkpoint(path, Checkpoint{});
  for (auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().filename(), "checkpoint.npz");
}

TEST_F(Trainer, NonFiniteLossNamesTheFirstBadNodeAndKeepsTheLastGoodCheckpoint) {
  // loss = mean(log(x @ w)): SGD drives w negative and log gives NaN on the second update.
  PlanOptions o;
  o.lr = 3;
  o.loc = Loc{"test.net", 7, 3};
  TrainPlan plan = make_plan(
      "Logs", {{"x", DType::F32, {0, 2}}},
      [](GraphBuilder& b, const std::vector<int>& in, bool, int) {
        int w = plan_param(b, "w", {2, 1}, "ones");
        Forward f;
        f.loss = b.op("mean", {b.op("log", {b.op("matmul", {in[0], w})})});
        return f;
      },
      o);
  Tensor x = Tensor::from_vector(DType::F32, {4, 2}, {1, 2, 1.5, 1, 2, 2, 1, 1});
  TrainOptions opts = quiet_options(5, 4);
  opts.checkpoint_dir = (dir / "ck").string();
  TrainResult r = train(plan, initial_params(plan, 0), {{"x", x}}, nullptr, opts);
  ASSERT_EQ(r.status, TrainResult::Status::NonFinite);
  EXPECT_EQ(r.epoch, 1);
  EXPECT_EQ(r.history.size(), 1u);
  for (const char* needle : {"epoch 2, batch 1/1 (update 2 of step 'train')", "the loss is nan",
                             "test.net:7:3: log (node %", "produced nan", "last good checkpoint"})
    EXPECT_NE(r.message.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.message;
  // The checkpoint is still that of the end of epoch 1, with the weights after update 1.
  Checkpoint c = read_checkpoint(checkpoint_path(opts.checkpoint_dir));
  EXPECT_EQ(c.epoch, 1);
  EXPECT_EQ(c.updates.at("train"), 1);
  expect_same_tensors(c.params, r.params);
  EXPECT_TRUE(std::isfinite(r.params.at("w").get(0)));
}

TEST(Interpreter, CheckFiniteNamesTheFirstNonFiniteNode) {
  Graph g;
  g.name = "t";
  GraphBuilder b(g, Loc{"m.net", 3, 5});
  int x = plan_input(b, "x", DType::F32, {3});
  int s = b.op("sqrt", {x});
  b.loc = Loc{"m.net", 4, 9};
  int l = b.op("log", {s});
  g.outputs = {b.op("exp", {l})};
  g.output_names = {"y"};
  Tensor xv = Tensor::from_vector(DType::F32, {3}, {1, 0, 4});
  EXPECT_NO_THROW(run_graph(g, {xv}, {}));  // off by default
  try {
    run_graph(g, {xv}, {}, RunOptions{0, true});
    ADD_FAILURE() << "expected NonFiniteError";
  } catch (const NonFiniteError& e) {
    EXPECT_EQ(e.op, "log");
    EXPECT_EQ(e.node, l);
    EXPECT_EQ(e.loc.line, 4);
    EXPECT_EQ(e.index, 1);
    EXPECT_TRUE(std::isinf(e.value) && e.value < 0);
    EXPECT_EQ(std::string(e.what()), fmt::format("m.net:4:9: log (node %{}) produced -inf at index 1 of f32[3]", l));
  }
  Tensor bad = Tensor::from_vector(DType::F32, {3}, {1, NAN, 4});
  try {
    run_graph(g, {bad}, {}, RunOptions{0, true});
    ADD_FAILURE() << "expected NonFiniteError";
  } catch (const NonFiniteError& e) {
    EXPECT_EQ(std::string(e.what()), "input 'x' contains nan at index 1 of f32[3]");
  }
}

TEST(TrainChecks, DataErrorsNameTheInputAndBothTypes) {
  TrainPlan plan = linear_regression_plan(3);
  TensorMap good = regression_data(10, 3);
  EXPECT_EQ(check_data(plan, good, false), 10);
  std::map<std::string, std::string> src = {{"x", "tx.npy"}, {"y", "ty.npy"}};
  expect_train_error([&] { check_data(plan, {{"x", good.at("x")}}, false, "--data", src); },
                     "missing --data y (f32[B,1]): pass --data y=FILE.npy");
  auto extra = good;
  extra["z"] = good.at("y");
  expect_train_error([&] { check_data(plan, extra, false); },
                     "data z: the model has no data input 'z' (it takes: x, y)");
  auto f64 = good;
  f64["x"] = good.at("x").cast(DType::F64);
  expect_train_error(
      [&] { check_data(plan, f64, false, "--data", src); },
      "--data x=tx.npy: f64[10,3] does not match the model's input 'x' f32[B,3]: element type f64 vs f32 "
      "(save float32 arrays");
  auto wide = good;
  wide["x"] = Tensor(DType::F32, {10, 4});
  expect_train_error([&] { check_data(plan, wide, false); },
                     "f32[10,4] does not match the model's input 'x' f32[B,3]: dim 1 is 4, expected 3");
  auto flat = good;
  flat["y"] = Tensor(DType::F32, {10});
  expect_train_error([&] { check_data(plan, flat, false); },
                     "f32[10] does not match the model's input 'y' f32[B,1]: rank 1 vs 2");
  auto fewer = good;
  fewer["y"] = Tensor(DType::F32, {9, 1});
  expect_train_error([&] { check_data(plan, fewer, false); },
                     "different sample counts: 'y' has 9 samples (f32[9,1]) but 'x' has 10");
  TensorMap empty = {{"x", Tensor(DType::F32, {0, 3})}, {"y", Tensor(DType::F32, {0, 1})}};
  expect_train_error([&] { check_data(plan, empty, false); }, "no samples");
  expect_train_error([&] { check_data(plan, {{"x", good.at("x")}}, true, "--val"); }, "missing --val y");
}

// Issue 31: every data input is cut into samples along its first axis, so one whose
// first dim is not the model's batch dim (a time-major input, or a target beside it) is
// refused by name instead of being cut (and shuffled) along the wrong axis.
TEST(TrainChecks, DataInputsMustLeadWithTheModelsBatchDim) {
  TrainPlan plan = linear_regression_plan(3);
  for (Graph* g : {&plan.steps[0].graph, &plan.eval}) {  // x: f32[T, 3], y stays f32[B, 1]
    g->symbols = {"B", "T"};
    const_cast<Node&>(g->node(g->inputs[0])).type.shape[0] = make_sym(1);
  }
  TensorMap data = regression_data(10, 3);
  expect_train_error([&] { check_data(plan, data, false, "--data", {{"y", "y.npy"}}); },
                     "--data y=y.npy: the model's input 'y' f32[B,1] leads with B, but the model's batch dim is T "
                     "(the first dim of its first input 'x' f32[T,3])");
  expect_train_error([&] { train(plan, initial_params(plan, 0), data, nullptr, quiet_options(1, 5)); },
                     "leads with B, but the model's batch dim is T");
}

TEST(TrainChecks, WeightsOptionsAndPlanErrors) {
  PlanOptions mo;
  mo.momentum = 0.9;
  TrainPlan plan = linear_regression_plan(3, mo);
  EXPECT_EQ(model_weight_names(plan), (std::vector<std::string>{"dense0.bias", "dense0.weight"}));
  TensorMap w = {{"dense0.weight", Tensor(DType::F32, {3, 1})}, {"dense0.bias", Tensor(DType::F32, {1})}};
  TensorMap p = initial_params(plan, 0, &w, "w.npz");
  EXPECT_EQ(p.size(), 4u);  // + two momentum buffers, initialised to zeros
  EXPECT_EQ(p.at("opt.momentum_buffer.dense0.weight").get(0), 0);
  auto missing = w;
  missing.erase("dense0.bias");
  expect_train_error([&] { initial_params(plan, 0, &missing, "w.npz"); },
                     "w.npz: missing weight 'dense0.bias' (expected f32[1])");
  auto extra = w;
  extra["head.weight"] = Tensor(DType::F32, {2});
  expect_train_error([&] { initial_params(plan, 0, &extra, "w.npz"); }, "w.npz: unexpected weight 'head.weight'");
  auto wrong = w;
  wrong["dense0.weight"] = Tensor(DType::F32, {1, 3});
  expect_train_error([&] { initial_params(plan, 0, &wrong, "w.npz"); },
                     "w.npz: weight 'dense0.weight' has the wrong shape: expected f32[3,1], got f32[1,3]");
  auto ck = w;
  ck["starc.epoch"] = Tensor(DType::I64, {});  // a checkpoint's counters are ignored
  EXPECT_NO_THROW(initial_params(plan, 0, &ck, "w.npz"));

  TensorMap data = regression_data(10, 3);
  expect_train_error([&] { train(plan, p, data, nullptr, quiet_options(1, 0)); }, "batch must be at least 1, got 0");
  expect_train_error([&] { train(plan, p, data, nullptr, quiet_options(0, 4)); }, "epochs must be at least 1, got 0");
  try {
    train(plan, p, data, nullptr, quiet_options(1, 0));
  } catch (const TrainArgumentError& e) {  // a front end's names for the parameters
    EXPECT_EQ(e.worded({{"batch", "--batch"}}), "--batch must be at least 1, got 0");
  }
  TrainOptions r = quiet_options(1, 4);
  r.resume = true;
  expect_train_error([&] { train(plan, p, data, nullptr, r); }, "resume needs a checkpoint_dir");

  TrainPlan bad = plan;
  bad.steps[0].graph.output_names[3] = "dense0.wieght";
  expect_train_error([&] { check_plan(bad); }, "output 3 'dense0.wieght' is not a param of the step graph");
}

TEST_F(Trainer, ResumeRefusesADifferentRun) {
  TrainPlan plan = linear_regression_plan(3);
  TensorMap data = regression_data(20, 3);
  TrainOptions o = quiet_options(1, 5, 3);
  o.checkpoint_dir = (dir / "ck").string();
  o.resume = true;
  expect_train_error([&] { train(plan, {}, data, nullptr, o); }, "resume: no checkpoint at");
  o.resume = false;
  ASSERT_EQ(train(plan, initial_params(plan, 3), data, nullptr, o).status, TrainResult::Status::Done);
  o.resume = true;
  o.epochs = 2;
  auto b = o;
  b.batch = 4;
  expect_train_error([&] { train(plan, {}, data, nullptr, b); },
                     "resume: the checkpoint was written with batch 5, got batch 4");
  expect_train_error([&] { train(plan, {}, regression_data(21, 3), nullptr, o); },
                     "written for 20 training samples, data has 21");
  auto s = o;
  s.seed = 9;
  s.seed_given = true;
  expect_train_error([&] { train(plan, {}, data, nullptr, s); }, "seed 9 differs from the checkpoint's seed 3");
  TrainPlan other = linear_regression_plan(4);
  expect_train_error([&] { train(other, {}, regression_data(20, 4), nullptr, o); },
                     "'dense0.weight' is f32[3,1], expected f32[4,1]");
  EXPECT_EQ(train(plan, {}, data, nullptr, o).history.size(), 2u);
}

TEST_F(Trainer, HistoryCsvAndLearningCurve) {
  PlanOptions lo;
  lo.lr = 0.2;
  TrainPlan plan = classifier_plan(2, 8, 3, lo);
  TensorMap data = blob_data(40, 3), val = blob_data(20, 3, 5);
  TrainOptions o = quiet_options(4, 10);
  o.history_csv = (dir / "hist.csv").string();
  TrainResult r = train(plan, initial_params(plan, 0), data, &val, o);
  ASSERT_EQ(r.status, TrainResult::Status::Done);
  std::ifstream f(o.history_csv);
  std::string header, line;
  std::getline(f, header);
  EXPECT_EQ(header, "epoch,step,train_loss,val_loss,train_accuracy,val_accuracy,lr,seconds");
  int rows = 0;
  while (std::getline(f, line)) {
    ++rows;
    EXPECT_EQ(line.rfind(fmt::format("{},{},", rows, rows * 4), 0), 0u) << line;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 7) << line;
  }
  EXPECT_EQ(rows, 4);
  std::ifstream svgf(dir / "hist.svg");
  std::string svg((std::istreambuf_iterator<char>(svgf)), {});
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("train loss"), std::string::npos);
  EXPECT_NE(svg.find("val loss"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);

  // A large range gives a log-scale y axis; no validation leaves the val columns empty.
  std::vector<EpochRecord> h;
  for (int e = 1; e <= 5; ++e) h.push_back(EpochRecord{e, e * 10, {std::pow(10.0, -e), 0.5}, {}, 0.1, 1});
  std::string s2 = learning_curve_svg(plan, h);
  EXPECT_NE(s2.find("loss (log scale)"), std::string::npos);
  EXPECT_EQ(s2.find("val loss"), std::string::npos);
  std::string csv = history_csv(plan, h);
  EXPECT_NE(csv.find("\n1,10,0.1,,0.5,,0.1,1.000\n"), std::string::npos) << csv;
}

// Two named steps per batch (as a GAN's discriminator and generator): each keeps its own
// update count, both losses are reported, and resume stays bit-identical.
TEST_F(Trainer, SeveralStepsPerBatch) {
  TrainPlan plan = linear_regression_plan(2);
  TrainStepGraph second = plan.steps[0];
  second.name = "second";
  second.schedule.base_lr = 0.05;
  plan.steps.push_back(second);
  EXPECT_EQ(train_value_names(plan),
            (std::vector<std::string>{"loss.train", "mae.train", "loss.second", "mae.second"}));
  EXPECT_EQ(history_columns(plan),
            (std::vector<std::string>{"epoch", "step", "train_loss.train", "train_loss.second", "val_loss",
                                      "train_mae.train", "train_mae.second", "val_mae", "lr", "seconds"}));
  TensorMap data = regression_data(30, 2);
  TensorMap init = initial_params(plan, 0);
  TrainResult ref = train(plan, init, data, nullptr, quiet_options(3, 4));
  ASSERT_EQ(ref.status, TrainResult::Status::Done);
  EXPECT_EQ(ref.history.back().train.size(), 4u);
  EXPECT_LT(ref.history.back().train[2], ref.history[0].train[2]);

  TrainOptions o = quiet_options(3, 4);
  o.checkpoint_dir = (dir / "ck").string();
  o.stop_after_batches = 11;  // 8 batches per epoch: stopped in epoch 2
  ASSERT_EQ(train(plan, init, data, nullptr, o).status, TrainResult::Status::Stopped);
  Checkpoint c = read_checkpoint(checkpoint_path(o.checkpoint_dir));
  EXPECT_EQ(c.updates.at("train"), 11);
  EXPECT_EQ(c.updates.at("second"), 11);
  o.stop_after_batches = -1;
  o.resume = true;
  TrainResult r = train(plan, {}, data, nullptr, o);
  expect_same_tensors(ref.params, r.params);
}
