// `starc explain FILE.net --weights W.npz --in x=X.npy -o A.npy`: which input elements a
// model's output depends on, per sample — saliency (|d output[target] / d x|) or
// Integrated Gradients with its completeness check — written as an .npy of the input's
// shape, optionally plotted (runtime/astro/attribution_plot.h).
#include "tools/starc/explain_cmd.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/astro/attribution.h"
#include "runtime/astro/attribution_plot.h"
#include "runtime/jit_executor.h"
#include "runtime/io/npy.h"
#include "runtime/io/tensor_file.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

struct Options {
  std::string file, model, weights, wrt, output, method = "saliency", baseline, out, plot, loglam, backend = "jit";
  std::vector<std::string> ins;
  int64_t index = -1, target = -1, max_batch = 0;
  int steps = 64;
  bool signed_gradient = false, steps_given = false;
};

using cli::CliError;

// The position of `name` among `names` ("what" names the kind in the error), or the
// only entry when `name` is empty.
int pick(const std::vector<std::string>& names, const std::vector<std::string>& described, const std::string& name,
         const std::string& what, const std::string& flag, const std::string& model) {
  if (name.empty()) {
    if (names.size() == 1) return 0;
    throw CliError(fmt::format("model '{}' has {} {}s ({}): choose the one to explain with {} NAME", model,
                               names.size(), what, fmt::join(described, ", "), flag));
  }
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end())
    throw CliError(fmt::format("{} {}: model '{}' has no {} '{}' (it has: {})", flag, name, model, what, name,
                               fmt::join(described, ", ")));
  return int(it - names.begin());
}

// Row 0 of t (dim 0 dropped), in f64: the sample a plot draws.
Tensor first_row(const Tensor& t) {
  Tensor row(DType::F64, Shape(t.shape().begin() + 1, t.shape().end()));
  for (int64_t i = 0; i < row.size(); ++i) row.set(i, t.get(i));
  return row;
}

// Options that belong to the other --method, or need another option.
void check_method_options(const Options& o) {
  if (o.method != "saliency" && o.method != "ig") throw CliError("--method must be saliency or ig");
  if (o.method == "saliency" && !o.baseline.empty()) throw CliError("--baseline is for --method ig");
  if (o.method == "saliency" && o.steps_given) throw CliError("--steps is for --method ig");
  if (o.method == "ig" && o.signed_gradient) throw CliError("--signed is for --method saliency (IG is always signed)");
  if (!o.loglam.empty() && o.plot.empty()) throw CliError("--loglam sets the plot's x axis: it needs --plot OUT.svg");
}

// The model's inputs and outputs as messages name them ("x: f32[B,3]").
struct Signature {
  std::vector<std::string> in_names, in_described, float_names, float_described, out_described;
};

Signature signature_of(const Graph& g) {
  Signature s;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    std::string name = g.input_name(int(i)), d = name + ": " + type_str(g.type(g.inputs[i]), &g.symbols);
    s.in_names.push_back(name), s.in_described.push_back(d);
    if (is_float(g.type(g.inputs[i]).dtype)) s.float_names.push_back(name), s.float_described.push_back(d);
  }
  for (size_t i = 0; i < g.outputs.size(); ++i)
    s.out_described.push_back(g.output_names[i] + ": " + type_str(g.type(g.outputs[i]), &g.symbols));
  return s;
}

// The input explained: --wrt, or the only float input.
int pick_explained_input(const Graph& g, const Signature& s, const std::string& wrt, const std::string& model) {
  if (s.float_names.empty())
    throw CliError(
        fmt::format("model '{}' has no float input to explain (it takes {})", model, fmt::join(s.in_described, ", ")));
  if (wrt.empty() && s.float_names.size() == 1)
    return int(std::find(s.in_names.begin(), s.in_names.end(), s.float_names[0]) - s.in_names.begin());
  int x_index = pick(s.in_names, s.in_described, wrt, "input", "--wrt", model);
  if (!is_float(g.type(g.inputs[size_t(x_index)]).dtype))
    throw CliError(fmt::format("--wrt {}: input {} is not float; only float inputs can be explained (float inputs: {})",
                               wrt, s.in_described[size_t(x_index)], fmt::join(s.float_described, ", ")));
  return x_index;
}

// Every input from its --in file, checked against the model.
std::vector<Tensor> read_inputs(const Graph& g, const std::vector<std::string>& in_names,
                                const std::map<std::string, std::string>& paths, int x_index) {
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < in_names.size(); ++i) {
    auto it = paths.find(in_names[i]);
    if (it == paths.end())
      throw CliError(fmt::format("missing input '{}' ({}): pass --in {}=FILE.npy", in_names[i],
                                 type_str(g.type(g.inputs[i]), &g.symbols), in_names[i]));
    std::string stored;
    inputs.push_back(read_tensor_file(it->second, &stored));
    const Tensor& t = inputs.back();
    if (int(i) == x_index && !is_float(t.dtype()))
      throw CliError(fmt::format("--in {}: input '{}' must be float to be explained, but the file holds {}", it->second,
                                 in_names[i], cli::file_type_str(t, stored)));
    cli::check_model_input("--in", in_names[i], it->second, t, stored, g.type(g.inputs[i]), &g.symbols);
  }
  return inputs;
}

// --plot: the sample drawn and the plot's x axis, tried once with the sample as its own
// attribution so that bad settings fail before the (possibly long) attribution runs.
Tensor prepare_plot(const Options& o, const Tensor& x, const std::string& x_name, AttributionPlot& plot) {
  if (x.rank() < 2 || x.dim(0) < 1)
    throw CliError(fmt::format("--plot: input '{}' is {}: no sample to draw", x_name, type_str(x.type())));
  Tensor first_sample = first_row(x);
  if (!o.loglam.empty()) {
    Tensor ll = read_tensor_file(o.loglam);
    for (int64_t i = 0; i < ll.size(); ++i) plot.loglam.push_back(ll.get(i));
  }
  plot.input_label = x_name;
  attribution_svg(first_sample, first_sample, plot);
  return first_sample;
}

// Saliency or integrated gradients of output y_index with respect to input x_index.
AttributionResult attribute(const Options& o, const Graph& g, int x_index, int y_index, const TensorMap& params,
                            const std::vector<Tensor>& inputs, const std::string& y_described) {
  std::unique_ptr<Executor> exec;
  if (o.backend == "ref")
    exec = std::make_unique<InterpreterExecutor>();
  else
    exec = std::make_unique<JitExecutor>(JitOptions{}, default_cache_dir());
  Attributor attr(g, x_index, y_index, *exec, params);
  if (o.target >= attr.classes() || o.target < -1)
    throw CliError(fmt::format("--target {} is out of range: output {} has {} column{} (0..{})", o.target, y_described,
                               attr.classes(), attr.classes() == 1 ? "" : "s", attr.classes() - 1));
  if (o.method == "saliency") return attr.saliency(inputs, {o.target}, o.signed_gradient, o.max_batch);
  IgOptions ig;
  ig.steps = o.steps;
  ig.max_batch = o.max_batch;
  if (!o.baseline.empty()) ig.baseline = read_tensor_file(o.baseline);
  return attr.integrated_gradients(inputs, {o.target}, ig);
}

// The plot of the first explained sample, titled and labelled for the method.
void write_plot(const Options& o, const AttributionResult& res, const Tensor& first_sample, const std::string& x_name,
                const std::string& y_name, AttributionPlot& plot) {
  bool ig = o.method == "ig";
  int64_t t = res.samples[0].target;
  plot.title = fmt::format("{} of {}[{}], sample {}", ig ? "integrated gradients" : "saliency", y_name, t,
                           std::max<int64_t>(o.index, 0));
  plot.attribution_label = ig ? fmt::format("IG of {}[{}]", y_name, t)
                              : (o.signed_gradient ? fmt::format("d {}[{}] / d {}", y_name, t, x_name)
                                                   : fmt::format("|d {}[{}] / d {}|", y_name, t, x_name));
  plot.signed_values = ig || o.signed_gradient;
  write_file_atomic(o.plot, attribution_svg(first_sample, first_row(res.attribution), plot));
}

// What was explained, a table of the first samples (IG: with its completeness check)
// and where the results went.
void print_report(const Options& o, const std::string& model, const std::string& x_name, const std::string& y_name,
                  const Tensor& x, const AttributionResult& res) {
  bool ig = o.method == "ig";
  fmt::print("explain {}: {} of {}[target] with respect to {} ({}), {} sample{}\n", model,
             ig ? fmt::format("integrated gradients ({} steps, {} baseline)", o.steps,
                              o.baseline.empty() ? "zero" : o.baseline)
                : (o.signed_gradient ? "signed gradient" : "saliency |gradient|"),
             y_name, x_name, type_str(x.type()), res.samples.size(), res.samples.size() == 1 ? "" : "s");
  if (ig)
    fmt::print("  {:>6}  {:>6}  {:>13}  {:>13}  {:>13}  {:>13}  {:>9}\n", "sample", "target", "f(x)", "f(x')",
               "f(x)-f(x')", "sum(IG)", "rel gap");
  else
    fmt::print("  {:>6}  {:>6}  {:>13}  {:>13}\n", "sample", "target", "f(x)", "sum");
  double worst_gap = 0;
  const size_t shown = 20;
  for (size_t i = 0; i < res.samples.size(); ++i) {
    const SampleAttribution& s = res.samples[i];
    worst_gap = std::max(worst_gap, s.completeness_gap);
    if (i >= shown) continue;
    int64_t sample = o.index >= 0 ? o.index : int64_t(i);
    if (ig)
      fmt::print("  {:>6}  {:>6}  {:>13.6g}  {:>13.6g}  {:>13.6g}  {:>13.6g}  {:>9.2e}\n", sample, s.target, s.output,
                 s.baseline_output, s.output - s.baseline_output, s.attribution_sum, s.completeness_gap);
    else
      fmt::print("  {:>6}  {:>6}  {:>13.6g}  {:>13.6g}\n", sample, s.target, s.output, s.attribution_sum);
  }
  if (res.samples.size() > shown) fmt::print("  ... ({} more)\n", res.samples.size() - shown);
  if (ig)
    fmt::print("completeness: worst relative gap |sum(IG) - (f(x) - f(x'))| / |f(x) - f(x')| = {:.3e}{}\n", worst_gap,
               worst_gap > 0.01 ? " (above 1%: try more --steps)" : "");
  fmt::print("attribution: {} -> {}{}\n", type_str(res.attribution.type()), o.out,
             o.plot.empty() ? "" : fmt::format(", plot -> {}", o.plot));
}

int run(const Options& o) {
  check_method_options(o);
  auto l = cli::load_program(o.file);
  std::string model = cli::pick_model(*l, o.file, o.model);
  Graph g = cli::build_graph(*l, model);
  const Signature s = signature_of(g);
  auto paths = cli::name_paths(o.ins, s.in_names, "--in", "input");
  const int x_index = pick_explained_input(g, s, o.wrt, model);
  const int y_index = pick(g.output_names, s.out_described, o.output, "output", "--output", model);
  const std::string& x_name = s.in_names[size_t(x_index)];
  const std::string& y_name = g.output_names[size_t(y_index)];

  std::vector<Tensor> inputs = read_inputs(g, s.in_names, paths, x_index);
  if (o.index >= 0)
    inputs = select_sample(g, inputs, x_index, o.index);
  else if (o.index != -1)
    throw CliError(fmt::format("--index {}: a sample index is >= 0", o.index));
  TensorMap params = cli::weights_or_init(g, o.weights, 0);
  AttributionPlot plot;
  Tensor first_sample;
  if (!o.plot.empty()) first_sample = prepare_plot(o, inputs[size_t(x_index)], x_name, plot);

  AttributionResult res = attribute(o, g, x_index, y_index, params, inputs, s.out_described[size_t(y_index)]);
  write_npy(o.out, res.attribution);
  if (!o.plot.empty()) write_plot(o, res, first_sample, x_name, y_name, plot);
  print_report(o, model, x_name, y_name, inputs[size_t(x_index)], res);
  return 0;
}

}  // namespace

ExplainCommand add_explain_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  ExplainCommand c;
  c.app = app.add_subcommand("explain", "Attribute a model's output to its input: saliency or integrated gradients");
  c.app->add_option("file", o->file, "the .net file")->required()->check(CLI::ExistingFile);
  c.app->add_option("--model,-m", o->model, "the model (default: the only model in the file)");
  c.app->add_option("--weights,-w", o->weights, "trained weights .npz")->required()->check(CLI::ExistingFile);
  c.app->add_option("--in", o->ins, "an input NAME=FILE.npy (or FILE.npy when the model has one input)")->take_all();
  c.app->add_option("--wrt", o->wrt, "the input to explain (default: the only float input)");
  c.app->add_option("--output", o->output, "the output to explain, [B, C] (default: the only output)");
  c.app->add_option("--index", o->index, "explain only this sample (row of the input; default: all)");
  c.app->add_option("--target", o->target,
                    "the output column explained (default: the predicted class, argmax; 0 for one column)");
  c.app->add_option("--method", o->method, "saliency (|gradient|, default) or ig (integrated gradients)")
      ->check(CLI::IsMember({"saliency", "ig"}));
  c.app->add_flag("--signed", o->signed_gradient, "saliency: the signed gradient instead of its absolute value");
  c.app->add_option_function<int>(
      "--steps", [o](int m) { o->steps = m, o->steps_given = true; },
      "ig: path points m (midpoint Riemann sum; default 64)");
  c.app->add_option("--baseline", o->baseline, "ig: the baseline x' as one sample .npy (default: zeros)")
      ->check(CLI::ExistingFile);
  c.app->add_option("--max-batch", o->max_batch, "rows per run (default: all samples, or all m + 2 IG points)");
  c.app->add_option("-o,--out", o->out, "where to write the attribution .npy (the input's shape)")->required();
  c.app->add_option("--plot", o->plot, "also draw it: an SVG of the first explained sample");
  c.app->add_option("--loglam", o->loglam, "plot: the x axis of a [1, L] spectrum (log10 wavelength, .npy of L values)")
      ->check(CLI::ExistingFile);
  c.app->add_option("--backend", o->backend, "executor: jit (default) or ref (reference interpreter)")
      ->check(CLI::IsMember({"jit", "ref"}));
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
