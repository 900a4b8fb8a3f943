// How the ranks of a study talk: one process (LocalComm) or MPI ranks under mpirun. Only study/mpi.cpp
// includes MPI; it is its own library (v3sim_study_mpi) so nothing else links libmpi, and a build without MPI gets
// study/mpi_none.cpp instead.
//
// Rank 0 (the root) owns the output folder; the other ranks send it each point they finish. Only the thread that
// created the communicator calls it (MPI_THREAD_FUNNELED).
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace v3sim::study {

class StudyComm {
 public:
  virtual ~StudyComm() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks on this machine (for the default thread count).
  virtual int local_size() const { return 1; }
  // Root's `text` replaces every other rank's. Collective.
  virtual void broadcast(std::string& text) = 0;
  // A message from a non-root rank to the root; `done` marks the rank's last one (its text: "" or a fatal error).
  virtual void send_to_root(const std::string& text, bool done) = 0;
  // Root: a message from another rank if one has arrived (non-blocking): {text, done, source rank}.
  struct Message {
    std::string text;
    bool done = false;
    int source = 0;
  };
  virtual std::optional<Message> poll() = 0;
};

// A single process: rank 0 of 1.
std::unique_ptr<StudyComm> make_local_comm();

// True when the environment says this process was started by mpirun/mpiexec (OMPI_COMM_WORLD_SIZE or PMI_SIZE).
bool launched_under_mpi();

// MPI when launched under mpirun (MPI_Init here, MPI_Finalize when the communicator is destroyed), else a local
// one: a plain run never touches MPI. Throws ConfigError when started by mpirun with more than one rank in a build
// without MPI (every rank would run the whole study).
std::unique_ptr<StudyComm> make_study_comm();

// Whether this build can run studies over MPI.
bool study_mpi_built();

}  // namespace v3sim::study
