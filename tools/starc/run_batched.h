// tools/starc: `starc run --batch B`: the forward pass over inputs of any size, B samples
// at a time, each output's rows written into its .npy at their offset (runtime/io/npy_rows.h)
// while inputs are read from their mapping (runtime/io/npy_map.h): memory is bounded by
// one batch, not by the data (docs/distributed.md).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "runtime/dist/comm.h"

namespace starc::cli {

using BatchRunner = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// Runs `run_one` over the rows of `inputs` in batches of `batch` and writes every output
// to its file in `out_paths` (each output needs one; each must lead with the batch dim),
// each created beside its path and renamed into place when all rows are written.
// Returns each output's full type. Throws CliError naming what is wrong.
// With `comm` (a sharded run under mpirun, docs/distributed.md) each rank takes its
// contiguous range of the samples: rank 0 creates the files once its first batch gives
// the output types, every rank writes its rows at their offset, and rank 0 renames the
// files into place after the last rank is done: the same files as one process writes.
struct BatchedRun {
  int64_t batch = 0;  // 0 with comm: this rank's whole range at once
  std::map<std::string, std::string> out_paths;
  Communicator* comm = nullptr;
};
std::vector<TensorType> run_in_batches(const Graph& g, const std::vector<Tensor>& inputs, const BatchedRun& r,
                                       const BatchRunner& run_one);

}  // namespace starc::cli
