// Convolution and pooling ops (1-D and 2-D), with PyTorch semantics. Int-list attributes
// (stride, padding, ...) take one value for all spatial dims or one per spatial dim.
// The reference kernels are written once for 2-D; a 1-D op runs as 2-D with H = 1.
// Gradients: a conv's input gradient is the adjoint conv (conv_transpose <-> conv), its
// weight gradient the primitive conv*_weight_grad op (one reduction over batch and
// positions, any batch size, symbolic included); pooling uses the primitive
// *pool*_grad/_gather ops. All of these are differentiable in turn.
// `groups` (PyTorch's): the channels split into that many groups, each output channel
// reading only its group's inputs; every gradient is the same op kind with the same
// groups, since the adjoint of a block-diagonal channel mix is block-diagonal too.
#include <algorithm>
#include <cmath>
#include <limits>

#include "compiler/ops/builder.h"
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

// Dims [from, to) of t (to -1: the last) must be static.
void require_static(const std::string& op, const TensorType& t, int from, int to, const char* what,
                    const InferCtx& ctx) {
  for (int i = from; i < (to < 0 ? t.rank() : std::min(to, t.rank())); ++i)
    if (is_sym(t.shape[i])) throw OpError(fmt::format("{}: the {} must be static, got {}", op, what, ctx.t(t)));
}

// Window geometry of one op application, normalised to 2 spatial dims (index 0 = H, 1 = W).
struct Geo {
  int64_t N = 0, C = 0, O = 0;  // batch, input channels, output channels (= C for pooling)
  int64_t G = 1;                // groups: channel c (o) is in group c / (C/G) (o / (O/G))
  int64_t in[2] = {1, 1}, k[2] = {1, 1}, out[2] = {1, 1};
  int64_t s[2] = {1, 1}, p[2] = {0, 0}, d[2] = {1, 1};
};

// Spatial attributes of one op, one entry per spatial dim.
struct SpatialAttrs {
  Ints stride, pad, dil, out_pad;
  int64_t groups = 1;
};

SpatialAttrs conv_attrs(const std::string& op, const Attrs& a, int nsp, bool transpose) {
  SpatialAttrs sa;
  sa.stride = per_dim(op, a, "stride", nsp);
  sa.pad = per_dim(op, a, "padding", nsp);
  sa.dil = per_dim(op, a, "dilation", nsp);
  sa.out_pad = transpose ? per_dim(op, a, "output_padding", nsp) : Ints(nsp, 0);
  if (a.count("groups")) sa.groups = attr_int(a, "groups");
  if (a.count("algo")) {  // how the JIT computes it (compiler/opt conv_algo); the value is the same
    const std::string& algo = attr_str(a, "algo");
    if (algo != "auto" && algo != "direct" && algo != "fft")
      throw OpError(fmt::format("{}: algo must be \"auto\", \"direct\" or \"fft\", got \"{}\"", op, algo));
    if (algo == "fft" && std::any_of(sa.stride.begin(), sa.stride.end(), [](int64_t s) { return s != 1; }))
      throw OpError(fmt::format("{}: algo \"fft\" needs stride 1, got stride {}", op, ints_str(sa.stride)));
  }
  return sa;
}

// PyTorch ConvTranspose output length. A symbolic input length or output_padding (the
// adjoint of a conv over a symbolic length) gives a derived symbol, checked when bound.
Dim transpose_out_len(const std::string& op, Dim in, int64_t k, int64_t s, int64_t p, int64_t d, Dim op_pad,
                      const InferCtx& ctx) {
  if (k <= 0 || s <= 0 || d <= 0 || p < 0 || (!is_sym(op_pad) && op_pad < 0))
    throw OpError(fmt::format("{}: kernel, stride and dilation must be positive and padding non-negative", op));
  if (!is_sym(op_pad) && op_pad >= s && op_pad >= d)
    throw OpError(
        fmt::format("{}: output_padding {} must be smaller than either stride {} or dilation {}", op, op_pad, s, d));
  if (is_sym(in) || is_sym(op_pad))
    return ctx.add(ctx.add(ctx.mul(ctx.sub(in, 1), s), op_pad), d * (k - 1) + 1 - 2 * p);
  Dim len = (in - 1) * s - 2 * p + d * (k - 1) + op_pad + 1;
  if (len <= 0)
    throw OpError(
        fmt::format("{}: output length would be {} (input length {}, kernel {}, stride {}, padding {}, "
                    "dilation {}, output_padding {})",
                    op, len, in, k, s, p, d, op_pad));
  return len;
}

// ---- convolution -----------------------------------------------------------------

// The `groups` attribute, checked to divide the input channels and, when given (> 0),
// the output channels (as PyTorch's Conv*d).
int64_t conv_groups(const std::string& op, const Attrs& a, Dim in_channels, Dim out_channels = 0) {
  int64_t g = attr_int(a, "groups");
  if (g < 1) throw OpError(fmt::format("{}: groups must be positive, got {}", op, g));
  if (in_channels % g != 0)
    throw OpError(fmt::format("{}: groups {} must divide the input channels, got {}", op, g, in_channels));
  if (out_channels > 0 && out_channels % g != 0)
    throw OpError(fmt::format("{}: groups {} must divide the output channels, got {}", op, g, out_channels));
  return g;
}

// x [N,C,*in], w [O,C/groups,*k] (conv) or [C,O/groups,*k] (transpose). Checks everything
// and returns the output shape; used by both the shape rule and the kernel.
Shape conv_shape(const std::string& op, int nsp, bool transpose, const TensorType& x, const TensorType& w,
                 const Attrs& a, const InferCtx& ctx) {
  require_rank(op, x, nsp + 2, ctx, "input");
  require_rank(op, w, nsp + 2, ctx, "weight");
  require_float(op, x, ctx);
  TensorType xw[2] = {x, w};
  require_same_dtype(op, xw, ctx);
  require_static(op, w, 0, -1, "weight shape", ctx);
  require_static(op, x, 1, 2, "channel dim of the input", ctx);
  // groups first: a count that does not divide the channels is the likelier mistake.
  const int64_t g = conv_groups(op, a, x.shape[1], transpose ? 0 : w.shape[0]);
  Dim want_c = transpose ? w.shape[0] : w.shape[1] * g, out_c = transpose ? w.shape[1] * g : w.shape[0];
  if (x.shape[1] != want_c)
    throw OpError(fmt::format("{}: input has {} channels but the weight expects {}{}: {} vs weight {}", op, x.shape[1],
                              want_c, g > 1 ? fmt::format(" ({} groups)", g) : "", ctx.t(x), ctx.t(w)));
  SpatialAttrs sa = conv_attrs(op, a, nsp, transpose);
  Shape out = {x.shape[0], out_c};
  for (int i = 0; i < nsp; ++i) {
    Dim in = x.shape[2 + i], k = w.shape[2 + i];
    out.push_back(transpose ? transpose_out_len(op, in, k, sa.stride[i], sa.pad[i], sa.dil[i], sa.out_pad[i], ctx)
                            : window_out_len(op, in, k, sa.stride[i], sa.pad[i], sa.pad[i], sa.dil[i], ctx));
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
  g.G = attr_int(a, "groups");
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

// y[n,o,oh,ow] = sum_{c,kh,kw} x[n,c0+c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] * w[o,c,kh,kw]
// over the C/G channels c of o's group, c0 = its first (terms whose input position falls
// in the zero padding are skipped).
template <class T>
void conv2d_kernel(const Geo& g, const T* x, const T* w, T* y) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], OH = g.out[0], OW = g.out[1];
  const int64_t Cg = g.C / g.G, Og = g.O / g.G;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = 0;
          const T* xg = x + (n * g.C + o / Og * Cg) * H * W;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh) {
              int64_t ih = oh * g.s[0] - g.p[0] + kh * g.d[0];
              if (ih < 0 || ih >= H) continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t iw = ow * g.s[1] - g.p[1] + kw * g.d[1];
                if (iw < 0 || iw >= W) continue;
                acc += double(xg[(c * H + ih) * W + iw]) * double(w[((o * Cg + c) * KH + kh) * KW + kw]);
              }
            }
          y[((n * g.O + o) * OH + oh) * OW + ow] = T(acc);
        }
}

// Transposed convolution as a scatter: every input element x[n,c,ih,iw] adds
// x * w[c,o,kh,kw] to y[n,o0+o, ih*sh - ph + kh*dh, iw*sw - pw + kw*dw] when that lies in
// y, for the O/G channels o of c's group, o0 = its first.
template <class T>
void conv_transpose2d_kernel(const Geo& g, const T* x, const T* w, T* y) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], OH = g.out[0], OW = g.out[1];
  const int64_t Cg = g.C / g.G, Og = g.O / g.G;
  std::vector<double> acc(size_t(g.N * g.O * OH * OW), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw) {
          double xv = double(x[((n * g.C + c) * H + ih) * W + iw]);
          double* yg = acc.data() + (n * g.O + c / Cg * Og) * OH * OW;
          for (int64_t o = 0; o < Og; ++o)
            for (int64_t kh = 0; kh < KH; ++kh) {
              int64_t oh = ih * g.s[0] - g.p[0] + kh * g.d[0];
              if (oh < 0 || oh >= OH) continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t ow = iw * g.s[1] - g.p[1] + kw * g.d[1];
                if (ow < 0 || ow >= OW) continue;
                yg[(o * OH + oh) * OW + ow] += xv * double(w[((c * Og + o) * KH + kh) * KW + kw]);
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
  d.attrs.push_back({"groups", AttrKind::Int, int64_t(1)});
  d.attrs.push_back({"algo", AttrKind::String, std::string("auto")});
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
      if (transpose)
        conv_transpose2d_kernel<T>(g, in[0].data<T>(), in[1].data<T>(), out.data<T>());
      else
        conv2d_kernel<T>(g, in[0].data<T>(), in[1].data<T>(), out.data<T>());
    });
    return out;
  };
  return d;
}

// ---- convolution weight gradient ---------------------------------------------------

// conv{1,2}d_weight_grad(x [N,P,*L], dy [N,Q,*T]) -> [Q,P/G,*kernel] (G = groups):
//   r[q,p,k] = sum_{n,t} x[n,p0+p, k*d - pad + t*s] * dy[n,q,t]   (reads outside x are 0),
// p0 the first channel of q's group.
// It is the weight gradient of conv (x = input, dy = output gradient) and of
// conv_transpose (x = output gradient, dy = input). A primitive op rather than a conv of
// transposed operands: the batch becomes the reduction, so it may stay symbolic.
Shape weight_grad_shape(const std::string& op, int nsp, const TensorType& x, const TensorType& dy, const Attrs& a,
                        const InferCtx& ctx) {
  require_rank(op, x, nsp + 2, ctx, "x");
  require_rank(op, dy, nsp + 2, ctx, "dy");
  require_float(op, x, ctx);
  TensorType xd[2] = {x, dy};
  require_same_dtype(op, xd, ctx);
  require_static(op, x, 1, 2, "channel dim of x", ctx);
  require_static(op, dy, 1, 2, "channel dim of dy", ctx);
  if (x.shape[0] != dy.shape[0])
    throw OpError(fmt::format("{}: x and dy must have the same batch dim: {} vs {}", op, ctx.t(x), ctx.t(dy)));
  Ints k = per_dim(op, a, "kernel", nsp);
  SpatialAttrs sa = conv_attrs(op, a, nsp, false);
  for (int i = 0; i < nsp; ++i)
    if (k[i] <= 0 || sa.stride[i] <= 0 || sa.dil[i] <= 0 || sa.pad[i] < 0)
      throw OpError(fmt::format("{}: kernel, stride and dilation must be positive and padding non-negative", op));
  int64_t g = conv_groups(op, a, x.shape[1], dy.shape[1]);
  Shape out = {dy.shape[1], x.shape[1] / g};
  out.insert(out.end(), k.begin(), k.end());
  return out;
}

template <class T>
void weight_grad_kernel(const Geo& g, const T* x, const T* dy, T* r) {
  const int64_t H = g.in[0], W = g.in[1], KH = g.k[0], KW = g.k[1], TH = g.out[0], TW = g.out[1];
  const int64_t Pg = g.C / g.G, Qg = g.O / g.G;
  std::vector<double> acc(size_t(g.O * Pg * KH * KW), 0.0);
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t q = 0; q < g.O; ++q)
      for (int64_t th = 0; th < TH; ++th)
        for (int64_t tw = 0; tw < TW; ++tw) {
          double dv = double(dy[((n * g.O + q) * TH + th) * TW + tw]);
          const T* xg = x + (n * g.C + q / Qg * Pg) * H * W;
          for (int64_t p = 0; p < Pg; ++p)
            for (int64_t kh = 0; kh < KH; ++kh) {
              int64_t ih = kh * g.d[0] - g.p[0] + th * g.s[0];
              if (ih < 0 || ih >= H) continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t iw = kw * g.d[1] - g.p[1] + tw * g.s[1];
                if (iw < 0 || iw >= W) continue;
                acc[size_t(((q * Pg + p) * KH + kh) * KW + kw)] += double(xg[(p * H + ih) * W + iw]) * dv;
              }
            }
        }
  for (size_t i = 0; i < acc.size(); ++i) r[i] = T(acc[i]);
}

OpDef weight_grad_op(int nsp) {
  OpDef d;
  d.name = nsp == 1 ? "conv1d_weight_grad" : "conv2d_weight_grad";
  d.inputs = {"x", "dy"};
  d.attrs = {{"kernel", AttrKind::Ints, std::nullopt}, {"stride", AttrKind::Ints, Ints{1}},
             {"padding", AttrKind::Ints, Ints{0}},     {"dilation", AttrKind::Ints, Ints{1}},
             {"groups", AttrKind::Int, int64_t(1)},    {"algo", AttrKind::String, std::string("auto")}};
  d.doc = fmt::format(
      "weight gradient of conv{0}d: x [N,P,*L], dy [N,Q,*T] -> [Q,P/groups,*kernel], "
      "r[q,p,k] = sum over n,t of x[n,p,k*dilation-padding+t*stride] dy[n,q,t] (p in q's group)",
      nsp);
  std::string name = d.name;
  d.infer = [name, nsp](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    return TensorType{in[0].dtype, weight_grad_shape(name, nsp, in[0], in[1], a, ctx)};
  };
  d.ref = [name, nsp](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    Shape out = weight_grad_shape(name, nsp, in[0].type(), in[1].type(), a, InferCtx{});
    SpatialAttrs sa = conv_attrs(name, a, nsp, false);
    Geo g;
    g.N = in[0].dim(0);
    g.C = in[0].dim(1);
    g.O = in[1].dim(1);
    g.G = attr_int(a, "groups");
    int off = 2 - nsp;
    for (int i = 0; i < nsp; ++i) {
      g.in[off + i] = in[0].dim(2 + i);
      g.out[off + i] = in[1].dim(2 + i);
      g.k[off + i] = out[2 + i];
      g.s[off + i] = sa.stride[i];
      g.p[off + i] = sa.pad[i];
      g.d[off + i] = sa.dil[i];
    }
    Tensor r(in[0].dtype(), out);
    dispatch_float(in[0].dtype(),
                   [&]<class T>() { weight_grad_kernel<T>(g, in[0].data<T>(), in[1].data<T>(), r.data<T>()); });
    return r;
  };
  return d;
}

// ---- pooling ---------------------------------------------------------------------

Shape pool_shape(const std::string& op, int nsp, const TensorType& x, const Attrs& a, const InferCtx& ctx) {
  require_rank(op, x, nsp + 2, ctx, "input");
  require_float(op, x, ctx);
  require_static(op, x, 1, 2, "channel dim of the input", ctx);
  Ints kernel = per_dim(op, a, "kernel", nsp);
  Ints stride = per_dim(op, a, "stride", nsp, &kernel);
  Ints pad = per_dim(op, a, "padding", nsp);
  Shape out = {x.shape[0], x.shape[1]};
  for (int i = 0; i < nsp; ++i) {
    if (kernel[i] > 0 && pad[i] > kernel[i] / 2)
      throw OpError(fmt::format("{}: padding must be at most half the kernel size, got padding {} for kernel {}", op,
                                ints_str(pad), ints_str(kernel)));
    out.push_back(window_out_len(op, x.shape[2 + i], kernel[i], stride[i], pad[i], pad[i], 1, ctx));
  }
  return out;
}

Geo pool_geo(const std::string& op, int nsp, const TensorType& x, const Attrs& a) {
  Shape out = pool_shape(op, nsp, x, a, InferCtx{});
  Ints kernel = per_dim(op, a, "kernel", nsp);
  Ints stride = per_dim(op, a, "stride", nsp, &kernel);
  Ints pad = per_dim(op, a, "padding", nsp);
  Geo g;
  g.N = x.shape[0];
  g.C = g.O = x.shape[1];
  int off = 2 - nsp;
  for (int i = 0; i < nsp; ++i) {
    g.in[off + i] = x.shape[2 + i];
    g.k[off + i] = kernel[i];
    g.out[off + i] = out[2 + i];
    g.s[off + i] = stride[i];
    g.p[off + i] = pad[i];
  }
  return g;
}

// Max (NaN propagates, padding acts as -inf) or mean with count_include_pad (the
// divisor is always KH*KW: in floor mode no window reaches past the padding).
template <class T>
void pool2d_kernel(const Geo& g, bool is_max, const T* x, T* y) {
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
    Geo g = pool_geo(name, nsp, in[0].type(), a);
    Shape out_shape = {g.N, g.C};
    for (int i = 2 - nsp; i < 2; ++i) out_shape.push_back(g.out[i]);
    Tensor out(in[0].dtype(), out_shape);
    dispatch_float(in[0].dtype(), [&]<class T>() { pool2d_kernel<T>(g, is_max, in[0].data<T>(), out.data<T>()); });
    return out;
  };
  return d;
}

// ---- pooling gradients (primitive ops, so that they can be differentiated again) ----

// Offset within its [H,W] plane of the first maximal element of window (oh, ow) (a NaN
// counts as maximal; padding never wins): where pool2d_kernel's max comes from.
template <class T>
int64_t window_argmax(const Geo& g, const T* plane, int64_t oh, int64_t ow) {
  const int64_t H = g.in[0], W = g.in[1];
  int64_t best = -1;
  double m = 0;
  for (int64_t kh = 0; kh < g.k[0]; ++kh) {
    int64_t ih = oh * g.s[0] - g.p[0] + kh;
    if (ih < 0 || ih >= H) continue;
    for (int64_t kw = 0; kw < g.k[1]; ++kw) {
      int64_t iw = ow * g.s[1] - g.p[1] + kw;
      if (iw < 0 || iw >= W) continue;
      double v = double(plane[ih * W + iw]);
      if (best < 0 || (!std::isnan(m) && (v > m || std::isnan(v)))) {
        best = ih * W + iw;
        m = v;
      }
    }
  }
  return best;
}

enum class PoolGrad { MaxGrad, MaxGather, AvgGrad };

// maxpool_grad:   dx[argmax of window w] += dy[w]           (x, dy) -> shape of x
// maxpool_gather: out[w] = v[argmax of window w]            (x, v)  -> pooled shape
// avgpool_grad:   dx[i] += dy[w] / (KH*KW) for i in window w  (dy)  -> [N,C,*input_size]
template <class T>
void pool_grad_kernel(const Geo& g, PoolGrad kind, const T* x, const T* in, T* out) {
  const int64_t H = g.in[0], W = g.in[1], OH = g.out[0], OW = g.out[1];
  const int64_t plane = H * W, oplane = OH * OW;
  std::vector<double> acc(size_t(kind == PoolGrad::MaxGather ? 0 : g.N * g.C * plane), 0.0);
  for (int64_t nc = 0; nc < g.N * g.C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t o = nc * oplane + oh * OW + ow;
        if (kind == PoolGrad::AvgGrad) {
          double v = double(in[o]) / double(g.k[0] * g.k[1]);
          for (int64_t kh = 0; kh < g.k[0]; ++kh) {
            int64_t ih = oh * g.s[0] - g.p[0] + kh;
            if (ih < 0 || ih >= H) continue;
            for (int64_t kw = 0; kw < g.k[1]; ++kw) {
              int64_t iw = ow * g.s[1] - g.p[1] + kw;
              if (iw >= 0 && iw < W) acc[size_t(nc * plane + ih * W + iw)] += v;
            }
          }
          continue;
        }
        int64_t at = nc * plane + window_argmax(g, x + nc * plane, oh, ow);
        if (kind == PoolGrad::MaxGather)
          out[o] = in[at];
        else
          acc[size_t(at)] += double(in[o]);
      }
  if (kind != PoolGrad::MaxGather)
    for (size_t i = 0; i < acc.size(); ++i) out[i] = T(acc[i]);
}

std::string pool_name(bool is_max, int nsp) {
  return std::string(is_max ? "maxpool" : "avgpool") + (nsp == 1 ? "1d" : "2d");
}

void require_type(const std::string& op, const TensorType& t, const TensorType& want, const char* what,
                  const InferCtx& ctx) {
  if (t != want) throw OpError(fmt::format("{}: {} must be {}, got {}", op, what, ctx.t(want), ctx.t(t)));
}

// The pooled input type of avgpool_grad: [N, C, *input_size] from dy [N, C, ...].
TensorType avgpool_grad_input(const std::string& op, int nsp, const TensorType& dy, const Attrs& a,
                              const InferCtx& ctx) {
  require_rank(op, dy, nsp + 2, ctx, "dy");
  require_float(op, dy, ctx);
  const Ints& size = attr_ints(a, "input_size");
  if (int(size.size()) != nsp)
    throw OpError(
        fmt::format("{}: input_size must have one value per spatial dim ({}), got {}", op, nsp, ints_str(size)));
  TensorType x{dy.dtype, {dy.shape[0], dy.shape[1]}};
  for (int64_t v : size) {
    if (!is_sym(v) && v < 1) throw OpError(fmt::format("{}: input_size must be positive, got {}", op, ints_str(size)));
    x.shape.push_back(v);
  }
  return x;
}

Attrs without(Attrs a, const std::string& name) {
  a.erase(name);
  return a;
}

OpDef pool_grad_op(PoolGrad kind, int nsp) {
  std::string fwd = pool_name(kind != PoolGrad::AvgGrad, nsp);
  OpDef d;
  d.name = fwd + (kind == PoolGrad::MaxGather ? "_gather" : "_grad");
  d.attrs = {{"kernel", AttrKind::Ints, std::nullopt},
             {"stride", AttrKind::Ints, Ints{}},
             {"padding", AttrKind::Ints, Ints{0}}};
  std::string name = d.name;
  switch (kind) {
    case PoolGrad::MaxGrad:
      d.inputs = {"x", "dy"};
      d.doc = "gradient of " + fwd + ": each window's dy added at its first maximal element of x (shape of x)";
      break;
    case PoolGrad::MaxGather:
      d.inputs = {"x", "v"};
      d.doc = "v (shaped like x) read at each window's first maximal element of x (pooled shape; adjoint of " + fwd +
              "_grad)";
      break;
    case PoolGrad::AvgGrad:
      d.inputs = {"dy"};
      d.attrs.push_back({"input_size", AttrKind::Ints, std::nullopt});
      d.doc = "gradient of " + fwd + ": each window's dy spread evenly over it, into [N,C,*input_size]";
      break;
  }
  d.infer = [name, nsp, kind](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    TensorType x = kind == PoolGrad::AvgGrad ? avgpool_grad_input(name, nsp, in[0], a, ctx) : in[0];
    TensorType pooled{x.dtype, pool_shape(name, nsp, x, a, ctx)};
    switch (kind) {
      case PoolGrad::MaxGrad:
        require_type(name, in[1], pooled, "dy", ctx);
        return x;
      case PoolGrad::MaxGather:
        require_type(name, in[1], x, "v", ctx);
        return pooled;
      case PoolGrad::AvgGrad:
        require_type(name, in[0], pooled, "dy", ctx);
        return x;
    }
    return x;
  };
  d.ref = [name, nsp, kind](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    TensorType x =
        kind == PoolGrad::AvgGrad ? avgpool_grad_input(name, nsp, in[0].type(), a, InferCtx{}) : in[0].type();
    Geo g = pool_geo(name, nsp, x, a);
    Shape out_shape = x.shape;
    if (kind == PoolGrad::MaxGather) out_shape = pool_shape(name, nsp, x, a, InferCtx{});
    Tensor out(x.dtype, out_shape);
    const Tensor& src = kind == PoolGrad::AvgGrad ? in[0] : in[1];
    dispatch_float(x.dtype, [&]<class T>() {
      const T* xp = kind == PoolGrad::AvgGrad ? nullptr : in[0].data<T>();
      pool_grad_kernel<T>(g, kind, xp, src.data<T>(), out.data<T>());
    });
    return out;
  };
  // All three are linear in their last input; the argmax positions are piecewise constant
  // in x, which gets no gradient.
  d.grad = [nsp, kind](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    switch (kind) {
      case PoolGrad::MaxGrad:
        return {kNoGrad, b.op(pool_name(true, nsp) + "_gather", {n.inputs[0], dy}, n.attrs)};
      case PoolGrad::MaxGather:
        return {kNoGrad, b.op(pool_name(true, nsp) + "_grad", {n.inputs[0], dy}, n.attrs)};
      case PoolGrad::AvgGrad:
        return {b.op(pool_name(false, nsp), {dy}, without(n.attrs, "input_size"))};
    }
    return {kNoGrad};
  };
  return d;
}

// maxpool: dx = maxpool_grad(x, dy) (routes each window's dy to its first maximum, like
// PyTorch); avgpool (linear): dx = avgpool_grad(dy), its adjoint.
GradFn pool_grad(int nsp, bool is_max) {
  return [nsp, is_max](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    int x = n.inputs[0];
    if (is_max) return {b.op(pool_name(true, nsp) + "_grad", {x, dy}, n.attrs)};
    Shape xs = b.shape(x);
    Attrs a = n.attrs;
    a["input_size"] = Ints(xs.begin() + 2, xs.end());
    return {b.op(pool_name(false, nsp) + "_grad", {dy}, a)};
  };
}

// ---- convolution gradients -------------------------------------------------------

std::string conv_name(int nsp, bool transpose) {
  return std::string(transpose ? "conv_transpose" : "conv") + (nsp == 1 ? "1d" : "2d");
}

int slice_axis(GraphBuilder& b, int x, int axis, int64_t start, int64_t end, int64_t step = 1) {
  return b.op("slice", {x}, {{"axis", int64_t(axis)}, {"start", start}, {"end", end}, {"step", step}});
}

// x [N,C,*] brought to spatial lengths `len`: cut to the leading elements where longer,
// zero-padded at the end where shorter.
int fit_spatial(GraphBuilder& b, int x, const Ints& len) {
  Ints pads(2 * (len.size() + 2), 0);
  bool short_ = false;
  for (size_t i = 0; i < len.size(); ++i) {
    Dim have = b.shape(x)[2 + i];
    if (have == len[i]) continue;
    if (is_sym(have) || is_sym(len[i])) {  // only a static difference can be cut or padded
      Dim extra = b.dims().sub(have, len[i]);
      if (is_sym(extra))
        throw OpError(fmt::format("cannot fit {} to length {} along dim {}: the difference is not static",
                                  type_str(b.type(x), &b.g.symbols), dim_str(len[i], &b.g.symbols), 2 + i));
      if (extra > 0) x = slice_axis(b, x, int(2 + i), 0, len[i]);
      if (extra < 0) pads[2 * (2 + i) + 1] = -extra, short_ = true;
      continue;
    }
    if (have > len[i]) x = slice_axis(b, x, int(2 + i), 0, len[i]);
    if (have < len[i]) pads[2 * (2 + i) + 1] = len[i] - have, short_ = true;
  }
  return short_ ? b.op("pad", {x}, {{"pads", pads}}) : x;
}

// The adjoint of "x -> conv(x, w)" applied to dy, shaped like x:
// dx[n,c,i] = sum_{o,t,k: i = t*s-p+k*d} dy[n,o,t] w[o,c,k]. That is a conv_transpose whose
// output_padding restores x's lengths — always possible when dy is the output of that
// conv. Other lengths (the gradient of conv*_weight_grad, whose dy is free) take the
// transposed conv without padding, cut at p and fitted to x.
int conv_adjoint(GraphBuilder& b, int nsp, int dy, int w, const SpatialAttrs& sa, int x) {
  Shape xs = b.shape(x), ys = b.shape(dy), ws = b.shape(w);
  Ints opad, L(xs.begin() + 2, xs.end());
  bool direct = true;
  for (int i = 0; i < nsp; ++i) {
    if (is_sym(ys[2 + i]) || is_sym(L[i])) {
      // dy must be the conv's output over x: then the extra is (L + 2p - span) mod s,
      // a derived dim that the transposed conv's shape rule turns back into L.
      InferCtx d = b.dims();
      Dim want = window_out_len("conv", L[i], ws[2 + i], sa.stride[i], sa.pad[i], sa.pad[i], sa.dil[i], d);
      if (want != ys[2 + i])
        throw OpError(
            fmt::format("the adjoint of a convolution over the symbolic length {} needs dy of the "
                        "convolution's output length {}, got {}",
                        dim_str(L[i], &b.g.symbols), dim_str(want, &b.g.symbols), dim_str(ys[2 + i], &b.g.symbols)));
      Dim covered = d.add(d.mul(d.sub(ys[2 + i], 1), sa.stride[i]), sa.dil[i] * (ws[2 + i] - 1) + 1 - 2 * sa.pad[i]);
      opad.push_back(d.sub(L[i], covered));
      continue;
    }
    int64_t span = (ys[2 + i] - 1) * sa.stride[i] + sa.dil[i] * (ws[2 + i] - 1) + 1;  // with no padding
    if (span <= sa.pad[i]) return b.zeros_like(x);  // every tap lands in the left padding
    int64_t extra = L[i] - (span - 2 * sa.pad[i]);
    direct &= extra >= 0 && (extra < sa.stride[i] || extra < sa.dil[i]);
    opad.push_back(extra);
  }
  Attrs a = {{"stride", sa.stride}, {"dilation", sa.dil}, {"groups", sa.groups}};
  if (direct) {
    a["padding"] = sa.pad;
    a["output_padding"] = opad;
    return b.op(conv_name(nsp, true), {dy, w}, a);
  }
  a["padding"] = Ints(size_t(nsp), 0);
  a["output_padding"] = Ints(size_t(nsp), 0);
  int r = b.op(conv_name(nsp, true), {dy, w}, a);  // position j holds x's index j - p
  for (int i = 0; i < nsp; ++i)
    if (sa.pad[i] > 0) r = slice_axis(b, r, 2 + i, sa.pad[i], b.shape(r)[2 + i]);
  return fit_spatial(b, r, L);
}

// r[q,p,k] = sum_{n,t} A[n,p, k*d - pad + t*s] * B[n,q,t]: the weight gradient of both
// conv kinds, shape [Q,P/groups,*K] (p within q's group).
int weight_grad(GraphBuilder& b, int A, int B, const SpatialAttrs& sa, const Ints& K) {
  const int nsp = int(K.size());
  return b.op(nsp == 1 ? "conv1d_weight_grad" : "conv2d_weight_grad", {A, B},
              {{"kernel", K}, {"stride", sa.stride}, {"padding", sa.pad}, {"dilation", sa.dil}, {"groups", sa.groups}});
}

// conv*_weight_grad is bilinear in (A, B). With R as a conv weight [Q,P,*K]:
// dA[n,p,i] = sum_{q,t,k: i = t*s-pad+k*d} dR[q,p,k] B[n,q,t], the conv adjoint of B by dR;
// dB[n,q,t] = sum_{p,k} dR[q,p,k] A[n,p,t*s-pad+k*d], the conv of A with dR (fitted to T).
GradFn weight_grad_grad(int nsp) {
  return [nsp](GraphBuilder& b, const Node& n, int, int dr) -> std::vector<int> {
    int A = n.inputs[0], B = n.inputs[1];
    SpatialAttrs sa = conv_attrs(n.op->name, n.attrs, nsp, false);
    Ints k = per_dim(n.op->name, n.attrs, "kernel", nsp);
    Shape as = b.shape(A), bs = b.shape(B);
    Ints LB(bs.begin() + 2, bs.end()), grow(LB.size());
    for (int i = 0; i < nsp; ++i)                   // A's length at which the conv has (at least) LB windows
      grow[i] = is_sym(as[2 + i]) || is_sym(LB[i])  // then B is the conv's output over A (conv_adjoint checks)
                    ? as[2 + i]
                    : std::max(as[2 + i], (LB[i] - 1) * sa.stride[i] + sa.dil[i] * (k[i] - 1) + 1 - 2 * sa.pad[i]);
    int dB = b.op(conv_name(nsp, false), {fit_spatial(b, A, grow), dr},
                  {{"stride", sa.stride}, {"padding", sa.pad}, {"dilation", sa.dil}, {"groups", sa.groups}});
    return {conv_adjoint(b, nsp, B, dr, sa, A), fit_spatial(b, dB, LB)};
  };
}

GradFn conv_grad(std::string name, int nsp, bool transpose) {
  return [name, nsp, transpose](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    int x = n.inputs[0], w = n.inputs[1];
    SpatialAttrs sa = conv_attrs(name, n.attrs, nsp, transpose);
    Shape xs = b.shape(x), ws = b.shape(w);
    Ints L(xs.begin() + 2, xs.end()), K(ws.begin() + 2, ws.end());
    if (!transpose) {
      // y[n,o,t] = sum_{c,k} x[n,c,t*s-p+k*d] w[o,c,k]: dx is the adjoint (a transposed
      // conv of dy with w), dw[o,c,k] = sum_{n,t} dy[n,o,t] x[n,c,t*s-p+k*d].
      return {conv_adjoint(b, nsp, dy, w, sa, x), weight_grad(b, x, dy, sa, K)};
    }
    // y[n,o,i*s-p+k*d] += x[n,c,i] w[c,o,k]. dx[n,c,i] = sum_{o,k} dy[n,o,i*s-p+k*d] w[c,o,k]:
    // the conv of dy with w (length L + floor(output_padding/s), cut to L);
    // dw[c,o,k] = sum_{n,i} dy[n,o,i*s-p+k*d] x[n,c,i].
    Attrs a = {{"stride", sa.stride}, {"padding", sa.pad}, {"dilation", sa.dil}, {"groups", sa.groups}};
    int dx = fit_spatial(b, b.op(conv_name(nsp, false), {dy, w}, a), L);
    return {dx, weight_grad(b, dy, x, sa, K)};
  };
}

OpDef with_grad(OpDef d, GradFn g) {
  d.grad = std::move(g);
  return d;
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add(with_grad(
      conv_op("conv1d", 1, false, "1-D convolution (cross-correlation): x [N,C,L], w [O,C/groups,K] -> [N,O,Lout]"),
      conv_grad("conv1d", 1, false)));
  r.add(with_grad(conv_op("conv2d", 2, false,
                          "2-D convolution (cross-correlation): x [N,C,H,W], w [O,C/groups,KH,KW] -> [N,O,Ho,Wo]"),
                  conv_grad("conv2d", 2, false)));
  r.add(with_grad(
      conv_op("conv_transpose1d", 1, true,
              "1-D transposed convolution (PyTorch ConvTranspose1d): x [N,C,L], w [C,O/groups,K] -> [N,O,Lout]"),
      conv_grad("conv_transpose1d", 1, true)));
  r.add(with_grad(
      conv_op("conv_transpose2d", 2, true,
              "2-D transposed convolution (PyTorch ConvTranspose2d): x [N,C,H,W], w [C,O/groups,KH,KW] -> [N,O,Ho,Wo]"),
      conv_grad("conv_transpose2d", 2, true)));
  r.add(with_grad(pool_op("maxpool1d", 1, true,
                          "1-D max pooling over [N,C,L] (padding is -inf, floor mode; a NaN in a window gives NaN)"),
                  pool_grad(1, true)));
  r.add(with_grad(pool_op("maxpool2d", 2, true,
                          "2-D max pooling over [N,C,H,W] (padding is -inf, floor mode; a NaN in a window gives NaN)"),
                  pool_grad(2, true)));
  r.add(with_grad(pool_op("avgpool1d", 1, false, "1-D average pooling over [N,C,L] (zero padding counted, floor mode)"),
                  pool_grad(1, false)));
  r.add(
      with_grad(pool_op("avgpool2d", 2, false, "2-D average pooling over [N,C,H,W] (zero padding counted, floor mode)"),
                pool_grad(2, false)));
  for (int nsp : {1, 2}) {
    r.add(with_grad(weight_grad_op(nsp), weight_grad_grad(nsp)));
    r.add(pool_grad_op(PoolGrad::MaxGrad, nsp));
    r.add(pool_grad_op(PoolGrad::MaxGather, nsp));
    r.add(pool_grad_op(PoolGrad::AvgGrad, nsp));
  }
}

}  // namespace starc
