// Training logs (issue 32 item 15): early stopping on a history column with the best
// epoch's weights in DIR/best.npz, the CSV history at the precision the model computes in,
// and a learning-curve panel for every metric.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

struct Dir : ScratchDir {
  Dir() : ScratchDir("starc_train_logs") {}
  std::string text(const std::string& name) const {
    std::ifstream in(path / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

const std::string kPhotoz = quote(std::string(STARC_SOURCE_DIR) + "/stdlib/astro/photoz.net");
const std::string kData = " --data mags=data/mags.npy z=data/z.npy --batch 16 --seed 4 --progress none";

TEST(TrainLogs, EarlyStopKeepsTheBestEpochsWeights) {
  Dir d;
  std::string dir = d.path.string();
  ASSERT_EQ(run_starc(dir, "simulate photoz --n 64 --seed 1 -o data").code, 0);
  // train_loss falls every epoch, so watched as "higher is better" only epoch 1 is best:
  // two epochs without improvement stop the run after epoch 3.
  ShellResult r = run_starc(dir, "train " + kPhotoz + kData +
                                     " --epochs 10 --early-stop 2 --monitor train_loss:max --checkpoint ck -o w.npz");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("early stop: train_loss has not improved for 2 epochs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 3/10"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("epoch 4/10"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best epoch 1"), std::string::npos) << r.out;
  // best.npz holds what one epoch gives.
  ShellResult one = run_starc(dir, "train " + kPhotoz + kData + " --epochs 1 -o w1.npz");
  ASSERT_EQ(one.code, 0) << one.out;
  ShellResult a = run_starc(dir, "run " + kPhotoz + " --in data/mags.npy --weights ck/best.npz --out a.npy");
  ShellResult b = run_starc(dir, "run " + kPhotoz + " --in data/mags.npy --weights w1.npz --out b.npy");
  ASSERT_EQ(a.code, 0) << a.out;
  ASSERT_EQ(b.code, 0) << b.out;
  EXPECT_EQ(sh("cmp " + quote(dir + "/a.npy") + " " + quote(dir + "/b.npy")).code, 0);

  expect_starc_error(dir, "train " + kPhotoz + kData + " --early-stop 2",
                     "--early-stop on --monitor val_loss needs validation data (--val)");
  expect_starc_error(dir, "train " + kPhotoz + kData + " --early-stop 2 --monitor val_acc",
                     "--monitor 'val_acc' is not a column of the training history (they are: train_loss, val_loss");
  expect_starc_error(dir, "train " + kPhotoz + kData + " --monitor train_loss:up", "--monitor train_loss:up");
}

TEST(TrainLogs, HistoryCsvPrecisionAndAPanelPerMetric) {
  Dir d;
  std::string dir = d.path.string();
  std::ofstream(d.path / "m.net") << "use std.nn\nuse std.losses\n"
                                     "model M(x: f32[B, 2]) -> f32[B, 1] {\n  return x |> dense(1)\n}\n"
                                     "train M(y: f32[B, 1]) {\n  loss = mse(output, y)\n"
                                     "  metric(\"mae\", mean(abs(output - y)))\n  optimizer = sgd(lr: 0.1)\n}\n";
  ASSERT_EQ(sh("cd " + quote(dir) +
               " && /usr/bin/python3 -c \"import numpy as n; r=n.random.default_rng(0); x=r.normal(size=(32,2))"
               ".astype('f4'); n.save('x.npy', x); n.save('y.npy', (x@[[0.7],[-0.3]]).astype('f4'))\"")
                .code,
            0);
  ShellResult r = run_starc(dir,
                            "train m.net --data x=x.npy y=y.npy --val x=x.npy y=y.npy --epochs 3 --batch 8 "
                            "--progress none --history h.csv -o w.npz");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string csv = d.text("h.csv");
  ASSERT_NE(csv.find("train_mae"), std::string::npos) << csv;
  // Every value reads back as an f32 with at most 9 significant digits: no
  // 0.7510000004768371 from printing an f32 mean as a double.
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) {
      size_t digits = 0;
      for (char c : cell.substr(0, cell.find_first_of("eE"))) digits += std::isdigit(static_cast<unsigned char>(c));
      EXPECT_LE(digits, 10u) << cell << " in " << line;
    }
  }
  std::string svg = d.text("h.svg");
  EXPECT_NE(svg.find(">train mae<"), std::string::npos) << "a panel for the metric";
  EXPECT_NE(svg.find(">val mae<"), std::string::npos);
  EXPECT_NE(svg.find(">train loss<"), std::string::npos);
}

}  // namespace
}  // namespace starc::test
