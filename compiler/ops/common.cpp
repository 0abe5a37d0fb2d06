#include "compiler/ops/common.h"

#include <cmath>

namespace starc {

Shape broadcast_shapes(const std::string& op, const std::vector<TensorType>& ins, const InferCtx& ctx) {
  size_t rank = 0;
  for (auto& t : ins) rank = std::max(rank, t.shape.size());
  Shape out(rank, 1);
  for (size_t k = 0; k < rank; ++k) {
    Dim d = 1;
    for (auto& t : ins) {
      if (k >= t.shape.size()) continue;
      Dim e = t.shape[t.shape.size() - 1 - k];
      if (e == 1 || e == d) continue;
      if (d == 1) {
        d = e;
        continue;
      }
      std::string shapes;
      for (size_t i = 0; i < ins.size(); ++i) shapes += (i ? " and " : "") + ctx.t(ins[i]);
      throw OpError(fmt::format("{}: cannot broadcast {}: dim {} vs {} (dims must be equal or 1)", op, shapes,
                                dim_str(d, ctx.syms), dim_str(e, ctx.syms)));
    }
    out[rank - 1 - k] = d;
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t acc = 1;
  for (int i = int(in.size()) - 1, j = int(out.size()) - 1; i >= 0; --i, --j) {
    s[j] = in[i] == 1 ? 0 : acc;
    acc *= in[i];
  }
  return s;
}

int normalize_axis(const std::string& op, int64_t axis, int rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw OpError(fmt::format("{}: axis {} is out of range for a tensor of rank {}", op, axis, rank));
  return int(a);
}

void require_same_dtype(const std::string& op, std::span<const TensorType> in, const InferCtx& ctx) {
  for (size_t i = 1; i < in.size(); ++i)
    if (in[i].dtype != in[0].dtype)
      throw OpError(
          fmt::format("{}: element types differ: {} vs {} (convert with cast)", op, ctx.t(in[0]), ctx.t(in[i])));
}

void require_float(const std::string& op, const TensorType& t, const InferCtx& ctx) {
  if (!is_float(t.dtype)) throw OpError(fmt::format("{}: expected a floating-point tensor, got {}", op, ctx.t(t)));
}

void require_rank(const std::string& op, const TensorType& t, int rank, const InferCtx& ctx, const char* what) {
  if (t.rank() != rank) throw OpError(fmt::format("{}: {} must have rank {}, got {}", op, what, rank, ctx.t(t)));
}

Dim window_out_len(const std::string& op, Dim in, int64_t kernel, int64_t stride, int64_t pad_lo, int64_t pad_hi,
                   int64_t dilation, const InferCtx& ctx) {
  if (kernel <= 0 || stride <= 0 || dilation <= 0 || pad_lo < 0 || pad_hi < 0)
    throw OpError(fmt::format("{}: kernel, stride and dilation must be positive and padding non-negative", op));
  int64_t span = dilation * (kernel - 1) + 1;
  // A symbolic length gives (L + pads - span) // stride + 1, checked when L is bound.
  if (is_sym(in)) return ctx.add(ctx.floordiv(ctx.add(in, pad_lo + pad_hi - span), stride), 1);
  int64_t padded = in + pad_lo + pad_hi;
  if (padded < span)
    throw OpError(fmt::format("{}: window of {} (kernel {}, dilation {}) is longer than the padded input length {}", op,
                              span, kernel, dilation, padded));
  return (padded - span) / stride + 1;
}

Tensor scalar_of(DType t, double v) {
  if (t != DType::I64) return Tensor::scalar(t, t == DType::Bool ? double(v != 0) : v);
  Tensor s(t, {});
  s.data<int64_t>()[0] = float_to_i64(v);
  return s;
}

}  // namespace starc
