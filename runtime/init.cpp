#include "runtime/init.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/ops/philox.h"

namespace starc {

static uint64_t name_hash(const std::string& s) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a: offset basis 0xcbf29ce484222325, prime 0x100000001b3
  for (char c : s) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return h;
}

Tensor init_param(const Node& n, uint64_t seed) {
  const std::string& name = attr_str(n.attrs, "name");
  const std::string& init = attr_str(n.attrs, "init");
  const Floats& a = attr_floats(n.attrs, "init_args");
  uint64_t stream = name_hash(name);
  Tensor t(n.type.dtype, n.type.shape);
  auto uniform = [&](double lo, double hi) {
    for (int64_t i = 0; i < t.size(); ++i) t.set(i, lo + (hi - lo) * uniform01(seed, stream, uint64_t(i)));
  };
  auto normal = [&](double mean, double std) {
    for (int64_t i = 0; i < t.size(); ++i) t.set(i, mean + std * standard_normal(seed, stream, uint64_t(i)));
  };
  auto arg = [&](size_t i) {
    if (i >= a.size())
      throw std::runtime_error(fmt::format("param '{}': initializer {} is missing arguments", name, init));
    return a[i];
  };
  if (init == "zeros") {
  } else if (init == "ones") {
    for (int64_t i = 0; i < t.size(); ++i) t.set(i, 1);
  } else if (init == "constant") {
    for (int64_t i = 0; i < t.size(); ++i) t.set(i, arg(0));
  } else if (init == "normal") {
    normal(arg(0), arg(1));
  } else if (init == "uniform") {
    uniform(arg(0), arg(1));
  } else if (init == "he_uniform") {
    double b = std::sqrt(6.0 / arg(0));
    uniform(-b, b);
  } else if (init == "he_normal") {
    normal(0, std::sqrt(2.0 / arg(0)));
  } else if (init == "glorot_uniform") {
    double b = std::sqrt(6.0 / (arg(0) + arg(1)));
    uniform(-b, b);
  } else if (init == "glorot_normal") {
    normal(0, std::sqrt(2.0 / (arg(0) + arg(1))));
  } else if (init == "lecun_uniform") {
    double b = std::sqrt(3.0 / arg(0));
    uniform(-b, b);
  } else if (init == "lecun_normal") {
    normal(0, std::sqrt(1.0 / arg(0)));
  } else {
    throw std::runtime_error(fmt::format("param '{}': unknown initializer '{}'", name, init));
  }
  return t;
}

TensorMap init_params(const Graph& g, uint64_t seed) {
  TensorMap out;
  for (int id : g.params()) out[attr_str(g.node(id).attrs, "name")] = init_param(g.node(id), seed);
  return out;
}

void check_weights(const Graph& g, const TensorMap& weights, const std::string& source) {
  std::map<std::string, const Node*> want;
  for (int id : g.params()) want[attr_str(g.node(id).attrs, "name")] = &g.node(id);
  for (auto& [name, n] : want) {
    auto it = weights.find(name);
    if (it == weights.end())
      throw std::runtime_error(fmt::format("{}: missing weight '{}' (expected {})", source, name, type_str(n->type)));
    if (it->second.type() != n->type)
      throw std::runtime_error(fmt::format("{}: weight '{}' has the wrong {}: expected {}, got {}", source, name,
                                           it->second.shape() == n->type.shape ? "dtype" : "shape", type_str(n->type),
                                           type_str(it->second.type())));
  }
  for (auto& [name, t] : weights)
    if (!want.count(name))
      throw std::runtime_error(fmt::format("{}: unexpected weight '{}' ({}): the model has no such parameter", source,
                                           name, type_str(t.type())));
}

TensorMap weights_from_checkpoint(TensorMap weights) {
  if (!weights.count("starc.format")) return weights;
  for (auto it = weights.begin(); it != weights.end();)
    it = it->first.rfind("opt.", 0) == 0 || it->first.rfind("starc.", 0) == 0 ? weights.erase(it) : std::next(it);
  return weights;
}

}  // namespace starc
