// Lowerings: matmul, convolutions, pooling and the pooling gradient ops.
//
// matmul      linalg.matmul (no batch on b: a's batch dims are folded into M),
//             linalg.batch_matmul (equal batch dims), else a linalg.generic whose maps
//             broadcast the batch dims.
// conv        tensor.pad (zeros) + linalg.conv_1d_ncw_fcw / conv_2d_nchw_fchw.
// conv_transpose  the same conv over the zero-inserted input (tensor.insert_slice with
//             stride s into zeros, padded by d*(K-1)-p on the left and d*(K-1)-p+op on the
//             right; negative amounts crop) with the kernel transposed and flipped.
// conv*_weight_grad  one linalg.generic over (q, p, k..., n, t...) reducing over n and t,
//             reading the zero-padded x at k*d + t*s.
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

namespace starc {
namespace {

using E = MlirEmitter&;
using Args = const std::vector<std::string>&;

std::string tt(const TensorType& t) { return MlirEmitter::tensor_type(t); }
std::string el(DType t) { return MlirEmitter::elem(t); }

// Attribute `name` as one value per spatial dim (the op's shape rule has checked it).
Ints per_dim(const Attrs& a, const std::string& name, int nsp, const Ints* if_empty = nullptr) {
  const Ints& v = attr_ints(a, name);
  if (v.empty() && if_empty) return *if_empty;
  if (int(v.size()) == nsp) return v;
  if (v.size() == 1) return Ints(size_t(nsp), v[0]);
  throw EmitError(fmt::format("'{}' takes 1 or {} values, got {}", name, nsp, v.size()));
}

std::string ints_list(const Ints& v) { return fmt::format("{}", fmt::join(v, ", ")); }

// "(d0, ..., d{rank-1}) -> (results)".
std::string amap(int rank, const std::vector<std::string>& results) {
  std::string d;
  for (int i = 0; i < rank; ++i) d += fmt::format("{}d{}", i ? ", " : "", i);
  return fmt::format("({}) -> ({})", d, fmt::join(results, ", "));
}
std::string dim(int i) { return fmt::format("d{}", i); }

std::vector<std::string> iters(int parallel, int reduction) {
  std::vector<std::string> v(size_t(parallel), "parallel");
  v.insert(v.end(), size_t(reduction), "reduction");
  return v;
}

// A tensor of type t filled with v.
std::string filled(E e, double v, const TensorType& t) {
  std::string c = e.constant_scalar(v, t.dtype);
  std::string init = e.empty(t);
  std::string r = e.fresh("f");
  e.line(fmt::format("{} = linalg.fill ins({} : {}) outs({} : {}) -> {} {}", r, c, el(t.dtype), init, tt(t), tt(t),
                     e.loc()));
  return r;
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
  e.line(fmt::format("{} = tensor.pad {} low[{}] high[{}] {{", r, x, ints_list(lo), ints_list(hi)));
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
                     ints_list(offsets), ints_list(Ints(st.shape)), ints_list(strides), tt(st), tt(dt), e.loc()));
  return r;
}

std::string extract_slice(E e, const std::string& src, const TensorType& st, const Ints& offsets,
                          const TensorType& rt) {
  std::string r = e.fresh("sl");
  e.line(fmt::format("{} = tensor.extract_slice {}[{}] [{}] [{}] : {} to {} {}", r, src, ints_list(offsets),
                     ints_list(Ints(rt.shape)), ints_list(Ints(rt.shape.size(), 1)), tt(st), tt(rt), e.loc()));
  return r;
}

// Reassociation "[[0, 1], [2]]" from group sizes.
std::string reassoc(const std::vector<int>& groups) {
  std::string s;
  int at = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<int> ids;
    for (int i = 0; i < groups[g]; ++i) ids.push_back(at++);
    s += fmt::format("{}[{}]", g ? ", " : "", fmt::join(ids, ", "));
  }
  return "[" + s + "]";
}

std::string collapse(E e, const std::string& x, const TensorType& xt, const std::vector<int>& groups,
                     const TensorType& rt) {
  if (xt == rt) return x;
  std::string r = e.fresh("cs");
  e.line(fmt::format("{} = tensor.collapse_shape {} {} : {} into {} {}", r, x, reassoc(groups), tt(xt), tt(rt),
                     e.loc()));
  return r;
}

std::string expand(E e, const std::string& x, const TensorType& xt, const std::vector<int>& groups,
                   const TensorType& rt) {
  if (xt == rt) return x;
  std::string r = e.fresh("es");
  e.line(fmt::format("{} = tensor.expand_shape {} {} output_shape [{}] : {} into {} {}", r, x, reassoc(groups),
                     ints_list(Ints(rt.shape)), tt(xt), tt(rt), e.loc()));
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
  e.line(fmt::format("{} = linalg.generic {{indexing_maps = [{}], iterator_types = [{}]}} ins({} : {}) outs({} : {}) {{",
                     lhs, fmt::join(maps, ", "), fmt::join(its, ", "), fmt::join(in_vals, ", "),
                     fmt::join(in_types, ", "), fmt::join(out_vals, ", "), fmt::join(out_types, ", ")));
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

// Scalar helpers for generic bodies.
std::string bin(E e, const char* op, const std::string& a, const std::string& b, const std::string& type) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = {} {}, {} : {}", r, op, a, b, type));
  return r;
}
std::string cmpf(E e, const char* pred, const std::string& a, const std::string& b, DType t) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.cmpf {}, {}, {} : {}", r, pred, a, b, el(t)));
  return r;
}
std::string sel(E e, const std::string& c, const std::string& a, const std::string& b, const std::string& type) {
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.select {}, {}, {} : {}", r, c, a, b, type));
  return r;
}

// Inside a window generic whose loops (first, first+1, ...) run over the kernel dims k:
// the linear window position sum_i k_i * prod(k_{i+1..}) as i64.
std::string window_pos(E e, int first, const Ints& k) {
  std::string acc;
  for (size_t i = 0; i < k.size(); ++i) {
    std::string ix = e.fresh("s");
    e.line(fmt::format("{} = linalg.index {} : index", ix, first + int(i)));
    if (acc.empty()) {
      acc = ix;
      continue;
    }
    std::string kc = e.fresh("s");
    e.line(fmt::format("{} = arith.constant {} : index", kc, k[i]));
    acc = bin(e, "arith.addi", bin(e, "arith.muli", acc, kc, "index"), ix, "index");
  }
  std::string r = e.fresh("s");
  e.line(fmt::format("{} = arith.index_cast {} : index to i64", r, acc));
  return r;
}

// ---- matmul --------------------------------------------------------------------------

int64_t product(const Shape& s, size_t from = 0, size_t to = size_t(-1)) {
  int64_t p = 1;
  for (size_t i = from; i < std::min(to, s.size()); ++i) p *= s[i];
  return p;
}

void lower_matmul(E e, const Node& n, int id) {
  const TensorType &at = e.type(n.inputs[0]), &bt = e.type(n.inputs[1]), &out = n.type;
  const int ra = at.rank(), rb = bt.rank(), ro = out.rank();
  const DType dt = out.dtype;
  const int64_t M = at.shape[ra - 2], K = at.shape[ra - 1], N = bt.shape[rb - 1];
  Shape ba(at.shape.begin(), at.shape.end() - 2), bb(bt.shape.begin(), bt.shape.end() - 2);
  std::string A = e.val(n.inputs[0]), B = e.val(n.inputs[1]);
  auto all_ones = [](const Shape& s) { return std::all_of(s.begin(), s.end(), [](Dim d) { return d == 1; }); };
  auto body = [dt](E e, Args a) {
    return bin(e, "arith.addf", a[2], bin(e, "arith.mulf", a[0], a[1], el(dt)), el(dt));
  };

  if (all_ones(bb)) {
    // b is one matrix: fold a's batch into its rows, [P*M, K] @ [K, N].
    TensorType a2{dt, {product(ba) * M, K}}, b2{dt, {K, N}}, y2{dt, {product(ba) * M, N}};
    std::string a = collapse(e, A, at, {ra - 1, 1}, a2);
    std::string b = collapse(e, B, bt, {rb - 1, 1}, b2);
    std::string r = e.fresh("mm");
    e.line(fmt::format("{} = linalg.matmul ins({}, {} : {}, {}) outs({} : {}) -> {} {}", r, a, b, tt(a2), tt(b2),
                       filled(e, 0, y2), tt(y2), tt(y2), e.loc()));
    e.bind(id, expand(e, r, y2, {ro - 1, 1}, out));
    return;
  }
  if (ba == bb) {
    const int64_t P = product(ba);
    TensorType a3{dt, {P, M, K}}, b3{dt, {P, K, N}}, y3{dt, {P, M, N}};
    std::string a = collapse(e, A, at, {ra - 2, 1, 1}, a3);
    std::string b = collapse(e, B, bt, {rb - 2, 1, 1}, b3);
    std::string r = e.fresh("bmm");
    e.line(fmt::format("{} = linalg.batch_matmul ins({}, {} : {}, {}) outs({} : {}) -> {} {}", r, a, b, tt(a3),
                       tt(b3), filled(e, 0, y3), tt(y3), tt(y3), e.loc()));
    e.bind(id, expand(e, r, y3, {ro - 2, 1, 1}, out));
    return;
  }
  // General broadcasting: loops (batch..., m, n, k).
  const int nb = ro - 2, rank = ro + 1;
  auto batch_results = [&](const Shape& s) {
    std::vector<std::string> r;
    for (size_t j = 0; j < s.size(); ++j) {
      int i = nb - int(s.size()) + int(j);
      r.push_back(s[j] == 1 && out.shape[size_t(i)] != 1 ? "0" : dim(i));
    }
    return r;
  };
  auto am = batch_results(ba), bm = batch_results(bb), om = std::vector<std::string>{};
  am.push_back(dim(nb));
  am.push_back(dim(nb + 2));
  bm.push_back(dim(nb + 2));
  bm.push_back(dim(nb + 1));
  for (int i = 0; i < ro; ++i) om.push_back(dim(i));
  e.bind(id, e.generic({{A, at, amap(rank, am)}, {B, bt, amap(rank, bm)}}, filled(e, 0, out), out, amap(rank, om),
                       iters(ro, 1), body));
}

// ---- convolution ------------------------------------------------------------------------

// The named conv (no padding) of x [N,C,*L] with w [O,C,*K] into type `out`.
std::string conv_named(E e, const std::string& x, const TensorType& xt, const std::string& w, const TensorType& wt,
                       const TensorType& out, const Ints& stride, const Ints& dil) {
  const int nsp = int(stride.size());
  const char* op = nsp == 1 ? "linalg.conv_1d_ncw_fcw" : "linalg.conv_2d_nchw_fchw";
  std::string init = filled(e, 0, out);
  std::string r = e.fresh("conv");
  e.line(fmt::format("{} = {} {{dilations = dense<[{}]> : tensor<{}xi64>, strides = dense<[{}]> : tensor<{}xi64>}} "
                     "ins({}, {} : {}, {}) outs({} : {}) -> {} {}",
                     r, op, ints_list(dil), nsp, ints_list(stride), nsp, x, w, tt(xt), tt(wt), init, tt(out), tt(out),
                     e.loc()));
  return r;
}

LowerFn conv(int nsp, bool transpose) {
  return [nsp, transpose](E e, const Node& n, int id) {
    const TensorType &xt = e.type(n.inputs[0]), &wt = e.type(n.inputs[1]), &out = n.type;
    const DType dt = out.dtype;
    Ints s = per_dim(n.attrs, "stride", nsp), p = per_dim(n.attrs, "padding", nsp),
         d = per_dim(n.attrs, "dilation", nsp);
    std::string x = e.val(n.inputs[0]), w = e.val(n.inputs[1]);
    if (!transpose) {
      TensorType pt;
      std::string xp = pad_spatial(e, x, xt, p, p, 0, &pt);
      e.bind(id, conv_named(e, xp, pt, w, wt, out, s, d));
      return;
    }
    // y[n,o,j] = sum_{c,k} x[n,c,(j + p - k*d)/s] w[c,o,k] over the exact divisions: the
    // conv (stride 1, dilation d) of the zero-inserted input, padded by d*(K-1)-p on the
    // left and d*(K-1)-p+output_padding on the right, with wf[o,c,k] = w[c,o,K-1-k].
    Ints op = per_dim(n.attrs, "output_padding", nsp);
    const int rank = nsp + 2;
    TensorType ft{dt, {wt.shape[1], wt.shape[0]}};
    std::vector<std::string> wm = {dim(1), dim(0)};
    for (int i = 0; i < nsp; ++i) {
      int64_t K = wt.shape[size_t(2 + i)];
      ft.shape.push_back(K);
      wm.push_back(fmt::format("{} - d{}", K - 1, 2 + i));
    }
    std::string wf = e.generic({{w, wt, amap(rank, wm)}}, e.empty(ft), ft, MlirEmitter::identity_map(rank),
                               iters(rank, 0), [](E, Args a) { return a[0]; });
    TensorType zt{dt, {xt.shape[0], xt.shape[1]}}, ct = zt;
    Ints off = {0, 0}, strides = {1, 1}, crop = {0, 0};
    bool cropped = false;
    for (int i = 0; i < nsp; ++i) {
      int64_t L = xt.shape[size_t(2 + i)], K = wt.shape[size_t(2 + i)];
      int64_t lp = d[i] * (K - 1) - p[i], rp = d[i] * (K - 1) - p[i] + op[i];
      zt.shape.push_back((L - 1) * s[i] + 1 + std::max<int64_t>(lp, 0) + std::max<int64_t>(rp, 0));
      ct.shape.push_back(out.shape[size_t(2 + i)] + d[i] * (K - 1));
      off.push_back(std::max<int64_t>(lp, 0));
      strides.push_back(s[i]);
      crop.push_back(std::max<int64_t>(-lp, 0));
      cropped |= lp < 0 || rp < 0;
    }
    std::string z = insert_slice(e, x, xt, filled(e, 0, zt), zt, off, strides);
    if (cropped) z = extract_slice(e, z, zt, crop, ct);
    e.bind(id, conv_named(e, z, ct, wf, ft, out, Ints(size_t(nsp), 1), d));
  };
}

// r[q,p,k] = sum_{n,t} x[n,p,k*d - pad + t*s] dy[n,q,t]: loops (q, p, k_i.., n, t_i..),
// x padded by `pad` on the left and as far as the last read on the right.
LowerFn conv_weight_grad(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    const TensorType &xt = e.type(n.inputs[0]), &dyt = e.type(n.inputs[1]);
    const DType dt = n.type.dtype;
    Ints k = per_dim(n.attrs, "kernel", nsp), s = per_dim(n.attrs, "stride", nsp), p = per_dim(n.attrs, "padding", nsp),
         d = per_dim(n.attrs, "dilation", nsp);
    const int rank = 3 + 2 * nsp, nd = 2 + nsp;  // nd: the batch loop
    Ints hi;
    std::vector<std::string> xm = {dim(nd), dim(1)}, dym = {dim(nd), dim(0)}, om = {dim(0), dim(1)};
    for (int i = 0; i < nsp; ++i) {
      int64_t L = xt.shape[size_t(2 + i)], T = dyt.shape[size_t(2 + i)];
      hi.push_back(std::max<int64_t>(0, (k[i] - 1) * d[i] + (T - 1) * s[i] + 1 - L - p[i]));
      xm.push_back(fmt::format("d{} * {} + d{} * {}", 2 + i, d[i], nd + 1 + i, s[i]));
      dym.push_back(dim(nd + 1 + i));
      om.push_back(dim(2 + i));
    }
    TensorType pt;
    std::string xp = pad_spatial(e, e.val(n.inputs[0]), xt, p, hi, 0, &pt);
    e.bind(id, e.generic({{xp, pt, amap(rank, xm)}, {e.val(n.inputs[1]), dyt, amap(rank, dym)}},
                         filled(e, 0, n.type), n.type, amap(rank, om), iters(2 + nsp, 1 + nsp), [dt](E e, Args a) {
                           return bin(e, "arith.addf", a[2], bin(e, "arith.mulf", a[0], a[1], el(dt)), el(dt));
                         }));
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
  return bin(e, "arith.andi", cmpf(e, "ord", m, m, dt), cmpf(e, "ugt", v, m, dt), "i1");
}

LowerFn maxpool(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    Pool P = pool_attrs(n, nsp);
    const TensorType& xt = e.type(n.inputs[0]);
    const DType dt = n.type.dtype;
    TensorType pt;
    std::string xp = pad_spatial(e, e.val(n.inputs[0]), xt, P.p, P.p, -std::numeric_limits<double>::infinity(), &pt);
    std::string init = filled(e, -std::numeric_limits<double>::infinity(), n.type);
    e.bind(id, e.generic({{xp, pt, window_in_map(P)}, window_operand(e, P, dt)}, init, n.type, window_out_map(P),
                         iters(2 + nsp, nsp), [dt](E e, Args a) {
                           return sel(e, max_takes(e, a[0], a[2], dt), a[0], a[2], el(dt));
                         }));
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
    std::string win = e.empty(wt), init = filled(e, 0, n.type), sum = e.fresh("pool");
    e.line(fmt::format("{} = linalg.{} {{dilations = dense<1> : tensor<{}xi64>, strides = dense<[{}]> : tensor<{}xi64>}} "
                       "ins({}, {} : {}, {}) outs({} : {}) -> {} {}",
                       sum, nsp == 1 ? "pooling_ncw_sum" : "pooling_nchw_sum", nsp, ints_list(P.s), nsp, xp, win,
                       tt(pt), tt(wt), init, tt(n.type), tt(n.type), e.loc()));
    double count = double(product(Shape(P.k.begin(), P.k.end())));
    std::string div = e.generic({{sum, n.type, MlirEmitter::identity_map(n.type.rank())}}, e.empty(n.type), n.type,
                                MlirEmitter::identity_map(n.type.rank()), iters(n.type.rank(), 0),
                                [&](E e, Args a) {
                                  return bin(e, "arith.divf", a[0], e.constant_scalar(count, dt), el(dt));
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
  std::vector<Out> outs = {{filled(e, ninf, pooled), pooled, window_out_map(P)},
                           {filled(e, -1, it), it, window_out_map(P)}};
  if (v) outs.push_back({filled(e, 0, pooled), pooled, window_out_map(P)});
  const int nin = int(ins.size());
  auto rs = generic_n(e, ins, outs, iters(2 + P.nsp, P.nsp), [&](E e, Args a) {
    const std::string &xv = a[0], &m = a[size_t(nin)], &idx = a[size_t(nin + 1)];
    std::string k = window_pos(e, 2 + P.nsp, P.k);
    std::string zero = e.fresh("s");
    e.line(fmt::format("{} = arith.constant 0 : i64", zero));
    std::string first = bin(e, "arith.cmpi slt,", idx, zero, "i64");
    std::string take = bin(e, "arith.ori", first, max_takes(e, xv, m, dt), "i1");
    if (padded) take = bin(e, "arith.andi", a[1], take, "i1");
    std::vector<std::string> ys = {sel(e, take, xv, m, el(dt)), sel(e, take, k, idx, "i64")};
    if (v) ys.push_back(sel(e, take, a[size_t(padded ? 2 : 1)], a[size_t(nin + 2)], el(dt)));
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
      {insert_slice(e, w, wt, filled(e, 0, zt), zt, off, strides), zt, amap(rank, zmap)}};
  if (idx) {
    TensorType it{DType::I64, wt.shape}, izt{DType::I64, zt.shape};
    ins.push_back({insert_slice(e, *idx, it, filled(e, -1, izt), izt, off, strides), izt, amap(rank, zmap)});
  }
  ins.push_back(window_operand(e, P, dt));
  std::vector<std::string> om;
  for (int i = 0; i < 2 + nsp; ++i) om.push_back(dim(i));
  return e.generic(ins, filled(e, 0, xt), xt, amap(rank, om), iters(2 + nsp, nsp), [&](E e, Args a) {
    std::string term = a[0];
    if (idx) {
      std::string k = window_pos(e, 2 + nsp, P.k);
      std::string hit = bin(e, "arith.cmpi eq,", a[1], k, "i64");
      term = sel(e, hit, a[0], e.constant_scalar(0, dt), el(dt));
    }
    return bin(e, "arith.addf", a.back(), term, el(dt));
  });
}

LowerFn maxpool_grad(int nsp) {
  return [nsp](E e, const Node& n, int id) {
    Pool P = pool_attrs(n, nsp);
    const TensorType &xt = e.type(n.inputs[0]), &dyt = e.type(n.inputs[1]);
    std::string idx = window_argmax(e, P, e.val(n.inputs[0]), xt, nullptr, dyt)[0];
    e.bind(id, window_scatter(e, P, e.val(n.inputs[1]), dyt, &idx, xt));
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
      return bin(e, "arith.divf", a[0], e.constant_scalar(count, dt), el(dt));
    });
    e.bind(id, window_scatter(e, P, q, dyt, nullptr, n.type));
  };
}

}  // namespace

void register_linalg_conv_lowerings(LoweringTable& t) {
  t["matmul"] = lower_matmul;
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
