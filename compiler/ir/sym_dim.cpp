#include "compiler/ir/sym_dim.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>

namespace starc {
namespace {

// A polynomial: monomial (sorted atom symbol indices; empty = the constant) -> coefficient.
using Poly = std::map<std::vector<int>, int64_t>;

[[noreturn]] void overflow() { throw std::overflow_error("symbolic dim arithmetic overflows int64"); }
int64_t add64(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}
int64_t mul64(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}
int64_t floordiv64(int64_t a, int64_t k) { return a / k - ((a % k != 0) && ((a < 0) != (k < 0))); }
int64_t floormod64(int64_t a, int64_t k) { return a - floordiv64(a, k) * k; }

Poly p_add(Poly a, const Poly& b, int64_t sign = 1) {
  for (auto& [m, c] : b) {
    int64_t& s = a[m];
    s = add64(s, mul64(sign, c));
    if (s == 0) a.erase(m);
  }
  return a;
}

Poly p_mul(const Poly& a, const Poly& b) {
  Poly r;
  for (auto& [ma, ca] : a)
    for (auto& [mb, cb] : b) {
      std::vector<int> m = ma;
      m.insert(m.end(), mb.begin(), mb.end());
      std::sort(m.begin(), m.end());
      r = p_add(std::move(r), Poly{{m, mul64(ca, cb)}});
    }
  return r;
}

const std::string& name_of(const SymTable& t, int atom) {
  if (!t.names || size_t(atom) >= t.names->size())
    throw std::invalid_argument(fmt::format("symbol ?{} is not in this graph's symbols", atom));
  return (*t.names)[size_t(atom)];
}

// Monomials in a stable order: higher degree first, then by the atoms' names; constant last.
std::vector<std::pair<std::vector<int>, int64_t>> ordered(const SymTable& t, const Poly& p) {
  std::vector<std::pair<std::vector<int>, int64_t>> v(p.begin(), p.end());
  auto key = [&](const std::vector<int>& m) {
    std::vector<std::string> names;
    for (int a : m) names.push_back(name_of(t, a));
    return names;
  };
  std::stable_sort(v.begin(), v.end(), [&](auto& x, auto& y) {
    if (x.first.size() != y.first.size()) return x.first.size() > y.first.size();
    return key(x.first) < key(y.first);
  });
  return v;
}

std::string p_str(const SymTable& t, const Poly& p) {
  std::string out;
  for (auto& [m, c] : ordered(t, p)) {
    bool lone = m.size() == 1 && (c == 1 || c == -1);
    std::string term;
    for (int a : m) {
      const std::string& n = name_of(t, a);
      term += (term.empty() ? "" : "*") + (is_derived_symbol(n) && !lone ? "(" + n + ")" : n);
    }
    int64_t mag = c < 0 ? -c : c;
    if (m.empty())
      term = std::to_string(mag);
    else if (mag != 1)
      term = std::to_string(mag) + "*" + term;
    out += c < 0 ? "-" + term : (out.empty() ? term : "+" + term);
  }
  return out.empty() ? "0" : out;
}

int intern(const SymTable& t, const std::string& name) {
  for (size_t i = 0; i < t.names->size(); ++i)
    if ((*t.names)[i] == name) return int(i);
  if (!t.grow) throw std::invalid_argument(fmt::format("the symbolic dim {} is not a symbol of this graph", name));
  t.grow->push_back(name);
  return int(t.grow->size() - 1);
}

Dim from_poly(const SymTable& t, const Poly& p) {
  if (p.empty()) return 0;
  if (p.size() == 1 && p.begin()->first.empty()) return p.begin()->second;
  if (p.size() == 1 && p.begin()->first.size() == 1 && p.begin()->second == 1) return make_sym(p.begin()->first[0]);
  return make_sym(intern(t, p_str(t, p)));
}

// floor(P / k) = Q + floor(R / k) where P = k*Q + R and R's coefficients lie in [0, k).
Poly p_floordiv(const SymTable& t, const Poly& p, int64_t k) {
  if (k <= 0) throw std::invalid_argument(fmt::format("symbolic dims divide by positive constants only, got {}", k));
  Poly q, r;
  for (auto& [m, c] : p) {
    if (int64_t cq = floordiv64(c, k)) q[m] = cq;
    if (int64_t cr = floormod64(c, k)) r[m] = cr;
  }
  if (r.empty()) return q;
  if (r.size() == 1 && r.begin()->first.empty()) return q;  // 0 <= R < k: floor(R/k) = 0
  std::string inner = p_str(t, r);
  bool bare = r.size() == 1 && r.begin()->first.size() == 1 && r.begin()->second == 1 &&
              !is_derived_symbol(name_of(t, r.begin()->first[0]));
  int atom = intern(t, (bare ? inner : "(" + inner + ")") + "//" + std::to_string(k));
  return p_add(q, Poly{{{atom}, 1}});
}

// The grammar of derived names: expr := ['-'] term (('+'|'-') term)*;
// term := factor (('*'|'//') factor)*; factor := integer | identifier | '(' expr ')'.
// Ops supplies the value type and the arithmetic (polynomials or numbers).
template <class Ops>
struct ExprParser {
  using V = typename Ops::Value;
  std::string_view s;
  Ops& ops;
  size_t p = 0;

  [[noreturn]] void fail() const { throw std::invalid_argument(fmt::format("bad symbolic dim '{}'", s)); }
  bool eat(std::string_view tok) {
    if (s.substr(p, tok.size()) != tok) return false;
    p += tok.size();
    return true;
  }
  V factor() {
    if (eat("(")) {
      V v = expr();
      if (!eat(")")) fail();
      return v;
    }
    size_t b = p;
    if (p < s.size() && std::isdigit((unsigned char)s[p])) {
      int64_t v = 0;
      while (p < s.size() && std::isdigit((unsigned char)s[p])) v = add64(mul64(v, 10), s[p++] - '0');
      return ops.num(v);
    }
    while (p < s.size() && (std::isalnum((unsigned char)s[p]) || s[p] == '_')) ++p;
    if (p == b) fail();
    return ops.ident(s.substr(b, p - b));
  }
  V term() {
    V v = factor();
    for (;;) {
      if (eat("//")) {
        v = ops.floordiv(v, ops.constant(factor()));
      } else if (eat("*")) {
        v = ops.mul(v, factor());
      } else {
        return v;
      }
    }
  }
  V expr() {
    V v = eat("-") ? ops.neg(term()) : term();
    for (;;) {
      if (eat("+")) {
        v = ops.add(v, term());
      } else if (eat("-")) {
        v = ops.add(v, ops.neg(term()));
      } else {
        return v;
      }
    }
  }
  V parse() {
    V v = expr();
    if (p != s.size()) fail();
    return v;
  }
};

// Names as polynomials over the table's atoms (a floor division is found by its name).
struct PolyOps {
  using Value = Poly;
  const SymTable& t;
  Poly num(int64_t v) const { return v ? Poly{{{}, v}} : Poly{}; }
  Poly ident(std::string_view n) const {
    for (size_t i = 0; i < t.names->size(); ++i)
      if ((*t.names)[i] == n) return Poly{{{int(i)}, 1}};
    throw std::invalid_argument(fmt::format("unknown symbol '{}' in a symbolic dim", n));
  }
  int64_t constant(const Poly& p) const {
    if (p.size() == 1 && p.begin()->first.empty()) return p.begin()->second;
    throw std::invalid_argument("a symbolic dim divides by a constant only");
  }
  Poly add(const Poly& a, const Poly& b) const { return p_add(a, b); }
  Poly neg(const Poly& a) const { return p_add({}, a, -1); }
  Poly mul(const Poly& a, const Poly& b) const { return p_mul(a, b); }
  Poly floordiv(const Poly& a, int64_t k) const { return p_floordiv(t, a, k); }
};

// Names as numbers, from the bound values of the free symbols.
struct Unbound {};  // a free symbol the name needs has no value: the derived one stays unbound
struct EvalOps {
  using Value = int64_t;
  const SymbolNames& names;
  const std::vector<Dim>& vals;
  const std::string& what;
  int64_t num(int64_t v) const { return v; }
  int64_t ident(std::string_view n) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == n) {
        if (is_sym(vals[i])) throw Unbound{};
        return vals[i];
      }
    throw std::invalid_argument(fmt::format("unknown symbol '{}' in the dim {}", n, what));
  }
  int64_t constant(int64_t v) const { return v; }
  int64_t add(int64_t a, int64_t b) const { return add64(a, b); }
  int64_t neg(int64_t a) const { return mul64(a, -1); }
  int64_t mul(int64_t a, int64_t b) const { return mul64(a, b); }
  int64_t floordiv(int64_t a, int64_t k) const {
    if (k <= 0) throw std::invalid_argument(fmt::format("the dim {} divides by {}", what, k));
    return floordiv64(a, k);
  }
};

Poly to_poly(const SymTable& t, Dim d) {
  if (!is_sym(d)) return PolyOps{t}.num(d);
  int i = sym_index(d);
  // Without names every symbol is an opaque atom (enough to compare counts in a reshape).
  if (!t.names || i >= int(t.names->size()) || !is_derived_symbol(name_of(t, i))) return Poly{{{i}, 1}};
  PolyOps ops{t};
  return ExprParser<PolyOps>{name_of(t, i), ops}.parse();
}

}  // namespace

bool is_derived_symbol(std::string_view name) {
  // Free symbols are identifiers; a derived name is an expression of the grammar above.
  bool ident = !name.empty() && !std::isdigit((unsigned char)name[0]);
  for (char c : name) ident &= std::isalnum((unsigned char)c) || c == '_';
  if (ident || name.empty()) return false;
  return name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-*/()") ==
         std::string_view::npos;
}

bool has_derived_symbols(const SymbolNames& names) {
  return std::any_of(names.begin(), names.end(), [](const std::string& n) { return is_derived_symbol(n); });
}

Dim dim_add(const SymTable& t, Dim a, Dim b) {
  if (!is_sym(a) && !is_sym(b)) return add64(a, b);
  return from_poly(t, p_add(to_poly(t, a), to_poly(t, b)));
}

Dim dim_sub(const SymTable& t, Dim a, Dim b) {
  if (!is_sym(a) && !is_sym(b)) return add64(a, mul64(b, -1));
  return from_poly(t, p_add(to_poly(t, a), to_poly(t, b), -1));
}

Dim dim_mul(const SymTable& t, Dim a, Dim b) {
  if (!is_sym(a) && !is_sym(b)) return mul64(a, b);
  return from_poly(t, p_mul(to_poly(t, a), to_poly(t, b)));
}

Dim dim_floordiv(const SymTable& t, Dim a, int64_t k) {
  if (k <= 0) throw std::invalid_argument(fmt::format("symbolic dims divide by positive constants only, got {}", k));
  if (!is_sym(a)) return floordiv64(a, k);
  return from_poly(t, p_floordiv(t, to_poly(t, a), k));
}

std::optional<Dim> reshape_fill(const SymTable& t, const Shape& from, const Shape& to) {
  Poly pf = {{{}, 1}}, pt = {{{}, 1}};
  bool fill = false;
  for (Dim d : from) pf = p_mul(pf, to_poly(t, d));
  for (Dim d : to)
    if (d == -1)
      fill = true;
    else
      pt = p_mul(pt, to_poly(t, d));
  if (!fill) return pf == pt ? std::optional<Dim>(0) : std::nullopt;
  if (pt.size() != 1) return std::nullopt;
  const auto& [mb, cb] = *pt.begin();
  Poly q;
  for (auto& [m, c] : pf) {
    if (c % cb != 0 || !std::includes(m.begin(), m.end(), mb.begin(), mb.end())) return std::nullopt;
    std::vector<int> rest;  // m without the atoms of mb (both sorted)
    std::set_difference(m.begin(), m.end(), mb.begin(), mb.end(), std::back_inserter(rest));
    q[rest] = c / cb;
  }
  return from_poly(t, q);
}

std::vector<Dim> symbol_values(const SymbolNames& names, Dim fallback, const std::map<std::string, Dim>& given) {
  std::vector<Dim> vals(names.size(), kSymBase);
  for (size_t i = 0; i < names.size(); ++i) {
    if (is_derived_symbol(names[i])) continue;
    auto it = given.find(names[i]);
    vals[i] = it == given.end() ? fallback : it->second;
  }
  return vals;
}

std::vector<std::string> unbound_length_symbols(const SymbolNames& names, const std::map<std::string, Dim>& given) {
  std::vector<std::string> out;
  for (size_t i = 1; i < names.size(); ++i)
    if (!is_derived_symbol(names[i]) && !given.count(names[i]) && names[i] != names[0]) out.push_back(names[i]);
  return out;
}

std::vector<Dim> complete_symbols(const SymbolNames& names, std::vector<Dim> vals) {
  vals.resize(names.size(), kSymBase);
  for (size_t i = 0; i < names.size(); ++i) {
    if (!is_derived_symbol(names[i])) continue;
    EvalOps ops{names, vals, names[i]};
    try {
      vals[i] = ExprParser<EvalOps>{names[i], ops}.parse();
    } catch (const Unbound&) {
      vals[i] = kSymBase;
    }
  }
  return vals;
}

}  // namespace starc
