// compiler/lower: Graph -> MLIR. A static-shape Graph (see specialize()) becomes the text
// of an MLIR module holding one function, written with linalg/tensor/arith/math ops on
// tensors. The text is what `--emit mlir` prints and what the JIT (jit.h) parses; this
// layer itself needs no MLIR headers. Each op's lowering is a small function registered
// by the op's name (compiler/lower/lower_*.cpp), the lowering part of the op's
// definition; MLIR locations carry the .net source position of every node.
#pragma once
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/lower/device.h"

namespace starc {

struct OpDef;

// The graph cannot be lowered (an op without a lowering, a symbolic dim left).
struct EmitError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The entry function's signature: memref arguments in this order, then `i64 %seed`.
//   graph inputs (in order), params (names, sorted), outputs (in order).
struct EntrySignature {
  std::vector<std::string> param_names;
  std::vector<TensorType> input_types, param_types, output_types;
};

class MlirEmitter;
// Emits the MLIR for node `id` (= n) and binds its result with e.bind(id, value).
using LowerFn = std::function<void(MlirEmitter& e, const Node& n, int id)>;

class MlirEmitter {
 public:
  // --- types and names -----------------------------------------------------------
  static std::string elem(DType t);                     // f32 f64 i64 i1
  static std::string tensor_type(const TensorType& t);  // tensor<2x3xf32>, tensor<f32>
  static std::string memref_type(const TensorType& t);  // memref<2x3xf32>
  std::string ty(int id) const { return tensor_type(g_->type(id)); }
  const TensorType& type(int id) const { return g_->type(id); }
  const Graph& graph() const { return *g_; }
  std::string val(int id) const;  // the SSA value of node id
  void bind(int id, std::string value) { vals_[id] = std::move(value); }
  // Nodes with several results (scan): binds all of them (val(id) is result 0);
  // result(id, i) reads one back (for scan_result nodes).
  void bind_results(int id, std::vector<std::string> values);
  std::string result(int id, int index) const;
  std::string fresh(const std::string& prefix = "t");  // a new SSA name "%t12"
  std::string loc() const { return loc_; }             // loc(...) of the node being emitted

  // --- writing -----------------------------------------------------------------------
  void line(const std::string& s);  // one line at the current indentation
  void indent(int d) { indent_ += d; }

  // --- building blocks ------------------------------------------------------------------
  std::string constant_scalar(double v, DType t);    // arith.constant, exact
  std::string splat(double v, const TensorType& t);  // a constant tensor filled with v
  std::string empty(const TensorType& t);            // tensor.empty()
  std::string fill(double v, const TensorType& t);   // linalg.fill of a tensor.empty()
  // A linalg.generic over the iteration space of rank `loops`. Each input has a value,
  // type and affine map (text "(d0, d1) -> (d1)" without "affine_map<>"); the single
  // output is `init` of type `out` with map `out_map`. `iterators`: "parallel" or
  // "reduction" per loop. `body` gets the block argument names (inputs..., out) and
  // returns the yielded scalar, emitting its lines through line().
  using BodyFn = std::function<std::string(MlirEmitter&, const std::vector<std::string>& args)>;
  struct GenericIn {
    std::string value;
    TensorType type;
    std::string map;
  };
  std::string generic(const std::vector<GenericIn>& ins, const std::string& init, const TensorType& out,
                      const std::string& out_map, const std::vector<std::string>& iterators, const BodyFn& body);
  // Identity map "(d0, ..., dn-1) -> (d0, ..., dn-1)" and the broadcasting map of an
  // input of type `in` into an iteration space of rank `rank` (NumPy alignment).
  static std::string identity_map(int rank);
  static std::string broadcast_map(const Shape& in, const Shape& out);
  // Elementwise over the broadcast shape of `ins` (result type `out`).
  std::string elementwise(const std::vector<int>& ins, const TensorType& out, const BodyFn& body);

  // --- sub-graphs (scan bodies) -----------------------------------------------------------
  // Emits `body`'s nodes inline with its inputs bound to `args`; returns its outputs.
  std::vector<std::string> inline_graph(const Graph& body, const std::vector<std::string>& args);

  std::string seed() const { return "%seed"; }
  // Where the module runs: a lowering may call a kernel-library function that only one
  // device has (the GPU's tree reductions, gpu_kernels.h).
  Device device() const { return device_; }

  // --- calls into the kernel library (compiler/backend/kernels/starc_kernels.h) ----------
  // Calls `starc_NAME(args...)`, declaring it in the module: i64 sizes (i64()) and
  // buffers (address(), alloc_buffer()), which the kernel gets as bare pointers.
  void call_kernel(const std::string& name, const std::vector<std::string>& args);
  // Tensor `value`'s buffer, as a kernel argument.
  std::string address(const std::string& value, const TensorType& t);
  // A fresh buffer of type t for a kernel to write: *addr gets the kernel argument;
  // tensor_of gives the written buffer back as a tensor value (after the call).
  std::string alloc_buffer(const TensorType& t, std::string* addr);
  std::string tensor_of(const std::string& buffer, const TensorType& t);
  std::string i64(int64_t v);  // an arith.constant

 private:
  friend std::string emit_mlir(const Graph&, const std::string&, EntrySignature*, Device, WeightStorage);
  void emit_node(const Graph& g, int id);
  const Graph* g_ = nullptr;
  std::map<int, std::string> vals_;
  std::map<int, std::vector<std::string>> results_;  // multi-result nodes (bind_results)
  std::string out_, loc_;
  std::string node_name_, node_prefix_;  // "%7", "%7/3" in a scan body: loc_of
  int indent_ = 2, counter_ = 0;
  Device device_ = Device::Cpu;
  std::map<std::string, std::string> externs_;           // kernel name -> its declaration
  std::map<std::string, std::string> buffer_view_type_;  // kernel buffer argument -> its memref type
  std::string view(const std::string& memref, const TensorType& t);
};

// The lowering registered for an op (nullptr if none).
const LowerFn* find_lowering(const std::string& op);
// Ops without a lowering, for error messages and coverage tests.
std::vector<std::string> ops_without_lowering();

// Emits the module for a graph with only static dims; throws EmitError. For
// Device::Cuda the module is a gpu.container_module; the GPU pipeline defines its
// kernel-library functions (matmul, conv) with gpu_kernels.h's tiled kernels, and maps
// the rest, the same linalg as on the CPU, onto the GPU.
// `weights` F16/BF16: every f32 param arrives as a 16-bit buffer (weight_is_narrowed)
// and is widened to f32 at the start of the function.
std::string emit_mlir(const Graph& g, const std::string& fn_name, EntrySignature* sig = nullptr,
                      Device device = Device::Cpu, WeightStorage weights = WeightStorage::F32);

// Whether a param of type t is passed in 16 bits under `weights` (f32 params only).
inline bool weight_is_narrowed(WeightStorage weights, const TensorType& t) {
  return weights != WeightStorage::F32 && t.dtype == DType::F32;
}

// Registration hooks, one per lowering file: lower_<family>.cpp lowers the ops of
// compiler/ops/<family>.cpp (helpers they share: lower_util.h, internal).
using LoweringTable = std::map<std::string, LowerFn>;
void register_elementwise_lowerings(LoweringTable&);
void register_linalg_lowerings(LoweringTable&);
void register_conv_lowerings(LoweringTable&);
void register_reduce_lowerings(LoweringTable&);
void register_nn_lowerings(LoweringTable&);
void register_random_lowerings(LoweringTable&);
void register_shape_ops_lowerings(LoweringTable&);
void register_special_lowerings(LoweringTable&);
void register_index_lowerings(LoweringTable&);
void register_sort_scan_lowerings(LoweringTable&);
// Whether every use of transpose node `id` of `g` is a matmul that hands the transpose's
// input to GEMM as an operand stored the other way round: then the transpose is never
// materialised (x @ transpose(w) reads w in place). lower_linalg.cpp.
bool only_gemms_read_transposed(const Graph& g, int id);

}  // namespace starc
