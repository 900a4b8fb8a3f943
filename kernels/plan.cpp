#include "kernels/plan.h"

#include <fmt/format.h>

#include <set>
#include <stdexcept>

#include "kernels/cublaslt_gemm.h"
#include "kernels/fp8_gemm.h"
#include "models/graph_builder.h"

namespace v3sim::kernels {

namespace {

Fp8GemmProblem gemm_problem(int64_t m, int64_t n, int64_t k, int64_t groups, const std::string& layout, int64_t sms) {
  Fp8GemmProblem p;
  if (layout == "contiguous" || (groups > 1 && layout == "dense")) {
    p = Fp8GemmProblem::contiguous(std::vector<int64_t>(static_cast<size_t>(groups), m), n, k);
  } else if (layout == "masked") {
    p = Fp8GemmProblem::masked(static_cast<int>(groups), m, std::vector<int64_t>(static_cast<size_t>(groups), m), n, k);
  } else {
    p = Fp8GemmProblem::dense(m, n, k);
  }
  p.num_sms = static_cast<int>(sms);
  return p;
}

std::string gemm_name(const char* kind, int64_t m, int64_t n, int64_t k, int64_t groups, const std::string& layout,
                      int64_t sms) {
  std::string s = fmt::format("{}:m={},n={},k={}", kind, m, n, k);
  if (groups > 1) s += fmt::format(",groups={},layout={}", groups, layout == "dense" ? "contiguous" : layout);
  if (sms > 0) s += fmt::format(",sms={}", sms);
  return s;
}

const char* cast_name(CastKind kind) {
  switch (kind) {
    case CastKind::Quant1x128:
      return "quantize";
    case CastKind::Quant128x128:
      return "quantize-128x128";
    case CastKind::TransposeRequant:
      return "transpose-requant";
  }
  return "cast";
}

}  // namespace

PlannedKernel plan_gemm(bool cublaslt, int64_t m, int64_t n, int64_t k, int64_t groups, const std::string& layout,
                        int64_t sms) {
  const Fp8GemmProblem p = gemm_problem(m, n, k, groups, layout, sms);
  p.validate();  // a shape the kernel cannot run is the user's mistake, reported before touching the device
  if (cublaslt) {
    return {gemm_name("gemm-cublaslt", m, n, k, groups, layout, sms), "gemm",
            [p] { return make_cublaslt_fp8_gemm_op(p); }};
  }
  return {gemm_name("gemm", m, n, k, groups, layout, sms), "gemm", [p] { return make_fp8_gemm_op(p); }};
}

PlannedKernel plan_cast(CastKind kind, int64_t rows, int64_t cols, bool ue8m0) {
  CastProblem p;
  p.kind = kind;
  p.rows = rows;
  p.cols = cols;
  p.ue8m0 = ue8m0;
  p.validate();
  const char* name = cast_name(kind);
  return {fmt::format("{}:rows={},cols={}", name, rows, cols), name, [p] { return make_cast_op(p); }};
}

PlannedKernel plan_moe(bool permute, const MoeProblem& p) {
  p.validate();
  const char* name = permute ? "moe-permute" : "moe-unpermute";
  return {fmt::format("{}:tokens={},hidden={},topk={},experts={}", name, p.tokens, p.hidden, p.topk, p.experts), name,
          [p, permute] { return permute ? make_moe_permute_op(p) : make_moe_unpermute_op(p); }};
}

PlannedKernel plan_micro(const MicroProblem& p) {
  p.validate();
  PlannedKernel k{p.name(), to_string(p.op), [p] { return make_micro_op(p); }};
  k.flush_l2 = p.flush_l2();
  return k;
}

std::vector<PlannedKernel> plan_micro_suite(int64_t sms) {
  std::vector<PlannedKernel> out;
  for (const MicroProblem& p : micro_suite(sms)) out.push_back(plan_micro(p));
  for (const GemmShape& g : micro_gemm_shapes()) out.push_back(plan_gemm(true, g.m, g.n, g.k, 1, "dense", 0));
  return out;
}

PlannedKernel plan_mla_decode(const MlaDecodeProblem& p) {
  p.validate();
  return {fmt::format("mla-decode:batch={},cache={}", p.batch, p.cache_len), "attention",
          [p] { return make_mla_decode_op(p); }};
}

std::vector<PlannedKernel> plan_graph_kernels(const ModelConfig& model, const Deployment& deploy, int64_t sms,
                                              const std::function<void(const std::string&, const std::string&)>& note) {
  GraphOptions opt;
  opt.max_micro_batches = 1;
  const OpGraph g = build_graph(model, deploy, opt);
  std::vector<PlannedKernel> out;
  std::set<std::string> seen;
  for (uint32_t i = 0; i < g.num_descs(); ++i) {
    const OpDesc& d = g.descriptor(i);
    std::vector<PlannedKernel> one;
    try {
      if ((d.kind == OpKind::Gemm || d.kind == OpKind::GroupedGemm) && d.gemm.a_type == DType::E4M3) {
        const int64_t groups = d.gemm.groups;
        // The contiguous layout pads each expert's segment to the 128-row alignment.
        const int64_t rows = groups > 1 ? (d.gemm.m / groups + 127) / 128 * 128 : d.gemm.m;
        one.push_back(plan_gemm(false, rows, d.gemm.n, d.gemm.k, groups, groups > 1 ? "contiguous" : "dense", sms));
      } else if (d.kind == OpKind::Quantize) {
        one.push_back(plan_cast(CastKind::Quant1x128, d.gemm.m, d.gemm.k, false));
      } else if (d.kind == OpKind::TransposeRequant) {
        one.push_back(plan_cast(CastKind::TransposeRequant, d.gemm.m, d.gemm.k, false));
      }
    } catch (const std::invalid_argument& e) {
      if (seen.insert("refused " + std::string(e.what())).second && note) note(d.name, e.what());
      continue;
    }
    for (auto& p : one)
      if (seen.insert(p.name).second) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace v3sim::kernels
