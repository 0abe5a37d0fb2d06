// runtime/onnx: ONNX LSTM and GRU as std.nn's lstm / gru layers, one call per direction.
// ONNX keeps time first (X [T, N, F], Y [T, dirs, N, H]) and orders the gates i, o, f, c
// (LSTM) and z, r, h (GRU); std.nn runs [N, T, F] with PyTorch's orders i, f, g, o and
// r, z, n. The weights are reordered at import, and Y is rebuilt in ONNX's layout so the
// exporter's own transposes and reshapes that follow still apply.
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
  for (int i : {5, 6})
    if (imp.has_in(i) && !is_zero(imp.in(i))) imp.fail("non-zero initial states are not supported");
}

struct Recurrent {
  std::string layer;            // lstm or gru
  std::vector<int> gate_order;  // std.nn's gate g is ONNX's gate_order[g]
  int gates;
};

// One direction as `layer(xs, H[, reverse: true]) as scope`, [N, T, H].
ImportValue one_direction(Importer& imp, const Recurrent& r, const ImportValue& xs, int d, bool reverse, Dim hidden) {
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
  std::string args = fmt::format("{}{}", hidden, reverse ? ", reverse: true" : "");
  return emit_layer(imp, r.layer, xs, args, scope, weights, {xs.type.dtype, s}, scope);
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
    if (imp.in(i).type.shape != shape)
      imp.fail(fmt::format("{} must be {}, got {}", what, shape_str(shape), imp.type_text(imp.in(i).type)));
  };
  expect(1, "W", {dirs, gh, x.type.shape[2]});
  expect(2, "R", {dirs, gh, hidden});
  if (imp.has_in(3)) expect(3, "B", {dirs, 2 * gh});
  ImportValue xs = imp.apply("transpose", {x}, {{"perm", Ints{1, 0, 2}}});  // [N, T, F]
  std::vector<ImportValue> ys;
  if (dir != "reverse") ys.push_back(one_direction(imp, r, xs, 0, false, hidden));
  if (dir != "forward") ys.push_back(one_direction(imp, r, xs, dir == "bidirectional" ? 1 : 0, true, hidden));
  // Y [T, dirs, N, H] from the [N, T, H] sequences.
  Dim n = xs.type.shape[0], t = xs.type.shape[1];
  std::vector<ImportValue> parts;
  for (const auto& y : ys) parts.push_back(imp.apply("reshape", {y}, {{"shape", Ints{n, t, 1, hidden}}}));
  ImportValue stacked = parts.size() == 1 ? parts[0] : imp.apply("concat", parts, {{"axis", int64_t(2)}});
  imp.define_output(0, imp.apply("transpose", {stacked}, {{"perm", Ints{1, 2, 0, 3}}}));
  if (imp.node->output_size() > 1 && imp.uses(imp.node->output(1))) {  // Y_h [dirs, N, H]: each direction's last state
    std::vector<ImportValue> last;
    for (size_t d = 0; d < ys.size(); ++d) {
      bool backward = ys.size() == 2 ? d == 1 : dir == "reverse";
      int64_t at = backward ? 0 : t - 1;
      ImportValue s = imp.apply("slice", {ys[d]}, {{"axis", int64_t(1)}, {"start", at}, {"end", at + 1}});
      last.push_back(imp.apply("reshape", {s}, {{"shape", Ints{1, n, hidden}}}));
    }
    imp.define_output(1, last.size() == 1 ? last[0] : imp.apply("concat", last, {{"axis", int64_t(0)}}));
  }
  if (imp.node->output_size() > 2 && imp.uses(imp.node->output(2)))
    imp.fail("the final cell state Y_c is not supported (std.nn's lstm returns the hidden states)");
}

}  // namespace

void convert_lstm(Importer& imp) { convert_recurrent(imp, {"lstm", {0, 2, 3, 1}, 4}); }
void convert_gru(Importer& imp) { convert_recurrent(imp, {"gru", {1, 0, 2}, 3}); }

}  // namespace starc
