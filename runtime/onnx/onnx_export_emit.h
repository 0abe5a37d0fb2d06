// runtime/onnx: the exporter's emitter, internal to starc_onnx: it appends ONNX nodes to
// the graph being filled (the main graph or a Scan body), names values, and makes the
// helper tensors the op mappings need (constant index lists, a symbolic dim's runtime
// size). onnx_export.cpp walks the graph; onnx_export_ops.cpp maps each op.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/onnx/onnx_export.h"
#include "runtime/onnx/onnx_file.h"

namespace starc::onnx_export {

class Emitter;

// One starc node being exported: its ONNX input names, and the name its result must get.
struct OpCall {
  Emitter& e;
  const Node& node;
  const Graph& graph;  // the graph holding the node (a scan body has its own)
  std::vector<std::string> in;
  std::string out;
  int id;              // the node's id in `graph`
  std::string prefix;  // of value names in this graph ("" or "%6/")
  const TensorType& in_type(size_t i) const { return graph.type(node.inputs.at(i)); }
  const TensorType& type() const { return node.type; }
  // Throws OnnxExportError naming this node and its source location.
  [[noreturn]] void refuse(const std::string& why) const;
};

// An op's mapping: emits nodes computing c.out from c.in.
using MapFn = std::function<void(OpCall& c)>;
struct OpEntry {
  std::string onnx;     // the ONNX ops used, for the op table
  MapFn fn;             // null: refused
  std::string refused;  // why, when refused
};
// The op table (onnx_export_ops.cpp): every registered op has an entry.
const std::map<std::string, OpEntry>& op_entries();
// scan as ONNX's Scan with the body as its graph (onnx_export_scan.cpp).
void export_scan(OpCall& c);

class Emitter {
 public:
  Emitter(onnx::GraphProto* main, const Graph& top, const TensorMap& weights, const OnnxExportOptions& options)
      : main_(main), cur_(main), top_(top), weights_(weights), options_(options) {}

  const OnnxExportOptions& options() const { return options_; }
  int opset() const { return options_.opset; }

  // A new value name, unique in the model ("<hint>.<n>").
  std::string fresh(const std::string& hint);
  // Appends a node to the graph being filled.
  onnx::NodeProto& add(const std::string& op_type, const std::vector<std::string>& inputs,
                       const std::vector<std::string>& outputs);
  // A node with one fresh output; returns its name.
  std::string op(const std::string& op_type, const std::vector<std::string>& inputs,
                 const std::function<void(onnx::NodeProto&)>& attrs = {});

  // Constants, as initializers of the main graph (a Scan body sees them from outside).
  std::string const_ints(const std::vector<int64_t>& v);  // 1-D i64
  std::string const_scalar(DType t, double v);            // rank 0
  std::string const_tensor(const Tensor& t, const std::string& hint);
  // A 1-D i64 tensor of the dims of `shape`: constant when static, otherwise built at run
  // time from the size of each symbolic dim in a graph input.
  std::string shape_tensor(const Shape& shape, const SymbolNames& syms);

  // Switches node emission to `g` (a Scan body) until the returned guard is dropped.
  struct Into {
    Emitter& e;
    onnx::GraphProto* saved;
    ~Into() { e.cur_ = saved; }
  };
  Into into(onnx::GraphProto* g) {
    Into guard{*this, cur_};
    cur_ = g;
    return guard;
  }

  // Exports the nodes of `g` (the main graph or a scan body) into the current graph;
  // `names` holds the ONNX name of each value already bound (inputs, captures) and gets
  // the others. `prefix` makes value names unique ("%6/" in the body of node %6).
  void nodes(const Graph& g, std::vector<std::string>& names, const std::string& prefix);

  int64_t initializer_bytes = 0;

 private:
  std::string dim_tensor(Dim d, const SymbolNames& syms);  // 1-D [1]
  void export_node(const Graph& g, int id, std::vector<std::string>& names, const std::string& prefix);

  onnx::GraphProto* main_;
  onnx::GraphProto* cur_;
  const Graph& top_;
  const TensorMap& weights_;
  OnnxExportOptions options_;
  int counter_ = 0;
  std::map<std::string, std::string> consts_;  // content key -> initializer name
  std::map<std::string, std::string> dims_;    // symbol name -> its size tensor
  std::set<std::string> params_;               // weights already written
};

// Attribute setters for node mappings.
void set_attr(onnx::NodeProto& n, const std::string& name, int64_t v);
void set_attr(onnx::NodeProto& n, const std::string& name, float v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::string& v);
void set_attr(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v);
// A value's type with a symbolic dim as dim_param (its name in `syms`).
void set_type(onnx::ValueInfoProto& vi, const std::string& name, const TensorType& t, const SymbolNames& syms);
// "node %5 (random_normal, file.net:83:13)" for messages.
std::string node_where(const Graph& g, int id, const std::string& prefix);

}  // namespace starc::onnx_export
