// Lowerings of the convolution and pooling ops (compiler/ops/conv.cpp), 1-D and 2-D.
//
// The convolutions call the kernel library (kernels/starc_kernels.h: BLAS GEMM,
// im2col/col2im), as XLA:CPU calls Eigen; the loops MLIR would make of them run 20-60x
// below the machine's peak (docs/toolchain.md).
// conv        starc_conv (im2col + GEMM per sample).
// conv_transpose  starc_conv_adjoint: the adjoint of the conv whose output is x (GEMM
//             with the weight transposed, then col2im).
// conv*_weight_grad  starc_conv_weight_grad (im2col + GEMM, accumulated over the batch).
// A conv op whose algo attribute the conv_algo pass set to "fft" calls the *_fft kernel
// instead (kernels/starc_fft_conv.c: FFTW, channel mixing per frequency).
// maxpool     a linalg.generic over (n, c, out..., k...) on the -inf-padded input with the
//             reference's scalar rule (NaN wins and stays, ties keep the first).
// avgpool     linalg.pooling_ncw_sum / pooling_nchw_sum on the zero-padded input, / prod(k).
// maxpool*_gather  one window generic with several outputs: running max, index of the
//             first maximum (a validity mask keeps the padding from winning) and v there.
// maxpool*_grad / avgpool*_grad  scatters written as gathers: the per-window values (dy at
//             the argmax, dy / prod(k)) are zero-inserted with stride s (tensor.insert_slice)
//             so that dx[i] = sum_k z[i + p - k + K-1] (and, for max, only where the
//             window's argmax is k) is an affine generic with a reduction over k.
// Accumulation is in the element type (the reference sums in double), so long f32
// reductions differ from it by rounding only.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"

namespace starc {
namespace {

using namespace lower_util;

// Attribute `name` as one value per spatial dim (the op's shape rule has checked it).
Ints per_dim(const Attrs& a, const std::string& name, int nsp, const Ints* if_empty = nullptr) {
  const Ints& v = attr_ints(a, name);
  if (v.empty() && if_empty) return *if_empty;
  if (int(v.size()) == nsp) return v;
  if (v.size() == 1) return Ints(size_t(nsp), v[0]);
  throw EmitError(fmt::format("'{}' takes 1 or {} values, got {}", name, nsp, v.size()));
}

// x padded by lo/hi (per dim of x) with the constant v; *out_t gets the padded type.
std::string pad(E e, const std::string& x, const TensorType& xt, const Ints& lo, const Ints& hi, double v,
                TensorType* out_t) {
  TensorType pt = xt;
  bool any = false;
  for (size_t i = 0; i < xt.shape.size(); ++i) {
    pt.shape[i] += lo[i] + hi[i];
    any |= lo[i] != 0 || hi[i] != 0;
  }
  *out_t = pt;
  if (!any) return x;
  std::string c = e.constant_scalar(v, xt.dtype);
  std::string r = e.fresh("pad");
  e.line(fmt::format("{} = tensor.pad {} low[{}] high[{}] {{", r, x, join_ints(lo), join_ints(hi)));
  std::string args;
  for (size_t i = 0; i < xt.shape.size(); ++i) args += fmt::format("{}{}: index", i ? ", " : "", e.fresh("i"));
  e.line(fmt::format("^bb0({}):", args));
  e.line(fmt::format("  tensor.yield {} : {}", c, el(xt.dtype)));
  e.line(fmt::format("}} : {} to {} {}", tt(xt), tt(pt), e.loc()));
  return r;
}

// x [N,C,*L] spatially padded by lo/hi (spatial entries only) with v.
std::string pad_spatial(E e, const std::string& x, const TensorType& xt, const Ints& lo, const Ints& hi, double v,
                        TensorType* out_t) {
  Ints l = {0, 0}, h = {0, 0};
  l.insert(l.end(), lo.begin(), lo.end());
  h.insert(h.end(), hi.begin(), hi.end());
  return pad(e, x, xt, l, h, v, out_t);
}

// `src` written into `dst` at offsets with strides (sizes = src's shape).
std::string insert_slice(E e, const std::string& src, const TensorType& st, const std::string& dst,
                         const TensorType& dt, const Ints& offsets, const Ints& strides) {
  std::string r = e.fresh("ins");
  e.line(fmt::format("{} = tensor.insert_slice {} into {}[{}] [{}] [{}] : {} into {} {}", r, src, dst,
                     join_ints(offsets), join_ints(st.shape), join_ints(strides), tt(st), tt(dt), e.loc()));
  return r;
}

// A linalg.generic with several outputs; returns the result values. `body` gets the block
// arguments (inputs..., outputs...) and returns one yielded value per output.
struct Out {
  std::string init;
  TensorType type;
  std::string map;
};
using MultiBody = std::function<std::vector<std::string>(E, Args)>;
std::vector<std::string> generic_n(E e, const std::vector<MlirEmitter::GenericIn>& ins, const std::vector<Out>& outs,
                                   const std::vector<std::string>& iterators, const MultiBody& body) {
  std::vector<std::string> maps, in_vals, in_types, out_vals, out_types, its, args, block_args, elems;
  for (auto& in : ins) {
    maps.push_back(fmt::format("affine_map<{}>", in.map));
    in_vals.push_back(in.value);
    in_types.push_back(tt(in.type));
  }
  for (auto& o : outs) {
    maps.push_back(fmt::format("affine_map<{}>", o.map));
    out_vals.push_back(o.init);
    out_types.push_back(tt(o.type));
    elems.push_back(el(o.type.dtype));
  }
  for (auto& it : iterators) its.push_back(fmt::format("\"{}\"", it));
  std::string name = e.fresh("g");
  std::string lhs = outs.size() == 1 ? name : fmt::format("{}:{}", name, outs.size());
  e.line(
      fmt::format("{} = linalg.generic {{indexing_maps = [{}], iterator_types = [{}]}} ins({} : {}) outs({} : {}) {{",
                  lhs, fmt::join(maps, ", "), fmt::join(its, ", "), fmt::join(in_vals, ", "), fmt::join(in_types, ", "),
                  fmt::join(out_vals, ", "), fmt::join(out_types, ", ")));
  for (size_t i = 0; i < ins.size() + outs.size(); ++i) {
    std::string a = e.fresh("a");
    DType dt = i < ins.size() ? ins[i].type.dtype : outs[i - ins.size()].type.dtype;
    block_args.push_back(fmt::format("{}: {}", a, el(dt)));
    args.push_back(a);
  }
  e.line(fmt::format("^bb0({}):", fmt::join(block_args, ", ")));
  e.indent(2);
  std::vector<std::string> ys = body(e, args);
  e.line(fmt::format("linalg.yield {} : {}", fmt::join(ys, ", "), fmt::join(elems, ", ")));
  e.indent(-2);
  std::string rt = outs.size() == 1 ? out_types[0] : "(" + fmt::format("{}", fmt::join(out_types, ", ")) + ")";
  e.line(fmt::format("}} -> {} {}", rt, e.loc()));
  if (outs.size() == 1) return {name};
  std::vector<std::string> rs;
  for (size_t i = 0; i < outs.size(); ++i) rs.push_back(fmt::format("{}#{}", name, i));
  return rs;
}

std::string index_const(E e, int64_t v) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.constant {} : index", r, v));
  return r;
}

// Inside a generic whose loops `loops` run over the kernel dims k: the linear window
// position sum_i k_i * prod(k_{i+1..}) as i64.
std::string window_pos(E e, const std::vector<int>& loops, const Ints& k) {
  std::string acc;
  for (size_t i = 0; i < k.size(); ++i) {
    std::string ix = e.fresh("s");
    e.line(fmt::format("{} = linalg.index {} : index", ix, loops[i]));
    acc =
        acc.empty() ? ix : op2(e, "arith.addi", op2(e, "arith.muli", acc, index_const(e, k[i]), "index"), ix, "index");
  }
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.index_cast {} : index to i64", r, acc));
  return r;
}
// ... whose loops first, first+1, ... run over them (the window generics).
std::string window_pos(E e, int first, const Ints& k) {
  std::vector<int> loops;
  for (size_t i = 0; i < k.size(); ++i) loops.push_back(first + int(i));
  return window_pos(e, loops, k);
}

// ---- convolution ------------------------------------------------------------------------

// The geometry of the forward conv that a kernel call works with (1-D ops: H = 1):
// x [n, groups*c, h, w], weight [groups*o, c, kh, kw], y [n, groups*o, oh, ow] (c and o
// count one group's channels).
struct ConvGeo {
  int64_t n = 0, c = 0, h = 1, w = 1, o = 0, kh = 1, kw = 1, oh = 1, ow = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1,
          dw = 1, groups = 1;
};

// The geometry with spatial sizes from the last nsp dims of x (conv input), k (kernel)
// and y (conv output); c and o are the channel counts of all groups together.
ConvGeo conv_geo(int nsp, int64_t n, int64_t c, int64_t o, int64_t groups, const Shape& x, const Shape& k,
                 const Shape& y, const Ints& s, const Ints& p, const Ints& d) {
  ConvGeo g;
  g.n = n, g.c = c / groups, g.o = o / groups, g.groups = groups;
  int64_t* in[2] = {&g.h, &g.w};
  int64_t* ker[2] = {&g.kh, &g.kw};
  int64_t* outs[2] = {&g.oh, &g.ow};
  int64_t* st[2] = {&g.sh, &g.sw};
  int64_t* pa[2] = {&g.ph, &g.pw};
  int64_t* di[2] = {&g.dh, &g.dw};
  for (int i = 0; i < nsp; ++i) {
    int slot = 2 - nsp + i;  // 1-D uses the W slot
    *in[slot] = x[x.size() - size_t(nsp - i)];
    *ker[slot] = k[k.size() - size_t(nsp - i)];
    *outs[slot] = y[y.size() - size_t(nsp - i)];
    *st[slot] = s[size_t(i)], *pa[slot] = p[size_t(i)], *di[slot] = d[size_t(i)];
  }
  return g;
}

// Calls starc_KIND_f32/f64(geometry, in0, in1, out) and binds what it wrote to `out`;
// with algo "fft" (set by the conv_algo pass) starc_KIND_fft_*, which takes the graph
// value of the weight (`site` >= 0: conv and conv_adjoint) as its spectrum-cache key.
void conv_kernel(E e, int id, const std::string& kind, const ConvGeo& g, const std::string& in0, const TensorType& t0,
                 const std::string& in1, const TensorType& t1, bool fft, int site) {
  const TensorType& out = e.type(id);
  std::vector<std::string> args;
  for (int64_t v : {g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.groups})
    args.push_back(e.i64(v));
  if (fft && site >= 0) args.push_back(e.i64(site));
  args.push_back(e.address(in0, t0));
  args.push_back(e.address(in1, t1));
  std::string out_addr, buf = e.alloc_buffer(out, &out_addr);
  args.push_back(out_addr);
  e.call_kernel(kind + (fft ? "_fft" : "") + (out.dtype == DType::F64 ? "_f64" : "_f32"), args);
  e.bind(id, e.tensor_of(buf, out));
}

bool use_fft(const Node& n) { return n.attrs.count("algo") && attr_str(n.attrs, "algo") == "fft"; }

LowerFn conv(int nsp, bool transpose) {
  return [nsp, transpose](E e, const Node& n, int id) {
    const TensorType &xt = e.type(n.inputs[0]), &wt = e.type(n.inputs[1]), &out = n.type;
    Ints s = per_dim(n.attrs, "stride", nsp), p = per_dim(n.attrs, "padding", nsp),
         d = per_dim(n.attrs, "dilation", nsp);
    const int64_t groups = attr_int(n.attrs, "groups");
    std::string x = e.val(n.inputs[0]), w = e.val(n.inputs[1]);
    if (!transpose) {  // y = conv(x, w): x [N,C,*L], w [O,C/groups,*K]
      ConvGeo g = conv_geo(nsp, xt.shape[0], xt.shape[1], out.shape[1], groups, xt.shape, wt.shape, out.shape, s, p, d);
      conv_kernel(e, id, "conv", g, x, xt, w, wt, use_fft(n), n.inputs[1]);
      return;
    }
    // y = conv_transpose(x, w), x [N,C,*L], w [C,O/groups,*K]: the adjoint of the conv
    // from y (channels O) to x (channels C) whose weight is w read as [C, O/groups, *K].
    ConvGeo g = conv_geo(nsp, xt.shape[0], out.shape[1], xt.shape[1], groups, out.shape, wt.shape, xt.shape, s, p, d);
    conv_kernel(e, id, "conv_adjoint", g, x, xt, w, wt, use_fft(n), n.inputs[1]);
  };
}

// r[q,p,k] = sum_{n,t} x[n,p,k*d - pad + t*s] dy[n,q,t]: the weight gradient of the conv
// from x (channels P) to dy (channels Q).
LowerFn conv_weight_grad(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    const TensorType &xt = e.type(n.inputs[0]), &dyt = e.type(n.inputs[1]);
    Ints k = per_dim(n.attrs, "kernel", nsp), s = per_dim(n.attrs, "stride", nsp), p = per_dim(n.attrs, "padding", nsp),
         d = per_dim(n.attrs, "dilation", nsp);
    ConvGeo g = conv_geo(nsp, xt.shape[0], xt.shape[1], dyt.shape[1], attr_int(n.attrs, "groups"), xt.shape,
                         Shape(k.begin(), k.end()), dyt.shape, s, p, d);
    conv_kernel(e, id, "conv_weight_grad", g, e.val(n.inputs[0]), xt, e.val(n.inputs[1]), dyt, use_fft(n), -1);
  };
}

// ---- pooling -------------------------------------------------------------------------------

struct Pool {
  int nsp;
  Ints k, s, p;
};

Pool pool_attrs(const Node& n, int nsp) {
  Pool P{nsp, per_dim(n.attrs, "kernel", nsp), {}, per_dim(n.attrs, "padding", nsp)};
  P.s = per_dim(n.attrs, "stride", nsp, &P.k);
  return P;
}

// Window loops: (n, c, out_0.., k_0..). Map of the padded input: (n, c, o_i*s_i + k_i).
std::string window_in_map(const Pool& P) {
  const int rank = 2 + 2 * P.nsp;
  std::vector<std::string> r = {dim(0), dim(1)};
  for (int i = 0; i < P.nsp; ++i) r.push_back(fmt::format("d{} * {} + d{}", 2 + i, P.s[i], 2 + P.nsp + i));
  return amap(rank, r);
}
std::string window_out_map(const Pool& P) {
  std::vector<std::string> r;
  for (int i = 0; i < 2 + P.nsp; ++i) r.push_back(dim(i));
  return amap(2 + 2 * P.nsp, r);
}
// The shape-only operand that gives the kernel loops their extent.
MlirEmitter::GenericIn window_operand(E e, const Pool& P, DType dt) {
  TensorType wt{dt, Shape(P.k.begin(), P.k.end())};
  std::vector<std::string> r;
  for (int i = 0; i < P.nsp; ++i) r.push_back(dim(2 + P.nsp + i));
  return {e.empty(wt), wt, amap(2 + 2 * P.nsp, r)};
}

// The reference's max step: take v when m is not NaN and (v > m or v is NaN).
std::string max_takes(E e, const std::string& v, const std::string& m, DType dt) {
  return op2(e, "arith.andi", cmpf(e, "ord", m, m, dt), cmpf(e, "ugt", v, m, dt), "i1");
}

// Small unpadded windows are unrolled: one all-parallel generic over (n, c, out...) whose
// inputs are x at each window position, in window_pos order, so every output is written
// once and the loop over outputs vectorises (a reduction loop over 2-4 taps does not).
constexpr int64_t kMaxUnrolledWindow = 16;
bool unroll_window(const Pool& P) {
  int64_t taps = 1;
  for (int i = 0; i < P.nsp; ++i) taps *= P.k[i];
  return taps <= kMaxUnrolledWindow && std::all_of(P.p.begin(), P.p.end(), [](int64_t q) { return q == 0; });
}
std::vector<MlirEmitter::GenericIn> window_taps(const Pool& P, const std::string& x, const TensorType& xt) {
  std::vector<MlirEmitter::GenericIn> taps;
  Ints at(size_t(P.nsp), 0);
  for (;;) {
    std::vector<std::string> r = {dim(0), dim(1)};
    for (int i = 0; i < P.nsp; ++i) r.push_back(fmt::format("d{} * {} + {}", 2 + i, P.s[i], at[size_t(i)]));
    taps.push_back({x, xt, amap(2 + P.nsp, r)});
    int i = P.nsp - 1;
    while (i >= 0 && ++at[size_t(i)] == P.k[i]) at[size_t(i--)] = 0;
    if (i < 0) return taps;
  }
}

LowerFn maxpool(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    Pool P = pool_attrs(n, nsp);
    const TensorType& xt = e.type(n.inputs[0]);
    const DType dt = n.type.dtype;
    if (unroll_window(P)) {
      auto taps = window_taps(P, e.val(n.inputs[0]), xt);
      e.bind(id, e.generic(taps, e.empty(n.type), n.type, MlirEmitter::identity_map(2 + nsp), iters(2 + nsp, 0),
                           [&](E e, Args a) {
                             std::string m = a[0];
                             for (size_t t = 1; t < taps.size(); ++t)
                               m = select(e, max_takes(e, a[t], m, dt), a[t], m, el(dt));
                             return m;
                           }));
      return;
    }
    TensorType pt;
    std::string xp = pad_spatial(e, e.val(n.inputs[0]), xt, P.p, P.p, -std::numeric_limits<double>::infinity(), &pt);
    std::string init = e.fill(-std::numeric_limits<double>::infinity(), n.type);
    e.bind(id, e.generic({{xp, pt, window_in_map(P)}, window_operand(e, P, dt)}, init, n.type, window_out_map(P),
                         iters(2 + nsp, nsp),
                         [dt](E e, Args a) { return select(e, max_takes(e, a[0], a[2], dt), a[0], a[2], el(dt)); }));
  };
}

LowerFn avgpool(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    Pool P = pool_attrs(n, nsp);
    const TensorType& xt = e.type(n.inputs[0]);
    const DType dt = n.type.dtype;
    TensorType pt;
    std::string xp = pad_spatial(e, e.val(n.inputs[0]), xt, P.p, P.p, 0, &pt);
    TensorType wt{dt, Shape(P.k.begin(), P.k.end())};
    std::string win = e.empty(wt), init = e.fill(0, n.type), sum = e.fresh("pool");
    e.line(
        fmt::format("{} = linalg.{} {{dilations = dense<1> : tensor<{}xi64>, strides = dense<[{}]> : tensor<{}xi64>}} "
                    "ins({}, {} : {}, {}) outs({} : {}) -> {} {}",
                    sum, nsp == 1 ? "pooling_ncw_sum" : "pooling_nchw_sum", nsp, join_ints(P.s), nsp, xp, win, tt(pt),
                    tt(wt), init, tt(n.type), tt(n.type), e.loc()));
    double count = double(product(Shape(P.k.begin(), P.k.end())));
    std::string div = e.generic({{sum, n.type, MlirEmitter::identity_map(n.type.rank())}}, e.empty(n.type), n.type,
                                MlirEmitter::identity_map(n.type.rank()), iters(n.type.rank(), 0), [&](E e, Args a) {
                                  return op2(e, "arith.divf", a[0], e.constant_scalar(count, dt), el(dt));
                                });
    e.bind(id, div);
  };
}

// For each window of x [N,C,*L] (pool P): the position (linear within the window, i64)
// of its first maximal element, as the reference's window_argmax (padding never wins),
// and, when v (shaped like x) is given, v at that position. Returns {idx[, v_at]}.
std::vector<std::string> window_argmax(E e, const Pool& P, const std::string& x, const TensorType& xt,
                                       const std::string* v, const TensorType& pooled) {
  const DType dt = xt.dtype;
  if (unroll_window(P)) {
    // The reference's fold over the window in order: the first tap starts it (as idx < 0
    // does below), each later one takes over when max_takes says so.
    std::vector<MlirEmitter::GenericIn> ins = window_taps(P, x, xt);
    const size_t ntaps = ins.size();
    if (v) {
      auto vt = window_taps(P, *v, xt);
      ins.insert(ins.end(), vt.begin(), vt.end());
    }
    TensorType it{DType::I64, pooled.shape};
    const std::string om = MlirEmitter::identity_map(2 + P.nsp);
    std::vector<Out> outs = {{e.empty(it), it, om}};
    if (v) outs.push_back({e.empty(pooled), pooled, om});
    auto rs = generic_n(e, ins, outs, iters(2 + P.nsp, 0), [&](E e, Args a) {
      std::string m = a[0], idx = e.constant_scalar(0, DType::I64), vat = v ? a[ntaps] : "";
      for (size_t t = 1; t < ntaps; ++t) {
        std::string take = max_takes(e, a[t], m, dt);
        m = select(e, take, a[t], m, el(dt));
        idx = select(e, take, e.constant_scalar(double(t), DType::I64), idx, "i64");
        if (v) vat = select(e, take, a[ntaps + t], vat, el(dt));
      }
      if (v) return std::vector<std::string>{idx, vat};
      return std::vector<std::string>{idx};
    });
    return rs;
  }
  const double ninf = -std::numeric_limits<double>::infinity();
  bool padded = std::any_of(P.p.begin(), P.p.end(), [](int64_t q) { return q != 0; });
  TensorType pt;
  std::vector<MlirEmitter::GenericIn> ins = {{pad_spatial(e, x, xt, P.p, P.p, ninf, &pt), pt, window_in_map(P)}};
  if (padded) {
    // valid[n,c,*l] (batch and channel of size 1): true inside x, false in the padding.
    TensorType mt{DType::Bool, {1, 1}}, mp;
    for (int i = 0; i < P.nsp; ++i) mt.shape.push_back(xt.shape[size_t(2 + i)]);
    std::string ones = e.fresh("mask");
    e.line(fmt::format("{} = arith.constant dense<true> : {} {}", ones, tt(mt), e.loc()));
    std::string m = pad_spatial(e, ones, mt, P.p, P.p, 0, &mp);
    std::vector<std::string> r = {"0", "0"};
    for (int i = 0; i < P.nsp; ++i) r.push_back(fmt::format("d{} * {} + d{}", 2 + i, P.s[i], 2 + P.nsp + i));
    ins.push_back({m, mp, amap(2 + 2 * P.nsp, r)});
  }
  if (v) {
    TensorType vp;
    ins.push_back({pad_spatial(e, *v, xt, P.p, P.p, 0, &vp), vp, window_in_map(P)});
  }
  ins.push_back(window_operand(e, P, dt));
  TensorType it{DType::I64, pooled.shape};
  std::vector<Out> outs = {{e.fill(ninf, pooled), pooled, window_out_map(P)}, {e.fill(-1, it), it, window_out_map(P)}};
  if (v) outs.push_back({e.fill(0, pooled), pooled, window_out_map(P)});
  const int nin = int(ins.size());
  auto rs = generic_n(e, ins, outs, iters(2 + P.nsp, P.nsp), [&](E e, Args a) {
    const std::string &xv = a[0], &m = a[size_t(nin)], &idx = a[size_t(nin + 1)];
    std::string k = window_pos(e, 2 + P.nsp, P.k);
    std::string zero = e.fresh("s");
    e.line(fmt::format("{} = arith.constant 0 : i64", zero));
    std::string first = cmpi(e, "slt", idx, zero, "i64");
    std::string take = op2(e, "arith.ori", first, max_takes(e, xv, m, dt), "i1");
    if (padded) take = op2(e, "arith.andi", a[1], take, "i1");
    std::vector<std::string> ys = {select(e, take, xv, m, el(dt)), select(e, take, k, idx, "i64")};
    if (v) ys.push_back(select(e, take, a[size_t(padded ? 2 : 1)], a[size_t(nin + 2)], el(dt)));
    return ys;
  });
  if (v) return {rs[1], rs[2]};
  return {rs[1]};
}

// dx [N,C,*L] (type xt) from per-window values w [N,C,*Out] (type wt): dx[n,c,l] = sum over
// windows o and kernel positions k with o*s - p + k = l of the term term(w[o], idx[o], k),
// where idx (optional) is per-window i64 data and positions between windows read w = 0 and
// idx = -1. Both are zero-inserted: z[n,c, o*s + K-1] = w[n,c,o], so dx[l] = sum_k
// term(z[l + p - k + K-1], ...).
std::string window_scatter(E e, const Pool& P, const std::string& w, const TensorType& wt, const std::string* idx,
                           const TensorType& xt) {
  const DType dt = xt.dtype;
  const int nsp = P.nsp, rank = 2 + 2 * nsp;
  TensorType zt{dt, {xt.shape[0], xt.shape[1]}};
  Ints off = {0, 0}, strides = {1, 1};
  std::vector<std::string> zmap = {dim(0), dim(1)};
  for (int i = 0; i < nsp; ++i) {
    int64_t L = xt.shape[size_t(2 + i)];
    zt.shape.push_back(std::max(L + P.p[i] + P.k[i] - 1, (wt.shape[size_t(2 + i)] - 1) * P.s[i] + P.k[i]));
    off.push_back(P.k[i] - 1);
    strides.push_back(P.s[i]);
    zmap.push_back(fmt::format("d{} - d{} + {}", 2 + i, 2 + nsp + i, P.p[i] + P.k[i] - 1));
  }
  std::vector<MlirEmitter::GenericIn> ins = {
      {insert_slice(e, w, wt, e.fill(0, zt), zt, off, strides), zt, amap(rank, zmap)}};
  if (idx) {
    TensorType it{DType::I64, wt.shape}, izt{DType::I64, zt.shape};
    ins.push_back({insert_slice(e, *idx, it, e.fill(-1, izt), izt, off, strides), izt, amap(rank, zmap)});
  }
  ins.push_back(window_operand(e, P, dt));
  std::vector<std::string> om;
  for (int i = 0; i < 2 + nsp; ++i) om.push_back(dim(i));
  return e.generic(ins, e.fill(0, xt), xt, amap(rank, om), iters(2 + nsp, nsp), [&](E e, Args a) {
    std::string term = a[0];
    if (idx) {
      std::string k = window_pos(e, 2 + nsp, P.k);
      std::string hit = cmpi(e, "eq", a[1], k, "i64");
      term = select(e, hit, a[0], e.constant_scalar(0, dt), el(dt));
    }
    return op2(e, "arith.addf", a.back(), term, el(dt));
  });
}

// Windows that never overlap or pad (stride >= kernel, padding 0: every pooling layer of
// the stdlib) scatter without the zero-inserted tensors of window_scatter: dx is computed
// as [N, C, O'_0, s_0, O'_1, s_1] (O' = ceil(L / s) windows, the tail ones padded with
// w = 0 and idx = -1), each element reading its own window's w (and idx) once, then
// collapsed to [N, C, O'_0 s_0, ...] (a view) and, when O' s > L, sliced to x's shape.
bool windows_disjoint(const Pool& P) {
  for (int i = 0; i < P.nsp; ++i)
    if (P.s[i] < P.k[i] || P.p[i] != 0) return false;
  return true;
}

std::string disjoint_window_scatter(E e, const Pool& P, const std::string& w, const TensorType& wt,
                                    const std::string* idx, const TensorType& xt) {
  const DType dt = xt.dtype;
  const int nsp = P.nsp, rank = 2 + 2 * nsp;
  Ints lo(size_t(2 + nsp), 0), hi(size_t(2 + nsp), 0);
  TensorType full{dt, {xt.shape[0], xt.shape[1]}}, flat = full;  // [N,C,O'_0,s_0,...], [N,C,O'_0 s_0,...]
  std::string groups = "[[0], [1]";
  std::vector<std::string> wmap = {dim(0), dim(1)}, omap;
  bool sliced = false;
  for (int i = 0; i < nsp; ++i) {
    int64_t L = xt.shape[size_t(2 + i)], O = (L + P.s[i] - 1) / P.s[i];
    hi[size_t(2 + i)] = O - wt.shape[size_t(2 + i)];
    full.shape.push_back(O);
    full.shape.push_back(P.s[i]);
    flat.shape.push_back(O * P.s[i]);
    sliced |= O * P.s[i] != L;
    groups += fmt::format(", [{}, {}]", 2 + 2 * i, 3 + 2 * i);
    wmap.push_back(dim(2 + 2 * i));
  }
  groups += "]";
  for (int i = 0; i < rank; ++i) omap.push_back(dim(i));
  TensorType pt;
  std::vector<MlirEmitter::GenericIn> ins = {{pad(e, w, wt, lo, hi, 0, &pt), pt, amap(rank, wmap)}};
  if (idx) {
    TensorType it{DType::I64, wt.shape}, ipt;
    ins.push_back({pad(e, *idx, it, lo, hi, -1, &ipt), ipt, amap(rank, wmap)});
  }
  std::string dx = e.generic(ins, e.empty(full), full, amap(rank, omap), iters(rank, 0), [&](E e, Args a) {
    // take = every window offset j_i < k_i (only a stride > kernel leaves gaps) and, for
    // max, the offset is the window's argmax (numbered as window_argmax numbers it).
    std::string take;
    std::vector<int> offsets;
    for (int i = 0; i < nsp; ++i) {
      offsets.push_back(3 + 2 * i);
      if (P.s[i] == P.k[i]) continue;
      std::string j = e.fresh("s");
      e.line(fmt::format("{} = linalg.index {} : index", j, offsets.back()));
      std::string in = cmpi(e, "ult", j, index_const(e, P.k[i]), "index");
      take = take.empty() ? in : op2(e, "arith.andi", take, in, "i1");
    }
    if (idx) {
      std::string hit = cmpi(e, "eq", a[1], window_pos(e, offsets, P.k), "i64");
      take = take.empty() ? hit : op2(e, "arith.andi", take, hit, "i1");
    }
    return take.empty() ? a[0] : select(e, take, a[0], e.constant_scalar(0, dt), el(dt));
  });
  std::string r = e.fresh("v");
  e.line(fmt::format("{} = tensor.collapse_shape {} {} : {} into {} {}", r, dx, groups, tt(full), tt(flat), e.loc()));
  if (!sliced) return r;
  std::string s = e.fresh("v");
  e.line(fmt::format("{} = tensor.extract_slice {}[{}] [{}] [{}] : {} to {} {}", s, r,
                     join_ints(Ints(size_t(2 + nsp), 0)), join_ints(xt.shape), join_ints(Ints(size_t(2 + nsp), 1)),
                     tt(flat), tt(xt), e.loc()));
  return s;
}

// dx of a pooling layer from its per-window values w (and, for max, argmax idx).
std::string pool_scatter(E e, const Pool& P, const std::string& w, const TensorType& wt, const std::string* idx,
                         const TensorType& xt) {
  if (windows_disjoint(P)) return disjoint_window_scatter(e, P, w, wt, idx, xt);
  return window_scatter(e, P, w, wt, idx, xt);
}

LowerFn maxpool_grad(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    Pool P = pool_attrs(n, nsp);
    const TensorType &xt = e.type(n.inputs[0]), &dyt = e.type(n.inputs[1]);
    std::string idx = window_argmax(e, P, e.val(n.inputs[0]), xt, nullptr, dyt)[0];
    e.bind(id, pool_scatter(e, P, e.val(n.inputs[1]), dyt, &idx, xt));
  };
}

LowerFn maxpool_gather(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    Pool P = pool_attrs(n, nsp);
    std::string v = e.val(n.inputs[1]);
    e.bind(id, window_argmax(e, P, e.val(n.inputs[0]), e.type(n.inputs[0]), &v, n.type)[1]);
  };
}

LowerFn avgpool_grad(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    Pool P = pool_attrs(n, nsp);
    const TensorType& dyt = e.type(n.inputs[0]);
    const DType dt = dyt.dtype;
    double count = double(product(Shape(P.k.begin(), P.k.end())));
    std::string q = e.elementwise({n.inputs[0]}, dyt, [&](E e, Args a) {
      return op2(e, "arith.divf", a[0], e.constant_scalar(count, dt), el(dt));
    });
    e.bind(id, pool_scatter(e, P, q, dyt, nullptr, n.type));
  };
}

}  // namespace

void register_conv_lowerings(LoweringTable& t) {
  t["conv1d"] = conv(1, false);
  t["conv2d"] = conv(2, false);
  t["conv_transpose1d"] = conv(1, true);
  t["conv_transpose2d"] = conv(2, true);
  for (int nsp : {1, 2}) {
    std::string d = nsp == 1 ? "1d" : "2d";
    t["conv" + d + "_weight_grad"] = conv_weight_grad(nsp);
    t["maxpool" + d] = maxpool(nsp);
    t["avgpool" + d] = avgpool(nsp);
    t["maxpool" + d + "_grad"] = maxpool_grad(nsp);
    t["maxpool" + d + "_gather"] = maxpool_gather(nsp);
    t["avgpool" + d + "_grad"] = avgpool_grad(nsp);
  }
}

}  // namespace starc
