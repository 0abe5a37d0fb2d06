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

// One row of the operator tables: how to convert, and what it becomes (docs/onnx.md).
struct OnnxOp {
  OnnxConverter convert;
  std::string becomes;
};

// Converts one node (onnx_import.cpp): checks, the converter, naming.
void convert_node(Importer& imp, const onnx::NodeProto& n);

// `y = layer(x, args) as scope` with `weights` under `scope.<name>` (import_layers.cpp);
// `hint` names y ("" : the node's output).
ImportValue emit_layer(Importer& imp, const std::string& layer, const ImportValue& x, const std::string& args,
                       const std::string& scope, const std::vector<std::pair<std::string, Tensor>>& weights,
                       const TensorType& out, const std::string& hint = "");

// nullptr for an op type starc does not import.
const OnnxConverter* find_converter(const std::string& op_type);
const OnnxOp* find_layer_op(const std::string& op_type);
std::vector<std::pair<std::string, const OnnxOp*>> layer_ops();
void convert_lstm(Importer& imp);  // import_recurrent.cpp
void convert_gru(Importer& imp);
void convert_scan(Importer& imp);  // import_scan.cpp

}  // namespace starc
