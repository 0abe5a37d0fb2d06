// runtime/onnx: the converters of ONNX operators, one per op type. import_ops.cpp holds
// the primitive ones, import_layers.cpp those that become std.nn layers with weights.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "runtime/onnx/import_context.h"

namespace starc {

// Converts imp.node, defining its outputs; throws through imp.fail().
using OnnxConverter = std::function<void(Importer&)>;

// nullptr for an op type starc does not import.
const OnnxConverter* find_converter(const std::string& op_type);
const OnnxConverter* find_layer_converter(const std::string& op_type);
std::vector<std::string> layer_onnx_ops();
void convert_lstm(Importer& imp);  // import_recurrent.cpp
void convert_gru(Importer& imp);
// Every op type find_converter knows, sorted (docs/onnx.md's table is checked against it).
std::vector<std::string> supported_onnx_ops();

}  // namespace starc
