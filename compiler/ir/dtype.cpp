#include "compiler/ir/dtype.h"

#include <fmt/format.h>

namespace starc {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F64:
      return "f64";
    case DType::I64:
      return "i64";
    case DType::Bool:
      return "bool";
  }
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view n) {
  if (n == "f32") return DType::F32;
  if (n == "f64") return DType::F64;
  if (n == "i64") return DType::I64;
  if (n == "bool") return DType::Bool;
  return std::nullopt;
}

uint32_t dtype_code(DType t) {
  switch (t) {
    case DType::F32:
      return 0;
    case DType::F64:
      return 1;
    case DType::I64:
      return 2;
    case DType::Bool:
      return 3;
  }
  return 3;
}

std::optional<DType> dtype_from_code(uint32_t code) {
  static const DType by_code[] = {DType::F32, DType::F64, DType::I64, DType::Bool};
  if (code >= 4) return std::nullopt;
  return by_code[code];
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::F64:
      return 8;
    case DType::I64:
      return 8;
    case DType::Bool:
      return 1;
  }
  return 0;
}

std::string dim_str(Dim d, const SymbolNames* syms) {
  if (!is_sym(d)) return std::to_string(d);
  int i = sym_index(d);
  if (syms && i < int(syms->size())) return (*syms)[i];
  return fmt::format("?{}", i);
}

std::string shape_str(const Shape& s, const SymbolNames* syms) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += dim_str(s[i], syms);
  }
  return out + "]";
}

bool shape_is_static(const Shape& s) {
  for (Dim d : s)
    if (is_sym(d)) return false;
  return true;
}

int64_t num_elements(const Shape& s) {
  int64_t n = 1;
  for (Dim d : s) n *= d;
  return n;
}

std::string type_str(const TensorType& t, const SymbolNames* syms) {
  return std::string(dtype_name(t.dtype)) + shape_str(t.shape, syms);
}

}  // namespace starc
