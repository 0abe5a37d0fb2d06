// runtime/onnx: values with a dim that is a product with a symbolic dim. PyTorch's
// attention reshapes its [T, B, E] input to [T, B * heads, d] and back; starc's symbolic
// dims cannot be multiplied, but row-major order makes [T, B * heads, d] the same elements
// as [T, B, heads, d]. Such a value is kept split (ImportValue::groups: ONNX axis i spans
// groups[i] starc axes) and the ops between the two reshapes are mapped over the split
// axes: transposes permute whole groups, matmuls broadcast over them, softmax and
// reductions take their axis through the groups, elementwise ops keep them.
#include <fmt/format.h>

#include "compiler/ops/op.h"
#include "runtime/onnx/import_ops.h"
#include "runtime/onnx/import_split.h"

namespace starc {

Shape Importer::factors(int64_t dim) const {
  if (dim <= kDerivedBase) {
    if (kDerivedBase - dim >= int64_t(derived.size())) fail(fmt::format("{} is no size", dim));
    return derived[size_t(kDerivedBase - dim)];
  }
  if (is_sym(dim) && sym_index(dim) >= int(symbols.size())) fail(fmt::format("{} is no size", dim));
  return dim == 1 ? Shape{} : Shape{dim};
}

int64_t Importer::product(const Shape& f) {
  int n_sym = int(std::count_if(f.begin(), f.end(), is_sym));
  if (n_sym == 0) {
    int64_t p = 1;
    for (int64_t d : f) p *= d;
    return p;
  }
  if (f.size() == 1) return f[0];
  if (n_sym > 1) fail("multiplies two symbolic dims, which starc cannot split again");
  auto it = std::find(derived.begin(), derived.end(), f);
  if (it == derived.end()) it = derived.insert(derived.end(), f);
  return kDerivedBase - int64_t(it - derived.begin());
}

std::string Importer::dim_text(int64_t dim) const {
  std::vector<std::string> parts;
  for (int64_t d : factors(dim)) parts.push_back(dim_str(d, &symbols));
  return parts.empty() ? "1" : fmt::format("{}", fmt::join(parts, " * "));
}

namespace {

// The starc axes of each ONNX axis of v.
std::vector<Ints> axis_groups(const ImportValue& v) {
  std::vector<Ints> g;
  int64_t at = 0;
  for (int i = 0; i < v.onnx_rank(); ++i) {
    Ints axes;
    for (int k = 0; k < (v.split() ? v.groups[i] : 1); ++k) axes.push_back(at++);
    g.push_back(axes);
  }
  return g;
}

// The starc axis of an ONNX axis that must not be split.
int64_t whole_axis(Importer& imp, const ImportValue& v, int64_t axis) {
  int rank = v.onnx_rank();
  if (axis < -rank || axis >= rank) imp.fail(fmt::format("axis {} is out of range for rank {}", axis, rank));
  Ints g = axis_groups(v)[size_t(axis < 0 ? axis + rank : axis)];
  if (g.size() != 1) imp.fail("reduces over a dim that is a product with a symbolic dim");
  return g[0];
}

ImportValue plain(ImportValue v) {
  v.groups.clear();
  return v;
}

ImportValue with_groups(ImportValue v, std::vector<int> groups) {
  if (std::all_of(groups.begin(), groups.end(), [](int g) { return g == 1; })) groups.clear();
  v.groups = std::move(groups);
  return v;
}

ImportValue split_elementwise(Importer& imp, const std::string& op, const std::vector<ImportValue>& in,
                              const Attrs& attrs) {
  const ImportValue* s = nullptr;
  for (const auto& v : in)
    if (v.split()) s = &v;
  // An unsplit operand broadcasts from the right: it may only reach the unsplit trailing axes.
  int trailing = 0;
  for (int i = int(s->groups.size()) - 1; i >= 0 && s->groups[i] == 1; --i) ++trailing;
  std::vector<ImportValue> args;
  for (const auto& v : in) {
    if (v.split() && v.groups != s->groups) imp.fail("combines values split differently by a symbolic product");
    if (!v.split() && v.type.rank() > trailing && v.type.rank() > 0 && !(v.known && v.known->size() == 1))
      imp.fail("broadcasts against a dim that is a product with a symbolic dim");
    args.push_back(plain(v));
  }
  return with_groups(imp.apply(op, args, attrs), s->groups);
}

ImportValue split_matmul(Importer& imp, const ImportValue& a, const ImportValue& b) {
  std::vector<int> ga = a.split() ? a.groups : std::vector<int>(size_t(a.type.rank()), 1);
  std::vector<int> gb = b.split() ? b.groups : std::vector<int>(size_t(b.type.rank()), 1);
  if (ga.size() < 2 || ga.back() != 1 || ga[ga.size() - 2] != 1 || gb.size() < 2 || gb.back() != 1 ||
      gb[gb.size() - 2] != 1)
    imp.fail("multiplies over a dim that is a product with a symbolic dim");
  if (b.split() && a.split() && ga != gb) imp.fail("multiplies values split differently by a symbolic product");
  if (b.split() && !a.split() && a.type.rank() > 2) imp.fail("broadcasts against a split dim");
  if (a.split() && !b.split() && b.type.rank() > 2) imp.fail("broadcasts against a split dim");
  return with_groups(imp.apply("matmul", {plain(a), plain(b)}), a.split() ? ga : gb);
}

ImportValue split_transpose(Importer& imp, const ImportValue& x, const Ints& perm) {
  std::vector<Ints> g = axis_groups(x);
  if (perm.size() != g.size()) imp.fail("the permutation does not match the rank");
  Ints starc_perm;
  std::vector<int> groups;
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(g.size())) imp.fail("bad permutation");
    starc_perm.insert(starc_perm.end(), g[size_t(p)].begin(), g[size_t(p)].end());
    groups.push_back(int(g[size_t(p)].size()));
  }
  return with_groups(imp.apply("transpose", {plain(x)}, {{"perm", starc_perm}}), groups);
}

}  // namespace

bool any_split(const std::vector<ImportValue>& in) {
  return std::any_of(in.begin(), in.end(), [](const ImportValue& v) { return v.split(); });
}

ImportValue apply_split(Importer& imp, const std::string& op, const std::vector<ImportValue>& in, Attrs attrs) {
  const OpDef* def = find_op(op);
  if (def && def->elementwise) return split_elementwise(imp, op, in, attrs);  // unary, binary, where, cast
  if (op == "matmul") return split_matmul(imp, in[0], in[1]);
  if (op == "transpose") return split_transpose(imp, in[0], starc::attr_ints(attrs, "perm"));
  if (op == "softmax" || op == "log_softmax") {
    int64_t axis = whole_axis(imp, in[0], starc::attr_int(attrs, "axis"));
    return with_groups(imp.apply(op, {plain(in[0])}, {{"axis", axis}}), in[0].groups);
  }
  imp.fail(
      fmt::format("{} of a value with a dim that is a product with a symbolic dim is not supported; import "
                  "with a fixed size for it (dims {}=N)",
                  op, imp.symbols.empty() ? "B" : imp.symbols[0]));
}

ImportValue reshape_split(Importer& imp, const ImportValue& x, const Ints& onnx_target) {
  // The target's ONNX dims (static, -1, symbolic, or products with a symbolic dim)
  // expanded into starc dims: [T, B * 4, 8] -> [T, B, 4, 8] with groups [1, 2, 1].
  Shape starc_shape;
  std::vector<int> groups;
  for (int64_t d : onnx_target) {
    Shape f = d == -1 ? Shape{-1} : d <= Importer::kDerivedBase ? imp.factors(d) : Shape{d};
    if (f.empty()) f = {1};
    starc_shape.insert(starc_shape.end(), f.begin(), f.end());
    groups.push_back(int(f.size()));
  }
  if (starc_shape == x.type.shape) return with_groups(plain(x), groups);
  return with_groups(imp.apply("reshape", {plain(x)}, {{"shape", Ints(starc_shape)}}), groups);
}

Shape onnx_shape(Importer& imp, const ImportValue& v) {
  if (!v.split()) return v.type.shape;
  Shape s;
  for (const Ints& g : axis_groups(v)) {
    Shape f;
    for (int64_t a : g) f.push_back(v.type.shape[size_t(a)]);
    s.push_back(imp.product(f));
  }
  return s;
}

std::optional<Tensor> multiply_dims(Importer& imp, const std::string& op, const Tensor& a, const Tensor& b) {
  // Shape arithmetic on a symbolic dim: B * 4 (a product the split values carry), and
  // (B * 12) / 3 where a static factor divides.
  if (a.dtype() != DType::I64 || b.dtype() != DType::I64 || a.size() != 1 || b.size() != 1) return std::nullopt;
  int64_t x = a.data<int64_t>()[0], y = b.data<int64_t>()[0];
  if (!is_sym(x) && !is_sym(y)) return std::nullopt;
  Shape f;
  if (op == "mul") {
    f = imp.factors(x);
    Shape g = imp.factors(y);
    f.insert(f.end(), g.begin(), g.end());
  } else if (op == "div" && !is_sym(y) && y > 0) {
    f = imp.factors(x);
    auto s = std::find_if(f.begin(), f.end(), [y](int64_t d) { return !is_sym(d) && d % y == 0; });
    if (s == f.end()) return std::nullopt;
    *s /= y;
    if (*s == 1) f.erase(s);
  } else {
    return std::nullopt;
  }
  Tensor out(DType::I64, a.shape().size() >= b.shape().size() ? a.shape() : b.shape());
  out.data<int64_t>()[0] = imp.product(f);
  return out;
}

}  // namespace starc
