// dsl: a loaded program — a .net file and the modules it imports — and the entry
// point that turns one of its models into a Graph.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/train/train_plan.h"
#include "compiler/ir/graph.h"
#include "dsl/ast.h"
#include "dsl/diag.h"

namespace starc {

struct BuildOptions {
  bool training = false;  // value of the builtin `training` (dropout, batch norm)
  // The REPL's synthesized models: the declared outputs are not checked; every tensor
  // the body returns becomes an output (named output, or output0, output1, ...), and a
  // returned static value (number, list, ...) is described into *static_result
  // (the graph then has no outputs).
  bool any_outputs = false;
  std::string* static_result = nullptr;
};

// Source files are read whole and located by 32-bit offsets: 64 MiB is far beyond any
// model and keeps /dev/zero or a mistaken data file from exhausting memory.
constexpr uintmax_t kMaxSourceBytes = uintmax_t(64) << 20;
// The text of the source file `path`, or nullopt with the reason in `why`.
std::optional<std::string> read_source(const std::string& path, std::string* why);

class Program {
 public:
  explicit Program(DiagEngine& diags) : diags_(diags) {}

  // Loads a file and (transitively) its imports. Errors go to the DiagEngine; returns
  // false if any were reported.
  bool load_file(const std::string& path);
  // Loads source text as if it were the file `path` (REPL, tests).
  bool load_text(const std::string& path, const std::string& text);

  // Models defined in the main (first loaded) file, in source order.
  std::vector<std::string> model_names() const;
  // Builds the Graph of a model of the main file; nullopt (with diagnostics) on error.
  std::optional<Graph> build(const std::string& model, const BuildOptions& opts = {});
  // Builds the training plan of a model of the main file from its `train` block (see
  // compiler/train/train_plan.h and dsl/train.cpp): one step graph per named step (or
  // one, "train"), each verified, and the eval graph. nullopt (with diagnostics) on error.
  // With `split`, each step also gets its gradient and update graphs (TrainStepGraph::grad,
  // ::update), which a data-parallel run uses to average gradients between them.
  std::optional<TrainPlan> build_train(const std::string& model, bool split = false);
  // Models of the main file that have a `train` block, in source order.
  std::vector<std::string> trained_models() const;
  // The train block of a model visible in the main file (its own, or the one in the
  // module that defines an imported model), or null.
  const TrainDecl* train_decl(const std::string& model) const;
  // Resolves names in every function of every loaded module and builds every model of
  // the main file, and the training plan of each of its train blocks; returns true when
  // there were no errors.
  bool check_all();

  const std::vector<Module>& modules() const { return modules_; }
  // Top-level names visible in a module: its own declarations and those of its imports.
  const std::map<std::string, std::shared_ptr<FnDecl>>& globals(int module) const { return globals_.at(module); }
  DiagEngine& diags() { return diags_; }
  std::vector<std::string> search_path(const std::string& importer) const;

 private:
  int load_module(const std::string& path, const std::string* text, SrcLoc use_loc, std::vector<std::string>& stack);
  std::string locate(const UseDecl& u, const std::string& importer, std::vector<std::string>& tried) const;
  void check_train_decls(int module);

  DiagEngine& diags_;
  std::vector<Module> modules_;
  std::vector<std::map<std::string, std::shared_ptr<FnDecl>>> globals_;
  std::map<std::string, int> by_path_;
};

// Names every `.net` program can use without defining them (builtins, constants,
// primitive ops); used for suggestions and by the REPL's completion.
std::vector<std::string> builtin_names();

// Builds a Graph from a model declaration (dsl/elaborate.cpp).
std::optional<Graph> elaborate_model(Program& prog, const FnDecl& model, const BuildOptions& opts);
// Reports names used but never defined in a function body (dsl/resolve.cpp).
void resolve_names(Program& prog, int module, const FnDecl& fn);
void resolve_train_names(Program& prog, int module, const TrainDecl& train);

}  // namespace starc
