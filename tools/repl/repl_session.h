// tools/repl: the REPL's session (`starc repl`, docs/repl.md), without the terminal.
// Definitions (use, fn, model, train) accumulate in a session module; an expression is
// wrapped in a model whose inputs are the session's tensors, built by the front end
// (shapes checked, errors with a caret under the typed text), JIT-compiled (cached) and
// run; `name = expr` keeps the result. Commands start with ':'. repl_cmd.cpp feeds it
// lines from a terminal (libedit), a script or -c.
#pragma once
#include <atomic>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"
#include "tools/repl/repl_print.h"

namespace starc {

struct ReplOptions {
  uint64_t seed = 0;  // initial parameters of layers called at the prompt; random ops
  int threads = 1;
  ConvAlgo conv_algo = ConvAlgo::Auto;  // --conv-algo
  Device device = Device::Cpu;          // --device
  std::string cache_dir;                // the JIT's disk cache ("" = none)
};

class ReplSession {
 public:
  ReplSession(std::ostream& out, std::ostream& err, ReplOptions opts);

  // One complete input (a statement, a declaration or a :command, possibly several
  // lines). Prints results to `out`, errors to `err`; returns false on an error (the
  // session keeps its state from before the input).
  bool feed(const std::string& input);
  bool quit_requested() const { return quit_; }
  // True while brackets, braces or a trailing `|>` leave the input open.
  static bool incomplete(const std::string& text);
  // Completions of the word ending the line: commands, session names and definitions,
  // builtins and ops, stdlib modules after `use`.
  std::vector<std::string> complete(const std::string& line) const;
  // Adds a file's definitions (its `use` lines join the session's).
  bool load(const std::string& path);
  // Set from a SIGINT handler: an evaluation in flight is abandoned when it returns.
  static std::atomic<bool> interrupted;

 private:
  bool feed_line(const std::string& text);
  struct Built;  // a synthesized model's graph and inputs
  bool declare(const std::string& text);
  bool command(const std::string& text);
  bool evaluate(const std::string& expr, const std::vector<std::string>& targets, bool timing);
  // Builds and runs `expr`: its tensors in `outs`, or none and b.static_result.
  bool compute(const std::string& expr, Built& b, std::vector<Tensor>& outs, bool timing = false);
  bool build(const std::string& expr, Built& b, bool training = false);
  TensorMap params_for(const Graph& g) const;
  std::string session_text() const;
  void print_tensor(const std::string& name, const Tensor& t) const;
  void keep(const std::string& name, const Tensor& t);  // a session tensor, replacing a static
  bool print_args(const std::vector<std::string>& args);
  bool train(const std::string& args);
  bool grad(const std::string& args);
  bool show(const std::string& what, const std::string& expr);
  bool help(const std::string& name);
  bool doc(const std::string& name);
  bool type_of(const std::string& expr);
  bool params(const std::string& model);
  bool set(const std::string& args);
  bool load_command(const std::string& args);
  bool save_command(const std::string& args);
  bool save_weights(const std::string& model, const std::string& path);
  bool load_weights(const std::string& model, const std::string& path);

  std::ostream& out_;
  std::ostream& err_;
  ReplOptions opts_;
  std::vector<std::string> uses_ = {"use std.nn", "use std.losses"};
  std::string defs_;                          // fn / model / train declarations, in order
  std::vector<std::string> statics_;          // static assignments, replayed before each expression
  std::map<std::string, Tensor> vars_;        // session tensors
  std::map<std::string, TensorMap> trained_;  // model -> weights from :train or :load
  repl::PrintOptions print_;
  mutable JitExecutor jit_;
  bool quit_ = false;
};

}  // namespace starc
