// compiler/backend/cpu: the buffers of generated CPU code: freed right after their last use,
// planned, and their allocations checked.
//
// MLIR's ownership-based buffer deallocation frees a function's temporaries at the end
// of the block that allocates them: in a train step, every activation and gradient of
// the whole step was alive at once (seed_cnn: 360 MB of temporaries at the peak). After
// bufferisation, free_buffers_after_last_use moves each unconditional memref.dealloc of
// a memref.alloc in the same block to just after the last op of that block that uses
// the buffer or anything derived from it (views, casts, loop results, pointers taken),
// so malloc reuses the memory for later tensors. Buffers used outside their block, or
// freed conditionally, are left as they are.
//
// plan_memory reads a module after bufferisation (loops on buffers, each temporary a
// memref.alloc freed by a memref.dealloc) in program order: how many bytes of temporaries
// are alive at most, and the largest one with the graph node that makes it. The executor
// refuses a run whose plan does not fit before calling it.
//
// check_allocations works on the module lowered to the LLVM dialect, where a memref.alloc
// is a call to malloc whose result was used unchecked (a model whose temporaries did not
// fit segfaulted). Each malloc and free becomes a call to the kernel library's
// starc_mem_alloc(bytes, node) and starc_mem_free (kernels/starc_kernels.h), and in the
// function's own control flow a null result returns from the function at once; so does a
// kernel-library call after which starc_mem_failed(node) reports a workspace that could
// not be had. The caller then reads what failed with starc_mem_take_failure. The plan is
// kept in the module as the constant `starc_memory_plan` (MemoryPlan's three numbers),
// so that an object loaded from the disk cache still has it.
#pragma once
#include <cstdint>

namespace mlir {
class Operation;
}

namespace starc {

// Rewrites the memref.dealloc ops under `root` (a module, after bufferisation).
// Returns how many were moved.
int free_buffers_after_last_use(mlir::Operation* root);

struct MemoryPlan {
  int64_t peak_bytes = 0;                // most temporary bytes alive at once
  int64_t largest_bytes = 0;             // the largest temporary
  int64_t largest_node = -1;             // the graph node that allocates it (-1: unknown)
  int64_t total_bytes = 0;               // all temporaries: the peak if nothing were freed early
  int64_t argument_bytes = 0;            // the entry's buffers: inputs, parameters, outputs
  int temporaries = 0, kept_to_end = 0;  // allocations; those not freed before the end
};

// The graph node named by an op's location (emit.cpp's loc_of: "%12", or "%12/3" inside
// scan %12's body, which gives 12), or -1.
int64_t node_of_location(mlir::Operation* op);

// The plan of a module after bufferisation (see above). An allocation inside a loop body
// (a scan step) counts once.
MemoryPlan plan_memory(mlir::Operation* module);

// Rewrites the module's allocations (see above) and records `plan` in it. Returns how
// many allocations and kernel calls it checks.
int check_allocations(mlir::Operation* module, const MemoryPlan& plan);

// The symbol of the recorded plan: three int64 (peak, largest, its node).
inline constexpr const char* kMemoryPlanSymbol = "starc_memory_plan";

}  // namespace starc
