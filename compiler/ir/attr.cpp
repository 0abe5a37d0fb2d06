#include "compiler/ir/attr.h"

#include <stdexcept>

namespace starc {

std::string_view attr_kind_name(AttrKind k) {
  switch (k) {
    case AttrKind::Int:
      return "int";
    case AttrKind::Float:
      return "float";
    case AttrKind::Bool:
      return "bool";
    case AttrKind::String:
      return "str";
    case AttrKind::Ints:
      return "int list";
    case AttrKind::Floats:
      return "float list";
    case AttrKind::DType:
      return "dtype";
    case AttrKind::Tensor:
      return "tensor";
    case AttrKind::Graph:
      return "graph";
  }
  return "?";
}

AttrKind attr_kind(const Attr& a) { return AttrKind(a.index()); }

template <class T>
static const T& get(const Attrs& a, const std::string& name, AttrKind kind) {
  auto it = a.find(name);
  if (it == a.end()) throw std::runtime_error("missing attribute '" + name + "'");
  if (auto* v = std::get_if<T>(&it->second)) return *v;
  throw std::runtime_error("attribute '" + name + "' must be " + std::string(attr_kind_name(kind)));
}

int64_t attr_int(const Attrs& a, const std::string& n) { return get<int64_t>(a, n, AttrKind::Int); }
double attr_float(const Attrs& a, const std::string& n) {
  auto it = a.find(n);
  if (it != a.end())
    if (auto* i = std::get_if<int64_t>(&it->second)) return double(*i);
  return get<double>(a, n, AttrKind::Float);
}
bool attr_bool(const Attrs& a, const std::string& n) { return get<bool>(a, n, AttrKind::Bool); }
const std::string& attr_str(const Attrs& a, const std::string& n) { return get<std::string>(a, n, AttrKind::String); }
const Ints& attr_ints(const Attrs& a, const std::string& n) { return get<Ints>(a, n, AttrKind::Ints); }
const Floats& attr_floats(const Attrs& a, const std::string& n) { return get<Floats>(a, n, AttrKind::Floats); }
DType attr_dtype(const Attrs& a, const std::string& n) { return get<DType>(a, n, AttrKind::DType); }
const Tensor& attr_tensor(const Attrs& a, const std::string& n) { return get<Tensor>(a, n, AttrKind::Tensor); }
const Graph& attr_graph(const Attrs& a, const std::string& n) { return *get<GraphRef>(a, n, AttrKind::Graph); }

}  // namespace starc
