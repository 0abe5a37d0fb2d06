#include <cstdlib>

#include "runtime/dist/comm.h"

namespace starc {

bool launched_by_mpi() {
  // OpenMPI's mpirun, MPICH/Hydra's PMI, PMIx (srun --mpi=pmix, OpenMPI 4+).
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (const char* s = std::getenv(v); s && *s) return true;
  return false;
}

}  // namespace starc
