#!/usr/bin/env bash
# Fuzzes v3sim's input handling with libFuzzer under ASan/UBSan, for SECONDS in all (default 60), one process at a
# time, half the time each to two harnesses:
#   config  tests/fuzz/fuzz_config.cpp: the config loader and each document's reader, and --set arguments
#   cli     tests/fuzz/fuzz_cli.cpp: the command line, each command checking its inputs (no simulation, no files)
#   scripts/fuzz.sh              # a minute
#   scripts/fuzz.sh 3600         # an hour; new inputs kept in build/fuzz/corpus{,-cli}, findings in build/fuzz/findings{,-cli}
#   scripts/fuzz.sh 600 cli      # ten minutes of one harness (config or cli)
# First every input of tests/fuzz/regression and tests/fuzz/regression-cli (each once crashed, hung or ran away with
# memory) is run once: any failure there stops the script. Then each fuzzer starts from its seeds (config: every
# shipped config, tagged with the reader it goes to; cli: the command lines of README.md, of the commands' examples
# and of tests/cli), its regression inputs and what earlier runs kept. Exit status: 0 when nothing was found.
# A finding is written to build/fuzz/findings*/ (crash-*, timeout-*, oom-*); reproduce it with
#   build/fuzz/tests/fuzz/v3sim_fuzz_config build/fuzz/findings/crash-...
#   build/fuzz/tests/fuzz/v3sim_fuzz_cli build/fuzz/findings-cli/crash-...
# and, once fixed, copy it to tests/fuzz/regression/ (or regression-cli/).
set -euo pipefail
seconds="${1:-60}"
only="${2:-}"
case "$only" in "" | config | cli) ;; *) echo "usage: scripts/fuzz.sh [SECONDS] [config|cli]" >&2; exit 2 ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export V3SIM_CONFIGS="$root/configs"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake --preset fuzz "${launcher[@]}" >/dev/null
cmake --build --preset fuzz -j "${FUZZ_BUILD_JOBS:-2}"
config_bin=build/fuzz/tests/fuzz/v3sim_fuzz_config
cli_bin=build/fuzz/tests/fuzz/v3sim_fuzz_cli
# The command-line harness works in a sandbox folder under TMPDIR (fuzz_cli.cpp): kept inside build/.
export TMPDIR="$root/build/fuzz/tmp"
mkdir -p "$TMPDIR" build/fuzz/corpus build/fuzz/findings build/fuzz/corpus-cli build/fuzz/findings-cli

# Seeds of the config harness: the first byte picks the reader (fuzz_config.cpp), the rest is a shipped file.
seeds=build/fuzz/seeds
rm -rf "$seeds" && mkdir -p "$seeds"
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

# Seeds of the command-line harness: one argument per line (fuzz_cli.cpp).
cli_seeds=build/fuzz/seeds-cli
rm -rf "$cli_seeds" && mkdir -p "$cli_seeds"
/usr/bin/python3 - "$cli_seeds" <<'PY'
import glob, re, shlex, sys
out = sys.argv[1]
commands = {"graph", "describe", "numerics", "gemm", "alltoall", "compare", "measure", "step", "import", "bench",
            "study"}
lines = set()
# "v3sim CMD ARGS" in README.md and in the commands' examples (cli/*.cpp), up to a comment, pipe or redirection.
for path in ["README.md"] + sorted(glob.glob("cli/*.cpp")):
    for m in re.finditer(r"\bv3sim ([a-z][^\n#`|>\\\"]*)", open(path, encoding="utf-8").read()):
        try:
            args = shlex.split(m.group(1))
        except ValueError:
            continue
        if args and args[0] in commands and "..." not in args:
            lines.add("\n".join(args))
# Argument lists of the tests ({"gemm", "--m", "0"}): their string literals, others (temporary files) left out.
for path in sorted(glob.glob("tests/cli/*.cpp")):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"\{\s*(\"(?:%s)\"[^{}]*)\}" % "|".join(commands), text):
        args = [bytes(a, "utf-8").decode("unicode_escape") for a in re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1))]
        lines.add("\n".join(args))
lines.update(["--help", "--version", "numerics\ncast\n0.3", "describe\nmodel", "bench\n--filter\ngemm"])
for i, l in enumerate(sorted(lines)):
    open(f"{out}/seed-{i:04d}", "w", encoding="utf-8").write(l)
print(f"fuzz: {len(lines)} command-line seeds", file=sys.stderr)
PY

# -timeout=10 (FUZZ_TIMEOUT): the slowest config input found (aliases expanded to the node bound, 40,000, under long
# keys) takes 0.4 s of CPU under ASan; the slowest command line is `study --dry-run` (every point of the default
# study checked: 1.7 s under ASan). These are CPU seconds: libFuzzer's limit is wall-clock time, so a run at
# `nice -n 19` beside builds needs a longer limit (FUZZ_TIMEOUT=60) not to report a starved input as a hang.
opts=(-timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048)
echo "fuzz: the regression corpora ($(ls tests/fuzz/regression | wc -l) config, $(ls tests/fuzz/regression-cli | wc -l) command-line inputs)"
"$config_bin" "${opts[@]}" tests/fuzz/regression/* 2>&1 | tail -n 3
# The dictionary of the command line (every command and option name), written by the harness as it starts, and the
# names of the shipped configs.
V3SIM_FUZZ_CLI_DICT=build/fuzz/cli.dict "$cli_bin" "${opts[@]}" -close_fd_mask=1 tests/fuzz/regression-cli/* 2>&1 |
  tail -n 3
for f in configs/*/*.yaml configs/*/*/*.yaml; do
  [ -f "$f" ] && echo "\"$(basename "$f" .yaml)\""
done | sort -u >>build/fuzz/cli.dict

config_s=$((seconds / 2))
cli_s=$((seconds - config_s))
[ "$only" = config ] && config_s=$seconds && cli_s=0
[ "$only" = cli ] && config_s=0 && cli_s=$seconds
status=0
if [ "$config_s" -gt 0 ]; then
  echo "fuzz: config harness, ${config_s} s from $(ls "$seeds" | wc -l) seeds"
  "$config_bin" "${opts[@]}" -max_len=16384 -artifact_prefix="$root/build/fuzz/findings/" -max_total_time="$config_s" \
    -print_final_stats=1 build/fuzz/corpus "$seeds" tests/fuzz/regression || status=$?
fi
if [ "$cli_s" -gt 0 ]; then
  echo "fuzz: command-line harness, ${cli_s} s from $(ls "$cli_seeds" | wc -l) seeds"
  "$cli_bin" "${opts[@]}" -max_len=4096 -close_fd_mask=1 -dict=build/fuzz/cli.dict \
    -artifact_prefix="$root/build/fuzz/findings-cli/" -max_total_time="$cli_s" -print_final_stats=1 \
    build/fuzz/corpus-cli "$cli_seeds" tests/fuzz/regression-cli || status=$?
fi
exit "$status"
