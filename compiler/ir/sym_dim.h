// Arithmetic on symbolic dims. A free symbol (B, L) is bound from the inputs at run time;
// a derived symbol is a dim that shape rules compute from free ones, such as a
// convolution's output length (L-5)//2+1. A derived symbol's name is its expression in a
// canonical form, so equal expressions are one symbol (two convolutions of the same
// length give the same dim, and shapes compare as before) and the name is all a graph
// needs to carry it: the text format, the JIT cache key and ONNX dim_params keep it.
//
// The expressions are polynomials with integer coefficients over atoms: free symbols
// and floor divisions `(P)//k` of a polynomial by a positive constant. That covers what
// shape rules need (L-K+1, (L+2p-K)//s+1, s*(L-1)+K, B*T for a reshape) and is
// canonical enough that a transposed convolution undoing a strided one gets back L.
// Derived symbols are bound by evaluating their names after the free ones
// (complete_symbols); whether the values make sense (a window longer than its input)
// is checked by running the shape rules again on the bound types (compiler/ops).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/dtype.h"

namespace starc {

// Where derived symbols are looked up and, when `grow` is set, added. Without `grow`
// an expression that is not yet a symbol is an error (e.g. when verifying a graph).
struct SymTable {
  const SymbolNames* names = nullptr;
  SymbolNames* grow = nullptr;
};

bool is_derived_symbol(std::string_view name);
bool has_derived_symbols(const SymbolNames& names);

// a + b, a - b, a * b, a // k (floor division by a positive constant). Static operands
// give static results; the others throw std::invalid_argument when `t` cannot hold the
// result or an operand is not a symbol of `t`, and std::overflow_error on int64 overflow.
Dim dim_add(const SymTable& t, Dim a, Dim b);
Dim dim_sub(const SymTable& t, Dim a, Dim b);
Dim dim_mul(const SymTable& t, Dim a, Dim b);
Dim dim_floordiv(const SymTable& t, Dim a, int64_t k);
// A reshape from `from` to `to`: with one -1 in `to`, its value (the element count of
// `from` divided by the product of the other dims of `to`, when that product is one term
// c*B*T dividing every term exactly); without, whether the element counts are equal
// (then the result is 0). nullopt: they do not fit. Only a derived -1 is interned.
std::optional<Dim> reshape_fill(const SymTable& t, const Shape& from, const Shape& to);

// Values for the free symbols of a graph compiled ahead of its inputs: `given` by name
// (--dim L=4618), the others `fallback` (the batch). Derived symbols stay unbound
// (specialize computes them).
std::vector<Dim> symbol_values(const SymbolNames& names, Dim fallback, const std::map<std::string, Dim>& given = {});
// The free symbols of `names` that `given` does not name, other than the first (the
// batch): those a library compiled for one batch still needs a value for.
std::vector<std::string> unbound_length_symbols(const SymbolNames& names, const std::map<std::string, Dim>& given);

// The values of every symbol: `vals` holds the free ones (kSymBase where unbound); the
// derived ones are computed, and stay unbound where a free symbol they need is.
std::vector<Dim> complete_symbols(const SymbolNames& names, std::vector<Dim> vals);

}  // namespace starc
