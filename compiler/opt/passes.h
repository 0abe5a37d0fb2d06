// compiler/opt: Graph -> Graph optimization passes. Each pass is a pure function of the
// graph, with its own tests (tests/unit/opt_test.cpp); `optimize` runs them in order and
// the JIT compiles its result. `starc graph --emit opt` prints it, and any pass can be
// turned off by name (--disable-pass NAME) to see what it did.
//
//   simplify  algebraic rewrites: transpose(transpose(x)) composes or cancels, reshape
//         chains are one reshape, identity transposes/reshapes and x+0, x*1, x/1, x^1 go,
//         x^2 is square, 0-x is neg, neg(neg(x)) is x, log(softmax) is log_softmax, the
//         transpose of a single-use 2-D matmul is the matmul of the transposed operands
//         (so a dense layer's weight gradient is computed in the weight's layout and
//         never copied), a `full` read elementwise is its scalar (no materialised zeros),
//         and elementwise ops move below broadcast_to (computed on the small operand).
//   fold  constant folding: a node whose inputs are all constants (const, or a `full`
//         of static shape) and whose result has at most kMaxFoldedElements elements is
//         evaluated by its reference kernel at compile time. Random ops are not folded.
//   cse   common subexpressions: nodes with the same op, inputs and attributes are one
//         node (all ops are pure; random ops are keyed by their attributes and the run
//         seed, so equal ones draw equal numbers). Not merged: inputs, params, scans.
//   dce   dead code: nodes no output depends on are removed (graph inputs stay, as the
//         entry's positional signature; unused params go).
//   conv_algo  direct or FFT convolution per conv node, by a cost model (conv_algo.h);
//         disabled, every conv is direct.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/opt/conv_algo.h"

namespace starc {

struct PassReport {
  std::string pass;
  int removed = 0;     // nodes
  std::string detail;  // what else it did, for --emit opt ("" when it only removes)
};

struct OptOptions {
  OptOptions(std::set<std::string> disabled_passes = {}, ConvAlgo algo = ConvAlgo::Auto)
      : disabled(std::move(disabled_passes)), conv_algo(algo) {}
  std::set<std::string> disabled;  // pass names not to run
  ConvAlgo conv_algo;              // conv_algo's mode (--conv-algo)
};

constexpr int64_t kMaxFoldedElements = 4096;  // larger results stay computed (IR size)

Graph simplify(const Graph& g, int* rewritten = nullptr);
Graph fold_constants(const Graph& g, int* folded = nullptr);
Graph cse(const Graph& g, int* removed = nullptr);
Graph dce(const Graph& g, int* removed = nullptr);

// "pass NAME: what it did", one line for --emit opt.
std::string describe(const PassReport& r);

// A registered pass: its name (--disable-pass, `starc opt --passes`), one line saying what
// it does, and the function (which fills the report's counts).
struct Pass {
  std::string name;
  std::string description;
  std::function<Graph(const Graph&, const OptOptions&, PassReport&)> run;
};
// Every pass, in the order optimize runs them (passes.cpp: the one list).
const std::vector<Pass>& all_passes();
const Pass* find_pass(const std::string& name);  // null if there is none
const std::vector<std::string>& pass_names();    // all_passes()' names, in order

// Runs the named passes in the given order (a name may repeat); throws
// std::invalid_argument naming an unknown pass before running any.
Graph run_passes(const Graph& g, const std::vector<std::string>& names, const OptOptions& options = {},
                 std::vector<PassReport>* report = nullptr);
// Runs every pass not disabled; throws std::invalid_argument naming an unknown pass.
Graph optimize(const Graph& g, const OptOptions& options = {}, std::vector<PassReport>* report = nullptr);

}  // namespace starc
