// runtime: attribution — which input elements a model's output depends on. Saliency (the
// gradient of one output column with respect to the input) and Integrated Gradients
// (Sundararajan, Taly & Yan 2017). Both run one graph, built once from the model with
// the symbolic differentiation of compiler/autodiff: the forward pass, the chosen output
// column, and its gradient with respect to the input, for a whole batch of rows at once
// (the samples, or the points of an IG path).
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/executor.h"

namespace starc {

// Bad attribution input (which input, output, target, sample or baseline). The message
// names the tensor and its shape.
struct AttributionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The graph that attribution runs: the model's inputs plus `target` (i64[B]: the output
// column per row; a negative entry means the row's largest output, argmax), and three
// outputs: `grad` = d(sum_b output[b, target_b]) / d(input), of the input's type (rows
// are independent, so row b holds the gradient of its own output), `output` (the
// model's output [B, C]) and `target` (the columns used, i64[B]). `input` and `output`
// index the model's inputs and outputs; the input must be float and its first dim the
// output's first dim, a symbolic batch dim (B); the output must be float [B, C].
Graph build_attribution_graph(const Graph& model, int input, int output);

// One explained sample.
struct SampleAttribution {
  int64_t target = 0;          // the output column explained
  double output = 0;           // f(x): output[target] at the sample
  double baseline_output = 0;  // IG: f(x') at the baseline
  double attribution_sum = 0;  // sum of the attribution over the sample's elements
  // IG completeness: |sum(IG) - (f(x) - f(x'))| / max(|f(x) - f(x')|, 1e-12).
  double completeness_gap = 0;
};

struct AttributionResult {
  Tensor attribution;  // the explained input's shape and dtype
  std::vector<SampleAttribution> samples;
};

struct IgOptions {
  int steps = 64;         // m: alpha_k = (k - 0.5) / m, k = 1..m (midpoint Riemann sum)
  Tensor baseline;        // x': the sample's shape (input shape without dim 0, or with dim 0 = 1); undefined = zeros
  int64_t max_batch = 0;  // rows per run (0: all m + 2 points of a sample in one run)
};

// Runs build_attribution_graph(model, input, output) on `exec`. Every run has the same
// number of rows (the last chunk is padded), so a compiling executor compiles once.
class Attributor {
 public:
  Attributor(const Graph& model, int input, int output, Executor& exec, TensorMap params);

  // Gradient of output[target] for every sample (row of the explained input); |gradient|
  // unless `signed_gradient`. `inputs`: all model inputs, by position; those whose
  // declared first dim is the batch dim have one row per sample. `targets`: one per
  // sample, or one for all; -1 = the sample's predicted column (argmax). `max_batch`:
  // samples per run (0: all).
  AttributionResult saliency(const std::vector<Tensor>& inputs, std::vector<int64_t> targets,
                             bool signed_gradient = false, int64_t max_batch = 0);

  // IG_i = (x_i - x'_i) * mean_k grad f(x' + alpha_k (x - x'))_i per sample, with the
  // path points (and x and x' for the completeness check) batched.
  AttributionResult integrated_gradients(const std::vector<Tensor>& inputs, std::vector<int64_t> targets,
                                         const IgOptions& opts = {});

  const Graph& graph() const { return graph_; }
  int64_t classes() const { return classes_; }

 private:
  struct Rows {
    Tensor grad, output, target;  // [rows, ...], [rows, C], [rows]
  };
  // Runs the graph on the rows of `x` ([n, ...]): row r takes sample sample_of_row[r]'s
  // other batched inputs and column targets[r]; in chunks of `chunk` rows.
  Rows run_rows(const Tensor& x, const std::vector<Tensor>& inputs, const std::vector<int64_t>& sample_of_row,
                const std::vector<int64_t>& targets, int64_t chunk);
  // The inputs checked and cast; returns the number of samples.
  int64_t check_inputs(std::vector<Tensor>& inputs) const;
  std::vector<int64_t> check_targets(std::vector<int64_t> targets, int64_t samples) const;

  Graph graph_;
  Executor& exec_;
  TensorMap params_;
  int input_;
  std::vector<bool> batched_;  // per model input: first dim is the batch dim
  int64_t classes_ = 1;
  std::string input_desc_, output_desc_;  // "input 'x' (f32[B,5])"
};

// The inputs restricted to sample `index` (batched inputs keep dim 0, of size 1).
// Throws AttributionError naming the explained input and its shape when out of range.
std::vector<Tensor> select_sample(const Graph& model, const std::vector<Tensor>& inputs, int input, int64_t index);

}  // namespace starc
