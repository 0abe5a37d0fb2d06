// Model.fit and starc.compile, over api::Model::fit (the trainer of `starc train`) and
// api::Model::compile_library (the builder of `starc compile`). The progress line and the
// on_epoch wrapper are in starc/__init__.py.
#include <fmt/format.h>
#include <pybind11/stl.h>

#include <atomic>
#include <csignal>
#include <optional>

#include "tools/python/arrays.h"
#include "tools/python/bindings.h"

namespace starc::python {

namespace {

// Ctrl-C during fit. Python runs its SIGINT handler only between bytecodes, and training runs
// without the GIL; so while fit runs on the main thread (with Python's default handler in
// place) a C handler sets the fit's stop flag instead: the batch in flight finishes, the
// checkpoint is written, and fit raises KeyboardInterrupt.
std::atomic<std::atomic<bool>*> sigint_stop{nullptr};
std::atomic<bool> sigint_seen{false};

extern "C" void on_sigint(int) {
  sigint_seen.store(true);
  if (std::atomic<bool>* stop = sigint_stop.load()) stop->store(true);
}

class SigintStops {
 public:
  explicit SigintStops(std::atomic<bool>* stop) {
    py::module_ signal = py::module_::import("signal"), threading = py::module_::import("threading");
    bool main = threading.attr("current_thread")().is(threading.attr("main_thread")());
    if (!main || !signal.attr("getsignal")(SIGINT).is(signal.attr("default_int_handler"))) return;
    sigint_seen = false;
    sigint_stop = stop;
    struct sigaction sa = {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    installed_ = sigaction(SIGINT, &sa, &old_) == 0;
  }
  ~SigintStops() {
    if (!installed_) return;
    sigaction(SIGINT, &old_, nullptr);
    sigint_stop = nullptr;
  }
  bool interrupted() const { return installed_ && sigint_seen.load(); }

 private:
  bool installed_ = false;
  struct sigaction old_ = {};
};

// An epoch as Python sees it: loss and metrics by name, the validation ones as "val_NAME",
// then lr and seconds.
py::dict logs_of(const api::Epoch& e) {
  py::dict logs;
  for (auto& [name, v] : e.train) logs[py::str(name)] = v;
  for (auto& [name, v] : e.val) logs[py::str("val_" + name)] = v;
  logs["lr"] = e.lr;
  logs["seconds"] = e.seconds;
  return logs;
}

// Training data: name -> array, the first axis the samples. A model input gets its spec's
// dtype; other arrays (labels) keep theirs (float16 -> f32, integers -> i64).
std::map<std::string, Tensor> data_of(const PyModel& self, const py::dict& data, std::vector<InputTensor>& keep) {
  std::map<std::string, Tensor> out;
  for (auto [k, v] : data) {
    std::string name = py::str(k);
    std::optional<DType> want;
    for (const api::TensorSpec& s : self.inputs)
      if (s.name == name) want = s.dtype;
    keep.push_back(to_tensor(v, want, "data", name));
    out.emplace(name, keep.back().tensor);
  }
  return out;
}

api::FitOptions fit_options(const py::kwargs& kw) {
  api::FitOptions o;
  for (auto [k, v] : kw) {
    std::string key = py::str(k);
    if (key == "epochs")
      o.epochs = v.cast<int64_t>();
    else if (key == "batch")
      o.batch = v.cast<int64_t>();
    else if (key == "seed")
      o.seed = v.cast<uint64_t>();
    else if (key == "shuffle")
      o.shuffle = v.cast<bool>();
    else if (key == "checkpoint")
      o.checkpoint_dir = v.is_none() ? "" : fs_path(v);
    else if (key == "resume")
      o.resume = v.cast<bool>();
    else if (key == "history_csv")
      o.history_csv = v.is_none() ? "" : fs_path(v);
    else if (key == "early_stop")
      o.early_stop_patience = v.cast<int64_t>();
    else if (key == "monitor") {  // a history column: "val_loss", "val_accuracy:max", ...
      std::string m = v.cast<std::string>();
      o.monitor_max = m.size() > 4 && m.compare(m.size() - 4, 4, ":max") == 0;
      o.monitor = m.substr(0, m.rfind(':') == std::string::npos ? m.size() : m.rfind(':'));
    } else
      throw py::type_error("fit: unexpected keyword argument '" + key + "'");
  }
  return o;
}

// m._fit(data, val, on_epoch, **options) -> list of logs, one per epoch (a resumed run's
// earlier epochs too). on_epoch(epoch, logs) runs with the GIL after every epoch; an
// exception there stops training and is raised.
py::list fit(PyModel& self, const py::dict& data, const py::object& val, const py::object& on_epoch,
             const py::object& on_step, const py::kwargs& kwargs) {
  api::FitOptions options = fit_options(kwargs);
  std::vector<InputTensor> keep;
  std::map<std::string, Tensor> train = data_of(self, data, keep), valid;
  if (!val.is_none()) valid = data_of(self, val.cast<py::dict>(), keep);
  std::atomic<bool> stop{false};
  options.stop = &stop;
  std::optional<py::error_already_set> failed;
  auto callback = [&](const api::Epoch& e) {
    py::gil_scoped_acquire gil;
    if (on_epoch.is_none() || failed) return;
    try {
      on_epoch(e.epoch, logs_of(e));
    } catch (py::error_already_set& err) {
      failed = std::move(err);
      stop = true;
    }
  };
  if (!on_step.is_none())
    options.on_step = [&](int64_t epoch, int64_t batch, double loss) {
      py::gil_scoped_acquire gil;
      if (failed) return;
      try {
        on_step(epoch, batch, loss);
      } catch (py::error_already_set& err) {
        failed = std::move(err);
        stop = true;
      }
    };
  SigintStops sigint(&stop);
  api::FitResult r = without_gil(self, [&] { return self.model.fit(train, valid, options, callback); });
  if (failed) throw std::move(*failed);
  if (r.stopped && sigint.interrupted()) {
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw py::error_already_set();
  }
  py::list history;
  for (const api::Epoch& e : r.history) history.append(logs_of(e));
  return history;
}

// m.evaluate(data, batch=32) -> {"loss": ..., metric: ...} of the train block's eval graph.
py::dict evaluate(PyModel& self, const py::dict& data, int64_t batch) {
  std::vector<InputTensor> keep;
  std::map<std::string, Tensor> d = data_of(self, data, keep);
  std::vector<std::pair<std::string, double>> values = without_gil(self, [&] { return self.model.evaluate(d, batch); });
  py::dict out;
  for (auto& [name, v] : values) out[py::str(name)] = v;
  return out;
}

// starc.simulate(task, n, seed=0, **options) -> {file name: array}.
py::dict simulate(const std::string& task, int64_t n, uint64_t seed, const py::kwargs& kw) {
  std::map<std::string, std::string> options;
  for (auto [k, v] : kw) options[py::str(k)] = py::str(v);
  std::map<std::string, Tensor> files;
  {
    py::gil_scoped_release release;
    files = api::simulate(task, n, seed, options);
  }
  py::dict out;
  for (auto& [name, t] : files) out[py::str(name)] = to_array(t);
  return out;
}

// starc.compile(m, out, batch=1, ...) -> the files written into `out`.
std::vector<std::string> compile(PyModel& self, py::handle out, const py::object& batch, bool train_step,
                                 const std::string& target, int threads, bool weights_file) {
  api::LibraryOptions o;
  if (py::isinstance<py::str>(batch)) {
    if (batch.cast<std::string>() != "dynamic") throw py::value_error("batch must be a number or \"dynamic\"");
    o.dynamic_batch = true;
  } else {
    o.batch = batch.cast<int64_t>();
  }
  o.train_step = train_step;
  o.target = target;
  o.threads = threads;
  o.weights_file = weights_file;
  std::string dir = fs_path(out);
  return without_gil(self, [&] { return self.model.compile_library(dir, o); });
}

}  // namespace

void bind_training(py::module_& m) {
  py::class_<PyModel, std::shared_ptr<PyModel>> model = m.attr("Model");
  model.def("_fit", &fit, py::arg("data"), py::arg("val") = py::none(), py::arg("on_epoch") = py::none(),
            py::arg("on_step") = py::none(), "Model.fit without the progress line (starc/__init__.py wraps it).");
  model.def("evaluate", &evaluate, py::arg("data"), py::arg("batch") = 32,
            "The loss and metrics of the train block's eval graph (inference mode) on `data`, averaged over the "
            "samples: a dict \"loss\", then the metrics by name.");
  m.def("simulate", &simulate, py::arg("task"), py::arg("n"), py::arg("seed") = 0,
        "Simulated training data of an astronomy task, as `starc simulate` (docs/simulators.md): a dict file name -> "
        "array; the task's options as keywords (snr_min=5).");
  m.def("simulation_tasks", &api::simulation_tasks, "The names of the simulation tasks.");
  m.def("compile", &compile, py::arg("model"), py::arg("out"), py::arg("batch") = 1, py::arg("train_step") = false,
        py::arg("target") = "host", py::arg("threads") = 1, py::arg("weights_file") = false,
        "An ahead-of-time C library of the model and its weights in folder `out`, as `starc compile` (docs/aot.md): "
        "batch (a number or \"dynamic\"), train_step, target (\"host\" or an LLVM CPU), threads, weights_file. "
        "Returns the names of the files written.");
}

}  // namespace starc::python
