#include "compiler/backend/cpu/parallel_loops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace starc {

int64_t trip_count(mlir::Value lb, mlir::Value ub, mlir::Value step) {
  auto l = mlir::getConstantIntValue(lb), u = mlir::getConstantIntValue(ub), s = mlir::getConstantIntValue(step);
  if (!l || !u || !s || *s <= 0) return -1;
  return *u > *l ? (*u - *l + *s - 1) / *s : 0;
}

namespace {

using mlir::scf::ForOp;
using mlir::scf::ParallelOp;

// Ops executed by one iteration of `body`: nested scf.for loops multiply their bodies
// by their trip counts (unknown counts as 16).
int64_t body_work(mlir::Block& body) {
  int64_t work = 0;
  for (mlir::Operation& op : body) {
    if (auto f = llvm::dyn_cast<ForOp>(op)) {
      int64_t n = trip_count(f.getLowerBound(), f.getUpperBound(), f.getStep());
      work += (n < 0 ? 16 : n) * body_work(*f.getBody());
      continue;
    }
    int64_t inner = 0;
    for (mlir::Region& r : op.getRegions())
      for (mlir::Block& b : r) inner += body_work(b);
    work += 1 + inner;
  }
  return work;
}

void reshape_loop(ParallelOp op, const ParallelLoopPolicy& policy) {
  if (!op.getInitVals().empty()) return;  // reductions through scf.reduce: leave to the lowering
  const size_t n = op.getNumLoops();
  llvm::SmallVector<int64_t> trips;
  for (size_t i = 0; i < n; ++i) {
    trips.push_back(trip_count(op.getLowerBound()[i], op.getUpperBound()[i], op.getStep()[i]));
    if (trips.back() < 0) return;
  }
  int64_t iterations = 1;
  for (int64_t t : trips) iterations *= t;
  size_t keep = 0;  // leading dims that stay parallel
  if (iterations * body_work(*op.getBody()) >= policy.min_parallel_work) {
    int64_t outer = 1;
    while (keep < n && outer < policy.min_outer_iterations) outer *= trips[keep++];
  }
  if (keep == n) return;

  mlir::OpBuilder b(op);
  mlir::Location loc = op.getLoc();
  mlir::IRMapping map;
  if (keep > 0) {
    auto lbs = op.getLowerBound().take_front(keep), ubs = op.getUpperBound().take_front(keep),
         steps = op.getStep().take_front(keep);
    auto outer = ParallelOp::create(b, loc, llvm::to_vector(lbs), llvm::to_vector(ubs), llvm::to_vector(steps));
    for (size_t i = 0; i < keep; ++i) map.map(op.getInductionVars()[i], outer.getInductionVars()[i]);
    b.setInsertionPoint(outer.getBody()->getTerminator());
  }
  for (size_t i = keep; i < n; ++i) {
    auto f = ForOp::create(b, loc, op.getLowerBound()[i], op.getUpperBound()[i], op.getStep()[i]);
    map.map(op.getInductionVars()[i], f.getInductionVar());
    b.setInsertionPoint(f.getBody()->getTerminator());
  }
  for (mlir::Operation& inner : op.getBody()->without_terminator()) b.clone(inner, map);
  op.erase();
}

}  // namespace

void shape_parallel_loops(mlir::Operation* root, const ParallelLoopPolicy& policy) {
  llvm::SmallVector<ParallelOp> outermost;
  root->walk([&](ParallelOp p) {
    if (!p->getParentOfType<ParallelOp>()) outermost.push_back(p);
  });
  for (ParallelOp p : outermost) reshape_loop(p, policy);
}

}  // namespace starc
