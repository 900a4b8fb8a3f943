#include "models/op.h"

#include <fmt/format.h>

namespace v3sim {

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::Embedding:
      return "embedding";
    case OpKind::Norm:
      return "norm";
    case OpKind::Quantize:
      return "quantize";
    case OpKind::TransposeRequant:
      return "transpose_requant";
    case OpKind::WeightCast:
      return "weight_cast";
    case OpKind::Gemm:
      return "gemm";
    case OpKind::GroupedGemm:
      return "grouped_gemm";
    case OpKind::BatchedGemm:
      return "batched_gemm";
    case OpKind::Attention:
      return "attention";
    case OpKind::Rope:
      return "rope";
    case OpKind::Activation:
      return "activation";
    case OpKind::Elementwise:
      return "elementwise";
    case OpKind::Router:
      return "router";
    case OpKind::Permute:
      return "permute";
    case OpKind::Unpermute:
      return "unpermute";
    case OpKind::KvCacheAppend:
      return "kv_cache_append";
    case OpKind::Loss:
      return "loss";
    case OpKind::Optimizer:
      return "optimizer";
    case OpKind::AllToAllDispatch:
      return "all_to_all_dispatch";
    case OpKind::AllToAllCombine:
      return "all_to_all_combine";
    case OpKind::AllGather:
      return "all_gather";
    case OpKind::ReduceScatter:
      return "reduce_scatter";
    case OpKind::AllReduce:
      return "all_reduce";
    case OpKind::SendRecv:
      return "send_recv";
    case OpKind::kCount:
      break;
  }
  return "?";
}

const char* to_string(Pass p) {
  switch (p) {
    case Pass::Forward:
      return "fwd";
    case Pass::Dgrad:
      return "dgrad";
    case Pass::Wgrad:
      return "wgrad";
    case Pass::Optimizer:
      return "optim";
  }
  return "?";
}

const char* to_string(DType t) {
  switch (t) {
    case DType::None:
      return "none";
    case DType::E4M3:
      return "e4m3";
    case DType::E5M2:
      return "e5m2";
    case DType::BF16:
      return "bf16";
    case DType::FP16:
      return "fp16";
    case DType::FP32:
      return "fp32";
  }
  return "?";
}

const char* to_string(Major m) {
  switch (m) {
    case Major::None:
      return "none";
    case Major::K:
      return "k";
    case Major::MN:
      return "mn";
  }
  return "?";
}

const char* to_string(QuantGran q) {
  switch (q) {
    case QuantGran::None:
      return "none";
    case QuantGran::Tile1x128:
      return "1x128";
    case QuantGran::Tile128x1:
      return "128x1";
    case QuantGran::Block128x128:
      return "128x128";
  }
  return "?";
}

const char* to_string(CommGroup g) {
  switch (g) {
    case CommGroup::None:
      return "none";
    case CommGroup::TP:
      return "tp";
    case CommGroup::EP:
      return "ep";
    case CommGroup::PP:
      return "pp";
    case CommGroup::DP:
      return "dp";
    case CommGroup::ExpertDP:
      return "expert_dp";
  }
  return "?";
}

const char* to_string(Module m) {
  switch (m) {
    case Module::Embedding:
      return "embedding";
    case Module::Attention:
      return "attention";
    case Module::DenseFfn:
      return "dense_ffn";
    case Module::Moe:
      return "moe";
    case Module::Head:
      return "head";
    case Module::Mtp:
      return "mtp";
    case Module::Optimizer:
      return "optimizer";
    case Module::Pipeline:
      return "pipeline";
  }
  return "?";
}

int dtype_bytes(DType t) {
  switch (t) {
    case DType::None:
      return 0;
    case DType::E4M3:
    case DType::E5M2:
      return 1;
    case DType::BF16:
    case DType::FP16:
      return 2;
    case DType::FP32:
      return 4;
  }
  return 0;
}

bool is_communication(OpKind k) {
  switch (k) {
    case OpKind::AllToAllDispatch:
    case OpKind::AllToAllCombine:
    case OpKind::AllGather:
    case OpKind::ReduceScatter:
    case OpKind::AllReduce:
    case OpKind::SendRecv:
      return true;
    default:
      return false;
  }
}

std::string describe(const OpDesc& op) {
  std::string out = fmt::format("{} {} {}", op.name, to_string(op.kind), to_string(op.pass));
  const GemmShape& g = op.gemm;
  switch (op.kind) {
    case OpKind::Gemm:
    case OpKind::GroupedGemm:
    case OpKind::BatchedGemm:
      out += fmt::format(" M={} N={} K={}", g.m, g.n, g.k);
      if (g.groups > 1) out += fmt::format(" groups={}", g.groups);
      if (g.batch > 1) out += fmt::format(" batch={}", g.batch);
      out += fmt::format(" {}x{}->{}", to_string(g.a_type), to_string(g.b_type), to_string(g.out_type));
      if (g.a_quant != QuantGran::None || g.b_quant != QuantGran::None)
        out += fmt::format(" scales {}/{}", to_string(g.a_quant), to_string(g.b_quant));
      break;
    default:
      if (is_communication(op.kind)) {
        out += fmt::format(" {}{} {} B", to_string(op.comm.group), op.comm.group_size, op.comm.bytes);
      } else {
        out += fmt::format(" tokens={}", op.tokens);
      }
      break;
  }
  return out;
}

}  // namespace v3sim
