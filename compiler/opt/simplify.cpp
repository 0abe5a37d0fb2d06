// compiler/opt: algebraic simplification and constant folding (passes.h lists the rules).
// Both walk the graph once in topological order, copying each node into a new graph
// unless a rule gives a replacement of exactly the same type; what a rewrite leaves
// unused is removed by dce, which optimize runs after them.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/ops/builder.h"
#include "compiler/opt/passes.h"

namespace starc {
namespace {

bool in(std::string_view name, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (n == name) return true;
  return false;
}

bool is_elementwise(const Node& n) { return n.op->elementwise; }

// The transpose's permutation with the default (empty = reverse all dims) spelled out.
Ints full_perm(const Node& t) {
  Ints p = attr_ints(t.attrs, "perm");
  int r = t.type.rank();
  if (p.empty())
    for (int i = r - 1; i >= 0; --i) p.push_back(i);
  for (int64_t& a : p)
    if (a < 0) a += r;
  return p;
}

bool is_identity(const Ints& p) {
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != int64_t(i)) return false;
  return true;
}

// Elements of a shape, a symbolic dim counted as large (only used to compare sizes).
double approx_elements(const Shape& s) {
  double n = 1;
  for (Dim d : s) n *= is_sym(d) ? 1e6 : double(d);
  return n;
}

// Copies `src` into a new graph node by node; `rewrite` may return a replacement id (in
// the new graph) for a node, built with the builder; anything else keeps the node.
class Rewriter {
 public:
  explicit Rewriter(const Graph& src) : src_(src), b_(out_) {
    out_.name = src.name;
    out_.symbols = src.symbols;
    out_.output_names = src.output_names;
    uses_.assign(src.nodes.size(), 0);
    for (auto& n : src.nodes)
      for (int i : n.inputs) ++uses_[size_t(i)];
    for (int o : src.outputs) uses_[size_t(o)] += 2;  // an output is never single-use
    is_output_.assign(src.nodes.size(), false);
    for (int o : src.outputs) is_output_[size_t(o)] = true;
  }

  template <class Rule>
  Graph run(Rule rule, int* rewritten) {
    remap_.assign(src_.nodes.size(), -1);
    int count = 0;
    for (size_t id = 0; id < src_.nodes.size(); ++id) {
      const Node& orig = src_.nodes[id];
      Node n = orig;
      for (int& i : n.inputs) i = remap_[size_t(i)];
      b_.loc = n.loc;
      int r = -1;
      try {
        r = rule(*this, orig, n);
      } catch (const OpError&) {
        r = -1;  // a rule whose rewrite the shape rules reject does not apply
      }
      // A rewrite must keep the type; an output must stay a computed value (the
      // executors bind inputs and params by name, not as results).
      bool ok = r >= 0 && out_.type(r) == n.type &&
                !(is_output_[id] && (is_op(out_.node(r), "input") || is_op(out_.node(r), "param")));
      remap_[id] = ok ? r : out_.add(std::move(n));
      count += ok;
    }
    for (int i : src_.inputs) out_.inputs.push_back(remap_[size_t(i)]);
    for (int o : src_.outputs) out_.outputs.push_back(remap_[size_t(o)]);
    if (rewritten) *rewritten = count;
    return std::move(out_);
  }

  const Node& node(int id) const { return out_.node(id); }
  GraphBuilder& b() { return b_; }
  // Whether the source node `src_input` (an input of the node being rewritten) has no
  // other user, so a rewrite that bypasses it does not compute it twice.
  bool single_use(int src_input) const { return uses_[size_t(src_input)] == 1; }

  // x with its last two dims swapped, cancelling a transpose that x already is.
  int transpose2(int x) {
    const Node& n = node(x);
    if (is_op(n, "transpose") && n.type.rank() == 2 && full_perm(n) == Ints{1, 0}) return n.inputs[0];
    return b_.transpose(x, {1, 0});
  }

  // Whether id is a constant (const or full) whose every element equals v.
  bool is_constant(int id, double v) const {
    const Node& n = node(id);
    if (is_op(n, "full")) return attr_float(n.attrs, "value") == v;
    if (!is_op(n, "const")) return false;
    const Tensor& t = attr_tensor(n.attrs, "value");
    if (t.size() > 4096) return false;
    for (int64_t i = 0; i < t.size(); ++i)
      if (t.get(i) != v) return false;
    return true;
  }

 private:
  const Graph& src_;
  Graph out_;
  GraphBuilder b_;
  std::vector<int> uses_, remap_;
  std::vector<bool> is_output_;
};

// The rules of `simplify`, tried in order; -1 when none applies.
int simplify_rule(Rewriter& w, const Node& orig, const Node& n) {
  GraphBuilder& b = w.b();
  const std::string& op = n.op->name;
  auto input = [&](size_t k) -> const Node& { return w.node(n.inputs[k]); };

  if (op == "transpose") {
    Ints p = full_perm(n);
    if (is_identity(p)) return n.inputs[0];
    if (is_op(input(0), "transpose")) {  // transpose(transpose(y, p1), p2) = transpose(y, p1[p2])
      Ints p1 = full_perm(input(0)), q;
      for (int64_t a : p) q.push_back(p1[size_t(a)]);
      return is_identity(q) ? input(0).inputs[0] : b.transpose(input(0).inputs[0], q);
    }
    // (a @ b)^T = b^T @ a^T: the gradient of a dense layer's weight, computed transposed,
    // then reads its operands transposed in place and is never copied.
    if (is_op(input(0), "matmul") && n.type.rank() == 2 && p == Ints{1, 0} && w.single_use(orig.inputs[0])) {
      const Node& mm = input(0);
      int a = mm.inputs[0], bm = mm.inputs[1];
      if (w.node(a).type.rank() == 2 && w.node(bm).type.rank() == 2)
        return b.op("matmul", {w.transpose2(bm), w.transpose2(a)});
    }
    return -1;
  }
  if (op == "reshape") {
    if (input(0).type == n.type) return n.inputs[0];
    if (is_op(input(0), "reshape")) return b.reshape(input(0).inputs[0], n.type.shape);
    return -1;
  }
  // maxpool(x + c) = maxpool(x) + c for c constant over the pooled window (a conv's
  // per-channel bias): exact, rounding is monotone, and NaN propagates either way. The
  // add then runs on the pooled, smaller tensor and fuses with the activation after the
  // pool (gw_deepfilter: a pass over each conv's whole output gone). Only when the pool
  // is the add's one user: a training step keeps the add for the pool's gradient.
  if ((op == "maxpool1d" || op == "maxpool2d") && is_op(input(0), "add") && w.single_use(orig.inputs[0])) {
    const std::vector<int> terms = input(0).inputs;  // copies: building nodes moves the graph's storage
    const Shape sum_shape = input(0).type.shape;
    int pooled_axes = op == "maxpool1d" ? 1 : 2;
    for (size_t k = 0; k < 2; ++k) {
      const Shape c = w.node(terms[k]).type.shape, x = w.node(terms[1 - k]).type.shape;
      if (x != sum_shape) continue;
      bool constant_over_window = true;  // right-aligned: c's last pooled_axes dims are 1 or absent
      for (int a = 0; a < pooled_axes && a < int(c.size()); ++a)
        if (!(c[c.size() - 1 - size_t(a)] == Dim(1))) constant_over_window = false;
      if (!constant_over_window) continue;
      int pool = b.op(op, {terms[1 - k]}, n.attrs);
      return k == 1 ? b.op("add", {pool, terms[1]}) : b.op("add", {terms[0], pool});
    }
  }
  if (op == "neg" && is_op(input(0), "neg")) return input(0).inputs[0];
  if (op == "log" && is_op(input(0), "softmax"))
    return b.op("log_softmax", {input(0).inputs[0]}, {{"axis", attr_int(input(0).attrs, "axis")}});

  // Identities, where they keep the type (x + zeros of a larger shape broadcasts x).
  if (n.inputs.size() == 2) {
    int x = n.inputs[0], y = n.inputs[1];
    auto typed = [&](int v) { return b.type(v) == n.type; };
    if ((op == "add" || op == "sub") && w.is_constant(y, 0) && typed(x)) return x;
    if (op == "add" && w.is_constant(x, 0) && typed(y)) return y;
    if ((op == "mul" || op == "div" || op == "pow") && w.is_constant(y, 1) && typed(x)) return x;
    if (op == "mul" && w.is_constant(x, 1) && typed(y)) return y;
    if (op == "sub" && w.is_constant(x, 0) && typed(y)) return b.neg(y);
    if (op == "pow" && w.is_constant(y, 2) && typed(x)) return b.op("square", {x});
  }

  if (!is_elementwise(n)) return -1;
  // The op on a broadcast operand's source, broadcast after it (fewer elements computed),
  // or not at all when the other operands already have the full shape.
  auto on_source = [&](size_t k, int source) {
    std::vector<int> ins = n.inputs;
    ins[k] = source;
    int r = b.op(op, ins, n.attrs);
    if (b.type(r) == n.type || approx_elements(b.shape(r)) >= approx_elements(n.type.shape)) return r;
    return b.broadcast_to(r, n.type.shape);
  };
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const Node& a = input(k);
    if (is_op(a, "broadcast_to")) return on_source(k, a.inputs[0]);  // broadcast sinking
    // A filled tensor is a broadcast scalar (no materialised zeros).
    if (is_op(a, "full") && a.type.rank() > 0)
      return on_source(k, b.scalar(attr_float(a.attrs, "value"), a.type.dtype));
  }
  return -1;
}

bool foldable(const Node& n) {
  if (n.inputs.empty() || in(n.op->name, {"scan", "scan_result", "dropout", "random_normal", "random_uniform"}))
    return false;
  for (auto& [name, a] : n.attrs)
    if (std::holds_alternative<GraphRef>(a)) return false;
  for (Dim d : n.type.shape)
    if (is_sym(d)) return false;
  return num_elements(n.type.shape) <= kMaxFoldedElements;
}

}  // namespace

Graph simplify(const Graph& g, int* rewritten) { return Rewriter(g).run(simplify_rule, rewritten); }

Graph fold_constants(const Graph& g, int* folded) {
  auto rule = [](Rewriter& w, const Node&, const Node& n) -> int {
    if (!foldable(n)) return -1;
    std::vector<Tensor> args;
    RefCtx ctx;
    for (int i : n.inputs) {
      const Node& a = w.node(i);
      bool small_full = is_op(a, "full") && std::none_of(a.type.shape.begin(), a.type.shape.end(), is_sym) &&
                        num_elements(a.type.shape) <= kMaxFoldedElements;
      if (!is_op(a, "const") && !small_full) return -1;
      args.push_back(a.op->ref({}, a.attrs, ctx));
    }
    Tensor v = n.op->ref(args, n.attrs, ctx);
    return w.b().op("const", {}, {{"value", v}});
  };
  return Rewriter(g).run(rule, folded);
}

}  // namespace starc
