#!/usr/bin/env bash
# The GPU checks of v3sim in one command, for a machine with an NVIDIA Hopper GPU (H100/H200/H800). Meant to
# finish inside 8 minutes: a step that would start past the budget (V3SIM_DEVICE_BUDGET_S, default 480 s) is
# reported "not run".
#
#   scripts/device-check.sh [RESULTS_DIR]        (default: traces/device-<UTC date>)
#
# 1. prints the machine: nvidia-smi, clocks, nvcc, and what the binaries link against (so a failed start
#    explains itself);
# 2. runs the GPU tests, one process per group with its own timeout (a hang or a fault costs that group only): the
#    bit-exact FP8 wgmma probe against the CPU emulator, every kernel against its CPU reference, the runner, the
#    micro suite, and the NCCL all-to-all on one rank when MPI is there; a summary per group at the end;
# 3. measures DeepGEMM's 18 table shapes with v3sim's own FP8 GEMM and with cuBLASLt, and the FP8 cast kernels,
#    as measured traces (.h5 with provenance), and the calibration microbenchmarks (`measure --suite micro`:
#    launches, HBM copy, L2 read, TMA store, cuBLASLt FP8 GEMMs, each checked against its CPU reference), then
#    projects them with `v3sim compare` on the matching hardware.
# Everything goes under RESULTS_DIR (at most 8 files, so the device tool can bring them back).
#
# Binaries come from .device/ (built elsewhere by scripts/device-bundle.sh, with the libraries they load, and
# carried over) or build/release.
# With the device tool of this workplace:  run(command="bash scripts/device-check.sh $OUT", carry=[".device"])
set -u
cd "$(dirname "$0")/.."
out=${1:-traces/device-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
if [ -x .device/bin/v3sim_tests_gpu ]; then
  dir=.device/bin
  v3sim=$dir/v3sim
  gpu_tests=$dir/v3sim_tests_gpu
  a2a_tests=$dir/v3sim_tests_alltoall
  # The build machine's libstdc++ only when this machine's lacks the version the binaries need.
  libs="$PWD/.device/lib"
  need_cxx=$(cat .device/GLIBCXX 2>/dev/null || true)
  sys_cxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
  if [ -n "$need_cxx" ] && ! { [ -n "$sys_cxx" ] && grep -qa "$need_cxx" "$sys_cxx"; }; then
    libs="$libs:$PWD/.device/lib-cxx"
  fi
  export LD_LIBRARY_PATH="$libs:${LD_LIBRARY_PATH:-}"
  export V3SIM_CONFIGS="$PWD/configs"
else
  v3sim=build/release/v3sim
  gpu_tests=build/release/tests/v3sim_tests_gpu
  a2a_tests=build/release/tests/v3sim_tests_alltoall
fi
hw=h800
case "$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" in
  *H200*) hw=h200 ;;
  *H100*) hw=h100-sxm ;;
esac

{
  echo "# v3sim device check"
  echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "revision: $(cat .device/REVISION 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "command: $0 $*"
  echo "host: $(uname -a)"
  echo "hardware config for compare: $hw"
  echo "glibc here: $(ldd --version 2>&1 | head -1); the bundle needs: $(cat .device/GLIBC 2>/dev/null || echo n/a)"
  echo "libstdc++ here: ${sys_cxx:-unknown}; the bundle needs: ${need_cxx:-n/a}"
  echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
  echo; echo "## nvidia-smi"; nvidia-smi 2>&1
  echo; echo "## clocks"; nvidia-smi -q -d CLOCK 2>&1 | head -40
  echo; echo "## nvcc"; (nvcc --version || /usr/local/cuda/bin/nvcc --version) 2>&1
  echo; echo "## ldd"; for b in "$v3sim" "$gpu_tests" "$a2a_tests"; do echo "$b:"; ldd "$b" 2>&1; done
  echo; echo "## v3sim --version"; "$v3sim" --version 2>&1
} > "$out/environment.txt"
cat "$out/environment.txt"

status=0
# A time budget for the whole check (the device tool allows 600 s a call): a step that would start past it is
# reported "not run" instead of started.
budget=${V3SIM_DEVICE_BUDGET_S:-480}
in_budget() { [ "$SECONDS" -lt "$budget" ]; }
# One process per test group, each under its own timeout: a hang or a fault that poisons the CUDA context costs
# one group, and the others still report. The summary separates passed, failed, skipped and timed out.
{
  echo "## GPU tests, one process per group"
  for group in wgmma gemm cublaslt casts moe mla runner micro; do
    echo "### [$group]"
    if ! in_budget; then
      echo "group $group: not run (past the ${budget} s budget)"
      echo "$group not run" >> "$out/gpu-summary.txt.tmp"
      continue
    fi
    case $group in wgmma|gemm) limit=60 ;; *) limit=40 ;; esac
    timeout "$limit" "$gpu_tests" "[$group]" -r compact 2>&1
    rc=$?
    case $rc in
      0) result=passed ;;
      77) result=skipped ;;
      124|137) result="TIMED OUT" ;;
      *) result="FAILED (exit $rc)" ;;
    esac
    echo "group $group: $result"
    echo "$group $result" >> "$out/gpu-summary.txt.tmp"
  done
  echo; echo "## all-to-all (one rank)"
  timeout 60 "$a2a_tests" 2>&1; echo "all-to-all exit: $?"
  echo; echo "## summary"; cat "$out/gpu-summary.txt.tmp"
  if grep -qE "FAILED|TIMED OUT" "$out/gpu-summary.txt.tmp"; then
    echo "gpu tests: FAILED"
  elif grep -q "not run" "$out/gpu-summary.txt.tmp"; then
    echo "gpu tests: incomplete (groups not run)"
  else
    echo "gpu tests: done"
  fi
  rm -f "$out/gpu-summary.txt.tmp"
} 2>&1 | tee "$out/gpu-tests.txt"
grep -q "gpu tests: FAILED" "$out/gpu-tests.txt" && status=1

{
  echo "## measurements"
  # Each measurement under its own timeout, and only while the budget lasts. The micro suite (kernels/micro.h)
  # is fitted afterwards anywhere with: v3sim calibrate micro --hw $hw --data micro=$out/micro.h5
  measure() {  # SECONDS-LIMIT NAME ARGS...
    local limit=$1 name=$2
    shift 2
    if ! in_budget; then echo "measure $name: not run (past the ${budget} s budget)"; return; fi
    timeout "$limit" "$v3sim" measure "$@" -o "$out/$name.h5"
    echo "measure $name: exit $?"
  }
  measure 90 micro --suite micro
  measure 90 gemm-cublaslt --kernel gemm-cublaslt --shapes deepgemm-h800
  measure 90 gemm --kernel gemm --shapes deepgemm-h800
  measure 30 quant --kernel quant --m 4096 --k 7168
  measure 30 transpose-requant --kernel transpose-requant --m 4096 --k 7168
  for f in micro gemm-cublaslt gemm quant transpose-requant; do
    [ -f "$out/$f.h5" ] && { echo "### compare $f"; "$v3sim" compare "$out/$f.h5" --hw "$hw"; }
  done
} 2>&1 | tee "$out/measurements.txt"
echo "results in $out"
exit $status
