// `starc opt FILE.graph --passes a,b`: reads a graph in its text form (compiler/ir/text.h,
// what `starc graph --emit graph` prints), runs the named passes in that order and prints
// the result: the reports of the passes as `# pass ...` lines, then the graph, or the MLIR /
// LLVM IR / PTX the driver makes of it. The golden tests of tests/lit are written with it.
#include "tools/starc/opt_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>
#include <sstream>

#include "compiler/driver/driver.h"
#include "compiler/ir/text.h"
#include "compiler/opt/passes.h"
#include "dsl/program.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

struct Options {
  std::string file;
  std::string passes = "all";  // comma-separated names, "none", or "all" (every pass, as the JIT runs them)
  std::string emit = "graph";
  int64_t batch = 1;
  bool list = false;
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
};

using cli::CliError;

// The graph in `file`, parsed and verified; errors read "FILE:line:col: error: ...".
Graph read_graph_file(const std::string& file) {
  std::string why;
  std::optional<std::string> text = read_source(file, &why);
  if (!text) throw CliError(why);
  Graph g;
  try {
    g = parse_graph(*text);
  } catch (const std::runtime_error& e) {  // "line:col: message", as a compiler prints it
    std::string_view m = e.what();
    size_t second_colon = m.find(':', m.find(':') + 1);
    if (second_colon == std::string_view::npos) throw CliError(fmt::format("{}: {}", file, m));
    fmt::print(stderr, "{}:{}: error:{}\n", file, m.substr(0, second_colon), m.substr(second_colon + 1));
    throw CliError("");
  }
  try {
    verify_graph(g);
  } catch (const std::runtime_error& e) {
    throw CliError(fmt::format("{}: invalid graph: {}", file, e.what()));
  }
  return g;
}

std::vector<std::string> pass_list(const std::string& spec) {
  if (spec == "all") return pass_names();
  if (spec.empty()) throw CliError("--passes: no pass given (all, none, or names separated by commas)");
  std::vector<std::string> names;
  if (spec == "none") return names;
  std::stringstream in(spec);
  for (std::string name; std::getline(in, name, ',');) {
    if (name.empty()) throw CliError(fmt::format("--passes: an empty pass name in '{}'", spec));
    if (!find_pass(name))
      throw CliError(fmt::format("--passes: unknown pass '{}' (passes: {})", name, fmt::join(pass_names(), ", ")));
    names.push_back(name);
  }
  return names;
}

int run(const Options& o) {
  if (o.list) {
    for (const Pass& p : all_passes()) fmt::print("{:<10} {}\n", p.name, p.description);
    return 0;
  }
  if (o.file.empty()) throw CliError("a graph file is needed (or --list-passes)");
  std::vector<std::string> names = pass_list(o.passes);
  Graph g = read_graph_file(o.file);
  std::vector<PassReport> report;
  Graph opt = run_passes(g, names, OptOptions({}, o.conv_algo), &report);
  for (const PassReport& r : report) fmt::print("# {}\n", describe(r));
  if (o.emit == "graph") {
    fmt::print("{}", print_graph(opt));
    return 0;
  }
  CompileOptions co;
  co.device = o.device;
  co.optimize = false;  // the passes asked for ran above
  Stage stage = o.emit == "mlir" ? Stage::Mlir : o.emit == "llvm" ? Stage::Llvm : Stage::Ptx;
  Compilation c = compile(opt, std::vector<Dim>(opt.symbols.size(), o.batch), co, stage);
  if (stage == Stage::Ptx)
    for (const PtxModule& m : c.ptx) fmt::print("// ---- kernel module {}\n{}\n", m.name, m.ptx);
  else
    fmt::print("{}", stage == Stage::Mlir ? c.mlir : c.llvm);
  return 0;
}

}  // namespace

OptCommand add_opt_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CLI::App* c = app.add_subcommand("opt", "Run graph passes on a Graph text file and print the result");
  c->add_option("file", o->file, "the graph (text form, as `starc graph --emit graph` prints it)")
      ->check(CLI::ExistingFile);
  c->add_option(
      "--passes", o->passes,
      "the passes to run, in order, comma-separated; all (default: every pass, as the JIT runs them) or none");
  c->add_flag("--list-passes", o->list, "list the passes with what each does");
  c->add_option("--emit", o->emit, "graph (default) | mlir | llvm | ptx: what to print after the passes")
      ->check(CLI::IsMember({"graph", "mlir", "llvm", "ptx"}));
  cli::check_int_range(c->add_option("--batch", o->batch, "mlir/llvm/ptx: the value of symbolic dims (default 1)"), 1,
                       INT32_MAX);
  cli::add_conv_algo_option(c, &o->conv_algo);
  cli::add_device_option(c, &o->device);
  return {c, [o] { return run(*o); }};
}

}  // namespace starc
