#include "models/micro.h"

#include <fmt/format.h>

#include "core/error.h"

namespace v3sim {

namespace {

constexpr int64_t kMaxBytes = int64_t{1} << 40;
constexpr int64_t kMaxTile = 227 * 1024;  // Hopper's largest opt-in shared memory per CTA

}  // namespace

const char* to_string(MicroOp op) {
  switch (op) {
    case MicroOp::Launch:
      return "launch";
    case MicroOp::HbmCopy:
      return "hbm_copy";
    case MicroOp::L2Read:
      return "l2_read";
    case MicroOp::TmaStore:
      return "tma_store";
  }
  return "micro";
}

std::string MicroProblem::name() const {
  switch (op) {
    case MicroOp::Launch:
      return fmt::format("launch:kernels={}", kernels);
    case MicroOp::HbmCopy:
      return fmt::format("hbm_copy:bytes={},grid={},block={}", bytes, grid, block);
    case MicroOp::L2Read:
      return fmt::format("l2_read:bytes={},passes={},grid={},block={}", bytes, passes, grid, block);
    case MicroOp::TmaStore:
      return fmt::format("tma_store:bytes={},ctas={},tile={}", bytes, ctas, tile);
  }
  return "micro";
}

std::optional<MicroProblem> MicroProblem::from_name(const std::string& kind,
                                                    const std::vector<std::pair<std::string, std::string>>& kv) {
  for (const MicroOp op : {MicroOp::Launch, MicroOp::HbmCopy, MicroOp::L2Read, MicroOp::TmaStore}) {
    if (kind != to_string(op)) continue;
    MicroProblem p;
    p.op = op;
    for (const auto& [key, value] : kv) {
      int64_t* field = key == "kernels"  ? &p.kernels
                       : key == "bytes"  ? &p.bytes
                       : key == "passes" ? &p.passes
                       : key == "grid"   ? &p.grid
                       : key == "block"  ? &p.block
                       : key == "ctas"   ? &p.ctas
                       : key == "tile"   ? &p.tile
                                         : nullptr;
      if (field == nullptr) {
        throw ConfigError(SourceLoc{}, fmt::format("{}.{}", kind, key), "a field of the microbenchmark's name",
                          "'" + key + "'");
      }
      try {
        *field = std::stoll(value);
      } catch (const std::exception&) {
        throw ConfigError(SourceLoc{}, fmt::format("{}.{}", kind, key), "an integer", "'" + value + "'");
      }
    }
    return p;
  }
  return std::nullopt;
}

double MicroProblem::bytes_moved() const {
  switch (op) {
    case MicroOp::Launch:
      return 0;
    case MicroOp::HbmCopy:
      return 2.0 * static_cast<double>(bytes);
    case MicroOp::L2Read:
      return static_cast<double>(bytes) * static_cast<double>(passes);
    case MicroOp::TmaStore:
      return static_cast<double>(bytes);
  }
  return 0;
}

void MicroProblem::validate() const {
  const auto bad = [this](const char* key, const std::string& expected, int64_t found) {
    throw ConfigError(SourceLoc{}, fmt::format("{}.{}", to_string(op), key), expected,
                      fmt::format("{} ({})", found, name()));
  };
  switch (op) {
    case MicroOp::Launch:
      if (kernels < 1 || kernels > 100000) bad("kernels", "between 1 and 100000", kernels);
      return;
    case MicroOp::HbmCopy:
    case MicroOp::L2Read:
      if (block < 32 || block > 1024 || block % 32 != 0) bad("block", "a multiple of 32 up to 1024 threads", block);
      if (grid < 1 || grid > (int64_t{1} << 31) - 1) bad("grid", "between 1 and 2^31 - 1 CTAs", grid);
      if (bytes < 16 || bytes > kMaxBytes || bytes % 16 != 0) bad("bytes", "a multiple of 16 up to 2^40", bytes);
      if (op == MicroOp::L2Read) {
        if (bytes % (grid * block * 16) != 0) {
          bad("bytes", "a multiple of grid * block * 16 (every thread reads the same whole 16-byte vectors)", bytes);
        }
        if (passes < 1 || passes > 1000000) bad("passes", "between 1 and 1000000", passes);
      }
      return;
    case MicroOp::TmaStore:
      if (ctas < 1 || ctas > 1024) bad("ctas", "between 1 and 1024", ctas);
      if (tile < 16 || tile % 16 != 0 || tile > kMaxTile) {
        bad("tile", "a multiple of 16 bytes within 227 KiB of shared memory", tile);
      }
      if (bytes < tile || bytes % tile != 0 || bytes > kMaxBytes)
        bad("bytes", "a multiple of the tile, up to 2^40", bytes);
      if (bytes / tile > 10000000) bad("bytes", "at most 10^7 tiles", bytes);
      return;
  }
}

}  // namespace v3sim
