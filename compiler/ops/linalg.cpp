// Linear algebra: batched matrix multiply with NumPy broadcasting of the batch dims.
#include <Eigen/Core>

#include "compiler/ops/builder.h"
#include "compiler/ops/common.h"

namespace starc {
namespace {

Shape batch_part(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

TensorType matmul_infer(std::span<const TensorType> in, const Attrs&, const InferCtx& ctx) {
  const TensorType &a = in[0], &b = in[1];
  if (a.rank() < 2 || b.rank() < 2)
    throw OpError(fmt::format("matmul: operands must have rank >= 2, got {} @ {}", ctx.t(a), ctx.t(b)));
  require_same_dtype("matmul", in, ctx);
  require_float("matmul", a, ctx);
  Dim m = a.shape[a.rank() - 2], k = a.shape.back(), k2 = b.shape[b.rank() - 2], n = b.shape.back();
  if (k != k2) throw OpError(fmt::format("matmul: inner dims differ: {} @ {}", ctx.t(a), ctx.t(b)));
  Shape batch;
  try {
    batch = broadcast_shapes("matmul", {{a.dtype, batch_part(a.shape)}, {b.dtype, batch_part(b.shape)}}, ctx);
  } catch (const OpError& e) {
    // Restate with the full operand types; keep the "dim x vs y" detail.
    std::string msg = e.what();
    size_t at = msg.rfind(": dim ");
    std::string detail = at == std::string::npos ? msg : msg.substr(at + 2);
    throw OpError(fmt::format("matmul: batch dims do not broadcast: {} @ {}: {}", ctx.t(a), ctx.t(b), detail));
  }
  batch.push_back(m);
  batch.push_back(n);
  return TensorType{a.dtype, batch};
}

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Tensor matmul_ref(std::span<const Tensor> in, const Attrs&, RefCtx&) {
  const Tensor &a = in[0], &b = in[1];
  int64_t m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
  Shape ba = batch_part(a.shape()), bb = batch_part(b.shape());
  Shape batch = broadcast_shapes("matmul", {{a.dtype(), ba}, {b.dtype(), bb}}, InferCtx{});
  // Strides in whole matrices for reading each operand's batch as broadcast to `batch`.
  std::vector<int64_t> sa = broadcast_strides(ba, batch), sb = broadcast_strides(bb, batch);
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out(a.dtype(), out_shape);
  dispatch_float(a.dtype(), [&]<class T>() {
    for_each_index(batch, [&](const std::vector<int64_t>& idx, int64_t lin) {
      Eigen::Map<const RowMat<T>> am(a.data<T>() + dot_index(idx, sa) * m * k, m, k);
      Eigen::Map<const RowMat<T>> bm(b.data<T>() + dot_index(idx, sb) * k * n, k, n);
      Eigen::Map<RowMat<T>> cm(out.data<T>() + lin * m * n, m, n);
      if (k == 0)
        cm.setZero();
      else
        cm.noalias() = am * bm;
    });
  });
  return out;
}

// x with its last two dims swapped.
int transpose_last2(GraphBuilder& b, int x) {
  Ints perm;
  for (int i = 0; i < b.rank(x); ++i) perm.push_back(i);
  std::swap(perm[perm.size() - 2], perm.back());
  return b.transpose(x, perm);
}

// y = a @ b: da = dy @ b^T, db = a^T @ dy, each summed back over the batch dims that
// were broadcast (both operands have rank >= 2, so only batch dims can broadcast).
std::vector<int> matmul_grad(GraphBuilder& b, const Node& n, int, int dy) {
  int a = n.inputs[0], bm = n.inputs[1];
  int da = b.op("matmul", {dy, transpose_last2(b, bm)});
  int db = b.op("matmul", {transpose_last2(b, a), dy});
  return {b.sum_to(da, b.shape(a)), b.sum_to(db, b.shape(bm))};
}

}  // namespace

void register_linalg_ops(OpRegistry& r) {
  OpDef mm;
  mm.name = "matmul";
  mm.inputs = {"a", "b"};
  mm.doc = "a[..., M, K] @ b[..., K, N] -> [..., M, N]; the leading (batch) dims broadcast";
  mm.infer = matmul_infer;
  mm.ref = matmul_ref;
  mm.grad = matmul_grad;
  r.add(std::move(mm));
}

}  // namespace starc
