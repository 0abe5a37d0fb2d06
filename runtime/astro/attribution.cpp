#include "runtime/astro/attribution.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "compiler/autodiff/autodiff.h"
#include "compiler/ops/builder.h"
#include "runtime/trainer.h"

namespace starc {
namespace {

std::string describe(const Graph& g, const std::string& what, const std::string& name, int id) {
  return fmt::format("{} '{}' ({})", what, name, type_str(g.type(id), &g.symbols));
}

Shape row_shape(const Shape& s) { return Shape(s.begin() + 1, s.end()); }

// Rows `rows` of `t` (dim 0), in that order: [rows.size(), ...] (the trainer's batch gather).
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& rows) {
  return starc::gather_rows(t, rows, 0, int64_t(rows.size()));
}

// Copies the first `n` rows of `src` to rows [at, at + n) of `dst` (same row shape).
void put_rows(Tensor& dst, int64_t at, const Tensor& src, int64_t n) {
  size_t row_bytes = src.dim(0) > 0 ? src.nbytes() / size_t(src.dim(0)) : 0;
  std::memcpy(static_cast<std::byte*>(dst.raw()) + size_t(at) * row_bytes, src.raw(), size_t(n) * row_bytes);
}

}  // namespace

Graph build_attribution_graph(const Graph& model, int input, int output) {
  if (input < 0 || input >= int(model.inputs.size()))
    throw AttributionError(
        fmt::format("model '{}' has {} inputs; no input {}", model.name, model.inputs.size(), input));
  if (output < 0 || output >= int(model.outputs.size()))
    throw AttributionError(
        fmt::format("model '{}' has {} outputs; no output {}", model.name, model.outputs.size(), output));
  Graph g = model;
  int x = g.inputs[input], y = g.outputs[output];
  TensorType xt = g.type(x), yt = g.type(y);
  std::string in_desc = describe(g, "input", g.input_name(input), x);
  std::string out_desc = describe(g, "output", g.output_names.at(output), y);
  if (!is_float(xt.dtype)) throw AttributionError(in_desc + " is not float: only float inputs can be attributed");
  if (!is_float(yt.dtype)) throw AttributionError(out_desc + " is not float: only float outputs can be explained");
  if (yt.rank() != 2 || is_sym(yt.shape[1]))
    throw AttributionError(out_desc + ": explain needs an output [B, C] (classes or regression targets per sample)");
  if (xt.rank() < 1 || !is_sym(xt.shape[0]) || xt.shape[0] != yt.shape[0])
    throw AttributionError(
        fmt::format("{} and {}: explain needs the input's first dim to be the output's batch dim", in_desc, out_desc));
  GraphBuilder b(g);
  int target = b.op("input", {},
                    {{"name", std::string("attribution_target")}, {"dtype", DType::I64}, {"shape", Ints{yt.shape[0]}}});
  g.inputs.push_back(target);
  // A negative target means "the row's predicted column": chosen in the graph, so one run
  // both predicts and differentiates.
  int predicted = b.op("argmax", {y}, {{"axis", int64_t(1)}});
  int column = b.op("where", {b.op("lt", {target, b.scalar(0, DType::I64)}), predicted, target});
  int seed = b.op("one_hot", {column}, {{"depth", yt.shape[1]}, {"dtype", yt.dtype}});
  int grad = append_gradients(g, y, {x}, seed).at(0);
  g.outputs = {grad, y, column};
  g.output_names = {"grad", "output", "target"};
  return g;
}

Attributor::Attributor(const Graph& model, int input, int output, Executor& exec, TensorMap params)
    : graph_(build_attribution_graph(model, input, output)), exec_(exec), params_(std::move(params)), input_(input) {
  int x = model.inputs[input], y = model.outputs[output];
  Dim batch = model.type(x).shape[0];
  for (int id : model.inputs) batched_.push_back(model.type(id).rank() >= 1 && model.type(id).shape[0] == batch);
  classes_ = model.type(y).shape[1];
  input_desc_ = describe(model, "input", model.input_name(input), x);
  output_desc_ = describe(model, "output", model.output_names.at(output), y);
}

int64_t Attributor::check_inputs(std::vector<Tensor>& inputs) const {
  size_t n_model = batched_.size();
  if (inputs.size() != n_model)
    throw AttributionError(fmt::format("model '{}' takes {} inputs, got {}", graph_.name, n_model, inputs.size()));
  for (size_t i = 0; i < n_model; ++i) {
    const TensorType& want = graph_.type(graph_.inputs[i]);
    Tensor& t = inputs[i];
    std::string name = graph_.input_name(int(i));
    if (is_float(want.dtype) && is_float(t.dtype()))
      t = t.cast(want.dtype);
    else if (t.dtype() != want.dtype)
      throw AttributionError(fmt::format("input '{}' is {}; the model declares {}", name, type_str(t.type()),
                                         type_str(want, &graph_.symbols)));
  }
  const Tensor& x = inputs[size_t(input_)];
  if (x.rank() < 1) throw AttributionError(fmt::format("{} was given a scalar", input_desc_));
  int64_t n = x.dim(0);
  if (n < 1) throw AttributionError(fmt::format("{} has no samples ({})", input_desc_, type_str(x.type())));
  for (size_t i = 0; i < n_model; ++i)
    if (batched_[i] && (inputs[i].rank() < 1 || inputs[i].dim(0) != n))
      throw AttributionError(
          fmt::format("input '{}' is {} but {} has {} samples ({}): batched inputs need one row per sample",
                      graph_.input_name(int(i)), type_str(inputs[i].type()), input_desc_, n, type_str(x.type())));
  // Shape errors now, naming the input, rather than from inside a run.
  std::vector<Tensor> with_target = inputs;
  with_target.push_back(Tensor(DType::I64, {n}));
  bind_symbols(graph_, with_target);
  return n;
}

std::vector<int64_t> Attributor::check_targets(std::vector<int64_t> targets, int64_t samples) const {
  if (targets.empty()) targets = {-1};
  if (targets.size() == 1) targets.assign(size_t(samples), targets[0]);
  if (int64_t(targets.size()) != samples)
    throw AttributionError(fmt::format("{} targets for {} samples", targets.size(), samples));
  for (int64_t t : targets)
    if (t >= classes_)
      throw AttributionError(fmt::format("target {} is out of range: {} has {} column{} (0..{})", t, output_desc_,
                                         classes_, classes_ == 1 ? "" : "s", classes_ - 1));
  return targets;
}

Attributor::Rows Attributor::run_rows(const Tensor& x, const std::vector<Tensor>& inputs,
                                      const std::vector<int64_t>& sample_of_row, const std::vector<int64_t>& targets,
                                      int64_t chunk) {
  int64_t n = x.dim(0);
  Rows out;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    int64_t count = std::min(chunk, n - begin);
    // Row indices of this chunk, the last one repeated to fill it: every run has `chunk` rows.
    std::vector<int64_t> rows(static_cast<size_t>(chunk)), samples(static_cast<size_t>(chunk));
    for (int64_t r = 0; r < chunk; ++r) {
      rows[size_t(r)] = begin + std::min(r, count - 1);
      samples[size_t(r)] = sample_of_row[size_t(rows[size_t(r)])];
    }
    std::vector<Tensor> run_inputs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (int(i) == input_)
        run_inputs.push_back(gather_rows(x, rows));
      else if (batched_[i])
        run_inputs.push_back(gather_rows(inputs[i], samples));
      else
        run_inputs.push_back(inputs[i]);
    }
    Tensor target(DType::I64, {chunk});
    for (int64_t r = 0; r < chunk; ++r) target.data<int64_t>()[r] = targets[size_t(rows[size_t(r)])];
    run_inputs.push_back(target);
    std::vector<Tensor> res = exec_.run(graph_, run_inputs, params_, 0);
    if (!out.grad.defined()) {
      auto full = [&](const Tensor& t) {
        Shape s = t.shape();
        s[0] = n;
        return Tensor(t.dtype(), s);
      };
      out = Rows{full(res[0]), full(res[1]), full(res[2])};
    }
    put_rows(out.grad, begin, res[0], count);
    put_rows(out.output, begin, res[1], count);
    put_rows(out.target, begin, res[2], count);
  }
  return out;
}

AttributionResult Attributor::saliency(const std::vector<Tensor>& inputs_in, std::vector<int64_t> targets,
                                       bool signed_gradient, int64_t max_batch) {
  std::vector<Tensor> inputs = inputs_in;
  int64_t n = check_inputs(inputs);
  targets = check_targets(std::move(targets), n);
  std::vector<int64_t> samples(static_cast<size_t>(n));
  std::iota(samples.begin(), samples.end(), 0);
  const Tensor& x = inputs[size_t(input_)];
  Rows r = run_rows(x, inputs, samples, targets, max_batch > 0 ? std::min(max_batch, n) : n);
  AttributionResult res;
  res.attribution = r.grad;
  int64_t per_row = x.size() / n;
  for (int64_t i = 0; i < n; ++i) {
    SampleAttribution s;
    s.target = r.target.data<int64_t>()[i];
    s.output = r.output.get(i * classes_ + s.target);
    for (int64_t j = i * per_row; j < (i + 1) * per_row; ++j) {
      double v = signed_gradient ? r.grad.get(j) : std::abs(r.grad.get(j));
      res.attribution.set(j, v);
      s.attribution_sum += v;
    }
    res.samples.push_back(s);
  }
  return res;
}

AttributionResult Attributor::integrated_gradients(const std::vector<Tensor>& inputs_in, std::vector<int64_t> targets,
                                                   const IgOptions& opts) {
  std::vector<Tensor> inputs = inputs_in;
  int64_t n = check_inputs(inputs);
  targets = check_targets(std::move(targets), n);
  if (opts.steps < 1)
    throw AttributionError(fmt::format("integrated gradients need at least 1 step, got {}", opts.steps));
  const Tensor& x = inputs[size_t(input_)];
  Shape sample_shape = row_shape(x.shape());
  int64_t per_row = num_elements(sample_shape);
  Tensor baseline(x.dtype(), sample_shape);  // zeros unless given
  if (opts.baseline.defined()) {
    Shape with_batch = sample_shape;
    with_batch.insert(with_batch.begin(), 1);
    if (!is_float(opts.baseline.dtype()) ||
        (opts.baseline.shape() != sample_shape && opts.baseline.shape() != with_batch))
      throw AttributionError(
          fmt::format("the baseline is {} but {} is {}: the baseline must be one float sample, {} or {}",
                      type_str(opts.baseline.type()), input_desc_, type_str(x.type()), shape_str(sample_shape),
                      shape_str(with_batch)));
    baseline = opts.baseline.cast(x.dtype()).reshaped(sample_shape);
  }
  // Rows per run: x, x' (for the completeness check) and the m path points.
  int64_t points = int64_t(opts.steps) + 2;
  int64_t chunk = opts.max_batch > 0 ? std::min(opts.max_batch, points) : points;
  std::vector<int64_t> samples(static_cast<size_t>(n));
  std::iota(samples.begin(), samples.end(), 0);
  // Predicted columns first (runs of the same `chunk` rows: the same compiled graph).
  if (std::any_of(targets.begin(), targets.end(), [](int64_t t) { return t < 0; })) {
    Rows pred = run_rows(x, inputs, samples, targets, chunk);
    targets.assign(pred.target.data<int64_t>(), pred.target.data<int64_t>() + n);
  }

  AttributionResult res;
  res.attribution = Tensor(x.dtype(), x.shape());
  Shape path_shape = x.shape();
  path_shape[0] = points;
  for (int64_t i = 0; i < n; ++i) {
    Tensor path(x.dtype(), path_shape);
    for (int64_t j = 0; j < per_row; ++j) {
      double xi = x.get(i * per_row + j), bj = baseline.get(j);
      path.set(j, xi);
      path.set(per_row + j, bj);
      for (int k = 1; k <= opts.steps; ++k) {
        double alpha = (k - 0.5) / opts.steps;
        path.set((k + 1) * per_row + j, bj + alpha * (xi - bj));
      }
    }
    Rows r = run_rows(path, inputs, std::vector<int64_t>(size_t(points), i),
                      std::vector<int64_t>(size_t(points), targets[size_t(i)]), chunk);
    SampleAttribution s;
    s.target = targets[size_t(i)];
    s.output = r.output.get(s.target);
    s.baseline_output = r.output.get(classes_ + s.target);
    for (int64_t j = 0; j < per_row; ++j) {
      double mean_grad = 0;
      for (int k = 1; k <= opts.steps; ++k) mean_grad += r.grad.get((k + 1) * per_row + j);
      mean_grad /= opts.steps;
      double ig = (x.get(i * per_row + j) - baseline.get(j)) * mean_grad;
      res.attribution.set(i * per_row + j, ig);
      s.attribution_sum += ig;
    }
    double delta = s.output - s.baseline_output;
    s.completeness_gap = std::abs(s.attribution_sum - delta) / std::max(std::abs(delta), 1e-12);
    res.samples.push_back(s);
  }
  return res;
}

std::vector<Tensor> select_sample(const Graph& model, const std::vector<Tensor>& inputs, int input, int64_t index) {
  if (input < 0 || input >= int(model.inputs.size()) || inputs.size() != model.inputs.size())
    throw AttributionError(
        fmt::format("model '{}' takes {} inputs, got {}", model.name, model.inputs.size(), inputs.size()));
  const TensorType& xt = model.type(model.inputs[size_t(input)]);
  const Tensor& x = inputs[size_t(input)];
  int64_t n = x.rank() >= 1 ? x.dim(0) : 0;
  if (index < 0 || index >= n)
    throw AttributionError(fmt::format("sample index {} is out of range: input '{}' is {} ({} sample{}{})", index,
                                       model.input_name(input), type_str(x.type()), n, n == 1 ? "" : "s",
                                       n > 0 ? fmt::format(", 0..{}", n - 1) : std::string()));
  std::vector<Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorType& t = model.type(model.inputs[i]);
    bool batched =
        t.rank() >= 1 && xt.rank() >= 1 && t.shape[0] == xt.shape[0] && inputs[i].rank() >= 1 && inputs[i].dim(0) == n;
    out.push_back(batched ? gather_rows(inputs[i], {index}) : inputs[i]);
  }
  return out;
}

}  // namespace starc
