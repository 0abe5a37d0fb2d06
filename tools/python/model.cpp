// starc.Model: specs, weights, calls, gradients and compile stages over api::Model.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>

#include "tools/python/arrays.h"
#include "tools/python/bindings.h"

namespace starc::python {

namespace {

using ModelPtr = std::shared_ptr<PyModel>;

// The model's lock for work done with the GIL held (reading or replacing weights).
std::unique_lock<std::recursive_mutex> lock_model(PyModel& self) {
  std::unique_lock<std::recursive_mutex> lock(self.mu, std::defer_lock);
  py::gil_scoped_release nogil;
  lock.lock();
  return lock;
}

std::optional<DType> input_dtype(const PyModel& self, size_t i) {
  return i < self.inputs.size() ? std::optional(self.inputs[i].dtype) : std::nullopt;
}

// A call's inputs in the model's order: positional ones, then by name, with Python's rules
// (an input given twice, an unknown name, a missing input are errors). Positional only: as
// given, for the API to check the count.
std::vector<InputTensor> gather(const PyModel& self, const py::args& args, const py::kwargs& kwargs) {
  const std::vector<api::TensorSpec>& specs = self.inputs;
  auto at = [&](size_t i, py::handle v) { return to_tensor(v, input_dtype(self, i), "input", specs[i].name); };
  std::vector<InputTensor> in;
  if (kwargs.empty()) {
    for (size_t i = 0; i < args.size(); ++i)
      in.push_back(i < specs.size() ? at(i, args[i]) : to_tensor(args[i], std::nullopt, "input", std::to_string(i)));
    return in;
  }
  const std::string& model = self.model.name();
  if (args.size() > specs.size())
    throw api::Error(api::ErrorKind::Shape,
                     fmt::format("model {} takes {} inputs, got {} by position", model, specs.size(), args.size()));
  in.resize(specs.size());
  std::vector<bool> given(specs.size(), false);
  for (size_t i = 0; i < args.size(); ++i) {
    in[i] = at(i, args[i]);
    given[i] = true;
  }
  for (auto [k, v] : kwargs) {
    std::string key = py::str(k);
    auto it = std::find_if(specs.begin(), specs.end(), [&](const api::TensorSpec& s) { return s.name == key; });
    if (it == specs.end())
      throw api::Error(api::ErrorKind::Shape, fmt::format("model {} has no input '{}'", model, key));
    size_t i = size_t(it - specs.begin());
    if (given[i]) throw py::type_error(fmt::format("input '{}' given twice: by position and by name", key));
    in[i] = at(i, v);
    given[i] = true;
  }
  for (size_t i = 0; i < specs.size(); ++i)
    if (!given[i])
      throw api::Error(api::ErrorKind::Shape, fmt::format("model {}: input '{}' is missing", model, specs[i].name));
  return in;
}

std::vector<Tensor> tensors_of(const std::vector<InputTensor>& in) {
  std::vector<Tensor> out;
  out.reserve(in.size());
  for (const InputTensor& t : in) out.push_back(t.tensor);
  return out;
}

// An array of a result; read-only where it shares memory with a read-only input (the
// reference backend returns an input, or a reshape of one, without copying it).
py::array result_array(const Tensor& t, const std::vector<InputTensor>& in) {
  auto* p = static_cast<const std::byte*>(t.raw());
  for (const InputTensor& i : in) {
    if (!i.readonly || !i.tensor.defined()) continue;
    auto* begin = static_cast<const std::byte*>(i.tensor.raw());
    if (p >= begin && p < begin + std::max<size_t>(i.tensor.nbytes(), 1)) return to_array(t, false);
  }
  return to_array(t, true);
}

py::object call(PyModel& self, const py::args& args, const py::kwargs& kwargs) {
  std::vector<InputTensor> in = gather(self, args, kwargs);
  std::vector<Tensor> tensors = tensors_of(in);  // held here: their arrays are let go with the GIL
  std::vector<Tensor> out = without_gil(self, [&] { return self.model.run(tensors); });
  if (out.size() == 1) return result_array(out[0], in);
  py::dict named;
  for (size_t i = 0; i < out.size(); ++i) named[py::str(self.outputs[i].name)] = result_array(out[i], in);
  return named;
}

// Model.grad: the gradients of the sum of the float outputs, or of the output named by a
// first str argument (m.grad("output", wrt="flux", flux=x)), keyed by the input or
// parameter name (api::Model::gradients); `wrt` picks one (a str) or several (a list).
py::object grad(PyModel& self, py::args args, py::kwargs kwargs) {
  py::object wrt = py::none();
  if (kwargs.contains("wrt")) {
    wrt = kwargs["wrt"];
    PyDict_DelItemString(kwargs.ptr(), "wrt");
  }
  std::string of;
  if (args.size() > 0 && py::isinstance<py::str>(args[0])) {
    of = args[0].cast<std::string>();
    args = py::tuple(args[py::slice(1, args.size(), 1)]);
  }
  std::vector<InputTensor> in = gather(self, args, kwargs);
  std::vector<Tensor> tensors = tensors_of(in);
  std::map<std::string, Tensor> g = without_gil(self, [&] { return self.model.gradients(tensors, of); });
  auto pick = [&](const std::string& name) {
    auto it = g.find("d_" + name);
    if (it != g.end()) return result_array(it->second, in);
    std::vector<std::string> names;
    for (auto& [d, t] : g) names.push_back(d.substr(2));
    throw api::Error(
        fmt::format("model {} has no gradient with respect to '{}' (float inputs and trainable "
                    "parameters: {})",
                    self.model.name(), name, fmt::join(names, ", ")));
  };
  if (py::isinstance<py::str>(wrt)) return pick(wrt.cast<std::string>());
  py::dict out;
  if (wrt.is_none())
    for (auto& [d, t] : g) out[py::str(d.substr(2))] = result_array(t, in);
  else
    for (py::handle w : wrt) out[w] = pick(py::str(w));
  return out;
}

py::dict weights(PyModel& self) {
  auto lock = lock_model(self);
  py::dict out;
  for (auto& [name, t] : self.model.weights()) out[py::str(name)] = to_array(t, false);
  return out;
}

// The model keeps its own copy: a later write to the caller's array changes nothing.
void set_weight(PyModel& self, const std::string& name, py::handle value) {
  std::optional<DType> want;
  for (const api::TensorSpec& p : self.model.params())
    if (p.name == name) want = p.dtype;
  if (!want)
    throw api::Error(api::ErrorKind::Shape, fmt::format("model {} has no parameter '{}'", self.model.name(), name));
  InputTensor t = to_tensor(value, want, "weight", name);
  Tensor copy = t.tensor.clone();
  auto lock = lock_model(self);
  self.model.set_weight(name, copy);
}

Stage stage_of(const std::string& emit) {
  if (emit == "opt") return Stage::Opt;
  if (emit == "mlir") return Stage::Mlir;
  if (emit == "llvm") return Stage::Llvm;
  if (emit == "ptx") return Stage::Ptx;
  throw py::value_error("emit must be \"opt\", \"mlir\", \"llvm\" or \"ptx\", got \"" + emit + "\"");
}

py::list specs(const std::vector<api::TensorSpec>& s) {
  py::list out;
  for (const api::TensorSpec& t : s) out.append(spec_tuple(t));
  return out;
}

std::string type_text(const api::TensorSpec& s) {
  return fmt::format("{}: {}[{}]", s.name, dtype_name(s.dtype), fmt::join(s.dims, ","));
}

std::string repr(const PyModel& self) {
  std::vector<std::string> in, out;
  for (auto& s : self.inputs) in.push_back(type_text(s));
  for (auto& s : self.outputs) out.push_back(type_text(s));
  return fmt::format("<starc.Model {}({}) -> ({}); {}, {}{}>", self.model.name(), fmt::join(in, ", "),
                     fmt::join(out, ", "), self.options.backend == api::Backend::Jit ? "jit" : "ref",
                     self.options.device == Device::Cuda ? "cuda" : "cpu", self.training ? ", training" : "");
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<PyModel, ModelPtr>(m, "Model", "A model of a .net program, compiled on its first call (docs/python.md).")
      .def_property_readonly("name", [](const PyModel& s) { return s.model.name(); })
      .def_property_readonly(
          "inputs", [](const PyModel& s) { return specs(s.inputs); },
          "TensorSpec(name, dtype, shape) of each input; symbolic dims are str.")
      .def_property_readonly("outputs", [](const PyModel& s) { return specs(s.outputs); })
      .def_property_readonly(
          "params", [](const PyModel& s) { return specs(s.model.params()); }, "The parameters, sorted by dotted name.")
      .def(
          "init", [](PyModel& s, uint64_t seed) { without_gil(s, [&] { s.model.init(seed); }); }, py::arg("seed") = 0,
          "Weights from the parameters' initialisers.")
      .def(
          "load_weights",
          [](PyModel& s, py::handle path) {
            std::string file = fs_path(path);
            without_gil(s, [&] { s.model.load_weights(file); });
          },
          py::arg("path"), "Weights from an .npz file, checked against the parameters (DataError).")
      .def(
          "save_weights",
          [](PyModel& s, py::handle path) {
            std::string file = fs_path(path);
            without_gil(s, [&] { s.model.save_weights(file); });
          },
          py::arg("path"))
      .def_property_readonly("weights", &weights, "name -> read-only array over the model's weight (no copy).")
      .def("set_weight", &set_weight, py::arg("name"), py::arg("value"),
           "Replaces one weight with a copy of `value` (its dtype and shape must fit).")
      .def("__call__", &call,
           "The forward pass: m(x) or m(name=array, ...). One output: an array; several: a dict by name.")
      .def("grad", &grad,
           "Gradients of the sum of the float outputs, or of one output named first (m.grad(\"output\", x)): "
           "m.grad(x, wrt=\"x\") -> array; wrt=[...] or None -> dict keyed by input or parameter name.")
      .def(
          "_dot", [](PyModel& s) { return s.model.dot(); }, "The graph in Graphviz's DOT language.")
      .def(
          "graph",
          [](PyModel& s, const std::string& emit, int64_t batch) {
            Stage stage = stage_of(emit);
            return without_gil(s, [&] { return s.model.emit(stage, batch); });
          },
          py::arg("emit") = "opt", py::arg("batch") = 1,
          "A stage of the compilation as text (\"opt\", \"mlir\", \"llvm\", \"ptx\"), symbolic dims set to batch.")
      .def("__repr__", &repr);
}

}  // namespace starc::python
