#!/usr/bin/env bash
# Converts DeepSeek's published H800 measurements (tests/data/reference/deepseek-v3.yaml, a copy of
# ../shared/reference) into measured traces under traces/published/, with their sources as provenance, so
# `v3sim compare` works on a machine without a GPU.
#   scripts/make-published-traces.sh [V3SIM_BINARY]    (default build/release/v3sim)
set -euo pipefail
cd "$(dirname "$0")/.."
v3sim=${1:-build/release/v3sim}
mkdir -p traces/published
"$v3sim" measure --published deepgemm-h800 -o traces/published/deepgemm-h800.h5
