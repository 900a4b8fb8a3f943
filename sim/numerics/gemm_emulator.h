// A CPU emulator of an FP8 block-scaled GEMM, D[M,N] = A[M,K] B[N,K]^T, that applies a tensor-core accumulation
// model to every output: the reference for error studies and for the GPU kernels.
//
// With promotion (DeepSeek-V3 §3.3.2, DeepGEMM): every `promote_every` K elements the tensor-core partial sum
// (started from zero) is scaled by scale_a * scale_b (FP32) and added into an FP32 accumulator on the CUDA
// cores (one FFMA, round to nearest even). Without promotion (promote_every = 0) the whole K accumulates in the
// tensor core and the scales, which must then be constant along K, are applied once at the end.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/numerics/accumulator.h"
#include "sim/numerics/quantize.h"

namespace v3sim::numerics {

struct GemmEmulation {
  AccumulatorModel model = AccumulatorModel::hopper_fp8();
  int promote_every = 128;  // K elements per promotion; 0: tensor core only
  int threads = 1;          // rows are split over threads; the result does not depend on the count
};

// Throws ConfigError unless the promotion interval is 0 or a multiple of the MMA group that divides the
// 128-element scale blocks (scales change every 128 elements of K and are applied at promotion).
void check_promotion(const AccumulatorModel& model, int promote_every);

// Throws ConfigError when the shapes or the promotion interval do not fit the quantization (a promotion
// interval that is not a multiple of the group or straddles scale blocks; no promotion with scales that vary
// along K). @pre a.cols == b.cols (K)
std::vector<float> emulate_gemm(const QuantizedMatrix& a, const QuantizedMatrix& b, const GemmEmulation& e);

// The same product in double from the quantized values (the "exact" reference).
std::vector<double> reference_gemm(const QuantizedMatrix& a, const QuantizedMatrix& b, int threads = 1);

}  // namespace v3sim::numerics
