// The FP8 quantization tile of DeepSeek-V3 (§3.3.1): one FP32 scale per 1x128 activation tile (128x1 for the
// transposed operands of the backward pass) and per 128x128 weight block. Kernels that apply these scales step K
// by the same 128 (one promotion per scale block).
#pragma once

namespace v3sim {

inline constexpr int kQuantTile = 128;

}  // namespace v3sim
