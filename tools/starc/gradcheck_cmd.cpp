// `starc gradcheck FILE.net --model M`: checks a model's symbolic gradients against
// central finite differences in f64, for every float input and trainable parameter,
// and prints the worst relative error per tensor. Users run it to trust their models.
#include "tools/starc/gradcheck_cmd.h"

#include <fmt/format.h>

#include <unistd.h>

#include <random>

#include "dsl/program.h"
#include "runtime/gradcheck.h"
#include "runtime/init.h"
#include "runtime/io/npy.h"
#include "runtime/io/tensor_file.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

struct Options {
  std::string file, model, weights;
  std::vector<std::string> ins;
  uint64_t seed = 0;
  int samples = 10;
  int directions = 2;
  CLI::Option* samples_opt = nullptr;  // given: element by element
  int64_t batch = 2;
  double eps = 1e-6, tol = 1e-4;
  bool training = false;
};

using cli::CliError;

// A random input for `t` (symbolic dims take `batch`), uniform in [-1, 1].
Tensor random_input(const TensorType& t, int64_t batch, std::mt19937_64& rng) {
  Shape s = t.shape;
  for (Dim& d : s)
    if (is_sym(d)) d = batch;
  Tensor x(t.dtype, s);
  std::uniform_real_distribution<double> u(-1, 1);
  for (int64_t i = 0; i < x.size(); ++i) x.set(i, u(rng));
  return x;
}

int run(const Options& o) {
  auto l = cli::load_program(o.file);
  std::string model = cli::pick_model(*l, o.file, o.model);
  Graph g = cli::build_graph(*l, model, o.training);
  // Inputs: from --in NAME=FILE.npy, else random (float inputs only).
  std::vector<std::string> in_names;
  for (size_t i = 0; i < g.inputs.size(); ++i) in_names.push_back(g.input_name(int(i)));
  std::map<std::string, std::string> given = cli::name_paths(o.ins, in_names, "--in", "input");
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + 1);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    std::string name = g.input_name(int(i));
    const TensorType& t = g.type(g.inputs[i]);
    if (auto it = given.find(name); it != given.end()) {
      inputs.push_back(read_tensor_file(it->second));
      given.erase(it);
    } else if (is_float(t.dtype)) {
      inputs.push_back(random_input(t, o.batch, rng));
    } else {
      throw CliError(fmt::format("input '{}' is {}: pass it with --in {}=FILE.npy (only float inputs are generated)",
                                 name, type_str(t, &g.symbols), name));
    }
  }
  TensorMap params = cli::weights_or_init(g, o.weights, o.seed, false);

  GradcheckOptions opts;
  opts.eps = o.eps;
  opts.max_samples = o.samples;
  opts.directions = o.samples_opt->count() > 0 ? 0 : o.directions;
  opts.seed = o.seed;
  const bool tty = ::isatty(2);
  if (tty)  // a long check (a large model's tensors) shows where it is
    opts.on_tensor = [](const std::string& name, size_t k, size_t n) {
      fmt::print(stderr, "\r\x1b[Kgradcheck: {} ({}/{})", name, k + 1, n);
    };
  std::vector<GradcheckEntry> entries = gradcheck(g, inputs, params, opts);
  if (tty) fmt::print(stderr, "\r\x1b[K");

  std::string per_tensor = opts.directions > 0
                               ? fmt::format("{} random direction{}", opts.directions, opts.directions == 1 ? "" : "s")
                           : o.samples > 0 ? fmt::format("up to {} elements", o.samples)
                                           : std::string("every element");
  fmt::print(
      "gradcheck {}: f64, central differences (eps {:g}), {} per tensor, loss = sum(outputs * R) with random R\n",
      model, o.eps, per_tensor);
  if (!entries.empty())
    fmt::print(
        "  rel err = |analytic - numeric| / max(|analytic|, |numeric|, atol), atol {:.3g} ({:g} x the largest "
        "gradient element, at least {:g}: a gradient that is zero by symmetry is judged against the model's)\n",
        entries[0].atol, opts.atol_scale, opts.atol_min);
  size_t w = 6;
  for (auto& e : entries) w = std::max(w, e.name.size());
  fmt::print("  {:<{}}  {:>7}  {:>11}  {:>13}  {:>13}\n", "tensor", w, "checked", "max rel err", "analytic", "numeric");
  double worst = 0;
  std::string worst_name;
  for (auto& e : entries) {
    fmt::print("  {:<{}}  {:>7}  {:>11.3e}  {:>13.6g}  {:>13.6g}{}\n", e.name, w, e.checked, e.max_rel_err, e.analytic,
               e.numeric, e.max_rel_err > o.tol ? "  <-- above tolerance" : "");
    if (e.max_rel_err >= worst) worst = e.max_rel_err, worst_name = e.name;
  }
  bool ok = worst <= o.tol;
  fmt::print("{}: worst relative error {:.3e} ({}), tolerance {:g}\n", ok ? "PASS" : "FAIL", worst, worst_name, o.tol);
  if (!ok)
    fmt::print(
        "note: a kink (relu at 0, a max-pooling tie) within --eps of a checked point also gives a large error; "
        "if only a few elements fail, retry with a smaller --eps or another --seed\n");
  return ok ? 0 : 1;
}

}  // namespace

GradcheckCommand add_gradcheck_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  GradcheckCommand c;
  c.app = app.add_subcommand("gradcheck", "Check a model's gradients against finite differences (f64)");
  c.app->add_option("file", o->file, "the .net file")->required()->check(CLI::ExistingFile);
  c.app->add_option("--model,-m", o->model, "the model (default: the only model in the file)");
  c.app->add_option("--in", o->ins, "an input NAME=FILE.npy (default: uniform random in [-1, 1])")->take_all();
  c.app->add_option("--weights,-w", o->weights, "weights .npz (default: initialise with --seed)");
  c.app->add_option("--seed", o->seed, "seed for initialisation, inputs, sampling and random ops (default 0)");
  c.app->add_option("--directions", o->directions,
                    "random directions per tensor along which the gradient's projection is checked: two evaluations "
                    "each, whatever the tensor's size (default 2)");
  o->samples_opt = c.app->add_option(
      "--samples", o->samples, "check element by element instead: elements per tensor, chosen at random; 0 = all");
  c.app->add_option("--batch", o->batch, "size of symbolic dims in generated inputs (default 2)");
  c.app->add_option("--eps", o->eps, "finite-difference step (default 1e-6)");
  c.app->add_option("--tol", o->tol, "largest relative error accepted (default 1e-4)");
  c.app->add_flag("--training", o->training, "build the model in training mode (dropout, batch statistics)");
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
