// The public C++ API of starc (docs/api.md): load a program, pick a model, give it
// weights, run it (JIT or reference interpreter) and differentiate it, and print any stage
// of its compilation. Every failure is a starc::api::Error, with the program's located
// diagnostics when the source has errors. The Python module and the tools are clients.
//
//   auto program = starc::api::Program::from_file("stdlib/astro/photoz.net");
//   starc::api::Model m = program.model();        // the file's only model
//   m.init(/*seed=*/0);
//   std::vector<starc::Tensor> z = m.run({mags});  // compiled on the first call, cached
#pragma once
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/driver/driver.h"
#include "compiler/ir/tensor.h"

namespace starc::api {

// A source error: where, and what (`text` is the message as the compiler prints it, with
// the source line and a caret).
struct Diagnostic {
  std::string file;
  int line = 0, col = 0;
  std::string message, text;
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, std::vector<Diagnostic> diagnostics = {})
      : std::runtime_error(what), diagnostics_(std::move(diagnostics)) {}
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// A model input, output or parameter: its element type and dims (a symbolic dim by its
// name, e.g. {"B", "5"}).
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::string> dims;
};

enum class Backend { Jit, Reference };

struct Options {
  Backend backend = Backend::Jit;
  Device device = Device::Cpu;
  int threads = 0;  // JIT: threads of the generated code; 0: every core
  ConvAlgo conv_algo = ConvAlgo::Auto;
  uint64_t seed = 0;       // random ops (dropout, random_normal)
  bool disk_cache = true;  // JIT: reuse compiled code across processes ($STARC_CACHE_DIR)
};

class Model;

class Program {
 public:
  // Loads a .net file and what it imports; throws Error with the diagnostics.
  static Program from_file(const std::string& path);
  // Loads source text as if it were the file `name` (imports resolve from its folder).
  static Program from_source(const std::string& source, const std::string& name = "<source>.net");
  // The models of the main file, in source order.
  std::vector<std::string> models() const;
  // A model of the main file ("" = the only one) in inference mode, or with training-mode
  // behaviour (dropout active, batch norm on batch statistics) when `training`.
  Model model(const std::string& name = "", const Options& options = {}, bool training = false) const;

  struct Impl;

 private:
  explicit Program(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

class Model {
 public:
  const std::string& name() const;
  std::vector<TensorSpec> inputs() const;
  std::vector<TensorSpec> outputs() const;
  std::vector<TensorSpec> params() const;  // sorted by dotted name

  // Weights: from the params' initialisers, from an .npz file (checked against the params:
  // names, dtypes, shapes), or set one by one.
  void init(uint64_t seed = 0);
  void load_weights(const std::string& npz);
  void save_weights(const std::string& npz) const;
  const std::map<std::string, Tensor>& weights() const;
  void set_weight(const std::string& name, const Tensor& value);

  // The forward pass on inputs in the model's order (or by name: run_named). Weights must be set
  // (init or load_weights). Inputs are checked against their specs (dtype, rank, dims).
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);
  std::map<std::string, Tensor> run_named(const std::map<std::string, Tensor>& inputs);
  // The gradients of the sum of the float outputs with respect to every float input
  // ("d_NAME") and trainable parameter ("d_" + dotted name).
  std::map<std::string, Tensor> gradients(const std::vector<Tensor>& inputs);

  // A stage of the compilation, as `starc graph --emit` prints it: Opt (graph text after
  // the passes), Mlir, Llvm or Ptx, with symbolic dims set to `batch`.
  std::string emit(Stage stage, int64_t batch = 1) const;
  const Graph& graph() const;

  struct Impl;

 private:
  friend class Program;
  explicit Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace starc::api
