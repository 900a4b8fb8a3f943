#!/usr/bin/env bash
# Fuzzes v3sim's input handling (tests/fuzz/fuzz_config.cpp: the config loader and each document's reader, and
# --set arguments) with libFuzzer under ASan/UBSan, for SECONDS (default 60), one process.
#   scripts/fuzz.sh            # a minute
#   scripts/fuzz.sh 3600       # an hour; new inputs kept in build/fuzz/corpus, findings in build/fuzz/findings
# First every input of tests/fuzz/regression (each once crashed, hung or ran away with memory) is run once: any
# failure there stops the script. Then the fuzzer starts from the seeds (every shipped config, tagged with the
# reader it goes to), the regression inputs and what earlier runs kept. Exit status: 0 when nothing was found.
# A finding is written to build/fuzz/findings/ (crash-*, timeout-*, oom-*); reproduce it with
#   build/fuzz/tests/fuzz/v3sim_fuzz_config build/fuzz/findings/crash-...
# and, once fixed, copy it to tests/fuzz/regression/.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export V3SIM_CONFIGS="$root/configs"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake --preset fuzz "${launcher[@]}" >/dev/null
cmake --build --preset fuzz -j "${FUZZ_BUILD_JOBS:-2}"
bin=build/fuzz/tests/fuzz/v3sim_fuzz_config

# -timeout=10: the slowest input found in an hour (aliases expanded to the node bound under long keys) takes 1.3 s
# under ASan alone and 0.24 s in a release build; a machine busy with builds made it pass 5 s.
# Seeds: the first byte picks the reader (fuzz_config.cpp), the rest is a shipped file.
seeds=build/fuzz/seeds
rm -rf "$seeds" && mkdir -p "$seeds" build/fuzz/corpus build/fuzz/findings
tag() {  # tag BYTE FOLDER
  local f
  for f in configs/"$2"/*.yaml configs/"$2"/*/*.yaml; do
    [ -f "$f" ] || continue
    { printf "\\x$1"; cat "$f"; } >"$seeds/$2-$(basename "$(dirname "$f")")-$(basename "$f")"
  done
}
tag 00 models
tag 01 hardware
tag 02 deployments
tag 03 clusters
printf '\x04deploy.parallelism.ep=8\nhw.hbm.bandwidth=3.35TB/s\nmodel.n_layers=4\n' >"$seeds/set-1"

opts=(-timeout=10 -rss_limit_mb=2048 -max_len=16384 -artifact_prefix=build/fuzz/findings/)
echo "fuzz: the regression corpus ($(ls tests/fuzz/regression | wc -l) inputs)"
"$bin" "${opts[@]}" tests/fuzz/regression/* 2>&1 | tail -n 3
echo "fuzz: ${seconds} s from $(ls "$seeds" | wc -l) seeds"
exec "$bin" "${opts[@]}" -max_total_time="$seconds" -print_final_stats=1 build/fuzz/corpus "$seeds" tests/fuzz/regression
