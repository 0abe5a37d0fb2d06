// compiler/ops: the primitive ops. Each op is defined once, in one OpDef: its name,
// inputs, attributes with defaults, shape rule, reference kernel and gradient rule. Its
// lowering is an entry of compiler/lower's lowering table, found by the op's name
// (docs/design.md: adding an op).
#pragma once
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace starc {

// Thrown by shape rules; the message states the rule and the shapes involved. The
// front end attaches the source location.
struct OpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct AttrSpec {
  std::string name;
  AttrKind kind;
  std::optional<Attr> default_value;  // nullopt = required
};

// Context for the shape rule: symbol names so messages print "B" instead of "?0", and
// the table where rules that compute with symbolic dims (conv output lengths) find or,
// with `grow`, add derived symbols (compiler/ir/sym_dim.h).
struct InferCtx {
  const SymbolNames* syms = nullptr;
  SymbolNames* grow = nullptr;
  std::string t(const TensorType& ty) const { return type_str(ty, syms); }
  std::string s(const Shape& sh) const { return shape_str(sh, syms); }
  Dim add(Dim a, Dim b) const;
  Dim sub(Dim a, Dim b) const;
  Dim mul(Dim a, Dim b) const;
  Dim floordiv(Dim a, int64_t k) const;
};

// Context for reference kernels.
struct RefCtx {
  uint64_t seed = 0;  // run seed for random ops
  // Runs a (sub-)graph on the reference interpreter: used by scan.
  std::function<std::vector<Tensor>(const Graph&, const std::vector<Tensor>&)> run_graph;
};

using InferFn = std::function<TensorType(std::span<const TensorType> in, const Attrs& attrs, const InferCtx& ctx)>;
using RefFn = std::function<Tensor(std::span<const Tensor> in, const Attrs& attrs, RefCtx& ctx)>;

// Reverse-mode gradient rule, written with graph ops through the builder (so gradients
// can be differentiated again). `n` is (a copy of) the forward node, `y` its id in b.g
// (its result, usable in the rule: d exp = dy * y), and `dy` the gradient of the result. Returns one entry per input:
// the gradient's node id (same type as the input), or kNoGrad where the input gets none (integer/bool inputs, or inputs
// the result does not depend on smoothly, e.g. argmax). An op without a rule cannot be
// differentiated through (autodiff reports it by name).
class GraphBuilder;
constexpr int kNoGrad = -1;
using GradFn = std::function<std::vector<int>(GraphBuilder& b, const Node& n, int y, int dy)>;

struct OpDef {
  std::string name;
  std::vector<std::string> inputs;  // names of the tensor inputs (for docs and messages)
  bool variadic = false;            // last input repeats (concat)
  std::vector<AttrSpec> attrs;
  InferFn infer;
  RefFn ref;
  // Ops with several results (scan) compute all of them here; `ref` gives result 0 and
  // `scan_result` nodes select the others.
  std::function<std::vector<Tensor>(std::span<const Tensor> in, const Attrs& attrs, RefCtx& ctx)> ref_multi;
  GradFn grad;
  std::string doc;           // one line
  bool elementwise = false;  // output element i depends on input elements i only (after broadcasting)
};

// The registry of all primitive ops, filled once on first use.
const OpDef* find_op(std::string_view name);
const std::vector<const OpDef*>& all_ops();

// Fills defaults for missing attributes and checks kinds; throws OpError naming the
// attribute on a mistyped or unknown one.
Attrs complete_attrs(const OpDef& op, Attrs given);

// Convenience for rules/kernels.
// `grow`: where new derived symbols go (the graph's own symbols, as a rule); without it
// a rule may only use derived symbols `syms` already has.
TensorType infer_type(const OpDef& op, std::span<const TensorType> in, const Attrs& attrs, const SymbolNames* syms,
                      SymbolNames* grow = nullptr);

// With every symbol bound (`vals`, free ones; derived ones are computed), runs each node's
// shape rule again on the bound types: a window longer than its input, a reshape that no
// longer fits, ... throw std::runtime_error "file:line:col: <rule's message> (L = 3)".
// Does nothing for a graph without derived symbols (its shape rules cannot fail later).
void check_bound_shapes(const Graph& g, const std::vector<Dim>& vals);

// Registration hooks, one per ops file (explicit so static linking cannot drop them).
class OpRegistry;
void register_special_ops(OpRegistry&);
void register_elementwise_ops(OpRegistry&);
void register_reduce_ops(OpRegistry&);
void register_linalg_ops(OpRegistry&);
void register_conv_ops(OpRegistry&);
void register_shape_ops(OpRegistry&);
void register_nn_ops(OpRegistry&);
void register_random_ops(OpRegistry&);
void register_index_ops(OpRegistry&);
void register_sort_scan_ops(OpRegistry&);

class OpRegistry {
 public:
  void add(OpDef def);
  const OpDef* find(std::string_view name) const;
  const std::vector<const OpDef*>& all() const { return order_; }

 private:
  std::vector<std::unique_ptr<OpDef>> defs_;
  std::vector<const OpDef*> order_;
};

}  // namespace starc
