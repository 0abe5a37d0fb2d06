// MPI_COMM_WORLD as a Communicator. Errors keep MPI's default handler
// (MPI_ERRORS_ARE_FATAL): a failed collective, or a rank that died, ends the whole job
// through the launcher, which names the rank (docs/distributed.md, "Faults").
// The C API only: OpenMPI's and MPICH's mpi.h would otherwise pull in their deprecated
// C++ bindings, which live in a library FindMPI's C component does not link.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <fmt/format.h>

#include "runtime/dist/comm.h"

namespace starc {
namespace {

class MpiWorld : public Communicator {
 public:
  MpiWorld() {
    int ready = 0;
    MPI_Initialized(&ready);
    if (!ready && MPI_Init(nullptr, nullptr) != MPI_SUCCESS) throw DistError("MPI_Init failed");
    owns_ = !ready;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiWorld() override {
    int done = 0;
    MPI_Finalized(&done);
    if (owns_ && !done) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(double* data, size_t n) override {
    // MPI counts are ints: large buffers go in pieces.
    constexpr size_t kMax = size_t(1) << 30;
    for (size_t at = 0; at < n; at += kMax) {
      int count = int(std::min(kMax, n - at));
      if (MPI_Allreduce(MPI_IN_PLACE, data + at, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        throw DistError(fmt::format("rank {}: MPI_Allreduce failed", rank_));
    }
  }
  void barrier() override {
    if (MPI_Barrier(MPI_COMM_WORLD) != MPI_SUCCESS) throw DistError(fmt::format("rank {}: MPI_Barrier failed", rank_));
  }

 private:
  int rank_ = 0, size_ = 1;
  bool owns_ = false;
};

}  // namespace

bool mpi_built() { return true; }

std::unique_ptr<Communicator> open_world() { return std::make_unique<MpiWorld>(); }

}  // namespace starc
