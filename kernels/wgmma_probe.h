// A bit-exactness probe of Hopper's FP8 tensor cores: runs exactly ONE
// `wgmma.mma_async.sync.aligned.m64nNk32.f32.{e4m3|e5m2}.{e4m3|e5m2}` per 64 x N x 32 problem, A and B from
// shared memory, C loaded into the accumulator registers (scale-d = 1), and returns D = A * B^T + C bit for bit.
// The test pairs it with the CPU emulator (sim/numerics/accumulator.h); this folder never includes sim/.
// Host interface: no CUDA types; builds with and without CUDA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace v3sim::kernels {

struct WgmmaProbeInput {
  bool a_e5m2 = false, b_e5m2 = false;  // E4M3 otherwise
  int n = 256;                          // N of the instruction: 8..256, multiple of 8 (see wgmma_probe_n_supported)
  int tiles = 1;                        // independent 64 x N x 32 problems, one per CTA
  std::vector<uint8_t> a;               // tiles x 64 x 32 codes, A[t][m][k], k contiguous
  std::vector<uint8_t> b;               // tiles x N x 32 codes, B[t][n][k], k contiguous
  std::vector<uint32_t> c;              // tiles x 64 x N FP32 bit patterns, C[t][m][n], n contiguous
};

struct WgmmaProbeOutput {
  bool ran = false;
  std::string reason;       // why it did not run (no device, not sm_90, CUDA error text)
  std::string device;       // GPU name
  std::vector<uint32_t> d;  // tiles x 64 x N, same layout as c: D = A * B^T + C of ONE wgmma k32
};

// The N values the kernel is instantiated for (a subset of the instruction's 8..256 step 8).
const std::vector<int>& wgmma_probe_n_values();
bool wgmma_probe_n_supported(int n);

// Checks the input sizes. @throws std::invalid_argument naming the field (n, tiles, a, b, c)
void validate_wgmma_probe_input(const WgmmaProbeInput& in);

// Empty when the probe can run on device 0 (CUDA build, a compute capability 9.x device, an sm_90a kernel image
// in this binary); otherwise why not. Never throws.
std::string wgmma_probe_unavailable_reason();

// Runs the probe on device 0. Never throws for a missing device or a CUDA error (returns ran=false with the
// reason); validates the input first (throws std::invalid_argument naming the field).
WgmmaProbeOutput run_wgmma_probe(const WgmmaProbeInput& in);

}  // namespace v3sim::kernels
