// Model.fit and starc.compile: over api::Model::fit and compile_library, once the API has
// them (docs/python.md, "Training").
#include "tools/python/bindings.h"

namespace starc::python {

void bind_training(py::module_& m) {}

}  // namespace starc::python
