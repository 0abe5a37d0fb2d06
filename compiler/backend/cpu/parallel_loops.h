// compiler/backend/cpu: which loops of the CPU code run on several threads.
//
// convert-linalg-to-parallel-loops makes every parallel dimension of a linalg op one
// scf.parallel, and convert-scf-to-openmp collapses all of them into one OpenMP loop: a
// div/mod per element to recover the indices, and an inner loop LLVM cannot vectorise,
// so a [64,16,8177] max-pool ran 2x slower on 2 threads than on one. And a [64,64]
// elementwise op paid an OpenMP fork/join for a few microseconds of work.
// shape_parallel_loops rewrites each outermost scf.parallel before the OpenMP lowering:
//   - too little work (estimated iterations times body ops) to pay for a fork/join:
//     all of it becomes sequential scf.for loops;
//   - otherwise only the leading dimensions that give every thread several chunks stay
//     parallel; the rest become scf.for loops inside, so the innermost (contiguous)
//     dimension is a plain loop LLVM vectorises.
#pragma once

#include <cstdint>

namespace mlir {
class Operation;
class Value;
}  // namespace mlir

namespace starc {

struct ParallelLoopPolicy {
  int64_t min_parallel_work = int64_t(1) << 18;  // body ops x iterations below which a loop runs on one thread
  int64_t min_outer_iterations = 32;             // kept parallel dims: their product reaches this
};

// The static trip count of a loop (lb, ub, step), or -1 when one is not a constant.
int64_t trip_count(mlir::Value lb, mlir::Value ub, mlir::Value step);

// Rewrites the scf.parallel ops under `root` (a module, after linalg -> parallel loops).
void shape_parallel_loops(mlir::Operation* root, const ParallelLoopPolicy& policy = {});

}  // namespace starc
