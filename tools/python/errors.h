// The Python module's exceptions (docs/python.md, "Errors"): starc.Error and, by the
// api::Error's kind, starc.CompileError (with .diagnostics), starc.ShapeError (also a
// ValueError) and starc.DataError. Every api::Error becomes one of them.
#pragma once
#include <pybind11/pybind11.h>

namespace starc::python {

namespace py = pybind11;

// Adds Error, CompileError, ShapeError, DataError and Diagnostic (a named tuple: file,
// line, col, message, text) to `m`, and the translator from api::Error.
void register_errors(py::module_& m);

}  // namespace starc::python
