#include "compiler/lower/emit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "compiler/ops/common.h"
#include "compiler/ops/op.h"

namespace starc {

namespace {

const LoweringTable& lowerings() {
  static const LoweringTable table = [] {
    LoweringTable t;
    register_elementwise_lowerings(t);
    register_linalg_lowerings(t);
    register_conv_lowerings(t);
    register_reduce_lowerings(t);
    register_nn_lowerings(t);
    register_random_lowerings(t);
    register_shape_ops_lowerings(t);
    register_special_lowerings(t);
    register_index_lowerings(t);
    register_sort_scan_lowerings(t);
    return t;
  }();
  return table;
}

// A node's ops carry loc("%ID"(file:line:col)): the name is the node as print_graph
// writes it (a scan body's nodes "%SCAN/ID"), so that plan_cpu can say which nodes each
// fused loop nest or kernel call computes; the file location is where it was written.
std::string loc_of(const std::string& node_name, const Loc& l) {
  if (!l.known()) return fmt::format("loc(\"{}\")", node_name);
  std::string file;
  for (char c : l.file) file += (c == '"' || c == '\\') ? '_' : c;
  return fmt::format("loc(\"{}\"(\"{}\":{}:{}))", node_name, file, l.line, l.col);
}

// The bytes of a tensor as MLIR's hex form of a dense attribute (exact; a single element
// is a splat).
std::string hex_dense(const Tensor& t) {
  std::string s = "\"0x";
  auto* p = static_cast<const unsigned char*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) s += fmt::format("{:02X}", p[i]);
  return s + "\"";
}

// A bool tensor as nested literals ([[true, false], ...]): MLIR packs i1 elements into
// bits, so the byte-per-element hex form of hex_dense does not fit them.
std::string bool_dense(const Tensor& t) {
  const Shape& shape = t.shape();
  int64_t at = 0;
  std::function<std::string(size_t)> level = [&](size_t axis) -> std::string {
    if (axis == shape.size()) return t.get(at++) != 0 ? "true" : "false";
    std::string s = "[";
    for (int64_t i = 0; i < shape[axis]; ++i) s += (i ? ", " : "") + level(axis + 1);
    return s + "]";
  };
  return level(0);
}

}  // namespace

const LowerFn* find_lowering(const std::string& op) {
  auto it = lowerings().find(op);
  return it == lowerings().end() ? nullptr : &it->second;
}

std::vector<std::string> ops_without_lowering() {
  std::vector<std::string> out;
  for (const OpDef* op : all_ops())
    if (op->name != "input" && op->name != "param" && !find_lowering(op->name)) out.push_back(op->name);
  return out;
}

std::string MlirEmitter::elem(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F64:
      return "f64";
    case DType::I64:
      return "i64";
    case DType::Bool:
      return "i1";
  }
  return "?";
}

static std::string shape_prefix(const Shape& s) {
  std::string out;
  for (Dim d : s) {
    if (is_sym(d)) throw EmitError("internal: a symbolic dim reached the MLIR emitter (specialize the graph first)");
    out += fmt::format("{}x", d);
  }
  return out;
}

std::string MlirEmitter::tensor_type(const TensorType& t) {
  return "tensor<" + shape_prefix(t.shape) + elem(t.dtype) + ">";
}
std::string MlirEmitter::memref_type(const TensorType& t) {
  return "memref<" + shape_prefix(t.shape) + elem(t.dtype) + ">";
}

std::string MlirEmitter::val(int id) const {
  auto it = vals_.find(id);
  if (it == vals_.end()) throw EmitError(fmt::format("internal: node %{} used before it was emitted", id));
  return it->second;
}

void MlirEmitter::bind_results(int id, std::vector<std::string> values) {
  vals_[id] = values.at(0);
  results_[id] = std::move(values);
}

std::string MlirEmitter::result(int id, int index) const {
  auto it = results_.find(id);
  if (it == results_.end() || index < 0 || index >= int(it->second.size()))
    throw EmitError(fmt::format("internal: result {} of node %{} was not emitted", index, id));
  return it->second[size_t(index)];
}

std::string MlirEmitter::fresh(const std::string& prefix) { return fmt::format("%{}{}", prefix, counter_++); }

void MlirEmitter::line(const std::string& s) {
  out_.append(size_t(indent_), ' ');
  out_ += s;
  out_ += '\n';
}

std::string MlirEmitter::constant_scalar(double v, DType t) {
  std::string name = fresh("c");
  Tensor s = scalar_of(t, v);  // an i64 saturates, as `cast` converts a float
  std::string lit;
  switch (t) {
    case DType::F32: {
      uint32_t bits;
      float f = s.data<float>()[0];
      std::memcpy(&bits, &f, 4);
      lit = fmt::format("0x{:08X}", bits);
      break;
    }
    case DType::F64: {
      uint64_t bits;
      double d = s.data<double>()[0];
      std::memcpy(&bits, &d, 8);
      lit = fmt::format("0x{:016X}", bits);
      break;
    }
    case DType::I64:
      lit = fmt::format("{}", s.data<int64_t>()[0]);
      break;
    case DType::Bool:
      lit = v != 0 ? "true" : "false";
      break;
  }
  if (t == DType::Bool)  // `true`/`false` carry their type (i1); a `: i1` suffix does not parse
    line(fmt::format("{} = arith.constant {} {}", name, lit, loc_));
  else
    line(fmt::format("{} = arith.constant {} : {} {}", name, lit, elem(t), loc_));
  return name;
}

std::string MlirEmitter::splat(double v, const TensorType& t) {
  std::string name = fresh("c");
  // i1 hex splats must be 0x00 or 0xFF, so booleans are written as literals.
  std::string value = t.dtype == DType::Bool ? (v != 0 ? "true" : "false") : hex_dense(scalar_of(t.dtype, v));
  line(fmt::format("{} = arith.constant dense<{}> : {} {}", name, value, tensor_type(t), loc_));
  return name;
}

std::string MlirEmitter::fill(double v, const TensorType& t) {
  std::string c = constant_scalar(v, t.dtype), init = empty(t), r = fresh("f");
  line(fmt::format("{} = linalg.fill ins({} : {}) outs({} : {}) -> {} {}", r, c, elem(t.dtype), init, tensor_type(t),
                   tensor_type(t), loc_));
  return r;
}

std::string MlirEmitter::empty(const TensorType& t) {
  std::string name = fresh("e");
  line(fmt::format("{} = tensor.empty() : {} {}", name, tensor_type(t), loc_));
  return name;
}

std::string MlirEmitter::identity_map(int rank) {
  std::string d;
  for (int i = 0; i < rank; ++i) d += fmt::format("{}d{}", i ? ", " : "", i);
  return fmt::format("({}) -> ({})", d, d);
}

std::string MlirEmitter::broadcast_map(const Shape& in, const Shape& out) {
  int r = int(out.size()), k = int(in.size());
  std::string dims, res;
  for (int i = 0; i < r; ++i) dims += fmt::format("{}d{}", i ? ", " : "", i);
  for (int j = 0; j < k; ++j) {
    int i = r - k + j;
    bool bcast = in[j] == 1 && out[i] != 1;
    res += fmt::format("{}{}", j ? ", " : "", bcast ? std::string("0") : fmt::format("d{}", i));
  }
  return fmt::format("({}) -> ({})", dims, res);
}

std::string MlirEmitter::generic(const std::vector<GenericIn>& ins, const std::string& init, const TensorType& out,
                                 const std::string& out_map, const std::vector<std::string>& iterators,
                                 const BodyFn& body) {
  std::string maps, in_vals, in_types, iters;
  for (auto& in : ins) {
    maps += fmt::format("affine_map<{}>, ", in.map);
    in_vals += (in_vals.empty() ? "" : ", ") + in.value;
    in_types += (in_types.empty() ? "" : ", ") + tensor_type(in.type);
  }
  maps += fmt::format("affine_map<{}>", out_map);
  for (auto& it : iterators) iters += fmt::format("{}\"{}\"", iters.empty() ? "" : ", ", it);
  std::string name = fresh("g");
  std::string ins_part = ins.empty() ? "" : fmt::format("ins({} : {}) ", in_vals, in_types);
  line(fmt::format("{} = linalg.generic {{indexing_maps = [{}], iterator_types = [{}]}} {}outs({} : {}) {{", name, maps,
                   iters, ins_part, init, tensor_type(out)));
  std::vector<std::string> args;
  std::string block_args;
  for (size_t i = 0; i <= ins.size(); ++i) {
    std::string a = fresh("a");
    DType dt = i < ins.size() ? ins[i].type.dtype : out.dtype;
    block_args += fmt::format("{}{}: {}", i ? ", " : "", a, elem(dt));
    args.push_back(a);
  }
  line(fmt::format("^bb0({}):", block_args));
  indent(2);
  std::string r = body(*this, args);
  line(fmt::format("linalg.yield {} : {}", r, elem(out.dtype)));
  indent(-2);
  line(fmt::format("}} -> {} {}", tensor_type(out), loc_));
  return name;
}

std::string MlirEmitter::elementwise(const std::vector<int>& ins, const TensorType& out, const BodyFn& body) {
  std::vector<GenericIn> gi;
  for (int id : ins) gi.push_back({val(id), type(id), broadcast_map(type(id).shape, out.shape)});
  std::vector<std::string> iters(out.shape.size(), "parallel");
  return generic(gi, empty(out), out, identity_map(out.rank()), iters, body);
}

void MlirEmitter::emit_node(const Graph& g, int id) {
  const Node& n = g.nodes[id];
  node_name_ = node_prefix_ + "%" + std::to_string(id);
  loc_ = loc_of(node_name_, n.loc);
  if (is_op(n, "input") || is_op(n, "param")) return;  // bound by the caller
  if (is_op(n, "const")) {
    const Tensor& t = attr_tensor(n.attrs, "value");
    std::string name = fresh("k");
    std::string value = t.dtype() == DType::Bool ? bool_dense(t) : hex_dense(t);
    line(fmt::format("{} = arith.constant dense<{}> : {} {}", name, value, tensor_type(n.type), loc_));
    bind(id, name);
    return;
  }
  const LowerFn* f = find_lowering(n.op->name);
  if (!f)
    throw EmitError(fmt::format("{}op '{}' (node %{}) has no MLIR lowering yet; run with --backend ref",
                                n.loc.known() ? fmt::format("{}:{}:{}: ", n.loc.file, n.loc.line, n.loc.col) : "",
                                n.op->name, id));
  (*f)(*this, n, id);
}

std::vector<std::string> MlirEmitter::inline_graph(const Graph& body, const std::vector<std::string>& args) {
  const Graph* saved_g = g_;
  auto saved_vals = std::move(vals_);
  auto saved_results = std::move(results_);
  std::string saved_loc = loc_, saved_prefix = node_prefix_, saved_name = node_name_;
  node_prefix_ = node_name_ + "/";
  vals_.clear();
  results_.clear();
  g_ = &body;
  for (size_t i = 0; i < body.inputs.size(); ++i) vals_[body.inputs[i]] = args.at(i);
  for (int id = 0; id < int(body.nodes.size()); ++id) {
    if (is_op(body.nodes[id], "param"))
      throw EmitError("internal: a param node inside a scan body (parameters are captured)");
    emit_node(body, id);
  }
  std::vector<std::string> outs;
  for (int o : body.outputs) outs.push_back(val(o));
  g_ = saved_g;
  vals_ = std::move(saved_vals);
  results_ = std::move(saved_results);
  loc_ = saved_loc;
  node_prefix_ = saved_prefix;
  node_name_ = saved_name;
  return outs;
}

// Buffers go to kernels as memref<1xT> views (a bare pointer under the calling
// convention), so that the call is a visible use: buffer deallocation must not free an
// input before the kernel has read it, which it would if only an address were passed.
void MlirEmitter::call_kernel(const std::string& name, const std::vector<std::string>& args) {
  std::string fn = "starc_" + name;
  std::vector<std::string> types;
  for (auto& a : args) {
    auto view = buffer_view_type_.find(a);  // a buffer view, else an i64 size
    types.push_back(view != buffer_view_type_.end() ? view->second : "i64");
  }
  externs_[fn] = fmt::format("  func.func private @{}({})\n", fn, fmt::join(types, ", "));
  line(fmt::format("func.call @{}({}) : ({}) -> () {}", fn, fmt::join(args, ", "), fmt::join(types, ", "), loc()));
}

std::string MlirEmitter::view(const std::string& memref, const TensorType& t) {
  std::string v = fresh("v"), vt = fmt::format("memref<1x{}>", elem(t.dtype));
  line(fmt::format("{} = memref.reinterpret_cast {} to offset: [0], sizes: [1], strides: [1] : {} to {}", v, memref,
                   memref_type(t), vt));
  buffer_view_type_[v] = vt;
  return v;
}

std::string MlirEmitter::address(const std::string& value, const TensorType& t) {
  std::string m = fresh("buf");
  line(fmt::format("{} = bufferization.to_buffer {} read_only : {} to {} {}", m, value, tensor_type(t), memref_type(t),
                   loc()));
  return view(m, t);
}

std::string MlirEmitter::alloc_buffer(const TensorType& t, std::string* addr) {
  std::string m = fresh("buf");  // not "out": the function's output arguments are %out0, %out1, ...
  line(fmt::format("{} = memref.alloc() {{alignment = 64 : i64}} : {} {}", m, memref_type(t), loc()));
  *addr = view(m, t);
  return m;
}

std::string MlirEmitter::tensor_of(const std::string& buffer, const TensorType& t) {
  std::string r = fresh("k");
  line(fmt::format("{} = bufferization.to_tensor {} restrict writable : {} to {} {}", r, buffer, memref_type(t),
                   tensor_type(t), loc()));
  return r;
}

std::string MlirEmitter::i64(int64_t v) {
  std::string r = fresh("c");
  line(fmt::format("{} = arith.constant {} : i64", r, v));
  return r;
}

std::string emit_mlir(const Graph& g, const std::string& fn_name, EntrySignature* sig_out, Device device,
                      WeightStorage weights) {
  const std::string narrow = weights == WeightStorage::BF16 ? "bf16" : "f16";
  auto narrowed = [&](const std::string& type) {  // memref<2x3xf32> -> memref<2x3xbf16>
    return type.substr(0, type.size() - 4) + narrow + ">";
  };
  MlirEmitter e;
  e.g_ = &g;
  e.device_ = device;
  EntrySignature sig;
  std::vector<std::string> args;
  // Arguments: inputs, params (sorted by name), outputs, seed.
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const TensorType& t = g.type(g.inputs[i]);
    args.push_back(fmt::format("%in{}: {}", i, MlirEmitter::memref_type(t)));
    sig.input_types.push_back(t);
  }
  std::vector<std::pair<std::string, int>> params;
  for (int p : g.params()) params.emplace_back(attr_str(g.node(p).attrs, "name"), p);
  std::sort(params.begin(), params.end());
  for (size_t i = 0; i < params.size(); ++i) {
    const TensorType& t = g.type(params[i].second);
    std::string mt = MlirEmitter::memref_type(t);
    args.push_back(fmt::format("%p{}: {}", i, weight_is_narrowed(weights, t) ? narrowed(mt) : mt));
    sig.param_names.push_back(params[i].first);
    sig.param_types.push_back(t);
  }
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const TensorType& t = g.type(g.outputs[i]);
    args.push_back(fmt::format("%out{}: {}", i, MlirEmitter::memref_type(t)));
    sig.output_types.push_back(t);
  }
  args.push_back("%seed: i64");
  std::string header = fmt::format("module {{\n  func.func @{}({}) {{\n", fn_name, fmt::join(args, ", "));
  e.indent_ = 4;
  auto to_tensor = [&](const std::string& memref, const TensorType& t) {
    std::string name = e.fresh("arg");
    e.line(fmt::format("{} = bufferization.to_tensor {} restrict : {} to {}", name, memref, MlirEmitter::memref_type(t),
                       MlirEmitter::tensor_type(t)));
    return name;
  };
  for (size_t i = 0; i < g.inputs.size(); ++i)
    e.bind(g.inputs[i], to_tensor(fmt::format("%in{}", i), sig.input_types[i]));
  // A narrowed weight: its 16-bit buffer as a tensor, widened to f32 by one elementwise op.
  auto widen = [&](const std::string& memref, const TensorType& t) {
    std::string mt = MlirEmitter::memref_type(t), tt = MlirEmitter::tensor_type(t);
    std::string half = e.fresh("arg"), init = e.empty(t), r = e.fresh("w"), a = e.fresh("a"), b = e.fresh("a"),
                x = e.fresh("s");
    e.line(
        fmt::format("{} = bufferization.to_tensor {} restrict : {} to {}", half, memref, narrowed(mt), narrowed(tt)));
    std::string id = MlirEmitter::identity_map(t.rank());
    std::vector<std::string> iters(size_t(t.rank()), "\"parallel\"");
    e.line(
        fmt::format("{} = linalg.generic {{indexing_maps = [affine_map<{}>, affine_map<{}>], iterator_types = [{}]}} "
                    "ins({} : {}) outs({} : {}) {{",
                    r, id, id, fmt::join(iters, ", "), half, narrowed(tt), init, tt));
    e.line(fmt::format("^bb0({}: {}, {}: f32):", a, narrow, b));
    e.line(fmt::format("  {} = arith.extf {} : {} to f32", x, a, narrow));
    e.line(fmt::format("  linalg.yield {} : f32", x));
    e.line(fmt::format("}} -> {}", tt));
    return r;
  };
  for (size_t i = 0; i < params.size(); ++i) {
    std::string arg = fmt::format("%p{}", i);
    const TensorType& t = sig.param_types[i];
    e.bind(params[i].second, weight_is_narrowed(weights, t) ? widen(arg, t) : to_tensor(arg, t));
  }
  for (int id = 0; id < int(g.nodes.size()); ++id) e.emit_node(g, id);
  for (size_t i = 0; i < g.outputs.size(); ++i)
    e.line(fmt::format("bufferization.materialize_in_destination {} in restrict writable %out{} : ({}, {}) -> ()",
                       e.val(g.outputs[i]), i, MlirEmitter::tensor_type(sig.output_types[i]),
                       MlirEmitter::memref_type(sig.output_types[i])));
  e.line("return");
  if (sig_out) *sig_out = sig;
  // On the GPU these declarations get definitions from gpu_kernels.h in the pipeline,
  // after buffer deallocation (which does not look into kernel launches).
  std::string externs;
  for (auto& [name, decl] : e.externs_) externs += decl;
  return std::string(device == Device::Cuda ? "module attributes {gpu.container_module} {\n" : "module {\n") + externs +
         header.substr(std::string("module {\n").size()) + e.out_ + "  }\n}\n";
}

}  // namespace starc
