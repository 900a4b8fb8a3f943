// Studies over MPI ranks (study/comm.h): the only file of v3sim that includes MPI. MPI_Init runs only when the
// environment says mpirun started this process; a plain run never touches MPI.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "study/comm.h"

namespace v3sim::study {

namespace {

constexpr int kTagRecord = 1;
constexpr int kTagDone = 2;

class MpiComm final : public StudyComm {
 public:
  MpiComm() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      m_owns = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m_size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &m_local_size);
    MPI_Comm_free(&local);
  }
  ~MpiComm() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (m_owns && !finalized) MPI_Finalize();
  }
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  int rank() const override { return m_rank; }
  int size() const override { return m_size; }
  int local_size() const override { return m_local_size; }

  void broadcast(std::string& text) override {
    uint64_t n = text.size();
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    V3SIM_ASSERT_MSG(n < (1ull << 31), "a broadcast under 2 GiB");
    text.resize(n);
    if (n > 0) MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, 0, MPI_COMM_WORLD);
  }

  void send_to_root(const std::string& text, bool done) override {
    V3SIM_ASSERT_MSG(text.size() < (1ull << 31), "a point record under 2 GiB");
    MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, 0, done ? kTagDone : kTagRecord, MPI_COMM_WORLD);
  }

  std::optional<Message> poll() override {
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    if (!flag) return std::nullopt;
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    Message m;
    m.text.resize(static_cast<size_t>(count));
    MPI_Recv(m.text.data(), count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    m.done = st.MPI_TAG == kTagDone;
    m.source = st.MPI_SOURCE;
    return m;
  }

 private:
  int m_rank = 0;
  int m_size = 1;
  int m_local_size = 1;
  bool m_owns = false;
};

}  // namespace

std::unique_ptr<StudyComm> make_study_comm() {
  if (!launched_under_mpi()) return make_local_comm();
  return std::make_unique<MpiComm>();
}

bool study_mpi_built() {
  return true;
}

}  // namespace v3sim::study
