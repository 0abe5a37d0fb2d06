// runtime/dist: the few collective operations a data-parallel run needs, behind an
// interface so that the trainer never includes mpi.h and the build works without MPI
// (docs/distributed.md). The MPI implementation (comm_mpi.cpp) is built when CMake's
// FindMPI finds an MPI (Debian: libopenmpi-dev); otherwise comm_none.cpp stands in.
#pragma once
#include <cstddef>
#include <memory>
#include <stdexcept>

namespace starc {

struct DistError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Element-wise sum of `data` over every rank, in place (MPI_Allreduce). Every rank
  // must call it with the same n, in the same order.
  virtual void allreduce_sum(double* data, size_t n) = 0;
  virtual void barrier() = 0;
  bool root() const { return rank() == 0; }
};

// Whether this starc was built with MPI.
bool mpi_built();
// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun with PMI/PMIx).
bool launched_by_mpi();
// The world of ranks this process belongs to: MPI_COMM_WORLD (MPI is initialised on the
// first call and finalised when the returned object goes). Throws DistError when starc
// was built without MPI.
std::unique_ptr<Communicator> open_world();

}  // namespace starc
