#include "tools/python/errors.h"

#include <string>

#include "runtime/api/starc.h"

namespace starc::python {

namespace {

// The classes, made once by register_errors; the module holds them for the process.
struct Classes {
  PyObject *error = nullptr, *compile = nullptr, *shape = nullptr, *data = nullptr;
  PyObject* diagnostic = nullptr;
};
Classes classes;

PyObject* new_class(py::module_& m, const char* name, const char* doc, PyObject* bases) {
  std::string dotted = std::string("starc.") + name;  // __module__ "starc", not "starc._starc"
  PyObject* c = PyErr_NewExceptionWithDoc(dotted.c_str(), doc, bases, nullptr);
  if (!c) throw py::error_already_set();
  m.add_object(name, py::handle(c));
  return c;
}

// Text from the library as a Python str; a file name that is not UTF-8 must not turn an
// error into a different one.
py::str text(const std::string& s) {
  return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(s.data(), py::ssize_t(s.size()), "replace"));
}

PyObject* class_of(api::ErrorKind kind) {
  switch (kind) {
    case api::ErrorKind::Compile:
      return classes.compile;
    case api::ErrorKind::Shape:
      return classes.shape;
    case api::ErrorKind::Data:
      return classes.data;
    case api::ErrorKind::Other:
      break;
  }
  return classes.error;
}

// Sets the Python exception for `e`: its message (for a source error followed by each
// diagnostic as the compiler prints it, with the source line and caret) and .diagnostics.
void raise(const api::Error& e) {
  PyObject* cls = class_of(e.kind());
  std::string message = e.what();
  py::list diagnostics;
  auto make = py::handle(classes.diagnostic);
  for (const api::Diagnostic& d : e.diagnostics()) {
    diagnostics.append(make(text(d.file), d.line, d.col, text(d.message), text(d.text)));
    message += "\n" + d.text.substr(0, d.text.find_last_not_of('\n') + 1);
  }
  py::object exc = py::reinterpret_borrow<py::object>(cls)(text(message));
  exc.attr("diagnostics") = diagnostics;
  PyErr_SetObject(cls, exc.ptr());
}

}  // namespace

void register_errors(py::module_& m) {
  classes.diagnostic = py::module_::import("collections")
                           .attr("namedtuple")("Diagnostic", "file line col message text", py::arg("module") = "starc")
                           .release()
                           .ptr();
  m.add_object("Diagnostic", py::handle(classes.diagnostic));
  classes.error = new_class(m, "Error",
                            "Any failure of starc. .diagnostics: the located source errors (a list of "
                            "Diagnostic(file, line, col, message, text); empty unless the source has errors).",
                            PyExc_Exception);
  PyObject_SetAttrString(classes.error, "diagnostics", py::tuple().ptr());  // the default: none
  classes.compile = new_class(
      m, "CompileError", "The program does not compile: .diagnostics has each error with its location.", classes.error);
  py::tuple shape_bases = py::make_tuple(py::handle(classes.error), py::handle(PyExc_ValueError));
  classes.shape = new_class(m, "ShapeError", "An input or weight does not fit its spec: count, name, dtype or shape.",
                            shape_bases.ptr());
  classes.data = new_class(m, "DataError", "A file cannot be read or written, is corrupt, or does not fit the model.",
                           classes.error);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const api::Error& e) {
      try {
        raise(e);
      } catch (const py::error_already_set&) {  // making the exception failed: keep the message
        PyErr_SetString(classes.error, e.what());
      }
    }
  });
}

}  // namespace starc::python
