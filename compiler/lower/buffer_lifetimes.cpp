#include "compiler/lower/buffer_lifetimes.h"

#include "llvm/ADT/DenseSet.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Block.h"

namespace starc {

int free_buffers_after_last_use(mlir::Operation* root) {
  llvm::SmallVector<mlir::memref::DeallocOp> deallocs;
  root->walk([&](mlir::memref::DeallocOp d) { deallocs.push_back(d); });
  int moved = 0;
  for (mlir::memref::DeallocOp d : deallocs) {
    auto alloc = d.getMemref().getDefiningOp<mlir::memref::AllocOp>();
    if (!alloc || alloc->getBlock() != d->getBlock()) continue;
    mlir::Block* block = d->getBlock();
    // The last op of the block that touches the buffer: follow every result of every
    // user (a view, a cast, a loop carrying it, a pointer) except loaded values.
    mlir::Operation* last = alloc;
    bool outside = false;
    llvm::SmallVector<mlir::Value> work{alloc.getResult()};
    llvm::DenseSet<mlir::Value> seen;
    while (!work.empty() && !outside) {
      mlir::Value v = work.pop_back_val();
      if (!seen.insert(v).second) continue;
      for (mlir::Operation* user : v.getUsers()) {
        if (user == d.getOperation()) continue;
        mlir::Operation* top = block->findAncestorOpInBlock(*user);
        if (!top) {
          outside = true;
          break;
        }
        if (last->isBeforeInBlock(top)) last = top;
        if (llvm::isa<mlir::memref::LoadOp, mlir::memref::DimOp>(user)) continue;
        for (mlir::Value r : user->getResults()) work.push_back(r);
      }
    }
    if (outside || last == d.getOperation() || !last->isBeforeInBlock(d)) continue;
    if (last->getNextNode() == d.getOperation()) continue;
    d->moveAfter(last);
    ++moved;
  }
  return moved;
}

}  // namespace starc
