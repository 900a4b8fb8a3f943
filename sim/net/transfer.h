// The transfer engine: moves messages over the links of a Topology on the discrete-event engine, in chunks,
// with a queue at every link, so that contention, incast and the bottleneck link emerge from the traffic.
//
// Model (store-and-forward per chunk):
//   - send() splits a message into chunks of at most Options::chunk bytes and queues them at its first link;
//   - a link serves one chunk at a time for size / bandwidth, round-robin over its inputs that have chunks
//     queued (FIFO within an input): at a message's first link each stream is an input, further on each link
//     into the vertex the link leaves (a switch arbitrating between its input ports). Two streams on one
//     link each get half of it;
//   - a served chunk reaches the next link of its route `latency` later (the link's wire and switch delay);
//   - the message is delivered when its last chunk has crossed its last link, and on_delivered(tag) runs.
// One message over one link therefore takes latency + size / bandwidth. Time is integer picoseconds; same-time
// events run in scheduling order, and adaptive choices break ties by a seeded rotation, so a run is
// reproducible for a seed.
//
// Lifecycle: construct on an Engine and a Topology, send() initial messages (and more from on_delivered),
// engine.run(), then read stats().
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/units.h"
#include "sim/engine/engine.h"
#include "sim/net/topology.h"

namespace v3sim::net {

class TransferEngine : public engine::Component {
 public:
  struct Options {
    Bytes chunk = Bytes(64 * 1024);
    bool trace = false;  // record each link's busy intervals
    uint64_t seed = 0;   // rotates the tie-breaking of adaptive choices
  };
  using Delivered = std::function<void(uint64_t tag)>;

  struct LinkStats {
    int64_t bytes = 0;
    int64_t chunks = 0;
    Time busy;   // time spent serving chunks
    Time first;  // start of the first chunk
    Time last;   // end of the last chunk
  };

  TransferEngine(engine::Engine& engine, const Topology& topo, Options options, Delivered on_delivered);

  // Interns a route; messages refer to it by id. @pre its links and link sets exist in the topology
  int32_t add_route(const Route& route);
  // Queues `size` bytes along a route, now. `stream` names the flow for round-robin sharing at each link;
  // an empty route (or size 0) is delivered now, without crossing a link.
  void send(int32_t route, Bytes size, uint64_t stream, uint64_t tag);

  const LinkStats& stats(int32_t link) const { return m_links[static_cast<size_t>(link)].stats; }
  // The link's busy intervals, back-to-back ones merged (only with Options::trace).
  const std::vector<std::pair<Time, Time>>& busy_intervals(int32_t link) const {
    return m_links[static_cast<size_t>(link)].trace;
  }
  int64_t bytes_sent() const { return m_bytes_sent; }
  int64_t bytes_delivered() const { return m_bytes_delivered; }
  int64_t messages_in_flight() const { return m_in_flight; }

  std::string name() const override { return "transfer-engine"; }
  bool busy() const override { return m_in_flight > 0; }
  void dump_state(std::ostream& out) const override;

 private:
  struct Message {
    int32_t route = 0;
    int32_t chunks_left = 0;
    uint64_t stream = 0;
    uint64_t tag = 0;
  };
  struct Chunk {
    int32_t msg = 0;
    int32_t bytes = 0;
    int32_t next = -1;  // in a stream queue
    int32_t hop = 0;
    int32_t choice = 0;  // index taken at the last kChoose hop
    int32_t prev = -1;   // the link it crossed last; -1 before the first
  };
  struct Queue {
    int32_t head = -1;
    int32_t tail = -1;
  };
  struct LinkState {
    int32_t serving = -1;
    std::vector<Queue> queues;
    std::vector<int32_t> input_queue;                    // by input link (index among the links into `from`)
    std::unordered_map<uint64_t, int32_t> stream_queue;  // by stream, for chunks entering the network here
    std::vector<int32_t> ready;                          // queues with chunks, in round-robin order
    size_t cursor = 0;
    int64_t queued_bytes = 0;
    LinkStats stats;
    std::vector<std::pair<Time, Time>> trace;
  };

  int32_t new_chunk();
  int32_t queue_of(int32_t link, const Chunk& chunk);
  int32_t resolve(int32_t chunk);
  void arrive(int32_t chunk);
  void start(int32_t link);
  void finish(int32_t link);
  void deliver(int32_t chunk);

  engine::Engine& m_engine;
  const Topology& m_topo;
  Options m_options;
  Delivered m_on_delivered;
  std::vector<LinkState> m_links;
  std::vector<int64_t> m_load;       // per link: bytes queued or in service (what adaptive routing compares)
  std::vector<int32_t> m_in_index;   // per link: its index among the links into its `to` vertex
  std::vector<int32_t> m_in_degree;  // per vertex
  std::vector<Hop> m_hops;
  std::vector<std::pair<int32_t, int32_t>> m_routes;  // (first hop, hop count)
  std::vector<Message> m_msgs;
  std::vector<int32_t> m_free_msgs;
  std::vector<Chunk> m_chunks;
  std::vector<int32_t> m_free_chunks;
  uint64_t m_rotation;
  int64_t m_bytes_sent = 0;
  int64_t m_bytes_delivered = 0;
  int64_t m_in_flight = 0;
};

}  // namespace v3sim::net
