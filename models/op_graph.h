// The operator graph: op instances (a descriptor, a micro-batch, a pipeline stage and the pipeline rank that
// runs it) and their data dependencies, as a DAG. Boost.Graph sits behind this facade (only op_graph.cpp
// includes it): instances and dependencies are collected first, then finalize() builds a compressed sparse
// row graph, checks that it is acyclic and answers queries.
//
// Symmetric ranks are represented once: an instance stands for all `desc.gpus` GPUs that run it identically.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <vector>

#include "models/op.h"

namespace v3sim {

using OpId = uint32_t;

struct OpNode {
  uint32_t desc = 0;  // index into the descriptor table
  uint32_t micro_batch = 0;
  uint16_t stage = 0;    // pipeline stage (model slice) the op belongs to
  uint16_t pp_rank = 0;  // pipeline rank that runs it (DualPipe runs stage s on rank s or pp-1-s)
  // Instances of one collective on several simulated GPUs share an id (>= 0): each ends when the last of them has
  // started, plus its own time (a GPU's all-to-all waits for its peers). -1: not part of such a group.
  int32_t collective = -1;
};

class OpGraph {
 public:
  OpGraph();
  ~OpGraph();
  OpGraph(OpGraph&&) noexcept;
  OpGraph& operator=(OpGraph&&) noexcept;

  // Building. @pre !finalized()
  uint32_t add_desc(OpDesc desc);
  OpId add_op(uint32_t desc, uint32_t micro_batch, uint16_t stage, uint16_t pp_rank, int32_t collective = -1);
  void add_dep(OpId before, OpId after);
  void reserve(size_t ops, size_t deps);
  // Builds the graph structure. Throws InternalError if the dependencies have a cycle.
  void finalize();
  bool finalized() const;

  size_t num_ops() const;
  size_t num_deps() const;
  size_t num_descs() const;
  const OpNode& node(OpId id) const;
  const OpDesc& desc(OpId id) const { return descriptor(node(id).desc); }
  const OpDesc& descriptor(uint32_t index) const;

  // Queries. @pre finalized()
  std::span<const OpId> successors(OpId id) const;
  std::vector<OpId> predecessors(OpId id) const;
  std::vector<OpId> topological_order() const;
  // Graphviz DOT: one node per op instance, labelled with name, kind, pass and micro-batch.
  void write_dot(std::ostream& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace v3sim
