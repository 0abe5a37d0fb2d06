// compiler/backend/cpu: each loop nest of the generated code in a function of its own.
//
// A train step lowers to one function of thousands of loop nests (FNet's: 2 875 linalg
// ops; every parameter's optimizer update is several). LLVM's function passes are not
// linear in a function's size (scalar evolution and the OpenMP outliner walk the whole
// function per loop): that step took 60 s in LLVM against 1.2 s for its forward pass.
// outline_loop_nests moves every outermost scf.for / scf.parallel of a function body
// into a private function of its own (`starc_loops_N`, never inlined), called in its
// place, so LLVM's work grows with the number of loops, not its square. Nests whose
// functions print the same (the optimizer's update of each parameter of one shape, the
// layers of identical residual units) share one function, compiled once; small ones are
// compiled for size (kSmallNestIterations).
//
// What a loop nest uses from outside becomes the new function's arguments, except
// constants and memref views, which are cloned in (LLVM then still sees constant trip
// counts and strides). A buffer that a memref.alloc of the caller made, and that no
// other argument shares, is passed `noalias`, as LLVM knew it to be before the move. A
// nest that would need an argument of another kind (a dynamic shape, a strided view)
// stays where it is. A call to a starc_loops_N that allocates or calls the kernel library
// is checked for a failed allocation like the kernel library's calls (check_allocations,
// buffer_lifetimes.h).
#pragma once

#include <cstdint>

namespace mlir {
class Operation;
}

namespace starc {

// Nests of at most this many iterations, with no reassociable float op, are compiled for
// size (LLVM's `optsize`: no vectoriser or unroller); their results are the same bits.
constexpr int64_t kSmallNestIterations = 4096;

// Rewrites the functions of `module` (after lowering to loops on buffers). Returns how
// many loop nests it moved.
int outline_loop_nests(mlir::Operation* module);

}  // namespace starc
