// compiler/ir: the Graph IR — a static SSA dataflow graph of tensor ops with element
// types and shapes. Every node has one result; a value is identified by its node id.
// Nodes are stored in topological order (inputs always precede users).
#pragma once
#include <string>
#include <vector>

#include "compiler/ir/attr.h"
#include "compiler/ir/dtype.h"

namespace starc {

struct OpDef;

// Where in the .net source a node came from (for diagnostics after the front end).
struct Loc {
  std::string file;
  int line = 0, col = 0;
  bool known() const { return line > 0; }
};

struct Node {
  const OpDef* op = nullptr;
  std::vector<int> inputs;
  Attrs attrs;
  TensorType type;
  Loc loc;
};

struct Graph {
  std::string name;
  SymbolNames symbols;  // names of symbolic dims (index = sym_index)
  std::vector<Node> nodes;
  std::vector<int> inputs;   // node ids of the `input` nodes, in call order
  std::vector<int> outputs;  // value ids returned
  std::vector<std::string> output_names;

  const Node& node(int id) const { return nodes.at(id); }
  const TensorType& type(int id) const { return nodes.at(id).type; }
  // Appends a node whose type was already inferred; returns its id.
  int add(Node n);
  // Node ids of `param` nodes (trainable and state), in creation order.
  std::vector<int> params() const;
  std::string input_name(int i) const;
};

// Ids of the special ops that the front end and executors treat by name.
bool is_op(const Node& n, std::string_view name);

// Binds every symbolic dim (index -> concrete value) in types and int-list attributes,
// including scan bodies. `sym_values` gives the free symbols; derived ones (conv output
// lengths, compiler/ir/sym_dim.h) are computed from them. The result has only static
// shapes when every free symbol is given; check_bound_shapes (compiler/ops) says
// whether the values fit the shape rules.
Graph specialize(const Graph& g, const std::vector<Dim>& sym_values);

// Removes the derived symbols that no type or int attribute of g uses (intermediate
// steps of shape arithmetic) and renumbers the rest, keeping their order.
void drop_unused_symbols(Graph& g);

// The same graph computing in another float type: every f32 value, constant and dtype
// attribute becomes `to` (used to run gradient checks in f64 on f32 models).
Graph with_float_type(const Graph& g, DType to);

}  // namespace starc
