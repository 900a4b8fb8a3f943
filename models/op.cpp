#include "models/op.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/math.h"
#include "core/quant.h"

namespace v3sim {

const OpKindTraits& traits_of(OpKind k) {
  if (k >= OpKind::kCount) throw InternalError(fmt::format("traits_of: op kind {} out of range", static_cast<int>(k)));
  return kOpKindTraits[static_cast<size_t>(k)];
}

std::optional<OpKind> op_kind_named(std::string_view name) {
  for (const OpKindTraits& t : kOpKindTraits) {
    if (name == t.name) return t.kind;
  }
  return std::nullopt;
}

const char* to_string(OpKind k) {
  return k < OpKind::kCount ? traits_of(k).name : "?";
}

bool is_communication(OpKind k) {
  return k < OpKind::kCount && traits_of(k).family == OpFamily::Communication;
}

bool is_memory_bound(OpKind k) {
  return k < OpKind::kCount && traits_of(k).family == OpFamily::MemoryBound;
}

bool is_gemm(OpKind k) {
  return k < OpKind::kCount &&
         (traits_of(k).family == OpFamily::GemmDense || traits_of(k).family == OpFamily::GemmGrouped);
}

const char* to_string(OpFamily f) {
  switch (f) {
    case OpFamily::GemmDense:
      return "gemm_dense";
    case OpFamily::GemmGrouped:
      return "gemm_grouped";
    case OpFamily::Attention:
      return "attention";
    case OpFamily::MemoryBound:
      return "membound";
    case OpFamily::Communication:
      return "comm";
  }
  return "?";
}

const char* to_string(AllToAllPhase p) {
  switch (p) {
    case AllToAllPhase::Dispatch:
      return "dispatch";
    case AllToAllPhase::Combine:
      return "combine";
  }
  return "?";
}

int64_t alltoall_copy_bytes(AllToAllPhase p, int64_t hidden) {
  switch (p) {
    case AllToAllPhase::Dispatch:
      return hidden + ceil_div(hidden, kQuantTile) * 4;
    case AllToAllPhase::Combine:
      return 2 * hidden;
  }
  return 0;
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

std::string describe(const OpDesc& op) {
  std::string out = fmt::format("{} {} {}", op.name, to_string(op.kind), to_string(op.pass));
  const GemmShape& g = op.gemm;
  if (is_gemm(op.kind)) {
    out += fmt::format(" M={} N={} K={}", g.m, g.n, g.k);
    if (g.groups > 1) out += fmt::format(" groups={}", g.groups);
    if (g.batch > 1) out += fmt::format(" batch={}", g.batch);
    out += fmt::format(" {}x{}->{}", to_string(g.a_type), to_string(g.b_type), to_string(g.out_type));
    if (g.a_quant != QuantGran::None || g.b_quant != QuantGran::None)
      out += fmt::format(" scales {}/{}", to_string(g.a_quant), to_string(g.b_quant));
  } else if (is_communication(op.kind)) {
    out += fmt::format(" {}{} {} B", to_string(op.comm.group), op.comm.group_size, op.comm.bytes);
  } else {
    out += fmt::format(" tokens={}", op.tokens);
  }
  return out;
}

}  // namespace v3sim
