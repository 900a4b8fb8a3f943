#include "models/deployment.h"

#include <fmt/format.h>

#include "models/graph_size.h"

namespace v3sim {

const char* to_string(Phase p) {
  switch (p) {
    case Phase::Train:
      return "train";
    case Phase::Prefill:
      return "prefill";
    case Phase::Decode:
      return "decode";
  }
  return "?";
}

const char* to_string(GemmKernel k) {
  switch (k) {
    case GemmKernel::DeepGemm:
      return "deepgemm";
    case GemmKernel::Cutlass:
      return "cutlass";
  }
  return "?";
}

const char* to_string(PipelineSchedule s) {
  switch (s) {
    case PipelineSchedule::None:
      return "none";
    case PipelineSchedule::OneFOneB:
      return "1f1b";
    case PipelineSchedule::ZB1P:
      return "zb1p";
    case PipelineSchedule::DualPipe:
      return "dualpipe";
  }
  return "?";
}

Phase parse_phase(const std::string& s) {
  const std::optional<Phase> p = enum_named(s, kPhases);
  V3SIM_ASSERT_MSG(p.has_value(), "unknown phase " + s);
  return *p;
}

namespace {

const ComponentSpec& parallelism_spec() {
  static const ComponentSpec spec{
      "parallelism",
      "how the model is split over GPUs",
      {
          {.name = "pp",
           .type = ParamType::Int,
           .description = "pipeline-parallel degree",
           .required = false,
           .default_text = "1",
           .range = range(1, 1024)},
          {.name = "pp_schedule",
           .type = ParamType::Enum,
           .description = "pipeline schedule (training): DualPipe as in DeepSeek-V3, 1F1B or ZB1P",
           .required = false,
           .default_text = "1f1b",
           .choices = enum_choices(kConfigSchedules)},
          {.name = "tp",
           .type = ParamType::Int,
           .description = "tensor parallelism of attention (heads split)",
           .required = false,
           .default_text = "1",
           .range = range(1, 1024)},
          {.name = "sp",
           .type = ParamType::Bool,
           .description = "sequence parallelism with TP: tokens sharded outside attention",
           .required = false,
           .default_text = "false"},
          {.name = "ep",
           .type = ParamType::Int,
           .description = "expert-parallel degree",
           .required = false,
           .default_text = "1",
           .range = range(1, 1 << 20)},
          {.name = "zero_stage",
           .type = ParamType::Int,
           .description = "ZeRO stage of data parallelism (training): 0 replicates the optimizer states, 1 shards "
                          "them (ZeRO-1, DeepSeek-V3's setting); stages 2 and 3 are not modeled",
           .required = false,
           .default_text = "1",
           .range = range(0, 1)},
      }};
  return spec;
}

const ComponentSpec& batch_spec() {
  static const ComponentSpec spec{
      "batch",
      "what one step processes",
      {
          {.name = "seq_len",
           .type = ParamType::Int,
           .description = "train: sequence length; prefill: prompt length; decode: KV context length",
           .unit = "tokens",
           .range = range(1, 1 << 20)},
          {.name = "global_batch_sequences",
           .type = ParamType::Int,
           .description = "train: sequences per step",
           .required = false,
           .unit = "sequences",
           .range = range(1, 1 << 24)},
          {.name = "micro_batch_sequences",
           .type = ParamType::Int,
           .description = "train: sequences per micro-batch per data-parallel rank",
           .required = false,
           .unit = "sequences",
           .range = range(1, 1 << 16)},
          {.name = "tokens_per_gpu",
           .type = ParamType::Int,
           .description = "prefill: tokens per GPU per step (after sequence-parallel sharding)",
           .required = false,
           .unit = "tokens",
           .range = range(1, 1 << 24)},
          {.name = "requests_per_gpu",
           .type = ParamType::Int,
           .description = "decode: requests per GPU per step (after sequence-parallel sharding)",
           .required = false,
           .unit = "requests",
           .range = range(1, 1 << 20)},
          {.name = "speculative_tokens",
           .type = ParamType::Int,
           .description = "decode: MTP draft tokens verified per request per step",
           .required = false,
           .unit = "tokens",
           .range = range(0, 16)},
          {.name = "micro_batches",
           .type = ParamType::Int,
           .description = "prefill/decode: micro-batches overlapped within a step",
           .required = false,
           .range = range(1, 64)},
          {.name = "mtp_acceptance",
           .type = ParamType::Float,
           .description = "decode with speculative_tokens: probability that an MTP draft token is accepted "
                          "(DeepSeek-V3 report §5.4.3: 85-90% for the second token)",
           .required = false,
           .default_text = "0.85",
           .range = range(0, 1)},
      }};
  return spec;
}

const ComponentSpec& execution_spec() {
  static const ComponentSpec spec{
      "execution",
      "how the step runs on each GPU",
      {
          {.name = "comm_sms",
           .type = ParamType::Int,
           .description = "SMs the all-to-all kernels of training and prefill hold (the rest compute); 0: the "
                          "cluster's comm.sms; a cluster with a communication co-processor needs none",
           .required = false,
           .default_text = "0",
           .unit = "SMs",
           .range = range(0, 1024)},
          {.name = "gemm_kernel",
           .type = ParamType::Enum,
           .description = "the FP8 GEMM kernels the software runs: deepgemm (deepseek-ai/DeepGEMM: block sizes by "
                          "its heuristic, promotion overlapped with the MMAs) or cutlass (DeepSeek's CUTLASS-based "
                          "V3 training kernels as profile-data shows them: 128x256 tiles in 3 stages, 128x128 in 4 "
                          "for the FP32-accumulating Wgrad, tensor cores waiting while the warpgroups promote)",
           .required = false,
           .default_text = "deepgemm",
           .choices = enum_choices(kGemmKernels)},
          {.name = "expert_wgrad",
           .type = ParamType::Enum,
           .description = "the routed experts' weight-gradient GEMMs: grouped (one k-grouped kernel for the GPU's "
                          "experts) or per_expert_two_streams (one kernel per expert, every other one on a second "
                          "compute stream that shares the SMs)",
           .required = false,
           .default_text = "grouped",
           .choices = {"grouped", "per_expert_two_streams"}},
          {.name = "kernel_stack",
           .type = ParamType::Enum,
           .description = "the memory-bound kernels around the GEMMs: ideal (one kernel per operation of the model, "
                          "each at the roofline of HBM) or deepseek (the kernels DeepSeek's V3 training stack runs, "
                          "as profile-data shows them: per-use FP8 weight transposes, the E5M6 copy of the attention "
                          "output and its cast back, the FP8 SwiGLU input cast back to BF16, RMSNorm recomputed as a "
                          "forward kernel, Q/K assembly copies, scale transposes before each dense GEMM, gradient "
                          "additions; each launched with profile-data's grid, block, registers and shared memory "
                          "and costed on the SM model)",
           .required = false,
           .default_text = "ideal",
           .choices = {"ideal", "deepseek"}},
      }};
  return spec;
}

const ComponentSpec& profile_spec() {
  static const ComponentSpec spec{
      "profile",
      "what to simulate of a training step when comparing with a profiler trace",
      {
          {.name = "chunk_pair_layers",
           .type = ParamType::Int,
           .description = "simulate one DualPipe chunk pair as a profiler trace shows it: the forward chunk of one "
                          "micro-batch overlapped with the backward (and weight-gradient) chunk of another, each "
                          "through this many MoE layers, on one GPU of the EP group (no embedding, head, MTP, "
                          "pipeline sends or per-step work); 0: the whole step",
           .required = false,
           .default_text = "0",
           .unit = "layers",
           .range = range(0, 1000)},
          {.name = "ep_ranks",
           .type = ParamType::Int,
           .description = "GPUs of the EP group a profiled chunk pair simulates when experts.load_cv > 0: GPU 0 at "
                          "the balanced load (the one reported), the others at the EP group's expected order "
                          "statistics of the load, so the slowest stands for the group's slowest",
           .required = false,
           .default_text = "8",
           .unit = "GPUs",
           .range = range(2, 64)},
      }};
  return spec;
}

const ComponentSpec& experts_spec() {
  static const ComponentSpec spec{
      "experts",
      "placement and routing of the MoE experts",
      {
          {.name = "redundant",
           .type = ParamType::Int,
           .description = "redundant copies of high-load routed experts, on extra expert slots",
           .required = false,
           .default_text = "0",
           .range = range(0, 1 << 16)},
          {.name = "shared_as_routed",
           .type = ParamType::Bool,
           .description = "host the shared expert on expert slots and route to it like a routed expert",
           .required = false,
           .default_text = "false"},
          {.name = "shared_slots",
           .type = ParamType::Int,
           .description = "expert slots holding shared-expert replicas (with shared_as_routed)",
           .required = false,
           .default_text = "0",
           .range = range(0, 1 << 16)},
          {.name = "node_limit",
           .type = ParamType::Int,
           .description = "node-limited routing: max nodes a token is sent to (0: unlimited)",
           .required = false,
           .default_text = "0",
           .range = range(0, 1 << 16)},
          {.name = "load_cv",
           .type = ParamType::Float,
           .description = "MoE load imbalance: coefficient of variation over GPUs, layers and micro-batches of the "
                          "token copies a GPU's experts receive (0: balanced); simulated in a profiled chunk pair "
                          "(profile.chunk_pair_layers) over profile.ep_ranks GPUs of the EP group",
           .required = false,
           .default_text = "0",
           .range = range(0, 1)},
      }};
  return spec;
}

const ComponentSpec& memory_spec() {
  static const ComponentSpec spec{
      "memory",
      "what each GPU keeps: DeepSeek-V3's memory savings (each a switch, on by default) and unpublished overheads",
      {
          {.name = "recompute_norm",
           .type = ParamType::Bool,
           .description = "recompute every RMSNorm in the backward instead of keeping its output (DeepSeek-V3 "
                          "§3.2.3)",
           .required = false,
           .default_text = "true"},
          {.name = "recompute_mla_up_proj",
           .type = ParamType::Bool,
           .description = "recompute the MLA up-projections (q, k, v and RoPE) in the backward from the cached "
                          "latents instead of keeping Q, K and V (DeepSeek-V3 §3.2.3)",
           .required = false,
           .default_text = "true"},
          {.name = "ema_on_cpu",
           .type = ParamType::Bool,
           .description = "keep the exponential moving average of the weights in CPU memory (DeepSeek-V3 §3.2.3); "
                          "false: an FP32 copy on the GPU, sharded like the master weights",
           .required = false,
           .default_text = "true"},
          {.name = "mtp_shared_embedding_head",
           .type = ParamType::Bool,
           .description = "the MTP modules share the embedding and output head of the main model on the same "
                          "pipeline rank (DeepSeek-V3 §3.2.3); false: their own copies",
           .required = false,
           .default_text = "true"},
          {.name = "bf16_optimizer_moments",
           .type = ParamType::Bool,
           .description = "AdamW's first and second moments in BF16, master weights and gradients in FP32 "
                          "(DeepSeek-V3 §3.3.3); false: FP32 moments",
           .required = false,
           .default_text = "true"},
          {.name = "fp8_activation_cache",
           .type = ParamType::Bool,
           .description = "the inputs of the FP8 Linears (and the experts' dispatched tokens) kept for the "
                          "backward in FP8 (DeepSeek-V3 §3.3.4); false: in BF16",
           .required = false,
           .default_text = "true"},
          {.name = "attn_out_e5m6",
           .type = ParamType::Bool,
           .description = "the attention output, input of wo, kept once in DeepSeek's E5M6 format for both wo's "
                          "weight gradient and the attention backward (DeepSeek-V3 §3.3.4); false: in BF16",
           .required = false,
           .default_text = "true"},
          {.name = "moe_swiglu_fp8",
           .type = ParamType::Bool,
           .description = "the MoE SwiGLU input cached in FP8 and the SwiGLU output recomputed in the backward "
                          "(DeepSeek-V3 §3.3.4); false: the input kept in BF16 and the output (w2's input) kept",
           .required = false,
           .default_text = "true"},
          {.name = "workspace",
           .type = ParamType::Bytes,
           .description = "per GPU, the framework's own memory: CUDA context, GEMM and attention workspaces "
                          "(not published)",
           .required = false,
           .default_text = "0B",
           .unit = "bytes",
           .range = range(0, 1e15)},
          {.name = "comm_buffers",
           .type = ParamType::Bytes,
           .description = "per GPU, the all-to-all library's registered NVLink and RDMA buffers (not published)",
           .required = false,
           .default_text = "0B",
           .unit = "bytes",
           .range = range(0, 1e15)},
          {.name = "fragmentation",
           .type = ParamType::Float,
           .description = "the allocator's fragmentation: memory held but not reusable, as a fraction of the live "
                          "activations and working buffers (not published)",
           .required = false,
           .default_text = "0",
           .range = range(0, 1)},
      }};
  return spec;
}

}  // namespace

const ComponentSpec& deployment_spec() {
  static const ComponentSpec spec{
      "deployment",
      "a model laid out on a cluster for one phase (train, prefill or decode)",
      {
          {.name = "name", .type = ParamType::String, .description = "deployment name shown in outputs"},
          {.name = "model",
           .type = ParamType::String,
           .description = "the model config this deployment is for (a name in configs/models or a path)",
           .required = false},
          {.name = "phase",
           .type = ParamType::Enum,
           .description = "what the deployment runs",
           .choices = enum_choices(kPhases)},
          {.name = "gpus",
           .type = ParamType::Int,
           .description = "GPUs in the deployment",
           .unit = "GPUs",
           .range = range(1, 1 << 20)},
          {.name = "gpus_per_node",
           .type = ParamType::Int,
           .description = "GPUs per node (one NVLink domain)",
           .required = false,
           .default_text = "8",
           .unit = "GPUs",
           .range = range(1, 1024)},
          {.name = "parallelism",
           .type = ParamType::Section,
           .description = "parallelism degrees",
           .section = &parallelism_spec()},
          {.name = "batch", .type = ParamType::Section, .description = "batch shape", .section = &batch_spec()},
          {.name = "experts",
           .type = ParamType::Section,
           .description = "expert placement",
           .section = &experts_spec()},
          {.name = "execution",
           .type = ParamType::Section,
           .description = "execution on each GPU",
           .section = &execution_spec()},
          {.name = "profile",
           .type = ParamType::Section,
           .description = "a part of the step to simulate against a profiler trace (training)",
           .section = &profile_spec()},
          {.name = "memory",
           .type = ParamType::Section,
           .description = "what each GPU keeps in memory: DeepSeek-V3's savings and unpublished overheads",
           .section = &memory_spec()},
      }};
  return spec;
}

int64_t Deployment::micro_batches() const {
  if (phase == Phase::Train) return global_batch_sequences / (dp() * micro_batch_sequences);
  return inference_micro_batches;
}

int64_t Deployment::tokens_per_micro_batch() const {
  switch (phase) {
    case Phase::Train:
      return micro_batch_sequences * seq_len / (sp ? tp : 1);
    case Phase::Prefill:
      return tokens_per_gpu / inference_micro_batches;
    case Phase::Decode:
      return requests_per_gpu * (1 + speculative_tokens) / inference_micro_batches;
  }
  return 0;
}

int64_t pipeline_slots(const ModelConfig& m, Phase phase) {
  return 1 + m.n_layers + (phase == Phase::Train ? m.n_mtp_layers : 0) + 1;
}

std::string deployment_model_name(const ConfigNode& root) {
  const ConfigNode* m = root.find("model");
  return m && m->is_scalar() ? m->text() : std::string();
}

namespace {

// Phase 1a: the profile section's keys, checked against the phase and the model's MoE layers.
void read_profile(const ParamReader& prof, const ModelConfig& model, Deployment& d) {
  d.profile_chunk_layers = prof.get_int("chunk_pair_layers");
  d.profile_ep_ranks = prof.get_int("ep_ranks");
  if (prof.value_node("ep_ranks") && d.profile_ep_ranks > d.ep) {
    throw prof.error("ep_ranks", fmt::format("at most the EP group's {} GPUs", d.ep),
                     std::to_string(d.profile_ep_ranks));
  }
  if (d.profile_chunk_layers > 0) {
    if (d.phase != Phase::Train) {
      throw prof.error("chunk_pair_layers", "0 outside training (a chunk pair is a training schedule's unit)",
                       std::to_string(d.profile_chunk_layers));
    }
    const int64_t moe_layers = model.n_layers - model.n_dense_layers;
    if (d.profile_chunk_layers > moe_layers) {
      throw prof.error("chunk_pair_layers", fmt::format("at most the model's {} MoE layers", moe_layers),
                       std::to_string(d.profile_chunk_layers));
    }
  }
}

// Phase 1: the keys every phase shares (name, GPUs, parallelism, experts, execution, profile, memory).
void read_common_keys(const ParamReader& r, const ModelConfig& model, Deployment& d) {
  const ParamReader& par = r.section("parallelism");
  const ParamReader& bat = r.section("batch");
  const ParamReader& exp = r.section("experts");
  const ParamReader& exe = r.section("execution");
  const ParamReader& mem = r.section("memory");
  d.name = r.get_string("name");
  if (r.has("model")) d.model = r.get_string("model");
  d.phase = parse_phase(r.get_string("phase"));
  d.gpus = r.get_int("gpus");
  d.gpus_per_node = r.get_int("gpus_per_node");
  d.pp = par.get_int("pp");
  d.tp = par.get_int("tp");
  d.sp = par.get_bool("sp");
  d.ep = par.get_int("ep");
  d.zero_stage = par.get_int("zero_stage");
  d.seq_len = bat.get_int("seq_len");
  d.redundant_experts = exp.get_int("redundant");
  d.shared_as_routed = exp.get_bool("shared_as_routed");
  d.shared_slots = exp.get_int("shared_slots");
  d.node_limit = exp.get_int("node_limit");
  d.load_cv = exp.get_float("load_cv");
  d.comm_sms = exe.get_int("comm_sms");
  d.gemm_kernel = *enum_named(exe.get_string("gemm_kernel"), kGemmKernels);  // a choice: the reader checked it
  d.expert_wgrad_per_expert = exe.get_string("expert_wgrad") == "per_expert_two_streams";
  d.deepseek_kernels = exe.get_string("kernel_stack") == "deepseek";
  read_profile(r.section("profile"), model, d);
  d.mtp_acceptance = bat.get_float("mtp_acceptance");
  d.memory.recompute_norm = mem.get_bool("recompute_norm");
  d.memory.recompute_mla_up_proj = mem.get_bool("recompute_mla_up_proj");
  d.memory.ema_on_cpu = mem.get_bool("ema_on_cpu");
  d.memory.mtp_shared_embedding_head = mem.get_bool("mtp_shared_embedding_head");
  d.memory.bf16_optimizer_moments = mem.get_bool("bf16_optimizer_moments");
  d.memory.fp8_activation_cache = mem.get_bool("fp8_activation_cache");
  d.memory.attn_out_e5m6 = mem.get_bool("attn_out_e5m6");
  d.memory.moe_swiglu_fp8 = mem.get_bool("moe_swiglu_fp8");
  d.memory.workspace_bytes = mem.get_bytes("workspace").count();
  d.memory.comm_buffer_bytes = mem.get_bytes("comm_buffers").count();
  d.memory.fragmentation = mem.get_float("fragmentation");
}

// A key that belongs to another phase is a mistake, not silently ignored.
void only_for(const ParamReader& sec, const char* key, Phase have, Phase phase) {
  if (sec.value_node(key) && have != phase) {
    throw sec.error(
        key, fmt::format("no '{}' in a {} deployment (it is a {} setting)", key, to_string(have), to_string(phase)),
        sec.value_node(key)->describe());
  }
}

// A key the deployment's phase requires.
int64_t need(const ParamReader& sec, const char* key, Phase phase) {
  if (!sec.has(key)) {
    throw ConfigError(sec.node().loc(), sec.path_of(key),
                      fmt::format("a value for '{}' in a {} deployment", key, to_string(phase)),
                      "nothing (the key is required)");
  }
  return sec.get_int(key);
}

// Phase 2: keys that belong to another phase are mistakes, not silently ignored.
void reject_other_phase_keys(const ParamReader& r, const Deployment& d) {
  const ParamReader& par = r.section("parallelism");
  const ParamReader& bat = r.section("batch");
  const ParamReader& exe = r.section("execution");
  only_for(bat, "global_batch_sequences", d.phase, Phase::Train);
  only_for(bat, "micro_batch_sequences", d.phase, Phase::Train);
  only_for(bat, "tokens_per_gpu", d.phase, Phase::Prefill);
  only_for(bat, "requests_per_gpu", d.phase, Phase::Decode);
  only_for(bat, "speculative_tokens", d.phase, Phase::Decode);
  only_for(bat, "mtp_acceptance", d.phase, Phase::Decode);
  if (exe.value_node("comm_sms") && d.phase == Phase::Decode) {
    // Decode runs DeepEP's low-latency kernels, which hold no SMs: the key would change nothing.
    throw exe.error("comm_sms",
                    "no 'comm_sms' in a decode deployment (its low-latency all-to-all holds no SMs; the key is for "
                    "train and prefill)",
                    exe.value_node("comm_sms")->describe());
  }
  if (bat.value_node("micro_batches") && d.phase == Phase::Train) {
    throw bat.error("micro_batches",
                    "no 'micro_batches' in a train deployment (it follows from global_batch_sequences, the DP degree "
                    "and micro_batch_sequences)",
                    bat.value_node("micro_batches")->describe());
  }
  if (par.value_node("pp_schedule") && d.phase != Phase::Train) {
    throw par.error("pp_schedule", "no pipeline schedule outside training", par.value_node("pp_schedule")->describe());
  }
}

// Phase 3: GPUs, TP/SP, PP, EP and expert slots divide as the model and each other require.
void check_parallelism(const ParamReader& r, const ModelConfig& model, const Deployment& d) {
  const ParamReader& par = r.section("parallelism");
  const ParamReader& exp = r.section("experts");
  if (d.gpus % d.gpus_per_node != 0 && d.gpus > d.gpus_per_node) {
    throw r.error("gpus", fmt::format("a whole number of {}-GPU nodes", d.gpus_per_node), std::to_string(d.gpus));
  }
  if (model.n_heads % d.tp != 0) {
    throw par.error("tp", fmt::format("a TP degree that divides the {} attention heads", model.n_heads),
                    std::to_string(d.tp));
  }
  if (d.sp && d.tp == 1) {
    throw par.error("sp", "sequence parallelism only together with tp > 1", "true with tp 1");
  }
  if (d.tp > 1 && !d.sp) {
    // Without SP every TP rank would hold (and send to the experts) the same tokens.
    throw par.error("sp", "sp: true with tp > 1 (attention TP is paired with sequence parallelism, as in DeepSeek-V3)",
                    "false");
  }
  int64_t slots = pipeline_slots(model, d.phase);
  if (slots % d.pp != 0) {
    throw par.error(
        "pp",
        fmt::format("a PP degree that divides the {} pipeline slots (embedding + {} layers{} + head)", slots,
                    model.n_layers,
                    d.phase == Phase::Train && model.n_mtp_layers ? fmt::format(" + {} MTP", model.n_mtp_layers) : ""),
        std::to_string(d.pp));
  }
  if (d.gpus % (d.pp * d.tp) != 0) {
    throw r.error("gpus", fmt::format("a multiple of pp x tp = {}", d.pp * d.tp), std::to_string(d.gpus));
  }
  if (d.stage_gpus() % d.ep != 0) {
    throw par.error("ep", fmt::format("an EP degree that divides the {} GPUs of a pipeline stage", d.stage_gpus()),
                    std::to_string(d.ep));
  }
  if (d.shared_slots > 0 && !d.shared_as_routed) {
    throw exp.error("shared_slots", "shared_slots only with shared_as_routed: true", std::to_string(d.shared_slots));
  }
  if (d.shared_as_routed && d.shared_slots == 0) {
    throw exp.error("shared_slots", "at least one slot for the shared expert when shared_as_routed is true", "0");
  }
  if (d.expert_slots(model) % d.ep != 0) {
    std::string parts = fmt::format("{} routed", model.n_routed_experts);
    if (d.redundant_experts) parts += fmt::format(" + {} redundant", d.redundant_experts);
    if (d.shared_slots) parts += fmt::format(" + {} shared", d.shared_slots);
    throw par.error("ep",
                    fmt::format("an EP degree that divides the {} expert slots ({})", d.expert_slots(model), parts),
                    std::to_string(d.ep));
  }
  if (d.fanout(model) > d.expert_slots(model)) {
    throw exp.error("shared_slots", "no more experts per token than expert slots", std::to_string(d.fanout(model)));
  }
}

// Phase 4 (train): global and micro-batch sizes, the pipeline schedule and DualPipe's constraints.
void read_train_batch(const ParamReader& par, const ParamReader& bat, Deployment& d) {
  d.global_batch_sequences = need(bat, "global_batch_sequences", d.phase);
  d.micro_batch_sequences = bat.has("micro_batch_sequences") ? bat.get_int("micro_batch_sequences") : 1;
  d.schedule = *enum_named(par.get_string("pp_schedule"), kConfigSchedules);  // a choice: the reader checked it
  if (d.pp == 1) d.schedule = PipelineSchedule::None;
  int64_t per_step = d.dp() * d.micro_batch_sequences;
  if (d.global_batch_sequences % per_step != 0) {
    throw bat.error("global_batch_sequences",
                    fmt::format("a multiple of dp x micro_batch_sequences = {} x {} = {}", d.dp(),
                                d.micro_batch_sequences, per_step),
                    std::to_string(d.global_batch_sequences));
  }
  if (d.sp && (d.micro_batch_sequences * d.seq_len) % d.tp != 0) {
    throw bat.error("seq_len", fmt::format("tokens per micro-batch divisible by tp {} for sequence parallelism", d.tp),
                    std::to_string(d.seq_len));
  }
  if (d.schedule == PipelineSchedule::DualPipe) {
    if (d.pp % 2 != 0) {
      throw par.error("pp", "an even number of pipeline stages for DualPipe", std::to_string(d.pp));
    }
    if (d.micro_batches() % 2 != 0) {
      throw bat.error("global_batch_sequences",
                      fmt::format("an even number of micro-batches per pipeline for DualPipe (global batch / "
                                  "(dp {} x micro_batch_sequences {}))",
                                  d.dp(), d.micro_batch_sequences),
                      fmt::format("{} micro-batches", d.micro_batches()));
    }
    if (d.micro_batches() < 2 * d.pp) {
      throw bat.error("global_batch_sequences",
                      fmt::format("at least 2 x pp = {} micro-batches per pipeline for DualPipe (global batch / "
                                  "(dp {} x micro_batch_sequences {}))",
                                  2 * d.pp, d.dp(), d.micro_batch_sequences),
                      fmt::format("{} micro-batches", d.micro_batches()));
    }
  }
}

// Phase 4 (prefill): tokens per GPU in whole prompts per micro-batch.
void read_prefill_batch(const ParamReader& bat, Deployment& d) {
  d.tokens_per_gpu = need(bat, "tokens_per_gpu", d.phase);
  d.inference_micro_batches = bat.has("micro_batches") ? bat.get_int("micro_batches") : 1;
  if (d.tokens_per_gpu % d.inference_micro_batches != 0) {
    throw bat.error("tokens_per_gpu", fmt::format("a multiple of micro_batches ({})", d.inference_micro_batches),
                    std::to_string(d.tokens_per_gpu));
  }
  // The attention TP group holds whole prompts.
  int64_t attn_tokens = d.tokens_per_micro_batch() * (d.sp ? d.tp : 1);
  if (attn_tokens % d.seq_len != 0) {
    throw bat.error("tokens_per_gpu",
                    fmt::format("whole prompts of seq_len {} per micro-batch and attention group", d.seq_len),
                    fmt::format("{} tokens per micro-batch and attention group", attn_tokens));
  }
}

// Phase 4 (decode): requests per GPU, draft tokens and micro-batches.
void read_decode_batch(const ParamReader& bat, const ModelConfig& model, Deployment& d) {
  d.requests_per_gpu = need(bat, "requests_per_gpu", d.phase);
  d.speculative_tokens = bat.has("speculative_tokens") ? bat.get_int("speculative_tokens") : 0;
  d.inference_micro_batches = bat.has("micro_batches") ? bat.get_int("micro_batches") : 1;
  if (d.requests_per_gpu % d.inference_micro_batches != 0) {
    throw bat.error("requests_per_gpu", fmt::format("a multiple of micro_batches ({})", d.inference_micro_batches),
                    std::to_string(d.requests_per_gpu));
  }
  if (d.speculative_tokens > model.n_mtp_layers) {
    throw bat.error("speculative_tokens",
                    fmt::format("at most one draft token per MTP module ({} in {})", model.n_mtp_layers, model.name),
                    std::to_string(d.speculative_tokens));
  }
}

}  // namespace

Deployment load_deployment(const ConfigNode& root, const ModelConfig& model) {
  ParamReader r(root, deployment_spec());
  const ParamReader& par = r.section("parallelism");
  const ParamReader& bat = r.section("batch");

  Deployment d;
  read_common_keys(r, model, d);
  reject_other_phase_keys(r, d);
  check_parallelism(r, model, d);
  switch (d.phase) {
    case Phase::Train:
      read_train_batch(par, bat, d);
      break;
    case Phase::Prefill:
      read_prefill_batch(bat, d);
      break;
    case Phase::Decode:
      read_decode_batch(bat, model, d);
      break;
  }
  if (const std::string problem = graph_counts_problem(model, d); !problem.empty()) {
    throw bat.error("seq_len", "a batch whose per-op counts (FLOPs, bytes) fit 64-bit integers", problem);
  }
  return d;
}

Deployment reference_deployment(Phase phase, int64_t seq_len) {
  Deployment d;
  d.name = "reference (1 GPU, no parallelism)";
  d.phase = phase;
  d.gpus = 1;
  d.gpus_per_node = 1;
  d.seq_len = seq_len;
  switch (phase) {
    case Phase::Train:
      d.global_batch_sequences = 1;
      d.micro_batch_sequences = 1;
      break;
    case Phase::Prefill:
      d.tokens_per_gpu = seq_len;
      break;
    case Phase::Decode:
      d.requests_per_gpu = 1;
      break;
  }
  return d;
}

}  // namespace v3sim
