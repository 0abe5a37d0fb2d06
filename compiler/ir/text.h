// compiler/ir: the Graph IR as text (print and parse back), Graphviz export, and the
// structural verifier.
//
// Text form (stable; print -> parse -> print reproduces the text exactly):
//
//   graph RedshiftCNN(%0: f32[B,1,4618] "flux") symbols(B) {
//     %1 = param {dtype=f32, init="he_uniform", init_args=[500.0], name="conv1d0.weight", shape=[16,1,500],
//     trainable=true} : f32[16,1,500] %2 = conv1d(%0, %1) {dilation=[1], padding=[0], stride=[1]} : f32[B,16,4119]  #
//     redshift.net:5:17
//     ...
//     return %9 "output"
//   }
//
// - Every node has one result named by its id %N; ids are the node indices, in order.
// - Graph inputs (input nodes) are listed in the header in call order as
//   `%id: type "name"` and not repeated in the body. (A header entry `%id` alone means the
//   node is defined by an ordinary statement in the body.) When an input has a source
//   location the header is printed one input per line, each followed by its location.
// - `symbols(B, T)` names the symbolic dims (index = position); dims print by name, or as
//   `?N` when the graph has no usable name for symbol N. A nested graph without its own
//   symbols(...) uses the enclosing graph's names.
// - Attributes `{name=value, ...}` are sorted by name. Values: int `3`, float `0.5`,
//   `1.0`, `1e+20`, `inf`, `-inf`, `nan` (always with '.', 'e', inf or nan so they stay
//   floats), bool `true`/`false`, string `"a\"b\n"`, int list `[B,16,1]`, float list
//   `[0.5,2.0]` (`[]` is typed by the op's attribute spec), dtype `f32`, tensor constant
//   `tensor<f32[2,2]>[1,2,3,4]` (flat row-major values), sub-graph `graph name(...) {...}`
//   printed inline and indented (scan's `body`).
// - A trailing comment `# file:line:col` is the node's source location. Other comments
//   are ignored by the parser.
#pragma once
#include <string>
#include <string_view>

#include "compiler/ir/graph.h"

namespace starc {

std::string print_graph(const Graph& g);

// Parses the text form. Ops are looked up by name, attributes are completed with the
// op's defaults, and every node's printed type is checked against the op's shape rule.
// Errors throw std::runtime_error "line:col: message".
Graph parse_graph(std::string_view text);

// Graphviz DOT: one node per op labelled "%id op" and its type; inputs are ellipses,
// params are yellow boxes, constants grey; scan bodies are drawn as clusters.
std::string to_dot(const Graph& g);

// Structural and type checks (recursively for scan bodies); throws std::runtime_error
// describing the first problem and the node id.
void verify_graph(const Graph& g);

}  // namespace starc
