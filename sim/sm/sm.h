// One streaming multiprocessor at instruction granularity: warpgroups run instruction streams (TMA loads and
// stores, mbarrier waits and arrivals, wgmma, FFMA and other issued work, shared-memory accesses) against the
// SM's resources: the issue slots of its sub-partitions, the tensor pipe, the shared-memory port (one wavefront
// of 32 banks x 4 B per clock) and the TMA unit, with the L2 and HBM behind them (sim/memory).
//
// Lifecycle: construct the SMs (one CTA each), pair cluster peers, load_programs(), start(); the engine runs
// everything; finished() and stats() afterwards.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "sim/engine/engine.h"
#include "sim/engine/server.h"
#include "sim/hardware.h"
#include "sim/memory/memory_system.h"

namespace v3sim::sm {

// What an instruction's issue cycles were spent on (for the per-resource counters).
enum class IssueKind : uint8_t { Promotion, Epilogue, Alu, Count };

struct Instr {
  enum class Op : uint8_t {
    Issue,          // `cycles` issue slots of work on the CUDA cores (FFMA, cvt, prmt, shfl, integer)
    Wgmma,          // `count` back-to-back wgmmas m64 x `n` x `k`, operands from shared memory
    WgmmaCommit,    // closes the current group of wgmmas
    WgmmaWait,      // waits until at most `count` groups are pending
    BarrierWait,    // waits for completion number `phase` of mbarrier `barrier`
    BarrierArrive,  // one arrival on `barrier` (and on the cluster peer's when `peer`)
    ExpectTx,       // one arrival plus `bytes` of expected transaction on `barrier`
    TmaLoad,       // a box of `bytes` (global key `key`) into smem, completing on `barrier` (also the peer's if `peer`)
    TmaStore,      // `bytes` from smem to global memory
    TmaStoreWait,  // waits until this warpgroup's stores have left shared memory
    GlobalLoad,    // a plain load of `bytes` (global key `key`) that the warpgroup waits for
    Smem,          // `count` wavefronts on the shared-memory port; a load (not `store`) waits for the data
    Exit,
  };
  Op op = Op::Exit;
  IssueKind kind = IssueKind::Alu;
  bool peer = false;
  bool store = false;  // Smem: a store (the warpgroup does not wait for it)
  bool fp8 = true;     // Wgmma: FP8 (k32) or BF16 (k16)
  int32_t barrier = 0;
  int32_t n = 0, k = 0;
  int64_t count = 0;  // Issue: cycles; Wgmma: instructions; WgmmaWait: groups; Smem: wavefronts
  int64_t phase = 0;
  int64_t bytes = 0;      // moved through the memory system
  int64_t tx_bytes = -1;  // TmaLoad: bytes landing in shared memory (-1: same as `bytes`; less when the TMA casts)
  uint64_t key = 0;

  static Instr issue(int64_t cycles, IssueKind kind = IssueKind::Alu) {
    Instr i;
    i.op = Op::Issue;
    i.count = cycles;
    i.kind = kind;
    return i;
  }
};

// An instruction stream, produced lazily (a GEMM's math warpgroup runs hundreds of thousands of instructions).
class Program {
 public:
  virtual ~Program() = default;
  // The next instruction; Exit when the program is done.
  virtual Instr next() = 0;
};

// A fixed list of instructions (microbenchmarks, small kernels).
class ListProgram : public Program {
 public:
  explicit ListProgram(std::vector<Instr> instrs) : m_instrs(std::move(instrs)) {}
  Instr next() override { return m_pos < m_instrs.size() ? m_instrs[m_pos++] : Instr{}; }

 private:
  std::vector<Instr> m_instrs;
  size_t m_pos = 0;
};

struct SmStats {
  Time tensor_busy;
  Time smem_busy;
  Time issue_busy;
  Time issue_by_kind[static_cast<int>(IssueKind::Count)];
  Time tma_busy;
  int64_t wgmmas = 0;
  int64_t tma_loads = 0;
  int64_t tma_bytes = 0;
  int64_t smem_wavefronts = 0;
  Time finish;
};

class Sm : public engine::Component {
 public:
  Sm(int index, engine::Engine& engine, const HardwareConfig& hw, const engine::Clock& clock,
     memory::MemorySystem& memory);

  // Declares mbarrier `id` with `expected` arrivals per phase. @pre before start()
  void add_barrier(int id, int expected);
  void set_peer(Sm* peer) { m_peer = peer; }
  void add_warpgroup(std::unique_ptr<Program> program);
  // Starts every warpgroup at `at`.
  void start(Time at);

  bool finished() const;
  // Phases mbarrier `id` has completed so far (boundary probes in tests).
  int64_t barrier_phase(int id) const { return m_barriers[static_cast<size_t>(id)].completed; }
  SmStats stats() const;
  int index() const { return m_index; }
  std::string name() const override;
  bool busy() const override { return !finished(); }
  void dump_state(std::ostream& out) const override;

 private:
  struct Barrier {
    int expected = 1;
    int arrived = 0;
    int64_t tx = 0;
    int64_t completed = 0;                         // phases completed so far
    std::vector<std::pair<int, int64_t>> waiters;  // (warpgroup, phase)
  };
  struct Warpgroup {
    std::unique_ptr<Program> program;
    Instr current;
    bool has_current = false;
    bool done = false;
    bool blocked = false;
    std::string waiting_on;
    std::deque<Time> groups;  // completion time of each committed, unfinished wgmma group
    Time open_group;          // completion of the wgmmas issued since the last commit
    bool open_group_used = false;
    int stores_pending = 0;
  };

  // Whether a warpgroup goes on to its next instruction now (Next) or waits to be resumed (Wait).
  enum class Flow : uint8_t { Next, Wait };

  // Runs warpgroup `wg`'s instructions until one makes it wait.
  void step(int wg);
  // One instruction each (of warpgroup `w`, `g`, at `now`).
  Flow run_issue(int w, Warpgroup& g, const Instr& in, Time now);
  Flow run_wgmma(int w, Warpgroup& g, const Instr& in, Time now);
  Flow run_wgmma_wait(int w, Warpgroup& g, const Instr& in, Time now);
  Flow run_barrier_wait(int w, Warpgroup& g, const Instr& in);
  Flow run_tma_load(int w, Warpgroup& g, const Instr& in, Time now);
  Flow run_tma_store(int w, Warpgroup& g, const Instr& in, Time now);
  Flow run_global_load(int w, Warpgroup& g, const Instr& in, Time now);
  Flow run_smem(int w, Warpgroup& g, const Instr& in, Time now);
  void resume_at(int wg, Time at);
  void arrive(int id, int64_t tx_done, int arrivals);
  void expect(int id, int64_t bytes);
  void try_complete(Barrier& b);
  Time cycles(int64_t n) const { return m_clock.time_of(n); }

  int m_index;
  engine::Engine& m_engine;
  const HardwareConfig& m_hw;
  const engine::Clock& m_clock;
  memory::MemorySystem& m_memory;
  Sm* m_peer = nullptr;
  std::vector<Barrier> m_barriers;
  std::vector<Warpgroup> m_wgs;
  engine::FifoServer m_issue;
  engine::FifoServer m_tensor;
  engine::FifoServer m_smem;
  engine::FifoServer m_tma;
  Time m_operand_fetch;  // shared-memory port time taken by wgmma operand fetches
  SmStats m_stats;
};

}  // namespace v3sim::sm
