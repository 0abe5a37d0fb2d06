// runtime/onnx: `starc import` — an ONNX model as a readable `.net` model plus its weights
// (docs/onnx.md). Plain patterns become std.nn layers (Gemm -> dense, Conv -> conv1d,
// BatchNormalization -> batchnorm, ...), everything else primitive ops; shape arithmetic
// (Shape -> Gather -> Concat -> Reshape) is folded at import. The generated source is then
// checked by starc's own front end and the weights loaded into it, so what is written is a
// model starc accepts, and anything unsupported is an error naming the ONNX node.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

struct OnnxImportOptions {
  std::string model_name;  // "" = from the file name ("photoz_mlp.onnx" -> PhotozMlp)
  // Dynamic input dims given a fixed size ({"B": 8}): for graphs that compute with them
  // (torch's attention reshapes to [T, B * heads, d]), which starc's symbolic dims cannot.
  std::map<std::string, int64_t> dims;
};

// An imported model before it is written: the source and the weights under the source's
// parameter names.
struct ImportedModel {
  std::string name;
  std::string source;
  std::map<std::string, Tensor> weights;
  int64_t opset = 0;
  std::string producer;  // "pytorch 1.13.0", ...
};

// Converts and checks; throws OnnxError (onnx_file.h, a std::runtime_error) naming the
// file and the node for anything unsupported or inconsistent. `source_path` is where the
// source will live (its folder is where `use std.nn` is resolved from, and names it in
// errors).
ImportedModel import_onnx(const std::string& onnx_path, const std::string& source_path,
                          const OnnxImportOptions& options = {});

// import_onnx, then writes DIR/<Name>.net and DIR/weights.npz (creating DIR). Nothing is
// written when the import fails. Returns the path of the .net file.
std::string import_onnx_to_dir(const std::string& onnx_path, const std::string& dir,
                               const OnnxImportOptions& options = {});

// The operators starc imports and what each becomes, as a markdown table (docs/onnx.md).
std::string onnx_import_table_markdown();

}  // namespace starc
