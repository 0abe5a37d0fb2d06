// runtime/onnx: ONNX LSTM and GRU as std.nn's lstm / gru layers, one call per direction.
// ONNX keeps time first (X [T, N, F], Y [T, dirs, N, H]) and orders the gates i, o, f, c
// (LSTM) and z, r, h (GRU); std.nn runs [N, T, F] with PyTorch's orders i, f, g, o and
// r, z, n. The weights are reordered at import, and Y is rebuilt in ONNX's layout so the
// exporter's own transposes and reshapes that follow still apply. Initial states
// (initial_h, initial_c [dirs, N, H]) go in as the layer's `initial:`, one direction's
// [1, N, H] each; the final states Y_h / Y_c, when used, come from `return_state: true`.
#include <fmt/format.h>

#include "runtime/onnx/import_ops.h"

namespace starc {

namespace {

// Rows of `w` [G*H, ...] (one block of H rows per gate) in the gate order `order`.
Tensor reorder_gates(const Tensor& w, const std::vector<int>& order, Dim h) {
  Tensor out(w.dtype(), w.shape());
  int64_t row = w.size() / w.shape()[0];
  size_t bytes = size_t(h * row) * dtype_size(w.dtype());
  for (size_t g = 0; g < order.size(); ++g)
    std::memcpy(static_cast<char*>(out.raw()) + g * bytes, static_cast<const char*>(w.raw()) + order[g] * bytes, bytes);
  return out;
}

// Direction d of a [dirs, ...] weight.
Tensor direction(const Tensor& w, int d) {
  Shape s(w.shape().begin() + 1, w.shape().end());
  Tensor out(w.dtype(), s);
  std::memcpy(out.raw(), static_cast<const char*>(w.raw()) + d * out.nbytes(), out.nbytes());
  return out;
}

const Tensor& known_weight(Importer& imp, int i, const char* what) {
  const ImportValue& v = imp.in(i);
  if (!v.known || v.has_symbolic()) imp.fail(fmt::format("the {} (input {}) must be an initializer", what, i));
  return *v.known;
}

bool is_zero(const ImportValue& v) {
  if (v.zeros) return true;
  if (!v.known) return false;
  for (int64_t i = 0; i < v.known->size(); ++i)
    if (v.known->get(i) != 0) return false;
  return true;
}

void check_rnn_attrs(Importer& imp, const std::vector<std::string>& default_acts) {
  if (imp.has_in(4)) imp.fail("sequence_lens is not supported (all sequences have the full length)");
  if (imp.attr("clip")) imp.fail("cell clipping (clip) is not supported");
  if (imp.attr_int("layout", 0) != 0) imp.fail("layout = 1 is not supported");
  if (imp.attr_int("input_forget", 0)) imp.fail("input_forget = 1 is not supported");
  if (const auto* a = imp.attr("activations")) {
    std::vector<std::string> acts(a->strings().begin(), a->strings().end());
    for (size_t i = 0; i < acts.size(); ++i)
      if (acts[i] != default_acts[i % default_acts.size()])
        imp.fail(fmt::format("activation '{}' is not supported (only the defaults)", acts[i]));
  }
  // std.nn's lstm has no peepholes; zero ones (or none) compute the same.
  if (imp.node->op_type() == "LSTM" && imp.has_in(7) && !is_zero(imp.in(7)))
    imp.fail("peephole weights P are not supported");
}

struct Recurrent {
  std::string layer;            // lstm or gru
  std::vector<int> gate_order;  // std.nn's gate g is ONNX's gate_order[g]
  int gates;
};

// What one direction's call computes: the sequence [N, T, H] and, when asked for, its
// final states [1, N, H] (h, then c for an LSTM).
struct DirectionOut {
  ImportValue ys;
  std::vector<ImportValue> states;
};

// The initial states (inputs 5, and 6 of an LSTM) that are given and not all zero; each
// [dirs, N, H]. Empty: the layer's default zeros.
std::vector<int> initial_inputs(Importer& imp, const Recurrent& r, Shape shape) {
  std::vector<int> given;
  for (int i : r.layer == "lstm" ? std::vector<int>{5, 6} : std::vector<int>{5}) {
    if (!imp.has_in(i)) continue;
    if (imp.in(i).type.shape != shape || imp.in(i).type.dtype != imp.in(0).type.dtype)
      imp.fail(fmt::format("initial state {} must be {}, got {}", i == 5 ? "initial_h" : "initial_c",
                           imp.type_text({imp.in(0).type.dtype, shape}), imp.type_text(imp.in(i).type)));
    if (!is_zero(imp.in(i))) given.push_back(i);
  }
  if (given.empty()) return {};
  return r.layer == "lstm" ? std::vector<int>{5, 6} : std::vector<int>{5};
}

// `initial: ...` for direction d: each state's [1, N, H] slice (zeros for an omitted one).
std::string initial_arg(Importer& imp, const Recurrent& r, const std::vector<int>& inputs, int d, int64_t dirs,
                        const TensorType& state) {
  if (inputs.empty()) return "";
  std::vector<std::string> parts;
  for (int i : inputs) {
    ImportValue s;
    if (!imp.has_in(i)) {
      s.type = state, s.zeros = true;
    } else {
      s = imp.in(i);
      if (dirs > 1) s = imp.apply("slice", {s}, {{"axis", int64_t(0)}, {"start", int64_t(d)}, {"end", int64_t(d + 1)}});
    }
    parts.push_back(imp.operand(s));
  }
  return r.layer == "lstm" ? fmt::format(", initial: ({}, {})", parts[0], parts[1])
                           : fmt::format(", initial: {}", parts[0]);
}

// One direction as `layer(xs, H[, reverse: true][, initial: ...][, return_state: true]) as scope`.
DirectionOut one_direction(Importer& imp, const Recurrent& r, const ImportValue& xs, int d, bool reverse, Dim hidden,
                           const std::string& initial, bool states) {
  Tensor w = reorder_gates(direction(known_weight(imp, 1, "input weights W"), d), r.gate_order, hidden);
  Tensor rw = reorder_gates(direction(known_weight(imp, 2, "recurrent weights R"), d), r.gate_order, hidden);
  std::vector<std::pair<std::string, Tensor>> weights = {{"weight_ih", w}, {"weight_hh", rw}};
  Tensor wb(w.dtype(), {r.gates * hidden}), rb(w.dtype(), {r.gates * hidden});
  if (imp.has_in(3)) {  // B = [Wb, Rb]
    Tensor b = direction(known_weight(imp, 3, "biases B"), d);
    std::memcpy(wb.raw(), b.raw(), wb.nbytes());
    std::memcpy(rb.raw(), static_cast<const char*>(b.raw()) + wb.nbytes(), rb.nbytes());
    wb = reorder_gates(wb, r.gate_order, hidden), rb = reorder_gates(rb, r.gate_order, hidden);
  }
  if (r.layer == "lstm")
    weights.push_back({"bias", evaluate("add", {wb, rb})});
  else
    weights.insert(weights.end(), {{"bias_ih", wb}, {"bias_hh", rb}});
  std::string scope = imp.scope_name("", fmt::format("{}_{}", r.layer, reverse ? "backward" : "forward"));
  Shape s = {xs.type.shape[0], xs.type.shape[1], hidden};
  std::string args =
      fmt::format("{}{}{}{}", hidden, reverse ? ", reverse: true" : "", initial, states ? ", return_state: true" : "");
  TensorType ys_type{xs.type.dtype, s};
  ImportValue out = emit_layer(imp, r.layer, xs, args, scope, weights, ys_type, states ? scope + "_out" : scope);
  if (!states) return {out, {}};
  // (ys, (h_n, c_n)) for an LSTM, (ys, h_n) for a GRU; the states [1, N, H].
  TensorType state{xs.type.dtype, {1, s[0], hidden}};
  DirectionOut o{imp.emit(out.expr + "[0]", ys_type, scope + "_ys"), {}};
  if (r.layer == "gru") return o.states.push_back(imp.emit(out.expr + "[1]", state, scope + "_h")), o;
  o.states.push_back(imp.emit(out.expr + "[1][0]", state, scope + "_h"));
  o.states.push_back(imp.emit(out.expr + "[1][1]", state, scope + "_c"));
  return o;
}

void convert_recurrent(Importer& imp, const Recurrent& r) {
  check_rnn_attrs(imp, r.layer == "lstm" ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                         : std::vector<std::string>{"Sigmoid", "Tanh"});
  if (r.layer == "gru" && imp.attr_int("linear_before_reset", 0) != 1)
    imp.fail("linear_before_reset = 0 is not supported (PyTorch exports 1, as std.nn's gru computes)");
  const ImportValue& x = imp.in(0);  // [T, N, F]
  if (x.type.rank() != 3) imp.fail("X must be [seq_length, batch, features]");
  if (is_sym(x.type.shape[0])) imp.fail("the sequence length must be static");
  std::string dir = imp.attr_str("direction", "forward");
  Dim hidden = imp.attr_int("hidden_size", 0);
  if (hidden <= 0) imp.fail("hidden_size must be positive");
  int64_t dirs = dir == "bidirectional" ? 2 : 1, gh = r.gates * hidden;
  if (dir != "forward" && dir != "reverse" && dir != "bidirectional") imp.fail("direction '" + dir + "' is unknown");
  auto expect = [&](int i, const char* what, Shape shape) {
    if (imp.in(i).type.shape != shape || imp.in(i).type.dtype != imp.in(0).type.dtype)
      imp.fail(fmt::format("{} must be {}, got {}", what, shape_str(shape), imp.type_text(imp.in(i).type)));
  };
  expect(1, "W", {dirs, gh, x.type.shape[2]});
  expect(2, "R", {dirs, gh, hidden});
  if (imp.has_in(3)) expect(3, "B", {dirs, 2 * gh});
  Dim n = x.type.shape[1], t = x.type.shape[0];
  std::vector<int> initial = initial_inputs(imp, r, {dirs, n, hidden});
  bool states = false;  // Y_h (and Y_c) used: the layers return their final states
  for (int i = 1; i < imp.node->output_size(); ++i) states = states || imp.uses(imp.node->output(i)) > 0;
  ImportValue xs = imp.apply("transpose", {x}, {{"perm", Ints{1, 0, 2}}});  // [N, T, F]
  TensorType state{x.type.dtype, {1, n, hidden}};
  std::vector<DirectionOut> outs;
  for (int d = 0; d < dirs; ++d) {
    bool reverse = dir == "reverse" || d == 1;
    outs.push_back(one_direction(imp, r, xs, d, reverse, hidden, initial_arg(imp, r, initial, d, dirs, state), states));
  }
  // Y [T, dirs, N, H] from the [N, T, H] sequences.
  std::vector<ImportValue> parts;
  for (const auto& o : outs) parts.push_back(imp.apply("reshape", {o.ys}, {{"shape", Ints{n, t, 1, hidden}}}));
  ImportValue stacked = parts.size() == 1 ? parts[0] : imp.apply("concat", parts, {{"axis", int64_t(2)}});
  imp.define_output(0, imp.apply("transpose", {stacked}, {{"perm", Ints{1, 2, 0, 3}}}));
  // Y_h, Y_c [dirs, N, H]: the directions' [1, N, H] final states stacked.
  for (int i = 1; states && i < imp.node->output_size(); ++i) {
    if (!imp.uses(imp.node->output(i))) continue;
    std::vector<ImportValue> last;
    for (const auto& o : outs) last.push_back(o.states.at(size_t(i - 1)));
    imp.define_output(i, last.size() == 1 ? last[0] : imp.apply("concat", last, {{"axis", int64_t(0)}}));
  }
}

}  // namespace

void convert_lstm(Importer& imp) { convert_recurrent(imp, {"lstm", {0, 2, 3, 1}, 4}); }
void convert_gru(Importer& imp) { convert_recurrent(imp, {"gru", {1, 0, 2}, 3}); }

}  // namespace starc
