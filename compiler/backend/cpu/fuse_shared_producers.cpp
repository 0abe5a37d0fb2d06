#include "compiler/backend/cpu/fuse_shared_producers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

namespace starc {
namespace {

using mlir::linalg::GenericOp;

bool all_parallel(GenericOp op) { return op.getNumParallelLoops() == op.getNumLoops(); }

// The ancestor of `op` in `block`, or null.
mlir::Operation* in_block(mlir::Operation* op, mlir::Block* block) {
  while (op && op->getBlock() != block) op = op->getParentOp();
  return op;
}

// Every reader of the producer's results other than `consumer` comes after it, in its
// block, and `consumer` reads only one of them once (the fused op would otherwise read
// the producer's value it now makes itself).
bool others_read_later(GenericOp producer, GenericOp consumer) {
  mlir::Block* block = consumer->getBlock();
  if (producer->getBlock() != block) return false;
  auto from_producer = [&](mlir::Value v) { return v.getDefiningOp() == producer.getOperation(); };
  if (llvm::count_if(consumer->getOperands(), from_producer) != 1) return false;
  for (mlir::Operation* user : producer->getUsers()) {
    if (user == consumer.getOperation()) continue;
    mlir::Operation* at = in_block(user, block);
    if (!at || !consumer->isBeforeInBlock(at)) return false;
  }
  return true;
}

// Fuses one shared producer into `consumer`: the fused op, or null when none qualifies.
GenericOp fuse_one(mlir::IRRewriter& rewriter, GenericOp consumer) {
  if (!all_parallel(consumer)) return nullptr;
  for (mlir::OpOperand* operand : consumer.getDpsInputOperands()) {
    auto producer = operand->get().getDefiningOp<GenericOp>();
    if (!producer || producer->hasOneUse() || !all_parallel(producer) ||
        producer.getNumLoops() != consumer.getNumLoops() || !mlir::linalg::areElementwiseOpsFusable(operand) ||
        !others_read_later(producer, consumer))
      continue;
    rewriter.setInsertionPoint(consumer);
    mlir::FailureOr<mlir::linalg::ElementwiseOpFusionResult> fused =
        mlir::linalg::fuseElementwiseOps(rewriter, operand);
    if (mlir::failed(fused)) continue;
    for (auto [from, to] : fused->replacements) rewriter.replaceAllUsesWith(from, to);
    rewriter.eraseOp(consumer);
    if (producer->use_empty()) rewriter.eraseOp(producer);
    return mlir::cast<GenericOp>(fused->fusedOp);
  }
  return nullptr;
}

}  // namespace

int fuse_shared_producers(mlir::Operation* module) {
  mlir::IRRewriter rewriter(module->getContext());
  int fused = 0;
  for (auto f : mlir::cast<mlir::ModuleOp>(module).getOps<mlir::func::FuncOp>()) {
    llvm::SmallVector<GenericOp> generics;
    f.walk([&](GenericOp g) { generics.push_back(g); });
    // Program order: a producer is visited before its consumers, and only the consumer
    // being visited (replaced by the fused op, which may take in more) and producers
    // already visited are erased.
    for (GenericOp g : generics)
      while (GenericOp next = fuse_one(rewriter, g)) g = next, ++fused;
  }
  return fused;
}

}  // namespace starc
