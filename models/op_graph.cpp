// The only file of v3sim that includes Boost.Graph.
#include "models/op_graph.h"

#include <fmt/format.h>

#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <boost/graph/graphviz.hpp>
#include <boost/graph/topological_sort.hpp>
#include <memory>
#include <optional>
#include <ostream>

#include "core/error.h"

namespace v3sim {

namespace {
using Csr = boost::compressed_sparse_row_graph<boost::bidirectionalS, boost::no_property, boost::no_property,
                                               boost::no_property, OpId, OpId>;
}

struct OpGraph::Impl {
  std::vector<OpDesc> descs;
  std::vector<OpNode> nodes;
  std::vector<std::pair<OpId, OpId>> edges;
  std::optional<Csr> csr;
};

OpGraph::OpGraph() : m_impl(std::make_unique<Impl>()) {}
OpGraph::~OpGraph() = default;
OpGraph::OpGraph(OpGraph&&) noexcept = default;
OpGraph& OpGraph::operator=(OpGraph&&) noexcept = default;

uint32_t OpGraph::add_desc(OpDesc desc) {
  V3SIM_ASSERT(!finalized());
  m_impl->descs.push_back(std::move(desc));
  return static_cast<uint32_t>(m_impl->descs.size() - 1);
}

OpId OpGraph::add_op(uint32_t desc, uint32_t micro_batch, uint16_t stage, uint16_t pp_rank, int32_t collective) {
  V3SIM_ASSERT(!finalized());
  V3SIM_ASSERT(desc < m_impl->descs.size());
  m_impl->nodes.push_back(OpNode{desc, micro_batch, stage, pp_rank, collective});
  return static_cast<OpId>(m_impl->nodes.size() - 1);
}

void OpGraph::add_dep(OpId before, OpId after) {
  V3SIM_ASSERT(!finalized());
  V3SIM_ASSERT(before < m_impl->nodes.size() && after < m_impl->nodes.size() && before != after);
  m_impl->edges.emplace_back(before, after);
}

void OpGraph::reserve(size_t ops, size_t deps) {
  m_impl->nodes.reserve(ops);
  m_impl->edges.reserve(deps);
}

void OpGraph::finalize() {
  V3SIM_ASSERT(!finalized());
  m_impl->csr.emplace(boost::edges_are_unsorted_multi_pass, m_impl->edges.begin(), m_impl->edges.end(),
                      m_impl->nodes.size());
  m_impl->edges.clear();
  m_impl->edges.shrink_to_fit();
  // A cycle is our bug: the builder only adds edges from earlier to later work.
  try {
    std::vector<OpId> order;
    order.reserve(m_impl->nodes.size());
    boost::topological_sort(*m_impl->csr, std::back_inserter(order));
  } catch (const boost::not_a_dag&) {
    V3SIM_ASSERT_MSG(false, "the operator graph has a dependency cycle");
  }
}

bool OpGraph::finalized() const {
  return m_impl->csr.has_value();
}
size_t OpGraph::num_ops() const {
  return m_impl->nodes.size();
}
size_t OpGraph::num_deps() const {
  return finalized() ? boost::num_edges(*m_impl->csr) : m_impl->edges.size();
}
size_t OpGraph::num_descs() const {
  return m_impl->descs.size();
}

const OpNode& OpGraph::node(OpId id) const {
  V3SIM_ASSERT(id < m_impl->nodes.size());
  return m_impl->nodes[id];
}

const OpDesc& OpGraph::descriptor(uint32_t index) const {
  V3SIM_ASSERT(index < m_impl->descs.size());
  return m_impl->descs[index];
}

std::span<const OpId> OpGraph::successors(OpId id) const {
  V3SIM_ASSERT(finalized() && id < m_impl->nodes.size());
  auto [first, last] = boost::adjacent_vertices(id, *m_impl->csr);
  if (first == last) return {};
  return {std::to_address(first), static_cast<size_t>(last - first)};
}

std::vector<OpId> OpGraph::predecessors(OpId id) const {
  V3SIM_ASSERT(finalized() && id < m_impl->nodes.size());
  std::vector<OpId> out;
  for (auto [e, end] = boost::in_edges(id, *m_impl->csr); e != end; ++e) out.push_back(boost::source(*e, *m_impl->csr));
  return out;
}

std::vector<OpId> OpGraph::topological_order() const {
  V3SIM_ASSERT(finalized());
  std::vector<OpId> order;
  order.reserve(m_impl->nodes.size());
  boost::topological_sort(*m_impl->csr, std::back_inserter(order));
  std::reverse(order.begin(), order.end());  // boost emits reverse topological order
  return order;
}

void OpGraph::write_dot(std::ostream& out) const {
  V3SIM_ASSERT(finalized());
  auto label = [this](std::ostream& os, OpId v) {
    const OpNode& n = m_impl->nodes[v];
    const OpDesc& d = m_impl->descs[n.desc];
    std::string shape = d.has(kFlagCommunication) ? "ellipse" : d.has(kFlagTransposeForFp8) ? "octagon" : "box";
    os << fmt::format("[label=\"{}\\n{} {} mb{} pp{}\" shape={}]", d.name, to_string(d.kind), to_string(d.pass),
                      n.micro_batch, n.pp_rank, shape);
  };
  boost::write_graphviz(out, *m_impl->csr, label);
}

}  // namespace v3sim
