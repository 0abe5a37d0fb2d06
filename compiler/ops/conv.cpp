// Convolution and pooling ops (1-D and 2-D), with PyTorch semantics. Int-list attributes
// (stride, padding, ...) take one value for all spatial dims or one per spatial dim.
// The reference kernels are written once for 2-D; a 1-D op runs as 2-D with H = 1.
#include <cmath>
#include <limits>

#include "compiler/ops/common.h"

namespace starc {
namespace {

// Attribute `name` as one value per spatial dim (a single value is repeated). An empty
// list yields `if_empty` when given (pool stride defaults to the kernel).
Ints per_dim(const std::string& op, const Attrs& a, const std::string& name, int nsp, const Ints* if_empty = nullptr) {
  const Ints& v = attr_ints(a, name);
  if (v.empty() && if_empty) return *if_empty;
  if (int(v.size()) == nsp) return v;
  if (v.size() == 1) return Ints(nsp, v[0]);
  throw OpError(fmt::format("{}: '{}' takes 1 or {} values (one per spatial dim), got {}", op, name, nsp, v.size()));
}

std::string ints_str(const Ints& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return "[" + s + "]";
}

void require_static(const std::string& op, const TensorType& t, int from, const char* what, const InferCtx& ctx) {
  for (int i = from; i < t.rank(); ++i)
    if (is_sym(t.shape[i]))
      throw OpError(fmt::format("{}: the {} must be static, got {}", op, what, ctx.t(t)));
}

// Window geometry of one op application, normalised to 2 spatial dims (index 0 = H, 1 = W).
struct Geo {
  int64_t N = 0, C = 0, O = 0;  // batch, input channels, output channels (= C for pooling)
  int64_t in[2] = {1, 1}, k[2] = {1, 1}, out[2] = {1, 1};
  int64_t s[2] = {1, 1}, p[2] = {0, 0}, d[2] = {1, 1};
};

// Spatial attributes of one op, one entry per spatial dim.
struct SpatialAttrs {
  Ints stride, pad, dil, out_pad;
};

SpatialAttrs conv_attrs(const std::string& op, const Attrs& a, int nsp, bool transpose) {
  SpatialAttrs sa;
  sa.stride = per_dim(op, a, "stride", nsp);
  sa.pad = per_dim(op, a, "padding", nsp);
  sa.dil = per_dim(op, a, "dilation", nsp);
  sa.out_pad = transpose ? per_dim(op, a, "output_padding", nsp) : Ints(nsp, 0);
  return sa;
}

// PyTorch ConvTranspose output length.
Dim transpose_out_len(const std::string& op, Dim in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op_pad) {
  if (k <= 0 || s <= 0 || d <= 0 || p < 0 || op_pad < 0)
    throw OpError(fmt::format("{}: kernel, stride and dilation must be positive and padding non-negative", op));
  if (is_sym(in)) throw OpError(fmt::format("{}: the spatial length must be static", op));
  if (op_pad >= s && op_pad >= d)
    throw OpError(fmt::format("{}: output_padding {} must be smaller than either stride {} or dilation {}", op, op_pad,
                              s, d));
  Dim len = (in - 1) * s - 2 * p + d * (k - 1) + op_pad + 1;
  if (len <= 0)
    throw OpError(fmt::format("{}: output length would be {} (input length {}, kernel {}, stride {}, padding {}, "
                              "dilation {}, output_padding {})",
                              op, len, in, k, s, p, d, op_pad));
  return len;
}

// ---- convolution -----------------------------------------------------------------

// x [N,C,*in], w [O,C,*k] (conv) or [C,O,*k] (transpose). Checks everything and returns
// the output shape; used by both the shape rule and the kernel.
Shape conv_shape(const std::string& op, int nsp, bool transpose, const TensorType& x, const TensorType& w,
                 const Attrs& a, const InferCtx& ctx) {
  require_rank(op, x, nsp + 2, ctx, "input");
  require_rank(op, w, nsp + 2, ctx, "weight");
  require_float(op, x, ctx);
  TensorType xw[2] = {x, w};
  require_same_dtype(op, xw, ctx);
  require_static(op, w, 0, "weight shape", ctx);
  require_static(op, x, 1, "channel and spatial dims of the input", ctx);
  Dim want_c = transpose ? w.shape[0] : w.shape[1];
  if (x.shape[1] != want_c)
    throw OpError(fmt::format("{}: input has {} channels but the weight expects {}: {} vs weight {}", op, x.shape[1],
                              want_c, ctx.t(x), ctx.t(w)));
  SpatialAttrs sa = conv_attrs(op, a, nsp, transpose);
  Shape out = {x.shape[0], transpose ? w.shape[1] : w.shape[0]};
  for (int i = 0; i < nsp; ++i) {
    Dim in = x.shape[2 + i], k = w.shape[2 + i];
    out.push_back(transpose ? transpose_out_len(op, in, k, sa.stride[i], sa.pad[i], sa.dil[i], sa.out_pad[i])
                            : window_out_len(op, in, k, sa.stride[i], sa.pad[i], sa.pad[i], sa.dil[i]));
  }
  return out;
}

Geo conv_geo(const std::string& op, int nsp, bool transpose, const Tensor& x, const Tensor& w, const Attrs& a) {
  Shape out = conv_shape(op, nsp, transpose, x.type(), w.type(), a, InferCtx{});
  SpatialAttrs sa = conv_attrs(op, a, nsp, transpose);
  Geo g;
  g.N = x.dim(0);
  g.C = x.dim(1);
  g.O = out[1];
  int off = 2 - nsp;  // 1-D ops use the W slot
  for (int i = 0; i < nsp; ++i) {
    g.in[off + i] = x.dim(2 + i);
    g.k[off + i] = w.dim(2 + i);
    g.out[off + i] = out[2 + i];
    g.s[off + i] = sa.stride[i];
    g.p[off + i] = sa.pad[i];
    g.d[off + i] = sa.dil[i];
  }
  return g;
}

// y[n,o,oh,ow] = sum_{c,kh,kw} x[n,c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] * w[o,c,kh,kw]
// (terms whose input position falls in the zero padding are skipped).
template <class T> void conv2d_kernel(const Geo& g, const T* x, const T* w, T* y) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], OH = g.out[0], OW = g.out[1];
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = 0;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < KH; ++kh) {
              int64_t ih = oh * g.s[0] - g.p[0] + kh * g.d[0];
              if (ih < 0 || ih >= H) continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t iw = ow * g.s[1] - g.p[1] + kw * g.d[1];
                if (iw < 0 || iw >= W) continue;
                acc += double(x[((n * g.C + c) * H + ih) * W + iw]) * double(w[((o * g.C + c) * KH + kh) * KW + kw]);
              }
            }
          y[((n * g.O + o) * OH + oh) * OW + ow] = T(acc);
        }
}

// Transposed convolution as a scatter: every input element x[n,c,ih,iw] adds
// x * w[c,o,kh,kw] to y[n,o, ih*sh - ph + kh*dh, iw*sw - pw + kw*dw] when that lies in y.
template <class T> void conv_transpose2d_kernel(const Geo& g, const T* x, const T* w, T* y) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], OH = g.out[0], OW = g.out[1];
  std::vector<double> acc(size_t(g.N * g.O * OH * OW), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw) {
          double xv = double(x[((n * g.C + c) * H + ih) * W + iw]);
          for (int64_t o = 0; o < g.O; ++o)
            for (int64_t kh = 0; kh < KH; ++kh) {
              int64_t oh = ih * g.s[0] - g.p[0] + kh * g.d[0];
              if (oh < 0 || oh >= OH) continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ow = iw * g.s[1] - g.p[1] + kw * g.d[1];
                if (ow < 0 || ow >= OW) continue;
                acc[size_t(((n * g.O + o) * OH + oh) * OW + ow)] +=
                    xv * double(w[((c * g.O + o) * KH + kh) * KW + kw]);
              }
            }
        }
  for (size_t i = 0; i < acc.size(); ++i) y[i] = T(acc[i]);
}

OpDef conv_op(std::string name, int nsp, bool transpose, std::string doc) {
  OpDef d;
  d.name = name;
  d.inputs = {"x", "w"};
  Ints zeros(1, 0), ones(1, 1);
  d.attrs = {{"stride", AttrKind::Ints, ones}, {"padding", AttrKind::Ints, zeros}};
  if (transpose) d.attrs.push_back({"output_padding", AttrKind::Ints, zeros});
  d.attrs.push_back({"dilation", AttrKind::Ints, ones});
  d.doc = std::move(doc);
  d.infer = [name, nsp, transpose](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    return TensorType{in[0].dtype, conv_shape(name, nsp, transpose, in[0], in[1], a, ctx)};
  };
  d.ref = [name, nsp, transpose](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    Geo g = conv_geo(name, nsp, transpose, in[0], in[1], a);
    Shape out_shape = {g.N, g.O};
    for (int i = 2 - nsp; i < 2; ++i) out_shape.push_back(g.out[i]);
    Tensor out(in[0].dtype(), out_shape);
    dispatch_float(in[0].dtype(), [&]<class T>() {
      if (transpose) conv_transpose2d_kernel<T>(g, in[0].data<T>(), in[1].data<T>(), out.data<T>());
      else conv2d_kernel<T>(g, in[0].data<T>(), in[1].data<T>(), out.data<T>());
    });
    return out;
  };
  return d;
}

// ---- pooling ---------------------------------------------------------------------

Shape pool_shape(const std::string& op, int nsp, const TensorType& x, const Attrs& a, const InferCtx& ctx) {
  require_rank(op, x, nsp + 2, ctx, "input");
  require_float(op, x, ctx);
  require_static(op, x, 1, "channel and spatial dims of the input", ctx);
  Ints kernel = per_dim(op, a, "kernel", nsp);
  Ints stride = per_dim(op, a, "stride", nsp, &kernel);
  Ints pad = per_dim(op, a, "padding", nsp);
  Shape out = {x.shape[0], x.shape[1]};
  for (int i = 0; i < nsp; ++i) {
    if (kernel[i] > 0 && pad[i] > kernel[i] / 2)
      throw OpError(fmt::format("{}: padding must be at most half the kernel size, got padding {} for kernel {}", op,
                                ints_str(pad), ints_str(kernel)));
    out.push_back(window_out_len(op, x.shape[2 + i], kernel[i], stride[i], pad[i], pad[i], 1));
  }
  return out;
}

Geo pool_geo(const std::string& op, int nsp, const Tensor& x, const Attrs& a) {
  Shape out = pool_shape(op, nsp, x.type(), a, InferCtx{});
  Ints kernel = per_dim(op, a, "kernel", nsp);
  Ints stride = per_dim(op, a, "stride", nsp, &kernel);
  Ints pad = per_dim(op, a, "padding", nsp);
  Geo g;
  g.N = x.dim(0);
  g.C = g.O = x.dim(1);
  int off = 2 - nsp;
  for (int i = 0; i < nsp; ++i) {
    g.in[off + i] = x.dim(2 + i);
    g.k[off + i] = kernel[i];
    g.out[off + i] = out[2 + i];
    g.s[off + i] = stride[i];
    g.p[off + i] = pad[i];
  }
  return g;
}

// Max (NaN propagates, padding acts as -inf) or mean with count_include_pad (the
// divisor is always KH*KW: in floor mode no window reaches past the padding).
template <class T> void pool2d_kernel(const Geo& g, bool is_max, const T* x, T* y) {
  const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  for (int64_t nc = 0; nc < g.N * g.C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double m = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t kh = 0; kh < g.k[0]; ++kh) {
          int64_t ih = oh * g.s[0] - g.p[0] + kh;
          if (ih < 0 || ih >= H) continue;
          for (int64_t kw = 0; kw < g.k[1]; ++kw) {
            int64_t iw = ow * g.s[1] - g.p[1] + kw;
            if (iw < 0 || iw >= W) continue;
            double v = double(x[(nc * H + ih) * W + iw]);
            if (!std::isnan(m) && (v > m || std::isnan(v))) m = v;
            sum += v;
          }
        }
        y[(nc * OH + oh) * OW + ow] = T(is_max ? m : sum / double(g.k[0] * g.k[1]));
      }
}

OpDef pool_op(std::string name, int nsp, bool is_max, std::string doc) {
  OpDef d;
  d.name = name;
  d.inputs = {"x"};
  d.attrs = {{"kernel", AttrKind::Ints, std::nullopt},
             {"stride", AttrKind::Ints, Ints{}},
             {"padding", AttrKind::Ints, Ints{0}}};
  d.doc = std::move(doc);
  d.infer = [name, nsp](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    return TensorType{in[0].dtype, pool_shape(name, nsp, in[0], a, ctx)};
  };
  d.ref = [name, nsp, is_max](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    Geo g = pool_geo(name, nsp, in[0], a);
    Shape out_shape = {g.N, g.C};
    for (int i = 2 - nsp; i < 2; ++i) out_shape.push_back(g.out[i]);
    Tensor out(in[0].dtype(), out_shape);
    dispatch_float(in[0].dtype(), [&]<class T>() { pool2d_kernel<T>(g, is_max, in[0].data<T>(), out.data<T>()); });
    return out;
  };
  return d;
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add(conv_op("conv1d", 1, false, "1-D convolution (cross-correlation): x [N,C,L], w [O,C,K] -> [N,O,Lout]"));
  r.add(conv_op("conv2d", 2, false, "2-D convolution (cross-correlation): x [N,C,H,W], w [O,C,KH,KW] -> [N,O,Ho,Wo]"));
  r.add(conv_op("conv_transpose1d", 1, true,
                "1-D transposed convolution (PyTorch ConvTranspose1d): x [N,C,L], w [C,O,K] -> [N,O,Lout]"));
  r.add(conv_op("conv_transpose2d", 2, true,
                "2-D transposed convolution (PyTorch ConvTranspose2d): x [N,C,H,W], w [C,O,KH,KW] -> [N,O,Ho,Wo]"));
  r.add(pool_op("maxpool1d", 1, true, "1-D max pooling over [N,C,L] (padding is -inf, floor mode)"));
  r.add(pool_op("maxpool2d", 2, true, "2-D max pooling over [N,C,H,W] (padding is -inf, floor mode)"));
  r.add(pool_op("avgpool1d", 1, false, "1-D average pooling over [N,C,L] (zero padding counted, floor mode)"));
  r.add(pool_op("avgpool2d", 2, false, "2-D average pooling over [N,C,H,W] (zero padding counted, floor mode)"));
}

}  // namespace starc
