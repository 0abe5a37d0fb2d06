// runtime/api: Model::fit and Model::evaluate (the trainer, runtime/trainer.h),
// Model::compile_library (the AOT builder, runtime/aot/aot_builder.h) and simulate
// (runtime/astro/simulate.h), on the model's weights and options.
#include <fmt/format.h>

#include "runtime/aot/aot_builder.h"
#include "runtime/astro/simulate.h"
#include "runtime/api/model_impl.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "runtime/trainer.h"

namespace starc::api {
namespace {

// The model's train plan; an Error with the diagnostics when its train block is missing
// or wrong.
TrainPlan train_plan_of(Model::Impl& m) {
  std::optional<TrainPlan> plan = m.program->program.build_train(m.graph.name);
  if (!plan) m.program->fail(fmt::format("the train block of model '{}'", m.graph.name));
  return std::move(*plan);
}

std::vector<std::pair<std::string, double>> named(const std::vector<std::string>& names,
                                                  const std::vector<double>& values) {
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < values.size() && i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

TrainOptions trainer_options(const FitOptions& f) {
  TrainOptions o;
  o.epochs = f.epochs;
  o.batch = f.batch;
  o.seed = f.seed;
  o.shuffle = f.shuffle;
  o.checkpoint_dir = f.checkpoint_dir;
  o.resume = f.resume;
  o.history_csv = f.history_csv;
  o.progress = f.progress ? ProgressMode::Plain : ProgressMode::None;
  o.out = nullptr;
  o.stop = f.stop;
  o.on_batch = f.on_step;
  o.early_stop_patience = f.early_stop_patience;
  o.monitor = f.monitor;
  o.monitor_max = f.monitor_max;
  return o;
}

}  // namespace

FitResult Model::fit(const std::map<std::string, Tensor>& data, const std::map<std::string, Tensor>& val,
                     const FitOptions& options, const std::function<void(const Epoch&)>& on_epoch) {
  Impl& m = *impl_;
  TrainPlan plan = train_plan_of(m);
  const std::vector<std::string> train_names = train_value_names(plan), val_names = val_value_names(plan);
  TrainOptions o = trainer_options(options);
  std::vector<Epoch> history;
  auto to_epoch = [&](const EpochRecord& r) {
    return Epoch{r.epoch, named(train_names, r.train), named(val_names, r.val), r.lr, r.seconds};
  };
  if (on_epoch) o.on_epoch = [&](const EpochRecord& r) { on_epoch(to_epoch(r)); };
  TrainResult r = guarded([&] {
    TensorMap start;
    if (!options.resume) start = initial_params(plan, options.seed, m.has_weights ? &m.weights : nullptr, "weights");
    InterpreterExecutor interp;
    Executor* exec = m.options.backend == Backend::Reference ? static_cast<Executor*>(&interp) : &m.jit_executor();
    return train(plan, std::move(start), data, val.empty() ? nullptr : &val, o, exec);
  });
  if (r.status == TrainResult::Status::NonFinite) throw Error(r.message);
  for (const std::string& name : model_weight_names(plan)) m.weights[name] = r.params.at(name);
  m.has_weights = true;
  FitResult out;
  out.stopped = r.status == TrainResult::Status::Stopped;
  out.checkpoint = r.checkpoint;
  out.early_stopped = r.early_stopped;
  out.best_epoch = r.best_epoch;
  out.best_weights = r.best_weights;
  for (const EpochRecord& e : r.history) out.history.push_back(to_epoch(e));
  return out;
}

std::vector<std::pair<std::string, double>> Model::evaluate(const std::map<std::string, Tensor>& data, int64_t batch) {
  Impl& m = *impl_;
  if (!m.has_weights && !m.graph.params().empty())
    throw Error(fmt::format("model {} has no weights yet: call init(seed) or load_weights(file)", name()));
  TrainPlan plan = train_plan_of(m);
  std::vector<double> values = guarded([&] {
    InterpreterExecutor interp;
    Executor* exec = m.options.backend == Backend::Reference ? static_cast<Executor*>(&interp) : &m.jit_executor();
    return starc::evaluate(plan, m.weights, data, batch, exec, m.options.seed);
  });
  return named(val_value_names(plan), values);
}

std::map<std::string, Tensor> simulate(const std::string& task, int64_t n, uint64_t seed,
                                       const std::map<std::string, std::string>& options) {
  return guarded([&] { return ::starc::simulate(task, n, seed, options); });
}

std::vector<std::string> simulation_tasks() {
  std::vector<std::string> out;
  for (const SimTaskSpec& t : ::starc::simulation_tasks()) out.push_back(t.name);
  return out;
}

std::vector<std::string> Model::compile_library(const std::string& dir, const LibraryOptions& options) const {
  Impl& m = *impl_;
  if (!m.has_weights && !m.graph.params().empty())
    throw Error(fmt::format("model {} has no weights to build in: call init(seed) or load_weights(file)", name()));
  std::optional<TrainPlan> plan;
  if (options.train_step) plan = train_plan_of(m);
  AotOptions a;
  a.out_dir = dir;
  a.batch = options.batch;
  a.dynamic_batch = options.dynamic_batch;
  a.train = plan ? &*plan : nullptr;
  a.target = options.target;
  a.conv_algo = m.options.conv_algo;
  a.device = m.options.device;
  a.threads = options.threads;
  a.weights_file = options.weights_file;
  a.seed = m.options.seed;
  return guarded([&] { return build_aot_library(m.graph, m.weights, a).files; });
}

}  // namespace starc::api
