// Neural-network ops: softmax / log_softmax, batch and layer normalisation, dropout.
// Semantics follow PyTorch (F.softmax, F.batch_norm, F.layer_norm without affine,
// F.dropout), with dropout's mask drawn from the Philox generator in philox.h.
#include <cmath>
#include <limits>

#include "compiler/ops/builder.h"
#include "compiler/ops/common.h"
#include "compiler/ops/philox.h"

namespace starc {
namespace {

// ---- softmax ---------------------------------------------------------------------

// Axis of a softmax; a 0-d tensor accepts axis 0 or -1 like PyTorch.
int softmax_axis(const std::string& op, const Attrs& a, int rank) {
  int64_t axis = attr_int(a, "axis");
  if (rank == 0) {
    if (axis != 0 && axis != -1)
      throw OpError(fmt::format("{}: axis {} is out of range for a tensor of rank 0 (use 0 or -1)", op, axis));
    return 0;
  }
  return normalize_axis(op, axis, rank);
}

// Numerically stable: with m = max_j x_j, softmax = e^(x-m) / sum e^(x-m) and
// log_softmax = (x - m) - log(sum e^(x-m)).
OpDef softmax_op(std::string name, bool log, std::string doc) {
  OpDef d;
  d.name = name;
  d.inputs = {"x"};
  d.attrs = {{"axis", AttrKind::Int, int64_t(-1)}};
  d.doc = std::move(doc);
  d.infer = [name](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    require_float(name, in[0], ctx);
    softmax_axis(name, a, in[0].rank());
    return in[0];
  };
  d.ref = [name, log](std::span<const Tensor> in, const Attrs& a, RefCtx&) {
    const Tensor& x = in[0];
    int axis = softmax_axis(name, a, x.rank());
    int64_t outer = 1, len = x.rank() ? x.dim(axis) : 1, inner = 1;
    for (int i = 0; i < axis; ++i) outer *= x.dim(i);
    for (int i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
    Tensor out(x.dtype(), x.shape());
    dispatch_float(x.dtype(), [&]<class T>() {
      const T* xp = x.data<T>();
      T* yp = out.data<T>();
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          auto at = [&](int64_t j) { return (o * len + j) * inner + i; };
          double m = -std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < len; ++j) m = std::max(m, double(xp[at(j)]));
          double sum = 0;
          for (int64_t j = 0; j < len; ++j) sum += std::exp(double(xp[at(j)]) - m);
          for (int64_t j = 0; j < len; ++j) {
            double z = double(xp[at(j)]) - m;
            yp[at(j)] = T(log ? z - std::log(sum) : std::exp(z) / sum);
          }
        }
    });
    return out;
  };
  return d;
}

// ---- normalisation ---------------------------------------------------------------

// Mean and biased variance of x over the axes where `group_shape` is 1 (group_shape is
// x's shape with the reduced axes set to 1); one value per group, row-major. Two passes.
struct GroupStats {
  std::vector<double> mean, var;
  std::vector<int64_t> strides;  // element multi-index -> group index
};

GroupStats group_stats(const Tensor& x, const Shape& group_shape) {
  GroupStats st;
  int64_t groups = num_elements(group_shape);
  st.strides = broadcast_strides(group_shape, x.shape());
  st.mean.assign(size_t(groups), 0.0);
  st.var.assign(size_t(groups), 0.0);
  int64_t count = groups ? x.size() / groups : 0;
  for_each_index(x.shape(), [&](const std::vector<int64_t>& idx, int64_t lin) {
    st.mean[size_t(dot_index(idx, st.strides))] += x.get(lin);
  });
  for (double& m : st.mean) m /= double(count);
  for_each_index(x.shape(), [&](const std::vector<int64_t>& idx, int64_t lin) {
    size_t g = size_t(dot_index(idx, st.strides));
    double dv = x.get(lin) - st.mean[g];
    st.var[g] += dv * dv;
  });
  for (double& v : st.var) v /= double(count);
  return st;
}

void check_param(const std::string& op, const TensorType& x, const TensorType& p, const char* what,
                 const InferCtx& ctx) {
  if (p.dtype != x.dtype)
    throw OpError(
        fmt::format("{}: {} has element type {} but the input is {}", op, what, dtype_name(p.dtype), ctx.t(x)));
  if (p.rank() != 1 || p.shape[0] != x.shape[1])
    throw OpError(fmt::format("{}: {} must have shape [C] = [{}] for input {}, got {}", op, what, x.shape[1], ctx.t(x),
                              ctx.t(p)));
}

TensorType batch_norm_infer(std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
  const TensorType& x = in[0];
  require_float("batch_norm", x, ctx);
  if (x.rank() < 2) throw OpError(fmt::format("batch_norm: input must have rank >= 2 ([N,C,...]), got {}", ctx.t(x)));
  if (is_sym(x.shape[1])) throw OpError(fmt::format("batch_norm: the channel dim must be static, got {}", ctx.t(x)));
  const char* names[] = {"gamma", "beta", "running_mean", "running_var"};
  for (int i = 0; i < 4; ++i) check_param("batch_norm", x, in[1 + i], names[i], ctx);
  if (!(attr_float(a, "eps") >= 0))
    throw OpError(fmt::format("batch_norm: eps must be >= 0, got {}", attr_float(a, "eps")));
  if (attr_bool(a, "training")) {
    // PyTorch refuses to compute batch statistics from a single value per channel.
    bool all_static = true;
    int64_t per_channel = 1;
    for (int i = 0; i < x.rank(); ++i)
      if (i != 1) {
        if (is_sym(x.shape[i]))
          all_static = false;
        else
          per_channel *= x.shape[i];
      }
    if (all_static && per_channel == 1)
      throw OpError(fmt::format("batch_norm: training needs more than 1 value per channel, got input {}", ctx.t(x)));
  }
  return x;
}

// out = gamma * (x - mean) / sqrt(var + eps) + beta, per channel (axis 1).
Tensor batch_norm_ref(std::span<const Tensor> in, const Attrs& a, RefCtx&) {
  const Tensor& x = in[0];
  const Tensor &gamma = in[1], &beta = in[2], &rmean = in[3], &rvar = in[4];
  double eps = attr_float(a, "eps");
  int64_t C = x.dim(1);
  std::vector<double> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C));
  if (attr_bool(a, "training")) {
    Shape gs(x.rank(), 1);
    gs[1] = C;
    GroupStats st = group_stats(x, gs);
    mean = st.mean;
    var = st.var;
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean[size_t(c)] = rmean.get(c);
      var[size_t(c)] = rvar.get(c);
    }
  }
  int64_t inner = 1;
  for (int i = 2; i < x.rank(); ++i) inner *= x.dim(i);
  Tensor out(x.dtype(), x.shape());
  for (int64_t lin = 0; lin < x.size(); ++lin) {
    int64_t c = (lin / inner) % C;
    size_t cs = size_t(c);
    out.set(lin, gamma.get(c) * (x.get(lin) - mean[cs]) / std::sqrt(var[cs] + eps) + beta.get(c));
  }
  return out;
}

// Normalised axes of layer_norm, sorted, without duplicates.
std::vector<int> layer_norm_axes(const Attrs& a, int rank) {
  std::vector<bool> seen(size_t(rank), false);
  std::vector<int> axes;
  for (int64_t ax : attr_ints(a, "axes")) {
    int n = normalize_axis("layer_norm", ax, rank);
    if (seen[size_t(n)]) throw OpError(fmt::format("layer_norm: axis {} is listed twice", ax));
    seen[size_t(n)] = true;
    axes.push_back(n);
  }
  return axes;
}

// out = (x - mean) / sqrt(var + eps) with mean/var over `axes`.
Tensor layer_norm_ref(std::span<const Tensor> in, const Attrs& a, RefCtx&) {
  const Tensor& x = in[0];
  double eps = attr_float(a, "eps");
  Shape gs = x.shape();
  for (int ax : layer_norm_axes(a, x.rank())) gs[size_t(ax)] = 1;
  GroupStats st = group_stats(x, gs);
  Tensor out(x.dtype(), x.shape());
  for_each_index(x.shape(), [&](const std::vector<int64_t>& idx, int64_t lin) {
    size_t g = size_t(dot_index(idx, st.strides));
    out.set(lin, (x.get(lin) - st.mean[g]) / std::sqrt(st.var[g] + eps));
  });
  return out;
}

// ---- dropout ---------------------------------------------------------------------

double dropout_p(const Attrs& a) {
  double p = attr_float(a, "p");
  if (!(p >= 0 && p < 1)) throw OpError(fmt::format("dropout: p must be in [0, 1), got {}", p));
  return p;
}

// out_i = x_i * mask_i / (1 - p), mask_i = (uniform01(seed, stream, i) >= p).
Tensor dropout_ref(std::span<const Tensor> in, const Attrs& a, RefCtx& ctx) {
  const Tensor& x = in[0];
  double p = dropout_p(a);
  double scale = 1.0 / (1.0 - p);
  uint64_t stream = uint64_t(attr_int(a, "stream"));
  Tensor out(x.dtype(), x.shape());
  dispatch_float(x.dtype(), [&]<class T>() {
    const T* xp = x.data<T>();
    T* yp = out.data<T>();
    for (int64_t i = 0, n = x.size(); i < n; ++i) {
      bool keep = uniform01(ctx.seed, stream, uint64_t(i)) >= p;
      yp[i] = T(double(xp[i]) * (keep ? scale : 0.0));
    }
  });
  return out;
}

// ---- gradient rules --------------------------------------------------------------

int mean_keep(GraphBuilder& b, int x, const Ints& axes) {
  return b.op("mean", {x}, {{"axes", axes}, {"keepdims", true}});
}

// softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - e^y * sum(dy), sums along
// the axis (a 0-d tensor is its own axis).
GradFn softmax_grad(std::string name, bool log) {
  return [name, log](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    int rank = b.rank(y);
    Ints axis = {softmax_axis(name, n.attrs, rank)};
    auto sum_axis = [&](int v) { return rank ? b.sum(v, axis, true) : v; };
    if (log) return {b.sub(dy, b.mul(b.op("exp", {y}), sum_axis(dy)))};
    int dyy = b.mul(dy, y);
    return {b.sub(dyy, b.mul(y, sum_axis(dyy)))};
  };
}

// Normalisation over `axes` with xhat = (x - mean) * rstd, rstd = 1/sqrt(var + eps):
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) for g = dL/dxhat (means over `axes`).
int normalize_grad(GraphBuilder& b, int g, int xhat, int rstd, const Ints& axes) {
  int inner = b.add(mean_keep(b, g, axes), b.mul(xhat, mean_keep(b, b.mul(g, xhat), axes)));
  return b.mul(rstd, b.sub(g, inner));
}

// 1 / sqrt(biased variance + eps) over `axes` (keepdims), recomputed with graph ops.
int batch_rstd(GraphBuilder& b, int x, const Ints& axes, double eps) {
  int xc = b.sub(x, mean_keep(b, x, axes));
  return b.op("rsqrt", {b.add(mean_keep(b, b.op("square", {xc}), axes), eps)});
}

GradFn layer_norm_grad() {
  return [](GraphBuilder& b, const Node& n, int y, int dy) -> std::vector<int> {
    int x = n.inputs[0];
    Ints axes;
    for (int ax : layer_norm_axes(n.attrs, b.rank(x))) axes.push_back(ax);
    int rstd = batch_rstd(b, x, axes, attr_float(n.attrs, "eps"));
    return {normalize_grad(b, dy, y, rstd, axes)};  // y is xhat (no affine)
  };
}

// y = gamma * xhat + beta per channel (axis 1): dbeta = sum(dy), dgamma = sum(dy * xhat)
// over the other axes. Training (batch statistics): dx = normalize_grad(dy * gamma);
// inference (running statistics are constants): dx = dy * gamma * rstd. The running
// statistics are state, not trained: no gradient.
GradFn batch_norm_grad() {
  return [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    int x = n.inputs[0], gamma = n.inputs[1];
    int rank = b.rank(x);
    Shape cs(size_t(rank), 1);
    cs[1] = b.shape(x)[1];
    Ints axes;
    for (int i = 0; i < rank; ++i)
      if (i != 1) axes.push_back(i);
    double eps = attr_float(n.attrs, "eps");
    int g = b.mul(dy, b.reshape(gamma, cs));
    int rstd, xhat, dx;
    if (attr_bool(n.attrs, "training")) {
      rstd = batch_rstd(b, x, axes, eps);
      xhat = b.mul(b.sub(x, mean_keep(b, x, axes)), rstd);
      dx = normalize_grad(b, g, xhat, rstd, axes);
    } else {
      rstd = b.op("rsqrt", {b.add(b.reshape(n.inputs[4], cs), eps)});
      xhat = b.mul(b.sub(x, b.reshape(n.inputs[3], cs)), rstd);
      dx = b.mul(g, rstd);
    }
    return {dx, b.sum(b.mul(dy, xhat), axes, false), b.sum(dy, axes, false), kNoGrad, kNoGrad};
  };
}

}  // namespace

void register_nn_ops(OpRegistry& r) {
  OpDef sm = softmax_op("softmax", false, "e^x / sum(e^x) along `axis` (numerically stable)");
  sm.grad = softmax_grad("softmax", false);
  r.add(std::move(sm));
  OpDef lsm = softmax_op("log_softmax", true, "x - log(sum(e^x)) along `axis` (numerically stable)");
  lsm.grad = softmax_grad("log_softmax", true);
  r.add(std::move(lsm));

  OpDef bn;
  bn.name = "batch_norm";
  bn.inputs = {"x", "gamma", "beta", "running_mean", "running_var"};
  bn.attrs = {{"eps", AttrKind::Float, 1e-5}, {"training", AttrKind::Bool, false}};
  bn.doc = "gamma * (x - mean) / sqrt(var + eps) + beta over axis 1; batch statistics if training, else running ones";
  bn.infer = batch_norm_infer;
  bn.ref = batch_norm_ref;
  bn.grad = batch_norm_grad();
  r.add(std::move(bn));

  OpDef ln;
  ln.name = "layer_norm";
  ln.inputs = {"x"};
  ln.attrs = {{"axes", AttrKind::Ints, Ints{-1}}, {"eps", AttrKind::Float, 1e-5}};
  ln.doc = "(x - mean) / sqrt(var + eps) with mean and biased variance over `axes` (no affine)";
  ln.infer = [](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    require_float("layer_norm", in[0], ctx);
    layer_norm_axes(a, in[0].rank());
    if (!(attr_float(a, "eps") >= 0))
      throw OpError(fmt::format("layer_norm: eps must be >= 0, got {}", attr_float(a, "eps")));
    return in[0];
  };
  ln.ref = layer_norm_ref;
  ln.grad = layer_norm_grad();
  r.add(std::move(ln));

  OpDef drop;
  drop.name = "dropout";
  drop.inputs = {"x"};
  drop.attrs = {{"p", AttrKind::Float, std::nullopt}, {"stream", AttrKind::Int, int64_t(0)}};
  drop.doc = "x * mask / (1 - p), mask_i = (u_i >= p) with u_i uniform from Philox(seed, stream, i)";
  drop.infer = [](std::span<const TensorType> in, const Attrs& a, const InferCtx& ctx) {
    require_float("dropout", in[0], ctx);
    dropout_p(a);
    return in[0];
  };
  drop.ref = dropout_ref;
  // Linear with a fixed mask: dx = dy * mask / (1 - p), i.e. dropout of dy with the same
  // p and stream (the same run seed draws the same mask for the same element index).
  drop.grad = [](GraphBuilder& b, const Node& n, int, int dy) -> std::vector<int> {
    return {b.op("dropout", {dy}, n.attrs)};
  };
  r.add(std::move(drop));
}

}  // namespace starc
