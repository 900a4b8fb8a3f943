#include "sim/net/routing.h"

#include <fmt/format.h>

#include <cmath>
#include <numeric>
#include <thread>

#include "core/error.h"
#include "core/random.h"

namespace v3sim::net {

namespace {

// xoshiro256** seeded through splitmix64: the same stream on every platform and standard library.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    SplitMix64 seeder{seed * kSplitMixGamma + stream};
    for (auto& s : m_s) s = seeder.next();
  }
  uint64_t next() {
    const uint64_t result = rotl(m_s[1] * 5, 7) * 9;
    const uint64_t t = m_s[1] << 17;
    m_s[2] ^= m_s[0];
    m_s[3] ^= m_s[1];
    m_s[1] ^= m_s[2];
    m_s[0] ^= m_s[3];
    m_s[2] ^= t;
    m_s[3] = rotl(m_s[3], 45);
    return result;
  }
  // Uniform in [0, n). @pre n > 0
  uint64_t below(uint64_t n) {
    __extension__ using u128 = unsigned __int128;
    return static_cast<uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t m_s[4];
};

// Keeps the k largest of the scores offered, ties to the one offered first, largest first.
class TopK {
 public:
  void reset(int64_t k) {
    m_k = static_cast<size_t>(k);
    m_out.clear();
    m_floor = 0;
  }
  void offer(int32_t id, uint32_t x) {
    if (m_out.size() == m_k) {
      if (x <= m_floor) return;
      m_out.pop_back();
    }
    size_t i = m_out.size();
    m_out.emplace_back(id, x);
    while (i > 0 && m_out[i - 1].second < x) {
      m_out[i] = m_out[i - 1];
      --i;
    }
    m_out[i] = {id, x};
    if (m_out.size() == m_k) m_floor = m_out.back().second;
  }
  const std::vector<std::pair<int32_t, uint32_t>>& items() const { return m_out; }

 private:
  size_t m_k = 0;
  uint32_t m_floor = 0;
  std::vector<std::pair<int32_t, uint32_t>> m_out;
};

// Chooses the experts of every token; returns [gpu][token][k] logical experts.
class ExpertChooser {
 public:
  explicit ExpertChooser(const RoutingProblem& p)
      : m_p(p),
        m_nodes(p.nodes()),
        m_per_node(p.experts / p.nodes()),
        m_limit(p.reachable_nodes()),
        m_score(static_cast<size_t>(p.experts)) {
    if (p.spec.kind == RoutingKind::Zipf) {
      // Popularity by a seeded random ranking of the experts.
      std::vector<int32_t> rank(static_cast<size_t>(p.experts));
      std::iota(rank.begin(), rank.end(), 0);
      Rng rng(p.seed, 0xfeedULL);
      for (size_t i = rank.size(); i > 1; --i) std::swap(rank[i - 1], rank[rng.below(i)]);
      m_weight.resize(rank.size());
      for (size_t r = 0; r < rank.size(); ++r) {
        m_weight[static_cast<size_t>(rank[r])] = 1.0 / std::pow(static_cast<double>(r + 1), p.spec.zipf_exponent);
      }
    }
  }

  void choose(int64_t gpu, Rng& rng, int32_t* out) {
    for (int64_t t = 0; t < m_p.tokens; ++t, out += m_p.topk) {
      switch (m_p.spec.kind) {
        case RoutingKind::DeepEP:
          deepep(rng, out);
          break;
        case RoutingKind::Balanced:
          balanced(gpu, t, out);
          break;
        case RoutingKind::Uniform:
          uniform(rng, out);
          break;
        case RoutingKind::Zipf:
          zipf(rng, out);
          break;
      }
    }
  }

 private:
  void deepep(Rng& rng, int32_t* out) {
    for (size_t e = 0; e < m_score.size(); e += 2) {
      const uint64_t r = rng.next();
      m_score[e] = static_cast<uint32_t>(r);
      if (e + 1 < m_score.size()) m_score[e + 1] = static_cast<uint32_t>(r >> 32);
    }
    m_nodes_top.reset(m_limit);
    for (int64_t n = 0; n < m_nodes; ++n) {
      uint32_t best = 0;
      if (m_limit < m_nodes) {
        for (int64_t e = n * m_per_node; e < (n + 1) * m_per_node; ++e) {
          best = std::max(best, m_score[static_cast<size_t>(e)]);
        }
      }
      m_nodes_top.offer(static_cast<int32_t>(n), best);
    }
    m_chosen.clear();
    for (const auto& [n, x] : m_nodes_top.items()) m_chosen.push_back(n);
    std::sort(m_chosen.begin(), m_chosen.end());
    m_experts_top.reset(m_p.topk);
    for (int32_t n : m_chosen) {
      for (int64_t e = n * m_per_node; e < (n + 1) * m_per_node; ++e) {
        m_experts_top.offer(static_cast<int32_t>(e), m_score[static_cast<size_t>(e)]);
      }
    }
    for (const auto& [e, x] : m_experts_top.items()) *out++ = e;
  }

  // Copy q = t * k + j of GPU s goes to position s + 1 + q of an order that visits every GPU before any GPU's
  // second expert: a token's k copies land on k consecutive GPUs after s, and every GPU and expert receives the
  // same number of copies. Without a whole number of experts per GPU, positions are experts from s's share on.
  void balanced(int64_t s, int64_t t, int32_t* out) const {
    const int64_t E = m_p.experts, per_gpu = E / m_p.gpus;
    const bool by_gpu = per_gpu >= 1 && per_gpu * m_p.gpus == E;
    const int64_t start = by_gpu ? s + 1 : (s + 1) * E / m_p.gpus;
    for (int64_t j = 0; j < m_p.topk; ++j) {
      const int64_t p = (start + t * m_p.topk + j) % E;
      out[j] = static_cast<int32_t>(by_gpu ? (p % m_p.gpus) * per_gpu + p / m_p.gpus : p);
    }
  }

  void uniform(Rng& rng, int32_t* out) const {
    // Floyd's sampling of k distinct values of [0, experts).
    int64_t n = 0;
    for (int64_t j = m_p.experts - m_p.topk; j < m_p.experts; ++j) {
      const auto t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(j + 1)));
      const bool taken = std::find(out, out + n, t) != out + n;
      out[n++] = taken ? static_cast<int32_t>(j) : t;
    }
  }

  void zipf(Rng& rng, int32_t* out) {
    m_avail = m_weight;
    double total = std::accumulate(m_avail.begin(), m_avail.end(), 0.0);
    m_used.assign(static_cast<size_t>(m_nodes), 0);
    int64_t used = 0;
    for (int64_t j = 0; j < m_p.topk; ++j) {
      const double u = rng.unit() * total;
      double acc = 0;
      size_t e = 0, last = 0;
      for (; e < m_avail.size(); ++e) {
        if (m_avail[e] <= 0) continue;
        last = e;
        acc += m_avail[e];
        if (acc > u) break;
      }
      if (e == m_avail.size()) e = last;  // rounding at the top end
      out[j] = static_cast<int32_t>(e);
      m_avail[e] = 0;
      const auto node = static_cast<size_t>(static_cast<int64_t>(e) / m_per_node);
      if (!m_used[node]) {
        m_used[node] = 1;
        if (++used == m_limit) {
          for (size_t x = 0; x < m_avail.size(); ++x) {
            if (!m_used[x / static_cast<size_t>(m_per_node)]) m_avail[x] = 0;
          }
        }
      }
      total = std::accumulate(m_avail.begin(), m_avail.end(), 0.0);
    }
  }

  const RoutingProblem& m_p;
  int64_t m_nodes, m_per_node, m_limit;
  std::vector<uint32_t> m_score;
  std::vector<int32_t> m_chosen;
  TopK m_nodes_top, m_experts_top;
  std::vector<double> m_weight, m_avail;
  std::vector<char> m_used;
};

// Replica hosts of every expert (EPLB-like packing by load); without redundant experts, DeepEP's layout.
std::vector<std::vector<int32_t>> place_experts(const RoutingProblem& p, const std::vector<int64_t>& load) {
  std::vector<std::vector<int32_t>> hosts(static_cast<size_t>(p.experts));
  const int64_t slots_per_gpu = (p.experts + p.redundant) / p.gpus;
  if (p.redundant == 0) {
    for (int64_t e = 0; e < p.experts; ++e)
      hosts[static_cast<size_t>(e)].push_back(static_cast<int32_t>(e / slots_per_gpu));
    return hosts;
  }
  const int64_t nodes = p.nodes();
  const int64_t groups = p.redundant % nodes == 0 ? nodes : 1;
  const int64_t experts_per_group = p.experts / groups, gpus_per_group = p.gpus / groups;
  for (int64_t gr = 0; gr < groups; ++gr) {
    const int64_t e0 = gr * experts_per_group, g0 = gr * gpus_per_group;
    std::vector<int64_t> replicas(static_cast<size_t>(experts_per_group), 1);
    auto per_replica = [&](int64_t i) {
      return static_cast<double>(load[static_cast<size_t>(e0 + i)]) /
             static_cast<double>(replicas[static_cast<size_t>(i)]);
    };
    for (int64_t r = 0; r < p.redundant / groups; ++r) {
      int64_t best = 0;
      for (int64_t i = 1; i < experts_per_group; ++i) {
        if (per_replica(i) > per_replica(best)) best = i;
      }
      ++replicas[static_cast<size_t>(best)];
    }
    struct Item {
      int64_t expert;
      double load;
    };
    std::vector<Item> items;
    for (int64_t i = 0; i < experts_per_group; ++i) {
      for (int64_t r = 0; r < replicas[static_cast<size_t>(i)]; ++r) items.push_back({e0 + i, per_replica(i)});
    }
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.load > b.load; });
    std::vector<double> gpu_load(static_cast<size_t>(gpus_per_group), 0);
    std::vector<int64_t> used(static_cast<size_t>(gpus_per_group), 0);
    for (const Item& it : items) {
      int64_t best = -1;
      for (int64_t g = 0; g < gpus_per_group; ++g) {
        if (used[static_cast<size_t>(g)] == slots_per_gpu) continue;
        if (best < 0 || gpu_load[static_cast<size_t>(g)] < gpu_load[static_cast<size_t>(best)]) best = g;
      }
      V3SIM_ASSERT(best >= 0);
      gpu_load[static_cast<size_t>(best)] += it.load;
      ++used[static_cast<size_t>(best)];
      hosts[static_cast<size_t>(it.expert)].push_back(static_cast<int32_t>(g0 + best));
    }
  }
  return hosts;
}

}  // namespace

std::string RoutingSpec::str() const {
  switch (kind) {
    case RoutingKind::DeepEP:
      return "deepep";
    case RoutingKind::Balanced:
      return "balanced";
    case RoutingKind::Uniform:
      return "uniform";
    case RoutingKind::Zipf:
      return fmt::format("zipf:{}", zipf_exponent);
  }
  return "?";
}

RoutingSpec parse_routing(const std::string& text, const std::string& option) {
  RoutingSpec s;
  if (text == "deepep") return s;
  if (text == "balanced" || text == "uniform") {
    s.kind = text == "balanced" ? RoutingKind::Balanced : RoutingKind::Uniform;
    return s;
  }
  if (text.starts_with("zipf:")) {
    const std::string a = text.substr(5);
    size_t used = 0;
    double x = 0;
    try {
      x = std::stod(a, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == a.size() && used > 0 && x > 0 && std::isfinite(x)) {
      s.kind = RoutingKind::Zipf;
      s.zipf_exponent = x;
      return s;
    }
  }
  throw ConfigError(SourceLoc{option, 0}, "", "deepep, balanced, uniform or zipf:A with an exponent A > 0",
                    fmt::format("'{}'", text));
}

ExpertRouting route_tokens(const RoutingProblem& p) {
  V3SIM_ASSERT(p.gpus > 0 && p.tokens > 0 && p.topk > 0 && p.experts >= p.topk && p.redundant >= 0);
  V3SIM_ASSERT((p.experts + p.redundant) % p.gpus == 0 && p.experts % p.nodes() == 0);
  V3SIM_ASSERT(p.topk <= p.reachable_nodes() * (p.experts / p.nodes()));
  ExpertRouting r;
  r.gpus = p.gpus;
  r.tokens = p.tokens;
  r.topk = p.topk;
  r.expert.resize(static_cast<size_t>(p.gpus * p.tokens * p.topk));
  // Each GPU draws from its own stream, so the result does not depend on the number of threads.
  const int64_t threads =
      std::clamp<int64_t>(static_cast<int64_t>(std::thread::hardware_concurrency()), 1, std::min<int64_t>(16, p.gpus));
  auto work = [&](int64_t first) {
    ExpertChooser chooser(p);
    for (int64_t g = first; g < p.gpus; g += threads) {
      Rng rng(p.seed, static_cast<uint64_t>(g) + 1);
      chooser.choose(g, rng, &r.expert[r.index(g, 0, 0)]);
    }
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& t : pool) t.join();
  r.expert_load.assign(static_cast<size_t>(p.experts), 0);
  for (int32_t e : r.expert) ++r.expert_load[static_cast<size_t>(e)];
  const std::vector<std::vector<int32_t>> hosts = place_experts(p, r.expert_load);
  std::vector<int64_t> next(static_cast<size_t>(p.experts), 0);
  r.gpu.resize(r.expert.size());
  r.gpu_load.assign(static_cast<size_t>(p.gpus), 0);
  for (size_t i = 0; i < r.expert.size(); ++i) {
    const auto e = static_cast<size_t>(r.expert[i]);
    const auto& h = hosts[e];
    r.gpu[i] = h[static_cast<size_t>(next[e]++ % static_cast<int64_t>(h.size()))];
    ++r.gpu_load[static_cast<size_t>(r.gpu[i])];
  }
  return r;
}

}  // namespace v3sim::net
