#include "runtime/jit_executor.h"

#include <fmt/format.h>

#include <chrono>

#include "compiler/graph/text.h"

namespace starc {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void check_bound(const std::string& what, const TensorType& want, const Tensor& got) {
  if (want != got.type())
    throw std::runtime_error(fmt::format("{}: expected {}, got {}", what, type_str(want), type_str(got.type())));
}

}  // namespace

std::string JitExecutor::mlir_for(const Graph& g, const std::vector<Tensor>& inputs) {
  return emit_mlir(specialize(g, bind_symbols(g, inputs)), "forward");
}

std::vector<Tensor> JitExecutor::run(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                                     uint64_t seed) {
  stats_ = {};
  auto t0 = Clock::now();
  Graph concrete = specialize(g, bind_symbols(g, inputs));
  std::string key = print_graph(concrete);
  stats_.specialize = since(t0);

  std::shared_ptr<Compiled> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) c = it->second;
  }
  stats_.cache_hit = c != nullptr;
  if (!c) {
    c = std::make_shared<Compiled>();
    t0 = Clock::now();
    std::string text = emit_mlir(concrete, "forward", &c->sig);
    stats_.emit = since(t0);
    c->module = JitModule::compile(text, opts_, &stats_.compile);
    t0 = Clock::now();
    c->fn = c->module->lookup("forward");
    stats_.lookup = since(t0);
    std::lock_guard<std::mutex> lock(mu_);
    cache_[key] = c;
  }

  // Arguments: a pointer to each buffer's data pointer (bare-pointer memrefs), then seed.
  const EntrySignature& sig = c->sig;
  std::vector<void*> data;
  for (size_t i = 0; i < inputs.size(); ++i) {
    check_bound(fmt::format("input '{}'", g.input_name(int(i))), sig.input_types[i], inputs[i]);
    data.push_back(const_cast<void*>(inputs[i].raw()));
  }
  for (size_t i = 0; i < sig.param_names.size(); ++i) {
    auto it = params.find(sig.param_names[i]);
    if (it == params.end())
      throw std::runtime_error(fmt::format("missing weight '{}' ({})", sig.param_names[i], type_str(sig.param_types[i])));
    check_bound(fmt::format("weight '{}'", sig.param_names[i]), sig.param_types[i], it->second);
    data.push_back(const_cast<void*>(it->second.raw()));
  }
  std::vector<Tensor> outputs;
  for (auto& t : sig.output_types) {
    outputs.emplace_back(t.dtype, t.shape);
    data.push_back(outputs.back().raw());
  }
  int64_t seed_arg = int64_t(seed);
  std::vector<void*> packed;
  for (void*& p : data) packed.push_back(&p);
  packed.push_back(&seed_arg);
  t0 = Clock::now();
  c->fn(packed.data());
  stats_.run = since(t0);
  return outputs;
}

}  // namespace starc
