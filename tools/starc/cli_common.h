// tools/starc: what every subcommand shares — loading a program (diagnostics printed on
// failure), picking and building a model, and NAME=PATH arguments.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/lower/device.h"
#include "compiler/opt/conv_algo.h"
#include "dsl/program.h"
#include "runtime/interpreter.h"

namespace CLI {
class App;
}

namespace starc::cli {

// --conv-algo auto|direct|fft (compiler/opt/conv_algo.h), for every command that compiles.
void add_conv_algo_option(CLI::App* app, ConvAlgo* value);
// --device cpu|cuda (compiler/lower/device.h), for every command that compiles.
void add_device_option(CLI::App* app, Device* value);

// A user-facing failure: the command prints "error: <what>" and exits 1. An empty what()
// means the failure is already reported (compiler diagnostics were printed).
struct CliError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Loaded {
  SourceManager sm;
  DiagEngine diags{sm};
  Program prog{diags};
};

// Prints the diagnostics with a count line, then throws CliError("").
[[noreturn]] void fail_with_diags(const DiagEngine& d);

std::unique_ptr<Loaded> load_program(const std::string& file);
// `model`, or the file's only model when empty (an error names the choices otherwise).
std::string pick_model(Loaded& l, const std::string& file, const std::string& model);
Graph build_graph(Loaded& l, const std::string& model, bool training = false);

// --flag NAME=PATH pairs (or a bare PATH when `names` has exactly one entry), checked
// against `names`; `what` names the slots in messages ("input", "data input").
std::map<std::string, std::string> name_paths(const std::vector<std::string>& specs,
                                              const std::vector<std::string>& names, const std::string& flag,
                                              const std::string& what);

// The weights from `path` (.npz, checked against the graph's params), or, when `path` is
// empty, the params' initializers with `seed` (with a note on stderr when the graph has
// any and `note` is set).
TensorMap weights_or_init(const Graph& g, const std::string& path, uint64_t seed, bool note = true);

// Runs a subcommand: an exception becomes "error: ..." on stderr (nothing when its
// message is empty: already reported) and exit code 1.
int run_guarded(const std::function<int()>& body);

// "f32[3,1] [15.9359, 11.4786, 9.18164]": the type and the values (the first and last
// three of a longer tensor).
std::string tensor_summary(const Tensor& t);

// `s` quoted for a POSIX shell where it needs quoting (printed commands, tool calls).
std::string shell_quote(const std::string& s);

}  // namespace starc::cli
