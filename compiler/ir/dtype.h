// Graph IR: element types and shapes. Dims are int64; a symbolic dim (e.g. the batch
// dim B, bound at run time) is encoded as a value <= kSymBase so that shape lists can
// carry it through attributes (reshape targets, random shapes) unchanged.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace starc {

enum class DType : uint8_t { F32, F64, I64, Bool };

std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
size_t dtype_size(DType t);
// The stable number of each dtype in binary files (the STARCWT1 weights format):
// f32 0, f64 1, i64 2, bool 3; dtype_from_code gives nullopt for any other number.
uint32_t dtype_code(DType t);
std::optional<DType> dtype_from_code(uint32_t code);
inline bool is_float(DType t) { return t == DType::F32 || t == DType::F64; }

using Dim = int64_t;
constexpr Dim kSymBase = -(int64_t(1) << 40);
inline bool is_sym(Dim d) { return d <= kSymBase; }
inline int sym_index(Dim d) { return int(kSymBase - d); }
inline Dim make_sym(int index) { return kSymBase - index; }

using Shape = std::vector<Dim>;

// Names of the symbolic dims of one graph (index = sym_index). Used for printing.
using SymbolNames = std::vector<std::string>;

std::string dim_str(Dim d, const SymbolNames* syms = nullptr);
std::string shape_str(const Shape& s, const SymbolNames* syms = nullptr);
bool shape_is_static(const Shape& s);
// Number of elements; requires a static shape.
int64_t num_elements(const Shape& s);

struct TensorType {
  DType dtype = DType::F32;
  Shape shape;
  int rank() const { return int(shape.size()); }
  bool operator==(const TensorType&) const = default;
};

// "f32[B,1,4618]"
std::string type_str(const TensorType& t, const SymbolNames* syms = nullptr);

}  // namespace starc
