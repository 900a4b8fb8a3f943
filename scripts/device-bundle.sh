#!/usr/bin/env bash
# Prepares what scripts/device-check.sh needs on a GPU machine that lacks this project's build dependencies:
# builds the release preset here and copies the binaries, and the shared libraries the GPU machine probably
# lacks (fmt, yaml-cpp), into .device/ (git-ignored). Then, with the device tool:
#   run(command="bash scripts/device-check.sh $OUT", carry=[".device"])
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release
rm -rf .device && mkdir -p .device/bin .device/lib
cp build/release/v3sim build/release/tests/v3sim_tests_gpu build/release/tests/v3sim_tests_alltoall .device/bin/
mkdir -p .device/configs && cp -r configs tests/data .device/ 2>/dev/null || true
for b in .device/bin/*; do
  ldd "$b" | awk '/=> \// {print $3}' | grep -E 'libfmt|libyaml-cpp|libboost|libhdf5|libsz|libaec|libcurl' || true
done | sort -u | while read -r l; do cp -L "$l" .device/lib/; done
git rev-parse HEAD > .device/REVISION
du -sh .device
