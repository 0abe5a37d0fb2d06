// Lowering of the linear-algebra op (compiler/ops/linalg.cpp): matmul.
//
// Float matmul calls the kernel library (kernels/starc_kernels.h: BLAS GEMM), as XLA:CPU
// calls Eigen; the loops MLIR would make of it run 20-60x below the machine's peak
// (docs/toolchain.md).
// matmul      b one matrix: a's batch dims folded into M, one GEMM; equal batch dims: a
//             batched GEMM; other broadcasts (and integer matmul): a linalg.generic
//             whose maps broadcast the batch dims.
// A transpose of the last two dims that only GEMMs read is not materialised: GEMM reads
// its input in place (only_gemms_read_transposed, used by lower_shape_ops.cpp).
// Accumulation is in the element type (the reference sums in double), so long f32
// reductions differ from it by rounding only.
#include <fmt/format.h>

#include <algorithm>

#include "compiler/lower/emit.h"
#include "compiler/lower/lower_util.h"

namespace starc {
namespace {

using namespace lower_util;

bool all_ones(const Shape& s) {
  return std::all_of(s.begin(), s.end(), [](Dim d) { return d == 1; });
}

// matmul's GEMM path: float, not empty, and b one matrix (a's batch dims folded into its
// rows) or the same batch dims on both sides (one GEMM per batch element).
bool takes_gemm(const Graph& g, const Node& mm) {
  const TensorType &at = g.type(mm.inputs[0]), &bt = g.type(mm.inputs[1]);
  Shape ba(at.shape.begin(), at.shape.end() - 2), bb(bt.shape.begin(), bt.shape.end() - 2);
  int64_t M = at.shape[size_t(at.rank() - 2)], K = at.shape[size_t(at.rank() - 1)], N = bt.shape[size_t(bt.rank() - 1)];
  return is_float(mm.type.dtype) && M * N * K > 0 && (all_ones(bb) || ba == bb);
}

// A transpose node that swaps the last two dims and nothing else.
bool swaps_last_two(const Node& t) {
  if (!is_op(t, "transpose")) return false;
  const Ints& perm = attr_ints(t.attrs, "perm");
  const int rank = t.type.rank();
  if (perm.empty()) return rank == 2;  // reversed dims
  if (int(perm.size()) != rank || rank < 2) return false;
  for (int i = 0; i < rank; ++i) {
    int64_t want = i < rank - 2 ? i : (i == rank - 2 ? rank - 1 : rank - 2);
    if (perm[size_t(i)] != want && perm[size_t(i)] != want - rank) return false;
  }
  return true;
}

// Whether GEMM reads matmul mm's input `slot` as the untransposed source of a transpose.
// Not for a when a's batch dims fold into its rows: the transposed rows are not adjacent.
bool gemm_reads_transposed(const Graph& g, const Node& mm, int slot) {
  if (!is_op(mm, "matmul") || !swaps_last_two(g.nodes[size_t(mm.inputs[size_t(slot)])]) || !takes_gemm(g, mm))
    return false;
  if (slot == 1) return true;
  const TensorType &at = g.type(mm.inputs[0]), &bt = g.type(mm.inputs[1]);
  bool folds =
      all_ones(Shape(bt.shape.begin(), bt.shape.end() - 2)) && !all_ones(Shape(at.shape.begin(), at.shape.end() - 2));
  return !folds;
}

void lower_matmul(E e, const Node& n, int id) {
  const TensorType &at = e.type(n.inputs[0]), &bt = e.type(n.inputs[1]), &out = n.type;
  const int ra = at.rank(), rb = bt.rank(), ro = out.rank();
  const DType dt = out.dtype;
  const int64_t M = at.shape[ra - 2], K = at.shape[ra - 1], N = bt.shape[rb - 1];
  Shape ba(at.shape.begin(), at.shape.end() - 2), bb(bt.shape.begin(), bt.shape.end() - 2);
  auto body = [dt](E e, Args a) {
    return op2(e, "arith.addf", a[2], op2(e, "arith.mulf", a[0], a[1], el(dt)), el(dt));
  };

  if (takes_gemm(e.graph(), n)) {
    // b one matrix: a's batch folded into its rows, [P*M, K] @ [K, N]; else P GEMMs. A
    // transposed operand is read from the transpose's input (the transpose itself is
    // not emitted when nothing else reads it).
    const int64_t P = all_ones(bb) ? 1 : product(ba), rows = all_ones(bb) ? product(ba) * M : M;
    int operand[2] = {n.inputs[0], n.inputs[1]};
    bool trans[2] = {false, false};
    for (int slot : {0, 1})
      if (gemm_reads_transposed(e.graph(), n, slot))
        trans[slot] = true, operand[slot] = e.graph().nodes[size_t(operand[slot])].inputs[0];
    std::string out_addr, buf = e.alloc_buffer(out, &out_addr);
    e.call_kernel(
        std::string("matmul_") + (dt == DType::F64 ? "f64" : "f32"),
        {e.i64(P), e.i64(rows), e.i64(N), e.i64(K), e.i64(trans[0]), e.i64(trans[1]),
         e.address(e.val(operand[0]), e.type(operand[0])), e.i64(rows * K),
         e.address(e.val(operand[1]), e.type(operand[1])), e.i64(all_ones(bb) ? 0 : K * N), out_addr, e.i64(rows * N)});
    e.bind(id, e.tensor_of(buf, out));
    return;
  }
  std::string A = e.val(n.inputs[0]), B = e.val(n.inputs[1]);
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
  e.bind(id, e.generic({{A, at, amap(rank, am)}, {B, bt, amap(rank, bm)}}, e.fill(0, out), out, amap(rank, om),
                       iters(ro, 1), body));
}

}  // namespace

bool only_gemms_read_transposed(const Graph& g, int id) {
  if (!swaps_last_two(g.nodes[size_t(id)])) return false;
  if (std::find(g.outputs.begin(), g.outputs.end(), id) != g.outputs.end()) return false;
  bool used = false;
  for (const Node& n : g.nodes)
    for (size_t slot = 0; slot < n.inputs.size(); ++slot)
      if (n.inputs[slot] == id) {
        if (slot > 1 || !gemm_reads_transposed(g, n, int(slot))) return false;
        used = true;
      }
  return used;
}

void register_linalg_lowerings(LoweringTable& t) { t["matmul"] = lower_matmul; }

}  // namespace starc
