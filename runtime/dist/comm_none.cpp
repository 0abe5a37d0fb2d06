// Stands in for comm_mpi.cpp in a build without MPI.
#include "runtime/dist/comm.h"

namespace starc {

bool mpi_built() { return false; }

std::unique_ptr<Communicator> open_world() {
  throw DistError(
      "this starc was built without MPI: install an MPI (Debian: libopenmpi-dev openmpi-bin), re-run cmake and "
      "rebuild to run under mpirun/srun");
}

}  // namespace starc
