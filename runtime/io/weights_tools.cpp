#include "runtime/io/weights_tools.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace starc {

WeightsDiff diff_weights(const TensorMap& a, const TensorMap& b) {
  WeightsDiff d;
  for (auto& [name, t] : a)
    if (!b.count(name)) d.only_in_a.push_back(name);
  for (auto& [name, t] : b)
    if (!a.count(name)) d.only_in_b.push_back(name);
  for (auto& [name, ta] : a) {
    auto it = b.find(name);
    if (it == b.end()) continue;
    const Tensor& tb = it->second;
    WeightsDiff::Changed c{name, type_str(ta.type()), type_str(tb.type())};
    if (ta.type() == tb.type()) {
      for (int64_t i = 0; i < ta.size(); ++i) {
        double x = ta.get(i), y = tb.get(i);
        bool same = x == y || (std::isnan(x) && std::isnan(y));
        if (!same) ++c.differing, c.max_abs = std::max(c.max_abs, std::abs(x - y));
      }
      if (c.differing == 0) {
        ++d.same;
        continue;
      }
    }
    d.changed.push_back(c);
  }
  return d;
}

namespace {

// A recurrent layer's leaf as starc names it: weight_ih_l0 -> weight_ih, ...
std::string starc_leaf(const std::string& leaf) {
  if (leaf.size() > 3 && leaf.compare(leaf.size() - 3, 3, "_l0") == 0) return leaf.substr(0, leaf.size() - 3);
  return leaf;
}

// An LSTM (4 gates) rather than a GRU (3): weight_hh_l0 is [gates * units, units].
bool is_lstm(const TensorMap& sd, const std::string& module) {
  auto w = sd.find(module + ".weight_hh_l0");
  return w != sd.end() && w->second.rank() == 2 && w->second.dim(0) == 4 * w->second.dim(1);
}

Tensor as_f32(const Tensor& t) { return is_float(t.dtype()) && t.dtype() != DType::F32 ? t.cast(DType::F32) : t; }

}  // namespace

TensorMap rename_state_dict(const TensorMap& state_dict, const std::map<std::string, std::string>& scopes) {
  TensorMap out;
  for (auto& [key, t] : state_dict) {
    size_t dot = key.rfind('.');
    std::string module = dot == std::string::npos ? "" : key.substr(0, dot), leaf = key.substr(dot + 1);
    if (leaf == "num_batches_tracked") continue;  // batch norm's step counter: not a starc weight
    if (leaf.find("_reverse") != std::string::npos)
      throw std::invalid_argument(fmt::format(
          "'{}': a bidirectional layer's reverse direction; map it by hand (docs/weights.md, \"From a PyTorch "
          "state_dict\")",
          key));
    auto scope = scopes.find(module);
    if (scope == scopes.end()) {
      if (!module.empty())
        throw std::invalid_argument(
            fmt::format("'{}': no starc scope for the module '{}' (map it: {}=SCOPE)", key, module, module));
      out[key] = as_f32(t);
      continue;
    }
    if (leaf == "bias_hh_l0" && is_lstm(state_dict, module)) continue;  // joins bias_ih_l0 below
    if (leaf == "bias_ih_l0" && is_lstm(state_dict, module)) {          // an LSTM's two biases are starc's one
      auto hh = state_dict.find(module + ".bias_hh_l0");
      if (hh == state_dict.end()) throw std::invalid_argument(fmt::format("'{}' without '{}.bias_hh_l0'", key, module));
      Tensor sum = as_f32(t).clone();
      Tensor other = as_f32(hh->second);
      if (other.type() != sum.type())
        throw std::invalid_argument(fmt::format("'{}' and '{}.bias_hh_l0' differ in type", key, module));
      for (int64_t i = 0; i < sum.size(); ++i) sum.set(i, sum.get(i) + other.get(i));
      out[scope->second + ".bias"] = sum;
      continue;
    }
    out[scope->second + "." + starc_leaf(leaf)] = as_f32(t);
  }
  return out;
}

}  // namespace starc
