// The Python module `starc` (docs/python.md): a thin client of the C++ API
// (runtime/api/starc.h). What the files of tools/python share.
#pragma once
#include <pybind11/pybind11.h>

#include <mutex>
#include <string>
#include <vector>

#include "runtime/api/starc.h"

namespace starc::python {

namespace py = pybind11;

// A model as Python holds it: the API's model, its specs (read on every call, so kept),
// and a lock, since the GIL is released while its compiled code runs and two Python
// threads may call the same model. Recursive: fit's on_epoch callback may call the model.
struct PyModel {
  PyModel(api::Model m, const api::Options& o, bool training);
  api::Model model;
  std::vector<api::TensorSpec> inputs, outputs;
  api::Options options;
  bool training;
  std::recursive_mutex mu;
};

// Runs f() without the GIL, holding the model's lock (taken after the GIL is let go, so a
// thread waiting for the lock never blocks one that needs the GIL).
template <class F>
auto without_gil(PyModel& self, F&& f) -> decltype(f()) {
  py::gil_scoped_release nogil;
  std::lock_guard<std::recursive_mutex> lock(self.mu);
  return f();
}

// A path argument (str, bytes or os.PathLike) as the file system's bytes.
std::string fs_path(py::handle path);

// The keyword options of load / load_string / Program.model: backend, device, threads,
// conv_algo, seed, disk_cache, cache_dir, training. Unknown keywords: TypeError.
api::Options model_options(const py::kwargs& kwargs, bool* training);

// starc.TensorSpec(name, dtype, shape): the dtype as a NumPy dtype, symbolic dims as str.
py::object spec_tuple(const api::TensorSpec& s);

void bind_program(py::module_& m);
void bind_model(py::module_& m);
// Model.fit and starc.compile, over api::Model::fit and compile_library.
void bind_training(py::module_& m);
// starc._import_onnx and Model.export_onnx, over runtime/onnx.
void bind_onnx(py::module_& m);

}  // namespace starc::python
