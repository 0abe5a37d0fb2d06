// runtime/onnx: exporting a model's forward pass as an ONNX model (docs/onnx.md): the
// graph after the same passes as `starc run` (inference mode), the weights as
// initializers, the model's input and output names, and a symbolic dim (the batch B) as
// a dynamic axis unless a batch is given. Every primitive op maps to ONNX nodes in one
// table (onnx_export_ops.cpp); ops without an equivalent are refused by name and source
// location. The file passes onnx.checker and runs in ONNX Runtime (tests/onnx/ort_run.js).
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "runtime/interpreter.h"
#include "runtime/param_error.h"

namespace starc {

// An export that cannot be done: an op without an ONNX equivalent (the message names the
// op, its node and source location), weights that do not fit, a bad option. Options are
// named with param_ref (batch, opset, random_ops) so that a front end can re-word them.
struct OnnxExportError : ParamError<std::runtime_error> {
  using ParamError::ParamError;
};

// The opsets of the default domain the exporter writes (ONNX 1.12, as libonnx-dev).
constexpr int kOnnxMinOpset = 13, kOnnxMaxOpset = 17;

struct OnnxExportOptions {
  // Every symbolic dim fixed to this value; nullopt: symbolic dims stay dynamic axes
  // (dim_param named as in the model, e.g. "B").
  std::optional<int64_t> batch;
  int opset = kOnnxMaxOpset;
  // random_normal / random_uniform (a model that draws noise, e.g. a GAN's generator):
  // false refuses them (ONNX cannot reproduce starc's Philox numbers); true exports them as
  // ONNX's RandomNormalLike / RandomUniformLike: the same distribution, other numbers.
  bool random_ops = false;
};

struct OnnxExportResult {
  std::string bytes;  // the serialised ModelProto
  int64_t nodes = 0;  // in the main graph (a Scan's body counts as its node)
  int64_t initializers = 0, initializer_bytes = 0;
  std::vector<std::string> inputs, outputs;  // "name: f32[B,5]"
};

// Exports `forward`, a model's graph in inference mode as the front end builds it (the
// passes are run here, as for `starc run`), with `weights` (checked against its params:
// names, dtypes, shapes). Throws OnnxExportError.
OnnxExportResult export_onnx(const Graph& forward, const TensorMap& weights, const OnnxExportOptions& options = {});
// Throws OnnxExportError for an opset outside [kOnnxMinOpset, kOnnxMaxOpset] or a batch
// below 1 (export_onnx checks them too; a front end may check before loading anything).
void check_onnx_export_options(const OnnxExportOptions& options);
// The same, written atomically to `path` (nothing is written when the export fails).
OnnxExportResult export_onnx_file(const std::string& path, const Graph& forward, const TensorMap& weights,
                                  const OnnxExportOptions& options = {});

// What each primitive op becomes: `onnx` names the ONNX ops it maps to, or `refused`
// says why it has no export. One entry per registered op, in `starc ops` order.
struct OnnxOpMapping {
  std::string op, onnx, refused;
};
std::vector<OnnxOpMapping> onnx_op_table();
// The table as markdown (`starc export --ops`; docs/onnx.md holds it).
std::string onnx_op_table_markdown();

}  // namespace starc
