// Lowerings of the ops of compiler/ops/special.cpp that compute: scan, scan_result (the
// graph inputs, params and constants are bound by the emitter itself).
//
// `scan` becomes an scf.for over the static length with the carries, the stacked step
// outputs and the saved carries as tensor iter_args; the body sub-graph is emitted
// inline in the loop region. A scan node has several results (bind_results);
// scan_result picks one. Semantics follow the reference kernel in
// compiler/ops/special.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using namespace lower_util;

std::string insert_slice(E e, const std::string& src, const std::string& src_ty, const std::string& dst,
                         const std::string& dst_ty, const std::vector<std::string>& offsets,
                         const std::vector<int64_t>& sizes) {
  std::string r = e.fresh("v");
  e.line(fmt::format("{} = tensor.insert_slice {} into {}[{}] [{}] [{}] : {} into {} {}", r, src, dst,
                     join_strs(offsets), join_ints(sizes), join_ints(std::vector<int64_t>(sizes.size(), 1)), src_ty,
                     dst_ty, e.loc()));
  return r;
}

std::vector<std::string> zero_offsets(size_t rank) { return std::vector<std::string>(rank, "0"); }

// ---- scan ----

TensorType stacked(TensorType t, int axis, Dim len) {
  t.shape.insert(t.shape.begin() + std::min(axis, t.rank()), len);
  return t;
}

// The carry (body input index < k) that body value `id` may share a buffer with, through
// ops whose lowering can be a view or the input itself; -1 if none.
int aliased_carry(const Graph& body, int id, int k) {
  static const std::set<std::string> views = {"reshape", "slice", "transpose", "broadcast_to", "concat",
                                              "pad",     "flip",  "rot90",     "upsample"};
  for (;;) {
    for (int j = 0; j < k; ++j)
      if (body.inputs[size_t(j)] == id) return j;
    const Node& n = body.nodes[size_t(id)];
    if (!n.op || !views.count(n.op->name) || n.inputs.size() != 1) return -1;
    id = n.inputs[0];
  }
}

// scan inputs: xs..., carries..., captures...; body inputs: carries, x_t's, captures;
// body outputs: carries', y_t's. Results (the loop's iter_args, in this order): the
// stacked y_t's, the final carries, then (save_carries) the carries entering each step.
void lower_scan(E e, const Node& n, int id) {
  const Graph& body = attr_graph(n.attrs, "body");
  int n_xs = int(attr_int(n.attrs, "n_xs")), k = int(attr_int(n.attrs, "n_carry"));
  bool save = attr_bool(n.attrs, "save_carries"), reverse = attr_bool(n.attrs, "reverse");
  int n_caps = int(n.inputs.size()) - n_xs - k, n_ys = int(body.outputs.size()) - k;
  const TensorType& xs0 = e.type(n.inputs[0]);
  int axis = normalize_axis("scan", attr_int(n.attrs, "axis"), xs0.rank());
  int64_t T = xs0.shape[axis];

  // Loop-carried values: types, initial values.
  std::vector<TensorType> types;
  std::vector<std::string> inits;
  for (int j = 0; j < n_ys; ++j) {
    types.push_back(stacked(body.type(body.outputs[k + j]), axis, T));
    inits.push_back(e.empty(types.back()));
  }
  for (int i = 0; i < k; ++i) {
    types.push_back(e.type(n.inputs[n_xs + i]));
    inits.push_back(e.val(n.inputs[n_xs + i]));
  }
  if (save)
    for (int i = 0; i < k; ++i) {
      types.push_back(stacked(e.type(n.inputs[n_xs + i]), axis, T));
      inits.push_back(e.empty(types.back()));
    }
  std::vector<std::string> type_texts;
  for (auto& t : types) type_texts.push_back(MlirEmitter::tensor_type(t));

  std::string c0 = e.fresh("c"), c1 = e.fresh("c"), cT = e.fresh("c");
  e.line(fmt::format("{} = arith.constant 0 : index", c0));
  e.line(fmt::format("{} = arith.constant 1 : index", c1));
  e.line(fmt::format("{} = arith.constant {} : index", cT, T));
  std::string res = e.fresh("scan"), iv = e.fresh("iv");
  std::vector<std::string> iter, bindings;
  for (size_t q = 0; q < types.size(); ++q) {
    iter.push_back(e.fresh("it"));
    bindings.push_back(fmt::format("{} = {}", iter.back(), inits[q]));
  }
  e.line(fmt::format("{}{} = scf.for {} = {} to {} step {} iter_args({}) -> ({}) {{", res,
                     types.size() > 1 ? fmt::format(":{}", types.size()) : "", iv, c0, cT, c1, join_strs(bindings),
                     join_strs(type_texts)));
  e.indent(2);
  std::string t = iv;
  if (reverse) {
    std::string last = e.fresh("c");
    t = e.fresh("t");
    e.line(fmt::format("{} = arith.constant {} : index", last, T - 1));
    e.line(fmt::format("{} = arith.subi {}, {} : index", t, last, iv));
  }
  // Body arguments: carries, x_t's, captures.
  std::vector<std::string> args;
  for (int i = 0; i < k; ++i) args.push_back(iter[size_t(n_ys + i)]);
  for (int j = 0; j < n_xs; ++j) {
    const TensorType& xs = e.type(n.inputs[j]);
    TensorType xt = xs;
    xt.shape.erase(xt.shape.begin() + axis);
    auto offsets = zero_offsets(size_t(xs.rank()));
    offsets[axis] = t;
    std::vector<int64_t> sizes = xs.shape;
    sizes[axis] = 1;
    std::string x_t = e.fresh("xt");
    e.line(fmt::format("{} = tensor.extract_slice {}[{}] [{}] [{}] : {} to {} {}", x_t, e.val(n.inputs[j]),
                       join_strs(offsets), join_ints(sizes), join_ints(std::vector<int64_t>(sizes.size(), 1)),
                       MlirEmitter::tensor_type(xs), MlirEmitter::tensor_type(xt), e.loc()));
    args.push_back(x_t);
  }
  for (int i = 0; i < n_caps; ++i) args.push_back(e.val(n.inputs[n_xs + k + i]));

  // Stacks `v` (one step, type `step`) into `acc` at position t along min(axis, rank).
  auto stack_into = [&](const std::string& acc, const TensorType& acc_t, const std::string& v, const TensorType& step) {
    int a = std::min(axis, step.rank());
    auto offsets = zero_offsets(size_t(acc_t.rank()));
    offsets[a] = t;
    std::vector<int64_t> sizes = acc_t.shape;
    sizes[a] = 1;
    return insert_slice(e, v, MlirEmitter::tensor_type(step), acc, MlirEmitter::tensor_type(acc_t), offsets, sizes);
  };
  std::vector<std::string> yields(types.size());
  if (save)
    for (int i = 0; i < k; ++i) {
      size_t q = size_t(n_ys + k + i);
      yields[q] = stack_into(iter[q], types[q], iter[size_t(n_ys + i)], types[size_t(n_ys + i)]);
    }
  std::vector<std::string> outs = e.inline_graph(body, args);
  for (int j = 0; j < n_ys; ++j)
    yields[size_t(j)] =
        stack_into(iter[size_t(j)], types[size_t(j)], outs[size_t(k + j)], body.type(body.outputs[k + j]));
  // The new carries are copied into the carries' own buffers (after every read of the
  // old ones), so each yield is equivalent to its iter_arg and bufferization needs no
  // allocation that outlives a step (one-shot-bufferize rejects those by default). A new
  // carry that is another carry's old value (carries swapped) is first copied aside, so
  // no in-place copy overwrites a value another one still reads.
  auto copy = [&](const std::string& from, const std::string& to, const std::string& ty) {
    std::string r = e.fresh("v");
    e.line(fmt::format("{} = linalg.copy ins({} : {}) outs({} : {}) -> {} {}", r, from, ty, to, ty, ty, e.loc()));
    return r;
  };
  std::vector<std::string> new_carry(outs.begin(), outs.begin() + k);
  for (int i = 0; i < k; ++i) {
    size_t q = size_t(n_ys + i);
    int alias = aliased_carry(body, body.outputs[size_t(i)], k);
    bool other = alias >= 0 && alias != i;
    for (int j = 0; j < k; ++j) other = other || (j != i && new_carry[size_t(i)] == iter[size_t(n_ys + j)]);
    if (other) new_carry[size_t(i)] = copy(new_carry[size_t(i)], e.empty(types[q]), type_texts[q]);
  }
  for (int i = 0; i < k; ++i) {
    size_t q = size_t(n_ys + i);
    yields[q] = new_carry[size_t(i)] == iter[q] ? iter[q]  // passed through unchanged
                                                : copy(new_carry[size_t(i)], iter[q], type_texts[q]);
  }
  e.line(fmt::format("scf.yield {} : {}", join_strs(yields), join_strs(type_texts)));
  e.indent(-2);
  e.line(fmt::format("}} {}", e.loc()));

  std::vector<std::string> results;
  if (types.size() == 1)
    results.push_back(res);
  else
    for (size_t q = 0; q < types.size(); ++q) results.push_back(fmt::format("{}#{}", res, q));
  e.bind_results(id, results);
}

void lower_scan_result(E e, const Node& n, int id) {
  e.bind(id, e.result(n.inputs[0], int(attr_int(n.attrs, "index"))));
}

}  // namespace

void register_special_lowerings(LoweringTable& t) {
  t["scan"] = lower_scan;
  t["scan_result"] = lower_scan_result;
}

}  // namespace starc
