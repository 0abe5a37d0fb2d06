// starc.import_onnx and Model.export_onnx (docs/onnx.md), over runtime/onnx: the same
// files as `starc import` and `starc export`. Their errors are starc.DataError.
#include <pybind11/stl.h>

#include "runtime/onnx/onnx_export.h"
#include "runtime/onnx/onnx_import.h"
#include "tools/python/bindings.h"

namespace starc::python {

namespace {

template <class F>
auto as_data_error(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const api::Error&) {
    throw;
  } catch (const std::runtime_error& e) {  // OnnxError, OnnxExportError: the file or model does not fit
    throw api::Error(api::ErrorKind::Data, e.what());
  }
}

std::string import_onnx_file(py::handle path, py::handle out, const std::string& name,
                             const std::map<std::string, int64_t>& dims) {
  std::string onnx = fs_path(path), dir = fs_path(out);
  py::gil_scoped_release nogil;
  OnnxImportOptions options;
  options.model_name = name;
  options.dims = dims;
  return as_data_error([&] { return import_onnx_to_dir(onnx, dir, options); });
}

void export_onnx(PyModel& self, py::handle path, py::object batch, int opset, bool allow_random) {
  OnnxExportOptions o;
  if (!batch.is_none()) o.batch = batch.cast<int64_t>();
  o.opset = opset;
  o.random_ops = allow_random;
  std::string file = fs_path(path);
  without_gil(self, [&] {
    as_data_error([&] { return export_onnx_file(file, self.model.graph(), self.model.weights(), o); });
  });
}

}  // namespace

void bind_onnx(py::module_& m) {
  m.def("_import_onnx", &import_onnx_file, py::arg("path"), py::arg("out"), py::arg("name") = "",
        py::arg("dims") = std::map<std::string, int64_t>{},
        "Writes out/<Name>.net and out/weights.npz from an ONNX model, as `starc import`; returns the .net path.");
  py::class_<PyModel, std::shared_ptr<PyModel>> model = m.attr("Model");
  model.def("export_onnx", &export_onnx, py::arg("path"), py::arg("batch") = py::none(), py::arg("opset") = 17,
            py::arg("allow_random") = false,
            "The forward pass (inference mode) and the weights as an ONNX file, as `starc export`: symbolic dims "
            "stay dynamic axes unless `batch` fixes them; opset 13 to 17.");
}

}  // namespace starc::python
