// Which kernels of kernels/ to run for a request: one FP8 GEMM, cast, MoE permute or MLA decode problem, or every
// distinct kernel of an operator graph that kernels/ implements (`v3sim measure --kernel`, `--deploy`). Each
// planned kernel carries the name `compare` reads back from a measured trace ("gemm:m=..,n=..,k=..") and a
// factory that builds the device op only when it is run, so planning needs no GPU and refuses a bad shape before
// touching one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/casts.h"
#include "kernels/kernel_op.h"
#include "kernels/micro.h"
#include "kernels/mla_decode.h"
#include "kernels/moe.h"
#include "models/deployment.h"
#include "models/model_config.h"

namespace v3sim::kernels {

struct PlannedKernel {
  std::string name;  // as measured traces name it: "<kernel>:<key>=<value>,..."
  std::string kind;  // the op kind it stands for ("gemm", "quantize", "attention", ...)
  std::function<std::unique_ptr<DeviceOp>()> make;
  bool flush_l2 = true;  // the timed launches start from a cold L2 (false: the op measures a warm one)
};

// The FP8 GEMM `m x n x k` (`groups` > 1: a grouped GEMM in `layout` "contiguous" or "masked"; "dense" with
// groups > 1 means contiguous), on `sms` SMs (0: all), with v3sim's kernel or cuBLASLt's. Throws
// std::invalid_argument for a shape the kernel cannot run.
PlannedKernel plan_gemm(bool cublaslt, int64_t m, int64_t n, int64_t k, int64_t groups, const std::string& layout,
                        int64_t sms);
// A quantization cast of a `rows x cols` BF16 matrix. Throws std::invalid_argument for a bad shape.
PlannedKernel plan_cast(CastKind kind, int64_t rows, int64_t cols, bool ue8m0);
// MoE permute (tokens to expert-contiguous rows) or unpermute. Throws std::invalid_argument for a bad problem.
PlannedKernel plan_moe(bool permute, const MoeProblem& p);
// A microbenchmark of kernels/micro.h. Throws std::invalid_argument for a bad problem.
PlannedKernel plan_micro(const MicroProblem& p);
// `measure --suite micro` on a GPU of `sms` SMs: micro_suite(sms), then micro_gemm_shapes() on cuBLASLt.
std::vector<PlannedKernel> plan_micro_suite(int64_t sms);
// MLA decode attention. Throws std::invalid_argument for a bad problem.
PlannedKernel plan_mla_decode(const MlaDecodeProblem& p);

// Every distinct kernel of one micro-batch of the deployment's graph that kernels/ implements: FP8 GEMMs (grouped
// ones in the contiguous layout, each expert's rows padded to the quantization tile), 1x128 quantization and the
// transposed re-quantization. An op whose shape the kernel refuses is left out and reported once per shape
// through `note` (op name, reason).
std::vector<PlannedKernel> plan_graph_kernels(const ModelConfig& model, const Deployment& deploy, int64_t sms,
                                              const std::function<void(const std::string&, const std::string&)>& note);

}  // namespace v3sim::kernels
