#include <catch2/catch.hpp>

#include "core/error.h"
#include "sim/exec/executor.h"

using namespace v3sim;
using namespace v3sim::exec;

namespace {

struct Tiny {
  OpGraph g;
  std::vector<Time> times;
  std::vector<Stream> streams;
  OpId op(const char* name, Stream s, int64_t us, uint32_t mb = 0) {
    OpDesc d;
    d.name = name;
    d.kind = s == Stream::Compute ? OpKind::Gemm : OpKind::AllToAllDispatch;
    times.push_back(Time::us(us));
    streams.push_back(s);
    return g.add_op(g.add_desc(d), mb, 0, 0);
  }
  ExecResult run(int64_t mbs = 1, Time launch_gap = Time()) {
    g.finalize();
    ExecOptions o;
    o.forward_only = true;
    o.micro_batches = mbs;
    o.launch_gap = launch_gap;
    return execute(g, times, streams, o);
  }
};

}  // namespace

TEST_CASE("two independent ops on different streams overlap exactly", "[exec]") {
  Tiny t;
  t.op("gemm", Stream::Compute, 10);
  t.op("dispatch", Stream::Comm, 7);
  ExecResult r = t.run();
  CHECK(r.makespan == Time::us(10));
  CHECK(r.ranks[0].busy[0] == Time::us(10));
  CHECK(r.ranks[0].busy[1] == Time::us(7));
  CHECK(r.ranks[0].exposed_comm == Time());
}

TEST_CASE("a dependency serializes two ops; two ops on one stream never overlap", "[exec]") {
  {
    Tiny t;
    OpId a = t.op("gemm", Stream::Compute, 10);
    OpId b = t.op("dispatch", Stream::Comm, 7);
    t.g.add_dep(a, b);
    ExecResult r = t.run();
    CHECK(r.makespan == Time::us(17));
    CHECK(r.start[b] == Time::us(10));
    // The compute stream ends at 10; the rank's own communication runs to 17.
    CHECK(r.ranks[0].exposed_comm == Time::us(7));
  }
  {
    Tiny t;
    t.op("a", Stream::Compute, 10);
    t.op("b", Stream::Compute, 7);
    CHECK(t.run().makespan == Time::us(17));
  }
}

TEST_CASE("compute overlaps the other micro-batch's all-to-all; waiting on it is exposed communication", "[exec]") {
  // Micro-batch 0: attention (5) -> dispatch (8) -> MLP (4); micro-batch 1: attention (6), independent.
  Tiny t;
  OpId a0 = t.op("attn", Stream::Compute, 5, 0);
  OpId d0 = t.op("dispatch", Stream::Comm, 8, 0);
  OpId m0 = t.op("mlp", Stream::Compute, 4, 0);
  OpId a1 = t.op("attn", Stream::Compute, 6, 1);
  t.g.add_dep(a0, d0);
  t.g.add_dep(d0, m0);
  ExecResult r = t.run(2);
  CHECK(r.start[a1] == Time::us(5));   // runs while micro-batch 0 dispatches
  CHECK(r.start[m0] == Time::us(13));  // waits for the dispatch
  CHECK(r.makespan == Time::us(17));
  CHECK(r.ranks[0].exposed_comm == Time::us(2));  // compute idle 11 .. 13
  CHECK(r.ranks[0].bubble == Time());
}

TEST_CASE("every kernel starts a launch gap after its stream could run it; the gap is neither busy nor bubble",
          "[exec]") {
  // As the compute-overlap case above, with 1 us between a stream being free (inputs ready) and its kernel starting.
  Tiny t;
  OpId a0 = t.op("attn", Stream::Compute, 5, 0);
  OpId d0 = t.op("dispatch", Stream::Comm, 8, 0);
  OpId m0 = t.op("mlp", Stream::Compute, 4, 0);
  OpId a1 = t.op("attn", Stream::Compute, 6, 1);
  OpId z = t.op("dropped", Stream::Compute, 0, 1);
  t.g.add_dep(a0, d0);
  t.g.add_dep(d0, m0);
  t.g.add_dep(a1, z);
  ExecResult r = t.run(2, Time::us(1));
  CHECK(r.start[a0] == Time::us(1));
  CHECK(r.start[d0] == Time::us(7));   // a0 ends at 6, then the comm stream's gap
  CHECK(r.start[a1] == Time::us(7));   // back to back on the compute stream: 1 us apart
  CHECK(r.start[z] == Time::us(13));   // a zero-time op has no gap
  CHECK(r.start[m0] == Time::us(16));  // the dispatch ends at 15
  CHECK(r.makespan == Time::us(20));
  CHECK(r.ranks[0].busy[0] == Time::us(15));
  CHECK(r.ranks[0].launch_gaps == Time::us(3));
  CHECK(r.ranks[0].exposed_comm == Time::us(2));  // compute stream free at 13, the dispatch's output at 15
  CHECK(r.ranks[0].bubble == Time());
}

TEST_CASE("zero-time (dropped) ops cost nothing and keep dependencies", "[exec]") {
  Tiny t;
  OpId a = t.op("a", Stream::Compute, 3);
  OpId z = t.op("dropped", Stream::Compute, 0);
  OpId b = t.op("b", Stream::Compute, 4);
  t.g.add_dep(a, z);
  t.g.add_dep(z, b);
  ExecResult r = t.run();
  CHECK(r.makespan == Time::us(7));
  CHECK(r.start[b] == Time::us(3));
}

TEST_CASE("the second compute stream gets the SMs when the first's kernel ends, and fills its idle time", "[exec]") {
  // Boundary: the side kernel, ready at 0, cannot start before the compute kernel holding the SMs ends at 10 us.
  Tiny t;
  OpId a = t.op("gemm", Stream::Compute, 10);
  OpId b = t.op("wgrad", Stream::Compute2, 6);
  OpId c = t.op("dispatch", Stream::Comm, 30);
  OpId d = t.op("after", Stream::Compute, 5);
  t.g.add_dep(c, d);  // the compute stream waits for the all-to-all: the side kernel runs meanwhile
  ExecResult r = t.run();
  CHECK(r.start[a] == Time());
  CHECK(r.start[b] == Time::us(10));
  CHECK(r.end[b] == Time::us(16));
  CHECK(r.start[d] == Time::us(30));
  CHECK(r.makespan == Time::us(35));
  CHECK(r.ranks[0].busy[static_cast<size_t>(Stream::Compute2)] == Time::us(6));
}

TEST_CASE("a collective ends when its last member has started, plus its own time", "[exec]") {
  // Two GPUs (pipeline-rank slots 0 and 1) run the same all-to-all; GPU 1 reaches it 4 us later.
  OpGraph g;
  std::vector<Time> times;
  std::vector<Stream> streams;
  auto desc = [&](const char* name, OpKind kind, Stream s, int64_t us) {
    OpDesc d;
    d.name = name;
    d.kind = kind;
    times.push_back(Time::us(us));
    streams.push_back(s);
    return g.add_desc(d);
  };
  const uint32_t fast = desc("compute", OpKind::Gemm, Stream::Compute, 6);
  const uint32_t slow = desc("compute", OpKind::Gemm, Stream::Compute, 10);
  const uint32_t a2a = desc("dispatch", OpKind::AllToAllDispatch, Stream::Comm, 3);
  const OpId c0 = g.add_op(fast, 0, 0, 0), x0 = g.add_op(a2a, 0, 0, 0, 7);
  const OpId c1 = g.add_op(slow, 0, 0, 1), x1 = g.add_op(a2a, 0, 0, 1, 7);
  g.add_dep(c0, x0);
  g.add_dep(c1, x1);
  g.finalize();
  ExecOptions o;
  o.forward_only = true;
  o.pp = 2;
  const ExecResult r = execute(g, times, streams, o);
  CHECK(r.start[x0] == Time::us(6));
  CHECK(r.start[x1] == Time::us(10));
  // GPU 0's kernel spins from 6 us until GPU 1 joins at 10 us, then both take their 3 us.
  CHECK(r.end[x0] == Time::us(13));
  CHECK(r.end[x1] == Time::us(13));
  CHECK(r.ranks[0].busy[static_cast<size_t>(Stream::Comm)] == Time::us(7));
}
