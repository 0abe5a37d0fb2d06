// `starc eval`: a model's predictions (run in batches through the JIT, as `starc run`
// does) or a saved --pred file against --truth, as a metrics table (runtime/astro/metrics.h),
// optionally a JSON file of the same numbers and SVG plots (runtime/astro/plots.h).
#include "tools/starc/eval_cmd.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "compiler/opt/passes.h"
#include "runtime/jit_executor.h"
#include "runtime/astro/metrics.h"
#include "runtime/io/npy.h"
#include "runtime/io/tensor_file.h"
#include "runtime/astro/plots.h"
#include "tools/starc/cli_common.h"
#include "tools/starc/eval_report.h"

namespace starc {
namespace {

using cli::CliError;
using eval::fixed;
using eval::jnum;
using eval::jstr;
using eval::Report;

struct Options {
  std::string file, model, weights, pred, truth, task, output, plots, json, scores = "auto", class_names;
  std::vector<std::string> ins;
  uint64_t seed = 0;
  int64_t batch = 256;
  double threshold = 0.5, outlier_threshold = 0.05;
  std::string backend = "jit";
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
  int threads = default_threads();
};

// Rows [begin, end) of `t` along its first axis (a copy).
Tensor row_slice(const Tensor& t, int64_t begin, int64_t end) {
  Shape s = t.shape();
  s[0] = end - begin;
  Tensor out(t.dtype(), s);
  size_t row = t.dim(0) ? t.nbytes() / size_t(t.dim(0)) : 0;
  std::memcpy(out.raw(), static_cast<const char*>(t.raw()) + size_t(begin) * row, size_t(end - begin) * row);
  return out;
}

// Runs the model over all samples, `batch` rows at a time, and returns the output
// named `o.output` (or the only one) for all of them; *pred_name says which it was.
Tensor model_predictions(const Options& o, std::string* pred_name) {
  auto l = cli::load_program(o.file);
  std::string model = cli::pick_model(*l, o.file, o.model);
  Graph g = cli::build_graph(*l, model);
  size_t out_index = 0;
  if (o.output.empty()) {
    if (g.output_names.size() != 1)
      throw CliError(fmt::format("model '{}' has {} outputs ({}); choose one with --output", model,
                                 g.output_names.size(), fmt::join(g.output_names, ", ")));
  } else {
    auto it = std::find(g.output_names.begin(), g.output_names.end(), o.output);
    if (it == g.output_names.end())
      throw CliError(fmt::format("--output {}: model '{}' has no output '{}' (it has: {})", o.output, model, o.output,
                                 fmt::join(g.output_names, ", ")));
    out_index = size_t(it - g.output_names.begin());
  }
  *pred_name = fmt::format("output '{}' of {}", g.output_names[out_index], model);
  std::vector<std::string> in_names;
  for (size_t i = 0; i < g.inputs.size(); ++i) in_names.push_back(g.input_name(int(i)));
  auto in_paths = cli::name_paths(o.ins, in_names, "--in", "input");
  std::vector<Tensor> inputs;
  int64_t n = -1;
  bool batchable = true;
  for (size_t i = 0; i < in_names.size(); ++i) {
    const std::string& name = in_names[i];
    const TensorType& t = g.type(g.inputs[i]);
    auto it = in_paths.find(name);
    if (it == in_paths.end())
      throw CliError(
          fmt::format("missing input '{}' ({}): pass --in {}=FILE.npy", name, type_str(t, &g.symbols), name));
    Tensor x = cli::read_model_input("--in", name, it->second, t, &g.symbols);
    if (x.rank() == 0)
      throw CliError(fmt::format("--in {}={}: {} has no sample axis (the model expects {})", name, it->second,
                                 type_str(x.type()), type_str(t, &g.symbols)));
    if (n >= 0 && x.dim(0) != n)
      throw CliError(fmt::format("--in {}={}: {} has {} samples, but input '{}' has {}", name, it->second,
                                 type_str(x.type()), x.dim(0), in_names[0], n));
    n = x.dim(0);
    batchable = batchable && !t.shape.empty() && is_sym(t.shape[0]);
    inputs.push_back(std::move(x));
  }
  if (inputs.empty()) throw CliError(fmt::format("model '{}' has no inputs to evaluate on", model));
  if (n == 0) throw CliError(fmt::format("the inputs of '{}' have no samples", model));
  TensorMap params = cli::weights_or_init(g, o.weights, o.seed);
  if (o.backend == "ref" && o.device == Device::Cuda) throw CliError("--device cuda needs --backend jit");
  // A model whose first input dim is fixed runs in one piece.
  int64_t batch = batchable ? std::min(o.batch, n) : n;
  std::unique_ptr<JitExecutor> jit;
  if (o.backend == "jit")
    jit = std::make_unique<JitExecutor>(
        JitOptions{.passes = OptOptions({}, o.conv_algo), .threads = o.threads, .device = o.device},
        default_cache_dir());
  Tensor pred;
  for (int64_t begin = 0; begin < n; begin += batch) {
    int64_t end = std::min(n, begin + batch);
    std::vector<Tensor> part;
    for (auto& x : inputs) part.push_back(batchable ? row_slice(x, begin, end) : x);
    if (begin == 0) bind_symbols(g, part);  // input errors name the input before any compilation
    std::vector<Tensor> results =
        jit ? jit->run(g, part, params, o.seed) : run_graph(g, part, params, RunOptions{o.seed});
    Tensor y = results[out_index];
    if (y.rank() == 0 || y.dim(0) != end - begin)
      throw CliError(fmt::format("{} is {} for a batch of {} samples: eval needs one output row per sample", *pred_name,
                                 type_str(y.type()), end - begin));
    if (!pred.defined()) {
      Shape s = y.shape();
      s[0] = n;
      pred = Tensor(y.dtype(), s);
    }
    size_t row = y.nbytes() / size_t(y.dim(0));
    std::memcpy(static_cast<char*>(pred.raw()) + size_t(begin) * row, y.raw(), y.nbytes());
  }
  return pred;
}

// Every element as a double, after checking that `pred` and `truth` pair up sample by sample.
void regression_values(const Tensor& pred, const Tensor& truth, const std::string& pn, const std::string& tn,
                       std::vector<double>* p, std::vector<double>* t) {
  if (!is_float(pred.dtype()))
    throw CliError(fmt::format("{} {}: regression predictions must be floats", pn, type_str(pred.type())));
  if (truth.dtype() == DType::Bool)
    throw CliError(fmt::format("{} {}: regression targets must be numbers", tn, type_str(truth.type())));
  if (pred.rank() == 0 || truth.rank() == 0 || pred.dim(0) != truth.dim(0))
    throw CliError(fmt::format("{} {} and {} {} have different sample counts", pn, type_str(pred.type()), tn,
                               type_str(truth.type())));
  if (pred.size() != truth.size())
    throw CliError(fmt::format("{} {} and {} {}: different values per sample ({} vs {})", pn, type_str(pred.type()), tn,
                               type_str(truth.type()), pred.dim(0) ? pred.size() / pred.dim(0) : 0,
                               truth.dim(0) ? truth.size() / truth.dim(0) : 0));
  p->resize(size_t(pred.size())), t->resize(size_t(truth.size()));
  for (int64_t i = 0; i < pred.size(); ++i) (*p)[size_t(i)] = pred.get(i), (*t)[size_t(i)] = truth.get(i);
}

// Exactly one source of predictions, and options that fit it.
void check_sources(const Options& o) {
  if (o.file.empty() == o.pred.empty())
    throw CliError(o.pred.empty() ? "give a model (starc eval MODEL.net --in NAME=FILE ...) or --pred PRED.npy"
                                  : "give either a model or --pred, not both");
  if (!o.pred.empty() && !o.ins.empty()) throw CliError("--in feeds a model; with --pred there is none");
  if (o.batch < 1) throw CliError(fmt::format("--batch {}: must be at least 1", o.batch));
}

// The predictions and the truth they are compared with, and their names in messages.
struct Compared {
  Tensor pred, truth;
  std::string pred_name, truth_name;
  std::string source;  // the --pred file or the model's file
};

Compared read_compared(const Options& o) {
  Compared c;
  c.truth = read_tensor_file(o.truth);
  c.truth_name = fmt::format("--truth {}", o.truth);
  if (!o.pred.empty()) {
    c.pred = read_tensor_file(o.pred);
    c.pred_name = fmt::format("--pred {}", o.pred);
    c.source = o.pred;
  } else {
    c.pred = model_predictions(o, &c.pred_name);
    c.source = o.file;
  }
  return c;
}

// The class names: --class-names, else the class numbers.
std::vector<std::string> class_names(const Options& o, int64_t classes) {
  std::vector<std::string> names;
  if (!o.class_names.empty()) {
    for (size_t b = 0, e; b <= o.class_names.size(); b = e + 1) {
      e = std::min(o.class_names.find(',', b), o.class_names.size());
      names.push_back(o.class_names.substr(b, e - b));
    }
    if (int64_t(names.size()) != classes)
      throw CliError(fmt::format("--class-names gives {} names for {} classes", names.size(), classes));
  }
  for (int64_t k = int64_t(names.size()); k < classes; ++k) names.push_back(fmt::format("{}", k));
  return names;
}

ClassificationMetrics compute_classification(const Options& o, const Compared& c) {
  ScoreKind kind = o.scores == "logits"          ? ScoreKind::Logits
                   : o.scores == "probabilities" ? ScoreKind::Probabilities
                                                 : ScoreKind::Auto;
  if (c.truth.dtype() != DType::I64)
    throw CliError(
        fmt::format("{} {}: classification needs integer labels (i64); for a float target use --task "
                    "regression",
                    c.truth_name, type_str(c.truth.type())));
  try {
    return classification_metrics(c.pred, c.truth, kind, o.threshold, c.pred_name, c.truth_name);
  } catch (const std::bad_alloc&) {
    throw CliError(
        fmt::format("{} {}: out of memory computing the classification metrics", c.pred_name, type_str(c.pred.type())));
  }
}

// The summary, the per-class table and the confusion matrix.
void print_classification(const ClassificationMetrics& m, const std::vector<std::string>& names) {
  fmt::print("{} samples, {} classes, scores read as {}, {}\n", m.n, m.classes, score_kind_name(m.scores),
             m.classes == 2 ? fmt::format("class 1 when P(class 1) > {:g}", m.threshold) : "argmax");
  fmt::print("  {:<10} {}\n  {:<10} {}\n  {:<10} {}{}\n", "accuracy", fixed(m.accuracy), "macro_f1", fixed(m.macro_f1),
             "roc_auc", fixed(m.roc_auc), m.classes > 2 ? "  (one-vs-rest, macro)" : "");
  if (m.classes == 2) fmt::print("  {:<10} {}  (TPR - FPR)\n", "tss", fixed(m.tss));
  size_t w = 5;
  for (auto& s : names) w = std::max(w, s.size());
  fmt::print("  {:<{}}  {:>8}  {:>9}  {:>9}  {:>9}{}\n", "class", w, "support", "precision", "recall", "f1",
             m.classes > 2 ? fmt::format("  {:>9}", "roc_auc") : "");
  for (size_t k = 0; k < size_t(m.classes); ++k)
    fmt::print("  {:<{}}  {:>8}  {:>9}  {:>9}  {:>9}{}\n", names[k], w, m.support[k], fixed(m.precision[k]),
               fixed(m.recall[k]), fixed(m.f1[k]),
               m.classes > 2 ? fmt::format("  {:>9}", fixed(m.auc_per_class[k])) : "");
  fmt::print("confusion matrix (rows: true class, columns: predicted class)\n  {:<{}}", "", w);
  for (auto& s : names) fmt::print("  {:>8}", s);
  fmt::print("\n");
  for (size_t r = 0; r < size_t(m.classes); ++r) {
    fmt::print("  {:<{}}", names[r], w);
    for (int64_t v : m.confusion[r]) fmt::print("  {:>8}", v);
    fmt::print("\n");
  }
}

// The JSON fields after the header, through the closing brace.
std::string classification_json(const ClassificationMetrics& m, const std::vector<std::string>& names) {
  std::string json = fmt::format(
      "  \"n\": {},\n  \"classes\": {},\n  \"scores\": {},\n  \"threshold\": {},\n  \"accuracy\": {},\n"
      "  \"macro_f1\": {},\n  \"roc_auc\": {},\n  \"tss\": {},\n  \"per_class\": [",
      m.n, m.classes, jstr(score_kind_name(m.scores)), jnum(m.threshold), jnum(m.accuracy), jnum(m.macro_f1),
      jnum(m.roc_auc), jnum(m.tss));
  std::vector<std::string> rows, conf;
  for (size_t k = 0; k < size_t(m.classes); ++k) {
    rows.push_back(fmt::format(
        "\n    {{\"class\": {}, \"name\": {}, \"support\": {}, \"precision\": {}, \"recall\": {}, \"f1\": {}{}}}", k,
        jstr(names[k]), m.support[k], jnum(m.precision[k]), jnum(m.recall[k]), jnum(m.f1[k]),
        m.classes > 2 ? fmt::format(", \"roc_auc\": {}", jnum(m.auc_per_class[k])) : ""));
    conf.push_back(fmt::format("[{}]", fmt::join(m.confusion[k], ", ")));
  }
  json += fmt::format("{}\n  ],\n  \"confusion\": [{}]\n}}\n", fmt::join(rows, ","), fmt::join(conf, ", "));
  return json;
}

// The confusion matrix and the ROC curves (one per class but with two classes).
void add_classification_plots(const ClassificationMetrics& m, const std::vector<std::string>& names, Report& r) {
  r.plots.push_back({"confusion.svg", plot::confusion_matrix_svg(m.confusion, names)});
  std::vector<plot::RocCurve> curves;
  for (size_t k = 0; k < m.roc_curves.size(); ++k) {
    size_t cls = m.classes == 2 ? 1 : k;
    curves.push_back({m.classes == 2 ? names[1] : names[k] + " vs rest", m.roc_curves[k],
                      m.classes == 2 ? m.roc_auc : m.auc_per_class[cls]});
  }
  r.plots.push_back({"roc.svg", plot::roc_svg(curves)});
}

void evaluate_classification(const Options& o, const Compared& c, Report& r) {
  ClassificationMetrics m = compute_classification(o, c);
  std::vector<std::string> names = class_names(o, m.classes);
  print_classification(m, names);
  r.json += classification_json(m, names);
  if (!o.plots.empty()) add_classification_plots(m, names, r);
}

// Regression metrics; task "redshift" adds those of dz = (pred - true) / (1 + true).
void evaluate_regression(const Options& o, const Compared& c, const std::string& task, Report& r) {
  std::vector<double> p, t;
  regression_values(c.pred, c.truth, c.pred_name, c.truth_name, &p, &t);
  bool z = task == "redshift";
  RegressionMetrics m = regression_metrics(p, t, z, o.outlier_threshold, c.pred_name, c.truth_name);
  fmt::print("{} values\n", m.n);
  fmt::print("  {:<18} {}\n  {:<18} {}\n  {:<18} {}\n  {:<18} {}  (mean of pred - true)\n", "mse", fixed(m.mse), "rmse",
             fixed(m.rmse), "mae", fixed(m.mae), "bias", fixed(m.bias));
  r.json += fmt::format("  \"n\": {},\n  \"mse\": {},\n  \"rmse\": {},\n  \"mae\": {},\n  \"bias\": {}", m.n,
                        jnum(m.mse), jnum(m.rmse), jnum(m.mae), jnum(m.bias));
  if (z) {
    fmt::print("  {:<18} {}  (mean of dz = (pred - true) / (1 + true))\n  {:<18} {}\n", "dz_bias", fixed(m.dz_bias),
               "sigma_nmad", fixed(m.sigma_nmad));
    fmt::print("  {:<18} {}  (|dz| > {:g})\n  {:<18} {}\n", "outlier_fraction", fixed(m.outlier_fraction),
               m.outlier_threshold, "accurate_fraction", fixed(m.accurate_fraction));
    r.json += fmt::format(
        ",\n  \"dz_bias\": {},\n  \"sigma_nmad\": {},\n  \"outlier_threshold\": {},\n  \"outlier_fraction\": {},\n"
        "  \"accurate_fraction\": {}",
        jnum(m.dz_bias), jnum(m.sigma_nmad), jnum(m.outlier_threshold), jnum(m.outlier_fraction),
        jnum(m.accurate_fraction));
  }
  r.json += "\n}\n";
  if (!o.plots.empty())
    r.plots.push_back({"pred_vs_true.svg", plot::pred_vs_true_svg({.x_label = z ? "true z" : "true",
                                                                   .y_label = z ? "predicted z" : "predicted",
                                                                   .truth = t,
                                                                   .pred = p,
                                                                   .band = z ? o.outlier_threshold : 0})});
}

int run(const Options& o) {
  check_sources(o);
  const Compared c = read_compared(o);
  std::string task = o.task.empty() ? (c.truth.dtype() == DType::I64 ? "classification" : "regression") : o.task;
  Report r;
  r.json = fmt::format("{{\n  \"task\": {},\n  \"source\": {},\n  \"predictions\": {},\n  \"truth\": {},\n", jstr(task),
                       jstr(c.source), jstr(type_str(c.pred.type())), jstr(type_str(c.truth.type())));
  fmt::print("eval: {} {} vs {} {}, task {}\n", c.pred_name, type_str(c.pred.type()), c.truth_name,
             type_str(c.truth.type()), task);
  if (task == "classification")
    evaluate_classification(o, c, r);
  else
    evaluate_regression(o, c, task, r);
  eval::write_report(o.json, o.plots, r);
  return 0;
}

}  // namespace

EvalCommand add_eval_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  EvalCommand c;
  c.app = app.add_subcommand("eval",
                             "Evaluate a model's predictions (or a --pred file) against --truth: metrics, JSON, plots");
  c.app->add_option("file", o->file, "the .net file (omit with --pred)")->check(CLI::ExistingFile);
  c.app->add_option("--model,-m", o->model, "the model (default: the only model in the file)");
  c.app->add_option("--in", o->ins, "an input NAME=FILE.npy (or FILE.npy for a one-input model); first axis = samples")
      ->take_all();
  c.app->add_option("--weights,-w", o->weights, "weights .npz (default: initialise with --seed)");
  c.app->add_option("--seed", o->seed, "seed for initialisation and random ops (default 0)");
  c.app->add_option("--output", o->output, "the model output to evaluate (default: the only one)");
  c.app->add_option("--pred", o->pred, "saved predictions .npy instead of a model");
  c.app
      ->add_option("--truth", o->truth,
                   "true values (.npy, or a FITS/CSV spec: docs/data.md): i64 labels [N] or float targets [N, ...]")
      ->required();
  c.app
      ->add_option("--task", o->task,
                   "regression | redshift | classification (default: classification for i64 "
                   "truth, else regression)")
      ->check(CLI::IsMember({"regression", "redshift", "classification"}));
  c.app->add_option("--batch", o->batch, "samples per forward pass (default 256)");
  c.app->add_option("--scores", o->scores, "classification: auto (default) | logits | probabilities")
      ->check(CLI::IsMember({"auto", "logits", "probabilities"}));
  c.app->add_option("--threshold", o->threshold, "binary: class 1 when P(class 1) > T (default 0.5)");
  c.app->add_option("--outlier-threshold", o->outlier_threshold,
                    "redshift: |dz|/(1+z) above this is an outlier (default 0.05)");
  c.app->add_option("--class-names", o->class_names, "classification: names for the table and plots, comma-separated");
  c.app->add_option("--plots", o->plots, "folder for SVG plots (pred_vs_true.svg, or confusion.svg and roc.svg)");
  c.app->add_option("--json", o->json, "write the metrics as JSON to this file");
  c.app->add_option("--backend", o->backend, "executor: jit (default) or ref (reference interpreter)")
      ->check(CLI::IsMember({"ref", "jit"}));
  cli::check_int_range(
      c.app->add_option("--threads", o->threads, "JIT: threads for the generated code (default: all cores)"), 1,
      cli::kMaxThreads);
  cli::add_conv_algo_option(c.app, &o->conv_algo);
  cli::add_device_option(c.app, &o->device);
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
