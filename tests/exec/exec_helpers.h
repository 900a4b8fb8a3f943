// Synthetic graphs for the executor tests: pipelines of one-op chunks with known times.
#pragma once

#include <vector>

#include "models/op_graph.h"
#include "sim/exec/op_cost.h"
#include "sim/exec/pipeline.h"

namespace v3sim::exec::test {

struct SyntheticPipeline {
  OpGraph graph;
  std::vector<Time> times;      // per descriptor
  std::vector<Stream> streams;  // per descriptor
};

// One forward (F), input-gradient (B - W) and weight-gradient (W) op per stage and micro-batch, compute only,
// chained as a pipeline: F(s) -> F(s+1), F(last) -> Bd(last), Bd(s+1) -> Bd(s), Bd(s) -> W(s). Placed on ranks as
// models/graph_builder places them for `schedule`.
inline SyntheticPipeline synthetic_pipeline(PipelineSchedule schedule, int64_t pp, int64_t mbs, Time f, Time b,
                                            Time w) {
  SyntheticPipeline p;
  auto desc = [&](const char* name, Pass pass, Time t) {
    OpDesc d;
    d.name = name;
    d.kind = OpKind::Gemm;
    d.pass = pass;
    p.times.push_back(t);
    p.streams.push_back(Stream::Compute);
    return p.graph.add_desc(d);
  };
  const uint32_t df = desc("F", Pass::Forward, f), db = desc("B", Pass::Dgrad, b - w), dw = desc("W", Pass::Wgrad, w);
  std::vector<OpId> F(static_cast<size_t>(pp * mbs)), B(F.size()), W(F.size());
  for (int64_t m = 0; m < mbs; ++m) {
    for (int64_t s = 0; s < pp; ++s) {
      const bool reverse = schedule == PipelineSchedule::DualPipe && m >= mbs / 2;
      const auto rank = static_cast<uint16_t>(reverse ? pp - 1 - s : s);
      const size_t i = static_cast<size_t>(m * pp + s);
      F[i] = p.graph.add_op(df, static_cast<uint32_t>(m), static_cast<uint16_t>(s), rank);
      B[i] = p.graph.add_op(db, static_cast<uint32_t>(m), static_cast<uint16_t>(s), rank);
      W[i] = p.graph.add_op(dw, static_cast<uint32_t>(m), static_cast<uint16_t>(s), rank);
    }
    for (int64_t s = 0; s < pp; ++s) {
      const size_t i = static_cast<size_t>(m * pp + s);
      if (s + 1 < pp) {
        p.graph.add_dep(F[i], F[i + 1]);
        p.graph.add_dep(B[i + 1], B[i]);
      } else {
        p.graph.add_dep(F[i], B[i]);
      }
      p.graph.add_dep(B[i], W[i]);
    }
  }
  p.graph.finalize();
  return p;
}

}  // namespace v3sim::exec::test
