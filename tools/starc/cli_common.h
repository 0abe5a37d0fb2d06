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
class Option;
}  // namespace CLI

namespace starc::cli {

// --conv-algo auto|direct|fft (compiler/opt/conv_algo.h), for every command that compiles.
void add_conv_algo_option(CLI::App* app, ConvAlgo* value);
// --device cpu|cuda (compiler/lower/device.h), for every command that compiles.
void add_device_option(CLI::App* app, Device* value);

// Checks that integer option `opt` is a whole number in [min, max], with messages that
// read "--threads: must be at least 1, got 0" (CLI11 puts the option's name first).
void check_int_range(CLI::Option* opt, int64_t min, int64_t max);

// --dim NAME=N values (the length a symbolic dim takes: docs/language.md, "Symbolic
// lengths"); throws CliError for one that is not NAME=N with N >= 1.
std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& specs);
// The most threads --threads accepts (more would only exhaust the process's threads).
constexpr int64_t kMaxThreads = 4096;

// The tensor file `spec`, given as `flag name=spec` for a model input of type `want`,
// read and checked against `want` (element type, rank, static dims; a symbolic dim
// matches any size): an error names the file and what it holds, in the file's own type
// ("xi4.npy holds int32[4,5], read as i64[4,5]; input 'mags' is f32[B,5]").
Tensor read_model_input(const std::string& flag, const std::string& name, const std::string& spec,
                        const TensorType& want, const SymbolNames* symbols);
// The check of read_model_input, for a tensor `t` read from `spec` by
// read_tensor_file(spec, &stored).
void check_model_input(const std::string& flag, const std::string& name, const std::string& spec, const Tensor& t,
                       const std::string& stored, const TensorType& want, const SymbolNames* symbols);
// "i64[4,5]", or "i64[4,5] (the file stores int32)" for a file whose elements were
// converted on reading.
std::string file_type_str(const Tensor& t, const std::string& stored);

// A user-facing failure: the command prints "error: <what>" and exits 1. An empty what()
// means the failure is already reported (compiler diagnostics were printed).
struct CliError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// --max-errors: how many diagnostics a command shows (0: all).
inline size_t g_max_errors = 20;

struct Loaded {
  Loaded() { diags.set_max_errors(g_max_errors); }
  SourceManager sm;
  DiagEngine diags{sm};
  Program prog{diags};
};

// Prints the diagnostics with a count line.
void print_diags(const DiagEngine& d);
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
// The text after "error: " for a failure: its message, with the flags of the library
// parameters it names (runtime/param_error.h), and for a run refused for its memory
// (runtime/memory_limit.h), the flag that sets the limit.
std::string error_text(const std::exception& e);

// --max-memory SIZE, for the commands that run models (run, train, repl): what a run may
// allocate (runtime/memory_limit.h; default: what the machine has available).
void add_max_memory_option(CLI::App* app);

}  // namespace starc::cli
