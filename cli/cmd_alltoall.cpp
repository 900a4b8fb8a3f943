// `v3sim alltoall`: one MoE dispatch or combine, as DeepEP runs it, simulated on a cluster's network.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "report/trace.h"
#include "sim/net/alltoall.h"
#include "v3sim/version.h"

namespace v3sim::cli {

namespace {

using net::AllToAllDesc;
using net::AllToAllResult;

struct AllToAllArgs {
  std::string cluster = "h800-2048-mpft";
  AllToAllDesc desc;
  TableOptions table{net::alltoall_spec(), "alltoall"};  // --ep --tokens --hidden --topk --experts ... --seed
  std::string mode = "normal";
  std::string phase = "dispatch";
  std::string routing = "deepep";
  std::vector<std::string> sets;
  bool json = false;
  std::string output;
};

nlohmann::json to_json(const AllToAllDesc& d, const net::ClusterConfig& c, const AllToAllResult& r, double wall) {
  nlohmann::json j;
  j["cluster"] = c.name;
  j["problem"] = d.str(c);
  j["mode"] = to_string(d.mode);
  j["phase"] = to_string(d.phase);
  j["ep"] = d.ep;
  j["nodes"] = r.nodes;
  j["tokens"] = d.tokens;
  j["hidden"] = d.hidden;
  j["topk"] = d.topk;
  j["experts"] = d.experts;
  j["redundant"] = d.redundant;
  j["node_limit"] = d.node_limit;
  j["sms"] = d.comm_sms(c);
  j["coprocessor"] = c.coprocessor;
  j["routing"] = d.routing.str();
  j["seed"] = d.seed;
  j["bytes_per_copy"] = d.copy_bytes();
  j["time_us"] = r.time.microseconds();
  j["rdma_gbps"] = r.rdma_gbps;
  j["nvl_gbps"] = r.nvl_gbps;
  j["bottleneck_metric"] = r.metric;
  j["bottleneck_gbps"] = r.metric_gbps;
  j["bottleneck"] = {{"class", net::link_class_name(r.bottleneck_class)},
                     {"link", r.bottleneck_link},
                     {"utilization", r.bottleneck_utilization}};
  nlohmann::json links = nlohmann::json::object();
  for (const auto& u : r.classes) {
    links[std::string(net::link_class_name(u.cls))] = {{"links", u.links},
                                                       {"bytes", u.bytes},
                                                       {"mean_utilization", u.mean_utilization},
                                                       {"max_utilization", u.max_utilization}};
  }
  j["links"] = links;
  j["copies"] = r.copies;
  j["gpu_copies"] = r.gpu_copies;
  j["node_copies"] = r.node_copies;
  j["bytes_sent"] = r.bytes_sent;
  j["bytes_delivered"] = r.bytes_delivered;
  j["events"] = r.events;
  j["wall_s"] = wall;
  return j;
}

void print_human(const AllToAllDesc& d, const net::ClusterConfig& c, const AllToAllResult& r, double wall) {
  fmt::print("{}\n", d.str(c));
  fmt::print("time        {:.1f} us\n", r.time.microseconds());
  fmt::print("RDMA        {:.1f} GB/s{}\n", r.rdma_gbps, r.metric == "rdma" ? "  (DeepEP's bottleneck bandwidth)" : "");
  fmt::print("NVLink      {:.1f} GB/s{}\n", r.nvl_gbps, r.metric == "nvl" ? "  (DeepEP's bottleneck bandwidth)" : "");
  fmt::print("bottleneck  {} ({:.0f}% busy)\n", r.bottleneck_link, 100 * r.bottleneck_utilization);
  fmt::print("{:<12} {:>6} {:>12} {:>10} {:>10}\n", "link class", "links", "GB", "mean busy", "max busy");
  for (const auto& u : r.classes) {
    fmt::print("{:<12} {:>6} {:>12.3f} {:>9.0f}% {:>9.0f}%\n", net::link_class_name(u.cls), u.links,
               static_cast<double>(u.bytes) * 1e-9, 100 * u.mean_utilization, 100 * u.max_utilization);
  }
  fmt::print("simulated {} events in {:.2f} s\n", r.events, wall);
}

int run_alltoall(AllToAllArgs& a, const RunOptions& opts) {
  AllToAllDesc& d = a.desc;
  net::read_alltoall_desc(a.table.read(), d);
  d.mode = *enum_named(a.mode, net::kAllToAllModes);  // CLI::IsMember checked the name
  d.phase = *enum_named(a.phase, kAllToAllPhases);    // CLI::IsMember checked the name
  d.routing = net::parse_routing(a.routing, "--routing");
  if (!a.output.empty() && !a.output.ends_with(".json") && !a.output.ends_with(".json.gz")) {
    throw ConfigError(SourceLoc{"-o", 0}, "", "a Chrome/Perfetto trace file name ending in .json or .json.gz",
                      fmt::format("'{}'", a.output));
  }
  if (!a.output.empty()) check_output_path(a.output, "-o");
  auto overrides = parse_overrides(a.sets, {"cluster"});
  const ConfigNode root = load_document(resolve_config(a.cluster, "clusters", "--cluster"), "cluster", overrides);
  const net::ClusterConfig c = net::load_cluster(root);
  a.table.guard([&] { d.validate(c); });
  if (opts.validate_only) {
    a.table.guard([&] { net::check_alltoall_work(c, d); });
    return 0;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const AllToAllResult r =
      a.table.guard([&] { return net::run_alltoall(c, d, !a.output.empty(), progress_printer("alltoall")); });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.output.empty()) {
    const auto meta = nlohmann::json{{"tool", fmt::format("v3sim {}", kVersion)},
                                     {"git_revision", kGitRevision},
                                     {"problem", d.str(c)},
                                     {"cluster_config", root.to_yaml()}};
    report::write_link_trace(a.output, r.trace, meta.dump());
  }
  if (a.json) {
    std::puts(to_json(d, c, r, wall).dump(2).c_str());
  } else {
    print_human(d, c, r, wall);
  }
  return 0;
}

}  // namespace

CommandRunner add_alltoall_command(CLI::App& app) {
  auto a = std::make_shared<AllToAllArgs>();
  CLI::App* cmd = app.add_subcommand("alltoall", "MoE dispatch or combine (DeepEP) simulated on a cluster's network");
  cmd->footer(
      "Examples:\n"
      "  v3sim alltoall                                        # EP64 training dispatch, 4096 tokens/GPU, H800 MPFT\n"
      "  v3sim alltoall --ep 8 --phase combine --json          # intranode (NVLink only)\n"
      "  v3sim alltoall --ep 64 --sms 20                       # the 20 SMs of V3 training\n"
      "  v3sim alltoall --cluster h800-decode-40node --ep 320 --experts 320 --topk 9 --tokens 128 --mode low-latency\n"
      "  v3sim alltoall --cluster proposals/unified-network -o a2a.json   # trace for ui.perfetto.dev\n"
      "Bandwidths are DeepEP's: RDMA = distinct (token, node) pairs x bytes per copy / time, per GPU; NVLink = "
      "distinct\n(token, GPU) pairs received; low-latency RDMA counts every (token, expert) copy.");
  cmd->add_option("--cluster", a->cluster, "cluster YAML file or name in configs/clusters")->capture_default_str();
  for (const auto& [flag, key] : std::vector<std::pair<std::string, std::string>>{{"--ep", "ep"},
                                                                                  {"--tokens", "tokens"},
                                                                                  {"--hidden", "hidden"},
                                                                                  {"--topk", "topk"},
                                                                                  {"--experts", "experts"},
                                                                                  {"--redundant", "redundant"},
                                                                                  {"--node-limit", "node_limit"}}) {
    a->table.add(*cmd, flag, key);
  }
  cmd->add_option("--mode", a->mode, "normal (training, prefill) or low-latency (decode) kernels")
      ->check(CLI::IsMember(enum_choices(net::kAllToAllModes)))
      ->capture_default_str();
  cmd->add_option("--phase", a->phase, "dispatch (FP8 with 1x128 scales) or combine (BF16)")
      ->check(CLI::IsMember(enum_choices(kAllToAllPhases)))
      ->capture_default_str();
  a->table.add(*cmd, "--sms", "sms");
  cmd->add_option("--routing", a->routing, "deepep, balanced, uniform or zipf:A")->capture_default_str();
  a->table.add(*cmd, "--seed", "seed");
  add_set_option(*cmd, a->sets);
  cmd->add_flag("--json", a->json, "print one JSON object on stdout");
  cmd->add_option("-o,--output", a->output, "write a Chrome/Perfetto trace (.json) of the links' busy time");
  return [a](const RunOptions& opts) { return run_alltoall(*a, opts); };
}

}  // namespace v3sim::cli
