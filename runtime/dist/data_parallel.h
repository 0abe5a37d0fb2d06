// runtime/dist: data-parallel training steps (docs/distributed.md). Every rank holds the
// same params and runs the same step on its own rows of the global batch; the step's
// gradient graph (TrainStepGraph::grad) gives each rank's loss, metrics, gradients and
// state updates, one MPI_Allreduce of them (as f64, each weighted by the rank's rows)
// gives their means over the global batch, and the update graph applies the optimizer
// to the mean gradient. For a loss that is a mean over the batch, N ranks with global
// batch B make the updates of one process with batch B, up to summation order.
#pragma once
#include <vector>

#include "compiler/train/train_plan.h"
#include "runtime/dist/comm.h"
#include "runtime/executor.h"

namespace starc {

// One update of step `s` (built with split graphs) on this rank's `rows` samples:
// `inputs` as for s.graph (data rows, lr, step). Returns s.graph's outputs in its order
// (loss and metrics: global means; then the updated params, slots and state), the same
// on every rank. Throws TrainError-like std::runtime_error when s has no split graphs.
std::vector<Tensor> run_parallel_step(const TrainStepGraph& s, const std::vector<Tensor>& inputs, int64_t rows,
                                      const TensorMap& params, uint64_t run_seed, Executor& exec, Communicator& comm);

// The weighted mean over ranks of `values` (this rank's means over `weight` samples).
std::vector<double> allreduce_mean(Communicator& comm, const std::vector<double>& values, double weight);

// This rank's contiguous share [begin, end) of n items split over comm's ranks.
std::pair<int64_t, int64_t> rank_range(const Communicator& comm, int64_t n);

}  // namespace starc
