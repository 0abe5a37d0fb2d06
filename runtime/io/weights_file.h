// runtime: starc weights files (docs/weights.md, "STARCWT1"): the weights of an
// ahead-of-time compiled library, embedded in it or as a side file, in the fixed order
// of its parameters. Written here; read by the generated C code (compiler/aot/aot_api.h)
// and by read_weights_file for tests and tools.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes atomically (temp file, then rename); throws std::runtime_error naming the path.
void write_weights_file(const std::string& path, const NamedTensors& tensors);
// Throws std::runtime_error with the path and what is wrong (magic, truncation, types).
NamedTensors read_weights_file(const std::string& path);

}  // namespace starc
