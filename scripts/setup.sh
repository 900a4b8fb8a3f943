#!/usr/bin/env bash
# Installs the Debian packages v3sim needs to build and test. Idempotent: quiet and quick when everything is
# already there. The CUDA toolkit is not a Debian package here: it is expected at /usr/local/cuda (optional;
# without nvcc the CUDA kernels are skipped and everything else builds).
set -euo pipefail

packages=(
  build-essential cmake ninja-build git pkg-config
  libboost-graph-dev libyaml-cpp-dev libhdf5-dev hdf5-tools libcli11-dev catch2 nlohmann-json3-dev libfmt-dev
  libopenmpi-dev openmpi-bin
  zlib1g-dev  # gzip-compressed profiler traces (v3sim import)
  clang libclang-rt-14-dev  # the libFuzzer harness (scripts/fuzz.sh, cmake --preset fuzz)
  # scripts/report.py (study reports) and its test, run with /usr/bin/python3
  python3 python3-h5py python3-matplotlib python3-numpy
  graphviz  # the README's `dot -Tsvg` of a graph
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup.sh: done"
