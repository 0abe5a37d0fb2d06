#include "runtime/batch_independence.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "runtime/jit_executor.h"
#include "runtime/trainer.h"

namespace starc {
namespace {

// Whether `t` leads with the symbolic (batch) dim and has no other symbolic dim.
bool leads_with_batch(const TensorType& t) {
  if (t.rank() == 0 || !is_sym(t.shape[0])) return false;
  for (int i = 1; i < t.rank(); ++i)
    if (is_sym(t.shape[i])) return false;
  return true;
}

void check_batch_shapes(const Graph& g) {
  if (g.symbols.size() != 1)
    throw ParamError<std::invalid_argument>(fmt::format("{} needs exactly one symbolic (batch) dim; the model has {}",
                                                        param_ref("dynamic_batch"), g.symbols.size()));
  for (size_t i = 0; i < g.inputs.size(); ++i)
    if (!leads_with_batch(g.type(g.inputs[i])))
      throw ParamError<std::invalid_argument>(
          fmt::format("{}: input '{}' is {}; every input and output must lead with the batch dim",
                      param_ref("dynamic_batch"), g.input_name(int(i)), type_str(g.type(g.inputs[i]), &g.symbols)));
  for (size_t i = 0; i < g.outputs.size(); ++i)
    if (!leads_with_batch(g.type(g.outputs[i])))
      throw ParamError<std::invalid_argument>(
          fmt::format("{}: output '{}' is {}; every input and output must lead with the batch dim",
                      param_ref("dynamic_batch"), g.output_names[i], type_str(g.type(g.outputs[i]), &g.symbols)));
}

}  // namespace

void check_samples_independent(const Graph& g, const TensorMap& params) {
  check_batch_shapes(g);
  const int64_t n = 3;
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<Tensor> batch_in;
  for (int id : g.inputs) {
    Shape s = g.type(id).shape;
    s[0] = n;
    Tensor t(g.type(id).dtype, s);
    for (int64_t k = 0; k < t.size(); ++k) t.set(k, is_float(t.dtype()) ? u(rng) : 0.0);
    batch_in.push_back(t);
  }
  JitExecutor jit(JitOptions{}, "");
  std::vector<Tensor> whole = jit.run(g, batch_in, params, 0);
  for (int64_t b = 0; b < n; ++b) {
    std::vector<Tensor> one;
    for (auto& t : batch_in) one.push_back(gather_rows(t, {b}, 0, 1));
    std::vector<Tensor> got = jit.run(g, one, params, 0);
    for (size_t o = 0; o < got.size(); ++o) {
      int64_t per = got[o].size();
      for (int64_t k = 0; k < per; ++k) {
        double a = got[o].get(k), w = whole[o].get(b * per + k);
        if (!(std::abs(a - w) <= 1e-4 * std::max(1.0, std::abs(w))))
          throw SampleDependenceError(
              fmt::format("{}: model {} does not treat the samples of a batch independently (output '{}' of "
                          "sample {} is {} in a batch of {} but {} alone)",
                          param_ref("dynamic_batch"), g.name, g.output_names[o], b, w, n, a));
      }
    }
  }
}

}  // namespace starc
