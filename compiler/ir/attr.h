// Graph IR: static attributes of a node (stride, axis, init name, constant value, a
// sub-graph for scan). Int lists may hold symbolic dims (see dtype.h).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

struct Graph;
using Ints = std::vector<int64_t>;
using Floats = std::vector<double>;
using GraphRef = std::shared_ptr<const Graph>;
using Attr = std::variant<int64_t, double, bool, std::string, Ints, Floats, DType, Tensor, GraphRef>;

// Ordered so that printing is stable.
using Attrs = std::map<std::string, Attr>;

enum class AttrKind { Int, Float, Bool, String, Ints, Floats, DType, Tensor, Graph };
std::string_view attr_kind_name(AttrKind k);
AttrKind attr_kind(const Attr& a);

// Typed accessors; throw std::runtime_error naming the attribute when absent/mistyped.
int64_t attr_int(const Attrs& a, const std::string& name);
double attr_float(const Attrs& a, const std::string& name);
bool attr_bool(const Attrs& a, const std::string& name);
const std::string& attr_str(const Attrs& a, const std::string& name);
const Ints& attr_ints(const Attrs& a, const std::string& name);
const Floats& attr_floats(const Attrs& a, const std::string& name);
DType attr_dtype(const Attrs& a, const std::string& name);
const Tensor& attr_tensor(const Attrs& a, const std::string& name);
const Graph& attr_graph(const Attrs& a, const std::string& name);

}  // namespace starc
