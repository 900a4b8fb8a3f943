// DeepSeek's published H800 measurements (../shared/reference/deepseek-v3.yaml, copied in tests/data/reference)
// as measured timelines, so `v3sim compare` works without a GPU: DeepGEMM's dense FP8 GEMM table. Each op is named
// by its problem ("gemm:m=4096,n=7168,k=16384"), which is how `compare` knows what to project.
#pragma once

#include <string>

#include "report/h5_file.h"

namespace v3sim::report {

// The last published DeepGEMM H800 dense table (18 shapes): one op per row, back to back on GPU 0, each lasting
// 2MNK / TFLOPS. Throws ConfigError naming the file and key when the table is missing or malformed.
ResultFile published_deepgemm_h800(const std::string& reference_yaml);

// Op names that carry their problem: "gemm:m=4096,n=7168,k=16384". parse_op_name returns the kind ("gemm") and
// the key=value pairs; empty kind when the name is not of that form.
std::string gemm_op_name(int64_t m, int64_t n, int64_t k);
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> parse_op_name(const std::string& name);

}  // namespace v3sim::report
