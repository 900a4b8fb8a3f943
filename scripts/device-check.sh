#!/usr/bin/env bash
# The GPU checks of v3sim in one command, for a machine with an NVIDIA Hopper GPU (H100/H200/H800).
#
#   scripts/device-check.sh [RESULTS_DIR]        (default: traces/device-<UTC date>)
#
# It prints the machine (nvidia-smi, clocks, nvcc, what the binaries link against, so a failed start explains
# itself), runs the GPU test executable (the bit-exact FP8 wgmma probe against the CPU emulator among them) and
# writes every result under RESULTS_DIR. It uses binaries from .device/ (made elsewhere by
# scripts/device-bundle.sh and carried over) or, failing that, from build/release. Meant to finish in minutes.
set -u
cd "$(dirname "$0")/.."
out=${1:-traces/device-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
if [ -x .device/bin/v3sim_tests_gpu ]; then
  v3sim=.device/bin/v3sim
  gpu_tests=.device/bin/v3sim_tests_gpu
  export LD_LIBRARY_PATH="$PWD/.device/lib:${LD_LIBRARY_PATH:-}"
else
  v3sim=build/release/v3sim
  gpu_tests=build/release/tests/v3sim_tests_gpu
fi

{
  echo "# v3sim device check"
  echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "revision: $(cat .device/REVISION 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "command: $0 $*"
  echo "host: $(uname -a)"
  echo; echo "## nvidia-smi"; nvidia-smi 2>&1
  echo; echo "## clocks"; nvidia-smi -q -d CLOCK 2>&1 | head -40
  echo; echo "## nvcc"; (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1
  echo; echo "## ldd"; for b in "$v3sim" "$gpu_tests"; do echo "$b:"; ldd "$b" 2>&1; done
} > "$out/environment.txt"
cat "$out/environment.txt"

status=0
echo "## v3sim --version" | tee "$out/version.txt"
"$v3sim" --version 2>&1 | tee -a "$out/version.txt" || status=1

echo "## GPU tests" | tee "$out/gpu-tests.txt"
"$gpu_tests" -r compact 2>&1 | tee -a "$out/gpu-tests.txt"
rc=${PIPESTATUS[0]}
case $rc in
  0) echo "gpu tests: passed" ;;
  77) echo "gpu tests: skipped (no usable Hopper GPU)" ;;
  *) echo "gpu tests: FAILED (exit $rc)"; status=1 ;;
esac
echo "results in $out"
exit $status
