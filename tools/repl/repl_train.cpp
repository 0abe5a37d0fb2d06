// tools/repl: `:train MODEL OPTIONS`: the model's train block on session tensors or files,
// through the library API (Model::fit, runtime/api/starc.h), which `starc train` also
// runs on. The options are those of `starc train` that make sense in a session.
#include <fmt/format.h>

#include <filesystem>
#include <ostream>

#include "runtime/api/starc.h"
#include "runtime/io/npy.h"
#include "runtime/io/tensor_file.h"
#include "tools/repl/repl_internal.h"

namespace starc {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTrainUsage =
    ":train MODEL --data NAME=VAR|FILE ... [--val NAME=VAR|FILE ...] [--epochs N] [--batch B] [--seed S] "
    "[--progress plain|none] [--checkpoint DIR] [--out W.npz]";

struct TrainArgs {
  std::string model;
  std::map<std::string, Tensor> data, val;
  api::FitOptions fit;
  bool progress = true;
  std::string out;
};

int64_t positive(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    int64_t n = std::stoll(v, &used);
    if (used == v.size() && n >= 1) return n;
  } catch (const std::exception&) {}
  throw std::invalid_argument(fmt::format("{}: expected a positive integer, got '{}'", flag, v));
}

uint64_t seed_value(const std::string& v) {
  try {
    size_t used = 0;
    uint64_t n = std::stoull(v, &used);
    if (used == v.size() && v[0] != '-') return n;
  } catch (const std::exception&) {}
  throw std::invalid_argument(fmt::format("--seed: expected a non-negative integer, got '{}'", v));
}

// NAME=VAR (a session tensor) or NAME=FILE (a tensor spec, docs/cli.md).
void add_tensor(const std::string& flag, const std::string& arg, const std::map<std::string, Tensor>& vars,
                std::map<std::string, Tensor>& into) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::invalid_argument(fmt::format("{} {}: write NAME=VAR or NAME=FILE", flag, arg));
  std::string name = arg.substr(0, eq), source = arg.substr(eq + 1);
  auto var = vars.find(source);
  into[name] = var != vars.end() && !fs::exists(source) ? var->second : read_tensor_file(source);
}

TrainArgs parse_train_args(const std::vector<std::string>& w, const std::map<std::string, Tensor>& vars) {
  TrainArgs a;
  a.model = w.at(0);
  for (size_t i = 1; i < w.size(); ++i) {
    const std::string& flag = w[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= w.size()) throw std::invalid_argument(flag + " needs a value");
      return w[++i];
    };
    if (flag == "--data" || flag == "--val") {
      size_t before = i;
      while (i + 1 < w.size() && w[i + 1].rfind("--", 0) != 0)
        add_tensor(flag, w[++i], vars, flag == "--data" ? a.data : a.val);
      if (i == before) throw std::invalid_argument(flag + " needs NAME=VAR or NAME=FILE");
    } else if (flag == "--epochs") {
      a.fit.epochs = positive(flag, value());
    } else if (flag == "--batch") {
      a.fit.batch = positive(flag, value());
    } else if (flag == "--seed") {
      a.fit.seed = seed_value(value());
    } else if (flag == "--progress") {
      a.progress = value() != "none";
    } else if (flag == "--checkpoint") {
      a.fit.checkpoint_dir = value();
    } else if (flag == "--out") {
      a.out = value();
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}'; write {}", flag, kTrainUsage));
    }
  }
  if (a.data.empty()) throw std::invalid_argument(fmt::format("no --data; write {}", kTrainUsage));
  return a;
}

// "epoch 2/3  train loss 0.0123 mae 0.1  | val loss 0.02  | lr 0.001  0.31s"
std::string epoch_line(const api::Epoch& e, int64_t epochs) {
  auto values = [](const std::vector<std::pair<std::string, double>>& v) {
    std::string s;
    for (auto& [name, x] : v) s += fmt::format(" {} {:g}", name, x);
    return s;
  };
  std::string line = fmt::format("epoch {}/{}  train{}", e.epoch, epochs, values(e.train));
  if (!e.val.empty()) line += "  | val" + values(e.val);
  return line + fmt::format("  | lr {:g}  {:.2f}s", e.lr, e.seconds);
}

}  // namespace

bool ReplSession::train(const std::string& args) {
  std::vector<std::string> w = repl::words(args);
  if (w.empty()) {
    err_ << "error: write " << kTrainUsage << "\n";
    return false;
  }
  try {
    TrainArgs a = parse_train_args(w, vars_);
    api::Options o;
    o.threads = opts_.threads, o.device = opts_.device, o.conv_algo = opts_.conv_algo, o.seed = opts_.seed;
    o.disk_cache = !opts_.cache_dir.empty();
    api::Model m = api::Program::from_source(session_text() + "\n", repl::kSessionPath).model(a.model, o);
    a.fit.stop = &interrupted;
    api::FitResult r = m.fit(a.data, a.val, a.fit, [&](const api::Epoch& e) {
      if (a.progress) out_ << epoch_line(e, a.fit.epochs) << std::endl;
    });
    if (r.stopped) {
      err_ << "interrupted: " << a.model << " keeps the weights it had before :train"
           << (r.checkpoint.empty() ? std::string() : "; checkpoint written to " + r.checkpoint) << "\n";
      return false;
    }
    trained_[a.model] = m.weights();
    if (!a.out.empty()) write_npz(a.out, m.weights());
    out_ << fmt::format("{} keeps its trained weights in this session ({} tensors)\n", a.model, m.weights().size());
    return true;
  } catch (const api::Error& e) {
    if (e.diagnostics().empty()) err_ << "error: " << e.what() << "\n";
    for (const api::Diagnostic& d : e.diagnostics()) err_ << d.text;
  } catch (const std::exception& e) {
    err_ << "error: " << e.what() << "\n";
  }
  return false;
}

}  // namespace starc
