#!/usr/bin/env bash
# Prepares what scripts/device-check.sh needs on a GPU machine that lacks this project's build dependencies
# (yaml-cpp, HDF5, Boost, fmt and what they pull in): builds v3sim and its GPU tests here, without MPI (whose
# runtime would not be on the GPU machine anyway, and whose libevent needs a newer glibc than some images
# have), and copies them with every shared library they load into .device/ (git-ignored). Then nothing but
# glibc, libstdc++ (when new enough; otherwise the copy in .device/lib-cxx) and the NVIDIA driver has to come
# from the GPU machine. cuBLAS(Lt), NCCL and NVML are opened at run time from the GPU machine's CUDA
# (kernels/dynlib.h) and are not copied; configs and tests/data travel with the working tree. Then, with the
# device tool:
#   run(command="bash scripts/device-check.sh $OUT", carry=[".device"])
#
#   scripts/device-bundle.sh [BUILD_DIR]   (default: build/device, configured here from the release preset
#                                           with CUDA on and MPI off; an existing build is taken as it is)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/device}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake --preset release -B "$build" -DV3SIM_CUDA=ON -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON >/dev/null
fi
cmake --build "$build" --target v3sim v3sim_tests_gpu v3sim_tests_alltoall
bins=("$build/v3sim" "$build/tests/v3sim_tests_gpu" "$build/tests/v3sim_tests_alltoall")
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "device-bundle: $b is missing" >&2; exit 2; }
done
grep -q "V3SIM_HAVE_CUDA=1" "$build/compile_commands.json" ||
  echo "device-bundle: warning: $build looks configured without CUDA; its GPU tests will only skip" >&2
rm -rf .device && mkdir -p .device/bin .device/lib .device/lib-cxx
for b in "${bins[@]}"; do
  cp "$b" .device/bin/
  strip --strip-debug ".device/bin/$(basename "$b")"
done
# Every library the binaries resolve here, except glibc's own objects (they must match the GPU machine's
# loader) and the GPU driver's. libstdc++ and libgcc_s go to lib-cxx: device-check.sh uses them only when the
# GPU machine's libstdc++ lacks the version the binaries need (ours may need a newer glibc than the machine has).
runtime='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|libresolv\.so|libutil\.so|libcuda\.so|libnvidia-)'
for b in .device/bin/*; do
  ldd "$b" | awk '/=> \// {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ $name =~ $runtime ]] && continue
  dest=.device/lib
  [[ $name =~ ^(libstdc\+\+|libgcc_s)\.so ]] && dest=.device/lib-cxx
  cp -L "$path" "$dest/$name"
  strip --strip-debug "$dest/$name" 2>/dev/null || true
done
git rev-parse HEAD > .device/REVISION
objdump -T .device/bin/* .device/lib/* 2>/dev/null | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -1 > .device/GLIBC
objdump -T .device/bin/* .device/lib/* 2>/dev/null | grep -o 'GLIBCXX_3\.4\.[0-9]*' | sort -uV | tail -1 > .device/GLIBCXX
echo "device-bundle: the GPU machine needs $(cat .device/GLIBC) or newer (ldd --version there), and"
echo "  $(cat .device/GLIBCXX) in its libstdc++ or the copy in .device/lib-cxx"
echo "device-bundle: libraries left to the GPU machine:"
for b in .device/bin/*; do
  LD_LIBRARY_PATH="$PWD/.device/lib:$PWD/.device/lib-cxx" ldd "$b" | awk '/=> / {print $1, $3}' |
    grep -v "$PWD/.device/" || true
done | sort -u | sed 's/^/  /'
du -sh .device
