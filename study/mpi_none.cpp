// Studies in a build without MPI (study/comm.h): one process; refused under mpirun with several ranks.
#include <fmt/format.h>

#include <cstdlib>

#include "core/error.h"
#include "study/comm.h"

namespace v3sim::study {

std::unique_ptr<StudyComm> make_study_comm() {
  if (launched_under_mpi()) {
    const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (!size || !*size) size = std::getenv("PMI_SIZE");
    if (size && std::atoi(size) > 1) {
      throw ConfigError(SourceLoc{"mpirun", 0}, "",
                        "a v3sim built with MPI (libopenmpi-dev found by CMake) to run a study over several ranks",
                        fmt::format("{} ranks and a v3sim built without MPI", size));
    }
  }
  return make_local_comm();
}

bool study_mpi_built() {
  return false;
}

}  // namespace v3sim::study
