// Routing generators: node limit, balance, skew, redundant experts, reproducibility.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "sim/net/routing.h"

using namespace v3sim;
using namespace v3sim::net;

namespace {

RoutingProblem problem(int64_t gpus, const std::string& spec, int64_t tokens = 512) {
  RoutingProblem p;
  p.gpus = gpus;
  p.gpus_per_node = 8;
  p.tokens = tokens;
  p.topk = 8;
  p.experts = 256;
  p.node_limit = 4;
  p.spec = parse_routing(spec, "--routing");
  return p;
}

// Distinct values of [first, first + n) after mapping through f.
template <typename F>
size_t distinct(const int32_t* first, int64_t n, F f) {
  std::set<int64_t> s;
  for (int64_t i = 0; i < n; ++i) s.insert(f(first[i]));
  return s.size();
}

}  // namespace

TEST_CASE("node-limited routing never sends a token to more than 4 nodes", "[net][routing]") {
  for (const std::string spec : {"deepep", "zipf:1.2", "balanced"}) {
    for (int64_t gpus : {64, 128, 256}) {
      CAPTURE(spec, gpus);
      const RoutingProblem p = problem(gpus, spec, 128);
      const ExpertRouting r = route_tokens(p);
      const int64_t per_node = p.experts / p.nodes();
      size_t most = 0, most_by_gpu = 0, fewest_experts = 8;
      for (int64_t g = 0; g < gpus; ++g) {
        for (int64_t t = 0; t < p.tokens; ++t) {
          const int32_t* e = &r.expert[r.index(g, t, 0)];
          fewest_experts = std::min(fewest_experts, distinct(e, p.topk, [](int32_t x) { return x; }));
          most = std::max(most, distinct(e, p.topk, [&](int32_t x) { return x / per_node; }));
          most_by_gpu =
              std::max(most_by_gpu, distinct(&r.gpu[r.index(g, t, 0)], p.topk, [](int32_t x) { return x / 8; }));
        }
      }
      CHECK(fewest_experts == 8);  // k distinct experts
      CHECK(most <= 4);
      CHECK(most_by_gpu <= 4);
      if (spec == "deepep") CHECK(most == 4);
    }
  }
}

TEST_CASE("DeepEP's routing spreads a token as random top-k does", "[net][routing]") {
  // EP32 (4 nodes, all reachable): E[distinct nodes] = 4 (1 - (3/4)^8) = 3.60.
  const ExpertRouting r32 = route_tokens(problem(32, "deepep", 2048));
  double nodes = 0;
  for (size_t i = 0; i < r32.expert.size(); i += 8)
    nodes += distinct(&r32.expert[i], 8, [](int32_t x) { return x / 64; });
  CHECK(nodes / static_cast<double>(r32.expert.size() / 8) == Approx(3.60).epsilon(0.01));
  // EP8: E[distinct GPUs] = 8 (1 - (7/8)^8) = 5.25 (32 experts per GPU, close to sampling with replacement).
  const ExpertRouting r8 = route_tokens(problem(8, "deepep", 4096));
  double gpus = 0;
  for (size_t i = 0; i < r8.gpu.size(); i += 8) gpus += distinct(&r8.gpu[i], 8, [](int32_t x) { return x; });
  CHECK(gpus / static_cast<double>(r8.gpu.size() / 8) == Approx(5.25).epsilon(0.02));
}

TEST_CASE("balanced routing gives every GPU and expert the same number of copies", "[net][routing]") {
  RoutingProblem p = problem(320, "balanced", 32);
  p.experts = 320;
  p.topk = 9;
  p.node_limit = 0;
  const ExpertRouting r = route_tokens(p);
  for (int64_t load : r.gpu_load) CHECK(load == 32 * 9);
  for (int64_t load : r.expert_load) CHECK(load == 32 * 9);
  const ExpertRouting r64 = route_tokens(problem(64, "balanced", 4096));
  CHECK(*std::max_element(r64.expert_load.begin(), r64.expert_load.end()) ==
        *std::min_element(r64.expert_load.begin(), r64.expert_load.end()));
}

TEST_CASE("uniform routing ignores the node limit; zipf routing is skewed by its exponent", "[net][routing]") {
  const ExpertRouting u = route_tokens(problem(64, "uniform"));
  size_t most = 0, fewest = 8;
  for (size_t i = 0; i < u.expert.size(); i += 8) {
    fewest = std::min(fewest, distinct(&u.expert[i], 8, [](int32_t x) { return x; }));
    most = std::max(most, distinct(&u.expert[i], 8, [](int32_t x) { return x / 32; }));
  }
  CHECK(fewest == 8);
  CHECK(most > 4);
  auto hottest_share = [](const ExpertRouting& r) {
    return static_cast<double>(*std::max_element(r.expert_load.begin(), r.expert_load.end())) /
           static_cast<double>(r.expert.size());
  };
  const double flat = hottest_share(u);
  const double mild = hottest_share(route_tokens(problem(64, "zipf:0.5")));
  const double steep = hottest_share(route_tokens(problem(64, "zipf:1.5")));
  CHECK(flat < 1.5 / 256);
  CHECK(mild > flat);
  CHECK(steep > 2 * mild);
}

TEST_CASE("redundant experts even out a skewed load", "[net][routing]") {
  RoutingProblem p = problem(64, "zipf:1.0");
  auto max_over_mean = [](const ExpertRouting& r) {
    const double mean = static_cast<double>(r.expert.size()) / static_cast<double>(r.gpu_load.size());
    return static_cast<double>(*std::max_element(r.gpu_load.begin(), r.gpu_load.end())) / mean;
  };
  const double without = max_over_mean(route_tokens(p));
  p.redundant = 64;  // 5 slots per GPU, 8 replicas per node
  const ExpertRouting with = route_tokens(p);
  CHECK(max_over_mean(with) < 0.6 * without);
  // The same experts are chosen; only who serves them changes.
  CHECK(with.expert == route_tokens(problem(64, "zipf:1.0")).expert);
}

TEST_CASE("routing is reproducible for a seed and changes with it", "[net][routing]") {
  for (const std::string spec : {"deepep", "uniform", "zipf:1.1"}) {
    CAPTURE(spec);
    RoutingProblem p = problem(16, spec, 256);
    const ExpertRouting a = route_tokens(p), b = route_tokens(p);
    CHECK(a.gpu == b.gpu);
    p.seed = 2;
    CHECK(route_tokens(p).gpu != a.gpu);
  }
}

TEST_CASE("routing specs parse and bad ones are named", "[net][routing][errors]") {
  CHECK(parse_routing("zipf:1.25", "--routing").zipf_exponent == 1.25);
  CHECK(parse_routing("balanced", "--routing").str() == "balanced");
  for (const char* bad : {"zipf", "zipf:-1", "zipf:x", "random"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH(parse_routing(bad, "--routing"),
                      Catch::Contains("--routing: expected deepep, balanced, uniform or zipf:A"));
  }
}
