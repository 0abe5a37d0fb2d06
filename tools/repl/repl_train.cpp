// tools/repl: `:train MODEL OPTIONS`: the model's train block on session tensors or files,
// through the library API (Model::fit, runtime/api/starc.h), which `starc train` also
// runs on. The options are those of `starc train` that make sense in a session. And the
// session's weights of a model: `:save MODEL FILE.npz`, `:load MODEL FILE.npz`.
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
    "[--progress plain|none] [--checkpoint DIR] [--out W.npz] [--fresh]";

struct TrainArgs {
  std::string model;
  std::map<std::string, Tensor> data, val;
  api::FitOptions fit;
  bool progress = true;
  bool fresh = false;  // from the initializers, not the session's weights
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
    } else if (flag == "--fresh") {
      a.fresh = true;
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

// MODEL of the session through the API; with `weights` (the session's), those replace
// its initial ones (an error names a weight that no longer fits a redefined model).
api::Model session_model(const std::string& source, const std::string& name, const ReplOptions& ro,
                         const TensorMap* weights) {
  api::Options o;
  o.threads = ro.threads, o.device = ro.device, o.conv_algo = ro.conv_algo, o.seed = ro.seed;
  o.disk_cache = !ro.cache_dir.empty();
  api::Model m = api::Program::from_source(source + "\n", repl::kSessionPath).model(name, o);
  if (weights) {
    m.init(ro.seed);
    for (auto& [k, t] : *weights) m.set_weight(k, t);
  }
  return m;
}

// Runs f; an error (with the front end's diagnostics, if any) goes to `err`.
template <class F>
bool reported(std::ostream& err, F f) {
  try {
    return f();
  } catch (const api::Error& e) {
    if (e.diagnostics().empty()) err << "error: " << e.what() << "\n";
    for (const api::Diagnostic& d : e.diagnostics()) err << d.text;
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
  }
  return false;
}

bool is_npz(const std::string& path) { return fs::path(path).extension() == ".npz"; }

}  // namespace

// Training starts from the session's weights of the model (trained or loaded) unless
// --fresh, and writes files only where an option names them, saying so.
bool ReplSession::train(const std::string& args) {
  std::vector<std::string> w = repl::words(args);
  if (w.empty()) {
    err_ << "error: write " << kTrainUsage << "\n";
    return false;
  }
  return reported(err_, [&] {
    TrainArgs a = parse_train_args(w, vars_);
    auto kept = trained_.find(a.model);
    bool resume = kept != trained_.end() && !a.fresh;
    api::Model m = session_model(session_text(), a.model, opts_, resume ? &kept->second : nullptr);
    if (resume) out_ << a.model << ": training from its weights in this session (--fresh: from the initializers)\n";
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
    out_ << fmt::format("{} keeps its trained weights in this session ({} tensors)\n", a.model, m.weights().size());
    if (!r.checkpoint.empty()) out_ << "checkpoint: " << r.checkpoint << "\n";
    if (!a.out.empty()) {
      write_npz(a.out, m.weights());
      out_ << "wrote " << a.out << "\n";
    }
    return true;
  });
}

bool ReplSession::save_command(const std::string& args) {
  std::vector<std::string> w = repl::words(args);
  if (w.size() != 2 || !is_npz(w[1])) {
    err_ << "error: write :save MODEL FILE.npz\n";
    return false;
  }
  return save_weights(w[0], w[1]);
}

// `:load FILE.net` adds definitions; `:load MODEL FILE.npz` sets a model's weights.
bool ReplSession::load_command(const std::string& args) {
  std::vector<std::string> w = repl::words(args);
  if (w.size() == 2 && is_npz(w[1])) return load_weights(w[0], w[1]);
  if (w.size() == 1 && !is_npz(w[0])) return load(w[0]);
  err_ << "error: write :load FILE.net (definitions) or :load MODEL FILE.npz (a model's weights)\n";
  return false;
}

bool ReplSession::save_weights(const std::string& model, const std::string& path) {
  return reported(err_, [&] {
    auto kept = trained_.find(model);
    bool session = kept != trained_.end();
    api::Model m = session_model(session_text(), model, opts_, session ? &kept->second : nullptr);
    if (!session) m.init(opts_.seed);
    m.save_weights(path);
    out_ << fmt::format("wrote {}: {} weights of {} ({} tensors)\n", path,
                        session ? "the session's" : fmt::format("the initial (seed {})", opts_.seed), model,
                        m.weights().size());
    return true;
  });
}

bool ReplSession::load_weights(const std::string& model, const std::string& path) {
  return reported(err_, [&] {
    api::Model m = session_model(session_text(), model, opts_, nullptr);
    m.load_weights(path);  // checked against the model's parameters; a checkpoint gives its weights
    trained_[model] = m.weights();
    out_ << fmt::format("{} uses the weights of {} ({} tensors)\n", model, path, m.weights().size());
    return true;
  });
}

}  // namespace starc
