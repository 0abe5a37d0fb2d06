#include "compiler/backend/cpu/buffer_lifetimes.h"

#include <algorithm>
#include <map>
#include <string>

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Block.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

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

namespace {

// The first node name in a location ("%12" or "%12/3"), through fused locations.
std::string first_name(mlir::Location loc) {
  if (auto named = mlir::dyn_cast<mlir::NameLoc>(loc)) return named.getName().str();
  if (auto fused = mlir::dyn_cast<mlir::FusedLoc>(loc))
    for (mlir::Location l : fused.getLocations())
      if (std::string n = first_name(l); !n.empty()) return n;
  return "";
}

int64_t static_bytes(mlir::Type type) {
  auto t = mlir::dyn_cast<mlir::MemRefType>(type);
  if (!t || !t.hasStaticShape()) return 0;
  return t.getNumElements() * int64_t((t.getElementTypeBitWidth() + 7) / 8);
}

// The declaration of `name` in the module, made if missing.
mlir::LLVM::LLVMFuncOp declare(mlir::ModuleOp module, llvm::StringRef name, mlir::Type result,
                               llvm::ArrayRef<mlir::Type> params) {
  if (auto f = module.lookupSymbol<mlir::LLVM::LLVMFuncOp>(name)) return f;
  mlir::OpBuilder b(module.getBodyRegion());
  return mlir::LLVM::LLVMFuncOp::create(b, module.getLoc(), name, mlir::LLVM::LLVMFunctionType::get(result, params));
}

bool is_kernel_call(llvm::StringRef callee) {
  return callee.starts_with("starc_") && !callee.starts_with("starc_mem_");
}

// The loop nests moved into functions of their own (outline_loops.h) that allocate or
// call the kernel library: a call to any other nest cannot fail and needs no check.
llvm::StringSet<> nests_that_may_fail(mlir::ModuleOp module) {
  llvm::StringSet<> out;
  for (auto f : module.getOps<mlir::LLVM::LLVMFuncOp>()) {
    if (!f.getName().starts_with("starc_loops_")) continue;
    bool fails = false;
    f.walk([&](mlir::LLVM::CallOp c) {
      std::optional<llvm::StringRef> name = c.getCallee();
      fails |= !name || *name == "malloc" || *name == "starc_mem_alloc" || is_kernel_call(*name);
    });
    if (fails) out.insert(f.getName());
  }
  return out;
}

// Ends the block of call `after` just after `bad` (an i1 computed from the call's
// result) with a branch to `fail` when it holds; the rest continues in a new block.
void branch_after(mlir::OpBuilder& b, mlir::Operation* after, mlir::Value bad, mlir::Block* fail) {
  mlir::Block* block = after->getBlock();
  mlir::Block* rest = block->splitBlock(std::next(mlir::Block::iterator(bad.getDefiningOp())));
  b.setInsertionPointToEnd(block);
  mlir::LLVM::CondBrOp::create(b, after->getLoc(), bad, fail, rest);
}

struct Rewriter {
  mlir::ModuleOp module;
  mlir::Type ptr, i64, i32, void_type;
  mlir::LLVM::LLVMFuncOp alloc_fn, free_fn, failed_fn;
  llvm::StringSet<> failing_nests;  // read before any malloc is rewritten
  int checks = 0;

  explicit Rewriter(mlir::ModuleOp m) : module(m), failing_nests(nests_that_may_fail(m)) {
    mlir::MLIRContext* ctx = m.getContext();
    ptr = mlir::LLVM::LLVMPointerType::get(ctx);
    i64 = mlir::IntegerType::get(ctx, 64);
    i32 = mlir::IntegerType::get(ctx, 32);
    void_type = mlir::LLVM::LLVMVoidType::get(ctx);
    alloc_fn = declare(m, "starc_mem_alloc", ptr, {i64, i64});
    free_fn = declare(m, "starc_mem_free", void_type, {ptr});
    failed_fn = declare(m, "starc_mem_failed", i32, {i64});
  }

  void function(mlir::LLVM::LLVMFuncOp f) {
    // A test may only leave the function from its own control flow, not from inside an
    // OpenMP region (there the allocation still goes through starc_mem_alloc).
    const bool can_return = mlir::isa<mlir::LLVM::LLVMVoidType>(f.getFunctionType().getReturnType());
    llvm::SmallVector<mlir::LLVM::CallOp> calls;
    f.walk([&](mlir::LLVM::CallOp c) { calls.push_back(c); });
    mlir::Block* fail = nullptr;
    for (mlir::LLVM::CallOp call : calls) {
      std::optional<llvm::StringRef> callee = call.getCallee();
      if (!callee) continue;
      mlir::OpBuilder b(call);
      mlir::Location loc = call.getLoc();
      auto node = [&] { return mlir::LLVM::ConstantOp::create(b, loc, i64, node_of_location(call)); };
      mlir::Value bad;
      mlir::Operation* after = nullptr;
      if (*callee == "malloc") {
        auto made = mlir::LLVM::CallOp::create(b, loc, alloc_fn, mlir::ValueRange{call.getOperand(0), node()});
        call.getResult().replaceAllUsesWith(made.getResult());
        call.erase();
        b.setInsertionPointAfter(made);
        after = made;
        bad = mlir::LLVM::ICmpOp::create(b, loc, mlir::LLVM::ICmpPredicate::eq, made.getResult(),
                                         mlir::LLVM::ZeroOp::create(b, loc, ptr));
      } else if (*callee == "free") {
        mlir::LLVM::CallOp::create(b, loc, free_fn, mlir::ValueRange{call.getOperand(0)});
        call.erase();
        continue;
      } else if (is_kernel_call(*callee) && (!callee->starts_with("starc_loops_") || failing_nests.contains(*callee))) {
        b.setInsertionPointAfter(call);
        auto failed = mlir::LLVM::CallOp::create(b, loc, failed_fn, mlir::ValueRange{node()});
        after = call;
        bad = mlir::LLVM::ICmpOp::create(b, loc, mlir::LLVM::ICmpPredicate::ne, failed.getResult(),
                                         mlir::LLVM::ConstantOp::create(b, loc, i32, 0));
      } else {
        continue;
      }
      if (!can_return || after->getParentOp() != f.getOperation()) continue;
      if (!fail) {
        fail = new mlir::Block();
        f.getBody().push_back(fail);
        mlir::OpBuilder fb = mlir::OpBuilder::atBlockEnd(fail);
        mlir::LLVM::ReturnOp::create(fb, f.getLoc(), mlir::ValueRange{});
      }
      branch_after(b, after, bad, fail);
      ++checks;
    }
  }

  void record(const MemoryPlan& plan) {
    mlir::OpBuilder b(module.getBodyRegion());
    auto type = mlir::LLVM::LLVMArrayType::get(i64, 3);
    auto value = mlir::DenseIntElementsAttr::get(
        mlir::RankedTensorType::get({3}, i64),
        llvm::ArrayRef<int64_t>{plan.peak_bytes, plan.largest_bytes, plan.largest_node});
    mlir::LLVM::GlobalOp::create(b, module.getLoc(), type, true, mlir::LLVM::Linkage::External, kMemoryPlanSymbol,
                                 value);
  }
};

}  // namespace

int64_t node_of_location(mlir::Operation* op) {
  std::string n = first_name(op->getLoc());
  if (n.size() < 2 || n[0] != '%') return -1;
  int64_t id = 0;
  for (size_t i = 1; i < n.size() && n[i] != '/'; ++i) {
    if (n[i] < '0' || n[i] > '9' || id > (INT64_MAX - 9) / 10) return -1;
    id = id * 10 + (n[i] - '0');
  }
  return id;
}

MemoryPlan plan_memory(mlir::Operation* module) {
  MemoryPlan plan;
  module->walk([&](mlir::func::FuncOp f) {
    if (!f.isExternal())
      for (mlir::BlockArgument a : f.getArguments()) plan.argument_bytes += static_bytes(a.getType());
  });
  std::map<mlir::Operation*, int64_t> live;
  int64_t now = 0;
  module->walk<mlir::WalkOrder::PreOrder>([&](mlir::Operation* op) {  // program order
    if (auto alloc = mlir::dyn_cast<mlir::memref::AllocOp>(op)) {
      int64_t b = static_bytes(alloc.getType());
      live[op] = b, now += b, plan.total_bytes += b, ++plan.temporaries;
      plan.peak_bytes = std::max(plan.peak_bytes, now);
      if (b > plan.largest_bytes) plan.largest_bytes = b, plan.largest_node = node_of_location(op);
    } else if (auto dealloc = mlir::dyn_cast<mlir::memref::DeallocOp>(op)) {
      auto it = live.find(dealloc.getMemref().getDefiningOp());
      if (it == live.end()) return;
      now -= it->second;
      live.erase(it);
    } else if (mlir::isa<mlir::func::ReturnOp>(op)) {
      plan.kept_to_end += int(live.size());
    }
  });
  return plan;
}

int check_allocations(mlir::Operation* module_op, const MemoryPlan& plan) {
  auto module = mlir::cast<mlir::ModuleOp>(module_op);
  Rewriter r(module);
  llvm::SmallVector<mlir::LLVM::LLVMFuncOp> functions;
  module.walk([&](mlir::LLVM::LLVMFuncOp f) {
    if (!f.isExternal()) functions.push_back(f);
  });
  for (mlir::LLVM::LLVMFuncOp f : functions) r.function(f);
  if (!module.lookupSymbol(kMemoryPlanSymbol)) r.record(plan);
  return r.checks;
}

}  // namespace starc
