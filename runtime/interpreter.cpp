#include "runtime/interpreter.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/ir/sym_dim.h"
#include "compiler/ops/index.h"
#include "compiler/ops/op.h"
#include "runtime/memory_limit.h"

namespace starc {

static void check_tensor(const std::string& what, const TensorType& want, const Tensor& got, const SymbolNames* syms) {
  bool ok = want.dtype == got.dtype() && want.shape.size() == got.shape().size();
  for (size_t i = 0; ok && i < want.shape.size(); ++i) ok = want.shape[i] == got.shape()[i];
  if (!ok)
    throw std::runtime_error(fmt::format("{}: expected {}, got {}", what, type_str(want, syms), type_str(got.type())));
}

std::vector<Dim> bind_input_symbols(const Graph& g, const std::vector<Tensor>& inputs) {
  if (inputs.size() != g.inputs.size())
    throw std::runtime_error(fmt::format("{}: expected {} inputs, got {}", g.name, g.inputs.size(), inputs.size()));
  std::vector<Dim> vals(g.symbols.size(), kSymBase);
  std::vector<size_t> bound_by(g.symbols.size(), 0);  // the input that fixed each symbol
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& want = g.type(g.inputs[i]);
    const Tensor& got = inputs[i];
    std::string what = fmt::format("input '{}'", g.input_name(int(i)));
    if (want.rank() != got.rank() || want.dtype != got.dtype()) check_tensor(what, want, got, &g.symbols);
    for (int d = 0; d < want.rank(); ++d) {
      Dim w = want.shape[d], h = got.shape()[d];
      if (!is_sym(w)) {
        if (w != h) check_tensor(what, want, got, &g.symbols);
        continue;
      }
      Dim& v = vals[sym_index(w)];
      if (is_sym(v)) {
        v = h;
        bound_by[sym_index(w)] = i;
      } else if (v != h) {
        size_t j = bound_by[sym_index(w)];
        throw std::runtime_error(fmt::format(
            "{}: expected {}, got {}: dim {} is {} here but {} in input '{}' ({})", what, type_str(want, &g.symbols),
            type_str(got.type()), dim_str(w, &g.symbols), h, v, g.input_name(int(j)), type_str(inputs[j].type())));
      }
    }
  }
  return vals;
}

std::vector<Dim> bind_symbols(const Graph& g, const std::vector<Tensor>& inputs) {
  std::vector<Dim> vals = bind_input_symbols(g, inputs);
  check_bound_shapes(g, vals);  // derived dims (a conv's output length) must fit the bound lengths
  return vals;
}

int64_t first_nonfinite(const Tensor& t) {
  if (!t.defined() || !is_float(t.dtype())) return -1;
  return dispatch_float(t.dtype(), [&]<class T>() -> int64_t {
    const T* p = t.data<T>();
    for (int64_t i = 0, n = t.size(); i < n; ++i)
      if (!std::isfinite(p[i])) return i;
    return -1;
  });
}

// Throws NonFiniteError if `t`, the value of node `id` of `g`, holds a NaN/Inf.
static void check_finite(const Graph& g, int id, const Tensor& t, bool top) {
  int64_t i = first_nonfinite(t);
  if (i < 0) return;
  const Node& n = g.nodes[id];
  double v = t.get(i);
  std::string val = std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
  std::string scope = top ? "" : " (inside a scan body)";
  std::string msg;
  if (is_op(n, "input") || is_op(n, "param"))
    msg = fmt::format("{} '{}'{} contains {} at index {} of {}", is_op(n, "input") ? "input" : "weight",
                      attr_str(n.attrs, "name"), scope, val, i, type_str(t.type()));
  else
    msg = fmt::format("{}{} (node %{}){} produced {} at index {} of {}",
                      n.loc.known() ? fmt::format("{}:{}:{}: ", n.loc.file, n.loc.line, n.loc.col) : "", n.op->name, id,
                      scope, val, i, type_str(t.type()));
  throw NonFiniteError(msg, id, n.op ? n.op->name : "?", n.loc, t.type(), i, v);
}

static std::string where_of(const Node& n) {
  return n.loc.known() ? fmt::format(" at {}:{}:{}", n.loc.file, n.loc.line, n.loc.col) : "";
}

// The interpreter keeps every node's value until the end: refuses a graph whose values
// exceed the memory limit (memory_limit.h) before running it.
static void check_values_fit(const Graph& g, const std::vector<Dim>& syms) {
  int64_t total = 0, largest = 0;
  int largest_id = -1;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& n = g.nodes[id];
    if (is_op(n, "input") || is_op(n, "param")) continue;
    int64_t count = 1, bytes = 0;
    for (Dim d : n.type.shape) count = __builtin_mul_overflow(count, d, &count) ? INT64_MAX : count;
    if (__builtin_mul_overflow(count, int64_t(dtype_size(n.type.dtype)), &bytes)) bytes = INT64_MAX;
    if (__builtin_add_overflow(total, bytes, &total)) total = INT64_MAX;
    if (bytes > largest) largest = bytes, largest_id = int(id);
  }
  check_memory(total, [&](int64_t available, bool user_limit) {
    std::string at;
    for (size_t i = 0; i < g.symbols.size() && i < syms.size(); ++i)
      if (!is_derived_symbol(g.symbols[i]))
        at += fmt::format("{}{}={}", at.empty() ? " at " : ", ", g.symbols[i], syms[i]);
    const Node& n = g.nodes[size_t(largest_id)];
    return fmt::format(
        "model {} needs {}{} for the values of its nodes (the reference interpreter keeps every one; "
        "the largest: node %{} ({}{}, {}), {}); {} {}",
        g.name, format_bytes(total), at, largest_id, n.op->name, where_of(n), type_str(n.type), format_bytes(largest),
        format_bytes(available), user_limit ? "allowed" : "available");
  });
}

static std::vector<Tensor> run_static(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                                      RefCtx& ctx, bool check = false, bool top = true) {
  std::vector<Tensor> vals(g.nodes.size());
  std::map<int, std::vector<Tensor>> results;  // all results of multi-result nodes (scan)
  for (size_t i = 0; i < g.inputs.size(); ++i) vals[g.inputs[i]] = inputs[i];
  if (check)
    for (size_t i = 0; i < g.inputs.size(); ++i) check_finite(g, g.inputs[i], inputs[i], top);
  std::vector<Tensor> args;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& n = g.nodes[id];
    if (is_op(n, "input")) continue;
    if (is_op(n, "param")) {
      const std::string& name = attr_str(n.attrs, "name");
      auto it = params.find(name);
      if (it == params.end()) throw std::runtime_error(fmt::format("missing weight '{}' ({})", name, type_str(n.type)));
      check_tensor(fmt::format("weight '{}'", name), n.type, it->second, &g.symbols);
      vals[id] = it->second;
      if (check) check_finite(g, int(id), vals[id], top);
      continue;
    }
    if (is_op(n, "scan_result")) {
      vals[id] = results.at(n.inputs[0]).at(size_t(attr_int(n.attrs, "index")));
      continue;
    }
    args.clear();
    for (int in : n.inputs) args.push_back(vals[in]);
    try {
      if (n.op->ref_multi) {
        results[int(id)] = n.op->ref_multi(args, n.attrs, ctx);
        vals[id] = results[int(id)][0];
      } else {
        vals[id] = n.op->ref(args, n.attrs, ctx);
      }
    } catch (const NonFiniteError&) {
      throw;  // from inside a scan body, already located
    } catch (const OutOfMemoryError&) {
      throw;
    } catch (const std::bad_alloc&) {
      int64_t bytes = num_elements(n.type.shape) * int64_t(dtype_size(n.type.dtype));
      throw OutOfMemoryError(fmt::format("out of memory: cannot allocate {} for node %{} ({}{}, {})",
                                         format_bytes(bytes), id, n.op->name, where_of(n), type_str(n.type)),
                             bytes);
    } catch (const std::exception& e) {
      std::string where = n.loc.known() ? fmt::format("{}:{}:{}: ", n.loc.file, n.loc.line, n.loc.col) : "";
      throw std::runtime_error(fmt::format("{}{} (node %{}): {}", where, n.op->name, id, e.what()));
    }
    if (check) check_finite(g, int(id), vals[id], top);
  }
  std::vector<Tensor> out;
  for (int o : g.outputs) out.push_back(vals[o]);
  return out;
}

std::vector<Tensor> run_graph(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                              const RunOptions& opts) {
  std::vector<Dim> syms = bind_symbols(g, inputs);
  Graph concrete = specialize(g, syms);
  for (size_t i = 0; i < inputs.size(); ++i)
    check_tensor(fmt::format("input '{}'", g.input_name(int(i))), concrete.type(concrete.inputs[i]), inputs[i],
                 nullptr);
  check_values_fit(concrete, syms);
  check_input_indices(concrete, inputs, syms);  // named by input, before any node runs
  RefCtx ctx;
  ctx.seed = opts.seed;
  // Scan bodies are checked too, so the first bad node inside an LSTM step is named;
  // its node id is that of the body.
  ctx.run_graph = [&](const Graph& body, const std::vector<Tensor>& args) {
    return run_static(body, args, params, ctx, opts.check_finite, false);
  };
  return run_static(concrete, inputs, params, ctx, opts.check_finite, true);
}

}  // namespace starc
