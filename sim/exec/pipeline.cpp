#include "sim/exec/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <set>

#include "core/error.h"

namespace v3sim::exec {

const char* to_string(ChunkPart p) {
  switch (p) {
    case ChunkPart::Forward:
      return "F";
    case ChunkPart::Backward:
      return "B";
    case ChunkPart::BackwardWeight:
      return "BW";
    case ChunkPart::Weight:
      return "W";
  }
  return "?";
}

void validate_schedule(PipelineSchedule schedule, int64_t pp, int64_t micro_batches, const std::string& where) {
  if (micro_batches < 1) {
    throw ConfigError(fmt::format("{}: at least one micro-batch per pipeline, found {}", where, micro_batches));
  }
  if (schedule != PipelineSchedule::DualPipe) return;
  if (pp % 2 != 0) {
    throw ConfigError(fmt::format("{}: DualPipe needs an even number of pipeline ranks, found pp {}", where, pp));
  }
  if (micro_batches % 2 != 0) {
    throw ConfigError(fmt::format(
        "{}: DualPipe feeds half the micro-batches from each end and needs an even number of them, found {}", where,
        micro_batches));
  }
  if (micro_batches < 2 * pp) {
    throw ConfigError(fmt::format("{}: DualPipe needs at least 2 x pp = {} micro-batches per pipeline, found {}", where,
                                  2 * pp, micro_batches));
  }
}

namespace {

std::vector<ScheduleStep> one_f_one_b(int64_t pp, int64_t n, int64_t rank) {
  std::vector<ScheduleStep> steps;
  const int64_t warmup = std::min(pp - rank - 1, n);
  for (int64_t i = 0; i < warmup; ++i) steps.push_back({{{ChunkPart::Forward, i}}});
  for (int64_t i = 0; i < n - warmup; ++i) {
    steps.push_back({{{ChunkPart::Forward, warmup + i}}});
    steps.push_back({{{ChunkPart::BackwardWeight, i}}});
  }
  for (int64_t i = n - warmup; i < n; ++i) steps.push_back({{{ChunkPart::BackwardWeight, i}}});
  return steps;
}

// ZB-H1: the 1F1B order of forwards and input-gradient backwards; rank r keeps r weight passes pending (the
// weight pass of micro-batch i runs after the backward of micro-batch i + r), the rest run at the end.
std::vector<ScheduleStep> zb1p(int64_t pp, int64_t n, int64_t rank) {
  std::vector<ScheduleStep> steps;
  const int64_t warmup = std::min(pp - rank - 1, n);
  std::deque<int64_t> pending;
  auto backward = [&](int64_t mb) {
    steps.push_back({{{ChunkPart::Backward, mb}}});
    pending.push_back(mb);
    while (static_cast<int64_t>(pending.size()) > rank) {
      steps.push_back({{{ChunkPart::Weight, pending.front()}}});
      pending.pop_front();
    }
  };
  for (int64_t i = 0; i < warmup; ++i) steps.push_back({{{ChunkPart::Forward, i}}});
  for (int64_t i = 0; i < n - warmup; ++i) {
    steps.push_back({{{ChunkPart::Forward, warmup + i}}});
    backward(i);
  }
  for (int64_t i = n - warmup; i < n; ++i) backward(i);
  for (int64_t mb : pending) steps.push_back({{{ChunkPart::Weight, mb}}});
  return steps;
}

// DualPipe.step() of deepseek-ai/DualPipe, phase by phase. Phase 0 is the rank's early stage (min(r, pp-1-r)),
// phase 1 its late stage; on the first half of the ranks phase 0 runs the forward direction (micro-batches
// 0 .. n/2-1), on the second half the reverse direction (n/2 .. n-1).
class DualPipeProgram {
 public:
  DualPipeProgram(int64_t pp, int64_t n, int64_t rank)
      : m_pp(pp), m_half_chunks(n / 2), m_second_half(rank >= pp / 2), m_half_rank(std::min(rank, pp - 1 - rank)) {}

  std::vector<ScheduleStep> build() {
    const int64_t half_ranks = m_pp / 2;
    const int64_t hr = m_half_rank;
    const bool middle = hr == half_ranks - 1;
    // nF0
    for (int64_t i = 0; i < (half_ranks - hr - 1) * 2; ++i) forward(0);
    // nF0F1
    for (int64_t i = 0; i < hr + 1; ++i) {
      forward(0);
      forward(1);
    }
    // nB1W1F1 (zero bubble)
    for (int64_t i = 0; i < half_ranks - hr - 1; ++i) {
      backward(1, true);
      weight();
      forward(1);
    }
    // nF0B1F1B0 (main phase): overlapped pairs; the middle ranks run their first pair unoverlapped
    for (int64_t i = 0; i < m_half_chunks - m_pp + hr + 1; ++i) {
      if (i == 0 && middle) {
        forward(0);
        backward(1, false);
      } else {
        forward_backward(0, 1);
      }
      forward_backward(1, 0);
    }
    // nB1F1B0
    for (int64_t i = 0; i < half_ranks - hr - 1; ++i) {
      backward(1, false);
      forward_backward(1, 0);
    }
    // nB1B0 (the second half of these use zero bubble)
    const int64_t n6 = hr + 1;
    bool zb = false;
    for (int64_t i = 0; i < n6; ++i) {
      if (i == n6 / 2 && hr % 2 == 1) zb = true;
      backward(1, zb);
      if (i == n6 / 2 && hr % 2 == 0) zb = true;
      backward(0, zb);
    }
    // nWB0
    for (int64_t i = 0; i < half_ranks - hr - 1; ++i) {
      weight();
      backward(0, true);
    }
    // nW
    for (int64_t i = 0; i < hr + 1; ++i) weight();
    V3SIM_ASSERT(m_pending.empty());
    return std::move(m_steps);
  }

 private:
  int64_t direction(int phase) const { return phase ^ (m_second_half ? 1 : 0); }
  int64_t next(ChunkPart kind, int phase) {
    int64_t& count = kind == ChunkPart::Forward ? m_forwards[phase] : m_backwards[phase];
    V3SIM_ASSERT(count < m_half_chunks);
    return direction(phase) * m_half_chunks + count++;
  }
  void forward(int phase) { m_steps.push_back({{{ChunkPart::Forward, next(ChunkPart::Forward, phase)}}}); }
  void backward(int phase, bool zero_bubble) {
    int64_t mb = next(ChunkPart::Backward, phase);
    if (zero_bubble) {
      m_steps.push_back({{{ChunkPart::Backward, mb}}});
      m_pending.push_back(mb);
    } else {
      m_steps.push_back({{{ChunkPart::BackwardWeight, mb}}});
    }
  }
  void weight() {
    V3SIM_ASSERT(!m_pending.empty());
    m_steps.push_back({{{ChunkPart::Weight, m_pending.front()}}});
    m_pending.pop_front();
  }
  void forward_backward(int f_phase, int b_phase) {
    int64_t f = next(ChunkPart::Forward, f_phase);
    int64_t b = next(ChunkPart::Backward, b_phase);
    m_steps.push_back({{{ChunkPart::Forward, f}, {ChunkPart::BackwardWeight, b}}});
  }

  int64_t m_pp, m_half_chunks;
  bool m_second_half;
  int64_t m_half_rank;
  int64_t m_forwards[2] = {0, 0};
  int64_t m_backwards[2] = {0, 0};
  std::deque<int64_t> m_pending;
  std::vector<ScheduleStep> m_steps;
};

}  // namespace

std::vector<ScheduleStep> rank_program(PipelineSchedule schedule, int64_t pp, int64_t micro_batches, int64_t rank,
                                       bool forward_only) {
  V3SIM_ASSERT(rank >= 0 && rank < pp);
  if (forward_only) {
    std::vector<ScheduleStep> steps;
    for (int64_t i = 0; i < micro_batches; ++i) steps.push_back({{{ChunkPart::Forward, i}}});
    return steps;
  }
  switch (schedule) {
    case PipelineSchedule::None:
    case PipelineSchedule::OneFOneB:
      return one_f_one_b(pp, micro_batches, rank);
    case PipelineSchedule::ZB1P:
      return zb1p(pp, micro_batches, rank);
    case PipelineSchedule::DualPipe:
      validate_schedule(schedule, pp, micro_batches, "rank_program");
      return DualPipeProgram(pp, micro_batches, rank).build();
  }
  return {};
}

std::vector<ScheduleStep> chunk_pair_program() {
  return {{{{ChunkPart::Forward, 1}}},
          {{{ChunkPart::Forward, 0}, {ChunkPart::BackwardWeight, 1}}},
          {{{ChunkPart::BackwardWeight, 0}}}};
}

int64_t stage_of(PipelineSchedule schedule, int64_t pp, int64_t micro_batches, int64_t rank, int64_t mb) {
  if (schedule == PipelineSchedule::DualPipe && mb >= micro_batches / 2) return pp - 1 - rank;
  return rank;
}

double bubble_formula(PipelineSchedule schedule, int64_t pp, double F, double B, double W, double FB) {
  const auto p = static_cast<double>(pp);
  switch (schedule) {
    case PipelineSchedule::None:
      return 0;
    case PipelineSchedule::OneFOneB:
      return (p - 1) * (F + B);
    case PipelineSchedule::ZB1P:
      return (p - 1) * (F + B - 2 * W);
    case PipelineSchedule::DualPipe:
      return (p / 2 - 1) * (FB + B - 3 * W);
  }
  return 0;
}

int64_t peak_in_flight(const std::vector<ScheduleStep>& program) {
  std::set<int64_t> held;
  size_t peak = 0;
  for (const auto& step : program) {
    for (const auto& c : step.chunks)
      if (c.part == ChunkPart::Forward) held.insert(c.micro_batch);
    peak = std::max(peak, held.size());
    for (const auto& c : step.chunks)
      if (c.part == ChunkPart::Backward || c.part == ChunkPart::BackwardWeight) held.erase(c.micro_batch);
  }
  return static_cast<int64_t>(peak);
}

}  // namespace v3sim::exec
