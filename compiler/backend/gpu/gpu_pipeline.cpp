#include "compiler/backend/gpu/gpu_pipeline.h"

#include <set>

#include <cstdlib>
#include <filesystem>

#include "llvm/Support/raw_ostream.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "compiler/backend/gpu/gpu_kernels.h"

namespace starc {
namespace {

bool run_passes(mlir::ModuleOp module, const std::string& pipeline, std::string* why) {
  mlir::PassManager pm(module.getContext());
  std::string err;
  llvm::raw_string_ostream err_os(err);
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm, err_os))) {
    *why = "internal: bad GPU pass pipeline: " + err;
    return false;
  }
  if (mlir::failed(pm.run(module))) {
    *why = "lowering to the GPU failed";
    return false;
  }
  return true;
}

// Constant tensors bufferize to memref.globals in host memory, which a kernel cannot
// read: each use reads a managed copy instead (a memcpy on the host per step; constants
// are small, large splats are linalg.fill already).
void copy_globals_to_managed_memory(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::memref::GetGlobalOp> globals;
  for (auto fn : module.getOps<mlir::func::FuncOp>())
    fn.walk([&](mlir::memref::GetGlobalOp g) { globals.push_back(g); });
  for (mlir::memref::GetGlobalOp g : globals) {
    mlir::OpBuilder b(g->getContext());
    b.setInsertionPointAfter(g);
    auto type = mlir::cast<mlir::MemRefType>(g.getType());
    auto copy = mlir::memref::AllocOp::create(b, g.getLoc(), type, b.getI64IntegerAttr(64));
    auto op = mlir::memref::CopyOp::create(b, g.getLoc(), g.getResult(), copy.getResult());
    g.getResult().replaceAllUsesExcept(copy.getResult(), op);
  }
}

// Replaces the module's kernel-library declarations (starc_matmul_f32, ...) with the GPU
// definitions of gpu_kernels.h: host functions that launch the tiled kernels of one
// gpu.module.
bool define_kernel_library(mlir::ModuleOp module, std::string* why) {
  std::set<std::string> names;
  for (auto fn : module.getOps<mlir::func::FuncOp>())
    if (fn.isDeclaration() && fn.getName().starts_with("starc_")) names.insert(fn.getName().str());
  if (names.empty()) return true;
  std::string text;
  try {
    text = "module attributes {gpu.container_module} {\n" + gpu_kernel_library(names) + "}\n";
  } catch (const std::exception& e) {
    *why = std::string("no GPU kernel: ") + e.what();
    return false;
  }
  mlir::OwningOpRef<mlir::ModuleOp> lib = mlir::parseSourceString<mlir::ModuleOp>(text, module.getContext());
  if (!lib) {
    *why = "internal: the GPU kernel library does not parse";
    return false;
  }
  mlir::SymbolTable symbols(module);
  mlir::OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());  // not before a declaration that is erased
  for (mlir::Operation& op : llvm::make_early_inc_range(lib->getBody()->getOperations())) {
    if (auto fn = mlir::dyn_cast<mlir::func::FuncOp>(op))
      if (mlir::Operation* decl = symbols.lookup(fn.getName())) decl->erase();
    b.clone(op);
  }
  return true;
}

int64_t pow2_at_least(int64_t n) {
  int64_t p = 1;
  while (p < n) p *= 2;
  return p;
}

std::optional<int64_t> constant_index(mlir::Value v) {
  if (auto c = v.getDefiningOp<mlir::arith::ConstantIndexOp>()) return c.value();
  return std::nullopt;
}

// Maps every outermost scf.parallel (one per linalg op) onto the GPU: the innermost,
// contiguous dim on threadIdx.x (coalesced), up to 256 threads a block, a small
// innermost dim sharing the block with the next dim on threadIdx.y; the outer dims on
// blockIdx.x/y/z (y and z while under the grid's 65535 limit), others loop inside each
// thread. (MLIR's gpu-map-parallel-loops puts the first dim on x and tiles all dims
// alike, which leaves 1-D loops with 8-thread blocks.)
void map_parallel_loops(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::scf::ParallelOp> roots;
  for (auto fn : module.getOps<mlir::func::FuncOp>())
    fn.walk([&](mlir::scf::ParallelOp p) {
      if (!p->getParentOfType<mlir::scf::ParallelOp>()) roots.push_back(p);
    });
  for (mlir::scf::ParallelOp loop : roots) {
    const size_t rank = loop.getNumLoops();
    std::vector<int64_t> extent(rank, 1 << 30);
    for (size_t i = 0; i < rank; ++i) {
      auto lo = constant_index(loop.getLowerBound()[i]), hi = constant_index(loop.getUpperBound()[i]),
           st = constant_index(loop.getStep()[i]);
      if (lo && hi && st && *st > 0) extent[i] = (*hi - *lo + *st - 1) / *st;
    }
    std::vector<int64_t> tile(rank, 1);
    const int64_t tx = std::min<int64_t>(256, pow2_at_least(std::max<int64_t>(extent[rank - 1], 1)));
    tile[rank - 1] = tx;
    if (rank >= 2) tile[rank - 2] = std::min<int64_t>(256 / tx, pow2_at_least(std::max<int64_t>(extent[rank - 2], 1)));
    auto [outer, inner] =
        mlir::scf::tileParallelLoop(loop, tile, /*noMinMaxBounds=*/true);  // constant thread bounds, guarded body

    mlir::MLIRContext* ctx = module.getContext();
    auto id = mlir::AffineMap::getMultiDimIdentityMap(1, ctx);
    auto dim_map = [&](mlir::gpu::Processor p) { return mlir::gpu::ParallelLoopDimMappingAttr::get(ctx, p, id, id); };
    using P = mlir::gpu::Processor;
    std::vector<mlir::gpu::ParallelLoopDimMappingAttr> outer_map, inner_map;
    const P blocks[3] = {P::BlockX, P::BlockY, P::BlockZ};
    for (size_t i = 0; i < rank; ++i) {
      const size_t from_inner = rank - 1 - i;  // 0 for the innermost dim
      int64_t grid = (extent[i] + tile[i] - 1) / tile[i];
      bool on_grid = from_inner < 3 && (from_inner == 0 || grid <= 65535);
      outer_map.push_back(dim_map(on_grid ? blocks[from_inner] : P::Sequential));
      inner_map.push_back(dim_map(from_inner == 0 ? P::ThreadX : from_inner == 1 ? P::ThreadY : P::Sequential));
    }
    (void)mlir::gpu::setMappingAttr(outer, outer_map);
    (void)mlir::gpu::setMappingAttr(inner, inner_map);
  }
}

}  // namespace

std::string cuda_toolkit_dir() {
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"})
    if (const char* d = std::getenv(env); d && *d && std::filesystem::exists(std::string(d) + "/nvvm/libdevice"))
      return d;
  return std::filesystem::exists("/usr/local/cuda/nvvm/libdevice") ? "/usr/local/cuda" : "";
}

bool cuda_toolkit_assembles() {
  std::string dir = cuda_toolkit_dir();
  return !dir.empty() && std::filesystem::exists(dir + "/bin/ptxas") && std::filesystem::exists(dir + "/bin/fatbinary");
}

bool lower_gpu_module(mlir::ModuleOp module, std::string* why, bool fatbin) {
  if (!run_passes(module, "func.func(linalg-fuse-elementwise-ops,loop-invariant-code-motion),one-shot-bufferize", why))
    return false;
  copy_globals_to_managed_memory(module);
  if (!run_passes(module,
                  "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
                  "func.func(convert-linalg-to-parallel-loops)",
                  why))
    return false;
  map_parallel_loops(module);
  if (!define_kernel_library(module, why)) return false;
  std::string toolkit = cuda_toolkit_dir();
  // Host code is lowered before gpu-to-llvm, so that entry functions keep bare-pointer
  // arguments and memref.alloc calls the managed allocator (use-generic-functions);
  // gpu-to-llvm then only turns launches into mgpu* calls.
  return run_passes(
      module,
      std::string("func.func(convert-parallel-loops-to-gpu),gpu-kernel-outlining,lower-affine,"
                  "convert-scf-to-cf,nvvm-attach-target{chip=") +
          kGpuChip +
          " features=+ptx80 O=3},"
          "gpu.module(convert-gpu-to-nvvm{index-bitwidth=64},canonicalize,cse,reconcile-unrealized-casts),"
          "expand-strided-metadata,finalize-memref-to-llvm{use-generic-functions=1},convert-math-to-llvm,"
          "convert-math-to-libm,convert-arith-to-llvm,convert-cf-to-llvm,"
          "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},gpu-to-llvm,"
          "gpu-module-to-binary{format=" +
          (fatbin ? "fatbin" : "isa") + (toolkit.empty() ? std::string() : " toolkit=" + toolkit) +
          "},convert-index-to-llvm,convert-ub-to-llvm,reconcile-unrealized-casts",
      why);
}

std::vector<std::pair<std::string, std::string>> gpu_module_ptx(mlir::ModuleOp module) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto bin : module.getOps<mlir::gpu::BinaryOp>())
    for (mlir::Attribute a : bin.getObjects()) {
      auto obj = mlir::dyn_cast<mlir::gpu::ObjectAttr>(a);
      if (!obj) continue;
      std::string text = obj.getObject().getValue().str();
      while (!text.empty() && text.back() == '\0') text.pop_back();  // ptxas rejects the trailing NUL
      out.emplace_back(bin.getName().str(), std::move(text));
    }
  return out;
}

}  // namespace starc
