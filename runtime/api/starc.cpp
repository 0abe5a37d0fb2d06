#include "runtime/api/starc.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "compiler/autodiff/autodiff.h"
#include "compiler/ir/text.h"
#include "compiler/ops/builder.h"
#include "compiler/ops/index.h"
#include "runtime/api/model_impl.h"
#include "dsl/program.h"
#include "runtime/init.h"
#include "runtime/interpreter.h"
#include "runtime/jit_executor.h"
#include "runtime/io/npy.h"

namespace starc::api {

namespace {

TensorSpec spec_of(const std::string& name, const TensorType& t, const SymbolNames& syms) {
  TensorSpec s{name, t.dtype, {}};
  for (Dim d : t.shape) s.dims.push_back(dim_str(d, &syms));
  return s;
}

// As guarded, with the kind of Error a failure of `body` is (inputs, files).
template <class F>
auto guarded_as(ErrorKind kind, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(kind, e.what());
  }
}

}  // namespace

Program Program::from_file(const std::string& path) {
  auto impl = std::make_shared<Impl>();
  if (!impl->program.load_file(path)) impl->fail(path);
  return Program(impl);
}

Program Program::from_source(const std::string& source, const std::string& name) {
  auto impl = std::make_shared<Impl>();
  if (!impl->program.load_text(name, source)) impl->fail(name);
  return Program(impl);
}

std::vector<std::string> Program::models() const { return impl_->program.model_names(); }

Model Program::model(const std::string& name, const Options& options, bool training) const {
  std::string chosen = name;
  if (chosen.empty()) {
    std::vector<std::string> names = models();
    if (names.size() != 1)
      throw Error(fmt::format("the program defines {} models; name one ({})", names.size(),
                              names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
    chosen = names[0];
  }
  std::optional<Graph> g = impl_->program.build(chosen, BuildOptions{training});
  if (!g) impl_->fail(fmt::format("model '{}'", chosen));
  auto m = std::make_shared<Model::Impl>();
  m->program = impl_;
  m->graph = std::move(*g);
  m->options = options;
  return Model(m);
}

const std::string& Model::name() const { return impl_->graph.name; }
const Graph& Model::graph() const { return impl_->graph; }

std::vector<TensorSpec> Model::inputs() const {
  const Graph& g = impl_->graph;
  std::vector<TensorSpec> out;
  for (size_t i = 0; i < g.inputs.size(); ++i)
    out.push_back(spec_of(g.input_name(int(i)), g.type(g.inputs[i]), g.symbols));
  return out;
}

std::vector<TensorSpec> Model::outputs() const {
  const Graph& g = impl_->graph;
  std::vector<TensorSpec> out;
  for (size_t i = 0; i < g.outputs.size(); ++i)
    out.push_back(spec_of(g.output_names[i], g.type(g.outputs[i]), g.symbols));
  return out;
}

std::vector<TensorSpec> Model::params() const {
  const Graph& g = impl_->graph;
  std::map<std::string, TensorSpec> by_name;
  for (int p : g.params()) {
    std::string name = attr_str(g.node(p).attrs, "name");
    by_name.emplace(name, spec_of(name, g.type(p), g.symbols));
  }
  std::vector<TensorSpec> out;
  for (auto& [name, s] : by_name) out.push_back(s);
  return out;
}

void Model::init(uint64_t seed) {
  impl_->weights = guarded([&] { return init_params(impl_->graph, seed); });
  impl_->has_weights = true;
}

void Model::load_weights(const std::string& npz) {
  guarded_as(ErrorKind::Data, [&] {
    std::map<std::string, Tensor> w = weights_from_checkpoint(read_npz(npz));
    check_weights(impl_->graph, w, npz);
    impl_->weights = std::move(w);
  });
  impl_->has_weights = true;
}

void Model::save_weights(const std::string& npz) const {
  if (!impl_->has_weights) throw Error(fmt::format("model {} has no weights to save (init or load_weights)", name()));
  guarded_as(ErrorKind::Data, [&] { write_npz(npz, impl_->weights); });
}

const std::map<std::string, Tensor>& Model::weights() const { return impl_->weights; }

void Model::set_weight(const std::string& name, const Tensor& value) {
  std::map<std::string, Tensor> w = impl_->weights;
  w[name] = value;
  guarded_as(ErrorKind::Shape, [&] { check_weights(impl_->graph, w, "set_weight"); });
  impl_->weights = std::move(w);
  impl_->has_weights = true;
}

std::vector<Tensor> Model::Impl::execute(const Graph& g, const std::vector<Tensor>& inputs) {
  if (!has_weights && !g.params().empty())
    throw Error(fmt::format("model {} has no weights yet: call init(seed) or load_weights(file)", g.name));
  if (inputs.size() != g.inputs.size())
    throw Error(ErrorKind::Shape, fmt::format("model {} takes {} input{}, got {}", g.name, g.inputs.size(),
                                              g.inputs.size() == 1 ? "" : "s", inputs.size()));
  // Names the input whose dtype or shape does not fit.
  std::vector<Dim> syms = guarded_as(ErrorKind::Shape, [&] { return bind_symbols(g, inputs); });
  // An index input out of range (a token id, a class label) is bad data, as PyTorch's
  // IndexError; the executors would report it too, as a plain Error.
  guarded_as(ErrorKind::Data, [&] { check_input_indices(g, inputs, syms); });
  return guarded([&] {
    if (options.backend == Backend::Reference) return run_graph(g, inputs, weights, RunOptions{options.seed});
    return jit_executor().run(g, inputs, weights, options.seed);
  });
}

std::vector<Tensor> Model::run(const std::vector<Tensor>& inputs) { return impl_->execute(impl_->graph, inputs); }

std::map<std::string, Tensor> Model::run_named(const std::map<std::string, Tensor>& named) {
  const Graph& g = impl_->graph;
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    auto it = named.find(g.input_name(int(i)));
    if (it == named.end())
      throw Error(ErrorKind::Shape, fmt::format("model {}: input '{}' is missing", g.name, g.input_name(int(i))));
    inputs.push_back(it->second);
  }
  if (named.size() > inputs.size())  // a name that is not an input
    for (auto& [name, t] : named) {
      bool known = false;
      for (size_t i = 0; i < g.inputs.size(); ++i) known = known || g.input_name(int(i)) == name;
      if (!known) throw Error(ErrorKind::Shape, fmt::format("model {} has no input '{}'", g.name, name));
    }
  std::vector<Tensor> results = run(inputs);
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < results.size(); ++i) out.emplace(g.output_names[i], results[i]);
  return out;
}

JitExecutor& Model::Impl::jit_executor() {
  if (!jit) {
    JitOptions o{.passes = OptOptions({}, options.conv_algo),
                 .threads = options.threads > 0 ? options.threads : default_threads(),
                 .device = options.device};
    std::string cache = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    jit = std::make_unique<JitExecutor>(o, options.disk_cache ? cache : "");
  }
  return *jit;
}

// The model with the gradients of the sum of its float outputs (or of the output `of`) as
// its outputs; one graph per choice, made on first use.
const Graph& Model::Impl::gradient_graph(const std::string& of) {
  if (auto it = grad_graphs.find(of); it != grad_graphs.end()) return it->second;
  Graph g = graph;
  if (!of.empty()) {
    auto at = std::find(g.output_names.begin(), g.output_names.end(), of);
    if (at == g.output_names.end())
      throw Error(fmt::format("model {} has no output '{}' (its outputs: {})", graph.name, of,
                              fmt::join(graph.output_names, ", ")));
    int id = g.outputs[size_t(at - g.output_names.begin())];
    g.outputs = {id}, g.output_names = {of};
  }
  NamedGradients grads = guarded([&] { return append_input_and_param_gradients(g); });
  g.outputs = grads.ids;
  g.output_names = grads.names;
  return grad_graphs.emplace(of, std::move(g)).first->second;
}

std::map<std::string, Tensor> Model::gradients(const std::vector<Tensor>& inputs, const std::string& of) {
  const Graph& g = impl_->gradient_graph(of);
  std::vector<Tensor> grads = impl_->execute(g, inputs);
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < grads.size(); ++i) out.emplace(g.output_names[i], grads[i]);
  return out;
}

std::string Model::dot() const { return to_dot(impl_->graph); }

std::string Model::emit(Stage stage, int64_t batch) const {
  if (batch < 1) throw Error(fmt::format("emit: batch must be at least 1, got {}", batch));
  const Graph& g = impl_->graph;
  return guarded([&] {
    CompileOptions o;
    o.device = impl_->options.device;
    o.passes = OptOptions({}, impl_->options.conv_algo);
    Compilation c = compile(g, std::vector<Dim>(g.symbols.size(), batch), o, stage);
    switch (stage) {
      case Stage::Opt:
        return print_graph(c.optimized);
      case Stage::Mlir:
        return c.mlir;
      case Stage::Llvm:
        return c.llvm;
      case Stage::Ptx: {
        std::string text;
        for (const PtxModule& m : c.ptx) text += fmt::format("// ---- kernel module {}\n{}\n", m.name, m.ptx);
        return text;
      }
      case Stage::Object:
        return c.object;
    }
    return std::string();
  });
}

}  // namespace starc::api
