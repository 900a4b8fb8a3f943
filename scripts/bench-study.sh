#!/usr/bin/env bash
# Study benchmarks (issue 8): the default study cold (empty kernel cache, report included) and warm on two threads, a 100-point decode
# sweep with its kernel results cached, and the default study over 1 and 2 MPI ranks (one thread each, warm cache).
#   scripts/bench-study.sh [BUILD_DIR] [OUT_DIR]      (defaults: build/release, out/bench-study)
# Prints one line per run and writes OUT_DIR/bench-study.json.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=${2:-out/bench-study}
v3sim="$build/v3sim"
[ -x "$v3sim" ] || { echo "error: $v3sim not built (cmake --build --preset release)" >&2; exit 2; }
rm -rf "$out" && mkdir -p "$out"
cache="$out/kernels.txt"
results=()

run() {  # name, then the command
  local name=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  "$@" > "$out/$name.log" 2>&1 || { echo "error: $name failed, see $out/$name.log" >&2; exit 3; }
  t1=$(date +%s%N)
  local ms=$(((t1 - t0) / 1000000))
  local s
  s=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  printf '%-34s %10s s\n' "$name" "$s"
  results+=("\"$name\": $s")
}

run default-study-cold-j2 "$v3sim" study -j 2 -o "$out/cold" --cache "$cache"
run default-study-warm-j2 "$v3sim" study -j 2 -o "$out/warm" --cache "$cache" --no-report
run decode-sweep-100-fill-cache "$v3sim" study configs/studies/bench-decode-sweep.yaml -j 2 -o "$out/sweep-fill" \
  --cache "$cache" --no-report
run decode-sweep-100-cached-j2 "$v3sim" study configs/studies/bench-decode-sweep.yaml -j 2 -o "$out/sweep" \
  --cache "$cache" --no-report
if command -v mpirun > /dev/null; then
  root=()
  [ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
  run default-study-warm-mpi1 mpirun "${root[@]}" --oversubscribe -np 1 "$v3sim" study -j 1 -o "$out/mpi1" \
    --cache "$cache" --no-report
  run default-study-warm-mpi2 mpirun "${root[@]}" --oversubscribe -np 2 "$v3sim" study -j 1 -o "$out/mpi2" \
    --cache "$cache" --no-report
fi
(IFS=,; echo "{${results[*]}, \"cores\": $(nproc), \"date\": \"$(date -u +%FT%TZ)\", \"git\": \"$(git rev-parse --short HEAD)\"}") \
  > "$out/bench-study.json"
echo "wrote $out/bench-study.json"
