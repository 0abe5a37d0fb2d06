// runtime/onnx: the state of one ONNX import (onnx_import.cpp drives it; import_ops.cpp
// and import_layers.cpp convert nodes with it). Every ONNX value becomes an ImportValue:
// its starc type (shapes come from starc's own op rules, so a broken file gets starc's
// shape errors) and either a .net expression or a tensor known at import. Ops whose
// inputs are all known are folded with starc's reference kernels; the others are printed
// as .net statements, one per line, with the ONNX node named in a comment.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/ir/attr.h"
#include "runtime/onnx/onnx_file.h"

namespace starc {

// One line of the generated model: `var = rhs  # comment`, or a `param`/`state`
// declaration (var is its name). `weights` are the entries of weights.npz it owns and
// `layer` the std.nn function it calls, so that dropping a dead line drops them too.
struct Statement {
  std::string var, rhs, comment;
  std::vector<std::string> weights;
  std::string layer;
  bool block = false;  // rhs is a whole nested `fn var(...) { ... }` (a Scan body)
  std::string text() const;
};

struct ImportValue {
  TensorType type;
  std::string expr;             // a .net variable (empty: only `known` so far)
  std::optional<Tensor> known;  // the value, when known at import; i64 vectors may hold symbolic dims
  bool zeros = false;
  // ONNX axis i spans groups[i] starc axes (empty: one each). A dim that is a product with a
  // symbolic dim (torch's attention reshapes [T, B, 32] to [T, B * 4, 8]) cannot be a starc
  // dim, so the value keeps it split ([T, B, 4, 8]); import_split.cpp maps the ops over it.
  std::vector<int> groups;
  bool split() const { return !groups.empty(); }
  int onnx_rank() const { return split() ? int(groups.size()) : type.rank(); }
  // When it is transpose(*transpose_of, perm: transpose_perm): a transpose back is the original.
  std::shared_ptr<const ImportValue> transpose_of;
  Ints transpose_perm;      // all zeros, of a shape with symbolic dims: written as `full` when used
  std::string initializer;  // the ONNX initializer it is, if one (layers take these as weights)
  // The variable a known value was declared as when first used as data (shared by copies).
  std::shared_ptr<std::string> declared = std::make_shared<std::string>();
  bool has_symbolic() const;
};

// A slice end that reaches past the first element walking backwards (`x[5::-1]`, printed
// without the end): Python's end -1 would mean the last element.
constexpr int64_t kSliceFromEnd = -(int64_t(1) << 31);  // above kSymBase: not a symbolic dim

// The largest value (elements) folded at import; bigger ones are computed by the model.
constexpr int64_t kMaxFolded = int64_t(1) << 20;

class Importer {
 public:
  // `std_nn`: the names `use std.nn` brings into the generated source (onnx_import.cpp).
  Importer(const onnx::ModelProto& model, std::string file, std::string base_dir, std::set<std::string> std_nn);

  const onnx::ModelProto& model;
  const std::string file;      // the ONNX file, for messages
  const std::string base_dir;  // external data is read relative to it
  int64_t opset = 0;
  SymbolNames symbols;                        // symbolic dims (the model's input dims), index = sym_index
  std::map<std::string, int64_t> fixed_dims;  // dynamic dims given a size (OnnxImportOptions::dims)
  std::set<std::string> fixed_dims_used;

  // ---- values, by ONNX name
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  const ImportValue& value(const std::string& name) const;
  void define(const std::string& name, ImportValue v) { values_[name] = std::move(v); }
  // A graph's (or a Scan body's) initializer: a known value that layers may take as a weight.
  void define_initializer(const onnx::TensorProto& init);
  // Node inputs and outputs that are used (an empty name is an omitted optional input).
  int uses(const std::string& name) const;
  void count_uses();
  // The nodes reading `name`, and the nodes a layer converter already took over (a
  // MatMul's bias Add): the driver skips those.
  std::vector<const onnx::NodeProto*> consumers(const std::string& name) const;
  std::set<const onnx::NodeProto*> fused;

  int subgraph_depth = 0;  // > 0 while a Scan body is converted (layers then stay primitive ops)

  // ---- the node being converted
  const onnx::NodeProto* node = nullptr;
  const ImportValue& in(int i) const;  // input i (must be present)
  bool has_in(int i) const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  double attr_float(const std::string& name, double fallback) const;
  std::string attr_str(const std::string& name, const std::string& fallback) const;
  std::optional<Ints> attr_ints(const std::string& name) const;
  const onnx::AttributeProto* attr(const std::string& name) const;
  // Input i as a list of static ints known at import (axes, pads, shapes); symbolic dims kept.
  // With `dims`: the values are sizes (a shape), checked to be static or symbolic dims.
  Ints known_ints(int i, const std::string& what, bool dims = false) const;
  void define_output(int i, ImportValue v);
  // "model.onnx: node '/fc/Gemm' (Gemm, opset 17): MSG"
  [[noreturn]] void fail(const std::string& msg) const;
  std::string where() const;

  // ---- emitting .net
  // Applies a starc primitive op: folded when every input is known, else printed as
  // `var = op(...)`. Shape errors become errors naming the ONNX node.
  ImportValue apply(const std::string& op, const std::vector<ImportValue>& in, Attrs attrs = {});
  // A statement `var = rhs` whose result has type `type`; returns the value. A std.nn
  // `layer` call names the function and the weights it owns (already added).
  ImportValue emit(const std::string& rhs, const TensorType& type, const std::string& hint = "",
                   const std::string& layer = "", std::vector<std::string> weights = {});
  // An operand: the variable, a number literal for a known scalar when `literal_ok`, or a
  // model-level param (initializers) / state (other constants) declared on first use.
  std::string operand(const ImportValue& v, bool literal_ok = false);
  // A unique layer scope name (`dense(...) as NAME`) from an initializer or a hint.
  std::string scope_name(const std::string& initializer, const std::string& fallback);
  void add_weight(const std::string& dotted_name, const Tensor& t);
  // starc's type of `op` applied to these inputs (throws via fail()).
  TensorType infer(const std::string& op, const std::vector<TensorType>& in, const Attrs& attrs) const;
  std::string type_text(const TensorType& t) const;
  std::string ints_text(const Ints& v) const;
  std::string fresh_var(const std::string& hint);
  void reserve_name(const std::string& name) { taken_.insert(name); }
  static std::string identifier(const std::string& raw);
  // A readable variable name from an ONNX value name (torch's "/block/Conv_output_0").
  static std::string value_hint(const std::string& onnx_name);

  // ---- dims that are products with a symbolic dim (import_split.cpp), in known i64 values
  // as codes below kDerivedBase: derived[kDerivedBase - code] lists the factors in order.
  static constexpr int64_t kDerivedBase = kSymBase - (int64_t(1) << 30);
  std::vector<Shape> derived;
  Shape factors(int64_t dim) const;         // static n: {n}; B: {B}; a product: its factors
  int64_t product(const Shape& factors);    // the dim (static, B, or a derived code)
  std::string dim_text(int64_t dim) const;  // "B * 4"

  // ---- results
  std::vector<Statement> decls;  // model-level param/state lines
  std::vector<Statement> body;   // statements, each with its ONNX node comment
  std::map<std::string, Tensor> weights;
  // Drops the statements (and their weights) that the `returned` expressions do not need:
  // what ONNX exporters leave behind (a transpose undone by the next one, unused shapes).
  void remove_dead(const std::vector<std::string>& returned);
  // After a node is converted: its first output takes the plain name (see the .cpp).
  void name_outputs_first(size_t first_statement);
  bool uses_std_nn() const;

 private:
  std::map<std::string, ImportValue> values_;
  std::map<std::string, int> uses_;
  std::map<std::string, std::vector<const onnx::NodeProto*>> consumers_;
  std::set<std::string> taken_;  // variable, symbol, scope and reserved names
  std::set<std::string> std_nn_;
  bool shadowed_by_std_nn(const std::string& op) const;  // a primitive op std.nn hides (conv1d)
  std::string call_text(const std::string& op, const std::vector<std::string>& args, const Attrs& attrs) const;
  std::optional<Tensor> fold(const std::string& op, const std::vector<ImportValue>& in, const Attrs& attrs) const;
};

// A value known at import.
ImportValue known_value(const Tensor& t);
// starc's op `op` on tensors, by its reference kernel (folding, and weights rearranged at import).
Tensor evaluate(const std::string& op, const std::vector<Tensor>& args, const Attrs& attrs = {});

// A .net number literal that reads back as exactly `v` (in f32 when `f32`).
std::string number_text(double v, bool f32);

}  // namespace starc
