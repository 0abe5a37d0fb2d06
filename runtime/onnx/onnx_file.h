// runtime/onnx: reading and writing ONNX files and converting their tensors, shared by
// import (onnx_import.h) and export (onnx_export.h). The protobuf classes are those of
// Debian's libonnx-dev (onnx/onnx_pb.h, namespace onnx); this header is internal to the
// starc_onnx library, whose public headers do not expose protobuf.
#pragma once
#include <onnx/onnx_pb.h>

#include <stdexcept>
#include <string>

#include "compiler/ir/tensor.h"

namespace starc {

// Everything wrong with an ONNX file or a model in it: the message names the file, and
// the node or tensor where there is one.
struct OnnxError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads and parses `path`; throws OnnxError for a missing, truncated or corrupt file,
// or one without a graph.
onnx::ModelProto read_onnx_model(const std::string& path);
// Serialises atomically (temp file, then rename); throws OnnxError naming the path.
void write_onnx_model(const std::string& path, const onnx::ModelProto& model);

// The opset of the default ("" or "ai.onnx") domain, 0 when the model names none.
int64_t onnx_default_opset(const onnx::ModelProto& model);

// An initializer or Constant value as a starc Tensor: float/double stay f32/f64,
// float16 becomes f32, every integer type i64, bool bool. Data may be raw_data, the typed
// fields, or external (data_location EXTERNAL: a file relative to `base_dir`, which may
// not leave it). `what` names the tensor in errors (e.g. "initializer 'fc.weight'").
// Throws OnnxError when the data disagrees with the dims or the type is unsupported.
Tensor tensor_from_onnx(const onnx::TensorProto& t, const std::string& base_dir, const std::string& what);
// A starc Tensor as an ONNX tensor with raw_data (f32, f64, i64, bool).
void tensor_to_onnx(const Tensor& t, const std::string& name, onnx::TensorProto* out);

// ONNX element type numbers <-> starc dtypes; nullopt for types starc has no dtype for.
std::optional<DType> dtype_from_onnx(int32_t elem_type);
int32_t dtype_to_onnx(DType t);
std::string onnx_type_name(int32_t elem_type);

}  // namespace starc
