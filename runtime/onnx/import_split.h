// runtime/onnx: values split by a symbolic product (import_split.cpp).
#pragma once
#include <optional>

#include "runtime/onnx/import_context.h"

namespace starc {

bool any_split(const std::vector<ImportValue>& in);
// A starc op over inputs of which some are split: attributes mapped through the groups.
ImportValue apply_split(Importer& imp, const std::string& op, const std::vector<ImportValue>& in, Attrs attrs);
// ONNX's Reshape to a target that may hold products with a symbolic dim.
ImportValue reshape_split(Importer& imp, const ImportValue& x, const Ints& onnx_target);
// The ONNX shape of v: a split group as the product of its dims (a derived code).
Shape onnx_shape(Importer& imp, const ImportValue& v);
// a * b or a / b of scalar dims known at import when one is symbolic; nullopt otherwise.
std::optional<Tensor> multiply_dims(Importer& imp, const std::string& op, const Tensor& a, const Tensor& b);

}  // namespace starc
