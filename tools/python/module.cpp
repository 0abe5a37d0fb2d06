// The module `starc._starc` (the package `starc` re-exports it): programs, models and
// options. Models' calls are in model.cpp, arrays in arrays.cpp, exceptions in errors.cpp.
#include <dlfcn.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cctype>

#include "tools/python/arrays.h"
#include "tools/python/bindings.h"
#include "tools/python/errors.h"

namespace starc::python {

PyModel::PyModel(api::Model m, const api::Options& o, bool training)
    : model(std::move(m)), inputs(model.inputs()), outputs(model.outputs()), options(o), training(training) {}

std::string fs_path(py::handle path) {
  auto fspath = py::reinterpret_steal<py::object>(PyOS_FSPath(path.ptr()));
  if (!fspath) throw py::error_already_set();
  if (PyBytes_Check(fspath.ptr())) return fspath.cast<std::string>();
  auto bytes = py::reinterpret_steal<py::object>(PyUnicode_EncodeFSDefault(fspath.ptr()));
  if (!bytes) throw py::error_already_set();
  return std::string(PyBytes_AS_STRING(bytes.ptr()), size_t(PyBytes_GET_SIZE(bytes.ptr())));
}

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int64_t non_negative(py::handle v, const char* what) {
  auto n = v.cast<int64_t>();
  if (n < 0) throw py::value_error(std::string(what) + " must be at least 0, got " + std::to_string(n));
  return n;
}

// One keyword option into `o`; false when `key` is not an option.
bool set_option(api::Options& o, bool* training, const std::string& key, py::handle v) {
  if (key == "backend") {
    std::string b = lower(v.cast<std::string>());
    if (b != "jit" && b != "ref" && b != "reference")
      throw py::value_error("backend must be \"jit\" or \"ref\", got \"" + b + "\"");
    o.backend = b == "jit" ? api::Backend::Jit : api::Backend::Reference;
  } else if (key == "device") {
    std::string d = lower(v.cast<std::string>());
    if (d != "cpu" && d != "cuda") throw py::value_error("device must be \"cpu\" or \"cuda\", got \"" + d + "\"");
    o.device = d == "cuda" ? Device::Cuda : Device::Cpu;
  } else if (key == "threads") {
    o.threads = int(non_negative(v, "threads"));
  } else if (key == "conv_algo") {
    try {
      o.conv_algo = parse_conv_algo(lower(v.cast<std::string>()));
    } catch (const std::invalid_argument& e) {
      throw py::value_error(std::string("conv_algo: ") + e.what());
    }
  } else if (key == "seed") {
    o.seed = uint64_t(non_negative(v, "seed"));
  } else if (key == "disk_cache") {
    o.disk_cache = v.cast<bool>();
  } else if (key == "cache_dir") {
    o.cache_dir = v.is_none() ? "" : fs_path(v);
  } else if (key == "training") {
    *training = v.cast<bool>();
  } else {
    return false;
  }
  return true;
}

py::object make_spec_type() {
  return py::module_::import("collections")
      .attr("namedtuple")("TensorSpec", "name dtype shape", py::arg("module") = "starc");
}

// Generated code calls the OpenMP runtime (__kmpc_*), which the JIT looks up among the
// process's global symbols. Python loads extensions RTLD_LOCAL, which hides the libomp this
// module links; reopening it RTLD_GLOBAL makes it visible, as it is in the starc command.
void expose_openmp() {
  if (!dlopen(STARC_LIBOMP_PATH, RTLD_NOW | RTLD_GLOBAL))
    throw py::import_error(std::string("starc: cannot load the OpenMP runtime: ") + dlerror());
}

PyObject* spec_type = nullptr;  // starc.TensorSpec, made at import, held for the process

py::object model_of(const api::Program& p, const py::object& name, const py::kwargs& kwargs) {
  bool training = false;
  api::Options o = model_options(kwargs, &training);
  std::string chosen = name.is_none() ? "" : name.cast<std::string>();
  api::Model m = p.model(chosen, o, training);
  return py::cast(std::make_shared<PyModel>(std::move(m), o, training));
}

}  // namespace

api::Options model_options(const py::kwargs& kwargs, bool* training) {
  api::Options o;
  for (auto [k, v] : kwargs) {
    std::string key = py::str(k);
    if (!set_option(o, training, key, v))
      throw py::type_error("unexpected keyword argument '" + key +
                           "' (the options: backend, device, threads, conv_algo, seed, disk_cache, cache_dir, "
                           "training)");
  }
  return o;
}

py::object spec_tuple(const api::TensorSpec& s) {
  py::list shape;
  for (const std::string& d : s.dims) {
    bool number = !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return std::isdigit(c); });
    if (number)
      shape.append(std::stoll(d));
    else
      shape.append(d);
  }
  return py::handle(spec_type)(s.name, numpy_dtype(s.dtype), py::tuple(shape));
}

void bind_program(py::module_& m) {
  expose_openmp();
  spec_type = make_spec_type().release().ptr();
  m.add_object("TensorSpec", py::handle(spec_type));
  py::class_<api::Program>(m, "Program", "A loaded .net program: its models, by name.")
      .def(py::init([](py::handle path) { return api::Program::from_file(fs_path(path)); }), py::arg("path"),
           "Loads a .net file and what it imports (CompileError with the diagnostics).")
      .def_static(
          "from_string",
          [](const std::string& src, const std::string& name) { return api::Program::from_source(src, name); },
          py::arg("source"), py::arg("name") = "<source>.net",
          "Loads source text as the file `name` (imports resolve from its folder).")
      .def_property_readonly("models", &api::Program::models, "The models of the main file, in source order.")
      .def("model", &model_of, py::arg("name") = py::none(),
           "A model (name=None: the only one) with keyword options: backend, device, threads, conv_algo, seed, "
           "disk_cache, cache_dir, training.");
  m.def(
      "load",
      [](py::handle path, const py::object& model, const py::kwargs& kwargs) {
        return model_of(api::Program::from_file(fs_path(path)), model, kwargs);
      },
      py::arg("path"), py::arg("model") = py::none(),
      "Loads a model from a .net file (model=None: the file's only model). Keyword options: backend=\"jit\"|\"ref\", "
      "device=\"cpu\"|\"cuda\", threads=0 (every core), conv_algo=\"auto\"|\"direct\"|\"fft\", seed=0, "
      "disk_cache=True, cache_dir=None, training=False.");
  m.def(
      "load_string",
      [](const std::string& src, const py::object& model, const std::string& name, const py::kwargs& kwargs) {
        return model_of(api::Program::from_source(src, name), model, kwargs);
      },
      py::arg("source"), py::arg("model") = py::none(), py::arg("name") = "<source>.net",
      "Loads a model from source text, as if it were the file `name`; the options of load().");
}

}  // namespace starc::python

PYBIND11_MODULE(_starc, m) {
  m.doc() = "starc: compile, run and differentiate .net models on NumPy arrays (docs/python.md).";
  starc::python::register_errors(m);
  starc::python::bind_program(m);
  starc::python::bind_model(m);
  starc::python::bind_training(m);
  starc::python::bind_onnx(m);
}
