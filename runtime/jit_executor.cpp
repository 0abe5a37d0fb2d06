#include "runtime/jit_executor.h"

#include <malloc.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "compiler/ir/sym_dim.h"
#include "compiler/ir/text.h"
#include "compiler/backend/kernels/starc_cuda.h"
#include "compiler/backend/kernels/starc_kernels.h"
#include "compiler/opt/passes.h"
#include "runtime/jit_cache.h"
#include "runtime/param_error.h"
#include "compiler/ops/op.h"
#include "compiler/ops/index.h"

namespace starc {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void check_bound(const std::string& what, const TensorType& want, const Tensor& got) {
  if (want != got.type())
    throw std::runtime_error(fmt::format("{}: expected {}, got {}", what, type_str(want), type_str(got.type())));
}

// 128-bit FNV-1a (two 64-bit lanes with different offsets), as hex: run()'s fast key (of a
// graph's structure: everything that decides the compiled code -- ops, wiring, types,
// every attribute value, nested graphs -- not source locations; the specialised graph's
// text, the in-memory cache's exact key, costs more to print than a small MLP takes to
// run). Not the disk cache's: its entries are named and checked by BLAKE3 (jit_cache.h).
struct Fnv128 {
  uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
  void bytes(const void* p, size_t n) {
    auto* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      a = (a ^ c[i]) * 0x100000001b3ull;
      b = (b ^ c[i]) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
  }
  template <class T>
  void pod(const T& v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    pod(s.size());
    bytes(s.data(), s.size());
  }
  template <class T>
  void list(const std::vector<T>& v) {
    pod(v.size());
    for (const T& x : v) pod(x);
  }
  void tensor(const Tensor& t) {
    pod(t.dtype());
    list(t.shape());
    bytes(t.raw(), t.nbytes());
  }
  void graph(const Graph& g) {
    str(g.name);
    pod(g.symbols.size());
    for (auto& s : g.symbols) str(s);
    pod(g.nodes.size());
    for (const Node& n : g.nodes) {
      pod(n.op);  // the registry's one OpDef per op
      list(n.inputs);
      pod(n.type.dtype);
      list(n.type.shape);
      pod(n.attrs.size());
      for (auto& [k, v] : n.attrs) {
        str(k);
        pod(v.index());
        std::visit(
            [&](const auto& x) {
              using X = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<X, std::string>)
                str(x);
              else if constexpr (std::is_same_v<X, Ints> || std::is_same_v<X, Floats>)
                list(x);
              else if constexpr (std::is_same_v<X, Tensor>)
                tensor(x);
              else if constexpr (std::is_same_v<X, GraphRef>) {
                pod(bool(x));
                if (x) graph(*x);
              } else
                pod(x);
            },
            v);
      }
    }
    list(g.inputs);
    list(g.outputs);
    pod(g.output_names.size());
    for (auto& s : g.output_names) str(s);
  }
  std::string hex() const { return fmt::format("{:016x}{:016x}", a, b); }
};

}  // namespace

// libomp (linked into the process) runs the parallel loops of generated code.
extern "C" void omp_set_num_threads(int);

JitExecutor::JitExecutor(JitOptions opts, std::string cache_dir) : opts_(opts), cache_dir_(std::move(cache_dir)) {
  // Generated code allocates every call's tensors afresh, many of them megabytes. By
  // default glibc maps each one above its mmap threshold and unmaps it on free, so every
  // call page-faults its buffers in again (13% of the redshift train step, measured with
  // perf); keep them in the heap, for reuse, up to glibc's largest threshold, and do not
  // hand the heap's top back between steps (page faults of 6 redshift train epochs:
  // 1.49 M -> 0.28 M, CPU time -15%). The peak resident size stays what it was.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
  if (opts_.threads > 1) omp_set_num_threads(opts_.threads);
  starc_set_threads(opts_.threads);  // the BLAS behind matmul and conv kernels
  if (opts_.device == Device::Cuda) {
    if (starc_cuda_init() != 0) {
      std::string why = starc_cuda_error();
      starc_cuda_clear_error();
      throw ParamError<std::runtime_error>(param_ref("device") + " cuda: " + why);
    }
    // Objects of GPU modules embed their PTX and register it in global constructors,
    // which an object loaded from the disk cache would not run: always compile.
    cache_dir_.clear();
  }
}

uint16_t narrow_float(float v, WeightStorage w) {
  if (w == WeightStorage::F16) {
    _Float16 h = static_cast<_Float16>(v);  // IEEE conversion: round to nearest even
    uint16_t bits;
    std::memcpy(&bits, &h, 2);
    return bits;
  }
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // NaN: keep it quiet and NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                         // round to nearest, ties to even
  return uint16_t(u >> 16);
}

float widen_float(uint16_t bits, WeightStorage w) {
  if (w == WeightStorage::F16) {
    _Float16 h;
    std::memcpy(&h, &bits, 2);
    return float(h);
  }
  uint32_t u = uint32_t(bits) << 16;
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

Tensor round_like_stored(const Tensor& t, WeightStorage w) {
  if (w == WeightStorage::F32 || t.dtype() != DType::F32) return t;
  Tensor r(t.dtype(), t.shape());
  const float* src = t.data<float>();
  float* dst = r.data<float>();
  for (int64_t i = 0; i < t.size(); ++i) dst[i] = widen_float(narrow_float(src[i], w), w);
  return r;
}

std::string cuda_device_description() { return starc_cuda_init() == 0 ? starc_cuda_device_name() : ""; }

namespace {

// Managed memory of `bytes` (at least 1), owned by the returned pointer (freed by the driver).
std::shared_ptr<std::byte> managed_bytes(size_t bytes) {
  void* p = starc_cuda_alloc(bytes);
  if (!p) {
    std::string why = starc_cuda_error();
    starc_cuda_clear_error();
    throw std::runtime_error(fmt::format("CUDA: cannot allocate {} bytes of device memory: {}", bytes, why));
  }
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { starc_cuda_free(q); });
}

// A tensor the GPU can read: itself if its memory is managed already (the outputs of
// an earlier step: weights stay on the device across a training loop), else a managed copy.
Tensor device_visible(const Tensor& t) {
  if (starc_cuda_is_managed(t.raw())) return t;
  Tensor d = Tensor::adopt(t.dtype(), t.shape(), managed_bytes(t.nbytes()));
  if (t.nbytes()) std::memcpy(d.raw(), t.raw(), t.nbytes());
  return d;
}

}  // namespace

std::string format_timings(const JitRunStats& s) {
  if (s.cache_hit)
    return fmt::format("in-memory cache hit; specialise+lookup {:.3f} ms, run {:.3f} ms",
                       (s.specialize + s.lookup) * 1e3, s.run * 1e3);
  if (s.disk_hit)
    return fmt::format(
        "disk cache hit; specialise {:.1f} ms, emit MLIR {:.1f} ms, load object {:.1f} ms "
        "(total {:.1f} ms), run {:.2f} ms",
        s.specialize * 1e3, s.emit * 1e3, (s.load + s.lookup) * 1e3, (s.specialize + s.compile_seconds()) * 1e3,
        s.run * 1e3);
  // The engine optimises and generates machine code lazily, at the first lookup: that
  // is most of "LLVM", the engine's creation the rest.
  return fmt::format(
      "compiled; specialise {:.1f} ms, emit MLIR {:.1f} ms, parse {:.1f} ms, passes {:.1f} ms, "
      "LLVM {:.1f} ms (compile total {:.1f} ms), run {:.2f} ms",
      s.specialize * 1e3, s.emit * 1e3, s.compile.parse * 1e3, s.compile.passes * 1e3,
      (s.compile.codegen + s.load + s.lookup) * 1e3, (s.specialize + s.compile_seconds()) * 1e3, s.run * 1e3);
}

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

std::string default_cache_dir() {
  if (const char* d = std::getenv("STARC_CACHE_DIR"); d && *d) return std::string(d) == "off" ? "" : d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/starc";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/starc";
  return "";
}

CompileOptions JitExecutor::compile_options() const {
  CompileOptions o;
  o.device = opts_.device;
  o.passes = opts_.passes;
  o.weights = opts_.weights;
  return o;
}

// Emits MLIR; then loads the object from the disk cache, or compiles (and stores it).
std::shared_ptr<JitExecutor::Compiled> JitExecutor::compile(const Graph& concrete) {
  auto c = std::make_shared<Compiled>();
  auto t0 = Clock::now();
  Compilation mlir = starc::compile(concrete, compile_options(), Stage::Mlir);
  const std::string& text = mlir.mlir;
  c->sig = mlir.sig;
  stats_.emit = since(t0);
  // The disk cache (runtime/jit_cache.h): keyed by the MLIR text, not the graph (a starc
  // whose lowerings changed must not load objects an older one compiled from the same
  // graph), and by the pass pipeline, which changes the code made from the same text. An
  // entry is loaded only after its checksum and key are verified; any problem with it is
  // a warning and a compile.
  std::string key;
  if (!cache_dir_.empty()) {
    key = text + "\n" + llvm_version() + "\n" + cpu_pipeline_id() +
          fmt::format("\nO{} threads:{}", opts_.opt_level, opts_.threads > 1);
    t0 = Clock::now();
    if (std::optional<std::string> object = jit_cache::load(cache_dir_, key)) {
      try {
        c->module = JitModule::load_object(*object, jit_cache::entry_path(cache_dir_, key), "forward");
        stats_.disk_hit = true;
      } catch (const LowerError& e) {
        jit_cache::warn(fmt::format("{}; compiling instead", e.what()));
      }
    }
    stats_.load = since(t0);
  }
  if (!c->module) {
    std::string object;
    c->module = JitModule::compile(text, opts_, &stats_.compile, key.empty() ? nullptr : &object);
    if (!key.empty() && !object.empty())
      jit_cache::store(cache_dir_, key, object);
    else if (!key.empty())
      jit_cache::warn("the compiled object could not be captured (a file size limit?); it is not cached");
  }
  t0 = Clock::now();
  c->fn = c->module->lookup("forward");
  stats_.lookup = since(t0);
  return c;
}

namespace {

// "B=64, T=100": the symbols' values, for messages.
std::string symbol_values_str(const Graph& g, const std::vector<Dim>& values) {
  std::string s;
  for (size_t i = 0; i < g.symbols.size() && i < values.size(); ++i)
    if (!is_derived_symbol(g.symbols[i])) s += fmt::format("{}{}={}", s.empty() ? "" : ", ", g.symbols[i], values[i]);
  return s;
}

// "node %12 (conv1d at m.net:5:3, f32[64,512,4618])" of the graph the code was made
// from (specialised and optimised again: both are deterministic, so the ids agree).
std::string node_desc(const Graph& opt, int64_t id) {
  if (id < 0 || id >= int64_t(opt.nodes.size())) return "a temporary";
  const Node& n = opt.nodes[size_t(id)];
  return fmt::format("node %{} ({}{}, {})", id, n.op ? n.op->name : "?",
                     n.loc.known() ? fmt::format(" at {}:{}:{}", n.loc.file, n.loc.line, n.loc.col) : "",
                     type_str(n.type));
}

}  // namespace

void JitExecutor::check_plan(const Graph& g, const std::vector<Dim>& symbols, const Compiled& c) const {
  if (!c.plan) return;
  int64_t outputs = 0;
  for (const TensorType& t : c.sig.output_types) outputs += num_elements(t.shape) * int64_t(dtype_size(t.dtype));
  const int64_t needed = c.plan->peak_bytes + outputs;
  check_memory(needed, [&](int64_t available, bool user_limit) {
    Graph opt = starc::compile(g, symbols, compile_options(), Stage::Opt).optimized;
    std::string at = symbol_values_str(g, symbols);
    return fmt::format(
        "model {} needs {}{} ({} of temporaries at their peak, {} of outputs; the largest: {}, {}); "
        "{} {}",
        g.name, format_bytes(needed), at.empty() ? "" : " at " + at, format_bytes(c.plan->peak_bytes),
        format_bytes(outputs), node_desc(opt, c.plan->largest_node), format_bytes(c.plan->largest_bytes),
        format_bytes(available), user_limit ? "allowed" : "available");
  });
}

void JitExecutor::throw_if_out_of_memory(const Graph& g, const std::vector<Dim>& symbols) const {
  int64_t bytes = 0, node = -1;
  if (!starc_mem_take_failure(&bytes, &node)) return;
  Graph opt = starc::compile(g, symbols, compile_options(), Stage::Opt).optimized;
  throw OutOfMemoryError(fmt::format("out of memory: cannot allocate {} for {} in model {}", format_bytes(bytes),
                                     node_desc(opt, node), g.name),
                         bytes);
}

std::string JitExecutor::mlir_for(const Graph& g, const std::vector<Tensor>& inputs, const OptOptions& passes,
                                  Device device) {
  CompileOptions o;
  o.device = device;
  o.passes = passes;
  return starc::compile(g, bind_symbols(g, inputs), o, Stage::Mlir).mlir;
}

std::shared_ptr<JitExecutor::Compiled> JitExecutor::compiled_for(const Graph& g, const std::vector<Dim>& symbol_values,
                                                                 std::chrono::steady_clock::time_point start) {
  Fnv128 h;
  h.graph(g);
  h.list(symbol_values);
  const std::string fast_key = h.hex();
  std::shared_ptr<Compiled> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fast_cache_.find(fast_key);
    if (it != fast_cache_.end()) c = it->second;
  }
  if (c) {
    stats_.specialize = since(start);
    stats_.cache_hit = true;
    return c;
  }
  // A new binding: its derived dims must fit the shape rules (a hit was checked before).
  check_bound_shapes(g, symbol_values);
  // By the specialised graph's text: equal graphs built apart share a compile.
  Graph concrete = specialize(g, symbol_values);
  std::string key = print_graph(concrete);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) c = it->second;
  }
  stats_.specialize = since(start);
  if (!c) {
    c = compile(concrete);
    c->plan = c->module->memory_plan();
    std::lock_guard<std::mutex> lock(mu_);
    cache_[key] = c;
  } else {
    stats_.cache_hit = true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  fast_cache_[fast_key] = c;
  return c;
}

namespace {

// The generated function's arguments: a pointer to each buffer's data pointer
// (bare-pointer memrefs) for the inputs, weights and outputs, then the seed. On the GPU
// every buffer is managed memory (staged holds copies of host tensors).
class EntryArgs {
 public:
  EntryArgs(bool gpu, WeightStorage weights) : gpu_(gpu), weights_(weights) {}

  void add_inputs(const Graph& g, const EntrySignature& sig, const std::vector<Tensor>& inputs) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      check_bound(fmt::format("input '{}'", g.input_name(int(i))), sig.input_types[i], inputs[i]);
      pass(inputs[i]);
    }
  }

  void add_weights(const EntrySignature& sig, const TensorMap& params) {
    for (size_t i = 0; i < sig.param_names.size(); ++i) {
      auto it = params.find(sig.param_names[i]);
      if (it == params.end())
        throw std::runtime_error(
            fmt::format("missing weight '{}' ({})", sig.param_names[i], type_str(sig.param_types[i])));
      check_bound(fmt::format("weight '{}'", sig.param_names[i]), sig.param_types[i], it->second);
      if (weight_is_narrowed(weights_, sig.param_types[i]))
        pass_narrowed(it->second);
      else
        pass(it->second);
    }
  }

  // The outputs, allocated here for the generated code to fill.
  std::vector<Tensor> add_outputs(const Graph& g, const EntrySignature& sig) {
    std::vector<Tensor> outputs;
    for (size_t i = 0; i < sig.output_types.size(); ++i) {
      const TensorType& t = sig.output_types[i];
      if (gpu_) {
        outputs.push_back(
            Tensor::adopt(t.dtype, t.shape, managed_bytes(size_t(num_elements(t.shape)) * dtype_size(t.dtype))));
      } else {
        try {
          outputs.emplace_back(t.dtype, t.shape);
        } catch (const std::bad_alloc&) {
          int64_t bytes = num_elements(t.shape) * int64_t(dtype_size(t.dtype));
          throw OutOfMemoryError(fmt::format("out of memory: cannot allocate {} for output '{}' of model {} ({})",
                                             format_bytes(bytes), g.output_names.at(i), g.name, type_str(t)),
                                 bytes);
        }
      }
      data_.push_back(outputs.back().raw());
    }
    return outputs;
  }

  // The packed argument list; it points into this object and at *seed_arg.
  std::vector<void*> packed(int64_t* seed_arg) {
    std::vector<void*> out;
    for (void*& p : data_) out.push_back(&p);
    out.push_back(seed_arg);
    return out;
  }

 private:
  void pass(const Tensor& t) {
    if (gpu_) staged_.push_back(device_visible(t));
    data_.push_back(const_cast<void*>(gpu_ ? staged_.back().raw() : t.raw()));
  }
  // A narrowed weight: its 16-bit copy, made for this call (the caller's tensor may change).
  void pass_narrowed(const Tensor& t) {
    size_t bytes = std::max<size_t>(size_t(t.size()) * 2, 2);
    narrow_copies_.push_back(
        gpu_ ? managed_bytes(bytes)
             : std::shared_ptr<std::byte>(new std::byte[bytes], std::default_delete<std::byte[]>()));
    auto* out = reinterpret_cast<uint16_t*>(narrow_copies_.back().get());
    const float* in = t.data<float>();
    for (int64_t k = 0; k < t.size(); ++k) out[k] = narrow_float(in[k], weights_);
    data_.push_back(out);
  }

  bool gpu_;
  WeightStorage weights_;
  std::vector<void*> data_;
  std::vector<Tensor> staged_;
  std::vector<std::shared_ptr<std::byte>> narrow_copies_;
};

}  // namespace

std::vector<Tensor> JitExecutor::run(const Graph& g, const std::vector<Tensor>& inputs, const TensorMap& params,
                                     uint64_t seed) {
  stats_ = {};
  auto t0 = Clock::now();
  std::vector<Dim> symbol_values = bind_input_symbols(g, inputs);  // checked in compiled_for on a miss
  check_input_indices(g, inputs, symbol_values);                   // the compiled code clamps, it cannot throw
  std::shared_ptr<Compiled> c = compiled_for(g, symbol_values, t0);
  check_plan(g, symbol_values, *c);
  const bool gpu = opts_.device == Device::Cuda;
  EntryArgs args(gpu, opts_.weights);
  args.add_inputs(g, c->sig, inputs);
  args.add_weights(c->sig, params);
  std::vector<Tensor> outputs = args.add_outputs(g, c->sig);
  int64_t seed_arg = int64_t(seed);
  std::vector<void*> packed = args.packed(&seed_arg);
  t0 = Clock::now();
  c->fn(packed.data());
  if (!gpu) throw_if_out_of_memory(g, symbol_values);
  if (gpu && starc_cuda_synchronize() != 0) {
    std::string why = starc_cuda_error();
    starc_cuda_clear_error();
    throw std::runtime_error("CUDA: the step failed on the GPU: " + why);
  }
  stats_.run = since(t0);
  if (on_run) on_run(g, stats_);
  return outputs;
}

}  // namespace starc
