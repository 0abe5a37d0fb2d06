#include <fmt/format.h>

#include <memory>

#include "compiler/ops/op.h"

namespace starc {

void OpRegistry::add(OpDef def) {
  if (find(def.name)) throw std::logic_error("op defined twice: " + def.name);
  defs_.push_back(std::make_unique<OpDef>(std::move(def)));
  order_.push_back(defs_.back().get());
}

const OpDef* OpRegistry::find(std::string_view name) const {
  for (auto* d : order_)
    if (d->name == name) return d;
  return nullptr;
}

static const OpRegistry& registry() {
  static const OpRegistry reg = [] {
    OpRegistry r;
    register_special_ops(r);
    register_elementwise_ops(r);
    register_reduce_ops(r);
    register_linalg_ops(r);
    register_conv_ops(r);
    register_shape_ops(r);
    register_nn_ops(r);
    register_random_ops(r);
    register_index_ops(r);
    register_sort_scan_ops(r);
    return r;
  }();
  return reg;
}

const OpDef* find_op(std::string_view name) { return registry().find(name); }
const std::vector<const OpDef*>& all_ops() { return registry().all(); }

static bool kind_accepts(AttrKind want, const Attr& a) {
  AttrKind have = attr_kind(a);
  if (have == want) return true;
  if (want == AttrKind::Float && have == AttrKind::Int) return true;
  return false;
}

Attrs complete_attrs(const OpDef& op, Attrs given) {
  Attrs out;
  for (const AttrSpec& spec : op.attrs) {
    auto it = given.find(spec.name);
    if (it == given.end()) {
      if (!spec.default_value) throw OpError(fmt::format("{}: missing required argument '{}'", op.name, spec.name));
      out[spec.name] = *spec.default_value;
      continue;
    }
    Attr v = it->second;
    // Promote int -> float, and a single int -> int list where a list is expected.
    if (spec.kind == AttrKind::Float && attr_kind(v) == AttrKind::Int) v = double(std::get<int64_t>(v));
    if (spec.kind == AttrKind::Ints && attr_kind(v) == AttrKind::Int) v = Ints{std::get<int64_t>(v)};
    if (spec.kind == AttrKind::Floats && attr_kind(v) == AttrKind::Float) v = Floats{std::get<double>(v)};
    if (!kind_accepts(spec.kind, v))
      throw OpError(fmt::format("{}: argument '{}' must be {}, got {}", op.name, spec.name, attr_kind_name(spec.kind),
                                attr_kind_name(attr_kind(it->second))));
    out[spec.name] = v;
    given.erase(it);
  }
  if (!given.empty()) throw OpError(fmt::format("{}: unknown argument '{}'", op.name, given.begin()->first));
  return out;
}

TensorType infer_type(const OpDef& op, std::span<const TensorType> in, const Attrs& attrs, const SymbolNames* syms,
                      SymbolNames* grow) {
  size_t n = op.inputs.size();
  if (op.variadic ? in.size() < n : in.size() != n)
    throw OpError(fmt::format("{} takes {}{} tensor input{}, got {}", op.name, op.variadic ? "at least " : "", n,
                              n == 1 ? "" : "s", in.size()));
  InferCtx ctx{syms, grow};
  return op.infer(in, attrs, ctx);
}

}  // namespace starc
