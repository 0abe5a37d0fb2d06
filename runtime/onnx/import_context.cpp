#include "runtime/onnx/import_context.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/ops/common.h"
#include "dsl/lexer.h"
#include "dsl/program.h"
#include "runtime/onnx/import_split.h"

namespace starc {

namespace {

const std::map<std::string, std::string>& infix_ops() {
  static const std::map<std::string, std::string> m = {{"add", "+"}, {"sub", "-"},  {"mul", "*"},
                                                       {"div", "/"}, {"pow", "**"}, {"matmul", "@"}};
  return m;
}

// Ops that only move elements around: the only ones folded over shape vectors that hold
// symbolic dims (arithmetic on a symbolic dim cannot be done at import).
bool moves_elements(const std::string& op) {
  return op == "reshape" || op == "concat" || op == "slice" || op == "transpose" || op == "broadcast_to" ||
         op == "flip";
}

}  // namespace

Tensor evaluate(const std::string& op, const std::vector<Tensor>& args, const Attrs& attrs) {
  const OpDef* def = find_op(op);
  RefCtx ctx;
  return def->ref(args, complete_attrs(*def, attrs), ctx);
}

ImportValue known_value(const Tensor& t) {
  ImportValue v;
  v.type = t.type();
  v.known = t;
  return v;
}

bool ImportValue::has_symbolic() const {
  if (!known || known->dtype() != DType::I64) return false;
  for (int64_t i = 0; i < known->size(); ++i)
    if (is_sym(known->data<int64_t>()[i])) return true;
  return false;
}

std::string number_text(double v, bool f32) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = f32 ? fmt::format("{}", float(v)) : fmt::format("{}", v);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

Importer::Importer(const onnx::ModelProto& model, std::string file, std::string base_dir, std::set<std::string> std_nn)
    : model(model),
      file(std::move(file)),
      base_dir(std::move(base_dir)),
      opset(onnx_default_opset(model)),
      std_nn_(std::move(std_nn)) {
  // A variable must hide no name the source uses: builtins and ops (builtin_names), the
  // std.nn functions, the contextual keywords, the type names and the default output label.
  std::vector<std::string> builtins = builtin_names();
  taken_.insert(builtins.begin(), builtins.end());
  taken_.insert(std_nn_.begin(), std_nn_.end());
  taken_.insert({"train", "step", "str", "list", "dtype", "output"});
}

bool Importer::shadowed_by_std_nn(const std::string& op) const { return std_nn_.count(op) > 0; }

std::string Importer::identifier(const std::string& raw) {
  std::string s;
  for (char c : raw) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    if (ok)
      s += c;
    else if (!s.empty() && s.back() != '_')
      s += '_';
  }
  while (!s.empty() && s.back() == '_') s.pop_back();
  size_t start = s.find_first_not_of('_');
  s = start == std::string::npos ? "" : s.substr(start);
  if (s.rfind("onnx_", 0) == 0) s = s.substr(5);
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) s = "v" + s;
  if (s.size() > 64) s = s.substr(s.size() - 64);
  return s;
}

std::string Importer::fresh_var(const std::string& hint) {
  std::string base = identifier(hint);
  std::string name = base;
  for (int i = 1; taken_.count(name) || is_keyword(name); ++i) name = fmt::format("{}_{}", base, i);
  taken_.insert(name);
  return name;
}

std::string Importer::scope_name(const std::string& initializer, const std::string& fallback) {
  // "features.0.weight" -> "features_0"; "0.weight" (nn.Sequential) -> "dense0";
  // generated names ("onnx::Conv_12") -> the fallback.
  std::string prefix;
  if (node && node->name().rfind('/') != std::string::npos && node->name().rfind('/') > 0) {
    // torch names nodes by module path: "/enc/linear1/MatMul" -> "enc/linear1"
    prefix = node->name().substr(0, node->name().rfind('/'));
    while (!prefix.empty() && prefix[0] == '/') prefix.erase(0, 1);
  } else if (!initializer.empty() && initializer.find("::") == std::string::npos) {
    size_t dot = initializer.rfind('.');  // "features.0.weight" -> "features.0"
    if (dot != std::string::npos) prefix = initializer.substr(0, dot);
  }
  if (!prefix.empty() && std::all_of(prefix.begin(), prefix.end(), ::isdigit)) prefix = fallback + prefix;
  return fresh_var(prefix.empty() ? fallback : prefix);
}

std::string Importer::value_hint(const std::string& onnx_name) {
  // "/encoder/self_attn/MatMul_output_0" -> "self_attn_matmul"; "/0/Gemm_output_0" -> "gemm".
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= onnx_name.size()) {
    size_t end = onnx_name.find('/', start);
    if (end == std::string::npos) end = onnx_name.size();
    if (end > start) parts.push_back(onnx_name.substr(start, end - start));
    start = end + 1;
  }
  if (parts.empty()) return "v";
  std::string last = parts.back();
  if (size_t o = last.rfind("_output_"); o != std::string::npos) last = last.substr(0, o);
  std::string hint = last;
  if (parts.size() > 1 && !std::all_of(parts[parts.size() - 2].begin(), parts[parts.size() - 2].end(), ::isdigit))
    hint = parts[parts.size() - 2] + "_" + last;
  if (parts.size() > 1 || hint != onnx_name)
    std::transform(hint.begin(), hint.end(), hint.begin(), [](unsigned char c) { return std::tolower(c); });
  return hint;
}

const ImportValue& Importer::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end())
    fail(fmt::format("input '{}' is not produced by any earlier node, input or initializer", name));
  return it->second;
}

void Importer::define_initializer(const onnx::TensorProto& init) {
  ImportValue v = known_value(tensor_from_onnx(init, base_dir, fmt::format("{}: initializer '{}'", file, init.name())));
  v.initializer = init.name();
  define(init.name(), std::move(v));
}

void Importer::count_uses() {
  // Subgraphs (Scan bodies) read outer values by name: those uses count too, so that a
  // weight a body also reads is never taken over by a layer outside it.
  std::function<void(const onnx::GraphProto&)> walk = [&](const onnx::GraphProto& g) {
    for (const auto& n : g.node()) {
      for (const auto& i : n.input()) {
        ++uses_[i];
        consumers_[i].push_back(&n);
      }
      for (const auto& a : n.attribute())
        if (a.has_g()) walk(a.g());
    }
  };
  walk(model.graph());
  for (const auto& o : model.graph().output()) ++uses_[o.name()];
}

std::vector<const onnx::NodeProto*> Importer::consumers(const std::string& name) const {
  auto it = consumers_.find(name);
  return it == consumers_.end() ? std::vector<const onnx::NodeProto*>{} : it->second;
}

int Importer::uses(const std::string& name) const {
  auto it = uses_.find(name);
  return it == uses_.end() ? 0 : it->second;
}

bool Importer::has_in(int i) const { return i < node->input_size() && !node->input(i).empty(); }

const ImportValue& Importer::in(int i) const {
  if (!has_in(i)) fail(fmt::format("needs input {}", i));
  return value(node->input(i));
}

void Importer::define_output(int i, ImportValue v) {
  if (i >= node->output_size() || node->output(i).empty()) return;
  define(node->output(i), std::move(v));
}

const onnx::AttributeProto* Importer::attr(const std::string& name) const {
  for (const auto& a : node->attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t Importer::attr_int(const std::string& name, int64_t fallback) const {
  const auto* a = attr(name);
  return a ? a->i() : fallback;
}

double Importer::attr_float(const std::string& name, double fallback) const {
  // ONNX stores f32: as the double its shortest text reads as (1e-5, not 9.99999974e-06).
  const auto* a = attr(name);
  return a ? std::stod(fmt::format("{}", a->f())) : fallback;
}

std::string Importer::attr_str(const std::string& name, const std::string& fallback) const {
  const auto* a = attr(name);
  return a ? a->s() : fallback;
}

std::optional<Ints> Importer::attr_ints(const std::string& name) const {
  const auto* a = attr(name);
  if (!a) return std::nullopt;
  return Ints(a->ints().begin(), a->ints().end());
}

Ints Importer::known_ints(int i, const std::string& what, bool dims) const {
  const ImportValue& v = in(i);
  if (!v.known)
    fail(fmt::format("{} (input {}) must be known when the model is imported, not computed at run time", what, i));
  if (v.known->dtype() != DType::I64) fail(fmt::format("{} (input {}) must be integers", what, i));
  Ints out(v.known->data<int64_t>(), v.known->data<int64_t>() + v.known->size());
  // Far-negative values stand for symbolic dims (Shape results); any other is no size.
  for (int64_t d : dims ? out : Ints{}) {
    bool symbol = is_sym(d) && d > kDerivedBase && sym_index(d) < int(symbols.size());
    bool product = d <= kDerivedBase && kDerivedBase - d < int64_t(derived.size());
    if (d < -(int64_t(1) << 32) && !symbol && !product) fail(fmt::format("{} holds {}, which is no size", what, d));
  }
  return out;
}

std::string Importer::where() const {
  if (!node) return file;
  return fmt::format("{}: node '{}' ({}, opset {})", file, node->name(), node->op_type(), opset);
}

void Importer::fail(const std::string& msg) const { throw OnnxError(where() + ": " + msg); }

TensorType Importer::infer(const std::string& op, const std::vector<TensorType>& in, const Attrs& attrs) const {
  const OpDef* def = find_op(op);
  try {
    return infer_type(*def, in, complete_attrs(*def, attrs), &symbols);
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

std::string Importer::type_text(const TensorType& t) const { return type_str(t, &symbols); }

std::string Importer::ints_text(const Ints& v) const {
  std::vector<std::string> parts;
  for (int64_t d : v) parts.push_back(is_sym(d) ? symbols.at(sym_index(d)) : std::to_string(d));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

std::string Importer::call_text(const std::string& op, const std::vector<std::string>& args, const Attrs& attrs) const {
  if (op == "slice") {  // x[:, 0:32]
    Attrs a = complete_attrs(*find_op(op), attrs);
    int64_t axis = starc::attr_int(a, "axis"), step = starc::attr_int(a, "step");
    int64_t end = starc::attr_int(a, "end");
    std::string range =
        fmt::format("{}:{}", starc::attr_int(a, "start"), end <= kSliceFromEnd ? "" : std::to_string(end));
    if (step != 1) range += fmt::format(":{}", step);
    std::vector<std::string> index(size_t(axis), ":");
    index.push_back(range);
    return fmt::format("{}[{}]", args[0], fmt::join(index, ", "));
  }
  if (auto it = infix_ops().find(op); it != infix_ops().end() && attrs.empty())
    return fmt::format("{} {} {}", args[0], it->second, args[1]);
  std::vector<std::string> parts;
  if (find_op(op)->variadic)
    parts.push_back(fmt::format("[{}]", fmt::join(args, ", ")));
  else
    parts.insert(parts.end(), args.begin(), args.end());
  for (const auto& [key, a] : attrs) {
    std::string text;
    if (auto* i = std::get_if<int64_t>(&a))
      text = std::to_string(*i);
    else if (auto* f = std::get_if<double>(&a))
      text = number_text(*f, false);
    else if (auto* b = std::get_if<bool>(&a))
      text = *b ? "true" : "false";
    else if (auto* s = std::get_if<std::string>(&a))
      text = fmt::format("\"{}\"", *s);
    else if (auto* l = std::get_if<Ints>(&a))
      text = ints_text(*l);
    else if (auto* d = std::get_if<DType>(&a))
      text = std::string(dtype_name(*d));
    else
      fail(fmt::format("internal: attribute '{}' of {} cannot be written in .net", key, op));
    parts.push_back(fmt::format("{}: {}", key, text));
  }
  return fmt::format("{}{}({})", shadowed_by_std_nn(op) ? "prim." : "", op, fmt::join(parts, ", "));
}

std::optional<Tensor> Importer::fold(const std::string& op, const std::vector<ImportValue>& in,
                                     const Attrs& attrs) const {
  const OpDef* def = find_op(op);
  std::vector<Tensor> args;
  bool symbolic = false;
  for (const auto& v : in) {
    if (!v.known) return std::nullopt;
    symbolic |= v.has_symbolic();
    args.push_back(*v.known);
  }
  if (symbolic && (op == "mul" || op == "div") && args.size() == 2)
    if (std::optional<Tensor> t = multiply_dims(const_cast<Importer&>(*this), op, args[0], args[1])) return t;
  if (symbolic && !moves_elements(op)) {
    std::string symbol;
    for (const Tensor& t : args)
      for (int64_t i = 0; t.dtype() == DType::I64 && i < t.size() && symbol.empty(); ++i)
        if (int64_t d = t.data<int64_t>()[i]; is_sym(d))
          symbol = d > kDerivedBase && sym_index(d) < int(symbols.size()) ? symbols[size_t(sym_index(d))] : "?";
    fail(
        fmt::format("computes {} with the symbolic dim {} (a shape starc's dims cannot hold); import with a "
                    "fixed size for it (dims {}=N) or export with one",
                    op, symbol, symbol));
  }
  if (!def->ref || (in.empty() && op != "full")) return std::nullopt;
  if (op == "full" && !shape_is_static(starc::attr_ints(attrs, "shape"))) return std::nullopt;
  for (const auto& t : args)
    if (t.size() > kMaxFolded) return std::nullopt;  // big: leave it to the compiled model
  return evaluate(op, args, attrs);
}

ImportValue Importer::apply(const std::string& op, const std::vector<ImportValue>& in, Attrs attrs) {
  if (any_split(in)) return apply_split(*this, op, in, std::move(attrs));
  std::vector<TensorType> types;
  for (const auto& v : in) types.push_back(v.type);
  TensorType type = infer(op, types, attrs);
  if (op == "transpose" && in[0].transpose_of) {  // exporters wrap layers in transposes that cancel
    const Ints& perm = starc::attr_ints(attrs, "perm");
    if (perm.size() == in[0].transpose_perm.size()) {  // one transpose of the original instead of two
      Ints composed;
      bool identity = true;
      for (size_t i = 0; i < perm.size(); ++i) {
        composed.push_back(in[0].transpose_perm[perm[i]]);
        identity &= composed.back() == int64_t(i);
      }
      ImportValue original = *in[0].transpose_of;
      return identity ? original : apply("transpose", {original}, {{"perm", composed}});
    }
  }
  if (moves_elements(op) && in.size() == 1 && in[0].zeros) {
    ImportValue v;
    v.type = type;
    v.zeros = true;
    return v;
  }
  bool small = !shape_is_static(type.shape) || num_elements(type.shape) <= kMaxFolded;
  if (std::optional<Tensor> k = small ? fold(op, in, attrs) : std::nullopt) {
    ImportValue v;
    v.type = type;
    v.known = *k;
    for (const auto& i : in)  // a transposed or reshaped weight stays a trainable weight
      if (!i.initializer.empty() && is_float(type.dtype) && v.initializer.empty()) v.initializer = i.initializer;
    return v;
  }
  bool literals = infix_ops().count(op) && op != "matmul";
  std::vector<std::string> args;
  for (size_t i = 0; i < in.size(); ++i) {
    // A literal only where the other operand fixes the result's shape and dtype.
    bool ok = literals && in[1 - i].type.shape == type.shape && !in[1 - i].known;
    args.push_back(operand(in[i], ok));
  }
  std::string hint = node && node->output_size() ? node->output(0) : op;
  ImportValue out = emit(call_text(op, args, attrs), type, hint);
  if (op == "transpose" && !starc::attr_ints(attrs, "perm").empty()) {
    out.transpose_of = std::make_shared<const ImportValue>(in[0]);
    out.transpose_perm = starc::attr_ints(attrs, "perm");
  }
  return out;
}

ImportValue Importer::emit(const std::string& rhs, const TensorType& type, const std::string& hint,
                           const std::string& layer, std::vector<std::string> weights) {
  std::string var = fresh_var(value_hint(hint.empty() ? (node ? node->output(0) : "v") : hint));
  std::string comment;
  if (node) comment = fmt::format("{} ({})", node->name().empty() ? node->output(0) : node->name(), node->op_type());
  body.push_back({var, rhs, comment, std::move(weights), layer});
  ImportValue v;
  v.type = type;
  v.expr = var;
  return v;
}

std::string Importer::operand(const ImportValue& v, bool literal_ok) {
  if (!v.expr.empty()) return v.expr;
  if (!v.declared->empty()) return *v.declared;
  if (v.zeros) {
    TensorType t = v.type;
    *v.declared =
        emit(fmt::format("full({}, 0.0, dtype: {})", ints_text(t.shape), dtype_name(t.dtype)), t, "zeros").expr;
    return *v.declared;
  }
  if (!v.known) fail("internal: a value with neither an expression nor a known value");
  if (v.has_symbolic()) fail("a shape computed from a symbolic dim is used as tensor data, which starc cannot do");
  const Tensor& t = *v.known;
  if (literal_ok && t.size() == 1 && t.dtype() != DType::Bool && !std::isnan(t.get(0)))
    return t.dtype() == DType::I64 ? std::to_string(t.data<int64_t>()[0])
                                   : number_text(t.get(0), t.dtype() == DType::F32);
  if (t.rank() == 0 && is_float(t.dtype()) && std::isfinite(t.get(0)))
    return fmt::format("full([], {}, dtype: {})", number_text(t.get(0), t.dtype() == DType::F32),
                       dtype_name(t.dtype()));
  // A trainable param for a float initializer; a state buffer (saved, not trained) otherwise.
  bool trainable = !v.initializer.empty() && is_float(t.dtype());
  std::string name = fresh_var(v.initializer.empty() ? "const" : v.initializer);
  decls.push_back(
      {fmt::format("{} {}: {} = zeros", trainable ? "param" : "state", name, type_text(t.type())), "", "", {name}, ""});
  add_weight(name, t);
  *v.declared = name;
  return name;
}

void Importer::add_weight(const std::string& dotted_name, const Tensor& t) {
  if (!weights.emplace(dotted_name, t).second) fail(fmt::format("internal: weight '{}' written twice", dotted_name));
}

}  // namespace starc

namespace starc {

std::string Statement::text() const {
  if (block) return rhs;
  if (rhs.empty()) return var;  // a declaration: `var` holds the whole line
  return comment.empty() ? fmt::format("{} = {}", var, rhs) : fmt::format("{} = {}  # {}", var, rhs, comment);
}

namespace {

// Calls f(start, length) for each identifier-like token of a statement's text.
template <class F>
void for_each_identifier(const std::string& text, F&& f) {
  for (size_t i = 0; i < text.size();) {
    if (!std::isalpha(static_cast<unsigned char>(text[i])) && text[i] != '_') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
    f(i, j - i);
    i = j;
  }
}

std::string renamed(const std::string& text, const std::map<std::string, std::string>& names) {
  std::string out;
  size_t last = 0;
  for_each_identifier(text, [&](size_t at, size_t len) {
    auto it = names.find(text.substr(at, len));
    out += text.substr(last, at - last) + (it == names.end() ? text.substr(at, len) : it->second);
    last = at + len;
  });
  return out + text.substr(last);
}

void rename_value(ImportValue& v, const std::map<std::string, std::string>& names) {
  if (auto it = names.find(v.expr); it != names.end()) v.expr = it->second;
  if (v.transpose_of) {
    ImportValue inner = *v.transpose_of;
    rename_value(inner, names);
    v.transpose_of = std::make_shared<const ImportValue>(inner);
  }
}

}  // namespace

void Importer::name_outputs_first(size_t first_statement) {
  // A node written as several statements names each after its output ("y", "y_1", ...):
  // the output itself should have the plain name, not the first intermediate.
  if (!node || node->output_size() == 0 || first_statement >= body.size() || !has(node->output(0))) return;
  ImportValue& out = values_[node->output(0)];
  if (body[first_statement].block) return;
  std::string first = body[first_statement].var;
  if (out.expr.empty() || out.expr == first) return;
  bool own =
      std::any_of(body.begin() + first_statement, body.end(), [&](const Statement& s) { return s.var == out.expr; });
  if (!own) return;
  std::map<std::string, std::string> swap = {{first, out.expr}, {out.expr, first}};
  for (auto it = body.begin() + first_statement; it != body.end(); ++it) {
    if (auto n = swap.find(it->var); n != swap.end()) it->var = n->second;
    it->rhs = renamed(it->rhs, swap);
  }
  for (const auto& o : node->output())
    if (!o.empty() && has(o)) rename_value(values_[o], swap);
}

void Importer::remove_dead(const std::vector<std::string>& returned) {
  std::set<std::string> live;
  auto mark = [&live](const std::string& text) {
    for_each_identifier(text, [&](size_t at, size_t len) { live.insert(text.substr(at, len)); });
  };
  for (const auto& r : returned) mark(r);
  std::vector<Statement> kept;
  for (auto it = body.rbegin(); it != body.rend(); ++it) {
    if (live.count(it->var)) {
      mark(it->rhs);
      kept.push_back(std::move(*it));
    } else {
      for (const auto& w : it->weights) weights.erase(w);
    }
  }
  body.assign(kept.rbegin(), kept.rend());
  std::erase_if(decls, [&](const Statement& d) {
    if (live.count(d.weights.at(0))) return false;
    weights.erase(d.weights.at(0));
    return true;
  });
}

bool Importer::uses_std_nn() const {
  return std::any_of(body.begin(), body.end(), [](const Statement& s) { return !s.layer.empty(); });
}

}  // namespace starc
