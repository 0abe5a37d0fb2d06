// compiler/lower: free each buffer right after its last use.
//
// MLIR's ownership-based buffer deallocation frees a function's temporaries at the end
// of the block that allocates them: in a train step, every activation and gradient of
// the whole step was alive at once (seed_cnn: 360 MB of temporaries at the peak). After
// bufferisation, free_buffers_after_last_use moves each unconditional memref.dealloc of
// a memref.alloc in the same block to just after the last op of that block that uses
// the buffer or anything derived from it (views, casts, loop results, pointers taken),
// so malloc reuses the memory for later tensors. Buffers used outside their block, or
// freed conditionally, are left as they are.
#pragma once

namespace mlir {
class Operation;
}

namespace starc {

// Rewrites the memref.dealloc ops under `root` (a module, after bufferisation).
// Returns how many were moved.
int free_buffers_after_last_use(mlir::Operation* root);

}  // namespace starc
