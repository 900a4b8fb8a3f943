// The all-to-all problem: volumes and validation (shared by the MPI/NCCL build and the fallback).
#include <fmt/format.h>

#include <stdexcept>

#include "kernels/alltoall.h"

namespace v3sim::kernels {

int64_t AllToAllProblem::bytes_per_token() const {
  return alltoall_copy_bytes(phase, hidden);
}

std::string AllToAllProblem::describe() const {
  std::string counts;
  const size_t shown = std::min<size_t>(send_tokens.size(), 8);
  for (size_t i = 0; i < shown; ++i) counts += fmt::format("{}{}", i ? "," : "", send_tokens[i]);
  if (send_tokens.size() > shown) counts += ",...";
  return fmt::format("{} hidden={} send=[{}]", to_string(phase), hidden, counts);
}

void AllToAllProblem::validate(int world_size) const {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument("alltoall: " + what + " (" + describe() + ")");
  };
  if (hidden < 128 || hidden % 128 != 0) fail(fmt::format("hidden={} must be a positive multiple of 128", hidden));
  if (send_tokens.size() != static_cast<size_t>(world_size))
    fail(fmt::format("send_tokens has {} entries for {} ranks (one per destination rank)", send_tokens.size(),
                     world_size));
  for (size_t i = 0; i < send_tokens.size(); ++i)
    if (send_tokens[i] < 0) fail(fmt::format("send_tokens[{}] = {} must be >= 0", i, send_tokens[i]));
}

}  // namespace v3sim::kernels
