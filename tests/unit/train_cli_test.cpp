// End-to-end tests of `starc train`: an MLP regression and a classifier written in .net
// reach stated thresholds; a run SIGKILLed in epoch 3 and resumed, and one stopped with
// Ctrl-C mid-epoch and resumed, end with weights identical to an uninterrupted run's;
// usage errors and a NaN loss give one clear message and exit 1.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/io/npy.h"
#include "runtime/trainer.h"
#include "shell_util.h"
#include "temp_dir_test.h"
#include "train_test_util.h"

namespace fs = std::filesystem;
using namespace starc;

namespace {

const char* kReg = R"(use std.nn
use std.losses

model Reg(x: f32[B, 2]) -> f32[B, 1] {
    return x |> dense(16) |> tanh |> dense(1)
}

train Reg(y: f32[B, 1]) {
    loss = mse(output, y)
    optimizer = adam(lr: 0.01)
    metric("mae", mae(output, y))
}
)";

const char* kCls = R"(use std.nn
use std.losses

model Cls(x: f32[B, 2]) -> f32[B, 3] {
    return x |> dense(16) |> relu |> dense(3)
}

train Cls(label: i64[B]) {
    loss = cross_entropy(output, label)
    optimizer = sgd(lr: 0.1, momentum: 0.9)
    metric("accuracy", mean(cast(argmax(output, axis: 1) == label, dtype: f32)))
}
)";

// Dropout makes the run seed matter for the resume tests.
const char* kDrop = R"(use std.nn
use std.losses

model Drop(x: f32[B, 2]) -> f32[B, 1] {
    return x |> dense(16) |> tanh |> dropout(0.1) |> dense(1)
}

train Drop(y: f32[B, 1]) {
    loss = mse(output, y)
    optimizer = adam(lr: 0.003)
    schedule = cosine(warmup: 20)
}
)";

const char* kNan = R"(use std.nn

model M(x: f32[B, 2]) -> f32[B, 1] {
    return x |> dense(1)
}

train M(y: f32[B, 1]) {
    loss = mean(log(output + 1.0))
    optimizer = sgd(lr: 1.0)
}

model Untrained(x: f32[B, 2]) -> f32[B, 1] {
    return x |> dense(1)
}
)";

using Result = test::ShellResult;

class TrainCli : public test::TempDirTest {
 protected:
  TrainCli() : TempDirTest("starc_train_cli_") {}
  void write_data(const std::string& prefix, const TensorMap& data) const {
    for (auto& [name, t] : data) write_npy(path(prefix + name + ".npy"), t);
  }

  // Runs `starc ARGS` in the test folder; stdout and stderr together.
  Result sh(const std::string& args) const { return test::run_starc(dir.string(), args); }

  void expect_error(const std::string& args, const std::string& needle) const {
    test::expect_starc_error(dir.string(), args, needle);
  }

  // For the resume tests: writes the dropout model and its data, then trains with
  // `starc ARGS` without interruption (the run the resumed ones must match).
  void train_straight(const std::string& args) const {
    write("drop.net", kDrop);
    write_data("", test::regression_data(2000, 2, 5, 0.1));
    Result straight = sh(args);
    ASSERT_EQ(straight.code, 0) << straight.out;
  }

  // Starts `starc ARGS` in the test folder, reads its output line by line until `when`
  // matches one, sends `sig` to it, then collects the rest and the exit status.
  Result run_and_signal(const std::vector<std::string>& args, const std::string& when, int sig) const {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::chdir(dir.c_str()) != 0) ::_exit(127);
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv = {const_cast<char*>(STARC_BINARY)};
      for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(STARC_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    FILE* f = ::fdopen(fds[0], "r");
    std::string out, line;
    bool sent = false;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, f)) {
      out += buf;
      if (!sent && std::string(buf).find(when) != std::string::npos) {
        ::kill(pid, sig);
        sent = true;
      }
    }
    std::fclose(f);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(sent) << "never saw '" << when << "' in:\n" << out;
    return {WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status), out};
  }

  // The last row of a history CSV as column -> value.
  std::map<std::string, double> last_row(const std::string& csv) const {
    std::ifstream f(path(csv));
    std::string header, line, last;
    std::getline(f, header);
    while (std::getline(f, line)) last = line;
    std::map<std::string, double> out;
    std::stringstream hs(header), ls(last);
    std::string h, v;
    while (std::getline(hs, h, ',') && std::getline(ls, v, ',')) out[h] = v.empty() ? NAN : std::stod(v);
    return out;
  }
};

// The weights in two .npz files are bit-identical.
void expect_same_weights(const std::string& a, const std::string& b) {
  test::expect_same_tensors(read_npz(a), read_npz(b));
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string w;
  while (ss >> w) out.push_back(w);
  return out;
}

}  // namespace

TEST_F(TrainCli, MlpRegressionReachesLowValidationLoss) {
  write("reg.net", kReg);
  write_data("train_", test::regression_data(200, 2, 1));
  write_data("val_", test::regression_data(50, 2, 2));
  Result r =
      sh("train reg.net --data x=train_x.npy --data y=train_y.npy --val x=val_x.npy --val y=val_y.npy "
         "--epochs 20 --batch 20 --history h.csv --out w.npz");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("epoch 20/20  train loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wrote 4 weight tensors to w.npz"), std::string::npos) << r.out;
  auto row = last_row("h.csv");
  EXPECT_EQ(row["epoch"], 20);
  EXPECT_EQ(row["step"], 200);
  EXPECT_LT(row["val_loss"], 0.01) << "validation mse after 20 epochs";
  EXPECT_LT(row["train_loss"], 0.01);
  EXPECT_TRUE(fs::exists(dir / "h.svg"));
  // The trained weights work with `starc run`.
  Result run = sh("run reg.net --in val_x.npy --weights w.npz --out pred.npy");
  ASSERT_EQ(run.code, 0) << run.out;
  Tensor pred = read_npy(path("pred.npy")), y = read_npy(path("val_y.npy"));
  double mse = 0;
  for (int64_t i = 0; i < y.size(); ++i) mse += (pred.get(i) - y.get(i)) * (pred.get(i) - y.get(i)) / double(y.size());
  EXPECT_NEAR(mse, row["val_loss"], 1e-5);
}

TEST_F(TrainCli, MlpClassifierReaches95PercentAccuracy) {
  write("cls.net", kCls);
  write_data("train_", test::blob_data(150, 3, 3));
  write_data("val_", test::blob_data(60, 3, 11));
  Result r =
      sh("train cls.net --data x=train_x.npy --data label=train_label.npy --val x=val_x.npy "
         "--val label=val_label.npy --epochs 8 --batch 16 --seed 2 --checkpoint ck");
  ASSERT_EQ(r.code, 0) << r.out;
  auto row = last_row("ck/history.csv");
  EXPECT_GE(row["val_accuracy"], 0.95);
  EXPECT_GE(row["train_accuracy"], 0.9);
  EXPECT_LT(row["val_loss"], 0.2);
  EXPECT_TRUE(fs::exists(dir / "ck" / "checkpoint.npz"));
  EXPECT_TRUE(fs::exists(dir / "ck" / "history.svg"));
}

// The issue's scenario: train, SIGKILL during epoch 3 (after the epoch-2 checkpoint),
// --resume, finish: the final weights equal those of a run that was never interrupted.
TEST_F(TrainCli, SigkillInEpoch3ThenResumeMatchesAnUninterruptedRun) {
  std::string common = "train drop.net --data x=x.npy --data y=y.npy --epochs 4 --batch 2 --seed 7 --progress plain";
  ASSERT_NO_FATAL_FAILURE(train_straight(common + " --out straight.npz"));

  Result killed = run_and_signal(split(common + " --checkpoint ck --log-every 50 --out resumed.npz"),
                                 "epoch 3/4 batch 100/1000", SIGKILL);
  ASSERT_EQ(killed.code, 128 + SIGKILL) << killed.out;
  ASSERT_FALSE(fs::exists(dir / "resumed.npz"));
  Checkpoint c = read_checkpoint(path("ck/checkpoint.npz"));
  EXPECT_EQ(c.epoch, 2) << "the checkpoint of the end of epoch 2";
  EXPECT_EQ(c.batch, 0);

  Result resumed = sh(common + " --checkpoint ck --out resumed.npz --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_EQ(resumed.out.find("epoch 2/4"), std::string::npos) << "epochs 1-2 are not run again:\n" << resumed.out;
  EXPECT_NE(resumed.out.find("epoch 3/4"), std::string::npos) << resumed.out;
  expect_same_weights(path("straight.npz"), path("resumed.npz"));
  // Deterministic archives: the files are byte-identical too.
  std::ifstream a(path("straight.npz"), std::ios::binary), b(path("resumed.npz"), std::ios::binary);
  EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a), {}, std::istreambuf_iterator<char>(b)));
}

TEST_F(TrainCli, CtrlCMidEpochWritesACheckpointAndTheResumedRunMatches) {
  std::string common = "train drop.net --data x=x.npy --data y=y.npy --epochs 3 --batch 2 --seed 3";
  ASSERT_NO_FATAL_FAILURE(train_straight(common + " --out straight.npz --progress none"));

  Result stopped = run_and_signal(split(common + " --checkpoint ck --out resumed.npz --progress plain --log-every 100"),
                                  "epoch 2/3 batch 200/1000", SIGINT);
  ASSERT_EQ(stopped.code, 130) << stopped.out;
  EXPECT_NE(stopped.out.find("interrupted: finishing the current step"), std::string::npos) << stopped.out;
  EXPECT_NE(stopped.out.find("checkpoint written to ck/checkpoint.npz"), std::string::npos) << stopped.out;
  size_t at = stopped.out.find("resume with:\n  ");
  ASSERT_NE(at, std::string::npos) << stopped.out;
  std::string cmd = stopped.out.substr(at + 15);
  cmd = cmd.substr(0, cmd.find('\n'));
  EXPECT_NE(cmd.find(" --resume"), std::string::npos) << cmd;
  ASSERT_FALSE(fs::exists(dir / "resumed.npz"));
  Checkpoint c = read_checkpoint(path("ck/checkpoint.npz"));
  EXPECT_EQ(c.epoch, 1);
  EXPECT_GE(c.batch, 200);
  EXPECT_LT(c.batch, 1000);
  EXPECT_EQ(c.updates.at("train"), 1000 + c.batch);

  // The printed command (minus the binary) resumes; the result equals the straight run.
  Result resumed = sh(cmd.substr(cmd.find(" train ") + 1));
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  expect_same_weights(path("straight.npz"), path("resumed.npz"));
}

TEST_F(TrainCli, NonFiniteLossNamesTheNodeAndExits1) {
  write("nan.net", kNan);
  write_data("", test::regression_data(40, 2));
  expect_error("train nan.net -m M --data x=x.npy --data y=y.npy --batch 10",
               "non-finite values at epoch 1, batch 1/4 (update 1 of step 'train'): the loss is nan");
  expect_error("train nan.net -m M --data x=x.npy --data y=y.npy --batch 10", "nan.net:8:17: log (node %");
}

// Issue 31: a time-major model (samples of a sequence along axis 1) was cut and shuffled
// along its time axis without a word; now its data is refused naming the input, and
// --no-shuffle is accepted (and trains as the unshuffled library run does).
TEST_F(TrainCli, TimeMajorDataIsRefusedAndNoShuffleIsAccepted) {
  write("tm.net", R"(use std.nn
use std.losses
model TM(xs: f32[T, B, 2]) -> f32[B, 2] {
    return sum(xs, axes: [0]) |> dense(2)
}
train TM(y: f32[B, 2]) {
    loss = mse(output, y)
}
)");
  write_npy(path("xs.npy"), Tensor(DType::F32, {4, 4, 2}));
  write_npy(path("ys.npy"), Tensor(DType::F32, {4, 2}));
  expect_error("train tm.net --data xs=xs.npy --data y=ys.npy --batch 4",
               "--data y=ys.npy: the model's input 'y' f32[B,2] leads with B, but the model's batch dim is T (the "
               "first dim of its first input 'xs' f32[T,B,2])");
  write("reg.net", kReg);
  write_data("", test::regression_data(20, 2));
  const std::string d = " --data x=x.npy --data y=y.npy --batch 5 --progress none --seed 1";
  Result a = sh("train reg.net" + d + " --no-shuffle --out a.npz");
  ASSERT_EQ(a.code, 0) << a.out;
  Result b = sh("train reg.net" + d + " --out b.npz");
  ASSERT_EQ(b.code, 0) << b.out;
  TensorMap wa = read_npz(path("a.npz")), wb = read_npz(path("b.npz"));
  EXPECT_NE(wa.at("dense1.bias").get(0), wb.at("dense1.bias").get(0)) << "the sample order changes the updates";
}

// Issue 31: relu(NaN) was 0, so a NaN in the training data in front of a ReLU vanished
// and training went on without a word; now the NaN reaches the loss (PyTorch's relu
// propagates it) and the trainer's guard stops at the first batch, on both backends.
TEST_F(TrainCli, NanInTheDataBeforeAReluStopsTraining) {
  write("r.net", R"(use std.nn
use std.losses
model R(x: f32[B, 2]) -> f32[B, 1] {
    return relu(x) |> dense(1)
}
train R(y: f32[B, 1]) {
    loss = mse(output, y)
    optimizer = sgd(lr: 0.1)
}
)");
  TensorMap data = test::regression_data(8, 2);
  data.at("x").set(5, std::nan(""));  // sample 2, feature 1
  write_data("", data);
  for (const char* backend : {"jit", "ref"})
    expect_error(fmt::format("train r.net --data x=x.npy --data y=y.npy --batch 8 --backend {}", backend),
                 "non-finite values at epoch 1, batch 1/1 (update 1 of step 'train')");
}

TEST_F(TrainCli, UsageErrors) {
  write("reg.net", kReg);
  write("cls.net", kCls);
  write("nan.net", kNan);
  write_data("", test::regression_data(20, 2));
  write_data("c_", test::blob_data(20, 3));
  write_npy(path("x64.npy"), test::regression_data(20, 2).at("x").cast(DType::F64));
  write_npy(path("y9.npy"), Tensor(DType::F32, {9, 1}));
  const std::string d = " --data x=x.npy --data y=y.npy";
  expect_error("train reg.net", "--data is required");
  expect_error("train reg.net --data x=x.npy", "missing --data y (f32[B,1]): pass --data y=FILE.npy");
  expect_error("train reg.net --data x=x.npy --data z=y.npy", "--data z=y.npy: the model has no data input 'z'");
  expect_error("train cls.net --data x=c_x.npy --data labl=c_label.npy",
               "the model has no data input 'labl', did you mean 'label'? (it takes: x, label)");
  expect_error("train reg.net --data x=x64.npy --data y=y.npy",
               "--data x=x64.npy: f64[20,2] does not match the model's input 'x' f32[B,2]: element type f64 vs f32");
  expect_error("train cls.net --data x=c_x.npy --data label=c_x.npy",
               "--data label=c_x.npy: f32[20,2] does not match the model's input 'label' i64[B]");
  expect_error("train reg.net --data x=x.npy --data y=y9.npy",
               "different sample counts: 'y' has 9 samples (f32[9,1]) but 'x' has 20");
  expect_error("train reg.net --data x=x.npy --data y=missing.npy", "missing.npy: cannot open for reading");
  expect_error("train reg.net --data x.npy --data y=y.npy",
               "--data x.npy: the model takes 2 data inputs (x, y); write NAME=PATH");
  expect_error("train reg.net" + d + " --val x=x.npy", "missing --val y (f32[B,1])");
  expect_error("train reg.net" + d + " --resume", "--resume needs --checkpoint DIR");
  expect_error("train reg.net" + d + " --resume --checkpoint ck --weights w.npz",
               "--weights and --resume cannot be combined");
  expect_error("train reg.net" + d + " --resume --checkpoint ck", "--resume: no checkpoint at ck/checkpoint.npz");
  expect_error("train reg.net" + d + " --epochs 0", "--epochs must be at least 1, got 0");
  expect_error("train reg.net" + d + " --batch 0", "--batch must be at least 1, got 0");
  expect_error("train nan.net -m Untrained" + d, "model 'Untrained' has no train block");
  ASSERT_EQ(sh("init cls.net -o cw.npz").code, 0);
  expect_error("train reg.net" + d + " --weights cw.npz",
               "cw.npz: weight 'dense1.bias' has the wrong shape: expected f32[1], got f32[3]");
}
