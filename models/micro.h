// The calibration microbenchmarks as problems: what `v3sim measure --suite micro` runs on a GPU (kernels/micro.h)
// and what the simulator prices (sim/sm/micro.h), one description for both, named in measured traces the way
// report::project_kernel_trace reads it back:
//   launch     `kernels` empty kernels back to back on one stream                  "launch:kernels=50"
//   hbm_copy   a grid-stride copy of `bytes` far past the L2                      "hbm_copy:bytes=..,grid=..,block=.."
//   l2_read    every CTA reads its share of a `bytes` buffer, warm in the L2, `passes` times
//                                                                    "l2_read:bytes=..,passes=..,grid=..,block=.."
//   tma_store  `ctas` CTAs store a `tile`-byte shared-memory tile again and again with bulk TMA stores, `bytes`
//              in all                                                 "tma_store:bytes=..,ctas=..,tile=.."
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace v3sim {

enum class MicroOp : uint8_t { Launch, HbmCopy, L2Read, TmaStore };
const char* to_string(MicroOp op);  // "launch", "hbm_copy", "l2_read", "tma_store"

struct MicroProblem {
  MicroOp op = MicroOp::Launch;
  int64_t kernels = 1;          // launch
  int64_t bytes = 0;            // hbm_copy (copied), l2_read (the buffer), tma_store (stored in all)
  int64_t passes = 1;           // l2_read
  int64_t grid = 0, block = 0;  // hbm_copy, l2_read: CTAs and threads per CTA
  int64_t ctas = 0, tile = 0;   // tma_store: CTAs (one per SM) and bytes per bulk store

  std::string name() const;
  // The problem a name of name()'s form stands for (the kind and its key=value pairs, as parse_op_name splits
  // them); nothing when the kind is not a microbenchmark's.
  static std::optional<MicroProblem> from_name(const std::string& kind,
                                               const std::vector<std::pair<std::string, std::string>>& kv);
  // Bytes moved: hbm_copy read + written, l2_read read, tma_store stored; 0 for launches.
  double bytes_moved() const;
  // Whether the timed launches start from a cold L2 (all but l2_read, which measures a warm one).
  bool flush_l2() const { return op != MicroOp::L2Read; }
  // The rules every GPU shares; sim/sm/micro.h adds the hardware's (the L2's size, the SMs).
  // @throws ConfigError naming "<op>.<field>" and the rule: an l2_read buffer a multiple of grid * block * 16 (every
  // thread reads the same whole 16-byte vectors), a copy a multiple of 16 bytes, a tile a multiple of 16 within
  // 227 KiB of shared memory, the bytes stored a multiple of the tile, ...
  void validate() const;
};

}  // namespace v3sim
