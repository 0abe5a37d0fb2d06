#include "runtime/gradcheck.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>

#include "compiler/autodiff/autodiff.h"
#include "compiler/ops/builder.h"

namespace starc {

namespace {

Tensor to_f64(const Tensor& t) { return is_float(t.dtype()) ? t.cast(DType::F64) : t; }

// Appends L = sum_k sum(output_k * R_k) and makes it the only output.
int append_projection_loss(Graph& g, uint64_t seed) {
  GraphBuilder b(g);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::uniform_real_distribution<double> u(-1, 1);
  int loss = -1;
  for (int o : g.outputs) {
    if (!is_float(g.type(o).dtype)) continue;
    Tensor r(DType::F64, g.type(o).shape);
    for (int64_t i = 0; i < r.size(); ++i) r.set(i, u(rng));
    int term = b.sum(b.mul(o, b.op("const", {}, {{"value", r}})), {}, false);
    loss = loss < 0 ? term : b.add(loss, term);
  }
  if (loss < 0) throw std::runtime_error(g.name + ": no float output to differentiate");
  g.outputs = {loss};
  g.output_names = {"loss"};
  return loss;
}

// One comparison: keeps the worst (by relative error) in `e`. The denominator's floor
// `e.atol` makes this PyTorch's |a - n| <= atol + rtol |n| in one number: finite
// differences carry rounding noise of the loss's size / eps whatever the gradient, so a
// gradient that is exactly zero by symmetry (an attention key bias, a bias before
// batch norm) must be judged against the model's gradient scale, not against itself.
void record(GradcheckEntry& e, int64_t index, double analytic, double numeric) {
  double abs_err = std::abs(analytic - numeric);
  double rel = abs_err / std::max({std::abs(analytic), std::abs(numeric), e.atol});
  if (std::isnan(analytic) || std::isnan(numeric)) rel = abs_err = INFINITY;
  ++e.checked;
  e.max_abs_err = std::max(e.max_abs_err, abs_err);
  if (rel > e.max_rel_err || e.worst_index < 0) {
    e.max_rel_err = rel;
    e.worst_index = index;
    e.analytic = analytic;
    e.numeric = numeric;
  }
}

// The largest |element| of the analytic gradients: the scale of the absolute tolerance.
double largest_gradient(const std::vector<Tensor>& grads) {
  double m = 0;
  for (const Tensor& g : grads)
    for (int64_t i = 0; i < g.size(); ++i)
      if (std::isfinite(g.get(i))) m = std::max(m, std::abs(g.get(i)));
  return m;
}

// Central differences element by element (all, or max_samples chosen at random).
void check_elements(Tensor& x, const Tensor& grad, const GradcheckOptions& opts, std::mt19937_64& rng,
                    const std::function<double()>& loss_at, GradcheckEntry& e) {
  std::vector<int64_t> idx(size_t(x.size()));
  std::iota(idx.begin(), idx.end(), 0);
  if (opts.max_samples > 0 && int64_t(idx.size()) > opts.max_samples) {
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(size_t(opts.max_samples));
    std::sort(idx.begin(), idx.end());
  }
  for (int64_t i : idx) {
    double x0 = x.get(i);
    x.set(i, x0 + opts.eps);
    double lp = loss_at();
    x.set(i, x0 - opts.eps);
    double lm = loss_at();
    x.set(i, x0);
    record(e, i, grad.get(i), (lp - lm) / (2 * opts.eps));
  }
}

// Central differences along random unit directions: g.v against the loss's slope along v.
void check_directions(Tensor& x, const Tensor& grad, const GradcheckOptions& opts, std::mt19937_64& rng,
                      const std::function<double()>& loss_at, GradcheckEntry& e) {
  const Tensor x0 = x.clone();
  std::normal_distribution<double> normal;
  for (int d = 0; d < opts.directions; ++d) {
    std::vector<double> v(size_t(x.size()));
    double norm = 0, projected = 0;
    for (double& vi : v) vi = normal(rng), norm += vi * vi;
    norm = std::sqrt(norm);
    for (int64_t i = 0; i < x.size(); ++i) v[size_t(i)] /= norm, projected += grad.get(i) * v[size_t(i)];
    auto move = [&](double step) {
      for (int64_t i = 0; i < x.size(); ++i) x.set(i, x0.get(i) + step * v[size_t(i)]);
    };
    move(opts.eps);
    double lp = loss_at();
    move(-opts.eps);
    double lm = loss_at();
    move(0);
    record(e, d, projected, (lp - lm) / (2 * opts.eps));
  }
}

}  // namespace

std::vector<GradcheckEntry> gradcheck(const Graph& g, const std::vector<Tensor>& inputs_in, const TensorMap& params_in,
                                      const GradcheckOptions& opts) {
  std::vector<Tensor> inputs;
  for (auto& t : inputs_in) inputs.push_back(to_f64(t));
  TensorMap params;
  for (auto& [k, t] : params_in) params[k] = to_f64(t);

  Graph g64 = with_float_type(g, DType::F64);
  Graph loss_graph = specialize(g64, bind_symbols(g64, inputs));
  int loss = append_projection_loss(loss_graph, opts.seed);

  // What to check: float inputs and trainable float params, by name.
  std::vector<int> wrt;
  std::vector<std::string> names;
  std::vector<Tensor*> targets;
  if (opts.include_inputs)
    for (size_t i = 0; i < loss_graph.inputs.size(); ++i)
      if (is_float(loss_graph.type(loss_graph.inputs[i]).dtype)) {
        wrt.push_back(loss_graph.inputs[i]);
        names.push_back(loss_graph.input_name(int(i)));
        targets.push_back(&inputs[i]);
      }
  if (opts.include_params)
    for (int p : loss_graph.params()) {
      const Node& n = loss_graph.node(p);
      if (!attr_bool(n.attrs, "trainable") || !is_float(n.type.dtype)) continue;
      const std::string& name = attr_str(n.attrs, "name");
      auto it = params.find(name);
      if (it == params.end()) throw std::runtime_error("missing weight '" + name + "'");
      wrt.push_back(p);
      names.push_back(name);
      targets.push_back(&it->second);
    }

  Graph grad_graph = loss_graph;
  std::vector<int> grads = append_gradients(grad_graph, loss, wrt);
  grad_graph.outputs = grads;
  grad_graph.output_names = names;
  RunOptions run_opts{opts.seed};
  std::vector<Tensor> analytic = run_graph(grad_graph, inputs, params, run_opts);

  auto loss_at = [&]() { return run_graph(loss_graph, inputs, params, run_opts)[0].get(0); };
  std::mt19937_64 rng(opts.seed + 1);
  const double atol = std::max(opts.atol_scale * largest_gradient(analytic), opts.atol_min);
  std::vector<GradcheckEntry> out;
  for (size_t k = 0; k < wrt.size(); ++k) {
    if (opts.on_tensor) opts.on_tensor(names[k], k, wrt.size());
    Tensor& x = *targets[k];
    x = x.clone();  // perturb a private copy
    GradcheckEntry e{names[k]};
    e.atol = atol;
    if (opts.directions > 0)
      check_directions(x, analytic[k], opts, rng, loss_at, e);
    else
      check_elements(x, analytic[k], opts, rng, loss_at, e);
    out.push_back(e);
  }
  return out;
}

}  // namespace starc
