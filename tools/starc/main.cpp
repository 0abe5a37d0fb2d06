// tools/starc: the `starc` command: the top-level app, its global options and dispatch to
// the subcommands, each a thin layer over the pipeline in its own file (*_cmd.cpp):
// dsl (load, check, build Graph) -> compiler (print) -> runtime (init, run, I/O).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>

#include "compiler/backend/cpu/jit.h"
#include "compiler/ir/share_dir.h"
#include "dsl/diag.h"
#include "tools/starc/cli_common.h"
#include "tools/starc/compile_cmd.h"
#include "tools/starc/convert_cmd.h"
#include "tools/starc/eval_cmd.h"
#include "tools/starc/explain_cmd.h"
#include "tools/starc/export_cmd.h"
#include "tools/starc/import_cmd.h"
#include "tools/starc/gradcheck_cmd.h"
#include "tools/starc/graph_cmd.h"
#include "tools/starc/opt_cmd.h"
#include "tools/starc/repl_cmd.h"
#include "tools/starc/run_cmd.h"
#include "tools/starc/simulate_cmd.h"
#include "tools/starc/train_cmd.h"
#include "tools/starc/weights_cmd.h"

using namespace starc;

namespace {

// The subcommands, in the order `starc --help` lists them.
struct Commands {
  ModelCommand check, params, summary, init, run;
  GraphCommand graph;
  ModelCommand ops;
  TrainCommand train;
  GradcheckCommand gradcheck;
  ExplainCommand explain;
  CompileCommand compile;
  EvalCommand eval;
  ReplCommand repl;
  ConvertCommand convert;
  SimulateCommand simulate;
  OptCommand opt;
  WeightsCommand weights;
  ImportCommand imp;
  ExportCommand exp;
};

Commands add_commands(CLI::App& app, int argc, char** argv) {
  Commands c;
  c.check = add_check_command(app);
  c.params = add_params_command(app);
  c.summary = add_summary_command(app);
  c.init = add_init_command(app);
  c.run = add_run_command(app);
  c.graph = add_graph_command(app);
  c.ops = add_ops_command(app);
  c.train = add_train_command(app, argc, argv);
  c.gradcheck = add_gradcheck_command(app);
  c.explain = add_explain_command(app);
  c.compile = add_compile_command(app);
  c.eval = add_eval_command(app);
  c.repl = add_repl_command(app);
  c.convert = add_convert_command(app);
  c.simulate = add_simulate_command(app);
  c.opt = add_opt_command(app);
  c.weights = add_weights_command(app);
  c.imp = add_import_command(app);
  c.exp = add_export_command(app);
  return c;
}

// Runs the subcommand given; 1 if none matched.
int dispatch(const Commands& c) {
  if (*c.check.app) return c.check.run();
  if (*c.params.app) return c.params.run();
  if (*c.summary.app) return c.summary.run();
  if (*c.init.app) return c.init.run();
  if (*c.run.app) return c.run.run();
  if (*c.graph.app) return c.graph.run();
  if (*c.ops.app) return c.ops.run();
  if (*c.train.app) return c.train.run();
  if (*c.gradcheck.app) return c.gradcheck.run();
  if (*c.explain.app) return c.explain.run();
  if (*c.compile.app) return c.compile.run();
  if (*c.eval.app) return c.eval.run();
  if (*c.repl.app) return c.repl.run();
  if (*c.convert.app) return c.convert.run();
  if (*c.simulate.app) return c.simulate.run();
  if (*c.opt.app) return c.opt.run();
  if (*c.weights.app) return c.weights.run();
  if (*c.imp.app) return c.imp.run();
  if (*c.exp.app) return c.exp.run();
  return 1;
}

// A misspelt command or an unknown option before it, worded as the language's diagnostics
// are ("did you mean 'train'?"); CLI11 would only say that a subcommand is required.
std::optional<std::string> misspelt_command(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> commands;
  for (const CLI::App* c : app.get_subcommands({})) commands.push_back(c->get_name());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h" || a == "--version" || a.rfind("--max-errors=", 0) == 0) return std::nullopt;
    if (a == "--max-errors") {
      ++i;
      continue;
    }
    if (a.rfind("-", 0) == 0)
      return fmt::format("unknown option '{}' (before a command starc takes --max-errors N, --version, --help)", a);
    if (std::find(commands.begin(), commands.end(), a) != commands.end()) return std::nullopt;
    std::string near = closest_name(a, commands);
    return fmt::format("unknown command '{}'{} (starc --help lists them)", a,
                       near.empty() ? "" : fmt::format("; did you mean '{}'?", near));
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"starc — a compiler for neural networks in astronomy"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] {
    auto where = [](const std::string& dir) { return dir.empty() ? std::string("not found") : dir; };
    return fmt::format("starc {}\n{} / MLIR\nstdlib: {}\nkernel sources: {}", STARC_VERSION, llvm_version(),
                       where(stdlib_dir()), where(kernel_sources_dir()));
  });
  app.add_option("--max-errors", cli::g_max_errors, "show at most N source errors (default 20; 0: all)");
  const Commands commands = add_commands(app, argc, argv);
  if (std::optional<std::string> why = misspelt_command(app, argc, argv)) {
    fmt::print(stderr, "error: {}\n", *why);
    return 1;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;  // usage errors exit 1 like every other error
  }

  try {
    return dispatch(commands);
  } catch (const cli::CliError& e) {
    if (*e.what()) fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", cli::error_text(e));
    return 1;
  }
}
