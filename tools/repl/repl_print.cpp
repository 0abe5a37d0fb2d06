#include "tools/repl/repl_print.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace starc::repl {

bool summarised(const Tensor& t, const PrintOptions& o) { return t.size() > o.threshold; }

std::string format_element(const Tensor& t, int64_t i, int precision) {
  switch (t.dtype()) {
    case DType::Bool:
      return t.data<uint8_t>()[i] ? "true" : "false";
    case DType::I64:
      return std::to_string(t.data<int64_t>()[i]);  // exact past 2^53, unlike get()
    default:
      return fmt::format("{:.{}g}", t.get(i), precision);
  }
}

namespace {

// numpy's _formatArray: one pass measures the widest shown element, the second writes
// the brackets, right-aligning every element to that width.
class Printer {
 public:
  Printer(const Tensor& t, const PrintOptions& o, size_t indent)
      : t_(t), o_(o), indent_(indent), rank_(t.rank()), summary_(summarised(t, o)), strides_(t.strides()) {}

  std::string run() {
    measure(0, 0);
    block(0, 0);
    return out_;
  }

 private:
  bool elides(int axis) const { return summary_ && t_.shape()[axis] > 2 * o_.edgeitems; }

  // f(i) for every shown index of `axis`, f(-1) where the elided ones would be.
  template <class F>
  void each(int axis, F f) const {
    int64_t n = t_.shape()[axis];
    if (!elides(axis)) {
      for (int64_t i = 0; i < n; ++i) f(i);
      return;
    }
    for (int64_t i = 0; i < o_.edgeitems; ++i) f(i);
    f(-1);
    for (int64_t i = n - o_.edgeitems; i < n; ++i) f(i);
  }

  void measure(int axis, int64_t base) {
    if (axis == rank_) {
      width_ = std::max(width_, format_element(t_, base, o_.precision).size());
      return;
    }
    each(axis, [&](int64_t i) {
      if (i >= 0) measure(axis + 1, base + i * strides_[axis]);
    });
  }

  size_t column() const {
    size_t nl = out_.rfind('\n');
    return nl == std::string::npos ? indent_ + out_.size() : out_.size() - nl - 1;
  }

  void block(int axis, int64_t base) {
    out_ += '[';
    if (axis == rank_ - 1) {
      row(base);
    } else {
      // Blocks of axis a are apart by rank - a - 1 newlines: rows touch, matrices have a
      // blank line between them, and so on.
      std::string sep = "," + std::string(size_t(rank_ - axis - 1), '\n') + std::string(indent_ + axis + 1, ' ');
      bool first = true;
      each(axis, [&](int64_t i) {
        if (!first) out_ += sep;
        first = false;
        if (i < 0)
          out_ += "...";
        else
          block(axis + 1, base + i * strides_[axis]);
      });
    }
    out_ += ']';
  }

  void row(int64_t base) {
    bool first = true;
    each(rank_ - 1, [&](int64_t i) {
      std::string item = i < 0 ? "..." : format_element(t_, base + i * strides_[rank_ - 1], o_.precision);
      if (i >= 0 && item.size() < width_) item.insert(0, width_ - item.size(), ' ');
      if (!first) {
        // +3: the ", " before the item and the "," or "]" after it.
        if (column() + item.size() + 3 > size_t(o_.linewidth))
          out_ += ",\n" + std::string(indent_ + size_t(rank_), ' ');
        else
          out_ += ", ";
      }
      first = false;
      out_ += item;
    });
  }

  const Tensor& t_;
  const PrintOptions& o_;
  size_t indent_;
  int rank_;
  bool summary_;
  std::vector<int64_t> strides_;
  size_t width_ = 0;
  std::string out_;
};

}  // namespace

std::string format_values(const Tensor& t, const PrintOptions& o, size_t indent) {
  if (t.rank() == 0) return format_element(t, 0, o.precision);
  return Printer(t, o, indent).run();
}

}  // namespace starc::repl
