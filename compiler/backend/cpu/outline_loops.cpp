#include "compiler/backend/cpu/outline_loops.h"

#include <algorithm>
#include <map>
#include <string>

#include "llvm/ADT/SetVector.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"

#include "compiler/backend/cpu/parallel_loops.h"

namespace starc {
namespace {

// Cloned into the outlined function rather than passed to it.
bool clone_in(mlir::Operation* op) {
  return op->hasTrait<mlir::OpTrait::ConstantLike>() || mlir::isa<mlir::ViewLikeOpInterface>(op) ||
         mlir::isa<mlir::memref::CastOp, mlir::memref::GetGlobalOp>(op);
}

// An argument the bare-pointer calling convention can pass.
bool passable(mlir::Type t) {
  if (t.isIntOrIndexOrFloat()) return true;
  auto m = mlir::dyn_cast<mlir::MemRefType>(t);
  return m && m.hasStaticShape() && m.getLayout().isIdentity();
}

// The buffer a memref value views.
mlir::Value root_of(mlir::Value v) {
  while (mlir::Operation* op = v.getDefiningOp()) {
    if (auto view = mlir::dyn_cast<mlir::ViewLikeOpInterface>(op))
      v = view.getViewSource();
    else if (auto cast = mlir::dyn_cast<mlir::memref::CastOp>(op))
      v = cast.getSource();
    else
      break;
  }
  return v;
}

// The function's text without its name: equal texts compute the same thing.
std::string body_text(mlir::func::FuncOp fn) {
  std::string text;
  llvm::raw_string_ostream os(text);
  fn->print(os, mlir::OpPrintingFlags().useLocalScope());
  std::string name = "@" + fn.getSymName().str() + "(";
  if (size_t at = text.find(name); at != std::string::npos) text.replace(at, name.size(), "@(");
  return text;
}

// Iterations of a loop nest (static trip counts; an unknown one counts as 1000).
int64_t nest_iterations(mlir::Operation* op) {
  int64_t own = 1;
  auto count = [](mlir::Value lb, mlir::Value ub, mlir::Value step) {
    int64_t n = trip_count(lb, ub, step);
    return n < 0 ? int64_t(1000) : n;
  };
  if (auto f = mlir::dyn_cast<mlir::scf::ForOp>(op)) own = count(f.getLowerBound(), f.getUpperBound(), f.getStep());
  if (auto p = mlir::dyn_cast<mlir::scf::ParallelOp>(op))
    for (unsigned i = 0; i < p.getNumLoops(); ++i)
      own *= count(p.getLowerBound()[i], p.getUpperBound()[i], p.getStep()[i]);
  int64_t inner = 1;
  for (mlir::Region& r : op->getRegions())
    for (mlir::Block& b : r)
      for (mlir::Operation& o : b)
        if (mlir::isa<mlir::scf::ForOp, mlir::scf::ParallelOp>(o)) inner = std::max(inner, nest_iterations(&o));
  return own * inner;
}

// A nest of at most kSmallNestIterations iterations whose results do not depend on how
// LLVM vectorises it (no reassociable float op: sums of f32 data, whose vectorised
// partial sums round differently). LLVM compiles it for size (no vectoriser, no
// unrolling): a few nanoseconds of work do not repay ~10 ms of O2 each.
bool small_and_exact(mlir::Operation* loop) {
  if (nest_iterations(loop) > kSmallNestIterations) return false;
  bool reassoc = false;
  loop->walk([&](mlir::arith::ArithFastMathInterface op) {
    mlir::arith::FastMathFlagsAttr flags = op.getFastMathFlagsAttr();  // null: none
    reassoc |= flags && mlir::arith::bitEnumContainsAny(flags.getValue(), mlir::arith::FastMathFlags::reassoc);
  });
  return !reassoc;
}

struct Outliner {
  mlir::ModuleOp module;
  int count = 0;
  std::map<std::string, mlir::func::FuncOp> by_text;  // one function per distinct loop nest

  // The values `loop` uses from outside split into arguments and ops cloned in (in
  // program order). False when an argument cannot be passed.
  bool captures(mlir::Operation* loop, llvm::SetVector<mlir::Value>& args,
                llvm::SmallVector<mlir::Operation*>& cloned) {
    llvm::SetVector<mlir::Value> used;
    mlir::getUsedValuesDefinedAbove(loop->getRegions(), used);
    llvm::SmallVector<mlir::Value> work(used.begin(), used.end());
    work.append(loop->operand_begin(), loop->operand_end());
    llvm::SetVector<mlir::Operation*> ops;
    while (!work.empty()) {
      mlir::Value v = work.pop_back_val();
      mlir::Operation* def = v.getDefiningOp();
      if (def && clone_in(def)) {
        if (ops.insert(def)) work.append(def->operand_begin(), def->operand_end());
      } else if (!passable(v.getType())) {
        return false;
      } else {
        args.insert(v);
      }
    }
    cloned.assign(ops.begin(), ops.end());
    // All are in the loop's block (the loop is outermost): block order is program order.
    std::sort(cloned.begin(), cloned.end(),
              [](mlir::Operation* a, mlir::Operation* b) { return a->isBeforeInBlock(b); });
    return true;
  }

  // A caller's allocation that no other argument views cannot alias another argument.
  void mark_noalias(mlir::func::FuncOp fn, const llvm::SetVector<mlir::Value>& args) {
    llvm::SmallVector<mlir::Value> roots;
    for (mlir::Value a : args) roots.push_back(root_of(a));
    for (size_t i = 0; i < args.size(); ++i) {
      mlir::Operation* def = roots[i].getDefiningOp();
      if (!mlir::isa<mlir::MemRefType>(args[i].getType()) || !def ||
          !mlir::isa<mlir::memref::AllocOp, mlir::memref::AllocaOp>(def) ||
          std::count(roots.begin(), roots.end(), roots[i]) != 1)
        continue;
      fn.setArgAttr(unsigned(i), "llvm.noalias", mlir::UnitAttr::get(module.getContext()));
    }
  }

  bool outline(mlir::Operation* loop) {
    if (loop->getNumResults() != 0) return false;
    llvm::SetVector<mlir::Value> args;
    llvm::SmallVector<mlir::Operation*> cloned;
    if (!captures(loop, args, cloned)) return false;
    mlir::MLIRContext* ctx = module.getContext();
    mlir::OpBuilder b = mlir::OpBuilder::atBlockEnd(module.getBody());
    llvm::SmallVector<mlir::Type> types;
    for (mlir::Value a : args) types.push_back(a.getType());
    auto fn = mlir::func::FuncOp::create(b, loop->getLoc(), "starc_loops_" + std::to_string(count),
                                         b.getFunctionType(types, {}));
    fn.setPrivate();
    fn->setAttr("llvm.linkage", mlir::LLVM::LinkageAttr::get(ctx, mlir::LLVM::Linkage::Internal));
    llvm::SmallVector<mlir::Attribute> passthrough = {b.getStringAttr("noinline")};
    if (small_and_exact(loop)) passthrough.push_back(b.getStringAttr("optsize"));
    fn->setAttr("passthrough", b.getArrayAttr(passthrough));
    mark_noalias(fn, args);
    mlir::Block* entry = fn.addEntryBlock();
    mlir::IRMapping map;
    for (size_t i = 0; i < args.size(); ++i) map.map(args[i], entry->getArgument(unsigned(i)));
    mlir::OpBuilder fb = mlir::OpBuilder::atBlockEnd(entry);
    for (mlir::Operation* op : cloned) fb.clone(*op, map);
    fb.clone(*loop, map);
    mlir::func::ReturnOp::create(fb, loop->getLoc());
    // Identical nests (the optimizer's update of every parameter of one shape, the
    // layers of identical residual units) share one function: LLVM compiles it once.
    auto [it, is_new] = by_text.try_emplace(body_text(fn), fn);
    if (is_new)
      ++count;
    else
      fn.erase();
    mlir::OpBuilder cb(loop);
    mlir::func::CallOp::create(cb, loop->getLoc(), it->second, args.getArrayRef());
    loop->erase();
    return true;
  }
};

}  // namespace

int outline_loop_nests(mlir::Operation* module_op) {
  auto module = mlir::cast<mlir::ModuleOp>(module_op);
  llvm::SmallVector<mlir::Operation*> loops;
  for (auto f : module.getOps<mlir::func::FuncOp>())
    for (mlir::Block& block : f.getBody())
      for (mlir::Operation& op : block)
        if (mlir::isa<mlir::scf::ForOp, mlir::scf::ParallelOp>(op)) loops.push_back(&op);
  module.getContext()->getOrLoadDialect<mlir::LLVM::LLVMDialect>();  // for the linkage attribute
  Outliner o{module, 0, {}};
  int moved = 0;
  for (mlir::Operation* loop : loops) moved += o.outline(loop);
  return moved;
}

}  // namespace starc
