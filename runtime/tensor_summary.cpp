#include "runtime/tensor_summary.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

namespace starc {

std::string tensor_summary(const Tensor& t) {
  std::string s = type_str(t.type());
  int64_t n = t.size();
  std::vector<std::string> vals;
  auto fmtv = [&](int64_t i) { return fmt::format("{:.6g}", t.get(i)); };
  if (n <= 8) {
    for (int64_t i = 0; i < n; ++i) vals.push_back(fmtv(i));
  } else {
    for (int64_t i = 0; i < 3; ++i) vals.push_back(fmtv(i));
    vals.push_back("...");
    for (int64_t i = n - 3; i < n; ++i) vals.push_back(fmtv(i));
  }
  return fmt::format("{} [{}]", s, fmt::join(vals, ", "));
}

}  // namespace starc
