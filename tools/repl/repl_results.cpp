// tools/repl: how the session prints results: `name = f32[2,3] [[...]]` lines (with min,
// max and mean when summarised) and print(...) lines; the numpy-like layout of the values
// is repl_print.cpp's.
#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "tools/repl/repl_internal.h"
#include "tools/repl/repl_print.h"
#include "tools/repl/repl_syntax.h"

namespace starc {

void ReplSession::print_tensor(const std::string& name, const Tensor& t) const {
  std::string head = fmt::format("{} = {} ", name, type_str(t.type()));
  // A scalar keeps its brackets ("f32[] [4]"): scripts and the crash corpus read that form.
  std::string line =
      head + (t.rank() == 0 ? "[" + repl::format_values(t, print_) + "]" : repl::format_values(t, print_, head.size()));
  if (repl::summarised(t, print_) && t.dtype() != DType::Bool && t.size() > 0) {
    double lo = t.get(0), hi = lo, sum = 0;
    for (int64_t i = 0; i < t.size(); ++i) {
      double v = t.get(i);
      lo = std::min(lo, v), hi = std::max(hi, v), sum += v;
    }
    int p = print_.precision;
    line += fmt::format("  min {:.{}g} max {:.{}g} mean {:.{}g}", lo, p, hi, p, sum / double(t.size()), p);
  }
  out_ << line << "\n";
}

// `print(a, "text", b)`: the values alone, as numpy's print, on one line apart by spaces.
bool ReplSession::print_args(const std::vector<std::string>& args) {
  std::string line;
  auto column = [&] { return line.size() - (line.rfind('\n') == std::string::npos ? 0 : line.rfind('\n') + 1); };
  for (const std::string& arg : args) {
    auto text = repl::string_literal(arg);
    Built b;
    std::vector<Tensor> outs;
    if (!text && !compute(arg, b, outs)) return false;
    if (!line.empty()) line += " ";
    if (text) line += *text;
    if (!text && outs.empty()) line += b.static_result;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (i) line += " ";
      line += repl::format_values(outs[i], print_, column());
    }
  }
  out_ << line << "\n";
  return true;
}

}  // namespace starc
