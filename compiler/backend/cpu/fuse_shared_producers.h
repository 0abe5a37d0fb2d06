// compiler/backend/cpu: elementwise ops whose result has several readers, fused into the
// first of them as an extra result.
//
// MLIR's linalg-fuse-elementwise-ops fuses a producer into its consumer only when the
// consumer is its one reader. An optimizer's update reads its new moments twice (they are
// outputs of the step, and the parameter's update reads them): Adam made three loop nests
// per parameter, 1 328 in FNet's train step, each compiled by LLVM. fuse_shared_producers
// fuses an all-parallel elementwise producer into an all-parallel consumer of the same
// iteration space when every other reader comes after that consumer: the fused op yields
// the producer's values too, the other readers read them there, and the producer goes.
// Nothing is computed twice, and each element's arithmetic is the same, in the same order.
#pragma once

namespace mlir {
class Operation;
}

namespace starc {

// Rewrites the functions of `module` (linalg on tensors, after MLIR's elementwise
// fusion). Returns how many producers it fused.
int fuse_shared_producers(mlir::Operation* module);

}  // namespace starc
