// How a model is laid out on GPUs for one phase: parallelism (PP with its schedule, attention TP/SP, EP, ZeRO DP),
// batch shape and expert placement. Read from configs/deployments/*.yaml and checked against the model, so an
// impossible layout (EP not dividing the experts, PP not dividing the layers) fails at load with file:line:key.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/enum_names.h"
#include "core/params.h"
#include "models/model_config.h"

namespace v3sim {

enum class Phase { Train, Prefill, Decode };
enum class PipelineSchedule { None, OneFOneB, ZB1P, DualPipe };
// The FP8 GEMM kernels a deployment's software runs. DeepGemm: deepseek-ai/DeepGEMM's design (block sizes by its
// heuristic, promotion overlapped with the MMAs). Cutlass: DeepSeek's CUTLASS-based kernels of V3's training, as
// profile-data's trace shows them (128 x 256 tiles in 3 stages, 128 x 128 in 4 for the FP32-accumulating Wgrad,
// the tensor cores waiting while the warpgroups promote).
enum class GemmKernel { DeepGemm, Cutlass };

// The values a deployment config names (core/enum_names.h: parsers and `choices` derive from these and to_string).
inline constexpr Phase kPhases[] = {Phase::Train, Phase::Prefill, Phase::Decode};
inline constexpr PipelineSchedule kConfigSchedules[] = {PipelineSchedule::DualPipe, PipelineSchedule::OneFOneB,
                                                        PipelineSchedule::ZB1P};  // `none` is pp = 1's, not a choice
inline constexpr GemmKernel kGemmKernels[] = {GemmKernel::DeepGemm, GemmKernel::Cutlass};

const char* to_string(Phase p);
const char* to_string(PipelineSchedule s);
const char* to_string(GemmKernel k);
Phase parse_phase(const std::string& s);  // @pre one of train|prefill|decode

struct Deployment {
  std::string name;
  std::string model;  // the model config it is meant for ("" when not stated)
  Phase phase = Phase::Train;
  int64_t gpus = 1;
  int64_t gpus_per_node = 8;

  // parallelism
  int64_t pp = 1;
  PipelineSchedule schedule = PipelineSchedule::None;
  int64_t tp = 1;          // attention tensor parallelism
  bool sp = false;         // sequence parallelism with TP: tokens sharded outside attention
  int64_t ep = 1;          // expert parallelism
  int64_t zero_stage = 1;  // ZeRO stage of the data-parallel optimizer (training)

  // batch
  int64_t seq_len = 4096;               // train: sequence length; prefill: prompt length; decode: context length
  int64_t global_batch_sequences = 0;   // train
  int64_t micro_batch_sequences = 1;    // train: sequences per micro-batch per DP rank
  int64_t tokens_per_gpu = 0;           // prefill: tokens per GPU per step (after SP sharding)
  int64_t requests_per_gpu = 0;         // decode: requests per GPU per step (after SP sharding)
  int64_t speculative_tokens = 0;       // decode: MTP draft tokens verified per request per step
  int64_t inference_micro_batches = 1;  // prefill/decode: micro-batches overlapped (DeepSeek uses 2)
  double mtp_acceptance = 0.85;         // decode: probability an MTP draft token is accepted

  // execution
  int64_t comm_sms = 0;  // SMs held by the all-to-all kernels (train, prefill); 0: the cluster's comm.sms
  GemmKernel gemm_kernel = GemmKernel::DeepGemm;
  // Routed experts' weight gradients: one k-grouped kernel (false), or one dense kernel per local expert, every
  // other one on a second compute stream sharing the SMs (true: DeepSeek's training stack, profile-data).
  bool expert_wgrad_per_expert = false;
  // The memory-bound kernels of DeepSeek's V3 training stack (execution.kernel_stack: deepseek), launched as
  // profile-data shows them, instead of one roofline op per operation of the model.
  bool deepseek_kernels = false;

  // profile (train): simulate only what a profiler trace of one DualPipe chunk pair shows: the forward chunk of one
  // micro-batch overlapped with the backward chunk of another, each through this many MoE layers, on one GPU (no
  // embedding, head, MTP, pipeline sends or per-step work). 0: the whole step.
  int64_t profile_chunk_layers = 0;
  // GPUs of the EP group the chunk pair simulates when experts.load_cv > 0 (GPU 0 is the one reported, at the
  // balanced load; the others' loads are the EP group's expected order statistics, so the slowest stands for the
  // group's slowest). With balanced routing one GPU stands for all.
  int64_t profile_ep_ranks = 8;

  // experts
  int64_t redundant_experts = 0;
  bool shared_as_routed = false;  // shared expert hosted on expert slots and routed like the others
  int64_t shared_slots = 0;       // expert slots holding shared-expert replicas (with shared_as_routed)
  int64_t node_limit = 0;         // max nodes a token is dispatched to (0: no limit)
  // MoE load imbalance: the coefficient of variation, over GPUs, layers and micro-batches, of the token copies a
  // GPU's experts receive (0: every GPU receives its balanced share). Simulated in a profiled chunk pair with
  // profile_ep_ranks GPUs of the EP group.
  double load_cv = 0;

  // memory (section `memory:`): DeepSeek-V3's published savings, each a switch (on by default: V3's recipe), and
  // what nobody published. What a switch changes is in the graph (what the backward reads and what stays saved) or in
  // the persistent state (sim/exec/memory.h).
  struct Memory {
    bool recompute_norm = true;             // §3.2.3: RMSNorm recomputed in the backward, its output not kept
    bool recompute_mla_up_proj = true;      // §3.2.3: the MLA up-projections (q, k, v) recomputed in the backward
    bool ema_on_cpu = true;                 // §3.2.3: the EMA of the weights in CPU memory (else FP32 on the GPU)
    bool mtp_shared_embedding_head = true;  // §3.2.3: MTP shares the main model's embedding and output head
    bool bf16_optimizer_moments = true;     // §3.3.3: AdamW moments in BF16 (FP32 master weights and gradients)
    bool fp8_activation_cache = true;       // §3.3.4: Linear inputs cached in FP8 for the backward (else BF16)
    bool attn_out_e5m6 = true;              // §3.3.4: the attention output (wo's input) kept once, in E5M6
    bool moe_swiglu_fp8 = true;     // §3.3.4: MoE SwiGLU input cached in FP8, its output recomputed in the backward
    int64_t workspace_bytes = 0;    // framework: CUDA context, GEMM and attention workspaces (assumption)
    int64_t comm_buffer_bytes = 0;  // DeepEP's registered NVLink and RDMA buffers (assumption)
    double fragmentation = 0;       // allocator: fraction of the live activations held but not reusable
  } memory;

  // derived
  int64_t stage_gpus() const { return gpus / pp; }         // GPUs per pipeline rank
  int64_t dp() const { return gpus / (pp * tp); }          // data-parallel degree of the dense parameters
  int64_t expert_dp() const { return stage_gpus() / ep; }  // replicas of each expert slot set
  int64_t expert_slots(const ModelConfig& m) const { return m.n_routed_experts + redundant_experts + shared_slots; }
  int64_t experts_per_gpu(const ModelConfig& m) const { return expert_slots(m) / ep; }
  // Routed copies of each token (top-k, plus the shared expert when it is routed).
  int64_t fanout(const ModelConfig& m) const {
    return m.n_activated_experts + (shared_as_routed ? m.n_shared_experts : 0);
  }
  int64_t micro_batches() const;           // per pipeline (train) or per step (inference)
  int64_t tokens_per_micro_batch() const;  // per GPU, as the MoE sees them (after SP sharding)
  int64_t nodes() const { return gpus / gpus_per_node; }
};

const ComponentSpec& deployment_spec();

// Pipeline slots in order: embedding, the n_layers blocks, the MTP modules (training only), the head.
// PP splits them evenly; V3 training: 1 + 61 + 1 + 1 = 64 slots = 16 stages x 4.
int64_t pipeline_slots(const ModelConfig& m, Phase phase);

// The model a deployment file names (its `model:` key), without validating the rest: the CLI uses it to pick
// the model when --model is not given. "" when absent.
std::string deployment_model_name(const ConfigNode& root);

// Reads and validates a deployment against the model it will run. Throws ConfigError naming the key.
Deployment load_deployment(const ConfigNode& root, const ModelConfig& model);

// The single-GPU deployment used for reference figures (FLOPs per token): no parallelism, one sequence.
Deployment reference_deployment(Phase phase, int64_t seq_len);

}  // namespace v3sim
