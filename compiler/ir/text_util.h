// Helpers shared by the Graph IR printer and parser (compiler/ir/text.h).
#pragma once
#include <string>
#include <string_view>

#include "compiler/ir/dtype.h"

namespace starc::text_detail {

inline bool is_ident(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

// Words with a meaning of their own in value position; never used as symbol names.
inline bool is_keyword(std::string_view s) {
  for (std::string_view k : {"graph", "tensor", "symbols", "return", "true", "false", "inf", "nan", "null", "none"})
    if (s == k) return true;
  return dtype_from_name(s).has_value();
}

}  // namespace starc::text_detail
