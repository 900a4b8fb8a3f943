// DeepSeek's published H800 measurements (../shared/reference/deepseek-v3.yaml, copied in tests/data/reference):
// DeepGEMM's dense FP8 GEMM table as a measured timeline, so `v3sim compare` works without a GPU, and DeepEP's
// normal-kernel table as all-to-all figures (the validation table and `v3sim calibrate` read both). Each op is named
// by its problem ("gemm:m=4096,n=7168,k=16384"), which is how `compare` knows what to project.
#pragma once

#include <string>

#include "report/h5_file.h"
#include "sim/net/alltoall.h"

namespace v3sim::report {

// The last published DeepGEMM H800 dense table (18 shapes): one op per row, back to back on GPU 0, each lasting
// 2MNK / TFLOPS. Throws ConfigError naming the file and key when the table is missing or malformed.
ResultFile published_deepgemm_h800(const std::string& reference_yaml);

// Op names that carry their problem: "gemm:m=4096,n=7168,k=16384". parse_op_name returns the kind ("gemm") and
// the key=value pairs; empty kind when the name is not of that form.
std::string gemm_op_name(int64_t m, int64_t n, int64_t k);

// A reference table's item as a number (its whole text). @throws ConfigError naming its line and key, `expected`.
double table_number(const ConfigNode& item, const char* expected = "a number");
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> parse_op_name(const std::string& name);

}  // namespace v3sim::report

namespace v3sim::report {

// One figure of DeepEP's normal-kernel table: the bottleneck bandwidth its benchmark prints for one phase at one EP
// size (4096 tokens per rank, hidden 7168, top-8 of 256 experts, 24 SMs: DeepEP's tests/test_internode.py).
struct DeepEPFigure {
  std::string label;  // "internode dispatch EP64"
  net::AllToAllDesc desc;
  double measured_gbps = 0;
};

// The figures of a DeepEP normal table ({source, rows: [[type, dispatch_EP, dispatch_GBps, combine_EP,
// combine_GBps, bottleneck_link], ...]}), dispatch and combine of each row. @throws ConfigError naming the line and
// key of a malformed row.
std::vector<DeepEPFigure> deepep_normal_figures(const ConfigNode& table);

// The projection of one figure on a cluster: the bandwidth DeepEP would print (its bottleneck metric, rdma or nvl).
// @throws ConfigError when the cluster cannot hold the EP group.
net::AllToAllResult project_deepep_figure(const DeepEPFigure& f, const net::ClusterConfig& cluster);

}  // namespace v3sim::report
