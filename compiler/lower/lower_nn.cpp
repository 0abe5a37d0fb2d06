// Lowerings of the neural-network ops (compiler/ops/nn.cpp): softmax, log_softmax,
// layer_norm, batch_norm and dropout.
//
// Every lowering follows its reference kernel's formula and evaluation order, so the JIT
// agrees bit for bit on this machine's libm:
//  * the statistics (softmax's max and sum of exponentials, the normalisations' mean and
//    variance) are accumulated in f64 like the reference, in the input's row-major order
//    (lower_util.h: max_f64, sum_f64, sum_exp_f64), and applied by one elementwise
//    linalg.generic in f64;
//  * results are rounded to the element type once, at the end (arith.truncf = C++ cast);
//  * dropout's mask comes from Philox4x32-10 written with arith ops on i32/i64 inside the
//    linalg.generic (philox.h: key = run seed, counter = (flat index, stream)).
#include <fmt/format.h>

#include <tuple>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

using namespace lower_util;

// softmax / log_softmax along one axis, as the reference: m = max, s = sum e^(x-m),
// y = e^(x-m) / s or (x-m) - log s, in f64.
LowerFn softmax(bool log) {
  return [log](E e, const Node& n, int id) {
    int xid = n.inputs[0];
    TensorType xt = e.type(xid), orig = xt;
    DType t = xt.dtype;
    std::string x = e.val(xid);
    int axis = 0;
    if (xt.rank() == 0) {  // a 0-d tensor is its own axis: work on a 1-element vector
      TensorType v{t, {1}};
      std::string r = e.fresh("x");
      e.line(fmt::format("{} = tensor.expand_shape {} [] output_shape [1] : {} into {} {}", r, x,
                         MlirEmitter::tensor_type(xt), MlirEmitter::tensor_type(v), e.loc()));
      x = r;
      xt = v;
    } else {
      axis = normalize_axis(n.op->name, attr_int(n.attrs, "axis"), xt.rank());
    }
    std::vector<bool> red(size_t(xt.rank()), false);
    red[size_t(axis)] = true;
    TensorType k64{DType::F64, kept_shape(xt.shape, red)};
    std::string km = kept_map(red);
    std::string m = max_f64(e, x, xt, red), s = sum_exp_f64(e, x, xt, red, m);
    std::string y = map(e, {same(x, xt), {m, k64, km}, {s, k64, km}}, xt, [&](E e, Args a) {
      std::string z = op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64");
      std::string r = log ? op2(e, "arith.subf", z, op1(e, "math.log", a[2], DType::F64), "f64")
                          : op2(e, "arith.divf", op1(e, "math.exp", z, DType::F64), a[2], "f64");
      return from_f64(e, r, t);
    });
    if (orig.rank() == 0) {
      std::string r = e.fresh("x");
      e.line(fmt::format("{} = tensor.collapse_shape {} [] : {} into {} {}", r, y, MlirEmitter::tensor_type(xt),
                         MlirEmitter::tensor_type(orig), e.loc()));
      y = r;
    }
    e.bind(id, y);
  };
}

// Mean and biased variance (f64, kept dims) of x over `red`, as group_stats: two passes.
std::pair<std::string, std::string> group_stats(E e, const std::string& x, const TensorType& xt,
                                                const std::vector<bool>& red) {
  DType t = xt.dtype;
  TensorType k64{DType::F64, kept_shape(xt.shape, red)};
  double count = double(count_of(xt.shape, red));
  auto divide = [&](const std::string& v) {
    return map(e, {same(v, k64)}, k64, [&](E e, Args a) { return op2(e, "arith.divf", a[0], f64c(e, count), "f64"); });
  };
  std::string mean = divide(sum_f64(e, x, xt, red));
  // The squared deviations, then their sum (one fused loop on the CPU).
  TensorType x64{DType::F64, xt.shape};
  std::string sq = map(e, {same(x, xt), {mean, k64, kept_map(red)}}, x64, [&](E e, Args a) {
    std::string d = op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64");
    return op2(e, "arith.mulf", d, d, "f64");
  });
  return {mean, divide(sum_f64(e, sq, x64, red))};
}

void lower_layer_norm(E e, const Node& n, int id) {
  int xid = n.inputs[0];
  TensorType xt = e.type(xid);
  DType t = xt.dtype;
  std::string x = e.val(xid);
  std::vector<bool> red(size_t(xt.rank()), false);
  for (int64_t a : attr_ints(n.attrs, "axes")) red[size_t(normalize_axis("layer_norm", a, xt.rank()))] = true;
  double eps = attr_float(n.attrs, "eps");
  auto [mean, var] = group_stats(e, x, xt, red);
  TensorType k64{DType::F64, kept_shape(xt.shape, red)};
  std::string km = kept_map(red);
  e.bind(id, map(e, {same(x, xt), {mean, k64, km}, {var, k64, km}}, xt, [&](E e, Args a) {
           std::string d = op2(e, "arith.subf", to_f64(e, a[0], t), a[1], "f64");
           std::string sd = op1(e, "math.sqrt", op2(e, "arith.addf", a[2], f64c(e, eps), "f64"), DType::F64);
           return from_f64(e, op2(e, "arith.divf", d, sd, "f64"), t);
         }));
}

// gamma * (x - mean) / sqrt(var + eps) + beta per channel (axis 1), mean/var from the
// batch (training) or the running statistics.
void lower_batch_norm(E e, const Node& n, int id) {
  int xid = n.inputs[0];
  TensorType xt = e.type(xid);
  DType t = xt.dtype;
  int rank = xt.rank();
  std::string x = e.val(xid);
  double eps = attr_float(n.attrs, "eps");
  std::string cmap = fmt::format("({}) -> (d1)", dims(rank));
  TensorType ct{t, {xt.shape[1]}};
  std::string mean, var;
  DType stat_t;
  if (attr_bool(n.attrs, "training")) {
    std::vector<bool> red(size_t(rank), true);
    red[1] = false;
    std::tie(mean, var) = group_stats(e, x, xt, red);
    stat_t = DType::F64;
  } else {
    mean = e.val(n.inputs[3]);
    var = e.val(n.inputs[4]);
    stat_t = t;
  }
  TensorType st{stat_t, {xt.shape[1]}};
  std::vector<GenericIn> ins = {
      same(x, xt), {e.val(n.inputs[1]), ct, cmap}, {e.val(n.inputs[2]), ct, cmap}, {mean, st, cmap}, {var, st, cmap}};
  e.bind(id, map(e, ins, xt, [&](E e, Args a) {
           std::string xv = to_f64(e, a[0], t), g = to_f64(e, a[1], t), b = to_f64(e, a[2], t);
           std::string mu = to_f64(e, a[3], stat_t), v = to_f64(e, a[4], stat_t);
           std::string num = op2(e, "arith.mulf", g, op2(e, "arith.subf", xv, mu, "f64"), "f64");
           std::string sd = op1(e, "math.sqrt", op2(e, "arith.addf", v, f64c(e, eps), "f64"), DType::F64);
           return from_f64(e, op2(e, "arith.addf", op2(e, "arith.divf", num, sd, "f64"), b, "f64"), t);
         }));
}

// x * (u >= p ? 1/(1-p) : 0) with u = uniform01(seed, stream, flat index).
void lower_dropout(E e, const Node& n, int id) {
  int xid = n.inputs[0];
  TensorType xt = e.type(xid);
  DType t = xt.dtype;
  double p = attr_float(n.attrs, "p");
  double scale = 1.0 / (1.0 - p);
  uint64_t stream = uint64_t(attr_int(n.attrs, "stream"));
  e.bind(id, map(e, {same(e.val(xid), xt)}, xt, [&](E e, Args a) {
           std::string u = u24(e, philox_block(e, stream, flat_index(e, xt.shape))[0], false);
           std::string keep = cmpf(e, "oge", u, f64c(e, p), DType::F64);
           std::string factor = select(e, keep, f64c(e, scale), f64c(e, 0), "f64");
           return from_f64(e, op2(e, "arith.mulf", to_f64(e, a[0], t), factor, "f64"), t);
         }));
}

}  // namespace

void register_nn_lowerings(LoweringTable& t) {
  t["softmax"] = softmax(false);
  t["log_softmax"] = softmax(true);
  t["layer_norm"] = lower_layer_norm;
  t["batch_norm"] = lower_batch_norm;
  t["dropout"] = lower_dropout;
}

}  // namespace starc
