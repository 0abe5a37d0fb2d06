#include "runtime/trainer.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>

#include "compiler/ops/philox.h"
#include "runtime/dist/data_parallel.h"
#include "runtime/early_stop.h"
#include "runtime/init.h"
#include "runtime/io/npy.h"
#include "runtime/io/npy_map.h"

namespace starc {

namespace {

// Philox streams of the loop's own random numbers ("shuf", "updt", "eval" in ASCII, in
// the upper 32 bits; the shuffle's lower 32 bits hold the epoch).
constexpr uint64_t kShuffleStream = 0x73687566ull << 32;
constexpr uint64_t kUpdateStream = 0x75706474ull << 32;
constexpr uint64_t kEvalStream = 0x6576616cull << 32;

uint64_t block64(uint64_t seed, uint64_t stream, uint64_t index) {
  PhiloxBlock b = philox_block(seed, stream, index);
  return (uint64_t(b[0]) << 32) | b[1];
}

std::string param_name(const Node& n) { return attr_str(n.attrs, "name"); }

// name -> node of every param of g.
std::map<std::string, const Node*> params_of(const Graph& g) {
  std::map<std::string, const Node*> out;
  for (int id : g.params()) out[param_name(g.node(id))] = &g.node(id);
  return out;
}

bool has_eval(const TrainPlan& plan) { return !plan.eval.nodes.empty(); }

// The metric names of step s (plan.metric_names when the counts agree).
std::vector<std::string> step_metric_names(const TrainPlan& plan, const TrainStepGraph& s) {
  std::vector<std::string> out;
  for (int i = 0; i < s.n_metrics; ++i) {
    size_t k = size_t(1 + i);
    if (k < s.graph.output_names.size() && !s.graph.output_names[k].empty())
      out.push_back(s.graph.output_names[k]);
    else if (size_t(s.n_metrics) == plan.metric_names.size())
      out.push_back(plan.metric_names[size_t(i)]);
    else
      out.push_back(fmt::format("metric{}", i));
  }
  return out;
}
std::vector<std::string> eval_metric_names(const TrainPlan& plan) {
  std::vector<std::string> out;
  for (size_t i = 1; i < plan.eval.output_names.size(); ++i) out.push_back(plan.eval.output_names[i]);
  return out;
}
// Values per epoch record: per step (1 + n_metrics); eval: 1 + eval metrics (or 0).
size_t n_train_values(const TrainPlan& plan) {
  size_t n = 0;
  for (auto& s : plan.steps) n += size_t(1 + s.n_metrics);
  return n;
}
size_t n_val_values(const TrainPlan& plan) { return has_eval(plan) ? plan.eval.outputs.size() : 0; }

Tensor i64_scalar(int64_t v) {
  Tensor t(DType::I64, {});
  t.data<int64_t>()[0] = v;
  return t;
}

std::string fmt_num(double v) { return fmt::format("{:.6g}", v); }

std::string fmt_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  int64_t t = int64_t(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Progress on opts.log: a redrawn bar (TTY) or plain lines.
class Progress {
 public:
  Progress(const TrainOptions& o) : log_(o.log), every_(o.log_every) {
    mode_ = o.progress;
    if (!log_) mode_ = ProgressMode::None;
    if (mode_ == ProgressMode::Auto) mode_ = ::isatty(::fileno(log_)) ? ProgressMode::Bar : ProgressMode::Plain;
  }
  void begin(int64_t epoch, int64_t epochs, int64_t nb, int64_t start) {
    epoch_ = epoch, epochs_ = epochs, nb_ = nb, start_ = start;
    t0_ = Clock::now();
    last_draw_ = t0_ - std::chrono::seconds(1);
  }
  void batch(int64_t done, double loss) {
    if (mode_ == ProgressMode::Bar) {
      auto now = Clock::now();
      if (done < nb_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
      last_draw_ = now;
      double el = since(t0_);
      double eta = done > start_ ? el / double(done - start_) * double(nb_ - done) : NAN;
      constexpr int W = 30;
      int fill = int(double(W) * double(done) / double(std::max<int64_t>(nb_, 1)));
      fmt::print(log_, "\r\033[Kepoch {}/{} [{}{}] {}/{}  loss {}  ETA {}", epoch_ + 1, epochs_, std::string(fill, '='),
                 std::string(W - fill, ' '), done, nb_, fmt_num(loss), fmt_duration(eta));
      std::fflush(log_);
    } else if (mode_ == ProgressMode::Plain && every_ > 0 && (done % every_ == 0 || done == nb_)) {
      fmt::print(log_, "epoch {}/{} batch {}/{} loss {}\n", epoch_ + 1, epochs_, done, nb_, fmt_num(loss));
      std::fflush(log_);
    }
  }
  void clear() {
    if (mode_ == ProgressMode::Bar) {
      fmt::print(log_, "\r\033[K");
      std::fflush(log_);
    }
  }

 private:
  std::FILE* log_;
  int every_;
  ProgressMode mode_;
  int64_t epoch_ = 0, epochs_ = 0, nb_ = 0, start_ = 0;
  Clock::time_point t0_, last_draw_;
};

}  // namespace

std::vector<std::string> train_value_names(const TrainPlan& plan) {
  std::vector<std::string> out;
  for (auto& s : plan.steps) {
    std::string sfx = plan.steps.size() > 1 ? "." + s.name : "";
    out.push_back("loss" + sfx);
    for (auto& m : step_metric_names(plan, s)) out.push_back(m + sfx);
  }
  return out;
}

std::vector<std::string> val_value_names(const TrainPlan& plan) {
  if (!has_eval(plan)) return {};
  std::vector<std::string> out = {"loss"};
  for (auto& m : eval_metric_names(plan)) out.push_back(m);
  return out;
}

bool is_optimizer_slot(const std::string& name) { return name.rfind("opt.", 0) == 0; }

std::vector<std::string> model_weight_names(const TrainPlan& plan) {
  std::set<std::string> names;
  for (auto& s : plan.steps)
    for (auto& [n, node] : params_of(s.graph))
      if (!is_optimizer_slot(n)) names.insert(n);
  for (auto& [n, node] : params_of(plan.eval))
    if (!is_optimizer_slot(n)) names.insert(n);
  return {names.begin(), names.end()};
}

// ---- checks --------------------------------------------------------------------------

void check_plan(const TrainPlan& plan) {
  if (plan.steps.empty()) throw TrainError("the training plan has no step graphs");
  std::set<std::string> names;
  std::map<std::string, TensorType> param_types;
  auto check_param_type = [&](const std::string& name, const TensorType& t, const std::string& where) {
    auto [it, fresh] = param_types.emplace(name, t);
    if (!fresh && it->second != t)
      throw TrainError(fmt::format("training plan: param '{}' is {} in {} but {} elsewhere", name, type_str(t), where,
                                   type_str(it->second)));
  };
  for (auto& s : plan.steps) {
    const Graph& g = s.graph;
    std::string where = fmt::format("training step '{}'", s.name);
    if (!names.insert(s.name).second) throw TrainError(fmt::format("training plan: two steps are named '{}'", s.name));
    size_t nd = s.data_inputs.size();
    if (g.inputs.size() != nd + 2)
      throw TrainError(
          fmt::format("{}: the graph has {} inputs, expected {} data inputs + lr + step", where, g.inputs.size(), nd));
    for (size_t i = 0; i < nd; ++i)
      if (g.input_name(int(i)) != s.data_inputs[i])
        throw TrainError(fmt::format("{}: graph input {} is '{}', expected data input '{}'", where, i,
                                     g.input_name(int(i)), s.data_inputs[i]));
    const TensorType& lr = g.type(g.inputs[nd]);
    const TensorType& st = g.type(g.inputs[nd + 1]);
    if (g.input_name(int(nd)) != "lr" || lr.rank() != 0 || !is_float(lr.dtype))
      throw TrainError(fmt::format("{}: input {} must be the float scalar 'lr', got '{}' {}", where, nd,
                                   g.input_name(int(nd)), type_str(lr)));
    if (g.input_name(int(nd + 1)) != "step" || st.rank() != 0 || st.dtype == DType::Bool)
      throw TrainError(fmt::format("{}: input {} must be the scalar 'step', got '{}' {}", where, nd + 1,
                                   g.input_name(int(nd + 1)), type_str(st)));
    if (s.n_metrics < 0 || g.outputs.size() < size_t(1 + s.n_metrics) || g.output_names.size() != g.outputs.size())
      throw TrainError(fmt::format("{}: {} outputs for a loss and {} metrics", where, g.outputs.size(), s.n_metrics));
    if (g.output_names[0] != "loss")
      throw TrainError(fmt::format("{}: output 0 must be 'loss', got '{}'", where, g.output_names[0]));
    for (int i = 0; i <= s.n_metrics; ++i) {
      const TensorType& t = g.type(g.outputs[size_t(i)]);
      if (t.rank() != 0 || !is_float(t.dtype))
        throw TrainError(fmt::format("{}: output '{}' must be a float scalar, got {}", where, g.output_names[size_t(i)],
                                     type_str(t, &g.symbols)));
    }
    auto ps = params_of(g);
    for (auto& [n, node] : ps) check_param_type(n, node->type, where);
    std::set<std::string> updated;
    for (size_t k = size_t(1 + s.n_metrics); k < g.outputs.size(); ++k) {
      const std::string& n = g.output_names[k];
      auto it = ps.find(n);
      if (it == ps.end())
        throw TrainError(
            fmt::format("{}: output {} '{}' is not a param of the step graph; updates must be named like "
                        "the tensor they replace",
                        where, k, n));
      if (g.type(g.outputs[k]) != it->second->type)
        throw TrainError(fmt::format("{}: output '{}' is {} but the param is {}", where, n,
                                     type_str(g.type(g.outputs[k]), &g.symbols), type_str(it->second->type)));
      if (!updated.insert(n).second) throw TrainError(fmt::format("{}: '{}' is updated twice", where, n));
    }
  }
  if (has_eval(plan)) {
    const Graph& e = plan.eval;
    const auto& want = plan.steps[0].data_inputs;
    if (e.inputs.size() != want.size())
      throw TrainError(fmt::format("eval graph: {} inputs, expected the data inputs of step '{}' ({})", e.inputs.size(),
                                   plan.steps[0].name, fmt::join(want, ", ")));
    for (size_t i = 0; i < want.size(); ++i)
      if (e.input_name(int(i)) != want[i])
        throw TrainError(fmt::format("eval graph: input {} is '{}', expected '{}'", i, e.input_name(int(i)), want[i]));
    if (e.outputs.empty() || e.output_names.size() != e.outputs.size() || e.output_names[0] != "loss")
      throw TrainError("eval graph: output 0 must be 'loss'");
    for (size_t i = 0; i < e.outputs.size(); ++i)
      if (e.type(e.outputs[i]).rank() != 0 || !is_float(e.type(e.outputs[i]).dtype))
        throw TrainError(fmt::format("eval graph: output '{}' must be a float scalar, got {}", e.output_names[i],
                                     type_str(e.type(e.outputs[i]), &e.symbols)));
    for (auto& [n, node] : params_of(e)) check_param_type(n, node->type, "the eval graph");
  }
}

TensorMap initial_params(const TrainPlan& plan, uint64_t seed, const TensorMap* weights, const std::string& source) {
  TensorMap out;
  std::map<std::string, const Node*> nodes;
  for (auto& s : plan.steps)
    for (auto& [n, node] : params_of(s.graph)) nodes.emplace(n, node);
  for (auto& [n, node] : params_of(plan.eval)) nodes.emplace(n, node);
  if (weights) {
    for (auto& [name, t] : *weights) {
      if (name.rfind("starc.", 0) == 0) continue;  // a checkpoint's counters
      auto it = nodes.find(name);
      if (it == nodes.end())
        throw TrainError(fmt::format("{}: unexpected weight '{}' ({}): the model has no such parameter", source, name,
                                     type_str(t.type())));
      if (t.type() != it->second->type)
        throw TrainError(fmt::format("{}: weight '{}' has the wrong {}: expected {}, got {}", source, name,
                                     t.shape() == it->second->type.shape ? "dtype" : "shape",
                                     type_str(it->second->type), type_str(t.type())));
    }
    for (auto& name : model_weight_names(plan))
      if (!weights->count(name))
        throw TrainError(
            fmt::format("{}: missing weight '{}' (expected {})", source, name, type_str(nodes.at(name)->type)));
  }
  for (auto& [name, node] : nodes) {
    if (weights)
      if (auto it = weights->find(name); it != weights->end()) {
        out[name] = it->second;
        continue;
      }
    out[name] = init_param(*node, seed);
  }
  return out;
}

// ---- pieces ----------------------------------------------------------------------------

std::vector<int64_t> in_order(int64_t n) {
  std::vector<int64_t> idx(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = i;
  return idx;
}

std::vector<int64_t> epoch_order(uint64_t seed, int64_t epoch, int64_t n) {
  std::vector<int64_t> idx(size_t(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) idx[size_t(i)] = i;
  uint64_t stream = kShuffleStream | uint32_t(epoch);
  for (int64_t i = n - 1; i > 0; --i) {
    uint64_t j = block64(seed, stream, uint64_t(i)) % uint64_t(i + 1);
    std::swap(idx[size_t(i)], idx[size_t(j)]);
  }
  return idx;
}

uint64_t update_seed(uint64_t seed, int64_t index) { return block64(seed, kUpdateStream, uint64_t(index)); }

Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& idx, int64_t begin, int64_t end) {
  Shape s = t.shape();
  s[0] = end - begin;
  Tensor out(t.dtype(), s);
  size_t row = t.dim(0) ? t.nbytes() / size_t(t.dim(0)) : 0;
  auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  // A memory-mapped .npy is read from its file: touching the mapping would keep its pages.
  if (end > begin && read_mapped_rows(t, idx.data() + begin, end - begin, row, dst)) return out;
  for (int64_t i = begin; i < end; ++i)
    if (row) std::memcpy(dst + size_t(i - begin) * row, src + size_t(idx[size_t(i)]) * row, row);
  return out;
}

namespace {

// [epoch, updates, train values..., val values (NaN when none)..., lr, seconds]
std::vector<double> history_row(const TrainPlan& plan, const EpochRecord& r) {
  std::vector<double> row = {double(r.epoch), double(r.updates)};
  row.insert(row.end(), r.train.begin(), r.train.end());
  for (size_t i = 0; i < n_val_values(plan); ++i) row.push_back(i < r.val.size() ? r.val[i] : NAN);
  row.push_back(r.lr);
  row.push_back(r.seconds);
  return row;
}

EpochRecord history_record(const TrainPlan& plan, const std::vector<double>& row, const std::string& path) {
  size_t nt = n_train_values(plan), nv = n_val_values(plan);
  if (row.size() != 4 + nt + nv)
    throw TrainError(
        fmt::format("{}: the checkpoint's history has {} columns; this training plan needs {} (was it "
                    "written for another model?)",
                    path, row.size(), 4 + nt + nv));
  EpochRecord r;
  r.epoch = int64_t(row[0]);
  r.updates = int64_t(row[1]);
  r.train.assign(row.begin() + 2, row.begin() + 2 + long(nt));
  bool any_val = false;
  for (size_t i = 0; i < nv; ++i) any_val |= !std::isnan(row[2 + nt + i]);
  if (any_val) r.val.assign(row.begin() + 2 + long(nt), row.begin() + 2 + long(nt + nv));
  r.lr = row[2 + nt + nv];
  r.seconds = row[3 + nt + nv];
  return r;
}

void write_history(const TrainOptions& opts, const TrainPlan& plan, const std::vector<EpochRecord>& h) {
  if (opts.history_csv.empty()) return;
  write_file_atomic(opts.history_csv, history_csv(plan, h));
  std::filesystem::path svg = opts.history_csv;
  svg.replace_extension(".svg");
  write_file_atomic(svg.string(), learning_curve_svg(plan, h));
}

std::string summary_line(const TrainPlan& plan, const EpochRecord& r, int64_t epochs) {
  std::string s = fmt::format("epoch {}/{}", r.epoch, epochs);
  size_t k = 0;
  for (auto& st : plan.steps) {
    std::string sfx = plan.steps.size() > 1 ? fmt::format(" [{}]", st.name) : "";
    s += fmt::format("  train{} loss {}", sfx, fmt_num(r.train[k++]));
    for (auto& m : step_metric_names(plan, st)) s += fmt::format(" {} {}", m, fmt_num(r.train[k++]));
  }
  if (!r.val.empty()) {
    s += fmt::format("  | val loss {}", fmt_num(r.val[0]));
    auto ms = eval_metric_names(plan);
    for (size_t i = 0; i < ms.size() && i + 1 < r.val.size(); ++i)
      s += fmt::format(" {} {}", ms[i], fmt_num(r.val[i + 1]));
  }
  s += fmt::format("  | lr {}  {:.2f}s", fmt_num(r.lr), r.seconds);
  return s;
}

std::string first_nonfinite_output(const TrainStepGraph& s, const std::vector<Tensor>& outs) {
  const Graph& g = s.graph;
  std::vector<size_t> check = {0};
  for (size_t k = size_t(1 + s.n_metrics); k < outs.size(); ++k) check.push_back(k);
  for (size_t k : check) {
    int64_t i = first_nonfinite(outs[k]);
    if (i < 0) continue;
    double v = outs[k].get(i);
    std::string val = std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
    if (k == 0) return fmt::format("the loss is {}", val);
    return fmt::format("the updated '{}' has {} at index {} of {}", g.output_names[k], val, i,
                       type_str(outs[k].type()));
  }
  return "";
}

}  // namespace

// ---- the loop ----------------------------------------------------------------------------

namespace {

// check_data with its messages naming the data by train()'s parameter ("data", "val").
int64_t checked_sample_count(const TrainPlan& plan, const TensorMap& data, bool eval_only, const std::string& param) {
  try {
    return check_data(plan, data, eval_only, param_ref(param));
  } catch (const TrainError& e) {
    throw TrainArgumentError(e.what());
  }
}

// Whether a step's data input has a static batch dim; it must then equal `batch`.
bool has_static_batch(const TrainPlan& plan, int64_t batch) {
  bool static_batch = false;
  for (auto& s : plan.steps)
    for (size_t i = 0; i < s.data_inputs.size(); ++i) {
      Dim d0 = s.graph.type(s.graph.inputs[i]).shape[0];
      if (is_sym(d0)) continue;
      if (d0 != batch)
        throw TrainArgumentError(fmt::format("{} {}: the model's input '{}' has a fixed batch size of {}; use {} {}",
                                             param_ref("batch"), batch, s.data_inputs[i], d0, param_ref("batch"), d0));
      static_batch = true;
    }
  return static_batch;
}

// name -> node of every param of the step graphs.
std::map<std::string, const Node*> step_params(const TrainPlan& plan) {
  std::map<std::string, const Node*> out;
  for (auto& s : plan.steps)
    for (auto& [n, node] : params_of(s.graph)) out.emplace(n, node);
  return out;
}

// The caller's params of a fresh run must hold every param of the step graphs.
void check_initial_params(const TrainPlan& plan, const TensorMap& params) {
  for (auto& [name, node] : step_params(plan)) {
    auto it = params.find(name);
    if (it == params.end()) throw TrainError(fmt::format("missing param '{}' ({})", name, type_str(node->type)));
    if (it->second.type() != node->type)
      throw TrainError(
          fmt::format("param '{}' is {}, expected {}", name, type_str(it->second.type()), type_str(node->type)));
  }
}

// A step graph's inputs: its data rows of the batch, then `lr` and `step` (the update's
// 1-based number) in the dtypes the graph declares.
std::vector<Tensor> step_inputs(const TrainStepGraph& s, const std::map<std::string, Tensor>& batch, double lr,
                                int64_t update) {
  const Graph& g = s.graph;
  std::vector<Tensor> inputs;
  for (auto& name : s.data_inputs) inputs.push_back(batch.at(name));
  size_t nd = s.data_inputs.size();
  inputs.push_back(Tensor::scalar(g.type(g.inputs[nd]).dtype, lr));
  Tensor step_t(g.type(g.inputs[nd + 1]).dtype, {});
  if (step_t.dtype() == DType::I64)
    step_t.data<int64_t>()[0] = update;
  else
    step_t.set(0, double(update));
  inputs.push_back(step_t);
  return inputs;
}

// One train() call: the run's checked sizes, where it is, the params it updates and what
// it has recorded. train() runs its steps in order.
// plan.eval over the n samples of `data` in order, batch by batch: its outputs averaged
// over the samples (empty when no batch ran: a static batch larger than the data).
// Samples [first, n) only when `first` is given (a rank's share).
std::vector<double> evaluate_batches(const TrainPlan& plan, const TensorMap& params, const TensorMap& data, int64_t n,
                                     int64_t B, bool static_batch, Executor* exec, uint64_t run_seed,
                                     int64_t first = 0) {
  std::vector<double> vs(plan.eval.outputs.size(), 0.0), out;
  std::vector<int64_t> ident(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ident[size_t(i)] = i;
  for (int64_t lo = first; lo < n; lo += B) {
    int64_t hi = std::min(n, lo + B);
    if (static_batch && hi - lo < B) break;
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < plan.eval.inputs.size(); ++i)
      inputs.push_back(gather_rows(data.at(plan.eval.input_name(int(i))), ident, lo, hi));
    std::vector<Tensor> outs = exec->run(plan.eval, inputs, params, run_seed);
    for (size_t i = 0; i < vs.size(); ++i) vs[i] += outs[i].get(0) * double(hi - lo);
    out.resize(vs.size());
    for (size_t i = 0; i < vs.size(); ++i) out[i] = vs[i] / double(hi - first);
  }
  return out;
}

struct TrainRun {
  TrainRun(const TrainPlan& plan, const TensorMap& data, const TensorMap* val, const TrainOptions& opts, Executor* exec)
      : plan(plan), data(data), val(val), opts(opts), exec(exec), progress(opts) {
    seed = opts.seed;
    if (!opts.checkpoint_dir.empty()) ckpt = checkpoint_path(opts.checkpoint_dir);
    for (auto& s : plan.steps) used.insert(s.data_inputs.begin(), s.data_inputs.end());
  }

  void check_options() const;
  void count_samples();
  void split_into_batches();
  void start(TensorMap initial);
  TrainResult run_epochs();

 private:
  void restore_checkpoint();
  void check_checkpoint_run(const Checkpoint& c) const;
  void check_checkpoint_params(const Checkpoint& c) const;
  void continue_from(Checkpoint c);
  bool stop_requested() const;
  TrainResult stop(int64_t b, double seconds);
  bool run_batch(const std::vector<int64_t>& order, int64_t b);
  bool run_step(int64_t si, const std::map<std::string, Tensor>& batch, int64_t b, double nrows, int64_t local_rows,
                size_t& k);
  bool root() const;  // writes the checkpoints and files: rank 0, or the only process
  std::string nonfinite_message(const TrainStepGraph& s, const std::vector<Tensor>& inputs, uint64_t run_seed,
                                const std::string& bad, int64_t b, int64_t update) const;
  void end_epoch(double carried_seconds, Clock::time_point t0);
  void save_best();
  std::vector<double> validate();
  Checkpoint make_checkpoint(int64_t ep, int64_t b) const;
  TrainResult finish(TrainResult::Status st, int64_t b);

  const TrainPlan& plan;
  const TensorMap& data;
  const TensorMap* val;
  const TrainOptions& opts;
  Executor* exec;
  std::set<std::string> used;  // data names used by any step
  std::string ckpt;            // checkpoint_dir's checkpoint ("": none)

  // Fixed by the checks.
  int64_t N = 0, n_val = 0;   // training and validation samples
  int64_t B = 0, nb = 0;      // batch size, batches per epoch
  bool static_batch = false;  // a static batch dim: the last partial batch is dropped
  int64_t n_steps = 0, total_updates = 0;
  uint64_t fingerprint = 0;  // of `data`, kept in checkpoints

  // Where the run is and what it has done.
  TensorMap params;
  uint64_t seed = 0;
  int64_t epoch = 0, start_batch = 0;
  std::map<std::string, int64_t> updates;
  std::vector<double> sums;  // [samples, seconds, per step: loss, metrics...]
  double last_lr = 0;        // steps[0]'s lr at its last update of the epoch
  int64_t batches_run = 0;   // by this call
  TrainResult res;
  Progress progress;
};

void TrainRun::check_options() const {
  if (opts.batch < 1)
    throw TrainArgumentError(fmt::format("{} must be at least 1, got {}", param_ref("batch"), opts.batch));
  if (opts.epochs < 1)
    throw TrainArgumentError(fmt::format("{} must be at least 1, got {}", param_ref("epochs"), opts.epochs));
  if (opts.resume && opts.checkpoint_dir.empty())
    throw TrainArgumentError(fmt::format("{} needs a {}", param_ref("resume"), param_ref("checkpoint_dir")));
}

void TrainRun::count_samples() {
  N = checked_sample_count(plan, data, false, "data");
  if (val) {
    if (!has_eval(plan))
      throw TrainArgumentError(fmt::format("{}: the training plan has no eval graph", param_ref("val")));
    n_val = checked_sample_count(plan, *val, true, "val");
  }
}

void TrainRun::split_into_batches() {
  static_batch = has_static_batch(plan, opts.batch);
  if (static_batch && opts.comm)
    throw TrainArgumentError(
        fmt::format("a model with a fixed batch size cannot share its batches between {} ranks", opts.comm->size()));
  B = opts.batch;
  nb = static_batch ? N / B : (N + B - 1) / B;
  if (nb == 0)
    throw TrainArgumentError(fmt::format("{}: {} samples are fewer than one batch of {}", param_ref("data"), N, B));
  n_steps = int64_t(plan.steps.size());
  total_updates = opts.epochs * nb;
  res.batches_per_epoch = nb;
}

// The params, position and counters the epochs start from: the checkpoint's when
// resuming, else `initial` at the beginning.
void TrainRun::start(TensorMap initial) {
  fingerprint = data_fingerprint(data);
  if (opts.resume) {
    restore_checkpoint();
  } else {
    check_initial_params(plan, initial);
    params = std::move(initial);
  }
  res.seed = seed;
  for (auto& s : plan.steps) updates.emplace(s.name, 0);
  const size_t n_sums = 2 + n_train_values(plan);
  if (sums.size() != n_sums) sums.assign(n_sums, 0.0);
}

void TrainRun::restore_checkpoint() {
  if (!std::filesystem::exists(ckpt))
    throw TrainArgumentError(
        fmt::format("{}: no checkpoint at {} (a run with {} {} writes one at the end of every epoch)",
                    param_ref("resume"), ckpt, param_ref("checkpoint_dir"), opts.checkpoint_dir));
  Checkpoint c = read_checkpoint(ckpt);
  check_checkpoint_run(c);
  check_checkpoint_params(c);
  // After the model checks: another model's checkpoint is the likelier mistake, and its
  // message is the more useful one.
  if (c.data_fingerprint && c.data_fingerprint != fingerprint)
    throw TrainArgumentError(
        fmt::format("{}: the training data differs from the data the checkpoint was written for "
                    "(same sample count, {}, but other values, dtypes or shapes)",
                    param_ref("resume"), N));
  continue_from(std::move(c));
}

// The checkpoint's seed, sample count, batch size and position fit this run.
void TrainRun::check_checkpoint_run(const Checkpoint& c) const {
  if (opts.seed_given && c.seed != opts.seed)
    throw TrainArgumentError(fmt::format("{} {} differs from the checkpoint's seed {}; a resumed run keeps its seed",
                                         param_ref("seed"), opts.seed, c.seed));
  if (c.samples != N)
    throw TrainArgumentError(fmt::format("{}: the checkpoint was written for {} training samples, {} has {}",
                                         param_ref("resume"), c.samples, param_ref("data"), N));
  if (c.batch_size != B)
    throw TrainArgumentError(fmt::format("{}: the checkpoint was written with {} {}, got {} {}", param_ref("resume"),
                                         param_ref("batch"), c.batch_size, param_ref("batch"), B));
  if (c.batch < 0 || c.batch > nb || c.epoch < 0)
    throw TrainError(fmt::format("{}: bad position epoch {} batch {}", ckpt, c.epoch, c.batch));
}

// The checkpoint holds exactly the plan's tensors, each of its type.
void TrainRun::check_checkpoint_params(const Checkpoint& c) const {
  std::map<std::string, const Node*> all_params = step_params(plan), eval_params = params_of(plan.eval);
  for (auto& [name, node] : all_params) {
    auto it = c.params.find(name);
    if (it == c.params.end())
      throw TrainError(
          fmt::format("{}: missing '{}' ({}); was it written for another model?", ckpt, name, type_str(node->type)));
    if (it->second.type() != node->type)
      throw TrainError(
          fmt::format("{}: '{}' is {}, expected {}", ckpt, name, type_str(it->second.type()), type_str(node->type)));
  }
  for (auto& [name, t] : c.params)
    if (!all_params.count(name) && !eval_params.count(name))
      throw TrainError(fmt::format("{}: unexpected '{}' ({}): the training plan has no such tensor", ckpt, name,
                                   type_str(t.type())));
}

void TrainRun::continue_from(Checkpoint c) {
  params = std::move(c.params);
  seed = c.seed;
  epoch = c.epoch;
  start_batch = c.batch;
  updates = c.updates;
  for (auto& row : c.history) res.history.push_back(history_record(plan, row, ckpt));
  if (start_batch > 0) sums = c.epoch_sums;
  if (start_batch == nb) ++epoch, start_batch = 0, sums.clear();  // (not written so, but harmless)
  res.checkpoint = ckpt;
}

TrainResult TrainRun::run_epochs() {
  EarlyStopping watch(plan, opts, val != nullptr);
  for (const EpochRecord& r : res.history) watch.record(r);  // a resumed run's epochs so far
  for (; epoch < opts.epochs; ++epoch, start_batch = 0) {
    auto t0 = Clock::now();
    // An epoch resumed in its middle goes on with its time and sums so far.
    double carried_seconds = start_batch > 0 ? sums[1] : 0.0;
    if (start_batch == 0) std::fill(sums.begin(), sums.end(), 0.0);
    std::vector<int64_t> order = opts.shuffle ? epoch_order(seed, epoch, N) : in_order(N);
    progress.begin(epoch, opts.epochs, nb, start_batch);
    last_lr = 0;
    for (int64_t b = start_batch; b < nb; ++b) {
      if (stop_requested()) return stop(b, carried_seconds + since(t0));
      if (!run_batch(order, b)) return finish(TrainResult::Status::NonFinite, b);
      ++batches_run;
      progress.batch(b + 1, sums[2] / sums[0]);
      if (opts.on_batch) opts.on_batch(epoch + 1, b + 1, sums[2] / sums[0]);
    }
    end_epoch(carried_seconds, t0);
    if (watch.record(res.history.back())) save_best();
    res.best_epoch = watch.best_epoch(), res.best_value = watch.best_value();
    if (watch.exhausted(epoch + 1)) {
      res.early_stopped = true;
      res.message = "early stop: " + watch.summary(epoch + 1);
      ++epoch;
      break;
    }
  }
  return finish(TrainResult::Status::Done, 0);
}

// DIR/best.npz: the model weights (parameters and state) of the best epoch so far.
void TrainRun::save_best() {
  if (opts.checkpoint_dir.empty() || !root()) return;
  TensorMap w;
  for (const std::string& name : model_weight_names(plan)) w[name] = params.at(name);
  res.best_weights = (std::filesystem::path(opts.checkpoint_dir) / "best.npz").string();
  write_npz(res.best_weights, w);
}

bool TrainRun::stop_requested() const {
  return (opts.stop && opts.stop->load()) || (opts.stop_after_batches >= 0 && batches_run >= opts.stop_after_batches);
}

// Stopped before batch b: a checkpoint of the position (if anywhere to write it).
TrainResult TrainRun::stop(int64_t b, double seconds) {
  sums[1] = seconds;
  if (!opts.checkpoint_dir.empty() || !opts.stop_checkpoint_dir.empty()) {
    std::string path = ckpt.empty() ? checkpoint_path(opts.stop_checkpoint_dir) : ckpt;
    if (root()) write_checkpoint(path, make_checkpoint(epoch, b));
    res.checkpoint = path;
  }
  return finish(TrainResult::Status::Stopped, b);
}

// Batch b of the epoch through every step graph; false when one produced a non-finite
// value (res.message says where).
bool TrainRun::run_batch(const std::vector<int64_t>& order, int64_t b) {
  int64_t lo = b * B, hi = std::min(N, lo + B);
  int64_t mine_lo = lo, mine_hi = hi;  // this rank's rows of the global batch
  if (opts.comm) {
    auto [first, end] = rank_range(*opts.comm, hi - lo);
    mine_lo = lo + first, mine_hi = lo + end;
  }
  std::map<std::string, Tensor> batch;
  for (auto& name : used) batch[name] = gather_rows(data.at(name), order, mine_lo, mine_hi);
  double nrows = double(hi - lo);
  size_t k = 2;  // sums[k]: the next step's loss
  for (int64_t si = 0; si < n_steps; ++si)
    if (!run_step(si, batch, b, nrows, mine_hi - mine_lo, k)) return false;
  sums[0] += nrows;
  return true;
}

// One update of step si: run, check, write the updated tensors back, add up its loss and
// metrics (weighted by the batch's rows) from sums[k] on.
bool TrainRun::root() const { return !opts.comm || opts.comm->root(); }

bool TrainRun::run_step(int64_t si, const std::map<std::string, Tensor>& batch, int64_t b, double nrows,
                        int64_t local_rows, size_t& k) {
  const TrainStepGraph& s = plan.steps[size_t(si)];
  const Graph& g = s.graph;
  int64_t upd = updates[s.name] + 1;
  double lr = learning_rate(s.schedule, upd - 1, epoch, total_updates);
  if (si == 0) last_lr = lr;
  std::vector<Tensor> inputs = step_inputs(s, batch, lr, upd);
  uint64_t run_seed = update_seed(seed, (epoch * nb + b) * n_steps + si);
  std::vector<Tensor> outs = opts.comm ? run_parallel_step(s, inputs, local_rows, params, run_seed, *exec, *opts.comm)
                                       : exec->run(g, inputs, params, run_seed);
  if (outs.size() != g.outputs.size())
    throw std::runtime_error(fmt::format("executor returned {} results for {} outputs", outs.size(), g.outputs.size()));
  if (std::string bad = first_nonfinite_output(s, outs); !bad.empty()) {
    res.message = nonfinite_message(s, inputs, run_seed, bad, b, upd);
    return false;
  }
  for (size_t o = size_t(1 + s.n_metrics); o < outs.size(); ++o) params[g.output_names[o]] = outs[o];
  updates[s.name] = upd;
  for (int m = 0; m <= s.n_metrics; ++m) sums[k++] += outs[size_t(m)].get(0) * nrows;
  return true;
}

// Where the non-finite value `bad` appeared, the node that made the first one (the
// reference interpreter re-runs the step to find it) and what was kept.
std::string TrainRun::nonfinite_message(const TrainStepGraph& s, const std::vector<Tensor>& inputs, uint64_t run_seed,
                                        const std::string& bad, int64_t b, int64_t update) const {
  std::string first;
  try {
    run_graph(s.graph, inputs, params, RunOptions{run_seed, true});
    first = "the reference interpreter found no non-finite value when re-running this step";
  } catch (const NonFiniteError& e) {
    first = fmt::format("the first non-finite value: {}", e.what());
  }
  std::string where =
      fmt::format("epoch {}, batch {}/{} (update {} of step '{}')", epoch + 1, b + 1, nb, update, s.name);
  std::string kept = res.checkpoint.empty() ? "no checkpoint had been written yet"
                                            : fmt::format("the last good checkpoint, {}, is kept", res.checkpoint);
  return fmt::format("non-finite values at {}: {}\n  {}\n  training stopped without saving this state; {}", where, bad,
                     first, kept);
}

// End of the epoch: validation, its record, checkpoint, history, summary line.
void TrainRun::end_epoch(double carried_seconds, Clock::time_point t0) {
  EpochRecord rec;
  rec.epoch = epoch + 1;
  rec.updates = updates[plan.steps[0].name];
  for (size_t i = 2; i < sums.size(); ++i) rec.train.push_back(sums[i] / sums[0]);
  rec.lr = last_lr;
  if (val) rec.val = validate();
  rec.seconds = carried_seconds + since(t0);
  res.history.push_back(rec);
  if (!ckpt.empty()) {
    if (root()) write_checkpoint(ckpt, make_checkpoint(epoch + 1, 0));
    res.checkpoint = ckpt;
  }
  if (root()) write_history(opts, plan, res.history);
  progress.clear();
  if (opts.out) {
    fmt::print(opts.out, "{}\n", summary_line(plan, rec, opts.epochs));
    std::fflush(opts.out);
  }
  if (opts.on_epoch) opts.on_epoch(rec);
}

// plan.eval over the validation data in order, batch by batch: its outputs averaged over
// the samples (empty when no batch ran: a static batch larger than the data).
std::vector<double> TrainRun::validate() {
  uint64_t run_seed = block64(seed, kEvalStream, uint64_t(epoch));
  if (!opts.comm) return evaluate_batches(plan, params, *val, n_val, B, static_batch, exec, run_seed);
  // Each rank its contiguous share, then the means weighted by the shares' sizes.
  auto [first, end] = rank_range(*opts.comm, n_val);
  std::vector<double> mine = evaluate_batches(plan, params, *val, end, B, false, exec, run_seed, first);
  if (mine.empty()) mine.assign(plan.eval.outputs.size(), 0.0);
  return allreduce_mean(*opts.comm, mine, double(end - first));
}

// The run at epoch `ep`, before its batch `b`.
Checkpoint TrainRun::make_checkpoint(int64_t ep, int64_t b) const {
  Checkpoint c;
  c.params = params;
  c.seed = seed;
  c.epoch = ep;
  c.batch = b;
  c.updates = updates;
  c.batch_size = B;
  c.samples = N;
  c.data_fingerprint = fingerprint;
  c.epochs = opts.epochs;
  c.epoch_sums = b > 0 ? sums : std::vector<double>{};
  for (auto& r : res.history) c.history.push_back(history_row(plan, r));
  return c;
}

TrainResult TrainRun::finish(TrainResult::Status st, int64_t b) {
  progress.clear();
  res.status = st;
  res.epoch = epoch;
  res.batch = b;
  res.params = params;
  return res;
}

}  // namespace

std::vector<double> evaluate(const TrainPlan& plan, const TensorMap& params, const TensorMap& data, int64_t batch,
                             Executor* exec, uint64_t seed) {
  if (batch < 1) throw TrainArgumentError(fmt::format("{} must be at least 1, got {}", param_ref("batch"), batch));
  int64_t n = check_data(plan, data, true, "data");
  InterpreterExecutor interp;
  return evaluate_batches(plan, params, data, n, batch, has_static_batch(plan, batch), exec ? exec : &interp,
                          block64(seed, kEvalStream, 0));
}

TrainResult train(const TrainPlan& plan, TensorMap params, const TensorMap& data, const TensorMap* val,
                  const TrainOptions& opts, Executor* exec) {
  check_plan(plan);
  InterpreterExecutor interp;
  TrainRun run(plan, data, val, opts, exec ? exec : &interp);
  run.check_options();
  run.count_samples();
  run.split_into_batches();
  run.start(std::move(params));  // from the checkpoint when resuming
  return run.run_epochs();
}

}  // namespace starc
