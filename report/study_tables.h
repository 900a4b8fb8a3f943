// The tables a chip-proposal study stores besides its points (results.h5 /tables/<name>, read by
// scripts/report.py): the FP8 accumulation error against K for each accumulator, and the validation of the
// simulator against DeepSeek's published H800 measurements. Each provider runs its own simulations and returns a
// Table; none touches HDF5. Runtimes quoted below were measured on one core of the 2-core development machine
// (RelWithDebInfo).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "report/table.h"
#include "sim/hardware.h"
#include "sim/net/cluster.h"
#include "sim/numerics/error_study.h"

namespace v3sim::report {

// ---- numerics_error_vs_k --------------------------------------------------------------------------------------

// One accumulator of the error study: a chip's FP8 MMA (its numerics.fp8), either alone over the whole K
// (promote_every = 0) or with DeepGEMM's promotion of the partial sum to FP32 on the CUDA cores every
// promote_every K elements.
struct NumericsAccumulator {
  std::string label;  // the table's `accumulator` column, e.g. "H800 tensor core only"
  HardwareConfig hw;
  int promote_every = 0;
};

struct NumericsTableOptions {
  int64_t m = 64, n = 32;  // outputs per K: 2048 keep the mean error stable to a few percent
  numerics::Distribution dist = numerics::Distribution::Normal;  // DeepGEMM's benchmark quantizes randn
  uint64_t seed = 1;
  int threads = 1;  // results do not depend on it
};

// H800 tensor core only, H800 with DeepGEMM's promotion every 128, the FP32-accumulation proposal
// (hardware/proposals/fp32-accumulation.yaml) and B200 (hardware/b200.yaml), read from `configs_dir`.
std::vector<NumericsAccumulator> default_accumulators(const std::string& configs_dir);
// 256 to 16384 in powers of two (V3's GEMMs reduce over K = 512 ... 18432).
std::vector<int64_t> default_error_ks();

// Columns accumulator (text), k, max_rel_error, mean_rel_error, normwise_error, one row per (accumulator, K) in
// the order given. Errors are against the FP64 product of the same quantized inputs (sim/numerics/error_study.h).
// Throws ConfigError for an empty list, a K that is not positive, or a promotion interval the accumulator
// cannot take. Runtime: default accumulators and Ks at 64x64 outputs, 4 x 32,512 K x 4096 outputs
// = 5.3e8 emulated MACs: about 2.5 s on one core.
Table numerics_error_table(const std::vector<NumericsAccumulator>& accumulators, std::vector<int64_t> ks,
                           const NumericsTableOptions& options = {});

// ---- validation -------------------------------------------------------------------------------------------------

// What the validation table projects with, and which published suites it covers.
struct ValidationInputs {
  std::string reference_yaml;  // deepseek-v3.yaml (tests/data/reference or ../shared/reference)
  HardwareConfig gpu;          // configs/hardware/h800.yaml: for DeepGEMM
  net::ClusterConfig cluster;  // configs/clusters/h800-2048-mpft.yaml: for DeepEP
  bool deepgemm = true;
  bool deepep = true;
  // Calibration records (`v3sim calibrate --record`, traces/calibration/*.json): the out-of-sample figures of the
  // rows they cover. @throws ConfigError naming a record that is not one.
  std::vector<std::string> records;
};

// Projected against measured, one row per published figure. Columns suite, case, model (the sim/exec CostModel the
// figure validates), role ("fitted": a calibration record fitted constants on it; "predicted": it informed none;
// "" when no record covers it), measured, projected and error_pct = 100 (projected - measured) / measured OUT OF
// SAMPLE (the record's leave-one-out figure for a fitted row, the live projection for a predicted one; NaN when no
// record covers the row or the record is stale: its base projection is no longer the live one), unit (text),
// fit_projected and fit_error_pct (the live projection with the shipped config: the fit residual of a fitted row;
// NaN for a predicted one), source (the reference entry's `source:`). Attribute cross_validation: which records gave
// the out-of-sample figures, and which are stale.
//   deepgemm_h800_dense  the 18 dense shapes of deepgemm_h800.v3_2025_04_09_last_published_table (TFLOPS), each
//                        simulated with sm::simulate_gemm on `gpu`. The reference file holds no grouped
//                        (contiguous or masked) rows, so there are none here.
//   deepep_h800_normal   the 8 figures of deepep_h800.normal_v1_2025_04_22: dispatch and combine at EP 8..64,
//                        4096 tokens per GPU, 24 SMs, 256 // EP * EP experts (DeepEP's benchmark), simulated
//                        with net::run_alltoall on `cluster`; the figure is the bottleneck bandwidth DeepEP
//                        prints (NVLink GB/s intranode, RDMA GB/s internode).
// DeepSeek's ISCA'25 decode bound is analytical, not a measurement: it is not here.
// Throws ConfigError naming the reference file and key when a table is missing or malformed.
// Runtime: DeepGEMM rows about 0.2 s, DeepEP rows about 25 s (EP64 dominates) on one core.
Table validation_table(const ValidationInputs& in);

// ---- by name ------------------------------------------------------------------------------------------------------

// The calibration records in `folder` (*.json, sorted); none when there is no such folder.
std::vector<std::string> calibration_records(const std::filesystem::path& folder);

struct StudyTableInputs {
  std::string configs_dir;     // the shipped configs/ folder
  std::string reference_yaml;  // deepseek-v3.yaml
};

// ---- schemas ------------------------------------------------------------------------------------------------------

// The kernels of each phase's baseline step (study/step_evaluator): phase, name, kind, model, bound (text), flops,
// bytes, time_s, calls, kernel. Attribute closed_form_models: the cost models (sim/exec CostModel names) that are
// closed-form estimates, comma-separated.
const TableSpec& kernels_table_spec();
// The chips of a study's points: name, file (text), sms, peak_flops, bf16_peak_flops, hbm_Bps, hbm_bytes.
const TableSpec& hardware_table_spec();
// One chip's row of the hardware table (from hardware_table_spec()), read from its config file `file`.
void add_hardware_row(Table& t, const HardwareConfig& hw, const std::string& file);
// Every table schema declared here, for `v3sim describe tables`.
std::vector<const TableSpec*> table_specs();

// The tables make_study_table can build: "numerics_error_vs_k", "validation".
std::vector<std::string> study_table_names();
// Builds a table by name with the default inputs above. Throws ConfigError for an unknown name (listing the
// known ones) or for missing configs.
Table make_study_table(const std::string& name, const StudyTableInputs& in);

}  // namespace v3sim::report
